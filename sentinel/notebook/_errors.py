"""Exceptions and warnings of the notebook kit (stdlib only; runs inside the Colab kernel).

The tree::

    KitError
    ├── ProjectNameError          the project name is empty or escapes the root folder
    ├── DriveMountError           Google Drive could not be mounted or remounted
    ├── CheckpointError
    │   ├── StepOrderError        a save whose step is not newer than the latest checkpoint
    │   ├── CheckpointWriteError  writing a checkpoint failed; no manifest was written
    │   ├── CheckpointCorruptError  a checkpoint does not match its manifest
    │   ├── NoCheckpointError     nothing to load and no default given
    │   └── UnsupportedStateError  the state holds an object `torch.load(weights_only=True)` rejects
    ├── StateRestoreError         saved training state does not fit the objects it is restored into
    └── LeaseError
        ├── LeaseHeldError        another runtime is writing this checkpoint folder
        └── LeaseLostError        another runtime took the folder over while we were writing

    CheckpointFallbackWarning     the newest checkpoint was skipped; the message says which and why
"""

from __future__ import annotations


class KitError(Exception):
    """Base class of every error the notebook kit raises on purpose."""


class ProjectNameError(KitError, ValueError):
    """Raised when a project name is empty, absolute, or would leave the root folder."""


class DriveMountError(KitError, OSError):
    """Raised when Google Drive cannot be mounted, or stays unreachable after the bounded remounts."""


class CheckpointError(KitError):
    """Base class of the errors a `Checkpointer` raises."""


class StepOrderError(CheckpointError, ValueError):
    """Raised when a save's step is not newer than the newest complete checkpoint in the folder."""


class CheckpointWriteError(CheckpointError, OSError):
    """Raised when writing a checkpoint failed; the partial payload was removed and no manifest exists."""


class CheckpointCorruptError(CheckpointError):
    """Raised when a checkpoint's files do not match its manifest (missing, truncated or altered)."""


class NoCheckpointError(CheckpointError, FileNotFoundError):
    """Raised by `Checkpointer.load_latest()` without a default when no checkpoint verifies."""


class UnsupportedStateError(CheckpointError, TypeError):
    """Raised when a state holds an object that `torch.load(weights_only=True)` would refuse to load."""


class StateRestoreError(KitError):
    """Raised when saved training state does not match the objects it is being restored into."""


class LeaseError(KitError):
    """Base class of the errors about the single-writer lease of a checkpoint folder."""


class LeaseHeldError(LeaseError):
    """Raised when another live runtime holds the lease of the checkpoint folder."""


class LeaseLostError(LeaseError):
    """Raised when another runtime took over the lease; this writer must stop saving."""


class CheckpointFallbackWarning(UserWarning):
    """Issued when `load_latest()` skips a newer checkpoint; the message names it and gives the reason."""
