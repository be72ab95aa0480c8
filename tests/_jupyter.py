"""A real JupyterLab server for tests: started on 127.0.0.1 in its own folders, stopped (and its kernels) after.

``JupyterServer`` runs ``jupyter lab`` as a subprocess with its own config, data, runtime, settings and
workspace folders (nothing of the machine's Jupyter is read or written), no update checks, a known
token and an optional kernel culler. Its REST API is read with the token in a header, never in a URL
that could be logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TOKEN = "sentinel-test-token"
JUPYTER = Path(sys.executable).with_name("jupyter")

# Each run records itself in runs.jsonl next to the notebook: its kernel id (from the connection
# file's name), its process id and how many times it ran in this process.
RESUME_SOURCE = (
    "# sentinel: resume\n"
    "import json, os, pathlib, re, sys\n"
    "_kid = re.search(r'kernel-(.+)\\.json', sys.argv[-1] if len(sys.argv) > 1 else '')\n"
    "_n = globals().get('_sentinel_runs', 0) + 1\n"
    "_sentinel_runs = _n\n"
    "with open(pathlib.Path.cwd() / 'runs.jsonl', 'a') as _f:\n"
    "    _f.write(json.dumps({'kernel': _kid.group(1) if _kid else None, 'pid': os.getpid(), 'n': _n}) + '\\n')\n"
    "print('resumed', _n)"
)


def notebook(cells: list[str]) -> dict[str, Any]:
    """An nbformat 4 notebook with one code cell per source."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
        },
        "cells": [
            {
                "cell_type": "code",
                "id": f"c{i}",
                "metadata": {},
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
            for i, source in enumerate(cells)
        ],
    }


RESUMING = notebook(["value = 41", RESUME_SOURCE])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class JupyterServer:
    """One ``jupyter lab`` process; :meth:`stop` and :meth:`start` again keep its port and folders.

    Args:
        root: the folder served (notebooks go here) and the server's own folders beside it.
        cull_idle: seconds of kernel inactivity before the culler shuts a kernel down (None: no culler).
    """

    def __init__(self, root: Path, *, cull_idle: float | None = None, token: str = TOKEN) -> None:
        self.root = root / "notebooks"
        self.home = root / "jupyter"
        self.root.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.token = token
        self.cull_idle = cull_idle
        self.log = self.home / "server.log"
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, *, token: str | None = None) -> str:
        """``/lab/tree/x.ipynb`` or ``/notebooks/x.ipynb`` with ``?token=`` (the server's unless given)."""
        return f"{self.base}{path}?token={token if token is not None else self.token}"

    def write(self, name: str, content: dict[str, Any]) -> Path:
        path = self.root / name
        path.write_text(json.dumps(content))
        return path

    def runs(self) -> list[dict[str, Any]]:
        """What the resume cell recorded, one dict per run."""
        path = self.root / "runs.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    async def start(self) -> None:
        args = [
            str(JUPYTER),
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.news_url=",
            "--ServerApp.allow_root=True",
        ]
        if self.cull_idle is not None:
            args += [
                f"--MappingKernelManager.cull_idle_timeout={self.cull_idle:g}",
                "--MappingKernelManager.cull_interval=2",
                "--MappingKernelManager.cull_connected=True",
            ]
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.home / "config"),
            "JUPYTER_DATA_DIR": str(self.home / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(self.home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.home / "workspaces"),
            "IPYTHONDIR": str(self.home / "ipython"),
            "JUPYTER_PLATFORM_DIRS": "1",
        }
        with self.log.open("ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                *args, stdout=log, stderr=log, env=env, cwd=self.root, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.returncode is not None:
                raise RuntimeError(
                    f"jupyter lab exited {self._proc.returncode}: {self.log.read_text()[-2000:]}"
                )
            try:
                await self.api("GET", "/api/status")
                return
            except (OSError, urllib.error.URLError):
                await asyncio.sleep(0.3)
        raise RuntimeError(f"jupyter lab did not answer within 60 s: {self.log.read_text()[-2000:]}")

    async def stop(self) -> None:
        """SIGTERM (the server shuts its kernels down), then SIGKILL of its group after 15 s."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGINT)
        await asyncio.sleep(0.2)
        proc.send_signal(signal.SIGINT)  # the second ^C skips the confirmation
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # a kernel left behind in the group

    async def api(self, method: str, path: str) -> Any:
        def call() -> Any:
            request = urllib.request.Request(
                self.base + path, method=method, headers={"Authorization": f"token {self.token}"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                body = response.read()
            return json.loads(body) if body else None

        return await asyncio.to_thread(call)

    async def kernels(self) -> list[dict[str, Any]]:
        return list(await self.api("GET", "/api/kernels"))

    async def kernel_of(self, path: str) -> str:
        """The id of the kernel the server's session for notebook ``path`` holds."""
        sessions = await self.api("GET", "/api/sessions")
        (mine,) = [s for s in sessions if s["path"] == path]
        return str(mine["kernel"]["id"])

    def kill_kernel_process(self, kernel_id: str) -> int:
        """SIGKILL the kernel's process (found by its connection file's name): the server restarts it."""
        for pid_dir in Path("/proc").iterdir():
            if not pid_dir.name.isdigit():
                continue
            try:
                cmdline = (pid_dir / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(f"kernel-{kernel_id}.json".encode() in part for part in cmdline):
                pid = int(pid_dir.name)
                os.kill(pid, signal.SIGKILL)
                return pid
        raise LookupError(f"no process for kernel {kernel_id}")

    async def __aenter__(self) -> JupyterServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
