"""Every fault kind has an observable effect, and bad fault requests are refused with a clear message."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, expect

from sentinel.emulator.faults import Fault, FaultKind, InvalidFaultError, parse_fault
from sentinel.emulator.testing import EmulatorServer
from tests.emulator._browser import open_notebook
from tests.emulator._pagesocket import page_socket, process_alive


class TestParseFault:
    """Validation of fault requests, independent of the server."""

    def test_accepts_every_kind_without_fields_and_timed_kinds_with_seconds(self) -> None:
        """Each plain kind parses alone; allocation_delay and outage need seconds."""
        for kind in FaultKind:
            if kind in (FaultKind.ALLOCATION_DELAY, FaultKind.OUTAGE):
                assert parse_fault({"kind": kind.value, "seconds": 1.5}) == Fault(kind, 1.5)
            elif kind is FaultKind.CAPTCHA:
                # Google's: the anchor iframe loads after the host; "iframe": false draws it at once.
                assert parse_fault({"kind": "captcha"}) == Fault(kind, iframe_delay=0.3)
                assert parse_fault({"kind": "captcha", "iframe_delay": 0}) == Fault(kind, iframe_delay=0.0)
                assert parse_fault({"kind": "captcha", "iframe": False}) == Fault(kind)
            else:
                assert parse_fault({"kind": kind.value}) == Fault(kind)

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ([], "expected a JSON object like {'kind': 'crash_oom'}, got an array"),
            ({}, "missing field 'kind'"),
            ({"kind": "meteor"}, "unknown fault kind 'meteor'; expected one of: idle_disconnect, "),
            ({"kind": 3}, "unknown fault kind 3"),
            ({"kind": "outage"}, "fault 'outage' needs 'seconds' (a number > 0)"),
            (
                {"kind": "outage", "seconds": 0},
                "fault 'outage': 'seconds' must be > 0 and at most 86400, got 0",
            ),
            ({"kind": "outage", "seconds": -2}, "must be > 0"),
            ({"kind": "allocation_delay", "seconds": "5"}, "'seconds' must be a number > 0, got '5'"),
            ({"kind": "allocation_delay", "seconds": True}, "'seconds' must be a number > 0, got True"),
            ({"kind": "outage", "seconds": float("inf")}, "must be > 0 and at most 86400, got inf"),
            (
                {"kind": "captcha", "seconds": 3},
                "fault 'captcha' takes 'iframe_delay' and 'iframe'; unexpected 'seconds'",
            ),
            ({"kind": "captcha", "iframe_delay": -1}, "'iframe_delay' must be >= 0 and at most 60, got -1"),
            ({"kind": "captcha", "iframe_delay": "1"}, "'iframe_delay' must be a number >= 0, got '1'"),
            ({"kind": "captcha", "iframe": "no"}, "'iframe' must be true or false, got 'no'"),
            ({"kind": "captcha", "iframe": False, "iframe_delay": 1}, "'iframe_delay' needs an iframe"),
            (
                {"kind": "still_there", "seconds": 3},
                "fault 'still_there' takes no fields besides 'kind'; unexpected 'seconds'",
            ),
            (
                {"kind": "outage", "seconds": 3, "why": "x"},
                "fault 'outage' takes 'seconds'; unexpected 'why'",
            ),
        ],
    )
    def test_refuses_bad_requests_with_one_line(self, body: Any, message: str) -> None:
        """The message names the problem (and is what the HTTP API returns with 400)."""
        with pytest.raises(InvalidFaultError) as caught:
            parse_fault(body)
        assert message in str(caught.value)
        assert "\n" not in str(caught.value)


async def _post(emu: EmulatorServer, name: str, data: bytes) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{emu.base_url}/api/notebooks/{name}/faults",
            data=data,
            headers={"Content-Type": "application/json"},
        ) as response,
    ):
        return response.status, await response.json()


async def test_fault_api_validation_over_http(fresh_emulator: EmulatorServer) -> None:
    """The HTTP API returns the parser's one-line messages with status 400, 404 for unknown notebooks."""
    emu = fresh_emulator
    status, body = await _post(emu, "hello", b"{not json")
    assert status == 400
    assert body["error"].startswith("invalid JSON body: ")
    status, body = await _post(emu, "hello", b'{"kind": "meteor"}')
    assert status == 400
    assert body["error"].startswith("unknown fault kind 'meteor'")
    status, body = await _post(emu, "hello", b'{"kind": "outage"}')
    assert (status, body) == (400, {"error": "fault 'outage' needs 'seconds' (a number > 0)"})
    status, body = await _post(emu, "nosuch", b'{"kind": "captcha"}')
    assert (status, body) == (404, {"error": "unknown notebook 'nosuch'"})
    assert [e["kind"] for e in await emu.events("hello")] == []
    status, body = await _post(emu, "hello", b'{"kind": "gpu_limit"}')
    assert (status, body) == (200, {"ok": True})
    assert [(e["kind"], e["fault"]) for e in await emu.events("hello")] == [("fault.injected", "gpu_limit")]


@pytest.mark.parametrize(("kind", "reason"), [("idle_disconnect", "idle"), ("max_lifetime", "max_lifetime")])
async def test_disconnect_faults_kill_the_kernel_and_tell_the_page_why(
    fresh_emulator: EmulatorServer, kind: str, reason: str
) -> None:
    """The kernel process is gone and the page gets `runtime` disconnected with the reason."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        runtime_id = await page.connect()
        pid = (await emu.state("hello"))["runtime"]["pid"]
        start = page.mark()
        await emu.inject("hello", kind)
        message = await page.wait_type("runtime", after=start, state="disconnected")
        assert message == {"type": "runtime", "state": "disconnected", "id": runtime_id, "reason": reason}
        state = await page.wait_type("state", after=start)
        assert state["runtime"]["state"] == "disconnected"
    assert not process_alive(pid)
    kinds = [(e["kind"], e.get("reason")) for e in await emu.events("hello")]
    assert kinds[-2:] == [("fault.injected", None), ("runtime.disconnected", reason)]


async def test_crash_oom_shows_the_toast_and_restarts_with_a_new_runtime(
    fresh_emulator: EmulatorServer,
) -> None:
    """crash_oom: kernel killed, the RAM toast, then a NEW runtime id connects by itself without state."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        first = await page.connect()
        await page.run("set", "big = 1")
        pid = (await emu.state("hello"))["runtime"]["pid"]
        start = page.mark()
        await emu.inject("hello", "crash_oom")
        toast = await page.wait_type("toast", after=start)
        assert toast == {
            "type": "toast",
            "message": "Your session crashed after using all available RAM.",
            "action": "View runtime logs",
        }
        reconnected = await page.wait_type("runtime", after=start, state="connected")
        assert reconnected["id"] != first
        assert not process_alive(pid)
        text, _ = await page.run("get", "print('big' in globals())")
    assert text == "False\n"
    kinds = [e["kind"] for e in await emu.events("hello")]
    tail = kinds[kinds.index("fault.injected") :]
    assert tail[:4] == ["fault.injected", "runtime.crashed", "runtime.allocating", "runtime.connected"]


async def test_gpu_limit_fails_the_next_gpu_connect_only(fresh_emulator: EmulatorServer) -> None:
    """The GPU dialog once; "Connect without GPU" (gpu false) connects; the fault is then consumed."""
    emu = fresh_emulator
    await emu.inject("hello", "gpu_limit")
    assert (await emu.state("hello"))["pending_faults"] == ["gpu_limit"]
    async with page_socket(emu) as page:
        start = page.mark()
        await page.send(type="connect", gpu=True)
        assert await page.wait_type("connect_failed", after=start) == {
            "type": "connect_failed",
            "dialog": "gpu_limit",
        }
        assert (await emu.state("hello"))["runtime"] is None
        assert (await emu.state("hello"))["pending_faults"] == []
        await page.connect(gpu=False)
        assert (await emu.state("hello"))["runtime"]["gpu"] is False
    failed = await emu.wait_for_event("hello", "runtime.connect_failed")
    assert (failed["dialog"], failed["gpu"]) == ("gpu_limit", True)


async def test_too_many_sessions_fails_the_next_connect_then_clears(fresh_emulator: EmulatorServer) -> None:
    """The sessions dialog on the next connect; the one after connects."""
    emu = fresh_emulator
    await emu.inject("hello", "too_many_sessions")
    async with page_socket(emu) as page:
        start = page.mark()
        await page.send(type="connect", gpu=True)
        failed = await page.wait_type("connect_failed", after=start)
        assert failed["dialog"] == "too_many_sessions"
        await page.connect()


@pytest.mark.parametrize("kind", ["captcha", "still_there", "unknown_dialog"])
async def test_prompts_are_shown_on_the_page_now(fresh_emulator: EmulatorServer, kind: str) -> None:
    """captcha, still_there and unknown_dialog reach every connected page as `show`."""
    async with page_socket(fresh_emulator) as page, page_socket(fresh_emulator) as other:
        start, other_start = page.mark(), other.mark()
        await fresh_emulator.inject("hello", kind)
        # The captcha says when its iframe loads (Google's loads after the host appears).
        shown = {"type": "show", "what": kind} | ({"iframe_delay": 0.3} if kind == "captcha" else {})
        assert await page.wait_type("show", after=start) == shown
        assert await other.wait_type("show", after=other_start) == shown


async def test_signed_out_blocks_connecting_and_running_until_signed_in(
    fresh_emulator: EmulatorServer,
) -> None:
    """Signed out: state says so, Run shows sign_in_required, Connect fails; sign_in restores both."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        start = page.mark()
        await emu.inject("hello", "sign_out")
        assert (await page.wait_type("state", after=start))["signed_in"] is False
        await page.send(type="execute", cell_id="c1", code="print(1)")
        assert await page.wait_type("show", after=start) == {"type": "show", "what": "sign_in_required"}
        await page.send(type="connect", gpu=True)
        assert (await page.wait_type("connect_failed", after=start))["dialog"] == "signed_out"
        assert (await emu.state("hello"))["runtime"] is None
        start = page.mark()
        await emu.inject("hello", "sign_in")
        assert (await page.wait_type("state", after=start))["signed_in"] is True
        text, _ = await page.run("c1", "print(1)")
    assert text == "1\n"
    kinds = [e["kind"] for e in await emu.events("hello") if e["kind"].startswith("auth.")]
    assert kinds == ["auth.signed_out", "auth.signed_in"]


async def test_outage_refuses_page_and_socket_then_recovers_while_the_runtime_lives(
    fresh_emulator: EmulatorServer,
) -> None:
    """During an outage the page is 503, new sockets are refused, open ones are closed with 1011."""
    emu = fresh_emulator
    url = emu.base_url
    async with page_socket(emu) as page:
        runtime_id = await page.connect()
        pid = (await emu.state("hello"))["runtime"]["pid"]
        await emu.inject("hello", "outage", seconds=1.5)
        assert await page.wait_closed(within=5) == 1011
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/notebooks/hello") as response:
            assert response.status == 503
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{url}/api/notebooks/hello/ws")
        assert refused.value.status == 503
        assert (await emu.state("hello"))["outage"] is True
        await emu.wait_for_event("hello", "outage.ended", timeout=10)
    assert process_alive(pid)
    async with page_socket(emu) as page:
        state = await page.wait_type("state")
        assert state["runtime"]["id"] == runtime_id
    started = await emu.wait_for_event("hello", "outage.started")
    ended = await emu.wait_for_event("hello", "outage.ended")
    assert started["seconds"] == 1.5
    assert ended["t"] - started["t"] >= 1.5
    assert time.time() >= ended["t"]


class TestOnThePage:
    """Each fault has its visible effect in the real page (Chromium), confirmed by the page's own events."""

    @staticmethod
    async def _dialog_after(emu: EmulatorServer, since: float, dialog: str) -> dict[str, Any]:
        return await emu.wait_for_event(
            "hello", "dialog.shown", since=since, predicate=lambda e: e["dialog"] == dialog
        )

    @pytest.mark.parametrize(
        ("kind", "needs_runtime", "dialog", "title"),
        [
            ("idle_disconnect", True, "runtime_disconnected", "Runtime disconnected"),
            ("max_lifetime", True, "runtime_disconnected", "Runtime disconnected"),
            ("still_there", False, "still_there", "Are you still there?"),
            ("unknown_dialog", False, "unknown_dialog", "Something new in Colab"),
        ],
    )
    async def test_faults_that_open_a_dialog_now(
        self,
        fresh_emulator: EmulatorServer,
        page: Page,
        kind: str,
        needs_runtime: bool,
        dialog: str,
        title: str,
    ) -> None:
        """The fault's dialog opens in the page at once."""
        emu = fresh_emulator
        await open_notebook(page, emu)
        if needs_runtime:
            await page.locator("colab-connect-button #connect").click()
            await emu.wait_for_event("hello", "runtime.connected")
        since = time.time()
        await emu.inject("hello", kind)
        await self._dialog_after(emu, since, dialog)
        await expect(page.get_by_role("dialog", name=title)).to_be_visible()

    async def test_captcha_shows_the_recaptcha_dialog(
        self, fresh_emulator: EmulatorServer, page: Page
    ) -> None:
        """captcha: `colab-recaptcha-dialog` appears."""
        emu = fresh_emulator
        await open_notebook(page, emu)
        since = time.time()
        await emu.inject("hello", "captcha")
        await self._dialog_after(emu, since, "captcha")
        assert await page.locator("body > colab-recaptcha-dialog").count() == 1
        await expect(
            page.locator("colab-recaptcha-dialog").get_by_role("dialog", name="reCAPTCHA")
        ).to_be_visible()

    async def test_captcha_anchor_is_an_iframe_that_loads_after_the_host(
        self, fresh_emulator: EmulatorServer, page: Page
    ) -> None:
        """Like Google's: the host first, its anchor iframe ``iframe_delay`` s later, the challenge hidden in body."""
        emu = fresh_emulator
        await open_notebook(page, emu)
        since = time.time()
        await emu.inject("hello", "captcha", iframe_delay=0.5)
        shown = await self._dialog_after(emu, since, "captcha")
        loaded = await emu.wait_for_event("hello", "captcha.loaded", since=since)
        assert loaded["client_t"] - shown["client_t"] >= 0.45
        anchor = page.frame_locator('colab-recaptcha-dialog iframe[title="reCAPTCHA"]')
        await expect(anchor.get_by_role("checkbox")).to_be_visible()
        assert await page.locator("body > .rc-challenge-container iframe").count() == 1
        await anchor.locator("#recaptcha-anchor-label").click()
        click = await emu.wait_for_event("hello", "click", since=since)
        assert (click["target"], click["trusted"]) == ("captcha:checkbox", True)
        await page.locator("colab-recaptcha-dialog mwc-button").click()
        await expect(page.locator("colab-recaptcha-dialog, .rc-challenge-container")).to_have_count(0)

    async def test_captcha_without_iframe_draws_its_anchor_at_once(
        self, fresh_emulator: EmulatorServer, page: Page
    ) -> None:
        """``"iframe": false``: the emulator's first reCAPTCHA, the anchor in the host's shadow root."""
        emu = fresh_emulator
        await open_notebook(page, emu)
        since = time.time()
        await emu.inject("hello", "captcha", iframe=False)
        await self._dialog_after(emu, since, "captcha")
        await expect(page.locator("colab-recaptcha-dialog .recaptcha-checkbox")).to_be_visible()
        assert await page.locator("colab-recaptcha-dialog iframe").count() == 0

    @pytest.mark.parametrize(
        ("kind", "dialog"), [("gpu_limit", "gpu_limit"), ("too_many_sessions", "too_many_sessions")]
    )
    async def test_connect_faults_show_their_dialog_on_the_next_connect(
        self, fresh_emulator: EmulatorServer, page: Page, kind: str, dialog: str
    ) -> None:
        """gpu_limit / too_many_sessions: clicking Connect shows the dialog instead of connecting."""
        emu = fresh_emulator
        await emu.inject("hello", kind)
        await open_notebook(page, emu)
        since = time.time()
        await page.locator("colab-connect-button #connect").click()
        await self._dialog_after(emu, since, dialog)
        assert (await emu.state("hello"))["runtime"] is None
        if kind == "gpu_limit":
            await (
                page.get_by_role("dialog", name="Cannot connect to GPU backend")
                .get_by_role("button", name="Connect without GPU")
                .click()
            )
            connected = await emu.wait_for_event("hello", "runtime.connected", since=since)
            assert connected["gpu"] is False

    async def test_crash_oom_shows_the_toast_and_the_page_follows_the_new_runtime(
        self, fresh_emulator: EmulatorServer, page: Page
    ) -> None:
        """crash_oom: the RAM toast with "View runtime logs"; `endpoint.managedId` becomes the new id."""
        emu = fresh_emulator
        await open_notebook(page, emu)
        await page.locator("colab-connect-button #connect").click()
        first = await emu.wait_for_event("hello", "runtime.connected")
        since = time.time()
        await emu.inject("hello", "crash_oom")
        toast = await emu.wait_for_event("hello", "toast.shown", since=since)
        assert toast["message"] == "Your session crashed after using all available RAM."
        await expect(page.get_by_text("Your session crashed after using all available RAM.")).to_be_visible()
        await expect(page.get_by_role("link", name="View runtime logs")).to_be_visible()
        second = await emu.wait_for_event("hello", "runtime.connected", since=since)
        assert second["runtime_id"] != first["runtime_id"]
        await expect(page.locator("colab-connect-button #connect")).to_have_text("")
        managed = await page.evaluate("window.colab.global.notebook.kernel.endpoint.managedId")
        assert managed == second["runtime_id"]

    async def test_sign_out_shows_the_sign_in_link_and_blocks_running(
        self, fresh_emulator: EmulatorServer, page: Page
    ) -> None:
        """sign_out: a "Sign in" link; Run shows "Google sign-in required"; sign_in removes the link."""
        emu = fresh_emulator
        await open_notebook(page, emu)
        await emu.inject("hello", "sign_out")
        link = page.get_by_role("link", name="Sign in")
        await expect(link).to_be_visible()
        since = time.time()
        await page.locator("#cell-hello1state1 colab-run-button").click()
        await self._dialog_after(emu, since, "sign_in_required")
        await expect(page.get_by_role("dialog", name="Google sign-in required")).to_be_visible()
        assert not any(e["kind"] == "cell.started" for e in await emu.events("hello"))
        await emu.inject("hello", "sign_in")
        await expect(link).to_be_hidden()

    async def test_allocation_delay_keeps_the_button_on_connecting(
        self, fresh_emulator: EmulatorServer, page: Page
    ) -> None:
        """allocation_delay: "Connecting" shows for that long, then the connected meters."""
        emu = fresh_emulator
        await emu.inject("hello", "allocation_delay", seconds=2)
        await open_notebook(page, emu)
        button = page.locator("colab-connect-button #connect")
        await button.click()
        await expect(button).to_have_text("Connecting")
        allocating = await emu.wait_for_event("hello", "runtime.allocating")
        connected = await emu.wait_for_event("hello", "runtime.connected")
        assert connected["t"] - allocating["t"] >= 2
        await expect(button).to_have_text("")

    async def test_outage_refuses_the_page_then_it_comes_back_to_the_same_runtime(
        self, fresh_emulator: EmulatorServer, page: Page
    ) -> None:
        """outage: a reload gets 503; when it ends, the page loads again and finds the runtime still up."""
        emu = fresh_emulator
        await open_notebook(page, emu)
        await page.locator("colab-connect-button #connect").click()
        first = await emu.wait_for_event("hello", "runtime.connected")
        await emu.inject("hello", "outage", seconds=2)
        response = await page.goto(emu.notebook_url("hello"))
        assert response is not None and response.status == 503
        await emu.wait_for_event("hello", "outage.ended", timeout=10)
        await open_notebook(page, emu)
        managed = await page.evaluate("window.colab.global.notebook.kernel.endpoint.managedId")
        assert managed == first["runtime_id"]
