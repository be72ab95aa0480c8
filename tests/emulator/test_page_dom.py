"""The page's DOM and JS API as automation written for Colab sees them (colab-ui.md 0, 1, 4, 8.2)."""

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
    INTRO,
    NB,
    cell,
    connect,
    connect_button,
    finished,
    kinds,
    open_page,
    output,
    set_text,
)

SKELETON = """() => {
  const host = document.querySelector('#top-toolbar > colab-connect-button');
  const root = host && host.shadowRoot;
  const code = document.querySelector('div.cell.code.notebook-cell#cell-alpha');
  const run = code.querySelector('div.cell-gutter div.cell-execution-container > colab-run-button');
  const editor = code.querySelector('div.editor.lazy-editor div.monaco-editor[role=code]');
  const textarea = editor.querySelector('textarea.inputarea[role=textbox]');
  return {
    shadowMode: root ? root.mode : null,
    connectTag: root.querySelector('#connect').tagName.toLowerCase(),
    chevron: Boolean(root.querySelector('button[aria-haspopup]')),
    addCode: document.querySelector('#toolbar-add-code').tagName.toLowerCase(),
    menuButton: Boolean(document.querySelector('#runtime-menu-button .goog-menu-button-caption')),
    codeRole: [code.getAttribute('role'), code.getAttribute('aria-label')],
    runShadow: [run.shadowRoot.mode, Boolean(run.shadowRoot.querySelector('#run-button')),
                Boolean(run.shadowRoot.querySelector('#playSymbolMask')),
                Boolean(run.shadowRoot.querySelector('div.cell-execution'))],
    firstLineHtml: editor.querySelector('.view-lines > .view-line').innerHTML,
    firstLineText: editor.querySelector('.view-lines > .view-line').textContent,
    lines: editor.querySelectorAll('.view-lines > .view-line').length,
    textareaLabel: textarea.getAttribute('aria-label'),
    dataUri: editor.getAttribute('data-uri'),
    text: document.querySelector('#cell-intro').className,
    outputShape: Boolean(code.querySelector(
      'div.codecell-input-output > div.output[role=region] div.output-content colab-static-output-renderer[role=group]')),
    menuItems: [...document.querySelectorAll('#runtime-menu div.goog-menuitem[command]')].map(
      (item) => [item.getAttribute('command'), item.querySelector('.goog-menuitem-label').textContent]),
  };
}"""


async def test_page_skeleton_matches_colab(page: Page, emu: EmulatorServer) -> None:
    """Selectors from colab-ui.md resolve: shadow roots are open, ids, classes and roles as on Colab."""
    await open_page(page, emu)
    shape = await page.evaluate(SKELETON)
    assert shape["shadowMode"] == "open"
    assert shape["connectTag"] == "colab-toolbar-button"
    assert shape["chevron"] is True
    assert shape["addCode"] == "colab-toolbar-button"
    assert shape["menuButton"] is True
    assert shape["codeRole"] == ["region", "Cell 2"]
    assert shape["runShadow"] == ["open", True, True, True]
    # Monaco renders spaces as &nbsp; ("a = 1").
    assert shape["firstLineText"] == "a\u00a0=\u00a01"
    assert "&nbsp;" in shape["firstLineHtml"]
    assert shape["lines"] == 2
    assert shape["textareaLabel"].startswith("Editor content")
    assert shape["dataUri"].startswith("inmemory://model/")
    assert "cell text notebook-cell" in shape["text"]
    assert shape["outputShape"] is True
    for command, label in [
        ("runall", "Run all"),
        ("restart", "Restart session"),
        ("restart-and-run-all", "Restart session and run all"),
        ("powerwash-current-vm", "Disconnect and delete runtime"),
        ("change-runtime-type", "Change runtime type"),
        ("manage-sessions", "Manage sessions"),
    ]:
        assert [command, label] in shape["menuItems"]
    await expect(cell(page, INTRO).locator(".markdown h1")).to_have_text("Page tests")
    await expect(page.locator("#doc-name")).to_have_text("page.ipynb")


@pytest.mark.parametrize("ui", ["2022", "2025"])
async def test_connect_button_texts_through_the_lifecycle(page: Page, emu: EmulatorServer, ui: str) -> None:
    """Connect T4 -> Connecting (Allocating in 2022) -> RAM/Disk meters + tooltiptext -> Reconnect."""
    await open_page(page, emu, ui=ui)
    button = connect_button(page)
    await expect(button).to_have_text("Connect T4")
    assert await page.evaluate("() => colab.global.notebook.kernel.getState()") == "connect"
    await emu.inject(NB, "allocation_delay", seconds=1.5)
    since = time.time()
    await button.click()
    await expect(button).to_have_text("Allocating" if ui == "2022" else "Connecting")
    assert await page.evaluate("() => colab.global.notebook.kernel.getState()") == "allocating"
    event = await emu.wait_for_event(NB, "runtime.connected", since=since)
    await expect(button).to_have_attribute("tooltiptext", re.compile(r"\bRAM\b"))
    tooltip = await button.get_attribute("tooltiptext")
    assert tooltip == (
        "Connected to Python 3 Google Compute Engine backend (GPU)\n"
        "RAM: 1.3/12.7 GB\nDisk: 26.9/107.7 GB\nGPU RAM: 0.0/15.0 GB"
    )
    # 2022 drew the meter labels as text; later generations draw them, so innerText is empty.
    assert await button.inner_text() == ("RAM\nDisk" if ui == "2022" else "")
    api = await page.evaluate(
        "() => { const k = colab.global.notebook.kernel;"
        " return [k.getState(), k.state, k.isConnected(), k.endpoint.managedId]; }"
    )
    assert api == ["connected", "connected", True, event["runtime_id"]]

    await emu.inject(NB, "idle_disconnect")
    await expect(button).to_have_text("Reconnect")
    assert await page.evaluate("() => colab.global.notebook.kernel.endpoint.managedId") is None


async def test_clicking_the_connected_button_opens_resources_and_never_reconnects(
    page: Page, emu: EmulatorServer
) -> None:
    """As on Colab, a connected #connect opens the resources view; the runtime stays the same."""
    await open_page(page, emu)
    runtime_id = await connect(page, emu)
    since = time.time()
    await connect_button(page).click()
    await expect(page.locator("#side-panel colab-usage-display")).to_contain_text("System RAM")
    assert await kinds(emu, "runtime.allocating", since) == []
    assert (await emu.state(NB))["runtime"]["id"] == runtime_id
    clicks = await kinds(emu, "click", since)
    assert [(c["target"], c["trusted"]) for c in clicks] == [("connect", True)]


async def test_connect_dropdown_offers_menu_items(page: Page, emu: EmulatorServer) -> None:
    """The chevron opens role=menuitem entries; "Disconnect and delete runtime" asks for OK first."""
    await open_page(page, emu)
    chevron = page.locator("colab-connect-button button[aria-haspopup]")
    await chevron.click()
    disconnect = page.get_by_role("menuitem", name="Disconnect and delete runtime")
    await expect(page.get_by_role("menuitem", name="Change runtime type")).to_be_visible()
    await expect(disconnect).to_have_attribute("aria-disabled", "true")  # nothing to delete yet
    await page.keyboard.press("Escape")

    await connect(page, emu)
    await chevron.click()
    await expect(disconnect).to_have_attribute("aria-disabled", "false")
    since = time.time()
    await disconnect.click()
    confirm = page.get_by_role("dialog", name="Disconnect and delete runtime")
    await confirm.get_by_role("button", name="OK").click()
    event = await emu.wait_for_event(NB, "runtime.disconnected", since=since)
    assert event["reason"] == "user"
    await expect(connect_button(page)).to_have_text("Reconnect")


async def test_a_running_cell_streams_output_and_shows_its_state(page: Page, emu: EmulatorServer) -> None:
    """running/pending classes, stop mask while running, output streams before the cell ends."""
    await open_page(page, emu)
    await connect(page, emu)
    await set_text(
        page,
        ALPHA,
        "import time\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('second')",
    )
    since = time.time()
    await cell(page, ALPHA).locator("colab-run-button").click()
    await cell(page, BETA).locator("colab-run-button").click()
    await expect(cell(page, ALPHA)).to_have_class(re.compile(r"\brunning\b"))
    await expect(cell(page, BETA)).to_have_class(re.compile(r"\bpending\b"))
    await expect(output(page, ALPHA)).to_have_text("first\n")
    masks = await page.evaluate(
        "() => { const r = document.querySelector('#cell-alpha colab-run-button').shadowRoot;"
        " return [Boolean(r.getElementById('stopSymbolMask')), Boolean(r.getElementById('playSymbolMask')),"
        " r.querySelector('div.cell-execution').className]; }"
    )
    assert masks[0:2] == [True, False] and "running" in masks[2]
    assert await page.evaluate("() => colab.global.notebook.cells[1].isRunning()") is True
    assert await page.evaluate("() => colab.global.notebook.kernel.isRunning()") is True
    assert (await finished(emu, ALPHA, since))["error"] is False
    await expect(output(page, ALPHA)).to_have_text("first\nsecond\n")
    await expect(cell(page, ALPHA)).to_have_class(re.compile(r"\bcode-has-output\b"))
    await expect(cell(page, ALPHA)).not_to_have_class(re.compile(r"\brunning\b"))
    # BETA ran after ALPHA and failed: `a` was never defined by the replaced code.
    assert (await finished(emu, BETA, since))["error"] is True
    await expect(cell(page, BETA)).to_have_class(re.compile(r"\bexecution-error\b"))
    await expect(cell(page, BETA)).to_contain_text("NameError")
    idle = await page.evaluate(
        "() => { const r = document.querySelector('#cell-alpha colab-run-button').shadowRoot;"
        " return [Boolean(r.getElementById('playSymbolMask')), r.getElementById('execution-count').textContent]; }"
    )
    assert idle == [True, "[1]"]


async def test_clicking_the_run_button_of_a_running_cell_interrupts_it(
    page: Page, emu: EmulatorServer
) -> None:
    """Colab's run button toggles: a click while the cell runs is "Interrupt execution"."""
    await open_page(page, emu)
    await connect(page, emu)
    await set_text(page, ALPHA, "import time\nprint('start', flush=True)\ntime.sleep(30)")
    since = time.time()
    run_button = cell(page, ALPHA).locator("colab-run-button")
    await run_button.click()
    await expect(output(page, ALPHA)).to_have_text("start\n")
    await run_button.click()
    done = await finished(emu, ALPHA, since)
    assert done["error"] is True
    await expect(cell(page, ALPHA)).to_contain_text("KeyboardInterrupt")
    targets = [(c["target"], c["state"], c["trusted"]) for c in await kinds(emu, "click", since)]
    assert targets[-2:] == [("run-button:alpha", "idle", True), ("run-button:alpha", "running", True)]


async def test_colab_global_notebook_api(page: Page, emu: EmulatorServer) -> None:
    """cells[] with getId/getText/setText/manualExecute/outputArea, runAll, clearAllOutputs, model JSON."""
    await open_page(page, emu)
    ids = await page.evaluate("() => colab.global.notebook.cells.map((c) => c.getId())")
    assert ids == [INTRO, ALPHA, BETA, GAMMA]
    assert await page.evaluate("() => colab.global.notebook.cells[1].getText()") == 'a = 1\nprint("cell a")'
    assert await page.evaluate("() => colab.global.notebook.getNotebookId()") == NB
    elements = await page.evaluate(
        "() => { const c = colab.global.notebook.cells[1];"
        " return [c.getElement() === c.element_, c.element_.id, c.outputArea.element_.classList.contains('output'),"
        " c.runButton.tagName.toLowerCase()]; }"
    )
    assert elements == [True, "cell-alpha", True, "colab-run-button"]
    await set_text(page, GAMMA, "print('api', 6 * 7)")
    await expect(cell(page, GAMMA).locator(".view-lines")).to_have_text("print('api',\u00a06\u00a0*\u00a07)")

    since = time.time()
    await page.evaluate("() => colab.global.notebook.cells[3].manualExecute()")  # connects first
    await finished(emu, GAMMA, since)
    await expect(output(page, GAMMA)).to_have_text("api 42\n")
    sessions = await page.evaluate("() => colab.global.notebook.listNotebookSessions()")
    assert sessions[0]["runtimeId"] == (await emu.state(NB))["runtime"]["id"]

    since = time.time()
    await page.evaluate("() => colab.global.notebook.runAll()")
    started = [e["cell_id"] for e in await _wait_started(emu, since, 3)]
    assert started == [ALPHA, BETA, GAMMA]
    await finished(emu, GAMMA, since)
    await expect(output(page, BETA)).to_have_text("cell b 2\n")
    await page.evaluate("() => colab.global.notebook.clearAllOutputs()")
    await expect(page.locator(".cell.code-has-output")).to_have_count(0)
    model = await page.evaluate("() => colab.global.notebookModel.getLastResolvedNotebookJson()")
    assert [c["cell_type"] for c in model["cells"]] == ["markdown", "code", "code", "code"]
    assert (
        await page.evaluate("() => monaco.editor.getModels().map((m) => m.getValue())[2]")
        == "print('api', 6 * 7)"
    )


async def _wait_started(emu: EmulatorServer, since: float, count: int) -> list[dict]:
    async def started() -> list[dict]:
        found = await kinds(emu, "cell.started", since)
        assert len(found) >= count, f"{len(found)} of {count} cells started: {found}"
        return found

    return await eventually(started)


async def test_synthetic_and_real_clicks_are_told_apart_in_the_event_log(
    page: Page, emu: EmulatorServer
) -> None:
    """A Playwright click logs trusted=true; `runButton.click()` from page JS logs trusted=false (and runs)."""
    await open_page(page, emu)
    await connect(page, emu)
    since = time.time()
    await page.evaluate("() => colab.global.notebook.cells[1].runButton.click()")
    await finished(emu, ALPHA, since)
    await cell(page, GAMMA).locator("colab-run-button").click()
    await finished(emu, GAMMA, since)
    clicks = [(c["target"], c["trusted"]) for c in await kinds(emu, "click", since)]
    assert clicks == [("run-button:alpha", False), ("run-button:gamma", True)]
    assert all(isinstance(c["client_t"], float) for c in await kinds(emu, "click", since))


async def test_socket_outage_shows_reconnect_then_resyncs_to_the_same_runtime(
    page: Page, emu: EmulatorServer
) -> None:
    """An outage drops the WebSocket: "Reconnect" + "Unable to connect to the runtime."; the page then
    reopens it by itself and shows the still-alive runtime (same id), without allocating a new one."""
    await open_page(page, emu)
    runtime_id = await connect(page, emu)
    since = time.time()
    await emu.inject(NB, "outage", seconds=1.5)
    await expect(connect_button(page)).to_have_text("Reconnect")
    await expect(page.locator("colab-toast", has_text="Unable to connect to the runtime.")).to_be_visible()
    assert await page.evaluate("() => colab.global.notebook.kernel.isConnected()") is False
    await emu.wait_for_event(NB, "outage.ended", since=since)
    await expect(connect_button(page)).to_have_attribute("tooltiptext", re.compile("^Connected to Python 3"))
    assert await page.evaluate("() => colab.global.notebook.kernel.endpoint.managedId") == runtime_id
    assert await kinds(emu, "runtime.allocating", since) == []
    # Events raised while the socket was down arrive afterwards, stamped with the page's own clock.
    shown = await emu.wait_for_event(NB, "toast.shown", since=since)
    assert shown["message"] == "Unable to connect to the runtime." and shown["client_t"] < shown["t"]


async def test_max_lifetime_shows_runtime_disconnected(page: Page, emu: EmulatorServer) -> None:
    """The lifetime limit (fault max_lifetime) disconnects and shows the same "Runtime disconnected" dialog."""
    await open_page(page, emu)
    await connect(page, emu)
    since = time.time()
    await emu.inject(NB, "max_lifetime")
    await expect(page.get_by_role("dialog", name="Runtime disconnected")).to_be_visible()
    assert (await emu.wait_for_event(NB, "runtime.disconnected", since=since))["reason"] == "max_lifetime"
    await expect(connect_button(page)).to_have_text("Reconnect")


async def test_progress_bars_and_colours_render_as_in_colab(page: Page, emu: EmulatorServer) -> None:
    """A carriage return rewrites the current line (tqdm-style); ANSI colours become styled spans."""
    await open_page(page, emu)
    await set_text(
        page,
        ALPHA,
        "import sys, time\n"
        "for p in (10, 50, 100):\n"
        "    sys.stdout.write(f'\\rtraining {p}%'); sys.stdout.flush(); time.sleep(0.1)\n"
        "print()\n"
        "print('\\x1b[31mred\\x1b[0m plain')",
    )
    since = time.time()
    await cell(page, ALPHA).locator("colab-run-button").click()
    await finished(emu, ALPHA, since)
    await expect(output(page, ALPHA)).to_have_text("training 100%\nred plain\n")
    await expect(output(page, ALPHA).locator("span.ansi-red-fg")).to_have_text("red")
