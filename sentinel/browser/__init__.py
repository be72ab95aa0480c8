"""The browser: which Chromium to start and how (``_launch``), its private profile (``_profile``), the one
running browser every notebook shares (``_host``), and one notebook's page in it (``_tab``)."""

from sentinel.browser._host import BrowserHost
from sentinel.browser._launch import (
    BASE_ARGS,
    IGNORED_DEFAULT_ARGS,
    PROFILE_ARGS,
    BrowserChoice,
    choose_browser,
    launch_args,
    launch_persistent,
    resolve_headless,
    system_chromium,
    system_headless_shell,
)
from sentinel.browser._profile import check_profile_unlocked, prepare_profile, profile_lock_holder
from sentinel.browser._tab import NAVIGATION_TIMEOUT, BrowserTab

__all__ = [
    "BASE_ARGS",
    "IGNORED_DEFAULT_ARGS",
    "NAVIGATION_TIMEOUT",
    "PROFILE_ARGS",
    "BrowserChoice",
    "BrowserHost",
    "BrowserTab",
    "check_profile_unlocked",
    "choose_browser",
    "launch_args",
    "launch_persistent",
    "prepare_profile",
    "profile_lock_holder",
    "resolve_headless",
    "system_chromium",
    "system_headless_shell",
]
