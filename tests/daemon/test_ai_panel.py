"""Gemini's "Stop generating" interrupts the running cell (colabtools#5903): sentinel never acts in AI panels.

The emulator's Gemini side panel (``?gemini=1``) covers most of the page, where the keep-alive's mouse
would otherwise rest, and logs every mouse entry into it (``panel.pointer``) and the click on its
"Stop generating" button (which interrupts the running cell, as Colab's does).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from sentinel.emulator.testing import EmulatorServer
from sentinel.session import SessionState
from tests._eventually import consistently, eventually
from tests.daemon.conftest import FAST, RESUME_CELL, running_daemon, session_for

pytestmark = pytest.mark.slow

TRAINING = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    "cells": [
        {
            "cell_type": "code",
            "id": RESUME_CELL,
            "metadata": {},
            "source": "# sentinel: resume\nimport time\nfor step in range(3600):\n    time.sleep(1)",
            "outputs": [],
            "execution_count": None,
        }
    ],
}


@pytest.fixture(scope="module")
async def emu_training(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmulatorServer]:
    folder: Path = tmp_path_factory.mktemp("notebooks")
    (folder / "train.ipynb").write_text(json.dumps(TRAINING))
    async with EmulatorServer(notebooks_dir=folder, allocation_delay=0.2) as server:
        yield server


async def test_keepalives_never_touch_the_gemini_panel(emu_training: EmulatorServer, tmp_path: Path) -> None:
    """1. The resume cell trains; the Gemini panel is open, generating.
    2. Keep-alives every ~0.3 s for 20 s (dozens of them): none moves the mouse into the panel, nothing
       is clicked, "Stop generating" never pressed, and the training cell never interrupted.
    3. The panel's button does interrupt the cell when a person clicks it (the trap is real).
    """
    emu = emu_training
    name = "train"
    policy = replace(FAST, keepalive_interval=0.3, keepalive_jitter=0.1)
    async with running_daemon(
        [emu.notebook_url(name, ui="2025", gemini="1")], tmp_path, policy=policy
    ) as daemon:
        session = session_for(daemon, name)
        started = await emu.wait_for_event(
            name, "cell.started", timeout=60, predicate=lambda e: e.get("cell_id") == RESUME_CELL
        )
        await eventually(lambda: session.state is SessionState.CONNECTED, timeout=30, what="connected")
        since = time.time()
        keepalives = session.counters.keepalives

        async def untouched() -> None:
            events = await emu.events(name, since=started["t"])
            assert [e for e in events if e["kind"] == "panel.pointer"] == [], "the mouse went into the panel"
            assert [e for e in events if e["kind"] == "click"] == [], "sentinel clicked something"
            assert not [e for e in events if e["kind"] == "cell.finished"], "the training cell stopped"

        await consistently(untouched, duration=20, interval=0.5)
        assert session.counters.keepalives - keepalives >= 20, session.counters.keepalives
        inputs = [e for e in await emu.events(name, since=since) if e["kind"] == "user.input"]
        assert inputs, "the keep-alives reached the page as trusted input"
        # The trap is real: a person's click on "Stop generating" interrupts the training cell.
        await session.page.get_by_role("button", name="Stop generating").click()
        click = await emu.wait_for_event(name, "click", since=since)
        assert click["target"] == "gemini:stop-generating"
        finished = await emu.wait_for_event(
            name, "cell.finished", since=since, predicate=lambda e: e.get("cell_id") == RESUME_CELL
        )
        assert finished["error"] is True
