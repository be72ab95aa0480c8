"""``sentinel demo``: the emulator and the daemon together on the sample training notebook, faults included.

Everything runs in this process and a temporary folder (browser profile, state, the emulator's Drive):
the emulator serves the bundled ``train`` notebook, the daemon keeps it alive headless, and a short
script plays the world: Colab disconnects the idle runtime, asks "Are you still there?", crashes the
runtime out of memory, and shows a reCAPTCHA that a person (played by the demo) dismisses after a
while. A live table shows the notebook's state, counters and training progress; the run ends when
training finishes, with a summary of every fault and how long recovery took.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from sentinel.cli._app import app, settings_from

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from sentinel.config import Settings
    from sentinel.daemon import Daemon
    from sentinel.emulator.testing import EmulatorServer

NOTEBOOK = "train"
RESUME_CELL = "train1resume"
# Seconds of visible training before the next fault, and how long nobody answers the captcha.
CALM = 1.5
CAPTCHA_UNANSWERED = 5.0


@app.command()
def demo(
    ctx: typer.Context,
    duration: Annotated[
        float, typer.Option(help="Give up after this many seconds if training has not finished.", min=10)
    ] = 900.0,
    no_faults: Annotated[bool, typer.Option("--no-faults", help="Only train; inject nothing.")] = False,
) -> None:
    """Watch sentinel keep a training run alive through disconnects, a crash, dialogs and a captcha."""
    settings = settings_from(ctx)
    from rich.console import Console

    console = Console()
    code = asyncio.run(Demo(settings, console, duration=duration, faults=not no_faults).run())
    raise typer.Exit(code)


@dataclass
class Fault:
    """One scripted event: what happens, when it counts as recovered, and how long that took."""

    kind: str
    story: str
    injected_at: float | None = None
    recovered_at: float | None = None
    how: str = ""

    @property
    def recovery_seconds(self) -> float | None:
        if self.injected_at is None or self.recovered_at is None:
            return None
        return self.recovered_at - self.injected_at


def _script() -> list[Fault]:
    return [
        Fault("idle_disconnect", "Colab disconnects the runtime (idle timeout)"),
        Fault("still_there", 'Colab asks "Are you still there?"'),
        Fault("crash_oom", "the runtime crashes out of memory"),
        Fault("captcha", "a reCAPTCHA appears; sentinel must not touch it"),
    ]


@dataclass
class _Feed:
    lines: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=9))

    def add(self, text: str, style: str = "") -> None:
        self.lines.append((f"{datetime.now():%H:%M:%S}  {text}", style))


class Demo:
    """The whole demo: emulator, daemon, fault script, live table, summary. :meth:`run` returns the exit code."""

    def __init__(self, settings: Settings, console: Console, *, duration: float, faults: bool) -> None:
        self._settings = settings
        self._console = console
        self._duration = duration
        self._faults = _script() if faults else []
        self._feed = _Feed()
        self._last_state: str | None = None
        self._started = time.monotonic()

    async def run(self) -> int:
        """Run until training finishes, ``duration`` passes or the user interrupts; 0 when training finished."""
        work = Path(tempfile.mkdtemp(prefix="sentinel-demo-"))
        log_file = (work / "demo.log").open("w", encoding="utf-8")
        self._route_logs(log_file)
        finished = False
        try:
            finished = await self._run(work)
        finally:
            log_file.close()
            if finished:
                shutil.rmtree(work, ignore_errors=True)
            else:
                self._console.print(f"[dim]Logs and state kept in {work}[/]")
        return 0 if finished else 1

    def _route_logs(self, handle: TextIO) -> None:
        # The live table owns the terminal; the daemon's and the emulator's logs go to a file.
        import structlog

        from sentinel.log import configure_logging

        configure_logging("json", self._settings.log_level)
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=handle))

    async def _run(self, work: Path) -> bool:
        from rich.live import Live

        from sentinel.config import load_settings
        from sentinel.daemon import Daemon
        from sentinel.emulator.testing import EmulatorServer
        from sentinel.session import SessionPolicy

        self._console.print(
            "[bold]sentinel demo[/]: the emulator plays Colab, sentinel keeps training alive."
        )
        async with EmulatorServer(allocation_delay=1.5, drive_dir=work / "drive") as emu:
            url = emu.notebook_url(NOTEBOOK)
            settings = load_settings(
                urls=[url],
                profile=work / "profile",
                state_dir=work / "state",
                headless=True,
                status_addr="127.0.0.1:0",
                log_level=self._settings.log_level,
            )
            daemon = Daemon(settings, policy=SessionPolicy.from_settings(settings, poll_interval=2.0))
            daemon.progress.interval = 1.0
            serving = asyncio.create_task(daemon.serve())
            self._feed.add(f"emulator on {emu.base_url}; daemon starting a headless Chromium", "dim")
            script = self._play(emu, daemon) if self._faults else None
            outcome = "interrupted"
            announced = False
            try:
                with Live(self._render(daemon), console=self._console, refresh_per_second=4) as live:
                    while True:
                        if serving.done():
                            break
                        if not announced and daemon.started.is_set() and daemon.status_server is not None:
                            announced = True
                            self._feed.add(
                                f"status page (open it while this runs): {daemon.status_server.url}/", "cyan"
                            )
                        if self._training_done(daemon) and (script is None or not script.in_flight()):
                            outcome = "finished"
                            break
                        if time.monotonic() - self._started > self._duration:
                            outcome = "timeout"
                            self._feed.add(f"gave up after {self._duration:g} s", "red")
                            break
                        if script is not None:
                            await script.advance()
                        self._note_state(daemon)
                        live.update(self._render(daemon))
                        await asyncio.sleep(0.25)
                    self._note_state(daemon)
                    live.update(self._render(daemon))
            finally:
                if not serving.done():
                    daemon.handle_exit(signal.SIGTERM)
                await asyncio.wait_for(asyncio.shield(serving), settings.shutdown_timeout + 5)
            self._summary(daemon, await emu.events(NOTEBOOK), outcome, _final_result(work / "drive"))
            return outcome == "finished"

    def _play(self, emu: EmulatorServer, daemon: Daemon) -> _Script:
        return _Script(emu, daemon, self._faults, self._feed)

    def _training_done(self, daemon: Daemon) -> bool:
        record = next(iter(daemon.progress.latest.values()), None)
        session = daemon.sessions[0] if daemon.sessions else None
        if not record or session is None or session.observation is None:
            return False
        done = record.get("done") is True or (
            record.get("total") is not None and record.get("step") == record.get("total")
        )
        # The daemon itself says so: the run finished (keep-alive stopped, the runtime let go).
        return bool(done) and session.state.value == "finished"

    def _note_state(self, daemon: Daemon) -> None:
        if not daemon.sessions:
            return
        session = daemon.sessions[0]
        state = session.state.value
        if state != self._last_state:
            detail = session.blocked_reason.value if session.blocked_reason else session.last_error
            style = {"connected": "green", "blocked": "red", "error": "red"}.get(state, "yellow")
            self._feed.add(f"state -> {state}" + (f" ({detail})" if detail else ""), style)
            self._last_state = state

    def _render(self, daemon: Daemon) -> RenderableType:
        from rich.console import Group
        from rich.panel import Panel
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        table = Table(title="sentinel: notebooks", expand=True)
        table.add_column("notebook", no_wrap=True)
        table.add_column("state", no_wrap=True, min_width=12)
        table.add_column("since", justify="right", no_wrap=True)
        for column in ("reconnects", "resumes", "crashes"):
            table.add_column(column, justify="right", no_wrap=True)
        table.add_column("note", ratio=1)
        rows: list[RenderableType] = [table]
        for session, status in zip(daemon.sessions, daemon.snapshot().notebooks, strict=True):
            state = str(status.state)
            style = {"connected": "green", "blocked": "bold red", "error": "bold red"}.get(state, "yellow")
            note = status.blocked_reason or status.last_error or ""
            table.add_row(
                NOTEBOOK,
                Text(state, style=style),
                f"{max(0.0, time.time() - status.since.timestamp()):.0f} s",
                str(status.reconnects),
                str(status.resumes),
                str(session.counters.crashes),
                Text(note, style="red" if note else ""),
            )
            record = daemon.progress.latest.get(session.url) or {}
            step, total = record.get("step"), record.get("total")
            if isinstance(step, int) and isinstance(total, int) and total > 0:
                loss = record.get("loss")
                label = f"  step {step}/{total}" + (f"  loss {loss:.4f}" if isinstance(loss, float) else "")
                bar = Table.grid(expand=True)
                bar.add_column(ratio=1)
                bar.add_column(no_wrap=True)
                bar.add_row(ProgressBar(total=total, completed=step), Text(label))
                rows.append(bar)
            else:
                rows.append(Text("training: waiting for the first [sentinel] report", style="dim"))
        feed = Text()
        for line, line_style in self._feed.lines:
            feed.append(line + "\n", style=line_style)
        elapsed = time.monotonic() - self._started
        rows.append(Panel(feed, title=f"what happens ({elapsed:.0f} s)", border_style="dim"))
        return Group(*rows)

    def _summary(
        self, daemon: Daemon, events: list[dict[str, Any]], outcome: str, final: dict[str, Any] | None
    ) -> None:
        from rich.table import Table

        console = self._console
        console.print()
        record = next(iter(daemon.progress.latest.values()), {})
        headline = {
            "finished": f"[bold green]Training finished[/]: step {record.get('step')}/{record.get('total')}.",
            "timeout": "[bold red]Training did not finish in time.[/]",
            "interrupted": "[bold yellow]Interrupted.[/]",
        }[outcome]
        console.print(headline)
        if self._faults:
            table = Table(title="faults and recoveries")
            for column in ("what happened", "recovered in", "how"):
                table.add_column(column)
            for fault in self._faults:
                seconds = fault.recovery_seconds
                took = (
                    f"{seconds:.1f} s"
                    if seconds is not None
                    else ("not injected" if fault.injected_at is None else "NOT RECOVERED")
                )
                table.add_row(fault.story, took, fault.how)
            console.print(table)
        runtimes = [e["runtime_id"] for e in events if e["kind"] == "runtime.connected"]
        starts = Counter(
            e.get("runtime_id")
            for e in events
            if e["kind"] == "cell.started" and e.get("cell_id") == RESUME_CELL
        )
        once = all(starts[r] == 1 for r in runtimes) and set(starts) <= set(runtimes)
        untrusted = [e for e in events if e["kind"] == "click" and e.get("trusted") is False]
        captcha_touched = [
            e for e in events if e["kind"] == "click" and str(e.get("target", "")).startswith("captcha:")
        ]
        console.print(
            f"{len(runtimes)} runtimes, resume cell started {sum(starts.values())} times: "
            + ("[green]exactly once per runtime[/]" if once else "[red]NOT once per runtime[/]")
            + f"; untrusted clicks: {len(untrusted)}; captcha checkbox clicks: {len(captcha_touched)}."
        )
        if final is not None and isinstance(final.get("params_sha256"), str):
            console.print(
                f"Final parameters sha256 {final['params_sha256']} "
                "(compare with an uninterrupted run: [bold]sentinel demo --no-faults[/])."
            )
        console.print(
            "For real Colab: [bold]sentinel login[/] once (sign in by hand), then "
            "[bold]sentinel run https://colab.research.google.com/drive/...[/]"
        )


def _final_result(drive: Path) -> dict[str, Any] | None:
    """The ``final.json`` the train notebook writes into its Drive project folder when it is done."""
    import json

    for path in sorted(drive.glob("**/final.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return data
    return None


class _Captcha(Enum):
    # The captcha is up; sentinel has not reported blocked yet.
    SHOWN = "shown"
    # sentinel reports blocked; nobody answers for CAPTCHA_UNANSWERED seconds.
    BLOCKED = "blocked"
    # The person dismissed it; waiting for sentinel to report connected.
    DISMISSED = "dismissed"


class _Script:
    """Injects the faults one at a time, spread over the training run.

    Fault ``k`` of ``n`` comes once training has passed ``(k+1)/(n+1)`` of its steps, the previous
    fault has recovered and training has been seen running for ``CALM`` seconds: paced by progress,
    not by the clock, so a fast machine sees every fault too.
    """

    def __init__(self, emu: EmulatorServer, daemon: Daemon, faults: list[Fault], feed: _Feed) -> None:
        self._emu = emu
        self._daemon = daemon
        self._faults = faults
        self._feed = feed
        self._index = 0
        self._calm_since: float | None = None
        self._captcha = _Captcha.SHOWN
        self._human_at = 0.0

    async def advance(self) -> None:
        if self._index >= len(self._faults):
            return
        fault = self._faults[self._index]
        if fault.injected_at is None:
            if not await self._training_runs():
                self._calm_since = None
                return
            self._calm_since = self._calm_since or time.monotonic()
            if time.monotonic() - self._calm_since < CALM or not self._far_enough():
                return
            await self._inject(fault)
            return
        if await self._recovered(fault):
            self._index += 1
            self._calm_since = None

    def in_flight(self) -> bool:
        """A fault was injected and has not recovered yet (its story is not told to the end)."""
        return self._index < len(self._faults) and self._faults[self._index].injected_at is not None

    def _far_enough(self) -> bool:
        record = next(iter(self._daemon.progress.latest.values()), {})
        step, total = record.get("step"), record.get("total")
        if not isinstance(step, int) or not isinstance(total, int):
            return False
        return step >= total * (self._index + 1) / (len(self._faults) + 1)

    async def _training_runs(self) -> bool:
        session = self._daemon.sessions[0] if self._daemon.sessions else None
        if session is None or session.observation is None or session.state.value != "connected":
            return False
        record = self._daemon.progress.latest.get(session.url) or {}
        return session.observation.busy and isinstance(record.get("step"), int) and not record.get("done")

    async def _inject(self, fault: Fault) -> None:
        fault.injected_at = time.time()
        self._feed.add(f"fault: {fault.story}", "bold yellow")
        await self._emu.inject(NOTEBOOK, fault.kind)

    async def _recovered(self, fault: Fault) -> bool:
        assert fault.injected_at is not None
        events = await self._emu.events(NOTEBOOK, since=fault.injected_at)
        if fault.kind in ("idle_disconnect", "crash_oom"):
            return self._runtime_back(fault, events)
        if fault.kind == "still_there":
            return self._answered(fault, events)
        return await self._captcha_over(fault, events)

    def _runtime_back(self, fault: Fault, events: list[dict[str, Any]]) -> bool:
        started = [e for e in events if e["kind"] == "cell.started" and e.get("cell_id") == RESUME_CELL]
        if not started:
            return False
        fault.recovered_at = float(started[0]["t"])
        fault.how = (
            "Reconnect clicked, resume cell run in the new runtime"
            if fault.kind == "idle_disconnect"
            else "crash seen, resume cell run in the restarted runtime"
        )
        self._feed.add(f"recovered: training resumes ({fault.recovery_seconds:.1f} s)", "green")
        return True

    def _answered(self, fault: Fault, events: list[dict[str, Any]]) -> bool:
        closed = [e for e in events if e["kind"] == "dialog.closed" and e.get("dialog") == "still_there"]
        if not closed:
            return False
        fault.recovered_at = float(closed[0]["t"])
        fault.how = f'"{closed[0].get("button")}" clicked'
        self._feed.add(f"answered: {fault.how} ({fault.recovery_seconds:.1f} s)", "green")
        return True

    async def _captcha_over(self, fault: Fault, events: list[dict[str, Any]]) -> bool:
        # Blocked, left alone for a while (sentinel would notify), then dismissed by "a person".
        session = self._daemon.sessions[0]
        state = session.state.value
        if self._captcha is _Captcha.SHOWN:
            if state == "blocked":
                self._captcha = _Captcha.BLOCKED
                self._human_at = time.monotonic() + CAPTCHA_UNANSWERED
                self._feed.add("sentinel is blocked and would notify a human; it touches nothing", "red")
        elif self._captcha is _Captcha.BLOCKED:
            if time.monotonic() >= self._human_at and session.page is not None:
                self._captcha = _Captcha.DISMISSED
                self._feed.add("a person dismisses the captcha in sentinel's browser", "cyan")
                # The demo plays the person here, on the emulator's page; the daemon itself never
                # touches a captcha (its selectors live in sentinel/frontends/colab/_selectors.py).
                await session.page.locator("colab-recaptcha-dialog mwc-button").click()
        elif state in ("connected", "finished"):
            fault.recovered_at = time.time()
            touched = [
                e for e in events if e["kind"] == "click" and str(e.get("target", "")).startswith("captcha:")
            ]
            fault.how = "blocked until a person dismissed it" + (" (checkbox clicked!)" if touched else "")
            self._feed.add(f"recovered: {state} again", "green")
            return True
        return False
