from __future__ import annotations

import pytest

from meshkit.errors import ConfigError, InvalidRegistration
from meshkit.registry import Instance, Service, parse_instance, parse_service


def test_every_bad_field_is_listed_at_once() -> None:
    with pytest.raises(InvalidRegistration) as info:
        parse_instance(
            {
                "id": "has space",
                "service": "Orders",
                "host": "bad_host!",
                "port": 0,
                "weight": 10_001,
                "surprise": True,
            }
        )
    fields = [problem.split(":")[0] for problem in info.value.problems]
    assert fields == ["id", "service", "host", "port", "weight", "surprise"]
    assert "DNS label" in str(info.value)
    assert isinstance(info.value, ConfigError)


@pytest.mark.parametrize("host", ["10.0.0.1", "::1", "orders.internal", "localhost", "a-b.c"])
def test_hosts_may_be_addresses_or_names(host: str) -> None:
    assert parse_instance({"id": "i", "service": "s", "host": host, "port": 80}).host == host


@pytest.mark.parametrize("host", ["-x", "a..b", "x" * 64, "sp ace", ""])
def test_bad_hosts_are_refused(host: str) -> None:
    with pytest.raises(InvalidRegistration, match="host"):
        parse_instance({"id": "i", "service": "s", "host": host, "port": 80})


def test_metadata_is_bounded() -> None:
    with pytest.raises(InvalidRegistration, match="metadata"):
        parse_service({"name": "s", "metadata": {f"k{i}": "v" for i in range(65)}})
    with pytest.raises(InvalidRegistration, match="metadata"):
        parse_service({"name": "s", "metadata": {"k": "v" * 513}})
    with pytest.raises(InvalidRegistration, match="dependencies"):
        parse_service({"name": "s", "dependencies": ["a", "a"]})
    with pytest.raises(InvalidRegistration, match="expected a mapping"):
        parse_service(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_records_are_frozen_values() -> None:
    one = Instance(id="i1", service="orders", host="::1", port=8080)
    assert one == parse_instance(one.model_dump())
    assert one.address == "[::1]:8080"
    assert one.url == "http://[::1]:8080"
    with pytest.raises(ValueError, match="frozen"):
        one.port = 1  # type: ignore[misc]
    assert Service(name="orders").policy.algorithm == "p2c_ewma"
