"""An upstream's response head, sorted as it arrives into lines to relay and fields to act on.

llhttp hands over each header field once it has validated it (no obs-fold, bare LF,
whitespace before a colon, or second length gets this far). :func:`watched_name` picks out
the fields the gateway acts on itself — framing, ``Connection``, ``Retry-After`` and the
other hop-by-hop fields — and every other field goes straight into the list of bytes that is
relayed to the client: no lowercasing, no formatting per field. Common spellings are found
by one dictionary lookup; only a name of a watched field's length is lowercased to be sure.
The ``(name, value)`` list is built only when something needs it: a response filter, a route
editing response headers, a tunnel, or a ``Connection`` header naming other fields.
(On the compiled data path a method call per field, a substring test or a regular
expression over the head each cost more than this whole sorting.)
"""

from __future__ import annotations

from typing import Final

from meshkit.gateway.http1 import (
    CONNECTION_OPTIONS,
    HOP_BY_HOP,
    connection_tokens,
    frame_head,
    status_line,
)

__all__ = ["ResponseHead", "watched_name"]

_WATCHED: Final = HOP_BY_HOP | {b"content-length", b"retry-after"}
_SPELLINGS: Final = {
    spelling: name
    for name in _WATCHED
    for spelling in (name, name.title(), name.upper(), name.capitalize())
}
_LENGTHS: Final = frozenset(len(name) for name in _WATCHED)
# the values nearly every upstream sends, known to name no other field
_PLAIN_CONNECTION: Final = frozenset(
    spelling for option in CONNECTION_OPTIONS for spelling in (option, option.title())
)


def watched_name(name: bytes) -> bytes | None:
    """The lowercase name if the gateway acts on field ``name`` itself, else ``None``."""
    if len(name) not in _LENGTHS:  # most fields: an int lookup, the name is not even hashed
        return None
    watched = _SPELLINGS.get(name)
    if watched is None:
        lower = name.lower()
        if lower in _WATCHED:
            return lower
    return watched


class ResponseHead:
    """One response head from an upstream: its status, its end-to-end lines ready to relay
    (``kept``: name, ``": "``, value, CRLF, per field), and what the watched fields say."""

    __slots__ = (
        "_fields",
        "chunked",
        "content_length",
        "keep_alive",
        "kept",
        "names_fields",
        "retry_after",
        "status",
        "watched",
    )

    def __init__(
        self,
        status: int,
        kept: list[bytes],
        watched: list[tuple[bytes, bytes]],
        keep_alive: bool,
    ) -> None:
        self.status = status
        self.kept = kept
        # (lowercase name, value) of the fields the gateway acts on; all are hop-by-hop but
        # Retry-After, which is in ``kept`` too
        self.watched = watched
        self.keep_alive = keep_alive
        self.content_length: int | None = None
        self.chunked = False
        self.retry_after: bytes | None = None
        self.names_fields = False  # Connection names further hop-by-hop fields
        self._fields: list[tuple[bytes, bytes]] | None = None
        for name, value in watched:
            if name == b"content-length":
                self.content_length = int(value)
            elif name == b"connection" and value not in _PLAIN_CONNECTION:
                named = connection_tokens(value) - CONNECTION_OPTIONS
                self.names_fields = self.names_fields or bool(named)
            elif name == b"transfer-encoding":
                self.chunked = True
            elif name == b"retry-after":
                self.retry_after = value

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """Every field as ``(lowercase name, value)``, built on first use (the watched ones
        after the rest: only the order among fields of one name carries meaning)."""
        if self._fields is None:
            kept = self.kept
            fields = [(kept[i].lower(), kept[i + 2]) for i in range(0, len(kept), 4)]
            self._fields = fields + [f for f in self.watched if f[0] != b"retry-after"]
        return self._fields

    def relayed(
        self,
        extra: bytes,
        *,
        content_length: int | None,
        keep_alive: bool,
        no_body: bool,
        close_delimited: bool,
    ) -> bytes | None:
        """The head for the client: the end-to-end lines as received, ``extra`` lines, the
        gateway's framing. ``None`` when ``Connection`` names other fields to drop: build it
        from :attr:`headers` then."""
        if self.names_fields:
            return None
        parts = [status_line(self.status)]
        parts += self.kept
        parts.append(extra)
        return frame_head(
            parts,
            content_length=content_length,
            keep_alive=keep_alive,
            no_body=no_body,
            close_delimited=close_delimited,
        )
