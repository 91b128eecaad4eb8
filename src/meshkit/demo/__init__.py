"""The ``make demo`` showcase: scripted scenes printed as tables."""

from __future__ import annotations

import click

__all__ = ["run_demo"]


def run_demo() -> int:
    click.echo("meshkit demo: the resilience showcase lands with the resilience core.")
    return 0
