"""Request ids and W3C trace context: unique, well-formed, continuing a valid trace."""

from __future__ import annotations

import random
import re

import pytest

from meshkit.gateway.identity import Identities

TRACEPARENT = re.compile(rb"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
INCOMING = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_request_ids_are_unique_and_distinct_per_process() -> None:
    first, second = Identities(random.Random(1)), Identities(random.Random(2))
    ids = {first.request_id(first.serial()) for _ in range(1000)}
    ids |= {second.request_id(second.serial()) for _ in range(1000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(rb"[0-9a-f]{24}", i) for i in ids)


def test_a_valid_incoming_trace_continues_with_a_new_span() -> None:
    identities = Identities(random.Random(3))
    hops = [identities.traceparent(INCOMING, identities.serial()) for _ in range(3)]
    for hop in hops:
        match = TRACEPARENT.fullmatch(hop)
        assert match is not None
        assert match.group(1) == b"4bf92f3577b34da6a3ce929d0e0e4736"
        assert match.group(3) == b"01"  # the caller's sampling decision stands
    assert len({TRACEPARENT.fullmatch(h).group(2) for h in hops}) == 3  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "incoming",
    [
        None,
        b"",
        b"garbage",
        b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
        b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero parent
        b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # uppercase
    ],
)
def test_anything_else_starts_a_new_unsampled_trace(incoming: bytes | None) -> None:
    identities = Identities(random.Random(4))
    first = identities.traceparent(incoming, identities.serial())
    second = identities.traceparent(incoming, identities.serial())
    for value in (first, second):
        match = TRACEPARENT.fullmatch(value)
        assert match is not None
        assert match.group(3) == b"00"
        assert match.group(1) != b"0" * 32
    assert first != second
