"""Which Chromium to drive and how to launch it (system Chromium first, then Playwright's own)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

# Flags every Chromium we start gets. Background networking, component updates and sync all
# phone home; on a closed network they only produce refused connections and noise.
BASE_ARGS: tuple[str, ...] = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-dev-shm-usage",
)

_SYSTEM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@dataclass(frozen=True, slots=True)
class BrowserChoice:
    """How to start the browser: an executable path, a Playwright channel, or Playwright's bundled build."""

    executable_path: Path | None = None
    channel: str | None = None

    def describe(self) -> str:
        if self.executable_path is not None:
            return str(self.executable_path)
        if self.channel is not None:
            return f"channel {self.channel}"
        return "Playwright's bundled Chromium"


def system_chromium() -> Path | None:
    """The first Chromium or Chrome on PATH, or None."""
    for name in _SYSTEM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def choose_browser(browser_path: Path | None = None, channel: str | None = None) -> BrowserChoice:
    """Pick the browser: an explicit path, else a channel, else a system Chromium, else Playwright's."""
    if browser_path is not None:
        return BrowserChoice(executable_path=browser_path)
    if channel is not None:
        return BrowserChoice(channel=channel)
    found = system_chromium()
    return BrowserChoice(executable_path=found) if found is not None else BrowserChoice()


def launch_args(extra: tuple[str, ...] = ()) -> list[str]:
    """Command-line flags for Chromium; adds --no-sandbox when running as root (Chromium refuses otherwise)."""
    args = list(BASE_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    args.extend(extra)
    return args
