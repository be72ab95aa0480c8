"""The Typer app, global options and the one place where errors become exit codes."""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich")


def main() -> None:
    app()
