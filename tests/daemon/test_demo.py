"""``sentinel demo`` end to end: emulator + daemon + fault script + summary, as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def run_demo(*flags: str) -> str:
    """Run ``sentinel demo`` as a user does (no display) and return its output on one line."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["COLUMNS"] = "250"  # wide enough that Rich never wraps a table cell
    result = subprocess.run(
        [sys.executable, "-m", "sentinel", "demo", "--duration", "240", *flags],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    return " ".join(result.stdout.split())  # Rich wraps lines at the terminal width


def final_digest(out: str) -> str:
    match = re.search(r"Final parameters sha256 ([0-9a-f]{64})", out)
    assert match, out[-2000:]
    return match.group(1)


def test_demo_trains_to_the_end_through_every_fault() -> None:
    """Every fault is injected and recovered, resume ran once per runtime, nothing untrusted was clicked,
    and the final model equals the one of an uninterrupted run."""
    out = run_demo()
    assert "Training finished: step 2000/2000." in out
    assert "not injected" not in out
    assert "NOT RECOVERED" not in out
    for how in (
        "Reconnect clicked, resume cell run in the new runtime",
        '"Yes" clicked',
        "crash seen, resume cell run in the restarted runtime",
        "blocked until a person dismissed it",
    ):
        assert how in out
    assert (
        "4 runtimes" not in out and "3 runtimes, resume cell started 3 times: exactly once per runtime" in out
    )
    assert "untrusted clicks: 0; captcha checkbox clicks: 0." in out
    uninterrupted = run_demo("--no-faults")
    assert final_digest(out) == final_digest(uninterrupted)
