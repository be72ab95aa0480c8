"""Memory and idle CPU of ``sentinel run`` (the daemon process plus its Chromium and Playwright driver).

Run: ``python -m bench.daemon_memory [--counts 1 4 8] [--idle 30]``.

For each count, an emulator in this process serves that many notebooks; ``sentinel run`` (a
subprocess, headless, default policy) keeps them alive. Once every notebook is connected and
resumed, the benchmark waits for things to settle, then sums over the daemon's process tree (the
Python process, the Playwright driver, every Chromium process; not the emulator or its kernels):

* PSS (each page shared between Chromium's processes split between its users): target <= 350 MB
  with 1 notebook, <= +25 MB per further notebook. RSS (shared pages counted once per process) is
  printed beside it. Headless, sentinel starts the headless shell when it is installed (Debian's
  ``chromium-headless-shell``), as Playwright does.
* CPU while idle: CPU seconds over ``--idle`` wall seconds, as % of one core; target <= 0.5 % with
  one notebook (more notebooks are reported beside it).
* For the largest count, the same pages in a plain Chromium without sentinel (connected by one
  click each, nothing injected): the CPU the emulated Colab pages burn by themselves, which is part
  of the daemon's figure but not sentinel's doing.

Prints a human summary and one JSON line; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from sentinel.emulator.testing import EmulatorServer

NOTEBOOK = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    "cells": [
        {
            "cell_type": "code",
            "id": "resume",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": '# sentinel: resume\nprint("resumed")',
        },
    ],
}
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def tree(root: int) -> list[int]:
    """``root`` and all its descendants (from /proc, by parent pid)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        ppid = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:")), 0)
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def memory(pids: list[int]) -> tuple[float, float]:
    """(RSS, PSS) summed over ``pids``, in MB."""
    rss = pss = 0
    for pid in pids:
        try:
            rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return rss / 1e6, pss / 1e6


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) each process has used so far."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / TICK
    return out


def _is_driver(pid: int) -> bool:
    try:
        return b"playwright/driver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure(count: int, idle: float, settle: float) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-memory-{count}-"))
    notebooks = work / "notebooks"
    notebooks.mkdir()
    names = [f"nb{i}" for i in range(count)]
    for name in names:
        (notebooks / f"{name}.ipynb").write_text(json.dumps(NOTEBOOK))
    async with EmulatorServer(notebooks_dir=notebooks, allocation_delay=0.5) as emu:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sentinel",
            "--log-level",
            "warning",
            "run",
            *[emu.notebook_url(name) for name in names],
            "--headless",
            "--profile",
            str(work / "profile"),
            "--state-dir",
            str(work / "state"),
            "--status-addr",
            f"127.0.0.1:{port}",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
        )
        try:
            await wait_connected(port, count)
            for name in names:
                await emu.wait_for_event(
                    name, "cell.finished", timeout=60, predicate=lambda e: e.get("cell_id") == "resume"
                )
            await asyncio.sleep(settle)
            before, started = cpu_seconds(tree(proc.pid)), time.monotonic()
            await asyncio.sleep(idle)
            pids_after = tree(proc.pid)
            after = cpu_seconds(pids_after)
            elapsed = time.monotonic() - started
            # A process born during the window counts whole; one that died in it is lost (rare, small).
            used = sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())
            rss, pss = memory(pids_after)
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 20)
    return {
        "notebooks": count,
        "rss_mb": round(rss, 1),
        "pss_mb": round(pss, 1),
        "processes": len(pids_after),
        "idle_cpu_percent": round(100 * used / elapsed, 3),
    }


async def page_only_cpu(count: int, idle: float, settle: float) -> float:
    """% of one core that ``count`` connected emulator pages cost in a plain Chromium (no sentinel)."""
    from playwright.async_api import async_playwright

    from sentinel.browser import PROFILE_ARGS, choose_browser, launch_args

    work = Path(tempfile.mkdtemp(prefix=f"bench-pages-{count}-"))
    notebooks = work / "notebooks"
    notebooks.mkdir()
    for i in range(count):
        (notebooks / f"nb{i}.ipynb").write_text(json.dumps(NOTEBOOK))
    async with EmulatorServer(notebooks_dir=notebooks, allocation_delay=0.5) as emu, async_playwright() as pw:
        choice = choose_browser(headless=True)
        context = await pw.chromium.launch_persistent_context(
            str(work / "profile"),
            headless=True,
            executable_path=choice.executable_path,
            args=launch_args(PROFILE_ARGS),
        )
        try:
            assert context.browser is not None
            cdp = await context.browser.new_browser_cdp_session()
            pages = [context.pages[0]]
            for _ in range(1, count):
                async with context.expect_page() as info:
                    await cdp.send("Target.createTarget", {"url": "about:blank", "newWindow": True})
                pages.append(await info.value)
            for i, page in enumerate(pages):
                await page.goto(emu.notebook_url(f"nb{i}"))
                await page.locator("colab-connect-button #connect").click()
                await emu.wait_for_event(f"nb{i}", "runtime.connected", timeout=60)
            await asyncio.sleep(settle)
            driver = [p for p in tree(os.getpid()) if _is_driver(p)]
            pids = [p for p in tree(driver[0]) if p != driver[0]]  # Chromium only
            before, started = cpu_seconds(pids), time.monotonic()
            await asyncio.sleep(idle)
            after = cpu_seconds(tree(driver[0]))
            after.pop(driver[0], None)
            elapsed = time.monotonic() - started
        finally:
            await context.close()
    return round(100 * sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items()) / elapsed, 3)


async def wait_connected(port: int, count: int) -> None:
    deadline = time.monotonic() + 120
    async with aiohttp.ClientSession() as client:
        while time.monotonic() < deadline:
            try:
                async with client.get(f"http://127.0.0.1:{port}/status") as response:
                    body = await response.json()
                states = [nb["state"] for nb in body["notebooks"]]
                if len(states) == count and all(s == "connected" for s in states):
                    return
            except (aiohttp.ClientError, ValueError, KeyError):
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{count} notebooks not connected within 120 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU measurement")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds to wait after the last resume")
    args = parser.parse_args()
    results = [asyncio.run(measure(count, args.idle, args.settle)) for count in args.counts]
    largest = max(args.counts)
    pages_only = asyncio.run(page_only_cpu(largest, args.idle, args.settle))
    by_count = {r["notebooks"]: r for r in results}
    base = by_count.get(1)
    per_extra = None
    if base is not None and len(results) > 1:
        per_extra = max(
            (r["rss_mb"] - base["rss_mb"]) / (r["notebooks"] - 1) for r in results if r["notebooks"] > 1
        )
    pss_per_extra = None
    if base is not None and len(results) > 1:
        pss_per_extra = max(
            (r["pss_mb"] - base["pss_mb"]) / (r["notebooks"] - 1) for r in results if r["notebooks"] > 1
        )
    met = (
        (base is None or base["pss_mb"] <= 350)
        and (pss_per_extra is None or pss_per_extra <= 25)
        and (base is None or base["idle_cpu_percent"] <= 0.5)
    )
    print("sentinel run: daemon + Playwright driver + Chromium (headless), summed over the process tree")
    for r in results:
        print(
            f"  {r['notebooks']} notebook(s): RSS {r['rss_mb']:7.1f} MB  PSS {r['pss_mb']:7.1f} MB  "
            f"{r['processes']:2} processes  idle CPU {r['idle_cpu_percent']:.2f} % of one core"
        )
    print(
        f"  the same {largest} pages in a plain Chromium, no sentinel: idle CPU {pages_only:.2f} % of one core"
    )
    if per_extra is not None and pss_per_extra is not None:
        print(
            f"  per further notebook (worst): PSS {pss_per_extra:.1f} MB (target <= 25), RSS {per_extra:.1f} MB"
        )
    print("  targets: PSS(1) <= 350 MB, PSS per further notebook <= 25 MB, idle CPU(1) <= 0.5 %")
    print("targets met" if met else "TARGET MISSED")
    print(
        json.dumps(
            {
                "bench": "daemon_memory",
                "results": results,
                "rss_per_extra_mb": per_extra,
                "pss_per_extra_mb": pss_per_extra,
                "pages_only_idle_cpu_percent": {"notebooks": largest, "percent": pages_only},
                "targets_met": met,
            }
        )
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
