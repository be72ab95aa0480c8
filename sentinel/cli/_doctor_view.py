"""``sentinel doctor``'s report for people: rich tables, as ``sentinel status`` prints."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from sentinel.cli.doctor import DoctorReport
    from sentinel.frontends import PageProbe

_VERDICT_STYLES = {
    "connected": "green",
    "connecting": "cyan",
    "disconnected": "yellow",
    "unknown": "bold red",
}


def print_report(report: DoctorReport) -> None:
    """Print ``report``: frontend, selectors, dialog patterns, layers, facts, observation, next action."""
    from rich.console import Console
    from rich.text import Text

    console = Console()
    # Plain lines are never broken: the URL and the bundle path must stay copyable.
    say = functools.partial(console.print, soft_wrap=True)
    say(Text(f"sentinel doctor: {report.url}", style="bold"))
    if report.page_url and report.page_url != report.url:
        say(Text(f"  (the page is now at {report.page_url})"))
    if report.frontend is None:
        tried = ", ".join(report.candidates) or "none"
        say(Text(f"Frontend: none recognised the page (tried: {tried})", style="bold red"))
    else:
        say(Text(f"Frontend: {report.frontend} ({report.chosen_by})", style="bold"))
    if report.probe is not None:
        _print_selectors(console, report.probe)
        _print_dialogs(console, report.probe)
        _print_layers(console, report.probe)
        _print_observation(console, report.probe)
    if report.next_action is not None:
        say(Text(f"Next: {report.next_action.text}", style="bold"))
    if report.understood:
        say(Text("Understood: sentinel can drive this page.", style="bold green"))
    else:
        say(Text("NOT understood:", style="bold red"))
        for problem in report.problems:
            say(Text(f"  - {problem}"))
        console.print(
            Text("  docs/colab-changes.md says how a --selectors file teaches sentinel the new page.")
        )
    where = str(report.bundle) if report.bundle is not None else "none (it could not be written; see the log)"
    say(Text(f"Debug bundle: {where}"))


def _print_selectors(console: Console, probe: PageProbe) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Selectors (css): what each key matched", title_justify="left")
    table.add_column("key", no_wrap=True)
    table.add_column("matches", justify="right")
    table.add_column("visible", justify="right")
    table.add_column("first match's text", overflow="fold")
    table.add_column("matched by", overflow="fold")
    for s in probe.selectors:
        by = ", ".join(f"{sel} ({n})" for sel, n in s.alternatives if n) or "-"
        cells = (s.key, str(s.count), str(s.visible), s.text, by)
        table.add_row(*(Text(c) for c in cells), style="" if s.count else "dim")
    console.print(table)


def _print_dialogs(console: Console, probe: PageProbe) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Dialog patterns: did an open dialog match?", title_justify="left")
    table.add_column("dialog", no_wrap=True)
    table.add_column("patterns", overflow="fold")
    table.add_column("open dialog matched", overflow="fold")
    for d in probe.dialogs:
        cells = (str(d.dialog), " | ".join(d.patterns), d.matched or "-")
        table.add_row(*(Text(c) for c in cells), style="" if d.matched else "dim")
    console.print(table)
    console.print(Text("Open dialogs:" + ("" if probe.open_dialogs else " none")))
    for text in probe.open_dialogs:
        console.print(Text(f"  - {text}"), soft_wrap=True)


def _print_layers(console: Console, probe: PageProbe) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Detection layers: the connection as each reads it", title_justify="left")
    table.add_column("layer", no_wrap=True)
    table.add_column("verdict")
    table.add_column("evidence", overflow="fold")
    for v in probe.layers:
        verdict = str(v.connection) if v.connection else "no verdict"
        table.add_row(
            Text(v.layer), Text(verdict, style=_VERDICT_STYLES.get(verdict, "dim")), Text(v.evidence)
        )
    console.print(table)


def _print_observation(console: Console, probe: PageProbe) -> None:
    from rich.json import JSON
    from rich.table import Table
    from rich.text import Text

    console.print(Text("Raw facts:"))
    console.print(JSON.from_data(probe.facts, default=str))
    obs = probe.observation
    table = Table(title="Observation (classified)", title_justify="left", show_header=False)
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")
    rows: dict[str, str | Text] = {
        "connection": Text(str(obs.connection), style=_VERDICT_STYLES.get(str(obs.connection), "")),
        "connect text": repr(obs.connect_text),
        "dialogs": ", ".join(obs.dialogs) or "none",
        "busy": str(obs.busy),
        "signed in": {True: "yes", False: "no", None: "unknown"}[obs.signed_in],
        "runtime id": obs.runtime_id or "-",
        "crash toast": obs.crash_toast or "-",
        "unclassified dialog": obs.unclassified or "-",
    }
    for name, value in rows.items():
        table.add_row(name, value if isinstance(value, Text) else Text(value))
    console.print(table)
