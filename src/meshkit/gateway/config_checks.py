"""Checks across keys of a gateway config (names unique, references resolvable), on raw data.

They run on the mapping the YAML gave, not on a validated model, so that a file with a typo in
one route *and* an unknown service in another gets both reported in one go: pydantic stops
before its whole-model validators when a field fails. Each problem carries its key path, so
the loader can name the line and column.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["ConfigProblems", "Path", "Problem", "closest", "cross_problems"]

Path = tuple[str | int, ...]
Problem = tuple[Path, str]


class ConfigProblems(ValueError):
    """Raised by a validator to report problems at key paths below its own (pydantic keeps the
    exception in the error's context, where the loader finds the paths)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = tuple(problems)


def closest(word: str, choices: Iterable[str]) -> str:
    """``; did you mean "x"?`` for the nearest of ``choices``, or nothing when none is near."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f'; did you mean "{match[0]}"?' if match else ""


def cross_problems(data: Any) -> list[Problem]:
    """Duplicate service and route names, and routes naming services that are not defined."""
    if not isinstance(data, dict):
        return []
    services = _entries(data.get("services"))
    routes = _entries(data.get("routes"))
    problems = _duplicates("services", services, "routes and the registry refer to them")
    problems += _duplicates("routes", routes, "they label the route's metrics")
    known = [s["name"] for _, s in services if isinstance(s.get("name"), str)]
    for index, route in routes:
        targets: list[tuple[Path, Any]] = [(("routes", index, "service"), route.get("service"))]
        for part_index, part in _entries(route.get("split")):
            targets.append((("routes", index, "split", part_index, "service"), part.get("service")))
        for path, name in targets:
            if isinstance(name, str) and name not in known:
                defined = ", ".join(sorted(set(known))) or "none"
                problems.append(
                    (
                        path,
                        f'unknown service "{name}"{closest(name, known)} '
                        f"(services defined: {defined})",
                    )
                )
    return problems


def _entries(value: Any) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _duplicates(section: str, entries: list[tuple[int, dict[str, Any]]], why: str) -> list[Problem]:
    what = section.removesuffix("s")
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for index, entry in entries:
        name = entry.get("name")
        if not isinstance(name, str):
            continue
        if name in first:
            problems.append(
                (
                    (section, index, "name"),
                    f'{what} name "{name}" is already used by {section}[{first[name]}]; '
                    f"{what} names must be unique ({why})",
                )
            )
        else:
            first[name] = index
    return problems
