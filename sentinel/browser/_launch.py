"""Which Chromium to drive and how to launch it: the choice, its flags, the persistent context."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from sentinel._playwright import map_playwright_errors
from sentinel.browser._profile import check_profile_unlocked, prepare_profile
from sentinel.config import display_available
from sentinel.errors import BrowserChoiceError, BrowserError

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Playwright

log = structlog.get_logger(__name__)

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
# Debian's package `chromium-headless-shell` (and Playwright's own build of it): the old headless
# mode as a binary of its own, without the UI code. Playwright uses it for headless by default;
# so do we when it is installed (bench/daemon_memory.py: about half the memory of full Chromium).
_HEADLESS_SHELL_CANDIDATES = ("chromium-headless-shell",)
# Debian's /usr/bin/chromium-headless-shell is a `sh -e` wrapper that runs the binary as its child
# (no exec): a signal to the browser's pid would reach the shell only. Start the binary itself.
_DEBIAN_HEADLESS_SHELL = Path("/usr/lib/chromium/chromium-headless-shell")

# Flags for the daemon's own persistent profile. Without the automation switch and blink flag,
# Google's sign-in page is less likely to refuse the browser (colab-ui.md section 6).
# --process-per-site: every notebook page of one site (colab.research.google.com) shares one
# renderer process instead of one each: about 50 MB per further notebook instead of about 190 MB
# (bench/daemon_memory.py). The price: a renderer crash reloads all notebook pages at once; the
# runtimes are not affected and the daemon reopens every page.
PROFILE_ARGS: tuple[str, ...] = ("--disable-blink-features=AutomationControlled", "--process-per-site")
IGNORED_DEFAULT_ARGS: tuple[str, ...] = ("--enable-automation",)


@dataclass(frozen=True, slots=True)
class BrowserChoice:
    """How to start the browser: an executable path, a Playwright channel, or Playwright's bundled build.

    Attributes:
        executable_path: the binary to start, if not Playwright's own.
        channel: a Playwright channel (``chrome``, ``msedge``...).
        named_by: the option the user chose it with (``--browser-path``, ``--channel``), or None
            when sentinel picked it; a browser the user named that does not start is their input.
    """

    executable_path: Path | None = None
    channel: str | None = None
    named_by: str | None = None

    def describe(self) -> str:
        if self.executable_path is not None:
            return str(self.executable_path)
        if self.channel is not None:
            return f"channel {self.channel}"
        return "Playwright's bundled Chromium"


def _first_on_path(names: tuple[str, ...]) -> Path | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def system_chromium() -> Path | None:
    """The first Chromium or Chrome on PATH, or None."""
    return _first_on_path(_SYSTEM_CANDIDATES)


def system_headless_shell() -> Path | None:
    """Debian's ``chromium-headless-shell`` binary (not its wrapper script), or one on PATH, or None."""
    if _DEBIAN_HEADLESS_SHELL.is_file() and os.access(_DEBIAN_HEADLESS_SHELL, os.X_OK):
        return _DEBIAN_HEADLESS_SHELL
    return _first_on_path(_HEADLESS_SHELL_CANDIDATES)


def choose_browser(
    browser_path: Path | None = None, channel: str | None = None, *, headless: bool = False
) -> BrowserChoice:
    """Pick the browser.

    In order: an explicit path (``--browser-path``); a channel (``--channel chrome``: the real Chrome
    Google trusts for sign-in); when ``headless``, the system's headless shell; a system Chromium;
    else Playwright's own (which is its headless shell when headless).
    """
    if browser_path is not None:
        return BrowserChoice(executable_path=browser_path, named_by="--browser-path")
    if channel is not None:
        return BrowserChoice(channel=channel, named_by="--channel")
    found = (system_headless_shell() if headless else None) or system_chromium()
    return BrowserChoice(executable_path=found) if found is not None else BrowserChoice()


def launch_args(extra: tuple[str, ...] = ()) -> list[str]:
    """Command-line flags for Chromium; adds --no-sandbox when running as root (Chromium refuses otherwise)."""
    args = list(BASE_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    args.extend(extra)
    return args


def resolve_headless(headless: bool | None) -> bool:
    """``--headless``/``--headed`` as given; unset means headed exactly when a display exists."""
    return not display_available() if headless is None else headless


async def launch_persistent(
    playwright: Playwright,
    profile: Path,
    *,
    headless: bool,
    browser_path: Path | None = None,
    channel: str | None = None,
    env: Mapping[str, str] | None = None,
) -> BrowserContext:
    """Launch Chromium on the private ``profile`` (created 0700) and return its persistent context.

    Args:
        env: the browser's whole environment (e.g. with ``DISPLAY`` of a virtual display); None
            inherits sentinel's.

    Raises:
        UsageError: the profile path is not a usable directory.
        ProfileLockedError: another browser holds the profile (Chromium's SingletonLock).
        BrowserChoiceError: the browser the user named (``--browser-path``, ``--channel``) did not start.
        BrowserError: the browser sentinel picked did not start.
    """
    prepare_profile(profile)
    check_profile_unlocked(profile)
    choice = choose_browser(browser_path, channel, headless=headless)
    what = f"could not start {choice.describe()}" + (f" ({choice.named_by})" if choice.named_by else "")
    with map_playwright_errors(
        what,
        error=BrowserChoiceError if choice.named_by else BrowserError,
        timeout=BrowserError,
        closed=BrowserChoiceError if choice.named_by else BrowserError,
        closed_means="it exited during start-up (is it Chromium or Chrome?)",
    ):
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            headless=headless,
            executable_path=choice.executable_path,
            channel=choice.channel,
            args=launch_args(PROFILE_ARGS),
            ignore_default_args=list(IGNORED_DEFAULT_ARGS),
            no_viewport=not headless,
            env=dict(env) if env is not None else None,
        )
    log.info("browser.launched", browser=choice.describe(), headless=headless, profile=str(profile))
    return context
