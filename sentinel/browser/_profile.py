"""The private browser profile: created 0700, and never opened while another browser holds it.

The profile holds Google session cookies: it is a credential.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import structlog

from sentinel.errors import ProfileLockedError, UsageError

log = structlog.get_logger(__name__)

# Chromium's per-profile lock: a symlink whose target is "<hostname>-<pid>" of the owning browser.
SINGLETON_LOCK = "SingletonLock"


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
