"""``sentinel userscript``: print the browser userscript (for Tampermonkey/Violentmonkey or the console)."""

from __future__ import annotations

from typing import Annotated

import typer

from sentinel.cli._app import app


@app.command()
def userscript(
    console: Annotated[
        bool,
        typer.Option(
            "--console", help="Leave out the ==UserScript== header (for pasting into the DevTools console)."
        ),
    ] = False,
) -> None:
    """Print the keep-alive userscript: no daemon needed, it runs inside your own Colab tab."""
    from sentinel.userscript import script_text

    typer.echo(script_text(header=not console), nl=False)
