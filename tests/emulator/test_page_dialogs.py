"""Every dialog of colab-ui.md 3.2-3.3 in every UI generation: exact texts, element shapes, buttons."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Page, expect

from sentinel.emulator.testing import EmulatorServer
from tests._eventually import eventually
from tests.emulator._browser import click_closing
from tests.emulator._page import (
    ALPHA,
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

UIS = ("2022", "2023", "2025", "next")

# Titles, bodies and buttons (secondary first, primary last) as colab-ui.md section 3.2 gives them.
EXPECTED: dict[str, tuple[str, str, list[str]]] = {
    "runtime_disconnected": (
        "Runtime disconnected",
        "Your runtime has been disconnected due to inactivity or reaching its maximum duration. Learn more",
        ["Close", "Reconnect"],
    ),
    "external_notebook": (
        "Warning: This notebook was not authored by Google",
        "This notebook is being loaded from GitHub. It may request access to your data stored with Google, "
        "or read data and credentials from other sessions. Please review the source code before executing "
        "this notebook.",
        ["Cancel", "Run anyway"],
    ),
    "drive_consent": (
        "Permit this notebook to access your Google Drive files?",
        "This notebook is requesting access to your Google Drive files. Granting access to Google Drive "
        "will permit code executed in the notebook to modify files in your Google Drive. Make sure that "
        "you review the notebook code prior to allowing this access.",
        ["No, thanks", "Connect to Google Drive"],
    ),
    "credentials": (
        "Allow this notebook to access your Google credentials?",
        "This will allow the code executed in this notebook to access your Google Drive and Google Cloud "
        "data. Review the code in this notebook prior to allowing access.",
        ["No, thanks", "Allow"],
    ),
    "gpu_limit": (
        "Cannot connect to GPU backend",
        "You cannot currently connect to a GPU due to usage limits in Colab. Learn more "
        "To get more access to GPUs, consider purchasing Colab compute units with Pay As You Go.",
        ["Close", "Connect without GPU"],
    ),
    "too_many_sessions": (
        "Too many sessions",
        "You have too many active sessions. Terminate an existing session to continue.",
        ["Cancel", "Manage sessions"],
    ),
    "sign_in_required": (
        "Google sign-in required",
        "You must be logged in with a Google account to run code in Colab. Please sign in and try again.",
        ["Cancel", "Sign in"],
    ),
    "still_there": ("Are you still there?", "", ["Yes"]),
    # Made up for the emulator (fault unknown_dialog): a dialog no sentinel pattern matches.
    "unknown_dialog": (
        "Something new in Colab",
        "This stands for a dialog that no Colab release has shown so far.",
        ["Not now", "Show me"],
    ),
}

# Dialogs the 2025 page renders as md-dialog with everything inside its shadow root.
MD_DIALOGS = {"drive_consent", "credentials"}

DESCRIBE = """() => {
  const hosts = [...document.querySelectorAll(
    'body > colab-dialog[open], body > mwc-dialog[open], body > md-dialog[open], body > dialog[open]')];
  return hosts.map((host) => {
    const native = host.tagName === 'DIALOG';
    // next: the content is in the shadow root of the dialog's child, the buttons one shadow root further.
    const root = host.tagName === 'MD-DIALOG' ? host.shadowRoot : native ? host.firstElementChild.shadowRoot : host;
    const heading = host.tagName === 'COLAB-DIALOG'
      ? root.querySelector('paper-dialog[opened] > div.content-area > h2') : root.querySelector('h2');
    const actions = native ? root.querySelector('nb-dialog-actions').shadowRoot : root;
    const buttons = [...actions.querySelectorAll('md-text-button, md-filled-button, mwc-button, paper-button, button')];
    return {
      tag: host.tagName.toLowerCase(),
      classes: [...host.classList],
      title: heading ? heading.textContent.trim() : null,
      body: root.querySelector('.dialog-body').innerText,
      lightHeading: Boolean(host.querySelector('h2')),
      modal: host.matches(':modal'),
      role: host.getAttribute('role'),
      label: host.getAttribute('aria-label'),
      buttons: buttons.map((b) => ({
        tag: b.tagName.toLowerCase(), label: b.textContent.trim(), innerText: b.innerText.trim(),
        slot: b.getAttribute('slot'), action: b.getAttribute('dialogaction'), id: b.id,
        value: b.getAttribute('value'), shadowButton: Boolean(b.shadowRoot && b.shadowRoot.querySelector('#button')),
      })),
    };
  });
}"""


def _words(text: str) -> str:
    return " ".join(text.split())


async def _describe(page: Page) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await page.evaluate(DESCRIBE)
    return result


async def _run_first_cell(page: Page, emu: EmulatorServer) -> None:
    await cell(page, ALPHA).locator("colab-run-button").click()


async def _trigger(dialog: str, page: Page, emu: EmulatorServer, ui: str) -> None:
    """Opens the page and makes the dialog appear the way it appears on Colab."""
    await open_page(page, emu, ui=ui, **({"external": "github"} if dialog == "external_notebook" else {}))
    actions: dict[str, Callable[[], Awaitable[None]]] = {
        "runtime_disconnected": lambda: _after_connect(page, emu, "idle_disconnect"),
        "external_notebook": lambda: _run_first_cell(page, emu),
        "drive_consent": lambda: _run_code(
            page, "from google.colab import drive\ndrive.mount('/content/drive')"
        ),
        "credentials": lambda: _run_code(page, "from google.colab import auth\nauth.authenticate_user()"),
        "gpu_limit": lambda: _inject_then_connect(page, emu, "gpu_limit"),
        "too_many_sessions": lambda: _inject_then_connect(page, emu, "too_many_sessions"),
        "sign_in_required": lambda: _signed_out_run(page, emu),
        "still_there": lambda: emu.inject(NB, "still_there"),
        "unknown_dialog": lambda: emu.inject(NB, "unknown_dialog"),
    }
    await actions[dialog]()


async def _after_connect(page: Page, emu: EmulatorServer, fault: str) -> None:
    await connect(page, emu)
    await emu.inject(NB, fault)


async def _run_code(page: Page, code: str) -> None:
    await set_text(page, ALPHA, code)
    await cell(page, ALPHA).locator("colab-run-button").click()


async def _inject_then_connect(page: Page, emu: EmulatorServer, fault: str) -> None:
    await emu.inject(NB, fault)
    await connect_button(page).click()


async def _signed_out_run(page: Page, emu: EmulatorServer) -> None:
    await emu.inject(NB, "sign_out")
    await expect(page.locator('a[aria-label="Sign in"][href*="accounts.google.com"]')).to_be_visible()
    await _run_first_cell(page, emu)


# The consent dialogs need a kernel asking for consent; one runtime serves all three generations.
KERNEL_DIALOGS = {
    "drive_consent": "from google.colab import drive\ndrive.mount('/content/drive')",
    "credentials": "from google.colab import auth\nauth.authenticate_user()",
}


@pytest.mark.parametrize("ui", UIS)
@pytest.mark.parametrize("dialog", [name for name in EXPECTED if name not in KERNEL_DIALOGS])
async def test_dialog_reads_exactly_as_colab(page: Page, emu: EmulatorServer, dialog: str, ui: str) -> None:
    """The dialog has Colab's title, body and buttons, in the element shapes of its UI generation.

    1. Trigger it as on Colab (fault, run, connect).
    2. Read it from the DOM: generation-specific tags, slots, dialogaction, ids, shadow roots.
    3. Playwright's role locators find its buttons; clicking the secondary one closes it and logs it.
    """
    since = time.time()
    await _trigger(dialog, page, emu, ui)
    await _check_dialog(page, emu, dialog, ui, since)


@pytest.mark.parametrize("dialog", list(KERNEL_DIALOGS))
async def test_consent_dialog_reads_exactly_as_colab(page: Page, emu: EmulatorServer, dialog: str) -> None:
    """The Drive and credentials consent dialogs, in each generation, raised by the kernel's shim.

    The runtime outlives page loads, so each generation's page runs the consent cell on the same one;
    "No, thanks" refuses, and the cell fails as on Colab.
    """
    for ui in UIS:
        await open_page_connected(page, emu, ui)
        since = time.time()
        await _run_code(page, KERNEL_DIALOGS[dialog])
        await _check_dialog(page, emu, dialog, ui, since)
        refused = await emu.wait_for_event(NB, "drive.refused", since=since)
        assert refused["error"] == "user-declined"
        assert (await finished(emu, ALPHA, since))["error"] is True


async def open_page_connected(page: Page, emu: EmulatorServer, ui: str) -> None:
    """Open the page; the first time, connect a runtime (later loads find it connected)."""
    state = await emu.state(NB)
    if state["runtime"] is None:
        await open_page(page, emu, ui=ui)
        await connect(page, emu)
        return
    await page.goto(emu.notebook_url(NB, ui=ui))
    await expect(connect_button(page)).to_have_attribute("title", re.compile("^Connected to Python 3"))


async def _check_dialog(page: Page, emu: EmulatorServer, dialog: str, ui: str, since: float) -> None:
    shown = await emu.wait_for_event(
        NB, "dialog.shown", since=since, predicate=lambda e: e["dialog"] == dialog
    )
    assert shown["ui"] == ui

    title, body, labels = EXPECTED[dialog]
    described = await _describe(page)
    assert len(described) == 1, described
    found = described[0]
    assert found["title"] == title
    assert _words(found["body"]) == body
    assert [button["label"] for button in found["buttons"]] == labels
    primary, secondaries = found["buttons"][-1], found["buttons"][:-1]

    if ui == "2022":
        assert found["tag"] == "colab-dialog"
        assert primary["tag"] == "paper-button" and primary["id"] == "ok"
        assert primary["innerText"] == primary["label"].upper()  # Polymer buttons uppercase: "RUN ANYWAY"
        assert all(b["id"] == "cancel" for b in secondaries)
        await expect(page.locator("body > iron-overlay-backdrop[opened]")).to_have_count(1)
    elif ui == "2023":
        assert found["tag"] == "mwc-dialog" and found["lightHeading"]
        assert {b["tag"] for b in found["buttons"]} == {"mwc-button"}
        assert (primary["slot"], primary["action"], primary["shadowButton"]) == ("primaryAction", "ok", True)
        assert all((b["slot"], b["action"]) == ("secondaryAction", "cancel") for b in secondaries)
    elif ui == "next":
        # A native <dialog> opened with showModal(); nothing of today's tags, slots, ids or dialogaction.
        assert (found["tag"], found["modal"], found["label"]) == ("dialog", True, title)
        assert found["role"] == ("alertdialog" if dialog == "external_notebook" else None)
        assert not found["lightHeading"]
        assert {b["tag"] for b in found["buttons"]} == {"button"}
        assert all(
            (b["slot"], b["action"], b["id"], b["value"]) == (None, None, "", None) for b in found["buttons"]
        )
        assert (
            await page.evaluate("() => document.querySelector('dialog [dialogaction], dialog button')")
            is None
        )
    elif dialog in MD_DIALOGS:
        assert found["tag"] == "md-dialog" and not found["lightHeading"]
        # Content lives in the shadow root: a plain querySelector misses it, Playwright pierces it.
        assert await page.evaluate("() => document.querySelector('md-dialog [dialogaction=ok]')") is None
        await expect(page.locator("md-dialog [dialogaction=ok]")).to_have_text(labels[-1])
        assert (primary["tag"], primary["value"], primary["action"]) == ("md-filled-button", "ok", "ok")
    else:
        assert found["tag"] == "mwc-dialog" and "yes-no-dialog" in found["classes"]
        assert (primary["tag"], primary["slot"], primary["action"]) == (
            "md-text-button",
            "primaryAction",
            "ok",
        )
        assert all(
            (b["tag"], b["slot"], b["action"]) == ("md-text-button", "secondaryAction", "cancel")
            for b in secondaries
        )
    role = "alertdialog" if dialog == "external_notebook" else "dialog"
    box = page.get_by_role(role, name=title)
    await expect(box).to_be_visible()
    # Scoped to the dialog: with "Runtime disconnected" up the connect button also reads "Reconnect".
    for label in labels:
        await expect(box.get_by_role("button", name=label, exact=True)).to_be_visible()

    dismiss = labels[0]
    await expect(box.get_by_role("button", name=dismiss, exact=True)).to_be_enabled()
    await box.get_by_role("button", name=dismiss, exact=True).click()
    closed = await emu.wait_for_event(
        NB, "dialog.closed", since=since, predicate=lambda e: e["dialog"] == dialog
    )
    assert (closed["button"], closed["ui"]) == (dismiss, ui)
    clicks = [e for e in await kinds(emu, "click", since) if e["target"] == f"dialog:{dialog}:{dismiss}"]
    assert clicks and clicks[-1]["trusted"] is True
    assert await _describe(page) == []


async def test_external_dialog_names_an_unknown_author(page: Page, emu: EmulatorServer) -> None:
    """`external=unknown` words the body for an unknown author, still before the first execution."""
    await open_page(page, emu, external="unknown")
    await _run_first_cell(page, emu)
    await expect(page.locator("mwc-dialog[open] .dialog-body")).to_have_text(
        "This notebook was authored by an unknown user, not by Google. It may request access to your data "
        "stored with Google, or read data and credentials from other sessions. Please review the source code "
        "before executing this notebook."
    )
    # Nothing ran and no runtime was requested while the warning is up.
    assert await kinds(emu, "runtime.allocating") == []


PROBE = """() => {
  window.__probe = [];
  new MutationObserver((records) => {
    for (const record of records) for (const node of record.addedNodes) {
      if (!(node instanceof HTMLElement) || !node.matches('mwc-dialog')) continue;
      const button = node.querySelector('[dialogaction=ok]');
      window.__probe.push(['shown', button.hasAttribute('disabled')]);
      button.click();  // a script "click" on the disabled button must do nothing
      setTimeout(() => window.__probe.push(['900ms', button.hasAttribute('disabled')]), 900);
      setTimeout(() => window.__probe.push(['1100ms', button.hasAttribute('disabled')]), 1100);
    }
  }).observe(document.body, {childList: true});
}"""


async def test_run_anyway_is_disabled_for_the_first_second(page: Page, emu: EmulatorServer) -> None:
    """Cancel/Run anyway start disabled, a click then does nothing, they enable after 1000 ms, Run anyway runs.

    The in-page probe compares timers of the same page, so the check does not depend on machine speed.
    """
    await open_page(page, emu, external="github")
    await page.evaluate(PROBE)
    since = time.time()
    await page.keyboard.press("Control+F9")
    run_anyway = page.get_by_role("button", name="Run anyway")
    await expect(run_anyway).to_be_enabled()

    async def probed_three_times() -> None:
        assert await page.evaluate("() => window.__probe.length") == 3

    await eventually(probed_three_times)
    assert await page.evaluate("() => window.__probe") == [
        ["shown", True],
        ["900ms", True],
        ["1100ms", False],
    ]
    ignored = [
        e for e in await kinds(emu, "click", since) if e["target"] == "dialog:external_notebook:Run anyway"
    ]
    assert [(e["trusted"], e.get("disabled")) for e in ignored] == [(False, True)]
    await expect(page.locator("mwc-dialog.wide[open]")).to_have_count(1)

    await run_anyway.click()
    for cell_id in ("alpha", "beta", "gamma"):
        await finished(emu, cell_id, since)
    await expect(output(page, "gamma")).to_have_text("cell c\n")
    # Accepted once per page: the next run shows no warning.
    again = time.time()
    await cell(page, ALPHA).locator("colab-run-button").click()
    await finished(emu, ALPHA, again)
    assert await kinds(emu, "dialog.shown", again) == []


@pytest.mark.parametrize("ui", UIS)
async def test_recaptcha_dialog_is_dismissed_through_its_mwc_button(
    page: Page, emu: EmulatorServer, ui: str
) -> None:
    """`body > colab-recaptcha-dialog` holds mwc-dialog + mwc-button (#button); the checkbox only logs."""
    await open_page(page, emu, ui=ui)
    since = time.time()
    # The inline anchor (the anchor iframe like Google's is tested in tests/emulator/test_faults.py).
    await emu.inject(NB, "captcha", iframe=False)
    host = page.locator("body > colab-recaptcha-dialog")
    await expect(host).to_have_count(1)
    shape = await page.evaluate(
        """() => {
          const root = document.querySelector('body > colab-recaptcha-dialog').shadowRoot;
          return {
            dialog: Boolean(root.querySelector('mwc-dialog[open]')),
            button: Boolean(root.querySelector('mwc-button').shadowRoot.querySelector('#button')),
            anchor: Boolean(root.querySelector('#rc-anchor-container .recaptcha-checkbox')),
          };
        }"""
    )
    assert shape == {"dialog": True, "button": True, "anchor": True}
    await page.locator("colab-recaptcha-dialog .recaptcha-checkbox").click()
    checkbox_clicks = [e for e in await kinds(emu, "click", since) if e["target"] == "captcha:checkbox"]
    assert [e["trusted"] for e in checkbox_clicks] == [True]
    await expect(host).to_have_count(1)  # nothing is solved automatically

    await page.locator("colab-recaptcha-dialog mwc-button #button").click()
    await expect(host).to_have_count(0)
    closed = await emu.wait_for_event(
        NB, "dialog.closed", since=since, predicate=lambda e: e["dialog"] == "captcha"
    )
    assert closed["button"] == "Cancel"
    if ui == "2022":
        await expect(page.locator("iron-overlay-backdrop")).to_have_count(0)


async def test_crash_toast_offers_runtime_logs_and_a_fresh_runtime_follows(
    page: Page, emu: EmulatorServer
) -> None:
    """crash_oom: the toast (not a dialog) with "View runtime logs"; Colab brings up a NEW runtime."""
    await open_page(page, emu)
    first = await connect(page, emu)
    since = time.time()
    await emu.inject(NB, "crash_oom")
    toast = page.locator("colab-toast", has_text="Your session crashed after using all available RAM.")
    await expect(toast).to_be_visible()
    await expect(toast.locator("a.toast-action")).to_have_text("View runtime logs")
    assert await _describe(page) == []
    connected = await emu.wait_for_event(NB, "runtime.connected", since=since)
    assert connected["runtime_id"] != first

    async def kernel_has_the_new_runtime() -> None:
        managed = await page.evaluate("() => colab.global.notebook.kernel.endpoint.managedId")
        assert managed == connected["runtime_id"]

    await eventually(kernel_has_the_new_runtime)
    await toast.locator("a.toast-action").click()
    await expect(page.locator("#side-panel .side-panel-title")).to_have_text("Runtime logs")
    await expect(page.locator("#side-panel .runtime-logs")).to_contain_text("runtime.crashed")
    toast_events = [e["message"] for e in await kinds(emu, "toast.closed", since)]
    assert toast_events == ["Your session crashed after using all available RAM."]


async def test_signed_out_page_shows_a_sign_in_link_that_never_navigates(
    page: Page, emu: EmulatorServer
) -> None:
    """sign_out: `a[aria-label="Sign in"][href*="accounts.google.com"]`; its click is logged, not followed."""
    await open_page(page, emu)
    link = page.locator('a[aria-label="Sign in"][href*="accounts.google.com"]')
    await expect(link).to_have_count(0)
    since = time.time()
    await emu.inject(NB, "sign_out")
    await expect(link).to_be_visible()
    url = page.url
    await link.click()
    assert page.url == url
    assert [e["trusted"] for e in await kinds(emu, "click", since) if e["target"] == "sign-in-link"] == [True]
    await emu.inject(NB, "sign_in")
    await expect(link).to_have_count(0)
    await expect(page.locator('a[aria-label^="Google Account"]')).to_be_visible()


async def test_drive_popup_flow(page: Page, emu: EmulatorServer) -> None:
    """Consent -> window.open popup -> account tile -> Select all -> Continue -> "Mounted at /content/drive".

    On one runtime: closing the popup fails with "popup-closed", Continue without the Drive scope with
    "scopes-not-granted" (each fails the cell as Colab does), then the full flow mounts Drive.
    """
    await open_page(page, emu)
    await connect(page, emu)
    for how in ("close", "no-scopes", "grant"):
        since = time.time()
        await _run_code(page, KERNEL_DIALOGS["drive_consent"])
        async with page.expect_popup() as popup_info:
            await page.get_by_role("button", name="Connect to Google Drive").click()
        popup = await popup_info.value
        assert re.search(r"/oauth/consent\?request=[\w-]+$", popup.url)
        await expect(popup.get_by_role("heading", name="Choose an account")).to_be_visible()
        await popup.locator('[data-identifier="user@example.com"]').click()
        async with popup.expect_event("close"):
            if how == "close":
                await popup.close()
            else:
                if how == "grant":
                    await popup.get_by_label("Select all").check()
                await click_closing(popup.get_by_role("button", name="Continue"))
        done = await finished(emu, ALPHA, since)
        if how == "grant":
            assert done["error"] is False
            await expect(output(page, ALPHA)).to_have_text("Mounted at /content/drive\n")
            assert [e["request_kind"] for e in await kinds(emu, "drive.mounted", since)] == ["drive"]
        else:
            refused = await emu.wait_for_event(NB, "drive.refused", since=since)
            assert refused["error"] == ("popup-closed" if how == "close" else "scopes-not-granted")
            assert done["error"] is True
            await expect(cell(page, ALPHA)).to_contain_text("credential propagation was unsuccessful")
            await expect(cell(page, ALPHA)).to_have_class(re.compile(r"\bexecution-error\b"))
