"""`python -m tutela.cli`: the same CLI as the `tutela` script (used by tests that start processes)."""

from tutela.cli import main

main()
