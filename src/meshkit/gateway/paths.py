"""Request paths normalised before routing, so that one resource has one spelling.

Without it, ``/orders/../api/users/1`` matches a route for ``/orders`` and goes upstream
verbatim, where the upstream resolves it to ``/api/users/1``: a filter or limit guarding
``/api`` is walked around. As Envoy's ``normalize_path`` (and nginx, which always does):

1. percent-encoded *unreserved* characters are decoded (``%41`` → ``A``, ``%2E`` → ``.``;
   RFC 3986 §6.2.2.2), and the hex digits of the other escapes are uppercased — reserved
   characters stay encoded (``%2F`` is not a slash: decoding it would change the path's
   segments);
2. dot segments are removed (RFC 3986 §5.2.4: ``/a/./b`` → ``/a/b``, ``/a/b/../c`` →
   ``/a/c``, above the root stays at the root);
3. with ``merge_slashes``, runs of slashes become one (nginx's default; Envoy's option).

The normalised path is what routes match *and* what is sent upstream. A path that needs
nothing (no ``%``, no dot segment, no double slash) is returned as it is, after two byte
scans.
"""

from __future__ import annotations

from typing import Final

__all__ = ["normalize_path"]

_UNRESERVED: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")
# (integers: bytes.__contains__ takes them straight to memchr; a bytes operand would first be
# tried as an integer and fail, building and clearing an exception)
_PERCENT: Final = 37  # ord("%")
_DOT: Final = 46  # ord(".")


def normalize_path(path: bytes, *, merge_slashes: bool = False) -> bytes:
    """``path`` (origin-form, without the query) in its one normal spelling."""
    escaped = _PERCENT in path
    dotted = _DOT in path and (path.find(b"/.") >= 0)
    doubled = merge_slashes and path.find(b"//") >= 0
    if not (escaped or dotted or doubled):
        return path
    if escaped:
        path = _decode_unreserved(path)
    if merge_slashes:
        while path.find(b"//") >= 0:
            path = path.replace(b"//", b"/")
    return _remove_dot_segments(path)


def _decode_unreserved(path: bytes) -> bytes:
    out = bytearray()
    i, size = 0, len(path)
    while i < size:
        byte = path[i]
        if byte == _PERCENT and _is_hex(path, i + 1):
            value = int(path[i + 1 : i + 3], 16)
            if value in _UNRESERVED:
                out.append(value)
            else:
                out += b"%" + path[i + 1 : i + 3].upper()
            i += 3
            continue
        out.append(byte)
        i += 1
    return bytes(out)


def _is_hex(path: bytes, at: int) -> bool:
    return at + 1 < len(path) and path[at] in _HEX and path[at + 1] in _HEX


def _remove_dot_segments(path: bytes) -> bytes:
    """RFC 3986 §5.2.4 on an absolute path, segment by segment."""
    segments = path.split(b"/")[1:]  # (the path starts with "/")
    kept: list[bytes] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == b".":
            if last:
                kept.append(b"")  # "/a/." is the directory "/a/"
        elif segment == b"..":
            if kept:
                kept.pop()
            if last:
                kept.append(b"")
        else:
            kept.append(segment)
    return b"/" + b"/".join(kept)
