"""``sentinel status``: ask a running daemon what it is doing and print it as a table (or JSON).

Exit codes: 0 when the daemon answered; 1 when no sentinel daemon answers at the address (nothing
listens, it timed out, or something else answered), so scripts can tell "down" from bad flags (2).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from sentinel.cli._app import app, settings_from
from sentinel.errors import UsageError

EXIT_NOT_RUNNING = 1

# A daemon bound to every interface is reached through loopback.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - mapped away, never bound.

_STATE_STYLES = {
    "connected": "green",
    "blocked": "bold red",
    "error": "bold red",
    "disconnected": "yellow",
    "unreachable": "yellow",
    "reconnecting": "yellow",
    "resuming": "cyan",
}


class _NotRunningError(Exception):
    """No sentinel daemon answers at the address; the message says what happened instead."""


@app.command()
def status(
    ctx: typer.Context,
    status_addr: Annotated[
        str | None,
        typer.Option(
            "--status-addr",
            metavar="HOST:PORT",
            help="Where the daemon serves its status. [default: the status_addr setting, 127.0.0.1:8731]",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the daemon's /status JSON as it came.")
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the daemon's answer.", min=0.1, max=300)
    ] = 5.0,
) -> None:
    """Show each notebook's state, counters and progress. Exit 1 when no daemon answers."""
    settings = settings_from(ctx, status_addr=status_addr)
    if settings.status_port == 0:
        raise UsageError(
            f"status address {settings.status_addr} has port 0; pass the port the daemon got with --status-addr"
        )
    host = _WILDCARDS.get(settings.status_host, settings.status_host)
    base = (
        f"http://[{host}]:{settings.status_port}" if ":" in host else f"http://{host}:{settings.status_port}"
    )
    try:
        token = settings.status_token.get_secret_value() if settings.status_token is not None else None
        raw, document = asyncio.run(_fetch(f"{base}/status", timeout, token))
    except _NotRunningError as exc:
        typer.echo(f"sentinel: error: {exc}", err=True)
        raise typer.Exit(EXIT_NOT_RUNNING) from None
    if as_json:
        typer.echo(raw)
    else:
        _print_table(document, base)


async def _fetch(url: str, wait: float, token: str | None = None) -> tuple[str, dict[str, Any]]:
    import aiohttp

    where = url.removesuffix("/status")
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=wait)) as session,
            session.get(url, headers={"Authorization": f"Bearer {token}"} if token else None) as response,
        ):
            raw = await response.text()
            http_status = response.status
    except aiohttp.ClientConnectionError:
        raise _NotRunningError(
            f"no sentinel daemon answers at {where} (is `sentinel run` running? its address is --status-addr)"
        ) from None
    except TimeoutError:
        raise _NotRunningError(f"the daemon at {where} did not answer within {wait:g} s") from None
    if http_status == 401:
        raise _NotRunningError(
            f"the daemon at {where} asks for its status token: set SENTINEL_STATUS_TOKEN to the daemon's"
        )
    document = _parse(raw)
    if http_status == 500 and document is not None and "error" in document:
        raise _NotRunningError(f"the daemon at {where} answered: {document['error']}")
    if http_status != 200 or document is None or not isinstance(document.get("notebooks"), list):
        raise _NotRunningError(
            f"something answers at {where} (HTTP {http_status}), but not a sentinel daemon"
        )
    return raw, document


def _parse(raw: str) -> dict[str, Any] | None:
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _print_table(document: dict[str, Any], base: str) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from sentinel.alerts import notebook_name

    now = datetime.now(UTC)
    notebooks: list[dict[str, Any]] = document["notebooks"]
    up = _ago(document.get("started_at"), now, suffix="")
    table = Table(
        title=(
            f"sentinel {document.get('version', '?')} at {base}: up {up}, "
            f"{len(notebooks)} notebook{'s' if len(notebooks) != 1 else ''}, "
            f"browser restarts {document.get('browser_restarts', 0)}"
        ),
        title_justify="left",
    )
    table.add_column("notebook", overflow="fold")
    table.add_column("state")
    table.add_column("since", justify="right")
    table.add_column("reconnects", justify="right")
    table.add_column("resumes", justify="right")
    table.add_column("blocked reason / last error", overflow="fold")
    table.add_column("progress", overflow="fold")
    for nb in notebooks:
        state = str(nb.get("state", "?"))
        problem = nb.get("blocked_reason") or nb.get("last_error") or ""
        table.add_row(
            notebook_name(str(nb.get("url", "?"))),
            Text(state, style=_STATE_STYLES.get(state, "")),
            _ago(nb.get("since"), now),
            str(nb.get("reconnects", 0)),
            str(nb.get("resumes", 0)),
            str(problem),
            str(nb.get("progress") or ""),
        )
    if not notebooks:
        table.caption = "no notebooks"
    Console().print(table)


def _ago(value: object, now: datetime, *, suffix: str = " ago") -> str:
    from sentinel.progress import format_duration

    if not isinstance(value, str):
        return "?"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_duration((now - moment).total_seconds()) + suffix
