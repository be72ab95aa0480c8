"""``sentinel demo`` end to end: emulator + daemon + fault script + summary, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_demo_trains_to_the_end_through_faults() -> None:
    """A short training run finishes through whichever faults fit in it; every injected one is recovered."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["SENTINEL_DEMO_STEPS"] = "100"  # read by the train notebook inside the emulated runtime
    result = subprocess.run(
        [sys.executable, "-m", "sentinel", "demo", "--duration", "150"],
        capture_output=True,
        text=True,
        timeout=200,
        env=env,
    )
    out = " ".join(result.stdout.split())  # Rich wraps lines at the terminal width
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Training finished: step 100/100." in out
    assert "exactly once per runtime" in out
    assert "untrusted clicks: 0; captcha checkbox clicks: 0." in out
    # How many faults fit depends on the machine's speed; each one injected must have been recovered.
    assert "NOT RECOVERED" not in out
    assert "Traceback" not in out + result.stderr
