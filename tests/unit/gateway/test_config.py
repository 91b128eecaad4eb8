from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from meshkit.cli import main
from meshkit.errors import ConfigError
from meshkit.gateway import load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "gateway.yaml"


def problems(text: str | bytes) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="mesh.yaml")
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def test_the_example_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert [s.name for s in config.services] == ["orders", "users"]
    route = config.routes[1].build(1)
    assert route.rewrite_prefix == b"/users"
    assert route.methods == frozenset({b"GET", b"HEAD"})


def test_every_problem_is_on_its_own_line_with_its_key_path_line_and_column() -> None:
    text = """listen:
  port: 70000
services:
  - name: Bad_Name
    instances:
      - {id: a, host: h, port: 0}
routes:
  - name: api
    service: x
    match: {prefix: nope, regex: "("}
    rate_limit: {rate: "lots"}
    surprise: 1
"""
    assert problems(text) == (
        "mesh.yaml:2:3: listen.port: must be less than or equal to 65535; got 70000",
        "mesh.yaml:4:5: services[0].name: must be a DNS label: 1-63 of a-z 0-9 -, "
        "not starting or ending with -; got 'Bad_Name'",
        "mesh.yaml:6:26: services[0].instances[0].port: must be greater than or equal to 1; got 0",
        'mesh.yaml:9:5: routes[0].service: unknown service "x" (services defined: Bad_Name)',
        "mesh.yaml:10:13: routes[0].match.prefix: must start with /; got 'nope'",
        "mesh.yaml:10:27: routes[0].match.regex: invalid regular expression: missing ), "
        "unterminated subpattern at position 0; got '('",
        "mesh.yaml:11:18: routes[0].rate_limit.rate: rate must look like '100/minute', "
        "'10/s' or '5/30s', got 'lots'",
        'mesh.yaml:12:5: routes[0].surprise: unknown key "surprise" (valid keys here: name, '
        "match, service, split, rewrite_prefix, rewrite_host, request_headers, "
        "response_headers, timeout, rate_limit, max_concurrent, max_queued, max_queue_wait, "
        "retry_non_idempotent, filters)",
    )


def test_an_unknown_key_suggests_the_closest_valid_one() -> None:
    (problem,) = problems("servces: []\n")
    assert problem == (
        'mesh.yaml:1:1: servces: unknown key "servces"; did you mean "services"? (valid keys '
        "here: listen, admin, trusted_proxies, workers, limits, services, routes, reload)"
    )


def test_an_unknown_service_is_reported_where_the_route_names_it() -> None:
    text = """services: [{name: orders}, {name: users}]
routes:
  - {name: a, service: orders}
  - name: b
    split: [{service: users, weight: 1}, {service: ordrs, weight: 1}]
"""
    assert problems(text) == (
        'mesh.yaml:5:43: routes[1].split[1].service: unknown service "ordrs"; did you mean '
        '"orders"? (services defined: orders, users)',
    )


def test_route_names_are_required_and_unique_and_service_names_unique() -> None:
    text = """services: [{name: orders}, {name: orders}]
routes:
  - {service: orders}
  - {name: api, service: orders}
  - {name: api, service: orders}
"""
    assert problems(text) == (
        'mesh.yaml:1:29: services[1].name: service name "orders" is already used by '
        "services[0]; service names must be unique (routes and the registry refer to them)",
        "mesh.yaml:3:5: routes[0].name: is required here",
        'mesh.yaml:5:6: routes[2].name: route name "api" is already used by routes[1]; '
        "route names must be unique (they label the route's metrics)",
    )


def test_allowed_values_are_listed_and_no_class_name_leaks() -> None:
    text = """services:
  - {name: a, policy: {algorithm: fastest}, instances: [{id: i, host: h, port: 1, check: 5}]}
routes:
  - {name: r, service: a, rate_limit: 5, match: {methods: GET}}
"""
    found = problems(text)
    assert found == (
        "mesh.yaml:2:24: services[0].policy.algorithm: must be one of: round_robin, "
        "weighted_round_robin, least_request, random, weighted_random, ring_hash, maglev, "
        "p2c_ewma; got 'fastest'",
        "mesh.yaml:2:83: services[0].instances[0].check: must be a mapping (key: value lines); "
        "got 5",
        "mesh.yaml:4:27: routes[0].rate_limit: must be a mapping (key: value lines); got 5",
        "mesh.yaml:4:50: routes[0].match.methods: must be a list (- item lines, or [a, b]); "
        "got 'GET'",
    )
    assert "Config" not in "\n".join(found)


def test_durations_and_sizes_take_units() -> None:
    config = parse_config(
        """limits: {max_body: 10MiB, max_header_line: 16KiB, header_timeout: 250ms}
services: [{name: a, policy: {timeout: 1m}, instances: [{id: i, host: h, port: 1,
            check: {kind: http, interval: 2s}}]}]
routes: [{name: r, service: a, timeout: 2s, max_queue_wait: "1.5s"}]
reload: {settle: 500ms}
"""
    )
    assert config.limits.max_body == 10 * 1024 * 1024
    assert config.limits.max_header_line == 16 * 1024
    assert config.limits.header_timeout == 0.25
    assert config.services[0].policy.timeout == 60.0
    assert config.services[0].instances[0].check.interval == 2.0
    assert (config.routes[0].timeout, config.routes[0].max_queue_wait) == (2.0, 1.5)
    assert config.reload.settle == 0.5
    assert problems("limits: {idle_timeout: 2 parsecs, max_body: 10 megs}\n") == (
        "mesh.yaml:1:10: limits.idle_timeout: must be a number of seconds, or a number with a "
        "unit: 250ms, 2s, 1.5m, 1h; got '2 parsecs'",
        "mesh.yaml:1:35: limits.max_body: must be a number of bytes, or a number with a unit: "
        "512B, 64KiB, 10MiB, 1GiB, 10MB; got '10 megs'",
    )


def test_duplicate_keys_are_refused_where_they_repeat() -> None:
    text = """services:
  - {name: orders}
routes:
  - {name: a, service: orders, timeout: 1, timeout: 2}
services:
  - {name: users}
"""
    assert problems(text) == (
        "mesh.yaml:4:44: routes[0].timeout: duplicate key, already set on line 4; keys must be "
        "unique (the later one would silently replace the earlier)",
        "mesh.yaml:5:1: services: duplicate key, already set on line 1; keys must be unique "
        "(the later one would silently replace the earlier)",
    )
    # A merge key (<<) still lets a mapping override what it merged, as YAML intends.
    config = parse_config(
        "services:\n  - &s {name: a}\n  - {<<: *s, name: b}\nroutes: [{name: r, service: b}]\n"
    )
    assert [s.name for s in config.services] == ["a", "b"]


def test_bytes_that_are_not_utf8_name_their_place() -> None:
    assert problems(b"listen:\n  host: caf\xe9\n") == (
        "mesh.yaml:2:12: not valid UTF-8 (byte 0xe9); save the file as UTF-8",
    )
    assert problems("listen: {host: a\x00}\n") == (
        "mesh.yaml:1:17: control character U+0000 is not allowed in YAML",
    )


def test_an_empty_file_is_refused() -> None:
    for text in ("", "\n", "# nothing yet\n", "---\n"):
        assert problems(text) == (
            "mesh.yaml:1:1: the file is empty; a gateway needs at least services: and routes: "
            "(see examples/gateway.yaml)",
        )


def test_broken_yaml_names_the_line_and_column() -> None:
    assert problems("listen:\n  port: : x\n") == (
        "mesh.yaml:2:9: not valid YAML: mapping values are not allowed here",
    )
    assert problems("- a\n- b\n") == (
        "mesh.yaml:1:1: the top level must be a mapping (key: value lines)",
    )


def test_validate_command(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(main, ["validate", str(EXAMPLE)])
    assert good.exit_code == 0
    assert "valid (2 services, 2 routes" in good.output
    one = tmp_path / "one.yaml"
    one.write_text("services: [{name: a}]\nroutes: [{name: r, service: a}]\n")
    assert "valid (1 service, 1 route, " in runner.invoke(main, ["validate", str(one)]).output
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text("listen: {port: -1}\n")
    bad = runner.invoke(main, ["validate", str(bad_file)])
    assert bad.exit_code == 2
    assert f"{bad_file}:1:10: listen.port: must be greater than or equal to 0" in bad.output
    assert f"{bad_file}: invalid (1 problem); nothing started" in bad.output
    missing = runner.invoke(main, ["validate", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2
    assert "cannot read" in missing.output
    assert "Traceback" not in bad.output + missing.output


def test_a_route_needs_one_target() -> None:
    assert problems(
        "services: [{name: a}]\nroutes: [{name: r, service: a, split: [{service: a, weight: 1}]}]\n"
    ) == ("mesh.yaml:2:10: routes[0]: a route needs exactly one of service or split",)
    with pytest.raises(ConfigError, match="holds CR, LF or NUL"):
        parse_config(
            "services: [{name: a}]\nroutes:\n"
            '  - {name: r, service: a, request_headers: {add: {x-a: "b\\r\\nc"}}}\n'
        )


def test_a_policy_value_its_options_refuse_is_reported_at_its_key() -> None:
    text = """services:
  - name: orders
    policy:
      timeout: 0s
      breaker: {consecutive_failures: 0}
      retry: {per_try_timeout: 1s, budget: {ratio: -1}}
      outlier_detection: {base_ejection_time: 10m, max_ejection_time: 1m}
      bulkhead: {max_concurrent: 0}
    instances:
      - {id: a, host: h, port: 1, check: {kind: tcp, rise: 0}}
routes: [{name: orders, service: orders}]
"""
    assert problems(text) == (
        "mesh.yaml:5:17: services[0].policy.breaker.consecutive_failures: must be >= 1, got 0",
        "mesh.yaml:6:45: services[0].policy.retry.budget.ratio: must be between 0 and 1000, "
        "got -1.0",
        "mesh.yaml:7:27: services[0].policy.outlier_detection.base_ejection_time: "
        "base_ejection_time (600.0) must not exceed max_ejection_time (60.0)",
        "mesh.yaml:8:18: services[0].policy.bulkhead.max_concurrent: must be >= 1, got 0",
        "mesh.yaml:10:54: services[0].instances[0].check.rise: must be >= 1, got 0",
    )


def test_a_policy_switched_on_or_off_and_the_old_max_attempts() -> None:
    text = """services:
  - {name: a, policy: {max_attempts: 3, breaker: false, outlier_detection: false}}
  - {name: b, policy: {breaker: true, outlier_detection: true, timeout: 0s}}
routes: [{name: r, service: a}]
"""
    (problem,) = problems(text)
    assert problem == "mesh.yaml:3:64: services[1].policy.timeout: must be > 0, got 0.0"
    fixed = parse_config(text.replace("timeout: 0s", "timeout: 1s"))
    first, second = (service.policy for service in fixed.services)
    assert (first.max_attempts, first.breaker, second.breaker is not None) == (3, None, True)


def test_a_switchable_section_takes_true_false_or_a_mapping() -> None:
    text = "services: [{name: a, policy: {breaker: yes please}}]\nroutes: [{name: r, service: a}]"
    assert problems(text) == (
        "mesh.yaml:1:31: services[0].policy.breaker: must be true, false or a mapping "
        "(key: value lines); got 'yes please'",
    )
