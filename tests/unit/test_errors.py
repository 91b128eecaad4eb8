from __future__ import annotations

import pytest

from meshkit import errors


@pytest.mark.parametrize(
    "cls",
    [
        errors.CircuitOpen,
        errors.RateLimited,
        errors.BulkheadFull,
        errors.TimeoutExceeded,
        errors.RetryBudgetExhausted,
    ],
)
def test_rejections_carry_retry_after(cls: type[errors.PolicyRejected]) -> None:
    exc = cls("no", retry_after=1.5, policy="p")
    assert isinstance(exc, errors.PolicyRejected)
    assert isinstance(exc, errors.MeshError)
    assert exc.retry_after == 1.5
    assert exc.policy == "p"


def test_tree_matches_the_docstring() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc, f"{name} is missing from the drawn tree"
    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.NoHealthyEndpoint, errors.UpstreamError)


def test_config_error_names_the_option() -> None:
    exc = errors.ConfigError("rate must be > 0", option="rate")
    assert exc.option == "rate"
