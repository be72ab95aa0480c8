"""The daemon's own lifecycle in-process: persisted exactly-once resume, status, per-notebook failures."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import stat
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from sentinel.config import load_settings
from sentinel.daemon import Daemon
from sentinel.emulator.testing import EmulatorServer
from sentinel.session import SessionState
from tests._eventually import consistently, eventually
from tests.daemon.conftest import (
    FAST,
    PLAIN,
    assert_resumed_once_per_runtime,
    resume_starts,
    running_daemon,
    settled,
)

pytestmark = pytest.mark.slow


async def _get(url: str) -> tuple[int, bytes]:
    # The status server runs in this event loop: a blocking client would deadlock it.
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        return response.status, await response.read()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_restart_never_resumes_a_runtime_twice(emu: EmulatorServer, tmp_path: Path) -> None:
    """1. Daemon A resumes the fresh runtime. 2. A stops. 3. Daemon B on the same state dir finds the
    same runtime idle and leaves it. 4. The next fresh runtime is resumed by B, once."""
    url = emu.notebook_url("plain")
    async with running_daemon([url], tmp_path) as first:
        session = await settled(first, "plain")
        runtime = session.runtime_id
        # Private directories, and the status endpoints tell the truth.
        assert stat.S_IMODE(first.settings.profile.stat().st_mode) == 0o700
        assert stat.S_IMODE(first.settings.state_dir.stat().st_mode) == 0o700
        assert first.status_server is not None
        base = first.status_server.url
        assert (await _get(f"{base}/healthz"))[0] == 200
        status = json.loads((await _get(f"{base}/status"))[1])
        (entry,) = status["notebooks"]
        assert entry["url"] == url
        assert entry["state"] == "connected"
        assert entry["resumes"] == 1
        assert (
            b'sentinel_resumes_total{notebook="' + url.encode() + b'"} 1.0'
            in (await _get(f"{base}/metrics"))[1]
        )
    assert await resume_starts(emu, "plain") == {runtime: 1}

    since = time.time()
    async with running_daemon([url], tmp_path) as second:
        session = await settled(second, "plain")
        assert session.runtime_id == runtime

        async def resumed_once() -> None:
            assert await resume_starts(emu, "plain") == {runtime: 1}

        # A few safety polls and observer reports, none of which may resume again: a bounded wait for
        # something not happening.
        await consistently(resumed_once, duration=2.5)
        await emu.inject("plain", "idle_disconnect")
        await emu.wait_for_event(
            "plain", "cell.finished", since=since, predicate=lambda e: e.get("cell_id") == "resume"
        )
        await settled(second, "plain")
        await assert_resumed_once_per_runtime(emu, "plain", since)


async def test_each_notebook_fails_on_its_own(emu: EmulatorServer, tmp_path: Path) -> None:
    """A missing marker is an error; a refused connection and a 404 are unreachable; only their notebooks."""
    good = emu.notebook_url("plain2")
    no_marker = emu.notebook_url("nomarker")
    refused = f"http://127.0.0.1:{_closed_port()}/notebooks/gone"
    missing = emu.notebook_url("no-such-notebook")
    async with running_daemon([good, no_marker, refused, missing], tmp_path) as daemon:
        await settled(daemon, "plain2")
        by_url = {s.url: s for s in daemon.sessions}
        expected = {
            no_marker: SessionState.ERROR,
            refused: SessionState.UNREACHABLE,
            missing: SessionState.UNREACHABLE,
        }
        await eventually(
            lambda: all(by_url[u].state is state for u, state in expected.items()),
            timeout=40,
            what=lambda: (
                f"one error, two unreachable; states: { {u: (s.state, s.last_error) for u, s in by_url.items()} }"
            ),
        )
        assert "# sentinel: resume" in (by_url[no_marker].last_error or "")
        assert "did not load" in (by_url[refused].last_error or "")
        assert "HTTP 404" in (by_url[missing].last_error or "")
        assert by_url[good].state is SessionState.CONNECTED
        assert await resume_starts(emu, "plain2") != {}
        states = {nb.url: (nb.state, nb.last_error) for nb in daemon.snapshot().notebooks}
        assert states[good] == ("connected", None)
        assert states[refused][0] == "unreachable"
        assert states[no_marker][0] == "error"


async def test_gpu_limit_cpu_connects_without_gpu(emu: EmulatorServer, tmp_path: Path) -> None:
    """--on-gpu-limit cpu: "Connect without GPU" is clicked; a CPU runtime comes up and is resumed."""
    async with running_daemon(
        [emu.notebook_url("plain3")], tmp_path, policy=replace(FAST, on_gpu_limit="cpu")
    ) as d:
        session = await settled(d, "plain3")
        since = time.time()
        await emu.inject("plain3", "gpu_limit")
        await emu.inject("plain3", "idle_disconnect")
        closed = await emu.wait_for_event(
            "plain3", "dialog.closed", since=since, predicate=lambda e: e.get("dialog") == "gpu_limit"
        )
        assert closed["button"] == "Connect without GPU"
        connected = await emu.wait_for_event("plain3", "runtime.connected", since=since)
        assert connected["gpu"] is False
        await emu.wait_for_event(
            "plain3", "cell.finished", since=since, predicate=lambda e: e.get("cell_id") == "resume"
        )
        await settled(d, "plain3")
        await assert_resumed_once_per_runtime(emu, "plain3", since)
        assert session.state is SessionState.CONNECTED
        assert session.blocked_reason is None


def test_daemon_rejects_bad_urls_before_starting_anything(tmp_path: Path) -> None:
    from sentinel.config import load_settings
    from sentinel.errors import UsageError

    for urls, needle in (
        ([], "no notebook URL"),
        (["file:///x.ipynb"], "not a notebook URL"),
        (["http://a/x", "http://a/x"], "listed twice"),
    ):
        with pytest.raises(UsageError, match=needle):
            Daemon(load_settings(urls=urls, state_dir=tmp_path / "s", profile=tmp_path / "p"))
    assert not (tmp_path / "s").exists()
    assert not (tmp_path / "p").exists()


async def test_cdp_attach_leaves_the_users_browser_running(emu: EmulatorServer, tmp_path: Path) -> None:
    """--cdp-url: the daemon drives a browser it did not start, and detaches from it on shutdown."""
    from sentinel.browser import choose_browser, launch_args

    port = _closed_port()
    executable = choose_browser().executable_path
    assert executable is not None
    user_browser = await asyncio.create_subprocess_exec(
        str(executable),
        "--headless=new",
        f"--remote-debugging-port={port}",
        f"--user-data-dir={tmp_path / 'users-profile'}",
        *launch_args(),
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:

        async def debugger_up() -> bool:
            try:
                return (await _get(f"http://127.0.0.1:{port}/json/version"))[0] == 200
            except aiohttp.ClientError:
                return False

        await eventually(debugger_up, timeout=30, what="the user's browser listens for DevTools")
        async with running_daemon(
            [emu.notebook_url("plain")], tmp_path, cdp_url=f"http://127.0.0.1:{port}"
        ) as d:
            await settled(d, "plain")
            assert not (tmp_path / "profile").exists(), "no profile of our own when attaching"
        assert user_browser.returncode is None, "the daemon closed the user's browser"
        assert await debugger_up()
    finally:
        user_browser.terminate()
        await asyncio.wait_for(user_browser.wait(), 10)


async def test_second_signal_forces_a_quick_exit(emu: EmulatorServer, tmp_path: Path) -> None:
    """1. A shutdown step hangs (a browser that will not close). 2. SIGINT, SIGINT. 3. serve() returns at once."""
    config = load_settings(
        urls=[emu.notebook_url("plain")],
        profile=tmp_path / "profile",
        state_dir=tmp_path / "state",
        headless=True,
        status_addr="127.0.0.1:0",
    )
    daemon = Daemon(config, policy=FAST)
    serving = asyncio.create_task(daemon.serve())
    await asyncio.wait_for(daemon.started.wait(), 30)
    host = daemon.host
    assert host is not None
    real_close = host.close

    async def hang() -> None:
        await asyncio.sleep(60)

    host.close = hang  # type: ignore[method-assign]
    try:
        await settled(daemon, "plain")
        daemon.handle_exit(signal.SIGINT)
        # The first signal must NOT give up on the hanging step: a bounded wait for it not happening.
        await consistently(
            lambda: not serving.done(),
            duration=0.5,
            what="the first signal already gave up on the hanging step",
        )
        started = time.monotonic()
        daemon.handle_exit(signal.SIGINT)
        await asyncio.wait_for(serving, 5)
        assert time.monotonic() - started < 2
        assert daemon.force_exit
    finally:
        await real_close()


async def test_keepalive_holds_off_the_idle_timer(tmp_path: Path) -> None:
    """Colab's client-side idle timer (2 s here) never fires while the daemon sends trusted input every ~1 s."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "idle.ipynb").write_text(json.dumps(PLAIN))
    async with EmulatorServer(notebooks_dir=folder, allocation_delay=0.2, idle_timeout=2.0) as emu:
        policy = replace(FAST, keepalive_interval=1.0)
        async with running_daemon([emu.notebook_url("idle")], tmp_path, policy=policy) as daemon:
            session = await settled(daemon, "idle")
            since = time.time()

            async def kept_alive() -> None:
                events = await emu.events("idle", since=since)
                assert [e for e in events if e["kind"] in ("idle.fired", "runtime.disconnected")] == []
                assert [e for e in events if e["kind"] == "click"] == [], "keep-alive must never click"
                assert all(e["trusted"] for e in events if e["kind"] == "user.input")

            # Four idle timeouts long, the timer must NOT fire: a bounded wait for something not happening.
            await consistently(kept_alive, duration=8)

            async def nudged() -> None:
                inputs = [e for e in await emu.events("idle", since=since) if e["kind"] == "user.input"]
                assert len(inputs) >= 4, inputs
                assert session.counters.keepalives >= 4

            await eventually(nudged)
