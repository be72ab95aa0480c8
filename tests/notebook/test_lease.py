"""The single-writer lease: a second writer gets a clear error; stale and dead writers are taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = str(Path(__file__).resolve().parents[2])

_HOLDER = """
import sys
sys.path.insert(0, sys.argv[2])
import sentinel.notebook as kit
ckpt = kit.Checkpointer(sys.argv[1], serializer="pickle")
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture(name="holder")
def _holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another live process that holds the lease of ``tmp_path / 'ckpt'``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path / "ckpt"), REPO],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=10)


def write_lease(folder: Path, kit: ModuleType, **fields: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "format": "sentinel-lease",
        "token": "0123456789abcdef",
        "pid": 4242,
        "pid_start": 1,
        "host": "another-vm",
        "boot_id": "another-boot",
        "runtime_id": "runtime-b",
        "heartbeat_at": time.time(),
    }
    record.update(fields)
    path = folder / kit.LEASE_FILE_NAME
    path.write_text(json.dumps(record))
    return path


def lease_record(folder: Path, kit: ModuleType) -> dict[str, Any]:
    return dict(json.loads((folder / kit.LEASE_FILE_NAME).read_text()))


class TestSecondWriter:
    def test_a_live_writer_blocks_a_second_one(self, holder: subprocess.Popen[str], tmp_path: Path) -> None:
        """The error names the holder and both ways out (wait for staleness, take_over=True)."""
        import sentinel.notebook as kit

        with pytest.raises(kit.LeaseHeldError) as caught:
            kit.Checkpointer(tmp_path / "ckpt", lease_wait=0)
        message = str(caught.value)
        assert f"pid {holder.pid}" in message
        assert "take_over=True" in message
        assert "stale" in message

    def test_take_over_a_live_writer(self, holder: subprocess.Popen[str], tmp_path: Path) -> None:
        import sentinel.notebook as kit

        ckpt = kit.Checkpointer(tmp_path / "ckpt", lease_wait=0, take_over=True, serializer="pickle")
        assert lease_record(tmp_path / "ckpt", kit)["pid"] == os.getpid()
        ckpt.save(1, {"ok": True})

    def test_a_killed_writer_on_this_machine_is_taken_over_at_once(
        self, holder: subprocess.Popen[str], tmp_path: Path
    ) -> None:
        """Its heartbeat is fresh, but its process is gone: no waiting (the emulator's fresh runtime)."""
        import sentinel.notebook as kit

        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        started = time.monotonic()
        kit.Checkpointer(tmp_path / "ckpt", lease_wait=0)
        assert time.monotonic() - started < 1


class TestStaleness:
    def test_old_heartbeat_is_taken_over(self, kit: ModuleType, tmp_path: Path) -> None:
        write_lease(tmp_path, kit, heartbeat_at=time.time() - 1000)
        ckpt = kit.Checkpointer(tmp_path, lease_wait=0, lease_stale_after=120)
        assert lease_record(tmp_path, kit)["pid"] == os.getpid()
        ckpt.close()

    def test_fresh_heartbeat_on_another_machine_is_held(self, kit: ModuleType, tmp_path: Path) -> None:
        write_lease(tmp_path, kit)
        with pytest.raises(kit.LeaseHeldError, match="another-vm"):
            kit.Checkpointer(tmp_path, lease_wait=0)

    def test_waits_for_a_heartbeat_to_go_stale(
        self, kit: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A fresh runtime started just after the old one died waits, then takes over."""
        write_lease(tmp_path, kit, heartbeat_at=time.time() - 0.5)
        started = time.monotonic()
        kit.Checkpointer(tmp_path, lease_stale_after=1.5, lease_wait=10)
        waited = time.monotonic() - started
        assert 0.5 <= waited < 5
        assert "waiting up to" in capsys.readouterr().err

    def test_unreadable_lease_counts_as_held_until_its_mtime_is_old(
        self, kit: ModuleType, tmp_path: Path
    ) -> None:
        path = tmp_path / kit.LEASE_FILE_NAME
        path.write_text("{not json")
        with pytest.raises(kit.LeaseHeldError, match="unreadable"):
            kit.Checkpointer(tmp_path, lease_wait=0)
        os.utime(path, (time.time() - 1000, time.time() - 1000))
        kit.Checkpointer(tmp_path, lease_wait=0)

    def test_reused_pid_is_not_mistaken_for_the_writer(self, kit: ModuleType, tmp_path: Path) -> None:
        """Same machine, the pid is alive but started at another time: the writer is gone."""
        me = kit.Lease(tmp_path)
        identity = sys.modules[kit.Lease.__module__].runtime_identity()
        write_lease(
            tmp_path,
            kit,
            pid=os.getppid(),
            pid_start=-5,
            host=identity["host"],
            boot_id=identity["boot_id"],
        )
        me.acquire()
        assert me.held
        me.release()

    def test_stale_after_must_be_positive(self, kit: ModuleType, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="stale_after"):
            kit.Lease(tmp_path, stale_after=0)


class TestLifecycle:
    def test_same_kernel_rerun_takes_over_and_the_old_writer_stops(
        self, kit: ModuleType, tmp_path: Path
    ) -> None:
        """Running the resume cell again in one kernel: the new Checkpointer wins, the old one is told."""
        first = kit.Checkpointer(tmp_path, serializer="pickle", lease_wait=0)
        second = kit.Checkpointer(tmp_path, serializer="pickle", lease_wait=0)
        with pytest.raises(kit.LeaseLostError, match="taken over"):
            first.save(1, {})
        second.save(1, {})
        first.close()  # must not remove the lease the second one holds
        assert lease_record(tmp_path, kit)["token"] == second._lease._token
        second.close()
        assert not (tmp_path / kit.LEASE_FILE_NAME).exists()

    def test_a_takeover_by_another_runtime_stops_our_saves(self, kit: ModuleType, tmp_path: Path) -> None:
        ckpt = kit.Checkpointer(tmp_path, serializer="pickle")
        ckpt.save(1, {})
        write_lease(tmp_path, kit, token="feedfacefeedface")
        with pytest.raises(kit.LeaseLostError, match="another-vm"):
            ckpt.save(2, {})
        assert [i.step for i in ckpt.list()] == [1]

    def test_heartbeat_thread_refreshes_the_lease(self, kit: ModuleType, tmp_path: Path) -> None:
        lease = kit.Lease(tmp_path, stale_after=0.4)
        lease.acquire()
        try:
            first = lease_record(tmp_path, kit)["heartbeat_at"]
            deadline = time.monotonic() + 5
            while lease_record(tmp_path, kit)["heartbeat_at"] == first and time.monotonic() < deadline:
                time.sleep(0.05)
            assert lease_record(tmp_path, kit)["heartbeat_at"] > first
        finally:
            lease.release()
        assert lease.holder() is None

    def test_garbage_collection_releases_the_lease(self, kit: ModuleType, tmp_path: Path) -> None:
        import gc

        ckpt = kit.Checkpointer(tmp_path)
        assert (tmp_path / kit.LEASE_FILE_NAME).exists()
        del ckpt
        gc.collect()
        assert not (tmp_path / kit.LEASE_FILE_NAME).exists()

    def test_context_manager_releases(self, kit: ModuleType, tmp_path: Path) -> None:
        with kit.Checkpointer(tmp_path, serializer="pickle") as ckpt:
            ckpt.save(1, {"a": 1})
            assert (tmp_path / kit.LEASE_FILE_NAME).exists()
        assert not (tmp_path / kit.LEASE_FILE_NAME).exists()
