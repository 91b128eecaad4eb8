"""Shared fixtures: a fake clock, an event bus with a recorder, and the real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tomllib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from meshkit._build import stale_compiled_modules
from meshkit.clock import FakeClock
from meshkit.events import EventBus
from meshkit.testing import EventRecorder

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_sessionstart(session: pytest.Session) -> None:
    stale = stale_compiled_modules()
    if stale:
        pytest.exit(
            f"compiled modules are older than their source ({', '.join(stale)}): "
            "run `make unit` (rebuilds them) or `make pure` (drops them)",
            returncode=2,
        )


@pytest.fixture(scope="session")
def compiled_modules() -> list[str]:
    """The modules compiled with mypyc, by name: pyproject.toml's [tool.meshkit.mypyc] list,
    which the Makefile and the wheel's build hook read too."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        paths = tomllib.load(file)["tool"]["meshkit"]["mypyc"]["modules"]
    return [path.removesuffix(".py").replace("/", ".") for path in paths]


# Python code that imports meshkit from its sources only (never a compiled module), then runs
# the module or script named by its first argument as __main__: the pure build, in a process of
# its own, whichever build this checkout has.
_PURE_PRELUDE = """
import importlib.machinery as machinery, pathlib, runpy, sys
source_only = machinery.FileFinder.path_hook((machinery.SourceFileLoader, [".py"]))
def hook(path):
    if "meshkit" not in pathlib.Path(path).parts:
        raise ImportError(path)
    return source_only(path)
sys.path_hooks.insert(0, hook)
sys.path_importer_cache.clear()
target = sys.argv.pop(1)
if target.endswith(".py"):
    sys.argv[0] = target
    runpy.run_path(target, run_name="__main__")
else:
    runpy.run_module(target, run_name="__main__", alter_sys=True)
"""


@pytest.fixture(scope="session")
def pure_python() -> list[str]:
    """A command prefix running a module or a script with meshkit's pure build:
    ``[*pure_python, "meshkit", "--version"]`` is ``python -m meshkit --version`` on the pure
    sources."""
    return [sys.executable, "-c", _PURE_PRELUDE]


Running = Callable[..., contextlib.AbstractAsyncContextManager[asyncio.subprocess.Process]]


@pytest.fixture
def running() -> Running:
    """``async with running(*command, cwd=...) as process``: a long-running command (``meshkit
    run``) with its output piped; leaving the block sends SIGTERM, and it must exit with 0."""

    @contextlib.asynccontextmanager
    async def start(
        *command: str | Path, cwd: Path | None = None
    ) -> AsyncIterator[asyncio.subprocess.Process]:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(20):
                code = await process.wait()
        assert code == 0, f"{command} exited with {code}"

    return start


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def recorder(bus: EventBus) -> EventRecorder:
    return EventRecorder(bus)


async def connect_redis() -> Any:
    """A client of the real Redis at ``REDIS_URL``.

    Unreachable Redis skips the test with the reason, except under ``CI=true`` where it fails:
    CI must prove the distributed features, not quietly skip them.
    """
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # any connection problem means "no Redis here"
        await client.aclose()
        _unreachable(exc)
    return client


def _unreachable(exc: Exception) -> None:
    message = f"Redis at {REDIS_URL} is unreachable: {exc!r}"
    if IN_CI:
        pytest.fail(message + " (CI=true requires it)")
    pytest.skip(message)


@pytest.fixture
def require_redis() -> Callable[[], str]:
    """A check to call where a fixture cannot depend on ``redis_client`` (e.g. only for one
    parameter): it skips (or fails under CI) without Redis and returns ``REDIS_URL``."""

    def check() -> str:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        try:
            client.ping()
        except Exception as exc:
            _unreachable(exc)
        finally:
            client.close()
        return REDIS_URL

    return check


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
async def redis_client() -> AsyncIterator[Any]:
    client = await connect_redis()
    yield client
    await client.aclose()


@pytest.fixture
def redis_namespace() -> Iterator[str]:
    """A key prefix unique to one test, so tests never see each other's keys; whatever the
    test left under it is deleted afterwards."""
    namespace = f"meshkit-test:{uuid.uuid4().hex[:12]}"
    yield namespace
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*"))
        if keys:
            client.delete(*keys)
    except Exception:  # Redis is not there: nothing was left behind
        pass
    finally:
        client.close()
