"""Screenshots of the notebooks' windows, taken on demand and at most once per few seconds each.

A capture costs the browser real work (on a small machine, as much as a keep-alive), so however many
people or page refreshes ask, each notebook is captured at most once per ``interval``: requests in
between get the cached PNG, and requests during a capture wait for that capture.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import structlog

log = structlog.get_logger(__name__)

# Seconds a screenshot is served from cache before the next request takes a new one.
SCREENSHOT_INTERVAL: Final = 5.0
# A capture that takes longer than this counts as "no screenshot" (a hung page must not hang us).
CAPTURE_TIMEOUT: Final = 20.0

Capture = Callable[[str], Awaitable[bytes | None]]


@dataclass(frozen=True, slots=True)
class Shot:
    """One capture: the PNG (None: no page was open) and when it was taken (monotonic seconds)."""

    png: bytes | None
    at: float


class ScreenshotCache:
    """Calls ``capture(url)`` at most once per ``interval`` per notebook.

    Args:
        capture: takes a PNG of the notebook's window; None when it has no page open.
        interval: seconds a capture is reused.
        clock: monotonic seconds; inject a fake in tests.
    """

    __slots__ = ("_capture", "_clock", "_interval", "_locks", "_shots")

    def __init__(
        self,
        capture: Capture,
        *,
        interval: float = SCREENSHOT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capture = capture
        self._interval = interval
        self._clock = clock
        self._shots: dict[str, Shot] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, url: str) -> Shot:
        """The notebook's screenshot: the cached one while fresh, else a new capture.

        Raises:
            Exception: whatever ``capture`` raised (nothing is cached then).
        """
        fresh = self._fresh(url)
        if fresh is not None:
            return fresh
        async with self._locks.setdefault(url, asyncio.Lock()):
            fresh = self._fresh(url)  # taken by the request we waited for
            if fresh is not None:
                return fresh
            try:
                png = await asyncio.wait_for(self._capture(url), CAPTURE_TIMEOUT)
            except TimeoutError:
                log.warning("status.screenshot_timeout", notebook=url, seconds=CAPTURE_TIMEOUT)
                png = None
            shot = Shot(png, self._clock())
            self._shots[url] = shot
            return shot

    def _fresh(self, url: str) -> Shot | None:
        shot = self._shots.get(url)
        if shot is not None and self._clock() - shot.at < self._interval:
            return shot
        return None


__all__ = ["CAPTURE_TIMEOUT", "SCREENSHOT_INTERVAL", "ScreenshotCache", "Shot"]
