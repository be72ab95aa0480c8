"""Test aids: run a real emulator on a free port, in the current event loop or in a thread.

Used by the emulator's own tests and by everyone else's (page, userscript, daemon, benchmarks)::

    async with EmulatorServer(allocation_delay=0.2) as emu:
        await page.goto(emu.notebook_url("hello", ui="2023"))
        since = time.time()
        await emu.inject("hello", "crash_oom")
        event = await emu.wait_for_event("hello", "runtime.connected", since=since)

    with EmulatorThread() as emu:          # a server on its own loop, for sync code and benchmarks
        emu.inject("hello", "gpu_limit")
        emu.wait_for_event("hello", "runtime.connect_failed")

Both talk to the emulator object directly (no HTTP), so the test API works during an ``outage``.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import urllib.parse
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from sentinel.emulator import start_site
from sentinel.emulator.events import Event, EventPredicate
from sentinel.emulator.faults import parse_fault
from sentinel.emulator.hub import NotebookHub
from sentinel.emulator.server import Emulator

__all__ = ["EmulatorServer", "EmulatorThread", "UnknownNotebookError"]

_T = TypeVar("_T")


class UnknownNotebookError(LookupError):
    """Raised when a test names a notebook the emulator does not serve."""


class EmulatorServer:
    """A real emulator on ``127.0.0.1:<free port>``, running in the current event loop.

    Args:
        notebooks_dir: folder of ``.ipynb`` files (default: the bundled samples).
        drive_dir: folder playing Google Drive (default: a temporary folder, removed on exit).
        idle_timeout: seconds of the page's idle timer.
        max_lifetime: seconds a runtime lives at most.
        allocation_delay: seconds "Connecting" lasts at least (kept short for tests).
        host: the address to bind.
        static_dir: the page's files (default: the real page); for tests of the server alone.
    """

    def __init__(
        self,
        *,
        notebooks_dir: Path | None = None,
        drive_dir: Path | None = None,
        idle_timeout: float = 3600.0,
        max_lifetime: float = 43200.0,
        allocation_delay: float = 0.2,
        host: str = "127.0.0.1",
        static_dir: Path | None = None,
    ) -> None:
        self._options: dict[str, Any] = {
            "notebooks_dir": notebooks_dir,
            "idle_timeout": idle_timeout,
            "max_lifetime": max_lifetime,
            "allocation_delay": allocation_delay,
        }
        if static_dir is not None:
            self._options["static_dir"] = static_dir
        self._drive_dir = drive_dir
        self._own_drive: Path | None = None
        self._host = host
        self._emulator: Emulator | None = None
        self._runner: web.AppRunner | None = None

    @property
    def emulator(self) -> Emulator:
        """The running :class:`~sentinel.emulator.server.Emulator` (for white-box tests)."""
        if self._emulator is None:
            raise RuntimeError("the emulator is not running; use `async with EmulatorServer() as emu:`")
        return self._emulator

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.emulator.base_url

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(urllib.parse.urlsplit(self.base_url).port or 0)

    @property
    def drive_dir(self) -> Path:
        """The folder playing "My Drive"."""
        return self.emulator.drive_dir

    def notebook_url(self, name: str, ui: str = "2025", **query: str) -> str:
        """The page URL of notebook ``name``, e.g. ``notebook_url("hello", ui="2022", external="github")``."""
        params = urllib.parse.urlencode({"ui": ui, **query})
        return f"{self.base_url}/notebooks/{urllib.parse.quote(name)}?{params}"

    async def start(self) -> None:
        """Start listening (``async with`` does this)."""
        drive = self._drive_dir
        if drive is None:
            drive = self._own_drive = Path(tempfile.mkdtemp(prefix="sentinel-drive-"))
        self._emulator = Emulator(drive_dir=drive, **self._options)
        try:
            self._runner = await start_site(self._emulator, self._host, 0)
        except BaseException:
            await self._emulator.close()
            self._emulator = None
            raise

    async def close(self) -> None:
        """Stop the server and kill every kernel it started."""
        if self._runner is not None:
            await self._runner.cleanup()  # its shutdown hook closes the emulator
            self._runner = None
        if self._emulator is not None:
            await self._emulator.close()
            self._emulator = None
        if self._own_drive is not None:
            shutil.rmtree(self._own_drive, ignore_errors=True)
            self._own_drive = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def hub(self, name: str) -> NotebookHub:
        """The notebook's hub (white-box access).

        Raises:
            UnknownNotebookError: no ``{name}.ipynb`` in the notebooks folder.
        """
        hub = self.emulator.hub(name)
        if hub is None:
            raise UnknownNotebookError(f"the emulator serves no notebook named {name!r}")
        return hub

    async def inject(self, name: str, kind: str, **fields: Any) -> None:
        """Inject a fault, exactly as ``POST /api/notebooks/{name}/faults`` would.

        Raises:
            InvalidFaultError: unknown kind or bad fields (the HTTP API answers 400 with this message).
        """
        await self.hub(name).inject(parse_fault({"kind": kind, **fields}))

    async def events(self, name: str, since: float | None = None) -> list[Event]:
        """The notebook's event log (entries after ``since`` when given)."""
        return self.hub(name).events.since(since)

    async def clear_events(self, name: str) -> None:
        """Empty the notebook's event log."""
        self.hub(name).events.clear()

    async def wait_for_event(
        self,
        name: str,
        kind: str,
        timeout: float = 15.0,  # noqa: ASYNC109  # the documented test API; it bounds one wait
        since: float | None = None,
        predicate: EventPredicate | None = None,
    ) -> Event:
        """The first event of ``kind`` after ``since`` matching ``predicate`` (already logged ones count).

        Raises:
            TimeoutError: none within ``timeout`` seconds; the message lists the kinds seen.
        """
        return await self.hub(name).events.wait_for(kind, since=since, predicate=predicate, timeout=timeout)

    async def state(self, name: str) -> dict[str, Any]:
        """What ``GET /api/notebooks/{name}/state`` answers."""
        return self.hub(name).snapshot()

    async def reset(self) -> None:
        """Kill every runtime; clear faults, events and sign-in state (``POST /api/reset``)."""
        await self.emulator.reset()


class EmulatorThread:
    """An :class:`EmulatorServer` running on its own event loop in a daemon thread, with a sync API.

    For benchmarks, scripts and sync tests. Takes the same arguments as :class:`EmulatorServer`.
    """

    def __init__(self, **options: Any) -> None:
        self.server = EmulatorServer(**options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _call(self, work: Coroutine[Any, Any, _T], timeout: float | None = 60.0) -> _T:
        if self._loop is None:
            work.close()
            raise RuntimeError("the emulator thread is not running; use `with EmulatorThread() as emu:`")
        future: Future[_T] = asyncio.run_coroutine_threadsafe(work, self._loop)
        return future.result(timeout)

    def start(self) -> None:
        """Start the thread and wait until the server listens."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def _run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=_run, name="sentinel-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        self._loop = loop
        try:
            self._call(self.server.start())
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (killing its kernels) and the thread."""
        if self._loop is None:
            return
        try:
            self._call(self.server.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            self._loop = None
            self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.server.base_url

    @property
    def drive_dir(self) -> Path:
        """The folder playing "My Drive"."""
        return self.server.drive_dir

    def notebook_url(self, name: str, ui: str = "2025", **query: str) -> str:
        """See :meth:`EmulatorServer.notebook_url`."""
        return self.server.notebook_url(name, ui, **query)

    def inject(self, name: str, kind: str, **fields: Any) -> None:
        """See :meth:`EmulatorServer.inject`."""
        self._call(self.server.inject(name, kind, **fields))

    def events(self, name: str, since: float | None = None) -> list[Event]:
        """See :meth:`EmulatorServer.events`."""
        return self._call(self.server.events(name, since))

    def clear_events(self, name: str) -> None:
        """See :meth:`EmulatorServer.clear_events`."""
        self._call(self.server.clear_events(name))

    def wait_for_event(
        self,
        name: str,
        kind: str,
        timeout: float = 15.0,
        since: float | None = None,
        predicate: EventPredicate | None = None,
    ) -> Event:
        """See :meth:`EmulatorServer.wait_for_event`."""
        return self._call(self.server.wait_for_event(name, kind, timeout, since, predicate), timeout + 10)

    def state(self, name: str) -> dict[str, Any]:
        """See :meth:`EmulatorServer.state`."""
        return self._call(self.server.state(name))

    def reset(self) -> None:
        """See :meth:`EmulatorServer.reset`."""
        self._call(self.server.reset())
