"""The private browser profile: created 0700, and never opened while another browser holds it.

The profile holds Google session cookies: it is a credential.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import structlog

from sentinel.errors import ProfileLockedError
from sentinel.privatedir import prepare_private_dir

log = structlog.get_logger(__name__)

# Chromium's per-profile lock: a symlink whose target is "<hostname>-<pid>" of the owning browser.
SINGLETON_LOCK = "SingletonLock"


def prepare_profile(path: Path) -> Path:
    """Create the profile directory with mode 0700 (parents too), or check that the existing one is private.

    The profile holds Google session cookies: it is a credential. A folder sentinel did not create
    is never chmod'ed (see :func:`sentinel.privatedir.prepare_private_dir`).

    Raises:
        UsageError: the path is not a directory, cannot be created, belongs to another user, or is
            open to others.
    """
    return prepare_private_dir(path, "profile")


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
