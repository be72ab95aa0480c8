"""setup_persistence: local roots, a fake google.colab (mount, already mounted, stale FUSE), bad names."""

from __future__ import annotations

import errno
import importlib
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

_FAKE_DRIVE = textwrap.dedent(
    """
    import json, os
    from pathlib import Path

    def _log(entry):
        with open(os.environ["FAKE_COLAB_LOG"], "a") as f:
            f.write(json.dumps(entry) + "\\n")

    def mount(mountpoint, force_remount=False):
        _log({"call": "mount", "mountpoint": mountpoint, "force_remount": force_remount})
        if os.environ.get("FAKE_COLAB_FAIL"):
            raise ValueError("mount failed: Error: credential propagation was unsuccessful")
        link = Path(mountpoint) / "MyDrive"
        Path(mountpoint).mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()
        link.symlink_to(os.environ["FAKE_DRIVE_DIR"], target_is_directory=True)

    def flush_and_unmount():
        _log({"call": "flush_and_unmount"})
    """
)


class FakeColab:
    """A ``google.colab`` package on sys.path whose ``drive`` links a folder as MyDrive."""

    def __init__(self, root: Path) -> None:
        self.content = root / "content"
        self.drive_dir = root / "my-drive"
        self.log = root / "colab.log"
        self.drive_dir.mkdir(parents=True)

    @property
    def mount_point(self) -> Path:
        return self.content / "drive"

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture(name="colab")
def _colab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeColab]:
    package = tmp_path / "fake-colab" / "google" / "colab"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "drive.py").write_text(_FAKE_DRIVE)
    fake = FakeColab(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "fake-colab"))
    monkeypatch.setenv("SENTINEL_COLAB_CONTENT_ROOT", str(fake.content))
    monkeypatch.setenv("FAKE_DRIVE_DIR", str(fake.drive_dir))
    monkeypatch.setenv("FAKE_COLAB_LOG", str(fake.log))
    importlib.invalidate_caches()
    yield fake
    for name in [m for m in sys.modules if m == "google" or m.startswith("google.")]:
        del sys.modules[name]


def module_of(kit: ModuleType) -> ModuleType:
    return sys.modules[kit.setup_persistence.__module__]


class TestLocal:
    def test_root_argument(self, kit: ModuleType, tmp_path: Path) -> None:
        paths = kit.setup_persistence("mnist", root=tmp_path)
        assert paths.root == tmp_path / "mnist"
        assert paths.checkpoints == tmp_path / "mnist" / "checkpoints"
        assert paths.logs == tmp_path / "mnist" / "logs"
        assert paths.checkpoints.is_dir() and paths.logs.is_dir()
        assert not paths.in_colab
        assert paths.mount_point is None

    def test_environment_variable(
        self, kit: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SENTINEL_DRIVE_ROOT", str(tmp_path / "drive"))
        assert kit.setup_persistence("p").root == tmp_path / "drive" / "p"

    def test_documented_default(
        self, kit: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("SENTINEL_DRIVE_ROOT", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))
        assert kit.DEFAULT_LOCAL_ROOT == "~/sentinel-drive"
        assert kit.setup_persistence("p").root == tmp_path / "sentinel-drive" / "p"

    def test_idempotent_and_keeps_files(self, kit: ModuleType, tmp_path: Path) -> None:
        first = kit.setup_persistence("p", root=tmp_path)
        (first.checkpoints / "keep.txt").write_text("x")
        second = kit.setup_persistence("p", root=tmp_path)
        assert first == second
        assert (second.checkpoints / "keep.txt").read_text() == "x"

    def test_subfolders_allowed(self, kit: ModuleType, tmp_path: Path) -> None:
        assert kit.setup_persistence(" team/run-7 ", root=tmp_path).root == tmp_path / "team" / "run-7"

    def test_checkpointer_helper(self, kit: ModuleType, tmp_path: Path) -> None:
        paths = kit.setup_persistence("p", root=tmp_path)
        with paths.checkpointer(keep=2, serializer="pickle") as ckpt:
            assert ckpt.directory == paths.checkpoints
            assert ckpt.keep == 2

    def test_flush_is_a_no_op_outside_colab(self, kit: ModuleType, tmp_path: Path) -> None:
        kit.setup_persistence("p", root=tmp_path).flush_and_unmount()


class TestBadNames:
    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            ("", "empty"),
            ("   ", "empty"),
            ("../escape", "inside the root"),
            ("a/../../b", "inside the root"),
            ("a/./b", "inside the root"),
            ("a//b", "inside the root"),
            ("/etc/passwd", "absolute"),
            ("~/x", "absolute"),
            ("C:\\temp", "absolute"),
            ("a\x00b", "control"),
            ("a\nb", "control"),
        ],
    )
    def test_refused(self, kit: ModuleType, tmp_path: Path, name: str, reason: str) -> None:
        with pytest.raises(kit.ProjectNameError, match=reason):
            kit.setup_persistence(name, root=tmp_path / "root")
        assert not (tmp_path / "root").exists()

    def test_not_a_string(self, kit: ModuleType, tmp_path: Path) -> None:
        with pytest.raises(kit.ProjectNameError, match="string"):
            kit.setup_persistence(Path("p"), root=tmp_path)  # type: ignore[arg-type]

    def test_symlink_out_of_the_root(self, kit: ModuleType, tmp_path: Path) -> None:
        root = tmp_path / "root"
        root.mkdir()
        (root / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
        with pytest.raises(kit.ProjectNameError, match="outside"):
            kit.setup_persistence("link/p", root=root)

    def test_is_a_value_error(self, kit: ModuleType) -> None:
        assert issubclass(kit.ProjectNameError, ValueError)


class TestColab:
    def test_mounts_drive_and_uses_my_drive(self, kit: ModuleType, colab: FakeColab) -> None:
        assert kit.in_colab()
        paths = kit.setup_persistence("proj")
        assert paths.in_colab
        assert paths.mount_point == colab.mount_point
        assert paths.root == colab.mount_point / "MyDrive" / "proj"
        assert (colab.drive_dir / "proj" / "checkpoints").is_dir()
        assert colab.calls() == [
            {"call": "mount", "mountpoint": str(colab.mount_point), "force_remount": False}
        ]

    def test_already_mounted_is_not_mounted_again(self, kit: ModuleType, colab: FakeColab) -> None:
        kit.setup_persistence("proj")
        kit.setup_persistence("proj")
        assert len(colab.calls()) == 1

    def test_stale_mount_is_remounted(
        self,
        kit: ModuleType,
        colab: FakeColab,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """ENOTCONN ("Transport endpoint is not connected") leads to drive.mount(force_remount=True)."""
        kit.setup_persistence("proj")
        stale_reads = patch_stale(kit, monkeypatch, times=2)
        paths = kit.setup_persistence("proj", retry_delay=0)
        assert paths.checkpoints.is_dir()
        assert stale_reads() == 2
        assert [c["force_remount"] for c in colab.calls()] == [False, True, True]
        assert "remounting" in capsys.readouterr().err

    def test_stale_mount_gives_up_after_bounded_retries(
        self, kit: ModuleType, colab: FakeColab, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        patch_stale(kit, monkeypatch, times=100)
        with pytest.raises(kit.DriveMountError, match="Transport endpoint is not connected") as caught:
            kit.setup_persistence("proj", mount_retries=3, retry_delay=0)
        assert "restart the runtime" in str(caught.value)
        assert [c["force_remount"] for c in colab.calls()] == [True, True, True]

    def test_stale_mount_while_creating_folders(
        self, kit: ModuleType, colab: FakeColab, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        kit.setup_persistence("proj")
        real_mkdir = Path.mkdir
        failures = [1]

        def flaky_mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
            if failures:
                failures.pop()
                raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")
            real_mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", flaky_mkdir)
        kit.setup_persistence("proj", retry_delay=0)
        assert colab.calls()[-1]["force_remount"] is True

    def test_other_os_errors_are_not_retried(
        self, kit: ModuleType, colab: FakeColab, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def denied(path: Path) -> bool:
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(module_of(kit), "_is_dir", denied)
        with pytest.raises(PermissionError):
            kit.setup_persistence("proj", retry_delay=0)
        assert colab.calls() == []

    def test_failed_mount_is_a_clear_error(
        self, kit: ModuleType, colab: FakeColab, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("FAKE_COLAB_FAIL", "1")
        with pytest.raises(kit.DriveMountError, match="credential propagation"):
            kit.setup_persistence("proj")

    def test_explicit_root_outside_drive_does_not_mount(
        self, kit: ModuleType, colab: FakeColab, tmp_path: Path
    ) -> None:
        paths = kit.setup_persistence("proj", root=tmp_path / "local")
        assert paths.root == tmp_path / "local" / "proj"
        assert colab.calls() == []

    def test_explicit_root_on_drive_mounts(self, kit: ModuleType, colab: FakeColab) -> None:
        paths = kit.setup_persistence("proj", root=colab.mount_point / "MyDrive" / "experiments")
        assert (colab.drive_dir / "experiments" / "proj" / "logs").is_dir()
        assert len(colab.calls()) == 1
        assert paths.in_colab

    def test_flush_and_unmount(self, kit: ModuleType, colab: FakeColab) -> None:
        kit.setup_persistence("proj").flush_and_unmount()
        assert colab.calls()[-1] == {"call": "flush_and_unmount"}

    def test_bad_retry_count(self, kit: ModuleType, colab: FakeColab) -> None:
        with pytest.raises(ValueError, match="mount_retries"):
            kit.setup_persistence("proj", mount_retries=-1)


def patch_stale(kit: ModuleType, monkeypatch: pytest.MonkeyPatch, *, times: int) -> Any:
    """Make the next ``times`` looks at MyDrive fail like a dead FUSE mount; returns a counter."""
    module = module_of(kit)
    real = module._is_dir
    count = [0]

    def stale(path: Path) -> bool:
        if count[0] < times:
            count[0] += 1
            raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")
        return bool(real(path))

    monkeypatch.setattr(module, "_is_dir", stale)
    return lambda: count[0]


SHIM = Path(__file__).resolve().parents[2] / "sentinel" / "emulator" / "runtime_shim"


@pytest.fixture(name="emulator_shim")
def _emulator_shim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The emulator's own ``google.colab`` shim, its consent round trip answered in-process."""
    if not (SHIM / "google" / "colab" / "drive.py").exists():
        pytest.skip("the emulator's google.colab shim is not there")
    monkeypatch.syspath_prepend(str(SHIM))
    monkeypatch.setenv("SENTINEL_COLAB_CONTENT_ROOT", str(tmp_path / "content"))
    importlib.invalidate_caches()
    drive = importlib.import_module("google.colab.drive")
    (tmp_path / "drive").mkdir()
    requests: list[dict[str, Any]] = []

    def consent(action: str, body: dict[str, Any]) -> dict[str, Any]:
        requests.append({"action": action, **body})
        return {"ok": True, "drive_dir": str(tmp_path / "drive")}

    monkeypatch.setattr(drive, "request_consent", consent)
    yield requests
    for name in [m for m in sys.modules if m == "google" or m.startswith("google.")]:
        del sys.modules[name]


class TestEmulatorShim:
    """The contract with the emulator: its runtimes' google.colab and SENTINEL_COLAB_CONTENT_ROOT."""

    def test_mounts_through_the_shim(
        self, kit: ModuleType, emulator_shim: list[dict[str, Any]], tmp_path: Path
    ) -> None:
        paths = kit.setup_persistence("proj")
        assert paths.mount_point == tmp_path / "content" / "drive"
        assert (tmp_path / "drive" / "proj" / "checkpoints").is_dir()
        assert [r["action"] for r in emulator_shim] == ["drive/mount"]
        kit.setup_persistence("proj")  # already mounted: no second consent
        assert len(emulator_shim) == 1

    def test_remounts_after_flush_and_unmount(
        self, kit: ModuleType, emulator_shim: list[dict[str, Any]], tmp_path: Path
    ) -> None:
        paths = kit.setup_persistence("proj")
        (paths.checkpoints / "kept.txt").write_text("x")
        paths.flush_and_unmount()
        assert not (tmp_path / "content" / "drive" / "MyDrive").exists()
        again = kit.setup_persistence("proj")
        assert (again.checkpoints / "kept.txt").read_text() == "x"
        assert len(emulator_shim) == 2
