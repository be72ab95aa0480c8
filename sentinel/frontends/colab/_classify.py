"""Pure classification: the page's raw facts (from ``_page.js`` ``collect()``) to an Observation.

No Playwright here: every regular expression that reads Colab's texts is applied in this module,
to a plain dict, so it is tested without a browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sentinel.frontends.base import Connection, Dialog, Observation, SignalKind
from sentinel.frontends.colab._selectors import DEFAULT_SELECTORS, DIALOG_ORDER, KERNEL_STATES
from sentinel.frontends.selectors import SelectorSet, normalise


def classify(facts: Mapping[str, Any], selectors: SelectorSet = DEFAULT_SELECTORS) -> Observation:
    """Turn the page's raw facts (from ``_page.js`` ``collect()``) into an Observation."""
    connect = facts.get("connect") or {}
    connect_text = normalise(str(connect.get("text") or ""))
    by_text = _connection_from_text(bool(connect.get("found")), connect_text, selectors)
    kernel = facts.get("kernel") if isinstance(facts.get("kernel"), dict) else None
    by_kernel = _connection_from_kernel(kernel)
    if by_kernel is None or by_kernel is by_text:
        connection = by_text
    elif by_text is Connection.UNKNOWN:
        connection = by_kernel
    else:
        # Button and kernel disagree: that happens for a moment during every transition. Waiting is
        # the safe reading (never click Connect on a live runtime, never resume a dead one).
        connection = Connection.CONNECTING
    dialogs, unclassified = _classify_dialogs(facts, selectors)
    cells = facts.get("cells") or {}
    busy = any(as_int(cells.get(key)) > 0 for key in ("running", "pending", "dom_busy"))
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
    for raw in facts.get("dialogs") or ():
        text = normalise(str(raw.get("text") or "")) if isinstance(raw, dict) else ""
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
