"""Which Chromium to drive and how to launch it: choice, flags, the private profile dir and its lock."""

from __future__ import annotations

import os
import shutil
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from sentinel.config import display_available
from sentinel.errors import BrowserError, ProfileLockedError, UsageError

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
    """Pick the browser: an explicit path (``--browser-path``), else a channel (``--channel chrome``:
    the real Chrome Google trusts for sign-in), else a system Chromium, else Playwright's own."""
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


def resolve_headless(headless: bool | None) -> bool:
    """``--headless``/``--headed`` as given; unset means headed exactly when a display exists."""
    return not display_available() if headless is None else headless


# Chromium's per-profile lock: a symlink whose target is "<hostname>-<pid>" of the owning browser.
SINGLETON_LOCK = "SingletonLock"

# Flags for the daemon's own persistent profile. Without the automation switch and blink flag,
# Google's sign-in page is less likely to refuse the browser (colab-ui.md section 6).
# --process-per-site: every notebook page of one site (colab.research.google.com) shares one
# renderer process instead of one each: about 50 MB per further notebook instead of about 190 MB
# (bench/daemon_memory.py). The price: a renderer crash reloads all notebook pages at once; the
# runtimes are not affected and the daemon reopens every page.
PROFILE_ARGS: tuple[str, ...] = ("--disable-blink-features=AutomationControlled", "--process-per-site")
IGNORED_DEFAULT_ARGS: tuple[str, ...] = ("--enable-automation",)


def prepare_profile(path: Path) -> Path:
    """Create the profile directory with mode 0700 (parents too); tighten it if it is readable by others.

    The profile holds Google session cookies: it is a credential.

    Raises:
        UsageError: the path exists and is not a directory, or cannot be created.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except FileExistsError:
        raise UsageError(f"profile {path} exists and is not a directory") from None
    except OSError as exc:
        raise UsageError(f"profile {path}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise UsageError(f"profile {path} exists and is not a directory")
    if stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(0o700)
        log.warning("browser.profile_permissions_tightened", profile=str(path), mode="0700")
    return path


def profile_lock_holder(path: Path) -> int | None:
    """The pid of a live browser on this host that holds profile ``path``, or None.

    A lock left by a browser that died (SIGKILL) names a dead pid and is not a lock: Chromium takes
    such a profile over by itself. A lock from another host (a profile on a shared disk) is
    reported as held, with pid 0, since we cannot see that process.
    """
    try:
        target = str((path / SINGLETON_LOCK).readlink())
    except OSError:
        return None
    host, _, pid_text = target.rpartition("-")
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return None
    if host != socket.gethostname():
        return 0
    return int(pid_text) if _alive(int(pid_text)) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    return True


def check_profile_unlocked(path: Path) -> None:
    """Raise :class:`ProfileLockedError` when another browser holds profile ``path``."""
    holder = profile_lock_holder(path)
    if holder is not None:
        who = f"pid {holder}" if holder else "a browser on another host"
        raise ProfileLockedError(
            f"profile {path} is in use by another browser ({who}); close that browser or choose "
            "another profile with --profile DIR"
        )


async def launch_persistent(
    playwright: Playwright,
    profile: Path,
    *,
    headless: bool,
    browser_path: Path | None = None,
    channel: str | None = None,
) -> BrowserContext:
    """Launch Chromium on the private ``profile`` (created 0700) and return its persistent context.

    Raises:
        ProfileLockedError: another browser holds the profile (Chromium's SingletonLock).
        BrowserError: the browser could not be started.
    """
    from playwright.async_api import Error as PlaywrightError

    prepare_profile(profile)
    check_profile_unlocked(profile)
    choice = choose_browser(browser_path, channel)
    try:
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            headless=headless,
            executable_path=choice.executable_path,
            channel=choice.channel,
            args=launch_args(PROFILE_ARGS),
            ignore_default_args=list(IGNORED_DEFAULT_ARGS),
            no_viewport=not headless,
        )
    except PlaywrightError as exc:
        text = str(exc)
        if "ProcessSingleton" in text or "profile appears to be in use" in text.lower():
            raise ProfileLockedError(
                f"profile {profile} is in use by another browser; close it or choose another with --profile DIR"
            ) from None
        first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
        raise BrowserError(f"could not start {choice.describe()}: {first}") from exc
    log.info("browser.launched", browser=choice.describe(), headless=headless, profile=str(profile))
    return context
