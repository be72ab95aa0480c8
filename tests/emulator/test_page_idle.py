"""Colab's client-side idle timer (colab-ui.md 7): trusted input and cell completion reset it, a running
cell suppresses it, and synthetic events from page scripts do not count as a user."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page, expect

from sentinel.emulator.testing import EmulatorServer
from tests._eventually import eventually
from tests.emulator._page import (
    ALPHA,
    NB,
    cell,
    connect,
    connect_button,
    finished,
    kinds,
    open_page,
    set_text,
    write_notebooks,
)

IDLE = 2.0  # seconds; short, yet well above the gaps between a test's trusted inputs


@pytest.fixture(scope="module", name="idle_emu")
async def _idle_emu(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmulatorServer]:
    folder = write_notebooks(tmp_path_factory.mktemp("notebooks"))
    async with EmulatorServer(notebooks_dir=folder, allocation_delay=0.1, idle_timeout=IDLE) as emu:
        yield emu


@pytest.fixture(name="emu")
async def _emu(idle_emu: EmulatorServer) -> AsyncIterator[EmulatorServer]:
    await idle_emu.reset()
    yield idle_emu


async def test_idle_timer_disconnects_when_nothing_runs(page: Page, emu: EmulatorServer) -> None:
    """1. Connect and leave the page alone.
    2. The timer fires: idle.fired, the runtime is disconnected (reason idle), "Runtime disconnected" once.
    3. The button reads "Reconnect"; "Reconnect" in the dialog brings a fresh runtime.
    """
    await open_page(page, emu)
    first = await connect(page, emu)
    fired = await emu.wait_for_event(NB, "idle.fired")
    assert fired["idle_timeout"] == IDLE and fired["runtime_id"] == first
    disconnected = await emu.wait_for_event(NB, "runtime.disconnected")
    assert (disconnected["reason"], disconnected["runtime_id"]) == ("idle", first)
    dialog = page.get_by_role("dialog", name="Runtime disconnected")
    await expect(dialog).to_be_visible()
    await expect(connect_button(page)).to_have_text("Reconnect")
    assert await page.evaluate("() => colab.global.notebook.kernel.getState()") == "connect"
    shown = [e["dialog"] for e in await kinds(emu, "dialog.shown")]
    assert shown == ["runtime_disconnected"]

    since = time.time()
    await dialog.get_by_role("button", name="Reconnect").click()
    second = await emu.wait_for_event(NB, "runtime.connected", since=since)
    assert second["runtime_id"] != first


async def test_a_running_cell_suppresses_the_timer_and_its_completion_restarts_it(
    page: Page, emu: EmulatorServer
) -> None:
    """While a cell runs (longer than the timeout) nothing disconnects; the timer fires after it ends."""
    await open_page(page, emu)
    await connect(page, emu)
    await set_text(page, ALPHA, f"import time\ntime.sleep({2.5 * IDLE})")
    since = time.time()
    await cell(page, ALPHA).locator("colab-run-button").click()
    done = await finished(emu, ALPHA, since)
    fired = await emu.wait_for_event(NB, "idle.fired", since=since)
    assert fired["t"] > done["t"]
    suppressed = await kinds(emu, "idle.suppressed", since)
    assert suppressed and all(e["t"] < done["t"] for e in suppressed)
    assert (await emu.wait_for_event(NB, "runtime.disconnected", since=since))["reason"] == "idle"


async def test_trusted_input_resets_the_timer(page: Page, emu: EmulatorServer) -> None:
    """Real (trusted) key presses every few hundred ms keep the runtime for several timeouts."""
    await open_page(page, emu)
    await connect(page, emu)
    since = time.time()
    deadline = time.monotonic() + 2.5 * IDLE
    # Input for a fixed period (not a poll): the timer must NOT fire during it.
    while time.monotonic() < deadline:
        await page.keyboard.press("Shift")
        await asyncio.sleep(0.3)
    assert await kinds(emu, "idle.fired", since) == []
    inputs = await kinds(emu, "user.input", since)
    assert inputs and all(e["trusted"] is True for e in inputs)
    # One entry per second at most, though there were several presses per second.
    assert len(inputs) <= 2.5 * IDLE + 1
    stopped = time.time()
    fired = await emu.wait_for_event(NB, "idle.fired", since=since)
    assert fired["t"] > stopped


SYNTHETIC = """() => {
  window.__synthetic = 0;
  window.__synthTimer = setInterval(() => {
    window.__synthetic += 1;
    document.body.click();
    document.body.dispatchEvent(new MouseEvent('mousedown', {bubbles: true}));
    document.dispatchEvent(new KeyboardEvent('keydown', {key: 'a', bubbles: true}));
    document.querySelector('#top-toolbar > colab-connect-button').shadowRoot.querySelector('#connect-dropdown').click();
  }, 200);
}"""


async def test_synthetic_events_from_page_scripts_do_not_reset_the_timer(
    page: Page, emu: EmulatorServer
) -> None:
    """element.click() and dispatched events (isTrusted false) keep coming, yet the timer fires."""
    await open_page(page, emu)
    await connect(page, emu)
    since = time.time()
    await page.evaluate(SYNTHETIC)
    fired = await emu.wait_for_event(NB, "idle.fired", since=since)
    # The synthetic clicks were still coming when the timer fired.
    count = await page.evaluate("() => window.__synthetic")

    async def still_clicking() -> None:
        assert await page.evaluate("() => window.__synthetic") > count

    await eventually(still_clicking)
    await page.evaluate("() => clearInterval(window.__synthTimer)")
    synthetic = [e for e in await kinds(emu, "click", since) if e["target"] == "connect-dropdown"]
    assert synthetic and all(e["trusted"] is False for e in synthetic)
    assert any(e["t"] < fired["t"] for e in synthetic)
    assert await kinds(emu, "user.input", since) == []
