"""The CLI edge: --help, --version, and one-line errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sentinel import __version__


def sentinel(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sentinel", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_version() -> None:
    result = sentinel("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"sentinel {__version__}"


def test_help_lists_commands() -> None:
    result = sentinel("--help")
    assert result.returncode == 0
    assert "emulator" in result.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--bogus"], "No such option"),
        (["emulator", "--port", "70000"], "emulator.port"),
        (["emulator", "--port", "abc"], "--port"),
        (["emulator", "--notebooks", "/nonexistent/dir"], "not a directory"),
        (["--config", "/nonexistent.toml", "emulator"], "no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    """Bad flags and settings never print a traceback."""
    result = sentinel(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sentinel: error:")
    assert needle in lines[0]


def test_malformed_toml_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("[emulator\nport = 1")
    result = sentinel("--config", str(config), "emulator")
    assert result.returncode == 2
    assert "malformed TOML" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "--log-format", "json", "U"], ["--log-format", "json", "run", "U"]),
        (["emulator", "--config=s.toml", "--port", "1"], ["--config=s.toml", "emulator", "--port", "1"]),
        (["--log-level", "debug", "run", "U"], ["--log-level", "debug", "run", "U"]),
        (["run", "--", "--log-level", "x"], ["run", "--", "--log-level", "x"]),
    ],
)
def test_global_options_may_follow_the_command(argv: list[str], expected: list[str]) -> None:
    """`sentinel run --log-format json URL` means the same as `sentinel --log-format json run URL`."""
    from sentinel.cli._app import hoist_global_options

    assert hoist_global_options(argv) == expected


def test_global_option_after_the_command_takes_effect(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text("[emulator]\nport = 70000\n")
    result = sentinel("emulator", "--config", str(config))
    assert result.returncode == 2
    assert "emulator.port" in result.stderr
