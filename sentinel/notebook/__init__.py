"""The notebook kit: Drive persistence, crash-safe verified checkpoints and exact resume for Colab.

stdlib only; runs inside the Colab kernel. ``import sentinel.notebook`` loads nothing outside the
standard library (PyTorch and NumPy are used when the notebook has imported them), so
``pip install --no-deps colab-sentinel`` is all a runtime needs. ``sentinel kit export DIR`` writes
the same code as one file, ``sentinel_kit.py``, to keep on Drive.

A resume cell, in short (``import sentinel_kit as kit`` for the exported file)::

    import sentinel.notebook as kit

    paths = kit.setup_persistence("my-project")  # mounts Drive in Colab
    ckpt = kit.Checkpointer(paths.checkpoints, keep=3)
    state = ckpt.load_latest(default=None)
    progress = kit.restore_training_state(state, model=model, optimizer=opt) if state else {"step": 0}
    for step in range(progress["step"] + 1, total + 1):
        ...
        kit.report(step=step, total=total, loss=loss)
        if step % 500 == 0:
            ckpt.save(step, kit.training_state(model=model, optimizer=opt, step=step))
"""

from __future__ import annotations

from sentinel import __version__ as __version__

from ._checkpoint import Checkpointer
from ._errors import (
    CheckpointCorruptError,
    CheckpointError,
    CheckpointFallbackWarning,
    CheckpointWriteError,
    DriveMountError,
    KitError,
    LeaseError,
    LeaseHeldError,
    LeaseLostError,
    NoCheckpointError,
    ProjectNameError,
    StateRestoreError,
    StepOrderError,
    UnsupportedStateError,
)
from ._lease import LEASE_FILE_NAME, Lease
from ._manifest import MANIFEST_FORMAT, MANIFEST_VERSION, CheckpointInfo
from ._persistence import DEFAULT_LOCAL_ROOT, ProjectPaths, in_colab, setup_persistence, validate_project_name
from ._report import REPORT_PREFIX, finished, format_report, parse_report, report
from ._state import (
    capture_rng_state,
    check_weights_only,
    restore_rng_state,
    restore_training_state,
    training_state,
)

__all__ = [
    "DEFAULT_LOCAL_ROOT",
    "LEASE_FILE_NAME",
    "MANIFEST_FORMAT",
    "MANIFEST_VERSION",
    "REPORT_PREFIX",
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointFallbackWarning",
    "CheckpointInfo",
    "CheckpointWriteError",
    "Checkpointer",
    "DriveMountError",
    "KitError",
    "Lease",
    "LeaseError",
    "LeaseHeldError",
    "LeaseLostError",
    "NoCheckpointError",
    "ProjectNameError",
    "ProjectPaths",
    "StateRestoreError",
    "StepOrderError",
    "UnsupportedStateError",
    "capture_rng_state",
    "check_weights_only",
    "finished",
    "format_report",
    "in_colab",
    "parse_report",
    "report",
    "restore_rng_state",
    "restore_training_state",
    "setup_persistence",
    "training_state",
    "validate_project_name",
]
