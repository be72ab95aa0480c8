"""How long ``import sentinel.notebook`` takes in a fresh interpreter, per ``python -X importtime``.

Run: ``python -m bench.kit_import [--runs 11]``. Reports the median over fresh interpreters of the
cumulative import time of ``sentinel.notebook`` (everything it pulls in, ``sentinel`` included) and
checks that nothing outside the standard library was loaded. Target (issue 3): < 50 ms. Exits 1 if
missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

TARGET_MS = 50.0

_PROBE = """
import sys
before = set(sys.modules)
import sentinel.notebook
foreign = sorted(m for m in set(sys.modules) - before
                 if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "sentinel")
print("FOREIGN", ",".join(foreign))
"""


def one_run() -> tuple[float, list[str]]:
    """Import time in ms (cumulative, top-level entries of the import tree) and foreign modules."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _PROBE], capture_output=True, text=True, check=True
    )
    total_us = 0
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, raw_name = line.removeprefix("import time:").split("|")
        if not cumulative.strip().isdigit():
            continue  # the header line
        # Only top-level entries (one space of indentation) count: everything sentinel.notebook pulls
        # in, sentinel included, is nested under it and part of its cumulative time.
        top_level = raw_name.startswith(" ") and not raw_name.startswith("  ")
        if top_level and raw_name.strip().split(".")[0] == "sentinel":
            total_us += int(cumulative)
    foreign = [m for m in result.stdout.split("FOREIGN", 1)[1].strip().split(",") if m]
    return total_us / 1000, foreign


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args(argv)
    one_run()  # compile the .pyc files first
    times, foreign = [], set()
    for _ in range(args.runs):
        ms, extra = one_run()
        times.append(ms)
        foreign.update(extra)
    median = statistics.median(times)
    ok = median < TARGET_MS and not foreign
    print(f"kit_import: import sentinel.notebook in {args.runs} fresh interpreters (-X importtime)")
    print(
        f"  median {median:.1f} ms, min {min(times):.1f}, max {max(times):.1f}  (target < {TARGET_MS:g} ms)"
    )
    print(f"  modules outside the standard library: {sorted(foreign) or 'none'}  {'OK' if ok else 'MISSED'}")
    print(
        json.dumps(
            {
                "bench": "kit_import",
                "runs": args.runs,
                "median_ms": round(median, 2),
                "min_ms": round(min(times), 2),
                "max_ms": round(max(times), 2),
                "foreign_modules": sorted(foreign),
                "target_ms": TARGET_MS,
                "ok": ok,
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
