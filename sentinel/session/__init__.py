"""One notebook's session: the state machine (``_state``), the policy's tunables (``_policy``), what it
needs from outside (``_ports``: Tab, Ledger, hooks), and the Session itself (``_session``)."""

from sentinel.session._policy import Backoff, SessionPolicy
from sentinel.session._ports import Attached, CounterName, Ledger, SessionHooks, Tab
from sentinel.session._session import ConnectAttempt, Counters, RuntimeTracker, Session, UnclassifiedWatch
from sentinel.session._state import (
    LIVE,
    TRANSITIONS,
    BlockedReason,
    ErrorKind,
    SessionState,
    check_transition,
)

__all__ = [
    "LIVE",
    "TRANSITIONS",
    "Attached",
    "Backoff",
    "BlockedReason",
    "ConnectAttempt",
    "CounterName",
    "Counters",
    "ErrorKind",
    "Ledger",
    "RuntimeTracker",
    "Session",
    "SessionHooks",
    "SessionPolicy",
    "SessionState",
    "Tab",
    "UnclassifiedWatch",
    "check_transition",
]
