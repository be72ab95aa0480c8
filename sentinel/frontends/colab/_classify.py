"""Pure classification: the page's raw facts (from ``_page.js`` ``collect()``) to an Observation.

No Playwright here: every regular expression that reads Colab's texts is applied in this module,
to a plain dict, so it is tested without a browser. The connection is read by several layers that
vote (:func:`connection_votes`, :func:`combine_connection`); :class:`LayerWatch` logs a disagreement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from sentinel.frontends.base import Connection, Dialog, Observation, SignalKind
from sentinel.frontends.colab._selectors import (
    CONNECTION_LAYERS,
    DEFAULT_SELECTORS,
    DIALOG_ORDER,
    KERNEL_STATES,
)
from sentinel.frontends.selectors import SelectorSet, normalise

Votes = Mapping[str, Connection | None]

log = structlog.get_logger(__name__)


def classify(facts: Mapping[str, Any], selectors: SelectorSet = DEFAULT_SELECTORS) -> Observation:
    """Turn the page's raw facts (from ``_page.js`` ``collect()``) into an Observation."""
    connect = _table(facts.get("connect"))
    connect_text = normalise(str(connect.get("text") or ""))
    if not connect.get("found"):
        # No css.connect_button matched (a drifted page): the control found by meaning shows the text.
        connect_text = normalise(str(_table(_layers(facts).get("aria")).get("text") or ""))
    connection = combine_connection(connection_votes(facts, selectors))
    kernel = facts.get("kernel") if isinstance(facts.get("kernel"), dict) else None
    dialogs, unclassified = _classify_dialogs(facts, selectors)
    cells = facts.get("cells") or {}
    busy = any(as_int(cells.get(key)) > 0 for key in ("running", "pending", "dom_busy"))
    if connection is Connection.DISCONNECTED and (busy or (kernel or {}).get("running") is True):
        # colabtools#5622: "Reconnect(ing)" while code still runs: the runtime is alive; wait for it.
        connection = Connection.CONNECTING
    managed = kernel.get("managed_id") if kernel else None
    runtime_id = (
        managed if connection is Connection.CONNECTED and isinstance(managed, str) and managed else None
    )
    crash = next(
        (
            normalise(t)
            for t in facts.get("toasts") or ()
            if isinstance(t, str) and selectors.text("crash_toast").search(t)
        ),
        None,
    )
    signed_in: bool | None = None
    if facts.get("sign_in_link"):
        signed_in = False
    elif facts.get("account_link"):
        signed_in = True
    return Observation(
        connection=connection,
        connect_text=connect_text,
        dialogs=dialogs,
        signed_in=signed_in,
        busy=busy,
        runtime_id=runtime_id,
        crash_toast=crash,
        unclassified=unclassified,
    )


def connection_votes(facts: Mapping[str, Any], selectors: SelectorSet = DEFAULT_SELECTORS) -> Votes:
    """Each connection layer's own verdict (None: the layer saw nothing it can read), by layer name.

    ``kernel``: Colab's JS model (``colab.global.notebook.kernel``); ``tooltip``: the connect control's
    ``tooltiptext``/``title``; ``button_text``: the text of ``css.connect_button`` (today's selectors);
    ``aria``: the first button whose accessible name reads like the connect control (any tag, any
    shadow depth).
    """
    layers = _layers(facts)
    connect = _table(facts.get("connect"))
    button = _connection_from_text(
        bool(connect.get("found")), normalise(str(connect.get("text") or "")), selectors
    )
    tooltip = layers.get("tooltip")
    aria = _table(layers.get("aria"))
    name = normalise(str(aria.get("name") or ""))
    kernel = facts.get("kernel") if isinstance(facts.get("kernel"), dict) else None
    votes: dict[str, Connection | None] = {
        "kernel": _connection_from_kernel(kernel),
        "tooltip": _connection_from_tooltip(normalise(tooltip), selectors)
        if isinstance(tooltip, str)
        else None,
        "button_text": None if button is Connection.UNKNOWN else button,
        "aria": (
            _connection_from_tooltip(name, selectors) or _known(_connection_from_text(True, name, selectors))
        )
        if name
        else None,
    }
    return {layer: votes[layer] for layer in CONNECTION_LAYERS}


def combine_connection(votes: Votes) -> Connection:
    """One Connection from the layers' votes.

    The page's drawing speaks through its most specific layer with a verdict: the tooltip (a sentence
    about the runtime, "Connected to Python 3 Google Compute Engine backend", that says the state in
    words) before the button text (which is empty or meters when connected, so it reads "connected"
    also for a half-drawn button), before the accessible-name heuristic (any button anywhere whose
    name looks right: the widest net, so the last word). Colab's JS model is more specific than all
    of them (it is the state, not a rendering of it) and is held against the drawing: when both
    speak and disagree, that is a transition (the button redraws a moment after the kernel changes)
    and the safe reading is CONNECTING: never click Connect on a live runtime, never resume a dead one.
    """
    kernel = votes.get("kernel")
    drawn = next((votes[k] for k in CONNECTION_LAYERS if k != "kernel" and votes.get(k) is not None), None)
    if kernel is None or kernel is Connection.UNKNOWN:
        return drawn or Connection.UNKNOWN
    if drawn is None or drawn is kernel:
        return kernel
    return Connection.CONNECTING


def disagreement(votes: Votes) -> dict[str, str] | None:
    """The layers' verdicts when two of them disagree (for one warning per page), else None."""
    spoken = {layer: str(vote) for layer, vote in votes.items() if vote is not None}
    return spoken if len(set(spoken.values())) > 1 else None


def connect_name(facts: Mapping[str, Any]) -> str | None:
    """The accessible name of the connect control found by meaning (to click it by role), if any."""
    name = _table(_layers(facts).get("aria")).get("name")
    return name if isinstance(name, str) and name.strip() else None


class LayerWatch:
    """One page's connection layers: warns once (``frontend.connection_layers_disagree``) when they disagree."""

    def __init__(self) -> None:
        self.warned = False

    def check(self, facts: Mapping[str, Any], observation: Observation, selectors: SelectorSet) -> None:
        if self.warned:
            return
        votes = disagreement(connection_votes(facts, selectors))
        if votes is not None:
            self.warned = True
            log.warning(
                "frontend.connection_layers_disagree",
                frontend="colab",
                votes=votes,
                decided=str(observation.connection),
            )


def as_int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _connection_from_text(found: bool, text: str, selectors: SelectorSet) -> Connection:
    if not found:
        return Connection.UNKNOWN
    # Order matters: "Connecting" also starts with "Connect".
    if selectors.text("connecting").search(text):
        return Connection.CONNECTING
    if selectors.text("disconnected").search(text):
        return Connection.DISCONNECTED
    if selectors.text("connected").search(text):
        return Connection.CONNECTED
    return Connection.UNKNOWN


def _connection_from_tooltip(text: str, selectors: SelectorSet) -> Connection | None:
    # Order matters as for the button: "Connecting to a runtime" also starts with "Connect".
    for key, connection in (
        ("tooltip_connecting", Connection.CONNECTING),
        ("tooltip_connected", Connection.CONNECTED),
        ("tooltip_disconnected", Connection.DISCONNECTED),
    ):
        if text and selectors.text(key).search(text):
            return connection
    return None


def _known(connection: Connection) -> Connection | None:
    return None if connection is Connection.UNKNOWN else connection


def _table(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _layers(facts: Mapping[str, Any]) -> Mapping[str, Any]:
    return _table(facts.get("connection_layers"))


def _connection_from_kernel(kernel: Mapping[str, Any] | None) -> Connection | None:
    if kernel is None:
        return None
    state = kernel.get("state")
    if isinstance(state, str) and state.lower() in KERNEL_STATES:
        mapped = KERNEL_STATES[state.lower()]
        if mapped is Connection.CONNECTED and kernel.get("connected") is False:
            return Connection.CONNECTING
        return mapped
    if kernel.get("connected") is True:
        return Connection.CONNECTED
    return None


def _classify_dialogs(
    facts: Mapping[str, Any], selectors: SelectorSet
) -> tuple[tuple[Dialog, ...], str | None]:
    found: list[Dialog] = []
    unclassified: str | None = None
    if facts.get("captcha") is not None:
        # Anything inside the reCAPTCHA host is a captcha, whatever it says: never clicked.
        found.append(Dialog.CAPTCHA)
    for item in facts.get("dialogs") or ():
        raw = _table(item)
        text = normalise(str(raw.get("text") or raw.get("label") or ""))
        kind = next((d for d in DIALOG_ORDER if selectors.dialog(d.value).search(text)), None)
        if kind is None:
            kind = Dialog.UNKNOWN
            unclassified = unclassified or text[:500] or f"<{raw.get('tag', 'dialog')}> without text"
        if kind not in found:
            found.append(kind)
    return tuple(found), unclassified


def changes(before: Observation | None, after: Observation) -> set[SignalKind]:
    if before is None:
        return {SignalKind.LOADED}
    changed: set[SignalKind] = set()
    if (before.connection, before.connect_text) != (after.connection, after.connect_text):
        changed.add(SignalKind.CONNECTION)
    if (before.dialogs, before.unclassified) != (after.dialogs, after.unclassified):
        changed.add(SignalKind.DIALOG)
    if before.crash_toast != after.crash_toast:
        changed.add(SignalKind.TOAST)
    if before.busy != after.busy:
        changed.add(SignalKind.CELLS)
    if before.signed_in != after.signed_in:
        changed.add(SignalKind.AUTH)
    if before.runtime_id != after.runtime_id:
        changed.add(SignalKind.RUNTIME)
    return changed
