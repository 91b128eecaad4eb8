"""Path normalisation, table-driven (RFC 3986 §5.2.4 and §6.2.2), plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshkit.gateway.paths import normalize_path

CASES = [
    (b"/", b"/"),
    (b"/api/users/1", b"/api/users/1"),
    (b"/file.txt", b"/file.txt"),
    (b"/a/./b", b"/a/b"),
    (b"/a/b/../c", b"/a/c"),
    (b"/orders/../api/users/1", b"/api/users/1"),
    (b"/../../etc/passwd", b"/etc/passwd"),
    (b"/a/b/..", b"/a/"),
    (b"/a/.", b"/a/"),
    (b"/a/..b/.c", b"/a/..b/.c"),  # dots inside a segment are not dot segments
    (b"/%2e%2e/api", b"/api"),  # encoded dots are dots
    (b"/orders/%2E%2E/api/users/1", b"/api/users/1"),
    (b"/%41%62c", b"/Abc"),  # unreserved decoded
    (b"/a%2fb", b"/a%2Fb"),  # a reserved escape stays, its hex uppercased
    (b"/a%20b", b"/a%20b"),
    (b"/a%zzb", b"/a%zzb"),  # not an escape: left alone
    (b"/a%2", b"/a%2"),
    (b"/a//b", b"/a//b"),  # slashes merge only when asked
]


@pytest.mark.parametrize(("raw", "normal"), CASES)
def test_paths_normalise(raw: bytes, normal: bytes) -> None:
    assert normalize_path(raw) == normal


@pytest.mark.parametrize(
    ("raw", "normal"),
    [(b"/a//b", b"/a/b"), (b"//a///b/", b"/a/b/"), (b"/a//..//b", b"/b")],
)
def test_slashes_merge_when_asked(raw: bytes, normal: bytes) -> None:
    assert normalize_path(raw, merge_slashes=True) == normal


def test_a_plain_path_is_returned_as_it_is() -> None:
    path = b"/api/orders/42"
    assert normalize_path(path) is path


paths = st.lists(
    st.sampled_from([b"a", b"b", b".", b"..", b"", b"%2e", b"%41", b"%2F", b"x.y"]), max_size=8
).map(lambda parts: b"/" + b"/".join(parts))


@given(paths)
def test_normalising_is_idempotent_and_leaves_no_dot_segment(path: bytes) -> None:
    once = normalize_path(path)
    assert normalize_path(once) == once
    assert once.startswith(b"/")
    assert b"/./" not in once + b"/"
    assert b"/../" not in once + b"/"
