"""Fixtures for the notebook kit: the kit as a package and as the exported single file, torch markers."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

import sentinel.notebook
from sentinel.notebook._export import KIT_FILE_NAME, export_kit


@pytest.fixture(scope="session")
def bundled_kit(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The file `sentinel kit export` writes, imported as the module ``sentinel_kit``."""
    folder = tmp_path_factory.mktemp("kit")
    path = export_kit(folder)
    assert path.name == KIT_FILE_NAME
    spec = importlib.util.spec_from_file_location("sentinel_kit", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sentinel_kit"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["package", "bundle"])
def kit(request: pytest.FixtureRequest) -> ModuleType:
    """The kit under test: ``sentinel.notebook``, then the single-file export, which must behave the same."""
    if request.param == "package":
        return sentinel.notebook
    module: ModuleType = request.getfixturevalue("bundled_kit")
    return module
