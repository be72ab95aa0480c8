"""``sentinel emulator``: serve the local Colab stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sentinel.cli._app import app, settings_from


@app.command()
def emulator(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to bind. [default: 127.0.0.1]", show_default=False)
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (0 picks a free one). [default: 8765]", show_default=False)
    ] = None,
    notebooks: Annotated[
        Path | None,
        typer.Option(help="Folder of .ipynb files. [default: the bundled samples]", show_default=False),
    ] = None,
    drive_dir: Annotated[
        Path | None,
        typer.Option(help="Folder that plays Google Drive. [default: a temp folder]", show_default=False),
    ] = None,
    idle_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds without input before Colab disconnects. [default: 5400]", show_default=False
        ),
    ] = None,
    max_lifetime: Annotated[
        float | None,
        typer.Option(help="Seconds a runtime lives at most. [default: 43200]", show_default=False),
    ] = None,
    allocation_delay: Annotated[
        float | None, typer.Option(help="Seconds 'Connecting' lasts. [default: 1.5]", show_default=False)
    ] = None,
) -> None:
    """Serve notebook pages that reproduce Colab's DOM, dialogs and runtime lifecycle."""
    settings = settings_from(
        ctx,
        emulator={
            "host": host,
            "port": port,
            "notebooks": notebooks,
            "drive_dir": drive_dir,
            "idle_timeout": idle_timeout,
            "max_lifetime": max_lifetime,
            "allocation_delay": allocation_delay,
        },
    )
    from sentinel.emulator import serve

    serve(settings.emulator)
