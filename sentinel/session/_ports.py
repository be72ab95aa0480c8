"""What a session needs from outside, as interfaces: its page (Tab), its durable memory (Ledger), its listeners (hooks).

The daemon implements them with Playwright (:class:`~sentinel.browser.BrowserTab`), the state store
and the alert policy; the unit tests with fakes. A session never sees Playwright.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sentinel.frontends.base import Frontend, Signal

# The names of Counters' fields.
CounterName = Literal[
    "reconnects", "reconnect_attempts", "resumes", "crashes", "keepalives", "dialogs_answered", "page_reopens"
]

if TYPE_CHECKING:
    from sentinel.diagnosis import Diagnosis
    from sentinel.session._session import Session
    from sentinel.session._state import SessionState


@dataclass(frozen=True, slots=True)
class Attached:
    """A notebook page that is loaded, recognised and observed: what :meth:`Tab.open` returns."""

    page: Any
    frontend: Frontend


class Tab(Protocol):
    """How a session gets its page. The daemon implements it with Playwright; tests with a fake."""

    async def open(self, on_signal: Callable[[Signal], None]) -> Attached:
        """(Re)open the notebook: a fresh page, navigated, recognised, with the observer installed.

        Raises:
            NotebookUnreachableError: the URL did not load (refused, DNS, HTTP error status).
            FrontendError: the page loaded but no known frontend recognises it.
            BrowserError: the browser is gone (the daemon is relaunching it).
        """
        ...

    async def close(self) -> None:
        """Close the page, if any. Never raises."""
        ...


class Ledger(Protocol):
    """Durable memory of resumed runtimes and counters (:class:`sentinel.statestore.StateStore`)."""

    def was_resumed(self, url: str, runtime_id: str) -> bool: ...

    def mark_resumed(self, url: str, runtime_id: str) -> object: ...

    def bump(self, url: str, counter: Literal["resumes", "reconnects"]) -> int: ...

    def set_state(self, url: str, state: str) -> None: ...

    def mark_finished(self, url: str, summary: str) -> None: ...

    def finished(self, url: str) -> str | None: ...


class SessionHooks:
    """What happens to a session, for notifications, metrics and the status page. Defaults do nothing.

    The session awaits each hook; an exception in a hook is logged and never stops the session.
    """

    async def state_changed(self, session: Session, old: SessionState, new: SessionState) -> None:
        """``session`` moved from ``old`` to ``new`` (``session.blocked_reason``/``last_error`` say why)."""

    async def reconnect_failed(self, session: Session, error: str) -> None:
        """A reconnect attempt failed; ``session.failures`` counts them in a row."""

    async def reconnect_succeeded(self, session: Session) -> None:
        """A reconnect we made ended with a connected runtime."""

    async def resumed(self, session: Session, runtime_id: str, cell_id: str | None) -> None:
        """The resume cell (``cell_id``; None for Run all) was started in ``runtime_id``."""

    async def finished(self, session: Session, summary: str) -> None:
        """The run finished (``summary``: "step 5000/5000 in 3 h 12 min"); told once per run."""

    async def run_failed(self, session: Session, diagnosis: Diagnosis, retry: int | None) -> None:
        """The resume cell ended with ``diagnosis``; ``retry`` is the retry about to be made (1, 2, ...)
        or None when the run is given up (the session is then in ``error``)."""

    async def open_failed(self, session: Session, error: str) -> None:
        """The notebook's page did not load or was not recognised (the session is ``unreachable``)."""

    async def unclassified(self, session: Session, bundle: Path | None, detail: str) -> None:
        """The page stayed unclassifiable for ``unclassified_after`` s; ``bundle`` holds the evidence."""

    def counted(self, session: Session, counter: CounterName) -> None:
        """``session.counters.<counter>`` went up by one (for ``/metrics``). Must not block."""

    def signal_received(self, session: Session, signal: Signal) -> None:
        """The in-page observer reported a change (for the detection latency metric). Must not block."""


__all__ = ["Attached", "CounterName", "Ledger", "SessionHooks", "Tab"]
