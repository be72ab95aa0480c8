"""The `sentinel` command line (Typer). Commands live in sibling modules and register here."""

from sentinel.cli._app import app, main

__all__ = ["app", "main"]
