"""The daemon's Prometheus metrics: counters it bumps as things happen, in a private registry."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from sentinel.urls import mask_url

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
        self._reconnects.labels(notebook=mask_url(url))
        self._resumes.labels(notebook=mask_url(url))
        self._failures.labels(notebook=mask_url(url)).set(0)
        self._blocked.add(url)

    def reconnected(self, url: str) -> None:
        """A reconnect of ``url`` succeeded."""
        self._reconnects.labels(notebook=mask_url(url)).inc()

    def resumed(self, url: str) -> None:
        """The resume cell of ``url`` was started."""
        self._resumes.labels(notebook=mask_url(url)).inc()

    def counted(self, url: str, counter: str) -> None:
        """A session counter of ``url`` went up (``crashes``, ``keepalives``, ...); reconnects and
        resumes have their own counters."""
        if counter not in ("reconnects", "resumes"):
            self._events.labels(notebook=mask_url(url), event=counter).inc()

    def set_blocked(self, url: str, blocked: bool) -> None:
        """``url`` entered (True) or left (False) the blocked state; the time in between is counted
        in ``sentinel_blocked_seconds_total``, live while it lasts. Repeated calls are harmless."""
        self._blocked.set(url, blocked)

    def set_consecutive_failures(self, url: str, count: int) -> None:
        """``url`` has failed to reconnect ``count`` times in a row."""
        self._failures.labels(notebook=mask_url(url)).set(count)

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
            family.add_metric([mask_url(url)], done + ongoing)
        yield family


__all__ = ["DETECTION_BUCKETS", "Metrics"]
