"""When a human hears what: the alert policy, pure apart from its clock.

The daemon feeds :class:`AlertPolicy` what happens to each notebook (state changes, failed
reconnects, pages that do not load, a periodic ``tick``); the policy answers with :class:`Alert` s,
which the daemon hands to :meth:`sentinel.notify.Notifier.send_alert`. Every rule is tested without
a network. What to do about a blocked or failed notebook is keyed by its cause (:data:`ADVICE`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs, urlsplit

from sentinel.notify import Level
from sentinel.progress import format_duration
from sentinel.session._state import BlockedReason, ErrorKind
from sentinel.urls import mask_url

if TYPE_CHECKING:
    from sentinel.config import Settings

# Session states (sentinel.session's enum values) as the policy sees them.
BLOCKED: Final = "blocked"
ERROR: Final = "error"
NEEDS_HUMAN: Final = frozenset({BLOCKED, ERROR})
HEALTHY: Final = frozenset({"connected"})


class AlertKind(StrEnum):
    """Why an :class:`Alert` was raised."""

    BLOCKED = "blocked"
    ERROR = "error"
    FAILING = "failing"
    UNRECOGNISED = "unrecognised"
    FINISHED = "finished"
    STALLED = "stalled"
    REMINDER = "reminder"
    RECOVERED = "recovered"


@dataclass(frozen=True, slots=True)
class Alert:
    """A message the policy wants sent.

    Attributes:
        kind: which rule raised it.
        url: the notebook it is about.
        title: one short line (push notification title).
        body: what happened, since when, and what the human must do.
        level: how loud.
    """

    kind: AlertKind
    url: str
    title: str
    body: str
    level: Level

    def __post_init__(self) -> None:
        # An error text can quote the notebook's URL, with a Jupyter server's ?token=: never sent.
        object.__setattr__(self, "title", mask_url(self.title))
        object.__setattr__(self, "body", mask_url(self.body))


@dataclass(slots=True)
class _Notebook:
    state: str = "starting"
    reason: str | None = None
    action: str | None = None
    # Consecutive failed reconnects; reset by a success or a healthy state.
    failures: int = 0
    # An incident is open from the first alert until the notebook is healthy again.
    incident_since: float | None = None
    last_sent: float | None = None
    reminders: int = 0
    # The failures are pages that did not load (not reconnects that did not work).
    unreachable: bool = False


# What the human must do, by why the notebook is blocked or in error. The session always names a
# cause (the state machine checks it), so no message is ever parsed for advice.
ADVICE: Final[Mapping[BlockedReason | ErrorKind, str]] = {
    BlockedReason.CAPTCHA: (
        "Open the notebook in sentinel's browser and solve the reCAPTCHA by hand; sentinel never clicks it."
    ),
    BlockedReason.SIGNED_OUT: "Run `sentinel login` and sign in to Google again; sentinel never types passwords.",
    BlockedReason.GPU_LIMIT: (
        "Wait for Colab's GPU quota to reset (sentinel retries), or restart with --on-gpu-limit cpu."
    ),
    BlockedReason.TOO_MANY_SESSIONS: (
        "Close other Colab sessions (Runtime > Manage sessions); sentinel retries afterwards."
    ),
    ErrorKind.RESUME_MARKER_MISSING: (
        "Add a code cell containing the resume marker to the notebook, or run with --no-resume."
    ),
    ErrorKind.RUN_FAILED: "Read the resume cell's error in the notebook, fix it, and start the run again.",
    ErrorKind.RETRIES_EXHAUSTED: (
        "The resume cell kept failing; read its error in the notebook, fix it, and start the run again."
    ),
    ErrorKind.RESUME_NOT_STARTED: (
        "Open the notebook in sentinel's browser and check why its resume cell does not start; "
        "then restart sentinel."
    ),
}
GENERIC_ADVICE: Final = (
    "Open the notebook in sentinel's browser profile and resolve it; sentinel keeps retrying."
)


def advice(cause: BlockedReason | ErrorKind | None) -> str:
    """What a human should do about ``cause``, in one sentence."""
    return ADVICE.get(cause, GENERIC_ADVICE) if cause is not None else GENERIC_ADVICE


class AlertPolicy:
    """Decides when to notify; pure apart from the injected clock.

    Rules:
        * entering ``blocked`` or ``error`` (or a new reason while in it) alerts at once;
        * ``after_failures`` consecutive failed reconnects alert once;
        * while a notebook still needs a human (blocked, error, or still failing), :meth:`tick`
          repeats the alert every ``repeat_interval`` seconds, louder (0 disables reminders);
        * the first healthy state (``connected``) after any alert sends a recovery message.

    Args:
        after_failures: consecutive failed reconnects that make an alert.
        repeat_interval: seconds between reminders; 0 for none.
        clock: monotonic seconds; inject a fake in tests.
    """

    def __init__(
        self,
        *,
        after_failures: int = 3,
        repeat_interval: float = 1800.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if after_failures < 1:
            raise ValueError("after_failures must be at least 1")
        if repeat_interval < 0:
            raise ValueError("repeat_interval must not be negative")
        self._after_failures = after_failures
        self._repeat_interval = repeat_interval
        self._clock = clock or time.monotonic
        self._notebooks: dict[str, _Notebook] = {}
        self.names: dict[str, str] = {}

    def name(self, url: str) -> str:
        """What messages call the notebook: its configured ``name``, else one made from its URL."""
        return self.names.get(url) or notebook_name(url)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], float] | None = None) -> AlertPolicy:
        """The policy for ``settings.notify_after_failures`` and ``settings.notify_repeat_interval``."""
        return cls(
            after_failures=settings.notify_after_failures,
            repeat_interval=settings.notify_repeat_interval,
            clock=clock,
        )

    def state_changed(
        self,
        url: str,
        state: str | Enum,
        *,
        reason: str | None = None,
        cause: BlockedReason | ErrorKind | None = None,
        action: str | None = None,
    ) -> list[Alert]:
        """The notebook at ``url`` is now in ``state``.

        Args:
            url: the notebook.
            state: the session state (its enum or the enum's value, e.g. ``"blocked"``).
            reason: for blocked/error: why, in words (default: the cause's value).
            cause: for blocked/error: the blocked reason or error kind; picks the advice.
            action: what the human must do; default: :func:`advice` for ``cause``.
        """
        name = _state_name(state)
        nb = self._notebook(url)
        previous, previous_reason = nb.state, nb.reason
        nb.state = name
        if name in NEEDS_HUMAN:
            reason = reason or (cause.value if cause is not None else None)
            nb.reason, nb.action = reason, action or advice(cause)
            if previous != name or previous_reason != reason:
                return [self._open(url, nb, AlertKind(name))]
            return []
        nb.reason = nb.action = None
        if name in HEALTHY:
            nb.failures = 0
            nb.unreachable = False
            return self._recover(url, nb)
        return []

    def reconnect_failed(self, url: str, *, error: str | None = None) -> list[Alert]:
        """A reconnect attempt for ``url`` failed; alerts when the failures reach the threshold."""
        nb = self._notebook(url)
        nb.failures += 1
        if nb.failures == self._after_failures:
            nb.reason = error
            return [self._open(url, nb, AlertKind.FAILING)]
        return []

    def unreachable(self, url: str, *, error: str | None = None) -> list[Alert]:
        """The page of ``url`` did not load again; alerts when the failures in a row reach the threshold."""
        nb = self._notebook(url)
        nb.failures += 1
        nb.unreachable = True
        if nb.failures == self._after_failures:
            nb.reason = error
            return [self._open(url, nb, AlertKind.FAILING)]
        return []

    def reconnect_succeeded(self, url: str) -> list[Alert]:
        """A reconnect for ``url`` worked; the failure count starts over (recovery waits for ``connected``)."""
        self._notebook(url).failures = 0
        return []

    def unclassified(self, url: str, detail: str, bundle: Path | None, *, seconds: float) -> list[Alert]:
        """The page of ``url`` has shown something nobody recognises for ``seconds``: one warning, with the bundle."""
        where = f"\nDebug bundle: {bundle}" if bundle else ""
        title = f"sentinel: {self.name(url)} shows something sentinel does not recognise"
        body = f"{url}\nFor {seconds:g} s the page has shown: {detail[:300]}{where}"
        return [Alert(AlertKind.UNRECOGNISED, url, title, body, Level.WARNING)]

    def finished(self, url: str, summary: str) -> list[Alert]:
        """The run of ``url`` finished: one message (sentinel lets the runtime go, or keeps it)."""
        title = f"sentinel: {self.name(url)} finished"
        body = f"{url}\nFinished: {summary}."
        return [Alert(AlertKind.FINISHED, url, title, body, Level.SUCCESS)]

    def stalled(self, url: str, progress: str, seconds: float) -> list[Alert]:
        """The run of ``url`` is running but has not advanced for ``seconds``: one warning, nothing interrupted."""
        title = f"sentinel: {self.name(url)} has made no progress for {format_duration(seconds)}"
        body = (
            f"{url}\nThe resume cell is still running; its last progress line: {progress}.\n"
            "sentinel interrupts nothing: look at the notebook (a hung data loader, a deadlock, a full disk)."
        )
        return [Alert(AlertKind.STALLED, url, title, body, Level.WARNING)]

    def forget(self, url: str) -> None:
        """Stop tracking ``url`` (the notebook was removed)."""
        self._notebooks.pop(url, None)

    def tick(self) -> list[Alert]:
        """Reminders that are due; call it periodically (every few seconds is plenty)."""
        if self._repeat_interval == 0:
            return []
        now = self._clock()
        due: list[Alert] = []
        for url, nb in self._notebooks.items():
            still_bad = nb.state in NEEDS_HUMAN or nb.failures >= self._after_failures
            if (
                still_bad
                and nb.incident_since is not None
                and nb.last_sent is not None
                and now - nb.last_sent >= self._repeat_interval
            ):
                nb.reminders += 1
                nb.last_sent = now
                due.append(self._reminder(url, nb, now))
        return due

    def _notebook(self, url: str) -> _Notebook:
        return self._notebooks.setdefault(url, _Notebook())

    def _open(self, url: str, nb: _Notebook, kind: AlertKind) -> Alert:
        now = self._clock()
        if nb.incident_since is None:
            nb.incident_since = now
        nb.last_sent = now
        nb.reminders = 0
        name = self.name(url)
        if kind is AlertKind.FAILING and nb.unreachable:
            title = f"sentinel: {name} did not load {nb.failures} times"
            detail = f"Last error: {nb.reason}." if nb.reason else ""
            body = f"{url}\nThe notebook's page did not load {nb.failures} times in a row; sentinel keeps retrying with backoff. {detail}"
            return Alert(kind, url, title, body.rstrip(), Level.WARNING)
        if kind is AlertKind.FAILING:
            title = f"sentinel: {name} failed to reconnect {nb.failures} times"
            detail = f"Last error: {nb.reason}." if nb.reason else "sentinel keeps retrying with backoff."
            body = f"{url}\n{nb.failures} reconnect attempts in a row failed. {detail}"
            return Alert(kind, url, title, body, Level.WARNING)
        what = "is blocked" if kind is AlertKind.BLOCKED else "stopped with an error"
        title = f"sentinel: {name} {what}"
        body = f"{url}\nReason: {nb.reason or 'unknown'}.\nWhat to do: {nb.action}"
        return Alert(kind, url, title, body, Level.WARNING if kind is AlertKind.BLOCKED else Level.FAILURE)

    def _reminder(self, url: str, nb: _Notebook, now: float) -> Alert:
        assert nb.incident_since is not None
        name = self.name(url)
        since = format_duration(now - nb.incident_since)
        if nb.state in NEEDS_HUMAN:
            title = f"sentinel: {name} still {nb.state} after {since} (reminder {nb.reminders})"
            body = f"{url}\nReason: {nb.reason or 'unknown'}.\nWhat to do: {nb.action}"
        else:
            title = f"sentinel: {name} still failing after {since} (reminder {nb.reminders})"
            body = f"{url}\n{nb.failures} reconnect attempts in a row failed; sentinel keeps retrying."
        return Alert(AlertKind.REMINDER, url, title, body, Level.FAILURE)

    def _recover(self, url: str, nb: _Notebook) -> list[Alert]:
        if nb.incident_since is None:
            return []
        down = format_duration(self._clock() - nb.incident_since)
        nb.incident_since = nb.last_sent = None
        nb.reminders = 0
        title = f"sentinel: {self.name(url)} is back to normal"
        body = f"{url}\nConnected again after {down}."
        return [Alert(AlertKind.RECOVERED, url, title, body, Level.SUCCESS)]


def _state_name(state: str | Enum) -> str:
    return str(state.value) if isinstance(state, Enum) else state


# Path segments that say where a notebook lives, not which one it is (``/notebook#fileId=ID``).
_PLACE_SEGMENTS: Final = frozenset({"notebook", "notebooks", "drive", "github", "gist", "blob"})


def notebook_name(url: str) -> str:
    """A short, readable name for a notebook URL, whatever its host (colab.research.google.com,
    colab.google.com, the emulator): the file name or Drive id it ends with, else the ``#fileId=``
    of Colab's older addresses, else the host.
    """
    parts = urlsplit(url)
    segment = parts.path.rstrip("/").rsplit("/", 1)[-1]
    file_id = parse_qs(parts.fragment).get("fileId", [""])[0].strip()
    if file_id and (not segment or segment.lower() in _PLACE_SEGMENTS):
        segment = file_id
    name = segment or parts.hostname or url
    return name if len(name) <= 40 else name[:18] + "..." + name[-18:]


__all__ = [
    "ADVICE",
    "GENERIC_ADVICE",
    "Alert",
    "AlertKind",
    "AlertPolicy",
    "advice",
    "notebook_name",
]
