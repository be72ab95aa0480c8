"""SIGKILL during checkpoint saves: after every kill, is a complete checkpoint there, and is it chosen?

Run: ``python -m bench.kit_sigkill [--trials 200] [--size-mb 16] [--serializer torch|pickle]``.

Each trial forks a child from a fork server that has PyTorch and the kit imported already (so 200
trials do not pay 200 PyTorch imports). The child resumes from the shared folder like a fresh runtime
would, then saves ``{"step", "weights"}`` in a loop (``keep=2``), appending each finished step to a
progress file. After its first save it is killed with SIGKILL at a random moment, uniform over twice
the measured save time, so kills land in every phase: payload, fsync, manifest, rotation, lease.

After each kill the parent checks, without trusting the implementation: every manifest whose own
checksum holds describes a payload that is entirely on disk; ``load_latest`` of a fresh reader
returns the last reported step or the one after it (killed between save and report), with the exact
content of that step. Target (issue 3): all trials loadable, 0 partial checkpoints chosen.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import multiprocessing
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any


def make_state(step: int, floats: int, serializer: str) -> dict[str, Any]:
    if serializer == "torch":
        import torch

        return {"step": step, "weights": torch.arange(floats, dtype=torch.float32) + step}
    return {"step": step, "weights": random.Random(step).randbytes(floats * 4)}


def content_ok(state: dict[str, Any], floats: int, serializer: str) -> bool:
    expected = make_state(int(state["step"]), floats, serializer)["weights"]
    if serializer == "torch":
        import torch

        return bool(torch.equal(state["weights"], expected))
    return bool(state["weights"] == expected)


def child(folder: str, progress: str, floats: int, serializer: str) -> None:
    """A runtime: resume, then save forever (until SIGKILL)."""
    import sentinel.notebook as kit

    warnings.simplefilter("ignore")
    ckpt = kit.Checkpointer(folder, keep=2, serializer=serializer, lease_wait=30)
    state = ckpt.load_latest(default=None)
    step = 0 if state is None else int(state["step"])
    fd = os.open(progress, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    while True:
        step += 1
        ckpt.save(step, make_state(step, floats, serializer))
        os.write(fd, b"%d %f\n" % (step, time.time()))


def committed_manifests_complete(folder: Path) -> bool:
    """Every manifest whose own checksum holds points at a payload of the right size and sha256."""
    for manifest in folder.glob("ckpt-*.manifest.json"):
        try:
            record = json.loads(manifest.read_bytes())
        except ValueError:
            continue
        body = {k: v for k, v in record.items() if k != "manifest_sha256"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        if record.get("manifest_sha256") != hashlib.sha256(canonical).hexdigest():
            continue
        (entry,) = record["files"]
        payload = folder / entry["name"]
        if not payload.exists():
            return False
        data = payload.read_bytes()
        if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            return False
    return True


def read_progress(path: Path) -> list[tuple[int, float]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out.append((int(parts[0]), float(parts[1])))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--size-mb", type=float, default=16)
    parser.add_argument("--serializer", choices=["torch", "pickle"], default="torch")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args(argv)
    seed = random.randrange(1 << 30) if args.seed is None else args.seed
    rng = random.Random(seed)
    floats = int(args.size_mb * (1 << 20) / 4)

    preload = ["sentinel.notebook"] + (["torch"] if args.serializer == "torch" else [])
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(preload)
    if args.serializer == "torch":
        import torch

        assert torch.__version__
    import sentinel.notebook as kit

    root = Path(tempfile.mkdtemp(prefix="kit-sigkill-", dir=args.dir))
    folder = root / "checkpoints"
    counts = {
        "loadable": 0,
        "partial_chosen": 0,
        "not_loadable": 0,
        "regressed": 0,
        "mid_save": 0,
        "fallbacks": 0,
    }
    save_times: list[float] = []
    window = 0.2
    started = time.monotonic()
    failures: list[str] = []
    for trial in range(args.trials):
        progress = root / f"progress-{trial}.txt"
        proc = ctx.Process(target=child, args=(str(folder), str(progress), floats, args.serializer))
        proc.start()
        deadline = time.monotonic() + 120
        while not read_progress(progress):
            if time.monotonic() > deadline or not proc.is_alive():
                proc.kill()
                raise SystemExit(f"trial {trial}: the child made no progress (exit code {proc.exitcode})")
            time.sleep(0.002)
        time.sleep(rng.uniform(0, window))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        done = read_progress(progress)
        save_times += [b[1] - a[1] for a, b in itertools.pairwise(done)]
        if len(save_times) >= 3:
            window = 2 * statistics.median(save_times)  # kill anywhere in about two saves
        last = done[-1][0]

        payloads = {p.name.split("-")[1]: p for p in folder.glob("ckpt-*") if not p.name.endswith(".json")}
        uncommitted = [
            int(step)
            for step, p in payloads.items()
            if not p.with_name(p.name[: -len(p.suffix)] + ".manifest.json").exists()
        ]
        intact = committed_manifests_complete(folder)
        reader = kit.Checkpointer(folder, readonly=True, serializer=args.serializer)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                state = reader.load_latest()
        except Exception as exc:
            counts["not_loadable"] += 1
            failures.append(f"trial {trial}: nothing loadable: {exc!r}")
            break
        counts["loadable"] += 1
        counts["fallbacks"] += bool(caught)
        step = int(state["step"])
        if not intact or not content_ok(state, floats, args.serializer):
            counts["partial_chosen"] += 1
            failures.append(f"trial {trial}: step {step} is partial or a committed manifest is")
        if step not in (last, last + 1):
            counts["regressed"] += 1
            failures.append(f"trial {trial}: loaded step {step}, last reported {last}")
        if any(s > step for s in uncommitted):
            counts["mid_save"] += 1
        progress.unlink()
    elapsed = time.monotonic() - started

    ok = counts["loadable"] == args.trials and counts["partial_chosen"] == 0 and counts["regressed"] == 0
    print(
        f"kit_sigkill: {args.trials} trials, {args.size_mb:g} MiB {args.serializer} states, seed {seed}, "
        f"{elapsed:.0f} s"
    )
    print(
        f"  median save {statistics.median(save_times) * 1000:.0f} ms, kills uniform over {window * 1000:.0f} ms"
    )
    print(
        f"  loadable {counts['loadable']}/{args.trials}, partial chosen {counts['partial_chosen']}, "
        f"regressed {counts['regressed']}; kills inside an uncommitted save {counts['mid_save']}, "
        f"loads that skipped debris {counts['fallbacks']}  {'OK' if ok else 'MISSED'}"
    )
    for failure in failures[:10]:
        print("  " + failure)
    print(json.dumps({"bench": "kit_sigkill", "trials": args.trials, "seed": seed, **counts, "ok": ok}))
    shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
