"""A virtual X display (Xvfb) for headed Chromium without a screen, and noVNC to see it from a web browser.

``sentinel run --headed`` and ``sentinel login`` on a machine without ``$DISPLAY`` (a server, a NAS, a
container) run the browser on a :class:`VirtualDisplay`; ``sentinel login --vnc`` adds a
:class:`VncServer` (x11vnc on a free loopback port, websockify serving noVNC) so a person can sign in
from a web browser, over an SSH tunnel if need be::

    with VirtualDisplay(process_env()) as screen, VncServer(screen, port=6080) as vnc:
        print(vnc.url)                       # http://127.0.0.1:6080/vnc.html?autoconnect=1...
        launch the browser with env=screen.env

Every helper runs in its own session (process group): Ctrl+C in the terminal reaches sentinel only,
which closes the browser first (saving the profile) and then stops the helpers, whole process groups,
SIGTERM then SIGKILL. A start that fails half-way stops what it had started. The display number and
the VNC port are picked free (``Xvfb -displayfd``, a bind to port 0), never fixed, since a container
on the host network shares both with the host.

Nothing here touches ``os.environ``: the display reaches the browser through the child environment
(:attr:`VirtualDisplay.env`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
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


def _missing(program: str, package: str, why: str) -> UsageError:
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


class _Helper:
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
            raise _missing("Xvfb", "xvfb", "a headed browser without a screen needs a virtual display")
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


class VncServer:
    """x11vnc on a free loopback port and websockify serving noVNC at ``host:port``, for one display.

    Args:
        display: a started :class:`VirtualDisplay`.
        host: where noVNC listens; anything beyond loopback logs a warning (``vnc.exposed``).
        port: noVNC's port; 0 picks a free one.
        password: what a viewer must type (VNC itself uses the first 8 characters); given to x11vnc in
            a 0600 file, never on a command line or in a log.

    Use ``with VncServer(display) as vnc:`` or :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        display: VirtualDisplay,
        *,
        host: str = "127.0.0.1",
        port: int = 6080,
        password: str | None = None,
    ) -> None:
        self._display = display
        self.host = host
        self.port = port
        self._password = password
        self._dir: Path | None = None
        self._helpers: list[_Helper] = []
        self.vnc_port: int | None = None

    @property
    def url(self) -> str:
        """The noVNC page that connects at once, e.g. ``http://127.0.0.1:6080/vnc.html?autoconnect=1...``."""
        host = _connect_host(self.host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}/vnc.html?{NOVNC_QUERY}"

    @property
    def pids(self) -> list[int]:
        """Process ids of x11vnc and websockify while they run."""
        return [helper.pid for helper in self._helpers]

    def start(self) -> Self:
        """Start x11vnc, then websockify; return once noVNC's page answers.

        Raises:
            UsageError: x11vnc, websockify or noVNC's files are missing, the port is taken, or a
                helper did not start (its last words in the message).
        """
        if self._display.name is None:
            raise RuntimeError("start the virtual display before its VNC server")
        path = self._display.env.get("PATH")
        if shutil.which("x11vnc", path=path) is None:
            raise _missing("x11vnc", "x11vnc", "sign-in over the web (--vnc) needs a VNC server")
        websockify = shutil.which("websockify", path=path)
        if websockify is None:
            raise _missing("websockify", "websockify", "noVNC (--vnc) needs a WebSocket proxy")
        web = next((d for d in NOVNC_DIRS if (d / "vnc.html").is_file()), None)
        if web is None:
            raise UsageError(
                "noVNC's web files not found (looked in "
                + ", ".join(str(d) for d in NOVNC_DIRS)
                + "); install Debian's novnc package (apt-get install novnc)"
            )
        if self.port:
            _check_port_free(self.host, self.port)
        try:
            self._dir = Path(tempfile.mkdtemp(prefix="sentinel-vnc-"))
            self._start_x11vnc()
            self._start_websockify(websockify, web)
        except BaseException:
            self.stop()
            raise
        if not is_loopback(self.host):
            log.warning(
                "vnc.exposed",
                host=self.host,
                port=self.port,
                password_set=self._password is not None,
                message=(
                    f"noVNC listens on {self.host}:{self.port}, beyond loopback: whoever reaches it sees "
                    "and controls the signed-in browser. Publish or tunnel it to 127.0.0.1 only"
                    + ("." if self._password else ", and set a VNC password (SENTINEL_VNC_PASSWORD).")
                ),
            )
        log.info(
            "vnc.started",
            url=self.url,
            vnc_port=self.vnc_port,
            pids=self.pids,
            display=self._display.name,
            password_set=self._password is not None,
        )
        return self

    def _start_x11vnc(self) -> None:
        assert self._dir is not None
        auth = ["-nopw"]
        if self._password is not None:
            if len(self._password) > 8:
                log.warning("vnc.password_truncated", message="VNC checks only the first 8 characters")
            secret = self._dir / "passwd"
            fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(self._password + "\n")
            auth = ["-passwdfile", f"rm:{secret}"]  # x11vnc deletes the file once it has read it
        # The port is free now; another process could take it before x11vnc binds, so retry.
        last = "did not start"
        for _ in range(3):
            port = free_port()
            argv = [
                "x11vnc",
                "-display",
                str(self._display.name),
                "-rfbport",
                str(port),
                "-localhost",  # the raw VNC port is for websockify (and an SSH tunnel) only
                "-forever",
                "-shared",
                "-noxdamage",
                *auth,
            ]
            helper = _Helper("x11vnc", argv, self._display.env, self._dir / "x11vnc.log")
            self._helpers.append(helper)
            if _wait_for_line(helper, "PORT="):
                self.vnc_port = port
                return
            last = helper.tail()
            helper.stop()
            self._helpers.remove(helper)
            if "in use" not in last.lower():
                break
        raise UsageError(f"x11vnc did not start on display {self._display.name}: {last}")

    def _start_websockify(self, program: str, web: Path) -> None:
        assert self._dir is not None
        if not self.port:
            self.port = free_port(_connect_host(self.host))
        listen = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        argv = [program, "--web", str(web), listen, f"127.0.0.1:{self.vnc_port}"]
        helper = _Helper("websockify", argv, self._display.env, self._dir / "websockify.log")
        self._helpers.append(helper)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not helper.alive():
                break
            with (
                contextlib.suppress(OSError),
                socket.create_connection((_connect_host(self.host), self.port), 0.5),
            ):
                return
            time.sleep(0.05)
        raise UsageError(f"websockify did not start on {listen}: {helper.tail()}")

    def stop(self) -> None:
        """Stop websockify and x11vnc (whole process groups); idempotent."""
        helpers, self._helpers = self._helpers, []
        for helper in reversed(helpers):
            helper.stop()
        if helpers:
            log.info("vnc.stopped", display=self._display.name)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# A server bound to every interface is reached through loopback.
_WILDCARDS: Final = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - mapped away, never bound.


def _connect_host(host: str) -> str:
    host = host.strip("[]")
    return _WILDCARDS.get(host, host)


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise UsageError(
                f"noVNC port {host}:{port} cannot be used ({exc.strerror or exc}); choose another with "
                "--vnc-port PORT (0 picks a free one)"
            ) from None


def _wait_for_line(helper: _Helper, prefix: str) -> bool:
    """Wait until ``helper`` writes a line starting with ``prefix``; False if it exits or times out."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if helper.said(prefix):
            return True
        if not helper.alive():
            return False
        time.sleep(0.05)
    return False


__all__ = [
    "NOVNC_DIRS",
    "SCREEN_SIZE",
    "VirtualDisplay",
    "VncServer",
    "XvfbMode",
    "free_port",
    "is_loopback",
    "wants_virtual_display",
]
