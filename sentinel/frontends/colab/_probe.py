"""Pure: the page's ``probe()`` answer (``_page.js``) laid out as a PageProbe for ``sentinel doctor``.

Each css key's matches as the page counted them, each dialog kind's patterns against the open
dialogs' texts, and each detection layer's own verdict, next to the Observation that
:func:`~sentinel.frontends.colab._classify.classify` makes of the same facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sentinel.frontends.base import Dialog, DialogReport, LayerVerdict, PageProbe, SelectorReport
from sentinel.frontends.colab._classify import as_int, classify, connection_votes
from sentinel.frontends.colab._selectors import DIALOG_ORDER
from sentinel.frontends.selectors import SelectorSet, normalise

_TEXT_LIMIT = 120
_DIALOG_TEXT_LIMIT = 300


def build_probe(url: str, raw: object, selectors: SelectorSet) -> PageProbe:
    """The PageProbe of ``raw`` (``{"selectors": {key: {...}}, "facts": {...}}`` from ``probe()``)."""
    data = _table(raw)
    facts, matched = _table(data.get("facts")), _table(data.get("selectors"))
    reports = tuple(_selector_report(key, matched.get(key)) for key in selectors.css)
    open_texts = [
        normalise(str(d.get("text") or "")) for d in facts.get("dialogs") or () if isinstance(d, dict)
    ]
    captcha = facts.get("captcha")
    dialogs = tuple(_dialog_report(kind.value, open_texts, captcha, selectors) for kind in DIALOG_ORDER)
    shown = [_trim(t, _DIALOG_TEXT_LIMIT) for t in open_texts]
    if captcha is not None:
        shown.insert(0, "reCAPTCHA: " + _trim(normalise(str(captcha)), _DIALOG_TEXT_LIMIT))
    return PageProbe(
        url=url,
        selectors=reports,
        dialogs=dialogs,
        open_dialogs=tuple(shown),
        layers=connection_layers(facts, selectors),
        facts=dict(facts),
        observation=classify(facts, selectors),
    )


# Each layer of _classify.connection_votes as doctor names it.
LAYER_NAMES = {
    "kernel": "kernel state (Colab's JS model)",
    "tooltip": "tooltip (tooltiptext / title)",
    "button_text": "connect button text",
    "aria": "accessible name (by meaning)",
}


def connection_layers(facts: Mapping[str, Any], selectors: SelectorSet) -> tuple[LayerVerdict, ...]:
    """Each connection-detection layer's own verdict (``classify`` combines them), with what it saw."""
    votes = connection_votes(facts, selectors)
    return tuple(LayerVerdict(LAYER_NAMES.get(k, k), vote, _evidence(k, facts)) for k, vote in votes.items())


def _evidence(layer: str, facts: Mapping[str, Any]) -> str:
    raw = _table(facts.get("connection_layers"))
    if layer == "kernel":
        kernel = facts.get("kernel")
        if not isinstance(kernel, dict):
            return "the page has no colab.global.notebook.kernel"
        return ", ".join(f"{k}={kernel.get(k)!r}" for k in ("state", "connected", "running"))
    if layer == "button_text":
        connect = _table(facts.get("connect"))
        text = normalise(str(connect.get("text") or ""))
        return f"reads {text!r}" if connect.get("found") else "no element matches css.connect_button"
    if layer == "tooltip":
        tip = raw.get("tooltip")
        return f"reads {normalise(tip)!r}" if isinstance(tip, str) else "no tooltip on the connect control"
    if layer == "aria":
        name = _table(raw.get("aria")).get("name")
        return (
            f"a button named {normalise(str(name))!r}"
            if name
            else "no button's name reads like the connect control"
        )
    return repr(raw.get(layer))


def _table(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _selector_report(key: str, raw: object) -> SelectorReport:
    entry = _table(raw)
    alternatives = tuple(
        (str(pair[0]), as_int(pair[1]))
        for pair in entry.get("alternatives") or ()
        if isinstance(pair, list | tuple) and len(pair) == 2
    )
    return SelectorReport(
        key=key,
        count=as_int(entry.get("count")),
        visible=as_int(entry.get("visible")),
        text=_trim(normalise(str(entry.get("text") or "")), _TEXT_LIMIT),
        alternatives=alternatives,
    )


def _dialog_report(key: str, open_texts: list[str], captcha: object, selectors: SelectorSet) -> DialogReport:
    kind = Dialog(key)
    pattern = selectors.dialog(key)
    hit = next((t for t in open_texts if pattern.search(t)), None)
    if hit is None and kind is Dialog.CAPTCHA and captcha is not None:
        hit = normalise(str(captcha)) or "colab-recaptcha-dialog"
    return DialogReport(
        dialog=kind,
        patterns=selectors.dialogs.get(key, ()),
        matched=_trim(hit, _DIALOG_TEXT_LIMIT) if hit is not None else None,
    )


def _trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
