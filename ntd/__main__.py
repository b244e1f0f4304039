"""`python -m ntd` is the `ntd` command."""

from ntd.cli import main

main()
