"""What ``sentinel run`` and ``sentinel login`` put around the browser where no screen exists: a virtual
display (and for ``login --vnc`` noVNC), stopped again however the command ends."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    del frame
    raise SystemExit(128 + signum)


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Make SIGTERM raise ``SystemExit`` (as Ctrl+C raises ``KeyboardInterrupt``) inside the block.

    Python's default for SIGTERM ends the process on the spot, skipping the ``finally`` blocks that
    stop Xvfb and the VNC helpers. While the daemon's event loop runs, its own handlers take over;
    asyncio puts the default back when it is done, so call :func:`reinstall` after it.
    """
    previous = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def reinstall() -> None:
    """Make SIGTERM unwind again after an event loop removed its handler (see :func:`sigterm_unwinds`)."""
    signal.signal(signal.SIGTERM, _raise_exit)


__all__ = ["reinstall", "sigterm_unwinds"]
