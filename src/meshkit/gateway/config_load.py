"""Reading a gateway config file: bytes → text → YAML → validated :class:`GatewayConfig`.

Every way in (``meshkit validate``, ``meshkit run``, a reload) goes through :func:`config_from`,
so they refuse exactly the same files. A refused file raises :class:`ConfigError` whose
``problems`` are one line each, ``file:line:column: key.path: what is wrong``, for every problem
found — bytes that are not UTF-8, YAML syntax, duplicate keys, schema, cross references — never
a traceback.

Duplicate keys are refused rather than "last one wins" (YAML 1.2 requires unique keys): a
second ``services:`` block would otherwise silently replace the first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from meshkit.errors import ConfigError
from meshkit.gateway.config import GatewayConfig
from meshkit.gateway.config_checks import Path as KeyPath
from meshkit.gateway.config_checks import Problem, cross_problems
from meshkit.gateway.config_errors import key_path, locate, problems_of
from meshkit.gateway.settle import FileStamp

__all__ = ["config_from", "load_config", "parse_config", "read_config", "read_stamped"]


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that records every key repeated within one mapping instead of letting the
    last one win (merge keys, ``<<``, still override as YAML intends)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.repeats: list[tuple[yaml.Node, yaml.Node]] = []  # (repeated key, first key)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if first is not key_node:
                self.repeats.append((key_node, first))
        return super().construct_mapping(node, deep=deep)


def parse_config(text: str | bytes, *, source: str = "<config>") -> GatewayConfig:
    """Validate YAML ``text``; ``ConfigError`` lists every problem with its key path, line and
    column. Filter modules are imported from the working directory."""
    return config_from(text, source=source, directory=None)


def load_config(path: str | Path) -> GatewayConfig:
    """Read and validate the file at ``path``; filter modules are imported from its directory
    and the working directory."""
    return read_config(path)[0]


def read_config(path: str | Path) -> tuple[GatewayConfig, FileStamp]:
    """:func:`load_config`, with the stamp of the very bytes it validated (so that a watcher
    knows which version is running, even if the file changed a moment later)."""
    file = Path(path)
    try:
        data, stamp = _read(file)
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}", option=None) from None
    return config_from(data, source=str(file), directory=file.resolve().parent), stamp


def read_stamped(path: Path) -> tuple[bytes, FileStamp] | None:
    """The file's bytes and the stamp of exactly those bytes, or ``None`` if it is missing."""
    try:
        return _read(path)
    except OSError:
        return None


def _read(path: Path) -> tuple[bytes, FileStamp]:
    # Opened by path at every call, so a file renamed over this one is what is read; the
    # modification time comes from the same open file as the bytes.
    with path.open("rb") as file:
        data = file.read()
        mtime_ns = os.fstat(file.fileno()).st_mtime_ns
    return data, FileStamp.of(data, mtime_ns=mtime_ns)


def config_from(text: str | bytes, *, source: str, directory: Path | None) -> GatewayConfig:
    """The one validation path: what ``validate``, ``run`` and a reload all call."""
    _add_import_paths(directory)
    if isinstance(text, bytes):
        text = _decoded(text, source)
    try:
        loader = _UniqueKeyLoader(text)
    except yaml.YAMLError as exc:  # the reader refuses control characters up front
        raise _refusal(source, [_yaml_problem(exc, text)]) from None
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise _refusal(source, [_yaml_problem(exc, text)]) from None
    finally:
        loader.dispose()
    if loader.repeats:
        raise _refusal(source, sorted(_repeat(root, k, first) for k, first in loader.repeats))
    if root is None or data is None:
        raise _refusal(
            source,
            [
                (1, 1, "the file is empty; a gateway needs at least services: and routes: "
                       "(see examples/gateway.yaml)")
            ],
        )  # fmt: skip
    if not isinstance(data, dict):
        raise _refusal(source, [(1, 1, "the top level must be a mapping (key: value lines)")])
    problems: list[Problem] = []
    config = None
    try:
        config = GatewayConfig.model_validate(data)
    except ValidationError as exc:
        problems = [p for p in problems_of(exc, GatewayConfig) if p[0] != ()]
        problems += [p for p in cross_problems(data) if p not in problems]
    if problems or config is None:
        placed = [
            (*locate(root, path), f"{key_path(path)}: {message}") for path, message in problems
        ]
        raise _refusal(source, sorted(placed))
    return config


def _decoded(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")  # a BOM, as some editors write, is fine
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start : exc.start + 1].hex()
        raise _refusal(
            source,
            [(line, column, f"not valid UTF-8 (byte 0x{byte}); save the file as UTF-8")],
        ) from None


def _yaml_problem(exc: yaml.YAMLError, text: str) -> tuple[int, int, str]:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        return line, column, f"control character U+{exc.character:04X} is not allowed in YAML"
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    detail = f"{problem} ({context})" if context else problem
    if mark is None:
        return 1, 1, f"not valid YAML: {detail}"
    return mark.line + 1, mark.column + 1, f"not valid YAML: {detail}"


def _repeat(root: yaml.Node | None, key: yaml.Node, first: yaml.Node) -> tuple[int, int, str]:
    path = _path_to(root, key, ()) if root is not None else None
    where = key_path((*path, str(key.value))) if path is not None else str(key.value)
    return (
        key.start_mark.line + 1,
        key.start_mark.column + 1,
        f"{where}: duplicate key, already set on line {first.start_mark.line + 1}; "
        "keys must be unique (the later one would silently replace the earlier)",
    )


def _path_to(node: yaml.Node, key: yaml.Node, path: KeyPath) -> KeyPath | None:
    """The key path of the mapping that holds ``key`` (a node of the tree under ``node``)."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k is key:
                return path
            found = _path_to(v, key, (*path, str(k.value)))
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found = _path_to(item, key, (*path, index))
            if found is not None:
                return found
    return None


def _refusal(source: str, problems: list[tuple[int, int, str]]) -> ConfigError:
    lines = tuple(f"{source}:{line}:{column}: {text}" for line, column, text in problems)
    return ConfigError("\n".join(lines), option=None, problems=lines)


def _add_import_paths(directory: Path | None) -> None:
    """Put the config file's directory and the working directory at the front of the import
    path, as ``python app.py`` and ``uvicorn`` do, so ``myapp.filters:check`` next to the
    file (or where the gateway was started) imports without ``PYTHONPATH``."""
    for folder in (os.getcwd(), str(directory) if directory is not None else None):
        if folder is not None and folder not in sys.path:
            sys.path.insert(0, folder)
