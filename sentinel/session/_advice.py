"""What a session would do next about one observation, in words (for ``sentinel doctor``).

A pure mirror of the policy in :mod:`sentinel.session._steps` for a page seen for the first time:
no history (no connect attempt in flight, no backoff, no schedule, no ledger of resumed runtimes).
It reads the policy's own answer table, so a dialog the policy learns to answer is advised here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sentinel.frontends.base import Action, Connection, Dialog, Observation
from sentinel.session._steps import _ANSWERS

NextKind = Literal["click", "answer", "wait", "nothing"]

# The label of each button as a person reads it (Colab's English wording).
_LABELS: dict[Action, str] = {
    Action.RECONNECT: "Reconnect",
    Action.CLOSE: "Close",
    Action.RUN_ANYWAY: "Run anyway",
    Action.CANCEL: "Cancel",
    Action.CONNECT: "Connect to Google Drive",
    Action.ALLOW: "Allow",
    Action.NO_THANKS: "No, thanks",
    Action.YES: "Yes",
    Action.NO: "No",
    Action.CONNECT_WITHOUT_GPU: "Connect without GPU",
}

_UNKNOWN_LEFT_ALONE = "an unknown dialog is left alone (a debug bundle after 30 s)"


@dataclass(frozen=True, slots=True)
class NextAction:
    """The session's next move: ``kind`` for scripts, ``text`` for people (e.g. "click Reconnect")."""

    kind: NextKind
    text: str

    def __str__(self) -> str:
        return self.text


def next_action(obs: Observation, on_gpu_limit: Literal["wait", "cpu", "stop"] = "wait") -> NextAction:
    """What :class:`~sentinel.session.Session` would do on ``obs`` first: one click, one answer, or wait."""
    return _for_human(obs) or _for_dialogs(obs, on_gpu_limit) or _for_connection(obs)


def _for_human(obs: Observation) -> NextAction | None:
    if Dialog.CAPTCHA in obs.dialogs:
        return NextAction("wait", "wait: a human is needed (captcha)")
    if Dialog.SIGN_IN_REQUIRED in obs.dialogs or obs.signed_in is False:
        return NextAction("wait", "wait: a human is needed (sign in to Google)")
    return None


def _for_dialogs(obs: Observation, on_gpu_limit: str) -> NextAction | None:
    for dialog in obs.dialogs:
        if dialog is Dialog.GPU_LIMIT:
            if on_gpu_limit == "cpu":
                return _answer(Action.CONNECT_WITHOUT_GPU)
            then = "retried later" if on_gpu_limit == "wait" else "until a human acts"
            return _answer(Action.CLOSE, f"; blocked by the GPU usage limit, {then}")
        if dialog is Dialog.TOO_MANY_SESSIONS:
            return _answer(Action.CLOSE, "; blocked by too many sessions, retried later")
        action = _ANSWERS.get(dialog)
        if action is not None:
            return _answer(action)
    return None


def _for_connection(obs: Observation) -> NextAction:
    unknown = f"; {_UNKNOWN_LEFT_ALONE}" if Dialog.UNKNOWN in obs.dialogs else ""
    if obs.connection is Connection.CONNECTED:
        return NextAction("nothing", "nothing: connected; keep-alive" + unknown)
    if obs.connection is Connection.CONNECTING:
        return NextAction("wait", "wait: a runtime is connecting" + unknown)
    if obs.connection is Connection.DISCONNECTED:
        if Dialog.RUNTIME_DISCONNECTED in obs.dialogs:
            return NextAction("click", "click Reconnect (in the 'Runtime disconnected' dialog)")
        if obs.dialogs:
            return NextAction("wait", f"wait: {_UNKNOWN_LEFT_ALONE}; no connect past it")
        return NextAction("click", f"click {obs.connect_text or 'Connect'}")
    return NextAction("wait", "wait: the connection state is unknown (a debug bundle after 30 s)" + unknown)


def _answer(action: Action, then: str = "") -> NextAction:
    return NextAction("answer", f"answer {_LABELS[action]!r}{then}")


__all__ = ["NextAction", "NextKind", "next_action"]
