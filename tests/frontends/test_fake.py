"""The in-package FakeFrontend behaves like the Frontend contract says, so daemon tests can trust it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.errors import BrowserError, FrontendError, ResumeMarkerNotFoundError, SelectorNotFoundError
from sentinel.frontends.base import Action, Connection, Dialog, Signal, SignalKind
from sentinel.frontends.fake import FakeFrontend, FakeNotebook


def _notebook() -> FakeNotebook:
    return FakeNotebook(cells={"a": "import torch", "b": "# sentinel: resume\ntrain()", "c": "print(1)"})


class TestFakeFrontend:
    async def test_install_reports_loaded_then_changes(self) -> None:
        """The handler gets LOADED first, then one Signal per scripted change, sync or async."""
        fake = FakeFrontend(_notebook)
        page = object()
        seen: list[Signal] = []

        async def handler(signal: Signal) -> None:
            seen.append(signal)

        await fake.install(page, handler)
        await fake.reconnect(page)
        await fake.notebook(page).disconnect()
        assert seen[0].changed == {SignalKind.LOADED}
        assert seen[-1].observation.dialogs == (Dialog.RUNTIME_DISCONNECTED,)
        assert seen[-1].observation.connection is Connection.DISCONNECTED
        connected = [s for s in seen if s.observation.connection is Connection.CONNECTED]
        assert connected and connected[0].observation.runtime_id is not None

    async def test_reconnect_gives_a_fresh_runtime_and_refuses_while_connected(self) -> None:
        """Each reconnect yields a new runtime id; reconnecting a connected runtime raises."""
        fake = FakeFrontend(_notebook)
        page = object()
        await fake.reconnect(page)
        first = (await fake.observe(page)).runtime_id
        with pytest.raises(FrontendError):
            await fake.reconnect(page)
        await fake.notebook(page).disconnect()
        await fake.answer(page, Dialog.RUNTIME_DISCONNECTED, Action.RECONNECT)
        second = (await fake.observe(page)).runtime_id
        assert first and second and first != second

    async def test_connect_outcome_shows_the_scripted_dialog(self) -> None:
        """A scripted GPU limit shows its dialog; Connect without GPU then connects."""
        fake = FakeFrontend(_notebook)
        page = object()
        fake.notebook(page).connect_outcome.append(Dialog.GPU_LIMIT)
        await fake.reconnect(page)
        assert (await fake.observe(page)).dialogs == (Dialog.GPU_LIMIT,)
        await fake.answer(page, Dialog.GPU_LIMIT, Action.CONNECT_WITHOUT_GPU)
        assert (await fake.observe(page)).connection is Connection.CONNECTED

    async def test_human_dialogs_are_never_answered(self) -> None:
        """Captcha and sign-in refuse every action; a wrong action for a dialog is a ValueError."""
        fake = FakeFrontend(_notebook)
        page = object()
        await fake.notebook(page).show(Dialog.CAPTCHA)
        assert (await fake.observe(page)).needs_human is Dialog.CAPTCHA
        for action in Action:
            with pytest.raises(ValueError, match="needs a human"):
                await fake.answer(page, Dialog.CAPTCHA, action)
        with pytest.raises(ValueError, match="not an answer"):
            await fake.answer(page, Dialog.STILL_THERE, Action.RECONNECT)
        with pytest.raises(SelectorNotFoundError):
            await fake.answer(page, Dialog.STILL_THERE, Action.YES)
        assert fake.notebook(page).answers == []

    async def test_run_cell_with_marker(self) -> None:
        """The marked cell runs; a busy notebook refuses; a missing marker names the marker."""
        fake = FakeFrontend(_notebook)
        page = object()
        assert await fake.run_cell_with_marker(page, "# sentinel: resume") == "b"
        with pytest.raises(FrontendError, match="running"):
            await fake.run_cell_with_marker(page, "# sentinel: resume")
        await fake.notebook(page).finish_cells()
        with pytest.raises(ResumeMarkerNotFoundError, match="# nowhere"):
            await fake.run_cell_with_marker(page, "# nowhere")
        assert fake.notebook(page).runs == ["b"]

    async def test_fail_next_and_separate_pages(self, tmp_path: Path) -> None:
        """fail_next raises once; each page has its own notebook; debug_bundle writes a folder."""
        fake = FakeFrontend(_notebook)
        one, two = object(), object()
        fake.fail_next["observe"] = BrowserError("gone")
        with pytest.raises(BrowserError):
            await fake.observe(one)
        await fake.reconnect(one)
        assert (await fake.observe(one)).connection is Connection.CONNECTED
        assert (await fake.observe(two)).connection is Connection.DISCONNECTED
        bundle = await fake.debug_bundle(one, tmp_path)
        assert "connection=<Connection.CONNECTED" in (bundle / "observation.txt").read_text()
        assert bundle != await fake.debug_bundle(one, tmp_path)
