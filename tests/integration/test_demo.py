"""`make demo` runs the showcase: every scene prints its tables and the command exits 0."""

from __future__ import annotations

from click.testing import CliRunner

from meshkit.cli import main


def test_demo_runs_every_scene_and_exits_zero() -> None:
    result = CliRunner().invoke(main, ["demo"])

    assert result.exit_code == 0, result.output
    for title in ("Circuit breaker", "Retry budget", "Rate limit: a burst", "Rate limit per user"):
        assert title in result.output
    assert "Traceback" not in result.output
    # the breaker opened on the outage and closed again once the service healed
    assert "closed -> open" in result.output
    assert "half_open -> closed" in result.output
    # plain retries tripled the load of an outage; the budget held it to 1.25x
    assert "3.00x" in result.output
    assert "1.25x" in result.output
    # the mesh scene: a stopped instance turned critical and came back
    assert "Service mesh: orders-2 stops" in result.output
    assert "passing -> critical" in result.output
    assert "critical -> passing" in result.output
    # the gateway scene: real traffic through the proxy, refusals from its error table
    assert "Gateway: two upstreams behind routes" in result.output
    assert "CL + TE smuggling try     400" in result.output
    assert "Gateway metrics" in result.output
