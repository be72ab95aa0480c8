"""The Runtime menu as a Closure goog.ui menu (colab-ui.md 2.1): real mouse clicks work, script clicks do not."""

from __future__ import annotations

import re
import time

from playwright.async_api import Locator, Page, expect

from sentinel.emulator.testing import EmulatorServer
from tests._eventually import eventually
from tests.emulator._page import (
    ALPHA,
    BETA,
    GAMMA,
    NB,
    connect,
    connect_button,
    finished,
    kinds,
    open_page,
    output,
)

HIGHLIGHT = re.compile(r"\bgoog-menuitem-highlight\b")


def _item(page: Page, command: str) -> Locator:
    return page.locator(f"#runtime-menu div.goog-menuitem[command={command}]")


async def _menu(page: Page, command: str) -> None:
    """Open the Runtime menu and click an item, as a person (or ColabSDK) does."""
    await page.locator("#runtime-menu-button").click()
    await _item(page, command).click()


async def test_run_all_from_the_runtime_menu(page: Page, emu: EmulatorServer) -> None:
    """The menu opens on a real click, hovering highlights an item, clicking it runs every cell."""
    await open_page(page, emu)
    menu = page.locator("#runtime-menu")
    await expect(menu).to_be_hidden()
    await page.locator("#runtime-menu-button").click()
    await expect(menu).to_be_visible()
    await _item(page, "runall").hover()
    await expect(_item(page, "runall")).to_have_class(HIGHLIGHT)
    await expect(_item(page, "runall").locator(".goog-menuitem-accel")).to_have_text("Ctrl+F9")
    since = time.time()
    await _item(page, "runall").click()
    await expect(menu).to_be_hidden()
    await finished(emu, GAMMA, since)
    await expect(output(page, BETA)).to_have_text("cell b 2\n")
    clicks = [(e["target"], e["trusted"]) for e in await kinds(emu, "click", since)]
    assert ("menu:runall", True) in clicks


async def test_a_script_click_on_a_menu_item_does_nothing(page: Page, emu: EmulatorServer) -> None:
    """goog.ui menu items act on mouseup after a press: `element.click()` alone is ignored (and logged)."""
    await open_page(page, emu)
    since = time.time()
    busy = await page.evaluate(
        """() => {
          document.querySelector('#runtime-menu div.goog-menuitem[command=runall]').click();
          return colab.global.notebook.cells.some((c) => c.isPending() || c.isRunning());
        }"""
    )
    assert busy is False

    async def one_click_logged() -> list[dict]:
        found = await kinds(emu, "click", since)
        assert len(found) == 1, found
        return found

    ignored = await eventually(one_click_logged)
    assert (ignored[0]["target"], ignored[0]["trusted"], ignored[0]["ignored"]) == (
        "menu:runall",
        False,
        True,
    )
    assert await kinds(emu, "runtime.allocating", since) == []


async def test_restart_and_run_all_from_the_menu(page: Page, emu: EmulatorServer) -> None:
    """ "Restart session and run all": a fresh Python process on the same runtime, then every cell runs."""
    await open_page(page, emu)
    runtime_id = await connect(page, emu)
    since = time.time()
    await _menu(page, "restart-and-run-all")
    restarted = await emu.wait_for_event(NB, "runtime.restarted", since=since)
    assert restarted["runtime_id"] == runtime_id
    await finished(emu, GAMMA, since)
    started = await kinds(emu, "cell.started", since)
    assert [e["cell_id"] for e in started] == [ALPHA, BETA, GAMMA]
    assert all(e["t"] > restarted["t"] for e in started)


async def test_disconnect_and_delete_runtime_from_the_menu(page: Page, emu: EmulatorServer) -> None:
    """powerwash-current-vm asks for OK, then deletes the runtime (reason "user")."""
    await open_page(page, emu)
    await connect(page, emu)
    since = time.time()
    await _menu(page, "powerwash-current-vm")
    confirm = page.get_by_role("dialog", name="Disconnect and delete runtime")
    await confirm.get_by_role("button", name="OK").click()
    assert (await emu.wait_for_event(NB, "runtime.disconnected", since=since))["reason"] == "user"
    await expect(connect_button(page)).to_have_text("Reconnect")


async def test_change_runtime_type_to_cpu(page: Page, emu: EmulatorServer) -> None:
    """The dialog's mwc-radio[name=accelerator] picks CPU; the button then reads "Connect" and connects a CPU."""
    await open_page(page, emu)
    await _menu(page, "change-runtime-type")
    dialog = page.locator("mwc-dialog.change-runtime-type[open]")
    selector = dialog.locator("colab-runtime-attributes-selector")
    await expect(
        selector.locator('mwc-formfield[label="T4 GPU"] > mwc-radio[value="GPU,T4"]')
    ).to_have_attribute("checked", "")
    await selector.locator('mwc-formfield[label="CPU"] > mwc-radio[name="accelerator"]').click()
    await dialog.locator('md-text-button[dialogaction="ok"][slot="primaryAction"]').click()
    await expect(connect_button(page)).to_have_text("Connect")
    since = time.time()
    await connect_button(page).click()
    connected = await emu.wait_for_event(NB, "runtime.connected", since=since)
    assert connected["gpu"] is False
    await expect(connect_button(page)).to_have_attribute(
        "tooltiptext",
        "Connected to Python 3 Google Compute Engine backend\nRAM: 1.3/12.7 GB\nDisk: 26.9/107.7 GB",
    )


async def test_manage_sessions_terminates_the_current_session(page: Page, emu: EmulatorServer) -> None:
    """mwc-dialog#sessions-dialog lists colab-session[iscurrentsession]; its terminate button deletes it."""
    await open_page(page, emu)
    await connect(page, emu)
    await _menu(page, "manage-sessions")
    dialog = page.locator("mwc-dialog#sessions-dialog[open]")
    await expect(dialog.locator("colab-session[iscurrentsession]")).to_contain_text("page.ipynb")
    await expect(dialog.locator("md-text-button.terminate-others")).to_have_text("Terminate other sessions")
    since = time.time()
    await dialog.locator('md-icon-button[data-aria-label="Terminate page.ipynb"]').click()
    assert (await emu.wait_for_event(NB, "runtime.disconnected", since=since))["reason"] == "user"
    await expect(dialog).to_have_count(0)
    await expect(connect_button(page)).to_have_text("Reconnect")
