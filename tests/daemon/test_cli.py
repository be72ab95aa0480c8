"""``sentinel run`` and ``sentinel login`` as real processes: signals, exit codes, one-line errors."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserType

from sentinel.emulator.testing import EmulatorServer
from sentinel.statestore import StateStore
from tests._eventually import consistently

pytestmark = pytest.mark.slow


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SENTINEL_") and k not in ("DISPLAY", "WAYLAND_DISPLAY")
    }
    env.update(extra)
    return env


async def _sentinel(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sentinel",
        "--log-format",
        "json",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env or _env(),
    )


async def _finish(proc: asyncio.subprocess.Process, within: float = 60) -> tuple[int, str]:
    _, err = await asyncio.wait_for(proc.communicate(), within)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


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


def _main_pid(profile: Path) -> int:
    for pid in _chromium_pids(profile):
        if b"--type=" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    raise AssertionError(f"no Chromium runs on {profile}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_signal_shuts_down_cleanly_within_10_s(
    emu: EmulatorServer, tmp_path: Path, sig: signal.Signals
) -> None:
    """1. `sentinel run` connects and resumes. 2. A signal. 3. Exit 0 within 10 s, no Chromium left behind."""
    notebook = "plain" if sig is signal.SIGTERM else "plain2"
    since = time.time()
    profile = tmp_path / "profile"
    proc = await _sentinel(
        "run",
        emu.notebook_url(notebook),
        "--headless",
        "--profile",
        str(profile),
        "--state-dir",
        str(tmp_path / "state"),
        "--status-addr",
        "127.0.0.1:0",
    )
    try:
        await emu.wait_for_event(
            notebook,
            "cell.started",
            since=since,
            timeout=60,
            predicate=lambda e: e.get("cell_id") == "resume",
        )
        assert stat.S_IMODE(profile.stat().st_mode) == 0o700
        started = time.monotonic()
        proc.send_signal(sig)
        code, err = await _finish(proc, within=15)
        elapsed = time.monotonic() - started
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0, err[-2000:]
    assert elapsed < 10, f"shutdown took {elapsed:.1f} s"
    assert '"daemon.stopped"' in err
    assert "Traceback" not in err
    assert _chromium_pids(profile.resolve()) == []


def _selectors(tmp_path: Path, text: str) -> str:
    path = tmp_path / "selectors.toml"
    path.write_text(text)
    return str(path)


BAD_INPUT = [
    (["run", "ftp://example.com/x"], "not a notebook URL"),
    (["run", "colab.research.google.com/drive/x"], "not a notebook URL"),
    (["run", "http://127.0.0.1:1/a", "http://127.0.0.1:1/a"], "listed twice"),
    (["run", "http://127.0.0.1:1/a", "HTTP://127.0.0.1:1/a/#scrollTo=x"], "listed twice"),
    (["run", "http://[::1"], "not a notebook URL"),
    (["run", "http://127.0.0.1:99999/a"], "not a notebook URL"),
    (["run"], "no notebook URL given"),
    (["run", "http://127.0.0.1:1/a", "--bogus"], "No such option"),
    (["run", "http://127.0.0.1:1/a", "--on-gpu-limit", "never"], "on_gpu_limit"),
    (["run", "http://127.0.0.1:1/a", "--keepalive-interval", "0"], "keepalive_interval"),
    (["run", "http://127.0.0.1:1/a", "--frontend", "jupyter"], "frontend"),
    (["run", "http://127.0.0.1:1/a", "--cdp-url", "localhost:9222"], "cdp_url"),
    (["run", "http://127.0.0.1:1/a", "--notify", "bogus://x"], "notification URL"),
    (["run", "http://127.0.0.1:1/a", "--selectors", "/nonexistent.toml"], "selectors"),
]


@pytest.mark.parametrize(("args", "needle"), BAD_INPUT)
async def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    code, err = await _finish(
        await _sentinel(*args, "--state-dir", str(tmp_path / "s"))
        if len(args) > 1
        else await _sentinel(*args)
    )
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("sentinel: error:")
    assert needle in lines[0]
    assert not (tmp_path / "s").exists(), "bad input must fail before anything is created"


# A browser the user named that cannot start or answer: found only when it is started, and still
# the user's input (exit 2), with nothing logged before the one line.
START_UP_FAILURES = [
    (["--browser-path", "/bin/true"], "could not start /bin/true (--browser-path)"),
    (["--channel", "no-such-channel"], "could not start channel no-such-channel (--channel)"),
    (["--cdp-url", "http://127.0.0.1:9"], "cannot attach to the browser at http://127.0.0.1:9 (--cdp-url)"),
]


@pytest.mark.parametrize(("flags", "needle"), START_UP_FAILURES)
async def test_a_browser_that_does_not_start_is_one_line_and_exit_2(
    tmp_path: Path, flags: list[str], needle: str
) -> None:
    """`sentinel run --browser-path /bin/true URL`: one line naming the flag, exit 2, no traceback, no log."""
    proc = await _sentinel(
        "run",
        *flags,
        "--profile",
        str(tmp_path / "p"),
        "--state-dir",
        str(tmp_path / "s"),
        "--status-addr",
        "127.0.0.1:0",
        "http://127.0.0.1:9/x",
    )
    code, err = await _finish(proc, within=60)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("sentinel: error: ")
    assert needle in lines[0]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("[texts\nconnect = 1", "malformed TOML"),
        ("[css]\nno_such_key = 'x'\n", "no_such_key"),
        ("[widgets]\nx = 'y'\n", "widgets"),
    ],
)
async def test_bad_selectors_file_is_one_line_and_exit_2(tmp_path: Path, content: str, needle: str) -> None:
    proc = await _sentinel("run", "http://127.0.0.1:1/a", "--selectors", _selectors(tmp_path, content))
    code, err = await _finish(proc)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err


async def test_bad_config_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "sentinel.toml"
    config.write_text('resume_marker = ""\n')
    code, err = await _finish(await _sentinel("--config", str(config), "run", "http://127.0.0.1:1/a"))
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "resume_marker" in err


async def test_profile_in_use_by_another_browser_exits_2(
    browser_type: BrowserType, browser_type_launch_args: dict[str, Any], tmp_path: Path
) -> None:
    """Another browser holds the profile: `sentinel run` exits 2 with one line saying so."""
    profile = tmp_path / "profile"
    # pytest-playwright's route to a persistent profile: the suite's launch options, our own directory.
    other = await browser_type.launch_persistent_context(str(profile), **browser_type_launch_args)
    try:
        proc = await _sentinel(
            "run",
            "http://127.0.0.1:1/a",
            "--headless",
            "--profile",
            str(profile),
            "--state-dir",
            str(tmp_path / "state"),
            "--status-addr",
            "127.0.0.1:0",
        )
        code, err = await _finish(proc)
    finally:
        await other.close()
    assert code == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("sentinel: error: profile") and "in use by another browser" in last


async def test_second_sentinel_on_the_same_state_dir_exits_2(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "state"):
        proc = await _sentinel(
            "run",
            "http://127.0.0.1:1/a",
            "--headless",
            "--profile",
            str(tmp_path / "p"),
            "--state-dir",
            str(tmp_path / "state"),
            "--status-addr",
            "127.0.0.1:0",
        )
        code, err = await _finish(proc)
    assert code == 2, err
    assert "another sentinel is running" in err.strip().splitlines()[-1]


async def test_login_without_a_display_exits_2_and_explains(tmp_path: Path) -> None:
    code, err = await _finish(await _sentinel("login", "--profile", str(tmp_path / "p")))
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "no display" in line and "--cdp-url" in line and "ssh -X" in line
    assert not (tmp_path / "p").exists()


async def test_login_waits_for_the_window_to_close(emu: EmulatorServer, tmp_path: Path) -> None:
    """sign_in opens the page on a private profile and returns when the user closes the last window."""
    from sentinel.cli.login import sign_in

    profile = tmp_path / "profile"
    task = asyncio.create_task(sign_in(profile, emu.notebook_url("nomarker"), headless=True))
    await emu.wait_for_event("nomarker", "page.loaded", timeout=30)
    # It must NOT return while the window is open: a bounded wait for something not happening.
    await consistently(
        lambda: not task.done(), duration=0.5, what="sign_in returned while the window was still open"
    )
    assert stat.S_IMODE(profile.stat().st_mode) == 0o700
    pid = _main_pid(profile.resolve())
    # The user closes the window: Chromium exits.
    os.kill(pid, signal.SIGTERM)
    await asyncio.wait_for(task, 20)
