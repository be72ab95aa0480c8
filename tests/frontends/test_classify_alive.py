"""classify() on a page that reads "Reconnect(ing)" while code still runs (colabtools#5622), from raw facts.

The runtime is alive when its cells (or its kernel) report running: that is CONNECTING (wait), never
DISCONNECTED (which the policy answers with a click on Connect and, for a fresh runtime, a resume).
"""

from __future__ import annotations

from typing import Any

import pytest

from sentinel.frontends.base import Connection
from sentinel.frontends.colab import classify


def facts(
    text: str, *, running: int = 0, pending: int = 0, kernel: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "connect": {"found": True, "text": text},
        "kernel": kernel,
        "cells": {"model": True, "running": running, "pending": pending, "dom_busy": 0},
        "dialogs": [],
        "captcha": None,
        "toasts": [],
        "sign_in_link": False,
        "account_link": False,
    }


@pytest.mark.parametrize("text", ["Reconnecting", "Reconnect", "Connect"])
@pytest.mark.parametrize(
    ("running", "pending", "kernel"),
    [
        (1, 0, None),
        (0, 2, None),
        (1, 0, {"state": "disconnected", "connected": False, "running": None, "managed_id": "vm-1"}),
        (0, 0, {"state": "connecting", "connected": False, "running": True, "managed_id": "vm-1"}),
        (0, 0, {"state": "disconnected", "connected": False, "running": True, "managed_id": None}),
    ],
)
def test_reconnecting_while_cells_run_is_connecting_and_busy(
    text: str, running: int, pending: int, kernel: dict[str, Any] | None
) -> None:
    """Whatever the button says, running cells or a running kernel mean a live runtime: CONNECTING."""
    observation = classify(facts(text, running=running, pending=pending, kernel=kernel))
    assert observation.connection is Connection.CONNECTING
    assert observation.runtime_id is None  # not "connected": no runtime to resume in


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Reconnect", Connection.DISCONNECTED),
        ("Connect", Connection.DISCONNECTED),
        ("Reconnecting", Connection.CONNECTING),
    ],
)
def test_with_nothing_running_the_button_still_decides(text: str, expected: Connection) -> None:
    """No cell and no kernel running: a Reconnect button is a dead runtime, as before."""
    idle = {"state": "disconnected", "connected": False, "running": False, "managed_id": None}
    assert classify(facts(text, kernel=idle)).connection is expected
    assert classify(facts(text)).connection is expected
