"""Give mypyc-compiled classes back the documentation the compiler drops.

A class compiled by mypyc becomes a C type without its docstring, and its ``__init__`` shows as
``(self, /, *args, **kwargs)``: ``help()`` says nothing and ``inspect.signature`` fails (or, for
simple defaults, drops the annotations); the module loses its docstring too. The sources are
installed beside the compiled modules, so the docstrings and the ``__init__`` signature are read
from them, parsed and never run. A class's are read the first time someone asks (``__doc__``
and ``__signature__`` become lazy class attributes); a module's (class docstrings refer to it)
at import, reading only up to its first statement. Default values are evaluated in the compiled
module's namespace, as Python would have; one that cannot be shows as its source text. A pure
build is left as it is.

Methods keep mypyc's text signatures but not their docstrings (a C method's ``__doc__`` cannot
be set); the pure build, or the source, has them.
"""

from __future__ import annotations

import ast
import inspect
import sys
import tokenize
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["restore_documentation"]

_P = inspect.Parameter


def restore_documentation(objects: Iterable[object]) -> None:
    """Give each compiled class among ``objects`` its docstring and signature back, and its
    module its docstring (which class docstrings refer to)."""
    for cls in objects:
        if not isinstance(cls, type):
            continue
        source = _source_of(cls)
        if source is None:
            continue
        cls.__doc__ = _FromSource(cls, "doc")  # type: ignore[assignment]
        if "__signature__" not in cls.__dict__:
            type.__setattr__(cls, "__signature__", _FromSource(cls, "signature"))
        module = sys.modules[cls.__module__]
        if not module.__doc__:
            module.__doc__ = _module_docstring(source)


def _module_docstring(source: Path) -> str | None:
    # A module attribute cannot be lazy, so this reads only as far as the first statement.
    with source.open("rb") as file:
        for token in tokenize.tokenize(file.readline):
            if token.type == tokenize.STRING:
                return inspect.cleandoc(ast.literal_eval(token.string))
            if token.type not in _BEFORE_DOCSTRING:
                return None
    return None  # pragma: no cover - an empty file


_BEFORE_DOCSTRING = {
    tokenize.ENCODING,
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
}


class _FromSource:
    """A class attribute worked out from the class's source the first time it is read."""

    def __init__(self, cls: type, what: str) -> None:
        self._cls = cls
        self._what = what

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if self._what == "signature" and owner is not self._cls:
            return None  # a subclass: inspect works its own signature out
        documentation = _documentation(self._cls)
        return documentation[0] if self._what == "doc" else documentation[1]


def _source_of(cls: type) -> Path | None:
    """The ``.py`` file of a class whose module is compiled; ``None`` for a pure module."""
    module = sys.modules.get(cls.__module__)
    compiled = str(getattr(module, "__file__", None) or "")
    if compiled.endswith(".py") or not compiled:
        return None
    source = Path(compiled)
    source = source.with_name(source.name.split(".", 1)[0] + ".py")
    return source if source.is_file() else None


@cache
def _documentation(cls: type) -> tuple[str | None, inspect.Signature | None]:
    source = _source_of(cls)
    if source is None:  # pragma: no cover - only classes with a source get the attributes
        return None, None
    tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
    node = next(
        (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls.__name__), None
    )
    if node is None:
        return None, None
    init = next(
        (n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None
    )
    namespace = vars(sys.modules[cls.__module__])
    signature = None if init is None else _signature(init, namespace)
    return ast.get_docstring(node), signature


def _signature(init: ast.FunctionDef, namespace: dict[str, Any]) -> inspect.Signature:
    arguments = init.args
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
    defaults += arguments.defaults
    parameters = [
        _parameter(
            argument,
            _P.POSITIONAL_ONLY if i < len(arguments.posonlyargs) else _P.POSITIONAL_OR_KEYWORD,
            default,
            namespace,
        )
        for i, (argument, default) in enumerate(zip(positional, defaults, strict=True))
    ][1:]  # self
    if arguments.vararg is not None:
        parameters.append(_parameter(arguments.vararg, _P.VAR_POSITIONAL, None, namespace))
    parameters += [
        _parameter(argument, _P.KEYWORD_ONLY, default, namespace)
        for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
    ]
    if arguments.kwarg is not None:
        parameters.append(_parameter(arguments.kwarg, _P.VAR_KEYWORD, None, namespace))
    returns = inspect.Signature.empty if init.returns is None else ast.unparse(init.returns)
    return inspect.Signature(parameters, return_annotation=returns)


def _parameter(
    argument: ast.arg, kind: Any, default: ast.expr | None, namespace: dict[str, Any]
) -> inspect.Parameter:
    # Annotations stay text, as `from __future__ import annotations` leaves them in a pure build.
    annotation = _P.empty if argument.annotation is None else ast.unparse(argument.annotation)
    value = _P.empty if default is None else _evaluate(default, namespace)
    return _P(argument.arg, kind, default=value, annotation=annotation)


def _evaluate(expression: ast.expr, namespace: dict[str, Any]) -> object:
    try:
        return eval(compile(ast.Expression(expression), "<default>", "eval"), namespace)
    except Exception:  # a default naming what the module does not hold: show its text
        return _SourceText(ast.unparse(expression))


class _SourceText:
    """A default value shown as the source wrote it."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text
