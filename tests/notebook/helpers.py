"""Helpers shared by the notebook kit tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

HAS_TORCH = importlib.util.find_spec("torch") is not None
# PyTorch is an optional extra; CI installs it, so these tests run there.
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")


def internals(kit: ModuleType) -> ModuleType:
    """The module whose globals the Checkpointer uses (to patch writers and crash points)."""
    return sys.modules[kit.Checkpointer.__module__]


def format_internals(kit: ModuleType) -> ModuleType:
    """The module that names, scans and checks checkpoint files (to mutate how manifests are read)."""
    return sys.modules[kit.CheckpointInfo.__module__]


def files(folder: Path) -> list[str]:
    """Names in ``folder``, sorted."""
    return sorted(p.name for p in folder.iterdir())


def ckpt_files(folder: Path) -> list[str]:
    """Checkpoint payloads and manifests in ``folder``, sorted."""
    return [name for name in files(folder) if name.startswith("ckpt-")]


def blob(step: int, size: int = 1 << 16) -> bytes:
    """Deterministic content for ``step``, so a loaded state can be checked against its step."""
    seed = step.to_bytes(8, "little")
    out = bytearray()
    counter = 0
    import hashlib

    while len(out) < size:
        out += hashlib.sha256(seed + counter.to_bytes(8, "little")).digest()
        counter += 1
    return bytes(out[:size])
