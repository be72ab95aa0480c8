"""ColabFrontend in real Chromium: when each observation was taken, and whose document it is.

Only the notebook's top document reports: the init script and the report binding reach every frame,
and the emulator's reCAPTCHA (like Google's) loads its anchor in an iframe after the host appears.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page

from sentinel.emulator.testing import EmulatorServer
from sentinel.frontends.base import Connection, Dialog, Signal
from sentinel.frontends.colab import ColabFrontend
from tests._eventually import consistently, eventually

NB = "hello"


@pytest.fixture(scope="module")
async def emu() -> AsyncIterator[EmulatorServer]:
    async with EmulatorServer(allocation_delay=0.1) as server:
        yield server


async def _connected(page: Page, emu: EmulatorServer, frontend: ColabFrontend) -> None:
    await page.goto(emu.notebook_url(NB, ui="2025"))
    await page.locator("colab-connect-button #connect").click()

    async def connected() -> bool:
        return (await frontend.observe(page)).connection is Connection.CONNECTED

    await eventually(connected, timeout=30, what="connected")


async def test_a_poll_is_stamped_when_its_read_started(emu: EmulatorServer, page: Page) -> None:
    """observe(): ``taken_at`` lies between the call and its return (the read happened after it)."""
    await emu.reset()
    frontend = ColabFrontend()
    await page.goto(emu.notebook_url(NB, ui="2025"))
    before = time.monotonic()
    obs = await frontend.observe(page)
    assert before <= obs.taken_at <= time.monotonic()


async def test_the_captcha_iframe_never_reports_for_the_notebook(emu: EmulatorServer, page: Page) -> None:
    """1. Connected, observer installed. 2. Captcha: host first, its iframe 0.3 s later.
    3. Every signal from then on is the notebook's page with its captcha (never the iframe's document)."""
    await emu.reset()
    frontend = ColabFrontend()
    signals: list[Signal] = []
    await frontend.install(page, signals.append)
    await _connected(page, emu, frontend)
    await eventually(lambda: signals and signals[-1].observation.connection is Connection.CONNECTED)
    mark = len(signals)
    since = time.time()
    await emu.inject(NB, "captcha", iframe_delay=0.3)
    await emu.wait_for_event(NB, "captcha.loaded", since=since, timeout=30)
    await eventually(lambda: len(signals) > mark, what="the captcha's signal")

    def only_the_notebook() -> None:
        after = [s.observation for s in signals[mark:]]
        assert all(Dialog.CAPTCHA in o.dialogs for o in after), after
        assert all(o.connection is Connection.CONNECTED for o in after), after

    # A bounded wait for the iframe's document NOT reporting (its observer would report on load).
    await consistently(only_the_notebook, duration=1.0)
    assert Dialog.CAPTCHA in (await frontend.observe(page)).dialogs
    for earlier, later in itertools.pairwise(signals):
        assert earlier.observation.taken_at <= later.observation.taken_at
