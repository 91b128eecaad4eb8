"""The error table: one answer per error class, found by type, never raising."""

from __future__ import annotations

import pytest

from meshkit.error_table import ERROR_TABLE, INTERNAL_ERROR, ErrorAnswer, answer_for
from meshkit.errors import (
    BulkheadFull,
    CircuitOpen,
    ConnectFailed,
    NoHealthyEndpoint,
    PolicyRejected,
    RateLimited,
    RetryBudgetExhausted,
    ServiceNotFound,
    TimeoutExceeded,
    UpstreamError,
    UpstreamTimeout,
)


class SlowUpstream(UpstreamTimeout):
    """A subclass the table does not name: its base's row answers for it."""


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (CircuitOpen("open"), 503, "circuit open"),
        (NoHealthyEndpoint("none"), 503, "no healthy endpoint"),
        (ServiceNotFound("who"), 503, "service not registered"),
        (RateLimited("no"), 429, "rate limited"),
        (BulkheadFull("full"), 503, "too many requests in flight"),
        (TimeoutExceeded("late"), 504, "upstream timeout"),
        (UpstreamTimeout("late"), 504, "upstream timeout"),
        (SlowUpstream("late"), 504, "upstream timeout"),
        (TimeoutError(), 504, "upstream timeout"),
        (ConnectFailed("refused"), 502, "bad gateway"),
        (UpstreamError("?"), 502, "bad gateway"),
        (RetryBudgetExhausted("spent"), 503, "refused"),
        (PolicyRejected("no"), 503, "refused"),
        (ValueError("bug"), 500, "internal error"),
        (KeyboardInterrupt(), 500, "internal error"),
    ],
)
def test_each_error_class_gets_its_row(error: BaseException, status: int, message: str) -> None:
    answer = answer_for(error)
    assert (answer.status, answer.message) == (status, message)
    assert answer_for(error) == answer  # the cached lookup agrees with the first


def test_the_lookup_matches_the_first_row_of_the_table() -> None:
    for kind, _, _ in ERROR_TABLE:
        error = kind.__new__(kind)
        first = next((s, m) for k, s, m in ERROR_TABLE if isinstance(error, k))
        answer = answer_for(error)
        assert (answer.status, answer.message) == first


def test_retry_after_travels_with_the_answer() -> None:
    assert answer_for(RateLimited("slow", retry_after=2)) == ErrorAnswer(429, "rate limited", 2.0)
    assert answer_for(CircuitOpen("open")).retry_after is None


def test_unknown_errors_are_a_500_without_retry_after() -> None:
    error = RuntimeError("boom")
    error.retry_after = 5.0  # type: ignore[attr-defined]
    assert answer_for(error) is INTERNAL_ERROR
