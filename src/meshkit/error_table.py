"""The one table that turns an error into a local answer: status, message, ``Retry-After``.

Every face answers a failure it produced itself (an open breaker, a full bulkhead, a timeout,
an unreachable upstream) from this table, so a client sees the same status for the same cause
whichever face it talked to. Rows are tried in order and the first whose type matches wins
(``UpstreamTimeout`` before its base ``UpstreamError``); anything unmatched is a 500 "internal
error" — never a traceback.

Looking up runs on the request path without raising and without walking the table: the row is
found once per exception *type* (``issubclass`` down the table, the same first-match rule) and
kept in a dict keyed by that type, so each later lookup is one dict read. The cache grows with
the number of distinct exception types seen, which a program's code bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshkit.errors import (
    BulkheadFull,
    CircuitOpen,
    NoHealthyEndpoint,
    PolicyRejected,
    RateLimited,
    ServiceNotFound,
    TimeoutExceeded,
    UpstreamError,
    UpstreamTimeout,
)

__all__ = ["ERROR_TABLE", "INTERNAL_ERROR", "ErrorAnswer", "answer_for"]


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """What to answer for an error: the HTTP ``status``, a short ``message`` for the body,
    and the ``retry_after`` seconds the error carries (``None``: no ``Retry-After``)."""

    status: int
    message: str
    retry_after: float | None = None


ERROR_TABLE: tuple[tuple[type[BaseException], int, str], ...] = (
    (CircuitOpen, 503, "circuit open"),
    (NoHealthyEndpoint, 503, "no healthy endpoint"),
    (ServiceNotFound, 503, "service not registered"),
    (RateLimited, 429, "rate limited"),
    (BulkheadFull, 503, "too many requests in flight"),
    (TimeoutExceeded, 504, "upstream timeout"),
    (UpstreamTimeout, 504, "upstream timeout"),
    (TimeoutError, 504, "upstream timeout"),
    (UpstreamError, 502, "bad gateway"),
    (PolicyRejected, 503, "refused"),
)
"""Exception type → (status, message), first match wins; anything else is a 500."""

INTERNAL_ERROR = ErrorAnswer(500, "internal error")
"""The answer for an error no row matches (the caller may want to log those: a bug)."""

_ANSWERS: dict[type[BaseException], ErrorAnswer] = {}


def _row_for(kind: type[BaseException]) -> ErrorAnswer:
    for row_type, status, message in ERROR_TABLE:
        if issubclass(kind, row_type):
            return ErrorAnswer(status, message)
    return INTERNAL_ERROR


def answer_for(error: BaseException) -> ErrorAnswer:
    """The answer for ``error`` (never raises; unknown errors get :data:`INTERNAL_ERROR`)."""
    kind = type(error)
    answer = _ANSWERS.get(kind)
    if answer is None:
        answer = _ANSWERS[kind] = _row_for(kind)
    if answer is INTERNAL_ERROR:
        return answer  # a 500 promises nothing about when to come back
    wait = getattr(error, "retry_after", None)
    if wait is None or isinstance(wait, bool) or not isinstance(wait, int | float) or wait < 0:
        return answer  # the shared row: no allocation on the common path
    return ErrorAnswer(answer.status, answer.message, float(wait))
