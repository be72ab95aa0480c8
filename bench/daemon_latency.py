"""How fast the daemon answers a disconnect and starts the resume cell, beside the seed's console script.

Run: ``python -m bench.daemon_latency [--disconnects 20] [--baseline-interval 60]``.

One emulator serves two copies of a small notebook. The daemon (in this process, headless, default
policy) keeps ``daemon`` alive; a plain page on ``baseline`` runs the seed's console snippet, which
clicks the connect button every 60 s whatever the page shows. Both get an idle disconnect at the same
moments. Figures come from the emulator's event log:

* dialog shown -> Reconnect clicked: the page's own clock on ``dialog.shown`` and on the trusted
  ``click`` (target): median <= 0.5 s, p95 <= 1 s.
* fresh runtime connected -> resume cell running: the server's ``runtime.connected`` and
  ``cell.started`` of the resume cell (target): median <= 2 s.
* baseline: ``dialog.shown`` -> the script's next click on the connect button (about uniform over the
  interval; only as many samples as fit in the run).

Prints a human summary and one JSON line; exits 1 when a target is missed.
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

from playwright.async_api import async_playwright

from sentinel.browser import choose_browser, launch_args
from sentinel.config import load_settings
from sentinel.daemon import Daemon
from sentinel.emulator.testing import EmulatorServer
from sentinel.log import configure_logging
from sentinel.session import SessionPolicy, SessionState

RESUME = "resume"
NOTEBOOK = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    "cells": [
        {
            "cell_type": "code",
            "id": "setup",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": "value = 41",
        },
        {
            "cell_type": "code",
            "id": RESUME,
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": '# sentinel: resume\nprint("resumed")',
        },
    ],
}
# The seed's "Solution A", verbatim apart from the interval.
CONSOLE_SCRIPT = (
    "setInterval(() => document.querySelector('#top-toolbar > colab-connect-button')"
    ".shadowRoot.querySelector('#connect').click(), {interval})"
)


def stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "median": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(ordered), "median": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


def line(name: str, s: dict[str, Any]) -> str:
    if not s["n"]:
        return f"{name:44} no samples"
    return (
        f"{name:44} n={s['n']:3}  median {s['median']:7.3f} s  p95 {s['p95']:7.3f} s  max {s['max']:7.3f} s"
    )


async def wait_until(check: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


async def run(disconnects: int, baseline_interval: float, spacing: float) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    notebooks = work / "notebooks"
    notebooks.mkdir()
    for name in ("daemon", "baseline"):
        (notebooks / f"{name}.ipynb").write_text(json.dumps(NOTEBOOK))
    async with EmulatorServer(notebooks_dir=notebooks, allocation_delay=0.5) as emu, async_playwright() as pw:
        choice = choose_browser()
        browser = await pw.chromium.launch(
            headless=True, executable_path=choice.executable_path, channel=choice.channel, args=launch_args()
        )
        baseline = await browser.new_page()
        await baseline.goto(emu.notebook_url("baseline"))
        # The user connects once by hand, then pastes the script.
        await baseline.locator("colab-connect-button #connect").click()
        await emu.wait_for_event("baseline", "runtime.connected", timeout=30)
        await baseline.evaluate(
            "script => { window.eval(script) }",
            CONSOLE_SCRIPT.replace("{interval}", str(int(baseline_interval * 1000))),
        )
        settings = load_settings(
            urls=[emu.notebook_url("daemon")],
            profile=work / "profile",
            state_dir=work / "state",
            headless=True,
            status_addr="127.0.0.1:0",
        )
        daemon = Daemon(settings, policy=SessionPolicy.from_settings(settings))
        serving = asyncio.create_task(daemon.serve())
        await asyncio.wait_for(daemon.started.wait(), 60)
        session = daemon.sessions[0]

        def calm() -> bool:
            obs = session.observation
            return (
                session.state is SessionState.CONNECTED
                and obs is not None
                and not obs.busy
                and not obs.dialogs
            )

        await wait_until(calm, 60, "daemon notebook connected")
        started = time.time()
        try:
            for n in range(disconnects):
                await wait_until(calm, 60, "daemon notebook connected again")
                await asyncio.sleep(spacing)
                since = time.time()
                await emu.inject("daemon", "idle_disconnect")
                state = await emu.state("baseline")
                if state["runtime"] and state["runtime"]["state"] == "connected":
                    await emu.inject("baseline", "idle_disconnect")
                await emu.wait_for_event(
                    "daemon",
                    "cell.started",
                    since=since,
                    timeout=30,
                    predicate=lambda e: e.get("cell_id") == RESUME,
                )
                print(f"  disconnect {n + 1}/{disconnects} recovered", file=sys.stderr)
        finally:
            daemon.handle_exit(signal.SIGTERM)
            await asyncio.wait_for(serving, 20)
            await browser.close()
        daemon_events = await emu.events("daemon", since=started)
        baseline_events = await emu.events("baseline", since=started)
    return {
        "reconnect": reaction(daemon_events, "dialog:runtime_disconnected:Reconnect"),
        "resume": resume_latencies(daemon_events),
        "baseline": reaction(baseline_events, "connect"),
        "untrusted_daemon_clicks": sum(
            1 for e in daemon_events if e["kind"] == "click" and not e.get("trusted")
        ),
        "baseline_clicks": sum(1 for e in baseline_events if e["kind"] == "click"),
        "baseline_untrusted_clicks": sum(
            1 for e in baseline_events if e["kind"] == "click" and not e.get("trusted")
        ),
    }


def reaction(events: list[dict[str, Any]], target: str) -> list[float]:
    """Per disconnect dialog: page time from ``dialog.shown`` to the next click on ``target``."""
    out = []
    for i, event in enumerate(events):
        if event["kind"] == "dialog.shown" and event.get("dialog") == "runtime_disconnected":
            click = next((e for e in events[i:] if e["kind"] == "click" and e.get("target") == target), None)
            if click is not None:
                out.append(float(click["client_t"]) - float(event["client_t"]))
    return out


def resume_latencies(events: list[dict[str, Any]]) -> list[float]:
    """Per fresh runtime: server time from ``runtime.connected`` to its resume cell's ``cell.started``."""
    out = []
    for event in events:
        if event["kind"] == "runtime.connected":
            start = next(
                (
                    e
                    for e in events
                    if e["kind"] == "cell.started"
                    and e.get("cell_id") == RESUME
                    and e.get("runtime_id") == event["runtime_id"]
                ),
                None,
            )
            if start is not None:
                out.append(float(start["t"]) - float(event["t"]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disconnects", type=int, default=20)
    parser.add_argument(
        "--baseline-interval", type=float, default=60.0, help="the console script's period (s)"
    )
    parser.add_argument("--spacing", type=float, default=3.0, help="calm seconds between two disconnects")
    args = parser.parse_args()
    configure_logging("json", "error")
    result = asyncio.run(run(args.disconnects, args.baseline_interval, args.spacing))
    reconnect, resume, baseline = (
        stats(result["reconnect"]),
        stats(result["resume"]),
        stats(result["baseline"]),
    )
    met = (
        reconnect["n"] >= args.disconnects
        and reconnect["median"] <= 0.5
        and reconnect["p95"] <= 1.0
        and resume["n"] >= args.disconnects
        and resume["median"] <= 2.0
        and result["untrusted_daemon_clicks"] == 0
    )
    print("daemon latency (emulator event log)")
    print(
        line("sentinel: dialog shown -> Reconnect clicked", reconnect) + "   target median <= 0.5, p95 <= 1"
    )
    print(line("sentinel: runtime connected -> resume running", resume) + "   target median <= 2")
    print(line(f"console script ({args.baseline_interval:g} s): shown -> click", baseline))
    print(
        f"untrusted clicks: sentinel {result['untrusted_daemon_clicks']}, console script "
        f"{result['baseline_untrusted_clicks']} of {result['baseline_clicks']} (it also clicks while connected)"
    )
    print("targets met" if met else "TARGET MISSED")
    print(
        json.dumps(
            {
                "bench": "daemon_latency",
                "disconnects": args.disconnects,
                "reconnect_click_s": reconnect,
                "resume_start_s": resume,
                "baseline_click_s": baseline,
                "baseline_interval_s": args.baseline_interval,
                "untrusted_daemon_clicks": result["untrusted_daemon_clicks"],
                "baseline_clicks": result["baseline_clicks"],
                "baseline_untrusted_clicks": result["baseline_untrusted_clicks"],
                "targets_met": met,
            }
        )
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
