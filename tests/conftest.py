"""Shared fixtures: a fake clock, an event bus with a recorder, and the real Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from meshkit.clock import FakeClock
from meshkit.events import EventBus
from meshkit.testing import EventRecorder

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def recorder(bus: EventBus) -> EventRecorder:
    return EventRecorder(bus)


@pytest.fixture
async def redis_client() -> AsyncIterator[object]:
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
        message = f"Redis at {REDIS_URL} is unreachable: {exc!r}"
        if IN_CI:
            pytest.fail(message + " (CI=true requires it)")
        pytest.skip(message)
    yield client
    await client.aclose()


@pytest.fixture
def redis_namespace() -> str:
    """A key prefix unique to one test, so tests never see each other's keys."""
    return f"meshkit-test:{uuid.uuid4().hex[:12]}"
