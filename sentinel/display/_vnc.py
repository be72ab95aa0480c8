"""x11vnc on the virtual display and websockify serving noVNC: sign in from a web browser."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import structlog

from sentinel.display._xvfb import (
    NOVNC_DIRS,
    NOVNC_QUERY,
    START_TIMEOUT,
    Helper,
    VirtualDisplay,
    free_port,
    is_loopback,
    missing_program,
)
from sentinel.errors import UsageError

log = structlog.get_logger(__name__)


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
        self._helpers: list[Helper] = []
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
            raise missing_program("x11vnc", "x11vnc", "sign-in over the web (--vnc) needs a VNC server")
        websockify = shutil.which("websockify", path=path)
        if websockify is None:
            raise missing_program("websockify", "websockify", "noVNC (--vnc) needs a WebSocket proxy")
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
            helper = Helper("x11vnc", argv, self._display.env, self._dir / "x11vnc.log")
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
        helper = Helper("websockify", argv, self._display.env, self._dir / "websockify.log")
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


def _wait_for_line(helper: Helper, prefix: str) -> bool:
    """Wait until ``helper`` writes a line starting with ``prefix``; False if it exits or times out."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if helper.said(prefix):
            return True
        if not helper.alive():
            return False
        time.sleep(0.05)
    return False


__all__ = ["VncServer"]
