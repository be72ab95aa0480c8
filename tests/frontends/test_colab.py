"""ColabFrontend against the emulator in real Chromium: classification, answers, resume, keepalive, observer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from sentinel.emulator.testing import EmulatorServer
from sentinel.errors import FrontendError, ResumeMarkerNotFoundError, SelectorNotFoundError
from sentinel.frontends import detect_frontend, make_frontends
from sentinel.frontends.base import Action, Connection, Dialog, Observation, Signal, SignalKind
from sentinel.frontends.colab import ColabFrontend, load_selectors
from tests._eventually import consistently, eventually

NB = "suite"
UIS = ("2022", "2023", "2025", "next")
MARKER = "# sentinel: resume"

CELLS: list[tuple[str, str, str]] = [
    ("intro", "markdown", f"Put `{MARKER}` in the cell that resumes training."),
    ("setup", "code", "x = 1\nprint('setup ran')"),
    ("resume", "code", f"{MARKER}\nprint('resumed', x if 'x' in dir() else None)"),
    ("mount", "code", "# cell: mount\nfrom google.colab import drive\ndrive.mount('/content/drive')"),
    (
        "auth",
        "code",
        "# cell: auth\nfrom google.colab import auth\nauth.authenticate_user()\nprint('authenticated')",
    ),
    ("sleep", "code", "# cell: sleep\nimport time\ntime.sleep(30)"),
]


def _write_notebook(folder: Path) -> None:
    cells: list[dict[str, Any]] = []
    for cell_id, kind, source in CELLS:
        cell: dict[str, Any] = {
            "cell_type": kind,
            "id": cell_id,
            "metadata": {"id": cell_id},
            "source": source,
        }
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    notebook = {
        "cells": cells,
        "metadata": {"colab": {"name": "suite.ipynb"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (folder / f"{NB}.ipynb").write_text(json.dumps(notebook), encoding="utf-8")


@pytest.fixture(scope="module")
async def emu(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmulatorServer]:
    folder = tmp_path_factory.mktemp("notebooks")
    _write_notebook(folder)
    async with EmulatorServer(notebooks_dir=folder, allocation_delay=0.1) as server:
        yield server


@pytest.fixture
async def fresh(emu: EmulatorServer) -> AsyncIterator[EmulatorServer]:
    await emu.reset()
    yield emu
    await emu.reset()


class Signals:
    """Collects a page's Signals and waits for one that matches."""

    def __init__(self) -> None:
        self.seen: list[Signal] = []
        self._changed = asyncio.Event()

    def __call__(self, signal: Signal) -> None:
        self.seen.append(signal)
        self._changed.set()

    async def wait(self, predicate: Callable[[Signal], bool], within: float = 15.0, start: int = 0) -> Signal:
        async with asyncio.timeout(within):
            while True:
                for signal in self.seen[start:]:
                    if predicate(signal):
                        return signal
                self._changed.clear()
                await self._changed.wait()


async def open_notebook(frontend: ColabFrontend, page: Page, emu: EmulatorServer, **query: str) -> Signals:
    signals = Signals()
    await frontend.install(page, signals)
    await page.goto(emu.notebook_url(NB, **query))
    await signals.wait(lambda s: s.observation.connection is not Connection.UNKNOWN)

    # A fault the emulator pushes (still_there, captcha) reaches only pages whose socket is open:
    # on a busy machine the first report can come before it.
    async def socket_open() -> bool:
        return int((await emu.state(NB))["clients"]) >= 1

    await eventually(socket_open, timeout=15, what="the page's socket to the emulator is open")
    return signals


async def connect(frontend: ColabFrontend, page: Page, emu: EmulatorServer) -> Observation:
    since = time.time()
    await frontend.reconnect(page)
    await emu.wait_for_event(NB, "runtime.connected", since=since)

    async def connected() -> bool:
        return (await frontend.observe(page)).connection is Connection.CONNECTED

    await eventually(connected)
    return await frontend.observe(page)


async def clicks(emu: EmulatorServer, since: float) -> list[dict[str, Any]]:
    return [e for e in await emu.events(NB, since=since) if e["kind"] in ("click", "keypress")]


# ------------------------------------------------------------------------------------ recognition


class TestRecognition:
    async def test_matches_the_emulator_page_and_rejects_a_plain_page(
        self, fresh: EmulatorServer, page: Page
    ) -> None:
        """--frontend auto recognises Colab by its DOM (the emulator is on 127.0.0.1) and rejects other pages."""
        frontend = ColabFrontend(detect_timeout=1.0)
        await page.goto(fresh.notebook_url(NB))
        assert await frontend.matches(page)
        assert await detect_frontend(page, make_frontends("auto")) is not None
        await page.goto(fresh.base_url + "/")
        assert not await frontend.matches(page)
        with pytest.raises(FrontendError, match="does not look like a notebook"):
            await detect_frontend(page, (frontend,))


# ------------------------------------------------------------------------------------ dialogs


async def _show(dialog: Dialog, frontend: ColabFrontend, page: Page, emu: EmulatorServer) -> None:
    """Make the emulator show ``dialog`` the way it happens on Colab."""
    if dialog is Dialog.RUNTIME_DISCONNECTED:
        await connect(frontend, page, emu)
        await emu.inject(NB, "idle_disconnect")
    elif dialog is Dialog.EXTERNAL_NOTEBOOK:
        await frontend.run_cell_with_marker(page, "print('setup ran')")
    elif dialog is Dialog.DRIVE_CONSENT:
        await connect(frontend, page, emu)
        await frontend.run_cell_with_marker(page, "# cell: mount")
    elif dialog is Dialog.CREDENTIALS:
        await connect(frontend, page, emu)
        await frontend.run_cell_with_marker(page, "# cell: auth")
    elif dialog in (Dialog.GPU_LIMIT, Dialog.TOO_MANY_SESSIONS):
        await emu.inject(NB, dialog.value)
        await frontend.reconnect(page)
    elif dialog is Dialog.SIGN_IN_REQUIRED:
        await emu.inject(NB, "sign_out")
        await frontend.run_cell_with_marker(page, "print('setup ran')")
    else:
        await emu.inject(NB, dialog.value)


# dialog -> (action to answer with, the button label the emulator logs, the event that proves the effect)
_ANSWERS: dict[Dialog, tuple[Action, str, str | None]] = {
    Dialog.RUNTIME_DISCONNECTED: (Action.RECONNECT, "Reconnect", "runtime.connected"),
    Dialog.EXTERNAL_NOTEBOOK: (Action.RUN_ANYWAY, "Run anyway", "cell.started"),
    Dialog.DRIVE_CONSENT: (Action.NO_THANKS, "No, thanks", "drive.refused"),
    Dialog.CREDENTIALS: (Action.NO_THANKS, "No, thanks", None),
    Dialog.GPU_LIMIT: (Action.CONNECT_WITHOUT_GPU, "Connect without GPU", "runtime.connected"),
    Dialog.TOO_MANY_SESSIONS: (Action.CLOSE, "Cancel", None),
    Dialog.STILL_THERE: (Action.YES, "Yes", None),
}


class TestDialogs:
    @pytest.mark.parametrize("ui", UIS)
    @pytest.mark.parametrize("dialog", [d for d in Dialog if d not in (Dialog.UNKNOWN, Dialog.OOM_SWITCH)])
    async def test_every_dialog_in_every_generation(
        self, fresh: EmulatorServer, page: Page, ui: str, dialog: Dialog
    ) -> None:
        """1. the emulator shows the dialog in generation `ui`;
        2. the observer signals it and observe() classifies it;
        3. the daemon's answer clicks the right button with trusted input (captcha and sign-in: refused, never clicked).
        """
        frontend = ColabFrontend()
        query = {"ui": ui, **({"external": "github"} if dialog is Dialog.EXTERNAL_NOTEBOOK else {})}
        signals = await open_notebook(frontend, page, fresh, **query)
        since = time.time()
        await _show(dialog, frontend, page, fresh)
        signal = await signals.wait(lambda s: dialog in s.observation.dialogs)
        assert SignalKind.DIALOG in signal.changed
        observed = await frontend.observe(page)
        assert dialog in observed.dialogs
        assert observed.unclassified is None
        if dialog in (Dialog.CAPTCHA, Dialog.SIGN_IN_REQUIRED):
            assert observed.needs_human is dialog
            for action in Action:
                with pytest.raises(ValueError, match="needs a human"):
                    await frontend.answer(page, dialog, action)
            await frontend.keepalive(page)

            async def still_open() -> None:
                assert dialog in (await frontend.observe(page)).dialogs

            # The dialog must NOT go away (nothing may click it): a bounded wait for something not happening.
            await consistently(still_open, duration=0.3)
            touched = [
                e for e in await clicks(fresh, since) if "captcha" in e["target"] or "sign" in e["target"]
            ]
            assert touched == []
            return
        action, label, effect = _ANSWERS[dialog]
        await frontend.answer(page, dialog, action)
        closed = await fresh.wait_for_event(
            NB, "dialog.closed", since=since, predicate=lambda e: e["dialog"] == dialog.value
        )
        assert closed["button"] == label
        click = next(e for e in await clicks(fresh, since) if e["target"] == f"dialog:{dialog.value}:{label}")
        assert click["trusted"] is True
        assert "disabled" not in click  # Run anyway was clicked only after it enabled
        if effect is not None:
            await fresh.wait_for_event(NB, effect, since=closed["t"])
        await signals.wait(lambda s: dialog not in s.observation.dialogs, start=len(signals.seen) - 1)

    async def test_answer_refuses_what_the_dialog_does_not_offer(
        self, fresh: EmulatorServer, page: Page
    ) -> None:
        """A wrong action is a ValueError; a dialog that is not open is SelectorNotFoundError; nothing is clicked."""
        frontend = ColabFrontend(action_timeout=0.5)
        await open_notebook(frontend, page, fresh)
        since = time.time()
        with pytest.raises(ValueError, match="not an answer"):
            await frontend.answer(page, Dialog.STILL_THERE, Action.RECONNECT)
        with pytest.raises(SelectorNotFoundError, match="not open"):
            await frontend.answer(page, Dialog.STILL_THERE, Action.YES)
        assert await clicks(fresh, since) == []

    async def test_unknown_dialog_is_reported_with_its_text(self, fresh: EmulatorServer, page: Page) -> None:
        """A dialog matching no known text (here: Colab's own disconnect confirmation) is UNKNOWN with its text."""
        frontend = ColabFrontend()
        signals = await open_notebook(frontend, page, fresh)
        await connect(frontend, page, fresh)
        await page.locator("colab-connect-button #connect-dropdown").click()
        await page.get_by_role("menuitem", name="Disconnect and delete runtime").click()
        signal = await signals.wait(lambda s: Dialog.UNKNOWN in s.observation.dialogs)
        assert signal.observation.unclassified is not None
        assert "disconnect and delete this runtime" in signal.observation.unclassified

    async def test_a_next_generation_dialog_is_still_handled(self, fresh: EmulatorServer, page: Page) -> None:
        """A dialog in tags no generation used (role=alertdialog, content and button in a shadow root) is
        classified by its text and answered through its role=button, with a trusted click."""
        frontend = ColabFrontend()
        signals = await open_notebook(frontend, page, fresh)
        await page.evaluate(
            """() => {
              const host = document.createElement('colab-next-dialog');
              host.setAttribute('role', 'alertdialog');
              host.style.cssText = 'position:fixed;inset:0;display:flex;align-items:center;justify-content:center;z-index:5000';
              const root = host.attachShadow({mode: 'open'});
              root.innerHTML = '<div style="background:#fff;padding:24px"><h3>Runtime disconnected</h3>'
                + '<p>Your runtime has been disconnected due to inactivity.</p>'
                + '<x-action role="button" tabindex="0" style="display:inline-block;padding:8px">Dismiss</x-action>'
                + '<x-action role="button" tabindex="0" style="display:inline-block;padding:8px">Reconnect</x-action></div>';
              for (const b of root.querySelectorAll('x-action')) {
                b.addEventListener('click', (e) => { window.__nextClicked = [b.textContent, e.isTrusted]; host.remove(); });
              }
              document.body.append(host);
            }"""
        )
        await signals.wait(lambda s: Dialog.RUNTIME_DISCONNECTED in s.observation.dialogs)
        await frontend.answer(page, Dialog.RUNTIME_DISCONNECTED, Action.RECONNECT)
        assert await page.evaluate("() => window.__nextClicked") == ["Reconnect", True]
        await signals.wait(lambda s: not s.observation.dialogs)

    async def test_selector_override_changes_classification(
        self, fresh: EmulatorServer, page: Page, tmp_path: Path
    ) -> None:
        """A user TOML that replaces the still-there texts makes that dialog UNKNOWN: the file really is used."""
        path = tmp_path / "selectors.toml"
        path.write_text('mode = "replace"\n[dialogs]\nstill_there = ["Bist du noch da"]\n', encoding="utf-8")
        frontend = ColabFrontend(load_selectors(path))
        signals = await open_notebook(frontend, page, fresh)
        await fresh.inject(NB, "still_there")
        signal = await signals.wait(lambda s: bool(s.observation.dialogs))
        assert signal.observation.dialogs == (Dialog.UNKNOWN,)
        assert "Are you still there?" in (signal.observation.unclassified or "")


# ------------------------------------------------------------------------------------ connection


class TestConnection:
    async def test_reconnect_after_the_disconnect_dialog(self, fresh: EmulatorServer, page: Page) -> None:
        """Disconnect -> DISCONNECTED + dialog signalled -> reconnect() -> a new runtime, CONNECTED with its id."""
        frontend = ColabFrontend()
        signals = await open_notebook(frontend, page, fresh)
        first = await connect(frontend, page, fresh)
        assert first.runtime_id
        mark = len(signals.seen)
        await fresh.inject(NB, "max_lifetime")
        lost = await signals.wait(lambda s: Dialog.RUNTIME_DISCONNECTED in s.observation.dialogs, start=mark)
        assert lost.observation.connection is Connection.DISCONNECTED
        assert lost.observation.runtime_id is None
        again = await connect(frontend, page, fresh)
        assert again.runtime_id and again.runtime_id != first.runtime_id
        assert again.dialogs == ()

    async def test_reconnect_never_clicks_while_connected(self, fresh: EmulatorServer, page: Page) -> None:
        """reconnect() on a live runtime raises and leaves the connect button alone."""
        frontend = ColabFrontend()
        await open_notebook(frontend, page, fresh)
        await connect(frontend, page, fresh)
        since = time.time()
        with pytest.raises(FrontendError, match="runtime is connected"):
            await frontend.reconnect(page)
        assert [e for e in await clicks(fresh, since) if e["target"] == "connect"] == []

    async def test_crash_toast_and_new_runtime_id(self, fresh: EmulatorServer, page: Page) -> None:
        """An OOM crash shows the toast and the runtime id changes (a fresh runtime to resume)."""
        frontend = ColabFrontend()
        signals = await open_notebook(frontend, page, fresh)
        before = await connect(frontend, page, fresh)
        mark = len(signals.seen)
        await fresh.inject(NB, "crash_oom")
        crashed = await signals.wait(lambda s: s.observation.crash_toast is not None, start=mark)
        assert "session crashed" in (crashed.observation.crash_toast or "")
        restarted = await signals.wait(
            lambda s: s.observation.runtime_id not in (None, before.runtime_id), start=mark
        )
        assert restarted.observation.connection is Connection.CONNECTED

    async def test_signed_out_is_observed(self, fresh: EmulatorServer, page: Page) -> None:
        """Signing out shows the Sign in link: signed_in turns False (AUTH signal)."""
        frontend = ColabFrontend()
        signals = await open_notebook(frontend, page, fresh)
        assert signals.seen[-1].observation.signed_in is True
        await fresh.inject(NB, "sign_out")
        signal = await signals.wait(lambda s: s.observation.signed_in is False)
        assert SignalKind.AUTH in signal.changed


# ------------------------------------------------------------------------------------ observer


class TestObserver:
    async def test_signal_follows_an_injected_fault(self, fresh: EmulatorServer, page: Page) -> None:
        """A fault injected on the server reaches the daemon as a Signal stamped after the dialog was shown."""
        frontend = ColabFrontend()
        signals = await open_notebook(frontend, page, fresh)
        since = time.time()
        await fresh.inject(NB, "still_there")
        signal = await signals.wait(lambda s: Dialog.STILL_THERE in s.observation.dialogs)
        shown = await fresh.wait_for_event(NB, "dialog.shown", since=since)
        assert signal.page_time >= shown["client_t"] - 0.05
        assert signal.received_at >= signal.page_time - 0.05

    async def test_observer_survives_a_reload(self, fresh: EmulatorServer, page: Page) -> None:
        """After a reload the observer reports LOADED again and keeps reporting changes."""
        frontend = ColabFrontend()
        signals = await open_notebook(frontend, page, fresh)
        mark = len(signals.seen)
        await page.reload()
        await signals.wait(lambda s: SignalKind.LOADED in s.changed, start=mark)
        await signals.wait(lambda s: s.observation.connection is Connection.DISCONNECTED, start=mark)
        await fresh.inject(NB, "captcha")
        await signals.wait(lambda s: Dialog.CAPTCHA in s.observation.dialogs, start=mark)

    async def test_handler_errors_do_not_stop_the_observer(self, fresh: EmulatorServer, page: Page) -> None:
        """A handler that raises is logged; later changes still arrive."""
        frontend = ColabFrontend()
        seen: list[Signal] = []

        async def flaky(signal: Signal) -> None:
            seen.append(signal)
            if len(seen) == 1:
                raise RuntimeError("handler bug")

        await frontend.install(page, flaky)
        await page.goto(fresh.notebook_url(NB))
        await fresh.inject(NB, "still_there")
        await eventually(lambda: any(Dialog.STILL_THERE in s.observation.dialogs for s in seen))

    async def test_install_twice_on_one_page_is_an_error(self, fresh: EmulatorServer, page: Page) -> None:
        """One observer per page: a second install is a FrontendError, not a silent double report."""
        frontend = ColabFrontend()
        await open_notebook(frontend, page, fresh)
        with pytest.raises(FrontendError):
            await frontend.install(page, lambda s: None)


# ------------------------------------------------------------------------------------ keepalive


class TestKeepalive:
    async def test_keepalive_holds_off_the_idle_timer(self, page: Page) -> None:
        """1. idle timeout 2 s; keepalive every ~0.6 s for 6.5 s (3x the timeout): no idle.fired, still connected;
        2. the input was trusted and clicked nothing;
        3. without keepalive the timer fires (so step 1 could have failed).
        """
        async with EmulatorServer(idle_timeout=2.0, allocation_delay=0.1) as server:
            frontend = ColabFrontend()
            signals = Signals()
            await frontend.install(page, signals)
            await page.goto(server.notebook_url("hello"))
            await signals.wait(lambda s: s.observation.connection is Connection.DISCONNECTED)
            since = time.time()
            await frontend.reconnect(page)
            await server.wait_for_event("hello", "runtime.connected", since=since)
            started = time.monotonic()
            # Input for a fixed period (not a poll): the idle timer must NOT fire during it.
            while time.monotonic() - started < 6.5:
                await frontend.keepalive(page)
                await asyncio.sleep(0.6)
            events = await server.events("hello", since=since)
            kinds = [e["kind"] for e in events]
            assert "idle.fired" not in kinds
            assert (await frontend.observe(page)).connection is Connection.CONNECTED
            inputs = [e for e in events if e["kind"] == "user.input"]
            assert inputs and all(e["trusted"] for e in inputs)
            assert [e for e in events if e["kind"] == "click" and e["target"] != "connect"] == []
            await server.wait_for_event("hello", "idle.fired", since=time.time(), timeout=10)


# ------------------------------------------------------------------------------------ cells


class TestCells:
    async def test_run_cell_with_marker_runs_exactly_that_cell(
        self, fresh: EmulatorServer, page: Page
    ) -> None:
        """The code cell holding the marker runs (not the markdown cell quoting it), once, by a trusted click."""
        frontend = ColabFrontend()
        await open_notebook(frontend, page, fresh)
        await connect(frontend, page, fresh)
        since = time.time()
        assert await frontend.run_cell_with_marker(page, MARKER) == "resume"
        finished = await fresh.wait_for_event(NB, "cell.finished", since=since)
        assert finished["cell_id"] == "resume"
        started = [e["cell_id"] for e in await fresh.events(NB, since=since) if e["kind"] == "cell.started"]
        assert started == ["resume"]
        click = next(e for e in await clicks(fresh, since) if e["target"] == "run-button:resume")
        assert click["trusted"] is True
        await eventually(lambda: _contains(frontend.cell_output(page, "resume"), "resumed"))

    async def test_refuses_while_a_cell_runs_and_names_a_missing_marker(
        self, fresh: EmulatorServer, page: Page
    ) -> None:
        """Busy -> FrontendError and nothing queued; a marker in no cell -> ResumeMarkerNotFoundError naming it."""
        frontend = ColabFrontend()
        await open_notebook(frontend, page, fresh)
        await connect(frontend, page, fresh)
        since = time.time()
        with pytest.raises(ResumeMarkerNotFoundError, match="# no such marker"):
            await frontend.run_cell_with_marker(page, "# no such marker")
        assert await frontend.run_cell_with_marker(page, "# cell: sleep") == "sleep"
        await fresh.wait_for_event(NB, "cell.started", since=since)
        await eventually(lambda: _busy(frontend, page))
        with pytest.raises(FrontendError, match="running or queued"):
            await frontend.run_cell_with_marker(page, MARKER)
        started = [e["cell_id"] for e in await fresh.events(NB, since=since) if e["kind"] == "cell.started"]
        assert started == ["sleep"]

    async def test_dom_fallback_without_the_js_model(self, fresh: EmulatorServer, page: Page) -> None:
        """With window.colab gone the cell is found by its editor text and still run by a trusted click."""
        frontend = ColabFrontend()
        await open_notebook(frontend, page, fresh)
        await connect(frontend, page, fresh)
        await page.evaluate("() => { delete window.colab; }")
        since = time.time()
        assert await frontend.run_cell_with_marker(page, MARKER) == "resume"
        started = await fresh.wait_for_event(NB, "cell.started", since=since)
        assert started["cell_id"] == "resume"

    @pytest.mark.parametrize(("keep_model", "expected"), [(True, "manualExecute"), (False, "Control+Enter")])
    async def test_fallbacks_when_the_run_button_is_gone(
        self, fresh: EmulatorServer, page: Page, tmp_path: Path, keep_model: bool, expected: str
    ) -> None:
        """With the run-button selector stale, the cell still runs once: manualExecute(), else Ctrl+Enter."""
        path = tmp_path / "selectors.toml"
        path.write_text('mode = "replace"\n[css]\nrun_button = ["x-stale-run-button"]\n', encoding="utf-8")
        frontend = ColabFrontend(load_selectors(path))
        await open_notebook(frontend, page, fresh)
        await connect(frontend, page, fresh)
        if not keep_model:
            await page.evaluate("() => { delete window.colab; }")
        since = time.time()
        assert await frontend.run_cell_with_marker(page, MARKER) == "resume"
        await fresh.wait_for_event(NB, "cell.finished", since=since)
        events = await fresh.events(NB, since=since)
        assert [e["cell_id"] for e in events if e["kind"] == "cell.started"] == ["resume"]
        assert not [e for e in events if e["kind"] == "click" and str(e["target"]).startswith("run-button")]
        keys = [e for e in events if e["kind"] == "keypress" and e["target"] == "key:Control+Enter"]
        if expected == "Control+Enter":
            assert keys and keys[0]["trusted"] is True
        else:
            assert keys == []

    async def test_run_all(self, fresh: EmulatorServer, page: Page) -> None:
        """Run all starts the first code cell and the others follow."""
        frontend = ColabFrontend()
        await open_notebook(frontend, page, fresh)
        await connect(frontend, page, fresh)
        since = time.time()
        await frontend.run_all(page)
        first = await fresh.wait_for_event(NB, "cell.started", since=since)
        assert first["cell_id"] == "setup"
        await fresh.wait_for_event(
            NB, "cell.started", since=first["t"], predicate=lambda e: e["cell_id"] == "resume"
        )

    async def test_cell_output_of_an_unknown_cell(self, fresh: EmulatorServer, page: Page) -> None:
        """Asking for a cell that does not exist is SelectorNotFoundError."""
        frontend = ColabFrontend()
        await open_notebook(frontend, page, fresh)
        with pytest.raises(SelectorNotFoundError, match="no cell"):
            await frontend.cell_output(page, "nope")


async def _contains(output: Awaitable[str], text: str) -> bool:
    return text in await output


async def _busy(frontend: ColabFrontend, page: Page) -> bool:
    return (await frontend.observe(page)).busy


# ------------------------------------------------------------------------------------ Drive


class TestConsent:
    @pytest.mark.parametrize(
        ("marker", "cell", "dialog", "action", "printed"),
        [
            ("# cell: mount", "mount", Dialog.DRIVE_CONSENT, Action.CONNECT, "Mounted at /content/drive"),
            ("# cell: auth", "auth", Dialog.CREDENTIALS, Action.ALLOW, "authenticated"),
        ],
    )
    async def test_consent_dialog_and_oauth_popup(
        self,
        fresh: EmulatorServer,
        page: Page,
        marker: str,
        cell: str,
        dialog: Dialog,
        action: Action,
        printed: str,
    ) -> None:
        """drive.mount() / auth.authenticate_user(): dialog -> Connect/Allow -> popup (account, Select all,
        Continue) closes itself -> the cell prints its success line."""
        frontend = ColabFrontend()
        signals = await open_notebook(frontend, page, fresh)
        await connect(frontend, page, fresh)
        await frontend.run_cell_with_marker(page, marker)
        await signals.wait(lambda s: dialog in s.observation.dialogs)
        async with page.expect_popup() as popup_info:
            await frontend.answer(page, dialog, action)
        popup = await popup_info.value
        await frontend.complete_oauth_popup(popup)
        assert popup.is_closed()
        await eventually(lambda: _contains(frontend.cell_output(page, cell), printed))

    async def test_a_popup_that_is_not_a_consent_page_is_left_alone(
        self, fresh: EmulatorServer, page: Page
    ) -> None:
        """A popup without Google's consent markers (here: a page with a Continue button) gets no click."""
        frontend = ColabFrontend(action_timeout=1.0)
        await open_notebook(frontend, page, fresh)
        async with page.expect_popup() as popup_info:
            await page.evaluate(
                "() => { window.__popup = window.open('/', '_blank', 'width=600,height=500'); }"
            )
        popup = await popup_info.value
        await popup.wait_for_load_state()
        await popup.evaluate(
            """() => {
              const b = document.createElement('button');
              b.textContent = 'Continue';
              b.onclick = () => { window.__clicked = true; };
              document.body.append(b);
            }"""
        )
        with pytest.raises(FrontendError, match="not a Google consent page"):
            await frontend.complete_oauth_popup(popup)
        assert await popup.evaluate("() => window.__clicked === undefined")
        await popup.close()


# ------------------------------------------------------------------------------------ debug bundle


class TestDebugBundle:
    async def test_bundle_has_screenshot_dom_with_shadow_roots_and_facts(
        self, fresh: EmulatorServer, page: Page, tmp_path: Path
    ) -> None:
        """The bundle holds a PNG, the DOM with open shadow roots inlined, and the classified facts."""
        frontend = ColabFrontend()
        await open_notebook(frontend, page, fresh)
        await fresh.inject(NB, "still_there")
        await eventually(lambda: _has_dialog(frontend, page, Dialog.STILL_THERE))
        bundle = await frontend.debug_bundle(page, tmp_path / "bundles")
        assert (bundle / "page.png").read_bytes().startswith(b"\x89PNG")
        dom = (bundle / "dom.html").read_text(encoding="utf-8")
        assert '<template shadowrootmode="open">' in dom
        assert 'id="connect"' in dom  # lives in colab-connect-button's shadow root
        facts = json.loads((bundle / "facts.json").read_text(encoding="utf-8"))
        assert facts["observation"]["dialogs"] == ["still_there"]
        assert not (bundle / "problems.txt").exists()
        assert (bundle.stat().st_mode & 0o777) == 0o700


async def _has_dialog(frontend: ColabFrontend, page: Page, dialog: Dialog) -> bool:
    return dialog in (await frontend.observe(page)).dialogs
