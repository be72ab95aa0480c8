"""``next_action``: what doctor says the session would do, checked against the session's real first step."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sentinel.frontends.base import Connection, Dialog, Observation, Signal
from sentinel.frontends.fake import FakeFrontend, FakeNotebook
from sentinel.session import Attached, Session, SessionPolicy, next_action
from sentinel.statestore import StateStore

C, D = Connection, Dialog


class _Tab:
    def __init__(self, frontend: FakeFrontend) -> None:
        self.frontend = frontend
        self.page = object()

    async def open(self, on_signal: Callable[[Signal], None]) -> Attached:
        await self.frontend.install(self.page, on_signal)
        return Attached(self.page, self.frontend)

    async def close(self) -> None:
        return None


# (connection, dialogs, signed in, on_gpu_limit) -> doctor's words, and the click the session makes.
CASES = [
    (C.DISCONNECTED, (), True, "wait", "click Connect", ["connect"]),
    (C.CONNECTED, (), True, "wait", "nothing: connected; keep-alive", []),
    (C.CONNECTING, (), True, "wait", "wait: a runtime is connecting", []),
    (
        C.DISCONNECTED,
        (D.RUNTIME_DISCONNECTED,),
        True,
        "wait",
        "click Reconnect (in the 'Runtime disconnected' dialog)",
        ["dialog:runtime_disconnected:reconnect"],
    ),
    (
        C.CONNECTED,
        (D.EXTERNAL_NOTEBOOK,),
        True,
        "wait",
        "answer 'Run anyway'",
        ["dialog:external_notebook:run_anyway"],
    ),
    (C.CONNECTED, (D.STILL_THERE,), True, "wait", "answer 'Yes'", ["dialog:still_there:yes"]),
    (
        C.CONNECTED,
        (D.DRIVE_CONSENT,),
        True,
        "wait",
        "answer 'Connect to Google Drive'",
        ["dialog:drive_consent:connect"],
    ),
    (C.CONNECTED, (D.CREDENTIALS,), True, "wait", "answer 'Allow'", ["dialog:credentials:allow"]),
    (C.CONNECTED, (D.OOM_SWITCH,), True, "wait", "answer 'No'", ["dialog:oom_switch:no"]),
    (C.CONNECTED, (D.CAPTCHA,), True, "wait", "wait: a human is needed (captcha)", []),
    (C.CONNECTED, (D.SIGN_IN_REQUIRED,), True, "wait", "wait: a human is needed (sign in to Google)", []),
    (C.DISCONNECTED, (), False, "wait", "wait: a human is needed (sign in to Google)", []),
    (
        C.DISCONNECTED,
        (D.GPU_LIMIT,),
        True,
        "cpu",
        "answer 'Connect without GPU'",
        ["dialog:gpu_limit:connect_without_gpu"],
    ),
    (
        C.DISCONNECTED,
        (D.GPU_LIMIT,),
        True,
        "wait",
        "answer 'Close'; blocked by the GPU usage limit, retried later",
        ["dialog:gpu_limit:close"],
    ),
    (
        C.DISCONNECTED,
        (D.GPU_LIMIT,),
        True,
        "stop",
        "answer 'Close'; blocked by the GPU usage limit, until a human acts",
        ["dialog:gpu_limit:close"],
    ),
    (
        C.DISCONNECTED,
        (D.TOO_MANY_SESSIONS,),
        True,
        "wait",
        "answer 'Close'; blocked by too many sessions, retried later",
        ["dialog:too_many_sessions:close"],
    ),
    (
        C.CONNECTED,
        (D.UNKNOWN,),
        True,
        "wait",
        "nothing: connected; keep-alive; an unknown dialog is left alone (a debug bundle after 30 s)",
        [],
    ),
    (
        C.DISCONNECTED,
        (D.UNKNOWN,),
        True,
        "wait",
        "wait: an unknown dialog is left alone (a debug bundle after 30 s); no connect past it",
        [],
    ),
    (C.UNKNOWN, (), True, "wait", "wait: the connection state is unknown (a debug bundle after 30 s)", []),
]


@pytest.mark.parametrize(("connection", "dialogs", "signed_in", "on_gpu_limit", "words", "clicks"), CASES)
async def test_next_action_says_what_the_session_does(
    tmp_path: Path,
    connection: Connection,
    dialogs: tuple[Dialog, ...],
    signed_in: bool,
    on_gpu_limit: str,
    words: str,
    clicks: list[str],
) -> None:
    """doctor's words for an observation, and the same page given to a fresh Session: it clicks just that."""

    def notebook() -> FakeNotebook:
        nb = FakeNotebook(connection=connection, dialogs=list(dialogs), signed_in=signed_in)
        if connection is C.CONNECTED:
            nb.runtime_id = "fake-runtime-doctor"
        if D.UNKNOWN in dialogs:
            nb.unclassified = "Something new"
        return nb

    frontend = FakeFrontend(notebook)
    tab = _Tab(frontend)
    observation = frontend.notebook(tab.page).observation()
    assert next_action(observation, on_gpu_limit).text == words  # type: ignore[arg-type]
    with StateStore.open(tmp_path / "state") as store:
        policy = SessionPolicy(on_gpu_limit=on_gpu_limit, resume=False)  # type: ignore[arg-type]
        session = Session("http://127.0.0.1:1/notebooks/nb", tab, store, policy=policy)
        assert await session.open()
        await session.step()
    # The session's first step makes exactly the click doctor announced (or none).
    assert frontend.notebook(tab.page).clicks[:1] == clicks


def test_kinds() -> None:
    assert next_action(Observation(connection=C.DISCONNECTED, connect_text="Reconnect")).kind == "click"
    assert (
        next_action(Observation(connection=C.DISCONNECTED, connect_text="Reconnect")).text
        == "click Reconnect"
    )
    assert next_action(Observation(connection=C.CONNECTED)).kind == "nothing"
    assert next_action(Observation(connection=C.CONNECTED, dialogs=(D.STILL_THERE,))).kind == "answer"
    assert next_action(Observation(connection=C.CONNECTED, dialogs=(D.CAPTCHA,))).kind == "wait"
    assert str(next_action(Observation())) == next_action(Observation()).text
