"""Where a project's checkpoints live: Google Drive in Colab, a local folder elsewhere (stdlib only).

Runs inside the Colab kernel. In Colab (``google.colab`` importable) Drive is mounted at
``<content root>/drive`` and projects live in ``MyDrive/<project>``; the content root is
``/content``, or ``SENTINEL_COLAB_CONTENT_ROOT`` where a stand-in runtime (the emulator) sets it.
Elsewhere the projects root is the ``root`` argument, else ``SENTINEL_DRIVE_ROOT``, else
``~/sentinel-drive``.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path

from ._errors import DriveMountError, ProjectNameError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._checkpoint import Checkpointer

DEFAULT_LOCAL_ROOT = "~/sentinel-drive"


class ProjectPaths:
    """The folders of one project, as returned by `setup_persistence()`.

    Attributes:
        name: The project name as given.
        root: The project folder (``MyDrive/<name>`` in Colab).
        checkpoints: ``<root>/checkpoints``, for a `Checkpointer`.
        logs: ``<root>/logs``, for anything else worth keeping.
        in_colab: Whether Google Drive was used through ``google.colab``.
        mount_point: Where Drive is mounted (Colab only), else None.
    """

    __slots__ = ("checkpoints", "in_colab", "logs", "mount_point", "name", "root")

    def __init__(
        self, name: str, root: Path, checkpoints: Path, logs: Path, in_colab: bool, mount_point: Path | None
    ) -> None:
        self.name = name
        self.root = root
        self.checkpoints = checkpoints
        self.logs = logs
        self.in_colab = in_colab
        self.mount_point = mount_point

    def __repr__(self) -> str:
        return (
            f"ProjectPaths(name={self.name!r}, root={str(self.root)!r}, in_colab={self.in_colab}, "
            f"mount_point={None if self.mount_point is None else str(self.mount_point)!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProjectPaths):
            return NotImplemented
        return all(getattr(self, a) == getattr(other, a) for a in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, a) for a in self.__slots__))

    def checkpointer(self, keep: int = 3, **options: Any) -> Checkpointer:
        """A `Checkpointer` on this project's ``checkpoints`` folder; options are passed through."""
        from ._checkpoint import Checkpointer

        return Checkpointer(self.checkpoints, keep=keep, **options)

    def flush_and_unmount(self) -> None:
        """Wait until Drive has uploaded everything written, then unmount it (Colab only; else no-op).

        Files on the mount are cached on the VM and uploaded later; this is the only way to be sure
        they reached Drive before the runtime goes away. `setup_persistence()` mounts it again.
        """
        if not self.in_colab or self.mount_point is None or not _mount_under(self.root, self.mount_point):
            return
        _colab_drive().flush_and_unmount()


def _mount_under(path: Path, mount: Path) -> bool:
    try:
        path.relative_to(mount)
    except ValueError:
        return False
    return True


def in_colab() -> bool:
    """Whether this kernel runs in Colab: ``google.colab`` (the real one or a stand-in) is importable."""
    if "google.colab" in sys.modules:
        return True
    import importlib.util

    try:
        return importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError):
        return False


def validate_project_name(name: str) -> str:
    """Check a project name: non-empty, relative, no ``.``/``..`` parts, no control characters.

    Sub-folders are allowed (``"team/run-7"``). Returns the name with surrounding whitespace removed.

    Raises:
        ProjectNameError: The name is unusable; the message says why.
    """
    if not isinstance(name, str):
        raise ProjectNameError(f"the project name must be a string, got {type(name).__name__}")
    cleaned = name.strip()
    if not cleaned:
        raise ProjectNameError("the project name is empty; give a folder name such as 'mnist-resnet'")
    if any(ord(c) < 32 or c == "\x7f" for c in cleaned):
        raise ProjectNameError(f"the project name {name!r} contains control characters")
    if cleaned.startswith(("/", "\\", "~")) or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise ProjectNameError(f"the project name {name!r} is absolute; give a name relative to the root")
    parts = cleaned.replace("\\", "/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ProjectNameError(
            f"the project name {name!r} has an empty, '.' or '..' part; it must stay inside the root folder"
        )
    return cleaned


def setup_persistence(
    project_name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    mount_retries: int = 3,
    retry_delay: float = 2.0,
) -> ProjectPaths:
    """Make the project's folders on persistent storage and return their paths.

    In Colab, Google Drive is mounted at ``/content/drive`` (an already mounted Drive is reused) and
    the project lives in ``MyDrive/<project_name>``. A stale mount ("Transport endpoint is not
    connected") is remounted with ``force_remount=True``, up to ``mount_retries`` times. Outside Colab
    the projects root is ``root``, else the ``SENTINEL_DRIVE_ROOT`` environment variable, else
    ``~/sentinel-drive``. An explicit ``root`` is used in Colab too (Drive is then mounted only when
    ``root`` lies under the mount point). ``checkpoints/`` and ``logs/`` are created; calling this
    again is harmless.

    Args:
        project_name: Folder name of the project, relative (sub-folders allowed).
        root: The folder that holds projects, overriding the defaults above.
        mount_retries: Remount attempts after a stale Drive mount.
        retry_delay: Seconds before the first remount; doubled after each attempt.

    Raises:
        ProjectNameError: The name is empty, absolute, or escapes the root.
        DriveMountError: Drive could not be mounted or stayed unreachable after the retries.
        OSError: The folders could not be created.
    """
    name = validate_project_name(project_name)
    if mount_retries < 0:
        raise ValueError(f"mount_retries must be >= 0, got {mount_retries}")
    colab = in_colab()
    mount_point: Path | None = None
    if colab:
        content_root = Path(os.environ.get("SENTINEL_COLAB_CONTENT_ROOT") or "/content")
        mount_point = content_root / "drive"
    if root is not None:
        base = Path(root).expanduser()
    elif colab:
        assert mount_point is not None
        base = mount_point / "MyDrive"
    else:
        base = Path(os.environ.get("SENTINEL_DRIVE_ROOT") or DEFAULT_LOCAL_ROOT).expanduser()
    base = Path(os.path.abspath(base))  # noqa: PTH100 - resolve() would follow symlinks; checked below
    project = base / name
    # A symlink inside the root could still lead out of it.
    real_base = os.path.realpath(base)
    if os.path.commonpath([real_base, os.path.realpath(project)]) != real_base:
        raise ProjectNameError(f"the project {name!r} resolves outside {base}")

    uses_drive = colab and mount_point is not None and _mount_under(project, mount_point)

    def make_folders() -> ProjectPaths:
        checkpoints, logs = project / "checkpoints", project / "logs"
        checkpoints.mkdir(parents=True, exist_ok=True)
        logs.mkdir(parents=True, exist_ok=True)
        return ProjectPaths(name, project, checkpoints, logs, colab, mount_point)

    if not uses_drive:
        return make_folders()
    assert mount_point is not None
    return _with_drive(mount_point, make_folders, retries=mount_retries, delay=retry_delay)


def _with_drive(mount: Path, action: Any, *, retries: int, delay: float) -> ProjectPaths:
    """Mount Drive unless it is mounted, run ``action``; remount on ENOTCONN, at most ``retries`` times."""
    drive = _colab_drive()
    my_drive = mount / "MyDrive"
    force = False
    last: OSError | None = None
    for attempt in range(retries + 1):
        try:
            if force or not _is_dir(my_drive):
                _mount(drive, mount, force=force)
                if not _is_dir(my_drive):
                    raise DriveMountError(
                        f"Google Drive was mounted at {mount} but {my_drive} does not exist; check the "
                        "account you authorised"
                    )
            result: ProjectPaths = action()
            return result
        except OSError as exc:
            if isinstance(exc, DriveMountError) or exc.errno != errno.ENOTCONN:
                raise
            last = exc
            force = True
            if attempt < retries:
                print(
                    f"[sentinel-kit] Google Drive at {mount} is stale ({exc.strerror}); remounting "
                    f"(attempt {attempt + 1} of {retries})",
                    file=sys.stderr,
                    flush=True,
                )
                time.sleep(delay * (2**attempt))
    raise DriveMountError(
        f"Google Drive at {mount} is not reachable ({last.strerror if last else 'unknown error'}) after "
        f"{retries} remount attempt(s); restart the runtime (Runtime > Restart session) and run the cell again"
    )


def _colab_drive() -> Any:
    import importlib

    return importlib.import_module("google.colab.drive")


def _mount(drive: Any, mount: Path, *, force: bool) -> None:
    try:
        if force:
            drive.mount(str(mount), force_remount=True)
        else:
            drive.mount(str(mount))
    except OSError:
        raise
    except Exception as exc:
        # google.colab reports failed mounts as ValueError or its own MessageError.
        raise DriveMountError(f"could not mount Google Drive at {mount}: {exc}") from exc


def _is_dir(path: Path) -> bool:
    """Like Path.is_dir(), but a stale mount's ENOTCONN is raised instead of read as 'no'."""
    import stat

    try:
        return stat.S_ISDIR(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
