"""What the daemon is doing, over HTTP: /healthz for supervisors, /status for people, /metrics for Prometheus.

The daemon owns two objects from here: a :class:`Metrics` it calls as things happen (reconnects,
resumes, blocked spans, detection latencies, main-loop heartbeats), and a :class:`StatusServer`
that it starts with a callable returning a :class:`StatusSnapshot` of its sessions. The server
never touches the sessions itself, so it cannot disturb them.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

import structlog
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from sentinel import __version__
from sentinel.errors import UsageError

if TYPE_CHECKING:
    from sentinel.config import Settings

log = structlog.get_logger(__name__)

# Page change -> daemon reaction spans ~10 ms (observer push) to seconds (safety poll).
DETECTION_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The daemon's Prometheus metrics, in a private registry (never the process-global one).

    Args:
        clock: monotonic seconds (blocked spans, heartbeat age); inject a fake in tests.
        wall: Unix seconds for the heartbeat timestamp gauge.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock
        self._wall = wall
        self._last_beat: float | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        self._reconnects = Counter(
            "sentinel_reconnects", "Reconnects made, per notebook.", ["notebook"], registry=self.registry
        )
        self._resumes = Counter(
            "sentinel_resumes", "Resume cells run, per notebook.", ["notebook"], registry=self.registry
        )
        self._events = Counter(
            "sentinel_session_events",
            "What each notebook's session did: crashes seen, keep-alive inputs, dialogs answered, "
            "page reopens, connect attempts (the session's counters).",
            ["notebook", "event"],
            registry=self.registry,
        )
        self._browser_restarts = Counter(
            "sentinel_browser_restarts", "Times the browser was relaunched.", registry=self.registry
        )
        self._heartbeat = Gauge(
            "sentinel_last_heartbeat_timestamp_seconds",
            "Unix time of the daemon main loop's last tick.",
            registry=self.registry,
        )
        self._failures = Gauge(
            "sentinel_consecutive_failures",
            "Failed reconnects in a row, per notebook (0 once one works).",
            ["notebook"],
            registry=self.registry,
        )
        self._detection = Histogram(
            "sentinel_detection_latency_seconds",
            "Seconds from a page change (dialog, disconnect) to the daemon acting on it.",
            buckets=DETECTION_BUCKETS,
            registry=self.registry,
        )
        self._blocked = _BlockedSeconds(clock)
        self.registry.register(self._blocked)

    def add_notebook(self, url: str) -> None:
        """Create the notebook's series at zero, so rates and alerts see it from the start."""
        self._reconnects.labels(notebook=url)
        self._resumes.labels(notebook=url)
        self._failures.labels(notebook=url).set(0)
        self._blocked.add(url)

    def reconnected(self, url: str) -> None:
        """A reconnect of ``url`` succeeded."""
        self._reconnects.labels(notebook=url).inc()

    def resumed(self, url: str) -> None:
        """The resume cell of ``url`` was started."""
        self._resumes.labels(notebook=url).inc()

    def counted(self, url: str, counter: str) -> None:
        """A session counter of ``url`` went up (``crashes``, ``keepalives``, ...); reconnects and
        resumes have their own counters."""
        if counter not in ("reconnects", "resumes"):
            self._events.labels(notebook=url, event=counter).inc()

    def set_blocked(self, url: str, blocked: bool) -> None:
        """``url`` entered (True) or left (False) the blocked state; the time in between is counted
        in ``sentinel_blocked_seconds_total``, live while it lasts. Repeated calls are harmless."""
        self._blocked.set(url, blocked)

    def set_consecutive_failures(self, url: str, count: int) -> None:
        """``url`` has failed to reconnect ``count`` times in a row."""
        self._failures.labels(notebook=url).set(count)

    def browser_restarted(self) -> None:
        """The browser was relaunched (crashed, killed, or recycled)."""
        self._browser_restarts.inc()

    def detected(self, seconds: float) -> None:
        """A page change took ``seconds`` to be noticed and acted upon."""
        self._detection.observe(seconds)

    def heartbeat(self) -> None:
        """The main loop ticked; /healthz is healthy while this keeps happening."""
        self._last_beat = self._clock()
        self._heartbeat.set(self._wall())

    def seconds_since_heartbeat(self) -> float | None:
        """Seconds since :meth:`heartbeat`, or None before the first one."""
        return None if self._last_beat is None else self._clock() - self._last_beat

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class _BlockedSeconds(Collector):
    # A Counter only moves when told to; computing at scrape time counts a block that is still
    # going on, so a notebook stuck for hours shows up before it is unblocked.
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._done: dict[str, float] = {}
        self._since: dict[str, float] = {}

    def add(self, url: str) -> None:
        self._done.setdefault(url, 0.0)

    def set(self, url: str, blocked: bool) -> None:
        self.add(url)
        if blocked:
            self._since.setdefault(url, self._clock())
        elif url in self._since:
            self._done[url] += self._clock() - self._since.pop(url)

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "sentinel_blocked_seconds",
            "Seconds spent blocked (waiting for a human), per notebook.",
            labels=["notebook"],
        )
        now = self._clock()
        for url, done in sorted(self._done.items()):
            ongoing = now - self._since[url] if url in self._since else 0.0
            family.add_metric([url], done + ongoing)
        yield family


@dataclass(frozen=True, slots=True)
class NotebookStatus:
    """One notebook, as ``GET /status`` shows it.

    Attributes:
        url: the notebook URL.
        state: the session state (``SessionState`` or its value, ``"connected"``...).
        since: when it entered that state (timezone-aware).
        reconnects: reconnects made.
        resumes: resume cells run.
        blocked_reason: why a human is needed, while blocked.
        last_error: the last error met, if any.
        progress: what the notebook last reported about its training (e.g. ``"step 1200/5000"``).
    """

    url: str
    state: str | Enum
    since: datetime
    reconnects: int = 0
    resumes: int = 0
    blocked_reason: str | None = None
    last_error: str | None = None
    progress: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``/status``'s ``notebooks`` list."""
        return {
            "url": self.url,
            "state": str(self.state.value) if isinstance(self.state, Enum) else self.state,
            "since": _iso(self.since),
            "reconnects": self.reconnects,
            "resumes": self.resumes,
            "blocked_reason": self.blocked_reason,
            "last_error": self.last_error,
            "progress": self.progress,
        }


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """The whole daemon at one moment, as ``GET /status`` shows it.

    Attributes:
        notebooks: one entry per notebook, in the order given on the command line.
        started_at: when the daemon started (timezone-aware).
        browser_restarts: times the browser was relaunched.
    """

    notebooks: Sequence[NotebookStatus] = field(default_factory=tuple)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    browser_restarts: int = 0

    def to_json(self) -> dict[str, Any]:
        """The JSON document of ``GET /status``."""
        return {
            "notebooks": [nb.to_json() for nb in self.notebooks],
            "started_at": _iso(self.started_at),
            "browser_restarts": self.browser_restarts,
            "version": __version__,
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class StatusServer:
    """The HTTP server of ``/healthz``, ``/status`` and ``/metrics`` on ``settings.status_addr``.

    Args:
        settings: ``status_addr`` (port 0 picks a free one) and ``status_stale_after``.
        snapshot: returns the daemon's current :class:`StatusSnapshot`; called once per ``/status``.
        metrics: the daemon's :class:`Metrics`.

    Use ``async with StatusServer(...) as server:`` or :meth:`start` / :meth:`stop`.
    """

    def __init__(self, settings: Settings, snapshot: Callable[[], StatusSnapshot], metrics: Metrics) -> None:
        self._host = settings.status_host
        self._port = settings.status_port
        self._addr = settings.status_addr
        self._stale_after = settings.status_stale_after
        self._snapshot = snapshot
        self._metrics = metrics
        self._runner: web.AppRunner | None = None
        self._bound: tuple[str, int] | None = None

    async def start(self) -> None:
        """Bind and serve.

        Raises:
            UsageError: the address is in use or cannot be bound (one line naming it).
        """
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/status", self._status)
        app.router.add_get("/metrics", self._metrics_page)
        # No access log: Prometheus scrapes every few seconds and would drown the daemon's log.
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
        log.debug("status.started", url=self.url)

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

    async def _healthz(self, _: web.Request) -> web.Response:
        age = self._metrics.seconds_since_heartbeat()
        if age is None:
            return web.Response(status=503, text="starting: the main loop has not ticked yet")
        if age > self._stale_after:
            return web.Response(status=503, text=f"stale: the main loop last ticked {age:.0f} s ago")
        return web.Response(text="ok")

    async def _status(self, _: web.Request) -> web.Response:
        try:
            body = self._snapshot().to_json()
        except Exception:  # The status page must survive a daemon bug and say so.
            log.exception("status.snapshot_failed")
            return web.json_response({"error": "the daemon could not describe its state"}, status=500)
        return web.json_response(body)

    async def _metrics_page(self, _: web.Request) -> web.Response:
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


__all__ = ["DETECTION_BUCKETS", "Metrics", "NotebookStatus", "StatusServer", "StatusSnapshot"]
