"""When the run is over, in real Chromium on the emulator: finished, failed, retried, remembered."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from sentinel.emulator.testing import EmulatorServer
from sentinel.session import ErrorKind, SessionState
from tests._eventually import consistently, eventually
from tests._sink import Sink
from tests.daemon.conftest import FAST, RESUME_CELL, _notebook, resume_starts, running_daemon, session_for

# Every resume cell runs for a moment first, so the observer sees it running before it ends.
_BEGIN = "# sentinel: resume\nimport time\ntime.sleep(1.0)\n"
_REPORT = 'print("[sentinel] " + \'{"step": %d, "total": 3}\')\n'


def _resume(body: str) -> dict[str, object]:
    return _notebook([("setup", "value = 41"), (RESUME_CELL, _BEGIN + body)])


RUNS = replace(FAST, retry_base=0.5, max_resume_retries=2)


@pytest.fixture(scope="module")
async def emu(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmulatorServer]:
    """done (finishes), oom (CUDA out of memory), flaky (Drive lost once), broken (Drive lost always)."""
    folder = tmp_path_factory.mktemp("run-notebooks")
    marker = tmp_path_factory.mktemp("flaky") / "failed-once"
    drive_lost = 'raise OSError(107, "Transport endpoint is not connected", "/content/drive/MyDrive/run")\n'
    notebooks = {
        "done": _resume(_REPORT % 1 + _REPORT % 3),
        "done2": _resume(_REPORT % 3),
        "night": _resume(_REPORT % 3),
        "oom": _resume(
            _REPORT % 1
            + 'raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 14.75 GiB total capacity)")\n'
        ),
        "flaky": _resume(
            "import pathlib\n"
            f"marker = pathlib.Path({str(marker)!r})\n"
            "if not marker.exists():\n"
            "    marker.write_text('x')\n"
            f"    {_REPORT % 1}"
            f"    {drive_lost}"
            f"{_REPORT % 3}"
        ),
        "broken": _resume(_REPORT % 1 + drive_lost),
    }
    for name, notebook in notebooks.items():
        (folder / f"{name}.ipynb").write_text(json.dumps(notebook))
    async with EmulatorServer(notebooks_dir=folder, allocation_delay=0.2) as server:
        yield server


async def _disconnects(emu: EmulatorServer, name: str) -> list[dict[str, object]]:
    await emu.wait_for_event(name, "runtime.disconnected", timeout=20)
    return [e for e in await emu.events(name) if e["kind"] == "runtime.disconnected"]


async def _connects(emu: EmulatorServer, name: str, since: float) -> int:
    return sum(1 for e in await emu.events(name, since=since) if e["kind"] == "runtime.connected")


async def test_a_finished_run_lets_the_runtime_go_and_is_remembered(
    emu: EmulatorServer, sink: Sink, tmp_path: Path
) -> None:
    """1. The resume cell reports 3/3: FINISHED within a second, one notification.
    2. Keep-alive stops; Colab's idle timer then disconnects the runtime and nobody reconnects.
    3. A restarted daemon remembers: still FINISHED, no resume, no connect."""
    url = emu.notebook_url("done")
    async with running_daemon([url], tmp_path, policy=RUNS, notify=(sink.url(),)) as daemon:
        session = session_for(daemon, "done")
        await eventually(lambda: session.state is SessionState.FINISHED, timeout=40, what="finished")
        ended = next(
            e["t"]
            for e in await emu.events("done")
            if e["kind"] == "cell.finished" and e.get("cell_id") == RESUME_CELL
        )
        assert session.since - ended < 2.0, "finished is noticed right when the cell ends"
        assert session.finished_summary is not None and session.finished_summary.startswith("step 3/3 in ")
        await eventually(
            lambda: any("finished" in (m.get("title") or "") for m in sink.received), timeout=15, what="told"
        )
        keepalives = session.counters.keepalives
        since = time.time()
        await emu.inject("done", "idle_disconnect")
        await consistently(
            lambda: session.counters.keepalives == keepalives and session.state is SessionState.FINISHED,
            duration=4.0,
            what="no keep-alive and no reconnect once finished",
        )
        assert await _connects(emu, "done", since) == 0
        status = next(nb for nb in daemon.snapshot().notebooks if nb.url == url)
        assert status.state == "finished" and status.finished_at is not None
    assert sum(1 for m in sink.received if "finished" in (m.get("title") or "")) == 1
    since = time.time()
    async with running_daemon([url], tmp_path, policy=RUNS) as again:
        session = session_for(again, "done")
        await eventually(lambda: session.state is SessionState.FINISHED, timeout=30, what="remembered")
        await consistently(
            lambda: session.state is SessionState.FINISHED, duration=2.0, what="stays finished"
        )
        assert await _connects(emu, "done", since) == 0
        assert await resume_starts(emu, "done", since) == {}


async def test_on_finish_release_deletes_the_runtime(emu: EmulatorServer, tmp_path: Path) -> None:
    """--on-finish release: Runtime > Disconnect and delete runtime, confirmed, right after finishing."""
    async with running_daemon(
        [emu.notebook_url("done2")], tmp_path, policy=replace(RUNS, on_finish="release")
    ) as d:
        session = session_for(d, "done2")
        await eventually(lambda: session.state is SessionState.FINISHED, timeout=40, what="finished")
        [gone] = await _disconnects(emu, "done2")
        assert gone["reason"] == "user", gone
        runtime = (await emu.state("done2"))["runtime"]
        assert runtime is None or runtime["state"] == "disconnected", runtime


async def test_cuda_oom_is_an_error_with_its_diagnosis_and_no_rerun(
    emu: EmulatorServer, sink: Sink, tmp_path: Path
) -> None:
    """Out of memory: ERROR (run_failed) with the diagnosis in /status, one notification, run once."""
    url = emu.notebook_url("oom")
    async with running_daemon([url], tmp_path, policy=RUNS, notify=(sink.url(),)) as daemon:
        session = session_for(daemon, "oom")
        await eventually(lambda: session.state is SessionState.ERROR, timeout=40, what="error")
        assert session.error_kind is ErrorKind.RUN_FAILED
        assert session.diagnosis is not None and session.diagnosis.key == "cuda_oom"
        status = next(nb for nb in daemon.snapshot().notebooks if nb.url == url)
        assert status.state == "error"
        assert status.diagnosis == session.diagnosis.cause
        assert status.action is not None and "batch size" in status.action
        await eventually(
            lambda: any("error" in (m.get("title") or "") for m in sink.received), timeout=15, what="told"
        )
        told = [m for m in sink.received if "error" in (m.get("title") or "")]
        assert len(told) == 1 and "batch size" in told[0]["message"]
        keepalives = session.counters.keepalives
        await consistently(
            lambda: session.counters.keepalives == keepalives, duration=3.0, what="keep-alive stopped"
        )
        assert sum((await resume_starts(emu, "oom")).values()) == 1


async def test_a_retryable_failure_succeeds_on_the_second_try(emu: EmulatorServer, tmp_path: Path) -> None:
    """Drive's mount lost once: Restart session, the resume runs once in the fresh process, then finishes."""
    async with running_daemon([emu.notebook_url("flaky")], tmp_path, policy=RUNS) as daemon:
        session = session_for(daemon, "flaky")
        await eventually(
            lambda: session.state is SessionState.FINISHED, timeout=60, what="finished after a retry"
        )
        events = await emu.events("flaky")
        assert sum(1 for e in events if e["kind"] == "runtime.restarted") == 1
        starts = [e for e in events if e["kind"] == "cell.started" and e.get("cell_id") == RESUME_CELL]
        assert len(starts) == 2
        assert session.counters.resumes == 2


async def test_retries_are_bounded(emu: EmulatorServer, tmp_path: Path) -> None:
    """Drive lost every time: max_resume_retries (2) restarts, then ERROR retries_exhausted."""
    async with running_daemon([emu.notebook_url("broken")], tmp_path, policy=RUNS) as daemon:
        session = session_for(daemon, "broken")
        await eventually(lambda: session.state is SessionState.ERROR, timeout=90, what="given up")
        assert session.error_kind is ErrorKind.RETRIES_EXHAUSTED
        events = await emu.events("broken")
        assert sum(1 for e in events if e["kind"] == "runtime.restarted") == 2
        assert sum((await resume_starts(emu, "broken")).values()) == 3


async def test_a_notebook_outside_its_active_hours_is_left_alone(emu: EmulatorServer, tmp_path: Path) -> None:
    """A [[notebooks]] table with a window that is not now: PAUSED with its reason, never connected."""
    from datetime import datetime, timedelta

    later = datetime.now() + timedelta(hours=2)
    window = f"{later:%H:%M}-{later + timedelta(hours=1):%H:%M}"
    url = emu.notebook_url("night")
    notebooks = [{"url": url, "name": "night-run", "active_hours": [window]}]
    async with running_daemon([], tmp_path, policy=RUNS, notebooks=notebooks) as daemon:
        session = session_for(daemon, "night")
        await eventually(lambda: session.state is SessionState.PAUSED, timeout=30, what="paused")
        assert session.paused_reason == f"outside active hours (daily {window})"
        await consistently(lambda: session.state is SessionState.PAUSED, duration=3.0, what="stays paused")
        assert await _connects(emu, "night", 0) == 0
        [status] = daemon.snapshot().notebooks
        assert (status.state, status.display_name) == ("paused", "night-run")
        assert daemon.wakeups.jobs == 2
