"""Runtimes are real kernels: code runs, output streams, state dies with the runtime, processes do not leak."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path

from playwright.async_api import Page, expect

from sentinel.emulator.runtime import Runtime
from sentinel.emulator.testing import EmulatorServer
from tests._eventually import consistently, eventually
from tests.emulator._browser import open_notebook, output, run_cell, set_cell_text
from tests.emulator._pagesocket import page_socket, process_alive


async def test_cells_run_real_python_in_a_kernel_of_the_servers_interpreter(
    fresh_emulator: EmulatorServer,
) -> None:
    """A cell's code runs in a separate process of the same python, with the documented environment."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        runtime_id = await page.connect()
        code = (
            "import json, os, sys, sentinel\n"
            "print(json.dumps({'exe': sys.executable, 'pid': os.getpid(), 'cwd': os.getcwd(),\n"
            "  'root': os.path.realpath(os.environ['SENTINEL_COLAB_CONTENT_ROOT']), 'url': os.environ['SENTINEL_EMULATOR_URL'],\n"
            "  'rid': os.environ['SENTINEL_RUNTIME_ID']}))"
        )
        text, done = await page.run("env", code)
    assert done["error"] is False
    assert done["execution_count"] == 1
    seen = json.loads(text)
    state_pid = (await emu.state("hello"))["runtime"]["pid"]
    assert seen["exe"] == sys.executable
    assert seen["pid"] == state_pid
    assert seen["pid"] != os.getpid()
    assert seen["rid"] == runtime_id
    assert seen["url"] == emu.base_url
    assert seen["cwd"] == seen["root"]


async def test_output_streams_to_the_page_while_the_cell_still_runs(fresh_emulator: EmulatorServer) -> None:
    """The first line arrives while the cell is still running, not all at once at the end."""
    async with page_socket(fresh_emulator) as page:
        await page.connect()
        start = page.mark()
        await page.send(
            type="execute",
            cell_id="stream",
            code="import time\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('second')",
        )
        first = await page.wait_for(
            lambda m: m.get("type") == "output" and "first" in m.get("text", ""), after=start
        )
        index = page.messages.index(first)
        assert not any(
            m.get("type") == "cell" and m.get("state") == "idle" for m in page.messages[start:index]
        ), "the cell finished before its first output reached the page"
        await page.wait_type("cell", after=start, cell_id="stream", state="idle")
        assert page.output_text("stream", after=start) == "first\nsecond\n"


async def test_results_errors_and_html_reach_the_page_as_documented(fresh_emulator: EmulatorServer) -> None:
    """Text results come as `plain`, HTML as `html`, tracebacks on stderr with error=true."""
    async with page_socket(fresh_emulator) as page:
        await page.connect()
        start = page.mark()
        _, done = await page.run("value", "6 * 7")
        assert done["error"] is False
        assert {"type": "output", "cell_id": "value", "plain": "42"} in page.messages[start:]
        start = page.mark()
        await page.run("rich", "from IPython.display import HTML\nHTML('<b>bold</b>')")
        assert {"type": "output", "cell_id": "rich", "html": "<b>bold</b>"} in page.messages[start:]
        text, done = await page.run("boom", "raise RuntimeError('kaboom')")
        assert done["error"] is True
        assert "RuntimeError: kaboom" in text
        assert "\x1b[" not in text, "tracebacks reach the page without ANSI colour codes"


async def test_reconnect_gives_a_fresh_runtime_without_state(fresh_emulator: EmulatorServer) -> None:
    """After a disconnect the old kernel process is gone and a new runtime knows nothing of the old one."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        first = await page.connect()
        await page.run("set", "x = 41\nopen('scratch.txt', 'w').write('on the VM disk')")
        old_pid = (await emu.state("hello"))["runtime"]["pid"]
        start = page.mark()
        await page.send(type="disconnect", reason="user")
        gone = await page.wait_type("runtime", after=start, state="disconnected")
        assert gone["reason"] == "user"
        assert not process_alive(old_pid)
        second = await page.connect()
        text, done = await page.run("get", "import os\nprint(os.path.exists('scratch.txt'))\nx + 1")
    assert second != first
    assert done["error"] is True
    assert "False" in text, "the new runtime has a fresh /content"
    assert "NameError" in text
    events = await emu.events("hello")
    disconnected = [e for e in events if e["kind"] == "runtime.disconnected"]
    assert [(e["runtime_id"], e["reason"]) for e in disconnected] == [(first, "user")]


async def test_cells_queue_in_order_and_an_error_cancels_the_queue(fresh_emulator: EmulatorServer) -> None:
    """Cells sent while one runs wait (pending) and run in order; an error drops the rest."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        await page.connect()
        start = page.mark()
        await page.send(type="execute", cell_id="a", code="import time; time.sleep(0.5); print('a')")
        await page.send(type="execute", cell_id="b", code="print('b')")
        await page.send(type="execute", cell_id="c", code="1/0")
        await page.send(type="execute", cell_id="d", code="print('d')")
        await page.wait_type("cell", after=start, cell_id="d", state="idle")
        states = [(m["cell_id"], m["state"]) for m in page.messages[start:] if m.get("type") == "cell"]
    per_cell = {cell: [state for c, state in states if c == cell] for cell in "abcd"}
    assert per_cell == {
        "a": ["pending", "running", "idle"],
        "b": ["pending", "running", "idle"],
        "c": ["pending", "running", "idle"],
        "d": ["pending", "idle"],
    }
    running = [c for c, state in states if state == "running"]
    assert running == ["a", "b", "c"]
    assert states.index(("a", "idle")) < states.index(("b", "running"))
    assert states.index(("c", "idle")) < states.index(("d", "idle"))
    finished = [(e["cell_id"], e["error"]) for e in await emu.events("hello") if e["kind"] == "cell.finished"]
    assert finished == [("a", False), ("b", False), ("c", True)]


async def test_interrupt_stops_the_running_cell_and_cancel_drops_a_queued_one(
    fresh_emulator: EmulatorServer,
) -> None:
    """`interrupt` raises KeyboardInterrupt in the kernel; `cancel` removes a pending cell."""
    async with page_socket(fresh_emulator) as page:
        await page.connect()
        start = page.mark()
        await page.send(
            type="execute", cell_id="long", code="import time\nprint('go', flush=True)\ntime.sleep(60)"
        )
        await page.send(type="execute", cell_id="queued", code="print('never')")
        await page.wait_for(lambda m: m.get("type") == "output" and m.get("cell_id") == "long", after=start)
        await page.send(type="cancel", cell_id="queued")
        await page.wait_type("cell", after=start, cell_id="queued", state="idle")
        began = time.monotonic()
        await page.send(type="interrupt")
        done = await page.wait_type("cell", after=start, cell_id="long", state="idle")
        assert time.monotonic() - began < 10
        assert done["error"] is True
        assert "KeyboardInterrupt" in page.output_text("long", after=start)
        assert "never" not in page.output_text("queued", after=start)
        text, _ = await page.run("after", "print('still alive')")
        assert text == "still alive\n"


async def test_restart_session_keeps_the_runtime_and_its_files_but_not_python_state(
    fresh_emulator: EmulatorServer,
) -> None:
    """Restart session: same runtime id and /content, a new process, variables gone."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        runtime_id = await page.connect()
        await page.run("set", "y = 1\nopen('kept.txt', 'w').write('x')")
        old_pid = (await emu.state("hello"))["runtime"]["pid"]
        start = page.mark()
        await page.send(type="restart")
        restarted = await page.wait_type("runtime", after=start, state="connected", reason="restart")
        assert restarted["id"] == runtime_id
        assert not process_alive(old_pid)
        text, _ = await page.run("get", "import os\nprint(os.path.exists('kept.txt'), 'y' in globals())")
    assert text == "True False\n"
    assert (await emu.state("hello"))["runtime"]["id"] == runtime_id
    assert any(e["kind"] == "runtime.restarted" for e in await emu.events("hello"))


async def test_running_a_cell_while_disconnected_connects_first(fresh_emulator: EmulatorServer) -> None:
    """As on Colab, Run on a disconnected notebook allocates a runtime, then runs the cell."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        text, done = await page.run("auto", "print('ran')")
    assert text == "ran\n"
    assert done["error"] is False
    kinds = [e["kind"] for e in await emu.events("hello")]
    assert kinds.index("runtime.connected") < kinds.index("cell.started")


async def test_closing_the_page_keeps_the_runtime_and_a_new_page_sees_it(
    fresh_emulator: EmulatorServer,
) -> None:
    """Closing or reloading a tab does not stop the runtime; the next page gets it in `state`."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        runtime_id = await page.connect()
        await page.run("set", "z = 'kept'")

    async def still_connected() -> None:
        assert (await emu.state("hello"))["runtime"]["state"] == "connected"

    # The runtime must NOT stop once the socket is gone: a bounded wait for something not happening.
    await consistently(still_connected, duration=0.5)
    async with page_socket(emu) as page:
        state = await page.wait_type("state")
        assert state["runtime"] == {"id": runtime_id, "state": "connected", "gpu": True}
        text, _ = await page.run("get", "print(z)")
    assert text == "kept\n"


async def test_a_kernel_that_dies_by_itself_is_a_crash_and_is_replaced(
    fresh_emulator: EmulatorServer,
) -> None:
    """User code killing its own process: crash toast, `runtime.crashed` (reason crash), a new runtime."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        first = await page.connect()
        start = page.mark()
        since = time.time()
        await page.send(type="execute", cell_id="die", code="import os\nos._exit(1)")
        toast = await page.wait_type("toast", after=start)
        assert toast == {
            "type": "toast",
            "message": "Your session crashed for an unknown reason.",
            "action": "View runtime logs",
        }
        settled = await page.wait_type("cell", after=start, cell_id="die", state="idle")
        assert settled["error"] is True
        crashed = await emu.wait_for_event("hello", "runtime.crashed", since=since)
        assert crashed["runtime_id"] == first
        assert crashed["reason"] == "crash"
        connected = await emu.wait_for_event("hello", "runtime.connected", since=crashed["t"])
        assert connected["runtime_id"] != first


async def test_allocation_takes_at_least_the_allocation_delay(fresh_emulator: EmulatorServer) -> None:
    """The allocation_delay fault makes "Connecting" last that long (the page sees `allocating` meanwhile)."""
    emu = fresh_emulator
    await emu.inject("hello", "allocation_delay", seconds=2.0)
    assert (await emu.state("hello"))["allocation_delay"] == 2.0
    async with page_socket(emu) as page:
        await page.connect()
    events = await emu.events("hello")
    allocating = next(e for e in events if e["kind"] == "runtime.allocating")
    connected = next(e for e in events if e["kind"] == "runtime.connected")
    assert connected["t"] - allocating["t"] >= 2.0


async def test_max_lifetime_disconnects_a_busy_runtime() -> None:
    """A runtime older than max_lifetime is disconnected even while a cell runs, and its kernel is killed."""
    async with EmulatorServer(max_lifetime=2.0, allocation_delay=0.0) as emu, page_socket(emu) as page:
        runtime_id = await page.connect()
        pid = (await emu.state("hello"))["runtime"]["pid"]
        start = page.mark()
        await page.send(type="execute", cell_id="busy", code="import time\ntime.sleep(30)")
        gone = await page.wait_type("runtime", after=start, state="disconnected", within=20)
        assert gone == {
            "type": "runtime",
            "state": "disconnected",
            "id": runtime_id,
            "reason": "max_lifetime",
        }
        assert not process_alive(pid)
        busy = await page.wait_type("cell", after=start, cell_id="busy", state="idle")
        assert busy["error"] is True
        event = await emu.wait_for_event("hello", "runtime.disconnected")
        assert event["reason"] == "max_lifetime"


async def test_the_page_runs_real_code_and_a_reconnect_in_the_page_loses_state(
    fresh_emulator: EmulatorServer, page: Page
) -> None:
    """In Chromium: Connect, run a cell (output in the page), the runtime disconnects, Reconnect, state gone."""
    emu = fresh_emulator
    await open_notebook(page, emu)
    await page.locator("colab-connect-button #connect").click()
    first = await emu.wait_for_event("hello", "runtime.connected")
    await set_cell_text(page, "hello1state1", "secret = 'kept in memory'\nprint('set', secret)")
    assert (await run_cell(page, emu, "hello1state1"))["error"] is False
    await expect(output(page, "hello1state1")).to_contain_text("set kept in memory")
    managed = await page.evaluate("window.colab.global.notebook.kernel.endpoint.managedId")
    assert managed == first["runtime_id"]

    since = time.time()
    await emu.inject("hello", "idle_disconnect")
    shown = await emu.wait_for_event(
        "hello", "dialog.shown", since=since, predicate=lambda e: e["dialog"] == "runtime_disconnected"
    )
    assert shown["ui"] == "2025"
    await (
        page.get_by_role("dialog", name="Runtime disconnected")
        .get_by_role("button", name="Reconnect")
        .click()
    )
    second = await emu.wait_for_event("hello", "runtime.connected", since=since)
    assert second["runtime_id"] != first["runtime_id"]
    assert not process_alive(first["pid"])

    await set_cell_text(page, "hello2count1", "print(secret)")
    assert (await run_cell(page, emu, "hello2count1"))["error"] is True
    await expect(output(page, "hello2count1")).to_contain_text("NameError: name 'secret' is not defined")


async def test_concurrent_lifecycle_requests_never_orphan_a_kernel(fresh_emulator: EmulatorServer) -> None:
    """Crash, disconnect, restart and connect racing each other leave at most one live kernel: the current one."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        await page.connect()
        await asyncio.gather(
            emu.inject("hello", "crash_oom"),
            page.send(type="connect", gpu=True),
            emu.inject("hello", "idle_disconnect"),
            page.send(type="restart"),
            page.send(type="connect", gpu=True),
            emu.inject("hello", "crash_oom"),
        )
        await page.connect()

        async def one_live_kernel() -> None:
            state = await emu.state("hello")
            events = await emu.events("hello")
            pids = {e["pid"] for e in events if e["kind"] in ("runtime.connected", "runtime.restarted")}
            alive = {pid for pid in pids if process_alive(pid)}
            assert state["runtime"]["state"] == "connected"
            assert alive == {state["runtime"]["pid"]}, f"live kernels {alive}, runtime {state['runtime']}"

        await eventually(one_live_kernel)
        # A straggling allocation must not leave a second kernel later either (a bounded wait for
        # something not happening).
        await consistently(one_live_kernel, duration=1.0)


async def test_a_closed_emulator_starts_no_kernel() -> None:
    """A connect that reaches a notebook after server shutdown starts nothing (no kernel outlives the server)."""
    emu = EmulatorServer(allocation_delay=0)
    await emu.start()
    hub = emu.hub("hello")
    await emu.close()
    await hub.handle_message({"type": "connect", "gpu": False})
    await hub.connect(gpu=False)
    assert hub.runtime is None
    assert hub.snapshot()["runtime"] is None


def _kernels_of(runtime_id: str) -> list[int]:
    """The live (not zombie) processes whose environment names ``runtime_id``: its kernels."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if f"SENTINEL_RUNTIME_ID={runtime_id}".encode() in environ and state != "Z":
            found.append(int(entry))
    return found


async def test_a_destroy_that_overlaps_a_restart_leaves_no_kernel_and_no_thread(tmp_path: Path) -> None:
    """Restart and destroy of one runtime at once: the destroy comes second, so no kernel and no channel thread stays."""
    runtime_id = f"overlap-{os.getpid()}-{time.monotonic_ns()}"
    runtime = Runtime(
        runtime_id,
        content_dir=tmp_path / "c",
        work_dir=tmp_path / "k",
        emulator_url="http://127.0.0.1:9",
        gpu=False,
    )
    threads = set(threading.enumerate())
    await runtime.start()
    assert _kernels_of(runtime_id) == [runtime.pid]
    await asyncio.gather(runtime.restart(), runtime.destroy())
    assert runtime.pid is None
    assert _kernels_of(runtime_id) == []
    # Only the loop's executor (asyncio_N, which removed /content) may have started since.
    assert [
        t.name for t in threading.enumerate() if t not in threads and not t.name.startswith("asyncio_")
    ] == []
