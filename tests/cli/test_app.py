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
