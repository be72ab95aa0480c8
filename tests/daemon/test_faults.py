"""Every fault kind and dialog, in every dialog generation, against one daemon driving three notebooks.

The notebooks (g2022, g2023, g2025) open as "not authored by Google" and their resume cell mounts
Drive and asks for credentials, so every start and every recovery also walks the Run anyway,
Drive consent, credentials and OAuth popup flows of that generation.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sentinel.daemon import Daemon
from sentinel.emulator.testing import EmulatorServer
from sentinel.session import BlockedReason, SessionState
from tests._eventually import consistently, eventually
from tests._sink import Sink
from tests.daemon.conftest import (
    UIS,
    assert_resumed_once_per_runtime,
    resume_starts,
    running_daemon,
    settled,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def fleet(
    emu: EmulatorServer, sink: Sink, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Daemon]:
    urls = [emu.notebook_url(f"g{ui}", ui=ui, external="github") for ui in UIS]
    async with running_daemon(urls, tmp_path_factory.mktemp("fleet"), notify=(sink.url(),)) as daemon:
        for ui in UIS:
            await settled(daemon, f"g{ui}", within=60)
        yield daemon


def clicks(events: list[dict[str, object]], prefix: str) -> list[dict[str, object]]:
    return [e for e in events if e["kind"] == "click" and str(e.get("target", "")).startswith(prefix)]


def closed_with(events: list[dict[str, object]], dialog: str) -> list[object]:
    return [e.get("button") for e in events if e["kind"] == "dialog.closed" and e.get("dialog") == dialog]


@pytest.mark.parametrize("ui", UIS)
async def test_start_up_walks_every_consent(emu: EmulatorServer, fleet: Daemon, ui: str) -> None:
    """1. Connect. 2. Run anyway (once enabled). 3. Drive consent + OAuth popup. 4. Credentials. 5. One resume."""
    name = f"g{ui}"
    events = await emu.events(name)
    assert closed_with(events, "external_notebook") == ["Run anyway"]
    assert closed_with(events, "drive_consent")[:1] == ["Connect to Google Drive"]
    assert closed_with(events, "credentials")[:1] == ["Allow"]
    assert any(e["kind"] == "drive.mounted" for e in events)
    finished = [e for e in events if e["kind"] == "cell.finished" and e.get("cell_id") == "resume"]
    assert finished and finished[0]["error"] is False
    # Every click the daemon made was trusted input.
    assert all(e.get("trusted") is True for e in clicks(events, ""))
    await assert_resumed_once_per_runtime(emu, name)
    await eventually(
        lambda: fleet.snapshot().notebooks[UIS.index(ui)].progress == "step 1/2", timeout=30, what="progress"
    )


@pytest.mark.parametrize(("ui", "kind"), [*[(ui, "idle_disconnect") for ui in UIS], ("2025", "max_lifetime")])
async def test_disconnect_is_reconnected_and_resumed_once(
    emu: EmulatorServer, fleet: Daemon, ui: str, kind: str
) -> None:
    name = f"g{ui}"
    session = await settled(fleet, name)
    since = time.time()
    await emu.inject(name, kind)
    click = await emu.wait_for_event(
        name,
        "click",
        since=since,
        predicate=lambda e: e.get("target") == "dialog:runtime_disconnected:Reconnect",
    )
    assert click["trusted"] is True
    await emu.wait_for_event(name, "runtime.connected", since=since)
    await emu.wait_for_event(
        name, "cell.finished", since=since, predicate=lambda e: e.get("cell_id") == "resume"
    )
    await settled(fleet, name)
    # A poll later still exactly one resume: a bounded wait for a second one NOT happening.
    await consistently(lambda: assert_resumed_once_per_runtime(emu, name, since), duration=1.2)
    assert session.failures == 0


async def test_crash_gets_a_fresh_runtime_resumed_once(emu: EmulatorServer, fleet: Daemon) -> None:
    """The crash toast is not a dialog (no generations): a new runtime, resumed exactly once."""
    name = "g2025"
    session = await settled(fleet, name)
    crashes = session.counters.crashes
    since = time.time()
    await emu.inject(name, "crash_oom")
    await emu.wait_for_event(name, "runtime.crashed", since=since)
    await emu.wait_for_event(
        name, "cell.finished", since=since, predicate=lambda e: e.get("cell_id") == "resume"
    )
    await settled(fleet, name)
    # (the same: no second resume a poll later)
    await consistently(lambda: assert_resumed_once_per_runtime(emu, name, since), duration=1.2)
    assert session.counters.crashes == crashes + 1


@pytest.mark.parametrize("ui", UIS)
async def test_still_there_is_answered_yes(emu: EmulatorServer, fleet: Daemon, ui: str) -> None:
    name = f"g{ui}"
    await settled(fleet, name)
    since = time.time()
    await emu.inject(name, "still_there")
    closed = await emu.wait_for_event(
        name, "dialog.closed", since=since, predicate=lambda e: e.get("dialog") == "still_there"
    )
    assert closed["button"] == "Yes"
    assert clicks(await emu.events(name, since=since), "dialog:still_there")[0]["trusted"] is True


@pytest.mark.parametrize("ui", UIS)
async def test_captcha_blocks_is_never_clicked_and_recovers(
    emu: EmulatorServer, fleet: Daemon, ui: str
) -> None:
    """1. Captcha shown. 2. Blocked(captcha), nothing on the page is touched. 3. A human cancels it: connected."""
    name = f"g{ui}"
    session = await settled(fleet, name)
    since = time.time()
    await emu.inject(name, "captcha")
    await eventually(lambda: session.state is SessionState.BLOCKED, timeout=30, what="blocked")
    assert session.blocked_reason is BlockedReason.CAPTCHA

    async def hands_off() -> None:
        events = await emu.events(name, since=since)
        assert clicks(events, "") == [], "sentinel clicked something while the captcha was up"
        assert not [e for e in events if e["kind"] == "user.input"], (
            "sentinel produced input under the captcha"
        )

    # Two safety polls and any observer reports, none of which may act: a bounded wait for something
    # not happening.
    await consistently(hands_off, duration=2)
    # The human dismisses it.
    await session.page.locator("colab-recaptcha-dialog mwc-button").click()
    await eventually(lambda: session.state is SessionState.CONNECTED, timeout=30, what="connected again")


@pytest.mark.parametrize("ui", UIS)
async def test_an_unknown_dialog_is_left_alone_bundled_and_reported(
    emu: EmulatorServer, fleet: Daemon, sink: Sink, ui: str
) -> None:
    """1. A dialog no pattern matches ("Something new in Colab") opens.
    2. Nothing on it is clicked.
    3. After ``unclassified_after`` (3 s here, 30 s by default): one debug bundle in <state dir>/debug
       (screenshot, DOM snapshot with the dialog's text, facts) and one notification that names it.
    4. A person closes it: the notebook carries on, and no further bundle is written.
    """
    name = f"g{ui}"
    session = await settled(fleet, name)
    debug = fleet.settings.state_dir / "debug"
    before = set(debug.iterdir()) if debug.exists() else set()
    since, seen = time.time(), len(sink.received)
    await emu.inject(name, "unknown_dialog")
    title = f"sentinel: {name} shows something sentinel does not recognise"
    await eventually(
        lambda: title in sink.titles()[seen:], timeout=30, what="the unrecognised-page notification"
    )

    bundles = set(debug.iterdir()) - before
    assert len(bundles) == 1, bundles
    bundle = bundles.pop()
    assert (bundle / "page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Something new in Colab" in (bundle / "dom.html").read_text(encoding="utf-8")
    facts = json.loads((bundle / "facts.json").read_text(encoding="utf-8"))
    assert facts["observation"]["dialogs"] == ["unknown"]
    assert "Something new in Colab" in facts["observation"]["unclassified"]
    message = next(m["message"] for m in sink.received[seen:] if m["title"] == title)
    assert f"Debug bundle: {bundle}" in message
    assert "Something new in Colab" in message
    events = await emu.events(name, since=since)
    assert clicks(events, "") == [], "sentinel clicked something on a dialog it does not know"
    assert closed_with(events, "unknown_dialog") == []

    # A person reads the notification and closes the dialog.
    await session.page.get_by_role("button", name="Not now").click()
    closed = await emu.wait_for_event(
        name, "dialog.closed", since=since, predicate=lambda e: e.get("dialog") == "unknown_dialog"
    )
    assert closed["button"] == "Not now"
    await settled(fleet, name)

    def reported_once() -> None:
        assert set(debug.iterdir()) - before == {bundle}
        assert [t for t in sink.titles()[seen:] if t == title] == [title]
        assert session.state is SessionState.CONNECTED

    # Past the unclassified delay once more: no second bundle or notification (a bounded wait for
    # something not happening).
    await consistently(reported_once, duration=fleet.policy.unclassified_after + 1)


async def test_gpu_limit_waits_blocked_then_recovers(emu: EmulatorServer, fleet: Daemon, sink: Sink) -> None:
    """--on-gpu-limit wait: blocked + notified, dialog closed, retried after quota_retry, then resumed once."""
    name = "g2025"
    session = await settled(fleet, name)
    since = time.time()
    await emu.inject(name, "gpu_limit")
    await emu.inject(name, "idle_disconnect")
    await eventually(lambda: session.state is SessionState.BLOCKED, timeout=30, what="blocked")
    assert session.blocked_reason is BlockedReason.GPU_LIMIT
    closed = await emu.wait_for_event(
        name, "dialog.closed", since=since, predicate=lambda e: e.get("dialog") == "gpu_limit"
    )
    assert closed["button"] == "Close"
    await eventually(
        lambda: any("g2025 is blocked" in t for t in sink.titles()), timeout=30, what="blocked notification"
    )
    await emu.wait_for_event(
        name, "cell.finished", since=since, predicate=lambda e: e.get("cell_id") == "resume"
    )
    await settled(fleet, name)
    await assert_resumed_once_per_runtime(emu, name, since)
    await eventually(
        lambda: any("g2025 is back to normal" in t for t in sink.titles()),
        timeout=30,
        what="recovery notification",
    )


async def test_too_many_sessions_blocks_then_recovers(emu: EmulatorServer, fleet: Daemon) -> None:
    name = "g2023"
    session = await settled(fleet, name)
    since = time.time()
    await emu.inject(name, "too_many_sessions")
    await emu.inject(name, "idle_disconnect")
    await eventually(
        lambda: session.blocked_reason is BlockedReason.TOO_MANY_SESSIONS, timeout=30, what="blocked"
    )
    await emu.wait_for_event(
        name, "cell.finished", since=since, predicate=lambda e: e.get("cell_id") == "resume"
    )
    await settled(fleet, name)
    await assert_resumed_once_per_runtime(emu, name, since)


async def test_signed_out_blocks_notifies_and_never_clicks(
    emu: EmulatorServer, fleet: Daemon, sink: Sink
) -> None:
    """Signed out: blocked + notified; a disconnect meanwhile is left alone; signed in again: recovered."""
    name = "g2022"
    session = await settled(fleet, name)
    since, seen = time.time(), len(sink.received)
    await emu.inject(name, "sign_out")
    await eventually(
        lambda: session.blocked_reason is BlockedReason.SIGNED_OUT, timeout=30, what="blocked(signed_out)"
    )
    await eventually(
        lambda: any("g2022 is blocked" in t for t in sink.titles()[seen:]), timeout=30, what="notification"
    )
    body = next(m["message"] for m in sink.received[seen:] if "g2022 is blocked" in m["title"])
    assert "Reason: signed_out" in body
    assert "sentinel login" in body
    await emu.inject(name, "idle_disconnect")

    async def hands_off() -> None:
        assert clicks(await emu.events(name, since=since), "") == [], "sentinel clicked while signed out"
        assert session.state is SessionState.BLOCKED

    # The disconnect must be left alone while signed out: a bounded wait for something not happening.
    await consistently(hands_off, duration=3)
    await emu.inject(name, "sign_in")
    await emu.wait_for_event(
        name, "cell.finished", since=since, predicate=lambda e: e.get("cell_id") == "resume"
    )
    await settled(fleet, name)
    await assert_resumed_once_per_runtime(emu, name, since)
    await eventually(
        lambda: any("g2022 is back to normal" in t for t in sink.titles()[seen:]), timeout=30, what="recovery"
    )


async def test_page_crash_reopens_the_tab_without_a_new_resume(emu: EmulatorServer, fleet: Daemon) -> None:
    name = "g2025"
    session = await settled(fleet, name)
    page = session.page
    runtime = session.runtime_id
    since = time.time()
    cdp = await page.context.new_cdp_session(page)
    with pytest.raises(Exception):  # noqa: B017  # the renderer dies mid-call
        await cdp.send("Page.crash")
    await eventually(
        lambda: session.page is not None and session.page is not page, timeout=30, what="a new page"
    )
    await settled(fleet, name)
    assert session.runtime_id == runtime
    assert await resume_starts(emu, name, since) == {}


async def test_server_outage_is_waited_out(emu: EmulatorServer, fleet: Daemon) -> None:
    """The notebook's server refuses everything for 4 s; the daemon backs off and carries on, same runtime."""
    name = "g2023"
    session = await settled(fleet, name)
    runtime = session.runtime_id
    since = time.time()
    await emu.inject(name, "outage", seconds=4)
    await emu.wait_for_event(name, "outage.ended", since=since, timeout=10)
    await settled(fleet, name, within=30)
    assert session.runtime_id == runtime
    assert await resume_starts(emu, name, since) == {}


def _chromium_main_pid(profile: Path) -> int:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv]
        if any(a == f"--user-data-dir={profile}" for a in args) and not any(
            a.startswith("--type=") for a in args
        ):
            return int(entry.name)
    raise AssertionError(f"no Chromium runs on {profile}")


async def test_chromium_sigkill_is_relaunched(emu: EmulatorServer, fleet: Daemon) -> None:
    """Chromium killed -9: relaunched on the same profile, every tab back, no runtime resumed twice."""
    sessions = [await settled(fleet, f"g{ui}") for ui in UIS]
    runtimes = [s.runtime_id for s in sessions]
    since = time.time()
    os.kill(_chromium_main_pid(fleet.settings.profile.resolve()), signal.SIGKILL)
    await eventually(
        lambda: fleet.host is not None and fleet.host.restarts == 1, timeout=30, what="relaunched"
    )
    for ui in UIS:
        await settled(fleet, f"g{ui}", within=30)
    assert [s.runtime_id for s in sessions] == runtimes
    for ui in UIS:
        assert await resume_starts(emu, f"g{ui}", since) == {}
    assert fleet.snapshot().browser_restarts == 1
