"""When sentinel may act on a notebook: active-hour windows, a start time, a longest run; APScheduler wakes.

A window is ``"HH:MM-HH:MM"``, optionally after days: ``"mon-fri 22:00-07:00"``, ``"sat,sun
00:00-24:00"``. A window whose end is before its start runs past midnight (into the next day). Times
are in the notebook's time zone (``timezone``, default the machine's). :func:`is_active` is the one
answer to "may sentinel act now"; the scheduler (:class:`Wakeups`, APScheduler 3's
``AsyncIOScheduler`` with ``coalesce`` and ``max_instances=1``) only wakes sessions at the
boundaries, so a change is acted on at once instead of at the next safety poll.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

log = structlog.get_logger(__name__)

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^(?:(?P<days>[a-z,\-]+)\s+)?(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$")


@dataclass(frozen=True, slots=True)
class Window:
    """Active on ``days`` (0 = Monday) from ``start`` to ``end`` (past midnight when ``end <= start``).

    ``end`` of ``None`` means 24:00.
    """

    days: frozenset[int]
    start: time
    end: time | None

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (in the window's time zone) falls inside the window."""
        now, today = moment.time(), moment.weekday()
        if self.end is None:
            return today in self.days and now >= self.start
        if self.start < self.end:
            return today in self.days and self.start <= now < self.end
        # Past midnight: the evening part belongs to its own day, the morning part to the day before.
        yesterday = (today - 1) % 7
        return (today in self.days and now >= self.start) or (yesterday in self.days and now < self.end)

    def describe(self) -> str:
        days = ",".join(_DAYS[d] for d in sorted(self.days)) if len(self.days) < 7 else "daily"
        end = self.end.strftime("%H:%M") if self.end is not None else "24:00"
        return f"{days} {self.start.strftime('%H:%M')}-{end}"


def _clock_time(text: str, *, end: bool) -> time | None:
    hours, minutes = (int(part) for part in text.split(":"))
    if end and (hours, minutes) == (24, 0):
        return None
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise ValueError(f"{text!r} is not a time of day (00:00-23:59)")
    return time(hours, minutes)


def _days(text: str | None) -> frozenset[int]:
    if not text or text == "daily":
        return frozenset(range(7))
    found: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError(f"{part!r}: days are mon, tue, wed, thu, fri, sat, sun (ranges like mon-fri)")
        a, b = _DAYS.index(first), _DAYS.index(last or first)
        found.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(found)


def parse_window(spec: str) -> Window:
    """``"mon-fri 22:00-07:00"`` -> a :class:`Window`.

    Raises:
        ValueError: one sentence saying what is wrong and the expected form.
    """
    match = _WINDOW.match(spec.strip().lower())
    if match is None:
        raise ValueError(f"{spec!r} is not a window; expected 'HH:MM-HH:MM' or 'mon-fri HH:MM-HH:MM'")
    start = _clock_time(match["start"], end=False)
    assert start is not None
    window = Window(_days(match["days"]), start, _clock_time(match["end"], end=True))
    if window.end == window.start:
        raise ValueError(f"{spec!r} is empty: its start and end are the same")
    return window


def zone(name: str | None) -> tzinfo | None:
    """The time zone named ``name`` (IANA, e.g. ``Europe/Berlin``); None for the machine's.

    Raises:
        ValueError: no such time zone.
    """
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name like Europe/Berlin)") from None


def is_active(windows: Iterable[Window], moment: datetime) -> bool:
    """Whether ``moment`` is inside any window (no windows: always)."""
    windows = tuple(windows)
    return not windows or any(window.contains(moment) for window in windows)


def boundaries(windows: Iterable[Window]) -> list[tuple[frozenset[int], time]]:
    """Every (days, time) at which some window opens or closes: when the scheduler wakes sessions."""
    out: list[tuple[frozenset[int], time]] = []
    for window in windows:
        out.append((window.days, window.start))
        if window.end is not None:
            shift = window.end <= window.start
            days = frozenset((d + 1) % 7 for d in window.days) if shift else window.days
            out.append((days, window.end))
        else:
            out.append((frozenset((d + 1) % 7 for d in window.days), time(0, 0)))
    return out


class Wakeups:
    """Wakes each session when one of its windows opens or closes, and at its start time."""

    def __init__(self) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        self._scheduler = AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1})
        self.jobs = 0

    def add(
        self,
        name: str,
        wake: Callable[[], None],
        windows: Iterable[Window],
        tz: tzinfo | None,
        start_at: datetime | None = None,
    ) -> None:
        """Wake ``wake()`` at every window boundary (in ``tz``) and at ``start_at``."""
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.date import DateTrigger

        for days, moment in boundaries(windows):
            day_of_week = ",".join(_DAYS[d] for d in sorted(days))
            trigger = CronTrigger(
                day_of_week=day_of_week, hour=moment.hour, minute=moment.minute, timezone=tz
            )
            self._scheduler.add_job(wake, trigger, name=f"{name} window")
            self.jobs += 1
        if start_at is not None and start_at > datetime.now(start_at.tzinfo):
            self._scheduler.add_job(wake, DateTrigger(run_date=start_at), name=f"{name} start")
            self.jobs += 1

    def next_wakeups(self, now: datetime) -> list[datetime]:
        """When the jobs fire next after ``now`` (for tests and ``sentinel status``)."""
        times = []
        for job in self._scheduler.get_jobs():
            fire = job.trigger.get_next_fire_time(None, now)
            if fire is not None:
                times.append(fire)
        return sorted(times)

    def start(self) -> None:
        """Start firing (inside the running event loop)."""
        if self.jobs:
            self._scheduler.start()
            log.debug("schedule.started", jobs=self.jobs)

    def stop(self) -> None:
        """Stop firing. Never raises."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)


__all__ = ["Wakeups", "Window", "boundaries", "is_active", "parse_window", "zone"]
