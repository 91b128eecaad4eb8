"""What users install: the standard build (``python -m build``: an sdist, then a wheel from it,
in an isolated environment) gives a compiled wheel, which in a fresh venv outside the checkout
reports the compiled build, validates the example config and proxies a request. Without a C
compiler the wheel is pure Python and the build says so.

Slow (the data path compiles from scratch, about a minute and a half on 2 cores): deselect with
``pytest -m "not slow"`` while iterating; ``make test`` and CI run it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from asyncio.subprocess import Process
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import pytest

from meshkit import __version__
from meshkit.testing import FakeUpstream

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
Running = Callable[..., AbstractAsyncContextManager[Process]]  # the `running` fixture


def _run(command: list[str | Path], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _build(
    out: Path, *args: str, env: dict[str, str], isolated: bool = False
) -> subprocess.CompletedProcess[str]:
    # Isolated, as users build: the build hook's requirements come from the registry. Without
    # isolation (the quick checks), from the dev extra.
    isolation = [] if isolated else ["--no-isolation"]
    command = [sys.executable, "-m", "build", *isolation, "--outdir", str(out), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv, outside the checkout, with the wheel built from the sdist installed."""
    compiler = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    if not IN_CI and shutil.which(compiler.split()[0]) is None:
        pytest.skip("no C compiler here: the wheel would be pure Python")
    out = tmp_path_factory.mktemp("dist")
    built = _build(out, ".", env={**os.environ, "MESHKIT_COMPILE": "1"}, isolated=True)
    assert built.returncode == 0, f"{built.stdout}\n{built.stderr}"
    assert "compiling the data path with mypyc" in built.stdout + built.stderr
    wheels = list(out.glob("*.whl"))
    assert [wheel.name for wheel in wheels] == [
        f"meshkit-{__version__}-cp311-cp311-linux_x86_64.whl"
    ]
    assert list(out.glob("*.tar.gz")) != []
    home = tmp_path_factory.mktemp("venv") / "venv"
    _run([sys.executable, "-m", "venv", home])
    _run([home / "bin" / "python", "-m", "pip", "install", "--quiet", wheels[0]], cwd=home)
    return home


def test_the_installed_wheel_runs_compiled(venv: Path, compiled_modules: list[str]) -> None:
    shown = _run([venv / "bin" / "meshkit", "--version"], cwd=venv)
    assert shown.stdout == f"meshkit {__version__} (data path: compiled)\n"
    where = _run(
        [
            venv / "bin" / "python", "-c",
            "import importlib, json, sys\n"
            "print(json.dumps([importlib.import_module(n).__file__ for n in sys.argv[1:]]))",
            *compiled_modules,
        ],
        cwd=venv,
    )  # fmt: skip
    files = json.loads(where.stdout)
    assert [f for f in files if not (f.startswith(str(venv)) and f.endswith(".so"))] == []


def test_the_installed_wheel_documents_its_compiled_classes(venv: Path) -> None:
    # tests/unit/test_docs.py prints every public name's docstring and signature
    script = ROOT / "tests" / "unit" / "test_docs.py"
    installed = _run([venv / "bin" / "python", script], cwd=venv)
    here = _run([sys.executable, script], cwd=venv)
    assert json.loads(installed.stdout) == json.loads(here.stdout)


def test_the_installed_wheel_validates_the_example(venv: Path) -> None:
    example = ROOT / "examples" / "gateway.yaml"
    checked = _run([venv / "bin" / "meshkit", "validate", example], cwd=venv)
    assert "valid" in checked.stdout


async def test_the_installed_gateway_proxies_a_request(
    venv: Path, tmp_path: Path, running: Running
) -> None:
    async with FakeUpstream("u1") as upstream:
        instance = f"{{id: u1, host: 127.0.0.1, port: {upstream.port}}}"
        config = tmp_path / "mesh.yaml"
        config.write_text(
            "listen: {host: 127.0.0.1, port: 0}\n"
            f"services: [{{name: app, instances: [{instance}]}}]\n"
            "routes: [{name: all, match: {prefix: /}, service: app}]\n"
        )
        async with running(venv / "bin" / "meshkit", "run", config, cwd=venv) as process:
            async with asyncio.timeout(20):
                banner = (await process.stdout.readline()).decode()
            started = re.fullmatch(
                rf"meshkit {re.escape(__version__)} gateway listening on 127\.0\.0\.1:(\d+) "
                r"\(.*; data path: compiled[;)].*\n",
                banner,
            )
            assert started is not None, banner
            async with httpx.AsyncClient() as http:
                reply = await http.get(f"http://127.0.0.1:{started[1]}/hello")
    assert (reply.status_code, reply.text) == (200, "u1 GET /hello")


def test_without_a_c_compiler_the_wheel_is_pure_and_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "CC": "/nonexistent/cc"}
    env.pop("MESHKIT_COMPILE", None)
    built = _build(tmp_path, "--wheel", env=env)
    assert built.returncode == 0, f"{built.stdout}\n{built.stderr}"
    assert "no C compiler found: the data path stays pure Python" in built.stdout + built.stderr
    assert [w.name for w in tmp_path.glob("*.whl")] == [f"meshkit-{__version__}-py3-none-any.whl"]


def test_without_a_c_compiler_a_required_compiled_build_fails(tmp_path: Path) -> None:
    env = {**os.environ, "CC": "/nonexistent/cc", "MESHKIT_COMPILE": "1"}
    built = _build(tmp_path, "--wheel", env=env)
    assert built.returncode != 0
    assert "MESHKIT_COMPILE=1 but no C compiler was found" in built.stdout + built.stderr
    assert list(tmp_path.glob("*.whl")) == []
