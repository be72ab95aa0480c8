"""The tunables of a session's policy, and the backoff that spaces out its retries."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, Literal

from sentinel.schedule import Window, parse_window, zone

if TYPE_CHECKING:
    from sentinel.config import NotebookSettings, Settings


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
        adopt_after: a runtime busy when first seen is adopted (never resumed) once it has stayed
            busy this long; one idle sooner was only starting (a kernel's handshake) and is fresh.
        unclassified_after: a page state nobody can classify for this long gets a debug bundle.
        reload_after_failures: consecutive failed reconnects after which the tab is reopened.
        max_resume_attempts: starts of the resume cell that fail before the notebook is in error.
        on_finish: a finished run: ``idle`` (stop keep-alive and reconnects), ``keep`` (keep-alive
            goes on), ``release`` (Disconnect and delete runtime, at once).
        max_resume_retries: retryable failures of the resume cell (a lost Drive mount, a CUDNN
            hiccup) answered with a fresh session and a new run, per run; then error.
        retry_base: seconds before the first retry (doubling, jittered, capped at ``backoff_cap``).
        active_hours: windows in which sentinel acts (keep-alive, reconnects, resumes); none: always.
        timezone: the windows' and ``start_at``'s time zone (None: the machine's).
        max_runtime: seconds of one run after which keep-alive stops (None: no limit).
        start_at: epoch seconds before which nothing is done (None: at once).
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
    adopt_after: float = 5.0
    unclassified_after: float = 30.0
    reload_after_failures: int = 3
    max_resume_attempts: int = 3
    on_finish: Literal["idle", "keep", "release"] = "idle"
    max_resume_retries: int = 3
    retry_base: float = 10.0
    active_hours: tuple[Window, ...] = ()
    timezone: tzinfo | None = None
    max_runtime: float | None = None
    start_at: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SessionPolicy:
        """The policy for ``settings`` (``--no-resume``, ``--run-all``, ...); ``overrides`` win."""
        policy = cls(
            resume=settings.resume,
            run_all=settings.run_all,
            resume_marker=settings.resume_marker,
            on_gpu_limit=settings.on_gpu_limit,
            keepalive_interval=settings.keepalive_interval,
            on_finish=settings.on_finish,
            max_resume_retries=settings.max_resume_retries,
        )
        return replace(policy, **overrides).with_schedule(
            settings.active_hours, settings.timezone, settings.max_runtime, settings.start_at
        )

    def with_schedule(
        self,
        active_hours: list[str] | None,
        timezone: str | None,
        max_runtime_hours: float | None,
        start_at: datetime | None,
    ) -> SessionPolicy:
        """This policy with a schedule from settings (``None`` leaves a part as it is)."""
        tz = zone(timezone) if timezone is not None else self.timezone
        start = start_at.replace(tzinfo=start_at.tzinfo or tz).timestamp() if start_at is not None else None
        return replace(
            self,
            active_hours=tuple(parse_window(w) for w in active_hours) if active_hours else self.active_hours,
            timezone=tz,
            max_runtime=max_runtime_hours * 3600 if max_runtime_hours is not None else self.max_runtime,
            start_at=start if start is not None else self.start_at,
        )

    def for_notebook(self, notebook: NotebookSettings) -> SessionPolicy:
        """This policy with what a ``[[notebooks]]`` table changes for its notebook."""
        changed = {
            key: value
            for key in (
                "resume_marker",
                "resume",
                "run_all",
                "on_gpu_limit",
                "on_finish",
                "max_resume_retries",
                "keepalive_interval",
            )
            if (value := getattr(notebook, key)) is not None
        }
        return replace(self, **changed).with_schedule(
            notebook.active_hours, notebook.timezone, notebook.max_runtime, notebook.start_at
        )


__all__ = ["Backoff", "SessionPolicy"]
