"""The client's address behind trusted proxies, table-driven."""

from __future__ import annotations

import ipaddress

import pytest

from meshkit.gateway.forwarded import client_address, forwarded_for

PROXIES = [ipaddress.ip_network("10.0.0.0/8")]


def trusted(address: str) -> bool:
    try:
        return any(ipaddress.ip_address(address) in net for net in PROXIES)
    except ValueError:
        return False


@pytest.mark.parametrize(
    ("xff", "forwarded", "chain"),
    [
        (b"203.0.113.7", None, ["203.0.113.7"]),
        (b"1.2.3.4, 203.0.113.7 ,10.0.0.2", None, ["1.2.3.4", "203.0.113.7", "10.0.0.2"]),
        (b"198.51.100.7:8080", None, ["198.51.100.7"]),
        (
            None,
            b'for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"',
            ["192.0.2.60", "2001:db8::1"],
        ),
        (None, b"For=192.0.2.43", ["192.0.2.43"]),
        (b"", None, []),
        (None, None, []),
    ],
)
def test_forwarded_chains_parse(
    xff: bytes | None, forwarded: bytes | None, chain: list[str]
) -> None:
    assert forwarded_for(xff, forwarded) == chain


@pytest.mark.parametrize(
    ("peer", "chain", "client"),
    [
        ("203.0.113.9", ["1.1.1.1"], "203.0.113.9"),  # an untrusted peer's header is ignored
        ("10.0.0.1", ["1.1.1.1", "203.0.113.7"], "203.0.113.7"),  # right-most untrusted
        ("10.0.0.1", ["203.0.113.7", "10.0.0.2"], "203.0.113.7"),  # past trusted hops
        ("10.0.0.1", ["10.0.0.3", "10.0.0.2"], "10.0.0.3"),  # all trusted: the first
        ("10.0.0.1", [], "10.0.0.1"),
    ],
)
def test_the_client_is_the_right_most_untrusted_address(
    peer: str, chain: list[str], client: str
) -> None:
    assert client_address(peer, chain, trusted) == client
