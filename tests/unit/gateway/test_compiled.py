"""The gateway's data path runs compiled (mypyc) wherever it can be built, and always in CI."""

from __future__ import annotations

import importlib
import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.mark.skipif(not IN_CI, reason="outside CI a machine without a C compiler runs pure")
def test_data_path_is_compiled_in_ci(compiled_modules: list[str]) -> None:
    pure = [
        name
        for name in compiled_modules
        if not str(importlib.import_module(name).__file__).endswith(".so")
    ]
    assert pure == [], "these run as pure Python"


def test_connections_do_not_inherit_asyncio_protocol() -> None:
    """A protocol subclassing asyncio.Protocol would compile to a slow non-native class."""
    from meshkit.gateway.connection import ClientConnection
    from meshkit.gateway.upstream import UpstreamConnection

    for cls in (ClientConnection, UpstreamConnection):
        assert cls.__mro__ == (cls, object)
