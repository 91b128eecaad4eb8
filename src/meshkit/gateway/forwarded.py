"""Who the client is, behind trusted proxies: the address per-IP rate limits and hashing use.

The socket peer is the client unless it is one of ``trusted_proxies``; then the client is
the right-most address of ``X-Forwarded-For`` (or, without it, of ``Forwarded``'s ``for=``
parameters, RFC 7239) that is not itself a trusted proxy — each trusted hop appended the
address it saw, and anything left of the first untrusted one may be forged by the client
(as nginx's ``real_ip_recursive on``, Envoy's ``xff_num_trusted_hops``). An unparseable or
empty chain leaves the peer.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["client_address", "forwarded_for"]


def forwarded_for(x_forwarded_for: bytes | None, forwarded: bytes | None) -> list[str]:
    """The addresses a request passed through, oldest first (ports and brackets removed)."""
    if x_forwarded_for:
        return [a for a in (_bare(p) for p in x_forwarded_for.split(b",")) if a]
    if not forwarded:
        return []
    chain = []
    for element in forwarded.split(b","):
        for pair in element.split(b";"):
            name, _, value = pair.strip().partition(b"=")
            if name.lower() == b"for":
                address = _bare(value)
                if address:
                    chain.append(address)
    return chain


def client_address(peer: str, chain: list[str], trusted: Callable[[str], bool]) -> str:
    """The client's address: ``peer`` unless it is trusted, then the right-most untrusted
    address of ``chain`` (the left-most if all are trusted)."""
    if not chain or not trusted(peer):
        return peer
    for address in reversed(chain):
        if not trusted(address):
            return address
    return chain[0]


def _bare(value: bytes) -> str:
    """``192.0.2.1``, ``"[2001:db8::1]:4711"`` or ``198.51.100.7:80`` → the address alone."""
    text = value.strip().strip(b'"').decode("latin-1")
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else ""
    if text.count(":") == 1:  # IPv4 with a port (an IPv6 address has several colons)
        return text.split(":", 1)[0]
    return text
