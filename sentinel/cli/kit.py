"""``sentinel kit``: the notebook kit as a single file to keep on Google Drive."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sentinel.cli._app import app as _root
from sentinel.errors import UsageError

app = typer.Typer(
    no_args_is_help=True,
    help="The notebook kit (sentinel.notebook) that runs inside the Colab kernel.",
)
_root.add_typer(app, name="kit")


@app.command("export")
def export(
    directory: Annotated[
        Path, typer.Argument(help="Existing folder to write sentinel_kit.py into, e.g. one synced to Drive.")
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a sentinel_kit.py that differs from this version's.")
    ] = False,
) -> None:
    """Write sentinel_kit.py, the kit as one file: `import sentinel_kit` works from that folder.

    It is generated from the installed package, so it always matches this version of sentinel.
    """
    from sentinel.notebook._export import KIT_FILE_NAME, KitExportError, build_kit_source, export_kit

    existing = directory.expanduser() / KIT_FILE_NAME
    if existing.is_file() and not force:
        try:
            same = existing.read_text(encoding="utf-8") == build_kit_source()
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            raise UsageError(f"kit export: {existing} exists and differs; pass --force to replace it")
    try:
        target = export_kit(directory)
    except KitExportError as exc:
        raise UsageError(f"kit export: {exc}") from exc
    typer.echo(f"Wrote {target}")
    typer.echo(f"In a notebook: import sys; sys.path.insert(0, {str(target.parent)!r}); import sentinel_kit")
