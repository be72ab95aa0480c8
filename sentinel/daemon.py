"""The daemon's lifecycle: startup -> main loop -> shutdown, around one browser and one tab per notebook.

Shaped like uvicorn's ``Server``: :meth:`Daemon.serve` captures SIGINT/SIGTERM (the handlers only
set flags; a second signal forces), runs :meth:`~Daemon.startup`, ticks :meth:`~Daemon.main_loop`
until told to exit, then :meth:`~Daemon.shutdown` closes everything, each step bounded by
``Settings.shutdown_timeout``.

Who does what:

* :class:`~sentinel.browser.BrowserHost` owns the browser (relaunched when it dies) and
  :class:`~sentinel.browser.BrowserTab` one notebook's page in it;
* :class:`~sentinel.session.Session` (one per notebook) holds the policy;
* :class:`~sentinel.alerts.AlertPolicy` decides what a human hears, :class:`~sentinel.status.StatusServer`
  what they can look up, :class:`~sentinel.progress.ProgressReader` how far training got;
* the daemon only wires them together and supervises.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Coroutine, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from typing_extensions import override

from sentinel._playwright import map_playwright_errors
from sentinel.alerts import AlertPolicy
from sentinel.browser import BrowserHost, BrowserTab, check_profile_unlocked, prepare_profile
from sentinel.errors import SentinelError, UsageError
from sentinel.frontends import Frontend, Signal, make_frontends
from sentinel.heartbeat import Heartbeat
from sentinel.notify import Notifier
from sentinel.progress import ProgressReader, StallWatch, format_progress
from sentinel.schedule import Wakeups
from sentinel.session import CounterName, Session, SessionHooks, SessionPolicy, SessionState
from sentinel.statestore import StateStore
from sentinel.status import Metrics, NotebookStatus, StatusServer, StatusSnapshot, check_exposure
from sentinel.timeline import Timeline

if TYPE_CHECKING:
    from sentinel.config import Settings
    from sentinel.diagnosis import Diagnosis

log = structlog.get_logger(__name__)

# How often the main loop ticks (heartbeat, browser health, reminders).
TICK = 1.0
# States in which a notebook counts as healthy for the dead man's switch: working, on its way
# back, or done. Blocked, in error, unreachable or disconnected is not.
HEALTHY = frozenset(
    {
        SessionState.CONNECTED,
        SessionState.RESUMING,
        SessionState.CONNECTING,
        SessionState.RECONNECTING,
        SessionState.FINISHED,
    }
)


class _Hooks(SessionHooks):
    """Forwards what sessions report to the alert policy, the notifier and the metrics."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    @override
    async def state_changed(self, session: Session, old: SessionState, new: SessionState) -> None:
        d = self._daemon
        why = {SessionState.BLOCKED: session.blocked_reason, SessionState.ERROR: session.last_error}.get(new)
        d.timeline.record(session.url, "state", f"{old.value} -> {new.value}" + (f": {why}" if why else ""))
        if new is SessionState.BLOCKED:
            alerts = d.alerts.state_changed(session.url, new.value, cause=session.blocked_reason)
        elif new is SessionState.ERROR:
            alerts = d.alerts.state_changed(
                session.url,
                new.value,
                reason=session.last_error,
                cause=session.error_kind,
                action=session.diagnosis.action if session.diagnosis is not None else None,
            )
        else:
            alerts = d.alerts.state_changed(session.url, new.value)
        d.alert(alerts)
        d.metrics.set_blocked(session.url, new is SessionState.BLOCKED)
        if new is SessionState.CONNECTED:
            d.metrics.set_consecutive_failures(session.url, 0)

    @override
    async def reconnect_failed(self, session: Session, error: str) -> None:
        d = self._daemon
        d.timeline.record(session.url, "reconnect_failed", error)
        d.metrics.set_consecutive_failures(session.url, session.failures)
        d.alert(d.alerts.reconnect_failed(session.url, error=error))

    @override
    async def reconnect_succeeded(self, session: Session) -> None:
        d = self._daemon
        d.metrics.reconnected(session.url)
        d.metrics.set_consecutive_failures(session.url, 0)
        d.alert(d.alerts.reconnect_succeeded(session.url))

    @override
    async def resumed(self, session: Session, runtime_id: str, cell_id: str | None) -> None:
        self._daemon.metrics.resumed(session.url)

    @override
    async def finished(self, session: Session, summary: str) -> None:
        d = self._daemon
        d.timeline.record(session.url, "finished", summary)
        d.alert(d.alerts.finished(session.url, summary))

    @override
    async def run_failed(self, session: Session, diagnosis: Diagnosis, retry: int | None) -> None:
        then = f"retry {retry}" if retry is not None else "given up"
        self._daemon.timeline.record(session.url, "run_failed", f"{diagnosis.cause} ({then})")

    @override
    async def open_failed(self, session: Session, error: str) -> None:
        d = self._daemon
        d.alert(d.alerts.unreachable(session.url, error=error))

    @override
    def counted(self, session: Session, counter: CounterName) -> None:
        self._daemon.metrics.counted(session.url, counter)
        event = {"dialogs_answered": "answered", "crashes": "crash"}.get(counter)
        if event is not None:
            self._daemon.timeline.record(session.url, event)

    @override
    async def unclassified(self, session: Session, bundle: Path | None, detail: str) -> None:
        d = self._daemon
        d.timeline.record(session.url, "unrecognised", detail)
        d.alert(d.alerts.unclassified(session.url, detail, bundle, seconds=session.policy.unclassified_after))

    @override
    def signal_received(self, session: Session, signal: Signal) -> None:
        # Page clock to our clock: same machine (or NTP'd), so a clamp covers the small skew.
        self._daemon.metrics.detected(max(0.0, signal.received_at - signal.page_time))


class Daemon:
    """Keeps every listed notebook alive: ``Daemon(settings).run()`` returns the exit code.

    Args:
        settings: the one Settings (URLs, browser, profile, state dir, notifications, status address).
        policy: the session policy; default :meth:`SessionPolicy.from_settings`.
        frontends: the frontend candidates; default from ``--frontend`` and ``--selectors``.
        notifier: default from ``--notify``.
        status: serve ``/healthz``, ``/status``, ``/metrics`` on ``settings.status_addr``.
        browser_env: the browser's whole environment (a virtual display's ``DISPLAY``); None: ours.

    Raises:
        UsageError: (from the constructor) bad URLs, selectors file or notification URLs, or a
            status address beyond loopback without a status token.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        policy: SessionPolicy | None = None,
        frontends: Sequence[Frontend] | None = None,
        notifier: Notifier | None = None,
        status: bool = True,
        browser_env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        notebooks = settings.notebook_settings()
        if not notebooks:
            raise UsageError(
                "no notebook URL given; usage: sentinel run URL [URL ...] (or set SENTINEL_URLS, "
                "or [[notebooks]] in the config file)"
            )
        if status:
            check_exposure(settings.status_addr, settings.status_host, settings.status_token)
        self.urls = [notebook.url for notebook in notebooks]
        self.policy = policy or SessionPolicy.from_settings(settings)
        # Each notebook's own policy: the base one with what its [[notebooks]] table changes.
        self.policies = {notebook.url: self.policy.for_notebook(notebook) for notebook in notebooks}
        self.names = {notebook.url: notebook.name for notebook in notebooks if notebook.name}
        self.wakeups = Wakeups()
        self.frontends = (
            tuple(frontends)
            if frontends is not None
            else make_frontends(settings.frontend, settings.selectors)
        )
        self.notifier = notifier if notifier is not None else Notifier.from_settings(settings)
        self.alerts = AlertPolicy.from_settings(settings)
        self.alerts.names.update(self.names)
        self.metrics = Metrics()
        self.timeline = Timeline()
        self.stalls = StallWatch(settings.stall_after)
        self.heartbeat = Heartbeat(settings.heartbeat_url) if settings.heartbeat_url else None
        self.should_exit = False
        self.force_exit = False
        self.started = asyncio.Event()
        self.sessions: list[Session] = []
        self.tabs: list[BrowserTab] = []
        self.progress = ProgressReader()
        self.browser_env = browser_env
        self.started_at = datetime.now(UTC)
        self.store: StateStore | None = None
        self.host: BrowserHost | None = None
        self.status_server: StatusServer | None = None
        self._status_enabled = status
        self._exit = asyncio.Event()
        self._force = asyncio.Event()
        self._tasks: dict[Session, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._hooks = _Hooks(self)

    # --- entry points ---

    def run(self) -> int:
        """Serve until SIGINT/SIGTERM; the exit code (0 after a clean shutdown)."""
        return asyncio.run(self.serve())

    async def serve(self) -> int:
        """startup -> main loop -> shutdown, with signals captured (restored afterwards)."""
        with self._capture_signals():
            try:
                await self.startup()
            except BaseException:
                await self.shutdown()
                raise
            try:
                await self.main_loop()
            finally:
                await self.shutdown()
        return 0

    def handle_exit(self, sig: int, frame: object = None) -> None:
        """The signal handler: the first signal asks for a clean shutdown, the second forces it."""
        del frame
        name = signal.Signals(sig).name
        if self.should_exit:
            log.warning("daemon.force_exit", signal=name, message=f"Received {name} again, forcing exit.")
            self.force_exit = True
            self._force.set()
        else:
            log.info("daemon.exit_requested", signal=name, message=f"Received {name}, shutting down.")
        self.should_exit = True
        self._exit.set()

    @contextlib.contextmanager
    def _capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Signals can only be listened to from the main thread (tests may run us elsewhere).
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(sig, self.handle_exit, sig)
                installed.append(sig)
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    # --- phases ---

    async def startup(self) -> None:
        """Check the profile, open the state dir and the status server, start the browser and the sessions.

        Everything the user can get wrong is checked before anything is opened that logs, so bad
        input ends in one line (the CLI's) and nothing else.

        Raises:
            UsageError: profile unusable or locked, state dir unusable or locked, status address in
                use, or the browser the user named does not start.
            BrowserError: the browser sentinel picked could not be started.
        """
        settings = self.settings
        if settings.cdp_url is None:
            prepare_profile(settings.profile)
            check_profile_unlocked(settings.profile)
        self.store = StateStore.open(settings.state_dir)
        for url in self.urls:
            self.metrics.add_notebook(url)
        if self._status_enabled:
            self.status_server = StatusServer(
                settings, self.snapshot, self.metrics, screenshot=self.screenshot
            )
            await self.status_server.start()
        self.host = BrowserHost(
            settings,
            env=self.browser_env,
            on_lost=self._browser_lost,
            on_restart=self.metrics.browser_restarted,
        )
        await self.host.start()
        debug_dir = settings.state_dir / "debug"
        for url in self.urls:
            tab = BrowserTab(url, self.host, self.frontends, settings.frontend)
            policy = self.policies[url]
            session = Session(url, tab, self.store, policy=policy, hooks=self._hooks, debug_dir=debug_dir)
            start_at = datetime.fromtimestamp(policy.start_at, UTC) if policy.start_at is not None else None
            self.wakeups.add(url, session.wake, policy.active_hours, policy.timezone, start_at)
            tab.on_lost, tab.on_popup = session.page_lost, session.popup_opened
            self.tabs.append(tab)
            self.sessions.append(session)
            self._tasks[session] = self._spawn(session.run(), f"session {url}")
        self._spawn(self.progress.run(lambda: self.sessions, self._exit), "progress")
        self.wakeups.start()
        self.metrics.heartbeat()
        log.info(
            "daemon.started",
            notebooks=len(self.urls),
            headless=self.host.headless,
            state_dir=str(settings.state_dir),
            status=self.status_server.url if self.status_server else None,
        )
        self.started.set()

    async def main_loop(self) -> None:
        """Tick until told to exit: heartbeat, browser health, reminders, session supervision."""
        while not self.should_exit:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit.wait(), TICK)
            self.metrics.heartbeat()
            if self.host is not None:
                self.host.check()
            self.alert(self.alerts.tick())
            self._supervise()
            self._watch_runs()

    async def shutdown(self) -> None:
        """Stop sessions, close tabs, browser, status server and state store, within ``shutdown_timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.shutdown_timeout - 0.5
        self.should_exit = True
        self.wakeups.stop()
        for session in self.sessions:
            session.stop()
        tasks = list(self._tasks.values())
        if tasks:
            await self._within(asyncio.wait(tasks), deadline, "sessions")
        for task in tasks:
            task.cancel()
        for task in list(self._background):
            if task not in tasks:
                task.cancel()
        pending = [t for t in self._background if not t.done()]
        if pending:
            await self._within(asyncio.wait(pending), deadline, "background tasks")
        if self.settings.cdp_url is not None:
            for tab in self.tabs:
                await self._within(tab.close(), deadline, "tabs")
        closers = [
            (self.host.close() if self.host is not None else None, "browser"),
            (self.status_server.stop() if self.status_server is not None else None, "status server"),
            (self.heartbeat.close() if self.heartbeat is not None else None, "heartbeat"),
        ]
        for work, what in closers:
            if work is not None:
                await self._within(work, deadline, what)
        if self.store is not None:
            self.store.close()
        if self.started.is_set():
            # (A start-up that failed says so in the CLI's one line; nothing else is printed.)
            log.info("daemon.stopped", forced=self.force_exit)

    async def _within(self, work: Awaitable[Any], deadline: float, what: str) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(work)
        force = asyncio.ensure_future(self._force.wait())
        try:
            done, _ = await asyncio.wait(
                {task, force}, timeout=max(0.0, deadline - loop.time()), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            force.cancel()
        if task in done:
            if not task.cancelled() and task.exception() is not None:
                log.warning("daemon.shutdown_step_failed", step=what, error=repr(task.exception()))
            return
        task.cancel()
        log.warning("daemon.shutdown_step_abandoned", step=what, forced=self.force_exit)

    # --- supervision ---

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _supervise(self) -> None:
        for session, task in list(self._tasks.items()):
            if not task.done() or self.should_exit:
                continue
            error = None if task.cancelled() else task.exception()
            log.error("daemon.session_died", notebook=session.url, error=repr(error))
            # Session.run ends in STOPPED; a replacement starts from scratch on the same tab and ledger.
            tab = self.tabs[self.sessions.index(session)]
            assert self.store is not None
            fresh = Session(
                session.url,
                tab,
                self.store,
                policy=self.policies[session.url],
                hooks=self._hooks,
                debug_dir=self.settings.state_dir / "debug",
            )
            tab.on_lost, tab.on_popup = fresh.page_lost, fresh.popup_opened
            self.sessions[self.sessions.index(session)] = fresh
            del self._tasks[session]
            self._tasks[fresh] = self._spawn(fresh.run(), f"session {session.url}")

    def _watch_runs(self) -> None:
        """Stalled runs (told once each), and the heartbeat while every notebook is healthy."""
        for session in self.sessions:
            record = self.progress.latest.get(session.url)
            running = session.state is SessionState.CONNECTED and bool(
                session.observation is not None and session.observation.busy
            )
            idle = self.stalls.stalled(session.url, record, running)
            if idle is not None:
                self.timeline.record(session.url, "stalled", format_progress(record) or "")
                self.alert(self.alerts.stalled(session.url, format_progress(record) or "?", idle))
        if self.heartbeat is not None and self.heartbeat.due(
            bool(self.sessions) and all(s.state in HEALTHY for s in self.sessions)
        ):
            self._spawn(self._ping(self.heartbeat), "heartbeat")

    @staticmethod
    async def _ping(heartbeat: Heartbeat) -> None:
        await heartbeat.ping()

    def _browser_lost(self) -> None:
        if self.should_exit:
            return
        for session in self.sessions:
            session.page_lost()

    def alert(self, alerts: Sequence[Any]) -> None:
        """Send the alert policy's alerts in the background."""
        for item in alerts:
            self.timeline.record(item.url, "notified", item.title)
            self._spawn(self._deliver(self.notifier.send_alert(item)), "notify")

    @staticmethod
    async def _deliver(call: Awaitable[object]) -> None:
        await call

    # --- status ---

    def snapshot(self) -> StatusSnapshot:
        """The daemon now, for ``/status`` and the demo's table."""
        notebooks = []
        for session in self.sessions:
            record = self.store.record(session.url) if self.store is not None else None
            notebooks.append(
                NotebookStatus(
                    url=session.url,
                    name=self.names.get(session.url),
                    state=session.state.value,
                    since=datetime.fromtimestamp(session.since, UTC),
                    reconnects=record.reconnects if record else session.counters.reconnects,
                    resumes=record.resumes if record else session.counters.resumes,
                    blocked_reason=session.blocked_reason.value if session.blocked_reason else None,
                    last_error=session.last_error,
                    progress=format_progress(self.progress.latest.get(session.url)),
                    crashes=session.counters.crashes,
                    progress_record=self.progress.latest.get(session.url),
                    timeline=self.timeline.recent(session.url, 10),
                    diagnosis=session.diagnosis.cause if session.diagnosis is not None else None,
                    action=session.diagnosis.action if session.diagnosis is not None else None,
                    finished_at=record.finished_at if record is not None else None,
                )
            )
        return StatusSnapshot(
            notebooks=tuple(notebooks),
            started_at=self.started_at,
            browser_restarts=self.host.restarts if self.host else 0,
        )

    async def screenshot(self, url: str) -> bytes | None:
        """A PNG of ``url``'s window for the status page; None while it has no page open."""
        session = next((s for s in self.sessions if s.url == url), None)
        page = session.page if session is not None else None
        if page is None:
            return None
        try:
            with map_playwright_errors("taking a screenshot of the notebook"):
                png: bytes = await page.screenshot(type="png", timeout=10_000)
        except SentinelError as exc:
            log.debug("daemon.screenshot_failed", notebook=url, error=str(exc))
            return None
        return png


__all__ = ["Daemon"]
