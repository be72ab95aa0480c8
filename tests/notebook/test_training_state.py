"""Full training state: exact resume (parameters, optimizer, scheduler, step, RNG draws), a canary
that proves no batch is skipped or repeated, and restore errors that are raised, never swallowed."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.notebook.helpers import needs_torch

pytestmark = [needs_torch, pytest.mark.torch]

SAMPLES, BATCH, ACCUM = 48, 4, 2  # 6 optimizer steps per epoch
TOTAL, EVERY = 20, 3


class Crash(Exception):
    """Stands in for the runtime going away."""


def build() -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-2, total_steps=TOTAL)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    return {"model": model, "optimizer": optimizer, "scheduler": scheduler, "scaler": scaler}


def data() -> tuple[Any, Any]:
    import torch

    g = torch.Generator().manual_seed(1234)
    x = torch.randn(SAMPLES, 6, generator=g)
    return x, x.sum(dim=1, keepdim=True) + 0.1 * torch.randn(SAMPLES, 1, generator=g)


def train(kit: ModuleType, folder: Path, *, crash_at: int | None = None) -> dict[str, Any]:
    """One "runtime": resume from the folder, train towards TOTAL, checkpoint every EVERY steps.

    Randomness comes from all three global generators: NumPy shuffles each epoch, Python's random
    jitters the inputs, torch drives dropout. ``seen`` is the canary: every sample index trained on,
    in order, as part of the saved state.
    """
    import numpy as np
    import torch

    objects = build()
    x, y = data()
    ckpt = kit.Checkpointer(folder, keep=2, lease_wait=0)
    saved = ckpt.load_latest(default=None)
    if saved is None:
        # A fresh start seeds everything, as a resume cell does; a resume restores instead.
        random.seed(7)
        np.random.seed(7)
        torch.manual_seed(7)
        progress: dict[str, Any] = {"step": 0, "epoch": 0, "batch": 0, "order": [], "seen": []}
    else:
        progress = kit.restore_training_state(saved, **objects)
    model, optimizer, scheduler = objects["model"], objects["optimizer"], objects["scheduler"]
    step, epoch, batch = progress["step"], progress["epoch"], progress["batch"]
    order, seen = list(progress["order"]), list(progress["seen"])
    per_epoch = SAMPLES // (BATCH * ACCUM)
    while step < TOTAL:
        if batch == 0:
            order = np.random.permutation(SAMPLES).tolist()
        for micro in range(ACCUM):
            start = (batch * ACCUM + micro) * BATCH
            idx = order[start : start + BATCH]
            jitter = random.random() * 1e-3
            loss = torch.nn.functional.mse_loss(model(x[idx] + jitter), y[idx]) / ACCUM
            loss.backward()
            seen.extend(idx)
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        step += 1
        batch += 1
        if batch == per_epoch:
            epoch, batch = epoch + 1, 0
        if step % EVERY == 0 or step == TOTAL:
            ckpt.save(
                step,
                kit.training_state(**objects, step=step, epoch=epoch, batch=batch, order=order, seen=seen),
            )
        if step == crash_at:
            ckpt.close()
            raise Crash
    ckpt.close()
    return {
        "objects": objects,
        "step": step,
        "seen": seen,
        "draws": (random.random(), float(np.random.rand()), float(torch.rand(1))),
    }


def scramble_globals() -> None:
    """A fresh runtime starts from unrelated RNG states."""
    import numpy as np
    import torch

    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)


def run_straight(kit: ModuleType, folder: Path) -> dict[str, Any]:
    scramble_globals()
    return train(kit, folder)


def run_interrupted(kit: ModuleType, folder: Path, crashes: list[int]) -> dict[str, Any]:
    scramble_globals()
    for crash in crashes:
        with pytest.raises(Crash):
            train(kit, folder, crash_at=crash)
        scramble_globals()
    return train(kit, folder)


def assert_same_state(a: dict[str, Any], b: dict[str, Any]) -> None:
    import torch

    def flat(obj: Any) -> list[Any]:
        if isinstance(obj, dict):
            return [item for key in sorted(obj, key=str) for item in [key, *flat(obj[key])]]
        if isinstance(obj, (list, tuple)):
            return [item for value in obj for item in flat(value)]
        return [obj]

    for name in ("model", "optimizer", "scheduler", "scaler"):
        left, right = flat(a["objects"][name].state_dict()), flat(b["objects"][name].state_dict())
        assert len(left) == len(right), name
        for x, y in zip(left, right, strict=True):
            if isinstance(x, torch.Tensor):
                assert torch.equal(x, y), name
            else:
                assert x == y, name


class TestResumeEquivalence:
    @pytest.mark.parametrize(
        "crashes",
        [[1], [4], [5], [6], [13], [19], [2, 8, 14], [3, 4, 5]],
        ids=lambda c: "crash-at-" + "-".join(map(str, c)),
    )
    def test_interrupted_equals_straight(self, kit: ModuleType, tmp_path: Path, crashes: list[int]) -> None:
        """1. Train TOTAL steps at once. 2. Train again, crashing at the given steps (between
        checkpoints, mid-epoch and at epoch ends), resuming each time in fresh objects with scrambled
        RNGs. 3. Parameters, optimizer, scheduler, scaler, step, data order and the next draws of
        Python, NumPy and torch RNGs are identical."""
        straight = run_straight(kit, tmp_path / "straight")
        interrupted = run_interrupted(kit, tmp_path / "interrupted", crashes)
        assert interrupted["step"] == straight["step"] == TOTAL
        assert_same_state(straight, interrupted)
        assert interrupted["draws"] == straight["draws"]
        assert interrupted["seen"] == straight["seen"]

    def test_canary_counts_every_sample_exactly_once_per_epoch(self, kit: ModuleType, tmp_path: Path) -> None:
        """No batch skipped or repeated across resumes: each epoch covers every sample exactly once."""
        result = run_interrupted(kit, tmp_path, [2, 7, 11])
        seen = result["seen"]
        assert len(seen) == TOTAL * BATCH * ACCUM
        epochs = [seen[i : i + SAMPLES] for i in range(0, len(seen), SAMPLES)]
        for epoch in epochs[:-1]:
            assert sorted(epoch) == list(range(SAMPLES))
        assert len(set(epochs[-1])) == len(epochs[-1])

    def test_the_resume_really_restored_rngs(
        self, kit: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Mutation check: without restoring the global RNGs, the same comparison fails."""
        module = sys.modules[kit.restore_training_state.__module__]
        monkeypatch.setattr(module, "restore_rng_state", lambda rng, **kwargs: None)
        straight = run_straight(kit, tmp_path / "straight")
        interrupted = run_interrupted(kit, tmp_path / "interrupted", [4])
        assert interrupted["seen"] != straight["seen"] or interrupted["draws"] != straight["draws"]


class TestRng:
    def test_capture_restore_all_generators(self, kit: ModuleType) -> None:
        import numpy as np
        import torch

        random.gauss(0, 1)  # leaves a cached gaussian in Python's state
        np.random.standard_normal()
        state = kit.capture_rng_state()
        expected = (random.random(), random.gauss(0, 1), np.random.rand(), torch.rand(2).tolist())
        scramble_globals()
        kit.restore_rng_state(state)
        assert (random.random(), random.gauss(0, 1), np.random.rand(), torch.rand(2).tolist()) == expected

    def test_state_is_plain_data_for_weights_only(self, kit: ModuleType) -> None:
        import io

        import torch

        state = kit.capture_rng_state()
        kit.check_weights_only(state)
        buffer = io.BytesIO()
        torch.save(state, buffer)
        buffer.seek(0)
        loaded = torch.load(buffer, weights_only=True)
        assert set(loaded) == {"python", "numpy", "torch"}
        assert isinstance(loaded["python"]["state"], list)
        assert isinstance(loaded["numpy"]["key"], list)

    def test_own_generators(self, kit: ModuleType, tmp_path: Path) -> None:
        """random.Random, numpy Generator and torch.Generator components round-trip through a save."""
        import numpy as np
        import torch

        gens = {
            "py": random.Random(1),
            "np": np.random.default_rng(2),
            "tg": torch.Generator().manual_seed(3),
        }
        with kit.Checkpointer(tmp_path) as ckpt:
            ckpt.save(1, kit.training_state(**gens))
            expected = (gens["py"].random(), gens["np"].random(), torch.rand(1, generator=gens["tg"]).item())
            fresh = {"py": random.Random(), "np": np.random.default_rng(), "tg": torch.Generator()}
            kit.restore_training_state(ckpt.load_latest(), **fresh)
        assert (
            fresh["py"].random(),
            fresh["np"].random(),
            torch.rand(1, generator=fresh["tg"]).item(),
        ) == expected

    def test_cuda_states_without_cuda_are_an_error(self, kit: ModuleType) -> None:
        import torch

        state = kit.capture_rng_state()
        state["torch"]["cuda"] = [torch.get_rng_state()] * (torch.cuda.device_count() + 1)
        with pytest.raises(kit.StateRestoreError, match="allow_missing_cuda"):
            kit.restore_rng_state(state)
        with pytest.warns(UserWarning, match="CUDA device"):
            kit.restore_rng_state(state, allow_missing_cuda=True)

    def test_numpy_state_needs_numpy(self, kit: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
        state = kit.capture_rng_state()
        monkeypatch.delitem(sys.modules, "numpy")
        with pytest.raises(kit.StateRestoreError, match="NumPy is not imported"):
            kit.restore_rng_state(state)

    @pytest.mark.parametrize(
        ("mutate", "match"),
        [
            (lambda s: s.update(extra=1), "unknown RNG entries"),
            (lambda s: s["python"].update(state="nope"), "Python's random state"),
            (lambda s: s["numpy"].update(key=[1, 2]), "NumPy's random state"),
            (lambda s: s["torch"].update(cpu=__import__("torch").zeros(3)), "torch CPU"),
        ],
    )
    def test_malformed_states_raise(self, kit: ModuleType, mutate: Any, match: str) -> None:
        state = kit.capture_rng_state()
        mutate(state)
        with pytest.raises(kit.StateRestoreError, match=match):
            kit.restore_rng_state(state)


class TestRestoreErrors:
    def test_missing_component(self, kit: ModuleType) -> None:
        objects = build()
        state = kit.training_state(**objects, step=1)
        del objects["scheduler"]
        with pytest.raises(kit.StateRestoreError, match=r"\['scheduler'\] but no object"):
            kit.restore_training_state(state, **objects)

    def test_unexpected_component(self, kit: ModuleType) -> None:
        objects = build()
        state = kit.training_state(model=objects["model"])
        with pytest.raises(kit.StateRestoreError, match="no saved state for"):
            kit.restore_training_state(state, **objects)

    def test_load_state_dict_errors_propagate(self, kit: ModuleType) -> None:
        import torch

        state = kit.training_state(model=build()["model"])
        with pytest.raises(RuntimeError, match="size mismatch"):
            kit.restore_training_state(state, model=torch.nn.Sequential(torch.nn.Linear(6, 3)))

    def test_not_a_training_state(self, kit: ModuleType) -> None:
        with pytest.raises(kit.StateRestoreError, match="not a state written by training_state"):
            kit.restore_training_state({"model": {}}, model=build()["model"])

    def test_reserved_names(self, kit: ModuleType) -> None:
        with pytest.raises(ValueError, match="reserved"):
            kit.training_state(rng=1)

    def test_generator_kind_mismatch(self, kit: ModuleType) -> None:
        state = kit.training_state(gen=random.Random(1))
        with pytest.raises(kit.StateRestoreError, match="python random generator"):
            kit.restore_training_state(state, gen=__import__("torch").Generator())

    def test_full_state_loads_under_weights_only(self, kit: ModuleType, tmp_path: Path) -> None:
        import torch

        objects = build()
        with kit.Checkpointer(tmp_path) as ckpt:
            info = ckpt.save(1, kit.training_state(**objects, step=1, best_loss=0.5, history=[1.0, 0.5]))
        raw = torch.load(info.payload, weights_only=True)
        assert raw["values"] == {"step": 1, "best_loss": 0.5, "history": [1.0, 0.5]}
        assert set(raw["objects"]) == {"model", "optimizer", "scheduler", "scaler"}
