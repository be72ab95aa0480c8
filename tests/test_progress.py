"""What the resume cell's output means: progress, a finished run, a failed run; and stalled runs."""

from __future__ import annotations

import pytest

from sentinel.progress import StallWatch, format_progress, is_finished, run_outcome

TRACEBACK_OOM = """[sentinel] {"step": 1200, "total": 5000, "loss": 0.41}
---------------------------------------------------------------------------
OutOfMemoryError                          Traceback (most recent call last)
<ipython-input-7-3f2a> in <cell line: 12>()
     10 for batch in loader:
---> 12     loss = model(batch).loss
OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 14.75 GiB of which 1.06 GiB is free.
"""
CUDA_ERROR_OOM = """[sentinel] {"step": 10, "total": 100}
Traceback (most recent call last):
  File "/content/train.py", line 88, in train
RuntimeError: CUDA error: out of memory
CUDA kernel errors might be asynchronously reported at some other API call.
"""
DRIVE = """[sentinel] {"step": 300, "total": 5000}
Traceback (most recent call last):
  File "/usr/lib/python3.11/shutil.py", line 825, in move
OSError: [Errno 107] Transport endpoint is not connected: '/content/drive/MyDrive/run/checkpoints'
"""
SYNTAX = """  File "<ipython-input-3-1b>", line 4
    for epoch in range(10)
                          ^
SyntaxError: expected ':'
"""
MISSING_MODULE = """---------------------------------------------------------------------------
ModuleNotFoundError                       Traceback (most recent call last)
<ipython-input-1-5d> in <cell line: 2>()
----> 2 import lightning
ModuleNotFoundError: No module named 'lightning'
"""
CAUGHT_EARLIER = """Traceback (most recent call last):
ValueError: a bad sample, skipped
[sentinel] {"step": 50, "total": 50}
"""


@pytest.mark.parametrize(
    ("output", "key", "retryable"),
    [
        (TRACEBACK_OOM, "cuda_oom", False),
        (CUDA_ERROR_OOM, "cuda_oom", False),
        (DRIVE, "drive_disconnected", True),
        (SYNTAX, "syntax_error", False),
        (
            "Traceback (most recent call last):\nFileNotFoundError: [Errno 2] No such file or directory: 'data/train.csv'\n",
            "missing_file",
            False,
        ),
        (MISSING_MODULE, "module_not_found", False),
    ],
)
def test_an_output_ending_in_an_exception_is_a_diagnosed_failure(
    output: str, key: str, retryable: bool
) -> None:
    outcome = run_outcome(output)
    assert not outcome.finished
    assert outcome.failure is not None
    assert outcome.failure.key == key
    assert outcome.failure.retryable is retryable


def test_a_traceback_before_the_last_progress_line_is_not_the_end() -> None:
    """A run that survived an error and reported step 50/50 afterwards finished."""
    outcome = run_outcome(CAUGHT_EARLIER)
    assert outcome.finished and outcome.failure is None


@pytest.mark.parametrize(
    ("record", "done"),
    [
        ({"step": 5000, "total": 5000}, True),
        ({"step": 5001, "total": 5000}, True),
        ({"step": 4999, "total": 5000}, False),
        ({"step": 10}, False),
        ({"step": 10, "finished": True}, True),
        ({"step": 0, "total": 0}, False),
        (None, False),
    ],
)
def test_finished_means_step_reached_total_or_the_kit_said_so(
    record: dict[str, object] | None, done: bool
) -> None:
    assert is_finished(record) is done  # type: ignore[arg-type]


def test_a_cell_that_stops_without_a_verdict() -> None:
    outcome = run_outcome('[sentinel] {"step": 3, "total": 10}\nsaving and stopping for today\n')
    assert not outcome.finished and outcome.failure is None
    assert outcome.report == {"step": 3, "total": 10}


def test_format_progress() -> None:
    assert format_progress({"step": 1200, "total": 5000, "loss": 0.312345}) == "step 1200/5000 loss=0.3123"
    assert format_progress(None) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TestStallWatch:
    def test_a_run_stuck_at_one_step_is_stalled_once(self) -> None:
        clock = FakeClock()
        watch = StallWatch(after=1800, clock=clock)
        record = {"step": 10, "total": 100}
        assert watch.stalled("nb", record, running=True) is None
        clock.now = 1799
        assert watch.stalled("nb", record, running=True) is None
        clock.now = 1800
        assert watch.stalled("nb", record, running=True) == 1800
        clock.now = 5000
        assert watch.stalled("nb", record, running=True) is None  # told once
        # It moves again, then sticks again: a new stall, told again.
        assert watch.stalled("nb", {"step": 11, "total": 100}, running=True) is None
        clock.now = 7000
        assert watch.stalled("nb", {"step": 11, "total": 100}, running=True) == 2000

    def test_no_stall_without_progress_lines_when_stopped_or_when_off(self) -> None:
        clock = FakeClock()
        watch = StallWatch(after=10, clock=clock)
        off = StallWatch(after=0, clock=clock)
        for t in (0, 100, 200):
            clock.now = t
            assert watch.stalled("silent", None, running=True) is None
            assert watch.stalled("idle", {"step": 1}, running=False) is None
            assert off.stalled("off", {"step": 1}, running=True) is None
