"""``sentinel notify-test``: send a test message to every configured notification URL."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Annotated

import typer

from sentinel.cli._app import app, settings_from
from sentinel.errors import UsageError
from sentinel.log import configure_logging

EXIT_DELIVERY_FAILED = 1


@app.command("notify-test")
def notify_test(
    ctx: typer.Context,
    notify: Annotated[
        list[str] | None,
        typer.Option(
            "--notify",
            metavar="URL",
            help="apprise URL (repeatable), e.g. ntfy://topic or json://host/path. "
            "[default: the notify setting]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Send a test notification to every URL and report each one; exit 1 if any delivery failed."""
    settings = settings_from(ctx, notify=notify or None)
    if not settings.notify:
        raise UsageError(
            "no notification URL: pass --notify URL (repeatable), or set notify in the config file "
            "or SENTINEL_NOTIFY (a JSON list)"
        )
    from sentinel.notify import Level, Notifier

    notifier = Notifier.from_settings(settings)
    if settings.log_level != "debug":
        # The report below says how each delivery went; log lines would only repeat it on stderr,
        # where a failure gets one line.
        configure_logging(settings.log_format, "error")
        logging.getLogger("apprise").propagate = False
    body = (
        f"A test from sentinel on {socket.gethostname()} (pid {os.getpid()}). "
        "If you can read this, sentinel can reach you when a notebook needs a human."
    )
    deliveries = asyncio.run(notifier.send("sentinel: test notification", body, level=Level.INFO))
    for delivery in deliveries:
        if delivery.ok:
            typer.echo(f"ok      {delivery.url}")
        else:
            typer.echo(f"FAILED  {delivery.url}: {delivery.error}")
    failed = sum(not d.ok for d in deliveries)
    if failed:
        typer.echo(f"sentinel: error: {failed} of {len(deliveries)} notifications failed", err=True)
        raise typer.Exit(EXIT_DELIVERY_FAILED)
