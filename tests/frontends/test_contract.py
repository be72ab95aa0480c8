"""The Frontend contract: the same checks against FakeFrontend and against ColabFrontend on the emulator.

The daemon's policy is unit-tested against :class:`~sentinel.frontends.fake.FakeFrontend`, so the fake
must do what :class:`~sentinel.frontends.colab.ColabFrontend` does on a real page. Each check below is a
plain async function over a :class:`Driver` (something that can put one frontend's page into a given
state and say what was clicked); the parametrized tests run every check against both, and the last
class shows that a deliberately broken fake fails them.

Clicks are compared in one vocabulary: ``connect`` (the connect button), ``dialog:<dialog>`` (a button
in that dialog), ``run:<cell id>`` (a cell's run button).
"""

from __future__ import annotations

import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
from playwright.async_api import Page

from sentinel.emulator.testing import EmulatorServer
from sentinel.errors import FrontendError, ResumeMarkerNotFoundError, SelectorNotFoundError, SentinelError
from sentinel.frontends.base import (
    ALLOWED_ACTIONS,
    HUMAN_ONLY,
    Action,
    Connection,
    Dialog,
    Frontend,
    Observation,
    Signal,
    SignalKind,
)
from sentinel.frontends.colab import ColabFrontend
from sentinel.frontends.fake import FakeFrontend, FakeNotebook
from tests._eventually import eventually

NB = "contract"
MARKER = "# sentinel: resume"
CELLS: dict[str, str] = {
    "setup": "x = 1\nprint('setup ran')",
    "resume": f"{MARKER}\nprint('resumed', x if 'x' in dir() else None)",
    "mount": "# cell: mount\nfrom google.colab import drive\ndrive.mount('/content/drive')",
    "auth": "# cell: auth\nfrom google.colab import auth\nauth.authenticate_user()",
    "sleep": "# cell: sleep\nimport time\ntime.sleep(30)",
}
# What the cells print when they run (the fake is told; the emulator's kernels really print it).
PRINTS = {"setup": "setup ran\n", "resume": "resumed None\n"}
UNKNOWN_TEXT = "Something new in Colab"

# Every dialog both sides can show, and the answer the contract presses in it (None: a human's).
ANSWERS: dict[Dialog, Action | None] = {
    Dialog.RUNTIME_DISCONNECTED: Action.RECONNECT,
    Dialog.EXTERNAL_NOTEBOOK: Action.RUN_ANYWAY,
    Dialog.DRIVE_CONSENT: Action.NO_THANKS,
    Dialog.CREDENTIALS: Action.NO_THANKS,
    Dialog.GPU_LIMIT: Action.CONNECT_WITHOUT_GPU,
    Dialog.TOO_MANY_SESSIONS: Action.CLOSE,
    Dialog.STILL_THERE: Action.YES,
    Dialog.SIGN_IN_REQUIRED: None,
    Dialog.CAPTCHA: None,
}
# The answers after which a runtime connects.
CONNECTING_ANSWERS = frozenset({Action.RECONNECT, Action.CONNECT_WITHOUT_GPU})


# ------------------------------------------------------------------------------------ drivers


class Driver(ABC):
    """One frontend on one page, and the means to put that page into each state the contract names."""

    name: ClassVar[str]
    frontend: Frontend
    page: Any
    # How long a check waits for the page to show an effect (the fake's effects are immediate).
    within: float

    async def observe(self) -> Observation:
        return await self.frontend.observe(self.page)

    async def until(self, holds: Callable[[Observation], bool], what: str) -> Observation:
        """Wait until the page's observation satisfies ``holds``; fail with ``what`` and the last one."""

        async def probe() -> Observation:
            observation = await self.observe()
            assert holds(observation), f"{what}; observed {observation}"
            return observation

        return await eventually(probe, timeout=self.within)

    async def clicked(self, start: int, expected: list[str], what: str = "") -> None:
        """Wait until the clicks after the first ``start`` are ``expected`` (the emulator logs a click
        when the page reports it, which can be after the dialog it closed is gone)."""

        async def logged() -> None:
            assert (await self.clicks())[start:] == expected, what

        await eventually(logged, timeout=self.within)

    async def connected(self) -> Observation:
        """A runtime is up (connected through the frontend's own reconnect()), no dialog open."""
        await self.frontend.reconnect(self.page)
        return await self.until(
            lambda o: o.connection is Connection.CONNECTED and bool(o.runtime_id) and not o.dialogs,
            "connected, no dialog",
        )

    @abstractmethod
    async def disconnect(self) -> None:
        """The runtime is cut off as by the idle timer: the "Runtime disconnected" dialog opens."""

    @abstractmethod
    async def connecting(self) -> None:
        """A connect is in flight and does not finish during the check."""

    @abstractmethod
    async def reconnect_behind_the_dialog(self) -> None:
        """With "Runtime disconnected" still open, a runtime connects anyway (the page reads connected)."""

    @abstractmethod
    async def show(self, dialog: Dialog) -> None:
        """Open ``dialog`` the way it happens on Colab."""

    @abstractmethod
    async def cells_finish(self) -> None:
        """Every running cell completes."""

    @abstractmethod
    async def clicks(self) -> list[str]:
        """Everything pressed on the page so far, in the contract's vocabulary."""


class FakeDriver(Driver):
    """FakeFrontend: the test plays Colab with FakeNotebook's helpers."""

    name = "fake"

    def __init__(self, kind: type[FakeFrontend] = FakeFrontend) -> None:
        self.frontend = kind(lambda: FakeNotebook(cells=dict(CELLS), prints=dict(PRINTS)))
        self.page = object()
        self.within = 1.0
        self.nb = self.frontend.notebook(self.page)

    async def disconnect(self) -> None:
        await self.nb.disconnect()

    async def connecting(self) -> None:
        self.nb.connection = Connection.CONNECTING
        await self.nb.emit(SignalKind.CONNECTION)

    async def reconnect_behind_the_dialog(self) -> None:
        await self.connected()
        await self.nb.show(Dialog.RUNTIME_DISCONNECTED)

    async def show(self, dialog: Dialog) -> None:
        if dialog is Dialog.RUNTIME_DISCONNECTED:
            await self.connected()
            await self.disconnect()
        elif dialog in (Dialog.GPU_LIMIT, Dialog.TOO_MANY_SESSIONS):
            self.nb.connect_outcome.append(dialog)
            await self.frontend.reconnect(self.page)
        elif dialog in (Dialog.DRIVE_CONSENT, Dialog.CREDENTIALS):
            await self.connected()
            await self.frontend.run_cell_with_marker(self.page, "# cell: mount")
            await self.nb.show(dialog)
        elif dialog is Dialog.SIGN_IN_REQUIRED:
            await self.nb.set_signed_in(False)
            await self.nb.show(dialog)
        else:
            await self.nb.show(dialog, UNKNOWN_TEXT if dialog is Dialog.UNKNOWN else None)

    async def cells_finish(self) -> None:
        await self.nb.finish_cells()

    async def clicks(self) -> list[str]:
        return [":".join(click.split(":")[:2]) for click in self.nb.clicks]


class ColabDriver(Driver):
    """ColabFrontend on the emulator's notebook page in real Chromium; faults come from the emulator."""

    name = "colab"

    def __init__(self, emu: EmulatorServer, page: Page) -> None:
        self.emu = emu
        self.page = page
        # Short action timeout: "that dialog is not open" is part of the contract, and waited for.
        self.frontend = ColabFrontend(action_timeout=2.0)
        self.within = 30.0
        self.since = time.time()

    async def open(self, **query: str) -> None:
        """Load the notebook and wait until the frontend reads its connect button."""
        loaded = time.time()
        await self.page.goto(self.emu.notebook_url(NB, ui="2025", **query))
        await self.emu.wait_for_event(NB, "page.loaded", since=loaded)
        await self.until(lambda o: o.connection is not Connection.UNKNOWN, "the page is up")

    async def disconnect(self) -> None:
        await self.emu.inject(NB, "idle_disconnect")
        await self.until(lambda o: Dialog.RUNTIME_DISCONNECTED in o.dialogs, "the disconnect dialog")

    async def connecting(self) -> None:
        # Every connect now takes a minute: it is still allocating when the check is over.
        await self.emu.inject(NB, "allocation_delay", seconds=60)
        await self.frontend.reconnect(self.page)
        await self.until(lambda o: o.connection is Connection.CONNECTING, "connecting")

    async def reconnect_behind_the_dialog(self) -> None:
        await self.connected()
        await self.disconnect()
        # Colab's own notebook API connects without touching the dialog, which stays open.
        await self.page.evaluate("() => colab.global.notebook.connectToKernel()")
        await self.until(
            lambda o: o.connection is Connection.CONNECTED and Dialog.RUNTIME_DISCONNECTED in o.dialogs,
            "connected with the disconnect dialog still open",
        )

    async def show(self, dialog: Dialog) -> None:
        if dialog is Dialog.RUNTIME_DISCONNECTED:
            await self.connected()
            await self.disconnect()
        elif dialog in (Dialog.GPU_LIMIT, Dialog.TOO_MANY_SESSIONS):
            await self.emu.inject(NB, dialog.value)
            await self.frontend.reconnect(self.page)
        elif dialog in (Dialog.DRIVE_CONSENT, Dialog.CREDENTIALS):
            await self.connected()
            marker = "# cell: mount" if dialog is Dialog.DRIVE_CONSENT else "# cell: auth"
            await self.frontend.run_cell_with_marker(self.page, marker)
        elif dialog is Dialog.EXTERNAL_NOTEBOOK:
            await self.open(external="github")
            await self.frontend.run_cell_with_marker(self.page, "print('setup ran')")
        elif dialog is Dialog.SIGN_IN_REQUIRED:
            await self.emu.inject(NB, "sign_out")
            await self.until(lambda o: o.signed_in is False, "signed out")
            await self.frontend.run_cell_with_marker(self.page, "print('setup ran')")
        else:
            await self.emu.inject(NB, "unknown_dialog" if dialog is Dialog.UNKNOWN else dialog.value)
        await self.until(lambda o: dialog in o.dialogs, f"{dialog} open")

    async def cells_finish(self) -> None:
        await self.until(lambda o: not o.busy, "no cell running")

    async def clicks(self) -> list[str]:
        found = []
        for event in await self.emu.events(NB, since=self.since):
            target = str(event.get("target", ""))
            if event["kind"] == "click" and not event.get("ignored"):
                pass
            elif not (event["kind"] == "keypress" and target.startswith("dialog:")):
                continue
            kind, _, rest = target.partition(":")
            if kind == "dialog":
                found.append(f"dialog:{rest.partition(':')[0]}")
            elif kind == "run-button":
                found.append(f"run:{rest}")
            else:
                found.append(target)
        return found


@contextmanager
def must_not_raise(what: str) -> Iterator[None]:
    """A frontend error where the contract expects success is a contract failure (AssertionError)."""
    try:
        yield
    except SentinelError as exc:
        raise AssertionError(f"{what} raised {type(exc).__name__}: {exc}") from exc


@contextmanager
def must_raise(kind: type[Exception], match: str = "") -> Iterator[None]:
    """Like pytest.raises, but a miss is an AssertionError (pytest.raises fails with its own outcome
    exception, which the broken-fake tests below could not tell from any other failure)."""
    try:
        yield
    except kind as exc:
        assert re.search(match, str(exc)), f"{type(exc).__name__}({str(exc)!r}) does not say {match!r}"
    else:
        raise AssertionError(f"did not raise {kind.__name__}")


# ------------------------------------------------------------------------------------ the contract
# Each check starts on a freshly opened notebook page: disconnected, no dialog, nothing clicked.


async def check_a_fresh_page_is_disconnected_without_a_dialog(d: Driver) -> None:
    observation = await d.observe()
    assert observation.connection is Connection.DISCONNECTED, observation
    assert observation.dialogs == ()
    assert observation.runtime_id is None
    assert observation.busy is False
    assert observation.needs_human is None
    assert await d.clicks() == []


async def check_connected_reports_the_runtime_id(d: Driver) -> None:
    with must_not_raise("reconnect() on a fresh page"):
        first = await d.connected()
    assert isinstance(first.runtime_id, str) and first.runtime_id
    assert (await d.observe()).runtime_id == first.runtime_id


async def check_connecting_has_no_runtime_id(d: Driver) -> None:
    await d.connecting()
    observation = await d.observe()
    assert observation.connection is Connection.CONNECTING, observation
    assert observation.runtime_id is None


async def check_a_disconnect_shows_the_dialog_and_drops_the_runtime(d: Driver) -> None:
    await d.connected()
    await d.disconnect()
    observation = await d.observe()
    assert observation.connection is Connection.DISCONNECTED, observation
    assert observation.dialogs == (Dialog.RUNTIME_DISCONNECTED,)
    assert observation.runtime_id is None


async def check_the_dialog_is_classified(d: Driver, dialog: Dialog) -> None:
    await d.show(dialog)
    observation = await d.until(lambda o: dialog in o.dialogs, f"{dialog} observed")
    assert observation.needs_human is (dialog if dialog in HUMAN_ONLY else None)
    if dialog is Dialog.UNKNOWN:
        assert observation.unclassified and UNKNOWN_TEXT in observation.unclassified
    else:
        assert observation.unclassified is None


async def check_reconnect_clicks_the_connect_button_without_a_dialog(d: Driver) -> None:
    with must_not_raise("reconnect() on a fresh page"):
        await d.frontend.reconnect(d.page)
    await d.until(lambda o: o.connection is Connection.CONNECTED, "connected")
    await d.clicked(0, ["connect"])


async def check_reconnect_clicks_reconnect_in_the_disconnect_dialog(d: Driver) -> None:
    before = await d.connected()
    await d.disconnect()
    start = len(await d.clicks())
    with must_not_raise("reconnect() with the disconnect dialog open"):
        await d.frontend.reconnect(d.page)
    after = await d.until(
        lambda o: o.connection is Connection.CONNECTED and not o.dialogs, "connected, the dialog closed"
    )
    await d.clicked(start, ["dialog:runtime_disconnected"], "Reconnect in the dialog, once")
    assert after.runtime_id and after.runtime_id != before.runtime_id, "a fresh runtime"


async def check_reconnect_answers_the_dialog_even_when_the_page_reads_connected(d: Driver) -> None:
    await d.reconnect_behind_the_dialog()
    runtime = (await d.observe()).runtime_id
    start = len(await d.clicks())
    with must_not_raise("reconnect() with the disconnect dialog open over a connected runtime"):
        await d.frontend.reconnect(d.page)
    after = await d.until(lambda o: not o.dialogs, "the dialog closed")
    await d.clicked(start, ["dialog:runtime_disconnected"])
    assert after.connection is Connection.CONNECTED
    assert after.runtime_id == runtime, "Reconnect over a live runtime keeps it"


async def check_reconnect_refuses_while_connected(d: Driver) -> None:
    before = await d.connected()
    start = len(await d.clicks())
    with must_raise(FrontendError):
        await d.frontend.reconnect(d.page)
    assert (await d.clicks())[start:] == []
    assert (await d.observe()).runtime_id == before.runtime_id


async def check_reconnect_refuses_while_connecting(d: Driver) -> None:
    await d.connecting()
    start = len(await d.clicks())
    with must_raise(FrontendError):
        await d.frontend.reconnect(d.page)
    assert (await d.clicks())[start:] == []


async def check_reconnect_refuses_while_another_dialog_is_open(d: Driver) -> None:
    await d.show(Dialog.STILL_THERE)
    with must_raise(FrontendError, "dialog"):
        await d.frontend.reconnect(d.page)
    assert await d.clicks() == []
    observation = await d.observe()
    assert observation.dialogs == (Dialog.STILL_THERE,)
    assert observation.connection is Connection.DISCONNECTED


async def check_the_dialog_is_answered_with_an_allowed_action_only(d: Driver, dialog: Dialog) -> None:
    await d.show(dialog)
    start = len(await d.clicks())
    for action in Action:
        if action is ANSWERS[dialog]:
            continue
        if dialog not in HUMAN_ONLY and action in ALLOWED_ACTIONS[dialog]:
            continue  # another allowed answer: it would be pressed
        with must_raise(ValueError, "needs a human" if dialog in HUMAN_ONLY else "not an answer"):
            await d.frontend.answer(d.page, dialog, action)
    assert (await d.clicks())[start:] == [], "a refused answer touched the page"
    assert dialog in (await d.observe()).dialogs
    action = ANSWERS[dialog]
    if action is None:
        return
    with must_not_raise(f"answer({dialog}, {action})"):
        await d.frontend.answer(d.page, dialog, action)
    await d.until(lambda o: dialog not in o.dialogs, f"{dialog} closed")
    await d.clicked(start, [f"dialog:{dialog}"])
    if action in CONNECTING_ANSWERS:
        await d.until(lambda o: o.connection is Connection.CONNECTED, f"connected after {action}")


async def check_a_human_dialog_is_never_clicked(d: Driver, dialog: Dialog) -> None:
    await d.show(dialog)
    for action in Action:
        with must_raise(ValueError, "needs a human"):
            await d.frontend.answer(d.page, dialog, action)
    await d.frontend.keepalive(d.page)
    observation = await d.observe()
    assert observation.needs_human is dialog
    assert dialog in observation.dialogs
    assert [c for c in await d.clicks() if c.startswith(f"dialog:{dialog}")] == []


async def check_a_disallowed_answer_is_refused_before_touching_the_page(d: Driver) -> None:
    # No dialog is open at all: the ValueError comes first, not "not open".
    with must_raise(ValueError, "not an answer"):
        await d.frontend.answer(d.page, Dialog.STILL_THERE, Action.RECONNECT)
    assert await d.clicks() == []


async def check_answering_a_dialog_that_is_not_open_is_selector_not_found(d: Driver) -> None:
    with must_raise(SelectorNotFoundError):
        await d.frontend.answer(d.page, Dialog.STILL_THERE, Action.YES)
    assert await d.clicks() == []


async def check_run_cell_with_marker_runs_that_cell_and_shows_its_output(d: Driver) -> None:
    await d.connected()
    # Whitespace only: ColabFrontend returns the empty output area's layout whitespace (the fake: "").
    assert (await d.frontend.cell_output(d.page, "resume")).strip() == "", "no output before it ran"
    with must_not_raise("run_cell_with_marker()"):
        cell_id = await d.frontend.run_cell_with_marker(d.page, MARKER)
    assert cell_id == "resume"
    await d.cells_finish()
    assert [c for c in await d.clicks() if c.startswith("run:")] == ["run:resume"]

    async def printed() -> None:
        assert "resumed" in await d.frontend.cell_output(d.page, "resume")

    await eventually(printed, timeout=d.within)


async def check_run_cell_with_a_missing_marker_names_it(d: Driver) -> None:
    await d.connected()
    with must_raise(ResumeMarkerNotFoundError, "# no such marker"):
        await d.frontend.run_cell_with_marker(d.page, "# no such marker")
    assert [c for c in await d.clicks() if c.startswith("run:")] == []


async def check_run_cell_refuses_while_a_cell_runs(d: Driver) -> None:
    await d.connected()
    assert await d.frontend.run_cell_with_marker(d.page, "# cell: sleep") == "sleep"
    await d.until(lambda o: o.busy, "the sleep cell running")
    with must_raise(FrontendError, "running or queued"):
        await d.frontend.run_cell_with_marker(d.page, MARKER)
    assert [c for c in await d.clicks() if c.startswith("run:")] == ["run:sleep"]


async def check_cell_output_of_an_unknown_cell_is_selector_not_found(d: Driver) -> None:
    with must_raise(SelectorNotFoundError):
        await d.frontend.cell_output(d.page, "no-such-cell")


async def check_keepalive_changes_nothing(d: Driver) -> None:
    before = await d.connected()
    start = len(await d.clicks())
    for _ in range(3):
        await d.frontend.keepalive(d.page)
    after = await d.observe()
    assert (after.connection, after.runtime_id, after.dialogs, after.busy) == (
        before.connection,
        before.runtime_id,
        before.dialogs,
        before.busy,
    )
    assert (await d.clicks())[start:] == []


async def check_install_reports_loaded_then_changes(d: Driver) -> None:
    seen: list[Signal] = []
    await d.frontend.install(d.page, seen.append)
    await eventually(lambda: bool(seen), timeout=d.within, what="the first signal")
    assert SignalKind.LOADED in seen[0].changed
    await d.show(Dialog.STILL_THERE)

    def dialog_signalled() -> None:
        assert any(
            SignalKind.DIALOG in s.changed and Dialog.STILL_THERE in s.observation.dialogs for s in seen
        ), seen

    await eventually(dialog_signalled, timeout=d.within)


# ------------------------------------------------------------------------------------ fixtures


def _write_notebook(folder: Path) -> None:
    cells = [
        {
            "cell_type": "code",
            "id": cell_id,
            "metadata": {},
            "source": source,
            "outputs": [],
            "execution_count": None,
        }
        for cell_id, source in CELLS.items()
    ]
    document = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"colab": {"name": f"{NB}.ipynb"}},
        "cells": cells,
    }
    (folder / f"{NB}.ipynb").write_text(json.dumps(document), encoding="utf-8")


@pytest.fixture(scope="module")
async def contract_emu(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmulatorServer]:
    folder = tmp_path_factory.mktemp("notebooks")
    _write_notebook(folder)
    async with EmulatorServer(notebooks_dir=folder, allocation_delay=0.1) as server:
        yield server


@pytest.fixture
def fake_driver() -> FakeDriver:
    return FakeDriver()


@pytest.fixture
async def colab_driver(contract_emu: EmulatorServer, page: Page) -> AsyncIterator[ColabDriver]:
    await contract_emu.reset()
    driver = ColabDriver(contract_emu, page)
    await driver.open()
    yield driver
    await contract_emu.reset()


@pytest.fixture(params=["fake", "colab"])
def driver(request: pytest.FixtureRequest) -> Driver:
    """Each contract test runs once per frontend."""
    found: Driver = request.getfixturevalue(f"{request.param}_driver")
    return found


# ------------------------------------------------------------------------------------ tests

DIALOGS = [*ANSWERS, Dialog.UNKNOWN]
ANSWERABLE = [d for d, action in ANSWERS.items() if action is not None]


class TestObserve:
    async def test_a_fresh_page_is_disconnected_without_a_dialog(self, driver: Driver) -> None:
        """A notebook just opened: disconnected, no dialog, no runtime id, idle, nothing clicked."""
        await check_a_fresh_page_is_disconnected_without_a_dialog(driver)

    async def test_connected_reports_the_runtime_id(self, driver: Driver) -> None:
        """Connected: the runtime's id is reported, and stays the same while it lives."""
        await check_connected_reports_the_runtime_id(driver)

    async def test_connecting_has_no_runtime_id(self, driver: Driver) -> None:
        """A connect in flight reads CONNECTING and has no runtime id yet."""
        await check_connecting_has_no_runtime_id(driver)

    async def test_a_disconnect_shows_the_dialog_and_drops_the_runtime(self, driver: Driver) -> None:
        """A runtime cut off: DISCONNECTED, "Runtime disconnected" open, no runtime id."""
        await check_a_disconnect_shows_the_dialog_and_drops_the_runtime(driver)

    @pytest.mark.parametrize("dialog", DIALOGS)
    async def test_the_dialog_is_classified(self, driver: Driver, dialog: Dialog) -> None:
        """Each dialog is reported by kind; captcha and sign-in are what needs_human says; an unknown one keeps its text."""
        await check_the_dialog_is_classified(driver, dialog)

    async def test_install_reports_loaded_then_changes(self, driver: Driver) -> None:
        """The observer's first Signal says LOADED; a dialog that opens comes as a DIALOG Signal."""
        await check_install_reports_loaded_then_changes(driver)


class TestReconnect:
    async def test_reconnect_clicks_the_connect_button_without_a_dialog(self, driver: Driver) -> None:
        """Disconnected, no dialog: reconnect() clicks the connect button, once, and a runtime connects."""
        await check_reconnect_clicks_the_connect_button_without_a_dialog(driver)

    async def test_reconnect_clicks_reconnect_in_the_disconnect_dialog(self, driver: Driver) -> None:
        """With "Runtime disconnected" open, reconnect() presses its Reconnect (not the connect button): a fresh runtime."""
        await check_reconnect_clicks_reconnect_in_the_disconnect_dialog(driver)

    async def test_reconnect_answers_the_dialog_even_when_the_page_reads_connected(
        self, driver: Driver
    ) -> None:
        """The dialog still open over a runtime that came back: reconnect() presses Reconnect; the runtime stays."""
        await check_reconnect_answers_the_dialog_even_when_the_page_reads_connected(driver)

    async def test_reconnect_refuses_while_connected(self, driver: Driver) -> None:
        """Connected, no dialog: FrontendError and nothing clicked."""
        await check_reconnect_refuses_while_connected(driver)

    async def test_reconnect_refuses_while_connecting(self, driver: Driver) -> None:
        """A connect in flight: FrontendError and nothing clicked."""
        await check_reconnect_refuses_while_connecting(driver)

    async def test_reconnect_refuses_while_another_dialog_is_open(self, driver: Driver) -> None:
        """Another dialog open (Are you still there?): FrontendError, nothing clicked, the dialog stays."""
        await check_reconnect_refuses_while_another_dialog_is_open(driver)


class TestAnswer:
    @pytest.mark.parametrize("dialog", ANSWERABLE)
    async def test_the_dialog_is_answered_with_an_allowed_action_only(
        self, driver: Driver, dialog: Dialog
    ) -> None:
        """Every other action is a ValueError that clicks nothing; the allowed answer closes the dialog with its effect."""
        await check_the_dialog_is_answered_with_an_allowed_action_only(driver, dialog)

    @pytest.mark.parametrize("dialog", sorted(HUMAN_ONLY))
    async def test_a_human_dialog_is_never_clicked(self, driver: Driver, dialog: Dialog) -> None:
        """Captcha and sign-in refuse every action with ValueError; a keepalive clicks nothing in them either."""
        await check_a_human_dialog_is_never_clicked(driver, dialog)

    async def test_a_disallowed_answer_is_refused_before_touching_the_page(self, driver: Driver) -> None:
        """A wrong action is a ValueError even when no dialog is open: checked before the page is touched."""
        await check_a_disallowed_answer_is_refused_before_touching_the_page(driver)

    async def test_answering_a_dialog_that_is_not_open_is_selector_not_found(self, driver: Driver) -> None:
        """An allowed action for a dialog that is not open: SelectorNotFoundError, nothing clicked."""
        await check_answering_a_dialog_that_is_not_open_is_selector_not_found(driver)


class TestCells:
    async def test_run_cell_with_marker_runs_that_cell_and_shows_its_output(self, driver: Driver) -> None:
        """The marked cell runs by its run button, returns its id, and cell_output() shows what it printed."""
        await check_run_cell_with_marker_runs_that_cell_and_shows_its_output(driver)

    async def test_run_cell_with_a_missing_marker_names_it(self, driver: Driver) -> None:
        """A marker in no cell: ResumeMarkerNotFoundError naming it, nothing run."""
        await check_run_cell_with_a_missing_marker_names_it(driver)

    async def test_run_cell_refuses_while_a_cell_runs(self, driver: Driver) -> None:
        """Busy: FrontendError, and nothing is queued behind the running cell."""
        await check_run_cell_refuses_while_a_cell_runs(driver)

    async def test_cell_output_of_an_unknown_cell_is_selector_not_found(self, driver: Driver) -> None:
        """cell_output() of a cell id the notebook does not have: SelectorNotFoundError."""
        await check_cell_output_of_an_unknown_cell_is_selector_not_found(driver)


class TestKeepalive:
    async def test_keepalive_changes_nothing(self, driver: Driver) -> None:
        """Keepalive input leaves connection, runtime, dialogs and cells as they were, and clicks nothing."""
        await check_keepalive_changes_nothing(driver)


# ------------------------------------------------------------------------------------ broken fakes


class _IgnoresTheDisconnectDialog(FakeFrontend):
    """The fake as it was: reconnect() refuses whenever the page reads connected and never presses the dialog."""

    async def reconnect(self, page: Any) -> None:
        nb = self.notebook(page)
        if nb.connection in (Connection.CONNECTED, Connection.CONNECTING):
            raise FrontendError(f"runtime is {nb.connection}; not clicking the connect button")
        if Dialog.RUNTIME_DISCONNECTED in nb.dialogs:
            nb.dialogs.remove(Dialog.RUNTIME_DISCONNECTED)
        nb.clicks.append("connect")
        await nb.connect_now()


class _ClicksForAHuman(FakeFrontend):
    """answer() presses anything in any open dialog, a captcha included."""

    async def answer(self, page: Any, dialog: Dialog, action: Action) -> None:
        nb = self.notebook(page)
        nb.clicks.append(f"dialog:{dialog}:{action}")
        nb.dialogs.remove(dialog)
        await nb.emit(SignalKind.DIALOG)


class _QueuesBehindWork(FakeFrontend):
    """run_cell_with_marker() starts the resume cell even while another cell runs."""

    async def run_cell_with_marker(self, page: Any, marker: str) -> str:
        self.notebook(page).busy = False
        return await super().run_cell_with_marker(page, marker)


class TestTheContractCatchesABrokenFake:
    @pytest.mark.parametrize(
        ("broken", "check"),
        [
            (_IgnoresTheDisconnectDialog, check_reconnect_clicks_reconnect_in_the_disconnect_dialog),
            (
                _IgnoresTheDisconnectDialog,
                check_reconnect_answers_the_dialog_even_when_the_page_reads_connected,
            ),
            (_ClicksForAHuman, lambda d: check_a_human_dialog_is_never_clicked(d, Dialog.CAPTCHA)),
            (_ClicksForAHuman, lambda d: check_a_human_dialog_is_never_clicked(d, Dialog.SIGN_IN_REQUIRED)),
            (_QueuesBehindWork, check_run_cell_refuses_while_a_cell_runs),
        ],
        ids=[
            "reconnect-ignores-dialog",
            "reconnect-refuses-under-dialog",
            "clicks-captcha",
            "clicks-sign-in",
            "queues",
        ],
    )
    async def test_a_broken_fake_fails_the_contract(
        self, broken: type[FakeFrontend], check: Callable[[Driver], Awaitable[None]]
    ) -> None:
        """Each broken fake fails the check that describes what it gets wrong, with an AssertionError."""
        with pytest.raises(AssertionError):
            await check(FakeDriver(broken))

    async def test_the_real_fake_passes_the_same_checks(self) -> None:
        """The same checks pass on FakeFrontend itself (so the failures above are the breakage, not the check)."""
        for check in (
            check_reconnect_clicks_reconnect_in_the_disconnect_dialog,
            check_reconnect_answers_the_dialog_even_when_the_page_reads_connected,
            check_run_cell_refuses_while_a_cell_runs,
        ):
            await check(FakeDriver())
        for dialog in HUMAN_ONLY:
            await check_a_human_dialog_is_never_clicked(FakeDriver(), dialog)
