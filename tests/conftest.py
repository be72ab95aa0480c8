"""Shared fixtures: one Playwright and one real Chromium per test session, a fresh context per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright, expect

from sentinel.browser import choose_browser, launch_args
from sentinel.emulator.testing import EmulatorServer

# Assertions wait up to 15 s instead of Playwright's 5: a bound for a busy 2-core CI machine, not a
# speed requirement (benchmarks measure speed). A passing assertion returns as soon as it holds.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    choice = choose_browser()
    browser = await playwright.chromium.launch(
        headless=True,
        executable_path=choice.executable_path,
        channel=choice.channel,
        args=launch_args(),
    )
    yield browser
    await browser.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    before = len(browser.contexts)
    ctx = await browser.new_context()
    yield ctx
    await ctx.close()
    assert len(browser.contexts) == before, (
        "Test failed to close a context it created via the browser fixture."
    )


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


# ---- the emulator (owned by the emulator server engineer) ---------------------------------------
# One real emulator for the whole session, with a long idle timeout: a test that needs a short idle
# timeout, a short max lifetime or its own Drive folder starts its own EmulatorServer.
# `emulator` is the session server as is; `fresh_emulator` resets it (kills runtimes, clears
# faults, events and sign-in state) before and after the test that asks for it.


@pytest.fixture(scope="session")
async def emulator() -> AsyncIterator[EmulatorServer]:
    async with EmulatorServer(idle_timeout=3600.0, max_lifetime=43200.0, allocation_delay=0.2) as emu:
        yield emu


@pytest.fixture
async def fresh_emulator(emulator: EmulatorServer) -> AsyncIterator[EmulatorServer]:
    await emulator.reset()
    yield emulator
    await emulator.reset()
