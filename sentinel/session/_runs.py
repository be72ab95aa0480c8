"""When the resume cell stops: the run finished, failed (retried, or given up), or just stopped.

Event-driven: the observer reports the cell's end (``busy`` drops) within milliseconds, and the
output is read once, right then. :func:`sentinel.progress.run_outcome` says what it means.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentinel.errors import BrowserError, FrontendError
from sentinel.frontends.base import Connection, Observation
from sentinel.progress import format_duration, format_progress, run_outcome
from sentinel.session._core import SessionCore
from sentinel.session._state import ErrorKind, SessionState

if TYPE_CHECKING:
    from sentinel.progress import RunOutcome


class SessionRuns(SessionCore):
    """Follows the resume cell we started until it stops, and acts on how it ended."""

    async def _check_run(self, obs: Observation, now: float) -> bool:
        """Look at the watched resume cell; True when the step is over (finished, failed, retrying)."""
        output = await self._stopped_run_output(obs)
        if output is None:
            return False
        outcome = run_outcome(output)
        if outcome.finished:
            await self._finish(outcome)
            return True
        if outcome.failure is not None:
            await self._run_failed(outcome, now)
            return True
        self._log.info("session.run_stopped", progress=format_progress(outcome.report))
        return False

    async def _stopped_run_output(self, obs: Observation) -> str | None:
        """The output of the watched resume cell once it has stopped running (read once), else None."""
        watch = self._run
        if (
            watch.runtime is None
            or watch.runtime != self.runtime_id
            or obs.connection is not Connection.CONNECTED
        ):
            return None
        if obs.busy:
            watch.seen_busy = True
            return None
        if not watch.seen_busy or self._frontend is None or self.resume_cell is None:
            # Not seen running yet: a report from before the start (its output is the last run's).
            return None
        watch.runtime = None
        try:
            return await self._frontend.cell_output(self._page, self.resume_cell)
        except BrowserError:
            raise
        except FrontendError as exc:
            self._log.warning("session.run_output_unreadable", error=str(exc))
            return None

    async def _finish(self, outcome: RunOutcome) -> None:
        started = self._run.started_at
        took = f" in {format_duration(self._wall() - started)}" if started is not None else ""
        summary = f"{format_progress(outcome.report) or 'finished'}{took}"
        self.finished_summary = summary
        self._ledger.mark_finished(self.url, summary)
        self._next_keepalive = None
        self._log.info("session.finished", summary=summary, on_finish=self.policy.on_finish)
        await self._move(SessionState.FINISHED)
        await self._call_hook(self._hooks.finished(self._me, summary))
        if self.policy.on_finish == "release" and self._frontend is not None:
            try:
                await self._frontend.release_runtime(self._page)
            except BrowserError:
                raise
            except FrontendError as exc:
                self._log.warning("session.release_failed", error=str(exc))

    async def _run_failed(self, outcome: RunOutcome, now: float) -> None:
        diagnosis = outcome.failure
        assert diagnosis is not None
        watch = self._run
        step = outcome.report.get("step") if outcome.report else None
        if isinstance(step, int) and watch.failed_at_step is not None and step > watch.failed_at_step:
            watch.retries = 0  # it got further than last time: this is a new stretch of the run
        # Shown in /status while it retries, and kept when it gives up.
        self.diagnosis = diagnosis
        if diagnosis.retryable and watch.retries < self.policy.max_resume_retries:
            watch.retries += 1
            watch.failed_at_step = step if isinstance(step, int) else watch.failed_at_step
            delay = self._retry_backoff.delay(watch.retries)
            watch.retry_at = now + delay
            self._log.warning(
                "session.run_failed",
                diagnosis=diagnosis.key,
                retry=watch.retries,
                retry_in=round(delay, 1),
            )
            await self._call_hook(self._hooks.run_failed(self._me, diagnosis, watch.retries))
            return
        kind = ErrorKind.RUN_FAILED if not diagnosis.retryable else ErrorKind.RETRIES_EXHAUSTED
        self._log.error("session.run_failed", diagnosis=diagnosis.key, retry=None, retries=watch.retries)
        await self._call_hook(self._hooks.run_failed(self._me, diagnosis, None))
        self._next_keepalive = None
        await self._fail(kind, f"{diagnosis.cause} ({diagnosis.match})")

    async def _retry_due(self, obs: Observation, now: float) -> bool:
        """Make the due retry: Restart session, so a fresh process runs the resume cell once."""
        watch = self._run
        if watch.retry_at is None or now < watch.retry_at or self._frontend is None:
            return False
        if obs.connection is not Connection.CONNECTED or obs.busy or obs.dialogs:
            return False
        watch.retry_at = None
        try:
            await self._frontend.restart_runtime(self._page)
        except BrowserError:
            raise
        except FrontendError as exc:
            self._log.warning("session.retry_failed", error=str(exc))
            return False
        self._log.info("session.retrying", retry=watch.retries)
        self._runtime.renew()
        # The restarted runtime may look the same as before to the observer: look again now.
        self._wake.set()
        return True


__all__ = ["SessionRuns"]
