"""Questions about the dependency graph of services: who needs whom, what is missing, cycles.

Pure functions over ``{service: its dependencies}``. Cycles come from Tarjan's strongly
connected components (iterative, so a long chain cannot hit the recursion limit); a service
that lists itself is a cycle of one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["cycles", "dependents", "missing_dependencies"]

Graph = Mapping[str, Sequence[str]]


def dependents(graph: Graph, name: str) -> list[str]:
    """The services that list ``name`` among their dependencies, sorted."""
    return sorted(service for service, needs in graph.items() if name in needs)


def missing_dependencies(graph: Graph) -> dict[str, list[str]]:
    """For each service that needs unregistered services, those services (sorted)."""
    missing = {
        service: sorted(need for need in needs if need not in graph)
        for service, needs in graph.items()
    }
    return {service: needs for service, needs in sorted(missing.items()) if needs}


def cycles(graph: Graph) -> list[list[str]]:
    """Every dependency cycle, as the sorted names of the services caught in it."""
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index_of:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index_of[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            needs = [n for n in graph.get(node, ()) if n in graph]
            if child < len(needs):
                work.append((node, child + 1))
                nxt = needs[child]
                if nxt not in index_of:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index_of[nxt])
                continue
            for parent_needs in needs:  # fold children's low-links into ours
                if parent_needs in on_stack:
                    low[node] = min(low[node], low[parent_needs])
            if low[node] == index_of[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    found.append(sorted(component))
    return sorted(found)
