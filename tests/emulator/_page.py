"""Shared pieces of the page tests: small test notebooks and page helpers (the fixtures: conftest.py).

The page tests drive the real notebook page in real Chromium (pytest-playwright's `page` fixture)
against a real emulator; nothing is mocked.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Locator, Page, expect

from sentinel.emulator.testing import EmulatorServer

NB = "page"
# Cell ids of the "page" notebook, in order.
INTRO, ALPHA, BETA, GAMMA = "intro", "alpha", "beta", "gamma"
CODE_CELLS = (ALPHA, BETA, GAMMA)

_NOTEBOOKS: dict[str, list[dict[str, Any]]] = {
    NB: [
        {"cell_type": "markdown", "id": INTRO, "source": "# Page tests\nA *small* notebook."},
        {"cell_type": "code", "id": ALPHA, "source": 'a = 1\nprint("cell a")'},
        {"cell_type": "code", "id": BETA, "source": 'print("cell b", a + 1)'},
        {"cell_type": "code", "id": GAMMA, "source": 'print("cell c")'},
    ],
}


def write_notebooks(folder: Path) -> Path:
    """Write the test notebooks into ``folder`` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, cells in _NOTEBOOKS.items():
        document = {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {"colab": {"name": f"{name}.ipynb"}},
            "cells": cells,
        }
        (folder / f"{name}.ipynb").write_text(json.dumps(document), encoding="utf-8")
    return folder


async def open_page(page: Page, emu: EmulatorServer, ui: str = "2025", **query: str) -> None:
    """Load the test notebook and wait until the page reported itself over its WebSocket."""
    since = time.time()
    await page.goto(emu.notebook_url(NB, ui=ui, **query))
    await emu.wait_for_event(NB, "page.loaded", since=since)
    # The socket is up once the server has sent its first state; the connect button shows it.
    await expect(connect_button(page)).to_have_text("Connect T4")


def connect_button(page: Page) -> Locator:
    """`colab-connect-button #connect`, or ?ui=next's plain button two shadow roots down (Playwright pierces them)."""
    return page.locator(
        "#top-toolbar > colab-connect-button #connect, nb-runtime-status nb-runtime-chip button"
    )


async def connect(page: Page, emu: EmulatorServer) -> str:
    """Click Connect like a user and wait for the runtime; returns its id."""
    since = time.time()
    await connect_button(page).click()
    event = await emu.wait_for_event(NB, "runtime.connected", since=since)
    # Every generation also sets `title` to the tooltip (`next` has no `tooltiptext`).
    await expect(connect_button(page)).to_have_attribute("title", _CONNECTED_TOOLTIP)
    return str(event["runtime_id"])


_CONNECTED_TOOLTIP = "Connected to Python 3 Google Compute Engine backend (GPU)\nRAM: 1.3/12.7 GB\nDisk: 26.9/107.7 GB\nGPU RAM: 0.0/15.0 GB"


def cell(page: Page, cell_id: str) -> Locator:
    """The cell's `div.cell` element."""
    return page.locator(f"div.cell.notebook-cell#cell-{cell_id}")


def output(page: Page, cell_id: str) -> Locator:
    """The `pre` blocks of a cell's stream output."""
    return cell(page, cell_id).locator(
        "div.output colab-static-output-renderer > div > div.stream.output_text > pre"
    )


async def run_and_wait(page: Page, emu: EmulatorServer, cell_id: str) -> dict[str, Any]:
    """Click the cell's run button and wait for the server's `cell.finished` for it."""
    since = time.time()
    await cell(page, cell_id).locator("colab-run-button").click()
    return await finished(emu, cell_id, since)


async def finished(emu: EmulatorServer, cell_id: str, since: float, within: float = 20) -> dict[str, Any]:
    """The `cell.finished` event of ``cell_id`` after ``since``."""
    return await emu.wait_for_event(
        NB, "cell.finished", since=since, timeout=within, predicate=lambda e: e.get("cell_id") == cell_id
    )


async def set_text(page: Page, cell_id: str, text: str) -> None:
    """Replace a cell's code through Colab's notebook API."""
    await page.evaluate(
        "([id, text]) => colab.global.notebook.cells.find((c) => c.getId() === id).setText(text)",
        [cell_id, text],
    )


async def kinds(emu: EmulatorServer, kind: str, since: float | None = None) -> list[dict[str, Any]]:
    """The logged events of ``kind`` (after ``since``)."""
    return [event for event in await emu.events(NB, since) if event["kind"] == kind]
