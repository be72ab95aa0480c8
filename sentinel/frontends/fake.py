"""An in-memory frontend for unit tests of the daemon's policy: no browser, scripted notebooks.

Like httpx's ``MockTransport``: the daemon talks to :class:`FakeFrontend` through the same
:class:`~sentinel.frontends.base.Frontend` interface, while the test plays Colab with the fault
helpers of :class:`FakeNotebook` (``disconnect``, ``show``, ``crash``, ...), which push Signals to the
installed handler exactly as the in-page observer would.

Pages are opaque keys here: pass any hashable object (a real ``Page`` or ``object()``).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from sentinel.errors import FrontendError, ResumeMarkerNotFoundError, SelectorNotFoundError
from sentinel.frontends._bundle import write_bundle
from sentinel.frontends.base import (
    Action,
    Connection,
    Dialog,
    DialogReport,
    Frontend,
    LayerVerdict,
    Observation,
    PageProbe,
    Signal,
    SignalHandler,
    SignalKind,
    check_action,
)

log = structlog.get_logger(__name__)

_runtime_ids = itertools.count(1)


def _fresh_runtime_id() -> str:
    return f"fake-runtime-{next(_runtime_ids)}"


@dataclass
class FakeNotebook:
    """The scripted state of one fake tab. Tests read and drive it; the FakeFrontend acts on it.

    Attributes:
        cells: cell id -> source, in notebook order.
        outputs: cell id -> the text ``cell_output`` returns (tests may script it directly).
        prints: cell id -> what the cell prints when it runs (copied into ``outputs`` then).
        connect_outcome: dialogs the next connects show instead of connecting, consumed one per
            connect (e.g. ``[Dialog.GPU_LIMIT]``), as the emulator's sticky connect faults do.
        runs: ids of the cells run, in order (``run_cell_with_marker`` and ``run_all``).
        answers: every ``(dialog, action)`` answered through ``answer``.
        clicks: every control the frontend pressed, as the emulator logs them: ``"connect"`` (the
            connect button), ``"dialog:<dialog>:<action>"`` (``reconnect`` pressing Reconnect in the
            disconnect dialog included), ``"run:<cell id>"``, ``"menu:runall"``.
        keepalives: how many keepalive inputs were made.
        oauth_popups: how many OAuth popups were completed.
        connects: how many connects were requested (reconnect, Reconnect, Connect without GPU).
    """

    connection: Connection = Connection.DISCONNECTED
    runtime_id: str | None = None
    dialogs: list[Dialog] = field(default_factory=list)
    signed_in: bool | None = True
    busy: bool = False
    crash_toast: str | None = None
    unclassified: str | None = None
    recognised: bool = True
    cells: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    prints: dict[str, str] = field(default_factory=dict)
    connect_outcome: list[Dialog] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    answers: list[tuple[Dialog, Action]] = field(default_factory=list)
    clicks: list[str] = field(default_factory=list)
    keepalives: int = 0
    oauth_popups: int = 0
    connects: int = 0
    restarts: int = 0
    handler: SignalHandler | None = None

    def observation(self) -> Observation:
        """The notebook classified the way a real frontend would report it."""
        return Observation(
            connection=self.connection,
            connect_text={
                Connection.CONNECTED: "",
                Connection.CONNECTING: "Connecting",
                Connection.DISCONNECTED: "Reconnect" if self.runtime_id else "Connect",
                Connection.UNKNOWN: "",
            }[self.connection],
            dialogs=tuple(self.dialogs),
            signed_in=self.signed_in,
            busy=self.busy,
            runtime_id=self.runtime_id if self.connection is Connection.CONNECTED else None,
            crash_toast=self.crash_toast,
            unclassified=self.unclassified,
        )

    async def emit(self, *changed: SignalKind) -> None:
        """Push a Signal with the current observation to the installed handler (if any)."""
        if self.handler is None:
            return
        signal = Signal(changed=frozenset(changed), observation=self.observation(), page_time=0.0)
        try:
            result = self.handler(signal)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("frontend.signal_handler_failed", frontend="fake")

    # --- the test plays Colab with these ---

    async def connect_now(self, *, gpu: bool = True) -> None:
        """A connect completes: a fresh runtime id, CONNECTED (or the next scripted failure dialog)."""
        del gpu  # the fake has no accelerator; kept for symmetry with the emulator's connect message
        self.connects += 1
        if self.connect_outcome:
            self.connection = Connection.DISCONNECTED
            self.dialogs.append(self.connect_outcome.pop(0))
            await self.emit(SignalKind.DIALOG)
            return
        self.connection = Connection.CONNECTING
        await self.emit(SignalKind.CONNECTION)
        self.connection = Connection.CONNECTED
        self.runtime_id = _fresh_runtime_id()
        await self.emit(SignalKind.CONNECTION, SignalKind.RUNTIME)

    async def disconnect(self) -> None:
        """The idle timer or the lifetime limit fired: runtime gone, "Runtime disconnected" shown."""
        self.connection = Connection.DISCONNECTED
        self.busy = False
        self.dialogs.append(Dialog.RUNTIME_DISCONNECTED)
        await self.emit(SignalKind.CONNECTION, SignalKind.DIALOG, SignalKind.CELLS)

    async def crash(self, message: str = "Your session crashed after using all available RAM.") -> None:
        """The runtime crashed and restarted by itself: a crash toast and a NEW runtime id."""
        self.busy = False
        self.crash_toast = message
        self.runtime_id = _fresh_runtime_id()
        await self.emit(SignalKind.TOAST, SignalKind.RUNTIME, SignalKind.CELLS)

    async def show(self, dialog: Dialog, text: str | None = None) -> None:
        """Open ``dialog`` now (``text`` becomes ``unclassified`` for Dialog.UNKNOWN)."""
        self.dialogs.append(dialog)
        if dialog is Dialog.UNKNOWN:
            self.unclassified = text or "An unexpected dialog"
        await self.emit(SignalKind.DIALOG)

    async def close(self, dialog: Dialog) -> None:
        """Close ``dialog`` as a human would."""
        self.dialogs.remove(dialog)
        if dialog is Dialog.UNKNOWN:
            self.unclassified = None
        await self.emit(SignalKind.DIALOG)

    async def set_signed_in(self, signed_in: bool) -> None:
        """Sign the fake user out or back in."""
        self.signed_in = signed_in
        await self.emit(SignalKind.AUTH)

    async def finish_cells(self, output: dict[str, str] | None = None) -> None:
        """Every running cell completes (``output``: cell id -> the text it ends with)."""
        self.outputs.update(output or {})
        self.busy = False
        await self.emit(SignalKind.CELLS)


class FakeFrontend(Frontend):
    """A :class:`Frontend` over in-memory :class:`FakeNotebook` s, one per page object.

    Args:
        notebook_factory: builds the notebook for a page seen for the first time.

    Attributes:
        calls: every interface call as ``(method, page, args)``, in order.
        fail_next: method name -> exception the next call of that method raises (then forgotten),
            e.g. ``{"reconnect": BrowserError("page closed")}``.
    """

    name = "fake"

    def __init__(self, notebook_factory: Callable[[], FakeNotebook] = FakeNotebook) -> None:
        self._factory = notebook_factory
        self._notebooks: dict[object, FakeNotebook] = {}
        self.calls: list[tuple[str, object, tuple[Any, ...]]] = []
        self.fail_next: dict[str, BaseException] = {}

    def notebook(self, page: object) -> FakeNotebook:
        """The notebook behind ``page`` (created on first use)."""
        if page not in self._notebooks:
            self._notebooks[page] = self._factory()
        return self._notebooks[page]

    def _enter(self, method: str, page: object, *args: Any) -> FakeNotebook:
        self.calls.append((method, page, args))
        failure = self.fail_next.pop(method, None)
        if failure is not None:
            raise failure
        return self.notebook(page)

    async def matches(self, page: Any) -> bool:
        """True unless the test set ``recognised = False`` on the page's notebook."""
        return self._enter("matches", page).recognised

    async def install(self, page: Any, on_signal: SignalHandler) -> None:
        """Remember the handler and report LOADED, as the in-page observer does on start."""
        nb = self._enter("install", page, on_signal)
        nb.handler = on_signal
        await nb.emit(SignalKind.LOADED)

    async def observe(self, page: Any) -> Observation:
        """The page's notebook, classified."""
        return self._enter("observe", page).observation()

    async def keepalive(self, page: Any) -> None:
        """Count one harmless input."""
        self._enter("keepalive", page).keepalives += 1

    async def reconnect(self, page: Any) -> None:
        """As ColabFrontend: Reconnect in the disconnect dialog whenever it is open, else the connect button.

        The dialog comes first, whatever the button reads (on Colab its Reconnect only connects when
        no runtime is up). Another open dialog, or a runtime connected or connecting, is a FrontendError.
        """
        nb = self._enter("reconnect", page)
        if Dialog.RUNTIME_DISCONNECTED in nb.dialogs:
            await self._press(nb, Dialog.RUNTIME_DISCONNECTED, Action.RECONNECT)
            return
        if nb.dialogs:
            shown = ", ".join(nb.dialogs)
            raise FrontendError(f"a dialog is open ({shown}); answer it before reconnecting")
        if nb.connection is not Connection.DISCONNECTED:
            raise FrontendError(f"not clicking the connect button: the runtime is {nb.connection}")
        nb.clicks.append("connect")
        await nb.connect_now()

    async def answer(self, page: Any, dialog: Dialog, action: Action) -> None:
        """Press ``action`` in ``dialog`` with the effect Colab gives it."""
        nb = self._enter("answer", page, dialog, action)
        check_action(dialog, action)
        if dialog not in nb.dialogs:
            raise SelectorNotFoundError(f"dialog {dialog} is not open")
        nb.answers.append((dialog, action))
        await self._press(nb, dialog, action)

    async def _press(self, nb: FakeNotebook, dialog: Dialog, action: Action) -> None:
        # The button closes its dialog; Reconnect and Connect without GPU then connect, as Colab's
        # do, unless a runtime is already up (Colab's connect() returns at once then).
        nb.clicks.append(f"dialog:{dialog}:{action}")
        nb.dialogs.remove(dialog)
        if dialog is Dialog.UNKNOWN:
            nb.unclassified = None
        connects = action in (Action.RECONNECT, Action.CONNECT_WITHOUT_GPU)
        if connects and nb.connection is Connection.DISCONNECTED:
            await nb.connect_now(gpu=action is Action.RECONNECT)
        else:
            await nb.emit(SignalKind.DIALOG)

    async def complete_oauth_popup(self, popup: Any) -> None:
        """Count one completed consent popup (the popup object is the key, like a page)."""
        self._enter("complete_oauth_popup", popup).oauth_popups += 1

    async def run_cell_with_marker(self, page: Any, marker: str) -> str:
        """Start the first cell containing ``marker``; it stays running until ``finish_cells``."""
        nb = self._enter("run_cell_with_marker", page, marker)
        if nb.busy:
            raise FrontendError("a cell is running or queued; not starting the resume cell")
        for cell_id, source in nb.cells.items():
            if marker in source:
                nb.clicks.append(f"run:{cell_id}")
                nb.runs.append(cell_id)
                if cell_id in nb.prints:
                    nb.outputs[cell_id] = nb.prints[cell_id]
                nb.busy = True
                await nb.emit(SignalKind.CELLS)
                return cell_id
        raise ResumeMarkerNotFoundError(f"no code cell contains the resume marker {marker!r}")

    async def run_all(self, page: Any) -> None:
        """Start every cell in order."""
        nb = self._enter("run_all", page)
        nb.clicks.append("menu:runall")
        nb.runs.extend(nb.cells)
        nb.outputs.update({cell_id: text for cell_id, text in nb.prints.items() if cell_id in nb.cells})
        nb.busy = bool(nb.cells)
        await nb.emit(SignalKind.CELLS)

    async def restart_runtime(self, page: Any) -> None:
        """Restart the session: running cells stop, a fresh process (the fake gives it a new id)."""
        nb = self._enter("restart_runtime", page)
        if nb.connection is not Connection.CONNECTED:
            raise FrontendError(f"not going to restart the session: the runtime is {nb.connection}")
        nb.clicks.append("menu:restart")
        nb.restarts += 1
        nb.busy = False
        nb.runtime_id = _fresh_runtime_id()
        await nb.emit(SignalKind.RUNTIME, SignalKind.CELLS)

    async def release_runtime(self, page: Any) -> None:
        """Disconnect and delete the runtime: gone, no dialog (the user asked for it)."""
        nb = self._enter("release_runtime", page)
        if nb.connection is not Connection.CONNECTED:
            raise FrontendError(f"not going to release the runtime: the runtime is {nb.connection}")
        nb.clicks.append("menu:release")
        nb.connection = Connection.DISCONNECTED
        nb.busy = False
        nb.runtime_id = None
        await nb.emit(SignalKind.CONNECTION, SignalKind.CELLS)

    async def cell_output(self, page: Any, cell_id: str) -> str:
        """The scripted output of ``cell_id``."""
        nb = self._enter("cell_output", page, cell_id)
        if cell_id not in nb.cells:
            raise SelectorNotFoundError(f"no cell with id {cell_id!r}")
        return nb.outputs.get(cell_id, "")

    async def probe(self, page: Any) -> PageProbe:
        """The notebook as a probe: no selectors (there is no DOM), the dialogs it shows, one layer."""
        nb = self._enter("probe", page)
        obs = nb.observation()
        return PageProbe(
            url=str(getattr(page, "url", "fake://notebook")),
            selectors=(),
            dialogs=tuple(
                DialogReport(dialog, (), dialog.value if dialog in obs.dialogs else None)
                for dialog in Dialog
                if dialog is not Dialog.UNKNOWN
            ),
            open_dialogs=tuple(
                (obs.unclassified or d.value) if d is Dialog.UNKNOWN else d.value for d in obs.dialogs
            ),
            layers=(LayerVerdict("fake notebook", obs.connection, f"scripted {obs.connection}"),),
            facts={"fake": True, **obs.as_dict()},
            observation=obs,
        )

    async def debug_bundle(self, page: Any, directory: Path) -> Path:
        """Write the observation as text into a fresh folder under ``directory`` (files 0600)."""
        nb = self._enter("debug_bundle", page, directory)
        files = {"observation.txt": (repr(nb.observation()) + "\n").encode()}
        return await asyncio.to_thread(write_bundle, directory, files, "fake-bundle")
