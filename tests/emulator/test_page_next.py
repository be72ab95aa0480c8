"""?ui=next, the emulator's own drift generation: today's tags and ids are gone, what a person sees is not.

The connect control is a plain <button> two open shadow roots down (no colab-connect-button, #connect,
tooltiptext), the toolbar has new ids and plain buttons, dialogs are native <dialog>s opened with
showModal() with their content in open shadow roots, toasts are <div role=alert>.
"""

from __future__ import annotations

import re
import time

from playwright.async_api import Page, expect

from sentinel.emulator.testing import EmulatorServer
from tests.emulator._page import ALPHA, NB, cell, connect, finished, kinds, open_page

TODAYS_SELECTORS = (
    "colab-connect-button",
    "#connect",
    "[tooltiptext]",
    "#top-toolbar",
    "#toolbar-add-code",
    "colab-toolbar-button",
    "mwc-dialog",
    "md-dialog",
    "md-text-button",
    "[dialogaction]",
    "[slot=primaryAction]",
    "colab-toast",
)


async def _none_of_todays_selectors(page: Page) -> None:
    for selector in TODAYS_SELECTORS:
        await expect(page.locator(selector), selector).to_have_count(0)


async def test_the_connect_control_and_toolbar_read_as_before(page: Page, emu: EmulatorServer) -> None:
    """1. Connect T4 by role, titled. 2. Connected: named by its tooltip. 3. The dropdown's menu items."""
    await open_page(page, emu, ui="next")
    await _none_of_todays_selectors(page)
    control = page.get_by_role("button", name="Connect T4", exact=True)
    await expect(control).to_have_attribute("title", "Connect to a new runtime")
    toolbar = page.get_by_role("toolbar", name="Notebook actions")
    for label in ("Code", "Text", "Run all"):
        await expect(toolbar.get_by_role("button", name=label, exact=True)).to_be_visible()
    await connect(page, emu)
    await expect(page.get_by_role("button", name=re.compile(r"^Connected to Python 3"))).to_be_visible()
    await page.get_by_role("button", name="Additional connection options").click()
    await expect(page.get_by_role("menuitem", name="Disconnect and delete runtime")).to_be_visible()
    await page.keyboard.press("Escape")
    await _none_of_todays_selectors(page)


async def test_dialogs_are_modal_escape_and_the_backdrop_behave_as_before(
    page: Page, emu: EmulatorServer
) -> None:
    """1. Run anyway (alert): Escape and a backdrop click keep it; disabled for a second; it runs.
    2. Runtime disconnected: a native modal; Escape closes it (logged as escape)."""
    await open_page(page, emu, ui="next", external="github")
    since = time.time()
    await cell(page, ALPHA).locator("colab-run-button").click()
    alert = page.get_by_role("alertdialog", name="Warning: This notebook was not authored by Google")
    await expect(alert).to_be_visible()
    assert await page.evaluate("() => document.querySelector('dialog.nb-dialog').matches(':modal')")
    run_anyway = alert.get_by_role("button", name="Run anyway", exact=True)
    await expect(run_anyway).to_be_enabled()
    await page.keyboard.press("Escape")
    await page.mouse.click(5, 5)  # on the ::backdrop
    await expect(alert).to_be_visible()
    assert [e["target"] for e in await kinds(emu, "click", since)][-1] == "dialog:external_notebook:scrim"
    await run_anyway.click()
    await finished(emu, ALPHA, since)
    await _none_of_todays_selectors(page)

    # The run connected a runtime; its idle timeout fires "Runtime disconnected".
    again = time.time()
    await emu.inject(NB, "idle_disconnect")
    box = page.get_by_role("dialog", name="Runtime disconnected")
    await expect(box.get_by_role("button", name="Reconnect", exact=True)).to_be_visible()
    await page.keyboard.press("Escape")
    closed = await emu.wait_for_event(
        NB, "dialog.closed", since=again, predicate=lambda e: e["dialog"] == "runtime_disconnected"
    )
    assert (closed["how"], closed["ui"]) == ("escape", "next")
    await expect(box).to_have_count(0)


async def test_crash_toast_is_a_plain_alert(page: Page, emu: EmulatorServer) -> None:
    await open_page(page, emu, ui="next")
    await connect(page, emu)
    await emu.inject(NB, "crash_oom")
    toast = page.get_by_role("alert").filter(has_text="Your session crashed after using all available RAM.")
    await expect(toast).to_be_visible()
    await expect(toast.locator("a.toast-action")).to_have_text("View runtime logs")
    await _none_of_todays_selectors(page)
