"""Frontend.probe's pure half (the page's probe() answer laid out) and the fake's probe; private bundles."""

from __future__ import annotations

import stat
from pathlib import Path

from sentinel.frontends import Connection, Dialog
from sentinel.frontends.colab import DEFAULT_SELECTORS
from sentinel.frontends.colab._probe import build_probe
from sentinel.frontends.fake import FakeFrontend, FakeNotebook


def _raw(**facts: object) -> dict[str, object]:
    base: dict[str, object] = {
        "colab": True,
        "connect": {"found": True, "text": "Reconnect"},
        "kernel": {"state": "connect", "connected": False, "running": False, "managed_id": None},
        "cells": {"model": True, "running": 0, "pending": 0, "dom_busy": 0},
        "dialogs": [],
        "captcha": None,
        "toasts": [],
    }
    base.update(facts)
    return {
        "selectors": {
            "connect_button": {
                "count": 1,
                "visible": 1,
                "text": "Reconnect",
                "alternatives": [["colab-connect-button >>> #connect", 1], ["#top-toolbar #connect", 0]],
            }
        },
        "facts": base,
    }


def test_every_css_key_is_reported_in_order() -> None:
    probe = build_probe("http://x/nb", _raw(), DEFAULT_SELECTORS)
    assert [s.key for s in probe.selectors] == list(DEFAULT_SELECTORS.css)
    button = probe.selectors[0]
    assert (button.key, button.count, button.text) == ("connect_button", 1, "Reconnect")
    assert button.alternatives[0] == ("colab-connect-button >>> #connect", 1)
    assert all(s.count == 0 for s in probe.selectors[1:])  # keys the page did not answer for


def test_layers_vote_separately() -> None:
    probe = build_probe(
        "http://x/nb", _raw(kernel={"state": "connected", "connected": True}), DEFAULT_SELECTORS
    )
    layers = {v.layer: v for v in probe.layers}
    assert layers["connect button text"].connection is Connection.DISCONNECTED
    assert layers["kernel state (Colab's JS model)"].connection is Connection.CONNECTED
    # They disagree: the classification waits (CONNECTING), as classify() always did.
    assert probe.observation.connection is Connection.CONNECTING
    no_model = build_probe("http://x/nb", _raw(kernel=None), DEFAULT_SELECTORS)
    assert {v.layer: v.connection for v in no_model.layers}["kernel state (Colab's JS model)"] is None


def test_dialog_patterns_and_unknown_dialogs() -> None:
    texts = [{"tag": "mwc-dialog", "text": "Runtime disconnected Your runtime has been disconnected"}]
    probe = build_probe("http://x/nb", _raw(dialogs=texts), DEFAULT_SELECTORS)
    matched = {d.dialog: d.matched for d in probe.dialogs}
    assert matched[Dialog.RUNTIME_DISCONNECTED] is not None
    assert all(v is None for k, v in matched.items() if k is not Dialog.RUNTIME_DISCONNECTED)
    assert probe.observation.dialogs == (Dialog.RUNTIME_DISCONNECTED,)
    odd = build_probe(
        "http://x/nb", _raw(dialogs=[{"tag": "dialog", "text": "Brand new"}]), DEFAULT_SELECTORS
    )
    assert all(d.matched is None for d in odd.dialogs)
    assert odd.open_dialogs == ("Brand new",)
    assert odd.observation.dialogs == (Dialog.UNKNOWN,)
    captcha = build_probe("http://x/nb", _raw(captcha="I'm not a robot"), DEFAULT_SELECTORS)
    assert {d.dialog: d.matched for d in captcha.dialogs}[Dialog.CAPTCHA] == "I'm not a robot"


def test_garbage_from_the_page_is_not_an_exception() -> None:
    probe = build_probe("http://x/nb", "nonsense", DEFAULT_SELECTORS)
    assert probe.observation.connection is Connection.UNKNOWN
    assert all(s.count == 0 for s in probe.selectors)


async def test_fake_probe_and_private_bundle(tmp_path: Path) -> None:
    frontend = FakeFrontend(
        lambda: FakeNotebook(connection=Connection.CONNECTED, dialogs=[Dialog.STILL_THERE])
    )
    page = object()
    probe = await frontend.probe(page)
    assert probe.observation.dialogs == (Dialog.STILL_THERE,)
    assert {d.dialog: d.matched for d in probe.dialogs}[Dialog.STILL_THERE] == "still_there"
    assert probe.layers[0].connection is Connection.CONNECTED
    bundle = await frontend.debug_bundle(page, tmp_path / "debug")
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o700
    for path in bundle.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
