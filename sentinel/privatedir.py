"""Folders only this user may enter (the browser profile, the state dir): created 0700, or refused.

sentinel never changes the mode of a folder it did not create: ``--state-dir /tmp`` must not make
/tmp private, and ``--profile ~`` must not lock other users out of a home folder. A folder that
exists already must be this user's own and closed to group and others; otherwise the user is told
what to do, in one line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sentinel.errors import UsageError


def prepare_private_dir(path: Path, what: str) -> Path:
    """Create ``path`` with mode 0700 (parents with the default mode), or check the existing folder.

    Args:
        path: the folder.
        what: how messages name it ("profile", "state dir").

    Raises:
        UsageError: it exists and is not a directory, belongs to another user, is open to group or
            others (never chmod'ed here: the message says how), or cannot be created.
    """
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise UsageError(f"{what} {path}: {exc.strerror or exc}") from None
    else:
        return path  # ours: 0700 (the umask can only take more away)
    try:
        info = path.stat()
    except OSError as exc:
        raise UsageError(f"{what} {path}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{what} {path} exists and is not a directory")
    if info.st_uid != os.geteuid():
        raise UsageError(
            f"{what} {path} belongs to another user (uid {info.st_uid}); choose a folder of your own"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o002 or mode & stat.S_ISVTX:
        raise UsageError(
            f"{what} {path} is shared with other users (mode {mode:o}); choose a folder of its own, "
            f"e.g. {path / 'sentinel'}"
        )
    if mode & 0o077:
        raise UsageError(
            f"{what} {path} is open to other users (mode {mode:o}) and sentinel does not change a folder "
            f"it did not create: run 'chmod 700 {path}' or choose another folder"
        )
    return path
