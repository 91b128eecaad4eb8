from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from meshkit.cli import main
from meshkit.errors import ConfigError
from meshkit.gateway import load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "gateway.yaml"


def test_the_example_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert [s.name for s in config.services] == ["orders", "users"]
    route = config.routes[1].build(1)
    assert route.rewrite_prefix == b"/users"
    assert route.methods == frozenset({b"GET", b"HEAD"})


def test_every_problem_is_named_with_its_key_path_and_line() -> None:
    text = """listen:
  port: 70000
services:
  - name: Bad_Name
    instances:
      - {id: a, host: h, port: 0}
routes:
  - service: x
    match: {prefix: nope, regex: "("}
    rate_limit: {rate: "lots"}
    surprise: 1
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="mesh.yaml")
    message = str(info.value)
    for fragment in (
        "mesh.yaml: ",
        "listen.port (line 2)",
        "services.0.name (line 4)",
        "services.0.instances.0.port (line 6)",
        "routes.0.match.prefix (line 9)",
        "routes.0.match.regex (line 9)",
        "routes.0.rate_limit.rate (line 10)",
        "routes.0.surprise (line 11)",
    ):
        assert fragment in message


def test_routes_must_name_defined_services() -> None:
    with pytest.raises(ConfigError, match="not defined: ghost"):
        parse_config("routes:\n  - {service: ghost}\n")


def test_broken_yaml_names_the_line() -> None:
    with pytest.raises(ConfigError, match=r"not valid YAML \(line 2, column 9\)"):
        parse_config("listen:\n  port: : x\n")


def test_validate_command(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(main, ["validate", str(EXAMPLE)])
    assert good.exit_code == 0
    assert "valid (2 services, 2 routes" in good.output
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text("listen: {port: -1}\n")
    bad = runner.invoke(main, ["validate", str(bad_file)])
    assert bad.exit_code == 2
    assert "listen.port (line 1)" in bad.output
    missing = runner.invoke(main, ["validate", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2
    assert "cannot read" in missing.output
    assert "Traceback" not in bad.output + missing.output


def test_a_route_needs_one_target() -> None:
    with pytest.raises(ConfigError, match="exactly one of service or split"):
        parse_config(
            "services: [{name: a}]\nroutes:\n  - {service: a, split: [{service: a, weight: 1}]}\n"
        )
    with pytest.raises(ConfigError, match="holds CR, LF or NUL"):
        parse_config(
            "services: [{name: a}]\nroutes:\n"
            '  - {service: a, request_headers: {add: {x-a: "b\\r\\nc"}}}\n'
        )
