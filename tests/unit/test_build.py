"""Telling a stale compiled module from a fresh one (pytest and ``meshkit run`` both ask)."""

from __future__ import annotations

import os
from pathlib import Path

from meshkit._build import stale_compiled_modules


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
