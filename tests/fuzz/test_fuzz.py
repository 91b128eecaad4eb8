"""The fuzz target in the suite: every corpus file replayed on the running (compiled) build,
and a bounded coverage-guided run of each path on the Python sources (``make fuzz`` runs
longer). A crash the fuzzer finds becomes a corpus file, so it is replayed here forever."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .harness import Harness

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SECONDS = int(os.environ.get("MESHKIT_FUZZ_SECONDS", "8"))
FIXED_REQUEST = b"GET /api/orders/1 HTTP/1.1\r\nHost: fuzz\r\n\r\n"
FIXED_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


@pytest.fixture(scope="module")
def harness() -> Harness:
    return Harness()


@pytest.mark.parametrize(
    "case", sorted(CORPUS.glob("*/*")), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_corpus_input_holds_the_invariants(harness: Harness, case: Path) -> None:
    data = case.read_bytes()[4:]  # (the first four bytes choose the reads' cuts)
    pieces = [data[i : i + 7] for i in range(0, len(data), 7)]  # and in small reads
    for cut in ([data], pieces):
        if case.parent.name == "request":
            harness.run(cut, [FIXED_RESPONSE])
        else:
            harness.run([FIXED_REQUEST], cut)


@pytest.mark.parametrize("target", ["request", "response"])
def test_a_bounded_fuzzing_run_finds_nothing(target: str, tmp_path: Path) -> None:
    (tmp_path / "found").mkdir()
    if importlib.util.find_spec("atheris") is None:
        if IN_CI:
            pytest.fail("atheris is not installed (it is in the dev extra)")
        pytest.skip("atheris is not installed (pip install -e '.[dev]')")
    run = subprocess.run(
        [
            sys.executable, str(HERE / "fuzz_gateway.py"), target,
            f"-max_total_time={SECONDS}", f"-dict={HERE / 'http.dict'}",
            f"-artifact_prefix={tmp_path}/", "-rss_limit_mb=1024",
            str(tmp_path / "found"), str(CORPUS / target),
        ],
        env={**os.environ, "MESHKIT_FUZZ_PURE": "1"},
        capture_output=True, text=True, timeout=SECONDS * 4 + 60, check=False,
    )  # fmt: skip
    crashes = sorted(p.name for p in tmp_path.glob("crash-*"))
    assert run.returncode == 0, run.stderr[-4000:]
    assert not crashes
    assert "Done " in run.stderr  # it ran (libFuzzer's closing line)
