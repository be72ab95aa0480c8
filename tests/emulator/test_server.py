"""The emulator's HTTP surface: pages, the event log, state, reset, shutdown, and the test aids."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sentinel.emulator.ipynb import load_notebook
from sentinel.emulator.testing import EmulatorServer, EmulatorThread, UnknownNotebookError
from tests.emulator._pagesocket import page_socket, process_alive

TEMPLATE = (
    "<!doctype html><title>{{title}}</title>"
    '<script id="colab-bootstrap" type="application/json">{{bootstrap}}</script>'
)


def _write_notebook(folder: Path, name: str, cells: list[dict[str, Any]], title: str | None = None) -> None:
    metadata: dict[str, Any] = {"colab": {"name": title}} if title else {}
    (folder / f"{name}.ipynb").write_text(json.dumps({"nbformat": 4, "metadata": metadata, "cells": cells}))


def _bootstrap(body: str) -> dict[str, Any]:
    found = re.search(r'type="application/json">(.*)</script>', body)
    assert found is not None, "the page has no bootstrap JSON"
    return dict(json.loads(found.group(1)))


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


@pytest.fixture(name="custom")
async def _custom(tmp_path: Path) -> Any:
    """An emulator over a folder of made-up notebooks and a minimal page template."""
    notebooks = tmp_path / "notebooks"
    static = tmp_path / "static"
    notebooks.mkdir()
    static.mkdir()
    (static / "notebook.html").write_text(TEMPLATE)
    (static / "oauth.html").write_text("<p>consent</p>")
    (static / "app.js").write_text("console.log(1)")
    _write_notebook(
        notebooks,
        "tricky",
        [
            {"cell_type": "markdown", "id": "md1", "source": ["# Title\n", "text"]},
            {"cell_type": "code", "metadata": {"id": "fromMeta"}, "source": "print('</script><!--')"},
            {"cell_type": "code", "source": "x = 1 & 2 > 0"},
        ],
        title="A <b>tricky</b> one",
    )
    _write_notebook(notebooks, "plain", [])
    (notebooks / "broken.ipynb").write_text("{nope")
    async with EmulatorServer(notebooks_dir=notebooks, static_dir=static) as emu:
        yield emu


async def test_notebook_page_fills_the_template_with_safe_bootstrap_json(custom: EmulatorServer) -> None:
    """{{title}} is escaped HTML; {{bootstrap}} is JSON that cannot close its <script> element."""
    status, body = await _get(custom.notebook_url("tricky", ui="2022", external="github"))
    assert status == 200
    assert "<title>A &lt;b&gt;tricky&lt;/b&gt; one</title>" in body
    raw = re.search(r'type="application/json">(.*)</script>$', body)
    assert raw is not None
    assert "</script" not in raw.group(1) and "<!--" not in raw.group(1)
    boot = json.loads(raw.group(1))
    assert boot == {
        "notebook": "tricky",
        "title": "A <b>tricky</b> one",
        "ui": "2022",
        "external": "github",
        "ws_url": "/api/notebooks/tricky/ws",
        "idle_timeout": 3600.0,
        "signed_in": True,
        "cells": [
            {"id": "md1", "type": "text", "source": "# Title\ntext"},
            {"id": "fromMeta", "type": "code", "source": "print('</script><!--')"},
            {"id": boot["cells"][2]["id"], "type": "code", "source": "x = 1 & 2 > 0"},
        ],
    }
    assert re.fullmatch(r"[A-Za-z0-9]{12}", boot["cells"][2]["id"])
    _, again = await _get(custom.notebook_url("tricky"))
    assert _bootstrap(again)["cells"][2]["id"] == boot["cells"][2]["id"], "derived ids are stable"


async def test_default_ui_is_2025_and_a_title_defaults_to_the_file_name(custom: EmulatorServer) -> None:
    """No query: ui 2025, external null; no colab name: "<name>.ipynb"."""
    status, body = await _get(f"{custom.base_url}/notebooks/plain")
    assert status == 200
    boot = _bootstrap(body)
    assert (boot["ui"], boot["external"], boot["title"], boot["cells"]) == ("2025", None, "plain.ipynb", [])


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/notebooks/nosuch", 404, "no notebook named 'nosuch'"),
        ("/notebooks/..%2Fsecret", 404, "no notebook named"),
        ("/notebooks/plain?ui=2019", 400, "unknown ui '2019'; expected one of 2022, 2023, 2025, next"),
        (
            "/notebooks/plain?external=gitlab",
            400,
            "unknown external 'gitlab'; expected one of github, unknown",
        ),
        ("/notebooks/broken", 500, "cannot read notebook"),
        ("/api/notebooks/nosuch/state", 404, "unknown notebook 'nosuch'"),
        ("/api/notebooks/nosuch/events", 404, "unknown notebook 'nosuch'"),
        ("/api/notebooks/plain/events?since=soon", 400, "'since' must be a number (server time), got 'soon'"),
    ],
)
async def test_bad_requests_get_a_clear_status_and_message(
    custom: EmulatorServer, path: str, status: int, text: str
) -> None:
    """Unknown notebooks 404, bad query values 400, a corrupt notebook file 500, each with one line."""
    got_status, body = await _get(custom.base_url + path)
    assert got_status == status
    assert text in body


async def test_index_static_files_and_consent_page_are_served(custom: EmulatorServer) -> None:
    """The index links every notebook in each UI generation; /static and /oauth/consent serve files."""
    status, body = await _get(custom.base_url + "/")
    assert status == 200
    for name in ("broken", "plain", "tricky"):
        for ui in ("2022", "2023", "2025", "next"):
            assert f'href="/notebooks/{name}?ui={ui}"' in body
    assert await _get(custom.base_url + "/static/app.js") == (200, "console.log(1)")
    assert await _get(custom.base_url + "/oauth/consent?request=abc") == (200, "<p>consent</p>")


async def test_the_bundled_samples_are_valid_notebooks_with_a_resume_cell() -> None:
    """hello.ipynb parses, has a `# sentinel: resume` cell, a sleeping cell and a Drive mount cell."""
    from sentinel.emulator.ipynb import BUNDLED_NOTEBOOKS

    notebook = load_notebook(BUNDLED_NOTEBOOKS / "hello.ipynb")
    sources = [cell.source for cell in notebook.cells if cell.type == "code"]
    assert any(source.startswith("# sentinel: resume") for source in sources)
    assert any("time.sleep" in source for source in sources)
    assert any('drive.mount("/content/drive")' in source for source in sources)
    assert len({cell.id for cell in notebook.cells}) == len(notebook.cells)


async def test_event_log_filters_by_since_and_can_be_cleared_over_http(
    fresh_emulator: EmulatorServer,
) -> None:
    """GET events?since=t returns later entries only; DELETE empties the log."""
    emu = fresh_emulator
    await emu.inject("hello", "captcha")
    await emu.inject("hello", "still_there")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{emu.base_url}/api/notebooks/hello/events") as response:
            events = await response.json()
        assert [e["fault"] for e in events] == ["captcha", "still_there"]
        assert events[0]["t"] < events[1]["t"]
        async with session.get(
            f"{emu.base_url}/api/notebooks/hello/events", params={"since": repr(events[0]["t"])}
        ) as response:
            assert [e["fault"] for e in await response.json()] == ["still_there"]
        async with session.delete(f"{emu.base_url}/api/notebooks/hello/events") as response:
            assert await response.json() == {"ok": True}
        async with session.get(f"{emu.base_url}/api/notebooks/hello/events") as response:
            assert await response.json() == []


async def test_page_events_are_logged_with_server_time_and_bad_messages_get_an_error(
    fresh_emulator: EmulatorServer,
) -> None:
    """`event` messages land in the log (server `t`, page `client_t`); bad messages are answered, not fatal."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        before = time.time()
        await page.send(type="event", kind="click", target="connect", trusted=True, client_t=12.5, t=1)
        logged = await emu.wait_for_event("hello", "click")
        assert logged["t"] >= before
        assert {k: logged[k] for k in ("target", "trusted", "client_t")} == {
            "target": "connect",
            "trusted": True,
            "client_t": 12.5,
        }
        start = page.mark()
        await page.ws.send_str("not json")
        await page.send(type="teleport")
        await page.send(type="disconnect", reason="bored")
        errors = []
        for _ in range(3):
            message = await page.wait_type("error", after=start)
            errors.append(message["message"])
            start = page.messages.index(message) + 1
        assert errors[1:] == [
            "unknown message type 'teleport'",
            "disconnect needs 'reason' 'idle' or 'user', got 'bored'",
        ]
        await page.send(type="event", kind="page.loaded", ui="2025")
        await emu.wait_for_event("hello", "page.loaded")


async def test_state_reports_runtime_clients_and_queue(fresh_emulator: EmulatorServer) -> None:
    """GET state: runtime id/state/pid/started_at, signed_in, pending faults, clients."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        runtime_id = await page.connect()
        await emu.inject("hello", "too_many_sessions")
        _, body = await _get(f"{emu.base_url}/api/notebooks/hello/state")
        state = json.loads(body)
    assert state["runtime"]["id"] == runtime_id
    assert state["runtime"]["state"] == "connected"
    assert process_alive(state["runtime"]["pid"])
    assert state["runtime"]["started_at"] <= time.time()
    assert (state["signed_in"], state["pending_faults"], state["clients"], state["queue"]) == (
        True,
        ["too_many_sessions"],
        1,
        [],
    )


async def test_reset_kills_runtimes_and_forgets_faults_events_and_sign_out(
    fresh_emulator: EmulatorServer,
) -> None:
    """POST /api/reset: no runtime (process gone), no faults, empty log, signed in."""
    emu = fresh_emulator
    async with page_socket(emu) as page:
        await page.connect()
        pid = (await emu.state("hello"))["runtime"]["pid"]
        await emu.inject("hello", "gpu_limit")
        await emu.inject("hello", "sign_out")
        await emu.inject("hello", "allocation_delay", seconds=9)
        async with aiohttp.ClientSession() as session, session.post(f"{emu.base_url}/api/reset") as response:
            assert await response.json() == {"ok": True}
        state = await emu.state("hello")
    assert not process_alive(pid)
    assert state["runtime"] is None
    assert (state["signed_in"], state["pending_faults"], state["allocation_delay"]) == (True, [], 0.2)
    assert await emu.events("hello") == []


async def test_server_shutdown_kills_every_kernel() -> None:
    """Leaving the EmulatorServer context kills the kernels of every notebook and removes its folders."""
    async with EmulatorServer(allocation_delay=0.0) as emu, page_socket(emu) as page:
        await page.connect()
        pid = (await emu.state("hello"))["runtime"]["pid"]
        assert process_alive(pid)
        state_dir, drive_dir = emu.emulator.state_dir, emu.drive_dir
        assert state_dir.is_dir()
    assert not process_alive(pid)
    assert not state_dir.exists(), "runtimes' /content folders and sockets are removed"
    assert not drive_dir.exists(), "the server's own temporary Drive folder is removed"


async def test_test_aids_refuse_unknown_notebooks_and_bad_faults(fresh_emulator: EmulatorServer) -> None:
    """The testing API raises like the HTTP API answers."""
    from sentinel.emulator.faults import InvalidFaultError

    with pytest.raises(UnknownNotebookError, match="no notebook named 'nosuch'"):
        await fresh_emulator.events("nosuch")
    with pytest.raises(InvalidFaultError, match="needs 'seconds'"):
        await fresh_emulator.inject("hello", "outage")
    with pytest.raises(TimeoutError, match=r"no 'runtime.connected' event within 0.2 s; saw \[\]"):
        await fresh_emulator.wait_for_event("hello", "runtime.connected", timeout=0.2)


def test_emulator_thread_serves_from_a_background_thread_with_a_sync_api() -> None:
    """EmulatorThread: a server on its own loop; sync inject/events/wait_for_event/state/reset."""
    with EmulatorThread(allocation_delay=0.0) as emu:
        assert emu.base_url.startswith("http://127.0.0.1:")
        import urllib.request

        with urllib.request.urlopen(f"{emu.base_url}/api/notebooks/hello/state") as response:
            assert json.loads(response.read())["runtime"] is None
        emu.inject("hello", "gpu_limit")
        event = emu.wait_for_event("hello", "fault.injected")
        assert event["fault"] == "gpu_limit"
        assert emu.state("hello")["pending_faults"] == ["gpu_limit"]
        assert [e["kind"] for e in emu.events("hello", since=event["t"])] == []
        emu.reset()
        assert emu.events("hello") == []
        assert emu.drive_dir.is_dir()
        drive = emu.drive_dir
    assert not drive.exists(), "the thread's own temporary Drive folder is removed"
