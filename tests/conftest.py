"""Shared fixtures: one Playwright and one real Chromium per test session, a fresh context per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright

from sentinel.browser import choose_browser, launch_args


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
