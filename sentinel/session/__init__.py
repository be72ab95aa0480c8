"""One notebook's session.

* ``_state``: the state Enum, its transition table, blocked reasons and error kinds;
* ``_policy``: the policy's tunables and the backoff;
* ``_ports``: what a session needs from outside (Tab, Ledger, hooks), as interfaces;
* ``_tracking``: what it keeps track of between steps (counters, connect attempt, runtime);
* ``_core``: the state and the one checked way to change it;
* ``_steps``: the policy, one observation to at most one action;
* ``_advice``: what the policy would do next about one observation, in words (doctor);
* ``_session``: :class:`Session`, the loop that follows the page.
"""

from sentinel.session._advice import NextAction, next_action
from sentinel.session._policy import Backoff, SessionPolicy
from sentinel.session._ports import Attached, CounterName, Ledger, SessionHooks, Tab
from sentinel.session._session import Session
from sentinel.session._state import (
    LIVE,
    TRANSITIONS,
    BlockedReason,
    ErrorKind,
    SessionState,
    check_transition,
)
from sentinel.session._tracking import ConnectAttempt, Counters, RuntimeTracker, UnclassifiedWatch

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
    "NextAction",
    "RuntimeTracker",
    "Session",
    "SessionHooks",
    "SessionPolicy",
    "SessionState",
    "Tab",
    "UnclassifiedWatch",
    "check_transition",
    "next_action",
]
