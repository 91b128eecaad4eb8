"""Which build of the data path runs: compiled by mypyc (``make``) or pure Python, and
whether a compiled module is older than its source (then it runs yesterday's code)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_path_compiled", "stale_compiled_modules"]

_PACKAGE = Path(__file__).resolve().parent


def data_path_compiled() -> bool:
    """Whether the gateway's data path runs as mypyc-compiled C."""
    from meshkit.gateway import server

    return not str(server.__file__).endswith(".py")


def stale_compiled_modules(package: Path = _PACKAGE) -> list[str]:
    """Sources (``meshkit/...py``) whose compiled module is older than they are."""
    stale = []
    for library in package.rglob("*.so"):
        source = library.with_name(library.name.split(".", 1)[0] + ".py")
        if source.exists() and source.stat().st_mtime > library.stat().st_mtime:
            stale.append(str(source.relative_to(package.parent)))
    return sorted(stale)
