"""``sentinel login --vnc`` and ``sentinel run --headed`` on a machine without a screen (no ``$DISPLAY``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from sentinel.emulator.testing import EmulatorServer
from tests._eventually import eventually
from tests._novnc import novnc_screen

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        any(shutil.which(p) is None for p in ("Xvfb", "x11vnc", "websockify")),
        reason="needs Debian's xvfb, x11vnc, websockify and novnc (.ci/run installs them)",
    ),
]


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SENTINEL_") and k not in ("DISPLAY", "WAYLAND_DISPLAY")
    }
    env.update(extra)
    return env


class Running:
    """A ``sentinel`` process whose JSON log lines are read as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self.lines: list[str] = []
        self._new = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    self.events.append(record)
            self._new.set()

    async def event(self, name: str, within: float = 40.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            for record in self.events:
                if record.get("event") == name:
                    return record
            if self.proc.returncode is not None or self._reader.done():
                raise AssertionError(f"sentinel exited before {name}: " + "\n".join(self.lines[-20:]))
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {name} within {within} s: " + "\n".join(self.lines[-20:]))
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), min(left, 1.0))

    async def stop(self, sig: signal.Signals, within: float = 20.0) -> tuple[int, str]:
        """Send ``sig``; return the exit code and stdout once it exited."""
        self.proc.send_signal(sig)
        assert self.proc.stdout is not None
        out = await asyncio.wait_for(self.proc.stdout.read(), within)
        code = await asyncio.wait_for(self.proc.wait(), within)
        await asyncio.wait_for(self._reader, within)
        return code, out.decode()

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)


@contextlib.asynccontextmanager
async def sentinel(*args: str) -> AsyncIterator[Running]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sentinel",
        "--log-format",
        "json",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    running = Running(proc)
    try:
        yield running
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        running._reader.cancel()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _chromium_pids(profile: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"--user-data-dir={profile}".encode() in argv:
                pids.append(int(entry.name))
    return pids


def _browser_environ(profile: Path) -> list[bytes]:
    """The environment of the main Chromium process on ``profile``."""
    for pid in _chromium_pids(profile):
        if b"--type=" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    raise AssertionError(f"no Chromium runs on {profile}")


async def test_login_vnc_serves_the_browser_on_loopback_and_cleans_up(
    fresh_emulator: EmulatorServer, page: Page, tmp_path: Path
) -> None:
    """1. `sentinel login --vnc` with no $DISPLAY prints a noVNC URL on 127.0.0.1. 2. Through it, the
    screen shows Chromium on the emulator page (not a blank display). 3. Ctrl+C: exit 0, the profile is
    saved, and Xvfb, x11vnc, websockify and Chromium are gone."""
    emu = fresh_emulator
    profile = tmp_path / "profile"
    since = time.time()
    async with sentinel(
        "login", "--vnc", "--vnc-port", "0", "--profile", str(profile), "--url", emu.notebook_url("hello")
    ) as login:
        display = await login.event("display.started")
        vnc = await login.event("vnc.started")
        assert vnc["url"].startswith("http://127.0.0.1:") and "/vnc.html?autoconnect=1" in vnc["url"]
        # The instructions follow the log line: wait for them rather than race the reader.
        await eventually(
            lambda: vnc["url"] in login.stderr.replace(json.dumps(vnc), ""),
            timeout=10,
            what="the URL is printed for the user",
        )
        assert "ssh -N -L" in login.stderr
        await emu.wait_for_event("hello", "page.loaded", since=since, timeout=40)
        await login.event("login.waiting")
        screen = await novnc_screen(page, vnc["url"], tmp_path / "novnc.png")
        assert (screen.width, screen.height) == (1280, 1024)
        helpers = [display["pid"], *vnc["pids"]]
        assert all(_alive(pid) for pid in helpers)
        assert _chromium_pids(profile.resolve())
        code, out = await login.stop(signal.SIGINT)
    assert code == 0, login.stderr[-3000:]
    assert "Profile saved in" in out
    assert "Traceback" not in login.stderr
    assert [e["event"] for e in login.events][-3:] == ["login.done", "vnc.stopped", "display.stopped"]
    assert not any(_alive(pid) for pid in helpers)
    assert _chromium_pids(profile.resolve()) == []


async def test_run_headed_without_a_display_uses_a_virtual_one(
    fresh_emulator: EmulatorServer, tmp_path: Path
) -> None:
    """1. `sentinel run --headed` with no $DISPLAY starts Xvfb and a headed Chromium drawing on it. 2. The
    notebook connects and resumes. 3. SIGTERM: exit 0, Chromium and Xvfb are gone."""
    emu = fresh_emulator
    profile = tmp_path / "profile"
    since = time.time()
    async with sentinel(
        "run",
        emu.notebook_url("hello"),
        "--headed",
        "--profile",
        str(profile),
        "--state-dir",
        str(tmp_path / "state"),
        "--status-addr",
        "127.0.0.1:0",
    ) as run:
        display = await run.event("display.started")
        launched = await run.event("browser.launched")
        assert launched["headless"] is False
        await emu.wait_for_event(
            "hello",
            "cell.started",
            since=since,
            timeout=60,
            predicate=lambda e: "resum" in e.get("cell_id", ""),
        )
        environ = _browser_environ(profile.resolve())
        assert f"DISPLAY={display['display']}".encode() in environ
        assert _alive(display["pid"])
        code, _ = await run.stop(signal.SIGTERM)
    assert code == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert [e["event"] for e in run.events][-1] == "display.stopped"
    assert not _alive(display["pid"])
    assert _chromium_pids(profile.resolve()) == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["login", "--vnc", "--xvfb", "never"], "--xvfb never"),
        (["login", "--xvfb", "sometimes"], "xvfb"),
        (["login", "--vnc", "--vnc-port", "70000"], "vnc_port"),
        (["run", "http://127.0.0.1:1/a", "--headed", "--xvfb", "never"], "--xvfb auto"),
    ],
)
async def test_bad_display_input_is_one_line_and_exit_2(args: list[str], needle: str, tmp_path: Path) -> None:
    async with sentinel(*args, "--profile", str(tmp_path / "p")) as proc:
        code = await asyncio.wait_for(proc.proc.wait(), 30)
        await asyncio.wait_for(proc._reader, 10)
    assert code == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("sentinel: error:") and needle in line
    assert not (tmp_path / "p").exists()
