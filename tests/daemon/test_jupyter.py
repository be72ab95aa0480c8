"""The daemon against a real JupyterLab server: the resume cell runs exactly once per fresh kernel.

Each test starts its own ``jupyter lab`` on 127.0.0.1 (its own port and folders); the resume cell
records every run (kernel id, process id, count in that process) in ``runs.jsonl`` beside the notebook.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from sentinel.daemon import Daemon
from sentinel.session import BlockedReason, Session, SessionState
from tests._eventually import consistently, eventually
from tests._jupyter import RESUMING, TOKEN, JupyterServer
from tests._sink import serve_sink
from tests.daemon.conftest import running_daemon

pytestmark = [pytest.mark.jupyter, pytest.mark.slow]
# How long the server stays down in the restart test (the "stopped for 30 s").
OUTAGE = 30.0


@pytest.fixture
async def jupyter(tmp_path: Path) -> AsyncIterator[JupyterServer]:
    async with JupyterServer(tmp_path / "server") as server:
        server.write("x.ipynb", RESUMING)
        yield server


def _session(daemon: Daemon) -> Session:
    (session,) = daemon.sessions
    return session


async def _status_surfaces(daemon: Daemon) -> str:
    """``/status``, the status page and ``/metrics`` as one text."""
    assert daemon.status_server is not None
    base = daemon.status_server.url
    texts = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        for path in ("/status", "/", "/metrics"):
            async with http.get(base + path) as response:
                assert response.status == 200, path
                texts.append(await response.text())
    return "\n".join(texts)


def _once_per_kernel_process(server: JupyterServer) -> Counter[tuple[str, int]]:
    runs = server.runs()
    assert all(run["n"] == 1 for run in runs), f"a kernel process ran the resume cell twice: {runs}"
    return Counter((run["kernel"], run["pid"]) for run in runs)


async def _killed_kernel_resumed_once_more(jupyter: JupyterServer, daemon: Daemon) -> None:
    """SIGKILL the kernel that ran the resume cell; the server restarts it under the same id and the new
    process runs the resume cell once (and no process twice)."""
    first = jupyter.runs()[0]
    jupyter.kill_kernel_process(first["kernel"])
    await eventually(lambda: len(jupyter.runs()) == 2, timeout=60, what=lambda: _session(daemon).observation)
    second = jupyter.runs()[1]
    assert second["kernel"] == first["kernel"] and second["pid"] != first["pid"]
    await consistently(lambda: len(jupyter.runs()) == 2, duration=4)
    assert set(_once_per_kernel_process(jupyter).values()) == {1}


async def test_fresh_kernel_resumed_once_and_a_killed_kernel_once_more(
    jupyter: JupyterServer, tmp_path: Path
) -> None:
    """1. sentinel opens /lab/tree/x.ipynb (``--frontend auto``): the fresh kernel runs the resume cell once.
    2. The kernel process is SIGKILLed; the server restarts it under the same kernel id.
    3. The "Kernel Restarting" dialog is answered and the new process runs the resume cell once.
    """
    async with running_daemon([jupyter.url("/lab/tree/x.ipynb")], tmp_path) as daemon:
        await eventually(lambda: len(jupyter.runs()) == 1, timeout=90, what=lambda: _session(daemon).state)
        first = jupyter.runs()[0]
        assert first["kernel"] == await jupyter.kernel_of("x.ipynb")
        await consistently(lambda: len(jupyter.runs()) == 1, duration=4)
        surfaces = await _status_surfaces(daemon)
        assert "x.ipynb" in surfaces and "token=***" in surfaces
        assert TOKEN not in surfaces

        await _killed_kernel_resumed_once_more(jupyter, daemon)
        assert _session(daemon).counters.resumes == 2


async def test_culled_kernel_is_replaced_and_resumed_once(tmp_path: Path) -> None:
    """With the culler at 15 s (``cull_connected=True``), an idle kernel is culled although the tab is open;
    sentinel reopens the notebook, which starts a new kernel, and runs the resume cell once in it.
    """
    async with JupyterServer(tmp_path / "server", cull_idle=15) as server:
        server.write("x.ipynb", RESUMING)
        async with running_daemon([server.url("/lab/tree/x.ipynb")], tmp_path) as daemon:
            await eventually(lambda: len(server.runs()) == 1, timeout=90, what=lambda: _session(daemon).state)
            await eventually(
                lambda: len({run["kernel"] for run in server.runs()}) >= 2,
                timeout=120,
                what=lambda: (server.runs(), _session(daemon).observation),
            )
            assert "Culling" in server.log.read_text()
            kernels = Counter(run["kernel"] for run in server.runs())
            assert set(kernels.values()) == {1}, kernels


async def test_daemon_restart_does_not_resume_the_same_kernel_again(
    jupyter: JupyterServer, tmp_path: Path
) -> None:
    """1. A daemon resumes the fresh kernel once and is stopped.
    2. A new daemon on the same state dir and profile opens the page again: the kernel is the same
       process, already resumed, so the resume cell does not run again.
    """
    url = jupyter.url("/lab/tree/x.ipynb")
    async with running_daemon([url], tmp_path):
        await eventually(lambda: len(jupyter.runs()) == 1, timeout=90)
    async with running_daemon([url], tmp_path) as daemon:
        await eventually(
            lambda: _session(daemon).state is SessionState.CONNECTED,
            timeout=60,
            what=lambda: _session(daemon).state,
        )
        await consistently(lambda: len(jupyter.runs()) == 1, duration=6)


async def test_wrong_token_blocks_signed_out_without_typing(jupyter: JupyterServer, tmp_path: Path) -> None:
    """A wrong token lands on the login page: blocked (signed out), one notification without the token,
    and the login form is never posted.
    """
    async with serve_sink() as sink:
        url = jupyter.url("/lab/tree/x.ipynb", token="wrong-token-value")
        async with running_daemon([url], tmp_path, notify=(sink.url(),)) as daemon:
            session = _session(daemon)
            await eventually(
                lambda: session.blocked_reason is BlockedReason.SIGNED_OUT,
                timeout=60,
                what=lambda: session.state,
            )
            assert session.state is SessionState.BLOCKED
            await eventually(lambda: len(sink.received) >= 1, timeout=30)
            await consistently(lambda: session.state is SessionState.BLOCKED, duration=3)
            assert len(sink.received) == 1, sink.titles()
            assert "wrong-token-value" not in repr(sink.received)
    assert "POST /login" not in jupyter.log.read_text()
    assert jupyter.runs() == []


async def test_server_not_up_yet_when_sentinel_starts(tmp_path: Path) -> None:
    """sentinel starts before the server: it retries, and resumes once when the server comes up."""
    server = JupyterServer(tmp_path / "server")
    server.write("x.ipynb", RESUMING)
    async with running_daemon([server.url("/lab/tree/x.ipynb")], tmp_path) as daemon:
        await eventually(lambda: _session(daemon).state is SessionState.UNREACHABLE, timeout=30)
        async with server:
            await eventually(
                lambda: len(server.runs()) == 1, timeout=120, what=lambda: _session(daemon).state
            )
            await consistently(lambda: len(server.runs()) == 1, duration=4)


async def test_server_restart_on_the_same_port_recovers(jupyter: JupyterServer, tmp_path: Path) -> None:
    """The server stops for 30 s (its kernels with it) and starts again on the same port and root:
    meanwhile sentinel retries (never ``error``, no resume), then the new kernel runs the resume cell once.
    """
    async with running_daemon([jupyter.url("/lab/tree/x.ipynb")], tmp_path) as daemon:
        await eventually(lambda: len(jupyter.runs()) == 1, timeout=90)
        await jupyter.stop()
        back_at = time.monotonic() + OUTAGE
        states: list[SessionState] = []
        while time.monotonic() < back_at:
            if not states or states[-1] is not _session(daemon).state:
                states.append(_session(daemon).state)
            await asyncio.sleep(0.1)
        assert SessionState.ERROR not in states, states
        assert set(states) - {SessionState.CONNECTED}, f"never noticed the server was gone: {states}"
        assert len(jupyter.runs()) == 1
        await jupyter.start()
        await eventually(
            lambda: len(jupyter.runs()) == 2,
            timeout=120,
            what=lambda: (_session(daemon).state, _session(daemon).observation),
        )
        runs = jupyter.runs()
        assert runs[1]["kernel"] != runs[0]["kernel"]
        await consistently(lambda: len(jupyter.runs()) == 2, duration=4)


async def test_notebook7_page_resumed_once_and_once_more_after_a_kernel_kill(
    jupyter: JupyterServer, tmp_path: Path
) -> None:
    """Notebook 7's /notebooks/x.ipynb (``--frontend auto``): the fresh kernel runs the resume cell once;
    its process SIGKILLed and restarted by the server, the new process runs it once more.
    """
    async with running_daemon([jupyter.url("/notebooks/x.ipynb")], tmp_path) as daemon:
        await eventually(lambda: len(jupyter.runs()) == 1, timeout=90, what=lambda: _session(daemon).state)
        await consistently(lambda: len(jupyter.runs()) == 1, duration=4)
        await _killed_kernel_resumed_once_more(jupyter, daemon)
