"""The status HTTP server: the page at ``/``, ``/healthz``, ``/status``, ``/metrics``, and screenshots."""

from __future__ import annotations

import errno
import secrets
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Final, Self

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from sentinel.errors import UsageError
from sentinel.status._auth import TokenGuard, is_loopback
from sentinel.status._metrics import Metrics
from sentinel.status._page import ProgressRates, mask_secrets, render_page
from sentinel.status._screenshots import SCREENSHOT_INTERVAL, Capture, ScreenshotCache
from sentinel.status._snapshot import StatusSnapshot

if TYPE_CHECKING:
    from sentinel.config import Settings

log = structlog.get_logger(__name__)

# The page's own script and styles are inline; nothing else may load, run, frame or be framed.
_PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
_CSP: Final = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class StatusServer:
    """The HTTP server of the status page ``/``, ``/healthz``, ``/status``, ``/metrics`` and
    ``/notebooks/{index}/screenshot.png`` on ``settings.status_addr``.

    Args:
        settings: ``status_addr`` (port 0 picks a free one), ``status_stale_after`` and
            ``status_token`` (required beyond loopback; see :mod:`sentinel.status._auth`).
        snapshot: returns the daemon's current :class:`StatusSnapshot`; called once per request.
        metrics: the daemon's :class:`Metrics`.
        screenshot: takes a PNG of a notebook's window by URL (None: it has no page open); without
            it, screenshots answer 503.
        screenshot_interval: seconds a screenshot is reused before the next one is taken.
        clock: monotonic seconds (screenshot cache, ETA); inject a fake in tests.

    Use ``async with StatusServer(...) as server:`` or :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        settings: Settings,
        snapshot: Callable[[], StatusSnapshot],
        metrics: Metrics,
        *,
        screenshot: Capture | None = None,
        screenshot_interval: float = SCREENSHOT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._host = settings.status_host
        self._port = settings.status_port
        self._addr = settings.status_addr
        self._stale_after = settings.status_stale_after
        self._guard = TokenGuard(settings.status_token, loopback=is_loopback(self._host))
        self._snapshot = snapshot
        self._metrics = metrics
        self._shots = (
            ScreenshotCache(screenshot, interval=screenshot_interval, clock=clock)
            if screenshot is not None
            else None
        )
        self._rates = ProgressRates(clock)
        self._runner: web.AppRunner | None = None
        self._bound: tuple[str, int] | None = None

    async def start(self) -> None:
        """Bind and serve; warn (``status.token_missing``) when bound beyond loopback without a token.

        Raises:
            UsageError: the address is in use or cannot be bound (one line naming it).
        """
        app = web.Application(middlewares=[self._guard.middleware])
        app.router.add_get("/", self._page)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/status", self._status)
        app.router.add_get("/metrics", self._metrics_page)
        app.router.add_get(r"/notebooks/{index:\d+}/screenshot.png", self._screenshot)
        # No access log: Prometheus scrapes every few seconds and would drown the daemon's log
        # (and a ?token= would end up in it).
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(
                    f"status address {self._addr} is already in use (another sentinel?); "
                    "choose another with --status-addr HOST:PORT"
                ) from None
            raise UsageError(f"cannot serve status on {self._addr}: {exc.strerror or exc}") from None
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._bound = (str(host), int(port))
        if self._guard.required and not self._guard.has_token:
            log.warning(
                "status.token_missing",
                addr=self._addr,
                message=f"The status server on {self._addr} is reachable beyond this machine and "
                "no status token is set: everything but /healthz answers 401 until "
                "SENTINEL_STATUS_TOKEN is set.",
            )
        log.debug("status.started", url=self.url, token=self._guard.has_token)

    async def stop(self) -> None:
        """Stop serving; idempotent."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
            log.debug("status.stopped")

    @property
    def port(self) -> int:
        """The bound port (the real one when ``status_addr`` asked for port 0)."""
        if self._bound is None:
            raise RuntimeError("the status server is not started")
        return self._bound[1]

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        if self._bound is None:
            raise RuntimeError("the status server is not started")
        host = self._bound[0]
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # --- routes ---

    def _take_snapshot(self) -> StatusSnapshot | None:
        try:
            return self._snapshot()
        except Exception:  # The status page must survive a daemon bug and say so.
            log.exception("status.snapshot_failed")
            return None

    async def _healthz(self, _: web.Request) -> web.Response:
        age = self._metrics.seconds_since_heartbeat()
        if age is None:
            return web.Response(status=503, text="starting: the main loop has not ticked yet")
        if age > self._stale_after:
            return web.Response(status=503, text=f"stale: the main loop last ticked {age:.0f} s ago")
        return web.Response(text="ok")

    async def _status(self, _: web.Request) -> web.Response:
        snapshot = self._take_snapshot()
        if snapshot is None:
            return web.json_response({"error": "the daemon could not describe its state"}, status=500)
        return web.json_response(snapshot.to_json())

    async def _page(self, _: web.Request) -> web.Response:
        snapshot = self._take_snapshot()
        if snapshot is None:
            return web.Response(status=500, text="500: the daemon could not describe its state\n")
        etas = {nb.url: self._rates.eta(nb.url, nb.progress_record) for nb in snapshot.notebooks}
        nonce = secrets.token_urlsafe(16)
        body = render_page(snapshot, etas=etas, nonce=nonce, screenshots=self._shots is not None)
        headers = {**_PAGE_HEADERS, "Content-Security-Policy": _CSP.format(nonce=nonce)}
        return web.Response(text=body, content_type="text/html", headers=headers)

    async def _screenshot(self, request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        snapshot = self._take_snapshot()
        if snapshot is None:
            return web.Response(status=500, text="500: the daemon could not describe its state\n")
        if index >= len(snapshot.notebooks):
            return web.Response(status=404, text=f"404: there is no notebook {index}\n")
        if self._shots is None:
            return web.Response(status=503, text="503: this sentinel takes no screenshots\n")
        url = snapshot.notebooks[index].url
        try:
            shot = await self._shots.get(url)
        except Exception:  # A capture bug must not take the status server down.
            log.exception("status.screenshot_failed", notebook=mask_secrets(url))
            return web.Response(status=500, text="500: the screenshot failed\n")
        if shot.png is None:
            return web.Response(
                status=503, text=f"503: notebook {index} has no page open\n", headers={"Retry-After": "5"}
            )
        return web.Response(
            body=shot.png,
            content_type="image/png",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )

    async def _metrics_page(self, _: web.Request) -> web.Response:
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


__all__ = ["StatusServer"]
