"""``sentinel doctor URL`` as a real process on real Chromium: the emulator in every ui generation,
an unknown dialog, a page that is not a notebook, and a drifted page fixed by a ``--selectors`` file."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from sentinel.emulator.testing import EmulatorServer

pytestmark = pytest.mark.slow

UIS = ("2022", "2023", "2025")
# The drift generation: today's connect-button selectors find nothing there, detection by meaning does.
DRIFT_UI = "next"
NOTEBOOK = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    "cells": [
        {
            "cell_type": "code",
            "id": "resume",
            "metadata": {},
            "source": '# sentinel: resume\nprint("resumed")',
            "outputs": [],
            "execution_count": None,
        }
    ],
}


@pytest.fixture(scope="module")
async def emu(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmulatorServer]:
    folder = tmp_path_factory.mktemp("doctor-notebooks")
    (folder / "nb.ipynb").write_text(json.dumps(NOTEBOOK))
    async with EmulatorServer(notebooks_dir=folder, allocation_delay=0.1) as server:
        yield server


def _env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SENTINEL_") and k not in ("DISPLAY", "WAYLAND_DISPLAY")
    }


async def _doctor(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sentinel",
        "--log-format",
        "json",
        "doctor",
        "--profile",
        str(tmp_path / "profile"),
        "--state-dir",
        str(tmp_path / "state"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )


async def _finish(proc: asyncio.subprocess.Process, within: float = 90) -> tuple[int, str, str]:
    try:
        out, err = await asyncio.wait_for(proc.communicate(), within)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    return await _finish(await _doctor(tmp_path, *args))


def _report(out: str, err: str) -> dict[str, Any]:
    assert "Traceback" not in err, err[-3000:]
    report = json.loads(out)
    assert isinstance(report, dict)
    return report


def _selector(report: dict[str, Any], key: str) -> dict[str, Any]:
    return next(s for s in report["selectors"] if s["key"] == key)


def _assert_private_bundle(report: dict[str, Any], state: Path) -> Path:
    bundle = Path(report["bundle"])
    assert bundle.parent == state / "debug"
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o700
    files = sorted(p.name for p in bundle.iterdir())
    assert {"page.png", "dom.html", "facts.json"} <= set(files), files
    for path in bundle.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    return bundle


async def _connect(emu: EmulatorServer) -> None:
    since = time.time()
    await emu.hub("nb").connect(gpu=True)
    await emu.wait_for_event("nb", "runtime.connected", since=since, timeout=40)


@pytest.mark.parametrize("connected", [False, True], ids=["disconnected", "connected"])
@pytest.mark.parametrize("ui", [*UIS, DRIFT_UI])
async def test_emulator_page_is_understood(
    emu: EmulatorServer, tmp_path: Path, ui: str, connected: bool
) -> None:
    """Each generation, connected or not: exit 0, colab, the connect control's match, the right next action."""
    await emu.reset()
    if connected:
        await _connect(emu)
    since = time.time()
    code, out, err = await _run(tmp_path, emu.notebook_url("nb", ui=ui), "--json", "--settle", "1")
    report = _report(out, err)
    kinds = [event["kind"] for event in await emu.events("nb", since)]
    assert "page.loaded" in kinds
    assert "click" not in kinds and "user.input" not in kinds, kinds  # doctor never clicks or types
    assert code == 0, (report["problems"], err[-2000:])
    assert report["understood"] is True
    assert report["frontend"] == "colab"
    expected = "connected" if connected else "disconnected"
    layers = {layer["layer"]: layer["connection"] for layer in report["layers"]}
    assert layers["kernel state (Colab's JS model)"] == expected, layers
    button = _selector(report, "connect_button")
    if ui == DRIFT_UI:
        # Today's selectors miss the moved control; the layers that read it by meaning see it.
        assert button["count"] == 0
        assert layers["connect button text"] is None
        assert expected in (
            layers["tooltip (tooltiptext / title)"],
            layers["accessible name (by meaning)"],
        ), layers
    else:
        assert button["count"] >= 1
        assert layers["connect button text"] == expected, layers
    observation = report["observation"]
    assert observation["dialogs"] == []
    if connected:
        assert observation["connection"] == "connected"
        assert observation["runtime_id"]
        assert report["next_action"] == {"kind": "nothing", "text": "nothing: connected; keep-alive"}
    else:
        assert observation["connect_text"].startswith("Connect"), observation
        assert observation["connection"] == "disconnected"
        assert report["next_action"]["kind"] == "click"
        assert report["next_action"]["text"] == f"click {observation['connect_text']}"
        assert report["next_action"]["text"].startswith("click Connect")
    assert all(d["matched"] is None for d in report["dialogs"])
    assert report["facts"]["colab"] is True
    _assert_private_bundle(report, tmp_path / "state")


async def test_readable_report(emu: EmulatorServer, tmp_path: Path) -> None:
    """Without --json: the frontend, the selector table, the layers, the next action and the bundle's place."""
    await emu.reset()
    code, out, err = await _run(tmp_path, emu.notebook_url("nb", ui="2023"), "--settle", "1")
    assert code == 0, out + err[-2000:]
    assert "Traceback" not in err
    for needle in (
        "Frontend: colab",
        "connect_button",
        "Dialog patterns",
        "Detection layers",
        "connect button text",
        "Raw facts",
        "Observation (classified)",
        "Next: click Connect",
        "Understood",
        f"Debug bundle: {tmp_path / 'state' / 'debug'}",
    ):
        assert needle in out, (needle, out)


async def test_unknown_dialog_is_not_understood(emu: EmulatorServer, tmp_path: Path) -> None:
    """An unknown dialog: exit 1, the dialog named, a bundle whose files are 0600."""
    await emu.reset()
    since = time.time()
    proc = await _doctor(tmp_path, emu.notebook_url("nb", ui="2025"), "--json", "--settle", "4")
    try:
        await emu.wait_for_event("nb", "page.loaded", since=since, timeout=60)
        await emu.inject("nb", "unknown_dialog")
        await emu.wait_for_event(
            "nb",
            "dialog.shown",
            since=since,
            timeout=15,
            predicate=lambda e: e.get("dialog") == "unknown_dialog",
        )
    finally:
        code, out, err = await _finish(proc)
    report = _report(out, err)
    assert code == 1, report
    assert report["understood"] is False
    assert "unknown" in report["observation"]["dialogs"]
    assert report["observation"]["unclassified"]
    assert any("unknown dialog" in problem for problem in report["problems"])
    assert report["open_dialogs"], report
    assert "left alone" in report["next_action"]["text"]
    bundle = _assert_private_bundle(report, tmp_path / "state")
    facts = json.loads((bundle / "facts.json").read_text(encoding="utf-8"))
    assert "unknown" in facts["observation"]["dialogs"]


async def test_unknown_dialog_readable(emu: EmulatorServer, tmp_path: Path) -> None:
    """The same in words: NOT understood, the unknown dialog, where the bundle is."""
    await emu.reset()
    since = time.time()
    proc = await _doctor(tmp_path, emu.notebook_url("nb", ui="2022"), "--settle", "4")
    try:
        await emu.wait_for_event("nb", "page.loaded", since=since, timeout=60)
        await emu.inject("nb", "unknown_dialog")
    finally:
        code, out, err = await _finish(proc)
    assert code == 1, out + err[-2000:]
    assert "NOT understood" in out
    assert "an unknown dialog is open" in out
    assert f"Debug bundle: {tmp_path / 'state' / 'debug'}" in out


async def test_not_a_notebook(emu: EmulatorServer, tmp_path: Path) -> None:
    """The emulator's index page: exit 1, no frontend recognised it, a bundle anyway."""
    code, out, err = await _run(tmp_path, emu.base_url + "/", "--json", "--settle", "0")
    report = _report(out, err)
    assert code == 1
    assert report["frontend"] is None
    assert report["problems"] == ["no frontend recognised the page (tried: colab, jupyterlab)"]
    assert report["next_action"] is None
    _assert_private_bundle(report, tmp_path / "state")
    code, out, err = await _run(tmp_path, emu.base_url + "/", "--settle", "0")
    assert code == 1
    assert "Frontend: none recognised the page" in out
    assert "Traceback" not in err


async def test_bad_url_is_a_usage_error(tmp_path: Path) -> None:
    code, out, err = await _run(tmp_path, "not-a-url")
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sentinel: error: not a notebook URL"), err


# A Colab whose toolbar moved: the connect control is a <runtime-chip> whose shadow root shows its state
# in a <span class="rt-label"> (no button, no role: neither today's selectors nor the by-meaning layer
# find it). Colab's JS model is still there, without a kernel object.
_DRIFTED = """<!DOCTYPE html>
<html><head><title>drifted - Colab</title></head>
<body>
<nb-toolbar><runtime-chip></runtime-chip></nb-toolbar>
<script>
  window.colab = { global: { notebook: { cells: [] } } };
  const chip = document.querySelector("runtime-chip");
  const root = chip.attachShadow({ mode: "open" });
  const label = document.createElement("span");
  label.className = "rt-label";
  label.textContent = new URLSearchParams(location.search).get("connected") ? "RAM Disk" : "Reconnect";
  root.append(label);
</script>
</body></html>
"""

_FIX = """\
[css]
connect_button = ["runtime-chip >>> .rt-label"]
colab_marker = ["nb-toolbar runtime-chip"]
"""


@pytest.fixture
async def drifted() -> AsyncIterator[str]:
    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=_DRIFTED, content_type="text/html")

    app = web.Application()
    app.router.add_get("/drifted", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}/drifted"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("connected", [False, True], ids=["disconnected", "connected"])
async def test_drifted_page_fixed_by_a_selectors_file(drifted: str, tmp_path: Path, connected: bool) -> None:
    """Defaults: recognised but the connection is unknown (exit 1); with a selectors file alone: understood."""
    url = drifted + ("?connected=1" if connected else "")
    code, out, err = await _run(tmp_path, url, "--json", "--settle", "0.5", "--wait", "3")
    report = _report(out, err)
    assert code == 1, report
    assert report["frontend"] == "colab"
    assert report["observation"]["connection"] == "unknown"
    assert _selector(report, "connect_button")["count"] == 0
    assert any("connection is unknown" in problem for problem in report["problems"])

    fix = tmp_path / "selectors.toml"
    fix.write_text(_FIX)
    code, out, err = await _run(tmp_path, url, "--json", "--settle", "0.5", "--selectors", str(fix))
    report = _report(out, err)
    assert code == 0, report
    button = _selector(report, "connect_button")
    assert button["count"] == 1
    assert ["runtime-chip >>> .rt-label", 1] in [[a["selector"], a["count"]] for a in button["alternatives"]]
    if connected:
        assert report["observation"]["connection"] == "connected"
        assert report["next_action"]["text"] == "nothing: connected; keep-alive"
    else:
        assert button["text"] == "Reconnect"
        assert report["observation"]["connection"] == "disconnected"
        assert report["next_action"]["text"] == "click Reconnect"
