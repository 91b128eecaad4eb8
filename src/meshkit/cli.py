"""The ``meshkit`` command line."""

from __future__ import annotations

import click

from meshkit import __version__


@click.group()
@click.version_option(__version__, prog_name="meshkit")
def main() -> None:
    """meshkit — a service mesh for Python."""


@main.command()
def demo() -> None:
    """Run the scripted showcase on the embedded default (no outside services)."""
    from meshkit.demo import run_demo

    raise SystemExit(run_demo())
