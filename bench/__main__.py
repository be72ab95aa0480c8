"""``python -m bench`` (``make bench``): run every benchmark, one after another, and summarise.

Each benchmark is its own process (``python -m bench.<name>``) so that one's memory and threads never
colour the next one's figures. Each prints a human summary and one JSON line; this runner collects the
JSON lines into ``bench/results/latest.jsonl`` and exits 1 if any benchmark missed its target.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = (
    "kit_import",  # issue 3: import sentinel.notebook < 50 ms
    "kit_save",  # issue 3: verified save <= 1.2x torch.save + fsync
    "kit_sigkill",  # issue 3: 200 SIGKILLs during saves, all loadable
    "frontend_observer",  # issue 5: dialog shown -> signal -> click
    "daemon_latency",  # issue 5: dialog shown -> Reconnect; connected -> resume running
    "daemon_memory",  # issue 5: RSS with 1/4/8 notebooks, idle CPU
    "run_end_latency",  # issue 10: resume cell ended -> finished/error
)


def main() -> int:
    results_dir = Path(__file__).parent / "results"
    results_dir.mkdir(exist_ok=True)
    missed: list[str] = []
    lines: list[str] = []
    for name in BENCHMARKS:
        print(f"=== bench.{name}", flush=True)
        proc = subprocess.run(
            [sys.executable, "-m", f"bench.{name}"], capture_output=True, text=True, check=False
        )
        print(proc.stdout, end="", flush=True)
        lines.extend(line for line in proc.stdout.splitlines() if line.startswith("{"))
        if proc.returncode != 0:
            missed.append(name)
            print(proc.stderr[-2000:], file=sys.stderr)
    (results_dir / "latest.jsonl").write_text("".join(json.dumps(json.loads(x)) + "\n" for x in lines))
    print(f"\n{len(BENCHMARKS) - len(missed)}/{len(BENCHMARKS)} benchmarks met their targets", end="")
    print(f"; missed: {', '.join(missed)}" if missed else "")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
