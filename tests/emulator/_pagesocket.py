"""A WebSocket client that speaks the page's side of the emulator protocol, for tests without a browser."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp

from sentinel.emulator.testing import EmulatorServer

Message = dict[str, Any]


class PageSocket:
    """Records every server message; tests wait for the ones they expect."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[Message] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self.closed_code: int | None = None

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.messages.append(msg.json())
                self._changed.set()
        self.closed_code = self.ws.close_code
        self._changed.set()

    async def wait_closed(self, *, within: float = 15.0) -> int | None:
        """Wait until the server closes the socket; returns the close code."""
        async with asyncio.timeout(within):
            await asyncio.shield(self._reader)
        return self.closed_code

    def mark(self) -> int:
        """The index of the next message; pass it as ``after`` to ignore what came before."""
        return len(self.messages)

    async def send(self, **message: Any) -> None:
        await self.ws.send_json(message)

    async def wait_for(
        self, predicate: Callable[[Message], bool], *, after: int = 0, within: float = 15.0
    ) -> Message:
        """The first message from index ``after`` on that satisfies ``predicate``."""
        async with asyncio.timeout(within):
            while True:
                for message in self.messages[after:]:
                    if predicate(message):
                        return message
                if self._reader.done():
                    raise AssertionError(f"socket closed ({self.closed_code}); got {self.messages[after:]}")
                self._changed.clear()
                await self._changed.wait()

    async def wait_type(self, kind: str, *, after: int = 0, within: float = 15.0, **fields: Any) -> Message:
        """The first message of ``type`` ``kind`` whose fields equal ``fields``."""
        return await self.wait_for(
            lambda m: m.get("type") == kind and all(m.get(k) == v for k, v in fields.items()),
            after=after,
            within=within,
        )

    async def connect(self, *, gpu: bool = True, within: float = 30.0) -> str:
        """Ask for a runtime and return its id once connected."""
        start = self.mark()
        await self.send(type="connect", gpu=gpu)
        message = await self.wait_type("runtime", after=start, state="connected", within=within)
        return str(message["id"])

    async def run(self, cell_id: str, code: str, *, within: float = 30.0) -> tuple[str, Message]:
        """Execute ``code`` and return (stdout+stderr+plain text of the cell, the final ``cell`` message)."""
        start = self.mark()
        await self.send(type="execute", cell_id=cell_id, code=code)
        done = await self.wait_type("cell", after=start, cell_id=cell_id, state="idle", within=within)
        return self.output_text(cell_id, after=start), done

    def output_text(self, cell_id: str, *, after: int = 0) -> str:
        parts = []
        for message in self.messages[after:]:
            if message.get("type") == "output" and message.get("cell_id") == cell_id:
                parts.append(message.get("text") or message.get("plain") or message.get("html") or "")
        return "".join(parts)

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def page_socket(emu: EmulatorServer, name: str = "hello") -> AsyncIterator[PageSocket]:
    """Open the notebook's WebSocket as a page would, and close it afterwards."""
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{emu.base_url}/api/notebooks/{name}/ws")
        page = PageSocket(ws)
        await page.send(type="hello", ui="2025", client_time=0)
        try:
            await page.wait_type("state")  # the server's greeting; later marks exclude it
            yield page
        finally:
            await page.close()


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
