"""The daemon's lifecycle: startup -> main loop -> shutdown, around one browser and one tab per notebook.

Shaped like uvicorn's ``Server``: :meth:`Daemon.serve` captures SIGINT/SIGTERM (the handlers only
set flags; a second signal forces), runs :meth:`~Daemon.startup`, ticks :meth:`~Daemon.main_loop`
until told to exit, then :meth:`~Daemon.shutdown` closes everything, each step bounded by
``Settings.shutdown_timeout``.

Who does what:

* :class:`BrowserHost` owns the browser: one persistent Chromium profile (or a browser reached over
  CDP), relaunched when it dies (``context.on("close")``, ``browser.on("disconnected")``, plus polling).
* :class:`BrowserTab` opens one notebook page: navigate, recognise the frontend, install the observer,
  forward page crashes and finish Google consent popups.
* :class:`~sentinel.session.Session` (one per notebook) holds the policy; the daemon only supervises.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import structlog
from typing_extensions import override

from sentinel.browser import launch_persistent, resolve_headless
from sentinel.errors import (
    BrowserError,
    NotebookUnreachableError,
    ProfileLockedError,
    SentinelError,
    UsageError,
)
from sentinel.frontends import Frontend, Signal, detect_frontend, make_frontends
from sentinel.frontends.boundary import is_closed_error
from sentinel.notify import AlertPolicy, Level, Notifier, notebook_name
from sentinel.session import Attached, Session, SessionHooks, SessionPolicy, SessionState
from sentinel.statestore import StateStore
from sentinel.status import Metrics, NotebookStatus, StatusServer, StatusSnapshot

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright

    from sentinel.config import Settings

log = structlog.get_logger(__name__)

# Seconds a notebook page may take to load before it counts as unreachable.
NAVIGATION_TIMEOUT = 30.0
# How often the main loop ticks (heartbeat, browser health, reminders).
TICK = 1.0
# How often the training progress is read from the resume cell's output (for /status; the demo
# reads faster). Each read is a page evaluate, which costs idle CPU in the browser.
PROGRESS_INTERVAL = 30.0


def check_urls(urls: Sequence[str]) -> list[str]:
    """The notebook URLs, validated: at least one, each ``http(s)://host/...``, none twice.

    Raises:
        UsageError: one line naming the bad URL.
    """
    if not urls:
        raise UsageError("no notebook URL given; usage: sentinel run URL [URL ...]")
    seen: set[str] = set()
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"not a notebook URL (expected http:// or https://...): {url!r}")
        if url in seen:
            raise UsageError(f"notebook URL given twice: {url}")
        seen.add(url)
    return list(urls)


class BrowserHost:
    """The one browser all tabs live in; relaunched (or reattached over CDP) after it dies.

    Args:
        settings: ``profile``, ``browser_path``, ``channel``, ``headless``, ``cdp_url``.
        on_lost: called once each time the browser is seen gone (event or poll).
        on_restart: called after every relaunch.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        on_lost: Callable[[], None] = lambda: None,
        on_restart: Callable[[], None] = lambda: None,
    ) -> None:
        self._settings = settings
        self._on_lost = on_lost
        self._on_restart = on_restart
        self._pw: Playwright | None = None
        self._context: BrowserContext | None = None
        self._browser: Browser | None = None
        self._alive = False
        self._closing = False
        self._lock = asyncio.Lock()
        self._spare: list[Page] = []
        self._windows = itertools.count(1)
        self.restarts = 0
        self.headless = resolve_headless(settings.headless)

    @property
    def context(self) -> BrowserContext | None:
        """The live browser context, if any."""
        return self._context

    async def start(self) -> None:
        """Start Playwright and the browser.

        Raises:
            ProfileLockedError: another browser holds the profile.
            BrowserError: the browser could not be started or reached.
        """
        from playwright.async_api import async_playwright

        self._pw = await async_playwright().start()
        await self._launch()

    async def _launch(self) -> None:
        assert self._pw is not None
        settings = self._settings
        if settings.cdp_url is not None:
            from playwright.async_api import Error as PlaywrightError

            try:
                browser = await self._pw.chromium.connect_over_cdp(settings.cdp_url, timeout=15_000)
            except PlaywrightError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise BrowserError(f"cannot attach to the browser at {settings.cdp_url}: {first}") from exc
            context = browser.contexts[0] if browser.contexts else await browser.new_context()
            log.info("browser.attached", cdp_url=settings.cdp_url)
            # A user's own browser: its tabs are not ours to reuse.
            self._spare = []
        else:
            context = await launch_persistent(
                self._pw,
                settings.profile,
                headless=self.headless,
                browser_path=settings.browser_path,
                channel=settings.channel,
            )
            browser = context.browser  # type: ignore[assignment]
            self._spare = [page for page in context.pages if page.url in ("about:blank", "")]
        self._context, self._browser, self._alive = context, browser, True
        context.on("close", lambda _: self._gone("context closed"))
        if browser is not None:
            browser.on("disconnected", lambda _: self._gone("browser disconnected"))
        await self._prime_bindings(context)

    async def _prime_bindings(self, context: BrowserContext) -> None:
        """Expose a first binding in the context now, on a throwaway page, before any notebook opens.

        Playwright's first ``expose_binding`` in a context installs its own binding in every page of
        the context, once, and remembers the outcome. If a page closes meanwhile, that failure is
        kept: every later ``expose_binding`` in the context fails with "Target page, context or
        browser has been closed", although the page is open. The daemon closes and reopens pages
        that fail to load while other pages install their observer, so under load it lost every
        notebook of the browser that way (tests/daemon/test_browser_host.py). Done here, nothing
        else is opening or closing pages.

        Raises:
            BrowserError: it failed; the next :meth:`ensure` relaunches the browser.
        """
        from playwright.async_api import Error as PlaywrightError

        try:
            page = await context.new_page()
            try:
                await page.expose_binding("__sentinelPrime", lambda _source: None)
            finally:
                await page.close()
        except PlaywrightError as exc:
            self._alive = False
            raise BrowserError(f"the browser did not take Playwright's binding: {_first_line(exc)}") from exc

    def _gone(self, why: str) -> None:
        if self._alive and not self._closing:
            log.warning("browser.lost", reason=why)
            self._alive = False
            self._on_lost()
        self._alive = False

    def check(self) -> bool:
        """Poll: is the browser still there? (Events can be missed; a killed process is not always reported.)"""
        if self._alive and self._browser is not None and not self._browser.is_connected():
            self._gone("browser not connected (poll)")
        return self._alive

    async def ensure(self) -> BrowserContext:
        """The live context, relaunching the browser first if it died (one relaunch for all callers).

        Raises:
            BrowserError: shutting down, or the relaunch failed (callers retry with backoff).
        """
        async with self._lock:
            if self._closing:
                raise BrowserError("the daemon is shutting down")
            if self.check() and self._context is not None:
                return self._context
            await self._discard()
            try:
                await self._launch()
            except ProfileLockedError as exc:
                # At start-up this is the user's mistake (exit 2); now it is just another failure.
                raise BrowserError(str(exc)) from exc
            self.restarts += 1
            log.warning("browser.relaunched", restarts=self.restarts)
            self._on_restart()
            assert self._context is not None
            return self._context

    async def new_page(self) -> Page:
        """A page for a notebook, in a window of its own (the launch's blank window first).

        One window per notebook, not one tab each: Chromium renders only the front tab of a
        window, so a background tab gets no animation frames, its clicks wait on actionability
        checks for seconds and Colab's own timers are throttled.
        """
        from playwright.async_api import Error as PlaywrightError

        context = await self.ensure()
        while self._spare:
            page = self._spare.pop()
            if not page.is_closed():
                return page
        try:
            return await self._new_window(context)
        except PlaywrightError as exc:
            if is_closed_error(exc):
                self._gone("new window failed")
                raise BrowserError(f"cannot open a window: {_first_line(exc)}") from exc
            log.info("browser.new_window_unavailable", error=_first_line(exc))
        try:
            return await context.new_page()
        except PlaywrightError as exc:
            self._gone("new_page failed")
            raise BrowserError(f"cannot open a tab: {_first_line(exc)}") from exc

    async def _new_window(self, context: BrowserContext) -> Page:
        if self._browser is None:
            return await context.new_page()
        # The fragment tells our page apart from a popup some notebook opens at the same moment.
        marker = f"about:blank#sentinel-{next(self._windows)}"
        cdp = await self._browser.new_browser_cdp_session()
        try:
            async with context.expect_event("page", lambda page: page.url == marker, timeout=10_000) as info:
                await cdp.send("Target.createTarget", {"url": marker, "newWindow": True})
            page: Page = await info.value
            return page
        finally:
            with contextlib.suppress(Exception):
                await cdp.detach()

    async def _discard(self) -> None:
        context, self._context, self._browser = self._context, None, None
        if context is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(context.close(), 5.0)

    async def close(self) -> None:
        """Close the browser (or detach from a CDP browser) and stop Playwright. Never raises."""
        self._closing = True
        self._alive = False
        context, browser = self._context, self._browser
        self._context = self._browser = None
        if self._settings.cdp_url is not None:
            # Leave the user's browser running: detach only (our own tabs are closed by their tabs).
            if browser is not None:
                with contextlib.suppress(Exception):
                    await browser.close()
        elif context is not None:
            with contextlib.suppress(Exception):
                await context.close()
        if self._pw is not None:
            pw, self._pw = self._pw, None
            with contextlib.suppress(Exception):
                await pw.stop()
        log.info("browser.closed")


class BrowserTab:
    """One notebook's page in the shared browser: the :class:`~sentinel.session.Tab` the session uses.

    Args:
        url: the notebook.
        host: the shared browser.
        frontends: the candidates for ``--frontend auto`` (or the one named).
        kind: ``auto`` or a frontend name.
        on_lost: called when this page crashes (the session reopens it).
    """

    def __init__(
        self,
        url: str,
        host: BrowserHost,
        frontends: Sequence[Frontend],
        kind: str,
        *,
        on_lost: Callable[[], None] = lambda: None,
        navigation_timeout: float = NAVIGATION_TIMEOUT,
    ) -> None:
        self.url = url
        self._host = host
        self._frontends = tuple(frontends)
        self._kind = kind
        self.on_lost = on_lost
        self._navigation_timeout = navigation_timeout
        self._page: Page | None = None
        self._frontend: Frontend | None = None
        self._popups: set[asyncio.Task[None]] = set()

    @property
    def page(self) -> Page | None:
        """The current page, if open."""
        return self._page

    async def open(self, on_signal: Callable[[Signal], None]) -> Attached:
        """Open a fresh page on the notebook, recognise it and install the observer.

        Raises:
            NotebookUnreachableError: the page did not load or answered an HTTP error.
            FrontendError: no frontend recognises the page.
            BrowserError: the browser is gone.
        """
        from playwright.async_api import Error as PlaywrightError

        page = await self._host.new_page()
        self._page = page
        page.on("crash", self._crashed)
        page.on("popup", self._popup)
        try:
            response = await page.goto(
                self.url, wait_until="domcontentloaded", timeout=self._navigation_timeout * 1000
            )
        except PlaywrightError as exc:
            if is_closed_error(exc):
                raise BrowserError(f"the tab closed while loading {self.url}") from exc
            raise NotebookUnreachableError(f"{self.url} did not load: {_first_line(exc)}") from exc
        if response is not None and response.status >= 400:
            raise NotebookUnreachableError(f"{self.url} answered HTTP {response.status}")
        frontend = await detect_frontend(page, self._frontends, self._kind)  # type: ignore[arg-type]
        await frontend.install(page, on_signal)
        self._frontend = frontend
        return Attached(page, frontend)

    def _crashed(self, page: Page) -> None:
        if page is self._page:
            log.warning("browser.page_crashed", notebook=self.url)
            self.on_lost()

    def _popup(self, popup: Page) -> None:
        # Only pages of notebooks the user listed get here, so their consent popups are accepted.
        task = asyncio.get_running_loop().create_task(self._complete_popup(popup))
        self._popups.add(task)
        task.add_done_callback(self._popups.discard)

    async def _complete_popup(self, popup: Page) -> None:
        frontend = self._frontend
        if frontend is None:
            return
        log.info("session.consent_popup", notebook=self.url)
        try:
            await frontend.complete_oauth_popup(popup)
        except SentinelError as exc:
            log.warning("session.consent_popup_failed", notebook=self.url, error=str(exc))

    async def close(self) -> None:
        """Close the page (bounded; a dead browser is fine)."""
        page, self._page, self._frontend = self._page, None, None
        for task in list(self._popups):
            task.cancel()
        if page is not None and not page.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(page.close(), 5.0)


class _Hooks(SessionHooks):
    """Forwards what sessions report to the alert policy, the notifier and the metrics."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    @override
    async def state_changed(self, session: Session, old: SessionState, new: SessionState) -> None:
        d = self._daemon
        reason: str | None = None
        if new is SessionState.BLOCKED and session.blocked_reason is not None:
            reason = session.blocked_reason.value
        elif new is SessionState.ERROR:
            reason = session.last_error
        d.alert(d.alerts.state_changed(session.url, new.value, reason=reason))
        d.metrics.set_blocked(session.url, new is SessionState.BLOCKED)
        if new is SessionState.CONNECTED:
            d.metrics.set_consecutive_failures(session.url, 0)

    @override
    async def reconnect_failed(self, session: Session, error: str) -> None:
        d = self._daemon
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
    async def unclassified(self, session: Session, bundle: Path | None, detail: str) -> None:
        where = f"\nDebug bundle: {bundle}" if bundle else ""
        self._daemon.send(
            f"sentinel: {notebook_name(session.url)} shows something sentinel does not recognise",
            f"{session.url}\nFor {session.policy.unclassified_after:g} s the page has shown: {detail[:300]}{where}",
            Level.WARNING,
        )

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

    Raises:
        UsageError: (from the constructor) bad URLs, selectors file or notification URLs.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        policy: SessionPolicy | None = None,
        frontends: Sequence[Frontend] | None = None,
        notifier: Notifier | None = None,
        status: bool = True,
    ) -> None:
        self.settings = settings
        self.urls = check_urls(settings.urls)
        self.policy = policy or SessionPolicy.from_settings(settings)
        self.frontends = (
            tuple(frontends)
            if frontends is not None
            else make_frontends(settings.frontend, settings.selectors)
        )
        self.notifier = notifier if notifier is not None else Notifier.from_settings(settings)
        self.alerts = AlertPolicy.from_settings(settings)
        self.metrics = Metrics()
        self.should_exit = False
        self.force_exit = False
        self.started = asyncio.Event()
        self.sessions: list[Session] = []
        self.tabs: list[BrowserTab] = []
        self.progress: dict[str, dict[str, Any]] = {}
        # Seconds between reads of the resume cell's output for ``[sentinel]`` progress lines.
        self.progress_interval = PROGRESS_INTERVAL
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
        """Open the state dir, the status server and the browser; start one session per notebook.

        Raises:
            UsageError: state dir locked, profile locked, status address in use.
            BrowserError: the browser could not be started.
        """
        settings = self.settings
        self.store = StateStore.open(settings.state_dir)
        for url in self.urls:
            self.metrics.add_notebook(url)
        if self._status_enabled:
            self.status_server = StatusServer(settings, self.snapshot, self.metrics)
            await self.status_server.start()
        self.host = BrowserHost(
            settings, on_lost=self._browser_lost, on_restart=self.metrics.browser_restarted
        )
        await self.host.start()
        debug_dir = settings.state_dir / "debug"
        for url in self.urls:
            tab = BrowserTab(url, self.host, self.frontends, settings.frontend)
            session = Session(
                url, tab, self.store, policy=self.policy, hooks=self._hooks, debug_dir=debug_dir
            )
            tab.on_lost = session.page_lost
            self.tabs.append(tab)
            self.sessions.append(session)
            self._tasks[session] = self._spawn(session.run(), f"session {url}")
        self._spawn(self._progress_loop(), "progress")
        self.metrics.heartbeat()
        log.info(
            "daemon.started",
            notebooks=len(self.urls),
            headless=self.host.headless,
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

    async def shutdown(self) -> None:
        """Stop sessions, close tabs, browser, status server and state store, within ``shutdown_timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.shutdown_timeout - 0.5
        self.should_exit = True
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
        if self.host is not None:
            await self._within(self.host.close(), deadline, "browser")
        if self.status_server is not None:
            await self._within(self.status_server.stop(), deadline, "status server")
        if self.store is not None:
            self.store.close()
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
                policy=self.policy,
                hooks=self._hooks,
                debug_dir=self.settings.state_dir / "debug",
            )
            tab.on_lost = fresh.page_lost
            self.sessions[self.sessions.index(session)] = fresh
            del self._tasks[session]
            self._tasks[fresh] = self._spawn(fresh.run(), f"session {session.url}")

    def _browser_lost(self) -> None:
        if self.should_exit:
            return
        for session in self.sessions:
            session.page_lost()

    def alert(self, alerts: Sequence[Any]) -> None:
        """Send the alert policy's alerts in the background."""
        for item in alerts:
            self._spawn(self._deliver(self.notifier.send_alert(item)), "notify")

    def send(self, title: str, body: str, level: Level = Level.INFO) -> None:
        """Send one notification in the background."""
        self._spawn(self._deliver(self.notifier.send(title, body, level=level)), "notify")

    @staticmethod
    async def _deliver(call: Awaitable[object]) -> None:
        await call

    async def _progress_loop(self) -> None:
        from sentinel.notebook import parse_report

        while not self.should_exit:
            for session in list(self.sessions):
                frontend, page, cell = session.frontend, session.page, session.resume_cell
                if frontend is None or page is None or cell is None:
                    continue
                try:
                    text = await frontend.cell_output(page, cell)
                except SentinelError:
                    continue
                for line in reversed(text.splitlines()):
                    record = parse_report(line)
                    if record is not None:
                        self.progress[session.url] = record
                        break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit.wait(), self.progress_interval)

    # --- status ---

    def snapshot(self) -> StatusSnapshot:
        """The daemon now, for ``/status`` and the demo's table."""
        notebooks = []
        for session in self.sessions:
            record = self.store.record(session.url) if self.store is not None else None
            notebooks.append(
                NotebookStatus(
                    url=session.url,
                    state=session.state.value,
                    since=datetime.fromtimestamp(session.since, UTC),
                    reconnects=record.reconnects if record else session.counters.reconnects,
                    resumes=record.resumes if record else session.counters.resumes,
                    blocked_reason=session.blocked_reason.value if session.blocked_reason else None,
                    last_error=session.last_error,
                    progress=format_progress(self.progress.get(session.url)),
                )
            )
        return StatusSnapshot(
            notebooks=tuple(notebooks),
            started_at=self.started_at,
            browser_restarts=self.host.restarts if self.host else 0,
        )


def format_progress(record: dict[str, Any] | None) -> str | None:
    """``{"step": 1200, "total": 5000, "loss": 0.31}`` -> ``'step 1200/5000 loss=0.31'``."""
    if not record:
        return None
    step, total = record.get("step"), record.get("total")
    text = f"step {step}/{total}" if total is not None else f"step {step}"
    extras = [
        f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
        for key, value in record.items()
        if key not in ("step", "total")
        and isinstance(value, int | float | str)
        and not isinstance(value, bool)
    ]
    return " ".join([text, *extras[:3]])


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


__all__ = ["BrowserHost", "BrowserTab", "Daemon", "check_urls", "format_progress"]
