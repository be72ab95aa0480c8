"""Notebook web UIs the daemon can drive: the interface (``base``), Colab, and an in-package fake for tests."""

from __future__ import annotations

from sentinel.frontends.base import (
    ALLOWED_ACTIONS,
    HUMAN_ONLY,
    Action,
    Connection,
    Dialog,
    Frontend,
    Observation,
    Signal,
    SignalHandler,
    SignalKind,
)

__all__ = [
    "ALLOWED_ACTIONS",
    "HUMAN_ONLY",
    "Action",
    "Connection",
    "Dialog",
    "Frontend",
    "Observation",
    "Signal",
    "SignalHandler",
    "SignalKind",
]
