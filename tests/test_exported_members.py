"""The package's public surface: what a user scripts against, and nothing heavy on import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sentinel


def test_all_is_sorted_and_complete() -> None:
    """``__all__`` is sorted, and every name in it resolves."""
    assert sentinel.__all__ == sorted(sentinel.__all__)
    for name in sentinel.__all__:
        assert getattr(sentinel, name) is not None, name


def test_the_names_a_user_scripts_against() -> None:
    """Settings, Daemon and run are there, and they are the real classes."""
    from sentinel.config import Settings
    from sentinel.daemon import Daemon

    assert sentinel.Settings is Settings
    assert sentinel.Daemon is Daemon
    assert callable(sentinel.run)
    assert {"Daemon", "Settings", "run"} <= set(sentinel.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = sentinel.nope  # type: ignore[attr-defined]


def test_import_sentinel_loads_no_dependency() -> None:
    """``import sentinel`` (and so ``import sentinel.notebook`` in a Colab kernel) loads no third-party package."""
    code = (
        "import sys, sentinel; "
        "heavy = [m for m in ('playwright', 'pydantic', 'structlog', 'aiohttp', 'typer') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_run_refuses_bad_input_before_starting_anything(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``sentinel.run`` validates like the CLI: a bad URL is a UsageError, nothing is created."""
    with pytest.raises(sentinel.UsageError, match="not a notebook URL"):
        sentinel.run("ftp://example.com/x", state_dir=tmp_path / "state")
    assert not (tmp_path / "state").exists()
