"""Training progress, read from the resume cell's output: the ``[sentinel]`` lines the notebook kit prints.

The daemon reads each notebook's resume cell now and then (:class:`ProgressReader`) for ``/status``
and the demo's table. This module is where what a cell's output means lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sentinel.diagnosis import Diagnosis, diagnose
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


# How a cell's output shows that it ended with an exception: Python's traceback header, or the
# exception line that IPython prints last ("OutOfMemoryError: CUDA out of memory...").
_TRACEBACK = re.compile(r"^Traceback \(most recent call last\)", re.MULTILINE)
_EXCEPTION_LINE = re.compile(r"^[\w.]*(Error|Exception|Interrupt|Exit)\b(:.*)?$")
_REPORT_MARK = "[sentinel] "


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What the resume cell's output says about the run once the cell stopped.

    Attributes:
        report: the newest ``[sentinel]`` progress record, if any.
        finished: the run is done (``step >= total``, or the kit's ``finished`` marker) and nothing
            failed after that.
        failure: the most specific diagnosis of an exception the output ends with, if it does.
    """

    report: dict[str, Any] | None
    finished: bool
    failure: Diagnosis | None


def is_finished(record: dict[str, Any] | None) -> bool:
    """Whether a progress record says the run is done: ``finished: true``, or ``step >= total``."""
    if not record:
        return False
    if record.get("finished") is True:
        return True
    step, total = record.get("step"), record.get("total")
    return isinstance(step, int) and isinstance(total, int) and total > 0 and step >= total


def run_outcome(output: str) -> RunOutcome:
    """Read a stopped resume cell's output: did the run finish, fail, or just stop?

    Only what comes after the last progress line can be a failure: a traceback printed (and
    survived) earlier in training is not the end of the run.
    """
    report = latest_report(output)
    cut = output.rfind(_REPORT_MARK)
    tail = output if cut < 0 else output[cut:].partition("\n")[2]
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    ended_badly = bool(_TRACEBACK.search(tail)) or bool(lines and _EXCEPTION_LINE.match(lines[-1]))
    failure = None
    if ended_badly:
        found = diagnose(tail)
        failure = found[0] if found else None
    return RunOutcome(report=report, finished=failure is None and is_finished(report), failure=failure)


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


def format_duration(seconds: float) -> str:
    """``95`` -> ``'1 min 35 s'``, ``7260`` -> ``'2 h 1 min'``: coarse, for people."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


class StallWatch:
    """When each notebook's progress last advanced, and whether its stall was told.

    Args:
        after: seconds without a new step that make a stall (0: never).
        clock: monotonic seconds; inject a fake in tests.
    """

    def __init__(self, after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.after = after
        self._clock = clock
        self._steps: dict[str, tuple[object, float]] = {}
        self._told: set[str] = set()

    def stalled(self, url: str, record: dict[str, Any] | None, running: bool) -> float | None:
        """Seconds since ``url`` last advanced when that makes a new stall (told once), else None.

        ``record`` is its newest progress record; ``running``: the resume cell is running now.
        A run that never reports progress is never stalled.
        """
        if self.after <= 0 or record is None:
            return None
        now = self._clock()
        step = record.get("step")
        last = self._steps.get(url)
        if last is None or last[0] != step or not running:
            self._steps[url] = (step, now)
            self._told.discard(url)
            return None
        idle = now - last[1]
        if idle < self.after or url in self._told:
            return None
        self._told.add(url)
        return idle


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


__all__ = [
    "PROGRESS_INTERVAL",
    "ProgressReader",
    "RunOutcome",
    "StallWatch",
    "format_duration",
    "format_progress",
    "is_finished",
    "latest_report",
    "run_outcome",
]
