"""``python -m meshkit``: the ``meshkit`` command, for an environment whose scripts are not on
``PATH``."""

from meshkit.cli import main

main(prog_name="meshkit")
