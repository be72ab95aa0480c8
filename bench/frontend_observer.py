"""How fast the Colab frontend notices and answers a dialog, and what its in-page observer costs.

Run: ``python -m bench.frontend_observer [--runs 30] [--ui 2025]`` (headless Chromium, a local emulator).

Measured on the emulator's event log (page clock and this process share the machine's wall clock):

* ``shown -> signal``: a dialog's ``dialog.shown`` (page time) to the Signal arriving in Python.
* ``signal -> click``: the Signal to the trusted click on the dialog's button (``answer()``).
* ``disconnect -> reconnect click``: the "Runtime disconnected" dialog shown to the Reconnect click,
  the frontend's share of the daemon's "dialog shown -> Reconnect clicked" target.
* ``collect()``: one examination of the page (all shadow roots), in page milliseconds.
* observer reports per printed line while a cell streams output (the output filter's effect).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

from playwright.async_api import Page, async_playwright

from sentinel.browser import choose_browser, launch_args
from sentinel.emulator.testing import EmulatorServer
from sentinel.frontends.base import Action, Connection, Dialog, Signal
from sentinel.frontends.colab import PAGE_JS, ColabFrontend

NB = "hello"


class Inbox:
    def __init__(self) -> None:
        self.signals: list[Signal] = []
        self.changed = asyncio.Event()

    def __call__(self, signal: Signal) -> None:
        self.signals.append(signal)
        self.changed.set()

    async def wait(self, predicate: Callable[[Signal], bool], start: int) -> Signal:
        async with asyncio.timeout(15):
            while True:
                for signal in self.signals[start:]:
                    if predicate(signal):
                        return signal
                self.changed.clear()
                await self.changed.wait()


def summary(name: str, values: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    if not values:
        return f"{name:34} no samples"
    ordered = sorted(v * scale for v in values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{name:34} n={len(ordered):3}  median {statistics.median(ordered):7.1f} {unit}"
        f"  p95 {p95:7.1f} {unit}  max {ordered[-1]:7.1f} {unit}"
    )


async def connect(frontend: ColabFrontend, page: Page, emu: EmulatorServer, inbox: Inbox) -> None:
    since = time.time()
    await frontend.reconnect(page)
    await emu.wait_for_event(NB, "runtime.connected", since=since)
    await inbox.wait(lambda s: s.observation.connection is Connection.CONNECTED, len(inbox.signals) - 1)


async def run(runs: int, ui: str) -> None:
    async with EmulatorServer(allocation_delay=0.1) as emu, async_playwright() as pw:
        choice = choose_browser()
        browser = await pw.chromium.launch(
            headless=True, executable_path=choice.executable_path, channel=choice.channel, args=launch_args()
        )
        try:
            page = await browser.new_page()
            frontend = ColabFrontend()
            inbox = Inbox()
            await frontend.install(page, inbox)
            await page.goto(emu.notebook_url(NB, ui=ui))
            await inbox.wait(lambda s: s.observation.connection is Connection.DISCONNECTED, 0)
            await connect(frontend, page, emu, inbox)

            shown_to_signal: list[float] = []
            signal_to_click: list[float] = []
            for _ in range(runs):
                since, mark = time.time(), len(inbox.signals)
                await emu.inject(NB, "still_there")
                signal = await inbox.wait(lambda s: Dialog.STILL_THERE in s.observation.dialogs, mark)
                await frontend.answer(page, Dialog.STILL_THERE, Action.YES)
                shown = await emu.wait_for_event(NB, "dialog.shown", since=since)
                click = await emu.wait_for_event(
                    NB,
                    "click",
                    since=since,
                    predicate=lambda e: str(e["target"]).startswith("dialog:still_there"),
                )
                shown_to_signal.append(signal.received_at - shown["client_t"])
                signal_to_click.append(click["client_t"] - signal.received_at)
                await inbox.wait(lambda s: not s.observation.dialogs, mark)

            disconnect_to_click: list[float] = []
            for _ in range(max(1, runs // 3)):
                since, mark = time.time(), len(inbox.signals)
                await emu.inject(NB, "idle_disconnect")
                await inbox.wait(lambda s: Dialog.RUNTIME_DISCONNECTED in s.observation.dialogs, mark)
                await frontend.reconnect(page)
                shown = await emu.wait_for_event(NB, "dialog.shown", since=since)
                click = await emu.wait_for_event(
                    NB,
                    "click",
                    since=since,
                    predicate=lambda e: e["target"] == "dialog:runtime_disconnected:Reconnect",
                )
                disconnect_to_click.append(click["client_t"] - shown["client_t"])
                await emu.wait_for_event(NB, "runtime.connected", since=since)
                await inbox.wait(lambda s: s.observation.connection is Connection.CONNECTED, mark)

            per_collect_ms = await page.evaluate(
                f"""(cfg) => {{
                  const api = ({PAGE_JS})(cfg);
                  api.collect();
                  const start = performance.now();
                  for (let i = 0; i < 200; i++) api.collect();
                  return (performance.now() - start) / 200;
                }}""",
                frontend._config,
            )
            elements = await page.evaluate("() => document.querySelectorAll('*').length")

            before = await page.evaluate("() => window.__sentinelColabObserver.collects")
            since = time.time()
            await frontend.run_cell_with_marker(page, "for step in range(1, 11)")
            await emu.wait_for_event(NB, "cell.finished", since=since, timeout=30)
            after = await page.evaluate("() => window.__sentinelColabObserver.collects")
            lines = 11  # "step 1/10" .. "step 10/10", "done"

            print(
                f"frontend observer on the emulator (ui={ui}, headless Chromium, {elements} light-DOM elements)"
            )
            print(summary("dialog shown -> Signal", shown_to_signal))
            print(summary("Signal -> trusted click (answer)", signal_to_click))
            print(summary("disconnect shown -> Reconnect click", disconnect_to_click))
            print(f"{'collect() per call':34} {per_collect_ms:.2f} ms (page time, mean of 200)")
            print(
                f"{'collects while a cell printed':34} {after - before} for {lines} lines (run, output, finish)"
            )
        finally:
            await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--ui", choices=("2022", "2023", "2025", "next"), default="2025")
    args = parser.parse_args()
    asyncio.run(run(args.runs, args.ui))


if __name__ == "__main__":
    main()
