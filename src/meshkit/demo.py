"""The ``make demo`` showcase."""

from __future__ import annotations

import click


def run_demo() -> int:
    click.echo("meshkit demo: the resilience showcase lands with the resilience core.")
    return 0
