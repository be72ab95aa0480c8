"""The state store: durable, atomic, private, single-instance, and never fatal when its file is bad."""

from __future__ import annotations

import enum
import json
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from sentinel.errors import StateDirLockedError, UsageError
from sentinel.statestore import LOCK_FILE, STATE_FILE, StateStore

NB = "https://colab.research.google.com/drive/1abc"
OTHER = "http://127.0.0.1:8765/notebooks/train.ipynb"


@pytest.fixture(name="state_dir")
def _state_dir(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "state"


@pytest.fixture(name="store")
def _store(state_dir: Path) -> Iterator[StateStore]:
    with StateStore.open(state_dir) as store:
        yield store


class TestPersistence:
    def test_a_new_store_is_empty_and_private(self, state_dir: Path) -> None:
        """Opening creates the directory (parents too) with mode 0700 and knows no notebook."""
        with StateStore.open(state_dir) as store:
            assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
            assert store.records() == []
            assert store.record(NB).resumes == 0
            assert not store.was_resumed(NB, "rt-1")

    @pytest.mark.parametrize("mode", [0o755, 0o750, 0o1777])
    def test_an_existing_dir_open_to_others_is_refused_not_chmodded(self, tmp_path: Path, mode: int) -> None:
        """A state dir sentinel did not create and others can enter is refused (one line); its mode stays."""
        loose = tmp_path / "loose"
        loose.mkdir()
        loose.chmod(mode)
        with pytest.raises(UsageError, match="loose") as raised:
            StateStore.open(loose)
        assert "\n" not in str(raised.value)
        assert stat.S_IMODE(loose.stat().st_mode) == mode
        assert list(loose.iterdir()) == []

    def test_resumed_runtime_survives_a_restart(self, state_dir: Path) -> None:
        """A runtime marked resumed is still known as resumed by the next daemon; a new one is not."""
        with StateStore.open(state_dir) as store:
            record = store.mark_resumed(NB, "rt-1")
            assert record.runtime_id == "rt-1"
            assert record.resumes == 1
            assert store.was_resumed(NB, "rt-1")
            assert not store.was_resumed(NB, "rt-2")
            assert not store.was_resumed(OTHER, "rt-1")
        with StateStore.open(state_dir) as store:
            assert store.was_resumed(NB, "rt-1")
            assert not store.was_resumed(NB, "rt-2")
            store.mark_resumed(NB, "rt-2")
        with StateStore.open(state_dir) as store:
            assert not store.was_resumed(NB, "rt-1")
            assert store.was_resumed(NB, "rt-2")
            assert store.record(NB).resumes == 2

    def test_counters_and_state_persist(self, state_dir: Path) -> None:
        """bump() counts per notebook and field; set_state() keeps the last state."""
        with StateStore.open(state_dir) as store:
            assert store.bump(NB, "reconnects") == 1
            assert store.bump(NB, "reconnects") == 2
            assert store.bump(OTHER, "resumes") == 1
            store.set_state(NB, "connected")
        with StateStore.open(state_dir) as store:
            nb, other = store.record(NB), store.record(OTHER)
            assert (nb.reconnects, nb.resumes, nb.last_state) == (2, 0, "connected")
            assert (other.reconnects, other.resumes, other.last_state) == (0, 1, None)
            assert nb.updated_at is not None
            assert [r.url for r in store.records()] == sorted([NB, OTHER])

    def test_state_may_be_the_session_enum(self, store: StateStore) -> None:
        """The daemon may record its state enum; the store keeps the value."""

        class SessionState(enum.Enum):
            RESUMING = "resuming"

        store.set_state(NB, SessionState.RESUMING)
        assert store.record(NB).last_state == "resuming"
        assert json.loads(store.path.read_text())["notebooks"][NB]["last_state"] == "resuming"

    def test_the_file_is_versioned_json(self, store: StateStore) -> None:
        """The file on disk is plain JSON with a format version, readable by people and tools."""
        store.mark_resumed(NB, "rt-9")
        data = json.loads(store.path.read_text())
        assert data["version"] == 1
        assert data["notebooks"][NB]["runtime_id"] == "rt-9"
        assert data["notebooks"][NB]["resumes"] == 1

    def test_unchanged_state_is_not_rewritten(self, store: StateStore) -> None:
        """Recording the same state twice leaves the file alone."""
        store.set_state(NB, "connected")
        before = store.path.stat().st_ino
        store.set_state(NB, "connected")
        assert store.path.stat().st_ino == before
        store.set_state(NB, "reconnecting")
        assert store.path.stat().st_ino != before

    def test_unknown_counter_is_refused(self, store: StateStore) -> None:
        """Only resumes and reconnects are counters."""
        with pytest.raises(ValueError, match="unknown counter"):
            store.bump(NB, "clicks")  # type: ignore[arg-type]

    def test_a_closed_store_refuses_changes(self, state_dir: Path) -> None:
        """After close() the lock is gone, so writing would race another daemon: it raises."""
        store = StateStore.open(state_dir)
        store.close()
        with pytest.raises(RuntimeError, match="closed"):
            store.mark_resumed(NB, "rt-1")

    def test_a_failed_write_is_logged_not_raised(self, store: StateStore) -> None:
        """A write the OS refuses never reaches the daemon; this process still remembers."""
        # A directory where the file should go makes the rename fail, even for root.
        store.path.mkdir()
        with capture_logs() as logs:
            store.mark_resumed(NB, "rt-1")
        assert store.was_resumed(NB, "rt-1")
        assert [e["event"] for e in logs] == ["statestore.write_failed"]
        assert not list(store.directory.glob(".state.json.*.tmp"))


class TestCorruption:
    @pytest.mark.parametrize(
        "content",
        [
            b'{"version": 1, "notebooks": {"http://x": {"runtime_id": "r',  # torn mid-write
            b"\x00\x00\x00\x00",
            b"",
            b'{"version": 99, "notebooks": {}}',
            b'{"version": 1, "notebooks": {"http://x": {"resumes": -1}}}',
            b'{"version": 1, "notebooks": []}',
            b"[1, 2, 3]",
        ],
        ids=["torn", "zeros", "empty", "future-version", "negative", "wrong-shape", "not-an-object"],
    )
    def test_a_bad_file_is_moved_aside(self, state_dir: Path, content: bytes) -> None:
        """An unreadable state file is kept for inspection, the store starts empty and works."""
        state_dir.mkdir(parents=True, mode=0o700)
        (state_dir / STATE_FILE).write_bytes(content)
        with capture_logs() as logs, StateStore.open(state_dir) as store:
            assert store.records() == []
            store.mark_resumed(NB, "rt-1")
        [aside] = state_dir.glob(f"{STATE_FILE}.corrupt-*")
        assert aside.read_bytes() == content
        assert next(e for e in logs if e["event"] == "statestore.corrupt")["log_level"] == "warning"
        with StateStore.open(state_dir) as store:
            assert store.was_resumed(NB, "rt-1")

    def test_leftover_temp_files_are_removed(self, state_dir: Path) -> None:
        """Temp files of a writer killed mid-write are cleaned up; other files are not touched."""
        with StateStore.open(state_dir) as store:
            store.mark_resumed(NB, "rt-1")
        (state_dir / ".state.json.abc123.tmp").write_text('{"version": 1, "noteb')
        (state_dir / "notes.txt").write_text("mine")
        with StateStore.open(state_dir) as store:
            assert store.was_resumed(NB, "rt-1")
        assert not (state_dir / ".state.json.abc123.tmp").exists()
        assert (state_dir / "notes.txt").read_text() == "mine"


class TestLock:
    def test_a_second_store_in_the_same_dir_is_refused(self, store: StateStore) -> None:
        """Two daemons on one state dir would both resume the same runtime: the second one is refused."""
        with pytest.raises(StateDirLockedError) as info:
            StateStore.open(store.directory)
        assert isinstance(info.value, UsageError)
        assert str(info.value) == (
            f"another sentinel is running with state dir {store.directory} (pid {os.getpid()})"
        )

    def test_the_lock_is_released_on_close(self, state_dir: Path) -> None:
        """After close() another store may open the directory."""
        StateStore.open(state_dir).close()
        with StateStore.open(state_dir):
            pass

    def test_another_process_holding_the_lock_is_named(self, state_dir: Path) -> None:
        """The error names the other process's pid; once it dies, the directory is free again."""
        code = textwrap.dedent(
            f"""
            import sys, time
            from pathlib import Path
            from sentinel.log import configure_logging
            from sentinel.statestore import StateStore
            configure_logging("json", "warning")  # keep stdout for the handshake
            store = StateStore.open(Path({str(state_dir)!r}))
            print("locked", flush=True)
            time.sleep(120)
            """
        )
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "locked"
            with pytest.raises(StateDirLockedError, match=rf"\(pid {child.pid}\)$"):
                StateStore.open(state_dir)
        finally:
            child.kill()
            child.wait(timeout=30)
            if child.stdout is not None:
                child.stdout.close()
        # The kernel drops a dead process's flock: no stale-lock cleanup is ever needed.
        with StateStore.open(state_dir):
            assert (state_dir / LOCK_FILE).read_text().strip() == str(os.getpid())

    def test_a_file_in_place_of_the_dir_is_a_usage_error(self, tmp_path: Path) -> None:
        """A state dir path that is a file gives one clear line."""
        target = tmp_path / "state"
        target.write_text("not a dir")
        with pytest.raises(UsageError, match="is not a directory"):
            StateStore.open(target)


# A writer that never stops: 300 notebooks make a ~60 KB file (many pages per write), and every
# record keeps runtime_id == f"rt-{resumes}", which only whole writes preserve.
_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sentinel.log import configure_logging
    from sentinel.statestore import StateStore
    configure_logging("json", "warning")  # keep stdout for the handshake
    urls = [f"http://127.0.0.1:8765/notebooks/{i:04d}-{'x' * 120}.ipynb" for i in range(300)]
    store = StateStore.open(Path(sys.argv[1]))
    announced = False
    while True:
        for url in urls:
            store.mark_resumed(url, f"rt-{store.record(url).resumes + 1}")
            if not announced:
                print("writing", flush=True)
                announced = True
    """
)


@pytest.mark.slow
def test_sigkill_mid_write_never_leaves_a_torn_file(state_dir: Path) -> None:
    """1. A child rewrites the state file in a tight loop.
    2. It is SIGKILLed at a random moment, 12 times over.
    3. Every time, the next store opens a whole file (nothing moved aside) whose records agree
       with each other, and finds no temp file left behind.
    """
    rng = random.Random(1234)
    state_dir.mkdir(parents=True, mode=0o700)
    last_total = 0
    for _ in range(12):
        child = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(state_dir)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "writing"
            # Let it run through a few full rewrites, then kill it wherever it is.
            try:
                child.wait(timeout=rng.uniform(0.2, 0.8))
            except subprocess.TimeoutExpired:
                pass
            else:
                pytest.fail(f"the writer exited on its own with {child.returncode}")
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
            if child.stdout is not None:
                child.stdout.close()
        with capture_logs() as logs, StateStore.open(state_dir) as store:
            records = store.records()
        assert not [e for e in logs if e["event"] == "statestore.corrupt"]
        assert not list(state_dir.glob(f"{STATE_FILE}.corrupt-*"))
        assert records, "the writer was killed before its first write"
        for record in records:
            # runtime_id and resumes are written together: a whole file never separates them.
            assert record.runtime_id == f"rt-{record.resumes}"
        total = sum(r.resumes for r in records)
        assert total >= last_total, "a restart lost writes that had been made durable"
        last_total = total
    assert not list(state_dir.glob(".state.json.*.tmp"))
