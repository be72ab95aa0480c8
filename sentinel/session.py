"""One notebook's state machine and the policy that drives it: reconnect, resume once, block, or give up.

A :class:`Session` turns what its page shows (an :class:`~sentinel.frontends.base.Observation`,
pushed by the in-page observer or pulled by a slow safety poll) into at most one action per step:
press a dialog button, reconnect, run the resume cell, or produce a keep-alive input. It knows
nothing about Playwright: the page is an opaque object reached through a :class:`Tab` and a
:class:`~sentinel.frontends.base.Frontend`, so the whole policy runs against ``FakeFrontend`` and a
fake clock in unit tests.

Failure taxonomy (after SkyPilot's managed jobs; resilience.md item 9):

============================  ===================================================================
class                         what the session does
============================  ===================================================================
transient                     disconnect, crash, page or browser gone, server unreachable: always
                              recover, retrying with exponential backoff and jitter.
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
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import structlog

from sentinel.errors import (
    BrowserError,
    FrontendError,
    IllegalTransitionError,
    NotebookUnreachableError,
    ResumeMarkerNotFoundError,
    SelectorNotFoundError,
)
from sentinel.frontends.base import Action, Connection, Dialog, Frontend, Observation, Signal

if TYPE_CHECKING:
    from sentinel.config import Settings

log = structlog.get_logger(__name__)


class SessionState(Enum):
    """Where one notebook stands. The values are what ``/status`` and notifications show."""

    # The tab is being opened: page navigation, frontend recognition, observer injection.
    STARTING = "starting"
    # A connect we did not start ourselves is in flight (first connect at start-up, Colab's own
    # restart after a crash, a human clicking Connect): waiting for a runtime.
    CONNECTING = "connecting"
    # A runtime is attached and, when resuming is on, its resume cell was started. Keep-alive runs.
    CONNECTED = "connected"
    # The runtime is gone; the next reconnect is due after the backoff delay.
    DISCONNECTED = "disconnected"
    # We clicked Reconnect (or Connect without GPU); waiting through Connecting/Allocating.
    RECONNECTING = "reconnecting"
    # A fresh runtime is attached; its resume cell (or Run all) is about to start, once no cell runs.
    RESUMING = "resuming"
    # A human is needed (captcha, signed out, usage limit, too many sessions); nothing is clicked.
    BLOCKED = "blocked"
    # This notebook cannot go on without a change (resume marker missing, page not a notebook,
    # URL unreachable); the others carry on. Unreachable pages are retried with backoff.
    ERROR = "error"
    # The daemon stopped this session. Terminal.
    STOPPED = "stopped"

    def __str__(self) -> str:
        return self.value


_S = SessionState
_LIVE: frozenset[SessionState] = frozenset(_S) - {_S.STOPPED}

# Every legal move. Anything else is a bug in the policy and raises IllegalTransitionError.
_TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    _S.STARTING: frozenset(
        {_S.CONNECTING, _S.CONNECTED, _S.DISCONNECTED, _S.RESUMING, _S.BLOCKED, _S.ERROR, _S.STOPPED}
    ),
    _S.CONNECTING: frozenset(
        {_S.STARTING, _S.CONNECTED, _S.DISCONNECTED, _S.RESUMING, _S.BLOCKED, _S.ERROR, _S.STOPPED}
    ),
    _S.CONNECTED: frozenset(
        {_S.STARTING, _S.CONNECTING, _S.DISCONNECTED, _S.RESUMING, _S.BLOCKED, _S.ERROR, _S.STOPPED}
    ),
    _S.DISCONNECTED: frozenset(
        {
            _S.STARTING,
            _S.CONNECTING,
            _S.CONNECTED,
            _S.RECONNECTING,
            _S.RESUMING,
            _S.BLOCKED,
            _S.ERROR,
            _S.STOPPED,
        }
    ),
    _S.RECONNECTING: frozenset(
        {_S.STARTING, _S.CONNECTED, _S.DISCONNECTED, _S.RESUMING, _S.BLOCKED, _S.ERROR, _S.STOPPED}
    ),
    _S.RESUMING: frozenset(
        {_S.STARTING, _S.CONNECTING, _S.CONNECTED, _S.DISCONNECTED, _S.BLOCKED, _S.ERROR, _S.STOPPED}
    ),
    _S.BLOCKED: frozenset(
        {
            _S.STARTING,
            _S.CONNECTING,
            _S.CONNECTED,
            _S.DISCONNECTED,
            _S.RECONNECTING,
            _S.RESUMING,
            _S.ERROR,
            _S.STOPPED,
        }
    ),
    # An error is left only by reopening the tab (unreachable URL retried) or by stopping.
    _S.ERROR: frozenset({_S.STARTING, _S.STOPPED}),
    _S.STOPPED: frozenset(),
}


def check_transition(old: SessionState, new: SessionState) -> None:
    """Raise :class:`IllegalTransitionError` unless ``old -> new`` is in the transition table."""
    if new not in _TRANSITIONS[old]:
        allowed = ", ".join(sorted(s.value for s in _TRANSITIONS[old])) or "nothing (it is final)"
        raise IllegalTransitionError(
            f"A session cannot go from {old.value} to {new.value}; from {old.value} it may go to {allowed}."
        )


class BlockedReason(StrEnum):
    """Why a human is needed. Values match :func:`sentinel.notify.suggest_action`'s keys."""

    CAPTCHA = "captcha"
    SIGNED_OUT = "signed_out"
    GPU_LIMIT = "gpu_limit"
    TOO_MANY_SESSIONS = "too_many_sessions"


@dataclass(slots=True)
class Backoff:
    """Exponential backoff with jitter: never hammer a server, never retry in lockstep.

    ``delay(0)`` is 0 (the first attempt after a loss is immediate); ``delay(n)`` for n >= 1 is
    ``base * factor**(n-1)`` jittered by ±``jitter`` and never more than ``cap``.
    """

    base: float = 5.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, failures: int) -> float:
        """Seconds to wait before the next attempt after ``failures`` consecutive failures."""
        if failures <= 0:
            return 0.0
        # Cap before jittering, scaled so even the top of the jitter stays under the cap: at the
        # cap, notebooks that failed together still spread out.
        raw = min(self.cap / (1 + self.jitter), self.base * self.factor ** (failures - 1))
        return raw * self.rng.uniform(1 - self.jitter, 1 + self.jitter)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """The tunables of the policy. :meth:`from_settings` fills the user-facing ones.

    Attributes:
        resume: run the resume cell after every fresh runtime (``--no-resume`` turns it off).
        run_all: run all cells instead of the resume cell.
        resume_marker: the text that identifies the resume cell.
        on_gpu_limit: ``wait`` (blocked, retried every ``quota_retry``), ``cpu`` (Connect without
            GPU) or ``stop`` (blocked until a human acts).
        keepalive_interval: mean seconds between keep-alive inputs while connected.
        keepalive_jitter: relative spread of that interval (0.2: ±20 %).
        poll_interval: the safety poll; the in-page observer normally reports first.
        backoff_base, backoff_factor, backoff_cap, backoff_jitter: reconnect backoff (see :class:`Backoff`).
        connect_timeout: a connect still not done after this long counts as failed.
        action_grace: after a click, observations that still show the old page are ignored this
            long (a report may have been on its way before the click landed).
        answer_interval: the same dialog is not answered twice within this many seconds.
        quota_retry: seconds between connect attempts while blocked by a usage limit or too many sessions.
        unclassified_after: a page state nobody can classify for this long gets a debug bundle.
        reload_after_failures: consecutive failed reconnects after which the tab is reopened.
        max_resume_attempts: starts of the resume cell that fail before the notebook is in error.
    """

    resume: bool = True
    run_all: bool = False
    resume_marker: str = "# sentinel: resume"
    on_gpu_limit: Literal["wait", "cpu", "stop"] = "wait"
    keepalive_interval: float = 60.0
    keepalive_jitter: float = 0.2
    poll_interval: float = 10.0
    backoff_base: float = 5.0
    backoff_factor: float = 2.0
    backoff_cap: float = 300.0
    backoff_jitter: float = 0.2
    connect_timeout: float = 180.0
    action_grace: float = 10.0
    answer_interval: float = 3.0
    quota_retry: float = 900.0
    unclassified_after: float = 30.0
    reload_after_failures: int = 3
    max_resume_attempts: int = 3

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SessionPolicy:
        """The policy for ``settings`` (``--no-resume``, ``--run-all``, ...); ``overrides`` win."""
        policy = cls(
            resume=settings.resume,
            run_all=settings.run_all,
            resume_marker=settings.resume_marker,
            on_gpu_limit=settings.on_gpu_limit,
            keepalive_interval=settings.keepalive_interval,
        )
        return replace(policy, **overrides)


@dataclass(frozen=True, slots=True)
class Attached:
    """A notebook page that is loaded, recognised and observed: what :meth:`Tab.open` returns."""

    page: Any
    frontend: Frontend


class Tab(Protocol):
    """How a session gets its page. The daemon implements it with Playwright; tests with a fake."""

    async def open(self, on_signal: Callable[[Signal], None]) -> Attached:
        """(Re)open the notebook: a fresh page, navigated, recognised, with the observer installed.

        Raises:
            NotebookUnreachableError: the URL did not load (refused, DNS, HTTP error status).
            FrontendError: the page loaded but no known frontend recognises it.
            BrowserError: the browser is gone (the daemon is relaunching it).
        """
        ...

    async def close(self) -> None:
        """Close the page, if any. Never raises."""
        ...


class Ledger(Protocol):
    """Durable memory of resumed runtimes and counters (:class:`sentinel.statestore.StateStore`)."""

    def was_resumed(self, url: str, runtime_id: str) -> bool: ...

    def mark_resumed(self, url: str, runtime_id: str) -> object: ...

    def bump(self, url: str, counter: Literal["resumes", "reconnects"]) -> int: ...

    def set_state(self, url: str, state: str) -> None: ...


class SessionHooks:
    """What happens to a session, for notifications, metrics and the status page. Defaults do nothing.

    The session awaits each hook; an exception in a hook is logged and never stops the session.
    """

    async def state_changed(self, session: Session, old: SessionState, new: SessionState) -> None:
        """``session`` moved from ``old`` to ``new`` (``session.blocked_reason``/``last_error`` say why)."""

    async def reconnect_failed(self, session: Session, error: str) -> None:
        """A reconnect attempt failed; ``session.failures`` counts them in a row."""

    async def reconnect_succeeded(self, session: Session) -> None:
        """A reconnect we made ended with a connected runtime."""

    async def resumed(self, session: Session, runtime_id: str, cell_id: str | None) -> None:
        """The resume cell (``cell_id``; None for Run all) was started in ``runtime_id``."""

    async def unclassified(self, session: Session, bundle: Path | None, detail: str) -> None:
        """The page stayed unclassifiable for ``unclassified_after`` s; ``bundle`` holds the evidence."""

    def signal_received(self, session: Session, signal: Signal) -> None:
        """The in-page observer reported a change (for the detection latency metric). Must not block."""


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
        self.blocked_reason: BlockedReason | None = None
        self.last_error: str | None = None
        self.counters = Counters()
        # Consecutive failed reconnects (reset when a runtime is connected).
        self.failures = 0
        self.runtime_id: str | None = None
        self.resume_cell: str | None = None
        self.observation: Observation | None = None

        self._page: Any = None
        self._frontend: Frontend | None = None
        self._reopen = True
        self._open_failures = 0
        self._step_errors = 0
        # Runtime identity when the page does not expose one: a local epoch bumped on every
        # reconnect and crash the session sees.
        self._epoch = 0
        self._runtime_lost = False
        self._seen_connected = False
        self._pending_resume: str | None = None
        self._resume_attempts = 0
        self._resume_started_for: str | None = None
        self._next_attempt = 0.0
        # When we last clicked Connect/Reconnect (None: no connect of ours in flight).
        self._action_at: float | None = None
        self._first_connect = False
        # Whether that connect actually clicked something (the page may already have been connecting).
        self._clicked = False
        self._seen_connecting = False
        self._next_keepalive: float | None = None
        self._answered: dict[Dialog, float] = {}
        self._blocked_until: float | None = None
        self._unclassified_since: float | None = None
        self._bundle_written = False
        self._signalled: Observation | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    # --- what the outside sees ----------------------------------------------------------------

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

    # --- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Follow the page until :meth:`stop`: open it, then step on every report or poll."""
        try:
            while not self._stopping:
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

        On failure the session is in ``error`` (unreachable or unrecognised page) or unchanged
        (browser being relaunched) and this waits out the backoff before returning False.
        """
        self._page = None
        self._frontend = None
        await self._tab.close()
        # A notebook in error stays there until its page loads: flipping error -> starting ->
        # error on every retry would read as a new incident each time.
        if self.state not in (SessionState.STARTING, SessionState.ERROR):
            await self._move(SessionState.STARTING)
        try:
            attached = await self._tab.open(self._on_signal)
        except (NotebookUnreachableError, FrontendError) as exc:
            self._open_failures += 1
            self.last_error = str(exc)
            delay = self._backoff.delay(self._open_failures)
            self._log.warning("session.open_failed", error=str(exc), retry_in=round(delay, 1))
            if self.state is not SessionState.ERROR:
                await self._move(SessionState.ERROR)
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
        if self.state is SessionState.ERROR:
            self.last_error = None
            await self._move(SessionState.STARTING)
        self.counters.page_reopens += 1
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
        if self.state is SessionState.DISCONNECTED:
            deadlines.append(self._next_attempt)
        if self._next_keepalive is not None and self.state is SessionState.CONNECTED:
            deadlines.append(self._next_keepalive)
        if self._blocked_until is not None and self.state is SessionState.BLOCKED:
            deadlines.append(self._blocked_until)
        if self._action_at is not None:
            deadlines += [
                self._action_at + self.policy.action_grace,
                self._action_at + self.policy.connect_timeout,
            ]
        if self._unclassified_since is not None and not self._bundle_written:
            deadlines.append(self._unclassified_since + self.policy.unclassified_after)
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
            self.counters.crashes += 1
            self._log.warning("session.runtime_crashed", toast=obs.crash_toast)
        if obs.connection is not Connection.CONNECTED:
            if obs.connection in (Connection.DISCONNECTED, Connection.CONNECTING):
                self._runtime_lost = True
            return
        key = obs.runtime_id
        if key is None:
            if self.runtime_id is None or self._runtime_lost or crashed:
                self._epoch += 1
                key = f"local-{self._epoch}"
            else:
                key = self.runtime_id
        self._runtime_lost = False
        first_sight = not self._seen_connected
        self._seen_connected = True
        if key == self.runtime_id:
            return
        self.runtime_id = key
        self._resume_attempts = 0
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
        self._pending_resume = key

    async def _needs_human(self, obs: Observation) -> bool:
        reason: BlockedReason | None = None
        if Dialog.CAPTCHA in obs.dialogs:
            reason = BlockedReason.CAPTCHA
        elif Dialog.SIGN_IN_REQUIRED in obs.dialogs or obs.signed_in is False:
            reason = BlockedReason.SIGNED_OUT
        if reason is None:
            if self.blocked_reason in (BlockedReason.CAPTCHA, BlockedReason.SIGNED_OUT):
                self._log.info("session.unblocked", reason=self.blocked_reason.value)
                self.blocked_reason = None
            return False
        await self._block(reason, retry_at=None)
        return True

    async def _block(self, reason: BlockedReason, *, retry_at: float | None) -> None:
        self._action_at = None
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
                self._action_at, self._seen_connecting, self._clicked = now, False, True
                self.counters.reconnect_attempts += 1
                if self.state not in (SessionState.RECONNECTING, SessionState.CONNECTING):
                    if SessionState.RECONNECTING not in _TRANSITIONS[self.state]:
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
        self.counters.dialogs_answered += 1
        self._log.info("session.dialog_answered", dialog=dialog.value, action=action.value)
        return True

    async def _watch_unclassified(self, obs: Observation, now: float) -> None:
        odd = (
            obs.unclassified is not None
            or Dialog.UNKNOWN in obs.dialogs
            or obs.connection is Connection.UNKNOWN
        )
        if not odd:
            self._unclassified_since = None
            self._bundle_written = False
            return
        if self._unclassified_since is None:
            self._unclassified_since = now
            return
        if self._bundle_written or now - self._unclassified_since < self.policy.unclassified_after:
            return
        self._bundle_written = True
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
        if self._action_at is not None:
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
        if self._action_at is not None and self._clicked and not self._first_connect:
            self.counters.reconnects += 1
            self._ledger.bump(self.url, "reconnects")
            self._log.info("session.reconnected", attempts=self.failures + 1, runtime_id=self.runtime_id)
            await self._call_hook(self._hooks.reconnect_succeeded(self))
        self._action_at = None
        self._first_connect = False
        self.failures = 0
        if self._pending_resume is not None:
            await self._resume(obs, now)
            return
        if self.state is not SessionState.CONNECTED:
            await self._move(SessionState.CONNECTED)
        await self._keepalive(now)

    async def _resume(self, obs: Observation, now: float) -> None:
        assert self._frontend is not None and self._pending_resume is not None
        key = self._pending_resume
        if self.state is not SessionState.RESUMING:
            await self._move(SessionState.RESUMING)
        if obs.busy or obs.dialogs:
            if self._resume_started_for == key and obs.busy:
                # Our start raced a lost page: the cell is running, so it did start.
                self._finish_resume(key, self.resume_cell)
                await self._after_resume(key, now)
            # Never while a cell runs: the resume would queue behind it (and a dialog would
            # swallow the click); wait for the next report.
            return
        self._resume_attempts += 1
        self._resume_started_for = key
        try:
            if self.policy.run_all:
                await self._frontend.run_all(self._page)
                cell: str | None = None
            else:
                cell = await self._frontend.run_cell_with_marker(self._page, self.policy.resume_marker)
        except ResumeMarkerNotFoundError as exc:
            self._resume_started_for = None
            self._pending_resume = None
            self.last_error = f"{exc}; add a code cell containing it, or run with --no-resume"
            self._log.error("session.resume_marker_missing", marker=self.policy.resume_marker)
            await self._move(SessionState.ERROR)
            return
        except BrowserError:
            raise
        except FrontendError as exc:
            self._resume_started_for = None
            self.last_error = f"resume cell could not be started: {exc}"
            self._log.warning("session.resume_failed", error=str(exc), attempt=self._resume_attempts)
            if self._resume_attempts >= self.policy.max_resume_attempts:
                self._pending_resume = None
                await self._move(SessionState.ERROR)
            return
        self._finish_resume(key, cell)
        await self._after_resume(key, now)

    def _finish_resume(self, key: str, cell: str | None) -> None:
        self._ledger.mark_resumed(self.url, key)
        self._pending_resume = None
        self._resume_started_for = None
        self.resume_cell = cell
        self.counters.resumes += 1
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
        self.counters.keepalives += 1
        self._log.debug("session.keepalive", count=self.counters.keepalives)

    def _schedule_keepalive(self, now: float) -> None:
        spread = self.policy.keepalive_jitter
        self._next_keepalive = now + self.policy.keepalive_interval * self._rng.uniform(
            1 - spread, 1 + spread
        )

    async def _on_connecting(self, now: float) -> None:
        if self._action_at is not None and self.state in (
            SessionState.RECONNECTING,
            SessionState.CONNECTING,
            SessionState.BLOCKED,
        ):
            self._seen_connecting = True
            if now - self._action_at >= self.policy.connect_timeout:
                await self._failed(now, f"no runtime after {self.policy.connect_timeout:g} s of Connecting")
            return
        if self.state not in (SessionState.CONNECTING, SessionState.RECONNECTING):
            # Colab restarting a crashed runtime, or a human clicking Connect.
            await self._move(SessionState.CONNECTING)

    async def _on_disconnected(self, obs: Observation, now: float) -> None:
        if self._action_at is not None:
            waited = now - self._action_at
            if not self._seen_connecting and waited < self.policy.action_grace:
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
        self._action_at, self._seen_connecting, self._first_connect = now, False, first
        self._clicked = True
        self.counters.reconnect_attempts += 1
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
            self._clicked = False
            self._log.info("session.reconnect_not_needed", reason=str(exc))

    async def _failed(self, now: float, error: str) -> None:
        self.failures += 1
        self.last_error = error
        self._action_at = None
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

    async def _move(self, new: SessionState) -> None:
        old = self.state
        if old is new:
            return
        check_transition(old, new)
        self.state = new
        self.since = self._wall()
        if new is not SessionState.BLOCKED:
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


__all__ = [
    "Attached",
    "Backoff",
    "BlockedReason",
    "Counters",
    "Ledger",
    "Session",
    "SessionHooks",
    "SessionPolicy",
    "SessionState",
    "Tab",
    "check_transition",
]
