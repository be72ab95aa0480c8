"""Active hours, start times and the scheduler's wake-ups, on fixed moments (no sleeps, no real clock)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from sentinel.schedule import Wakeups, Window, boundaries, is_active, parse_window, zone

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, tz: ZoneInfo = BERLIN) -> datetime:
    """``"2026-12-07 23:30"`` (a Monday) in ``tz``."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)


class TestWindows:
    def test_a_daily_window(self) -> None:
        window = parse_window("09:00-17:30")
        assert window == Window(frozenset(range(7)), time(9, 0), time(17, 30))
        assert window.contains(at("2026-12-07 09:00"))
        assert window.contains(at("2026-12-07 17:29"))
        assert not window.contains(at("2026-12-07 17:30"))
        assert not window.contains(at("2026-12-07 08:59"))

    def test_a_night_window_runs_past_midnight_into_the_next_day(self) -> None:
        """mon-fri 22:00-07:00: Friday night runs into Saturday morning; Sunday night is off."""
        window = parse_window("mon-fri 22:00-07:00")
        assert window.contains(at("2026-12-07 23:30"))  # Monday night
        assert window.contains(at("2026-12-08 06:59"))  # Tuesday morning (Monday's night)
        assert window.contains(at("2026-12-12 03:00"))  # Saturday morning (Friday's night)
        assert not window.contains(at("2026-12-12 22:30"))  # Saturday night
        assert not window.contains(at("2026-12-07 03:00"))  # Monday morning (Sunday's night)
        assert not window.contains(at("2026-12-08 12:00"))

    def test_day_lists_ranges_that_wrap_and_24_00(self) -> None:
        assert parse_window("sat,sun 00:00-24:00").days == frozenset({5, 6})
        assert parse_window("fri-mon 10:00-11:00").days == frozenset({4, 5, 6, 0})
        weekend = parse_window("sat,sun 00:00-24:00")
        assert weekend.contains(at("2026-12-13 23:59")) and not weekend.contains(at("2026-12-14 00:00"))

    @pytest.mark.parametrize(
        ("spec", "needle"),
        [
            ("25:00-01:00", "not a time of day"),
            ("9-17", "not a window"),
            ("someday 09:00-10:00", "days are mon"),
            ("mon-fry 09:00-10:00", "days are mon"),
            ("10:00-10:00", "empty"),
            ("10:61-11:00", "not a time of day"),
        ],
    )
    def test_bad_windows_say_what_is_wrong(self, spec: str, needle: str) -> None:
        with pytest.raises(ValueError, match=needle):
            parse_window(spec)

    def test_no_windows_means_always(self) -> None:
        assert is_active((), at("2026-12-07 03:00"))
        windows = (parse_window("09:00-10:00"), parse_window("20:00-21:00"))
        assert is_active(windows, at("2026-12-07 20:30"))
        assert not is_active(windows, at("2026-12-07 12:00"))

    def test_time_zones(self) -> None:
        assert zone(None) is None
        assert zone("Asia/Tokyo") == ZoneInfo("Asia/Tokyo")
        with pytest.raises(ValueError, match="unknown time zone"):
            zone("Mars/Olympus")


class TestWakeups:
    def test_every_boundary_wakes_the_session(self) -> None:
        """A night window wakes at 22:00 on its days and at 07:00 the morning after."""
        windows = (parse_window("mon-fri 22:00-07:00"),)
        assert boundaries(windows) == [
            (frozenset(range(5)), time(22, 0)),
            (frozenset({1, 2, 3, 4, 5}), time(7, 0)),
        ]
        wakeups = Wakeups()
        wakeups.add("nb", lambda: None, windows, BERLIN)
        now = at("2026-12-11 12:00")  # Friday noon
        assert [t.isoformat() for t in wakeups.next_wakeups(now)] == [
            "2026-12-11T22:00:00+01:00",
            "2026-12-12T07:00:00+01:00",
        ]

    def test_a_start_time_in_the_future_is_a_wakeup(self) -> None:
        wakeups = Wakeups()
        start = datetime(2099, 1, 1, 6, 0, tzinfo=UTC)
        wakeups.add("nb", lambda: None, (), None, start_at=start)
        assert wakeups.next_wakeups(datetime(2098, 12, 31, tzinfo=UTC)) == [start]
        assert wakeups.jobs == 1
