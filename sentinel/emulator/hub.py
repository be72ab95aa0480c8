"""Per-notebook state: the page connections, the runtime lifecycle, the cell queue, faults and Drive consent.

All of it runs on the emulator's event loop; nothing here is thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import structlog
from aiohttp import web

from sentinel.emulator.events import EventLog
from sentinel.emulator.faults import Fault, FaultKind
from sentinel.emulator.runtime import Output, Runtime, RuntimeDiedError, new_runtime_id

log = structlog.get_logger(__name__)

RuntimeState = Literal["allocating", "connected", "disconnected"]
ConsentKind = Literal["drive", "credentials"]

# Colab waits up to an hour for the consent popup (colab-ui.md section 5).
DRIVE_CONSENT_TIMEOUT = 3600.0
# How often the watcher checks that the kernel process still lives (a death is a crash).
_WATCH_INTERVAL = 0.5
_CRASH_TOASTS = {
    "crash_oom": "Your session crashed after using all available RAM.",
    "crash": "Your session crashed for an unknown reason.",
}


@dataclass(slots=True)
class HubConfig:
    """What every notebook hub of one emulator shares."""

    idle_timeout: float
    max_lifetime: float
    allocation_delay: float
    drive_dir: Path
    state_dir: Path
    base_url: str = ""


@dataclass(slots=True)
class _QueuedCell:
    cell_id: str
    code: str


@dataclass(slots=True)
class _DriveRequest:
    runtime_id: str
    kind: ConsentKind
    future: asyncio.Future[tuple[bool, str]]


class NotebookHub:
    """Everything the emulator knows about one notebook (``{name}.ipynb``).

    Args:
        name: the notebook's URL name.
        config: the emulator-wide settings and folders.
    """

    def __init__(self, name: str, config: HubConfig) -> None:
        self.name = name
        self.config = config
        self.events = EventLog()
        self.clients: set[web.WebSocketResponse] = set()
        self.runtime: Runtime | None = None
        self.runtime_state: RuntimeState | None = None
        self.signed_in = True
        self.pending_faults: set[FaultKind] = set()
        self.allocation_delay: float | None = None  # set by the allocation_delay fault
        self._outage_until: float | None = None
        self._outage_task: asyncio.Task[None] | None = None
        # What the last connect asked for; an auto-connect (Run while disconnected) reuses it.
        self._gpu = True
        self._queue: deque[_QueuedCell] = deque()
        self._running: _QueuedCell | None = None
        self._work = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # Serialises connect/disconnect/crash/restart/reset: they come from the page, the fault API
        # and timers at once, and two of them interleaving could orphan a kernel.
        self._lifecycle = asyncio.Lock()
        # Set by close(): after it nothing may start a kernel, or the kernel (and its ZMQ sockets)
        # would outlive the server.
        self._closed = False
        self._drive_requests: dict[str, _DriveRequest] = {}
        self._drive_granted: set[tuple[str, ConsentKind]] = set()
        self._log = log.bind(notebook=name)
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "hello": self._on_hello,
            "connect": self._on_connect,
            "execute": self._on_execute,
            "interrupt": self._on_interrupt,
            "restart": self._on_restart,
            "disconnect": self._on_disconnect,
            "drive_consent": self._on_drive_consent,
            "cancel": self._on_cancel,
            "event": self._on_event,
        }

    # ---- page connections -------------------------------------------------------------------

    @property
    def in_outage(self) -> bool:
        """Whether an ``outage`` fault currently refuses this notebook's page and WebSocket."""
        return self._outage_until is not None and time.monotonic() < self._outage_until

    async def add_client(self, ws: web.WebSocketResponse) -> None:
        """Register a page connection and bring it up to date (state, pending Drive requests)."""
        self.clients.add(ws)
        await self._send(ws, self.state_message())
        for request_id, request in self._drive_requests.items():
            await self._send(ws, {"type": "drive_request", "request": request_id, "kind": request.kind})

    def remove_client(self, ws: web.WebSocketResponse) -> None:
        """Forget a page connection. The runtime keeps running, as when a Colab tab is closed."""
        self.clients.discard(ws)

    def state_message(self) -> dict[str, Any]:
        """The ``state`` message pages get on connect and on every change."""
        runtime = None
        if self.runtime is not None and self.runtime_state is not None:
            runtime = {"id": self.runtime.id, "state": self.runtime_state, "gpu": self.runtime.gpu}
        return {
            "type": "state",
            "runtime": runtime,
            "signed_in": self.signed_in,
            "idle_timeout": self.config.idle_timeout,
            "server_time": time.time(),
            "cells": [
                {
                    "cell_id": cell.cell_id,
                    "state": "running" if cell is self._running else "pending",
                    "execution_count": None,
                }
                for cell in self._pending_and_running()
            ],
        }

    def snapshot(self) -> dict[str, Any]:
        """The ``GET .../state`` answer."""
        runtime = None
        if self.runtime is not None and self.runtime_state is not None:
            runtime = {
                "id": self.runtime.id,
                "state": self.runtime_state,
                "pid": self.runtime.pid if self.runtime_state != "disconnected" else None,
                "started_at": self.runtime.started_at,
                "gpu": self.runtime.gpu,
            }
        return {
            "runtime": runtime,
            "signed_in": self.signed_in,
            "pending_faults": sorted(kind.value for kind in self.pending_faults),
            "allocation_delay": self._allocation_delay(),
            "outage": self.in_outage,
            "clients": len(self.clients),
            "queue": [cell.cell_id for cell in self._pending_and_running()],
        }

    async def broadcast(self, message: dict[str, Any]) -> None:
        """Send ``message`` to every connected page; a page that went away is dropped."""
        for ws in list(self.clients):
            await self._send(ws, message)

    async def _send(self, ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
        if ws.closed:
            self.clients.discard(ws)
            return
        try:
            await ws.send_json(message)
        except (ConnectionError, RuntimeError):
            self.clients.discard(ws)

    async def _broadcast_state(self) -> None:
        await self.broadcast(self.state_message())

    # ---- messages from the page -------------------------------------------------------------

    async def handle_message(self, message: dict[str, Any]) -> None:
        """Act on one parsed WebSocket message from a page (see docs/emulator-protocol.md).

        Raises:
            ValueError: the message has an unknown type or bad fields (the caller reports it).
        """
        if self._closed:
            return
        kind = message.get("type")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise ValueError(f"unknown message type {kind!r}")
        await handler(message)

    async def _on_hello(self, message: dict[str, Any]) -> None:
        self._log.debug("emulator.page_hello", ui=message.get("ui"))

    async def _on_connect(self, message: dict[str, Any]) -> None:
        await self.connect(gpu=bool(message.get("gpu", True)))

    async def _on_execute(self, message: dict[str, Any]) -> None:
        cell_id, code = message.get("cell_id"), message.get("code")
        if not isinstance(cell_id, str) or not cell_id or not isinstance(code, str):
            raise ValueError("execute needs a 'cell_id' string and a 'code' string")
        await self.execute(cell_id, code)

    async def _on_interrupt(self, _message: dict[str, Any]) -> None:
        await self.interrupt()

    async def _on_restart(self, _message: dict[str, Any]) -> None:
        await self.restart()

    async def _on_disconnect(self, message: dict[str, Any]) -> None:
        reason = message.get("reason")
        if reason not in ("idle", "user"):
            raise ValueError(f"disconnect needs 'reason' 'idle' or 'user', got {reason!r}")
        await self.disconnect(reason)

    async def _on_drive_consent(self, message: dict[str, Any]) -> None:
        request, ok = message.get("request"), message.get("ok")
        if not isinstance(request, str) or not isinstance(ok, bool):
            raise ValueError("drive_consent needs a 'request' string and an 'ok' boolean")
        self.answer_drive_request(request, ok=ok, error=str(message.get("error") or ""))

    async def _on_cancel(self, message: dict[str, Any]) -> None:
        cell_id = message.get("cell_id")
        if not isinstance(cell_id, str) or not cell_id:
            raise ValueError("cancel needs a 'cell_id' string")
        await self.cancel(cell_id)

    async def _on_event(self, message: dict[str, Any]) -> None:
        event_kind = message.get("kind")
        if not isinstance(event_kind, str) or not event_kind or len(event_kind) > 100:
            raise ValueError("event needs a 'kind' string")
        # The server stamps `t`; the page's own clock travels as `client_t`.
        fields = {k: v for k, v in message.items() if k not in ("type", "kind", "t")}
        self.events.append(event_kind, **fields)

    # ---- runtime lifecycle ------------------------------------------------------------------

    def _allocation_delay(self) -> float:
        return self.config.allocation_delay if self.allocation_delay is None else self.allocation_delay

    async def connect(self, *, gpu: bool) -> None:
        """Allocate a fresh runtime (unless one is allocating or connected), or fail as a fault says."""
        async with self._lifecycle:
            await self._connect(gpu=gpu)

    async def _connect(self, *, gpu: bool) -> None:
        if self._closed:
            return
        if self.runtime_state in ("allocating", "connected"):
            await self._broadcast_state()
            return
        self._gpu = gpu
        dialog: str | None = None
        if not self.signed_in:
            dialog = "signed_out"
        elif FaultKind.TOO_MANY_SESSIONS in self.pending_faults:
            self.pending_faults.discard(FaultKind.TOO_MANY_SESSIONS)
            dialog = "too_many_sessions"
        elif gpu and FaultKind.GPU_LIMIT in self.pending_faults:
            self.pending_faults.discard(FaultKind.GPU_LIMIT)
            dialog = "gpu_limit"
        if dialog is not None:
            self.events.append("runtime.connect_failed", dialog=dialog, gpu=gpu)
            await self._cancel_queue()
            await self.broadcast({"type": "connect_failed", "dialog": dialog})
            return
        await self._allocate(gpu=gpu)

    async def _allocate(self, *, gpu: bool) -> None:
        if self._closed:
            return
        runtime_id = new_runtime_id()
        runtime = Runtime(
            runtime_id,
            content_dir=self.config.state_dir / "content" / runtime_id,
            work_dir=self.config.state_dir / "k" / runtime_id[:8],
            emulator_url=self.config.base_url,
            gpu=gpu,
        )
        self.runtime = runtime
        self.runtime_state = "allocating"
        self.events.append("runtime.allocating", runtime_id=runtime_id, gpu=gpu)
        await self.broadcast({"type": "runtime", "state": "allocating", "id": runtime_id, "reason": None})
        await self._broadcast_state()
        self._spawn("allocate", self._finish_allocation(runtime))

    async def _finish_allocation(self, runtime: Runtime) -> None:
        delay = self._allocation_delay()
        try:
            # The kernel starts while "Connecting" shows; the page sees whichever takes longer.
            await asyncio.gather(runtime.start(), asyncio.sleep(delay))
        except asyncio.CancelledError:
            await runtime.destroy()
            raise
        except Exception as exc:
            self._log.exception("emulator.runtime_start_failed", runtime_id=runtime.id)
            await runtime.destroy()
            self.runtime_state = "disconnected"
            self.events.append(
                "runtime.disconnected", runtime_id=runtime.id, reason="start_failed", error=str(exc)
            )
            await self._cancel_queue()
            await self.broadcast(
                {"type": "runtime", "state": "disconnected", "id": runtime.id, "reason": "start_failed"}
            )
            await self.broadcast(
                {"type": "toast", "message": "Unable to connect to the runtime.", "action": None}
            )
            await self._broadcast_state()
            return
        self.runtime_state = "connected"
        self.events.append("runtime.connected", runtime_id=runtime.id, gpu=runtime.gpu, pid=runtime.pid)
        self._log.info("emulator.runtime_connected", runtime_id=runtime.id, pid=runtime.pid)
        await self.broadcast({"type": "runtime", "state": "connected", "id": runtime.id, "reason": None})
        await self._broadcast_state()
        self._spawn("lifetime", self._lifetime_timer(runtime))
        self._spawn("watch", self._watch(runtime))
        self._spawn("executor", self._executor(runtime))

    async def disconnect(self, reason: str, *, only: Runtime | None = None) -> None:
        """Kill the runtime (if any) and tell the pages why; its /content is gone, Drive stays.

        With ``only``, nothing happens unless that runtime is still the current one (timers use it).
        """
        async with self._lifecycle:
            runtime = self.runtime
            if runtime is None or self.runtime_state == "disconnected" or only not in (None, runtime):
                return
            await self._disconnect(runtime, reason)

    async def _disconnect(self, runtime: Runtime, reason: str) -> None:
        await self._teardown(runtime)
        self.events.append("runtime.disconnected", runtime_id=runtime.id, reason=reason)
        self._log.info("emulator.runtime_disconnected", runtime_id=runtime.id, reason=reason)
        await self.broadcast({"type": "runtime", "state": "disconnected", "id": runtime.id, "reason": reason})
        await self._broadcast_state()

    async def crash(self, reason: str = "crash_oom", *, only: Runtime | None = None) -> None:
        """The runtime crashes: kill it, show the crash toast, and start a NEW runtime, as Colab does.

        With ``only``, nothing happens unless that runtime is still the current one (the watcher uses it).
        """
        async with self._lifecycle:
            runtime = self.runtime
            if runtime is None or self.runtime_state == "disconnected" or only not in (None, runtime):
                return
            await self._crash(runtime, reason)

    async def _crash(self, runtime: Runtime, reason: str) -> None:
        await self._teardown(runtime)
        self.events.append("runtime.crashed", runtime_id=runtime.id, reason=reason)
        self._log.warning("emulator.runtime_crashed", runtime_id=runtime.id, reason=reason)
        await self.broadcast({"type": "runtime", "state": "disconnected", "id": runtime.id, "reason": reason})
        await self.broadcast(
            {
                "type": "toast",
                "message": _CRASH_TOASTS.get(reason, _CRASH_TOASTS["crash"]),
                "action": "View runtime logs",
            }
        )
        # Colab restarts a crashed runtime by itself; connect faults (quota, sessions) do not apply.
        await self._allocate(gpu=runtime.gpu)

    async def restart(self) -> None:
        """Restart session: a fresh Python process on the same runtime (same id, /content kept)."""
        async with self._lifecycle:
            runtime = self.runtime
            if runtime is None or self.runtime_state != "connected":
                return
            await self._restart(runtime)

    async def _restart(self, runtime: Runtime) -> None:
        await self._cancel_tasks("watch", "executor")
        await self._cancel_queue()
        await runtime.restart()
        # The process that asked is gone; its consent grant stays (the VM and its mount do).
        self._fail_consent_requests(runtime.id, "session restarted")
        self.events.append("runtime.restarted", runtime_id=runtime.id, pid=runtime.pid)
        await self.broadcast({"type": "runtime", "state": "connected", "id": runtime.id, "reason": "restart"})
        await self._broadcast_state()
        self._spawn("watch", self._watch(runtime))
        self._spawn("executor", self._executor(runtime))

    async def _teardown(self, runtime: Runtime) -> None:
        self.runtime_state = "disconnected"
        await self._cancel_tasks("allocate", "lifetime", "watch", "executor")
        # Kill first, so that anyone who sees the event can rely on the process being gone.
        await runtime.kill()
        self._fail_consent_requests(runtime.id, "runtime disconnected")
        self._drive_granted = {grant for grant in self._drive_granted if grant[0] != runtime.id}
        await self._cancel_queue()
        await runtime.destroy()

    async def _lifetime_timer(self, runtime: Runtime) -> None:
        await asyncio.sleep(self.config.max_lifetime)
        if self.runtime is runtime:
            await self._detached(self.disconnect("max_lifetime", only=runtime))

    async def _watch(self, runtime: Runtime) -> None:
        # Polling: a child process's exit has no awaitable in jupyter_client's API.
        while await runtime.is_alive():  # noqa: ASYNC110
            await asyncio.sleep(_WATCH_INTERVAL)
        if self.runtime is runtime and self.runtime_state == "connected":
            # Nobody asked for this death: user code called os._exit, or the OS killed the kernel.
            await self._detached(self.crash("crash", only=runtime))

    async def _detached(self, work: Coroutine[Any, Any, None]) -> None:
        # Teardown cancels this hub's tasks, the caller included; run the work in its own task.
        task = asyncio.get_running_loop().create_task(work)
        self._tasks[f"detached-{id(task)}"] = task
        task.add_done_callback(lambda done: self._tasks.pop(f"detached-{id(done)}", None))
        await asyncio.shield(task)

    def _spawn(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        previous = self._tasks.pop(name, None)
        if previous is not None:
            previous.cancel()
        task = asyncio.get_running_loop().create_task(work, name=f"{self.name}:{name}")
        self._tasks[name] = task
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._log.error("emulator.task_failed", task=task.get_name(), exc_info=task.exception())

    async def _cancel_tasks(self, *names: str) -> None:
        # Cancel, then wait for each task's own cleanup (an allocation kills its half-started kernel).
        current = asyncio.current_task()
        cancelled = []
        for name in names:
            task = self._tasks.pop(name, None)
            if task is not None and task is not current and not task.done():
                task.cancel()
                cancelled.append(task)
        for task in cancelled:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ---- cells ------------------------------------------------------------------------------

    def _pending_and_running(self) -> list[_QueuedCell]:
        return ([self._running] if self._running is not None else []) + list(self._queue)

    async def execute(self, cell_id: str, code: str) -> None:
        """Queue a cell; connect first when no runtime is up (running a cell on Colab connects)."""
        if not self.signed_in:
            await self.broadcast({"type": "show", "what": "sign_in_required"})
            return
        if any(cell.cell_id == cell_id for cell in self._pending_and_running()):
            return  # already queued or running; the page interrupts on a second click itself
        self._queue.append(_QueuedCell(cell_id, code))
        await self.broadcast(
            {"type": "cell", "cell_id": cell_id, "state": "pending", "execution_count": None, "error": False}
        )
        if self.runtime_state in (None, "disconnected"):
            await self.connect(gpu=self._gpu)
        self._work.set()

    async def cancel(self, cell_id: str) -> None:
        """Drop a queued (not yet running) execution of ``cell_id`` ("Cancel queued execution")."""
        for cell in list(self._queue):
            if cell.cell_id == cell_id:
                self._queue.remove(cell)
                await self.broadcast(
                    {
                        "type": "cell",
                        "cell_id": cell_id,
                        "state": "idle",
                        "execution_count": None,
                        "error": False,
                    }
                )

    async def interrupt(self) -> None:
        """Interrupt the running cell (KeyboardInterrupt in the kernel); queued cells are then dropped."""
        if self.runtime is not None and self.runtime_state == "connected" and self._running is not None:
            await self.runtime.interrupt()

    async def _executor(self, runtime: Runtime) -> None:
        while self.runtime is runtime and self.runtime_state == "connected":
            while not self._queue:
                self._work.clear()
                await self._work.wait()
            cell = self._queue.popleft()
            self._running = cell
            self.events.append("cell.started", cell_id=cell.cell_id, runtime_id=runtime.id)
            await self.broadcast(
                {
                    "type": "cell",
                    "cell_id": cell.cell_id,
                    "state": "running",
                    "execution_count": None,
                    "error": False,
                }
            )
            await self.broadcast({"type": "clear_output", "cell_id": cell.cell_id})

            async def sink(output: Output, cell_id: str = cell.cell_id) -> None:
                await self.broadcast(_output_message(cell_id, output))

            try:
                result = await runtime.execute(cell.code, sink)
            except RuntimeDiedError:
                return  # the watcher turns the death into a crash and settles the cells
            self._running = None
            self.events.append(
                "cell.finished", cell_id=cell.cell_id, runtime_id=runtime.id, error=result.error
            )
            await self.broadcast(
                {
                    "type": "cell",
                    "cell_id": cell.cell_id,
                    "state": "idle",
                    "execution_count": result.execution_count,
                    "error": result.error,
                }
            )
            if result.error:
                # As in Colab (and Jupyter's stop_on_error), an error cancels the queued cells.
                await self._cancel_queue()

    async def _cancel_queue(self) -> None:
        # A cell that started also finishes (with an error); queued ones just go back to idle.
        running, self._running = self._running, None
        queued = list(self._queue)
        self._queue.clear()
        if running is not None:
            if self.runtime is not None:
                self.events.append(
                    "cell.finished", cell_id=running.cell_id, runtime_id=self.runtime.id, error=True
                )
            await self.broadcast(
                {
                    "type": "cell",
                    "cell_id": running.cell_id,
                    "state": "idle",
                    "execution_count": None,
                    "error": True,
                }
            )
        for cell in queued:
            await self.broadcast(
                {
                    "type": "cell",
                    "cell_id": cell.cell_id,
                    "state": "idle",
                    "execution_count": None,
                    "error": False,
                }
            )

    # ---- Drive ------------------------------------------------------------------------------

    async def request_consent(
        self, runtime_id: str, kind: ConsentKind = "drive", mountpoint: str | None = None
    ) -> tuple[bool, str]:
        """Ask the page for consent on behalf of the kernel's shim; returns ``(ok, error)``.

        ``kind`` "drive" is ``drive.mount()``; "credentials" is ``auth.authenticate_user()``. A runtime
        that consented before is answered at once, without a dialog. Waits up to an hour for the page.
        """
        fields: dict[str, Any] = {"request_kind": kind}
        if mountpoint is not None:
            fields["mountpoint"] = mountpoint
        if (runtime_id, kind) in self._drive_granted:
            self.events.append("drive.mounted", runtime_id=runtime_id, request=None, **fields)
            return True, ""
        request_id = secrets.token_urlsafe(9)
        future: asyncio.Future[tuple[bool, str]] = asyncio.get_running_loop().create_future()
        self._drive_requests[request_id] = _DriveRequest(runtime_id, kind, future)
        self.events.append("drive.mount_requested", runtime_id=runtime_id, request=request_id, **fields)
        await self.broadcast({"type": "drive_request", "request": request_id, "kind": kind})
        try:
            return await asyncio.wait_for(asyncio.shield(future), DRIVE_CONSENT_TIMEOUT)
        except TimeoutError:
            self.events.append(
                "drive.refused", runtime_id=runtime_id, request=request_id, request_kind=kind, error="timeout"
            )
            return False, "timed out waiting for consent"
        finally:
            self._drive_requests.pop(request_id, None)

    def _fail_consent_requests(self, runtime_id: str, reason: str) -> None:
        for request_id, request in list(self._drive_requests.items()):
            if request.runtime_id == runtime_id:
                del self._drive_requests[request_id]
                if not request.future.done():
                    request.future.set_result((False, reason))

    def answer_drive_request(self, request_id: str, *, ok: bool, error: str) -> None:
        """Resolve a pending Drive request with the page's consent result (unknown ids are ignored)."""
        request = self._drive_requests.pop(request_id, None)
        if request is None or request.future.done():
            self._log.warning("emulator.drive_answer_ignored", request=request_id)
            return
        if ok:
            self._drive_granted.add((request.runtime_id, request.kind))
            self.events.append(
                "drive.mounted", runtime_id=request.runtime_id, request=request_id, request_kind=request.kind
            )
        else:
            self.events.append(
                "drive.refused",
                runtime_id=request.runtime_id,
                request=request_id,
                request_kind=request.kind,
                error=error,
            )
        request.future.set_result((ok, error))

    # ---- faults -----------------------------------------------------------------------------

    async def inject(self, fault: Fault) -> None:
        """Apply a validated fault now (see :class:`~sentinel.emulator.faults.FaultKind`)."""
        self.events.append("fault.injected", fault=fault.kind.value, **fault.fields())
        self._log.info("emulator.fault_injected", fault=fault.kind.value, **fault.fields())
        match fault.kind:
            case FaultKind.IDLE_DISCONNECT:
                await self.disconnect("idle")
            case FaultKind.MAX_LIFETIME:
                await self.disconnect("max_lifetime")
            case FaultKind.CRASH_OOM:
                await self.crash("crash_oom")
            case FaultKind.GPU_LIMIT | FaultKind.TOO_MANY_SESSIONS:
                self.pending_faults.add(fault.kind)
            case FaultKind.CAPTCHA:
                await self.broadcast({"type": "show", "what": "captcha", "iframe_delay": fault.iframe_delay})
            case FaultKind.STILL_THERE | FaultKind.UNKNOWN_DIALOG:
                await self.broadcast({"type": "show", "what": fault.kind.value})
            case FaultKind.SIGN_OUT:
                await self._set_signed_in(False)
            case FaultKind.SIGN_IN:
                await self._set_signed_in(True)
            case FaultKind.ALLOCATION_DELAY:
                self.allocation_delay = fault.seconds
            case FaultKind.OUTAGE:
                assert fault.seconds is not None  # parse_fault guarantees it for timed kinds
                await self._start_outage(fault.seconds)

    async def _set_signed_in(self, signed_in: bool) -> None:
        if self.signed_in == signed_in:
            return
        self.signed_in = signed_in
        self.events.append("auth.signed_in" if signed_in else "auth.signed_out")
        await self._broadcast_state()

    async def _start_outage(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        self._outage_until = max(until, self._outage_until or 0.0)
        self.events.append("outage.started", seconds=seconds)
        for ws in list(self.clients):
            await ws.close(code=1011, message=b"outage")
        self.clients.clear()
        if self._outage_task is not None:
            self._outage_task.cancel()
        self._outage_task = asyncio.get_running_loop().create_task(self._end_outage())

    async def _end_outage(self) -> None:
        # A later outage replaces this task (cancelling it), so one sleep to the end is enough.
        if self._outage_until is not None:
            await asyncio.sleep(max(0.0, self._outage_until - time.monotonic()))
        self._outage_until = None
        self.events.append("outage.ended")

    # ---- reset and shutdown -----------------------------------------------------------------

    async def reset(self) -> None:
        """Back to a fresh state: no runtime, no faults, no events, signed in (pages stay connected)."""
        async with self._lifecycle:
            await self._stop_everything()
        self.runtime = None
        self.runtime_state = None
        self.signed_in = True
        self.pending_faults.clear()
        self.allocation_delay = None
        self._gpu = True
        self.events.clear()
        await self._broadcast_state()

    async def close(self) -> None:
        """Kill the runtime and close every page connection (server shutdown)."""
        self._closed = True
        async with self._lifecycle:
            await self._stop_everything()
        for ws in list(self.clients):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"server shutdown")
        self.clients.clear()

    async def _stop_everything(self) -> None:
        if self.runtime is not None and self.runtime_state != "disconnected":
            await self._teardown(self.runtime)
        await self._cancel_tasks(*list(self._tasks))
        await self._cancel_queue()
        if self._outage_task is not None:
            self._outage_task.cancel()
            self._outage_task = None
        self._outage_until = None
        for request in self._drive_requests.values():
            if not request.future.done():
                request.future.set_result((False, "emulator reset"))
        self._drive_requests.clear()
        self._drive_granted.clear()


def _output_message(cell_id: str, output: Output) -> dict[str, Any]:
    if output.clear:
        return {"type": "clear_output", "cell_id": cell_id}
    if output.html is not None:
        return {"type": "output", "cell_id": cell_id, "html": output.html}
    if output.plain is not None:
        return {"type": "output", "cell_id": cell_id, "plain": output.plain}
    return {"type": "output", "cell_id": cell_id, "stream": output.stream, "text": output.text}
