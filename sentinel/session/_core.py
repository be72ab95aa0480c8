"""A session's state and the one way it changes: every move checked against the table and the invariants."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import structlog

from sentinel.errors import (
    IllegalTransitionError,
)
from sentinel.frontends.base import Dialog, Frontend, Observation
from sentinel.session._policy import Backoff, SessionPolicy
from sentinel.session._ports import CounterName, Ledger, SessionHooks, Tab
from sentinel.session._state import BlockedReason, ErrorKind, SessionState, check_transition
from sentinel.session._tracking import ConnectAttempt, Counters, RuntimeTracker, RunWatch, UnclassifiedWatch

if TYPE_CHECKING:
    from sentinel.diagnosis import Diagnosis
    from sentinel.session._session import Session

log = structlog.get_logger(__name__)


class SessionCore:
    """The state of one notebook's session, and :meth:`_move`, the only way to change it.

    :class:`~sentinel.session.Session` documents the arguments.
    """

    @property
    def runtime_id(self) -> str | None:
        """The identity of the runtime the page is attached to (a ``local-N`` epoch when the page gives none)."""
        return self._runtime.runtime_id

    @property
    def _me(self) -> Session:
        # What hooks receive. Every SessionCore is a Session: the classes are split for reading.
        return cast("Session", self)

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
        self._retry_backoff = Backoff(
            base=self.policy.retry_base,
            factor=2.0,
            cap=self.policy.backoff_cap,
            jitter=self.policy.backoff_jitter,
            rng=self._rng,
        )
        self._log = log.bind(notebook=url)

        self.state = SessionState.STARTING
        self.since = self._wall()
        # Why a human is needed; set exactly while the state is BLOCKED.
        self.blocked_reason: BlockedReason | None = None
        # Why nothing is done now (schedule); set exactly while the state is PAUSED.
        self.paused_reason: str | None = None
        # Why sentinel stopped acting on the notebook; set exactly while the state is ERROR.
        self.error_kind: ErrorKind | None = None
        # The latest problem in words (an error's message, a failed reconnect, a lost page).
        self.last_error: str | None = None
        # What the resume cell's last failure was (set when the run is given up), and how the run
        # finished (set in FINISHED; also remembered across restarts by the ledger).
        self.diagnosis: Diagnosis | None = None
        self.finished_summary: str | None = ledger.finished(url)
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
        self._run = RunWatch()
        self._answered: dict[Dialog, float] = {}  # dialog -> when we last pressed a button in it
        # Deadlines (monotonic seconds).
        self._next_attempt = 0.0
        self._next_keepalive: float | None = None
        self._blocked_until: float | None = None
        # The newest pushed observation not yet stepped on, and the loop's wake-up.
        self._signalled: Observation | None = None
        self._wake = asyncio.Event()
        self._stopping = False

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
            self._hooks.counted(self._me, counter)
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
        if new is SessionState.PAUSED and not self.paused_reason:
            raise IllegalTransitionError("A session cannot be paused without a reason.")
        self.state = new
        self.since = self._wall()
        if old is SessionState.PAUSED:
            self._log.info("session.unpaused", reason=self.paused_reason)
            self.paused_reason = None
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
            reason=(
                self.blocked_reason.value
                if new is SessionState.BLOCKED and self.blocked_reason
                else self.paused_reason
                if new is SessionState.PAUSED
                else None
            ),
            error=self.last_error if new is SessionState.ERROR else None,
        )
        self._ledger.set_state(self.url, new.value)
        await self._call_hook(self._hooks.state_changed(self._me, old, new))

    async def _call_hook(self, call: Awaitable[None]) -> None:
        try:
            await call
        except Exception:
            self._log.exception("session.hook_failed")


__all__ = ["SessionCore"]
