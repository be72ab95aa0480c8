"""Crash-safe, verified, rotating checkpoints in one folder (stdlib only; runs inside the Colab kernel).

The commit protocol, built for Google Drive's FUSE mount where rename-over-existing is no guarantee
(the file names and the manifest are described in `_manifest`):

1. The payload goes to a new, unique, step-numbered name ``ckpt-<step>-<token>.pt`` (``.pkl`` without
   PyTorch), created exclusively; its sha256 and size are computed while it is written; it is fsynced,
   and so is the folder.
2. Then, and only then, the manifest ``ckpt-<step>-<token>.manifest.json`` is created (exclusively),
   fsynced, and the folder fsynced. The manifest holds the format version, step, size, sha256,
   creation time and library versions, plus a sha256 of its own content. It marks completeness.
3. Loading picks the newest checkpoint whose manifest is intact and whose payload matches it, and
   warns about every newer one it skipped. Nothing is ever renamed or overwritten.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

from ._errors import (
    CheckpointCorruptError,
    CheckpointFallbackWarning,
    CheckpointWriteError,
    NoCheckpointError,
    StepOrderError,
)
from ._io import HashingWriter, fsync_dir, write_new_file
from ._lease import Lease
from ._manifest import (
    CheckpointInfo,
    info_from_record,
    manifest_bytes,
    new_checkpoint_paths,
    new_manifest,
    payload_problem,
    scan_folder,
)
from ._state import check_weights_only

TYPE_CHECKING = False
if TYPE_CHECKING:
    import builtins
    import threading
    from typing import Any, Literal

    from ._manifest import CheckpointEntry

_MISSING: Any = object()


class Checkpointer:
    """Saves and loads numbered checkpoints in one folder, safely against crashes and partial uploads.

    ``save(step, state)`` writes a new checkpoint (see the module docstring for the protocol) and then
    keeps only the newest ``keep`` complete ones, deleting older ones and the debris of interrupted
    saves; it deletes nothing but its own ``ckpt-*`` files and never the newest complete checkpoint.
    Steps must increase, so a resume cell run twice cannot overwrite newer work.

    With PyTorch imported, states are written with ``torch.save`` and checked first to load under
    ``torch.load(weights_only=True)``; without it, with ``pickle``. Only one runtime may write a
    folder at a time: a lease file (see `Lease`) is taken when the checkpointer is created.

    Args:
        directory: The checkpoint folder, e.g. ``setup_persistence(...).checkpoints``; created if needed.
        keep: How many complete checkpoints to keep, at least 1 (2 or more on Drive).
        serializer: ``"torch"``, ``"pickle"``, or ``"auto"`` (torch when the notebook imported it).
        weights_only: Refuse states that ``torch.load(weights_only=True)`` could not load, and load
            with ``weights_only=True``. Set False only for files you trust.
        readonly: Only list and load: take no lease, refuse `save()`.
        take_over: Take the lease even if another runtime seems to be writing.
        lease_stale_after: Seconds without a heartbeat after which another writer counts as gone.
        lease_wait: Seconds to wait for a live writer's lease to go stale before raising
            `LeaseHeldError`; by default ``lease_stale_after`` plus a margin, so that a fresh runtime
            started right after the old one died waits for it instead of failing.

    Raises:
        ValueError: ``keep`` < 1 or an unknown serializer.
        LeaseHeldError: Another runtime writes this folder.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        keep: int = 3,
        *,
        serializer: Literal["auto", "torch", "pickle"] = "auto",
        weights_only: bool = True,
        readonly: bool = False,
        take_over: bool = False,
        lease_stale_after: float = 120.0,
        lease_wait: float | None = None,
    ) -> None:
        import weakref

        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be an int >= 1, got {keep!r}")
        if serializer not in ("auto", "torch", "pickle"):
            raise ValueError(f"serializer must be 'auto', 'torch' or 'pickle', got {serializer!r}")
        self.directory = Path(os.path.abspath(directory))  # noqa: PTH100 - resolve() would follow symlinks
        self.keep = keep
        self.serializer = serializer
        self.weights_only = weights_only
        self.readonly = readonly
        self.last_loaded: CheckpointInfo | None = None
        # Per-process memory of hash checks: stem -> problem (None = verified good).
        self._checked: dict[str, str | None] = {}
        self._deleter: threading.Thread | None = None
        self._delete_errors: builtins.list[str] = []
        self._lease: Lease | None = None
        if readonly:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        wait = lease_stale_after + 10.0 if lease_wait is None else lease_wait
        lease = Lease(self.directory, stale_after=lease_stale_after, wait=wait)
        lease.acquire(take_over=take_over)
        self._lease = lease
        self._release = weakref.finalize(self, lease.release)

    def __repr__(self) -> str:
        return f"Checkpointer({str(self.directory)!r}, keep={self.keep})"

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Finish removing rotated files and release the lease; it can still list and load, not save."""
        self._wait_for_rotation()
        if self._lease is not None:
            self._release()
            self._lease = None

    # -- saving -----------------------------------------------------------------------------------

    def save(self, step: int, state: Any) -> CheckpointInfo:
        """Write ``state`` as the checkpoint of ``step``, then rotate old checkpoints.

        Args:
            step: The training step; must be newer than every complete checkpoint in the folder.
            state: What to save, e.g. `training_state(...)`; with PyTorch and ``weights_only`` it may
                hold only tensors and plain data.

        Returns:
            The new checkpoint's `CheckpointInfo`.

        Raises:
            StepOrderError: ``step`` is not newer than the newest complete checkpoint.
            UnsupportedStateError: ``state`` would not load under ``weights_only=True``.
            CheckpointWriteError: Writing failed (disk full, Drive gone); nothing was left behind.
            LeaseLostError: Another runtime took the folder over.
            ValueError: ``step`` is not a non-negative int, or the checkpointer is read-only.
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be a non-negative int, got {step!r}")
        if self._lease is None:
            raise ValueError(
                "this Checkpointer is read-only or closed; create a new one to save"
                if self.readonly
                else "this Checkpointer was closed; create a new one to save"
            )
        self._lease.check()
        newest = self._newest_complete(self._scan())
        if newest is not None and step <= newest.step:
            raise StepOrderError(
                f"refusing to save step {step}: {newest.name} in {self.directory} is at step {newest.step}. "
                "Steps must increase; resume from the latest checkpoint (load_latest) before training on."
            )
        serializer = self._serializer()
        if serializer == "torch" and self.weights_only:
            check_weights_only(state)
        stem, payload, manifest_path = new_checkpoint_paths(self.directory, step, serializer)
        size, digest = self._write_payload(payload, state, serializer)
        record = new_manifest(
            step=step,
            serializer=serializer,
            weights_only=bool(serializer == "torch" and self.weights_only),
            payload=payload,
            size=size,
            sha256=digest,
        )
        try:
            self._write_manifest(manifest_path, manifest_bytes(record))
        except BaseException:
            _remove(payload)  # never committed: leave nothing behind
            raise
        info = info_from_record(stem, record, payload, manifest_path)
        self._checked[stem] = None
        self._rotate(info)
        return info

    def _serializer(self) -> str:
        if self.serializer != "auto":
            return self.serializer
        return "torch" if "torch" in sys.modules else "pickle"

    def _write_payload(self, path: Path, state: Any, serializer: str) -> tuple[int, str]:
        """Write the payload to a new file; returns (size, sha256). Removes the file on any failure."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise CheckpointWriteError(f"cannot create checkpoint file {path}: {exc}") from exc
        writer = HashingWriter(fd)
        try:
            if serializer == "torch":
                import torch

                torch.save(state, writer)  # type: ignore[arg-type]  # it calls only write() and flush()
            else:
                import pickle

                pickle.dump(state, writer, protocol=pickle.HIGHEST_PROTOCOL)
            size, digest = writer.close()
            fd, closing = -1, fd
            os.close(closing)  # on FUSE mounts, a failed upload can surface only here
            fsync_dir(self.directory)
        except BaseException as exc:
            writer.abort()
            if fd >= 0:
                os.close(fd)
            _remove(path)
            if isinstance(exc, OSError):
                raise CheckpointWriteError(f"writing checkpoint {path} failed: {exc}") from exc
            raise
        return size, digest

    def _write_manifest(self, path: Path, data: bytes) -> None:
        """Create the manifest (the completion marker) and make its name durable."""
        try:
            write_new_file(path, data)
            fsync_dir(self.directory)
        except OSError as exc:
            _remove(path)
            raise CheckpointWriteError(f"writing manifest {path} failed: {exc}") from exc

    def _rotate(self, newest: CheckpointInfo) -> None:
        """Keep the ``keep`` newest good checkpoints; remove older ones and our own debris."""
        entries = self._scan()
        good = [
            e.info
            for e in sorted(entries, key=lambda e: e.step, reverse=True)
            if e.info is not None and self._checked.get(e.stem) is None
        ]
        keep = {info.name for info in good[: self.keep]} | {newest.name}
        payloads: builtins.list[Path] = []
        for entry in entries:
            if entry.stem in keep or entry.stem == newest.name:
                continue
            if entry.step > newest.step:
                continue  # never touch anything newer than what we just wrote
            # The manifest goes first, here: without it the checkpoint no longer counts, and a
            # payload left behind by a crash is debris the next rotation removes.
            if entry.manifest is not None:
                self._remove_or_warn(entry.manifest)
            if entry.payload is not None:
                payloads.append(entry.payload)
        if payloads:
            # Removing a large file takes a while (on Drive, a round trip); training need not wait.
            import threading

            self._deleter = threading.Thread(
                target=self._remove_all, args=(payloads,), name="sentinel-rotate", daemon=True
            )
            self._deleter.start()

    def _remove_all(self, paths: builtins.list[Path]) -> None:
        for path in paths:
            try:
                _remove(path)
            except OSError as exc:
                self._delete_errors.append(f"could not remove old checkpoint file {path}: {exc}")

    def _remove_or_warn(self, path: Path) -> None:
        try:
            _remove(path)
        except OSError as exc:
            warnings.warn(f"could not remove old checkpoint file {path}: {exc}", stacklevel=4)

    def _wait_for_rotation(self) -> None:
        """Let the previous rotation's background removals finish; report their errors."""
        deleter, self._deleter = self._deleter, None
        if deleter is not None:
            deleter.join()
        errors, self._delete_errors = self._delete_errors, []
        for message in errors:
            warnings.warn(message, stacklevel=4)

    # -- listing ----------------------------------------------------------------------------------

    def list(self) -> builtins.list[CheckpointInfo]:
        """Complete checkpoints, oldest first: manifest intact and payload present at the right size.

        Payload hashes are not read here (see `verify()`); checkpoints this object already found
        corrupt are left out.
        """
        return [
            e.info
            for e in sorted(self._scan(), key=lambda e: e.step)
            if e.info is not None and self._checked.get(e.stem) is None
        ]

    def latest(self) -> CheckpointInfo | None:
        """The newest complete checkpoint (as in `list()`), or None."""
        return self._newest_complete(self._scan())

    def _newest_complete(self, entries: builtins.list[CheckpointEntry]) -> CheckpointInfo | None:
        best: CheckpointInfo | None = None
        for entry in entries:
            info = entry.info
            if info is None or self._checked.get(entry.stem) is not None:
                continue
            if best is None or (info.step, info.created_at) > (best.step, best.created_at):
                best = info
        return best

    def _scan(self) -> builtins.list[CheckpointEntry]:
        self._wait_for_rotation()
        return scan_folder(self.directory)

    # -- loading ----------------------------------------------------------------------------------

    def verify(self, info: CheckpointInfo) -> None:
        """Read the payload and compare its size and sha256 with the manifest.

        Raises:
            CheckpointCorruptError: The payload is missing, truncated or altered.
        """
        problem = payload_problem(info)
        self._checked[info.name] = problem
        if problem is not None:
            raise CheckpointCorruptError(f"checkpoint {info.name} (step {info.step}) is unusable: {problem}")

    def load(self, info: CheckpointInfo, *, map_location: Any = None) -> Any:
        """Verify one checkpoint and return its state.

        Args:
            info: The checkpoint, from `list()` or `latest()`.
            map_location: Passed to ``torch.load`` (e.g. ``"cpu"`` on a runtime without a GPU).

        Raises:
            CheckpointCorruptError: It does not match its manifest.
            Exception: Errors of ``torch.load``/``pickle.load`` on a verified file are passed on.
        """
        self.verify(info)
        state = self._deserialize(info, map_location)
        self.last_loaded = info
        return state

    def load_latest(self, default: Any = _MISSING, *, map_location: Any = None) -> Any:
        """Return the state of the newest checkpoint that verifies, falling back to older ones.

        Every newer checkpoint that was skipped (interrupted save, missing or truncated payload, hash
        mismatch, damaged manifest) is named with its reason in one `CheckpointFallbackWarning`. The
        chosen checkpoint is in ``last_loaded`` afterwards. Errors while deserialising a verified
        checkpoint are raised, never skipped: a fallback would silently resume from older state.

        Args:
            default: Returned when the folder holds no complete checkpoint (a fresh start).
            map_location: Passed to ``torch.load``.

        Raises:
            NoCheckpointError: No complete checkpoint and no ``default`` given.
            CheckpointCorruptError: Checkpoints exist but none verifies (``default`` is not used then).
        """
        entries = sorted(self._scan(), key=lambda e: (e.step, e.info.created_at if e.info else 0.0))
        skipped: builtins.list[str] = []
        saw_complete = False
        for entry in reversed(entries):
            if entry.manifest is not None:
                saw_complete = True
            info = entry.info
            if info is None:
                skipped.append(f"step {entry.step} ({entry.stem}): {entry.problem}")
                continue
            try:
                self.verify(info)
            except CheckpointCorruptError:
                skipped.append(f"step {entry.step} ({entry.stem}): {self._checked[entry.stem]}")
                continue
            state = self._deserialize(info, map_location)
            self.last_loaded = info
            if skipped:
                warnings.warn(
                    CheckpointFallbackWarning(
                        f"resuming from checkpoint step {info.step} ({info.name}) in {self.directory}; "
                        f"skipped newer: {'; '.join(skipped)}"
                    ),
                    stacklevel=2,
                )
            return state
        self.last_loaded = None
        if saw_complete:
            raise CheckpointCorruptError(
                f"no checkpoint in {self.directory} verifies: {'; '.join(skipped)}. Restore a copy "
                "(e.g. from Drive's trash or version history) or move these files away to start over."
            )
        if skipped:
            warnings.warn(
                CheckpointFallbackWarning(
                    f"no complete checkpoint in {self.directory}; ignored {'; '.join(skipped)}"
                ),
                stacklevel=2,
            )
        if default is _MISSING:
            raise NoCheckpointError(f"no checkpoint in {self.directory} yet")
        return default

    def _deserialize(self, info: CheckpointInfo, map_location: Any) -> Any:
        if info.serializer == "torch":
            try:
                import torch
            except ImportError as exc:
                raise ImportError(
                    f"checkpoint {info.name} was written with PyTorch; install torch to load it"
                ) from exc
            return torch.load(info.payload, map_location=map_location, weights_only=info.weights_only)
        import pickle

        with info.payload.open("rb") as f:
            return pickle.load(f)  # noqa: S301 - our own file, its sha256 checked against the manifest


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
