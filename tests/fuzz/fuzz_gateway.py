"""Fuzz the gateway's request and response paths with atheris (libFuzzer for Python).

    python tests/fuzz/fuzz_gateway.py request|response [libFuzzer options] [corpus dirs]

``request``: the client's bytes are the input (the upstream answers a fixed response);
``response``: the upstream's bytes are (after a fixed request). Either way the first bytes
choose where the input is cut into reads, so partial lines and heads are exercised.
With ``MESHKIT_FUZZ_PURE=1`` meshkit is imported from its Python sources (copied aside,
without the compiled modules) under atheris' coverage instrumentation, which guides the
mutations; without it the compiled build runs (what ships), mutations unguided by its code.
``make fuzz`` runs both for longer; ``tests/fuzz/test_fuzz.py`` for a few seconds each.
A crash leaves ``crash-*`` in the working directory: add it to ``tests/fuzz/corpus/<target>/``
as ``found-*``, where the test suite replays every file.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

HERE = Path(__file__).resolve().parent
SOURCES = HERE.parents[1] / "src" / "meshkit"
FIXED_REQUEST = b"GET /api/orders/1 HTTP/1.1\r\nHost: fuzz\r\n\r\n"
FIXED_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def _pure_sources() -> None:
    """Put a copy of meshkit's Python sources (no .so) first on the import path."""
    aside = Path(tempfile.mkdtemp(prefix="meshkit-fuzz-"))
    skip = shutil.ignore_patterns("*.so", "__pycache__")
    shutil.copytree(SOURCES, aside / "meshkit", ignore=skip)
    sys.path.insert(0, str(aside))


def cut(provider: atheris.FuzzedDataProvider, data: bytes) -> list[bytes]:
    """``data`` in up to 8 reads, at the points the input chooses."""
    cuts = provider.ConsumeIntInRange(0, 7)
    points = sorted({provider.ConsumeIntInRange(0, len(data)) for _ in range(cuts)})
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return [p for p in pieces if p]


def main() -> None:
    target = sys.argv.pop(1) if len(sys.argv) > 1 else "request"
    pure = os.environ.get("MESHKIT_FUZZ_PURE") == "1"
    if pure:
        _pure_sources()
        with atheris.instrument_imports(include=["meshkit"]):
            import meshkit.gateway  # noqa: F401
    sys.path.insert(0, str(HERE))
    from harness import Harness

    harness = Harness()

    def one_input(data: bytes) -> None:
        provider = atheris.FuzzedDataProvider(data)
        layout = provider.ConsumeBytes(4)
        rest = provider.ConsumeBytes(provider.remaining_bytes())
        chooser = atheris.FuzzedDataProvider(layout)
        if target == "request":
            harness.run(cut(chooser, rest), [FIXED_RESPONSE])
        else:
            harness.run([FIXED_REQUEST], cut(chooser, rest))

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
