"""Keyboard shortcuts (colab-ui.md 2.2) and the Monaco-like editor, driven by real key presses."""

from __future__ import annotations

import re
import time

import pytest
from playwright.async_api import Page, expect

from sentinel.emulator.testing import EmulatorServer
from tests._eventually import eventually
from tests.emulator._page import (
    ALPHA,
    BETA,
    GAMMA,
    NB,
    cell,
    connect,
    finished,
    kinds,
    open_page,
    output,
    set_text,
)

FOCUSED = re.compile(r"\bfocused\b")


async def _click_into(page: Page, cell_id: str) -> None:
    await cell(page, cell_id).locator(".view-lines").click()


async def _started(emu: EmulatorServer, since: float, count: int) -> list[str]:
    async def started() -> list[str]:
        found = [event["cell_id"] for event in await kinds(emu, "cell.started", since)]
        assert len(found) >= count, f"{len(found)} of {count} cells started: {found}"
        return found

    return await eventually(started)


@pytest.mark.parametrize("modifier", ["Control", "Meta"])
async def test_ctrl_enter_runs_the_focused_cell_and_stays(
    page: Page, emu: EmulatorServer, modifier: str
) -> None:
    """Click into a cell's editor, press Ctrl+Enter (or Cmd+Enter): that cell runs, focus stays."""
    await open_page(page, emu)
    await _click_into(page, GAMMA)
    since = time.time()
    await page.keyboard.press(f"{modifier}+Enter")
    await finished(emu, GAMMA, since)
    await expect(output(page, GAMMA)).to_have_text("cell c\n")
    await expect(cell(page, GAMMA)).to_have_class(FOCUSED)
    assert await cell(page, GAMMA).locator(".view-lines").inner_text() == 'print("cell\u00a0c")'
    keys = [(e["target"], e["trusted"]) for e in await kinds(emu, "keypress", since)]
    assert keys == [(f"key:{modifier}+Enter", True)]


async def test_shift_enter_runs_and_moves_to_the_next_cell(page: Page, emu: EmulatorServer) -> None:
    """Shift+Enter runs the cell and focuses the next one; on the last cell it adds a new one."""
    await open_page(page, emu)
    await _click_into(page, ALPHA)
    since = time.time()
    await page.keyboard.press("Shift+Enter")
    await expect(cell(page, BETA)).to_have_class(FOCUSED)
    assert await page.evaluate("() => document.activeElement.closest('.cell').id") == f"cell-{BETA}"
    await finished(emu, ALPHA, since)
    await page.keyboard.press("Shift+Enter")
    await page.keyboard.press("Shift+Enter")
    await finished(emu, GAMMA, since)
    assert await page.evaluate("() => colab.global.notebook.cells.length") == 5
    await expect(page.locator("div.cell.code.notebook-cell").last).to_have_class(FOCUSED)
    assert await _started(emu, since, 3) == [ALPHA, BETA, GAMMA]


async def test_ctrl_f9_runs_all_and_ctrl_f8_runs_before(page: Page, emu: EmulatorServer) -> None:
    """Ctrl+F9 runs every code cell in order; Ctrl+F8 runs the cells above the focused one."""
    await open_page(page, emu)
    since = time.time()
    await page.keyboard.press("Control+F9")
    assert await _started(emu, since, 3) == [ALPHA, BETA, GAMMA]
    await finished(emu, GAMMA, since)
    await expect(output(page, BETA)).to_have_text("cell b 2\n")

    await _click_into(page, GAMMA)
    before = time.time()
    await page.keyboard.press("Control+F8")
    await finished(emu, BETA, before)
    assert [e["cell_id"] for e in await kinds(emu, "cell.started", before)] == [ALPHA, BETA]


async def test_ctrl_m_dot_restarts_the_session(page: Page, emu: EmulatorServer) -> None:
    """Ctrl+M then "." restarts Python: same runtime id, variables gone."""
    await open_page(page, emu)
    runtime_id = await connect(page, emu)
    since = time.time()
    await cell(page, ALPHA).locator("colab-run-button").click()
    await finished(emu, ALPHA, since)
    await page.keyboard.press("Control+m")
    await page.keyboard.press(".")
    restarted = await emu.wait_for_event(NB, "runtime.restarted", since=since)
    assert restarted["runtime_id"] == runtime_id
    await set_text(page, GAMMA, "print('a' in globals())")
    after = time.time()
    await cell(page, GAMMA).locator("colab-run-button").click()
    await finished(emu, GAMMA, after)
    await expect(output(page, GAMMA)).to_have_text("False\n")
    assert await page.evaluate("() => colab.global.notebook.kernel.endpoint.managedId") == runtime_id
    keys = [e["target"] for e in await kinds(emu, "keypress", since)]
    assert keys == ["key:Control+m", "key:."]


async def test_ctrl_m_i_interrupts(page: Page, emu: EmulatorServer) -> None:
    """Ctrl+M then I interrupts the running cell."""
    await open_page(page, emu)
    await connect(page, emu)
    await set_text(page, ALPHA, "import time\nprint('go', flush=True)\ntime.sleep(30)")
    since = time.time()
    await cell(page, ALPHA).locator("colab-run-button").click()
    await expect(output(page, ALPHA)).to_have_text("go\n")
    await page.keyboard.press("Control+m")
    await page.keyboard.press("i")
    assert (await finished(emu, ALPHA, since))["error"] is True
    await expect(cell(page, ALPHA)).to_contain_text("KeyboardInterrupt")


async def test_typing_in_the_editor_changes_the_code_that_runs(page: Page, emu: EmulatorServer) -> None:
    """Keys typed into the hidden textarea edit the cell: view lines, getText() and execution follow."""
    await open_page(page, emu)
    await _click_into(page, GAMMA)
    await page.keyboard.press("End")
    await page.keyboard.type("\nprint('typed ' + 'text')")
    text = await page.evaluate("() => colab.global.notebook.cells[3].getText()")
    assert text == "print(\"cell c\")\nprint('typed ' + 'text')"
    lines = cell(page, GAMMA).locator(".view-lines > .view-line")
    await expect(lines).to_have_count(2)
    await expect(lines.nth(1)).to_have_text("print('typed\u00a0'\u00a0+\u00a0'text')")
    since = time.time()
    await page.keyboard.press("Control+Enter")
    await finished(emu, GAMMA, since)
    await expect(output(page, GAMMA)).to_have_text("cell c\ntyped text\n")

    # Playwright's fill() on the textarea, as some automation does, replaces the code.
    await cell(page, BETA).locator("textarea.inputarea").fill("print('filled')")
    assert await page.evaluate("() => colab.global.notebook.cells[2].getText()") == "print('filled')"
    await expect(cell(page, BETA).locator(".view-lines")).to_have_text("print('filled')")
