"""One notebook's session: the loop that follows its page and the policy that decides each step.

A :class:`Session` turns what its page shows (an :class:`~sentinel.frontends.base.Observation`,
pushed by the in-page observer or pulled by a slow safety poll) into at most one action per step:
press a dialog button, reconnect, run the resume cell, or produce a keep-alive input. It knows
nothing about Playwright: the page is an opaque object reached through a
:class:`~sentinel.session.Tab` and a :class:`~sentinel.frontends.base.Frontend`, so the whole policy
runs against ``FakeFrontend`` and a fake clock in unit tests.

Failure taxonomy (after SkyPilot's managed jobs; resilience.md item 9):

============================  ===================================================================
class                         what the session does
============================  ===================================================================
transient                     disconnect, crash, page or browser gone: always recover, retrying
                              with exponential backoff and jitter. A page that does not load is
                              ``unreachable`` meanwhile.
needs a human (``blocked``)   captcha, signed out, GPU usage limit, too many sessions: notify, never
                              click, never hammer; retry the quota ones at a slow fixed pace.
fatal for this notebook       resume marker missing, resume cell could not be started after
(``error``)                   ``max_resume_attempts``: notify and stop acting on this notebook only.
============================  ===================================================================
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from sentinel.errors import (
    BrowserError,
    FrontendError,
    IllegalTransitionError,
    NotebookUnreachableError,
    ResumeMarkerNotFoundError,
    SelectorNotFoundError,
    SentinelError,
)
from sentinel.frontends.base import Action, Connection, Dialog, Frontend, Observation, Signal
from sentinel.session._policy import Backoff, SessionPolicy
from sentinel.session._ports import CounterName, Ledger, SessionHooks, Tab
from sentinel.session._state import TRANSITIONS, BlockedReason, ErrorKind, SessionState, check_transition

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class Counters:
    """What a session has done since the daemon started (the ledger keeps lifetime totals)."""

    reconnects: int = 0
    reconnect_attempts: int = 0
    resumes: int = 0
    crashes: int = 0
    keepalives: int = 0
    dialogs_answered: int = 0
    page_reopens: int = 0


@dataclass(slots=True)
class ConnectAttempt:
    """A connect of ours in flight (a click on Connect, Reconnect or "Connect without GPU").

    Attributes:
        at: when we clicked (monotonic seconds); None while no connect of ours is in flight.
        first: it is the first connect at start-up (not counted as a reconnect).
        clicked: something was actually clicked (the page may already have been connecting).
        seen_connecting: the page has shown Connecting since (so a later Disconnected is a failure).
    """

    at: float | None = None
    first: bool = False
    clicked: bool = False
    seen_connecting: bool = False

    def start(self, now: float, *, first: bool = False) -> None:
        self.at, self.first, self.clicked, self.seen_connecting = now, first, True, False

    def clear(self) -> None:
        self.at = None


@dataclass(slots=True)
class RuntimeTracker:
    """Which runtime the page is attached to, and whether its resume is still due.

    Attributes:
        runtime_id: the attached runtime's identity (Colab's managed id, else ``local-N``).
        epoch: the N of ``local-N``, bumped on every reconnect and crash seen when the page gives
            no identity of its own.
        lost: a disconnect or Connecting was seen since the last connected runtime.
        seen_connected: any runtime has been seen connected since the session started.
        pending_resume: the runtime whose resume cell is due.
        resume_attempts: starts of the resume cell tried in this runtime.
        started_for: the runtime our last start of the resume cell was for (a start that raced a
            lost page is recognised by the cell running in that runtime).
    """

    runtime_id: str | None = None
    epoch: int = 0
    lost: bool = False
    seen_connected: bool = False
    pending_resume: str | None = None
    resume_attempts: int = 0
    started_for: str | None = None

    def see(self, obs: Observation, *, crashed: bool) -> tuple[str, bool] | None:
        """Follow ``obs``; ``(runtime id, first sight)`` when it shows a runtime new to us, else None."""
        if obs.connection is not Connection.CONNECTED:
            if obs.connection in (Connection.DISCONNECTED, Connection.CONNECTING):
                self.lost = True
            return None
        key = obs.runtime_id
        if key is None:
            if self.runtime_id is None or self.lost or crashed:
                self.epoch += 1
                key = f"local-{self.epoch}"
            else:
                key = self.runtime_id
        self.lost = False
        first_sight = not self.seen_connected
        self.seen_connected = True
        if key == self.runtime_id:
            return None
        self.runtime_id = key
        self.resume_attempts = 0
        return key, first_sight


@dataclass(slots=True)
class UnclassifiedWatch:
    """How long the page has shown something nobody recognises, and whether its bundle was written."""

    since: float | None = None
    bundle_written: bool = False

    def due(self, odd: bool, now: float, after: float) -> bool:
        """Whether a debug bundle is due now (once per episode of ``after`` seconds of oddness)."""
        if not odd:
            self.since, self.bundle_written = None, False
            return False
        if self.since is None:
            self.since = now
            return False
        if self.bundle_written or now - self.since < after:
            return False
        self.bundle_written = True
        return True


# Dialogs the policy answers by itself, and how. Consent dialogs are accepted because every
# session's page is a notebook the user listed on the command line.
_ANSWERS: dict[Dialog, Action] = {
    Dialog.STILL_THERE: Action.YES,
    Dialog.EXTERNAL_NOTEBOOK: Action.RUN_ANYWAY,
    Dialog.DRIVE_CONSENT: Action.CONNECT,
    Dialog.CREDENTIALS: Action.ALLOW,
    # "Switch to a high-RAM runtime?" changes the runtime type (and maybe the bill): not our call.
    Dialog.OOM_SWITCH: Action.NO,
}


class Session:
    """One notebook kept alive: its state, counters, and the loop that follows its page.

    Args:
        url: the notebook URL (also the key in the ledger and notifications).
        tab: opens the page (see :class:`Tab`).
        ledger: durable resume and counter store.
        policy: the tunables.
        hooks: receives what happens (notifications, metrics).
        debug_dir: where debug bundles go (``<state dir>/debug``).
        clock: monotonic seconds; inject a fake clock in tests.
        wall_clock: epoch seconds, for ``since``.
        rng: randomness for jitter (seed it in tests).
    """

    def __init__(
        self,
        url: str,
        tab: Tab,
        ledger: Ledger,
        *,
        policy: SessionPolicy | None = None,
        hooks: SessionHooks | None = None,
        debug_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self.policy = policy or SessionPolicy()
        self._tab = tab
        self._ledger = ledger
        self._hooks = hooks or SessionHooks()
        self._debug_dir = debug_dir
        self._clock = clock
        self._wall = wall_clock
        self._rng = rng or random.Random()
        self._backoff = Backoff(
            base=self.policy.backoff_base,
            factor=self.policy.backoff_factor,
            cap=self.policy.backoff_cap,
            jitter=self.policy.backoff_jitter,
            rng=self._rng,
        )
        self._log = log.bind(notebook=url)

        self.state = SessionState.STARTING
        self.since = self._wall()
        # Why a human is needed; set exactly while the state is BLOCKED.
        self.blocked_reason: BlockedReason | None = None
        # Why sentinel stopped acting on the notebook; set exactly while the state is ERROR.
        self.error_kind: ErrorKind | None = None
        # The latest problem in words (an error's message, a failed reconnect, a lost page).
        self.last_error: str | None = None
        self.counters = Counters()
        # Consecutive failed reconnects (reset when a runtime is connected).
        self.failures = 0
        self.resume_cell: str | None = None
        self.observation: Observation | None = None

        # The page and how it is reached.
        self._page: Any = None
        self._frontend: Frontend | None = None
        self._reopen = True
        self._open_failures = 0
        self._step_errors = 0
        self._popups: set[asyncio.Task[None]] = set()
        # What the policy keeps track of, each with its owner.
        self._runtime = RuntimeTracker()
        self._attempt = ConnectAttempt()
        self._unclassified = UnclassifiedWatch()
        self._answered: dict[Dialog, float] = {}  # dialog -> when we last pressed a button in it
        # Deadlines (monotonic seconds).
        self._next_attempt = 0.0
        self._next_keepalive: float | None = None
        self._blocked_until: float | None = None
        # The newest pushed observation not yet stepped on, and the loop's wake-up.
        self._signalled: Observation | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    # --- what the outside sees ----------------------------------------------------------------

    @property
    def runtime_id(self) -> str | None:
        """The identity of the runtime the page is attached to (a ``local-N`` epoch when the page gives none)."""
        return self._runtime.runtime_id

    @property
    def page(self) -> Any:
        """The current page (None while the tab is being reopened)."""
        return self._page

    @property
    def frontend(self) -> Frontend | None:
        """The frontend that recognised the page, once attached."""
        return self._frontend

    def stop(self) -> None:
        """Ask :meth:`run` to return at its next wake-up (immediately if it is waiting)."""
        self._stopping = True
        self._wake.set()

    def page_lost(self) -> None:
        """The daemon saw the page or browser die: reopen the tab at the next wake-up."""
        self._reopen = True
        self._wake.set()

    def popup_opened(self, popup: Any) -> None:
        """The notebook's page opened ``popup``: complete it if it is a Google consent popup.

        Consent (Drive, credentials) is accepted because every session's page is a notebook the
        user listed; the frontend leaves any other popup alone.
        """
        if self._frontend is None or self._stopping:
            return
        task = asyncio.get_running_loop().create_task(self._complete_popup(self._frontend, popup))
        self._popups.add(task)
        task.add_done_callback(self._popups.discard)

    async def _complete_popup(self, frontend: Frontend, popup: Any) -> None:
        self._log.info("session.consent_popup")
        try:
            await frontend.complete_oauth_popup(popup)
        except SentinelError as exc:
            self._log.warning("session.consent_popup_failed", error=str(exc))

    # --- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Follow the page until :meth:`stop`: open it, then step on every report or poll."""
        try:
            while not self._stopping:
                if self.state is SessionState.ERROR:
                    # Nothing to do until a person changes something (and restarts sentinel).
                    await self._sleep(self.policy.poll_interval)
                    continue
                if self._reopen:
                    if not await self.open():
                        continue
                    await self._step_guarded(None)
                    continue
                await self._sleep(self._sleep_budget())
                # (a method call: mypy would otherwise keep the flags narrowed across the await)
                if self._interrupted():
                    continue
                observation, self._signalled = self._signalled, None
                await self._step_guarded(observation)
        finally:
            self._stopping = True
            for task in list(self._popups):
                task.cancel()
            if self.state is not SessionState.STOPPED:
                await self._move(SessionState.STOPPED)

    def _interrupted(self) -> bool:
        return self._stopping or self._reopen

    async def _step_guarded(self, observation: Observation | None) -> None:
        try:
            await self.step(observation)
            self._step_errors = 0
        except BrowserError as exc:
            # The page or the whole browser died under us; the daemon relaunches the browser if
            # needed and the tab opens a new page.
            self._log.warning("session.page_lost", error=str(exc))
            self.last_error = f"page lost: {exc}"
            self._reopen = True
        except FrontendError as exc:
            # A transient page problem (an evaluate during a navigation, a JS error): the next
            # report or poll looks again.
            self._log.info("session.step_failed", error=str(exc))
        except Exception:
            # A bug must not take the notebook down for good: log it, then start from a fresh
            # page after a pause that grows if it keeps happening.
            self._step_errors += 1
            self._log.exception("session.step_crashed", errors=self._step_errors)
            self._reopen = True
            await self._sleep(self._backoff.delay(self._step_errors))

    async def open(self) -> bool:
        """Open (or reopen) the tab once; True when a page is attached. :meth:`run` calls it itself.

        On failure the session is ``unreachable`` (the page did not load or was not recognised) or
        unchanged (browser being relaunched) and this waits out the backoff before returning False.
        """
        self._page = None
        self._frontend = None
        await self._tab.close()
        # An unreachable notebook stays there until its page loads: flipping unreachable ->
        # starting -> unreachable on every retry would read as a new incident each time.
        if self.state not in (SessionState.STARTING, SessionState.UNREACHABLE):
            await self._move(SessionState.STARTING)
        try:
            attached = await self._tab.open(self._on_signal)
        except (NotebookUnreachableError, FrontendError) as exc:
            self._open_failures += 1
            self.last_error = str(exc)
            delay = self._backoff.delay(self._open_failures)
            self._log.warning("session.open_failed", error=str(exc), retry_in=round(delay, 1))
            if self.state is not SessionState.UNREACHABLE:
                await self._move(SessionState.UNREACHABLE)
            await self._call_hook(self._hooks.open_failed(self, str(exc)))
            await self._sleep(delay)
            return False
        except BrowserError as exc:
            # Not the notebook's fault: the browser is being relaunched. Retry soon, stay put.
            self._open_failures += 1
            delay = min(self._backoff.delay(self._open_failures), 5.0)
            self._log.info("session.browser_unavailable", error=str(exc), retry_in=round(delay, 1))
            await self._sleep(delay)
            return False
        if self._stopping:
            return False
        self._open_failures = 0
        self._page, self._frontend = attached.page, attached.frontend
        self._reopen = False
        self._signalled = None
        if self.state is SessionState.UNREACHABLE:
            self.last_error = None
            await self._move(SessionState.STARTING)
        self._count("page_reopens")
        self._answered.clear()
        self._log.info("session.page_opened", frontend=attached.frontend.name)
        return True

    def _on_signal(self, signal: Signal) -> None:
        self._signalled = signal.observation
        self._wake.set()
        try:
            self._hooks.signal_received(self, signal)
        except Exception:
            self._log.exception("session.hook_failed")

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0 or self._stopping:
            return
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    def _sleep_budget(self) -> float:
        now = self._clock()
        deadlines = [self.policy.poll_interval + now]
        attempt = self._attempt
        if self.state is SessionState.DISCONNECTED:
            deadlines.append(self._next_attempt)
        if self._next_keepalive is not None and self.state is SessionState.CONNECTED:
            deadlines.append(self._next_keepalive)
        if self._blocked_until is not None and self.state is SessionState.BLOCKED:
            deadlines.append(self._blocked_until)
        if attempt.at is not None:
            deadlines += [attempt.at + self.policy.action_grace, attempt.at + self.policy.connect_timeout]
        watch = self._unclassified
        if watch.since is not None and not watch.bundle_written:
            deadlines.append(watch.since + self.policy.unclassified_after)
        # Deadlines already passed were handled by the step that just ran (or cannot be acted on
        # yet, e.g. a reconnect behind an open dialog): they must not turn the loop into a spin.
        return max(0.02, min(d for d in deadlines if d > now) - now)

    # --- the policy ---------------------------------------------------------------------------

    async def step(self, observation: Observation | None = None) -> None:
        """Classify the page (or use ``observation``) and take at most one action.

        Raises:
            BrowserError: the page or browser is gone (``run`` reopens the tab).
        """
        if self.state in (SessionState.STOPPED, SessionState.ERROR) or self._frontend is None:
            return
        obs = observation if observation is not None else await self._frontend.observe(self._page)
        now = self._clock()
        previous, self.observation = self.observation, obs
        self._track_runtime(obs, previous)
        if await self._needs_human(obs):
            return
        if await self._answer_dialogs(obs, now):
            return
        await self._watch_unclassified(obs, now)
        if self._in(SessionState.ERROR) or await self._waiting_out_quota(obs, now):
            return
        if obs.connection is Connection.CONNECTED:
            await self._on_connected(obs, now)
        elif obs.connection is Connection.CONNECTING:
            await self._on_connecting(now)
        elif obs.connection is Connection.DISCONNECTED:
            await self._on_disconnected(obs, now)

    def _track_runtime(self, obs: Observation, previous: Observation | None) -> None:
        crashed = obs.crash_toast is not None and obs.crash_toast != (previous and previous.crash_toast)
        if crashed:
            self._count("crashes")
            self._log.warning("session.runtime_crashed", toast=obs.crash_toast)
        fresh = self._runtime.see(obs, crashed=crashed)
        if fresh is None:
            return
        key, first_sight = fresh
        if not (self.policy.resume or self.policy.run_all):
            self._log.info("session.runtime_fresh", runtime_id=key, resume="disabled")
            return
        if self._ledger.was_resumed(self.url, key):
            self._log.info("session.resume_already_done", runtime_id=key)
            return
        if first_sight and obs.busy:
            # At start-up a runtime that is already working is left alone: the resume cell (or
            # the user) is running in it. Recorded so a restart leaves it alone as well.
            self._log.info("session.runtime_adopted", runtime_id=key)
            self._ledger.mark_resumed(self.url, key)
            return
        self._log.info("session.runtime_fresh", runtime_id=key, resume="pending")
        self._runtime.pending_resume = key

    async def _needs_human(self, obs: Observation) -> bool:
        reason: BlockedReason | None = None
        if Dialog.CAPTCHA in obs.dialogs:
            reason = BlockedReason.CAPTCHA
        elif Dialog.SIGN_IN_REQUIRED in obs.dialogs or obs.signed_in is False:
            reason = BlockedReason.SIGNED_OUT
        if reason is None:
            # A captcha or sign-in that went away: the connection logic below moves the state
            # on, and leaving BLOCKED clears the reason (never a BLOCKED without one).
            return False
        await self._block(reason, retry_at=None)
        return True

    async def _block(self, reason: BlockedReason, *, retry_at: float | None) -> None:
        self._attempt.clear()
        self._blocked_until = retry_at
        if self.state is SessionState.BLOCKED and self.blocked_reason is reason:
            return
        self.blocked_reason = reason
        self._log.warning("session.blocked", reason=reason.value)
        await self._move(SessionState.BLOCKED)

    async def _answer_dialogs(self, obs: Observation, now: float) -> bool:
        for dialog in obs.dialogs:
            if dialog is Dialog.GPU_LIMIT:
                return await self._on_gpu_limit(now)
            if dialog is Dialog.TOO_MANY_SESSIONS:
                await self._block(BlockedReason.TOO_MANY_SESSIONS, retry_at=now + self.policy.quota_retry)
                await self._answer(Dialog.TOO_MANY_SESSIONS, Action.CLOSE, now)
                return True
            action = _ANSWERS.get(dialog)
            if action is not None and await self._answer(dialog, action, now):
                return True
        return False

    async def _on_gpu_limit(self, now: float) -> bool:
        mode = self.policy.on_gpu_limit
        if mode == "cpu":
            self._log.warning("session.gpu_limit", action="connect without GPU")
            if await self._answer(Dialog.GPU_LIMIT, Action.CONNECT_WITHOUT_GPU, now):
                self._attempt.start(now)
                self._count("reconnect_attempts")
                if self.state not in (SessionState.RECONNECTING, SessionState.CONNECTING):
                    if SessionState.RECONNECTING not in TRANSITIONS[self.state]:
                        await self._move(SessionState.DISCONNECTED)
                    await self._move(SessionState.RECONNECTING)
            return True
        retry_at = now + self.policy.quota_retry if mode == "wait" else None
        await self._block(BlockedReason.GPU_LIMIT, retry_at=retry_at)
        await self._answer(Dialog.GPU_LIMIT, Action.CLOSE, now)
        return True

    async def _answer(self, dialog: Dialog, action: Action, now: float) -> bool:
        """Press ``action`` in ``dialog`` unless we just did; True when a click was made."""
        assert self._frontend is not None
        last = self._answered.get(dialog)
        if last is not None and now - last < self.policy.answer_interval:
            return False
        self._answered[dialog] = now
        try:
            await self._frontend.answer(self._page, dialog, action)
        except SelectorNotFoundError as exc:
            # The dialog went away between the report and the click (a human, or a stale report).
            self._log.info("session.dialog_gone", dialog=dialog.value, error=str(exc))
            return False
        except BrowserError:
            raise
        except FrontendError as exc:
            self._log.warning(
                "session.answer_failed", dialog=dialog.value, action=action.value, error=str(exc)
            )
            return False
        self._count("dialogs_answered")
        self._log.info("session.dialog_answered", dialog=dialog.value, action=action.value)
        return True

    async def _watch_unclassified(self, obs: Observation, now: float) -> None:
        odd = (
            obs.unclassified is not None
            or Dialog.UNKNOWN in obs.dialogs
            or obs.connection is Connection.UNKNOWN
        )
        if not self._unclassified.due(odd, now, self.policy.unclassified_after):
            return
        detail = obs.unclassified or f"connect button reads {obs.connect_text!r}"
        bundle: Path | None = None
        if self._debug_dir is not None and self._frontend is not None:
            try:
                bundle = await self._frontend.debug_bundle(self._page, self._debug_dir)
            except BrowserError:
                raise
            except (FrontendError, OSError) as exc:
                self._log.warning("session.debug_bundle_failed", error=str(exc))
        self._log.warning("session.unclassified", detail=detail[:200], bundle=str(bundle) if bundle else None)
        await self._call_hook(self._hooks.unclassified(self, bundle, detail))

    async def _waiting_out_quota(self, obs: Observation, now: float) -> bool:
        if self.state is not SessionState.BLOCKED or obs.connection is Connection.CONNECTED:
            return False
        if self.blocked_reason not in (BlockedReason.GPU_LIMIT, BlockedReason.TOO_MANY_SESSIONS):
            return False
        if self._attempt.at is not None:
            # Our retry is in flight: let the connection logic watch it.
            return False
        if self._blocked_until is None or now < self._blocked_until:
            return True
        # Time to try again. The notebook stays blocked while the attempt runs, so a quota that
        # is still exhausted is not a new incident (and not a new notification).
        self._log.info(
            "session.quota_retry", reason=self.blocked_reason.value if self.blocked_reason else None
        )
        self._blocked_until = None
        await self._click_connect(now)
        return True

    async def _on_connected(self, obs: Observation, now: float) -> None:
        attempt = self._attempt
        if attempt.at is not None and attempt.clicked and not attempt.first:
            self._count("reconnects")
            self._ledger.bump(self.url, "reconnects")
            self._log.info("session.reconnected", attempts=self.failures + 1, runtime_id=self.runtime_id)
            await self._call_hook(self._hooks.reconnect_succeeded(self))
        attempt.clear()
        attempt.first = False
        self.failures = 0
        if self._runtime.pending_resume is not None:
            await self._resume(obs, now)
            return
        if self.state is not SessionState.CONNECTED:
            await self._move(SessionState.CONNECTED)
        await self._keepalive(now)

    async def _resume(self, obs: Observation, now: float) -> None:
        runtime = self._runtime
        assert self._frontend is not None and runtime.pending_resume is not None
        key = runtime.pending_resume
        if self.state is not SessionState.RESUMING:
            await self._move(SessionState.RESUMING)
        if obs.busy or obs.dialogs:
            if runtime.started_for == key and obs.busy:
                # Our start raced a lost page: the cell is running, so it did start.
                self._finish_resume(key, self.resume_cell)
                await self._after_resume(key, now)
            # Never while a cell runs: the resume would queue behind it (and a dialog would
            # swallow the click); wait for the next report.
            return
        runtime.resume_attempts += 1
        runtime.started_for = key
        try:
            if self.policy.run_all:
                await self._frontend.run_all(self._page)
                cell: str | None = None
            else:
                cell = await self._frontend.run_cell_with_marker(self._page, self.policy.resume_marker)
        except ResumeMarkerNotFoundError as exc:
            runtime.started_for = None
            runtime.pending_resume = None
            self._log.error("session.resume_marker_missing", marker=self.policy.resume_marker)
            await self._fail(
                ErrorKind.RESUME_MARKER_MISSING,
                f"{exc}; add a code cell containing it, or run with --no-resume",
            )
            return
        except BrowserError:
            raise
        except FrontendError as exc:
            runtime.started_for = None
            self.last_error = f"resume cell could not be started: {exc}"
            self._log.warning("session.resume_failed", error=str(exc), attempt=runtime.resume_attempts)
            if runtime.resume_attempts >= self.policy.max_resume_attempts:
                runtime.pending_resume = None
                await self._fail(ErrorKind.RESUME_NOT_STARTED, self.last_error)
            return
        self._finish_resume(key, cell)
        await self._after_resume(key, now)

    def _finish_resume(self, key: str, cell: str | None) -> None:
        self._ledger.mark_resumed(self.url, key)
        self._runtime.pending_resume = None
        self._runtime.started_for = None
        self.resume_cell = cell
        self._count("resumes")
        self._log.info("session.resumed", runtime_id=key, cell=cell, run_all=self.policy.run_all)

    async def _after_resume(self, key: str, now: float) -> None:
        await self._call_hook(self._hooks.resumed(self, key, self.resume_cell))
        await self._move(SessionState.CONNECTED)
        self._schedule_keepalive(now)

    async def _keepalive(self, now: float) -> None:
        assert self._frontend is not None
        if self._next_keepalive is None:
            self._schedule_keepalive(now)
            return
        if now < self._next_keepalive:
            return
        self._schedule_keepalive(now)
        try:
            await self._frontend.keepalive(self._page)
        except BrowserError:
            raise
        except FrontendError as exc:
            self._log.warning("session.keepalive_failed", error=str(exc))
            return
        self._count("keepalives")
        self._log.debug("session.keepalive", count=self.counters.keepalives)

    def _schedule_keepalive(self, now: float) -> None:
        spread = self.policy.keepalive_jitter
        self._next_keepalive = now + self.policy.keepalive_interval * self._rng.uniform(
            1 - spread, 1 + spread
        )

    async def _on_connecting(self, now: float) -> None:
        attempt = self._attempt
        if attempt.at is not None and self.state in (
            SessionState.RECONNECTING,
            SessionState.CONNECTING,
            SessionState.BLOCKED,
        ):
            attempt.seen_connecting = True
            if now - attempt.at >= self.policy.connect_timeout:
                await self._failed(now, f"no runtime after {self.policy.connect_timeout:g} s of Connecting")
            return
        if self.state not in (SessionState.CONNECTING, SessionState.RECONNECTING):
            # Colab restarting a crashed runtime, or a human clicking Connect.
            await self._move(SessionState.CONNECTING)

    async def _on_disconnected(self, obs: Observation, now: float) -> None:
        attempt = self._attempt
        if attempt.at is not None:
            waited = now - attempt.at
            if not attempt.seen_connecting and waited < self.policy.action_grace:
                # Our click has not shown on the page yet (or this report predates it).
                return
            await self._failed(now, "the runtime did not connect" + _dialog_hint(obs))
            return
        self._next_keepalive = None
        if self.state is SessionState.STARTING:
            await self._reconnect(now, first=True)
            return
        if self.state is not SessionState.DISCONNECTED:
            self._log.warning("session.disconnected", dialog=Dialog.RUNTIME_DISCONNECTED in obs.dialogs)
            await self._move(SessionState.DISCONNECTED)
        if now >= self._next_attempt:
            await self._reconnect(now, first=False)

    async def _reconnect(self, now: float, *, first: bool) -> None:
        await self._move(SessionState.CONNECTING if first else SessionState.RECONNECTING)
        await self._click_connect(now, first=first)

    async def _click_connect(self, now: float, *, first: bool = False) -> None:
        assert self._frontend is not None
        self._attempt.start(now, first=first)
        self._count("reconnect_attempts")
        self._log.info("session.reconnecting", attempt=self.failures + 1, first=first)
        try:
            await self._frontend.reconnect(self._page)
        except BrowserError:
            raise
        except SelectorNotFoundError as exc:
            await self._failed(now, f"no connect button: {exc}")
        except FrontendError as exc:
            # The page already shows a runtime (connected or connecting): nothing to click.
            # Keep watching it like our own connect (same grace, same timeout) without counting
            # a reconnect that nobody clicked.
            self._attempt.clicked = False
            self._log.info("session.reconnect_not_needed", reason=str(exc))

    async def _failed(self, now: float, error: str) -> None:
        self.failures += 1
        self.last_error = error
        self._attempt.clear()
        delay = self._backoff.delay(self.failures)
        self._next_attempt = now + delay
        self._log.warning(
            "session.reconnect_failed", error=error, failures=self.failures, retry_in=round(delay, 1)
        )
        if self.state is not SessionState.DISCONNECTED:
            await self._move(SessionState.DISCONNECTED)
        await self._call_hook(self._hooks.reconnect_failed(self, error))
        if self.failures % self.policy.reload_after_failures == 0:
            # A page that keeps failing may have lost its own connection to the server (an
            # outage closed its socket): a fresh page is the cheapest cure.
            self._log.info("session.reopening_tab", failures=self.failures)
            self._reopen = True

    def _in(self, *states: SessionState) -> bool:
        # A call rather than an inline test: the awaits before it may have moved the state.
        return self.state in states

    async def _fail(self, kind: ErrorKind, message: str) -> None:
        """Stop acting on this notebook: state ``error`` with its kind and message (both always set)."""
        self.error_kind, self.last_error = kind, message
        await self._move(SessionState.ERROR)

    def _count(self, counter: CounterName) -> None:
        setattr(self.counters, counter, getattr(self.counters, counter) + 1)
        try:
            self._hooks.counted(self, counter)
        except Exception:
            self._log.exception("session.hook_failed")

    async def _move(self, new: SessionState) -> None:
        old = self.state
        if old is new:
            return
        check_transition(old, new)
        # The state never lies: a blocked notebook says why, a notebook in error says what.
        if new is SessionState.BLOCKED and self.blocked_reason is None:
            raise IllegalTransitionError("A session cannot be blocked without a reason.")
        if new is SessionState.ERROR and (self.error_kind is None or not self.last_error):
            raise IllegalTransitionError("A session cannot be in error without an error kind and message.")
        self.state = new
        self.since = self._wall()
        if old is SessionState.BLOCKED:
            self._log.info(
                "session.unblocked", reason=self.blocked_reason.value if self.blocked_reason else None
            )
            self.blocked_reason = None
            self._blocked_until = None
        self._log.info(
            "session.state",
            old=old.value,
            new=new.value,
            reason=self.blocked_reason.value if new is SessionState.BLOCKED and self.blocked_reason else None,
            error=self.last_error if new is SessionState.ERROR else None,
        )
        self._ledger.set_state(self.url, new.value)
        await self._call_hook(self._hooks.state_changed(self, old, new))

    async def _call_hook(self, call: Awaitable[None]) -> None:
        try:
            await call
        except Exception:
            self._log.exception("session.hook_failed")


def _dialog_hint(obs: Observation) -> str:
    return f" ({', '.join(d.value for d in obs.dialogs)} shown)" if obs.dialogs else ""


__all__ = ["ConnectAttempt", "Counters", "RuntimeTracker", "Session", "UnclassifiedWatch"]
