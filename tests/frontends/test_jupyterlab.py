"""JupyterLabFrontend against a real JupyterLab 4.6 / Notebook 7.6 server on 127.0.0.1, in real Chromium."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page

from sentinel.frontends import Connection, Dialog, Observation, Signal, detect_frontend, make_frontends
from sentinel.frontends.jupyterlab import JupyterLabFrontend
from tests._eventually import consistently, eventually
from tests._jupyter import RESUMING, TOKEN, JupyterServer

pytestmark = [pytest.mark.jupyter, pytest.mark.slow]

MARKER = "sentinel: resume"


@pytest.fixture(scope="module")
async def jupyter(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[JupyterServer]:
    async with JupyterServer(tmp_path_factory.mktemp("jupyter")) as server:
        for name in ("lab.ipynb", "nb7.ipynb", "gone.ipynb"):
            server.write(name, RESUMING)
        yield server


async def _connected(frontend: JupyterLabFrontend, page: Page) -> Observation:
    async def check() -> Observation:
        obs = await frontend.observe(page)
        assert obs.connection is Connection.CONNECTED and not obs.busy, obs
        return obs

    return await eventually(check, timeout=60)


async def _open(frontend: JupyterLabFrontend, page: Page, url: str) -> list[Signal]:
    signals: list[Signal] = []
    await page.goto(url)
    await frontend.install(page, signals.append)
    return signals


async def test_auto_detects_lab_and_runs_the_resume_cell_in_place(jupyter: JupyterServer, page: Page) -> None:
    """1. /lab/tree/x.ipynb is recognised by --frontend auto; its kernel reads CONNECTED as "<kernel id>/<process>".
    2. The resume cell runs once, in place: the notebook on disk keeps its two cells.
    """
    await page.goto(jupyter.url("/lab/tree/lab.ipynb"))
    frontend = await detect_frontend(page, make_frontends("auto"))
    assert isinstance(frontend, JupyterLabFrontend)
    signals: list[Signal] = []
    await frontend.install(page, signals.append)
    obs = await _connected(frontend, page)
    kernel_id = await jupyter.kernel_of("lab.ipynb")
    assert obs.runtime_id is not None and obs.runtime_id.startswith(kernel_id + "/")
    assert obs.signed_in is True and not obs.dialogs
    await eventually(lambda: any(s.observation.connection is Connection.CONNECTED for s in signals))

    cell = await frontend.run_cell_with_marker(page, MARKER)
    await eventually(lambda: len(jupyter.runs()) == 1, timeout=30)
    assert jupyter.runs()[0]["kernel"] == kernel_id

    async def output() -> None:
        assert "resumed 1" in await frontend.cell_output(page, cell)

    await eventually(output)
    await consistently(lambda: len(jupyter.runs()) == 1, duration=2)
    on_disk = json.loads((jupyter.root / "lab.ipynb").read_text())
    assert len(on_disk["cells"]) == 2


async def test_killed_kernel_is_a_fresh_runtime_with_the_same_kernel_id(
    jupyter: JupyterServer, page: Page
) -> None:
    """1. The kernel process is SIGKILLed; the server restarts it (same kernel id, new process).
    2. "Kernel Restarting" reads as a runtime-disconnected dialog; reconnect() answers it with Ok.
    3. The page reads CONNECTED again with a new runtime id that keeps the kernel id.
    """
    frontend = JupyterLabFrontend()
    await _open(frontend, page, jupyter.url("/lab/tree/lab.ipynb"))
    before = await _connected(frontend, page)
    assert before.runtime_id is not None
    kernel_id = before.runtime_id.split("/")[0]
    jupyter.kill_kernel_process(kernel_id)

    async def dialog_shown() -> None:
        obs = await frontend.observe(page)
        assert Dialog.RUNTIME_DISCONNECTED in obs.dialogs, obs
        assert obs.connection is Connection.DISCONNECTED

    await eventually(dialog_shown, timeout=30)
    await frontend.reconnect(page)
    after = await _connected(frontend, page)
    assert after.runtime_id is not None and after.runtime_id != before.runtime_id
    assert after.runtime_id.startswith(kernel_id + "/")
    assert not after.dialogs


async def test_shut_down_kernel_is_disconnected_and_reconnect_starts_one(
    jupyter: JupyterServer, page: Page
) -> None:
    """1. The notebook's session and kernel are shut down on the server (as culled): DISCONNECTED, no dialog.
    2. reconnect() opens Select Kernel from the toolbar and selects the notebook's kernel: a new kernel id.
    """
    frontend = JupyterLabFrontend()
    await _open(frontend, page, jupyter.url("/lab/tree/gone.ipynb"))
    before = await _connected(frontend, page)
    assert before.runtime_id is not None
    kernel_id = before.runtime_id.split("/")[0]
    sessions = await jupyter.api("GET", "/api/sessions")
    (mine,) = [s for s in sessions if s["kernel"]["id"] == kernel_id]
    await jupyter.api("DELETE", f"/api/sessions/{mine['id']}")  # the kernel and its session, as the culler

    async def disconnected() -> None:
        obs = await frontend.observe(page)
        assert obs.connection is Connection.DISCONNECTED, obs

    await eventually(disconnected, timeout=30)
    await frontend.reconnect(page)
    after = await _connected(frontend, page)
    assert after.runtime_id is not None
    assert after.runtime_id.split("/")[0] != before.runtime_id.split("/")[0]


async def test_notebook7_page_is_recognised_and_connected(jupyter: JupyterServer, page: Page) -> None:
    """Notebook 7's /notebooks/x.ipynb: recognised by auto, CONNECTED with the server's kernel for it."""
    await page.goto(jupyter.url("/notebooks/nb7.ipynb"))
    frontend = await detect_frontend(page, make_frontends("auto"))
    assert isinstance(frontend, JupyterLabFrontend)
    await frontend.install(page, lambda _signal: None)
    obs = await _connected(frontend, page)
    kernel_id = await jupyter.kernel_of("nb7.ipynb")
    assert obs.runtime_id is not None and obs.runtime_id.startswith(kernel_id + "/")


async def test_wrong_token_is_signed_out_and_nothing_is_typed(jupyter: JupyterServer, page: Page) -> None:
    """A wrong token lands on /login: recognised, signed_in=False; the form stays empty and is never posted."""
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    await page.goto(jupyter.url("/lab/tree/lab.ipynb", token="wrong"))
    frontend = await detect_frontend(page, make_frontends("auto"))
    assert isinstance(frontend, JupyterLabFrontend)
    await frontend.install(page, lambda _signal: None)
    obs = await frontend.observe(page)
    assert obs.signed_in is False
    assert "/login" in page.url
    assert await page.locator("#token_input, #password_input").first.input_value() == ""
    assert not [u for u in posts if "/login" in u]


async def test_keepalive_changes_nothing(jupyter: JupyterServer, page: Page, tmp_path: Path) -> None:
    """Keep-alive is a mouse move and Shift: no cell runs, the notebook on disk is unchanged."""
    frontend = JupyterLabFrontend()
    await _open(frontend, page, jupyter.url("/lab/tree/lab.ipynb"))
    await _connected(frontend, page)
    runs = len(jupyter.runs())
    before = (jupyter.root / "lab.ipynb").read_text()
    for _ in range(3):
        await frontend.keepalive(page)
    obs = await frontend.observe(page)
    assert obs.connection is Connection.CONNECTED and not obs.busy
    assert len(jupyter.runs()) == runs
    assert json.loads((jupyter.root / "lab.ipynb").read_text())["cells"] == json.loads(before)["cells"]


async def test_probe_and_debug_bundle_read_the_page_without_the_token(
    jupyter: JupyterServer, page: Page, tmp_path: Path
) -> None:
    """``sentinel doctor``'s probe sees both witnesses agree; a debug bundle holds no token (0600 files)."""
    frontend = JupyterLabFrontend()
    await _open(frontend, page, jupyter.url("/lab/tree/lab.ipynb"))
    await _connected(frontend, page)

    # The server's witness is read every 2 s: right after connecting it may still say connecting.
    async def both_agree() -> bool:
        probe = await frontend.probe(page)
        return [layer.connection for layer in probe.layers] == [Connection.CONNECTED, Connection.CONNECTED]

    await eventually(both_agree, timeout=15, what="both witnesses say connected")
    probe = await frontend.probe(page)
    assert probe.observation.connection is Connection.CONNECTED
    assert {r.key: r.count for r in probe.selectors}["kernel_name"] >= 1
    assert TOKEN not in probe.url
    bundle = await frontend.debug_bundle(page, tmp_path / "bundles")
    for name in ("page.png", "dom.html", "facts.json"):
        path = bundle / name
        assert path.stat().st_mode & 0o777 == 0o600
    assert TOKEN.encode() not in (bundle / "dom.html").read_bytes() + (bundle / "facts.json").read_bytes()
