"""Helpers for driving the real emulator page in Chromium from the server-side tests."""

from __future__ import annotations

import time

from playwright.async_api import Error, Locator, Page

from sentinel.emulator.events import Event
from sentinel.emulator.testing import EmulatorServer


async def open_notebook(page: Page, emu: EmulatorServer, name: str = "hello", ui: str = "2025") -> None:
    """Load the notebook page and wait until it reported itself loaded over its WebSocket."""
    since = time.time()
    await page.goto(emu.notebook_url(name, ui=ui))
    await emu.wait_for_event(name, "page.loaded", since=since)


async def set_cell_text(page: Page, cell_id: str, code: str) -> None:
    """Replace a cell's code through Colab's notebook API (`cells[i].setText`)."""
    await page.evaluate(
        "([id, code]) => window.colab.global.notebook.cells.find((c) => c.getId() === id).setText(code)",
        [cell_id, code],
    )


async def run_cell(page: Page, emu: EmulatorServer, cell_id: str, name: str = "hello") -> Event:
    """Click the cell's run button and wait for the server's `cell.finished` event of that cell."""
    since = time.time()
    await page.locator(f"#cell-{cell_id} colab-run-button").click()
    return await emu.wait_for_event(
        name, "cell.finished", since=since, predicate=lambda e: e["cell_id"] == cell_id, timeout=30
    )


def output(page: Page, cell_id: str) -> Locator:
    """The cell's output area (a locator)."""
    return page.locator(f"#cell-{cell_id} .output")


async def click_closing(button: Locator) -> None:
    """Click a button whose click closes its own page, as the consent popup's last "Continue" does.

    The page can close before Chromium acknowledges the click, and Playwright then fails the click with
    "Target page, context or browser has been closed". Here that is the expected outcome, so the error
    counts only if the page is still open.
    """
    try:
        await button.click()
    except Error:
        if not button.page.is_closed():
            raise
