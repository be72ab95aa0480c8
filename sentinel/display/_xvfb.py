"""The virtual X display (Xvfb) and the helper processes it and VNC run as (process groups, stopped whole)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self

import structlog
from pyvirtualdisplay.abstractdisplay import XStartError
from pyvirtualdisplay.xvfb import XvfbDisplay

from sentinel.errors import UsageError

log = structlog.get_logger(__name__)
XvfbMode = Literal["auto", "always", "never"]

# Big enough for Colab's side panel and a sign-in popup side by side.
SCREEN_SIZE: Final = (1280, 1024)
# Seconds a helper may take to come up on a busy 2-core machine.
START_TIMEOUT: Final = 20.0
# Seconds a helper gets between SIGTERM and SIGKILL.
STOP_GRACE: Final = 5.0
# Where distributions put noVNC's web files (Debian/Ubuntu, Arch, a local install).
NOVNC_DIRS: Final = (
    Path("/usr/share/novnc"),
    Path("/usr/share/webapps/novnc"),
    Path("/usr/local/share/novnc"),
)
# noVNC page options: connect at once, scale the screen to the window, reconnect after a hiccup.
NOVNC_QUERY: Final = "autoconnect=1&resize=scale&reconnect=1"


def missing_program(program: str, package: str, why: str) -> UsageError:
    return UsageError(
        f"{program} not found: {why}; install Debian's {package} package (apt-get install {package})"
    )


def wants_virtual_display(mode: XvfbMode, *, headless: bool | None, display_available: bool) -> bool:
    """Whether ``sentinel run`` should start a virtual display for the browser.

    A headless browser never needs one. ``auto`` starts one for a headed browser (``--headed``) where
    no display exists; ``always`` for any browser that is not headless; ``never`` never.

    Raises:
        UsageError: ``--headed`` with ``--xvfb never`` and no display.
    """
    if headless is True:
        return False
    if mode == "always":
        return True
    if headless is False and not display_available:
        if mode == "never":
            raise UsageError(
                "--headed needs a display and none exists ($DISPLAY is unset) while --xvfb is never; "
                "use --xvfb auto (a virtual display, Debian package xvfb) or --headless"
            )
        return True
    return False


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a hostname: it may resolve to anything


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at ``host`` right now (the kernel's pick for port 0)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class Helper:
    """One child process in its own session, its output in a log file, stopped as a whole group."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], logfile: Path) -> None:
        self.name = name
        self.logfile = logfile
        with logfile.open("wb") as out:
            # start_new_session: Ctrl+C in the terminal must not reach the helper before sentinel has
            # closed the browser that draws on it; killpg then also reaches the helper's own children
            # (websockify forks one per connection). Output goes to a file, never to a pipe nobody
            # drains (a full pipe would stall the helper, a closed one would kill it).
            self.proc = subprocess.Popen(
                argv,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def said(self, prefix: str) -> bool:
        """Whether the helper has written a line starting with ``prefix``."""
        with contextlib.suppress(OSError):
            return any(
                line.startswith(prefix) for line in self.logfile.read_text(errors="replace").splitlines()
            )
        return False

    def tail(self) -> str:
        """The last meaningful line the helper wrote, for a one-line error."""
        line = _last_line(self.logfile)
        code = self.proc.poll()
        return f"{line} (exit code {code})" if code is not None else line

    def stop(self) -> None:
        stop_group(self.proc)


def stop_group(proc: subprocess.Popen[Any]) -> None:
    """Stop ``proc`` and everything in its process group: SIGTERM, then SIGKILL after :data:`STOP_GRACE`."""
    for sig, grace in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, STOP_GRACE)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; its children (same group) get the signal too, then we are done.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        return


class _SessionXvfb(XvfbDisplay):
    # PyVirtualDisplay starts Xvfb with stdout/stderr on pipes nobody reads (a chatty X server could
    # fill them and stall) and in sentinel's process group (Ctrl+C would kill the display under the
    # browser while it saves the profile). This override keeps its display-number logic
    # (-displayfd) and starts the process our way.
    def __init__(self, logfile: Path, env: Mapping[str, str], **options: Any) -> None:
        self._logfile = logfile
        self._child_env = dict(env)
        super().__init__(**options)  # type: ignore[no-untyped-call]  # PyVirtualDisplay is unannotated

    def _popen(self, use_pass_fds: bool) -> None:
        with self._logfile.open("wb") as out:
            self._subproc = subprocess.Popen(
                self._command,
                pass_fds=[self._pipe_wfd] if use_pass_fds and self._pipe_wfd is not None else [],
                env=self._child_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=out,
                start_new_session=True,
            )


class VirtualDisplay:
    """Xvfb on a free display number; :attr:`env` is the environment a browser needs to draw on it.

    Args:
        base_env: the environment to extend (from :func:`sentinel.config.process_env`).
        size: the screen in pixels.

    Use ``with VirtualDisplay(env) as screen:`` or :meth:`start` / :meth:`stop`.
    """

    def __init__(self, base_env: Mapping[str, str], *, size: tuple[int, int] = SCREEN_SIZE) -> None:
        self._base_env = dict(base_env)
        self._size = size
        self._xvfb: _SessionXvfb | None = None
        self._dir: Path | None = None
        self.name: str | None = None

    def start(self) -> Self:
        """Start Xvfb and wait until it accepts clients.

        Raises:
            UsageError: Xvfb is not installed, or it did not start (its last words in the message).
        """
        if self._xvfb is not None:
            raise RuntimeError("the virtual display is already started")
        if shutil.which("Xvfb", path=self._base_env.get("PATH")) is None:
            raise missing_program("Xvfb", "xvfb", "a headed browser without a screen needs a virtual display")
        self._dir = Path(tempfile.mkdtemp(prefix="sentinel-display-"))
        logfile = self._dir / "xvfb.log"
        env = {k: v for k, v in self._base_env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        xvfb = _SessionXvfb(
            logfile,
            env,
            size=self._size,
            color_depth=24,
            manage_global_env=False,
            retries=3,
        )
        self._xvfb = xvfb
        try:
            xvfb.start()  # type: ignore[no-untyped-call]
        except XStartError:
            why = _last_line(logfile)
            self.stop()
            raise UsageError(f"Xvfb did not start: {why}") from None
        except BaseException:
            self.stop()
            raise
        self.name = xvfb.new_display_var
        log.info("display.started", display=self.name, pid=xvfb.pid, size="x".join(map(str, self._size)))
        return self

    @property
    def env(self) -> dict[str, str]:
        """``base_env`` with ``DISPLAY`` set to this display (and no Wayland display to prefer)."""
        if self.name is None:
            raise RuntimeError("the virtual display is not started")
        env = {k: v for k, v in self._base_env.items() if k != "WAYLAND_DISPLAY"}
        env["DISPLAY"] = self.name
        return env

    @property
    def pid(self) -> int | None:
        """Xvfb's process id while it runs."""
        return self._xvfb.pid if self._xvfb is not None else None

    def stop(self) -> None:
        """Stop Xvfb (it removes its lock file and socket on SIGTERM); idempotent."""
        xvfb, self._xvfb = self._xvfb, None
        if xvfb is not None and xvfb.pid is not None:
            proc = xvfb._subproc  # the Popen our _popen override made
            if proc is not None:
                stop_group(proc)
            with contextlib.suppress(Exception):  # PyVirtualDisplay's own bookkeeping; Xvfb is gone
                xvfb.stop()  # type: ignore[no-untyped-call]
            if self.name is not None:
                log.info("display.stopped", display=self.name)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self.name = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _last_line(path: Path) -> str:
    with contextlib.suppress(OSError):
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
        useful = [line for line in lines if not line.startswith("_XSERVTrans")]
        if useful or lines:
            return (useful or lines)[-1]
    return "no output"


__all__ = [
    "NOVNC_DIRS",
    "NOVNC_QUERY",
    "SCREEN_SIZE",
    "START_TIMEOUT",
    "VirtualDisplay",
    "XvfbMode",
    "free_port",
    "is_loopback",
    "wants_virtual_display",
]
