"""What a session decides on each observation of its page: at most one action per step."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import structlog

from sentinel.errors import (
    BrowserError,
    FrontendError,
    ResumeMarkerNotFoundError,
    SelectorNotFoundError,
)
from sentinel.frontends.base import Action, Connection, Dialog, Observation
from sentinel.progress import format_duration
from sentinel.schedule import is_active
from sentinel.session._runs import SessionRuns
from sentinel.session._state import TRANSITIONS, BlockedReason, ErrorKind, SessionState

log = structlog.get_logger(__name__)


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


class SessionSteps(SessionRuns):
    """The policy: :meth:`step` turns one observation into at most one action."""

    async def step(self, observation: Observation | None = None) -> None:
        """Classify the page (or use ``observation``) and take at most one action.

        Raises:
            BrowserError: the page or browser is gone (``run`` reopens the tab).
        """
        if self.state in (SessionState.STOPPED, SessionState.ERROR) or self._frontend is None:
            return
        obs = observation if observation is not None else await self._frontend.observe(self._page)
        if self._stale(obs):
            return
        now = self._clock()
        previous, self.observation = self.observation, obs
        self._track_runtime(obs, previous, now)
        if self.state is SessionState.FINISHED:
            await self._finished_step(obs, now)
            return
        if await self._paused() or await self._needs_human(obs) or await self._answer_dialogs(obs, now):
            return
        await self._watch_unclassified(obs, now)
        if self._in(SessionState.ERROR) or await self._waiting_out_quota(obs, now):
            return
        connection = obs.connection
        if connection is Connection.DISCONNECTED and obs.busy:
            # colabtools#5622: the UI can read "Reconnect(ing)" while cells still execute. A runtime
            # that runs code is alive: wait for the page to catch up (never Connect, never resume).
            connection = Connection.CONNECTING
        if connection is Connection.CONNECTED:
            if await self._check_run(obs, now) or await self._retry_due(obs, now):
                return
            await self._on_connected(obs, now)
        elif connection is Connection.CONNECTING:
            await self._on_connecting(now, alive=obs.busy)
        elif connection is Connection.DISCONNECTED:
            await self._on_disconnected(obs, now)

    def _stale(self, obs: Observation) -> bool:
        """True for a report taken before the one last acted on (a slow poll overtaken by a push)."""
        last = self.observation
        if last is None or obs.taken_at >= last.taken_at:
            return False
        self._log.debug(
            "session.observation_stale",
            behind_s=round(last.taken_at - obs.taken_at, 3),
            dialogs=len(obs.dialogs),
        )
        return True

    def _track_runtime(self, obs: Observation, previous: Observation | None, now: float) -> None:
        self._settle_adoption(obs, now)
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
            # the user) is running in it. But a kernel that is only starting (JupyterLab's handshake
            # reads busy for a moment) is fresh: the verdict waits until it has stayed busy a while.
            self._runtime.adopt_candidate = (key, now + self.policy.adopt_after)
            return
        self._log.info("session.runtime_fresh", runtime_id=key, resume="pending")
        self._runtime.pending_resume = key

    def _settle_adoption(self, obs: Observation, now: float) -> None:
        candidate = self._runtime.adopt_candidate
        if candidate is None:
            return
        key, deadline = candidate
        if self._runtime.runtime_id != key or (obs.connection is not Connection.CONNECTED and not obs.busy):
            self._runtime.adopt_candidate = None  # gone, or another runtime came (see() judges it)
        elif not obs.busy:
            self._runtime.adopt_candidate = None
            self._log.info("session.runtime_fresh", runtime_id=key, resume="pending", was="starting")
            self._runtime.pending_resume = key
        elif now >= deadline:
            # Recorded, so that a restart of the daemon leaves it alone as well.
            self._runtime.adopt_candidate = None
            self._log.info("session.runtime_adopted", runtime_id=key)
            self._ledger.mark_resumed(self.url, key)

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
        await self._call_hook(self._hooks.unclassified(self._me, bundle, detail))

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
            await self._call_hook(self._hooks.reconnect_succeeded(self._me))
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
        self._run.start(key, self._wall())
        self._count("resumes")
        self._log.info("session.resumed", runtime_id=key, cell=cell, run_all=self.policy.run_all)

    async def _after_resume(self, key: str, now: float) -> None:
        await self._call_hook(self._hooks.resumed(self._me, key, self.resume_cell))
        await self._move(SessionState.CONNECTED)
        self._schedule_keepalive(now)

    async def _paused(self) -> bool:
        """Outside the schedule: move to (or stay in) PAUSED and do nothing; True while so."""
        reason = self._pause_reason()
        if reason is None:
            return False
        if self.state is not SessionState.PAUSED:
            self.paused_reason = reason
            self._next_keepalive = None
            self._attempt.clear()
            self._log.info("session.paused", reason=reason)
            await self._move(SessionState.PAUSED)
        else:
            self.paused_reason = reason
        return True

    def _pause_reason(self) -> str | None:
        policy, wall = self.policy, self._wall()
        if policy.start_at is not None and wall < policy.start_at:
            when = datetime.fromtimestamp(policy.start_at, policy.timezone).isoformat(timespec="minutes")
            return f"starts at {when}"
        started = self._run.started_at
        if policy.max_runtime is not None and started is not None and wall - started >= policy.max_runtime:
            return f"ran for {format_duration(wall - started)}: past max_runtime ({format_duration(policy.max_runtime)})"
        if policy.active_hours and not is_active(
            policy.active_hours, datetime.fromtimestamp(wall, policy.timezone)
        ):
            windows = ", ".join(w.describe() for w in policy.active_hours)
            return f"outside active hours ({windows})"
        return None

    async def _finished_step(self, obs: Observation, now: float) -> None:
        """A finished notebook: nothing to do, unless --on-finish keep (then only keep-alive)."""
        if self.policy.on_finish == "keep" and obs.connection is Connection.CONNECTED and not obs.dialogs:
            await self._keepalive(now)

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

    async def _on_connecting(self, now: float, *, alive: bool = False) -> None:
        """Connecting: wait. ``alive``: cells run meanwhile, so however long it lasts it is no failure."""
        attempt = self._attempt
        if attempt.at is not None and self.state in (
            SessionState.RECONNECTING,
            SessionState.CONNECTING,
            SessionState.BLOCKED,
        ):
            attempt.seen_connecting = True
            if not alive and now - attempt.at >= self.policy.connect_timeout:
                await self._failed(now, f"no runtime after {self.policy.connect_timeout:g} s of Connecting")
            return
        if self.state not in (SessionState.CONNECTING, SessionState.RECONNECTING):
            # Colab restarting a crashed runtime, a human clicking Connect, or (alive) the UI
            # reconnecting its socket while the runtime keeps running code.
            if alive:
                self._log.info("session.reconnecting_while_running")
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
        await self._call_hook(self._hooks.reconnect_failed(self._me, error))
        if self.failures % self.policy.reload_after_failures == 0:
            # A page that keeps failing may have lost its own connection to the server (an
            # outage closed its socket): a fresh page is the cheapest cure.
            self._log.info("session.reopening_tab", failures=self.failures)
            self._reopen = True


def _dialog_hint(obs: Observation) -> str:
    return f" ({', '.join(d.value for d in obs.dialogs)} shown)" if obs.dialogs else ""


__all__ = ["SessionSteps"]
