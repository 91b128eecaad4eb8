"""The gateway's data path runs compiled (mypyc) wherever it can be built, and always in CI."""

from __future__ import annotations

import importlib
import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

HOT_PATH = (
    "meshkit.gateway.server",
    "meshkit.gateway.exchange",
    "meshkit.gateway.upstream",
    "meshkit.gateway.http1",
    "meshkit.client.route",
    "meshkit.balancing.least_request",
    "meshkit.resilience.breaker",
    "meshkit.observability.stats",
)


@pytest.mark.skipif(not IN_CI, reason="outside CI a machine without a C compiler runs pure")
@pytest.mark.parametrize("name", HOT_PATH)
def test_data_path_is_compiled_in_ci(name: str) -> None:
    module = importlib.import_module(name)
    assert str(module.__file__).endswith(".so"), f"{name} runs as pure Python"


def test_connections_do_not_inherit_asyncio_protocol() -> None:
    """A protocol subclassing asyncio.Protocol would compile to a slow non-native class."""
    from meshkit.gateway.server import ClientConnection
    from meshkit.gateway.upstream import UpstreamConnection

    for cls in (ClientConnection, UpstreamConnection):
        assert cls.__mro__ == (cls, object)
