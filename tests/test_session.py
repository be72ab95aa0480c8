"""The session state machine and its policy, driven step by step with FakeFrontend and a fake clock."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sentinel.diagnosis import Diagnosis
from sentinel.errors import (
    BrowserError,
    FrontendError,
    IllegalTransitionError,
    NotebookUnreachableError,
    SelectorNotFoundError,
)
from sentinel.frontends.base import Action, Connection, Dialog, Observation, Signal
from sentinel.frontends.fake import FakeFrontend, FakeNotebook
from sentinel.schedule import parse_window
from sentinel.session import (
    TRANSITIONS,
    Attached,
    Backoff,
    BlockedReason,
    ErrorKind,
    Session,
    SessionHooks,
    SessionPolicy,
    SessionState,
    check_transition,
)
from sentinel.statestore import StateStore

S = SessionState
URL = "http://127.0.0.1:1/notebooks/train"
MARKER = "# sentinel: resume"


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeTab:
    """A tab over FakeFrontend: one page object, optionally failing the next opens."""

    def __init__(self, frontend: FakeFrontend) -> None:
        self.frontend = frontend
        self.page = object()
        self.opens = 0
        self.closes = 0
        self.failures: deque[BaseException] = deque()

    async def open(self, on_signal: Callable[[Signal], None]) -> Attached:
        if self.failures:
            raise self.failures.popleft()
        self.opens += 1
        await self.frontend.install(self.page, on_signal)
        return Attached(self.page, self.frontend)

    async def close(self) -> None:
        self.closes += 1


class RecordingHooks(SessionHooks):
    def __init__(self) -> None:
        self.moves: list[tuple[S, S]] = []
        self.failed: list[str] = []
        self.succeeded = 0
        self.resumes: list[tuple[str, str | None]] = []
        self.bundles: list[tuple[Path | None, str]] = []
        self.open_failures: list[str] = []
        self.counts: list[str] = []
        self.finish_summaries: list[str] = []
        self.run_failures: list[tuple[str, int | None]] = []
        self.reasons: list[tuple[S, BlockedReason | None, ErrorKind | None]] = []

    async def state_changed(self, session: Session, old: S, new: S) -> None:
        self.moves.append((old, new))
        self.reasons.append((new, session.blocked_reason, session.error_kind))

    async def reconnect_failed(self, session: Session, error: str) -> None:
        self.failed.append(error)

    async def reconnect_succeeded(self, session: Session) -> None:
        self.succeeded += 1

    async def resumed(self, session: Session, runtime_id: str, cell_id: str | None) -> None:
        self.resumes.append((runtime_id, cell_id))

    async def unclassified(self, session: Session, bundle: Path | None, detail: str) -> None:
        self.bundles.append((bundle, detail))

    async def open_failed(self, session: Session, error: str) -> None:
        self.open_failures.append(error)

    async def finished(self, session: Session, summary: str) -> None:
        self.finish_summaries.append(summary)

    async def run_failed(self, session: Session, diagnosis: Diagnosis, retry: int | None) -> None:
        self.run_failures.append((diagnosis.key, retry))

    def counted(self, session: Session, counter: str) -> None:  # type: ignore[override]
        self.counts.append(counter)


def training_notebook() -> FakeNotebook:
    return FakeNotebook(cells={"setup": "import torch", "resume": f"{MARKER}\ntrain()", "plot": "plot()"})


def already_connected(runtime_id: str, *, busy: bool = False) -> Callable[[], FakeNotebook]:
    """A training notebook whose page already shows ``runtime_id`` connected (busy: a cell runs)."""

    def notebook() -> FakeNotebook:
        nb = training_notebook()
        nb.connection, nb.runtime_id, nb.busy = Connection.CONNECTED, runtime_id, busy
        return nb

    return notebook


@pytest.fixture(name="store")
def _store(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(tmp_path / "state") as store:
        yield store


@pytest.fixture(name="clock")
def _clock() -> FakeClock:
    return FakeClock()


class Harness:
    """A session over one fake notebook, stepped by hand."""

    def __init__(
        self,
        store: StateStore,
        clock: FakeClock,
        tmp_path: Path,
        policy: SessionPolicy,
        notebook: Callable[[], FakeNotebook] = training_notebook,
        url: str = URL,
    ) -> None:
        self.frontend = FakeFrontend(notebook)
        self.tab = FakeTab(self.frontend)
        self.hooks = RecordingHooks()
        self.clock = clock
        self.session = Session(
            url,
            self.tab,
            store,
            policy=policy,
            hooks=self.hooks,
            debug_dir=tmp_path / "debug",
            clock=clock,
            rng=random.Random(7),
        )

    @property
    def nb(self) -> FakeNotebook:
        return self.frontend.notebook(self.tab.page)

    async def start(self) -> None:
        assert await self.session.open()
        await self.session.step()

    async def step(self, times: int = 1) -> None:
        for _ in range(times):
            await self.session.step()

    def calls(self, method: str) -> int:
        return sum(1 for name, _, _ in self.frontend.calls if name == method)


FAST = SessionPolicy(backoff_base=0.001, backoff_cap=0.01, quota_retry=600.0, keepalive_interval=60.0)


@pytest.fixture(name="make")
def _make(store: StateStore, clock: FakeClock, tmp_path: Path) -> Callable[..., Harness]:
    def make(policy: SessionPolicy = FAST, **kwargs: object) -> Harness:
        return Harness(store, clock, tmp_path, policy, **kwargs)  # type: ignore[arg-type]

    return make


class TestTransitionTable:
    def test_every_state_has_a_row(self) -> None:
        """The table names every state, and every target is a state."""
        assert set(TRANSITIONS) == set(SessionState)
        for targets in TRANSITIONS.values():
            assert targets <= set(SessionState)

    def test_stopped_is_final_and_reachable_from_everywhere(self) -> None:
        """Only STOPPED is terminal, and every other state can be stopped."""
        assert TRANSITIONS[S.STOPPED] == frozenset()
        for state in set(SessionState) - {S.STOPPED}:
            assert S.STOPPED in TRANSITIONS[state], state

    def test_every_state_is_reachable_from_starting(self) -> None:
        """No state is dead code: a walk from STARTING reaches them all."""
        seen, todo = {S.STARTING}, [S.STARTING]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert seen == set(SessionState)

    def test_no_state_moves_to_itself(self) -> None:
        """Self-loops are not moves; the session skips them instead."""
        for state, targets in TRANSITIONS.items():
            assert state not in targets

    @pytest.mark.parametrize(
        ("old", "new"),
        [
            (S.STOPPED, S.STARTING),
            (S.ERROR, S.CONNECTED),
            (S.ERROR, S.RECONNECTING),
            (S.ERROR, S.STARTING),
            (S.UNREACHABLE, S.CONNECTED),
            (S.CONNECTED, S.RECONNECTING),
            (S.STARTING, S.RECONNECTING),
        ],
    )
    def test_illegal_moves_raise_with_a_sentence(self, old: S, new: S) -> None:
        """A move outside the table raises IllegalTransitionError naming both ends and the options."""
        with pytest.raises(IllegalTransitionError) as info:
            check_transition(old, new)
        message = str(info.value)
        assert f"from {old.value} to {new.value}" in message
        assert message.endswith(".")

    def test_legal_moves_pass(self) -> None:
        for old, targets in TRANSITIONS.items():
            for new in targets:
                check_transition(old, new)


class TestStateNeverLies:
    async def test_blocked_without_a_reason_is_refused(self, make: Callable[..., Harness]) -> None:
        """The state machine itself refuses a BLOCKED that does not say why."""
        h = make()
        await h.start()
        with pytest.raises(IllegalTransitionError, match="without a reason"):
            await h.session._move(S.BLOCKED)

    async def test_error_without_a_kind_is_refused(self, make: Callable[..., Harness]) -> None:
        """The state machine itself refuses an ERROR without its kind and message."""
        h = make()
        await h.start()
        h.session.last_error = "something"
        with pytest.raises(IllegalTransitionError, match="without an error kind"):
            await h.session._move(S.ERROR)

    async def test_a_captcha_that_goes_away_unblocks_with_its_reason(
        self, make: Callable[..., Harness]
    ) -> None:
        """Every state change a listener sees has a reason exactly when blocked, an error kind exactly in error."""
        h = make()
        await h.start()
        await h.step()
        h.nb.dialogs.append(Dialog.CAPTCHA)
        await h.step()
        assert (h.session.state, h.session.blocked_reason) == (S.BLOCKED, BlockedReason.CAPTCHA)
        h.nb.dialogs.remove(Dialog.CAPTCHA)
        await h.step()
        assert h.session.state is S.CONNECTED
        assert h.session.blocked_reason is None
        for new, reason, kind in h.hooks.reasons:
            assert (new is S.BLOCKED) == (reason is not None), (new, reason)
            assert (new is S.ERROR) == (kind is not None), (new, kind)

    async def test_a_poll_taken_before_a_push_never_overrides_it(self, make: Callable[..., Harness]) -> None:
        """1. A safety poll reads the page (no captcha yet). 2. The captcha's push arrives and is acted on.
        3. The poll's answer arrives late: dropped, still blocked(captcha). 4. A newer read counts again."""
        h = make()
        await h.start()
        await h.step()
        assert h.session.state is S.CONNECTED
        poll = h.nb.observation()  # taken now, answered later
        h.nb.dialogs.append(Dialog.CAPTCHA)
        push = h.nb.observation()
        assert push.taken_at >= poll.taken_at
        await h.session.step(push)
        moves = list(h.hooks.moves)
        await h.session.step(poll)
        assert (h.session.state, h.session.blocked_reason) == (S.BLOCKED, BlockedReason.CAPTCHA)
        assert h.hooks.moves == moves, "the stale poll moved the state"
        assert h.session.observation is push
        h.nb.dialogs.remove(Dialog.CAPTCHA)
        await h.step()  # a poll taken after the push: acted on
        assert h.session.state is S.CONNECTED

    async def test_the_taking_time_is_not_part_of_what_was_seen(self) -> None:
        """Two reads of the same page are equal (the reporter and doctor compare them), whenever taken."""
        first = Observation(connection=Connection.CONNECTED)
        second = replace(first, taken_at=first.taken_at + 5)
        assert first == second
        assert "taken_at" not in repr(first)
        assert "taken_at" not in first.as_dict()

    async def test_counters_reach_the_hooks(self, make: Callable[..., Harness]) -> None:
        """Every counter bump is reported (the daemon exposes them in /metrics)."""
        h = make()
        await h.start()
        await h.step()
        assert "reconnect_attempts" in h.hooks.counts
        assert "resumes" in h.hooks.counts
        assert h.hooks.counts.count("resumes") == h.session.counters.resumes


class TestBackoff:
    def test_first_attempt_is_immediate(self) -> None:
        assert Backoff().delay(0) == 0.0

    def test_grows_exponentially_within_jitter(self) -> None:
        """Each delay lies within ±jitter of base * factor**(n-1)."""
        backoff = Backoff(base=2.0, factor=2.0, cap=1000.0, jitter=0.2, rng=random.Random(1))
        for n in range(1, 8):
            nominal = 2.0 * 2.0 ** (n - 1)
            for _ in range(50):
                assert nominal * 0.8 <= backoff.delay(n) <= nominal * 1.2

    def test_is_jittered(self) -> None:
        """Two notebooks failing together do not retry in lockstep."""
        backoff = Backoff(base=5.0, rng=random.Random(3))
        assert len({round(backoff.delay(3), 6) for _ in range(20)}) > 10

    def test_caps_and_keeps_jitter_at_the_cap(self) -> None:
        """Far past the cap, delays never exceed it and are still spread out."""
        backoff = Backoff(base=5.0, factor=2.0, cap=60.0, jitter=0.2, rng=random.Random(5))
        delays = [backoff.delay(40) for _ in range(200)]
        assert max(delays) <= 60.0
        assert min(delays) >= 60.0 / 1.2 * 0.8
        assert max(delays) - min(delays) > 5.0


class TestStartUpAndResume:
    async def test_connects_and_resumes_a_disconnected_notebook(self, make: Callable[..., Harness]) -> None:
        """1. The page shows Connect. 2. The session clicks it. 3. The fresh runtime gets its resume cell run once."""
        h = make()
        await h.start()
        assert h.calls("reconnect") == 1
        await h.step()
        assert h.session.state is S.CONNECTED
        assert h.nb.runs == ["resume"]
        assert h.session.counters.resumes == 1
        assert h.session.resume_cell == "resume"
        assert h.hooks.resumes == [(h.nb.runtime_id, "resume")]
        assert (S.STARTING, S.CONNECTING) in h.hooks.moves
        assert (S.RESUMING, S.CONNECTED) in h.hooks.moves

    async def test_resume_runs_exactly_once_per_runtime(self, make: Callable[..., Harness]) -> None:
        """Many steps, signals and polls later, one runtime has had one resume; each new runtime gets one."""
        h = make()
        await h.start()
        await h.step(5)
        await h.nb.finish_cells()
        await h.step(5)
        assert h.nb.runs == ["resume"]
        # A disconnect: reconnect, then a resume in the new runtime.
        await h.nb.disconnect()
        await h.step()
        assert h.session.state in (S.RECONNECTING, S.CONNECTED)
        await h.step(3)
        assert h.nb.runs == ["resume", "resume"]
        # A crash restarts the runtime by itself: one more resume.
        await h.nb.finish_cells()
        await h.nb.crash()
        await h.step(3)
        assert h.nb.runs == ["resume", "resume", "resume"]
        assert h.session.counters.crashes == 1
        assert h.session.counters.reconnects == 1
        assert h.session.counters.resumes == 3

    async def test_never_resumes_while_a_cell_runs(self, make: Callable[..., Harness]) -> None:
        """A fresh runtime that is busy waits in RESUMING; the resume starts once the cells finish."""
        h = make()
        await h.start()
        await h.step()
        await h.nb.finish_cells()
        await h.nb.disconnect()
        await h.step()  # reconnect clicked, runtime fresh
        h.nb.busy = True  # something else started running in it first
        await h.step(3)
        assert h.session.state is S.RESUMING
        assert h.nb.runs == ["resume"]
        await h.nb.finish_cells()
        await h.step()
        assert h.nb.runs == ["resume", "resume"]
        assert h.session.state is S.CONNECTED

    async def test_busy_runtime_at_start_up_is_left_alone(
        self, make: Callable[..., Harness], store: StateStore, clock: FakeClock
    ) -> None:
        """A runtime still working ``adopt_after`` after the daemon starts is adopted: no resume, now or after a restart."""

        working = already_connected("rt-busy", busy=True)

        h = make(notebook=working)
        await h.start()
        await h.step(2)
        assert not store.was_resumed(URL, "rt-busy"), "adopted before it had been busy adopt_after"
        clock.advance(FAST.adopt_after)
        await h.step()
        assert h.session.state is S.CONNECTED
        assert h.nb.runs == []
        assert store.was_resumed(URL, "rt-busy")
        # Training ends; the runtime is idle now, and still not resumed.
        await h.nb.finish_cells()
        await h.step(2)
        assert h.nb.runs == []

    async def test_a_runtime_busy_only_while_it_starts_is_resumed(
        self, make: Callable[..., Harness], store: StateStore
    ) -> None:
        """Busy at first sight, idle at the next report (a fresh kernel's handshake): fresh, resumed once."""

        starting = already_connected("rt-new", busy=True)

        h = make(notebook=starting)
        await h.start()
        await h.step()
        assert h.nb.runs == []
        h.nb.busy = False
        await h.step(2)
        assert h.nb.runs == ["resume"]
        assert store.was_resumed(URL, "rt-new")

    async def test_idle_runtime_at_start_up_is_resumed(self, make: Callable[..., Harness]) -> None:
        """A connected runtime with no cell running counts as fresh."""

        idle = already_connected("rt-idle")

        h = make(notebook=idle)
        await h.start()
        assert h.nb.runs == ["resume"]
        assert h.calls("reconnect") == 0

    async def test_restart_does_not_resume_a_runtime_twice(self, tmp_path: Path, clock: FakeClock) -> None:
        """The ledger outlives the daemon: a new session over the same state dir skips a resumed runtime."""

        idle = already_connected("rt-1")

        state = tmp_path / "state"
        with StateStore.open(state) as store:
            first = Harness(store, clock, tmp_path, FAST, notebook=idle)
            await first.start()
            assert first.nb.runs == ["resume"]
        with StateStore.open(state) as store:
            second = Harness(store, clock, tmp_path, FAST, notebook=idle)
            await second.start()
            await second.step(3)
            assert second.nb.runs == []
            assert second.session.state is S.CONNECTED
            assert store.record(URL).resumes == 1

    async def test_no_resume(self, make: Callable[..., Harness]) -> None:
        """--no-resume: fresh runtimes are kept alive, nothing is run."""
        h = make(SessionPolicy(resume=False, backoff_base=0.001))
        await h.start()
        await h.step()
        await h.nb.disconnect()
        await h.step(3)
        assert h.session.state is S.CONNECTED
        assert h.nb.runs == []
        assert h.calls("run_cell_with_marker") == h.calls("run_all") == 0

    async def test_run_all(self, make: Callable[..., Harness]) -> None:
        """--run-all: every cell runs instead of the resume cell, once per runtime."""
        h = make(SessionPolicy(run_all=True, backoff_base=0.001))
        await h.start()
        await h.step(3)
        assert h.nb.runs == ["setup", "resume", "plot"]
        assert h.calls("run_cell_with_marker") == 0
        assert h.hooks.resumes[0][1] is None

    async def test_missing_marker_is_an_error_for_that_notebook_only(
        self, store: StateStore, clock: FakeClock, tmp_path: Path
    ) -> None:
        """The notebook without the marker goes to ERROR naming it; its neighbour resumes normally."""
        plain = Harness(
            store,
            clock,
            tmp_path,
            FAST,
            notebook=lambda: FakeNotebook(cells={"a": "print(1)"}),
            url=URL + "-a",
        )
        good = Harness(store, clock, tmp_path, FAST, url=URL + "-b")
        for h in (plain, good):
            await h.start()
            await h.step()
        assert plain.session.state is S.ERROR
        assert plain.session.error_kind is ErrorKind.RESUME_MARKER_MISSING
        assert MARKER in (plain.session.last_error or "")
        assert "--no-resume" in (plain.session.last_error or "")
        assert good.session.state is S.CONNECTED
        assert good.nb.runs == ["resume"]
        # The error is sticky: later disconnects are not acted on.
        await plain.nb.disconnect()
        await plain.step(3)
        assert plain.session.state is S.ERROR
        assert plain.calls("reconnect") == 1

    async def test_resume_start_failures_are_bounded(self, make: Callable[..., Harness]) -> None:
        """A resume cell that cannot be started is retried max_resume_attempts times, then ERROR."""
        h = make(SessionPolicy(max_resume_attempts=2, backoff_base=0.001))
        h.frontend.fail_next["run_cell_with_marker"] = FrontendError("notebook model not ready")
        await h.start()
        await h.step()
        assert h.session.state is S.RESUMING
        h.frontend.fail_next["run_cell_with_marker"] = FrontendError("notebook model not ready")
        await h.step()
        assert h.session.state is S.ERROR
        assert h.session.error_kind is ErrorKind.RESUME_NOT_STARTED
        assert "could not be started" in (h.session.last_error or "")

    async def test_a_start_that_raced_a_lost_page_counts_as_started(
        self, make: Callable[..., Harness]
    ) -> None:
        """1. The resume start reports a lost page. 2. The cell is running after all. 3. No second start."""
        h = make()
        await h.start()  # Connect clicked; the next step sees the fresh runtime and starts its resume
        h.frontend.fail_next["run_cell_with_marker"] = BrowserError("page closed while starting the cell")
        with pytest.raises(BrowserError):
            await h.session.step()
        # The click did land before the page went away: the cell runs in the same runtime.
        h.nb.busy = True
        await h.step()
        assert h.session.state is S.CONNECTED
        assert h.session.counters.resumes == 1
        assert h.calls("run_cell_with_marker") == 1
        # (Which cell it was is not known: the start never returned its id.)
        assert [runtime for runtime, _ in h.hooks.resumes] == [h.session.runtime_id]


DONE = '[sentinel] {"step": 10, "total": 10, "loss": 0.1}\n'
OOM = (
    '[sentinel] {"step": 4, "total": 10}\n'
    "Traceback (most recent call last):\n"
    '  File "<cell>", line 9, in <module>\n'
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 14.75 GiB total)\n"
)
DRIVE_LOST = (
    '[sentinel] {"step": 4, "total": 10}\n'
    "Traceback (most recent call last):\n"
    "OSError: [Errno 107] Transport endpoint is not connected: '/content/drive/MyDrive/run/ckpt'\n"
)


class TestSchedule:
    """Outside its schedule a notebook is PAUSED: no keep-alive, no reconnect, no resume."""

    def _make(self, store: StateStore, tmp_path: Path, policy: SessionPolicy, wall: FakeClock) -> Harness:
        h = Harness(store, wall, tmp_path, policy)
        h.session._wall = wall
        return h

    async def test_outside_active_hours_nothing_is_done_and_inside_it_resumes(
        self, store: StateStore, tmp_path: Path
    ) -> None:
        wall = FakeClock()
        berlin = ZoneInfo("Europe/Berlin")
        wall.now = datetime(2026, 12, 7, 12, 0, tzinfo=berlin).timestamp()  # Monday noon
        policy = replace(FAST, active_hours=(parse_window("mon-fri 22:00-07:00"),), timezone=berlin)
        h = self._make(store, tmp_path, policy, wall)
        await h.start()
        assert h.session.state is S.PAUSED
        assert h.session.paused_reason == "outside active hours (mon,tue,wed,thu,fri 22:00-07:00)"
        await h.step(3)
        assert h.calls("reconnect") == 0 and h.nb.keepalives == 0
        wall.now = datetime(2026, 12, 7, 22, 0, tzinfo=berlin).timestamp()
        await h.step(3)
        assert h.session.state is S.CONNECTED and h.session.paused_reason is None
        assert h.nb.runs == ["resume"]
        # The morning after: paused again, keep-alive stops, the runtime is left to Colab.
        wall.now = datetime(2026, 12, 8, 7, 0, tzinfo=berlin).timestamp()
        await h.step()
        assert h.session.state is S.PAUSED
        keepalives = h.nb.keepalives
        wall.advance(3600)
        await h.nb.disconnect()
        await h.step(3)
        assert h.nb.keepalives == keepalives and h.calls("reconnect") == 1

    async def test_nothing_before_the_start_time(self, store: StateStore, tmp_path: Path) -> None:
        wall = FakeClock()
        h = self._make(store, tmp_path, replace(FAST, start_at=wall.now + 600, timezone=UTC), wall)
        await h.start()
        assert h.session.state is S.PAUSED and (h.session.paused_reason or "").startswith("starts at ")
        wall.advance(601)
        await h.step(2)
        assert h.session.state is S.CONNECTED and h.nb.runs == ["resume"]

    async def test_keepalive_stops_after_max_runtime(self, store: StateStore, tmp_path: Path) -> None:
        wall = FakeClock()
        h = self._make(store, tmp_path, replace(FAST, max_runtime=2 * 3600), wall)
        await h.start()
        await h.step()
        assert h.session.state is S.CONNECTED
        wall.advance(2 * 3600)
        await h.step()
        assert h.session.state is S.PAUSED
        assert "past max_runtime (2 h)" in (h.session.paused_reason or "")


class TestWhenTheRunEnds:
    async def test_a_finished_run_stops_keepalive_and_reconnects_and_is_told_once(
        self, make: Callable[..., Harness], clock: FakeClock
    ) -> None:
        """1. The resume cell reports step 10/10 and stops. 2. FINISHED at once, one hook call.
        3. Colab's idle timer later disconnects the runtime: no reconnect, no keep-alive."""
        h = make()
        await h.start()
        await h.step()
        assert h.nb.runs == ["resume"]
        await h.step()  # sees the cell running
        await h.nb.finish_cells({"resume": DONE})
        await h.step()
        assert h.session.state is S.FINISHED
        assert h.hooks.finish_summaries and h.hooks.finish_summaries[0].startswith("step 10/10 loss=0.1 in ")
        keepalives = h.nb.keepalives
        clock.advance(3600)
        await h.step(3)
        assert h.nb.keepalives == keepalives
        await h.nb.disconnect()
        clock.advance(600)
        await h.step(3)
        assert h.calls("reconnect") == 1  # only the first connect
        assert h.session.state is S.FINISHED
        assert len(h.hooks.finish_summaries) == 1

    async def test_a_finished_run_is_remembered_across_a_restart(
        self, make: Callable[..., Harness], store: StateStore
    ) -> None:
        """A new session on the same ledger starts FINISHED and neither connects nor resumes."""
        h = make()
        await h.start()
        await h.step(2)
        await h.nb.finish_cells({"resume": DONE})
        await h.step()
        again = make()
        await again.start()
        await again.step(3)
        assert again.session.state is S.FINISHED
        assert again.calls("reconnect") == 0 and again.nb.runs == []
        assert again.session.finished_summary == h.session.finished_summary

    async def test_keep_keeps_the_runtime_alive_and_release_gives_it_back(
        self, make: Callable[..., Harness], clock: FakeClock
    ) -> None:
        keep = make(replace(FAST, on_finish="keep"))
        await keep.start()
        await keep.step(2)
        await keep.nb.finish_cells({"resume": DONE})
        await keep.step()
        before = keep.nb.keepalives
        await keep.step()  # keep-alive scheduled
        clock.advance(200)
        await keep.step()
        assert keep.session.state is S.FINISHED and keep.nb.keepalives > before
        release = make(replace(FAST, on_finish="release"), url=URL + "-release")
        await release.start()
        await release.step(2)
        await release.nb.finish_cells({"resume": DONE})
        await release.step()
        assert release.session.state is S.FINISHED
        assert "menu:release" in release.nb.clicks

    async def test_cuda_oom_is_an_error_with_the_diagnosis_and_no_rerun(
        self, make: Callable[..., Harness], clock: FakeClock
    ) -> None:
        """Out of memory is not retried: ERROR (run_failed), the diagnosis kept, keep-alive stops."""
        h = make()
        await h.start()
        await h.step(2)
        await h.nb.finish_cells({"resume": OOM})
        await h.step()
        assert h.session.state is S.ERROR
        assert h.session.error_kind is ErrorKind.RUN_FAILED
        assert h.session.diagnosis is not None and h.session.diagnosis.key == "cuda_oom"
        assert "batch size" in h.session.diagnosis.action
        assert "out of memory" in (h.session.last_error or "").lower()
        assert h.hooks.run_failures == [("cuda_oom", None)]
        keepalives = h.nb.keepalives
        clock.advance(3600)
        await h.step(3)
        assert h.nb.runs == ["resume"] and h.nb.keepalives == keepalives

    async def test_a_retryable_failure_restarts_the_session_and_runs_the_resume_once_more(
        self, make: Callable[..., Harness], clock: FakeClock
    ) -> None:
        """Drive's mount went stale: after the backoff, Restart session; the fresh process resumes once."""
        h = make(replace(FAST, retry_base=5.0))
        await h.start()
        await h.step(2)
        await h.nb.finish_cells({"resume": DRIVE_LOST})
        await h.step()
        assert h.session.state is S.CONNECTED
        assert h.hooks.run_failures == [("drive_disconnected", 1)]
        await h.step()
        assert h.nb.restarts == 0  # not before the backoff
        clock.advance(10)
        await h.step(3)
        assert h.nb.restarts == 1
        assert h.nb.runs == ["resume", "resume"]
        await h.nb.finish_cells({"resume": DONE})
        await h.step()
        assert h.session.state is S.FINISHED

    async def test_retries_are_bounded(self, make: Callable[..., Harness], clock: FakeClock) -> None:
        """The same retryable failure at the same step, max_resume_retries times: then ERROR."""
        h = make(replace(FAST, retry_base=1.0, max_resume_retries=2))
        await h.start()
        await h.step(2)
        for _ in range(3):
            await h.nb.finish_cells({"resume": DRIVE_LOST})
            await h.step()
            clock.advance(100)
            await h.step(3)
        assert h.session.state is S.ERROR
        assert h.session.error_kind is ErrorKind.RETRIES_EXHAUSTED
        assert h.hooks.run_failures == [
            ("drive_disconnected", 1),
            ("drive_disconnected", 2),
            ("drive_disconnected", None),
        ]
        assert h.nb.restarts == 2 and h.nb.runs == ["resume"] * 3

    async def test_a_cell_that_just_stops_changes_nothing(self, make: Callable[..., Harness]) -> None:
        """No progress line, no traceback: neither finished nor failed; keep-alive goes on."""
        h = make()
        await h.start()
        await h.step(2)
        await h.nb.finish_cells({"resume": "done for today\n"})
        await h.step()
        assert h.session.state is S.CONNECTED


class TestReconnect:
    @pytest.mark.parametrize("shown", [Connection.CONNECTING, Connection.DISCONNECTED])
    async def test_reconnecting_while_cells_run_is_alive(
        self, make: Callable[..., Harness], clock: FakeClock, shown: Connection
    ) -> None:
        """colabtools#5622: 1. Connected, the resume cell runs. 2. The UI reads "Reconnecting" (or even
        "Reconnect") while it still runs, for longer than connect_timeout. 3. Waiting: no Connect click,
        no reconnect failure, no page reload. 4. The UI catches up: connected, the same runtime, one resume."""
        h = make()
        await h.start()
        await h.step(2)
        assert (h.session.state, h.nb.busy, h.nb.runs) == (S.CONNECTED, True, ["resume"])
        reconnects, runtime = h.calls("reconnect"), h.session.runtime_id
        h.nb.connection = shown
        for _ in range(10):
            clock.advance(FAST.connect_timeout)
            await h.step()
            assert h.session.state is S.CONNECTING
        assert h.calls("reconnect") == reconnects, "clicked Connect on a runtime that runs code"
        assert h.hooks.failed == [] and h.session.failures == 0
        assert h.tab.opens == 1, "reloaded the page of a live runtime"
        h.nb.connection = Connection.CONNECTED
        await h.step(2)
        assert h.session.state is S.CONNECTED
        assert h.session.runtime_id == runtime
        assert h.nb.runs == ["resume"] and h.hooks.resumes == [(runtime, "resume")]
        assert h.calls("reconnect") == reconnects

    async def test_reconnect_with_nothing_running_is_still_a_disconnect(
        self, make: Callable[..., Harness], clock: FakeClock
    ) -> None:
        """The same UI with no cell running is a dead runtime: reconnected as before."""
        h = make()
        await h.start()
        await h.step(2)
        await h.nb.finish_cells()
        await h.step()
        reconnects = h.calls("reconnect")
        h.nb.connection = Connection.DISCONNECTED
        await h.step()
        assert h.calls("reconnect") == reconnects + 1

    async def test_disconnect_dialog_is_answered_immediately(self, make: Callable[..., Harness]) -> None:
        """The first reconnect after a loss does not wait for any backoff."""
        h = make()
        await h.start()
        await h.step()
        await h.nb.disconnect()
        await h.session.step()
        assert h.calls("reconnect") == 2
        assert Dialog.RUNTIME_DISCONNECTED not in h.nb.dialogs

    async def test_failed_reconnects_back_off(self, make: Callable[..., Harness], clock: FakeClock) -> None:
        """Each failure waits longer (base * 2**(n-1), ±20 %); nothing is clicked before the delay is up."""
        h = make(SessionPolicy(backoff_base=10.0, backoff_cap=300.0, reload_after_failures=100))
        await h.start()
        await h.step()
        clicks: list[float] = []

        async def broken(page: object) -> None:
            clicks.append(clock.now)
            raise SelectorNotFoundError("no connect button")

        h.frontend.reconnect = broken  # type: ignore[method-assign]
        await h.nb.disconnect()
        for _ in range(2000):  # 1000 s of reports every half second
            await h.step()
            clock.advance(0.5)
        gaps = [b - a for a, b in itertools.pairwise(clicks)]
        assert len(gaps) >= 5
        for n, gap in enumerate(gaps, start=1):
            nominal = min(300 / 1.2, 10.0 * 2 ** (n - 1))
            assert nominal * 0.8 <= gap <= nominal * 1.2 + 0.5, (n, gaps)
        assert max(gaps) <= 300.5
        assert h.session.failures == len(clicks)
        assert len(h.hooks.failed) == len(clicks)
        assert h.session.state is S.DISCONNECTED

    async def test_a_connect_that_never_shows_counts_as_failed(
        self, make: Callable[..., Harness], clock: FakeClock
    ) -> None:
        """A click after which the page keeps showing Reconnect fails once the grace period is over."""
        h = make(SessionPolicy(action_grace=10.0, backoff_base=30.0))
        await h.start()
        await h.step()

        async def swallow(page: object) -> None:  # the click lands nowhere
            h.frontend.calls.append(("reconnect", page, ()))

        await h.nb.disconnect()
        h.frontend.reconnect = swallow  # type: ignore[method-assign]
        await h.step()
        assert h.session.state is S.RECONNECTING
        clock.advance(5)
        await h.step()
        assert h.session.state is S.RECONNECTING
        clock.advance(6)
        await h.step()
        assert h.session.state is S.DISCONNECTED
        assert h.session.failures == 1
        assert "did not connect" in (h.session.last_error or "")
        assert "runtime_disconnected shown" in (h.session.last_error or "")

    async def test_connecting_too_long_counts_as_failed(
        self, make: Callable[..., Harness], clock: FakeClock
    ) -> None:
        h = make(SessionPolicy(connect_timeout=60.0, backoff_base=30.0))
        await h.start()
        await h.step()

        async def hang(page: object) -> None:
            h.frontend.calls.append(("reconnect", page, ()))
            h.nb.dialogs.clear()
            h.nb.connection = Connection.CONNECTING

        await h.nb.disconnect()
        h.frontend.reconnect = hang  # type: ignore[method-assign]
        await h.step()
        clock.advance(59)
        await h.step()
        assert h.session.state is S.RECONNECTING
        clock.advance(2)
        await h.step()
        assert h.session.state is S.DISCONNECTED
        assert "Connecting" in (h.session.last_error or "")

    async def test_success_resets_failures_and_reports(
        self, make: Callable[..., Harness], clock: FakeClock
    ) -> None:
        h = make()
        await h.start()
        await h.step()
        await h.nb.disconnect()
        h.frontend.fail_next["reconnect"] = SelectorNotFoundError("no connect button")
        await h.step()
        assert h.session.failures == 1
        clock.advance(1)  # past the (FAST) backoff
        await h.step(3)
        assert h.session.state is S.CONNECTED
        assert h.session.failures == 0
        assert h.hooks.succeeded == 1

    async def test_repeated_failures_reopen_the_tab(
        self, make: Callable[..., Harness], clock: FakeClock
    ) -> None:
        """After reload_after_failures failures in a row the tab is reopened (a fresh page)."""
        h = make(SessionPolicy(reload_after_failures=2))
        await h.start()
        await h.step()
        await h.nb.disconnect()
        for _ in range(2):
            h.frontend.fail_next["reconnect"] = SelectorNotFoundError("no connect button")
            await h.step()
            clock.advance(100)
        assert h.session._reopen
        assert await h.session.open()
        assert h.tab.opens == 2
        assert h.session.state is S.STARTING


class TestDialogs:
    @pytest.mark.parametrize(
        ("dialog", "action"),
        [
            (Dialog.STILL_THERE, Action.YES),
            (Dialog.EXTERNAL_NOTEBOOK, Action.RUN_ANYWAY),
            (Dialog.DRIVE_CONSENT, Action.CONNECT),
            (Dialog.CREDENTIALS, Action.ALLOW),
            (Dialog.OOM_SWITCH, Action.NO),
        ],
    )
    async def test_answers(self, make: Callable[..., Harness], dialog: Dialog, action: Action) -> None:
        """Routine dialogs are answered at once, once, and the session stays connected."""
        h = make()
        await h.start()
        await h.step()
        await h.nb.show(dialog)
        await h.step(3)
        assert h.nb.answers == [(dialog, action)]
        assert h.nb.dialogs == []
        assert h.session.state is S.CONNECTED

    async def test_a_stale_report_is_not_answered_twice(self, make: Callable[..., Harness]) -> None:
        h = make()
        await h.start()
        await h.step()
        await h.nb.show(Dialog.STILL_THERE)
        stale = h.nb.observation()
        await h.step()
        await h.session.step(stale)
        assert h.calls("answer") == 1

    async def test_captcha_blocks_and_is_never_clicked(
        self, make: Callable[..., Harness], clock: FakeClock
    ) -> None:
        """1. Captcha shown. 2. BLOCKED(captcha), no click and no keep-alive for an hour. 3. Dismissed: connected again."""
        h = make()
        await h.start()
        await h.step()
        await h.nb.show(Dialog.CAPTCHA)
        keepalives = h.nb.keepalives
        for _ in range(60):
            clock.advance(60)
            await h.step()
        assert h.session.state is S.BLOCKED
        assert h.session.blocked_reason is BlockedReason.CAPTCHA
        assert h.calls("answer") == 0
        assert h.nb.keepalives == keepalives
        await h.nb.close(Dialog.CAPTCHA)
        await h.step()
        assert h.session.state is S.CONNECTED
        assert h.session.blocked_reason is None

    async def test_captcha_while_disconnected_does_not_reconnect(self, make: Callable[..., Harness]) -> None:
        h = make()
        await h.start()
        await h.step()
        await h.nb.show(Dialog.CAPTCHA)
        await h.nb.disconnect()
        await h.step(3)
        assert h.calls("reconnect") == 1
        assert h.session.state is S.BLOCKED
        await h.nb.close(Dialog.CAPTCHA)
        await h.step(2)
        assert h.calls("reconnect") == 2

    @pytest.mark.parametrize("how", ["link", "dialog"])
    async def test_signed_out_blocks_without_clicking(self, make: Callable[..., Harness], how: str) -> None:
        h = make()
        await h.start()
        await h.step()
        if how == "link":
            await h.nb.set_signed_in(False)
        else:
            await h.nb.show(Dialog.SIGN_IN_REQUIRED)
        await h.nb.disconnect()
        await h.step(3)
        assert h.session.state is S.BLOCKED
        assert h.session.blocked_reason is BlockedReason.SIGNED_OUT
        assert h.calls("answer") == 0
        assert h.calls("reconnect") == 1

    async def test_gpu_limit_wait_blocks_then_retries(
        self, make: Callable[..., Harness], clock: FakeClock
    ) -> None:
        """--on-gpu-limit wait: blocked, dialog closed, one retry per quota_retry, recovered when it connects."""
        h = make(SessionPolicy(quota_retry=600.0, backoff_base=0.001))
        await h.start()
        await h.step()
        h.nb.connect_outcome = [Dialog.GPU_LIMIT, Dialog.GPU_LIMIT]
        await h.nb.disconnect()
        await h.step(3)
        assert h.session.state is S.BLOCKED
        assert h.session.blocked_reason is BlockedReason.GPU_LIMIT
        assert h.nb.answers == [(Dialog.GPU_LIMIT, Action.CLOSE)]
        connects = h.nb.connects
        clock.advance(599)
        await h.step(3)
        assert h.nb.connects == connects
        clock.advance(2)
        await h.step(3)  # retry: the limit again, still blocked, no state flapping
        assert h.nb.connects == connects + 1
        assert h.session.state is S.BLOCKED
        moves_into_blocked = [m for m in h.hooks.moves if m[1] is S.BLOCKED]
        assert len(moves_into_blocked) == 1
        clock.advance(601)
        await h.step(3)
        assert h.session.state is S.CONNECTED
        assert h.nb.runs.count("resume") == 2

    async def test_gpu_limit_cpu_connects_without_gpu(self, make: Callable[..., Harness]) -> None:
        h = make(SessionPolicy(on_gpu_limit="cpu"))
        await h.start()
        await h.step()
        h.nb.connect_outcome = [Dialog.GPU_LIMIT]
        await h.nb.disconnect()
        await h.step(3)
        assert (Dialog.GPU_LIMIT, Action.CONNECT_WITHOUT_GPU) in h.nb.answers
        assert h.session.state is S.CONNECTED
        assert S.BLOCKED not in {new for _, new in h.hooks.moves}

    async def test_gpu_limit_stop_never_retries(self, make: Callable[..., Harness], clock: FakeClock) -> None:
        h = make(SessionPolicy(on_gpu_limit="stop", quota_retry=60.0))
        await h.start()
        await h.step()
        h.nb.connect_outcome = [Dialog.GPU_LIMIT]
        await h.nb.disconnect()
        await h.step(2)
        connects = h.nb.connects
        for _ in range(10):
            clock.advance(3600)
            await h.step()
        assert h.nb.connects == connects
        assert h.session.state is S.BLOCKED
        assert h.session.blocked_reason is BlockedReason.GPU_LIMIT

    async def test_too_many_sessions_blocks_and_retries_slowly(
        self, make: Callable[..., Harness], clock: FakeClock
    ) -> None:
        h = make(SessionPolicy(quota_retry=300.0))
        await h.start()
        await h.step()
        h.nb.connect_outcome = [Dialog.TOO_MANY_SESSIONS]
        await h.nb.disconnect()
        await h.step(2)
        assert h.session.state is S.BLOCKED
        assert h.session.blocked_reason is BlockedReason.TOO_MANY_SESSIONS
        assert (Dialog.TOO_MANY_SESSIONS, Action.CLOSE) in h.nb.answers
        clock.advance(301)
        await h.step(3)
        assert h.session.state is S.CONNECTED

    async def test_unclassified_state_gets_one_bundle_after_30_s(
        self, make: Callable[..., Harness], clock: FakeClock, tmp_path: Path
    ) -> None:
        h = make()
        await h.start()
        await h.step()
        await h.nb.show(Dialog.UNKNOWN, "Something new from Colab")
        await h.step()
        clock.advance(29)
        await h.step()
        assert h.hooks.bundles == []
        clock.advance(2)
        await h.step(3)
        assert len(h.hooks.bundles) == 1
        bundle, detail = h.hooks.bundles[0]
        assert detail == "Something new from Colab"
        assert bundle is not None and bundle.parent == tmp_path / "debug"
        assert (bundle / "observation.txt").is_file()
        # Resolved, then a new episode: a new bundle.
        await h.nb.close(Dialog.UNKNOWN)
        await h.step()
        await h.nb.show(Dialog.UNKNOWN, "Again")
        await h.step()
        clock.advance(31)
        await h.step()
        assert len(h.hooks.bundles) == 2


class TestCrashAndKeepalive:
    async def test_crash_toast_without_runtime_ids_is_a_fresh_runtime(
        self, make: Callable[..., Harness]
    ) -> None:
        """When the page exposes no runtime id, the crash toast alone marks a fresh runtime."""
        h = make()
        await h.start()
        await h.step()
        await h.nb.finish_cells()
        obs = h.nb.observation()
        await h.session.step(replace(obs, runtime_id=None))  # same runtime, now seen without an id
        runs = list(h.nb.runs)
        await h.session.step(replace(obs, runtime_id=None))
        assert h.nb.runs == runs
        await h.session.step(
            replace(obs, runtime_id=None, crash_toast="Your session crashed for an unknown reason.")
        )
        assert h.nb.runs == [*runs, "resume"]
        assert h.session.counters.crashes == 1

    async def test_keepalive_only_while_connected_with_jitter(
        self, make: Callable[..., Harness], clock: FakeClock
    ) -> None:
        """Keep-alive inputs come every 60 s ±20 % while connected, never while disconnected."""
        h = make(SessionPolicy(keepalive_interval=60.0, backoff_base=1e9, backoff_cap=2e9))
        await h.start()
        await h.step()
        times = []
        for _ in range(600):
            clock.advance(1)
            before = h.nb.keepalives
            await h.step()
            if h.nb.keepalives > before:
                times.append(clock.now)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert len(times) >= 8
        assert all(48 <= gap <= 73 for gap in gaps), gaps
        assert len(set(gaps)) > 1
        # Disconnected (and the backoff huge): no keep-alive at all.
        h.frontend.fail_next["reconnect"] = SelectorNotFoundError("gone")
        await h.nb.disconnect()
        await h.step()
        count = h.nb.keepalives
        for _ in range(300):
            clock.advance(1)
            await h.step()
        assert h.nb.keepalives == count


class TestRunLoop:
    async def test_run_reacts_to_signals_and_stops(self, make: Callable[..., Harness]) -> None:
        """The real loop (real time): a pushed disconnect is reconnected without waiting for the poll."""
        h = make(SessionPolicy(poll_interval=30.0, backoff_base=0.01))
        h.session._clock = asyncio.get_running_loop().time
        task = asyncio.create_task(h.session.run())
        try:
            for _ in range(200):
                if h.session.state is S.CONNECTED:
                    break
                await asyncio.sleep(0.01)
            assert h.session.state is S.CONNECTED
            await h.nb.disconnect()
            for _ in range(200):
                if h.calls("reconnect") == 2 and h.session.state is S.CONNECTED:
                    break
                await asyncio.sleep(0.01)
            assert h.calls("reconnect") == 2
            assert h.nb.runs == ["resume", "resume"]
        finally:
            h.session.stop()
            await asyncio.wait_for(task, 5)
        assert h.session.state is S.STOPPED

    async def test_unreachable_page_is_retried_then_recovers(self, make: Callable[..., Harness]) -> None:
        """A page that does not load is UNREACHABLE (not ERROR), retried with backoff, and recovers."""
        h = make(SessionPolicy(poll_interval=30.0, backoff_base=0.01, backoff_cap=0.05))
        h.session._clock = asyncio.get_running_loop().time
        h.tab.failures.extend([NotebookUnreachableError("net::ERR_CONNECTION_REFUSED")] * 3)
        task = asyncio.create_task(h.session.run())
        try:
            for _ in range(300):
                if h.session.state is S.CONNECTED:
                    break
                await asyncio.sleep(0.01)
            assert h.session.state is S.CONNECTED
        finally:
            h.session.stop()
            await asyncio.wait_for(task, 5)
        moves = h.hooks.moves
        assert moves[0] == (S.STARTING, S.UNREACHABLE)
        # One unreachable episode, not one per retry; never an error.
        assert sum(1 for _, new in moves if new is S.UNREACHABLE) == 1
        assert (S.UNREACHABLE, S.STARTING) in moves
        assert all(new is not S.ERROR for _, new in moves)
        assert len(h.hooks.open_failures) == 3

    async def test_browser_error_reopens_the_page(self, make: Callable[..., Harness]) -> None:
        h = make(SessionPolicy(poll_interval=0.05, backoff_base=0.01))
        h.session._clock = asyncio.get_running_loop().time
        task = asyncio.create_task(h.session.run())
        try:
            for _ in range(200):
                if h.session.state is S.CONNECTED:
                    break
                await asyncio.sleep(0.01)
            h.frontend.fail_next["observe"] = BrowserError("Target page, context or browser has been closed")
            for _ in range(200):
                if h.tab.opens == 2 and h.session.state is S.CONNECTED:
                    break
                await asyncio.sleep(0.01)
            assert h.tab.opens == 2
            assert h.session.state is S.CONNECTED
            assert h.nb.runs == ["resume"]  # same runtime: no second resume
        finally:
            h.session.stop()
            await asyncio.wait_for(task, 5)


class TestCounting:
    async def test_a_connect_nobody_clicked_is_not_a_reconnect(self, make: Callable[..., Harness]) -> None:
        """The page restarts a crashed runtime by itself while we try to reconnect: no reconnect counted."""
        h = make()
        await h.start()
        await h.step()
        await h.nb.finish_cells()
        h.nb.connection = Connection.DISCONNECTED
        h.frontend.fail_next["reconnect"] = FrontendError(
            "not clicking the connect button: the runtime is connecting"
        )
        await h.step()
        assert h.session.state is S.RECONNECTING
        h.nb.connection, h.nb.runtime_id = Connection.CONNECTED, "restarted-by-colab"
        await h.step(2)
        assert h.session.state is S.CONNECTED
        assert h.session.counters.reconnects == 0
        assert h.hooks.succeeded == 0
        assert h.nb.runs == ["resume", "resume"]

    async def test_a_long_allocation_does_not_spin_the_loop(self, make: Callable[..., Harness]) -> None:
        """Waiting through a long Connecting (past the click's grace period) polls, it does not spin."""
        h = make(SessionPolicy(poll_interval=0.5, action_grace=0.05, connect_timeout=30.0))
        h.session._clock = asyncio.get_running_loop().time

        async def hang(page: object) -> None:
            h.frontend.calls.append(("reconnect", page, ()))
            h.nb.connection = Connection.CONNECTING

        h.frontend.reconnect = hang  # type: ignore[method-assign]
        task = asyncio.create_task(h.session.run())
        try:
            await asyncio.sleep(0.3)
            assert h.session.state is S.CONNECTING
            before = h.calls("observe")
            await asyncio.sleep(1.2)
            assert h.calls("observe") - before <= 4
        finally:
            h.session.stop()
            await asyncio.wait_for(task, 5)
