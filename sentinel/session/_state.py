"""Where one notebook stands: the state Enum, its transition table, and why it is blocked or in error."""

from __future__ import annotations

from enum import Enum, StrEnum

from sentinel.errors import IllegalTransitionError


class SessionState(Enum):
    """Where one notebook stands. The values are what ``/status`` and notifications show."""

    # The tab is being opened: page navigation, frontend recognition, observer injection.
    STARTING = "starting"
    # The notebook's page did not load (server unreachable, DNS, HTTP error) or did not look like
    # a notebook yet; the tab is reopened with backoff. Transient: a person hears of it only when
    # it lasts (Settings.notify_after_failures attempts).
    UNREACHABLE = "unreachable"
    # A connect we did not start ourselves is in flight (first connect at start-up, Colab's own
    # restart after a crash, a human clicking Connect): waiting for a runtime.
    CONNECTING = "connecting"
    # A runtime is attached and, when resuming is on, its resume cell was started. Keep-alive runs.
    CONNECTED = "connected"
    # The runtime is gone; the next reconnect is due after the backoff delay.
    DISCONNECTED = "disconnected"
    # We clicked Reconnect (or Connect without GPU); waiting through Connecting/Allocating.
    RECONNECTING = "reconnecting"
    # A fresh runtime is attached; its resume cell (or Run all) is about to start, once no cell runs.
    RESUMING = "resuming"
    # Not now: outside the notebook's active hours, before its start time, or past its longest run.
    # Nothing is done (no keep-alive, no reconnect, no resume). Always has a reason.
    PAUSED = "paused"
    # A human is needed (captcha, signed out, usage limit, too many sessions); nothing is clicked.
    # Always has a BlockedReason.
    BLOCKED = "blocked"
    # The run is done: the resume cell's progress reached its total, or the kit said so
    # (kit.finished()). Keep-alive and reconnects stop (--on-finish idle: Colab reclaims the runtime
    # as it would for anyone; keep: keep-alive goes on; release: the runtime is deleted at once).
    # Remembered across daemon restarts. Left only by stopping.
    FINISHED = "finished"
    # sentinel stopped acting on this notebook until a person changes something (the resume
    # marker is missing, the resume cell cannot be started); the others carry on. Always has an
    # ErrorKind and a message. Left only by stopping.
    ERROR = "error"
    # The daemon stopped this session. Terminal.
    STOPPED = "stopped"

    def __str__(self) -> str:
        return self.value


_S = SessionState

# Every legal move. Anything else is a bug in the policy and raises IllegalTransitionError.
TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    _S.STARTING: frozenset(
        {
            _S.UNREACHABLE,
            _S.FINISHED,
            _S.CONNECTING,
            _S.CONNECTED,
            _S.DISCONNECTED,
            _S.RESUMING,
            _S.BLOCKED,
            _S.ERROR,
            _S.PAUSED,
            _S.STOPPED,
        }
    ),
    # Left by the next open of the tab (which starts over) or by stopping.
    _S.UNREACHABLE: frozenset({_S.STARTING, _S.STOPPED}),
    _S.CONNECTING: frozenset(
        {
            _S.STARTING,
            _S.CONNECTED,
            _S.DISCONNECTED,
            _S.RESUMING,
            _S.BLOCKED,
            _S.ERROR,
            _S.FINISHED,
            _S.PAUSED,
            _S.STOPPED,
        }
    ),
    _S.CONNECTED: frozenset(
        {
            _S.STARTING,
            _S.CONNECTING,
            _S.DISCONNECTED,
            _S.RESUMING,
            _S.BLOCKED,
            _S.FINISHED,
            _S.ERROR,
            _S.PAUSED,
            _S.STOPPED,
        }
    ),
    _S.DISCONNECTED: frozenset(
        {
            _S.STARTING,
            _S.CONNECTING,
            _S.CONNECTED,
            _S.RECONNECTING,
            _S.RESUMING,
            _S.BLOCKED,
            _S.ERROR,
            _S.FINISHED,
            _S.PAUSED,
            _S.STOPPED,
        }
    ),
    _S.RECONNECTING: frozenset(
        {
            _S.STARTING,
            _S.CONNECTED,
            _S.DISCONNECTED,
            _S.RESUMING,
            _S.BLOCKED,
            _S.ERROR,
            _S.FINISHED,
            _S.PAUSED,
            _S.STOPPED,
        }
    ),
    _S.RESUMING: frozenset(
        {
            _S.STARTING,
            _S.CONNECTING,
            _S.CONNECTED,
            _S.DISCONNECTED,
            _S.BLOCKED,
            _S.ERROR,
            _S.FINISHED,
            _S.PAUSED,
            _S.STOPPED,
        }
    ),
    _S.BLOCKED: frozenset(
        {
            _S.STARTING,
            _S.CONNECTING,
            _S.CONNECTED,
            _S.DISCONNECTED,
            _S.RECONNECTING,
            _S.RESUMING,
            _S.ERROR,
            _S.FINISHED,
            _S.PAUSED,
            _S.STOPPED,
        }
    ),
    _S.PAUSED: frozenset(
        {
            _S.STARTING,
            _S.CONNECTING,
            _S.CONNECTED,
            _S.DISCONNECTED,
            _S.RECONNECTING,
            _S.RESUMING,
            _S.BLOCKED,
            _S.FINISHED,
            _S.ERROR,
            _S.STOPPED,
        }
    ),
    _S.FINISHED: frozenset({_S.STOPPED}),
    _S.ERROR: frozenset({_S.STOPPED}),
    _S.STOPPED: frozenset(),
}

# States in which a session is still following its page.
LIVE: frozenset[SessionState] = frozenset(_S) - {_S.STOPPED}


def check_transition(old: SessionState, new: SessionState) -> None:
    """Raise :class:`IllegalTransitionError` unless ``old -> new`` is in the transition table."""
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[old])) or "nothing (it is final)"
        raise IllegalTransitionError(
            f"A session cannot go from {old.value} to {new.value}; from {old.value} it may go to {allowed}."
        )


class BlockedReason(StrEnum):
    """Why a human is needed (state ``blocked``). :mod:`sentinel.notify` keys its advice by these."""

    CAPTCHA = "captcha"
    SIGNED_OUT = "signed_out"
    GPU_LIMIT = "gpu_limit"
    TOO_MANY_SESSIONS = "too_many_sessions"


class ErrorKind(StrEnum):
    """Why sentinel stopped acting on a notebook (state ``error``). :mod:`sentinel.notify` keys its advice by these."""

    # No code cell contains the resume marker.
    RESUME_MARKER_MISSING = "resume_marker_missing"
    # The resume cell (or Run all) could not be started after max_resume_attempts tries.
    RESUME_NOT_STARTED = "resume_not_started"
    # The resume cell ended with an error that running it again will not cure (CUDA out of memory,
    # a SyntaxError, a missing file); Session.diagnosis says what and what to do.
    RUN_FAILED = "run_failed"
    # The resume cell kept failing with retryable errors, max_resume_retries times in one run.
    RETRIES_EXHAUSTED = "retries_exhausted"


__all__ = [
    "LIVE",
    "TRANSITIONS",
    "BlockedReason",
    "ErrorKind",
    "SessionState",
    "check_transition",
]
