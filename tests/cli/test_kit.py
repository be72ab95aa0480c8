"""``sentinel kit export DIR``: writes an importable single-file kit; bad folders exit 2 with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sentinel.cli import main
from sentinel.notebook._export import build_kit_source


def sentinel(*args: str) -> subprocess.CompletedProcess[str]:
    """The real console entry point, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "sentinel", *args], capture_output=True, text=True, timeout=60
    )


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``sentinel.cli.main`` in-process (fast): exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_export_writes_an_importable_kit(tmp_path: Path) -> None:
    result = sentinel("kit", "export", str(tmp_path))
    assert result.returncode == 0, result.stderr
    target = tmp_path / "sentinel_kit.py"
    assert f"Wrote {target}" in result.stdout
    assert target.read_text() == build_kit_source()
    check = subprocess.run(
        [
            sys.executable,
            "-S",
            "-I",
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); import sentinel_kit as k; "
            "k.report(step=1, total=2); print(sorted(m for m in sys.modules if m.startswith('sentinel')))",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.splitlines() == ['[sentinel] {"step": 1, "total": 2}', "['sentinel_kit']"]


def test_export_refuses_to_replace_another_file_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "sentinel_kit.py").write_text("OLD = True\n")
    code, _, err = run_main(capsys, "kit", "export", str(tmp_path))
    assert code == 2 and err.startswith("sentinel: error:") and "--force" in err and err.count("\n") == 1
    assert (tmp_path / "sentinel_kit.py").read_text() == "OLD = True\n"
    # The same version's file again is no harm: written (unchanged), exit 0.
    (tmp_path / "sentinel_kit.py").write_text(build_kit_source())
    assert run_main(capsys, "kit", "export", str(tmp_path))[0] == 0


def test_export_replaces_an_older_copy_with_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sentinel_kit.py").write_text("OLD = True\n")
    assert run_main(capsys, "kit", "export", "--force", str(tmp_path))[0] == 0
    assert "OLD = True" not in (tmp_path / "sentinel_kit.py").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sentinel_kit.py"]


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda tmp: tmp / "missing", "does not exist"),
        (lambda tmp: (tmp / "file.txt", (tmp / "file.txt").write_text("x"))[0], "not a directory"),
    ],
    ids=["missing", "a-file"],
)
def test_bad_directory_is_one_line_and_exit_2(
    tmp_path: Path, make: object, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = make(tmp_path)  # type: ignore[operator]
    code, _, err = run_main(capsys, "kit", "export", str(target))
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sentinel: error: kit export:")
    assert needle in lines[0]


def test_help_lists_export(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "kit", "--help")
    assert code == 0
    assert "export" in out
