"""The userscript in real Chromium against the emulator, injected the two ways users do.

"console": the page is loaded, then the header-less text is evaluated (a DevTools paste).
"manager": the full file with its header is an init script of the browser context, the way
Tampermonkey/Violentmonkey inject it on every Colab page load.

Everything is asserted from the emulator's event log (what the page saw: clicks with their
``isTrusted``, dialogs, runtime transitions), not from the script's own claims.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page

from sentinel.emulator.testing import EmulatorServer
from sentinel.userscript import script_text
from tests._eventually import consistently, eventually

pytestmark = pytest.mark.slow

NB = "hello"
RESUME_CELL = "hello5resum1"
UIS = ("2022", "2023", "2025")
RECONNECT = "dialog:runtime_disconnected:Reconnect"
IDLE_TIMEOUT = 1.5

# Counts the keep-alive's synthetic mouse moves and spies on the alert APIs; added before any page
# script runs. The spies forward to the real APIs.
SPIES = """
window.__spy = { moves: 0, beeps: 0, notifications: [], permissionRequests: 0 };
document.addEventListener('mousemove', (e) => { if (!e.isTrusted) window.__spy.moves++; }, true);
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...a) { window.__spy.beeps++; return start.apply(this, a); };
const Real = window.Notification;
window.Notification = new Proxy(Real, {
  construct(target, args) { window.__spy.notifications.push(args[0]); return Reflect.construct(target, args); },
});
const ask = Real.requestPermission;
Real.requestPermission = (...a) => { window.__spy.permissionRequests++; return ask.apply(Real, a); };
"""


@pytest.fixture(scope="module")
async def idle_emulator() -> AsyncIterator[EmulatorServer]:
    """An emulator whose idle timer fires after IDLE_TIMEOUT seconds without trusted input."""
    async with EmulatorServer(idle_timeout=IDLE_TIMEOUT, allocation_delay=0.2) as emu:
        yield emu


@pytest.fixture
async def idle_emu(idle_emulator: EmulatorServer) -> AsyncIterator[EmulatorServer]:
    await idle_emulator.reset()
    yield idle_emulator
    await idle_emulator.reset()


async def open_notebook(context: BrowserContext, emu: EmulatorServer, ui: str, how: str = "console") -> Page:
    """Load the notebook page with the userscript injected as a user would, and wait until it runs."""
    await context.add_init_script(script=SPIES)
    if how == "manager":
        await context.add_init_script(script=script_text())
    page = await context.new_page()
    since = time.time()
    await page.goto(emu.notebook_url(NB, ui=ui))
    await emu.wait_for_event(NB, "page.loaded", since=since)
    if how == "console":
        await page.evaluate(script_text(header=False))
    await wait_until(page, "window.sentinel && window.sentinel.status().on")
    return page


async def wait_until(page: Page, expression: str) -> None:
    """Wait until a JS expression is truthy (Colab's CSP, like the emulator's, forbids Playwright's
    wait_for_function, which evaluates strings).
    """

    async def truthy() -> None:
        assert await page.evaluate(expression), f"still false: {expression}"

    await eventually(truthy)


async def connect_by_hand(page: Page, emu: EmulatorServer) -> dict[str, Any]:
    """The user clicks Connect (a trusted click) and the runtime comes up."""
    since = time.time()
    await page.locator("colab-connect-button #connect").click()
    connected = await emu.wait_for_event(NB, "runtime.connected", since=since)
    await wait_until(page, "window.sentinel.status().state === 'connected'")
    return connected


async def status(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("window.sentinel.status()")
    return result


async def spy(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate("window.__spy")
    return result


def clicks(events: list[dict[str, Any]]) -> list[str]:
    return [e["target"] for e in events if e["kind"] == "click"]


def first(events: list[dict[str, Any]], kind: str, **fields: Any) -> dict[str, Any]:
    for event in events:
        if event["kind"] == kind and all(event.get(k) == v for k, v in fields.items()):
            return event
    raise AssertionError(f"no {kind} {fields} in {[e['kind'] for e in events]}")


def assert_only_reconnect_clicks(events: list[dict[str, Any]]) -> None:
    """Harmless while connected: every click the script made is Reconnect in the disconnect dialog."""
    untrusted = [e["target"] for e in events if e["kind"] == "click" and not e["trusted"]]
    assert set(untrusted) <= {RECONNECT}, untrusted


@pytest.mark.parametrize("how", ["console", "manager"])
@pytest.mark.parametrize("ui", UIS)
async def test_reconnects_after_a_disconnect(
    context: BrowserContext, fresh_emulator: EmulatorServer, ui: str, how: str
) -> None:
    """1. A fresh tab reads "Connect": the script leaves it alone (it restores runtimes, never starts one).
    2. The user connects. 3. The runtime is cut off as by the idle timeout: the "Runtime disconnected"
    dialog opens. 4. The script clicks Reconnect at once (observer-driven: the keep-alive tick is 60 s
    away) and a new runtime is connected.
    """
    emu = fresh_emulator
    page = await open_notebook(context, emu, ui, how)

    async def left_alone() -> None:
        assert clicks(await emu.events(NB)) == []
        assert (await status(page))["state"] == "disconnected"

    # Nothing may be clicked on a fresh tab: a bounded wait for something not happening.
    await consistently(left_alone, duration=0.5)

    first_runtime = await connect_by_hand(page, emu)
    since = time.time()
    await emu.inject(NB, "idle_disconnect")
    connected = await emu.wait_for_event(NB, "runtime.connected", since=since)

    log = await emu.events(NB, since=since)
    shown = first(log, "dialog.shown", dialog="runtime_disconnected")
    click = first(log, "click", target=RECONNECT)
    assert click["trusted"] is False
    assert clicks(log) == [RECONNECT]
    assert shown["ui"] == ui
    assert click["t"] - shown["t"] < 10, "answered by the observer, not by the 60 s keep-alive tick"
    assert connected["runtime_id"] != first_runtime["runtime_id"]
    await wait_until(page, "window.sentinel.status().state === 'connected'")
    counts = (await status(page))["counts"]
    assert counts["reconnects"] == 1


@pytest.mark.parametrize("ui", UIS)
async def test_idle_timer_fires_and_is_answered_every_time_for_three_periods(
    context: BrowserContext, idle_emu: EmulatorServer, ui: str
) -> None:
    """The honest keep-alive: synthetic input cannot reset Colab's idle timer, so it fires period after
    period (the emulator only counts trusted input, like Colab), and every time it does the runtime
    is reconnected; meanwhile the keep-alive nudges many times and never clicks anything.
    """
    emu = idle_emu
    page = await open_notebook(context, emu, ui)
    await page.evaluate("window.sentinel.configure({intervalSec: 0.3, jitter: 0.2})")
    await connect_by_hand(page, emu)
    since = time.time()

    async def fired_three_times() -> list[dict[str, Any]]:
        fired = [e for e in await emu.events(NB, since=since) if e["kind"] == "idle.fired"]
        assert len(fired) >= 3, (
            f"synthetic nudges are not user input: the idle timer must still fire ({fired})"
        )
        return fired

    fired = await eventually(fired_three_times, timeout=40)
    for fire in fired:  # each one answered (the last one included)
        click = await emu.wait_for_event(
            NB, "click", since=fire["t"], predicate=lambda e: e["target"] == RECONNECT
        )
        connected = await emu.wait_for_event(NB, "runtime.connected", since=fire["t"])
        assert click["t"] <= connected["t"]
    await wait_until(page, "window.sentinel.status().state === 'connected'")
    log = await emu.events(NB, since=since)
    assert_only_reconnect_clicks(log)
    assert not [e for e in log if e["kind"] == "user.input"], "the script produced trusted input?"
    assert (await spy(page))["moves"] >= 5


@pytest.mark.parametrize("ui", UIS)
async def test_answers_are_you_still_there_with_yes(
    context: BrowserContext, fresh_emulator: EmulatorServer, ui: str
) -> None:
    emu = fresh_emulator
    page = await open_notebook(context, emu, ui)
    await connect_by_hand(page, emu)
    since = time.time()
    await emu.inject(NB, "still_there")
    closed = await emu.wait_for_event(
        NB, "dialog.closed", since=since, predicate=lambda e: e["dialog"] == "still_there"
    )
    assert closed["button"] == "Yes"
    log = await emu.events(NB, since=since)
    assert clicks(log) == ["dialog:still_there:Yes"]
    assert (await status(page))["counts"]["stillThere"] == 1


@pytest.mark.parametrize("ui", UIS)
async def test_never_clicks_a_recaptcha_and_alerts_the_human(
    context: BrowserContext, fresh_emulator: EmulatorServer, ui: str
) -> None:
    """1. A reCAPTCHA appears: banner, one beep, one desktop notification (permission was granted),
    and no permission prompt ever. 2. The runtime drops meanwhile: the script still clicks nothing,
    not even Reconnect, and not on its keep-alive ticks either. 3. The human dismisses the reCAPTCHA:
    the banner goes and the script reconnects.
    """
    emu = fresh_emulator
    await context.grant_permissions(["notifications"], origin=emu.base_url)
    page = await open_notebook(context, emu, ui)
    await page.evaluate("window.sentinel.configure({intervalSec: 0.3})")
    await connect_by_hand(page, emu)
    since = time.time()
    await emu.inject(NB, "captcha")
    banner = page.locator("#sentinel-banner")
    await banner.wait_for(state="visible")
    await emu.inject(NB, "idle_disconnect")
    await emu.wait_for_event(
        NB, "dialog.shown", since=since, predicate=lambda e: e["dialog"] == "runtime_disconnected"
    )

    async def nothing_clicked() -> None:
        assert clicks(await emu.events(NB, since=since)) == [], "nothing is clicked while a reCAPTCHA is up"

    # Several observer scans and keep-alive ticks, none of which may click: a bounded wait for
    # something not happening.
    await consistently(nothing_clicked, duration=1.0)
    assert (await status(page))["state"] == "reCAPTCHA"
    alerts = await spy(page)
    assert alerts["beeps"] == 1
    assert alerts["notifications"] == ["Colab needs you: reCAPTCHA"]
    assert alerts["permissionRequests"] == 0

    human = time.time()
    await page.locator("colab-recaptcha-dialog mwc-button").click()
    await emu.wait_for_event(NB, "runtime.connected", since=human)
    await banner.wait_for(state="hidden")
    log = await emu.events(NB, since=since)
    assert [e["target"] for e in log if e["kind"] == "click" and not e["trusted"]] == [RECONNECT]
    assert all(e["trusted"] for e in log if e["kind"] == "click" and "captcha" in e["target"])
    assert (await status(page))["counts"]["captchas"] == 1


async def test_clicks_the_connect_button_when_no_dialog_is_left(
    context: BrowserContext, fresh_emulator: EmulatorServer
) -> None:
    """The user closed the disconnect dialog while sentinel was off; the button reads "Reconnect".
    Once on, sentinel clicks the connect button itself (its shadow `#connect`). (One generation: the
    connect button is the same element in all three; 2022 is the one whose connected text is "RAM Disk".)
    """
    emu = fresh_emulator
    page = await open_notebook(context, emu, "2022")
    await connect_by_hand(page, emu)
    await page.evaluate("window.sentinel.stop()")
    since = time.time()
    await emu.inject(NB, "idle_disconnect")
    await emu.wait_for_event(
        NB, "dialog.shown", since=since, predicate=lambda e: e["dialog"] == "runtime_disconnected"
    )
    dialog = page.locator("colab-dialog, mwc-dialog, md-dialog")
    await dialog.get_by_role("button", name=re.compile("^close$", re.IGNORECASE)).click()
    await emu.wait_for_event(NB, "dialog.closed", since=since)
    await page.evaluate("window.sentinel.start()")
    connected = await emu.wait_for_event(NB, "runtime.connected", since=since)
    log = await emu.events(NB, since=since)
    script_click = first(log, "click", target="connect")
    assert script_click["trusted"] is False
    assert script_click["text"] == "Reconnect"
    assert script_click["t"] <= connected["t"]


async def test_pasting_twice_keeps_one_loop(context: BrowserContext, fresh_emulator: EmulatorServer) -> None:
    """A userscript manager injected it and the user pastes it twice more: one badge, one loop, one click
    per disconnect, and the counters carry over.
    """
    emu = fresh_emulator
    page = await open_notebook(context, emu, "2025", how="manager")
    await connect_by_hand(page, emu)
    # A fast loop in the first copy: if it survived the re-paste, the mouse-move count would show it.
    await page.evaluate("window.sentinel.configure({intervalSec: 0.2, jitter: 0})")
    since = time.time()
    await emu.inject(NB, "idle_disconnect")
    await emu.wait_for_event(NB, "runtime.connected", since=since)

    for _ in range(2):
        await page.evaluate(script_text(header=False))
    await wait_until(page, "window.sentinel.status().state === 'connected'")
    moves = (await spy(page))["moves"]

    async def no_old_loop() -> None:
        assert (await spy(page))["moves"] - moves <= 1, "an old 0.2 s loop is still running"

    # An old loop would show within a few of its 0.2 s ticks: a bounded wait for something not happening.
    await consistently(no_old_loop, duration=1.5)
    assert await page.locator("#sentinel-badge").count() == 1
    assert (await status(page))["counts"]["reconnects"] == 1

    since = time.time()
    await emu.inject(NB, "idle_disconnect")
    await emu.wait_for_event(NB, "runtime.connected", since=since)

    async def one_click_one_connect() -> None:
        log = await emu.events(NB, since=since)
        assert clicks(log) == [RECONNECT]
        assert len([e for e in log if e["kind"] == "runtime.allocating"]) == 1

    # A second loop would click again: a bounded wait for something not happening.
    await consistently(one_click_one_connect, duration=0.5)
    assert (await status(page))["counts"]["reconnects"] == 2


async def test_stop_stops_everything_and_the_badge_turns_it_back_on(
    context: BrowserContext, fresh_emulator: EmulatorServer
) -> None:
    emu = fresh_emulator
    page = await open_notebook(context, emu, "2023", how="manager")
    await connect_by_hand(page, emu)
    await page.evaluate("window.sentinel.configure({intervalSec: 0.2})")
    stopped = await page.evaluate("window.sentinel.stop()")
    assert stopped["on"] is False
    badge = page.locator("#sentinel-badge")
    assert await badge.inner_text() == "sentinel off"

    moves = (await spy(page))["moves"]
    since = time.time()
    await emu.inject(NB, "idle_disconnect")
    await emu.wait_for_event(
        NB, "dialog.shown", since=since, predicate=lambda e: e["dialog"] == "runtime_disconnected"
    )

    async def stopped_means_stopped() -> None:
        assert clicks(await emu.events(NB, since=since)) == []
        assert (await spy(page))["moves"] == moves

    # Switched off, it must do nothing: a bounded wait for something not happening.
    await consistently(stopped_means_stopped, duration=1.5)

    await badge.click()  # the user turns it back on
    await emu.wait_for_event(NB, "runtime.connected", since=since)
    assert (await badge.inner_text()).startswith("sentinel on")


async def test_resume_cell_runs_once_per_new_runtime(
    context: BrowserContext, fresh_emulator: EmulatorServer
) -> None:
    """With resume on:
    1. A disconnect, and sentinel's reconnect brings a NEW runtime: the `# sentinel: resume` cell runs,
       once, in that runtime.
    2. An outage: the page loses its connection, sentinel clicks Reconnect, and the page comes back to
       the SAME runtime (managedId unchanged): the cell does not run again.
    3. A crash: Colab restarts a new runtime by itself, sentinel reconnected nothing: no run.
    """
    emu = fresh_emulator
    page = await open_notebook(context, emu, "2025")
    await page.evaluate("window.sentinel.configure({resume: true})")
    await connect_by_hand(page, emu)

    def resume_runs(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in log if e["kind"] == "cell.started" and e["cell_id"] == RESUME_CELL]

    since = time.time()
    await emu.inject(NB, "idle_disconnect")
    connected = await emu.wait_for_event(NB, "runtime.connected", since=since)
    run = await emu.wait_for_event(
        NB, "cell.finished", since=since, predicate=lambda e: e["cell_id"] == RESUME_CELL
    )
    assert run["runtime_id"] == connected["runtime_id"]
    assert run["error"] is False

    outage = time.time()
    await emu.inject(NB, "outage", seconds=1.5)
    await emu.wait_for_event(NB, "outage.ended", since=outage)
    await emu.wait_for_event(NB, "click", since=outage, predicate=lambda e: e["target"] == "connect")
    await wait_until(page, "window.sentinel.status().state === 'connected'")
    assert (await emu.state(NB))["runtime"]["id"] == connected["runtime_id"]

    async def not_resumed_again() -> None:
        assert resume_runs(await emu.events(NB, since=outage)) == []

    # Past the 1 s settle time after which a resume would run: a bounded wait for something not happening.
    await consistently(not_resumed_again, duration=1.5)

    crash = time.time()
    await emu.inject(NB, "crash_oom")
    await emu.wait_for_event(NB, "runtime.connected", since=crash)

    async def resumed_once() -> None:
        assert len(resume_runs(await emu.events(NB, since=since))) == 1

    # (the same settle time, for the crash's new runtime)
    await consistently(resumed_once, duration=1.5)
    assert (await status(page))["counts"]["resumes"] == 1


async def test_inert_on_a_page_that_is_not_colab(page: Page) -> None:
    """No connect button, no dialogs: it clicks nothing, requests nothing, and says so."""
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.set_content("<html><body><button id=b>Connect</button></body></html>")
    await page.evaluate("window.clicks = 0; document.addEventListener('click', () => window.clicks++, true)")
    await page.evaluate(script_text(header=False))
    await page.evaluate("window.sentinel.configure({intervalSec: 0.1})")

    async def inert() -> None:
        assert await page.evaluate("window.clicks") == 0
        assert (await status(page))["state"] == "unknown"
        assert requests == []

    # Several 0.1 s ticks, none of which may act: a bounded wait for something not happening.
    await consistently(inert, duration=0.5)
