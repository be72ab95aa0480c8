"""Durable file writing: sha256 while writing, fsync of files and folders (stdlib only; runs in the kernel)."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading

# Writes smaller than this are gathered in a buffer: torch.save and pickle emit many tiny records.
_SMALL_WRITE = 256 << 10
_BUFFER_LIMIT = 4 << 20
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


def _drop_cached_pages(fd: int) -> None:
    """Release the page cache of a file just fsynced (its pages are clean, nobody reads them soon).

    A checkpoint would otherwise sit in RAM that training needs, and the next save could not reuse
    those pages but would need fresh ones. Advisory: ignored where unsupported.
    """
    advise = getattr(os, "posix_fadvise", None)
    if advise is not None:
        with contextlib.suppress(OSError):
            advise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _unlink_quietly(path: str | os.PathLike[str]) -> None:
    Path(path).unlink(missing_ok=True)


class HashingWriter:
    """A write-only file object that hashes (sha256) and counts every byte it writes to ``fd``.

    The hash runs on a thread of its own while the same bytes are written to the file, so it costs
    no second read and, with a spare core, little wall time. A large write returns once both are
    done: torch hands out views of memory it may reuse afterwards, and copying them to let the hash
    lag behind costs more (page faults under memory pressure) than it saves. Small writes are
    buffered and hashed asynchronously. `close()` waits for the hash, fsyncs the file and returns
    ``(size, sha256 hex digest)``. The caller owns ``fd``.
    """

    def __init__(self, fd: int) -> None:
        import hashlib
        import threading

        self._fd = fd
        self._sha = hashlib.sha256()
        self.size = 0
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._jobs: list[memoryview] = []
        self._submitted = 0
        self._hashed = 0
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
        ticket = self._submit(view)
        try:
            self._write_to_file(view)
        finally:
            # The caller may reuse its memory once we return, so the hash must be past it.
            self._wait_for(ticket)
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
        self._wait_for(self._submitted)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._sync_thread is not None:
            self._sync_thread.join()
        if self._sync_error is not None:
            raise self._sync_error
        os.fsync(self._fd)
        _drop_cached_pages(self._fd)
        return self.size, self._sha.hexdigest()

    def abort(self) -> None:
        """Stop the hash thread without a digest (after a failed write); never raises."""
        with self._cond:
            self._stop = True
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

    def _submit(self, view: memoryview) -> int:
        with self._cond:
            if self._error is not None:
                raise self._error
            self._jobs.append(view)
            self._submitted += 1
            self._cond.notify_all()
            return self._submitted

    def _wait_for(self, ticket: int) -> None:
        with self._cond:
            while self._hashed < ticket and self._thread.is_alive():
                self._cond.wait(0.5)

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
                if not self._jobs:
                    return  # stopped, nothing left
                view = self._jobs.pop(0)
            try:
                self._sha.update(view)  # releases the GIL for large buffers
            except BaseException as exc:  # pragma: no cover - sha256 does not fail on bytes
                with cond:
                    self._error = exc
                    self._stop = True
                    cond.notify_all()
                return
            with cond:
                self._hashed += 1
                cond.notify_all()
