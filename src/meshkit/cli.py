"""The ``meshkit`` command line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click


def _print_version(context: click.Context, _: click.Parameter, wanted: bool) -> None:
    # Not click's version_option: the line names the build too, which costs an import of the
    # data path, so it is only worked out when asked for.
    if not wanted or context.resilient_parsing:
        return
    from meshkit._build import version_line

    click.echo(version_line())
    context.exit()


if TYPE_CHECKING:
    from meshkit.gateway.config import GatewayConfig
    from meshkit.gateway.settle import FileStamp


@click.group()
@click.option(
    "--version",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_print_version,
    help="Show the version and which build of the data path runs (compiled or pure Python).",
)
def main() -> None:
    """meshkit — a service mesh for Python."""


@main.command()
def demo() -> None:
    """Run the scripted showcase on the embedded default (no outside services)."""
    from meshkit.demo import run_demo

    raise SystemExit(run_demo())


@main.group()
def config() -> None:
    """The gateway config file's format."""


@config.command()
def schema() -> None:
    """Print the JSON Schema of a gateway config file (for editors)."""
    import json

    from meshkit.gateway.config_docs import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


def _load(config: str) -> tuple[GatewayConfig, FileStamp]:
    """The config at ``config`` and the stamp of the bytes it came from, or exit 2 with every
    problem on its own line (``validate`` and ``run`` refuse exactly the same files)."""
    from meshkit.errors import ConfigError
    from meshkit.gateway import Gateway
    from meshkit.gateway.config_load import read_config

    try:
        loaded, stamp = read_config(config)
        # Building the gateway (no socket, no task) runs the checks only construction makes,
        # so that `validate` refuses whatever `run` would before it listens.
        Gateway(loaded)
    except ConfigError as exc:
        for line in exc.problems:
            click.echo(line, err=True)
        count = len(exc.problems)
        click.echo(f"{config}: invalid ({_count(count, 'problem')}); nothing started", err=True)
        raise SystemExit(2) from None
    return loaded, stamp


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
def validate(config: str) -> None:
    """Check a gateway config file; print every problem, start nothing."""
    loaded, _ = _load(config)
    click.echo(
        f"{config}: valid ({_count(len(loaded.services), 'service')}, "
        f"{_count(len(loaded.routes), 'route')}, "
        f"listening on {loaded.listen.host}:{loaded.listen.port})"
    )


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--drain", default=10.0, show_default=True, help="Seconds to finish requests on stop."
)
def run(config: str, drain: float) -> None:
    """Run the gateway described by CONFIG until SIGINT or SIGTERM."""
    from meshkit.gateway.run import serve

    loaded, running = _load(config)
    raise SystemExit(serve(loaded, drain=drain, path=config, running=running))
