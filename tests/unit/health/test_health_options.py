"""Options and targets refuse bad values at construction, naming the option."""

from __future__ import annotations

from typing import Any

import pytest

from meshkit.errors import ConfigError
from meshkit.health import CheckOptions, CheckTarget, HealthStatus, HttpCheckOptions


def test_check_options_defaults_are_sane() -> None:
    options = CheckOptions()
    assert options.timeout <= options.interval
    assert (options.rise, options.fall) == (2, 3)
    assert options.initial_status is HealthStatus.UNKNOWN


@pytest.mark.parametrize(
    ("option", "kwargs"),
    [
        ("interval", {"interval": 0}),
        ("interval", {"interval": float("nan")}),
        ("jitter", {"jitter": -0.1}),
        ("jitter", {"jitter": 1.5}),
        ("timeout", {"timeout": 0}),
        ("timeout", {"interval": 1.0, "timeout": 2.0}),
        ("rise", {"rise": 0}),
        ("rise", {"rise": 1.5}),
        ("fall", {"fall": 0}),
        ("fall", {"fall": True}),
        ("deregister_critical_after", {"deregister_critical_after": 0}),
        ("initial_status", {"initial_status": "passing"}),
    ],
)
def test_check_options_reject(option: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=option) as info:
        CheckOptions(**kwargs)
    assert info.value.option == option


@pytest.mark.parametrize(
    ("option", "kwargs"),
    [
        ("path", {"path": "health"}),
        ("path", {"path": "/a b"}),
        ("path", {"path": "/a\r\nX-Evil: 1"}),
        ("method", {"method": "POST"}),
        ("expected_statuses", {"expected_statuses": ()}),
        ("expected_statuses", {"expected_statuses": (200, 700)}),
        ("body_contains", {"method": "HEAD", "body_contains": "ok"}),
        ("body_pattern", {"body_pattern": "(unclosed"}),
        ("host_header", {"host_header": "a\nb"}),
        ("headers", {"headers": (("X-A", "1\r\n"),)}),
        ("headers", {"headers": (("bad name", "1"),)}),
        ("max_body_bytes", {"max_body_bytes": 0}),
    ],
)
def test_http_options_reject(option: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        HttpCheckOptions(**kwargs)
    assert info.value.option == option


def test_http_options_accept_any_collection_of_statuses() -> None:
    assert 204 in HttpCheckOptions(expected_statuses={200, 204}).expected_statuses
    assert 399 in HttpCheckOptions().expected_statuses
    assert 400 not in HttpCheckOptions().expected_statuses


@pytest.mark.parametrize(
    ("option", "kwargs"),
    [
        ("instance_id", {"instance_id": ""}),
        ("host", {"host": ""}),
        ("port", {"port": 0}),
        ("port", {"port": 70000}),
        ("port", {"port": "80"}),
    ],
)
def test_target_rejects(option: str, kwargs: dict[str, Any]) -> None:
    values: dict[str, Any] = {"instance_id": "a", "host": "127.0.0.1", "port": 80, **kwargs}
    with pytest.raises(ConfigError) as info:
        CheckTarget(**values)
    assert info.value.option == option


def test_target_authority_brackets_ipv6() -> None:
    assert CheckTarget(instance_id="a", host="::1", port=8080).authority == "[::1]:8080"
    target = CheckTarget(instance_id="a", host="10.0.0.1", port=80, scheme="https")
    assert target.authority == "10.0.0.1:80"
    assert str(target) == "a@https://10.0.0.1:80"
