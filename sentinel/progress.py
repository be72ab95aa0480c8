"""Training progress, read from the resume cell's output: the ``[sentinel]`` lines the notebook kit prints.

The daemon reads each notebook's resume cell now and then (:class:`ProgressReader`) for ``/status``
and the demo's table. This module is where what a cell's output means lives.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sentinel.errors import SentinelError

if TYPE_CHECKING:
    from sentinel.session import Session

# How often the training progress is read (for /status; the demo and tests read faster). Each
# read is a page evaluate, which costs idle CPU in the browser.
PROGRESS_INTERVAL = 30.0


def latest_report(output: str) -> dict[str, Any] | None:
    """The last ``[sentinel] {...}`` progress record in a cell's output, or None."""
    from sentinel.notebook import parse_report

    for line in reversed(output.splitlines()):
        record = parse_report(line)
        if record is not None:
            return record
    return None


def format_progress(record: dict[str, Any] | None) -> str | None:
    """``{"step": 1200, "total": 5000, "loss": 0.31}`` -> ``'step 1200/5000 loss=0.31'``."""
    if not record:
        return None
    step, total = record.get("step"), record.get("total")
    text = f"step {step}/{total}" if total is not None else f"step {step}"
    extras = [
        f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
        for key, value in record.items()
        if key not in ("step", "total")
        and isinstance(value, int | float | str)
        and not isinstance(value, bool)
    ]
    return " ".join([text, *extras[:3]])


class ProgressReader:
    """Reads every session's resume cell for its latest progress record, every ``interval`` seconds.

    Args:
        interval: seconds between reads.

    Attributes:
        latest: the newest record per notebook URL.
    """

    def __init__(self, interval: float = PROGRESS_INTERVAL) -> None:
        self.interval = interval
        self.latest: dict[str, dict[str, Any]] = {}

    async def read(self, session: Session) -> dict[str, Any] | None:
        """Read ``session``'s resume cell once; its newest record (also kept in :attr:`latest`), or None."""
        frontend, page, cell = session.frontend, session.page, session.resume_cell
        if frontend is None or page is None or cell is None:
            return None
        try:
            output = await frontend.cell_output(page, cell)
        except SentinelError:
            return None
        record = latest_report(output)
        if record is not None:
            self.latest[session.url] = record
        return record

    async def run(self, sessions: Callable[[], Iterable[Session]], stop: asyncio.Event) -> None:
        """Read every session of ``sessions()`` each :attr:`interval` until ``stop`` is set."""
        while not stop.is_set():
            for session in list(sessions()):
                await self.read(session)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)


__all__ = ["PROGRESS_INTERVAL", "ProgressReader", "format_progress", "latest_report"]
