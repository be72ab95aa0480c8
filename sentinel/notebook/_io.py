"""Durable file writing: sha256 while writing, fsync of files and folders (stdlib only; runs in the kernel)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading

# Writes smaller than this are gathered in a buffer: torch.save and pickle emit many tiny records.
_SMALL_WRITE = 256 << 10
_BUFFER_LIMIT = 4 << 20
# A borrowed buffer (torch hands out views of memory it may reuse once write() returns) is hashed in
# pieces of this size, so that write() can hand the unhashed rest over as a copy and return.
_HASH_PIECE = 4 << 20
# The most bytes the hash thread may lag behind the file before write() waits for it instead of copying.
_MAX_HASH_BACKLOG = 96 << 20
# After this many bytes, a background fdatasync starts writing the page cache back while we go on,
# so the final fsync has little left to do.
_SYNC_EVERY = 32 << 20

# Folders on some FUSE mounts (Google Drive among them) cannot be fsynced; the files in them can.
_DIR_FSYNC_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EBADF})


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (new or removed names) to storage where the filesystem supports it."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        if exc.errno in _DIR_FSYNC_UNSUPPORTED or exc.errno in (errno.EACCES, errno.EPERM):
            return
        raise
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _DIR_FSYNC_UNSUPPORTED:
            raise
    finally:
        os.close(fd)


def write_new_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Create ``path`` (it must not exist), write ``data``, fsync it; on failure remove what was created."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        _write_all(fd, memoryview(data))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(path)
        raise
    os.close(fd)


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _unlink_quietly(path: str | os.PathLike[str]) -> None:
    Path(path).unlink(missing_ok=True)


class _Job:
    """A span of bytes waiting for the hash thread; ``data`` may be swapped for an owned copy."""

    __slots__ = ("busy", "data", "pos")

    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.pos = 0
        self.busy = False


class HashingWriter:
    """A write-only file object that hashes (sha256) and counts every byte it writes to ``fd``.

    Hashing runs on a thread of its own, in parallel with the writes and the final fsync, so the hash
    costs no second read of the file and little wall time. Call `close()` for the digest: it waits for
    the hash, fsyncs the file and returns ``(size, sha256 hex digest)``. The caller owns ``fd``.
    """

    def __init__(self, fd: int) -> None:
        import hashlib
        import threading

        self._fd = fd
        self._sha = hashlib.sha256()
        self.size = 0
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._jobs: list[_Job] = []
        self._backlog = 0
        self._stop = False
        self._error: BaseException | None = None
        self._unsynced = 0
        self._sync_thread: threading.Thread | None = None
        self._sync_error: OSError | None = None
        self._thread = threading.Thread(target=self._hash_loop, name="sentinel-sha256", daemon=True)
        self._thread.start()

    # -- file object protocol used by torch.save and pickle.dump ---------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Write all of ``data``; returns its length in bytes."""
        view = memoryview(data).cast("B")
        n = view.nbytes
        if n < _SMALL_WRITE:
            self._buf += view
            if len(self._buf) >= _BUFFER_LIMIT:
                self._flush_buffer()
            return n
        self._flush_buffer()
        job = self._submit(view)
        try:
            self._write_to_file(view)
        finally:
            # The caller may reuse its memory once we return: hand the unhashed rest over as a copy.
            self._detach(job)
        return n

    def flush(self) -> None:
        """Write buffered bytes to the file (the hash follows on its thread)."""
        self._flush_buffer()

    def writable(self) -> bool:
        return True

    # -- completion -----------------------------------------------------------------------------

    def close(self) -> tuple[int, str]:
        """Finish: wait for the hash, fsync the file, return ``(size, sha256)``. Raises OSError."""
        self._flush_buffer()
        self._finish_hashing()
        if self._sync_thread is not None:
            self._sync_thread.join()
        if self._sync_error is not None:
            raise self._sync_error
        os.fsync(self._fd)
        return self.size, self._sha.hexdigest()

    def abort(self) -> None:
        """Stop the hash thread without a digest (after a failed write); never raises."""
        with self._cond:
            self._stop = True
            while any(job.busy for job in self._jobs):
                self._cond.wait()
            self._jobs.clear()
            self._cond.notify_all()
        self._thread.join()
        if self._sync_thread is not None:
            self._sync_thread.join()

    # -- internals ------------------------------------------------------------------------------

    def _flush_buffer(self) -> None:
        if not self._buf:
            return
        owned = memoryview(bytes(self._buf))
        self._buf.clear()
        self._submit(owned)
        self._write_to_file(owned)

    def _submit(self, view: memoryview) -> _Job:
        job = _Job(view)
        with self._cond:
            if self._error is not None:
                raise self._error
            self._jobs.append(job)
            self._backlog += view.nbytes
            self._cond.notify_all()
        return job

    def _detach(self, job: _Job) -> None:
        with self._cond:
            while job.busy:
                self._cond.wait()
            if job not in self._jobs:
                return
            if self._backlog > _MAX_HASH_BACKLOG or self._stop:
                # Too far behind: wait for this span instead of holding a large copy in memory.
                while job in self._jobs and not self._stop:
                    self._cond.wait()
                return
            job.data = memoryview(bytes(job.data[job.pos :]))
            job.pos = 0

    def _write_to_file(self, view: memoryview) -> None:
        _write_all(self._fd, view)
        self.size += view.nbytes
        self._unsynced += view.nbytes
        if self._unsynced >= _SYNC_EVERY and (self._sync_thread is None or not self._sync_thread.is_alive()):
            import threading

            self._unsynced = 0
            self._sync_thread = threading.Thread(target=self._background_sync, daemon=True)
            self._sync_thread.start()

    def _background_sync(self) -> None:
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            self._sync_error = exc

    def _hash_loop(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while not self._jobs and not self._stop:
                    cond.wait()
                if self._stop:
                    return
                job = self._jobs[0]
                data, start = job.data, job.pos
                end = min(start + _HASH_PIECE, data.nbytes)
                job.busy = True
            try:
                self._sha.update(data[start:end])
            except BaseException as exc:  # pragma: no cover - sha256 does not fail on bytes
                with cond:
                    self._error = exc
                    self._stop = True
                    job.busy = False
                    cond.notify_all()
                return
            with cond:
                job.busy = False
                job.pos = end
                self._backlog -= end - start
                if end >= data.nbytes and self._jobs and self._jobs[0] is job:
                    self._jobs.pop(0)
                cond.notify_all()

    def _finish_hashing(self) -> None:
        with self._cond:
            while self._jobs and not self._stop:
                self._cond.wait()
            self._stop = True
            self._cond.notify_all()
        self._thread.join()
        if self._error is not None:
            raise self._error
