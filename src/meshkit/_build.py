"""Which build of the data path runs: compiled by mypyc (a compiled wheel, or ``make`` in a
checkout) or pure Python, and whether a compiled module is older than its source (then it runs
yesterday's code). ``meshkit --version`` and the gateway's start line say which one runs."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "PURE_BUILD_WARNING",
    "build_name",
    "data_path_compiled",
    "stale_compiled_modules",
    "version_line",
]

_PACKAGE = Path(__file__).resolve().parent

PURE_BUILD_WARNING = (
    "warning: the data path runs as pure Python, at about a third of the compiled build's "
    "throughput. For the compiled build, reinstall meshkit from its source where a C compiler "
    "is found: `MESHKIT_COMPILE=1 pip install --no-cache-dir --force-reinstall SOURCE` "
    "(=1 fails rather than falling back), or run `make` in a checkout"
)


def data_path_compiled() -> bool:
    """Whether the gateway's data path runs as mypyc-compiled C."""
    from meshkit.gateway import connection

    return not str(connection.__file__).endswith(".py")


def build_name() -> str:
    """``"compiled"`` or ``"pure Python"``: the build of the data path that runs."""
    return "compiled" if data_path_compiled() else "pure Python"


def version_line() -> str:
    """What ``meshkit --version`` prints: the version and the build, e.g.
    ``meshkit 0.1.0 (data path: compiled)``."""
    from meshkit import __version__

    return f"meshkit {__version__} (data path: {build_name()})"


def stale_compiled_modules(package: Path = _PACKAGE) -> list[str]:
    """Sources (``meshkit/...py``) whose compiled module is older than they are."""
    stale = []
    for library in package.rglob("*.so"):
        source = library.with_name(library.name.split(".", 1)[0] + ".py")
        if source.exists() and source.stat().st_mtime > library.stat().st_mtime:
            stale.append(str(source.relative_to(package.parent)))
    return sorted(stale)
