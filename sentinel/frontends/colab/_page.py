"""Colab's page, driven: the observer that pushes what the page shows, and real input for every action.

``_page.js`` gathers raw facts in the page (connect-button text, open dialogs' texts, toasts, cell and
kernel state, piercing open shadow roots) and an in-page MutationObserver pushes them through
``page.expose_binding`` on every relevant change; :func:`~sentinel.frontends.colab._classify.classify`
turns them into an Observation. Actions use Playwright locators (role/text first, tag-specific
fallbacks) and real mouse and keyboard input, which the page sees as trusted.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping
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
    Frontend,
    Observation,
    PageProbe,
    Signal,
    SignalHandler,
    SignalKind,
    check_action,
)
from sentinel.frontends.colab._classify import LayerWatch, as_int, changes, classify, connect_name
from sentinel.frontends.colab._oauth import ConsentPopup
from sentinel.frontends.colab._probe import build_probe
from sentinel.frontends.colab._selectors import DEFAULT_SELECTORS, PAGE_TEXTS, PRIMARY_ACTIONS
from sentinel.frontends.selectors import SelectorSet

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

log = structlog.get_logger(__name__)

T = TypeVar("T")

PAGE_JS: Final = Path(__file__).with_name("_page.js").read_text(encoding="utf-8").strip().rstrip(";")
BINDING: Final = "__sentinelColabReport"

# True when the element (or the native button in its shadow root) is disabled.
_IS_DISABLED_JS: Final = """el => {
  const off = (e) => !!e && (e.disabled === true || e.hasAttribute('disabled')
    || e.getAttribute('aria-disabled') === 'true');
  if (off(el)) return true;
  const inner = el.shadowRoot && el.shadowRoot.querySelector('button, [role=button]');
  return off(inner);
}"""


class _Reporter:
    """Receives one page's observer reports, classifies them and calls the daemon's handler on changes."""

    def __init__(self, frontend: ColabFrontend, handler: SignalHandler) -> None:
        self._frontend = frontend
        self._handler = handler
        self._doc: str | None = None
        self._seq = 0
        self._last: Observation | None = None
        self._layers = LayerWatch()  # warns once per page when the connection layers disagree

    async def __call__(self, source: object, facts: object) -> None:
        if _from_child_frame(source):
            # The init script and the binding reach every frame, reCAPTCHA's iframes included: their
            # observer reports a document without a connect button or a captcha host, and taking it
            # for the notebook's would unblock a captcha the moment its iframe loads (issue 11).
            return
        if not isinstance(facts, dict):
            return
        if "error" in facts:
            log.warning("frontend.observer_failed", frontend="colab", error=str(facts["error"])[:300])
            return
        doc, seq = facts.get("doc"), as_int(facts.get("seq"))
        fresh = doc != self._doc
        if fresh:
            # A reload or navigation started a new observer: its sequence starts over.
            self._doc, self._seq = str(doc), 0
        elif seq <= self._seq:
            return  # an older report overtaken by a newer one
        self._seq = seq
        self._frontend._warn_bad_selectors(facts)
        observation = classify(facts, self._frontend.selectors)
        self._layers.check(facts, observation, self._frontend.selectors)
        changed = changes(self._last, observation)
        if fresh or facts.get("loaded"):
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
            log.exception("frontend.signal_handler_failed", frontend="colab")


class ColabFrontend(Frontend):
    """Drives Colab's notebook page (and the emulator's, which copies it).

    Args:
        selectors: Colab's selectors and texts; :func:`load_selectors` applies a user file.
        action_timeout: seconds to find and click something (a dialog button, the connect button).
        detect_timeout: seconds :meth:`matches` waits for Colab's markers to appear.
        start_timeout: seconds to see a clicked cell start before trying the next way to run it.
        oauth_timeout: seconds the consent popup may take in all.
        fallback_interval: seconds between the in-page observer's safety re-checks.
    """

    name = "colab"

    def __init__(
        self,
        selectors: SelectorSet = DEFAULT_SELECTORS,
        *,
        action_timeout: float = 10.0,
        detect_timeout: float = 5.0,
        start_timeout: float = 4.0,
        oauth_timeout: float = 60.0,
        fallback_interval: float = 5.0,
    ) -> None:
        self.selectors = selectors
        self.action_timeout = action_timeout
        self.detect_timeout = detect_timeout
        self.start_timeout = start_timeout
        self.oauth_timeout = oauth_timeout
        self._config: dict[str, Any] = {
            "css": selectors.page_config(),
            "texts": {key: list(selectors.texts[key]) for key in PAGE_TEXTS},
            "binding": BINDING,
            "fallback_interval_ms": int(fallback_interval * 1000),
        }
        self._bad_selectors_seen: set[str] = set()

    # --- page JS ---

    async def _js(self, page: Page, call: str, arg: object = None) -> Any:
        """Run ``api.<call>`` of ``_page.js`` in the page (``arg`` is bound to ``arg``)."""
        script = f"([cfg, arg]) => ({PAGE_JS})(cfg).{call}"
        return await page.evaluate(script, [self._config, arg])

    def _warn_bad_selectors(self, facts: Mapping[str, Any]) -> None:
        for selector in facts.get("bad_selectors") or ():
            if isinstance(selector, str) and selector not in self._bad_selectors_seen:
                self._bad_selectors_seen.add(selector)
                log.warning("frontend.bad_selector", frontend="colab", selector=selector)

    async def _facts(self, page: Page) -> dict[str, Any]:
        facts = await self._js(page, "collect()")
        if not isinstance(facts, dict):
            raise FrontendError(f"the page returned {type(facts).__name__} instead of its facts")
        self._warn_bad_selectors(facts)
        return facts

    # --- Frontend ---

    async def matches(self, page: Page) -> bool:
        """True when the page has Colab's notebook object or its custom elements (waits ``detect_timeout``)."""
        deadline = time.monotonic() + self.detect_timeout
        while True:
            try:
                with map_playwright_errors("recognise Colab"):
                    if await self._js(page, "isColab()"):
                        return True
            except BrowserError:
                raise
            except FrontendError:
                pass  # mid-navigation: the execution context went away; look again
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.1)

    async def install(self, page: Page, on_signal: SignalHandler) -> None:
        """Expose the report binding and inject the observer (now and on every future document)."""
        reporter = _Reporter(self, on_signal)
        with map_playwright_errors("install the Colab observer"):
            await page.expose_binding(BINDING, reporter)
            await page.add_init_script(script=f"({PAGE_JS})({json.dumps(self._config)}).startObserver();")
            # The init script only runs for documents loaded from now on; start it in this one too.
            await self._js(page, "startObserver()")
        log.info("frontend.observer_installed", frontend="colab", url=page.url)

    async def observe(self, page: Page) -> Observation:
        """Classify the page now; ``taken_at`` is when the read started (a push after it may be newer)."""
        started = time.monotonic()
        with map_playwright_errors("observe the Colab page"):
            facts = await self._facts(page)
        return replace(classify(facts, self.selectors), taken_at=started)

    async def keepalive(self, page: Page) -> None:
        """Move the real mouse over a spot with nothing interactive under it, then tap Shift.

        Both are trusted input; neither clicks, opens a menu, moves focus or types a character.
        """
        with map_playwright_errors("keepalive"):
            point = await self._js(page, "neutralPoint()")
            if isinstance(point, dict):
                x, y = float(point["x"]), float(point["y"])
                await page.mouse.move(x, y)
                await page.mouse.move(x + 3, y - 2, steps=2)
                await page.mouse.move(x, y)
            await page.keyboard.press("Shift")
        log.debug("frontend.keepalive", frontend="colab", moved=isinstance(point, dict))

    async def reconnect(self, page: Page) -> None:
        """Click Reconnect in the disconnect dialog if open, else the Connect/Reconnect button."""
        with map_playwright_errors("observe the Colab page"):
            facts = await self._facts(page)
        observation = classify(facts, self.selectors)
        if Dialog.RUNTIME_DISCONNECTED in observation.dialogs:
            await self.answer(page, Dialog.RUNTIME_DISCONNECTED, Action.RECONNECT)
            return
        if observation.dialogs:
            shown = ", ".join(observation.dialogs)
            raise FrontendError(f"a dialog is open ({shown}); answer it before reconnecting")
        if observation.connection is not Connection.DISCONNECTED:
            raise FrontendError(
                f"not clicking the connect button: the runtime is {observation.connection}"
                f" (button text {observation.connect_text!r})"
            )
        with map_playwright_errors("click the connect button"):
            button = page.locator(self.selectors.locator("connect_button")).first
            if not facts["connect"]["found"] and (name := connect_name(facts)):
                button = page.get_by_role("button", name=name, exact=True).first  # found by meaning
            await button.click(timeout=self.action_timeout * 1000)
        log.info("frontend.connect_clicked", frontend="colab", text=observation.connect_text)

    async def answer(self, page: Page, dialog: Dialog, action: Action) -> None:
        """Press ``action`` in the open ``dialog``, waiting for the button to enable (Run anyway starts disabled)."""
        check_action(dialog, action)
        with map_playwright_errors(f"answer {dialog} with {action}"):
            button = await self._find_dialog_button(page, dialog, action)
            await self._wait_enabled(button, f"{action} in {dialog}")
            await button.click(timeout=self.action_timeout * 1000)
        log.info("frontend.dialog_answered", frontend="colab", dialog=str(dialog), action=str(action))

    def _dialogs(self, page: Page) -> Locator:  # today's tags, then dialogs by meaning
        return page.locator(
            self.selectors.locator("dialog") + ", " + self.selectors.locator("dialog_semantic")
        )

    def _dialog_locator(self, page: Page, dialog: Dialog) -> Locator:
        pattern = self.selectors.dialog(dialog.value)
        return self._dialogs(page).filter(has_text=pattern, visible=True)

    async def _find_dialog_button(self, page: Page, dialog: Dialog, action: Action) -> Locator:
        label = self.selectors.button(action.value)
        box = self._dialog_locator(page, dialog)
        fallback = "primary_button" if action in PRIMARY_ACTIONS else "secondary_button"
        strategies = (
            # Role + accessible name pierces shadow DOM and survives tag changes.
            box.get_by_role("button", name=label),
            box.locator(self.selectors.locator("dialog_button")).filter(has_text=label),
            # Last resort: the slot / dialogaction / id of the dialog's primary or secondary button.
            box.locator(self.selectors.locator(fallback)),
        )

        async def first_visible() -> Locator | None:
            if await box.count() == 0:
                return None
            for candidate in strategies:
                visible = candidate.filter(visible=True)
                if await visible.count() > 0:
                    return visible.first
            return None

        found = await self._poll(first_visible, self.action_timeout)
        if found is None:
            if await box.count() == 0:
                raise SelectorNotFoundError(f"dialog {dialog} is not open")
            raise SelectorNotFoundError(f"dialog {dialog} has no {action!s} button")
        return found

    async def _wait_enabled(self, button: Locator, what: str) -> None:
        async def enabled() -> bool | None:
            return True if not await button.evaluate(_IS_DISABLED_JS) else None

        if await self._poll(enabled, self.action_timeout) is None:
            raise SelectorNotFoundError(f"{what}: the button stayed disabled for {self.action_timeout:g} s")

    async def _poll(self, probe: Callable[[], Awaitable[T | None]], seconds: float) -> T | None:
        # Colab's CSP blocks wait_for_function, so waiting is a Python loop around page.evaluate.
        deadline = time.monotonic() + seconds
        while True:
            value = await probe()
            if value is not None or time.monotonic() >= deadline:
                return value
            await asyncio.sleep(0.05)

    async def complete_oauth_popup(self, popup: Page) -> None:
        """Finish a Google consent popup (see :class:`~sentinel.frontends.colab._oauth.ConsentPopup`)."""
        await ConsentPopup(self.selectors, self.action_timeout, self.oauth_timeout).complete(popup)

    async def run_cell_with_marker(self, page: Page, marker: str) -> str:
        """Run the first code cell containing ``marker``: a real click on its run button, else fallbacks."""
        with map_playwright_errors("run the resume cell"):
            if await self._js(page, "anyBusy()"):
                raise FrontendError("a cell is running or queued; not starting the resume cell")
            found = await self._js(page, "findCell(arg)", marker)
            if not isinstance(found, dict):
                raise ResumeMarkerNotFoundError(f"no code cell contains the resume marker {marker!r}")
            cell_id = str(found["id"])
            await self._run_cell(page, cell_id)
        log.info("frontend.cell_started", frontend="colab", cell_id=cell_id, found_via=found.get("via"))
        return cell_id

    async def _run_cell(self, page: Page, cell_id: str) -> None:
        cell = page.locator(f'[id="cell-{_css_string(cell_id)}"]').first
        # 1. A real mouse click on the cell's run button (trusted input, as a user would).
        await self._js(page, "watchCell(arg)", cell_id)
        run_button = cell.locator(self.selectors.locator("run_button")).first
        how = "no run button"
        if await run_button.count() > 0:
            try:
                with map_playwright_errors("click the run button"):
                    await run_button.scroll_into_view_if_needed(timeout=self.action_timeout * 1000)
                    await run_button.click(timeout=self.action_timeout * 1000)
                    if await self._started(page, cell_id):
                        return
                how = "run button"
            except FrontendError:
                how = "run button not clickable"
        # Nothing started. Only try another way if still nothing runs (never queue it twice).
        if await self._js(page, "anyBusy()"):
            return
        # 2. Colab's own cell object.
        await self._js(page, "watchCell(arg)", cell_id)
        if await self._js(page, "manualExecute(arg)", cell_id) and await self._started(page, cell_id):
            log.info("frontend.cell_run_fallback", frontend="colab", cell_id=cell_id, via="manualExecute")
            return
        if await self._js(page, "anyBusy()"):
            return
        # 3. Focus the editor and press Ctrl+Enter.
        await self._js(page, "watchCell(arg)", cell_id)
        editor = cell.locator(self.selectors.locator("editor_focus")).first
        await editor.click(timeout=self.action_timeout * 1000)
        await page.keyboard.press("Control+Enter")
        if await self._started(page, cell_id):
            log.info("frontend.cell_run_fallback", frontend="colab", cell_id=cell_id, via="ctrl+enter")
            return
        raise FrontendError(f"cell {cell_id} did not start (tried: {how}, manualExecute, Ctrl+Enter)")

    async def _started(self, page: Page, cell_id: str) -> bool:
        async def probe() -> bool | None:
            state = await self._js(page, "cellStarted(arg)", cell_id)
            # A dialog (Run anyway, Drive consent) holding the run counts as started: the daemon answers
            # it and Colab then runs the cell; running it another way would run it twice.
            return True if state in ("started", "dialog") else None

        return await self._poll(probe, self.start_timeout) is True

    async def run_all(self, page: Page) -> None:
        """Runtime > Run all with real clicks, else Colab's ``runAll()``."""
        with map_playwright_errors("run all cells"):
            if await self._js(page, "anyBusy()"):
                raise FrontendError("a cell is running or queued; not starting Run all")
            first = await self._js(page, "firstCodeCell()")
            if not isinstance(first, str):
                raise FrontendError("the notebook has no code cell to run")
            await self._js(page, "watchCell(arg)", first)
            menu = page.locator(self.selectors.locator("runtime_menu_button")).first
            if await menu.count() > 0:
                try:
                    with map_playwright_errors("Runtime > Run all"):
                        await menu.click(timeout=self.action_timeout * 1000)
                        item = page.locator(self.selectors.locator("run_all_item")).filter(visible=True).first
                        await item.click(timeout=self.action_timeout * 1000)
                        if await self._started(page, first):
                            log.info("frontend.run_all", frontend="colab", via="menu")
                            return
                except FrontendError:
                    await page.keyboard.press("Escape")  # close a menu left open
            if await self._js(page, "anyBusy()"):
                return
            await self._js(page, "watchCell(arg)", first)
            if await self._js(page, "runAllModel()") and await self._started(page, first):
                log.info("frontend.run_all", frontend="colab", via="runAll")
                return
            raise FrontendError("Run all did not start the first cell (tried: Runtime menu, runAll())")

    async def restart_runtime(self, page: Page) -> None:
        """Runtime > Restart session with real clicks, confirming if Colab asks."""
        await self._runtime_command(page, "restart_item", "restart_confirm", "restart the session")
        log.info("frontend.runtime_restarted", frontend="colab")

    async def release_runtime(self, page: Page) -> None:
        """Runtime > Disconnect and delete runtime with real clicks, then OK in its confirmation."""
        await self._runtime_command(page, "release_item", "release_confirm", "release the runtime")
        log.info("frontend.runtime_released", frontend="colab")

    async def _runtime_command(self, page: Page, item_key: str, confirm_key: str, what: str) -> None:
        observation = await self.observe(page)
        if observation.connection is not Connection.CONNECTED:
            raise FrontendError(f"not going to {what}: the runtime is {observation.connection}")
        with map_playwright_errors(what):
            await page.locator(self.selectors.locator("runtime_menu_button")).first.click(
                timeout=self.action_timeout * 1000
            )
            item = page.locator(self.selectors.locator(item_key)).filter(visible=True).first
            await item.click(timeout=self.action_timeout * 1000)
            confirm = self._dialogs(page).filter(has_text=self.selectors.text(confirm_key), visible=True)

            async def confirmation() -> Locator | None:
                return confirm.first if await confirm.count() > 0 else None

            box = await self._poll(confirmation, 2.0)
            if box is not None:
                button = box.get_by_role("button", name=self.selectors.button("confirm")).first
                if await button.count() == 0:
                    button = box.locator(self.selectors.locator("primary_button")).filter(visible=True).first
                await self._wait_enabled(button, f"OK in the {what} confirmation")
                await button.click(timeout=self.action_timeout * 1000)

    async def cell_output(self, page: Page, cell_id: str) -> str:
        """The text shown in cell ``cell_id``'s output area."""
        with map_playwright_errors(f"read the output of cell {cell_id}"):
            result = await self._js(page, "cellOutput(arg)", cell_id)
        if not isinstance(result, dict) or not result.get("found"):
            raise SelectorNotFoundError(f"no cell with id {cell_id!r}")
        return str(result.get("text") or "")

    async def probe(self, page: Page) -> PageProbe:
        """What each selector, dialog pattern and detection layer reads, from one ``probe()`` in the page."""
        with map_playwright_errors("probe the Colab page"):
            raw = await self._js(page, "probe()")
        if isinstance(raw, dict) and isinstance(raw.get("facts"), dict):
            self._warn_bad_selectors(raw["facts"])
        return build_probe(page.url, raw, self.selectors)

    async def debug_bundle(self, page: Page, directory: Path) -> Path:
        """Write ``page.png``, ``dom.html`` (shadow roots as declarative shadow DOM), ``facts.json`` (0600)."""
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
        except SentinelError as exc:
            problems.append(str(exc))
        try:
            with map_playwright_errors("collect facts"):
                facts = await self._facts(page)
            observation = classify(facts, self.selectors)
            report = {"url": page.url, "facts": facts, "observation": observation.as_dict()}
            files["facts.json"] = json.dumps(report, indent=2, default=str).encode()
        except SentinelError as exc:
            problems.append(str(exc))
        if problems:
            files["problems.txt"] = ("\n".join(problems) + "\n").encode()
        bundle = await asyncio.to_thread(write_bundle, directory, files)
        log.warning("frontend.debug_bundle", frontend="colab", path=str(bundle), problems=len(problems))
        return bundle


def _from_child_frame(source: object) -> bool:
    """Whether a binding call came from a frame inside the page (an iframe), not from its top document."""
    frame = source.get("frame") if isinstance(source, dict) else None
    return frame is not None and getattr(frame, "parent_frame", None) is not None


def _css_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
