""" "Disconnect and delete runtime" is never confirmed unless the user asked for it (colabtools#5876).

Only ``--on-finish release`` confirms it (``ColabFrontend.release_runtime``). When the confirmation
appears on its own (a person, or Colab, opened it), the daemon's dialog policy leaves it open: no OK,
no Cancel, the runtime untouched, and it is reported as a dialog sentinel does not answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sentinel.daemon import Daemon
from sentinel.emulator.testing import EmulatorServer
from sentinel.frontends.base import Dialog
from sentinel.session import SessionState
from tests._eventually import consistently, eventually
from tests.daemon.conftest import running_daemon, settled

pytestmark = pytest.mark.slow

CASES = [("plain", "2025"), ("plain2", "2023"), ("plain3", "2022")]


@pytest.fixture(scope="module")
async def daemon(emu: EmulatorServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Daemon]:
    urls = [emu.notebook_url(name, ui=ui) for name, ui in CASES]
    async with running_daemon(urls, tmp_path_factory.mktemp("release")) as running:
        yield running


@pytest.mark.parametrize(("name", "ui"), CASES)
async def test_a_disconnect_confirmation_nobody_asked_sentinel_for_is_left_open(
    emu: EmulatorServer, daemon: Daemon, name: str, ui: str
) -> None:
    """1. Connected. 2. A person opens Runtime > Disconnect and delete runtime: the confirmation shows.
    3. Past a safety poll and the unclassified delay: still open, nothing clicked, the runtime alive.
    4. The person cancels: connected to the same runtime.
    """
    del ui
    session = await settled(daemon, name)
    runtime = (await emu.state(name))["runtime"]
    assert runtime is not None
    page = session.page
    await page.locator("#runtime-menu-button").click()
    await page.locator("#runtime-menu [command=powerwash-current-vm]").click()
    shown = await emu.wait_for_event(
        name, "dialog.shown", predicate=lambda e: e.get("dialog") == "disconnect_confirm", timeout=30
    )
    since = shown["t"]
    await eventually(
        lambda: session.observation is not None and Dialog.UNKNOWN in session.observation.dialogs,
        timeout=30,
        what="the confirmation seen as a dialog sentinel does not answer",
    )

    async def left_open() -> None:
        events = await emu.events(name, since=since)
        assert [e for e in events if e["kind"] == "click"] == [], "sentinel clicked in the confirmation"
        assert not [e for e in events if e["kind"] == "dialog.closed"], "the confirmation was closed"
        assert not [e for e in events if e["kind"] == "runtime.disconnected"], "the runtime was deleted"

    # Two safety polls (1 s) and the unclassified delay (3 s): a bounded wait for nothing happening.
    await consistently(left_open, duration=4.0, interval=0.2)
    assert (await emu.state(name))["runtime"] == runtime
    await (
        page.get_by_role("dialog", name="Disconnect and delete runtime")
        .get_by_role("button", name="Cancel")
        .click()
    )
    closed = await emu.wait_for_event(
        name, "dialog.closed", since=since, predicate=lambda e: e.get("dialog") == "disconnect_confirm"
    )
    assert closed["button"] == "Cancel"
    await eventually(lambda: session.state is SessionState.CONNECTED, timeout=30, what="connected")
    assert (await emu.state(name))["runtime"] == runtime
