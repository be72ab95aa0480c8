"""What must survive a daemon restart (resumed runtimes, counters), written atomically to the state dir.

Layout of ``Settings.state_dir`` (mode 0700)::

    state.json         {"version": 1, "notebooks": {URL: {...}}}: replaced atomically, never edited
    sentinel.lock      flock'ed by the running daemon; holds its pid
    state.json.corrupt-<UTC time>   a file that could not be read, moved aside

Every change is written to a temp file in the same directory, fsync'ed, renamed over
``state.json`` with :func:`os.replace` and the directory fsync'ed, so a crash at any instant leaves
either the old or the new file, never a torn one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sentinel.errors import StateDirLockedError, UsageError
from sentinel.privatedir import prepare_private_dir

log = structlog.get_logger(__name__)

FORMAT_VERSION = 1
STATE_FILE = "state.json"
LOCK_FILE = "sentinel.lock"
_TEMP_PREFIX = ".state.json."
_TEMP_SUFFIX = ".tmp"

Counter = Literal["resumes", "reconnects"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runtime_id: str | None = None
    resumes: int = Field(default=0, ge=0)
    reconnects: int = Field(default=0, ge=0)
    last_state: str | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    finished_summary: str | None = None


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    notebooks: dict[str, _Record]


@dataclass(frozen=True, slots=True)
class NotebookRecord:
    """What the store knows about one notebook (a copy; changing it changes nothing).

    Attributes:
        url: the notebook URL.
        runtime_id: the last runtime the resume cell was run in (Colab's ``managedId``), if any.
        resumes: resume cells run, over the store's lifetime.
        reconnects: reconnects made, over the store's lifetime.
        last_state: the session state last recorded.
        updated_at: when any of this last changed (UTC).
        finished_at: when the run was seen finished (UTC), if it was.
        finished_summary: how it finished, in words ("step 5000/5000 in 3 h 12 min").
    """

    url: str
    runtime_id: str | None = None
    resumes: int = 0
    reconnects: int = 0
    last_state: str | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    finished_summary: str | None = None


class StateStore:
    """The daemon's persisted state, with the state dir locked to this process.

    Open it with :meth:`open` and close it (or use ``with``) when the daemon stops; the lock goes
    with the process anyway if it dies. Every mutating call writes the file before it returns, so
    what a caller was told is durable; a failed write (disk full) is logged as
    ``statestore.write_failed`` and never raised, since keeping notebooks alive matters more.
    Writes are a few hundred bytes and happen only on reconnects, resumes and state changes, so
    calling from the event loop is fine.
    """

    def __init__(self, directory: Path, lock_fd: int, records: dict[str, _Record]) -> None:
        self._dir = directory
        self._lock_fd: int | None = lock_fd
        self._records = records

    @classmethod
    def open(cls, directory: Path) -> StateStore:
        """Create (mode 0700) and lock ``directory``, then load its state.

        A state file that cannot be read (torn, not JSON, wrong shape, unknown version) is moved
        aside with a ``statestore.corrupt`` warning and the store starts empty: losing counters is
        better than a daemon that cannot start.

        Raises:
            StateDirLockedError: another sentinel runs with this state dir (the message names its pid).
            UsageError: the directory cannot be created or written.
        """
        directory = _prepare_dir(directory)
        lock_fd = _lock(directory)
        try:
            _remove_stale_temps(directory)
            records = _load(directory / STATE_FILE)
        except BaseException:
            os.close(lock_fd)
            raise
        log.debug("statestore.opened", state_dir=str(directory), notebooks=len(records))
        return cls(directory, lock_fd, records)

    @property
    def directory(self) -> Path:
        """The state directory."""
        return self._dir

    @property
    def path(self) -> Path:
        """The state file."""
        return self._dir / STATE_FILE

    def was_resumed(self, url: str, runtime_id: str) -> bool:
        """True when the resume cell already ran in runtime ``runtime_id`` of notebook ``url``.

        ``X~2`` is the second restart of runtime ``X`` (a retry): a resume there counts for ``X``.
        """
        record = self._records.get(url)
        last = record.runtime_id if record is not None else None
        return last is not None and (last == runtime_id or last.startswith(f"{runtime_id}~"))

    def mark_finished(self, url: str, summary: str) -> None:
        """Remember (durably) that the run of ``url`` finished, and how."""
        self._check_open()
        record = self._records.get(url, _Record())
        now = _now()
        self._commit(
            url,
            record.model_copy(update={"finished_at": now, "finished_summary": summary, "updated_at": now}),
        )

    def finished(self, url: str) -> str | None:
        """How the run of ``url`` finished, if it did (None: not finished)."""
        record = self._records.get(url)
        return record.finished_summary if record is not None and record.finished_at is not None else None

    def mark_resumed(self, url: str, runtime_id: str) -> NotebookRecord:
        """Remember (durably) that the resume cell ran in ``runtime_id``, and count the resume.

        Call it as soon as the resume cell is seen running: a daemon killed before this call
        resumes that runtime again after a restart (the notebook kit makes that harmless); after
        it, never.
        """
        self._check_open()
        record = self._records.get(url, _Record())
        changed = record.model_copy(
            update={"runtime_id": runtime_id, "resumes": record.resumes + 1, "updated_at": _now()}
        )
        self._commit(url, changed)
        return _public(url, changed)

    def bump(self, url: str, counter: Counter) -> int:
        """Add one to ``counter`` (``"resumes"`` or ``"reconnects"``) of ``url``; returns the new value."""
        self._check_open()
        if counter not in ("resumes", "reconnects"):
            raise ValueError(f"unknown counter {counter!r}; expected 'resumes' or 'reconnects'")
        record = self._records.get(url, _Record())
        value = getattr(record, counter) + 1
        self._commit(url, record.model_copy(update={counter: value, "updated_at": _now()}))
        return int(value)

    def set_state(self, url: str, state: str | Enum) -> None:
        """Record the session state of ``url`` (its enum or value; written only when it changed)."""
        self._check_open()
        state = str(state.value) if isinstance(state, Enum) else state
        record = self._records.get(url, _Record())
        if record.last_state != state:
            self._commit(url, record.model_copy(update={"last_state": state, "updated_at": _now()}))

    def record(self, url: str) -> NotebookRecord:
        """What the store holds for ``url`` (zeros for a notebook it has never seen)."""
        return _public(url, self._records.get(url, _Record()))

    def records(self) -> list[NotebookRecord]:
        """Every notebook the store knows, by URL."""
        return [_public(url, record) for url, record in sorted(self._records.items())]

    def close(self) -> None:
        """Release the state dir's lock. Further changes raise; reading still works."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
            log.debug("statestore.closed", state_dir=str(self._dir))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._lock_fd is None:
            raise RuntimeError("the state store is closed; open a new one to change it")

    def _commit(self, url: str, record: _Record) -> None:
        self._records = {**self._records, url: record}
        try:
            _write_atomically(self.path, _File(version=FORMAT_VERSION, notebooks=self._records))
        except OSError as exc:
            # A full or read-only disk must not stop the daemon keeping notebooks alive: this
            # process still remembers, only a restart would forget.
            log.error("statestore.write_failed", file=str(self.path), error=exc.strerror or str(exc))


def _now() -> datetime:
    return datetime.now(UTC)


def _public(url: str, record: _Record) -> NotebookRecord:
    return NotebookRecord(url=url, **record.model_dump())


def _prepare_dir(directory: Path) -> Path:
    # Debug bundles (screenshots, DOM) land here too: nobody else should read them. A folder
    # sentinel did not create is refused, never chmod'ed.
    return prepare_private_dir(directory, "state dir")


def _lock(directory: Path) -> int:
    path = directory / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise UsageError(f"state dir {directory}: cannot open {LOCK_FILE}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        who = f"pid {holder}" if holder else "pid unknown"
        raise StateDirLockedError(f"another sentinel is running with state dir {directory} ({who})") from None
    # The pid is only a hint for that message; the flock is what excludes.
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip())
    return None


def _remove_stale_temps(directory: Path) -> None:
    # Left by a process killed mid-write; the lock proves no writer is alive, and the name proves
    # they are ours.
    for leftover in directory.glob(f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
            log.info("statestore.temp_removed", file=leftover.name)


def _load(path: Path) -> dict[str, _Record]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"state file {path}: {exc.strerror or exc}") from None
    try:
        return _File.model_validate(json.loads(raw)).notebooks
    except (ValueError, ValidationError) as exc:
        # json's and pydantic's errors are both ValueErrors; either way the file is unusable.
        aside = path.with_name(f"{path.name}.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}")
        path.replace(aside)
        _fsync_dir(path.parent)
        problem = "not JSON" if isinstance(exc, json.JSONDecodeError) else "unexpected content"
        log.warning("statestore.corrupt", file=str(path), moved_to=aside.name, problem=problem)
        return {}


def _write_atomically(path: Path, content: _File) -> None:
    data = (json.dumps(content.model_dump(mode="json"), indent=1, sort_keys=True) + "\n").encode()
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temp).unlink()
        raise
    # The rename is durable only once the directory entry is.
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["NotebookRecord", "StateStore"]
