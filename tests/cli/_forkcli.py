"""Run ``python -m sentinel ARGS`` many times without paying the interpreter's start-up each time.

``python tests/cli/_forkcli.py PARALLEL`` imports the CLI once, then reads one JSON request per line
on stdin (``argv``, ``cwd``, ``env``, ``out``, ``err``: the last two are file paths) and forks a child
per request, at most PARALLEL at a time. The child is a real process as ``python -m sentinel`` would
be from here on: its own working directory, environment and file descriptors (stdin /dev/null,
stdout and stderr to the files), and it runs ``sentinel/__main__.py`` with runpy; an uncaught
exception prints its traceback and exits 1, as the interpreter does. Each result is one JSON line
on stdout, ``{"id": ..., "code": ...}``, in the order the children end. What the interpreter itself
does at exit (flushing a stdout that is full or closed) is not played here: such cases need a fresh
``python -m sentinel``.

The table of bad inputs takes about 20 s this way instead of about 6 CPU minutes (257 interpreters
importing typer, pydantic, structlog and, for most cases, the daemon's Playwright and aiohttp).
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback
from typing import Any

# Imported once here and inherited by every child: the CLI, and what its commands import lazily
# (each child would import it anyway; a bad `run` pays for the daemon's imports before it says so).
import apprise  # noqa: F401
import apscheduler.schedulers.asyncio  # noqa: F401

import sentinel.cli
import sentinel.daemon
import sentinel.emulator.server
import sentinel.frontends.colab
import sentinel.notify  # noqa: F401


def _child(request: dict[str, Any]) -> None:
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, path, flags in (
            (0, os.devnull, os.O_RDONLY),
            (1, request["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
            (2, request["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        ):
            opened = os.open(path, flags, 0o600)
            os.dup2(opened, fd)
            os.close(opened)
        sys.argv = [sys.executable, *request["argv"]]
        try:
            runpy.run_module("sentinel", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:  # SystemExit("text"): the interpreter prints it and exits 1
                print(exc.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    code = code or 120  # as the interpreter does when stdout fails at exit
    finally:
        os._exit(code)


def serve(parallel: int) -> None:
    running: dict[int, str] = {}

    def reap() -> None:
        pid, status = os.wait()
        print(json.dumps({"id": running.pop(pid), "code": os.waitstatus_to_exitcode(status)}), flush=True)

    for line in sys.stdin:
        request = json.loads(line)
        while len(running) >= parallel:
            reap()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        running[pid] = request["id"]
    while running:
        reap()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
