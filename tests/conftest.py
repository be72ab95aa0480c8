"""Shared fixtures: pytest-playwright's browser fixtures on Debian's Chromium, and the session emulator.

The browser fixtures are pytest-playwright-asyncio's own chain (``playwright`` -> ``browser_type`` ->
``launch_browser`` -> ``browser`` -> ``new_context`` / ``context`` -> ``page``, all on the session
loop), so its options work for every browser test: ``--headed``, ``--slowmo``, ``--tracing``,
``--screenshot``, ``--video``. pyproject's addopts keep a trace and a screenshot of every failed
browser test under ``test-results/``. Only how Chromium is launched is ours (below).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from sentinel.browser import launch_args, system_chromium
from sentinel.emulator.testing import EmulatorServer

# Assertions wait up to 15 s instead of Playwright's 5: a bound for a busy 2-core CI machine, not a
# speed requirement (benchmarks measure speed). A passing assertion returns as soon as it holds.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """The plugin's launch options (``--headed``, ``--slowmo``, ``--browser-channel``) for sentinel's Chromium.

    Debian's /usr/bin/chromium unless ``--browser-channel`` names another, with sentinel's flags
    (``--no-sandbox`` as root, no background networking), exactly as the daemon launches it.
    """
    options = dict(browser_type_launch_args)
    if "channel" not in options:
        found = system_chromium()
        if found is not None:
            options["executable_path"] = str(found)
    options["args"] = [*launch_args(), *options.get("args", ())]
    return options


@pytest.fixture(scope="session")
def base_url() -> str | None:
    """No ``--base-url``: each test builds its URLs from its emulator's port 0 address.

    Also replaces the plugin's fallback ``base_url``, a session fixture on a class instance that
    pytest 9 deprecates with a warning (an error under ``filterwarnings = error``).
    """
    return None


@pytest.fixture(autouse=True)
def _no_leaked_contexts(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a browser test that left a context open (the plugin closes only those ``new_context`` made)."""
    if "browser" not in request.fixturenames:
        yield
        return
    browser: Browser = request.getfixturevalue("browser")
    before = len(browser.contexts)
    yield
    assert len(browser.contexts) == before, (
        "Test failed to close a context it created via the browser fixture."
    )


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
