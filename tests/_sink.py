"""A local apprise ``json://`` endpoint for tests: real HTTP on 127.0.0.1, every message kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Sink:
    """What apprise's json:// plugin posted: bodies (with the request ``path``) and headers."""

    port: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    # While set to an Event, answers wait for it: a slow service.
    hold: asyncio.Event | None = None
    status: int = 200

    def url(self, path: str = "hook", userinfo: str = "") -> str:
        return f"json://{userinfo}127.0.0.1:{self.port}/{path}"

    def titles(self) -> list[str]:
        return [str(m.get("title", "")) for m in self.received]

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append({"path": request.path, **await request.json()})
        self.headers.append(dict(request.headers))
        self.arrived.set()
        if self.hold is not None:
            await self.hold.wait()
        return web.Response(status=self.status, text="ok")


@asynccontextmanager
async def serve_sink() -> AsyncIterator[Sink]:
    """Run a :class:`Sink` on a free port of 127.0.0.1 in the current loop."""
    sink = Sink()
    app = web.Application()
    app.router.add_post("/{path}", sink.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    sink.port = runner.addresses[0][1]
    try:
        yield sink
    finally:
        if sink.hold is not None:
            sink.hold.set()
        await runner.cleanup()
