"""Debug bundles on disk: one fresh folder (0700) per bundle, its files 0600.

A bundle can hold what the page shows, the signed-in account's e-mail included, so nobody but the
user may read it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

from sentinel.errors import FrontendError


def write_bundle(directory: Path, files: Mapping[str, bytes], prefix: str = "debug") -> Path:
    """Write ``files`` (name -> content) into a new folder ``<prefix>-<UTC stamp>-<n>`` under ``directory``.

    Raises:
        FrontendError: no unused folder name was found.
        OSError: the folder or a file could not be written.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for n in range(1, 10_000):
        bundle = directory / f"{prefix}-{stamp}-{n}"
        try:
            bundle.mkdir(mode=0o700)
        except FileExistsError:
            continue
        for name, data in files.items():
            _write_private(bundle / name, data)
        return bundle
    raise FrontendError(f"could not create a debug bundle folder in {directory}")


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start (never readable by others, not even for a moment); the umask can
    # only take permissions away.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
