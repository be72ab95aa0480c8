"""The sample notebook's resume cell in real Jupyter kernels: killed twice at random steps and resumed
in fresh kernels, it ends with the same final.json (parameters sha256, data order) as a straight run."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sentinel.notebook import parse_report
from tests.notebook.helpers import needs_torch

pytestmark = [needs_torch, pytest.mark.torch, pytest.mark.slow]

NOTEBOOK = Path(__file__).resolve().parents[2] / "sentinel" / "emulator" / "notebooks" / "train.ipynb"
MARKER = "# sentinel: resume"
STEPS, CKPT_EVERY = 48, 8
RUN_TIMEOUT = 150.0


def resume_cell() -> str:
    """The source of the one code cell carrying the resume marker line."""
    notebook = json.loads(NOTEBOOK.read_text())
    cells = [
        "".join(cell["source"])
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
        and MARKER in [line.strip() for line in "".join(cell["source"]).splitlines()]
    ]
    assert len(cells) == 1, "exactly one cell must carry the resume marker"
    return cells[0]


class Kernel:
    """One fresh runtime: an ipykernel process with the given environment, killable with SIGKILL."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        from jupyter_client.kernelspec import KernelSpec
        from jupyter_client.manager import KernelManager

        spec = KernelSpec(
            argv=[
                sys.executable,
                "-m",
                "ipykernel_launcher",
                "-f",
                "{connection_file}",
                "--HistoryManager.enabled=False",
            ],
            display_name="python",
            language="python",
            env=env,
        )

        class Manager(KernelManager):  # type: ignore[misc]
            @property
            def kernel_spec(self) -> KernelSpec:
                return spec

        work.mkdir(parents=True, exist_ok=True)
        self.manager = Manager(transport="ipc", ip=str(work / "kernel"))
        self.manager.start_kernel(cwd=str(work))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    @property
    def pid(self) -> int:
        return int(self.manager.provisioner.pid)

    def run(self, code: str, *, kill_at_step: int | None = None) -> dict[str, Any]:
        """Execute ``code``; with ``kill_at_step``, SIGKILL the kernel once a report reaches it."""
        msg_id = self.client.execute(code)
        lines: list[str] = []
        reports: list[dict[str, Any]] = []
        error = None
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            try:
                msg = self.client.get_iopub_msg(timeout=1)
            except Exception:  # queue.Empty: nothing yet
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                for line in content["text"].splitlines():
                    lines.append(line)
                    report = parse_report(line)
                    if report is not None:
                        reports.append(report)
                        if kill_at_step is not None and report["step"] >= kill_at_step:
                            os.kill(self.pid, signal.SIGKILL)
                            return {"killed": True, "lines": lines, "reports": reports}
            elif kind == "error":
                error = "\n".join(content["traceback"])
            elif kind == "status" and content["execution_state"] == "idle":
                return {"killed": False, "lines": lines, "reports": reports, "error": error}
        raise AssertionError(f"the cell did not finish in {RUN_TIMEOUT} s; output: {lines[-20:]}")

    def close(self) -> None:
        self.client.stop_channels()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.manager.shutdown_kernel(now=True)


@contextlib.contextmanager
def fresh_runtime(work: Path, drive: Path, workers: int = 0) -> Iterator[Kernel]:
    env = {
        "SENTINEL_DEMO_WORKERS": str(workers),
        "SENTINEL_DRIVE_ROOT": str(drive),
        "SENTINEL_DEMO_STEPS": str(STEPS),
        "SENTINEL_DEMO_CKPT_EVERY": str(CKPT_EVERY),
        "SENTINEL_DEMO_PROJECT": "demo",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",  # as in the emulator's runtimes: spinning OpenMP threads crawl on busy cores
    }
    kernel = Kernel(work, env)
    try:
        yield kernel
    finally:
        kernel.close()


def finished(result: dict[str, Any]) -> dict[str, Any]:
    assert not result["killed"]
    assert result["error"] is None, result["error"]
    final_lines = [line for line in result["lines"] if line.startswith("final.json ")]
    assert len(final_lines) == 1, result["lines"][-10:]
    return dict(json.loads(final_lines[0].removeprefix("final.json ")))


def test_interrupted_run_ends_like_an_uninterrupted_one(tmp_path: Path) -> None:
    """1. Run the resume cell uninterrupted in a fresh folder.
    2. In another folder, run it and SIGKILL the kernel at a random step; twice.
    3. Each time start a fresh kernel and run the cell again: it resumes where the last good
       checkpoint left off.
    4. final.json is identical (the straight run used 2 DataLoader workers, the others none);
       running the cell once more only reports the result.
    """
    cell = resume_cell()
    # The straight run also loads data with 2 DataLoader workers: the notebook claims they do not
    # change the result, and this checks it.
    with fresh_runtime(tmp_path / "k0", tmp_path / "straight", workers=2) as kernel:
        straight = finished(kernel.run(cell))
    assert straight["steps"] == STEPS or straight["stopped_early"]
    assert json.loads((tmp_path / "straight" / "demo" / "final.json").read_text()) == straight

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    first = rng.randrange(CKPT_EVERY + 1, STEPS // 2)  # after the first checkpoint
    kill_steps = [first, rng.randrange(first + CKPT_EVERY, STEPS - 2)]
    drive = tmp_path / "interrupted"
    resumed_at: list[int] = []
    for n, kill_at in enumerate(kill_steps, start=1):
        with fresh_runtime(tmp_path / f"k{n}", drive) as kernel:
            result = kernel.run(cell, kill_at_step=kill_at)
        assert result["killed"], f"seed {seed}: the run ended before step {kill_at}"
        resumed_at += [int(line.split()[3]) for line in result["lines"] if line.startswith("Resumed at step")]
    with fresh_runtime(tmp_path / "k3", drive) as kernel:
        result = kernel.run(cell)
        interrupted = finished(result)
        resumed_at += [int(line.split()[3]) for line in result["lines"] if line.startswith("Resumed at step")]
        again = kernel.run(cell)  # idempotent: training is over, it only reports the result
    assert interrupted == straight, f"seed {seed}, kills at {kill_steps}"
    assert finished(again) == straight
    assert [r["step"] for r in again["reports"]] == [straight["steps"]]
    # Progress survived each kill: every fresh runtime resumed from a checkpoint, never from zero.
    assert len(resumed_at) >= 2, f"seed {seed}: {resumed_at}"
    assert all(step > 0 and step % CKPT_EVERY == 0 for step in resumed_at)
