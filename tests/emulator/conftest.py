"""Fixtures of the emulator tests: a module's emulator over the page notebooks, and a clean page JS check."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Page

from sentinel.emulator.testing import EmulatorServer
from tests.emulator._page import write_notebooks


@pytest.fixture(scope="module", name="emu_module")
async def _emu_module(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmulatorServer]:
    """One emulator per test module over the page notebooks (kernels are the slow part, not the server)."""
    folder = write_notebooks(tmp_path_factory.mktemp("notebooks"))
    async with EmulatorServer(notebooks_dir=folder, allocation_delay=0.1, idle_timeout=3600) as emu:
        yield emu


@pytest.fixture(name="emu")
async def _emu(emu_module: EmulatorServer) -> AsyncIterator[EmulatorServer]:
    """The module's emulator, reset (no runtime, no faults, empty event log) for this test."""
    await emu_module.reset()
    yield emu_module


@pytest.fixture(name="no_page_errors", autouse=True)
def _no_page_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test whose ``page`` threw an uncaught exception (the emulator's JS must stay clean).

    Only tests that use the ``page`` fixture get a page for it; the server tests start no browser.
    """
    if "page" not in request.fixturenames:
        yield
        return
    page: Page = request.getfixturevalue("page")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield
    assert errors == [], f"uncaught exceptions in the page: {errors}"
