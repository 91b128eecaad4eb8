"""The ``meshkit`` command line."""

from __future__ import annotations

import click


def _print_version(context: click.Context, _: click.Parameter, wanted: bool) -> None:
    # Not click's version_option: the line names the build too, which costs an import of the
    # data path, so it is only worked out when asked for.
    if not wanted or context.resilient_parsing:
        return
    from meshkit._build import version_line

    click.echo(version_line())
    context.exit()


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


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
def validate(config: str) -> None:
    """Check a gateway config file; print every problem, start nothing."""
    from meshkit.errors import ConfigError
    from meshkit.gateway import load_config

    try:
        loaded = load_config(config)
    except ConfigError as exc:
        click.echo(f"invalid: {exc}", err=True)
        raise SystemExit(2) from None
    click.echo(
        f"{config}: valid ({len(loaded.services)} services, {len(loaded.routes)} routes, "
        f"listening on {loaded.listen.host}:{loaded.listen.port})"
    )


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--drain", default=10.0, show_default=True, help="Seconds to finish requests on stop."
)
def run(config: str, drain: float) -> None:
    """Run the gateway described by CONFIG until SIGINT or SIGTERM."""
    from meshkit.errors import ConfigError
    from meshkit.gateway import load_config
    from meshkit.gateway.run import serve

    try:
        loaded = load_config(config)
    except ConfigError as exc:
        click.echo(f"invalid: {exc}", err=True)
        raise SystemExit(2) from None
    raise SystemExit(serve(loaded, drain=drain, path=config))
