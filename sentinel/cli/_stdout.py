"""Standard output that cannot be written (``> /dev/full``, a closed pipe, ``>&-``) becomes one line, exit 1.

Exit 1, not 2: the command line was fine; the place its output goes is not (like a full disk). The
CLI's error boundary (``_app.main``) asks :func:`failure` after an ``OSError`` or a ``SystemExit``
(click turns a broken pipe into a silent exit 1) whether writing to stdout is what failed.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import Any

from typing_extensions import override


class _GuardedStdout(io.TextIOWrapper):
    """sys.stdout, remembering the first write or flush that failed."""

    failed: OSError | None = None

    @override
    def write(self, s: str, /) -> int:
        try:
            return super().write(s)
        except OSError as exc:
            self.failed = self.failed or exc
            raise

    @override
    def flush(self) -> None:
        try:
            super().flush()
        except OSError as exc:
            self.failed = self.failed or exc
            raise


# Kept referenced: a TextIOWrapper that is collected closes the buffer under it.
_guard: _GuardedStdout | None = None


def install() -> None:
    """Watch the process's real stdout (not a test's capture). With fd 1 closed, take fd 1 (so no file
    opened later becomes "stdout") and make every write to it fail.
    """
    global _guard  # noqa: PLW0603 - one stdout per process
    if sys.stdout is None:
        fd = os.open(os.devnull, os.O_RDONLY)  # read-only: a write fails with EBADF
        if fd != 1:
            os.dup2(fd, 1)
            os.close(fd)
        buffer: Any = io.BufferedWriter(io.FileIO(1, "w", closefd=False))
        encoding, errors, line_buffering = "utf-8", "strict", False
    elif sys.stdout is sys.__stdout__ and isinstance(sys.stdout, io.TextIOWrapper):
        # A BufferedWriter, or a bare FileIO under PYTHONUNBUFFERED / python -u.
        buffer = sys.stdout.buffer
        encoding, errors = sys.stdout.encoding, sys.stdout.errors or "strict"
        line_buffering = sys.stdout.line_buffering
    else:
        return
    write_through = getattr(sys.stdout, "write_through", False)
    _guard = _GuardedStdout(
        buffer, encoding=encoding, errors=errors, line_buffering=line_buffering, write_through=write_through
    )
    sys.stdout = _guard


def failure() -> str | None:
    """Why stdout could not be written, as a message; None when it could. Silences stdout if it failed."""
    if _guard is None or _guard.failed is None:
        return None
    exc = _guard.failed
    # What is still buffered must not fail again at exit ("Exception ignored ... BrokenPipeError").
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    why = "it is closed" if exc.errno == errno.EBADF else (exc.strerror or str(exc))
    return f"cannot write to standard output: {why}"
