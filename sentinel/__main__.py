"""``python -m sentinel`` runs the CLI."""

from sentinel.cli import main

main()
