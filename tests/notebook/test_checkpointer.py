"""Checkpointer: commit protocol, verification, fallback, rotation, refused inputs.

Most tests run twice: against ``sentinel.notebook`` and against the single file that
``sentinel kit export`` writes (the ``kit`` fixture), which must behave the same.
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import json
import os
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.notebook.helpers import blob, ckpt_files, files, internals, needs_torch


def make(kit: ModuleType, folder: Path, **options: Any) -> Any:
    options.setdefault("serializer", "pickle")
    return kit.Checkpointer(folder, **options)


def state(step: int) -> dict[str, Any]:
    return {"step": step, "blob": blob(step, 4096)}


class TestSaveAndLoad:
    def test_round_trip(self, kit: ModuleType, tmp_path: Path) -> None:
        """A saved state comes back equal, with its info recorded in last_loaded."""
        ckpt = make(kit, tmp_path)
        info = ckpt.save(7, state(7))
        assert ckpt.load_latest() == state(7)
        assert ckpt.last_loaded == info
        assert ckpt.latest() == info
        assert [i.step for i in ckpt.list()] == [7]

    def test_files_and_manifest(self, kit: ModuleType, tmp_path: Path) -> None:
        """A step-numbered payload plus a manifest with size, sha256, versions and its own checksum."""
        ckpt = make(kit, tmp_path)
        info = ckpt.save(1200, state(1200))
        assert info.payload.name == f"{info.name}.pkl"
        assert info.name.startswith("ckpt-000000001200-")
        assert ckpt_files(tmp_path) == sorted([info.payload.name, info.manifest.name])
        record = json.loads(info.manifest.read_text())
        data = info.payload.read_bytes()
        assert record["format"] == kit.MANIFEST_FORMAT
        assert record["format_version"] == kit.MANIFEST_VERSION
        assert record["step"] == 1200
        assert record["files"] == [
            {"name": info.payload.name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        ]
        assert record["versions"]["sentinel"] == kit.__version__
        assert "python" in record["versions"]
        assert record["created_at"].endswith("Z")
        assert record["writer"]["pid"] == os.getpid()
        body = {k: v for k, v in record.items() if k != "manifest_sha256"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        assert record["manifest_sha256"] == hashlib.sha256(canonical).hexdigest()

    def test_large_state_hash_matches(self, kit: ModuleType, tmp_path: Path) -> None:
        """Hashing on a thread while writing gives the file's true sha256, also past the copy threshold."""
        ckpt = make(kit, tmp_path)
        big = {"a": blob(1, 9 << 20), "b": [blob(i, 3000) for i in range(50)], "c": blob(2, 300 << 10)}
        info = ckpt.save(1, big)
        assert hashlib.sha256(info.payload.read_bytes()).hexdigest() == info.sha256
        assert ckpt.load_latest() == big

    def test_save_never_reads_the_payload_back(
        self, kit: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The sha256 is computed while writing: save() opens the payload for writing only."""
        ckpt = make(kit, tmp_path)
        opened: list[tuple[str, str]] = []
        real_open, real_os_open = builtins.open, os.open

        def spy_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            opened.append((str(file), mode))
            return real_open(file, mode, *args, **kwargs)

        def spy_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            opened.append((str(path), "w" if flags & (os.O_WRONLY | os.O_RDWR) else "r"))
            return real_os_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", spy_open)
        monkeypatch.setattr(os, "open", spy_os_open)
        info = ckpt.save(3, state(3))
        monkeypatch.undo()
        payload_opens = [mode for path, mode in opened if path == str(info.payload)]
        assert payload_opens == ["w"]

    def test_list_is_oldest_first_and_skips_incomplete(self, kit: ModuleType, tmp_path: Path) -> None:
        ckpt = make(kit, tmp_path, keep=5)
        for step in (1, 2, 3):
            ckpt.save(step, state(step))
        (tmp_path / "ckpt-000000000009-0badc0de.pkl").write_bytes(b"partial")
        assert [i.step for i in ckpt.list()] == [1, 2, 3]
        assert ckpt.latest().step == 3

    def test_empty_folder(self, kit: ModuleType, tmp_path: Path) -> None:
        """No checkpoint: the default is returned, or NoCheckpointError without one."""
        ckpt = make(kit, tmp_path)
        assert ckpt.load_latest(default=None) is None
        assert ckpt.latest() is None
        assert ckpt.list() == []
        with pytest.raises(kit.NoCheckpointError, match="no checkpoint"):
            ckpt.load_latest()

    def test_readonly_takes_no_lease_and_cannot_save(self, kit: ModuleType, tmp_path: Path) -> None:
        writer = make(kit, tmp_path / "c")
        writer.save(1, state(1))
        writer.close()
        reader = make(kit, tmp_path / "c", readonly=True)
        assert not (tmp_path / "c" / kit.LEASE_FILE_NAME).exists()
        assert reader.load_latest() == state(1)
        with pytest.raises(ValueError, match="read-only"):
            reader.save(2, state(2))

    def test_closed_checkpointer_cannot_save(self, kit: ModuleType, tmp_path: Path) -> None:
        ckpt = make(kit, tmp_path)
        ckpt.close()
        assert not (tmp_path / kit.LEASE_FILE_NAME).exists()
        with pytest.raises(ValueError, match="closed"):
            ckpt.save(1, state(1))


class TestRefusedInputs:
    @pytest.mark.parametrize("keep", [0, -1, 1.5, True, "3"])
    def test_keep_must_be_a_positive_int(self, kit: ModuleType, tmp_path: Path, keep: Any) -> None:
        with pytest.raises(ValueError, match="keep"):
            make(kit, tmp_path, keep=keep)

    @pytest.mark.parametrize("step", [-1, 1.0, "5", True, None])
    def test_step_must_be_a_non_negative_int(self, kit: ModuleType, tmp_path: Path, step: Any) -> None:
        ckpt = make(kit, tmp_path)
        with pytest.raises(ValueError, match="step"):
            ckpt.save(step, state(0))
        assert ckpt_files(tmp_path) == []

    def test_unknown_serializer(self, kit: ModuleType, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="serializer"):
            kit.Checkpointer(tmp_path, serializer="json")

    @pytest.mark.parametrize("step", [5, 4, 0])
    def test_step_not_newer_is_refused(self, kit: ModuleType, tmp_path: Path, step: int) -> None:
        """A resume cell run twice cannot clobber newer work: equal or older steps are refused."""
        ckpt = make(kit, tmp_path)
        ckpt.save(5, state(5))
        before = files(tmp_path)
        with pytest.raises(kit.StepOrderError, match="at step 5"):
            ckpt.save(step, state(step))
        assert files(tmp_path) == before
        assert ckpt.load_latest() == state(5)

    def test_step_order_survives_a_new_runtime(self, kit: ModuleType, tmp_path: Path) -> None:
        """The check reads the folder, not memory: a fresh Checkpointer refuses older steps too."""
        first = make(kit, tmp_path)
        first.save(10, state(10))
        first.close()
        second = make(kit, tmp_path)
        with pytest.raises(kit.StepOrderError):
            second.save(9, state(9))
        second.save(11, state(11))


def corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def damage_manifest_field(path: Path) -> None:
    record = json.loads(path.read_text())
    record["files"][0]["size"] += 1
    path.write_text(json.dumps(record))


def cut_manifest(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:40])


class TestFallback:
    @pytest.mark.parametrize(
        ("damage", "reason"),
        [
            (lambda info: corrupt(info.payload), "sha256 does not match"),
            (lambda info: truncate(info.payload), "truncated"),
            (lambda info: info.payload.unlink(), "missing"),
            (lambda info: damage_manifest_field(info.manifest), "checksum does not match"),
            (lambda info: cut_manifest(info.manifest), "manifest unreadable"),
            (lambda info: info.manifest.unlink(), "interrupted"),
        ],
        ids=["corrupted", "truncated", "payload-missing", "manifest-altered", "manifest-cut", "no-manifest"],
    )
    def test_damaged_newest_falls_back_with_a_warning(
        self, kit: ModuleType, tmp_path: Path, damage: Any, reason: str
    ) -> None:
        """The previous checkpoint is loaded; the warning names the skipped one and why."""
        ckpt = make(kit, tmp_path)
        ckpt.save(1, state(1))
        newest = ckpt.save(2, state(2))
        damage(newest)
        reader = make(kit, tmp_path, readonly=True)
        with pytest.warns(kit.CheckpointFallbackWarning) as record:
            loaded = reader.load_latest()
        assert loaded == state(1)
        assert reader.last_loaded.step == 1
        message = str(record[0].message)
        assert f"step 2 ({newest.name})" in message
        assert "resuming from checkpoint step 1" in message
        assert reason in message

    def test_falls_back_over_several(self, kit: ModuleType, tmp_path: Path) -> None:
        ckpt = make(kit, tmp_path, keep=4)
        infos = [ckpt.save(step, state(step)) for step in (1, 2, 3, 4)]
        corrupt(infos[3].payload)
        truncate(infos[2].payload)
        with pytest.warns(kit.CheckpointFallbackWarning, match=r"step 4 .*; step 3 "):
            assert ckpt.load_latest() == state(2)

    def test_nothing_verifies_raises_even_with_a_default(self, kit: ModuleType, tmp_path: Path) -> None:
        """A folder of broken checkpoints is not a fresh start: the error says so instead of restarting."""
        ckpt = make(kit, tmp_path, keep=2)
        for info in [ckpt.save(1, state(1)), ckpt.save(2, state(2))]:
            corrupt(info.payload)
        with pytest.raises(kit.CheckpointCorruptError, match=r"no checkpoint .* verifies"):
            ckpt.load_latest(default=None)

    def test_only_an_interrupted_save_is_a_fresh_start(self, kit: ModuleType, tmp_path: Path) -> None:
        (tmp_path / "ckpt-000000000001-0123abcd.pkl").write_bytes(b"half")
        ckpt = make(kit, tmp_path)
        with pytest.warns(kit.CheckpointFallbackWarning, match="no complete checkpoint"):
            assert ckpt.load_latest(default="fresh") == "fresh"

    def test_corrupt_newest_is_superseded_after_fallback(self, kit: ModuleType, tmp_path: Path) -> None:
        """After falling back to step 1, training can save step 2 again; the broken step 2 is removed."""
        ckpt = make(kit, tmp_path, keep=2)
        ckpt.save(1, state(1))
        bad = ckpt.save(2, state(2))
        corrupt(bad.payload)
        with pytest.warns(kit.CheckpointFallbackWarning):
            ckpt.load_latest()
        good = ckpt.save(2, state(2))
        ckpt.close()  # waits for the rotation's background removals
        assert not bad.payload.exists()
        assert not bad.manifest.exists()
        assert [i.name for i in ckpt.list()] == [ckpt.list()[0].name, good.name]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert make(kit, tmp_path, readonly=True).load_latest() == state(2)

    def test_load_of_a_specific_corrupt_checkpoint_raises(self, kit: ModuleType, tmp_path: Path) -> None:
        ckpt = make(kit, tmp_path)
        info = ckpt.save(1, state(1))
        corrupt(info.payload)
        with pytest.raises(kit.CheckpointCorruptError, match="sha256"):
            ckpt.load(info)
        assert ckpt.list() == []  # known bad in this process

    def test_deserialisation_errors_are_not_swallowed(
        self, kit: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A verified checkpoint that fails to load raises; falling back would silently lose state."""
        ckpt = make(kit, tmp_path)
        ckpt.save(1, state(1))
        ckpt.save(2, state(2))

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("restore failed")

        monkeypatch.setattr(kit.Checkpointer, "_deserialize", broken)
        with pytest.raises(RuntimeError, match="restore failed"):
            ckpt.load_latest()


class FaultyDisk(Exception):
    """Raised by the faulty writer."""


class TestFaultyWriter:
    @pytest.mark.parametrize("fail_after", [0, 10, 5000, 70_000])
    def test_failure_mid_write_leaves_no_manifest_and_surfaces(
        self, kit: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_after: int
    ) -> None:
        """A write error becomes CheckpointWriteError; no manifest, no partial file; older state intact."""
        ckpt = make(kit, tmp_path, keep=1)
        ckpt.save(1, state(1))
        before = files(tmp_path)
        module = internals(kit)
        real = module.HashingWriter

        class Faulty(real):  # type: ignore[misc, valid-type]
            written = 0

            def write(self, data: Any) -> int:
                n = memoryview(data).nbytes
                if Faulty.written + n > fail_after:
                    raise OSError(errno.ENOSPC, "No space left on device")
                Faulty.written += n
                return int(super().write(data))

        monkeypatch.setattr(module, "HashingWriter", Faulty)
        with pytest.raises(kit.CheckpointWriteError, match="No space left") as caught:
            ckpt.save(2, {"step": 2, "blob": blob(2, 100_000)})
        assert isinstance(caught.value.__cause__, OSError)
        assert files(tmp_path) == before
        monkeypatch.undo()
        assert ckpt.load_latest() == state(1)
        ckpt.save(2, state(2))  # the failed step can be saved once the disk recovers

    def test_failing_fsync_is_an_error(
        self, kit: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """fsync errors (Drive upload failure surfacing late) abort the save before the manifest."""
        ckpt = make(kit, tmp_path)
        real_fsync = os.fsync

        def bad_fsync(fd: int) -> None:
            if os.readlink(f"/proc/self/fd/{fd}").endswith(".pkl"):
                raise OSError(errno.EIO, "Input/output error")
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", bad_fsync)
        with pytest.raises(kit.CheckpointWriteError, match="Input/output error"):
            ckpt.save(1, state(1))
        monkeypatch.setattr(os, "fsync", real_fsync)
        assert ckpt_files(tmp_path) == []

    def test_manifest_write_failure(
        self, kit: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If the manifest cannot be written, the save fails and the checkpoint does not count."""
        ckpt = make(kit, tmp_path)
        module = internals(kit)

        def no_manifest(path: Any, data: bytes) -> None:
            Path(path).write_bytes(data[:10])
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(module, "write_new_file", no_manifest)
        with pytest.raises(kit.CheckpointWriteError, match="manifest"):
            ckpt.save(1, state(1))
        assert ckpt_files(tmp_path) == []
        assert ckpt.load_latest(default=None) is None

    def test_non_io_errors_pass_through_unchanged(self, kit: ModuleType, tmp_path: Path) -> None:
        """A state pickle cannot serialise raises pickle's own error, and leaves nothing behind."""
        ckpt = make(kit, tmp_path)
        with pytest.raises((TypeError, AttributeError, __import__("pickle").PicklingError)) as caught:
            ckpt.save(1, {"fn": lambda: 1})
        assert not isinstance(caught.value, kit.CheckpointError)
        assert ckpt_files(tmp_path) == []

    def test_interrupt_mid_write_leaves_nothing(
        self, kit: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """KeyboardInterrupt (the user stopping the cell) during a save leaves no partial checkpoint."""
        ckpt = make(kit, tmp_path)
        module = internals(kit)

        class Interrupted(module.HashingWriter):  # type: ignore[misc, name-defined]
            def write(self, data: Any) -> int:
                raise KeyboardInterrupt

        monkeypatch.setattr(module, "HashingWriter", Interrupted)
        with pytest.raises(KeyboardInterrupt):
            ckpt.save(1, state(1))
        assert ckpt_files(tmp_path) == []


class TestRotation:
    def test_keeps_the_newest_n(self, kit: ModuleType, tmp_path: Path) -> None:
        ckpt = make(kit, tmp_path, keep=3)
        for step in range(1, 8):
            ckpt.save(step * 10, state(step * 10))
        ckpt.close()
        assert [i.step for i in ckpt.list()] == [50, 60, 70]
        assert len(ckpt_files(tmp_path)) == 6

    def test_keep_one_never_deletes_before_the_next_is_complete(
        self, kit: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With keep=1, a failing save leaves the only good checkpoint in place."""
        ckpt = make(kit, tmp_path, keep=1)
        ckpt.save(1, state(1))
        module = internals(kit)
        monkeypatch.setattr(
            module, "write_new_file", lambda path, data: (_ for _ in ()).throw(OSError(errno.EIO, "EIO"))
        )
        with pytest.raises(kit.CheckpointWriteError):
            ckpt.save(2, state(2))
        monkeypatch.undo()
        assert ckpt.load_latest() == state(1)

    def test_deletes_only_its_own_files(self, kit: ModuleType, tmp_path: Path) -> None:
        """Foreign files, look-alikes and the lease survive rotation; our debris does not."""
        foreign = [
            "notes.txt",
            "ckpt-best.pt",
            "ckpt-000000000001-XYZ.pt",
            "ckpt-000000000001-0123abcd.pt.tmp",
            "model.pt",
        ]
        for name in foreign:
            (tmp_path / name).write_text("user data")
        debris = tmp_path / "ckpt-000000000002-00c0ffee.pkl"  # an interrupted save of ours
        debris.write_bytes(b"partial")
        ckpt = make(kit, tmp_path, keep=1)
        for step in (3, 4, 5):
            ckpt.save(step, state(step))
        assert (tmp_path / kit.LEASE_FILE_NAME).exists()
        ckpt.close()
        assert not debris.exists()
        remaining = files(tmp_path)
        for name in foreign:
            assert name in remaining
        assert [i.step for i in ckpt.list()] == [5]

    def test_never_touches_newer_debris(self, kit: ModuleType, tmp_path: Path) -> None:
        """Files at a step above the one just saved are left alone (they are not older work)."""
        newer = tmp_path / "ckpt-000000000099-00c0ffee.pkl"
        newer.write_bytes(b"partial")
        ckpt = make(kit, tmp_path, keep=1)
        ckpt.save(1, state(1))
        ckpt.save(2, state(2))
        assert newer.exists()


@needs_torch
class TestTorchPayloads:
    def test_torch_state_loads_under_weights_only(self, kit: ModuleType, tmp_path: Path) -> None:
        import torch

        ckpt = kit.Checkpointer(tmp_path, serializer="torch")
        model = torch.nn.Linear(3, 2)
        payload = {
            "model": model.state_dict(),
            "step": 4,
            "shape": torch.Size([2, 3]),
            "dtype": torch.float16,
        }
        info = ckpt.save(4, payload)
        assert info.serializer == "torch"
        assert info.weights_only
        raw = torch.load(info.payload, weights_only=True)
        assert torch.equal(raw["model"]["weight"], model.weight)
        loaded = ckpt.load_latest()
        assert loaded["shape"] == torch.Size([2, 3])
        assert loaded["dtype"] is torch.float16

    def test_auto_uses_torch_once_imported(self, kit: ModuleType, tmp_path: Path) -> None:
        import torch

        ckpt = kit.Checkpointer(tmp_path)
        info = ckpt.save(1, {"t": torch.arange(3)})
        assert info.payload.suffix == ".pt"

    @pytest.mark.parametrize(
        ("value", "where"),
        [
            (lambda: lambda: 1, "state['bad']"),
            (lambda: __import__("numpy").zeros(3), "state['bad']"),
            (lambda: {"inner": [1, {"x": __import__("collections").defaultdict(int)}]}, "['inner'][1]['x']"),
            (lambda: {(1, 2): object()}, "state['bad'][(1, 2)]"),
            (lambda: slice(1, 2), "state['bad']"),
        ],
        ids=["lambda", "ndarray", "nested-defaultdict", "object", "slice"],
    )
    def test_unloadable_objects_are_refused_by_path(
        self, kit: ModuleType, tmp_path: Path, value: Any, where: str
    ) -> None:
        """Nothing is dropped silently: the error names the object's place and type; nothing is written."""
        ckpt = kit.Checkpointer(tmp_path, serializer="torch")
        with pytest.raises(kit.UnsupportedStateError, match="weights_only") as caught:
            ckpt.save(1, {"ok": 1, "bad": value()})
        assert where in str(caught.value)
        assert ckpt_files(tmp_path) == []

    def test_weights_only_false_accepts_any_picklable(self, kit: ModuleType, tmp_path: Path) -> None:
        import numpy as np

        ckpt = kit.Checkpointer(tmp_path, serializer="torch", weights_only=False)
        info = ckpt.save(1, {"array": np.arange(4)})
        assert not info.weights_only
        assert ckpt.load_latest()["array"].tolist() == [0, 1, 2, 3]
