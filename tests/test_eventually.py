"""The suite's waiting helpers: eventually() returns as soon as a check holds, and says why it never did."""

from __future__ import annotations

import pytest

from tests._eventually import consistently, eventually


class TestEventually:
    async def test_returns_the_value_once_a_sync_check_holds(self) -> None:
        """A check returning a value is re-run until the value is true, and that value is returned."""
        calls: list[int] = []

        def third_time() -> list[int]:
            calls.append(1)
            return calls if len(calls) >= 3 else []

        assert await eventually(third_time, interval=0.001) == [1, 1, 1]

    async def test_an_async_asserting_check_holds_when_it_stops_raising(self) -> None:
        """An async check that asserts holds when it returns (None) without an AssertionError."""
        seen: list[int] = []

        async def grows() -> None:
            seen.append(len(seen))
            assert len(seen) > 2, seen

        assert await eventually(grows, interval=0.001) is None
        assert len(seen) == 3

    async def test_timeout_reports_the_last_assertion_and_the_state_then(self) -> None:
        """On timeout the error carries the check's last message and ``what``, evaluated at that moment."""
        state = {"n": 0}

        def never() -> None:
            state["n"] += 1
            assert state["n"] < 0, f"n is {state['n']}"

        with pytest.raises(AssertionError, match=r"not within 0.2 s \(state n=\d+\): n is \d+") as info:
            await eventually(never, timeout=0.2, interval=0.01, what=lambda: f"state n={state['n']}")
        assert isinstance(info.value.__cause__, AssertionError)

    async def test_a_false_value_is_reported(self) -> None:
        """A check that keeps returning False fails with that value."""
        with pytest.raises(AssertionError, match="returned False"):
            await eventually(lambda: False, timeout=0.05, interval=0.01, what="never")

    async def test_other_errors_propagate_at_once(self) -> None:
        """Only AssertionError means "not yet": a bug in the check fails the test immediately."""
        with pytest.raises(ZeroDivisionError):
            await eventually(lambda: 1 / 0, timeout=30)


class TestConsistently:
    async def test_passes_when_the_check_holds_throughout(self) -> None:
        """A check that always holds makes consistently() return after the period."""
        calls: list[int] = []
        await consistently(lambda: calls.append(1), duration=0.1, interval=0.01)
        assert len(calls) >= 3

    async def test_fails_at_the_first_violation(self) -> None:
        """The first time the check fails, consistently() fails with its message, without waiting out the period."""
        calls: list[int] = []

        def breaks_on_the_third() -> None:
            calls.append(1)
            assert len(calls) < 3, "clicked"

        with pytest.raises(AssertionError, match=r"stopped holding after .* s: clicked"):
            await consistently(breaks_on_the_third, duration=30, interval=0.01)
        assert len(calls) == 3
