"""What happened to each notebook lately: a small ring buffer per notebook, for the status page.

The daemon records state changes, failed reconnects, answered dialogs and sent notifications as they
happen (:meth:`Timeline.record`); the status snapshot carries the newest few (:meth:`Timeline.recent`).
Memory stays bounded however long the daemon runs: each notebook keeps its last ``size`` entries.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

# Entries kept per notebook; the page shows fewer (see sentinel.status).
DEFAULT_SIZE: Final = 50
# A detail longer than this is cut (a traceback's last line is what a person reads).
MAX_DETAIL: Final = 300


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One thing that happened to a notebook.

    Attributes:
        at: when (timezone-aware).
        event: a short stable word: ``state``, ``reconnect_failed``, ``answered``, ``notified``...
        detail: one human line (``connected -> disconnected``, the notification's title...).
    """

    at: datetime
    event: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        """The JSON object of one ``timeline`` entry in ``/status``."""
        return {
            "at": self.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "event": self.event,
            "detail": self.detail,
        }


class Timeline:
    """The last ``size`` events of every notebook, newest kept, oldest dropped.

    Args:
        size: entries kept per notebook (at least 1).
        clock: the current time (timezone-aware); inject a fixed one in tests.
    """

    __slots__ = ("_clock", "_entries", "_size")

    def __init__(self, size: int = DEFAULT_SIZE, *, clock: Callable[[], datetime] | None = None) -> None:
        if size < 1:
            raise ValueError(f"a timeline keeps at least 1 entry, got size={size}")
        self._size = size
        self._clock = clock or (lambda: datetime.now(UTC))
        self._entries: dict[str, deque[TimelineEntry]] = {}

    def record(self, url: str, event: str, detail: str = "") -> TimelineEntry:
        """Remember that ``event`` happened to the notebook ``url`` now; the entry made.

        ``detail`` is kept to its first line and :data:`MAX_DETAIL` characters.
        """
        line = detail.strip().splitlines()[0] if detail.strip() else ""
        if len(line) > MAX_DETAIL:
            line = line[: MAX_DETAIL - 3] + "..."
        entry = TimelineEntry(at=self._clock(), event=event, detail=line)
        self._entries.setdefault(url, deque(maxlen=self._size)).append(entry)
        return entry

    def recent(self, url: str, n: int = 10) -> tuple[TimelineEntry, ...]:
        """The newest ``n`` entries of ``url``, newest first (empty for a notebook never recorded)."""
        entries = self._entries.get(url)
        if not entries or n <= 0:
            return ()
        return tuple(reversed(entries))[:n]

    def forget(self, url: str) -> None:
        """Drop everything recorded for ``url``."""
        self._entries.pop(url, None)


__all__ = ["DEFAULT_SIZE", "MAX_DETAIL", "Timeline", "TimelineEntry"]
