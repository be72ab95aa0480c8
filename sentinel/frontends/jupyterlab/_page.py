"""JupyterLab 4's and Notebook 7's page, driven: the observer that pushes what it shows, real input for actions.

``_page.js`` gathers raw facts (the toolbar's kernel name and execution indicator, open dialogs, cell
prompts, the kernel websockets' sessions, the server's ``/api/sessions``) and reports every change
through ``page.expose_binding``; :func:`~sentinel.frontends.jupyterlab._classify.classify` turns them
into an Observation. Actions are real mouse clicks and key presses, as a person makes them: a cell is
run by selecting it (a click on its prompt) and Ctrl+Enter (run in place: Shift+Enter and the toolbar's
run button advance, and on the last cell insert a new one, which autosave writes to disk). Nothing is
ever typed into a cell or a form.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import structlog

from sentinel._playwright import map_playwright_errors
from sentinel.errors import (
    BrowserError,
    FrontendError,
    ResumeMarkerNotFoundError,
    SelectorNotFoundError,
    SentinelError,
)
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
    SelectorReport,
    Signal,
    SignalHandler,
    SignalKind,
    check_action,
)
from sentinel.frontends.jupyterlab._classify import busy_of, changes, classify, kernel_of, page_connection
from sentinel.frontends.jupyterlab._selectors import DEFAULT_SELECTORS
from sentinel.frontends.selectors import SelectorSet

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

log = structlog.get_logger(__name__)

T = TypeVar("T")

PAGE_JS: Final = Path(__file__).with_name("_page.js").read_text(encoding="utf-8").strip().rstrip(";")
BINDING: Final = "__sentinelJupyterReport"
_CELL_ID = re.compile(r"^cell-(\d+)$")


class _Reporter:
    """Receives one page's observer reports, classifies them and calls the daemon's handler on changes."""

    def __init__(self, frontend: JupyterLabFrontend, handler: SignalHandler) -> None:
        self._frontend = frontend
        self._handler = handler
        self._doc: str | None = None
        self._seq = 0
        self._last: Observation | None = None

    async def __call__(self, source: object, facts: object) -> None:
        frame = source.get("frame") if isinstance(source, dict) else None
        if frame is not None and getattr(frame, "parent_frame", None) is not None:
            return  # an iframe's observer (a rendered output): not the notebook's page
        if not isinstance(facts, dict):
            return
        if "error" in facts:
            log.warning("frontend.observer_failed", frontend="jupyterlab", error=str(facts["error"])[:300])
            return
        doc, seq = facts.get("doc"), facts.get("seq")
        seq = seq if isinstance(seq, int) else 0
        fresh = doc != self._doc
        if fresh:
            self._doc, self._seq = str(doc), 0
        elif seq <= self._seq:
            return
        self._seq = seq
        observation = classify(facts, self._frontend.selectors)
        changed = changes(self._last, observation)
        if fresh:
            changed.add(SignalKind.LOADED)
        if not changed:
            return
        self._last = observation
        page_time = facts.get("t")
        signal = Signal(
            changed=frozenset(changed),
            observation=observation,
            page_time=float(page_time) if isinstance(page_time, int | float) else time.time(),
        )
        try:
            result = self._handler(signal)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("frontend.signal_handler_failed", frontend="jupyterlab")


class JupyterLabFrontend(Frontend):
    """Drives a JupyterLab 4 or Notebook 7 notebook page (``/lab/tree/x.ipynb``, ``/notebooks/x.ipynb``).

    Args:
        selectors: the page's selectors and texts; :func:`load_selectors` applies a user file.
        action_timeout: seconds to find and click something (a dialog button, the kernel name).
        detect_timeout: seconds :meth:`matches` waits for Jupyter's markers to appear.
        start_timeout: seconds to see a run cell start.
        rest_interval: seconds between the page's reads of the server's sessions.
    """

    name = "jupyterlab"

    def __init__(
        self,
        selectors: SelectorSet = DEFAULT_SELECTORS,
        *,
        action_timeout: float = 10.0,
        detect_timeout: float = 5.0,
        start_timeout: float = 10.0,
        rest_interval: float = 2.0,
    ) -> None:
        self.selectors = selectors
        self.action_timeout = action_timeout
        self.detect_timeout = detect_timeout
        self.start_timeout = start_timeout
        self._config: dict[str, Any] = {
            "css": selectors.page_config(),
            "binding": BINDING,
            "rest_interval_ms": int(rest_interval * 1000),
        }

    # --- page JS ---

    async def _js(self, page: Page, call: str, arg: object = None) -> Any:
        """Run ``api.<call>`` of ``_page.js`` in the page (``arg`` is bound to ``arg``)."""
        script = f"async ([cfg, arg]) => ({PAGE_JS})(cfg).{call}"
        return await page.evaluate(script, [self._config, arg])

    async def _facts(self, page: Page) -> dict[str, Any]:
        facts = await self._js(page, "fresh()")
        if not isinstance(facts, dict):
            raise FrontendError(f"the page returned {type(facts).__name__} instead of its facts")
        return facts

    async def _poll(self, probe: Callable[[], Awaitable[T | None]], seconds: float) -> T | None:
        deadline = time.monotonic() + seconds
        while True:
            value = await probe()
            if value is not None or time.monotonic() >= deadline:
                return value
            await asyncio.sleep(0.1)

    # --- Frontend ---

    async def matches(self, page: Page) -> bool:
        """True when the page is a Jupyter page (its config, its shell, or its login form)."""
        deadline = time.monotonic() + self.detect_timeout
        while True:
            try:
                with map_playwright_errors("recognise JupyterLab"):
                    if await self._js(page, "isJupyter()"):
                        return True
            except BrowserError:
                raise
            except FrontendError:
                pass  # mid-navigation: look again
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.1)

    async def install(self, page: Page, on_signal: SignalHandler) -> None:
        """Expose the report binding and inject the observer; reload a page loaded before it.

        The kernel's identity is read from its websocket's messages, so the hook must be in place
        before the page opens the socket: a page already loaded is reloaded once (JupyterLab then
        reconnects to the same kernel, as it does for a person's reload).
        """
        reporter = _Reporter(self, on_signal)
        with map_playwright_errors("install the JupyterLab observer"):
            await page.expose_binding(BINDING, reporter)
            await page.add_init_script(script=f"({PAGE_JS})({json.dumps(self._config)}).startObserver();")
            if page.url.startswith(("http://", "https://")):
                await page.reload(wait_until="domcontentloaded")
        log.info("frontend.observer_installed", frontend="jupyterlab")

    async def observe(self, page: Page) -> Observation:
        """Classify the page now; ``taken_at`` is when the read started."""
        started = time.monotonic()
        with map_playwright_errors("observe the JupyterLab page"):
            facts = await self._facts(page)
        return replace(classify(facts, self.selectors), taken_at=started)

    async def keepalive(self, page: Page) -> None:
        """Move the real mouse over the toolbar's empty spacer (or the status bar), then tap Shift."""
        with map_playwright_errors("keepalive"):
            point = await self._js(page, "neutralPoint()")
            if isinstance(point, dict):
                x, y = float(point["x"]), float(point["y"])
                await page.mouse.move(x, y)
                await page.mouse.move(x + 3, y - 2, steps=2)
                await page.mouse.move(x, y)
            await page.keyboard.press("Shift")
        log.debug("frontend.keepalive", frontend="jupyterlab", moved=isinstance(point, dict))

    async def reconnect(self, page: Page) -> None:
        """Get the notebook a live kernel as a person would.

        A dialog about the kernel or the server is answered (Ok / Dismiss; Select in Select Kernel).
        A notebook whose kernel is gone from the server (culled, shut down), or whose socket the page
        lost, is reloaded (F5): opening it starts its kernel, or reconnects the one still running. A
        page that shows "No Kernel" while the server keeps the session gets Select Kernel from the
        toolbar's kernel name, and the notebook's kernel selected.

        Raises:
            FrontendError: the kernel is connected or connecting (nothing to do), or an unknown dialog is open.
        """
        with map_playwright_errors("observe the JupyterLab page"):
            facts = await self._facts(page)
        observation = classify(facts, self.selectors)
        if Dialog.RUNTIME_DISCONNECTED in observation.dialogs:
            await self.answer(page, Dialog.RUNTIME_DISCONNECTED, Action.RECONNECT)
            return
        if observation.dialogs:
            raise FrontendError("an unknown dialog is open; answer it before reconnecting")
        if observation.connection is not Connection.DISCONNECTED:
            raise FrontendError(f"not starting a kernel: the kernel is {observation.connection}")
        kernel_id, _, socket_open = kernel_of(facts)
        if kernel_id is None or not socket_open:
            # Culled or shut down (the server deleted the notebook's session: Select Kernel would
            # fail with "Session not found"), or a kernel the page lost: a reload opens the notebook
            # afresh, which starts its kernel (or reconnects the one the server still has).
            with map_playwright_errors("reload the page for a kernel"):
                await page.reload(wait_until="domcontentloaded")
            log.info("frontend.reconnected", frontend="jupyterlab", via="reload")
            return
        with map_playwright_errors("open Select Kernel"):
            name = page.locator(self.selectors.locator("kernel_name")).filter(visible=True).first
            await name.click(timeout=self.action_timeout * 1000)
        await self.answer(page, Dialog.RUNTIME_DISCONNECTED, Action.RECONNECT)
        log.info("frontend.reconnected", frontend="jupyterlab", via="select kernel")

    async def _open_dialog(self, page: Page) -> Locator | None:
        box = page.locator(self.selectors.locator("dialog")).filter(visible=True).first
        return box if await box.count() > 0 else None

    async def answer(self, page: Page, dialog: Dialog, action: Action) -> None:
        """Answer Jupyter's dialog: Select (the notebook's kernel) in Select Kernel, else Ok / Dismiss.

        ``Action.CLOSE`` in Select Kernel presses Escape (no kernel is chosen).
        """
        check_action(dialog, action)
        with map_playwright_errors(f"answer {dialog} with {action}"):
            box = await self._poll(lambda: self._open_dialog(page), self.action_timeout)
            if box is None:
                raise SelectorNotFoundError(f"dialog {dialog} is not open")
            header = await box.locator(self.selectors.locator("dialog_header")).first.inner_text()
            choosing = bool(self.selectors.dialog("select_kernel").search(header))
            if choosing and action is Action.CLOSE:
                await page.keyboard.press("Escape")
                return
            key = "select" if choosing else "dismiss"
            buttons = box.locator(self.selectors.locator("dialog_button")).filter(
                has_text=self.selectors.button(key)
            )
            if await buttons.count() == 0:
                raise SelectorNotFoundError(f"dialog {header.strip()!r} has no {key} button")
            await buttons.first.click(timeout=self.action_timeout * 1000)
        log.info("frontend.dialog_answered", frontend="jupyterlab", dialog=header.strip()[:60], button=key)

    async def complete_oauth_popup(self, popup: Page) -> None:  # noqa: ARG002 - the interface's argument
        """Jupyter has no consent popup: a popup is left alone (a person decides)."""
        raise FrontendError("JupyterLab has no consent popup to complete")

    async def _cells(self, page: Page) -> list[dict[str, Any]]:
        cells = await self._js(page, "cells()")
        return [c for c in cells if isinstance(c, dict)] if isinstance(cells, list) else []

    async def run_cell_with_marker(self, page: Page, marker: str) -> str:
        """Select the first code cell containing ``marker`` (a click on its prompt) and press Ctrl+Enter.

        Ctrl+Enter runs the selected cell in place: nothing is edited, added or advanced.
        """
        with map_playwright_errors("run the resume cell"):
            facts = await self._facts(page)
            if busy_of(facts, self.selectors):
                raise FrontendError("a cell is running or queued; not starting the resume cell")
            cells = await self._cells(page)
            found = next((c for c in cells if c.get("code") and marker in str(c.get("source"))), None)
            if found is None:
                raise ResumeMarkerNotFoundError(f"no code cell contains the resume marker {marker!r}")
            index = int(found["index"])
            cell = (
                page.locator(self.selectors.locator("notebook_panel"))
                .first.locator(self.selectors.locator("cell"))
                .nth(index)
            )
            prompt = cell.locator(self.selectors.locator("input_prompt")).first
            await prompt.scroll_into_view_if_needed(timeout=self.action_timeout * 1000)
            await prompt.click(timeout=self.action_timeout * 1000)
            selected = [c["index"] for c in await self._cells(page) if c.get("selected")]
            if selected != [index]:
                raise FrontendError(f"selecting the resume cell selected cells {selected} instead")
            await self._js(page, "watchCell(arg)", index)
            await page.keyboard.press("Control+Enter")

            async def started() -> bool | None:
                return True if await self._js(page, "cellStarted(arg)", index) else None

            if await self._poll(started, self.start_timeout) is None:
                raise FrontendError(f"the resume cell (cell {index}) did not start after Ctrl+Enter")
        cell_id = f"cell-{index}"
        log.info("frontend.cell_started", frontend="jupyterlab", cell_id=cell_id)
        return cell_id

    async def _menu(
        self, page: Page, menu_key: str, item_key: str, confirm_key: str | None, what: str
    ) -> None:
        with map_playwright_errors(what):
            menu = page.locator(self.selectors.locator("menu_bar_item")).filter(
                has_text=self.selectors.text(menu_key)
            )
            await menu.first.click(timeout=self.action_timeout * 1000)
            item = (
                page.locator(self.selectors.locator("menu_item"))
                .filter(visible=True)
                .filter(has_text=self.selectors.text(item_key))
            )
            try:
                await item.first.click(timeout=self.action_timeout * 1000)
            except SentinelError:
                await page.keyboard.press("Escape")  # close the menu left open
                raise
            if confirm_key is None:
                return
            box = await self._poll(lambda: self._open_dialog(page), self.action_timeout)
            if box is None:
                return  # the command did not ask
            confirm = box.locator(self.selectors.locator("dialog_button")).filter(
                has_text=self.selectors.button(confirm_key)
            )
            await confirm.first.click(timeout=self.action_timeout * 1000)

    async def run_all(self, page: Page) -> None:
        """Run > Run All Cells with real clicks."""
        observation = await self.observe(page)
        if observation.busy:
            raise FrontendError("a cell is running or queued; not starting Run all")
        await self._menu(page, "run_menu", "run_all_item", None, "Run > Run All Cells")
        log.info("frontend.run_all", frontend="jupyterlab", via="menu")

    async def restart_runtime(self, page: Page) -> None:
        """Kernel > Restart Kernel with real clicks, confirmed with Restart."""
        observation = await self.observe(page)
        if observation.connection is not Connection.CONNECTED:
            raise FrontendError(f"not restarting the kernel: it is {observation.connection}")
        await self._menu(page, "kernel_menu", "restart_item", "restart_confirm", "Kernel > Restart Kernel")
        log.info("frontend.runtime_restarted", frontend="jupyterlab")

    async def release_runtime(self, page: Page) -> None:
        """Kernel > Shut Down Kernel with real clicks, confirmed with Shut Down."""
        observation = await self.observe(page)
        if observation.connection is not Connection.CONNECTED:
            raise FrontendError(f"not shutting the kernel down: it is {observation.connection}")
        await self._menu(
            page, "kernel_menu", "shutdown_item", "shutdown_confirm", "Kernel > Shut Down Kernel"
        )
        log.info("frontend.runtime_released", frontend="jupyterlab")

    async def cell_output(self, page: Page, cell_id: str) -> str:
        """The visible text output of cell ``cell-N`` (the N-th cell of the visible notebook)."""
        match = _CELL_ID.match(cell_id)
        with map_playwright_errors("read a cell's output"):
            cells = await self._cells(page)
        if match is None or int(match.group(1)) >= len(cells):
            raise SelectorNotFoundError(f"there is no cell {cell_id!r}")
        return str(cells[int(match.group(1))].get("output") or "")

    async def probe(self, page: Page) -> PageProbe:
        """Read the page for ``sentinel doctor``: what each selector matches, each dialog, both witnesses."""
        with map_playwright_errors("probe the JupyterLab page"):
            facts = await self._facts(page)
            reports: list[SelectorReport] = []
            for key, alternatives in self.selectors.css.items():
                counts = tuple(
                    [(alt, await page.locator(alt.replace(">>>", " ")).count()) for alt in alternatives]
                )
                matched = page.locator(self.selectors.locator(key))
                count = await matched.count()
                text = (await matched.first.inner_text(timeout=1000))[:120] if count else ""
                reports.append(SelectorReport(key=key, count=count, text=text.strip(), alternatives=counts))
        observation = classify(facts, self.selectors)
        texts = [f"{d.get('header', '')} {d.get('text', '')}".strip() for d in facts.get("dialogs") or ()]
        dialogs = tuple(
            DialogReport(
                dialog=Dialog.RUNTIME_DISCONNECTED,
                patterns=self.selectors.dialogs[key],
                matched=next((t[:120] for t in texts if self.selectors.dialog(key).search(t)), None),
            )
            for key in ("runtime_disconnected", "select_kernel")
        )
        kernel_id, session, socket_open = kernel_of(facts)
        rest = facts.get("rest") or {}
        layers = (
            LayerVerdict(
                "kernel name and execution indicator",
                page_connection(facts, self.selectors),
                f"{facts.get('kernel_name')!r}, indicator {facts.get('indicator')!r}",
            ),
            LayerVerdict(
                "server sessions and kernel websocket",
                observation.connection,
                f"kernel {kernel_id}, state {rest.get('state') if isinstance(rest, dict) else None},"
                f" socket {'open' if socket_open else 'closed'}, process session {session}",
            ),
        )
        return PageProbe(
            url=str(facts.get("url") or ""),
            selectors=tuple(reports),
            dialogs=dialogs,
            open_dialogs=tuple(texts),
            layers=layers,
            facts=facts,
            observation=observation,
        )

    async def debug_bundle(self, page: Page, directory: Path) -> Path:
        """Write ``page.png``, ``dom.html`` (the token taken out) and ``facts.json`` (0600)."""
        files: dict[str, bytes] = {}
        problems: list[str] = []
        try:
            with map_playwright_errors("screenshot"):
                files["page.png"] = await page.screenshot(full_page=True, timeout=self.action_timeout * 1000)
        except SentinelError as exc:
            problems.append(str(exc))
        try:
            with map_playwright_errors("DOM snapshot"):
                files["dom.html"] = str(await self._js(page, "snapshot()")).encode()
            with map_playwright_errors("collect facts"):
                facts = await self._facts(page)
            report = {"facts": facts, "observation": classify(facts, self.selectors).as_dict()}
            files["facts.json"] = json.dumps(report, indent=2, default=str).encode()
        except SentinelError as exc:
            problems.append(str(exc))
        if problems:
            files["problems.txt"] = ("\n".join(problems) + "\n").encode()
        bundle = await asyncio.to_thread(write_bundle, directory, files)
        log.warning("frontend.debug_bundle", frontend="jupyterlab", path=str(bundle), problems=len(problems))
        return bundle
