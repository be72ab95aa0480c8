"""``sentinel notify-test`` as a user runs it: a real subprocess delivering to a local json:// sink."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._sink import Sink, serve_sink


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(name="sink")
async def _sink() -> AsyncIterator[Sink]:
    async with serve_sink() as sink:
        yield sink


async def sentinel(*args: str, **extra_env: str) -> Result:
    """Run the real CLI without blocking this loop (the sink lives on it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")} | extra_env
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sentinel",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"json://127.0.0.1:{port}/hook"


async def test_every_url_gets_the_test_message(sink: Sink) -> None:
    """Each URL is reported ok, and the message really arrives at each."""
    result = await sentinel("notify-test", "--notify", sink.url("a"), "--notify", sink.url("b"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"ok      {sink.url('a')}", f"ok      {sink.url('b')}"]
    assert sorted(m["path"] for m in sink.received) == ["/a", "/b"]
    assert {m["title"] for m in sink.received} == {"sentinel: test notification"}
    assert all("sentinel can reach you" in m["message"] for m in sink.received)


async def test_a_failed_delivery_is_exit_1_and_named(sink: Sink) -> None:
    """One dead endpoint: the others still get it, the dead one is FAILED with a reason, exit 1."""
    dead = dead_url()
    result = await sentinel("notify-test", "--notify", dead, "--notify", sink.url())
    assert result.returncode == 1
    first, second = result.stdout.splitlines()
    assert first.startswith(f"FAILED  {dead}: ")
    assert "127.0.0.1" in first.removeprefix(f"FAILED  {dead}: ")
    assert second == f"ok      {sink.url()}"
    assert len(sink.received) == 1
    assert "sentinel: error: 1 of 2 notifications failed" in result.stderr.splitlines()
    assert "Traceback" not in result.stderr


async def test_secrets_in_urls_are_not_printed(sink: Sink) -> None:
    """A password in the URL is masked in the report and absent from the logs."""
    result = await sentinel("notify-test", "--notify", sink.url(userinfo="bob:hunter2-token@"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"ok      json://bob:****@127.0.0.1:{sink.port}/hook")
    assert "hunter2-token" not in result.stdout + result.stderr


async def test_urls_come_from_the_config_file_and_environment(sink: Sink, tmp_path: Path) -> None:
    """Without --notify, the notify setting (TOML or SENTINEL_NOTIFY) is used."""
    config = tmp_path / "sentinel.toml"
    config.write_text(f'notify = ["{sink.url("toml")}"]\n')
    result = await sentinel("--config", str(config), "notify-test")
    assert result.returncode == 0, result.stderr
    result = await sentinel("notify-test", SENTINEL_NOTIFY=f'["{sink.url("env")}"]')
    assert result.returncode == 0, result.stderr
    assert [m["path"] for m in sink.received] == ["/toml", "/env"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["notify-test", "--notify", "bogus://s3cret@x"],
            "sentinel: error: invalid notification URL #1 bogus://...: apprise has no service for scheme 'bogus'",
        ),
        (
            ["notify-test", "--notify", "json://127.0.0.1/ok", "--notify", "nonsense"],
            "sentinel: error: invalid notification URL #2 (no scheme): expected SCHEME://..., "
            "e.g. ntfy://topic or json://host/path",
        ),
        (
            ["notify-test"],
            "sentinel: error: no notification URL: pass --notify URL (repeatable), or set notify in the "
            "config file or SENTINEL_NOTIFY (a JSON list)",
        ),
    ],
)
async def test_bad_urls_are_exit_2_with_one_line(args: list[str], message: str) -> None:
    """Nothing is sent when a URL is invalid: exit 2, one line, no secret echoed."""
    result = await sentinel(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [message]
    assert result.stdout == ""
