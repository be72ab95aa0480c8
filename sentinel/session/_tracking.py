"""What a session keeps track of between steps, each with its owner: counters, our connect in flight,
the runtime and its due resume, and how long the page has been unreadable."""

from __future__ import annotations

from dataclasses import dataclass

from sentinel.frontends.base import Connection, Observation


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
        adopt_candidate: a runtime busy at first sight and when it would be adopted (left alone)
            if it stays busy until then.
        resume_attempts: starts of the resume cell tried in this runtime.
        started_for: the runtime our last start of the resume cell was for (a start that raced a
            lost page is recognised by the cell running in that runtime).
    """

    runtime_id: str | None = None
    epoch: int = 0
    lost: bool = False
    seen_connected: bool = False
    pending_resume: str | None = None
    adopt_candidate: tuple[str, float] | None = None
    resume_attempts: int = 0
    started_for: str | None = None
    base_id: str | None = None
    generation: int = 0
    renew_pending: bool = False

    def renew(self) -> None:
        """We restarted the session (a retry): the same runtime's next sight is a fresh one, ``X~N``."""
        self.renew_pending = True

    def see(self, obs: Observation, *, crashed: bool) -> tuple[str, bool] | None:
        """Follow ``obs``; ``(runtime id, first sight)`` when it shows a runtime new to us, else None.

        A restart we made keeps the page's runtime id (same VM) but is a fresh process: it is told
        apart as ``<id>~<n>`` (the state store counts a resume there as one in ``<id>``).
        """
        if obs.connection is not Connection.CONNECTED:
            # Cells still running under a "Reconnecting" UI (colabtools#5622): the same runtime,
            # alive; its next sight is not a fresh one (no resume).
            if obs.connection in (Connection.DISCONNECTED, Connection.CONNECTING) and not obs.busy:
                self.lost = True
            return None
        base = obs.runtime_id
        if base is None:
            if self.base_id is None or self.lost or crashed:
                self.epoch += 1
                base = f"local-{self.epoch}"
            else:
                base = self.base_id
        if base != self.base_id:
            self.base_id, self.generation = base, 0
        if self.renew_pending:
            self.renew_pending = False
            self.generation += 1
        key = base if self.generation == 0 else f"{base}~{self.generation}"
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


@dataclass(slots=True)
class RunWatch:
    """The resume cell we started, followed until it stops, and the retries of this run.

    Attributes:
        runtime: the runtime the watched resume cell runs in (None: nothing is watched).
        seen_busy: it has been seen running since it started.
        started_at: wall-clock seconds of the first resume of this run (for "finished in 3 h").
        retries: retries made for retryable failures in this run.
        failed_at_step: the progress step of the last failure (a later failure past it is a new run's).
        retry_at: when the next retry is due (monotonic), if one is.
    """

    runtime: str | None = None
    seen_busy: bool = False
    started_at: float | None = None
    retries: int = 0
    failed_at_step: int | None = None
    retry_at: float | None = None

    def start(self, runtime: str, wall: float) -> None:
        self.runtime, self.seen_busy = runtime, False
        if self.started_at is None:
            self.started_at = wall


__all__ = ["ConnectAttempt", "Counters", "RunWatch", "RuntimeTracker", "UnclassifiedWatch"]
