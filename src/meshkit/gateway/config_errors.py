"""Config problems in the user's terms: ``mesh.yaml:8:14: routes[0].service: <what and why>``.

pydantic reports errors as a location tuple and a message written for Python programmers
("Extra inputs are not permitted", "instance of RateLimitConfig"). This module turns each into
a key path as the file spells it, the line and column of that key in the file (found by walking
the YAML node tree), and a message that says what is allowed and, for a misspelt key, which
valid key was probably meant.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from meshkit.gateway.config_checks import ConfigProblems, Path, Problem, closest
from meshkit.registry.policy_base import OptionRefused

__all__ = ["describe", "key_path", "locate", "problems_of"]

_DNS_LABEL = "a DNS label: 1-63 of a-z 0-9 -, not starting or ending with -"
# Why a pattern failed, by the key that holds it (the regex itself helps nobody).
_PATTERN_HELP = {
    "name": f"must be {_DNS_LABEL}",
    "service": f"must be {_DNS_LABEL}",
    "id": "must be 1-128 of A-Z a-z 0-9 . _ : -",
    "key": 'must be "ip", "route" or "header:<name>" (e.g. header:x-api-key)',
    "path": "must start with / and hold no spaces",
    "zone": "must be 1-64 printable characters without spaces",
    "add": "a header name must be letters, digits and !#$%&'*+.^_`|~-",
}
_TYPE_HELP = {
    "model_type": "must be a mapping (key: value lines)",
    "model_attributes_type": "must be a mapping (key: value lines)",
    "dict_type": "must be a mapping (key: value lines)",
    "list_type": "must be a list (- item lines, or [a, b])",
    "missing": "is required here",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
}


def key_path(path: Path) -> str:
    """``("routes", 0, "service")`` → ``routes[0].service``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def locate(root: yaml.Node | None, path: Path) -> tuple[int, int]:
    """The 1-based line and column of the deepest node along ``path`` (a key for a mapping
    entry, so that "unknown key" points at the key and a bad value at its key too)."""
    if root is None:
        return 1, 1
    mark = root.start_mark
    node: yaml.Node = root
    for part in path:
        if isinstance(node, yaml.MappingNode):
            entry = next(((k, v) for k, v in node.value if k.value == part), None)
            if entry is None:
                break
            mark, node = entry[0].start_mark, entry[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            mark = node.start_mark
        else:
            break
    return mark.line + 1, mark.column + 1


def problems_of(exc: ValidationError, model: type[BaseModel]) -> Iterator[Problem]:
    """Every error of ``exc`` as a (key path, message) pair."""
    for error in exc.errors(include_url=False):
        # Union members and "[key]" tags are pydantic's, not the file's.
        loc: Path = tuple(
            p for p in error["loc"] if isinstance(p, int) or ("[" not in p and "(" not in p)
        )
        context = error.get("ctx") or {}
        cause = context.get("error")
        if isinstance(cause, ConfigProblems):
            for sub_path, message in cause.problems:
                yield (*loc, *sub_path), message
            continue
        if isinstance(cause, OptionRefused) and cause.option:
            # A policy's options refused a value (meshkit._validate): the option it names is
            # a key of the section that failed.
            yield (*loc, cause.option), cause.reason
            continue
        # The key whose rule was broken; for a bad key of a mapping (a header name under
        # `add`, say), the mapping's own key.
        names = [p for p in loc if isinstance(p, str)]
        if error["loc"][-1:] == ("[key]",):
            names = names[:-1]
        yield loc, describe(error, loc, model, names[-1] if names else "")


def describe(error: Any, loc: Path, model: type[BaseModel], field: str) -> str:
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        keys = _keys_at(model, loc[:-1])
        word = str(loc[-1])
        return f'unknown key "{word}"{closest(word, keys)} (valid keys here: {", ".join(keys)})'
    if kind == "missing":
        return _TYPE_HELP[kind]
    if kind == "literal_error":
        allowed = error["ctx"]["expected"].replace(" or ", ", ").replace("'", "")
        return f"must be one of: {allowed}; got {_show(given)}"
    if kind == "string_pattern_mismatch":
        return f"{_PATTERN_HELP.get(field, 'has the wrong form')}; got {_show(given)}"
    if kind in _TYPE_HELP:
        return f"{_TYPE_HELP[kind]}; got {_show(given)}"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    message = message.replace("Input should be", "must be").replace("List should", "must")
    message = message.replace("String should", "must").replace("Dictionary should", "must")
    shown = _show(given)
    return f"{message}; got {shown}" if _scalar(given) and shown not in message else message


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _keys_at(model: type[BaseModel], path: Path) -> list[str]:
    """The keys the model accepts at ``path`` (list indexes and dict keys stepped over)."""
    current: Any = model
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The model class inside ``X | None``, ``list[X]``, ``Annotated[X, ...]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for argument in typing.get_args(annotation):
            found = _model_in(argument)
            if found is not None:
                return found
    return None
