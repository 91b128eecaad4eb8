"""The README is real: every code block in it runs, as written, and does what it says.

Blocks are found by their fences. A block under ``<!-- file: PATH -->`` is written to PATH in a
scratch copy of the repository's root (``.venv`` and ``examples`` linked in); a block under
``<!-- run: NAME -->`` is run there line by line in bash: a line ending in ``&`` starts a
process and waits for its first line of output, ``kill %2 %1`` stops those processes in that
order (each must exit 0), any other line must exit 0, and a trailing comment that starts with
HTTP status codes says what curl must print. Python blocks run as scripts.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshkit.testing import FakeUpstream

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BLOCK = re.compile(r"(?:<!-- (file|run): ([^>]+?) -->\n)?```(\w+)\n(.*?)```", re.S)
NOT_RUN = (
    # The two commands themselves: running `make test` from inside `make test` would recurse.
    "make demo   # a scripted showcase",
    # Installing builds a wheel for minutes; tests/unit/test_hatch_build.py covers the build.
    "pip install .            # into the active virtual environment",
)


def blocks() -> list[tuple[str | None, str | None, str, str]]:
    """(marker, its argument, language, text) for every fenced block, in order."""
    text = README.read_text(encoding="utf-8")
    return [(m[1], m[2], m[3], m[4]) for m in BLOCK.finditer(text)]


def python_blocks() -> list[str]:
    return [text for marker, _, language, text in blocks() if language == "python" and not marker]


def block(marker: str, name: str) -> str:
    (text,) = [t for m, n, _, t in blocks() if (m, n) == (marker, name)]
    return text


def test_every_block_is_run_or_used() -> None:
    for marker, _, language, text in blocks():
        assert marker is not None or language == "python" or text.startswith(NOT_RUN), text
    assert len(python_blocks()) == 2  # the library example and the discovery example


def test_readme_library_example_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-c", python_blocks()[0]],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'id': '42'}"


async def test_readme_discovery_example_calls_the_sample_upstreams(tmp_path: Path) -> None:
    upstreams = [await FakeUpstream(f"orders-{n}", port=9100 + n).start() for n in (1, 2)]
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", python_blocks()[1], cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(60):
            out, err = await process.communicate()
    finally:
        for upstream in upstreams:
            await upstream.stop()
    assert process.returncode == 0, err.decode()
    assert out.decode() == "200 ['GET', '/orders/42']\n"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A directory that looks like the repository's root to the README's commands."""
    for name in (".venv", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    for marker, path, _, text in blocks():
        if marker == "file" and path is not None:
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text(text)
    return tmp_path


def test_first_gateway_in_five_minutes(checkout: Path) -> None:
    run_lines(block("run", "first gateway"), checkout)


def test_editor_support_writes_the_schema(checkout: Path) -> None:
    run_lines(block("run", "editor support"), checkout)
    assert '"$schema"' in (checkout / "mesh.schema.json").read_text()


def test_the_gateway_section(checkout: Path) -> None:
    run_lines(block("run", "the gateway"), checkout)


def test_the_version_command_says_what_the_readme_shows(checkout: Path) -> None:
    """`$ meshkit --version` as an installed (or activated) environment runs it; the build it
    names is whichever this checkout has."""
    command, shown = block("run", "version").removeprefix("$ ").splitlines()
    env = {**os.environ, "PATH": f"{checkout / '.venv' / 'bin'}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-c", command], cwd=checkout, env=env,
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert re.fullmatch(r"meshkit \S+ \(data path: (compiled|pure Python)\)\n", result.stdout)
    assert result.stdout.split(" (")[0] == shown.split(" (")[0]


def run_lines(script: str, cwd: Path) -> None:
    jobs: list[tuple[str, subprocess.Popen[str]]] = []
    try:
        for command, comment in lines(script):
            if command.endswith("&"):
                jobs.append((command, start(command.removesuffix("&"), cwd)))
            elif command.startswith("kill %"):
                for number in (int(n) for n in re.findall(r"%(\d+)", command)):
                    stop(*jobs[number - 1])
            else:
                result = subprocess.run(
                    ["bash", "-c", command], cwd=cwd,
                    capture_output=True, text=True, timeout=60, check=False,
                )  # fmt: skip
                assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
                check_output(command, comment, result.stdout)
    finally:
        for _, job in jobs:
            if job.poll() is None:
                job.kill()
                job.wait()


def lines(script: str) -> Iterator[tuple[str, str]]:
    for line in script.splitlines():
        command, _, comment = line.partition("  # ")
        if command.strip():
            yield command.strip(), comment.strip()


def start(command: str, cwd: Path) -> subprocess.Popen[str]:
    # As a newcomer's shell would be: output to a pipe is block-buffered unless flushed.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    job = subprocess.Popen(
        ["bash", "-c", f"exec {command}"], cwd=cwd, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert job.stdout is not None
    first = job.stdout.readline()  # a banner: the upstreams' ports, the gateway's "listening"
    assert first, command
    assert job.poll() is None, f"{command}: {first}"
    return job


def stop(command: str, job: subprocess.Popen[str]) -> None:
    job.send_signal(signal.SIGTERM)
    try:
        code = job.wait(timeout=30)
    except subprocess.TimeoutExpired:
        job.kill()
        raise
    # The gateway drains and exits 0; the sample upstreams' script just dies of the signal.
    expected = 0 if "meshkit run" in command else -signal.SIGTERM
    assert code == expected, command


def check_output(command: str, comment: str, output: str) -> None:
    codes = re.match(r"^((?:\d{3} ?)+)(?:,|$)", comment)
    if command.startswith("curl -i") and codes:
        assert output.startswith(f"HTTP/1.1 {codes[1].strip()} "), output
    elif codes:
        assert output.split() == codes[1].split(), output
    elif "| grep" in command:
        assert output.strip(), command
