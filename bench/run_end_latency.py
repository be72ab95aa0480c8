"""How fast the daemon knows a run is over: resume cell ended -> ``finished`` or ``error``.

Run: ``python -m bench.run_end_latency [--notebooks 8]``.

One emulator serves ``--notebooks`` small notebooks whose resume cell runs for two seconds and then
either reports its last step (``finished``) or raises CUDA out of memory (``error``), half each. One
daemon (this process, headless, default policy) keeps them all. For each notebook the figure is the
emulator's ``cell.finished`` time of the resume cell (server clock) to the moment the session entered
``finished``/``error`` (``Session.since``, same machine): target median <= 1 s.

Prints a human summary and one JSON line; exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sentinel.config import load_settings
from sentinel.daemon import Daemon
from sentinel.emulator.testing import EmulatorServer
from sentinel.log import configure_logging
from sentinel.session import SessionState

RESUME = "resume"
_BEGIN = "# sentinel: resume\nimport time\ntime.sleep(2.0)\n"
BODIES = {
    "finished": _BEGIN + 'print("[sentinel] " + \'{"step": 10, "total": 10}\')\n',
    "error": _BEGIN + 'raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")\n',
}
TARGET_MEDIAN = 1.0


def _notebook(body: str) -> dict[str, Any]:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "cells": [
            {
                "cell_type": "code",
                "id": RESUME,
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": body,
            }
        ],
    }


async def measure(count: int, root: Path) -> list[tuple[str, float]]:
    folder = root / "notebooks"
    folder.mkdir()
    kinds = {f"nb{i}": ("finished", "error")[i % 2] for i in range(count)}
    for name, kind in kinds.items():
        (folder / f"{name}.ipynb").write_text(json.dumps(_notebook(BODIES[kind])))
    async with EmulatorServer(notebooks_dir=folder, allocation_delay=0.2) as emu:
        urls = [emu.notebook_url(name) for name in kinds]
        settings = load_settings(
            urls=urls,
            profile=root / "profile",
            state_dir=root / "state",
            headless=True,
            status_addr="127.0.0.1:0",
        )
        daemon = Daemon(settings)
        serving = asyncio.create_task(daemon.serve())
        try:
            await asyncio.wait_for(daemon.started.wait(), 60)
            ends = (SessionState.FINISHED, SessionState.ERROR)
            deadline = time.monotonic() + 120
            while not all(s.state in ends for s in daemon.sessions):
                if time.monotonic() > deadline:
                    raise SystemExit(f"not every run ended: {[s.state.value for s in daemon.sessions]}")
                await asyncio.sleep(0.1)
            samples = []
            for name, session in zip(kinds, daemon.sessions, strict=True):
                finished = [
                    e
                    for e in await emu.events(name)
                    if e["kind"] == "cell.finished" and e.get("cell_id") == RESUME
                ]
                expected = SessionState(kinds[name])
                assert session.state is expected, (name, session.state, expected)
                samples.append((kinds[name], session.since - float(finished[-1]["t"])))
            return samples
        finally:
            daemon.handle_exit(signal.SIGTERM)
            await asyncio.wait_for(serving, 30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=int, default=8)
    args = parser.parse_args()
    configure_logging("json", "error")
    with tempfile.TemporaryDirectory(prefix="bench-run-end-") as tmp:
        samples = asyncio.run(measure(args.notebooks, Path(tmp)))
    latencies = sorted(seconds for _, seconds in samples)
    median = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    ok = median <= TARGET_MEDIAN
    print(
        f"resume cell ended -> finished/error ({len(samples)} notebooks, {args.notebooks} in one daemon): "
        f"median {median:.3f} s, p95 {p95:.3f} s, max {latencies[-1]:.3f} s (target median <= {TARGET_MEDIAN} s)"
    )
    for kind in ("finished", "error"):
        mine = [s for k, s in samples if k == kind]
        if mine:
            print(f"  {kind}: median {statistics.median(mine):.3f} s over {len(mine)}")
    print(
        json.dumps(
            {
                "bench": "run_end_latency",
                "notebooks": len(samples),
                "median_s": round(median, 4),
                "p95_s": round(p95, 4),
                "max_s": round(latencies[-1], 4),
                "target_median_s": TARGET_MEDIAN,
                "ok": ok,
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
