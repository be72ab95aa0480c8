"""The local Colab stand-in: a real aiohttp server, real kernels, a page that looks like Colab's."""

from __future__ import annotations

import asyncio
import errno
import signal
from typing import TYPE_CHECKING

import structlog
from aiohttp import web

from sentinel.emulator.ipynb import BUNDLED_NOTEBOOKS, load_notebook, notebook_files
from sentinel.emulator.server import Emulator, create_app
from sentinel.errors import UsageError

if TYPE_CHECKING:
    from sentinel.config import EmulatorSettings

__all__ = ["Emulator", "create_app", "serve", "start_site"]

log = structlog.get_logger(__name__)


def http_url(host: str, port: int) -> str:
    """``http://host:port``, bracketing IPv6 literals."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


async def start_site(emulator: Emulator, host: str, port: int) -> web.AppRunner:
    """Serve ``emulator`` on ``host:port`` (0: a free port) and set its ``base_url``.

    Returns the started runner; ``await runner.cleanup()`` stops it and kills every kernel.

    Raises:
        UsageError: the port is in use or the address cannot be bound.
    """
    runner = web.AppRunner(create_app(emulator), handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on {host} is already in use") from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound_port = int(runner.addresses[0][1])
    emulator.base_url = http_url(host, bound_port)
    return runner


def serve(settings: EmulatorSettings) -> None:
    """Run the emulator until SIGINT or SIGTERM, then kill every kernel and return.

    Prints one line per notebook with its URL to stdout.

    Raises:
        UsageError: the port is in use or the address cannot be bound, a notebook does not parse,
            or the drive folder cannot be created.
    """
    asyncio.run(_serve(settings))


async def _serve(settings: EmulatorSettings) -> None:
    # A notebook that does not parse would only show up as a 500 later: say so now.
    for path in notebook_files(settings.notebooks or BUNDLED_NOTEBOOKS):
        load_notebook(path)
    emulator = Emulator(
        notebooks_dir=settings.notebooks,
        drive_dir=settings.drive_dir,
        idle_timeout=settings.idle_timeout,
        max_lifetime=settings.max_lifetime,
        allocation_delay=settings.allocation_delay,
    )
    try:
        runner = await start_site(emulator, settings.host, settings.port)
    except BaseException:
        await emulator.close()
        raise
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[str] = []

    def _handle(sig: signal.Signals) -> None:
        # Signal handlers only record and set a flag; the shutdown runs in the loop below.
        received.append(sig.name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _handle, sig)
    try:
        # The command's output first: a stdout that cannot be written stops it before any log line.
        for name in emulator.notebook_names():
            print(f"{emulator.base_url}/notebooks/{name}", flush=True)
        log.info(
            "emulator.started",
            url=emulator.base_url,
            notebooks=str(emulator.notebooks_dir),
            drive_dir=str(emulator.drive_dir),
        )
        await stop.wait()
        log.info("emulator.stopping", signal=received[0] if received else None)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
        await emulator.close()
