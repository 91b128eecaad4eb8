"""Compile the gateway's data path with mypyc: into wheels (hatchling build hook) and in place
under ``src/`` (``python hatch_build.py CACHE_DIR``, which is what ``make`` runs).

Theory of operation. ``[tool.meshkit.mypyc] modules`` in pyproject.toml is the one list of
compiled modules. A wheel build copies the package to a scratch directory, runs mypyc there (so
building never writes into the checkout, where ``make`` keeps its own in-place build), and adds
the extension modules beside the pure sources, which stay in the wheel: Python imports an
extension module before a source file of the same name. ``MESHKIT_COMPILE`` chooses: unset or
``auto`` compiles when a C compiler is found and otherwise falls back to pure Python, saying so;
``1`` compiles or fails the build; ``0`` builds pure Python. Editable installs never compile.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT = Path(__file__).resolve().parent
# What compiling needs besides the project's dependencies, which mypy checks the modules
# against: the dev extra's mypy range, setuptools to drive the C compiler, the stubs --strict
# asks for. (A build with isolation installs them; `--no-isolation` finds them in the dev extra.)
BUILD_REQUIREMENTS = ["mypy>=1.10,<3", "setuptools>=61", "types-PyYAML>=6,<7"]
# mypy follows imports through the whole package, so it needs the extras meshkit's modules
# import too (the Redis store and rate limiter); without them the compile fails.
TYPED_EXTRAS = ["redis"]
# Measured: about 60 s on an idle 2-core machine, twice that on a busy one.
DURATION = "about 1-2 minutes on 2 cores when nothing is cached"
PURE_COST = "about a third of the compiled gateway's throughput"

Say = Callable[[str], None]


class CompileFailed(Exception):
    """mypyc or the C compiler failed, or a compiled build was required and cannot be had."""


def compiled_modules(root: Path = ROOT) -> list[str]:
    """The modules to compile, as paths relative to ``src/``."""
    with (root / "pyproject.toml").open("rb") as file:
        return list(tomllib.load(file)["tool"]["meshkit"]["mypyc"]["modules"])


def compile_choice() -> str:
    """``MESHKIT_COMPILE`` read as ``"auto"``, ``"on"`` or ``"off"``."""
    value = os.environ.get("MESHKIT_COMPILE", "auto").strip().lower()
    choices = {"": "auto", "auto": "auto", "1": "on", "true": "on", "0": "off", "false": "off"}
    if value not in choices:
        raise CompileFailed(f"MESHKIT_COMPILE={value!r}: use 1 (compile), 0 (pure) or auto")
    return choices[value]


def c_compiler() -> str | None:
    """The C compiler setuptools would run, if it is installed."""
    command = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return shutil.which(shlex.split(command)[0])


def should_compile(choice: str, say: Say) -> bool:
    """Whether to compile; says why not. Raises when a required compiled build cannot be had."""
    if choice == "off":
        say("MESHKIT_COMPILE=0: the data path stays pure Python")
        return False
    if c_compiler() is None:
        if choice == "on":
            raise CompileFailed("MESHKIT_COMPILE=1 but no C compiler was found (set CC)")
        say(
            f"no C compiler found: the data path stays pure Python ({PURE_COST}); "
            "install gcc or clang and build again for the compiled one"
        )
        return False
    return True


def run_mypyc(src: Path, modules: list[str], *, log: Path, cache_dir: Path, say: Say) -> None:
    """Compile ``modules`` (paths under ``src``) in place; mypyc's output goes to ``log``."""
    say(f"compiling the data path with mypyc: {len(modules)} modules, {DURATION} (log: {log})")
    started = time.perf_counter()
    command = [
        sys.executable, "-m", "mypyc",
        f"--config-file={ROOT / 'pyproject.toml'}", f"--cache-dir={cache_dir}", *modules,
    ]  # fmt: skip
    with log.open("w") as out:
        done = subprocess.run(command, cwd=src, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise CompileFailed(f"mypyc failed (exit {done.returncode}); the end of {log}:\n{tail}")
    say(f"data path compiled in {time.perf_counter() - started:.0f} s")


def _libraries(src: Path) -> list[Path]:
    # Each module's own extension under meshkit/, and the library they share at the top.
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    return [*src.glob(f"*__mypyc{suffix}"), *(src / "meshkit").rglob(f"*{suffix}")]


class MypycBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """hatchling's ``custom`` build hook: compiled extension modules into the wheel."""

    _scratch: Path | None = None

    def dependencies(self) -> list[str]:
        if compile_choice() == "off":
            return []
        core = self.metadata.core
        extras = [need for extra in TYPED_EXTRAS for need in core.optional_dependencies[extra]]
        return [*BUILD_REQUIREMENTS, *core.dependencies, *extras]

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        say, choice = self.app.display_info, compile_choice()
        if not should_compile(choice, say):
            return
        self._scratch = Path(tempfile.mkdtemp(prefix="meshkit-mypyc-"))
        src = self._scratch / "src"
        ignore = shutil.ignore_patterns("*.so", "*.pyd", "__pycache__")
        shutil.copytree(Path(self.root, "src", "meshkit"), src / "meshkit", ignore=ignore)
        try:
            run_mypyc(
                src,
                compiled_modules(Path(self.root)),
                log=self._scratch / "mypyc.log",
                cache_dir=self._scratch / "mypy-cache",
                say=say,
            )
        except CompileFailed as exc:
            if choice == "on":
                shutil.rmtree(self._scratch, ignore_errors=True)
                raise
            self.app.display_warning(f"{exc}\nbuilding a pure-Python wheel instead ({PURE_COST})")
            return
        for library in _libraries(src):
            build_data["force_include"][str(library)] = library.relative_to(src).as_posix()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


def compile_in_place(cache: Path, say: Say) -> int:
    """What ``make`` runs: compile under ``src/``, or drop a failed build and run pure Python.

    mypyc's build directory is kept in ``cache`` between runs, so that only the modules whose
    C code changed are compiled again. The exit status is 1 only when ``MESHKIT_COMPILE=1``.
    """
    src = ROOT / "src"
    build, saved = src / "build", cache / "mypyc-build"
    choice = compile_choice()
    try:
        if not should_compile(choice, say):
            _drop(src)
            return 0
        shutil.rmtree(build, ignore_errors=True)
        if saved.is_dir():
            saved.rename(build)
        run_mypyc(
            src,
            compiled_modules(),
            log=cache / "mypyc.log",
            cache_dir=cache / "mypyc-cache",
            say=say,
        )
    except CompileFailed as exc:
        _drop(src)
        if choice == "on":
            say(str(exc))
            return 1
        say(f"mypyc build failed (see {cache / 'mypyc.log'}): running pure Python")
        return 0
    build.rename(saved)
    # setuptools leaves an unchanged extension's file as it was: touch them all so that none
    # looks older than its source to meshkit._build's stale check.
    for library in _libraries(src):
        library.touch()
    return 0


def _drop(src: Path) -> None:
    shutil.rmtree(src / "build", ignore_errors=True)
    for library in _libraries(src):
        library.unlink()


if __name__ == "__main__":
    sys.exit(compile_in_place(Path(sys.argv[1]).resolve(), lambda line: print(line, flush=True)))
