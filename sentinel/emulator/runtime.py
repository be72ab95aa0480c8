"""One emulated Colab runtime: a real Jupyter kernel process (the venv's python) with its own /content."""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import queue
import re
import secrets
import shutil
import signal
import string
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner

log = structlog.get_logger(__name__)

SHIM_DIR = Path(__file__).parent / "runtime_shim"
REPO_ROOT = Path(__file__).resolve().parents[2]

# Lean start-up: no history database (sqlite I/O on every start) and no extensions.
_KERNEL_ARGV = [
    sys.executable,
    "-m",
    "ipykernel_launcher",
    "-f",
    "{connection_file}",
    "--HistoryManager.enabled=False",
    "--IPKernelApp.extensions=[]",
]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ID_ALPHABET = string.ascii_letters + string.digits
KERNEL_START_TIMEOUT = 60.0


def new_runtime_id() -> str:
    """A fresh random runtime id (plays the Colab VM's ``managedId``)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


class RuntimeDiedError(Exception):
    """Raised by :meth:`Runtime.execute` when the kernel process died while a cell ran."""


@dataclass(frozen=True, slots=True)
class Output:
    """One piece of cell output: ``stream`` + ``text``, ``html``, ``plain`` (a text-only result), or ``clear``."""

    stream: str | None = None
    text: str | None = None
    html: str | None = None
    plain: str | None = None
    clear: bool = False


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """How a cell ended: its execution count and whether it raised (interrupts count as errors)."""

    execution_count: int | None
    error: bool


OutputSink = Callable[[Output], Awaitable[None]]


class _EmulatorKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel spec is built per runtime instead of looked up by name."""

    def __init__(self, spec: KernelSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._emulator_spec = spec

    @property
    def kernel_spec(self) -> KernelSpec:
        return self._emulator_spec


class Runtime:
    """A Colab runtime stand-in: one ipykernel process and a folder that plays ``/content``.

    Args:
        runtime_id: the id pages see as ``kernel.endpoint.managedId``.
        content_dir: the folder playing ``/content``; created on start, deleted by :meth:`destroy`.
        work_dir: a short private folder for the kernel's IPC sockets and log.
        emulator_url: the server's base URL (the ``google.colab`` shim calls it back).
        gpu: whether the runtime was asked for with a GPU (shown in events only).
    """

    def __init__(
        self, runtime_id: str, *, content_dir: Path, work_dir: Path, emulator_url: str, gpu: bool
    ) -> None:
        self.id = runtime_id
        self.gpu = gpu
        self.content_dir = content_dir
        self.started_at: float | None = None
        self._work_dir = work_dir
        self._emulator_url = emulator_url
        self._km: _EmulatorKernelManager | None = None
        self._kc: Any = None
        self._pgid: int | None = None
        self._log_file: Any = None
        self._killed = False
        # start, restart, kill and destroy run one at a time: a destroy that overlapped a restart's
        # start used to drop the new kernel manager mid-start, leaving its kernel running unowned.
        self._lifecycle = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        """The kernel process id, or None when no process runs."""
        provisioner = None if self._km is None else self._km.provisioner
        if self._killed or not isinstance(provisioner, LocalProvisioner):
            return None
        return provisioner.pid

    def _spec(self) -> KernelSpec:
        return KernelSpec(
            argv=_KERNEL_ARGV,
            display_name="Python 3 (sentinel emulator)",
            language="python",
            env={
                "SENTINEL_COLAB_CONTENT_ROOT": str(self.content_dir),
                "SENTINEL_EMULATOR_URL": self._emulator_url,
                "SENTINEL_RUNTIME_ID": self.id,
                "PYTHONPATH": os.pathsep.join([str(SHIM_DIR), str(REPO_ROOT)]),
                # Unbuffered, so a print() in a long loop reaches the page while the cell still runs.
                "PYTHONUNBUFFERED": "1",
                # One compute thread per runtime. The emulator shares its machine with the browser and
                # the daemon, and OpenMP's spin-waiting threads slow to a crawl when another process
                # holds a core: the bundled training ran 3x slower on 2 busy cores with 2 threads.
                "OMP_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1",
            },
        )

    async def start(self) -> None:
        """Start the kernel process and wait until it answers; raises TimeoutError if it does not."""
        async with self._lifecycle:
            await self._start()

    async def _start(self) -> None:
        self.content_dir.mkdir(parents=True, exist_ok=True)
        self._work_dir.mkdir(parents=True, exist_ok=True)
        # IPC sockets instead of TCP: no ports to race for and no "unencrypted TCP" warning.
        km = _EmulatorKernelManager(self._spec(), transport="ipc", ip=str(self._work_dir / "k"))
        self._log_file = (self._work_dir / "kernel.log").open("ab")  # closed in _stop
        started = time.monotonic()
        # Held before the launch, so that a cancelled start still finds (and kills) the process.
        self._km = km
        await km.start_kernel(cwd=str(self.content_dir), stdout=self._log_file, stderr=self._log_file)
        if isinstance(km.provisioner, LocalProvisioner):
            self._pgid = km.provisioner.pgid
        self._kc = km.client()
        # No heartbeat channel: is_alive() asks the process itself, and the heartbeat is a thread per
        # runtime that pings every second and raises in its thread when the zmq context goes away.
        self._kc.start_channels(hb=False)
        try:
            await self._kc.wait_for_ready(timeout=KERNEL_START_TIMEOUT)
        except RuntimeError as exc:
            await self._stop()
            raise TimeoutError(f"kernel for runtime {self.id} did not start: {exc}") from None
        self.started_at = time.time()
        log.debug(
            "emulator.kernel_started",
            runtime_id=self.id,
            pid=self.pid,
            seconds=round(time.monotonic() - started, 3),
        )

    async def is_alive(self) -> bool:
        """Whether the kernel process is still running."""
        return self._km is not None and not self._killed and bool(await self._km.is_alive())

    async def execute(self, code: str, sink: OutputSink) -> ExecutionResult:
        """Run ``code``, passing output to ``sink`` as it arrives; returns when the kernel is idle again.

        Raises:
            RuntimeDiedError: the kernel process died (killed or crashed) before the cell finished.
        """
        if self._kc is None:
            raise RuntimeDiedError(f"runtime {self.id} is not running")
        msg_id = self._kc.execute(code, store_history=True, allow_stdin=False, stop_on_error=True)
        count: int | None = None
        error = False
        while True:
            try:
                msg = await self._kc.get_iopub_msg(timeout=0.5)
            except queue.Empty:
                if not await self.is_alive():
                    raise RuntimeDiedError(f"runtime {self.id} died while a cell ran") from None
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue  # late output of an earlier, interrupted request
            kind, content = msg["msg_type"], msg["content"]
            if kind == "execute_input":
                count = content.get("execution_count")
            elif kind == "stream":
                await sink(Output(stream=content["name"], text=content["text"]))
            elif kind in ("execute_result", "display_data"):
                count = content.get("execution_count", count)
                data = content.get("data", {})
                rich = render_mime(data)
                await sink(
                    Output(html=rich) if rich is not None else Output(plain=str(data.get("text/plain", "")))
                )
            elif kind == "error":
                error = True
                traceback = "\n".join(_ANSI.sub("", line) for line in content.get("traceback", []))
                await sink(Output(stream="stderr", text=traceback + "\n"))
            elif kind == "clear_output":
                await sink(Output(clear=True))
            elif kind == "status" and content.get("execution_state") == "idle":
                return ExecutionResult(count, error)

    async def interrupt(self) -> None:
        """Send the kernel a SIGINT, as Colab's "Interrupt execution" does."""
        if self._km is not None and not self._killed:
            await self._km.interrupt_kernel()

    async def restart(self) -> None:
        """Restart the Python process ("Restart session"): same id and /content, fresh interpreter."""
        async with self._lifecycle:
            await self._stop()
            self._killed = False
            await self._start()

    async def kill(self) -> None:
        """Kill the kernel's whole process group with SIGKILL (as the OOM killer or a VM recycle would)."""
        async with self._lifecycle:
            await self._stop()

    async def destroy(self) -> None:
        """Kill the kernel and delete the runtime's /content (the VM is gone); the Drive folder stays."""
        async with self._lifecycle:
            await self._stop()
        # rmtree unlinks the MyDrive symlink without following it, so Drive files survive.
        await asyncio.to_thread(shutil.rmtree, self.content_dir, True)
        await asyncio.to_thread(shutil.rmtree, self._work_dir, True)

    async def _stop(self) -> None:
        self._killed = True
        if self._pgid is not None:
            # The kernel leads its own session (jupyter_client starts it with start_new_session),
            # so this group holds the kernel and any children it spawned, never us.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pgid, signal.SIGKILL)
            self._pgid = None
        if self._kc is not None:
            self._kc.stop_channels()
            self._kc = None
        if self._km is not None:
            # Reaps the process (no zombie left behind) and removes the connection file and sockets.
            with contextlib.suppress(Exception):
                await self._km.shutdown_kernel(now=True)
            self._km = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def render_mime(data: dict[str, Any]) -> str | None:
    """HTML for a rich result (the kernel's own HTML, else an image), or None for a text-only one."""
    if "text/html" in data:
        value = data["text/html"]
        return "".join(value) if isinstance(value, list) else str(value)
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            payload = html.escape(str(data[mime]).strip(), quote=True)
            return f'<img src="data:{mime};base64,{payload}">'
    return None
