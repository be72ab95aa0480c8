"""classify(): the page's raw facts become an Observation the daemon can act on, without a browser."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import structlog

from sentinel.frontends.base import Connection, Dialog, Observation, SignalKind
from sentinel.frontends.colab import classify
from sentinel.frontends.colab._classify import (
    LayerWatch,
    changes,
    combine_connection,
    connection_votes,
    disagreement,
)
from sentinel.frontends.colab._selectors import DEFAULT_SELECTORS


def facts(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "connect": {"found": True, "text": ""},
        "kernel": None,
        "cells": {"model": True, "running": 0, "pending": 0, "dom_busy": 0},
        "dialogs": [],
        "captcha": None,
        "toasts": [],
        "sign_in_link": False,
        "account_link": False,
    }
    base.update(over)
    return base


class TestConnection:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("", Connection.CONNECTED),
            ("RAM\nDisk", Connection.CONNECTED),
            ("Busy", Connection.CONNECTED),
            ("Connect", Connection.DISCONNECTED),
            ("Connect T4", Connection.DISCONNECTED),
            ("Reconnect", Connection.DISCONNECTED),
            ("Connecting", Connection.CONNECTING),
            ("Allocating", Connection.CONNECTING),
            ("Initializing", Connection.CONNECTING),
            ("Resuming session", Connection.CONNECTING),
            ("Something new", Connection.UNKNOWN),
        ],
    )
    def test_connect_button_text(self, text: str, expected: Connection) -> None:
        """The button text alone decides when the kernel object is absent."""
        observation = classify(facts(connect={"found": True, "text": text}))
        assert observation.connection is expected
        assert observation.connect_text == " ".join(text.split())

    def test_no_button_no_kernel_is_unknown(self) -> None:
        """Without the connect button and the kernel object nothing is assumed."""
        assert classify(facts(connect={"found": False, "text": ""})).connection is Connection.UNKNOWN

    def test_kernel_confirms_or_holds_back(self) -> None:
        """Agreement passes through; disagreement reads as CONNECTING (wait), never as a reason to click."""
        kernel = {"state": "connected", "connected": True, "running": False, "managed_id": "vm-1"}
        agreed = classify(facts(kernel=kernel))
        assert agreed.connection is Connection.CONNECTED
        assert agreed.runtime_id == "vm-1"
        stale = classify(facts(connect={"found": True, "text": "Reconnect"}, kernel=kernel))
        assert stale.connection is Connection.CONNECTING
        assert stale.runtime_id is None
        gone = {"state": "connect", "connected": False, "running": False, "managed_id": "vm-1"}
        assert classify(facts(kernel=gone)).connection is Connection.CONNECTING
        assert classify(facts(connect={"found": False, "text": ""}, kernel=gone)).connection is (
            Connection.DISCONNECTED
        )

    @pytest.mark.parametrize(
        ("button", "kernel", "expected"),
        [
            # Button and kernel disagree: wait (never click Connect on a live runtime).
            ("Connect", {"state": "connected", "connected": True}, Connection.CONNECTING),
            ("", {"state": "connect", "connected": False}, Connection.CONNECTING),
            # A button text nobody knows: the kernel decides.
            ("Something new", {"state": "connected", "connected": True}, Connection.CONNECTED),
            ("Something new", {"state": "allocating", "connected": False}, Connection.CONNECTING),
            # No state string: isConnected() alone says connected.
            ("Something new", {"state": None, "connected": True}, Connection.CONNECTED),
            ("Something new", {"state": None, "connected": False}, Connection.UNKNOWN),
            # "connected" while isConnected() is false (the socket is down): not connected yet.
            (None, {"state": "connected", "connected": False}, Connection.CONNECTING),
            ("", {"state": "connected", "connected": False}, Connection.CONNECTING),
        ],
    )
    def test_kernel_state_overrides_the_button_text(
        self, button: str | None, kernel: dict[str, Any], expected: Connection
    ) -> None:
        """Kernel and button agree: that; the button unknown: the kernel; they disagree: CONNECTING."""
        connect = {"found": False, "text": ""} if button is None else {"found": True, "text": button}
        kernel = {"running": False, "managed_id": "vm-1", **kernel}
        observation = classify(facts(connect=connect, kernel=kernel))
        assert observation.connection is expected
        assert observation.runtime_id == ("vm-1" if expected is Connection.CONNECTED else None)


class TestDialogs:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "Runtime disconnected Your runtime has been disconnected due to inactivity or reaching its maximum duration. Learn more Close Reconnect",
                Dialog.RUNTIME_DISCONNECTED,
            ),
            (
                "Warning: This notebook was not authored by Google This notebook is being loaded from GitHub. Cancel Run anyway",
                Dialog.EXTERNAL_NOTEBOOK,
            ),
            (
                "Permit this notebook to access your Google Drive files? ... No, thanks Connect to Google Drive",
                Dialog.DRIVE_CONSENT,
            ),
            (
                "Allow this notebook to access your Google credentials? ... No, thanks Allow",
                Dialog.CREDENTIALS,
            ),
            (
                "Cannot connect to GPU backend You cannot currently connect to a GPU due to usage limits in Colab. Close Connect without GPU",
                Dialog.GPU_LIMIT,
            ),
            (
                "Too many sessions You have too many active sessions. Cancel Manage sessions",
                Dialog.TOO_MANY_SESSIONS,
            ),
            (
                "Google sign-in required You must be logged in with a Google account to run code. Cancel Sign in",
                Dialog.SIGN_IN_REQUIRED,
            ),
            ("Are you still there? Yes", Dialog.STILL_THERE),
            (
                "Switch to a high-RAM runtime? Your session crashed after using all available RAM. No Yes",
                Dialog.OOM_SWITCH,
            ),
        ],
    )
    def test_catalogue_texts(self, text: str, expected: Dialog) -> None:
        """Each dialog of colab-ui.md 3.2 is recognised by its text."""
        observation = classify(facts(dialogs=[{"tag": "mwc-dialog", "text": text}]))
        assert observation.dialogs == (expected,)
        assert observation.unclassified is None

    def test_unknown_dialog_keeps_its_text(self) -> None:
        """A dialog nobody knows is UNKNOWN and its text is kept for the debug bundle."""
        observation = classify(facts(dialogs=[{"tag": "md-dialog", "text": "Something\u00a0brand new  OK"}]))
        assert observation.dialogs == (Dialog.UNKNOWN,)
        assert observation.unclassified == "Something brand new OK"

    def test_captcha_first_and_needs_human(self) -> None:
        """The reCAPTCHA host counts as CAPTCHA whatever it says, and is what needs_human reports."""
        observation = classify(
            facts(
                captcha="Are you still there?",
                dialogs=[{"tag": "mwc-dialog", "text": "Are you still there? Yes"}],
            )
        )
        assert observation.dialogs == (Dialog.CAPTCHA, Dialog.STILL_THERE)
        assert observation.needs_human is Dialog.CAPTCHA

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "Runtime disconnected. Complete the reCAPTCHA to reconnect. I'm not a robot",
                Dialog.CAPTCHA,
            ),
            (
                "Google sign-in required. Your runtime has been disconnected; sign in to reconnect. Sign in",
                Dialog.SIGN_IN_REQUIRED,
            ),
            (
                "Runtime disconnected. You cannot currently connect to a GPU due to usage limits in Colab."
                " Close Connect without GPU",
                Dialog.GPU_LIMIT,
            ),
            (
                "Runtime disconnected. You have too many active sessions. Cancel Manage sessions",
                Dialog.TOO_MANY_SESSIONS,
            ),
        ],
    )
    def test_a_dialog_about_two_topics_is_the_one_that_needs_more(self, text: str, expected: Dialog) -> None:
        """A text matching two dialogs is the one a human must see (captcha, sign-in) or a quota, not a reconnect."""
        observation = classify(facts(dialogs=[{"tag": "mwc-dialog", "text": text}]))
        assert observation.dialogs == (expected,)
        assert observation.unclassified is None


class TestRest:
    def test_busy_from_model_or_dom(self) -> None:
        """Running or queued cells, from the JS model or DOM classes, make the page busy."""
        assert not classify(facts()).busy
        assert classify(facts(cells={"running": 1, "pending": 0, "dom_busy": 0})).busy
        assert classify(facts(cells={"running": 0, "pending": 2, "dom_busy": 0})).busy
        assert classify(facts(cells={"running": 0, "pending": 0, "dom_busy": 1})).busy

    def test_crash_toast_and_auth(self) -> None:
        """A crash toast is reported verbatim; the Sign in link wins over the account link."""
        observation = classify(
            facts(
                toasts=["Saving…", "Your session crashed after using all available RAM. View runtime logs"],
                sign_in_link=True,
                account_link=True,
            )
        )
        assert (
            observation.crash_toast == "Your session crashed after using all available RAM. View runtime logs"
        )
        assert observation.signed_in is False
        assert classify(facts(account_link=True)).signed_in is True
        assert classify(facts()).signed_in is None


class TestChanges:
    """The observer's change detection: which SignalKinds a new classification reports."""

    BASE = Observation(
        connection=Connection.CONNECTED,
        connect_text="",
        dialogs=(),
        signed_in=True,
        busy=False,
        runtime_id="vm-1",
        crash_toast=None,
        unclassified=None,
    )

    @pytest.mark.parametrize(
        ("field", "value", "expected"),
        [
            ("busy", True, {SignalKind.CELLS}),
            ("connection", Connection.CONNECTING, {SignalKind.CONNECTION}),
            ("connect_text", "RAM Disk", {SignalKind.CONNECTION}),
            ("dialogs", (Dialog.STILL_THERE,), {SignalKind.DIALOG}),
            ("unclassified", "Something new", {SignalKind.DIALOG}),
            ("crash_toast", "Your session crashed", {SignalKind.TOAST}),
            ("signed_in", False, {SignalKind.AUTH}),
            ("runtime_id", "vm-2", {SignalKind.RUNTIME}),
        ],
    )
    def test_one_field_changes_one_kind(self, field: str, value: object, expected: set[SignalKind]) -> None:
        """Each field maps to its own kind; a busy flip alone is a CELLS signal."""
        assert changes(self.BASE, replace(self.BASE, **{field: value})) == expected

    def test_first_report_is_loaded_and_an_equal_one_is_nothing(self) -> None:
        """No previous observation: LOADED; the same observation again: no change, no Signal."""
        assert changes(None, self.BASE) == {SignalKind.LOADED}
        assert changes(self.BASE, replace(self.BASE)) == set()


class TestConnectionLayers:
    """Several layers vote; the drawing's most specific one speaks, the kernel model holds it in check."""

    CONNECTED_TIP = "Connected to Python 3 Google Compute Engine backend (GPU) RAM: 1.3/12.7 GB"

    @staticmethod
    def drifted(tooltip: str | None, name: str | None, text: str = "", kernel: Any = None) -> dict[str, Any]:
        """A page where css.connect_button matches nothing (only the layers by meaning read it)."""
        aria = {"name": name, "text": text} if name is not None else None
        return facts(
            connect={"found": False, "text": ""},
            connection_layers={"button_text": {"found": False, "text": ""}, "tooltip": tooltip, "aria": aria},
            kernel=kernel,
        )

    @pytest.mark.parametrize(
        ("tooltip", "name", "text", "expected"),
        [
            (CONNECTED_TIP, CONNECTED_TIP, "", Connection.CONNECTED),
            ("Connect to a new runtime", "Connect T4", "Connect T4", Connection.DISCONNECTED),
            ("Connect to a new runtime", "Reconnect", "Reconnect", Connection.DISCONNECTED),
            ("Connecting to a runtime", "Connecting", "Connecting", Connection.CONNECTING),
            (None, "Connect", "Connect", Connection.DISCONNECTED),
            (None, None, "", Connection.UNKNOWN),
        ],
    )
    def test_a_drifted_page_is_read_by_meaning(
        self, tooltip: str | None, name: str | None, text: str, expected: Connection
    ) -> None:
        observation = classify(self.drifted(tooltip, name, text))
        assert observation.connection is expected
        assert observation.connect_text == text

    def test_votes_name_every_layer(self) -> None:
        kernel = {"state": "connected", "connected": True, "running": False, "managed_id": "vm"}
        votes = connection_votes(self.drifted(self.CONNECTED_TIP, self.CONNECTED_TIP, kernel=kernel))
        assert votes == {
            "kernel": Connection.CONNECTED,
            "tooltip": Connection.CONNECTED,
            "button_text": None,
            "aria": Connection.CONNECTED,
        }
        assert disagreement(votes) is None

    @pytest.mark.parametrize(
        ("votes", "expected"),
        [
            # The tooltip is more specific than the button text, which beats the name heuristic.
            ({"tooltip": Connection.CONNECTED, "button_text": Connection.DISCONNECTED}, Connection.CONNECTED),
            ({"button_text": Connection.DISCONNECTED, "aria": Connection.CONNECTED}, Connection.DISCONNECTED),
            ({"aria": Connection.CONNECTING}, Connection.CONNECTING),
            # The kernel model against the drawing: a transition, wait.
            ({"kernel": Connection.CONNECTED, "tooltip": Connection.DISCONNECTED}, Connection.CONNECTING),
            ({"kernel": Connection.DISCONNECTED, "button_text": Connection.CONNECTED}, Connection.CONNECTING),
            ({"kernel": Connection.DISCONNECTED}, Connection.DISCONNECTED),
            ({}, Connection.UNKNOWN),
        ],
    )
    def test_combination_order(self, votes: dict[str, Connection], expected: Connection) -> None:
        assert combine_connection(votes) is expected

    def test_a_disagreement_is_logged_once_per_page(self) -> None:
        watch = LayerWatch()
        split = facts(
            connect={"found": True, "text": "Reconnect"},
            connection_layers={"tooltip": self.CONNECTED_TIP, "aria": None},
        )
        with structlog.testing.capture_logs() as logs:
            for _ in range(3):
                watch.check(split, classify(split), DEFAULT_SELECTORS)
        warnings = [e for e in logs if e["event"] == "frontend.connection_layers_disagree"]
        assert len(warnings) == 1
        assert warnings[0]["votes"] == {"tooltip": "connected", "button_text": "disconnected"}

    def test_a_dialog_by_role_without_text_is_read_by_its_label(self) -> None:
        dialog = {"tag": "dialog", "role": "dialog", "label": "Are you still there?", "text": ""}
        assert classify(facts(dialogs=[dialog])).dialogs == (Dialog.STILL_THERE,)
