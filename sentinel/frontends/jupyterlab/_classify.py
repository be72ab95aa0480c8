"""Pure classification of a JupyterLab / Notebook 7 page's raw facts (``_page.js``'s ``collect()``).

Two witnesses of the kernel: the page (the toolbar's kernel name and execution indicator, the kernel
websocket's messages) and the server (jupyter_server's ``/api/sessions``, read by the page with its own
cookie). A kernel is CONNECTED when the server lists it for this notebook and the page holds an open
websocket to it on which the kernel process has spoken. The runtime's identity is the kernel id plus
that process's own session id: a kernel the server restarts after a death keeps its id, but is a new
process with a new session (a fresh runtime).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sentinel.frontends.base import Connection, Dialog, Observation, SignalKind
from sentinel.frontends.selectors import SelectorSet


def _dialogs(facts: Mapping[str, Any], selectors: SelectorSet) -> tuple[tuple[Dialog, ...], str | None]:
    found: list[Dialog] = []
    unclassified: str | None = None
    for dialog in facts.get("dialogs") or ():
        if not isinstance(dialog, Mapping):
            continue
        header, body = str(dialog.get("header") or ""), str(dialog.get("text") or "")
        if selectors.dialog("select_kernel").search(header) or selectors.dialog(
            "runtime_disconnected"
        ).search(f"{header} {body}"):
            found.append(Dialog.RUNTIME_DISCONNECTED)
        else:
            found.append(Dialog.UNKNOWN)
            unclassified = unclassified or body[:500]
    return tuple(found), unclassified


def kernel_of(facts: Mapping[str, Any]) -> tuple[str | None, str | None, bool]:
    """The notebook's kernel id (as the server lists it), its process's session id, whether its socket is open."""
    rest = facts.get("rest") or {}
    kernel_id = rest.get("kernel_id") if isinstance(rest, Mapping) else None
    sockets = facts.get("sockets") or {}
    socket = sockets.get(kernel_id) if isinstance(kernel_id, str) and isinstance(sockets, Mapping) else None
    if not isinstance(socket, Mapping):
        return (kernel_id if isinstance(kernel_id, str) else None), None, False
    session = socket.get("session")
    return kernel_id, (session if isinstance(session, str) and session else None), bool(socket.get("open"))


def busy_of(facts: Mapping[str, Any], selectors: SelectorSet) -> bool:
    """A cell is running or queued: a ``[*]`` prompt, or the kernel busy by the indicator or the server."""
    running = selectors.text("running_prompt")
    if any(running.search(str(prompt)) for prompt in facts.get("running") or ()):
        return True
    rest = facts.get("rest") or {}
    if isinstance(rest, Mapping) and rest.get("state") == "busy":
        return True
    return bool(selectors.text("indicator_busy").search(str(facts.get("indicator") or "")))


def connection_of(  # noqa: PLR0911 - one return per witnessed case reads best
    facts: Mapping[str, Any], selectors: SelectorSet, dialogs: tuple[Dialog, ...]
) -> Connection:
    """The kernel connection as the two witnesses show it (see the module docstring)."""
    if not facts.get("panel"):
        return Connection.UNKNOWN
    if Dialog.RUNTIME_DISCONNECTED in dialogs:
        return Connection.DISCONNECTED
    rest = facts.get("rest") or {}
    rest_ok = isinstance(rest, Mapping) and rest.get("ok") is True
    if isinstance(rest, Mapping) and rest.get("ok") is False:
        # The server does not answer (restarting, a network blip): wait for it, touch nothing.
        return Connection.CONNECTING
    kernel_id, session, socket_open = kernel_of(facts)
    indicator = str(facts.get("indicator") or "")
    no_kernel = bool(selectors.text("no_kernel").search(str(facts.get("kernel_name") or "")))
    gone = bool(selectors.text("indicator_disconnected").search(indicator))
    if rest_ok and kernel_id is None:
        # The server lists no kernel for this notebook (culled, shut down). A freshly loaded page
        # shows "No Kernel" with an idle indicator before its session exists: that one is on its way.
        return Connection.DISCONNECTED if gone or not no_kernel else Connection.CONNECTING
    if isinstance(rest, Mapping) and rest.get("state") == "dead":
        return Connection.DISCONNECTED
    if kernel_id is not None and session is not None and socket_open and not no_kernel:
        return Connection.CONNECTED
    if gone and not socket_open:
        return Connection.DISCONNECTED
    return Connection.CONNECTING


def page_connection(facts: Mapping[str, Any], selectors: SelectorSet) -> Connection | None:
    """The page's own witness alone (the toolbar's kernel name and execution indicator), for ``doctor``."""
    if not facts.get("panel"):
        return None
    indicator = str(facts.get("indicator") or "")
    no_kernel = bool(selectors.text("no_kernel").search(str(facts.get("kernel_name") or "")))
    if selectors.text("indicator_disconnected").search(indicator):
        return Connection.DISCONNECTED
    if no_kernel or selectors.text("indicator_connecting").search(indicator):
        return Connection.CONNECTING
    return Connection.CONNECTED if indicator in ("idle", "busy") else None


def classify(facts: Mapping[str, Any], selectors: SelectorSet) -> Observation:
    """One Observation from the page's facts."""
    if facts.get("login"):
        # Token expired or wrong, signed out of the hub: a person signs in; sentinel types nothing.
        return Observation(signed_in=False)
    dialogs, unclassified = _dialogs(facts, selectors)
    connection = connection_of(facts, selectors, dialogs)
    kernel_id, session, _ = kernel_of(facts)
    runtime_id = f"{kernel_id}/{session}" if connection is Connection.CONNECTED else None
    return Observation(
        connection=connection,
        connect_text=str(facts.get("kernel_name") or ""),
        dialogs=dialogs,
        signed_in=True if facts.get("panel") else None,
        busy=busy_of(facts, selectors),
        runtime_id=runtime_id,
        unclassified=unclassified,
    )


def changes(previous: Observation | None, current: Observation) -> set[SignalKind]:
    """What differs between two observations, as signal kinds."""
    if previous is None:
        return {SignalKind.LOADED}
    changed: set[SignalKind] = set()
    if previous.connection is not current.connection or previous.connect_text != current.connect_text:
        changed.add(SignalKind.CONNECTION)
    if previous.dialogs != current.dialogs or previous.unclassified != current.unclassified:
        changed.add(SignalKind.DIALOG)
    if previous.busy != current.busy:
        changed.add(SignalKind.CELLS)
    if previous.signed_in != current.signed_in:
        changed.add(SignalKind.AUTH)
    if previous.runtime_id != current.runtime_id:
        changed.add(SignalKind.RUNTIME)
    return changed
