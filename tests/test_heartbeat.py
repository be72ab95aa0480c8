"""The dead man's switch against a real local HTTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from sentinel.heartbeat import Heartbeat


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="server")
async def _server() -> AsyncIterator[tuple[str, list[str]]]:
    hits: list[str] = []

    async def ping(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="OK", status=200 if "ok" in request.path else 500)

    app = web.Application()
    app.router.add_get("/{name}", ping)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", hits
    finally:
        await runner.cleanup()


async def test_pings_once_a_minute_while_healthy(server: tuple[str, list[str]]) -> None:
    base, hits = server
    clock = FakeClock()
    beat = Heartbeat(f"{base}/ok-secret-uuid", interval=60, clock=clock)
    try:
        assert beat.due(healthy=True)
        assert await beat.ping()
        clock.now = 59
        assert not beat.due(healthy=True)
        clock.now = 61
        assert not beat.due(healthy=False), "an unhealthy notebook stops the pings"
        assert beat.due(healthy=True)
        assert await beat.ping()
    finally:
        await beat.close()
    assert hits == ["/ok-secret-uuid", "/ok-secret-uuid"]
    assert beat.sent == 2


async def test_a_failed_ping_is_logged_without_the_secret(server: tuple[str, list[str]]) -> None:
    base, _ = server
    beat = Heartbeat(f"{base}/fail-secret-uuid")
    try:
        with capture_logs() as logs:
            assert not await beat.ping()
    finally:
        await beat.close()
    assert beat.failed == 1
    assert [e["event"] for e in logs] == ["heartbeat.failed"]
    assert "secret" not in repr(logs)
    refused = Heartbeat("http://127.0.0.1:9/x")
    try:
        assert not await refused.ping()
    finally:
        await refused.close()
