"""ColabFrontend in real Chromium never acts inside an AI panel (colabtools#5903): not a dialog, not a mouse spot.

The emulator's Gemini panel as a side sheet (``?gemini=sheet``: role=dialog) quotes "Are you still
there?" in its reply; read as one of Colab's dialogs, the daemon would press "Yes" inside the panel.
"""

from __future__ import annotations

import time
from dataclasses import replace

from playwright.async_api import Page

from sentinel.emulator.testing import EmulatorServer
from sentinel.frontends.base import Dialog
from sentinel.frontends.colab import ColabFrontend
from sentinel.frontends.colab._selectors import DEFAULT_SELECTORS
from tests._eventually import eventually

NB = "hello"


async def test_an_ai_side_sheet_is_no_dialog_and_no_place_for_the_mouse(
    fresh_emulator: EmulatorServer, page: Page
) -> None:
    """1. The Gemini side sheet is open. 2. observe(): no dialog at all. 3. Keep-alives: never inside it.
    4. Without the ai_panel selectors the same page reads as one of Colab's dialogs (the trap is real)."""
    emu = fresh_emulator
    await page.goto(emu.notebook_url(NB, ui="2025", gemini="sheet"))
    await page.get_by_role("dialog", name="Gemini").wait_for()
    frontend = ColabFrontend()
    await eventually(lambda: frontend.matches(page), what="the page recognised")
    assert (await frontend.observe(page)).dialogs == ()
    since = time.time()
    for _ in range(10):
        await frontend.keepalive(page)
    # The mouse has somewhere to go, and it is outside the panel.
    point = await frontend._js(page, "neutralPoint()")
    box = await page.locator("colab-gemini-panel").bounding_box()
    assert point is not None and box is not None
    assert not (box["x"] <= point["x"] <= box["x"] + box["width"] and box["y"] <= point["y"]), (point, box)
    events = await emu.events(NB, since=since)
    assert [e for e in events if e["kind"] == "panel.pointer"] == [], "the mouse went into the AI panel"
    unguarded = replace(DEFAULT_SELECTORS, css={**DEFAULT_SELECTORS.css, "ai_panel": ()})
    # ...read as "Runtime disconnected" (Reconnect would be pressed inside the panel).
    assert Dialog.RUNTIME_DISCONNECTED in (await ColabFrontend(unguarded).observe(page)).dialogs
