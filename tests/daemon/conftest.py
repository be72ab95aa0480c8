"""Real Chromium + the real emulator: notebooks, a running daemon, a notification sink, event helpers."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from sentinel.config import load_settings
from sentinel.daemon import Daemon
from sentinel.emulator.testing import EmulatorServer
from sentinel.session import Session, SessionPolicy, SessionState
from tests._eventually import eventually
from tests._sink import Sink, serve_sink

UIS = ("2022", "2023", "2025", "next")
RESUME_CELL = "resume"

# Short everything: the emulator answers in milliseconds, and the suite has minutes, not hours.
FAST = SessionPolicy(
    poll_interval=1.0,
    backoff_base=0.5,
    backoff_cap=3.0,
    connect_timeout=20.0,
    action_grace=3.0,
    quota_retry=2.0,
    unclassified_after=3.0,
    reload_after_failures=3,
)


def _notebook(cells: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "cells": [
            {
                "cell_type": "code",
                "id": cell_id,
                "metadata": {},
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
            for cell_id, source in cells
        ],
    }


# Every fresh runtime's resume mounts Drive and asks for credentials, so each recovery also walks
# the consent dialogs and the OAuth popup of the page's dialog generation.
CONSENTING = _notebook(
    [
        ("setup", "value = 41"),
        (
            RESUME_CELL,
            "# sentinel: resume\n"
            "from google.colab import auth, drive\n"
            'drive.mount("/content/drive")\n'
            "auth.authenticate_user()\n"
            # Progress short of its total: these runs never finish (they are brought back forever).
            'print("[sentinel] " + \'{"step": 1, "total": 2}\')',
        ),
    ]
)
PLAIN = _notebook([("setup", "value = 41"), (RESUME_CELL, '# sentinel: resume\nprint("resumed")')])
NO_MARKER = _notebook([("only", 'print("no resume cell here")')])


@pytest.fixture(scope="module")
async def emu(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmulatorServer]:
    """One emulator per test module serving g2022/g2023/g2025 (consenting), plain, plain2, plain3 and nomarker."""
    folder = tmp_path_factory.mktemp("notebooks")
    for ui in UIS:
        (folder / f"g{ui}.ipynb").write_text(json.dumps(CONSENTING))
    for name in ("plain", "plain2", "plain3"):
        (folder / f"{name}.ipynb").write_text(json.dumps(PLAIN))
    (folder / "nomarker.ipynb").write_text(json.dumps(NO_MARKER))
    async with EmulatorServer(notebooks_dir=folder, allocation_delay=0.2) as server:
        yield server


@pytest.fixture(scope="module")
async def sink() -> AsyncIterator[Sink]:
    async with serve_sink() as server:
        yield server


@asynccontextmanager
async def running_daemon(
    urls: list[str],
    root: Path,
    *,
    policy: SessionPolicy = FAST,
    notify: tuple[str, ...] = (),
    **settings: Any,
) -> AsyncIterator[Daemon]:
    """A Daemon serving in this event loop (headless, free status port) until the block ends."""
    config = load_settings(
        urls=urls,
        profile=settings.pop("profile", root / "profile"),
        state_dir=settings.pop("state_dir", root / "state"),
        headless=True,
        status_addr="127.0.0.1:0",
        notify=list(notify),
        **settings,
    )
    daemon = Daemon(config, policy=policy)
    daemon.progress.interval = 1.0
    serving = asyncio.create_task(daemon.serve())
    started = asyncio.create_task(daemon.started.wait())
    await asyncio.wait({serving, started}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if serving.done():
        started.cancel()
        serving.result()  # raises what startup raised
    assert daemon.started.is_set(), "the daemon did not start within 30 s"
    try:
        yield daemon
    finally:
        daemon.handle_exit(signal.SIGTERM)
        await asyncio.wait_for(serving, 20)


def session_for(daemon: Daemon, name: str) -> Session:
    """The session whose URL names notebook ``name``."""
    return next(s for s in daemon.sessions if f"/notebooks/{name}?" in s.url or s.url.endswith(f"/{name}"))


async def settled(daemon: Daemon, name: str, within: float = 40.0) -> Session:
    """Wait until ``name`` is connected with no cell running and no dialog open; return its session."""
    session = session_for(daemon, name)

    def calm() -> bool:
        obs = session.observation
        return (
            session.state is SessionState.CONNECTED and obs is not None and not obs.busy and not obs.dialogs
        )

    await eventually(
        calm,
        timeout=within,
        what=lambda: f"{name} connected, idle, no dialog (state {session.state}, seen {session.observation})",
    )
    return session


async def resume_starts(emu: EmulatorServer, name: str, since: float | None = None) -> Counter[str]:
    """How many times the resume cell started, per runtime id."""
    return Counter(
        str(e.get("runtime_id"))
        for e in await emu.events(name, since=since)
        if e["kind"] == "cell.started" and e.get("cell_id") == RESUME_CELL
    )


async def assert_resumed_once_per_runtime(emu: EmulatorServer, name: str, since: float | None = None) -> None:
    """Every runtime connected since ``since`` had its resume cell started exactly once."""
    events = await emu.events(name, since=since)
    runtimes = [e["runtime_id"] for e in events if e["kind"] == "runtime.connected"]
    starts = await resume_starts(emu, name, since)
    assert runtimes, f"no runtime connected in {name} since {since}"
    for runtime in runtimes:
        assert starts[runtime] == 1, f"{name}: runtime {runtime} resumed {starts[runtime]} times ({starts})"
    assert set(starts) <= set(runtimes), f"{name}: resumes in runtimes connected earlier: {starts}"
