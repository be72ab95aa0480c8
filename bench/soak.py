"""A night, compressed: the sample training notebook kept alive through every fault kind, for hours of Colab time.

Run: ``python -m bench.soak [--hours 6] [--minutes 20] [--seed 1] [--baseline 90]``.

The emulator (in this process) serves two copies of the bundled ``train`` notebook, with Colab's
timers (idle timeout, runtime lifetime) and sentinel's policy timers (quota retry, backoff cap)
divided by the compression factor (``hours`` of Colab time in ``minutes``: 18 by default). The daemon
is a child process (``python -m bench.soak --daemon-child SPEC``) in its own process group, with
its browser listening on a local CDP port, so that this process can kill it, kill its browser or
crash its page, and play the person who dismisses a captcha in sentinel's browser.

1. Baseline: the daemon keeps ``baseline`` alive, nothing injected, for ``--baseline`` seconds: the
   uninterrupted training rate (steps per second, from the first progress line on).
2. Soak: a fresh daemon on ``soak``, under a random schedule (``--seed``) drawn from every emulator
   fault kind (quota faults and a slow allocation each meet a reconnect), plus a 60 s outage,
   Chromium SIGKILL, a page crash (its renderers SIGKILLed) and a daemon SIGKILL-and-restart.
   Each fault waits until the previous one is recovered.

A second page socket on ``soak`` (a passive window: it sends no input) reads every ``[sentinel]``
line and "Resumed at step N" of the resume cell. Reported (and checked against targets):

* faults survived (all), double resume runs (0: the resume cell started twice in one runtime),
  checkpoints lost (0: a resume from older than the newest complete checkpoint at the fault),
  sentinel's clicks on a captcha, sign-in or unknown dialog before the person acted (0);
* goodput: unique training steps per wall second over the baseline rate; target >= 0.95 minus the
  share of time Colab itself held training up (allocating a runtime, a usage limit's retry wait);
  also reported: the share a fresh runtime's own start-up took (connected -> training again);
* recovery latency per fault (injected -> training running again, dialog answered, or notebook
  connected again) as percentiles;
* memory growth: summed PSS of daemon, driver and browser, mean of the last Colab hour over the
  first (target <= 10 %).

Prints a summary and one JSON line; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.daemon_latency import stats
from bench.daemon_memory import free_port, memory, tree

NOTEBOOK_SOURCE = Path(__file__).resolve().parents[1] / "sentinel" / "emulator" / "notebooks" / "train.ipynb"
RESUME_CELL = "train1resume"
CKPT_EVERY, REPORT_EVERY = 100, 25
HUMAN_DELAY = 20.0  # seconds (compressed) before the person answers what sentinel must not
RECOVERY_TIMEOUT = 240.0
SHORT_FAULTS = ("idle_disconnect", "crash_oom", "still_there", "max_lifetime")
ALL_FAULTS = (
    "idle_disconnect", "max_lifetime", "crash_oom", "still_there", "gpu_limit", "too_many_sessions",
    "allocation_delay", "captcha", "unknown_dialog", "sign_out", "outage", "chromium_kill", "page_crash",
    "daemon_kill",
)  # fmt: skip
RUNTIME_LOSS = {
    "idle_disconnect",
    "max_lifetime",
    "crash_oom",
    "gpu_limit",
    "too_many_sessions",
    "allocation_delay",
}


@dataclass
class Fault:
    kind: str
    at: float  # planned offset from the soak's start (s)
    injected: float = 0.0
    recovered: float | None = None
    ckpt_before: int | None = None  # newest complete checkpoint when injected (runtime losses)
    resumed_from: int | None = None
    note: str = ""

    @property
    def latency(self) -> float | None:
        return None if self.recovered is None else self.recovered - self.injected


@dataclass
class Watch:
    """What the passive page socket saw of the resume cell: progress lines and resumes, timestamped."""

    reports: list[tuple[float, int]] = field(default_factory=list)
    resumes: list[tuple[float, int]] = field(default_factory=list)
    _partial: str = ""

    def feed(self, text: str) -> None:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        now = time.time()
        for line in lines:
            if line.startswith("[sentinel] "):
                record = json.loads(line[len("[sentinel] ") :])
                self.reports.append((now, int(record["step"])))
            elif line.startswith("Resumed at step "):
                self.resumes.append((now, int(line.split()[3])))

    def max_step(self) -> int:
        return max((step for _, step in self.reports), default=0)


# ---- processes ------------------------------------------------------------------------------


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [part.decode(errors="replace") for part in f.read().split(b"\0") if part]
    except OSError:
        return []


def browser_pids(daemon: int, cdp_port: int) -> tuple[int | None, list[int]]:
    """The browser's main process under ``daemon`` and its renderer processes."""
    flag = f"--remote-debugging-port={cdp_port}"
    main, renderers = None, []
    for pid in tree(daemon):
        args = " ".join(cmdline(pid))  # Chromium's children rewrite theirs as one string
        if flag in args and "--type=" not in args:
            main = pid
        elif "--type=renderer" in args:
            renderers.append(pid)
    return main, renderers


class DaemonProcess:
    """``bench.soak --daemon-child`` in its own process group (as systemd runs a service)."""

    def __init__(self, spec: dict[str, Any], work: Path) -> None:
        self.spec, self.work, self.proc = spec, work, None
        self.log = (work / "daemon.log").open("ab")

    def start(self) -> None:
        spec = self.work / "daemon-spec.json"
        spec.write_text(json.dumps(self.spec))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.soak", "--daemon-child", str(spec)],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL the whole group: the daemon, its Playwright driver and its browser."""
        assert self.proc is not None
        pids = tree(self.proc.pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def daemon_child(spec_path: str) -> int:
    """The daemon with the soak's compressed policy; SIGTERM stops it cleanly."""
    from sentinel.config import load_settings
    from sentinel.daemon import Daemon
    from sentinel.log import configure_logging
    from sentinel.session import SessionPolicy

    spec = json.loads(Path(spec_path).read_text())
    configure_logging("json", "info")
    settings = load_settings(
        urls=[spec["url"]], profile=Path(spec["profile"]), state_dir=Path(spec["state_dir"]), headless=True,
        status_addr=f"127.0.0.1:{spec['status_port']}", browser_path=Path(spec["browser"]),
    )  # fmt: skip
    scale = float(spec["scale"])
    policy = SessionPolicy.from_settings(
        settings, quota_retry=900 / scale, backoff_cap=300 / scale, unclassified_after=10.0
    )

    async def serve() -> int:
        daemon = Daemon(settings, policy=policy)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, daemon.handle_exit, sig)
        return await daemon.serve()

    return asyncio.run(serve())


# ---- the soak ---------------------------------------------------------------------------------


class Soak:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.scale = args.hours * 3600 / (args.minutes * 60)
        self.cdp_port, self.status_port = free_port(), free_port()
        self.states: list[tuple[float, str, str | None]] = []  # status timeline of the soak notebook
        self.memory: list[tuple[float, float]] = []  # (time, PSS MB)
        self.watch = Watch()
        self.daemon: DaemonProcess | None = None
        self.rng = random.Random(args.seed)
        self.untouchable_clicks = 0  # sentinel's clicks on a captcha, sign-in or unknown dialog

    def browser_wrapper(self) -> Path:
        from sentinel.browser import choose_browser

        real = choose_browser(headless=True).executable_path or "chromium"
        wrapper = self.work / "chromium"
        wrapper.write_text(f'#!/bin/sh\nexec {real} --remote-debugging-port={self.cdp_port} "$@"\n')
        wrapper.chmod(0o755)
        return wrapper

    def start_daemon(self, url: str, name: str) -> DaemonProcess:
        spec = {
            "url": url, "profile": str(self.work / "profile"), "state_dir": str(self.work / f"state-{name}"),
            "status_port": self.status_port, "browser": str(self.browser_wrapper()), "scale": self.scale,
        }  # fmt: skip
        daemon = DaemonProcess(spec, self.work)
        daemon.start()
        return daemon

    async def status(self, http: aiohttp.ClientSession) -> dict[str, Any] | None:
        try:
            async with http.get(f"http://127.0.0.1:{self.status_port}/status") as resp:
                notebooks = (await resp.json())["notebooks"]
                return dict(notebooks[0]) if notebooks else None
        except (aiohttp.ClientError, OSError, ValueError, KeyError):
            return None

    async def poll_status(self, http: aiohttp.ClientSession) -> None:
        while True:
            nb = await self.status(http)
            state, reason = ("down", None) if nb is None else (nb["state"], nb.get("blocked_reason"))
            if not self.states or self.states[-1][1:] != (state, reason):
                self.states.append((time.time(), state, reason))
            await asyncio.sleep(0.25)

    async def sample_memory(self) -> None:
        while True:
            if self.daemon is not None and self.daemon.proc is not None and self.daemon.proc.poll() is None:
                self.memory.append((time.time(), memory(tree(self.daemon.proc.pid))[1]))
            await asyncio.sleep(10)

    async def watch_page(self, http: aiohttp.ClientSession, base_url: str, name: str, watch: Watch) -> None:
        """A second, passive window on the notebook: reads the resume cell's output as it streams."""
        while True:
            try:
                async with http.ws_connect(f"{base_url}/api/notebooks/{name}/ws") as ws:
                    await ws.send_json({"type": "hello", "ui": "2025", "client_time": 0})
                    async for msg in ws:
                        data = msg.json() if msg.type == aiohttp.WSMsgType.TEXT else {}
                        if data.get("type") == "output" and data.get("cell_id") == RESUME_CELL:
                            watch.feed(data.get("text") or "")
            except (aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.5)  # an outage refuses the socket; try again

    async def until(self, check: Any, within: float = RECOVERY_TIMEOUT) -> float | None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if check():
                return time.time()
            await asyncio.sleep(0.1)
        return None

    def state_now(self) -> tuple[str, str | None]:
        return self.states[-1][1:] if self.states else ("down", None)

    def connected_since(self, t: float) -> bool:
        return self.state_now()[0] == "connected" and self.states[-1][0] >= t

    async def baseline(self, emu: Any, http: aiohttp.ClientSession) -> float:
        watch = Watch()
        reader = asyncio.create_task(self.watch_page(http, emu.base_url, "baseline", watch))
        self.daemon = self.start_daemon(emu.notebook_url("baseline"), "baseline")
        try:
            await self.until(lambda: len(watch.reports) >= 2, within=300)
            await asyncio.sleep(self.args.baseline)
        finally:
            self.daemon.stop()
            reader.cancel()
            await emu.inject("baseline", "idle_disconnect")  # the kernel stops training
        (t0, s0), (t1, s1) = watch.reports[0], watch.reports[-1]
        return (s1 - s0) / (t1 - t0)

    def schedule(self, span: float) -> list[Fault]:
        every = self.args.kinds.split(",") if self.args.kinds else list(ALL_FAULTS)
        count = max(len(every), round(3 * self.args.hours))  # about three events per Colab hour
        kinds = every + [self.rng.choice(SHORT_FAULTS) for _ in range(count - len(every))]
        self.rng.shuffle(kinds)
        warmup, slot = 30.0, (span - 60.0) / count
        return [
            Fault(kind, warmup + i * slot + self.rng.uniform(0, 0.3 * slot)) for i, kind in enumerate(kinds)
        ]

    def newest_checkpoint(self, emu: Any) -> int | None:
        from sentinel.notebook import Checkpointer

        folder = emu.drive_dir / "soak" / "checkpoints"
        if not folder.exists():
            return None
        infos = Checkpointer(folder, readonly=True).list()
        return infos[-1].step if infos else None

    async def person(self, script: str, *args: str) -> None:
        """The person, in sentinel's own browser (over its CDP port): clicks what sentinel must not."""
        from playwright.async_api import async_playwright

        async with async_playwright() as pw:
            browser = await pw.chromium.connect_over_cdp(f"http://127.0.0.1:{self.cdp_port}")
            try:
                page = next(p for c in browser.contexts for p in c.pages if "/notebooks/soak" in p.url)
                if script == "captcha":
                    await page.locator("colab-recaptcha-dialog mwc-button").click()
                else:
                    await page.get_by_role("button", name=args[0]).click()
            finally:
                await browser.close()  # disconnects; the browser stays

    async def inject(self, emu: Any, fault: Fault) -> None:
        """Inject ``fault`` and wait until it is recovered (or the recovery timeout passes)."""
        kind, t = fault.kind, time.time()
        fault.injected = t
        resumes_before = len(self.watch.resumes)
        if kind in RUNTIME_LOSS:
            fault.ckpt_before = self.newest_checkpoint(emu)
            if kind in ("gpu_limit", "too_many_sessions"):
                await emu.inject("soak", kind)  # the next connect meets it
                await emu.inject("soak", "idle_disconnect")
            elif kind == "allocation_delay":
                await emu.inject("soak", kind, seconds=20.0)
                await emu.inject("soak", "idle_disconnect")
            else:
                await emu.inject("soak", kind)
            fault.recovered = await self.until(lambda: len(self.watch.resumes) > resumes_before)
            if fault.recovered is not None:
                fault.resumed_from = self.watch.resumes[resumes_before][1]
            if kind == "allocation_delay":
                await emu.inject("soak", kind, seconds=self.args.allocation)
        elif kind == "still_there":
            await emu.inject("soak", kind)
            events = lambda: emu.hub("soak").events.since(t)  # noqa: E731
            fault.recovered = await self.until(
                lambda: any(e["kind"] == "click" and "still_there" in str(e.get("target")) for e in events())
            )
        elif kind in ("captcha", "unknown_dialog", "sign_out"):
            await emu.inject("soak", kind)
            if kind == "unknown_dialog":  # sentinel leaves it alone and tells a person (no state)
                await asyncio.sleep(HUMAN_DELAY)
            else:
                blocked = await self.until(lambda: self.state_now()[0] == "blocked", within=60)
                fault.note = f"blocked {self.state_now()[1]}" if blocked else "NEVER BLOCKED"
                await asyncio.sleep(HUMAN_DELAY)
            acted = time.time()
            self.untouchable_clicks += sum(
                1
                for e in emu.hub("soak").events.since(t)
                if e["kind"] == "click" and str(e.get("target", "")).startswith(("dialog:", "captcha:"))
            )
            if kind == "captcha":
                await self.person("captcha")
            elif kind == "unknown_dialog":
                await self.person("button", "Not now")
            else:
                await emu.inject("soak", "sign_in")
            await asyncio.sleep(0.5)  # the status poll has seen the person's act
            fault.recovered = await self.until(lambda: self.state_now()[0] == "connected")
            fault.injected = acted  # sentinel's part starts when the person has acted
        elif kind == "outage":
            await emu.inject("soak", kind, seconds=60.0)
            await asyncio.sleep(60.0)
            fault.injected = time.time()  # from the outage's end
            fault.recovered = await self.until(lambda: self.state_now()[0] == "connected")
            seen = dict.fromkeys(state for when, state, _ in self.states if when >= t)
            fault.note = "daemon states during it: " + (", ".join(seen) or "connected throughout")
        else:  # chromium_kill, page_crash, daemon_kill
            assert self.daemon is not None and self.daemon.proc is not None
            main, renderers = browser_pids(self.daemon.proc.pid, self.cdp_port)
            if kind == "daemon_kill":
                self.daemon.kill()
                self.daemon.start()
            else:
                for pid in [main] if kind == "chromium_kill" else renderers:
                    if pid is not None:
                        os.kill(pid, signal.SIGKILL)
            left = await self.until(lambda: self.state_now()[0] != "connected", within=20)
            if left is not None:
                fault.recovered = await self.until(lambda: self.connected_since(t))
            fault.note = {
                "chromium_kill": f"browser pid {main}",
                "page_crash": f"{len(renderers)} renderer(s)",
                "daemon_kill": "restarted",
            }[kind] + ("" if left is not None else "; the status never left connected")

    async def run(self) -> dict[str, Any]:
        from sentinel.emulator.testing import EmulatorServer

        notebooks = self.work / "notebooks"
        notebooks.mkdir()
        for name in ("baseline", "soak"):
            shutil.copy(NOTEBOOK_SOURCE, notebooks / f"{name}.ipynb")
        span = self.args.minutes * 60
        emulator_options = {
            "notebooks_dir": notebooks, "drive_dir": self.work / "drive", "allocation_delay": self.args.allocation,
            "idle_timeout": 5400 / self.scale, "max_lifetime": 43200 / self.scale,
        }  # fmt: skip
        (self.work / "drive").mkdir()
        async with EmulatorServer(**emulator_options) as emu, aiohttp.ClientSession() as http:
            # The status poll and the memory sampler run during the baseline too: the same load on
            # the machine, so that the two training rates compare.
            tasks = [asyncio.create_task(self.poll_status(http)), asyncio.create_task(self.sample_memory())]
            os.environ["SENTINEL_DEMO_PROJECT"] = "baseline"
            rate = await self.baseline(emu, http)
            print(f"  baseline: {rate:.1f} steps/s", file=sys.stderr, flush=True)
            os.environ["SENTINEL_DEMO_PROJECT"] = "soak"
            self.states.clear()
            self.memory.clear()
            tasks.append(asyncio.create_task(self.watch_page(http, emu.base_url, "soak", self.watch)))
            await emu.clear_events("soak")
            self.daemon = self.start_daemon(emu.notebook_url("soak"), "soak")
            faults = self.schedule(span)
            try:
                await self.until(lambda: bool(self.watch.reports), within=300)
                start = self.watch.reports[0][0]
                for n, fault in enumerate(faults):
                    await asyncio.sleep(max(0.0, start + fault.at - time.time()))
                    await self.inject(emu, fault)
                    print(
                        f"  {n + 1}/{len(faults)} {fault.kind}: "
                        + (f"recovered in {fault.latency:.2f} s" if fault.latency is not None else "NOT RECOVERED")
                        + (f" ({fault.note})" if fault.note else ""),
                        file=sys.stderr, flush=True,
                    )  # fmt: skip
                await asyncio.sleep(max(0.0, start + span - time.time()))
                end = time.time()
                events = await emu.events("soak")
            finally:
                self.daemon.stop()
                for task in tasks:
                    task.cancel()
        return self.figures(rate, faults, events, start, end)

    def figures(
        self, rate: float, faults: list[Fault], events: list[dict[str, Any]], start: float, end: float
    ) -> dict[str, Any]:
        wall = end - start
        steps = self.watch.max_step() - self.watch.reports[0][1]
        # Runtime generations (a fresh runtime or a restarted session) and their resume-cell starts.
        starts: dict[tuple[str, int], int] = {}
        generation: dict[str, int] = {}
        allocating_since: float | None = None
        colab_time = 0.0
        for e in events:
            if e["kind"] == "runtime.restarted":
                generation[e["runtime_id"]] = generation.get(e["runtime_id"], 0) + 1
            elif e["kind"] == "cell.started" and e.get("cell_id") == RESUME_CELL:
                key = (e["runtime_id"], generation.get(e["runtime_id"], 0))
                starts[key] = starts.get(key, 0) + 1
            elif e["kind"] == "runtime.allocating":
                allocating_since = float(e["t"])
            elif (
                e["kind"] in ("runtime.connected", "runtime.connect_failed") and allocating_since is not None
            ):
                colab_time += float(e["t"]) - allocating_since
                allocating_since = None
        quota = ("gpu_limit", "too_many_sessions")
        for (t0, state, reason), (t1, _, _) in zip(
            self.states, [*self.states[1:], (end, "", None)], strict=True
        ):
            if state == "blocked" and reason in quota and t1 > start:
                colab_time += min(t1, end) - max(t0, start)
        # A fresh runtime's own start-up, not sentinel's and not Colab's allocation: from the runtime
        # connected to the resumed notebook training again (Python, torch, Drive, data, checkpoint).
        connected = [float(e["t"]) for e in events if e["kind"] == "runtime.connected"]
        notebook_start = 0.0
        for f in faults:
            if f.kind in RUNTIME_LOSS and f.recovered is not None:
                before = [t for t in connected if f.injected < t <= f.recovered]
                notebook_start += f.recovered - before[-1] if before else 0.0
        latencies = [f.latency for f in faults if f.latency is not None]
        hour = wall / self.args.hours
        first = [mb for t, mb in self.memory if t < start + hour]
        last = [mb for t, mb in self.memory if t >= end - hour]
        growth = statistics.mean(last) / statistics.mean(first) - 1 if first and last else None
        goodput = steps / (rate * wall)
        return {
            "bench": "soak",
            "colab_hours": self.args.hours,
            "wall_s": round(wall, 1),
            "compression": round(self.scale, 2),
            "seed": self.args.seed,
            "faults": len(faults),
            "faults_survived": len(latencies),
            "not_survived": [f.kind for f in faults if f.latency is None],
            "double_resume_runs": sum(1 for n in starts.values() if n > 1),
            "resume_runs": sum(starts.values()),
            "clicks_on_what_needs_a_person": self.untouchable_clicks,
            "checkpoints_lost": sum(
                1 for f in faults if f.ckpt_before is not None and (f.resumed_from or 0) < f.ckpt_before
            ),
            "baseline_steps_per_s": round(rate, 2),
            "steps": steps,
            "goodput": round(goodput, 4),
            "colab_share": round(colab_time / wall, 4),
            "goodput_target": round(0.95 - colab_time / wall, 4),
            "notebook_start_share": round(notebook_start / wall, 4),
            "recovery_s": _percentiles(latencies),
            "pss_first_hour_mb": round(statistics.mean(first), 1) if first else None,
            "pss_last_hour_mb": round(statistics.mean(last), 1) if last else None,
            "memory_growth": round(growth, 4) if growth is not None else None,
            "per_fault": [asdict(f) | {"latency": f.latency} for f in faults],
        }


def _percentiles(values: list[float]) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in stats(values).items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=6.0, help="Colab hours to play")
    parser.add_argument("--minutes", type=float, default=20.0, help="wall minutes to play them in")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", type=float, default=90.0, help="seconds of uninterrupted training")
    parser.add_argument("--allocation", type=float, default=1.5, help="seconds Colab takes to allocate")
    parser.add_argument("--kinds", help="comma-separated fault kinds to draw from (default: every kind)")
    parser.add_argument("--daemon-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if unknown := set((args.kinds or "").split(",")) - set(ALL_FAULTS) - {""}:
        parser.error(f"unknown fault kinds: {', '.join(sorted(unknown))} (known: {', '.join(ALL_FAULTS)})")
    if args.daemon_child:
        return daemon_child(args.daemon_child)
    from sentinel.log import configure_logging

    configure_logging("json", "error")
    os.environ.update(
        SENTINEL_DEMO_STEPS=str(10**7), SENTINEL_DEMO_CKPT_EVERY=str(CKPT_EVERY),
        SENTINEL_DEMO_REPORT_EVERY=str(REPORT_EVERY), SENTINEL_DEMO_PATIENCE=str(10**9),
    )  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    try:
        result = asyncio.run(Soak(args, work).run())
    finally:
        print(f"  work folder (daemon.log, drive): {work}", file=sys.stderr)
    met = (
        not result["not_survived"]
        and result["double_resume_runs"] == 0
        and result["checkpoints_lost"] == 0
        and result["clicks_on_what_needs_a_person"] == 0
        and result["goodput"] >= result["goodput_target"]
        and (result["memory_growth"] is None or result["memory_growth"] <= 0.10)
    )
    r = result["recovery_s"]
    print(
        f"soak: {result['colab_hours']:g} Colab hours in {result['wall_s'] / 60:.1f} min (x{result['compression']})"
    )
    print(
        f"faults survived            {result['faults_survived']}/{result['faults']}  {result['not_survived'] or ''}"
    )
    print(f"double resume runs         {result['double_resume_runs']} of {result['resume_runs']} (target 0)")
    print(f"checkpoints lost           {result['checkpoints_lost']} (target 0)")
    print(f"clicks on what needs a person {result['clicks_on_what_needs_a_person']} (target 0)")
    print(
        f"goodput                    {result['goodput']:.3f} (target >= {result['goodput_target']:.3f}: 0.95 - Colab's share {result['colab_share']:.3f})"
    )
    print(
        f"  of the loss, a fresh runtime's own start-up (torch, Drive, data, checkpoint): {result['notebook_start_share']:.3f}"
    )
    print(f"recovery latency           p50 {r['median']} s  p95 {r['p95']} s  max {r['max']} s (n={r['n']})")
    print(
        f"memory (PSS, first->last hour) {result['pss_first_hour_mb']} -> {result['pss_last_hour_mb']} MB: growth {result['memory_growth']} (target <= 0.10)"
    )
    print("targets met" if met else "TARGET MISSED")
    print(json.dumps(result))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
