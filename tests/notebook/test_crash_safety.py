"""Crashes during a save: at every phase (forked children that die at chosen points), under random
SIGKILLs, and a mutation check that the same assertions catch a non-atomic writer.

The checker never trusts the implementation: it re-reads every manifest on disk itself and requires
that each intact one (its own checksum holds) describes a payload that is fully there. Torn manifests
are allowed (the manifest is written straight to its final name); an intact manifest pointing at a
partial payload is exactly what a non-atomic writer produces, and is a failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.notebook.helpers import blob, format_internals, internals, needs_torch

CRASHED = 77


def state(step: int, size: int = 200_000) -> dict[str, Any]:
    return {"step": step, "blob": blob(step, size)}


def intact_manifests_are_complete(folder: Path) -> None:
    """Every manifest whose own checksum holds describes a payload that is entirely on disk."""
    for manifest in folder.glob("ckpt-*.manifest.json"):
        try:
            record = json.loads(manifest.read_bytes())
        except ValueError:
            continue  # torn manifest: the save did not commit
        body = {k: v for k, v in record.items() if k != "manifest_sha256"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        if record.get("manifest_sha256") != hashlib.sha256(canonical).hexdigest():
            continue  # torn or damaged: not a commit
        (entry,) = record["files"]
        payload = folder / entry["name"]
        assert payload.exists(), f"{manifest.name} is committed but its payload is missing"
        data = payload.read_bytes()
        assert len(data) == entry["size"], f"{manifest.name} is committed but its payload is partial"
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], f"{manifest.name}: payload differs"


def check_recovery(kit: ModuleType, folder: Path, expected_steps: set[int], *, serializer: str) -> int:
    """Load as a fresh runtime would; the chosen checkpoint must be complete and one of ``expected``.

    Returns the loaded step. Any failure (including the loader raising) is an AssertionError.
    """
    intact_manifests_are_complete(folder)
    reader = kit.Checkpointer(folder, readonly=True, serializer=serializer)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded = reader.load_latest()
    except Exception as exc:
        raise AssertionError(f"no checkpoint could be loaded: {exc!r}") from exc
    step = reader.last_loaded.step
    assert step in expected_steps, f"loaded step {step}, expected one of {sorted(expected_steps)}"
    assert loaded["step"] == step
    assert loaded["blob"] == blob(step, len(loaded["blob"])), "loaded a checkpoint with wrong content"
    for warning in caught:
        # After a crash the only thing to skip is an uncommitted save, never a committed one.
        assert "interrupted" in str(warning.message) or "manifest unreadable" in str(warning.message), str(
            warning.message
        )
    return int(step)


# -- crash points: applied inside a forked child, which then dies with os._exit -----------------


def crash_in_payload(fraction: float) -> Callable[[ModuleType], None]:
    def apply(kit: ModuleType) -> None:
        module = internals(kit)
        real = module.HashingWriter
        limit = int(fraction * len(pickle.dumps(state(0), protocol=pickle.HIGHEST_PROTOCOL)))

        class Dying(real):  # type: ignore[misc, valid-type]
            def write(self, data: Any) -> int:
                view = memoryview(data).cast("B")
                room = limit - self.size - len(self._buf)
                if view.nbytes >= room:
                    super().write(view[: max(room, 0)])
                    self.flush()
                    os._exit(CRASHED)
                return int(super().write(data))

        module.HashingWriter = Dying

    return apply


def crash_before_manifest(kit: ModuleType) -> None:
    kit.Checkpointer._write_manifest = lambda self, path, data: os._exit(CRASHED)


def crash_in_manifest(kit: ModuleType) -> None:
    def torn(path: Any, data: bytes) -> None:
        Path(path).write_bytes(data[: len(data) // 2])
        os._exit(CRASHED)

    internals(kit).write_new_file = torn


def crash_before_rotation(kit: ModuleType) -> None:
    kit.Checkpointer._rotate = lambda self, newest: os._exit(CRASHED)


def crash_in_rotation(kit: ModuleType) -> None:
    module = internals(kit)
    real = module._remove

    def remove_then_die(path: Path) -> None:
        real(path)
        if path.name.endswith(".manifest.json"):
            os._exit(CRASHED)

    module._remove = remove_then_die


CRASH_POINTS: dict[str, tuple[Callable[[ModuleType], None], bool]] = {
    # name: (apply, whether the new checkpoint is committed when the crash happens)
    "payload-start": (crash_in_payload(0.0), False),
    "payload-middle": (crash_in_payload(0.5), False),
    "payload-almost-done": (crash_in_payload(0.999), False),
    "before-manifest": (crash_before_manifest, False),
    "torn-manifest": (crash_in_manifest, False),
    "before-rotation": (crash_before_rotation, True),
    "mid-rotation": (crash_in_rotation, True),
}


def save_in_child(
    kit: ModuleType, folder: Path, step: int, crash: Callable[[ModuleType], None], serializer: str
) -> int:
    """Fork; the child saves ``step`` with ``crash`` applied and dies there. Returns its exit code."""
    with warnings.catch_warnings():
        # Python >= 3.12 warns about fork() in a process with threads; the child only saves and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            crash(kit)
            ckpt = kit.Checkpointer(folder, keep=2, serializer=serializer, lease_wait=0)
            ckpt.save(step, state(step))
            code = 0
        except BaseException:
            code = 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def prepare(kit: ModuleType, folder: Path, serializer: str) -> None:
    with kit.Checkpointer(folder, keep=2, serializer=serializer) as ckpt:
        ckpt.save(1, state(1))
        ckpt.save(2, state(2))


def run_crash_matrix(kit: ModuleType, tmp_path: Path, serializer: str = "pickle") -> None:
    for name, (crash, commits) in CRASH_POINTS.items():
        folder = tmp_path / name
        prepare(kit, folder, serializer)
        assert save_in_child(kit, folder, 3, crash, serializer) == CRASHED, f"{name}: the child did not crash"
        loaded = check_recovery(kit, folder, {3} if commits else {2}, serializer=serializer)
        # The next runtime takes the dead writer's lease at once and saves on.
        with kit.Checkpointer(folder, keep=2, serializer=serializer, lease_wait=0) as ckpt:
            info = ckpt.save(loaded + 1, state(loaded + 1))
        check_recovery(kit, folder, {loaded + 1}, serializer=serializer)
        debris = [p.name for p in folder.glob(f"ckpt-{3:012d}-*") if not p.name.startswith(info.name)]
        assert commits or not debris, f"{name}: debris of the crashed save was not cleaned: {debris}"


class TestCrashPoints:
    def test_every_phase(self, kit: ModuleType, tmp_path: Path) -> None:
        """A crash at any phase of a save leaves the previous or the new checkpoint, complete."""
        run_crash_matrix(kit, tmp_path)

    @needs_torch
    def test_every_phase_with_torch_payloads(self, tmp_path: Path) -> None:
        import torch

        import sentinel.notebook as kit

        assert torch.__version__
        run_crash_matrix(kit, tmp_path, serializer="torch")


# -- mutation check ------------------------------------------------------------------------------


@contextlib.contextmanager
def manifest_written_first(kit: ModuleType) -> Iterator[None]:
    """Mutate the kit into a non-atomic writer: the completion marker goes out before the payload."""
    checkpointer = kit.Checkpointer
    real_write_payload = checkpointer._write_payload
    real_write_manifest = checkpointer._write_manifest

    def write_payload(self: Any, path: Path, data_state: Any, serializer: str) -> tuple[int, str]:
        data = pickle.dumps(data_state, protocol=pickle.HIGHEST_PROTOCOL)
        size, digest = len(data), hashlib.sha256(data).hexdigest()
        stem = path.name.rsplit(".", 1)[0]
        record: dict[str, Any] = {
            "format": kit.MANIFEST_FORMAT,
            "format_version": kit.MANIFEST_VERSION,
            "step": int(stem.split("-")[1]),
            "created_at": "2026-01-01T00:00:00Z",
            "created_at_unix": time.time(),
            "serializer": serializer,
            "weights_only": False,
            "files": [{"name": path.name, "size": size, "sha256": digest}],
            "versions": {},
            "writer": {},
        }
        canonical = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        record["manifest_sha256"] = hashlib.sha256(canonical).hexdigest()
        real_write_manifest(self, path.with_name(stem + ".manifest.json"), json.dumps(record).encode())
        return real_write_payload(self, path, data_state, serializer)  # type: ignore[no-any-return]

    checkpointer._write_payload = write_payload
    checkpointer._write_manifest = lambda self, path, data: None
    try:
        yield
    finally:
        checkpointer._write_payload = real_write_payload
        checkpointer._write_manifest = real_write_manifest


@contextlib.contextmanager
def verification_disabled(kit: ModuleType) -> Iterator[None]:
    """Mutate the loader into one that trusts any manifest without checking the payload."""
    checkpointer, manifest_format = kit.Checkpointer, format_internals(kit)
    real_verify, real_read_manifest = checkpointer.verify, manifest_format._read_manifest

    def trusting_read_manifest(directory: Path, entry: Any) -> None:
        record = json.loads(entry.manifest.read_bytes())
        entry.info = manifest_format.info_from_record(
            entry.stem, record, directory / record["files"][0]["name"], entry.manifest
        )

    checkpointer.verify = lambda self, info: None
    manifest_format._read_manifest = trusting_read_manifest
    try:
        yield
    finally:
        checkpointer.verify, manifest_format._read_manifest = real_verify, real_read_manifest


class TestMutation:
    def test_manifest_first_is_caught(self, kit: ModuleType, tmp_path: Path) -> None:
        """1. Write the manifest before the payload. 2. Crash mid-payload. 3. The checks fail."""
        with manifest_written_first(kit), pytest.raises(AssertionError, match=r"partial|committed"):
            run_crash_matrix(kit, tmp_path)

    def test_manifest_first_without_verification_chooses_a_partial_checkpoint(
        self, kit: ModuleType, tmp_path: Path
    ) -> None:
        """Even ignoring the on-disk invariant, the loader would pick the partial save and fail."""
        folder = tmp_path / "c"
        with manifest_written_first(kit):
            prepare(kit, folder, "pickle")
            assert save_in_child(kit, folder, 3, crash_in_payload(0.5), "pickle") == CRASHED
        with verification_disabled(kit), pytest.raises(AssertionError, match="no checkpoint could be loaded"):
            reader = kit.Checkpointer(folder, readonly=True, serializer="pickle")
            try:
                reader.load_latest()
            except Exception as exc:
                raise AssertionError(f"no checkpoint could be loaded: {exc!r}") from exc

    def test_unmutated_kit_passes_the_same_checks(self, kit: ModuleType, tmp_path: Path) -> None:
        """The control: the same crash and the same checks pass with the real writer."""
        folder = tmp_path / "c"
        prepare(kit, folder, "pickle")
        assert save_in_child(kit, folder, 3, crash_in_payload(0.5), "pickle") == CRASHED
        assert check_recovery(kit, folder, {2}, serializer="pickle") == 2


# -- random SIGKILLs -------------------------------------------------------------------------------

_CHILD = r"""
import os, random, sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[3])
import {module} as kit
folder, size = sys.argv[1], int(sys.argv[2])
ckpt = kit.Checkpointer(folder, keep=2, serializer="pickle", lease_wait=10)
state = ckpt.load_latest(default=None)
step = 0 if state is None else state["step"]
while True:
    step += 1
    ckpt.save(step, {{"step": step, "blob": random.Random(step).randbytes(size)}})
    os.write(1, b"saved %d\n" % step)
"""


def random_blob(step: int, size: int) -> bytes:
    return random.Random(step).randbytes(size)


@pytest.mark.slow
@pytest.mark.parametrize("flavour", ["package", "bundle"])
def test_sigkill_at_random_moments(tmp_path: Path, flavour: str, bundled_kit: ModuleType) -> None:
    """20 children save in a loop and are SIGKILLed at random; a complete checkpoint always loads.

    1. A child resumes from the folder and saves 1 MB states in a loop, printing each saved step.
    2. After its first save it is killed with SIGKILL at a random moment (uniform in 0-150 ms).
    3. A fresh reader loads the newest checkpoint: it must be the last reported step or the one
       after (killed between save and print), with matching content, and never a partial one.
    """
    import sentinel.notebook as package_kit

    kit = package_kit if flavour == "package" else bundled_kit
    module, path = (
        ("sentinel.notebook", str(Path(__file__).resolve().parents[2]))
        if flavour == "package"
        else ("sentinel_kit", str(Path(bundled_kit.__file__).parent))
    )
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    folder = tmp_path / "ckpt"
    size = 1 << 20
    interrupted = 0
    last_step = 0
    for trial in range(20):
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD.format(module=module), str(folder), str(size), path],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert child.stdout is not None
            first = child.stdout.readline()
            if first.startswith(b"saved"):
                time.sleep(rng.uniform(0, 0.15))
        finally:
            child.send_signal(signal.SIGKILL)
            out, err = child.communicate(timeout=30)
        assert first.startswith(b"saved"), (first, err)
        assert child.returncode == -signal.SIGKILL, err.decode()
        saved = [int(line.split()[1]) for line in (first + out).splitlines() if line.startswith(b"saved")]
        assert saved[0] == last_step + 1, f"trial {trial} (seed {seed}): resumed at {saved[0]}"
        uncommitted = [
            int(p.name.split("-")[1])
            for p in folder.glob("*.pkl")
            if not p.with_name(p.name[: -len(p.suffix)] + ".manifest.json").exists()
        ]
        intact_manifests_are_complete(folder)
        reader = kit.Checkpointer(folder, readonly=True, serializer="pickle")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", kit.CheckpointFallbackWarning)
            loaded = reader.load_latest()
        assert loaded["step"] in (saved[-1], saved[-1] + 1), f"trial {trial} (seed {seed})"
        if any(step > loaded["step"] for step in uncommitted):
            interrupted += 1  # the kill landed inside a save that had not committed
        assert loaded["blob"] == random_blob(loaded["step"], size)
        last_step = loaded["step"]
    # The kills must have hit saves in progress, or this test proves nothing.
    assert interrupted >= 1, f"no kill landed inside a save (seed {seed})"
