"""``google.colab.drive`` for emulator runtimes: mount asks the page for consent, then links the Drive folder.

Runs inside the kernel (stdlib only). The server's reply names the folder playing "My Drive";
``<mountpoint>/MyDrive`` becomes a symlink to it. A leading ``/content`` in the mount point maps to the
runtime's content root (``SENTINEL_COLAB_CONTENT_ROOT``), the folder playing ``/content``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ._consent import request_consent

__all__ = ["flush_and_unmount", "mount"]

_DEFAULT_MOUNTPOINT = "/content/drive"
# The mount point the last successful mount() used, as given by the caller.
_mounted_at: str | None = None


def _local_path(mountpoint: str) -> Path:
    """Where ``mountpoint`` lives on this machine: ``/content/...`` maps to the content root."""
    root = os.environ.get("SENTINEL_COLAB_CONTENT_ROOT")
    path = str(Path(mountpoint).expanduser())
    if root and (path == "/content" or path.startswith("/content/")):
        return Path(root) / path[len("/content") :].lstrip("/")
    return Path(path)


def mount(
    mountpoint: str, force_remount: bool = False, timeout_ms: int = 120000, readonly: bool = False
) -> None:
    """Mount "My Drive" at ``mountpoint`` (e.g. ``/content/drive``) after the page's consent flow.

    Prints ``Mounted at <mountpoint>``; a repeat mount prints the "Drive already mounted" line.

    Raises:
        ValueError: consent was refused or failed ("credential propagation was unsuccessful"), or
            the mount point already holds files.
    """
    global _mounted_at  # noqa: PLW0603  # module state, as in Colab's own drive module
    mountpoint = mountpoint.rstrip("/") or "/"
    local = _local_path(mountpoint)
    link = local / "MyDrive"
    if link.is_symlink() and not force_remount:
        print(
            f"Drive already mounted at {mountpoint}; to attempt to forcibly remount, "
            f'call drive.mount("{mountpoint}", force_remount=True).'
        )
        return
    if link.is_symlink():
        link.unlink()
    if local.exists() and not local.is_dir():
        raise ValueError(f"Mountpoint must be a directory: {mountpoint}")
    if local.is_dir() and any(local.iterdir()):
        raise ValueError("Mountpoint must not already contain files")
    reply = request_consent("drive/mount", {"mountpoint": mountpoint, "force_remount": force_remount})
    if not reply.get("ok"):
        reason = reply.get("error") or "unknown"
        raise ValueError(f"mount failed: Error: credential propagation was unsuccessful ({reason})")
    local.mkdir(parents=True, exist_ok=True)
    link.symlink_to(str(reply["drive_dir"]), target_is_directory=True)
    _mounted_at = mountpoint
    print(f"Mounted at {mountpoint}")


def flush_and_unmount(timeout_ms: int = 24 * 60 * 60 * 1000) -> None:
    """Unmount Drive: remove the ``MyDrive`` link (files stay in the Drive folder)."""
    global _mounted_at  # noqa: PLW0603  # module state, as in Colab's own drive module
    link = _local_path(_mounted_at or _DEFAULT_MOUNTPOINT) / "MyDrive"
    if not link.is_symlink():
        print("Drive not mounted, so nothing to flush and unmount.")
        return
    link.unlink()
    _mounted_at = None
