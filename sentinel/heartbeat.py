"""The dead man's switch: a push URL fetched once a minute while every notebook is healthy.

healthchecks.io and Uptime Kuma alert the user when the pings stop, so a machine that died (power,
kernel panic, a killed container) is noticed although sentinel itself cannot say anything. The URL
holds a secret: only its host is ever logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp
import structlog

log = structlog.get_logger(__name__)

HEARTBEAT_INTERVAL = 60.0


class Heartbeat:
    """Pings ``url`` at most every ``interval`` seconds, when told all is well.

    Args:
        url: the push URL (GET).
        interval: seconds between pings.
        timeout: seconds one ping may take.
        clock: monotonic seconds; inject a fake in tests.
    """

    def __init__(
        self,
        url: str,
        *,
        interval: float = HEARTBEAT_INTERVAL,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self._clock = clock
        self._last: float | None = None
        self._session: aiohttp.ClientSession | None = None
        self.sent = 0
        self.failed = 0

    @property
    def host(self) -> str:
        """The URL's host: what logs may show of it."""
        return urlsplit(self.url).hostname or "?"

    def due(self, healthy: bool) -> bool:
        """Whether a ping should go out now: all is well and ``interval`` has passed since the last."""
        if not healthy:
            return False
        now = self._clock()
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        return True

    async def ping(self) -> bool:
        """One GET of the URL; True on a 2xx answer. Never raises."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            async with self._session.get(self.url) as response:
                ok = 200 <= response.status < 300
                status: int | str = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            ok, status = False, type(exc).__name__
        if ok:
            self.sent += 1
            log.debug("heartbeat.sent", host=self.host)
        else:
            self.failed += 1
            log.warning("heartbeat.failed", host=self.host, status=status)
        return ok

    async def close(self) -> None:
        """Close the HTTP session. Never raises."""
        session, self._session = self._session, None
        if session is not None:
            await asyncio.shield(session.close())


__all__ = ["HEARTBEAT_INTERVAL", "Heartbeat"]
