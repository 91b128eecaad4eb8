from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from meshkit.registry.graph import cycles


def reachable(graph: dict[str, list[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt in graph and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def brute_force_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    reach = {node: reachable(graph, node) for node in graph}
    found, done = [], set()
    for node in sorted(graph):
        if node in done:
            continue
        component = {node} | {m for m in reach[node] if node in reach[m]}
        done |= component
        if len(component) > 1 or node in graph[node]:
            found.append(sorted(component))
    return sorted(found)


names = st.sampled_from([f"s{i}" for i in range(8)] + ["unregistered"])


@given(st.dictionaries(st.sampled_from([f"s{i}" for i in range(8)]), st.lists(names, max_size=4)))
def test_cycles_match_a_brute_force_search(graph: dict[str, list[str]]) -> None:
    assert cycles(graph) == brute_force_cycles(graph)


def test_long_chains_do_not_recurse() -> None:
    chain = {f"s{i}": [f"s{i + 1}"] for i in range(5000)}
    chain["s5000"] = ["s0"]
    assert len(cycles(chain)[0]) == 5001
