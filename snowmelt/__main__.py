"""``python -m snowmelt``: the same CLI as the ``snowmelt`` command."""

from snowmelt.cli import main

main(prog_name="snowmelt")
