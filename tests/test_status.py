"""The status server over real sockets: /healthz, /status, /metrics, and its bind errors (the page: test_status_page)."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from sentinel import __version__
from sentinel.config import Settings, load_settings
from sentinel.errors import UsageError
from sentinel.status import Metrics, NotebookStatus, StatusServer, StatusSnapshot
from sentinel.timeline import TimelineEntry

NB = "https://colab.research.google.com/drive/1abc"
OTHER = "http://127.0.0.1:8765/notebooks/train.ipynb"
STARTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Daemon:
    """Plays the daemon's side: a snapshot callable over mutable state."""

    notebooks: list[NotebookStatus] = field(default_factory=list)
    fail: bool = False

    def snapshot(self) -> StatusSnapshot:
        if self.fail:
            raise RuntimeError("sessions are being rebuilt")
        return StatusSnapshot(notebooks=tuple(self.notebooks), started_at=STARTED, browser_restarts=2)


@pytest.fixture(name="settings")
def _settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.delenv("SENTINEL_STATUS_ADDR", raising=False)
    defaults = load_settings()
    # Same host as the default, but a free port: the default 8731 may be busy with a real daemon.
    yield load_settings(status_addr=f"{defaults.status_host}:0", status_stale_after=30.0)


@pytest.fixture(name="clock")
def _clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(name="metrics")
def _metrics(clock: FakeClock) -> Metrics:
    return Metrics(clock=clock, wall=lambda: 1_700_000_000.0)


@pytest.fixture(name="daemon")
def _daemon() -> Daemon:
    return Daemon()


@pytest.fixture(name="server")
async def _server(settings: Settings, metrics: Metrics, daemon: Daemon) -> AsyncIterator[StatusServer]:
    async with StatusServer(settings, daemon.snapshot, metrics) as server:
        yield server


@pytest.fixture(name="http")
async def _http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


def samples(text: str) -> dict[str, list[Sample]]:
    """Metric family name -> its samples, parsed by prometheus_client's own parser."""
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(found: dict[str, list[Sample]], family: str, sample: str, **labels: str) -> float:
    matches = [s.value for s in found[family] if s.name == sample and s.labels == labels]
    assert len(matches) == 1, (sample, labels, found[family])
    return matches[0]


class TestBinding:
    def test_default_address_is_loopback(self) -> None:
        """Out of the box the status page is not reachable from the network."""
        assert Settings.model_fields["status_addr"].default == "127.0.0.1:8731"

    async def test_binds_the_configured_host(self, server: StatusServer) -> None:
        """The server listens on the settings' host and reports the free port it got."""
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"

    async def test_a_busy_port_is_one_usage_error(
        self, server: StatusServer, metrics: Metrics, daemon: Daemon
    ) -> None:
        """A second server on the same port fails with one line that names the address."""
        taken = load_settings(status_addr=f"127.0.0.1:{server.port}")
        with pytest.raises(UsageError) as info:
            await StatusServer(taken, daemon.snapshot, metrics).start()
        message = str(info.value)
        assert "\n" not in message
        assert f"127.0.0.1:{server.port} is already in use" in message

    async def test_an_address_not_on_this_host_is_one_usage_error(
        self, metrics: Metrics, daemon: Daemon
    ) -> None:
        """An address no interface has (TEST-NET-1) is refused with the OS's reason."""
        foreign = load_settings(status_addr="192.0.2.1:0")
        with pytest.raises(UsageError, match=r"cannot serve status on 192\.0\.2\.1:0: "):
            await StatusServer(foreign, daemon.snapshot, metrics).start()

    async def test_stop_is_idempotent_and_frees_the_port(
        self, settings: Settings, metrics: Metrics, daemon: Daemon, http: aiohttp.ClientSession
    ) -> None:
        """After stop() nothing answers; a second stop() is a no-op."""
        server = StatusServer(settings, daemon.snapshot, metrics)
        await server.start()
        url = server.url
        await server.stop()
        await server.stop()
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"{url}/healthz")


class TestHealthz:
    async def test_starting_until_the_first_heartbeat(
        self, server: StatusServer, http: aiohttp.ClientSession
    ) -> None:
        """Before the main loop ticks, supervisors are told to wait."""
        async with http.get(f"{server.url}/healthz") as response:
            assert response.status == 503
            assert (await response.text()).startswith("starting")

    async def test_ok_while_the_loop_ticks_and_stale_after(
        self, server: StatusServer, metrics: Metrics, clock: FakeClock, http: aiohttp.ClientSession
    ) -> None:
        """200 "ok" while heartbeats are recent; 503 once the loop has been silent too long."""
        metrics.heartbeat()
        clock.now += 29
        async with http.get(f"{server.url}/healthz") as response:
            assert response.status == 200
            assert await response.text() == "ok"
        clock.now += 2
        async with http.get(f"{server.url}/healthz") as response:
            assert response.status == 503
            assert await response.text() == "stale: the main loop last ticked 31 s ago"
        metrics.heartbeat()
        async with http.get(f"{server.url}/healthz") as response:
            assert response.status == 200


class TestStatus:
    async def test_json_shape(
        self, server: StatusServer, daemon: Daemon, http: aiohttp.ClientSession
    ) -> None:
        """/status lists every notebook with all its fields (the page's too), times in UTC ISO 8601."""
        daemon.notebooks = [
            NotebookStatus(
                url=NB,
                state="connected",
                since=STARTED + timedelta(minutes=5),
                reconnects=3,
                resumes=4,
                progress="step 1200/5000",
            ),
            NotebookStatus(
                url=OTHER,
                state="blocked",
                since=datetime(2026, 1, 2, 5, 0, tzinfo=UTC),
                blocked_reason="captcha",
                last_error="reconnect timed out",
                name="training",
                crashes=2,
                progress_record={"step": 5000, "total": 5000, "loss": 0.12},
                diagnosis="CUDA out of memory",
                action="Lower the batch size.",
                finished_at=datetime(2026, 1, 2, 4, 30, tzinfo=UTC),
                timeline=(
                    TimelineEntry(
                        at=datetime(2026, 1, 2, 5, 0, tzinfo=UTC),
                        event="state",
                        detail="connected -> blocked",
                    ),
                ),
            ),
        ]
        async with http.get(f"{server.url}/status") as response:
            assert response.status == 200
            assert response.content_type == "application/json"
            body = await response.json()
        assert body == {
            "notebooks": [
                {
                    "url": NB,
                    "state": "connected",
                    "since": "2026-01-02T03:09:05Z",
                    "reconnects": 3,
                    "resumes": 4,
                    "blocked_reason": None,
                    "last_error": None,
                    "progress": "step 1200/5000",
                    "name": "1abc",
                    "crashes": 0,
                    "progress_record": None,
                    "diagnosis": None,
                    "action": None,
                    "finished_at": None,
                    "timeline": [],
                },
                {
                    "url": OTHER,
                    "state": "blocked",
                    "since": "2026-01-02T05:00:00Z",
                    "reconnects": 0,
                    "resumes": 0,
                    "blocked_reason": "captcha",
                    "last_error": "reconnect timed out",
                    "progress": None,
                    "name": "training",
                    "crashes": 2,
                    "progress_record": {"step": 5000, "total": 5000, "loss": 0.12},
                    "diagnosis": "CUDA out of memory",
                    "action": "Lower the batch size.",
                    "finished_at": "2026-01-02T04:30:00Z",
                    "timeline": [
                        {"at": "2026-01-02T05:00:00Z", "event": "state", "detail": "connected -> blocked"}
                    ],
                },
            ],
            "started_at": "2026-01-02T03:04:05Z",
            "browser_restarts": 2,
            "version": __version__,
        }

    async def test_snapshot_is_taken_per_request(
        self, server: StatusServer, daemon: Daemon, http: aiohttp.ClientSession
    ) -> None:
        """Each request sees the daemon's state of that moment."""
        async with http.get(f"{server.url}/status") as response:
            assert (await response.json())["notebooks"] == []
        daemon.notebooks = [NotebookStatus(url=NB, state="reconnecting", since=STARTED)]
        async with http.get(f"{server.url}/status") as response:
            assert [nb["state"] for nb in (await response.json())["notebooks"]] == ["reconnecting"]

    async def test_states_may_be_the_session_enum(
        self, server: StatusServer, daemon: Daemon, http: aiohttp.ClientSession
    ) -> None:
        """The daemon may hand over its state enum; /status shows the enum's value."""

        class SessionState(enum.Enum):
            BLOCKED = "blocked"

        daemon.notebooks = [NotebookStatus(url=NB, state=SessionState.BLOCKED, since=STARTED)]
        async with http.get(f"{server.url}/status") as response:
            assert (await response.json())["notebooks"][0]["state"] == "blocked"

    async def test_a_failing_snapshot_is_a_500_and_the_server_lives_on(
        self, server: StatusServer, daemon: Daemon, http: aiohttp.ClientSession
    ) -> None:
        """A daemon bug while describing itself is reported, not fatal."""
        daemon.fail = True
        async with http.get(f"{server.url}/status") as response:
            assert response.status == 500
            assert (await response.json())["error"] == "the daemon could not describe its state"
        daemon.fail = False
        async with http.get(f"{server.url}/status") as response:
            assert response.status == 200

    async def test_unknown_paths_and_methods(self, server: StatusServer, http: aiohttp.ClientSession) -> None:
        """Only GET (and HEAD) on the routes."""
        async with http.get(f"{server.url}/nope") as response:
            assert response.status == 404
        async with http.post(f"{server.url}/status") as response:
            assert response.status == 405
        async with http.head(f"{server.url}/healthz") as response:
            assert response.status == 503


class TestMetrics:
    async def test_exposition_parses_and_counts(
        self, server: StatusServer, metrics: Metrics, clock: FakeClock, http: aiohttp.ClientSession
    ) -> None:
        """Every metric is exposed under its name, and parses with prometheus_client's parser."""
        metrics.add_notebook(NB)
        metrics.add_notebook(OTHER)
        metrics.reconnected(NB)
        metrics.reconnected(NB)
        metrics.resumed(NB)
        metrics.browser_restarted()
        metrics.set_consecutive_failures(OTHER, 4)
        metrics.detected(0.3)
        metrics.detected(0.004)
        metrics.heartbeat()
        async with http.get(f"{server.url}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=")
            found = samples(await response.text())
        assert {
            "sentinel_reconnects",
            "sentinel_resumes",
            "sentinel_blocked_seconds",
            "sentinel_browser_restarts",
            "sentinel_last_heartbeat_timestamp_seconds",
            "sentinel_consecutive_failures",
            "sentinel_detection_latency_seconds",
        } <= found.keys()
        assert value(found, "sentinel_reconnects", "sentinel_reconnects_total", notebook=NB) == 2
        assert value(found, "sentinel_reconnects", "sentinel_reconnects_total", notebook=OTHER) == 0
        assert value(found, "sentinel_resumes", "sentinel_resumes_total", notebook=NB) == 1
        assert value(found, "sentinel_browser_restarts", "sentinel_browser_restarts_total") == 1
        assert (
            value(found, "sentinel_consecutive_failures", "sentinel_consecutive_failures", notebook=OTHER)
            == 4
        )
        assert (
            value(found, "sentinel_consecutive_failures", "sentinel_consecutive_failures", notebook=NB) == 0
        )
        assert (
            value(
                found,
                "sentinel_last_heartbeat_timestamp_seconds",
                "sentinel_last_heartbeat_timestamp_seconds",
            )
            == 1_700_000_000.0
        )
        histogram = "sentinel_detection_latency_seconds"
        assert value(found, histogram, f"{histogram}_count") == 2
        assert value(found, histogram, f"{histogram}_bucket", le="0.01") == 1
        assert value(found, histogram, f"{histogram}_bucket", le="0.25") == 1
        assert value(found, histogram, f"{histogram}_bucket", le="0.5") == 2
        bounds = [s.labels["le"] for s in found[histogram] if s.name == f"{histogram}_bucket"]
        assert bounds[0] == "0.01"
        assert bounds[-2:] == ["5.0", "+Inf"]

    async def test_blocked_seconds_grow_while_blocked(
        self, server: StatusServer, metrics: Metrics, clock: FakeClock, http: aiohttp.ClientSession
    ) -> None:
        """A block still going on is counted at scrape time; an ended one stays counted."""

        async def blocked_seconds() -> float:
            async with http.get(f"{server.url}/metrics") as response:
                found = samples(await response.text())
            return value(found, "sentinel_blocked_seconds", "sentinel_blocked_seconds_total", notebook=NB)

        metrics.add_notebook(NB)
        assert await blocked_seconds() == 0
        metrics.set_blocked(NB, True)
        clock.now += 5
        assert await blocked_seconds() == 5
        metrics.set_blocked(NB, True)  # still blocked: the span goes on from its start
        clock.now += 5
        metrics.set_blocked(NB, False)
        clock.now += 100
        assert await blocked_seconds() == 10
        metrics.set_blocked(NB, False)
        metrics.set_blocked(NB, True)
        clock.now += 1.5
        assert await blocked_seconds() == 11.5

    def test_registries_are_private(self) -> None:
        """Two Metrics coexist (a global registry would refuse the duplicate) and the global one stays clean."""
        first, second = Metrics(), Metrics()
        first.reconnected(NB)
        assert b'sentinel_reconnects_total{notebook="' in first.render()
        assert b"sentinel_reconnects_total{" not in second.render()
        assert not [m for m in REGISTRY.collect() if m.name.startswith("sentinel_")]
