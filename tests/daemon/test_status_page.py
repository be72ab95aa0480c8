"""The status page of a real daemon on the emulator: its notebook's state and timeline, and a live
screenshot of the notebook's window taken through the page the daemon drives."""

from __future__ import annotations

import struct
from pathlib import Path

import aiohttp

from sentinel.emulator.testing import EmulatorServer
from tests._eventually import eventually
from tests.daemon.conftest import running_daemon, settled


async def test_the_daemon_serves_its_page_and_a_screenshot(emu: EmulatorServer, tmp_path: Path) -> None:
    """1. A daemon keeps one notebook alive; ``/`` shows it connected, with the state changes that
       got it there in its timeline (also in ``/status``).
    2. ``/notebooks/0/screenshot.png`` is a PNG of the notebook's window; ``/notebooks/1/...`` is 404.
    """
    async with running_daemon([emu.notebook_url("plain")], tmp_path) as daemon:
        await settled(daemon, "plain")
        assert daemon.status_server is not None
        base = daemon.status_server.url
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:

            async def page() -> str:
                async with http.get(f"{base}/") as response:
                    assert response.status == 200
                    html = await response.text()
                assert 'data-state="connected"' in html
                assert "-&gt; connected</li>" in html
                return html

            await eventually(page, timeout=30)
            async with http.get(f"{base}/status") as response:
                (notebook,) = (await response.json())["notebooks"]
            assert notebook["state"] == "connected"
            assert any(
                e["event"] == "state" and e["detail"].endswith("-> connected") for e in notebook["timeline"]
            ), notebook["timeline"]

            async with http.get(f"{base}/notebooks/0/screenshot.png") as response:
                assert response.status == 200
                assert response.content_type == "image/png"
                body = await response.read()
            assert body.startswith(b"\x89PNG\r\n\x1a\n")
            width, height = struct.unpack(">II", body[16:24])
            assert width > 200 and height > 200, (width, height)
            async with http.get(f"{base}/notebooks/1/screenshot.png") as response:
                assert response.status == 404
