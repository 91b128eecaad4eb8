"""The configuration reference (``docs/configuration.md``) and JSON Schema, from the models.

The models are the one source of truth: a key's type, allowed values and default come from its
annotation, its meaning from its docstring, and its example from the example files under
``examples/`` (which tests validate), so the reference cannot drift from what the loader
accepts. ``make docs`` rewrites the file; a test fails when it is stale, when a field has no
description, or when no example sets a key.

    python -m meshkit.gateway.config_docs examples > docs/configuration.md
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from meshkit._units import parse_duration, parse_size
from meshkit.gateway.config import GatewayConfig
from meshkit.gateway.config_base import NAME_PATTERN

__all__ = ["MISSING", "example_files", "find_example", "json_schema", "keys", "reference"]

Section = tuple[str, type[BaseModel]]

_INTRO = """# Configuration reference

<!-- Generated from the models in src/meshkit/gateway and src/meshkit/registry/models.py by
`make docs`; a test fails when this file is stale. Edit the field docstrings, not this file. -->

`meshkit run mesh.yaml` and `meshkit validate mesh.yaml` read one YAML file. Every key is
optional unless marked **required**; unknown keys are refused with a suggestion. Durations
are seconds or strings with a unit (`250ms`, `2s`, `1.5m`, `1h`); sizes are bytes or strings
with a unit (`512B`, `64KiB`, `10MiB`, `1GiB`, `10MB`). Each example below comes from a file in
`examples/` (`full.yaml` sets nearly every key, with comments).

Filter references (`package.module:function`) import like an application's modules: the
config file's directory and the working directory are on the import path. A reload (SIGHUP,
or the file changing, see `reload`) imports a referenced module again when its file changed
since it was imported; modules that it imports in turn are not reloaded.

An editor can check the file as it is typed: `meshkit config schema > mesh.schema.json`
writes the JSON Schema (see the README for VS Code and yaml-language-server).
"""


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a config file, for editors."""
    schema = GatewayConfig.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **_bounds_on_numbers(schema)}


_JSON_BOUNDS = {
    "gt": "exclusiveMinimum",
    "ge": "minimum",
    "lt": "exclusiveMaximum",
    "le": "maximum",
}


def _bounds_on_numbers(node: Any) -> Any:
    """A duration or size accepts a number or a string with a unit; pydantic leaves the number's
    bounds (``gt: 0``) beside the ``anyOf``, where JSON Schema does not know them. Put them on
    the number."""
    if isinstance(node, list):
        return [_bounds_on_numbers(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _bounds_on_numbers(value) for key, value in node.items()}
    bounds = {_JSON_BOUNDS[k]: node.pop(k) for k in list(node) if k in _JSON_BOUNDS}
    if bounds and "anyOf" in node:
        node["anyOf"] = [
            {**option, **bounds} if option.get("type") in {"number", "integer"} else option
            for option in node["anyOf"]
        ]
    return node


def sections() -> list[Section]:
    """Every model in the config, by the key path (in the file's terms) where it appears."""
    found: list[Section] = []

    def walk(path: str, model: type[BaseModel]) -> None:
        found.append((path, model))
        for name, field in model.model_fields.items():
            inner, many = _model_in(field.annotation)
            if inner is not None:
                walk(f"{path}.{name}{'[]' if many else ''}".lstrip("."), inner)

    walk("", GatewayConfig)
    return found


def keys() -> Iterator[tuple[str, FieldInfo]]:
    """Every key's full path (``routes[].match.prefix``) and its field."""
    for path, model in sections():
        for name, field in model.model_fields.items():
            yield f"{path}.{name}".lstrip("."), field


def reference(examples: Sequence[Any]) -> str:
    """The Markdown reference; each key's example is the first value an example file gives."""
    out = [_INTRO]
    for path, model in sections():
        title = path or "top level"
        out.append(f"\n## `{title}`\n")
        if model.__doc__ and path:
            out.append(" ".join(model.__doc__.replace("``", "`").split()) + "\n")
        out.append("| key | type | default | meaning | example |")
        out.append("|---|---|---|---|---|")
        for name, field in model.model_fields.items():
            full = f"{path}.{name}".lstrip(".")
            inner, many = _model_in(field.annotation)
            example = find_example(examples, full)
            if inner is not None:  # its own section follows, with an example per key
                shown = f"see `{full}{'[]' if many else ''}`"
            else:
                shown = f"`{_inline(example)}`" if example is not MISSING else "—"
            description = " ".join((field.description or "").split()).replace("|", "\\|")
            kind = _type(field).replace("|", "\\|")
            out.append(f"| `{name}` | {kind} | {_default(field)} | {description} | {shown} |")
    return "\n".join(out) + "\n"


MISSING = object()
"""What :func:`find_example` returns when no example sets the key."""


def find_example(examples: Sequence[Any], path: str) -> Any:
    """The first value at ``path`` (``routes[].match.prefix``) in any of ``examples``."""
    parts = path.replace("[]", ".[]").split(".")
    for document in examples:
        for value in _values(document, parts):
            return value
    return MISSING


def _values(node: Any, parts: list[str]) -> Iterator[Any]:
    if not parts:
        yield node
        return
    head, rest = parts[0], parts[1:]
    if head == "[]":
        for item in node if isinstance(node, list) else ():
            yield from _values(item, rest)
    elif isinstance(node, dict) and head in node:
        yield from _values(node[head], rest)


def _inline(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1000)
    return text.removesuffix("\n").removesuffix("\n...").replace("|", "\\|")


def _model_in(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    for argument in typing.get_args(annotation):
        found, many = _model_in(argument)
        if found is not None:
            return found, many or origin is list
    return None, False


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "absent"
    if isinstance(value, BaseModel):
        return "see below"
    return f"`{_inline(value)}`"


def _type(field: FieldInfo) -> str:
    return _describe(field.annotation, list(field.metadata))


def _describe(annotation: Any, metadata: list[Any]) -> str:
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _describe(arguments[0], [*arguments[1:], *metadata])
    if isinstance(annotation, types.UnionType) or origin is typing.Union:
        kinds = [_describe(a, metadata) for a in arguments if a is not type(None)]
        return " or ".join(kinds)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in arguments)
    if origin is list or origin is tuple:
        return f"list of {_describe(arguments[0], [])}"
    if origin is dict:
        return f"mapping of {_describe(arguments[0], [])} to {_describe(arguments[1], [])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return _scalar(annotation, metadata)


def _scalar(annotation: Any, metadata: list[Any]) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    kind = names.get(annotation, getattr(annotation, "__name__", str(annotation)))
    bounds: list[str] = []
    for item in metadata:
        function = getattr(item, "func", None)
        if function is parse_duration:
            kind = "duration"
        elif function is parse_size:
            kind = "size"
        for constraint in getattr(item, "metadata", [item]):
            bounds.extend(_bound(constraint))
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def _bound(constraint: Any) -> list[str]:
    for kind, attribute, sign in (
        (annotated_types.Ge, "ge", "≥"),
        (annotated_types.Gt, "gt", ">"),
        (annotated_types.Le, "le", "≤"),
        (annotated_types.Lt, "lt", "<"),
    ):
        if isinstance(constraint, kind):
            return [f"{sign} {getattr(constraint, attribute)}"]
    if isinstance(constraint, annotated_types.MinLen) and constraint.min_length > 1:
        return [f"at least {constraint.min_length} characters"]
    if isinstance(constraint, annotated_types.MaxLen):
        return [f"at most {constraint.max_length} characters"]
    pattern = getattr(constraint, "pattern", None)
    if not isinstance(pattern, str):
        return []
    return [_PATTERNS.get(pattern, f"matching `{pattern}`")]


# Patterns in words, where the words are shorter than the pattern.
_PATTERNS = {
    NAME_PATTERN: "a DNS label: 1-63 of a-z 0-9 -",
    r"^[A-Za-z0-9._:-]{1,128}$": "1-128 of A-Z a-z 0-9 . _ : -",
    r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$": "a header name",
    r"^(ip|route|header:[A-Za-z0-9-]+)$": "`ip`, `route` or `header:<name>`",
    r"^/[\x21-\x7e]*$": "starting with /, no spaces",
    r"^[\x21-\x7e]+$": "printable, no spaces",
}


def example_files(directory: Path) -> list[Path]:
    """The example configs, the annotated ``full.yaml`` first (its values are preferred)."""
    return sorted(directory.glob("*.yaml"), key=lambda p: (p.name != "full.yaml", p.name))


def main(argv: Sequence[str]) -> int:
    """Print the reference, its examples taken from the directory ``argv[0]``."""
    files = example_files(Path(argv[0] if argv else "examples"))
    sys.stdout.write(reference([yaml.safe_load(f.read_text(encoding="utf-8")) for f in files]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
