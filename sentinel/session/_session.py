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
from typing import Any

import structlog

from sentinel.errors import (
    BrowserError,
    FrontendError,
    NotebookUnreachableError,
    SentinelError,
)
from sentinel.frontends.base import Frontend, Observation, Signal
from sentinel.session._state import SessionState
from sentinel.session._steps import SessionSteps

log = structlog.get_logger(__name__)


class Session(SessionSteps):
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

    def wake(self) -> None:
        """Look at the page now (a schedule boundary passed)."""
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
                if self._idle():
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

    def _idle(self) -> bool:
        # In error, or finished without keep-alive (or with its page gone): nothing to follow.
        if self.state is SessionState.ERROR:
            return True
        return self.state is SessionState.FINISHED and (self._reopen or self.policy.on_finish != "keep")

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
        if self.state is SessionState.STARTING and self.finished_summary is not None:
            # Finished before this daemon started: remembered, nothing to bring back.
            self._log.info("session.finished_before", summary=self.finished_summary)
            await self._move(SessionState.FINISHED)
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
        if self._run.retry_at is not None:
            deadlines.append(self._run.retry_at)
        if self.policy.start_at is not None and self.state is SessionState.PAUSED:
            deadlines.append(now + max(0.0, self.policy.start_at - self._wall()))
        watch = self._unclassified
        if watch.since is not None and not watch.bundle_written:
            deadlines.append(watch.since + self.policy.unclassified_after)
        # Deadlines already passed were handled by the step that just ran (or cannot be acted on
        # yet, e.g. a reconnect behind an open dialog): they must not turn the loop into a spin.
        return max(0.02, min(d for d in deadlines if d > now) - now)


__all__ = ["Session"]
