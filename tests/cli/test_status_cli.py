"""``sentinel status`` as a user runs it: a real subprocess against a real status server."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from sentinel import __version__
from sentinel.config import load_settings
from sentinel.status import Metrics, NotebookStatus, StatusServer, StatusSnapshot

NB = "https://colab.research.google.com/drive/1AbCdEf"
OTHER = "http://127.0.0.1:8765/notebooks/train.ipynb"


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    # A wide, colourless terminal, so table cells are not wrapped or styled.
    env.update({"COLUMNS": "220", "NO_COLOR": "1", "TERM": "dumb"}, **extra)
    return env


async def sentinel(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run the real CLI without blocking this loop (the servers under test live on it)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sentinel",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env or clean_env(),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


def one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sentinel: error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def snapshot(fail: bool = False) -> StatusSnapshot:
    if fail:
        raise RuntimeError("boom")
    now = datetime.now(UTC)
    return StatusSnapshot(
        notebooks=(
            NotebookStatus(
                url=NB,
                state="connected",
                since=now - timedelta(hours=2),
                reconnects=3,
                resumes=4,
                progress="step 1200/5000",
            ),
            NotebookStatus(
                url=OTHER,
                state="blocked",
                since=now - timedelta(minutes=7),
                reconnects=1,
                blocked_reason="captcha",
                last_error="reconnect timed out",
            ),
        ),
        started_at=now - timedelta(hours=3),
        browser_restarts=2,
    )


@pytest.fixture(name="daemon")
async def _daemon() -> AsyncIterator[StatusServer]:
    settings = load_settings(status_addr="127.0.0.1:0")
    async with StatusServer(settings, snapshot, Metrics()) as server:
        yield server


@pytest.fixture(name="other_server")
async def _other_server() -> AsyncIterator[tuple[int, asyncio.Event]]:
    """Not sentinel: answers 404 on /status, except /slow/status which never answers until released."""
    release = asyncio.Event()

    async def slow(_: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/slow/status", slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1], release
    finally:
        release.set()
        await runner.cleanup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_prints_a_table_of_notebooks(daemon: StatusServer) -> None:
    """Each notebook is a row with its state, relative since, counters, problem and progress."""
    result = await sentinel("status", "--status-addr", f"127.0.0.1:{daemon.port}")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"sentinel {__version__} at http://127.0.0.1:{daemon.port}: up 3 h, 2 notebooks" in out
    assert "browser restarts 2" in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    connected = [cell.strip() for cell in rows["1AbCdEf"].split("│")[1:-1]]
    blocked = [cell.strip() for cell in rows["train.ipynb"].split("│")[1:-1]]
    assert connected == ["1AbCdEf", "connected", "2 h ago", "3", "4", "", "step 1200/5000"]
    assert blocked[:5] == ["train.ipynb", "blocked", "7 min ago", "1", "0"]
    assert blocked[5] == "captcha", "the blocked reason wins over the last error"


async def test_json_is_the_daemons_document(daemon: StatusServer) -> None:
    """--json prints /status as the daemon sent it."""
    result = await sentinel("status", "--json", "--status-addr", f"127.0.0.1:{daemon.port}")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["version"] == __version__
    assert [nb["url"] for nb in document["notebooks"]] == [NB, OTHER]
    assert document["notebooks"][1]["blocked_reason"] == "captcha"


async def test_the_address_comes_from_the_environment_too(daemon: StatusServer, tmp_path: Path) -> None:
    """SENTINEL_STATUS_ADDR (like the config file) tells `status` where the daemon is."""
    result = await sentinel(
        "status", "--json", env=clean_env(SENTINEL_STATUS_ADDR=f"127.0.0.1:{daemon.port}")
    )
    assert result.returncode == 0, result.stderr
    config = tmp_path / "sentinel.toml"
    config.write_text(f'status_addr = "127.0.0.1:{daemon.port}"\n')
    result = await sentinel("--config", str(config), "status", "--json")
    assert result.returncode == 0, result.stderr


async def test_no_daemon_is_exit_1_with_one_line() -> None:
    """Nothing listening: exit 1 (down, not a usage error) and one line saying where it looked."""
    port = free_port()
    result = await sentinel("status", "--status-addr", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert one_error_line(result).startswith(
        f"sentinel: error: no sentinel daemon answers at http://127.0.0.1:{port} "
    )
    assert result.stdout == ""


async def test_something_else_answering_is_exit_1(other_server: tuple[int, asyncio.Event]) -> None:
    """A server that is not sentinel is named as such."""
    port, _ = other_server
    result = await sentinel("status", "--status-addr", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert one_error_line(result) == (
        f"sentinel: error: something answers at http://127.0.0.1:{port} (HTTP 404), but not a sentinel daemon"
    )


async def test_a_daemon_that_cannot_describe_itself_is_exit_1() -> None:
    """A 500 from the daemon is reported with its own words."""
    settings = load_settings(status_addr="127.0.0.1:0")
    async with StatusServer(settings, lambda: snapshot(fail=True), Metrics()) as server:
        result = await sentinel("status", "--status-addr", f"127.0.0.1:{server.port}")
    assert result.returncode == 1
    assert one_error_line(result) == (
        f"sentinel: error: the daemon at http://127.0.0.1:{server.port} answered: "
        "the daemon could not describe its state"
    )


async def test_a_silent_daemon_times_out(other_server: tuple[int, asyncio.Event]) -> None:
    """A daemon that accepts but never answers does not hang the command."""
    port, _ = other_server
    # The host part cannot carry a path, so point a second server's /status at the slow route.
    app = web.Application()

    async def proxy(_: web.Request) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect(f"http://127.0.0.1:{port}/slow/status")

    app.router.add_get("/status", proxy)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        front = runner.addresses[0][1]
        result = await sentinel("status", "--timeout", "1", "--status-addr", f"127.0.0.1:{front}")
    finally:
        await runner.cleanup()
    assert result.returncode == 1
    assert (
        one_error_line(result)
        == f"sentinel: error: the daemon at http://127.0.0.1:{front} did not answer within 1 s"
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["status", "--status-addr", "nowhere"], "invalid setting status_addr"),
        (["status", "--status-addr", "127.0.0.1:0"], "has port 0"),
        (["status", "--timeout", "0"], "--timeout"),
    ],
)
async def test_bad_input_is_exit_2(args: list[str], needle: str) -> None:
    """Bad flags are usage errors: exit 2, one line."""
    result = await sentinel(*args)
    assert result.returncode == 2, result.stderr
    assert needle in one_error_line(result)
