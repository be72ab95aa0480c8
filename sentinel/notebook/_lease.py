"""A single-writer lease file with a heartbeat for a checkpoint folder (stdlib only; runs in the kernel)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ._errors import LeaseHeldError, LeaseLostError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from typing import Any

LEASE_FILE_NAME = "sentinel.lease"

_LEASE_FORMAT = "sentinel-lease"
_POLL_SECONDS = 1.0
_RECORD_SIZE = 1024


def runtime_identity() -> dict[str, Any]:
    """Who is writing: pid and its start time, host name, machine boot id, and runtime id.

    ``runtime_id`` is ``SENTINEL_RUNTIME_ID`` when set (the emulator sets one per runtime), else the
    boot id: a fresh Colab runtime is a fresh VM.
    """
    pid = os.getpid()
    boot_id = _boot_id()
    return {
        "pid": pid,
        "pid_start": _process_start(pid),
        "host": os.uname().nodename,
        "boot_id": boot_id,
        "runtime_id": os.environ.get("SENTINEL_RUNTIME_ID") or boot_id,
    }


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _process_start(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; fields after it are plain.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _pid_alive(pid: int, start: int | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if start is not None:
        current = _process_start(pid)
        if current is not None and current != start:
            return False  # the pid was reused by another process
    return True


class Lease:
    """Marks one runtime as the only writer of a folder, with a heartbeat so a dead writer is noticed.

    The lease file ``sentinel.lease`` holds the writer's pid, host, boot id, runtime id and a heartbeat
    timestamp. A lease is *stale* when its heartbeat is older than ``stale_after`` seconds, or when
    its writer ran on this machine (same boot id and host name) and that process is gone. A stale lease is taken
    over silently; a live one raises `LeaseHeldError` unless ``take_over=True``. A background thread
    refreshes the heartbeat every ``stale_after / 4`` seconds while the lease is held, and every
    `check()` makes sure no other runtime has taken the lease over since.

    Drive offers no atomic create across machines, so two runtimes starting within the same second
    can both believe they won; `check()` before each save makes the loser stop at its next save.

    Args:
        folder: The folder to guard; the lease file is created inside it.
        stale_after: Seconds without a heartbeat after which the lease counts as abandoned.
        wait: Seconds to wait for a held lease to turn stale before raising `LeaseHeldError`.
    """

    def __init__(self, folder: str | os.PathLike[str], *, stale_after: float = 120.0, wait: float = 0.0):
        if stale_after <= 0:
            raise ValueError(f"stale_after must be positive, got {stale_after!r}")
        self.path = Path(folder) / LEASE_FILE_NAME
        self.stale_after = float(stale_after)
        self.wait = max(0.0, float(wait))
        import threading

        self._token: str | None = None
        self._lost: str | None = None
        # Serialises this process's reads and rewrites of the file (heartbeat thread vs. check()),
        # so that we never read our own half-rewritten record as someone else's.
        self._lock = threading.Lock()
        self._stop_heartbeat: threading.Event | None = None
        self._heartbeat_thread: threading.Thread | None = None

    @property
    def held(self) -> bool:
        """Whether this object believes it holds the lease (see `check()` to be sure)."""
        return self._token is not None and self._lost is None

    def acquire(self, *, take_over: bool = False) -> None:
        """Take the lease, waiting up to ``wait`` seconds for a live holder's heartbeat to stop.

        Args:
            take_over: Take the lease even from a writer that looks alive.

        Raises:
            LeaseHeldError: Another live runtime holds it.
            OSError: The lease file cannot be written.
        """
        import secrets

        token = secrets.token_hex(8)
        deadline = time.monotonic() + self.wait
        announced = False
        while True:
            record = self._record(token)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pass
            else:
                self._write_fd(fd, record)
                break
            holder = self._read()
            reason = self._stale_reason(holder)
            if take_over or reason is not None:
                self._overwrite(record)
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LeaseHeldError(self._held_message(holder))
            if not announced:
                print(
                    f"[sentinel-kit] {self._held_message(holder, waiting=remaining)}",
                    file=sys.stderr,
                    flush=True,
                )
                announced = True
            time.sleep(min(_POLL_SECONDS, remaining))
        self._token = token
        self._lost = None
        self._start_heartbeat()

    def check(self) -> None:
        """Make sure the lease is still ours and refresh the heartbeat.

        Raises:
            LeaseLostError: Another runtime took the lease over, or it was never acquired.
        """
        if self._token is None:
            raise LeaseLostError(f"the lease {self.path} is not held by this writer")
        with self._lock:
            if self._lost is None:
                holder = self._read()
                if holder is None or holder.get("token") != self._token:
                    self._lost = self._taken_message(holder)
            if self._lost is not None:
                raise LeaseLostError(self._lost)
            self._overwrite(self._record(self._token))

    def release(self) -> None:
        """Stop the heartbeat and remove the lease file if it is still ours; never raises OSError."""
        self._stop_heartbeat_thread()
        with self._lock:
            token, self._token = self._token, None
            if token is None:
                return
            try:
                holder = self._read()
                if holder is not None and holder.get("token") == token:
                    self.path.unlink()
            except OSError:
                pass

    def holder(self) -> dict[str, Any] | None:
        """The lease file's content, or None when there is no (readable) lease file."""
        return self._read()

    # -- internals ------------------------------------------------------------------------------

    def _record(self, token: str) -> dict[str, Any]:
        now = time.time()
        return {"format": _LEASE_FORMAT, "token": token, **runtime_identity(), "heartbeat_at": now}

    def _read(self) -> dict[str, Any] | None:
        try:
            raw = self.path.read_bytes()
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        try:
            record = json.loads(raw)
            if not isinstance(record, dict) or record.get("format") != _LEASE_FORMAT:
                raise ValueError("not a lease record")
        except ValueError:
            # Half-written or foreign: it counts as held, with the file's mtime as heartbeat.
            return {"format": _LEASE_FORMAT, "token": None, "heartbeat_at": mtime, "unreadable": True}
        return record

    def _stale_reason(self, holder: dict[str, Any] | None) -> str | None:
        if holder is None:
            return "gone"
        heartbeat = holder.get("heartbeat_at")
        age = time.time() - heartbeat if isinstance(heartbeat, (int, float)) else float("inf")
        if age > self.stale_after:
            return f"no heartbeat for {age:.0f} s"
        me = runtime_identity()
        pid = holder.get("pid")
        # A pid means something only on the same machine, in the same pid namespace: same boot id
        # and host name (containers on one host share the boot id but not the host name).
        same_machine = bool(me["boot_id"]) and (holder.get("boot_id"), holder.get("host")) == (
            me["boot_id"],
            me["host"],
        )
        if same_machine and isinstance(pid, int):
            if pid == me["pid"]:
                # The same kernel, e.g. the resume cell run again: the earlier writer is done.
                return "held by this process"
            pid_start = holder.get("pid_start")
            if not _pid_alive(pid, pid_start if isinstance(pid_start, int) else None):
                return f"process {pid} is gone"
        return None

    def _held_message(self, holder: dict[str, Any] | None, *, waiting: float | None = None) -> str:
        holder = holder or {}
        heartbeat = holder.get("heartbeat_at")
        age = time.time() - heartbeat if isinstance(heartbeat, (int, float)) else float("nan")
        who = (
            "an unreadable lease file"
            if holder.get("unreadable")
            else f"pid {holder.get('pid')} on {holder.get('host')} (runtime {holder.get('runtime_id')})"
        )
        head = f"{self.path.parent} is being written by {who}, last heartbeat {age:.0f} s ago"
        if waiting is not None:
            return f"{head}; waiting up to {waiting:.0f} s for it to stop."
        left = max(0.0, self.stale_after - age)
        return (
            f"{head}. Only one runtime may write a checkpoint folder. If that runtime is gone, the lease "
            f"turns stale in {left:.0f} s; to take it over now pass take_over=True."
        )

    def _taken_message(self, holder: dict[str, Any] | None) -> str:
        if holder is None:
            return f"the lease {self.path} was removed by someone else; stop writing to this folder"
        return (
            f"the lease {self.path} was taken over by pid {holder.get('pid')} on {holder.get('host')} "
            f"(runtime {holder.get('runtime_id')}); this runtime must stop writing checkpoints"
        )

    def _write_fd(self, fd: int, record: dict[str, Any]) -> None:
        data = json.dumps(record).encode()
        # One fixed-size write at offset 0 and no truncation: a process killed while rewriting the
        # lease leaves either the old record or the new one, never a torn file that reads as held.
        data = data.ljust(max(_RECORD_SIZE, len(data)))
        try:
            os.pwrite(fd, data, 0)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _overwrite(self, record: dict[str, Any]) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
        self._write_fd(fd, record)

    def _start_heartbeat(self) -> None:
        import threading

        self._stop_heartbeat_thread()
        stop = threading.Event()
        self._stop_heartbeat = stop
        thread = threading.Thread(
            target=self._heartbeat_loop, args=(stop, self._token), name="sentinel-lease", daemon=True
        )
        self._heartbeat_thread = thread
        thread.start()

    def _heartbeat_loop(self, stop: threading.Event, token: str) -> None:
        interval = self.stale_after / 4
        while not stop.wait(interval):
            with self._lock:
                if token != self._token or self._lost is not None:
                    return
                holder = self._read()
                if holder is None or holder.get("token") != token:
                    self._lost = self._taken_message(holder)
                    return
                try:
                    self._overwrite(self._record(token))
                except OSError:
                    continue  # Drive hiccup; the next beat or check() tries again

    def _stop_heartbeat_thread(self) -> None:
        if self._stop_heartbeat is not None:
            self._stop_heartbeat.set()
        thread = self._heartbeat_thread
        if thread is not None and thread is not _current_thread():
            thread.join(timeout=5)
        self._stop_heartbeat = None
        self._heartbeat_thread = None


def _current_thread() -> threading.Thread:
    import threading

    return threading.current_thread()
