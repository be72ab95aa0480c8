"""The emulator's aiohttp app: notebook pages, the page WebSocket, fault injection, event log, Drive API."""

from __future__ import annotations

import contextlib
import html
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from sentinel.emulator.faults import InvalidFaultError, parse_fault
from sentinel.emulator.hub import HubConfig, NotebookHub
from sentinel.emulator.ipynb import (
    BUNDLED_NOTEBOOKS,
    NotebookFormatError,
    list_notebooks,
    load_notebook,
    notebook_path,
)
from sentinel.errors import UsageError

log = structlog.get_logger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
# "next": the emulator's own drift generation (static/drift.js), built to break today's selectors.
UI_GENERATIONS = ("2022", "2023", "2025", "next")
EXTERNAL_SOURCES = ("github", "unknown")
_NO_STORE = {"Cache-Control": "no-store"}


class Emulator:
    """The emulator's state: one :class:`NotebookHub` per notebook, created on first use.

    Args:
        notebooks_dir: folder of ``.ipynb`` files (default: the bundled samples).
        drive_dir: folder playing Google Drive; default: a temporary folder removed by :meth:`close`.
        idle_timeout: seconds the page's idle timer waits (sent to the page).
        max_lifetime: seconds a runtime lives at most.
        allocation_delay: seconds "Connecting" lasts at least.
        static_dir: the page's files (``notebook.html``, ``oauth.html``, scripts); tests may swap it.
    """

    def __init__(
        self,
        *,
        notebooks_dir: Path | None = None,
        drive_dir: Path | None = None,
        idle_timeout: float = 5400.0,
        max_lifetime: float = 43200.0,
        allocation_delay: float = 1.5,
        static_dir: Path = STATIC_DIR,
    ) -> None:
        self.notebooks_dir = notebooks_dir or BUNDLED_NOTEBOOKS
        self.static_dir = static_dir
        if drive_dir is not None:
            try:
                drive_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"drive dir {drive_dir}: {exc.strerror or exc}") from None
        # A short path: kernels' IPC socket paths live under it and must stay under 108 bytes.
        self._state_dir = Path(tempfile.mkdtemp(prefix="sentinel-emu-"))
        self._own_drive = drive_dir is None
        drive = drive_dir if drive_dir is not None else self._state_dir / "drive"
        drive.mkdir(parents=True, exist_ok=True)
        self.config = HubConfig(
            idle_timeout=idle_timeout,
            max_lifetime=max_lifetime,
            allocation_delay=allocation_delay,
            drive_dir=drive.resolve(),
            state_dir=self._state_dir,
        )
        self.hubs: dict[str, NotebookHub] = {}
        self._closed = False

    @property
    def state_dir(self) -> Path:
        """The private temporary folder holding runtimes' /content folders and kernel sockets."""
        return self._state_dir

    @property
    def drive_dir(self) -> Path:
        """The folder playing "My Drive"; it survives runtime resets."""
        return self.config.drive_dir

    @property
    def base_url(self) -> str:
        """``http://host:port`` once the server listens (kernels call it back)."""
        return self.config.base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self.config.base_url = value.rstrip("/")

    def notebook_names(self) -> list[str]:
        """The notebooks this emulator serves."""
        return list_notebooks(self.notebooks_dir)

    def hub(self, name: str) -> NotebookHub | None:
        """The hub of notebook ``name``, or None when no such notebook exists."""
        existing = self.hubs.get(name)
        if existing is not None:
            return existing
        if notebook_path(self.notebooks_dir, name) is None:
            return None
        hub = self.hubs[name] = NotebookHub(name, self.config)
        return hub

    def hub_for_runtime(self, runtime_id: str) -> NotebookHub | None:
        """The hub whose live runtime has this id (the Drive shim knows only its runtime id)."""
        for hub in self.hubs.values():
            if hub.runtime is not None and hub.runtime.id == runtime_id and hub.runtime_state == "connected":
                return hub
        return None

    async def reset(self) -> None:
        """Kill every runtime and forget faults, events and sign-in state (between tests)."""
        for hub in list(self.hubs.values()):
            await hub.reset()

    async def close(self) -> None:
        """Kill every runtime, close every page connection, and remove the temporary folders."""
        if self._closed:
            return
        self._closed = True
        for hub in list(self.hubs.values()):
            await hub.close()
        shutil.rmtree(self._state_dir, ignore_errors=True)
        log.debug("emulator.closed")


EMULATOR_KEY = web.AppKey("emulator", Emulator)


def create_app(emulator: Emulator) -> web.Application:
    """Build the aiohttp app serving ``emulator`` (routes: docs/emulator-protocol.md).

    The app's shutdown closes the emulator (kills every kernel).
    """
    app = web.Application(client_max_size=1024 * 1024)
    app[EMULATOR_KEY] = emulator
    app.router.add_get("/", _index)
    app.router.add_get("/notebooks/{name}", _notebook_page)
    app.router.add_get("/oauth/consent", _oauth_consent)
    app.router.add_get("/api/notebooks/{name}/ws", _websocket)
    app.router.add_post("/api/notebooks/{name}/faults", _post_fault)
    app.router.add_get("/api/notebooks/{name}/events", _get_events)
    app.router.add_delete("/api/notebooks/{name}/events", _delete_events)
    app.router.add_get("/api/notebooks/{name}/state", _get_state)
    app.router.add_post("/api/reset", _post_reset)
    app.router.add_post("/api/runtimes/{runtime_id}/drive/mount", _post_drive_mount)
    app.router.add_post("/api/runtimes/{runtime_id}/auth/authenticate", _post_authenticate)
    if emulator.static_dir.is_dir():
        app.router.add_static("/static", emulator.static_dir, append_version=False)

    async def _shutdown(_: web.Application) -> None:
        await emulator.close()

    app.on_shutdown.append(_shutdown)
    return app


def _emulator(request: web.Request) -> Emulator:
    return request.app[EMULATOR_KEY]


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _api_hub(request: web.Request) -> NotebookHub:
    name = request.match_info["name"]
    hub = _emulator(request).hub(name)
    if hub is None:
        raise web.HTTPNotFound(
            text=json.dumps({"error": f"unknown notebook {name!r}"}), content_type="application/json"
        )
    return hub


# ---- pages ----------------------------------------------------------------------------------


async def _index(request: web.Request) -> web.Response:
    names = _emulator(request).notebook_names()
    rows = []
    for name in names:
        quoted = html.escape(name)
        links = " ".join(f'<a href="/notebooks/{quoted}?ui={ui}">{ui}</a>' for ui in UI_GENERATIONS)
        rows.append(f'<li><a href="/notebooks/{quoted}">{quoted}</a> (UI: {links})</li>')
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>sentinel emulator</title></head>"
        "<body><h1>sentinel Colab emulator</h1><ul>" + "".join(rows) + "</ul></body></html>"
    )
    return web.Response(text=body, content_type="text/html", headers=_NO_STORE)


def _bootstrap_json(data: dict[str, Any]) -> str:
    # Safe inside <script type="application/json">: no "</script>" or "<!--" can close it early.
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


async def _notebook_page(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    name = request.match_info["name"]
    path = notebook_path(emulator.notebooks_dir, name)
    if path is None:
        raise web.HTTPNotFound(text=f"no notebook named {name!r}")
    ui = request.query.get("ui", "2025")
    if ui not in UI_GENERATIONS:
        raise web.HTTPBadRequest(text=f"unknown ui {ui!r}; expected one of {', '.join(UI_GENERATIONS)}")
    external = request.query.get("external")
    if external is not None and external not in EXTERNAL_SOURCES:
        raise web.HTTPBadRequest(
            text=f"unknown external {external!r}; expected one of {', '.join(EXTERNAL_SOURCES)}"
        )
    hub = emulator.hub(name)
    assert hub is not None  # the notebook file exists
    if hub.in_outage:
        raise web.HTTPServiceUnavailable(text="503. That's an error. The service is unavailable (outage).")
    try:
        notebook = load_notebook(path)
    except NotebookFormatError as exc:
        raise web.HTTPInternalServerError(text=str(exc)) from None
    template_path = emulator.static_dir / "notebook.html"
    try:
        template = template_path.read_text(encoding="utf-8")
    except OSError:
        raise web.HTTPInternalServerError(text=f"page template {template_path} is missing") from None
    bootstrap = {
        "notebook": name,
        "title": notebook.title,
        "ui": ui,
        "external": external,
        "ws_url": f"/api/notebooks/{name}/ws",
        "idle_timeout": emulator.config.idle_timeout,
        "signed_in": hub.signed_in,
        "cells": [cell.to_json() for cell in notebook.cells],
    }
    page = template.replace("{{title}}", html.escape(notebook.title)).replace(
        "{{bootstrap}}", _bootstrap_json(bootstrap)
    )
    return web.Response(text=page, content_type="text/html", headers=_NO_STORE)


async def _oauth_consent(request: web.Request) -> web.Response:
    path = _emulator(request).static_dir / "oauth.html"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise web.HTTPInternalServerError(text=f"consent page {path} is missing") from None
    return web.Response(text=text, content_type="text/html", headers=_NO_STORE)


# ---- the page's WebSocket -------------------------------------------------------------------


async def _websocket(request: web.Request) -> web.StreamResponse:
    hub = _api_hub(request)
    if hub.in_outage:
        raise web.HTTPServiceUnavailable(text="outage")
    ws = web.WebSocketResponse(heartbeat=None, max_msg_size=4 * 1024 * 1024)
    await ws.prepare(request)
    await hub.add_client(ws)
    bound = log.bind(notebook=hub.name)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                message = json.loads(msg.data)
                if not isinstance(message, dict):
                    raise ValueError("a message must be a JSON object")
                await hub.handle_message(message)
            except ValueError as exc:  # JSONDecodeError is a ValueError too
                bound.warning("emulator.bad_message", error=str(exc))
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_json({"type": "error", "message": str(exc)})
    finally:
        hub.remove_client(ws)
    return ws


# ---- the test and automation API ------------------------------------------------------------


async def _post_fault(request: web.Request) -> web.Response:
    hub = _api_hub(request)
    try:
        data = await request.json()
    except ValueError as exc:
        return _json_error(400, f"invalid JSON body: {exc}")
    try:
        fault = parse_fault(data)
    except InvalidFaultError as exc:
        return _json_error(400, str(exc))
    await hub.inject(fault)
    return web.json_response({"ok": True})


async def _get_events(request: web.Request) -> web.Response:
    hub = _api_hub(request)
    raw = request.query.get("since")
    since: float | None = None
    if raw is not None:
        try:
            since = float(raw)
        except ValueError:
            return _json_error(400, f"'since' must be a number (server time), got {raw!r}")
    return web.json_response(hub.events.since(since))


async def _delete_events(request: web.Request) -> web.Response:
    _api_hub(request).events.clear()
    return web.json_response({"ok": True})


async def _get_state(request: web.Request) -> web.Response:
    return web.json_response(_api_hub(request).snapshot())


async def _post_reset(request: web.Request) -> web.Response:
    await _emulator(request).reset()
    return web.json_response({"ok": True})


async def _post_drive_mount(request: web.Request) -> web.Response:
    emulator = _emulator(request)
    runtime_id = request.match_info["runtime_id"]
    hub = emulator.hub_for_runtime(runtime_id)
    if hub is None:
        return web.json_response({"ok": False, "error": f"unknown runtime {runtime_id!r}"}, status=404)
    try:
        data = await request.json()
    except ValueError as exc:
        return web.json_response({"ok": False, "error": f"invalid JSON body: {exc}"}, status=400)
    mountpoint = data.get("mountpoint") if isinstance(data, dict) else None
    if not isinstance(mountpoint, str) or not mountpoint:
        return web.json_response({"ok": False, "error": "missing 'mountpoint'"}, status=400)
    ok, error = await hub.request_consent(runtime_id, "drive", mountpoint)
    if not ok:
        return web.json_response({"ok": False, "error": error or "credential propagation was unsuccessful"})
    return web.json_response({"ok": True, "drive_dir": str(emulator.drive_dir)})


async def _post_authenticate(request: web.Request) -> web.Response:
    runtime_id = request.match_info["runtime_id"]
    hub = _emulator(request).hub_for_runtime(runtime_id)
    if hub is None:
        return web.json_response({"ok": False, "error": f"unknown runtime {runtime_id!r}"}, status=404)
    ok, error = await hub.request_consent(runtime_id, "credentials")
    if not ok:
        return web.json_response({"ok": False, "error": error or "credential propagation was unsuccessful"})
    return web.json_response({"ok": True})
