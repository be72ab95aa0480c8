"""A reCAPTCHA like Google's (the anchor iframe loads after the host appears): blocked the whole time.

Regression for the reported flap: ``session.blocked``, 26 ms later ``session.unblocked``, then a
``blocked`` without its reason until the next safety poll. The whole hook history (the daemon's
timeline records every state change) must show one move into ``blocked: captcha`` while the captcha is
up, none out of it until a person dismisses it, and not one click or input from sentinel meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from sentinel.daemon import Daemon
from sentinel.emulator.testing import EmulatorServer
from sentinel.frontends.base import Connection, Dialog
from sentinel.session import BlockedReason, Session, SessionState
from tests._eventually import consistently, eventually
from tests.daemon.conftest import running_daemon, settled

pytestmark = pytest.mark.slow

# (notebook, dialog generation, seconds between the host and its iframe)
CASES = [("plain", "2025", 0.3), ("plain2", "2022", 1.0), ("plain3", "2023", 0.0)]


@pytest.fixture(scope="module")
async def daemon(emu: EmulatorServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Daemon]:
    urls = [emu.notebook_url(name, ui=ui) for name, ui, _ in CASES]
    async with running_daemon(urls, tmp_path_factory.mktemp("captcha")) as running:
        yield running


def state_moves(daemon: Daemon, session: Session) -> list[str]:
    """Every state change of the session, oldest first ("connected -> blocked: captcha")."""
    entries = reversed(daemon.timeline.recent(session.url, 1000))
    return [e.detail for e in entries if e.event == "state"]


@pytest.mark.parametrize(("name", "ui", "delay"), CASES)
async def test_a_late_iframe_captcha_blocks_until_dismissed_and_is_never_clicked(
    emu: EmulatorServer, daemon: Daemon, name: str, ui: str, delay: float
) -> None:
    """1. The captcha host appears, its anchor iframe loads ``delay`` s later.
    2. Blocked(captcha) from the first report to the dismissal: no unblocked in between, never clicked.
    3. A person cancels it: connected again (unblocked once).
    """
    del ui
    session = await settled(daemon, name)
    moves_before = len(state_moves(daemon, session))
    since = time.time()
    await emu.inject(name, "captcha", iframe_delay=delay)
    await eventually(lambda: session.state is SessionState.BLOCKED, timeout=30, what="blocked")
    if delay > 0:
        await emu.wait_for_event(name, "captcha.loaded", since=since, timeout=30)

    async def hands_off() -> None:
        assert (session.state, session.blocked_reason) == (SessionState.BLOCKED, BlockedReason.CAPTCHA)
        # What the session last acted on is the notebook's page with its captcha, never the report of
        # the reCAPTCHA iframe's own document (no connect button, no captcha host in it).
        seen = session.observation
        assert seen is not None and Dialog.CAPTCHA in seen.dialogs, seen
        assert seen.connection is Connection.CONNECTED, seen
        events = await emu.events(name, since=since)
        assert [e for e in events if e["kind"] == "click"] == [], "sentinel clicked while the captcha was up"
        assert not [e for e in events if e["kind"] == "user.input"], "sentinel produced input under it"

    # Past the iframe's load, a safety poll (1 s here) and a keep-alive's due time.
    await consistently(hands_off, duration=2.5, interval=0.02)
    moves = state_moves(daemon, session)[moves_before:]
    assert moves == ["connected -> blocked: captcha"], moves
    # A person dismisses it.
    await session.page.locator("colab-recaptcha-dialog mwc-button").click()
    await eventually(lambda: session.state is SessionState.CONNECTED, timeout=30, what="connected again")
    assert state_moves(daemon, session)[moves_before:] == [
        "connected -> blocked: captcha",
        "blocked -> connected",
    ]
    clicks = [e for e in await emu.events(name, since=since) if e["kind"] == "click"]
    assert [e["target"] for e in clicks] == ["dialog:captcha:Cancel"], "only the person's click"
    assert session.blocked_reason is None
