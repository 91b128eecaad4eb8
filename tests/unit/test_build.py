"""Which build runs, said by ``meshkit --version``, and telling a stale compiled module from a
fresh one (pytest and ``meshkit run`` both ask)."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
from pathlib import Path

from click.testing import CliRunner

import meshkit
from meshkit._build import data_path_compiled, stale_compiled_modules
from meshkit.cli import main


def test_a_source_newer_than_its_compiled_module_is_reported(tmp_path: Path) -> None:
    package = tmp_path / "meshkit"
    (package / "gateway").mkdir(parents=True)
    for name, source_age, library_age in [("fresh", 20, 10), ("stale", 10, 20)]:
        source = package / "gateway" / f"{name}.py"
        library = package / "gateway" / f"{name}.cpython-311-x86_64-linux-gnu.so"
        source.write_text("")
        library.write_bytes(b"")
        os.utime(source, (1_000_000 - source_age, 1_000_000 - source_age))
        os.utime(library, (1_000_000 - library_age, 1_000_000 - library_age))
    (package / "lone.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")  # no source: ignored
    assert stale_compiled_modules(package) == ["meshkit/gateway/stale.py"]


def test_the_version_is_the_package_metadata_s() -> None:
    assert meshkit.__version__ == importlib.metadata.version("meshkit")


def test_version_names_the_build_that_runs() -> None:
    result = CliRunner().invoke(main, ["--version"])
    build = "compiled" if data_path_compiled() else "pure Python"
    assert result.output == f"meshkit {meshkit.__version__} (data path: {build})\n"


def test_the_pure_build_says_so(pure_python: list[str]) -> None:
    shown = subprocess.run(
        [*pure_python, "meshkit", "--version"], capture_output=True, text=True, check=True
    )
    assert shown.stdout == f"meshkit {meshkit.__version__} (data path: pure Python)\n"
