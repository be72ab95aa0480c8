"""Waiting in tests: re-check a condition until it holds (``eventually``) or while it must (``consistently``).

Playwright's Python API has no ``expect.poll``, and most of what the suite waits for (a session's
state, the emulator's event log, a value in the page) has no event to await. Both helpers take a
check: a function, sync or async, that either asserts (returns None) or returns a value whose truth
is the condition. On failure they raise AssertionError with the check's last assertion message or
last value, and ``what`` (a callable is called then, to show the state at that moment).

Bounds are for a busy 2-core CI machine, not speed requirements: a check that holds returns at once.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

T = TypeVar("T")


class _NotYet(Exception):
    """One attempt of a check that did not hold, with the reason."""

    def __init__(self, reason: str, cause: BaseException | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause


async def _attempt(check: Callable[[], T | Awaitable[T]], deadline: float) -> T:
    """Run ``check`` once; return its result if it holds, else raise _NotYet saying why."""
    try:
        result = check()
        if inspect.isawaitable(result):
            loop = asyncio.get_running_loop()
            # A check that hangs (a page that stopped answering) must not outlive the bound.
            async with asyncio.timeout_at(max(deadline, loop.time() + 1.0)):
                result = await result
    except AssertionError as exc:
        raise _NotYet(str(exc) or "assertion failed", exc) from exc
    except TimeoutError as exc:
        raise _NotYet("the check itself did not return in time", exc) from exc
    # None is what an assertion function returns when it did not raise.
    if result is not None and not result:
        raise _NotYet(f"returned {result!r}")
    return result  # type: ignore[return-value]  # awaited above when it was awaitable


def _describe(what: str | Callable[[], object]) -> str:
    text = what() if callable(what) else what
    return f" ({text})" if text else ""


@overload
async def eventually(
    check: Callable[[], Awaitable[T]],
    *,
    timeout: float = ...,  # noqa: ASYNC109  # the bound is the point: it goes into the failure message
    interval: float = ...,
    what: str | Callable[[], object] = ...,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T],
    *,
    timeout: float = ...,  # noqa: ASYNC109  # the bound is the point: it goes into the failure message
    interval: float = ...,
    what: str | Callable[[], object] = ...,
) -> T: ...


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = 30.0,  # noqa: ASYNC109  # (same)
    interval: float = 0.05,
    what: str | Callable[[], object] = "",
) -> T | Awaitable[T]:
    """Re-run ``check`` every ``interval`` seconds until it holds; return its result.

    ``check`` holds when it does not raise AssertionError and returns None or a true value
    (so ``lambda: session.state is State.CONNECTED`` and an asserting ``async def`` both work;
    a probe whose "not yet" is None must say so: ``lambda: value() is not None``).

    Raises:
        AssertionError: it did not hold within ``timeout`` seconds; the message has the last
            assertion message (or value) and ``what``, and chains the last AssertionError.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await _attempt(check, deadline)
        except _NotYet as not_yet:
            if loop.time() >= deadline:
                message = f"not within {timeout:g} s{_describe(what)}: {not_yet.reason}"
                raise AssertionError(message) from not_yet.cause
        await asyncio.sleep(interval)


async def consistently(
    check: Callable[[], object],
    *,
    duration: float,
    interval: float = 0.1,
    what: str | Callable[[], object] = "",
) -> None:
    """Re-run ``check`` for ``duration`` seconds; fail at the first time it does not hold.

    For "nothing happens" over a period (no click under a captcha, no second resume): the period is
    a deliberate bounded wait, and a violation fails at once with the state that broke it.

    Raises:
        AssertionError: ``check`` did not hold at some point; says when and why.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    end = start + duration
    while True:
        try:
            await _attempt(check, end + 30.0)
        except _NotYet as not_yet:
            message = f"stopped holding after {loop.time() - start:.1f} s{_describe(what)}: {not_yet.reason}"
            raise AssertionError(message) from not_yet.cause
        if loop.time() >= end:
            return
        await asyncio.sleep(min(interval, max(0.0, end - loop.time())))
