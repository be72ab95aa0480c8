"""`sentinel emulator`: starts, prints a URL per notebook, serves them, and stops cleanly on a signal."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from sentinel.emulator.ipynb import BUNDLED_NOTEBOOKS, list_notebooks
from tests._eventually import eventually
from tests.emulator._pagesocket import process_alive


async def _start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sentinel",
        "--log-format",
        "json",
        "emulator",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _read_urls(process: asyncio.subprocess.Process, count: int) -> list[str]:
    assert process.stdout is not None
    urls = []
    async with asyncio.timeout(60):
        while len(urls) < count:
            line = await process.stdout.readline()
            if not line:
                stderr = await process.stderr.read() if process.stderr else b""
                raise AssertionError(f"the emulator exited early: {stderr.decode()}")
            urls.append(line.decode().strip())
    return urls


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_serves_the_bundled_notebooks_and_exits_0_on_a_signal_killing_its_kernels(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """1. `--port 0` picks a free port and prints one URL per notebook.
    2. The URLs answer; a runtime connected over the WebSocket is a live kernel.
    3. On SIGTERM/SIGINT the command exits 0 and the kernel process is gone.
    """
    names = list_notebooks(BUNDLED_NOTEBOOKS)
    assert "hello" in names
    process = await _start("--port", "0", "--allocation-delay", "0", "--drive-dir", str(tmp_path))
    try:
        urls = await _read_urls(process, len(names))
        base = urls[0].rsplit("/notebooks/", 1)[0]
        assert base.startswith("http://127.0.0.1:")
        assert not base.endswith(":0")
        assert urls == [f"{base}/notebooks/{name}" for name in names]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/") as response:
                assert response.status == 200
                assert 'href="/notebooks/hello?ui=2023"' in await response.text()
            ws = await session.ws_connect(f"{base}/api/notebooks/hello/ws")
            await ws.send_json({"type": "connect", "gpu": True})
            async with asyncio.timeout(60):
                while (await ws.receive_json()).get("state") != "connected":
                    pass
            async with session.get(f"{base}/api/notebooks/hello/state") as response:
                pid = (await response.json())["runtime"]["pid"]
            assert process_alive(pid)
            process.send_signal(sig)
            async with asyncio.timeout(30):
                code = await process.wait()
            await ws.close()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0
    assert not process_alive(pid)
    assert process.stderr is not None
    logs = [
        json.loads(line)
        for line in (await process.stderr.read()).decode().splitlines()
        if line.startswith("{")
    ]
    started = next(entry for entry in logs if entry["event"] == "emulator.started")
    assert started["url"] == base
    assert Path(started["drive_dir"]).name == tmp_path.name
    assert any(entry["event"] == "emulator.stopping" and entry["signal"] == sig.name for entry in logs)


async def test_a_port_in_use_exits_2_with_one_line() -> None:
    """Another listener on the port: `sentinel: error: port N on 127.0.0.1 is already in use`, exit 2."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await _start("--port", str(port))
        async with asyncio.timeout(60):
            stdout, stderr = await process.communicate()
    assert process.returncode == 2
    assert stdout == b""
    lines = [line for line in stderr.decode().splitlines() if not line.startswith("{")]
    assert lines == [f"sentinel: error: port {port} on 127.0.0.1 is already in use"]


def _running(pid: int) -> bool:
    """Alive and not a zombie (a reparented child may wait for a reaper that never comes here)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_kernels_exit_by_themselves_when_the_server_is_killed(tmp_path: Path) -> None:
    """SIGKILL leaves no time to clean up; the kernels notice their parent is gone and exit."""
    process = await _start("--port", "0", "--allocation-delay", "0", "--drive-dir", str(tmp_path))
    try:
        urls = await _read_urls(process, len(list_notebooks(BUNDLED_NOTEBOOKS)))
        base = urls[0].rsplit("/notebooks/", 1)[0]
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"{base}/api/notebooks/hello/ws")
            await ws.send_json({"type": "connect", "gpu": True})
            async with asyncio.timeout(60):
                while (await ws.receive_json()).get("state") != "connected":
                    pass
            async with session.get(f"{base}/api/notebooks/hello/state") as response:
                pid = (await response.json())["runtime"]["pid"]
            process.kill()
            await process.wait()
            await ws.close()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    # Another process exiting: nothing to await, so it is polled.
    await eventually(lambda: not _running(pid), timeout=15, what=f"kernel {pid} still running")
