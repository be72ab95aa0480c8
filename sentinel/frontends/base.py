"""The frontend interface: what the daemon may ask of a notebook page, whoever draws it (Colab, a fake).

A :class:`Frontend` knows one web UI (selectors, texts, page JS). The daemon holds the policy (when to
reconnect, resume or block) and only calls these methods. Everything a frontend reports is an
:class:`Observation` (a classification of the page at one moment), either pulled with
:meth:`Frontend.observe` or pushed inside a :class:`Signal` by the in-page observer that
:meth:`Frontend.install` injects.

A frontend object is stateless with respect to pages: one instance serves every tab, and each
method takes the page it acts on.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import Page


class Connection(StrEnum):
    """Whether the notebook page is attached to a runtime."""

    # The connect button shows resource meters (or is empty) and the kernel reports connected.
    CONNECTED = "connected"
    # Connecting / Allocating / Initializing / Resuming: a connect is in flight, wait for it.
    CONNECTING = "connecting"
    # Connect / Connect T4 / Reconnect: no runtime; clicking connects one.
    DISCONNECTED = "disconnected"
    # No connect button, or a text we do not know.
    UNKNOWN = "unknown"


class Dialog(StrEnum):
    """Every dialog (and dialog-like overlay) the daemon distinguishes. Values match the emulator's event names."""

    RUNTIME_DISCONNECTED = "runtime_disconnected"
    EXTERNAL_NOTEBOOK = "external_notebook"
    DRIVE_CONSENT = "drive_consent"
    CREDENTIALS = "credentials"
    GPU_LIMIT = "gpu_limit"
    TOO_MANY_SESSIONS = "too_many_sessions"
    SIGN_IN_REQUIRED = "sign_in_required"
    STILL_THERE = "still_there"
    CAPTCHA = "captcha"
    OOM_SWITCH = "oom_switch"
    # An open dialog whose text matches none of the above; Observation.unclassified holds its text.
    UNKNOWN = "unknown"


class Action(StrEnum):
    """A button the daemon may ask a frontend to press in a dialog (see :data:`ALLOWED_ACTIONS`)."""

    RECONNECT = "reconnect"
    CLOSE = "close"
    RUN_ANYWAY = "run_anyway"
    CANCEL = "cancel"
    CONNECT = "connect"
    ALLOW = "allow"
    NO_THANKS = "no_thanks"
    YES = "yes"
    NO = "no"
    CONNECT_WITHOUT_GPU = "connect_without_gpu"


# Dialogs a human must handle. A frontend never clicks anything in them: clicking a captcha or
# "Sign in" from an automated browser is exactly what gets accounts flagged.
HUMAN_ONLY: frozenset[Dialog] = frozenset({Dialog.CAPTCHA, Dialog.SIGN_IN_REQUIRED})

# What Frontend.answer accepts per dialog; anything else raises ValueError before touching the page.
ALLOWED_ACTIONS: Mapping[Dialog, frozenset[Action]] = {
    Dialog.RUNTIME_DISCONNECTED: frozenset({Action.RECONNECT, Action.CLOSE}),
    Dialog.EXTERNAL_NOTEBOOK: frozenset({Action.RUN_ANYWAY, Action.CANCEL}),
    Dialog.DRIVE_CONSENT: frozenset({Action.CONNECT, Action.NO_THANKS}),
    Dialog.CREDENTIALS: frozenset({Action.ALLOW, Action.NO_THANKS}),
    Dialog.GPU_LIMIT: frozenset({Action.CONNECT_WITHOUT_GPU, Action.CLOSE}),
    Dialog.TOO_MANY_SESSIONS: frozenset({Action.CLOSE}),
    Dialog.STILL_THERE: frozenset({Action.YES}),
    Dialog.OOM_SWITCH: frozenset({Action.YES, Action.NO}),
    Dialog.SIGN_IN_REQUIRED: frozenset(),
    Dialog.CAPTCHA: frozenset(),
    Dialog.UNKNOWN: frozenset(),
}


def check_action(dialog: Dialog, action: Action) -> None:
    """Raise ValueError unless ``action`` is a button sentinel may press in ``dialog``."""
    if dialog in HUMAN_ONLY:
        raise ValueError(f"{dialog} needs a human; sentinel never clicks in it")
    if action not in ALLOWED_ACTIONS[dialog]:
        allowed = ", ".join(sorted(ALLOWED_ACTIONS[dialog])) or "nothing"
        raise ValueError(f"{action!r} is not an answer to {dialog}; allowed: {allowed}")


@dataclass(frozen=True, slots=True)
class Observation:
    """One classification of a notebook page.

    Attributes:
        connection: the runtime connection as the page shows it.
        connect_text: the connect button's visible text ('' when it shows resource meters).
        dialogs: the open dialogs, outermost first; empty when none.
        signed_in: False when the page shows a "Sign in" link, True when it shows the account,
            None when neither is visible.
        busy: a cell is running or queued.
        runtime_id: the runtime's identity (Colab's ``kernel.endpoint.managedId``) when readable;
            it changes with every fresh runtime, crash restarts included.
        crash_toast: the text of a visible "Your session crashed..." toast.
        unclassified: the text of an open dialog that matched no known dialog (first 500 chars).
        taken_at: when the page was read, in this process's ``time.monotonic()`` seconds: for a poll,
            when the read started (the page was read just after); for a pushed report, when it was
            classified (the page was read just before). The session never lets an observation
            override one it acted on whose ``taken_at`` is later. Not part of equality.
    """

    connection: Connection = Connection.UNKNOWN
    connect_text: str = ""
    dialogs: tuple[Dialog, ...] = ()
    signed_in: bool | None = None
    busy: bool = False
    runtime_id: str | None = None
    crash_toast: str | None = None
    unclassified: str | None = None
    taken_at: float = field(default_factory=time.monotonic, compare=False, repr=False)

    @property
    def needs_human(self) -> Dialog | None:
        """The first open dialog only a human may handle (captcha, sign-in), else None."""
        return next((d for d in self.dialogs if d in HUMAN_ONLY), None)

    def as_dict(self) -> dict[str, object]:
        """The observation as plain JSON-able values (enums as their strings)."""
        return {
            "connection": str(self.connection),
            "connect_text": self.connect_text,
            "dialogs": [str(d) for d in self.dialogs],
            "signed_in": self.signed_in,
            "busy": self.busy,
            "runtime_id": self.runtime_id,
            "crash_toast": self.crash_toast,
            "unclassified": self.unclassified,
        }


@dataclass(frozen=True, slots=True)
class SelectorReport:
    """What one ``css`` key of a frontend's selectors matched on the page (for ``sentinel doctor``).

    Attributes:
        key: the key (``connect_button``, ``dialog``, ...).
        count: elements the key matched (its alternatives together, each element once).
        visible: how many of those draw a box (counted among the first 50).
        text: the first match's visible text, trimmed to 120 characters ('' when nothing matched).
        alternatives: each alternative selector with the number of elements it matched alone.
    """

    key: str
    count: int
    visible: int = 0
    text: str = ""
    alternatives: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class DialogReport:
    """Whether an open dialog matched one dialog kind's patterns.

    Attributes:
        dialog: the kind.
        patterns: its regular expressions (the ``dialogs`` table), in order.
        matched: the text of the open dialog the patterns matched (trimmed), or None.
    """

    dialog: Dialog
    patterns: tuple[str, ...]
    matched: str | None = None


@dataclass(frozen=True, slots=True)
class LayerVerdict:
    """One detection layer's reading of the connection.

    Attributes:
        layer: what was read (e.g. ``connect button text``, ``kernel state``).
        connection: its verdict; None when it saw nothing it can read (the page does not offer it).
        evidence: what it saw (the text, the state), for people.
    """

    layer: str
    connection: Connection | None
    evidence: str


@dataclass(frozen=True, slots=True)
class PageProbe:
    """Everything a frontend reads on a page, laid out for ``sentinel doctor``: nothing is clicked.

    Attributes:
        url: the page's address.
        selectors: one report per ``css`` key.
        dialogs: one report per known dialog kind.
        open_dialogs: the visible text of each open dialog, outermost first.
        layers: each connection-detection layer's verdict.
        facts: the raw facts the observation was classified from (JSON-able).
        observation: the classified page.
    """

    url: str
    selectors: tuple[SelectorReport, ...]
    dialogs: tuple[DialogReport, ...]
    open_dialogs: tuple[str, ...]
    layers: tuple[LayerVerdict, ...]
    facts: Mapping[str, object]
    observation: Observation


class SignalKind(StrEnum):
    """What changed on the page between two observer reports."""

    # The observer (re)started: first report after install or after a reload/navigation.
    LOADED = "loaded"
    CONNECTION = "connection"
    DIALOG = "dialog"
    TOAST = "toast"
    CELLS = "cells"
    AUTH = "auth"
    RUNTIME = "runtime"


@dataclass(frozen=True, slots=True)
class Signal:
    """A report pushed by the in-page observer within milliseconds of a change.

    Attributes:
        changed: what differs from the previous report (``{LOADED}`` on the first one).
        observation: the page classified at ``page_time``.
        page_time: the page's clock (``Date.now()/1000``) when it noticed the change, in seconds.
        received_at: this process's ``time.time()`` when the report arrived.
    """

    changed: frozenset[SignalKind]
    observation: Observation
    page_time: float
    received_at: float = field(default_factory=time.time)


SignalHandler = Callable[[Signal], Awaitable[None] | None]
"""What :meth:`Frontend.install` calls for each Signal; may be sync or async. Its errors are logged, not raised."""


class Frontend(ABC):
    """One notebook web UI. Methods act on the given page; none of them holds per-page state.

    Every method translates browser failures into :mod:`sentinel.errors`: :class:`BrowserError` when
    the page or browser is gone, :class:`SelectorNotFoundError` when an expected element is missing,
    :class:`FrontendError` for everything else about the page.
    """

    name: str

    @abstractmethod
    async def matches(self, page: Page) -> bool:
        """Whether the loaded page is this frontend, judged by its DOM (never by host name)."""

    @abstractmethod
    async def install(self, page: Page, on_signal: SignalHandler) -> None:
        """Inject the change observer into ``page``; it survives reloads. Call once per page.

        ``on_signal`` receives a :class:`Signal` (``changed == {LOADED}`` first) whenever the
        classification changes.
        """

    @abstractmethod
    async def observe(self, page: Page) -> Observation:
        """Classify the page now (for the safety poll and start-up)."""

    @abstractmethod
    async def keepalive(self, page: Page) -> None:
        """Produce harmless trusted input that resets the client-side idle timer.

        Never clicks a control that changes state, never opens a menu, never leaves focus in an editor.
        """

    @abstractmethod
    async def reconnect(self, page: Page) -> None:
        """Ask for a runtime: Reconnect in the disconnect dialog if open, else the Connect/Reconnect button.

        Raises:
            FrontendError: the page shows a runtime as connected or connecting (nothing to click).
        """

    @abstractmethod
    async def answer(self, page: Page, dialog: Dialog, action: Action) -> None:
        """Press ``action`` in the open ``dialog`` (waits for a disabled button to enable).

        Raises:
            ValueError: ``action`` is not in ``ALLOWED_ACTIONS[dialog]`` (always for captcha and sign-in).
            SelectorNotFoundError: the dialog or its button is not on the page.
        """

    @abstractmethod
    async def complete_oauth_popup(self, popup: Page) -> None:
        """Finish a Google consent popup: account tile, "Select all" if shown, then Continue/Allow.

        Returns when the popup has closed itself.
        """

    @abstractmethod
    async def run_cell_with_marker(self, page: Page, marker: str) -> str:
        """Run the first code cell whose source contains ``marker`` and return its cell id.

        Raises:
            ResumeMarkerNotFoundError: no code cell contains ``marker``.
            FrontendError: a cell is running or queued (a resume must never queue behind work).
        """

    @abstractmethod
    async def run_all(self, page: Page) -> None:
        """Run every cell (Colab's Runtime > Run all). Does not answer the dialogs that may follow."""

    @abstractmethod
    async def restart_runtime(self, page: Page) -> None:
        """Restart the session (Colab's Runtime > Restart session): a fresh process, all state gone.

        Raises:
            FrontendError: no runtime is connected, or the command could not be given.
        """

    @abstractmethod
    async def release_runtime(self, page: Page) -> None:
        """Give the runtime back now (Colab's Runtime > Disconnect and delete runtime, confirmed).

        Only when the user asked for it (``--on-finish release``): it deletes the runtime's files.

        Raises:
            FrontendError: no runtime is connected, or the command could not be given.
        """

    @abstractmethod
    async def cell_output(self, page: Page, cell_id: str) -> str:
        """The text output of cell ``cell_id`` (stdout and stderr as shown).

        Raises:
            SelectorNotFoundError: there is no cell with that id.
        """

    @abstractmethod
    async def probe(self, page: Page) -> PageProbe:
        """Read the page for diagnosis: what each selector matches, each dialog pattern, each layer.

        Never clicks or types anything.
        """

    @abstractmethod
    async def debug_bundle(self, page: Page, directory: Path) -> Path:
        """Write a screenshot and a DOM snapshot (open shadow roots included) under ``directory``.

        Returns the folder holding them (created 0700, unique per call; its files 0600: they may show
        the account's e-mail).
        """
