"""The daemon at one moment, as ``/status`` and the status page show it: plain frozen records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sentinel import __version__
from sentinel.alerts import notebook_name
from sentinel.timeline import TimelineEntry
from sentinel.urls import mask_url


@dataclass(frozen=True, slots=True)
class NotebookStatus:
    """One notebook, as ``GET /status`` and the page at ``/`` show it.

    Attributes:
        url: the notebook URL.
        state: the session state (``SessionState`` or its value, ``"connected"``...).
        since: when it entered that state (timezone-aware).
        reconnects: reconnects made.
        resumes: resume cells run.
        blocked_reason: why a human is needed, while blocked.
        last_error: the last error met, if any.
        progress: what the notebook last reported about its training (e.g. ``"step 1200/5000"``).
        name: what people call the notebook; default: the URL's last path segment.
        crashes: runtime crashes seen.
        progress_record: the newest ``[sentinel]`` progress record as the kit printed it
            (``{"step": 1200, "total": 5000, "loss": 0.31}``); the page draws a bar from it.
        diagnosis: what the last failure of the resume cell was (``"CUDA out of memory"``).
        action: what a person should do about it.
        finished_at: when the run was seen finished (timezone-aware).
        timeline: the newest events first (see :class:`sentinel.timeline.Timeline`).
    """

    url: str
    state: str | Enum
    since: datetime
    reconnects: int = 0
    resumes: int = 0
    blocked_reason: str | None = None
    last_error: str | None = None
    progress: str | None = None
    name: str | None = None
    crashes: int = 0
    progress_record: Mapping[str, Any] | None = None
    diagnosis: str | None = None
    action: str | None = None
    finished_at: datetime | None = None
    timeline: Sequence[TimelineEntry] = ()

    @property
    def state_name(self) -> str:
        """The state as its plain value (``"connected"``)."""
        return str(self.state.value) if isinstance(self.state, Enum) else str(self.state)

    @property
    def display_name(self) -> str:
        """:attr:`name`, or a short one made from the URL."""
        return self.name or notebook_name(self.url)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``/status``'s ``notebooks`` list."""
        return {
            "url": mask_url(self.url),
            "state": self.state_name,
            "since": _iso(self.since),
            "reconnects": self.reconnects,
            "resumes": self.resumes,
            "blocked_reason": self.blocked_reason,
            "last_error": mask_url(self.last_error) if self.last_error else self.last_error,
            "progress": self.progress,
            "name": self.display_name,
            "crashes": self.crashes,
            "progress_record": dict(self.progress_record) if self.progress_record is not None else None,
            "diagnosis": self.diagnosis,
            "action": self.action,
            "finished_at": _iso(self.finished_at) if self.finished_at is not None else None,
            "timeline": [entry.to_json() for entry in self.timeline],
        }


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """The whole daemon at one moment, as ``GET /status`` shows it.

    Attributes:
        notebooks: one entry per notebook, in the order given on the command line (the page's
            ``/notebooks/{index}/...`` routes count in this order from 0).
        started_at: when the daemon started (timezone-aware).
        browser_restarts: times the browser was relaunched.
    """

    notebooks: Sequence[NotebookStatus] = field(default_factory=tuple)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    browser_restarts: int = 0

    def to_json(self) -> dict[str, Any]:
        """The JSON document of ``GET /status``."""
        return {
            "notebooks": [nb.to_json() for nb in self.notebooks],
            "started_at": _iso(self.started_at),
            "browser_restarts": self.browser_restarts,
            "version": __version__,
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


__all__ = ["NotebookStatus", "StatusSnapshot"]
