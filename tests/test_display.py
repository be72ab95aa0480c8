"""The virtual display and its VNC side, with Debian's real Xvfb, x11vnc and websockify."""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from sentinel.config import process_env
from sentinel.display import (
    VirtualDisplay,
    VncServer,
    free_port,
    is_loopback,
    wants_virtual_display,
)
from sentinel.errors import UsageError

HELPERS = ("Xvfb", "x11vnc", "websockify")
missing = [name for name in HELPERS if shutil.which(name) is None]
needs_helpers = pytest.mark.skipif(
    bool(missing), reason=f"not installed: {', '.join(missing)} (Debian: xvfb x11vnc websockify novnc)"
)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as gone: its parent only has to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def _rfb_security_types(port: int) -> bytes:
    """Speak the first steps of RFB 3.8 and return the security types the server offers."""
    with socket.create_connection(("127.0.0.1", port), 10) as conn:
        conn.settimeout(10)
        banner = conn.recv(12)
        assert banner.startswith(b"RFB 003."), banner
        conn.sendall(b"RFB 003.008\n")
        count = conn.recv(1)[0]
        return conn.recv(count)


@pytest.fixture(name="screen")
def _screen() -> Iterator[VirtualDisplay]:
    with VirtualDisplay(process_env()) as screen:
        yield screen


class TestWantsVirtualDisplay:
    @pytest.mark.parametrize(
        ("mode", "headless", "display", "expected"),
        [
            ("auto", False, False, True),
            ("auto", False, True, False),
            ("auto", None, False, False),  # unset: headless where no display exists, as before
            ("auto", True, False, False),
            ("always", None, True, True),
            ("always", False, True, True),
            ("always", True, False, False),  # a headless browser never needs a display
            ("never", None, False, False),
            ("never", False, True, False),
        ],
    )
    def test_decision(self, mode: str, headless: bool | None, display: bool, expected: bool) -> None:
        assert wants_virtual_display(mode, headless=headless, display_available=display) is expected  # type: ignore[arg-type]

    def test_headed_without_display_and_never_is_a_usage_error(self) -> None:
        with pytest.raises(UsageError, match="--xvfb auto"):
            wants_virtual_display("never", headless=False, display_available=False)


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.0.0.2") and is_loopback("::1")
    assert is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("myhost")


@needs_helpers
class TestVirtualDisplay:
    def test_comes_up_on_a_free_display_and_is_gone_after_exit(self) -> None:
        """1. Two displays at once get different numbers. 2. Each has its X socket. 3. After exit the
        Xvfb processes, their lock files and sockets are gone."""
        env = process_env()
        with VirtualDisplay(env) as first, VirtualDisplay(env) as second:
            assert first.name and second.name and first.name != second.name
            assert re.fullmatch(r":\d+", first.name)
            pids = [first.pid, second.pid]
            assert all(pid is not None and _alive(pid) for pid in pids)
            numbers = [first.name[1:], second.name[1:]]
            assert all(Path(f"/tmp/.X11-unix/X{n}").exists() for n in numbers)
            assert first.env["DISPLAY"] == first.name and "WAYLAND_DISPLAY" not in first.env
        assert not any(_alive(pid) for pid in pids if pid is not None)
        assert not any(Path(f"/tmp/.X{n}-lock").exists() for n in numbers)
        assert not any(Path(f"/tmp/.X11-unix/X{n}").exists() for n in numbers)
        assert first.name is None, "a stopped display has no name"

    def test_runs_in_its_own_process_group(self, screen: VirtualDisplay) -> None:
        """Ctrl+C in a terminal signals the foreground process group: Xvfb must not be in ours."""
        assert screen.pid is not None
        assert os.getpgid(screen.pid) == screen.pid != os.getpgid(0)

    def test_missing_xvfb_is_one_line_naming_the_package(self, tmp_path: Path) -> None:
        env = {**process_env(), "PATH": str(tmp_path)}
        with pytest.raises(UsageError) as caught:
            VirtualDisplay(env).start()
        message = str(caught.value)
        assert "\n" not in message
        assert "Xvfb not found" in message and "apt-get install xvfb" in message

    def test_failed_start_says_why(self, tmp_path: Path) -> None:
        fake = tmp_path / "Xvfb"
        fake.write_text("#!/bin/sh\necho 'Fatal server error: no screens found' >&2\nexit 1\n")
        fake.chmod(0o755)
        env = {**process_env(), "PATH": f"{tmp_path}:{process_env().get('PATH', '')}"}
        with pytest.raises(UsageError, match="Xvfb did not start: Fatal server error: no screens found"):
            VirtualDisplay(env).start()


@needs_helpers
class TestVncServer:
    def test_serves_novnc_and_vnc_on_loopback_and_stops_everything(self, screen: VirtualDisplay) -> None:
        """1. noVNC's page answers at the URL (127.0.0.1, the port asked for). 2. x11vnc speaks RFB
        on a loopback port and asks for no password. 3. After exit neither helper nor any child of
        theirs runs."""
        port = free_port()
        with VncServer(screen, port=port) as vnc:
            assert vnc.url == f"http://127.0.0.1:{port}/vnc.html?autoconnect=1&resize=scale&reconnect=1"
            with urllib.request.urlopen(vnc.url, timeout=10) as page:
                assert page.status == 200 and b"noVNC" in page.read()
            assert vnc.vnc_port is not None
            assert _rfb_security_types(vnc.vnc_port) == b"\x01"  # None: no password set
            pids = vnc.pids
            assert len(pids) == 2 and all(_alive(pid) for pid in pids)
        assert not any(_alive(pid) for pid in pids)
        assert not any(_group_members(pid) for pid in pids)

    def test_password_reaches_x11vnc_through_a_private_file_only(self, screen: VirtualDisplay) -> None:
        """The viewer must authenticate; the password is in no command line, no log, no file left behind."""
        secret = "s3cr3tpw"
        with capture_logs() as logs, VncServer(screen, port=0, password=secret) as vnc:
            assert vnc.vnc_port is not None
            assert _rfb_security_types(vnc.vnc_port) == b"\x02"  # VNC authentication
            for pid in vnc.pids:
                assert secret.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
            x11vnc_argv = Path(f"/proc/{vnc.pids[0]}/cmdline").read_bytes().split(b"\0")
            passwd = Path(x11vnc_argv[x11vnc_argv.index(b"-passwdfile") + 1].decode().removeprefix("rm:"))
            # x11vnc removes the file once read; while it exists it is the owner's alone.
            if passwd.exists():
                assert stat.S_IMODE(passwd.stat().st_mode) == 0o600
        assert secret not in repr(logs)
        assert not passwd.parent.exists()

    def test_zero_port_picks_a_free_one(self, screen: VirtualDisplay) -> None:
        with VncServer(screen, port=0) as vnc:
            assert vnc.port > 0
            with urllib.request.urlopen(vnc.url, timeout=10) as page:
                assert page.status == 200

    def test_taken_port_is_one_line_and_starts_nothing(self, screen: VirtualDisplay) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            vnc = VncServer(screen, port=port)
            with pytest.raises(
                UsageError, match=rf"noVNC port 127\.0\.0\.1:{port} cannot be used.*--vnc-port"
            ):
                vnc.start()
        assert vnc.pids == []

    def test_failure_mid_start_stops_what_had_started(self, screen: VirtualDisplay, tmp_path: Path) -> None:
        """x11vnc is up when websockify fails: the error says why and x11vnc is stopped too."""
        fake = tmp_path / "websockify"
        fake.write_text("#!/bin/sh\necho 'websockify: cannot start' >&2\nexit 3\n")
        fake.chmod(0o755)
        screen_env_path = f"{tmp_path}:{screen.env.get('PATH', '')}"
        with VirtualDisplay({**process_env(), "PATH": screen_env_path}) as other:
            vnc = VncServer(other, port=0)
            with (
                capture_logs() as logs,
                pytest.raises(UsageError, match=r"websockify did not start.*cannot start"),
            ):
                vnc.start()
            started = [e for e in logs if e["event"] == "vnc.started"]
            assert not started
            assert vnc.pids == []
            x11vnc = [
                pid
                for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                if _alive(pid) and f"{other.name}\0".encode() in _cmdline(pid) and b"x11vnc" in _cmdline(pid)
            ]
            assert x11vnc == []

    @pytest.mark.parametrize(("program", "package"), [("x11vnc", "x11vnc"), ("websockify", "websockify")])
    def test_missing_helper_is_one_line_naming_the_package(
        self, tmp_path: Path, program: str, package: str
    ) -> None:
        for name in ("Xvfb", "x11vnc", "websockify"):
            if name != program:
                (tmp_path / name).symlink_to(shutil.which(name) or name)
        with (
            VirtualDisplay({**process_env(), "PATH": str(tmp_path)}) as screen,
            pytest.raises(UsageError) as caught,
        ):
            VncServer(screen, port=0).start()
        message = str(caught.value)
        assert "\n" not in message
        assert f"{program} not found" in message and f"apt-get install {package}" in message

    def test_beyond_loopback_warns(self, screen: VirtualDisplay, monkeypatch: pytest.MonkeyPatch) -> None:
        # Binding a real public address would leave the machine; pretend 127.0.0.1 is one instead.
        monkeypatch.setattr("sentinel.display._vnc.is_loopback", lambda host: False)
        with capture_logs() as logs, VncServer(screen, port=0):
            pass
        (warning,) = [e for e in logs if e["event"] == "vnc.exposed"]
        assert warning["log_level"] == "warning" and "SENTINEL_VNC_PASSWORD" in warning["message"]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
