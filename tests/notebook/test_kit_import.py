"""The kit imports only the standard library, and its single-file export is the same kit, standalone."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

import sentinel.notebook
from sentinel.notebook import _export

REPO = Path(__file__).resolve().parents[2]

_NEW_MODULES = """
import json, sys
before = set(sys.modules)
import {module}
new = sorted(set(sys.modules) - before)
print(json.dumps(new))
"""


def new_modules(module: str) -> list[str]:
    """Modules that ``import module`` loads in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", _NEW_MODULES.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return list(json.loads(out.stdout))


@pytest.mark.parametrize("module", ["sentinel", "sentinel.notebook", "sentinel.diagnosis"])
def test_imports_only_the_standard_library(module: str) -> None:
    """Nothing outside sys.stdlib_module_names: pip install --no-deps is enough in Colab."""
    loaded = new_modules(module)
    foreign = [
        m for m in loaded if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "sentinel"
    ]
    assert foreign == []
    ours = [m for m in loaded if m.split(".")[0] == "sentinel"]
    allowed = ("sentinel", "sentinel.notebook", "sentinel.diagnosis")
    assert [m for m in ours if m not in allowed and not m.startswith("sentinel.notebook._")] == []
    assert "sentinel.notebook._export" not in loaded  # the exporter (ast) stays out of the kernel


def test_all_lists_the_public_names() -> None:
    public = {
        name
        for name, value in vars(sentinel.notebook).items()
        if not name.startswith("_") and not isinstance(value, ModuleType) and name != "annotations"
    }
    assert set(sentinel.notebook.__all__) == public
    assert len(sentinel.notebook.__all__) == len(set(sentinel.notebook.__all__))


class TestExport:
    def test_same_public_api(self, bundled_kit: ModuleType) -> None:
        assert bundled_kit.__all__ == sentinel.notebook.__all__
        assert bundled_kit.__version__ == sentinel.notebook.__version__
        for name in sentinel.notebook.__all__:
            ours, theirs = getattr(sentinel.notebook, name), getattr(bundled_kit, name)
            assert type(ours) is type(theirs), name
            if callable(ours):
                assert ours.__doc__ == theirs.__doc__, name

    def test_generated_from_the_package_sources(self) -> None:
        """Every function and class of every kit module appears, verbatim, in the file."""
        import ast

        text = _export.build_kit_source()
        for path in sorted(Path(sentinel.notebook.__file__).parent.glob("_*.py")):
            if path.name == "_export.py":
                continue
            source = path.read_text()
            for node in ast.parse(source).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    segment = ast.get_source_segment(source, node)
                    assert segment is not None
                    # The one documented change: nested imports of sibling modules become `pass`.
                    segment = re.sub(
                        r"^( *)(from \.\w+ import .*)$", r"\1pass  # bundled: \2", segment, flags=re.MULTILINE
                    )
                    assert segment in text, f"{path.name}: {node.name} differs in the export"
        imported = [
            alias.name if isinstance(node, ast.Import) else node.module or ""
            for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        ]
        assert [name for name in imported if name.startswith("sentinel")] == []

    def test_standalone_in_a_bare_interpreter(self, bundled_kit: ModuleType, tmp_path: Path) -> None:
        """Without site-packages (-S -I: no torch, numpy, or sentinel), the file works on its own."""
        script = textwrap.dedent(
            """
            import json, random, sys, warnings
            sys.path.insert(0, sys.argv[1])
            import sentinel_kit as kit
            paths = kit.setup_persistence("demo", root=sys.argv[2])
            with kit.Checkpointer(paths.checkpoints, keep=2) as ckpt:
                for step in (1, 2, 3):
                    ckpt.save(step, kit.training_state(gen=random.Random(step), step=step))
                state = ckpt.load_latest()
                gen = random.Random()
                values = kit.restore_training_state(state, gen=gen)
                kit.report(step=values["step"], total=3, loss=0.5)
                info = [i.step for i in ckpt.list()], ckpt.last_loaded.serializer
            foreign = sorted(m for m in sys.modules if m.split(".")[0] not in sys.stdlib_module_names)
            print(json.dumps({"info": info, "foreign": foreign, "draw": gen.random()}))
            """
        )
        out = subprocess.run(
            [sys.executable, "-S", "-I", "-c", script, str(Path(bundled_kit.__file__).parent), str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
        )
        marker, result = out.stdout.strip().splitlines()
        assert marker == '[sentinel] {"step": 3, "total": 3, "loss": 0.5}'
        record = json.loads(result)
        assert record["info"] == [[2, 3], "pickle"]
        assert record["foreign"] == ["__main__", "sentinel_kit"]
        expected = __import__("random").Random(3)
        assert record["draw"] == expected.random()


class TestExporterRefuses:
    @pytest.fixture(name="package_copy")
    def _package_copy(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        copy = tmp_path / "notebook"
        shutil.copytree(Path(sentinel.notebook.__file__).parent, copy)
        monkeypatch.setattr(_export, "_PACKAGE_DIR", copy)
        return copy

    def test_a_name_defined_in_two_modules(self, package_copy: Path) -> None:
        (package_copy / "_clash.py").write_text('"""Clash."""\n\n\ndef report() -> None:\n    pass\n')
        with pytest.raises(_export.KitExportError, match="'report' is defined in both"):
            _export.build_kit_source()

    def test_an_import_of_the_daemon(self, package_copy: Path) -> None:
        (package_copy / "_daemon.py").write_text('"""Bad."""\n\nfrom sentinel.config import Settings\n')
        with pytest.raises(_export.KitExportError, match=r"must not import sentinel\.config"):
            _export.build_kit_source()

    def test_a_public_module(self, package_copy: Path) -> None:
        (package_copy / "public.py").write_text('"""Public."""\n')
        with pytest.raises(_export.KitExportError, match="public module"):
            _export.build_kit_source()

    def test_missing_directory(self, tmp_path: Path) -> None:
        with pytest.raises(_export.KitExportError, match="does not exist"):
            _export.export_kit(tmp_path / "missing")
