"""Google Colab's notebook page: the ONLY home of Colab's selectors and texts in the daemon.

The defaults below cover the three dialog generations (Polymer ``paper-dialog`` 2022, ``mwc-dialog`` +
``mwc-button`` 2023, ``mwc-dialog``/``md-dialog`` + ``md-text-button`` 2025) and fall back to generic
ARIA roles for the next one; sources and dates are in ``../shared/reference/colab-ui.md``. A user's
TOML file (``--selectors FILE``, see :mod:`sentinel.frontends.selectors`) can override or extend any
entry.

How it works: ``_colab_page.js`` gathers raw facts in the page (connect-button text, open dialogs'
texts, toasts, cell and kernel state, piercing open shadow roots) and an in-page MutationObserver
pushes them through ``page.expose_binding`` on every relevant change. :func:`classify` turns facts into
an :class:`~sentinel.frontends.base.Observation` here in Python, so every regular expression lives in
one place. Actions use Playwright locators (role/text first, tag-specific fallbacks) and real mouse and
keyboard input, which the page sees as trusted.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import structlog
from playwright.async_api import Error as PlaywrightError

from sentinel.errors import (
    BrowserError,
    FrontendError,
    ResumeMarkerNotFoundError,
    SelectorNotFoundError,
    SentinelError,
)
from sentinel.frontends.base import (
    Action,
    Connection,
    Dialog,
    Frontend,
    Observation,
    Signal,
    SignalHandler,
    SignalKind,
    check_action,
)
from sentinel.frontends.boundary import is_closed_error, map_playwright_errors
from sentinel.frontends.selectors import SelectorSet, normalise

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

log = structlog.get_logger(__name__)

T = TypeVar("T")

_PAGE_JS: Final = Path(__file__).with_name("_colab_page.js").read_text(encoding="utf-8").strip().rstrip(";")
BINDING: Final = "__sentinelColabReport"

DEFAULT_SELECTORS: Final = SelectorSet(
    css={
        # colab-ui.md 1.1: #connect inside the connect button's open shadow root (2020 -> 2026).
        "connect_button": (
            "colab-connect-button >>> #connect",
            "colab-connect-button >>> colab-toolbar-button",
            "#top-toolbar #connect",
        ),
        # Something only Colab's page has (for --frontend auto), besides window.colab.global.notebook.
        "colab_marker": ("colab-connect-button", "#top-toolbar colab-toolbar-button", "colab-run-button"),
        # 3.1: every generation, then generic ARIA dialogs so a next generation is still seen.
        "dialog": (
            "mwc-dialog[open]",
            "md-dialog[open]",
            "colab-dialog paper-dialog",
            "paper-dialog[opened]",
            "dialog[open]",
            ".mdc-dialog--open",
            "[role=alertdialog]",
            "[role=dialog]",
        ),
        # 3.3: the reCAPTCHA host; nothing inside it is ever clicked.
        "captcha": ("colab-recaptcha-dialog",),
        "dialog_button": (
            "md-text-button",
            "md-filled-button",
            "md-outlined-button",
            "mwc-button",
            "paper-button",
            "button",
            "[role=button]",
        ),
        "primary_button": (
            "md-text-button[slot=primaryAction]",
            "md-filled-button[slot=primaryAction]",
            "mwc-button[slot=primaryAction]",
            "[dialogaction=ok]",
            "paper-button#ok",
            "#ok",
        ),
        "secondary_button": (
            "md-text-button[slot=secondaryAction]",
            "mwc-button[slot=secondaryAction]",
            "[dialogaction=cancel]",
            "paper-button#cancel",
            "#cancel",
        ),
        # 3.2: crash notifications are toasts, not dialogs.
        "toast": (
            "colab-toast",
            "mwc-snackbar[open]",
            "md-snackbar[open]",
            "paper-toast[opened]",
            "[role=alert]",
            "[role=status]",
        ),
        # 6: signed-out / signed-in markers (the obfuscated gb_* classes are deliberately left out).
        "sign_in_link": (
            'a[aria-label="Sign in"]',
            'a[href*="ServiceLogin"]',
            'a[href*="accounts.google.com/signin"]',
        ),
        "account_link": ('a[aria-label*="Google Account"]', 'a[href*="SignOutOptions"]'),
        # 4.1 / 4.2: cells, their run buttons, editors and outputs.
        "code_cell": (".cell.code", ".notebook-cell.code"),
        "running_cell": (
            ".cell.running",
            ".cell.pending",
            "colab-run-button[running]",
            "colab-run-button[pending]",
        ),
        "run_button": ("colab-run-button",),
        "editor_text": (".view-lines", ".monaco-editor"),
        "editor_focus": (".view-lines", ".monaco-editor textarea", ".inputarea"),
        "cell_output": (".output", "colab-static-output-renderer"),
        # 2.1: Runtime > Run all.
        "runtime_menu_button": ("#runtime-menu-button",),
        "run_all_item": ("#runtime-menu [command=runall]", "div.goog-menuitem[command=runall]"),
        # Mutations under these never change what the daemon watches (output streaming, typing).
        "ignore_mutations": (".output", ".monaco-editor", "colab-static-output-renderer"),
        # The keepalive's mouse never rests over these.
        "keepalive_avoid": (
            "a",
            "button",
            "input",
            "textarea",
            "select",
            "[role=button]",
            "[role=menuitem]",
            "[role=menu]",
            "[contenteditable]",
            "[tabindex]",
            ".monaco-editor",
            ".cell",
            "colab-connect-button",
            "colab-toolbar-button",
            "colab-run-button",
            "mwc-dialog",
            "md-dialog",
            "paper-dialog",
            "[role=dialog]",
            "[role=alertdialog]",
            "colab-recaptcha-dialog",
        ),
        # 5: the Google consent popup.
        "oauth_account": ("[data-identifier]", "#profileIdentifier"),
    },
    texts={
        # 1.2: the connect button's innerText (whitespace collapsed).
        "connecting": (
            r"^(connecting|allocating|initiali[sz]ing|resuming|reconnecting)\b",
            r"^waiting for",
        ),
        "disconnected": (r"^(re)?connect\b",),
        "connected": (r"^$", r"\bRAM\b", r"\bDisk\b", r"^connected\b", r"^busy$"),
        "crash_toast": (r"session crashed",),
        # 5: the consent popup's address (Google's, or the emulator's stand-in).
        "oauth_url": (r"^https://accounts\.google\.com/", r"/o/oauth2/", r"/oauth/consent\b"),
    },
    dialogs={
        # 3.2, texts verbatim where known; several alternatives per dialog across generations.
        Dialog.RUNTIME_DISCONNECTED: (
            r"\bruntime disconnected\b",
            r"runtime has been disconnected",
            r"disconnected due to inactivity",
        ),
        Dialog.EXTERNAL_NOTEBOOK: (r"not authored by Google", r"authored by an unknown user"),
        Dialog.DRIVE_CONSENT: (r"access your Google Drive files", r"Connecting to Google Drive will permit"),
        Dialog.CREDENTIALS: (r"access your Google credentials",),
        Dialog.GPU_LIMIT: (
            r"cannot connect to GPU backend",
            r"connect to a GPU due to usage limits",
            r"not currently eligible for a GPU",
        ),
        Dialog.TOO_MANY_SESSIONS: (r"too many (active )?sessions", r"maximum number of sessions"),
        Dialog.SIGN_IN_REQUIRED: (r"sign-in required", r"must be logged in with a Google account"),
        Dialog.STILL_THERE: (r"are you still (there|here)",),
        Dialog.CAPTCHA: (r"recaptcha", r"not a robot"),
        Dialog.OOM_SWITCH: (r"high-RAM runtime\?",),
    },
    buttons={
        Action.RECONNECT: ("Reconnect",),
        Action.CLOSE: ("Close", "Dismiss", "Cancel", "OK"),
        Action.RUN_ANYWAY: ("Run anyway",),
        Action.CANCEL: ("Cancel",),
        Action.CONNECT: ("Connect to Google Drive", "Connect"),
        Action.ALLOW: ("Allow",),
        Action.NO_THANKS: ("No, thanks", "No thanks"),
        Action.YES: ("Yes",),
        Action.NO: ("No",),
        Action.CONNECT_WITHOUT_GPU: ("Connect without GPU",),
        # 5: the consent popup's buttons, English first, then the localised labels seen.
        "oauth_select_all": ("Select all",),
        "oauth_continue": ("Continue", "Allow", "Continuar", "Permitir", "Zulassen", "Autoriser"),
    },
)

# Checked in this order, so a dialog whose text mentions two topics gets the one that needs a human.
_DIALOG_ORDER: Final = (
    Dialog.CAPTCHA,
    Dialog.SIGN_IN_REQUIRED,
    Dialog.GPU_LIMIT,
    Dialog.TOO_MANY_SESSIONS,
    Dialog.RUNTIME_DISCONNECTED,
    Dialog.EXTERNAL_NOTEBOOK,
    Dialog.DRIVE_CONSENT,
    Dialog.CREDENTIALS,
    Dialog.STILL_THERE,
    Dialog.OOM_SWITCH,
)

# Which of a dialog's two buttons an action is, for the tag-only fallback (slot/dialogaction/#ok).
_PRIMARY: Final = frozenset(
    {
        Action.RECONNECT,
        Action.RUN_ANYWAY,
        Action.CONNECT,
        Action.ALLOW,
        Action.YES,
        Action.CONNECT_WITHOUT_GPU,
    }
)

_KERNEL_STATES: Final[Mapping[str, Connection]] = {
    "connected": Connection.CONNECTED,
    "allocating": Connection.CONNECTING,
    "connecting": Connection.CONNECTING,
    "initializing": Connection.CONNECTING,
    "connect": Connection.DISCONNECTED,
    "disconnected": Connection.DISCONNECTED,
}

# True when the element (or the native button in its shadow root) is disabled.
_IS_DISABLED_JS: Final = """el => {
  const off = (e) => !!e && (e.disabled === true || e.hasAttribute('disabled')
    || e.getAttribute('aria-disabled') === 'true');
  if (off(el)) return true;
  const inner = el.shadowRoot && el.shadowRoot.querySelector('button, [role=button]');
  return off(inner);
}"""


def load_selectors(path: Path | None) -> SelectorSet:
    """Colab's default selectors with the user's TOML file applied (``None``: the defaults).

    Raises:
        ConfigError: the file is unreadable or malformed, or names an unknown table or key.
    """
    return DEFAULT_SELECTORS.with_file(path)


# --------------------------------------------------------------------------------------- classify


def classify(facts: Mapping[str, Any], selectors: SelectorSet = DEFAULT_SELECTORS) -> Observation:
    """Turn the page's raw facts (from ``_colab_page.js`` ``collect()``) into an Observation."""
    connect = facts.get("connect") or {}
    connect_text = normalise(str(connect.get("text") or ""))
    by_text = _connection_from_text(bool(connect.get("found")), connect_text, selectors)
    kernel = facts.get("kernel") if isinstance(facts.get("kernel"), dict) else None
    by_kernel = _connection_from_kernel(kernel)
    if by_kernel is None or by_kernel is by_text:
        connection = by_text
    elif by_text is Connection.UNKNOWN:
        connection = by_kernel
    else:
        # Button and kernel disagree: that happens for a moment during every transition. Waiting is
        # the safe reading (never click Connect on a live runtime, never resume a dead one).
        connection = Connection.CONNECTING
    dialogs, unclassified = _classify_dialogs(facts, selectors)
    cells = facts.get("cells") or {}
    busy = any(_int(cells.get(key)) > 0 for key in ("running", "pending", "dom_busy"))
    managed = kernel.get("managed_id") if kernel else None
    runtime_id = (
        managed if connection is Connection.CONNECTED and isinstance(managed, str) and managed else None
    )
    crash = next(
        (
            normalise(t)
            for t in facts.get("toasts") or ()
            if isinstance(t, str) and selectors.text("crash_toast").search(t)
        ),
        None,
    )
    signed_in: bool | None = None
    if facts.get("sign_in_link"):
        signed_in = False
    elif facts.get("account_link"):
        signed_in = True
    return Observation(
        connection=connection,
        connect_text=connect_text,
        dialogs=dialogs,
        signed_in=signed_in,
        busy=busy,
        runtime_id=runtime_id,
        crash_toast=crash,
        unclassified=unclassified,
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _connection_from_text(found: bool, text: str, selectors: SelectorSet) -> Connection:
    if not found:
        return Connection.UNKNOWN
    # Order matters: "Connecting" also starts with "Connect".
    if selectors.text("connecting").search(text):
        return Connection.CONNECTING
    if selectors.text("disconnected").search(text):
        return Connection.DISCONNECTED
    if selectors.text("connected").search(text):
        return Connection.CONNECTED
    return Connection.UNKNOWN


def _connection_from_kernel(kernel: Mapping[str, Any] | None) -> Connection | None:
    if kernel is None:
        return None
    state = kernel.get("state")
    if isinstance(state, str) and state.lower() in _KERNEL_STATES:
        mapped = _KERNEL_STATES[state.lower()]
        if mapped is Connection.CONNECTED and kernel.get("connected") is False:
            return Connection.CONNECTING
        return mapped
    if kernel.get("connected") is True:
        return Connection.CONNECTED
    return None


def _classify_dialogs(
    facts: Mapping[str, Any], selectors: SelectorSet
) -> tuple[tuple[Dialog, ...], str | None]:
    found: list[Dialog] = []
    unclassified: str | None = None
    if facts.get("captcha") is not None:
        # Anything inside the reCAPTCHA host is a captcha, whatever it says: never clicked.
        found.append(Dialog.CAPTCHA)
    for raw in facts.get("dialogs") or ():
        text = normalise(str(raw.get("text") or "")) if isinstance(raw, dict) else ""
        kind = next((d for d in _DIALOG_ORDER if selectors.dialog(d.value).search(text)), None)
        if kind is None:
            kind = Dialog.UNKNOWN
            unclassified = unclassified or text[:500] or f"<{raw.get('tag', 'dialog')}> without text"
        if kind not in found:
            found.append(kind)
    return tuple(found), unclassified


def _changes(before: Observation | None, after: Observation) -> set[SignalKind]:
    if before is None:
        return {SignalKind.LOADED}
    changed: set[SignalKind] = set()
    if (before.connection, before.connect_text) != (after.connection, after.connect_text):
        changed.add(SignalKind.CONNECTION)
    if (before.dialogs, before.unclassified) != (after.dialogs, after.unclassified):
        changed.add(SignalKind.DIALOG)
    if before.crash_toast != after.crash_toast:
        changed.add(SignalKind.TOAST)
    if before.busy != after.busy:
        changed.add(SignalKind.CELLS)
    if before.signed_in != after.signed_in:
        changed.add(SignalKind.AUTH)
    if before.runtime_id != after.runtime_id:
        changed.add(SignalKind.RUNTIME)
    return changed


# --------------------------------------------------------------------------------------- frontend


class _Reporter:
    """Receives one page's observer reports, classifies them and calls the daemon's handler on changes."""

    def __init__(self, frontend: ColabFrontend, handler: SignalHandler) -> None:
        self._frontend = frontend
        self._handler = handler
        self._doc: str | None = None
        self._seq = 0
        self._last: Observation | None = None

    async def __call__(self, source: object, facts: object) -> None:
        del source  # which frame called: only the top frame runs the observer
        if not isinstance(facts, dict):
            return
        if "error" in facts:
            log.warning("frontend.observer_failed", frontend="colab", error=str(facts["error"])[:300])
            return
        doc, seq = facts.get("doc"), _int(facts.get("seq"))
        fresh = doc != self._doc
        if fresh:
            # A reload or navigation started a new observer: its sequence starts over.
            self._doc, self._seq = str(doc), 0
        elif seq <= self._seq:
            return  # an older report overtaken by a newer one
        self._seq = seq
        self._frontend._warn_bad_selectors(facts)
        observation = classify(facts, self._frontend.selectors)
        changed = _changes(self._last, observation)
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
            "binding": BINDING,
            "fallback_interval_ms": int(fallback_interval * 1000),
        }
        self._bad_selectors_seen: set[str] = set()

    # --- page JS ---

    async def _js(self, page: Page, call: str, arg: object = None) -> Any:
        """Run ``api.<call>`` of ``_colab_page.js`` in the page (``arg`` is bound to ``arg``)."""
        script = f"([cfg, arg]) => ({_PAGE_JS})(cfg).{call}"
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
            await page.add_init_script(script=f"({_PAGE_JS})({json.dumps(self._config)}).startObserver();")
            # The init script only runs for documents loaded from now on; start it in this one too.
            await self._js(page, "startObserver()")
        log.info("frontend.observer_installed", frontend="colab", url=page.url)

    async def observe(self, page: Page) -> Observation:
        """Classify the page now."""
        with map_playwright_errors("observe the Colab page"):
            facts = await self._facts(page)
        return classify(facts, self.selectors)

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
        observation = await self.observe(page)
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
            await page.locator(self.selectors.locator("connect_button")).first.click(
                timeout=self.action_timeout * 1000
            )
        log.info("frontend.connect_clicked", frontend="colab", text=observation.connect_text)

    async def answer(self, page: Page, dialog: Dialog, action: Action) -> None:
        """Press ``action`` in the open ``dialog``, waiting for the button to enable (Run anyway starts disabled)."""
        check_action(dialog, action)
        with map_playwright_errors(f"answer {dialog} with {action}"):
            button = await self._find_dialog_button(page, dialog, action)
            await self._wait_enabled(button, f"{action} in {dialog}")
            await button.click(timeout=self.action_timeout * 1000)
        log.info("frontend.dialog_answered", frontend="colab", dialog=str(dialog), action=str(action))

    def _dialog_locator(self, page: Page, dialog: Dialog) -> Locator:
        pattern = self.selectors.dialog(dialog.value)
        return page.locator(self.selectors.locator("dialog")).filter(has_text=pattern, visible=True)

    async def _find_dialog_button(self, page: Page, dialog: Dialog, action: Action) -> Locator:
        label = self.selectors.button(action.value)
        box = self._dialog_locator(page, dialog)
        fallback = "primary_button" if action in _PRIMARY else "secondary_button"
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
        """Choose the (first) account, tick "Select all" if shown, press Continue/Allow until the popup closes.

        Nothing is clicked until the popup shows itself to be a Google consent page (its address, an
        account tile or the "Select all" box); any other popup is left alone with a FrontendError.
        """
        deadline = time.monotonic() + self.oauth_timeout
        recognise_by = time.monotonic() + self.action_timeout
        steps: list[str] = []
        recognised = False
        while not popup.is_closed():
            now = time.monotonic()
            if now >= deadline:
                raise FrontendError(
                    f"the consent popup was still open after {self.oauth_timeout:g} s (steps: {steps})"
                )
            if not recognised and now >= recognise_by:
                raise FrontendError(f"the popup at {popup.url} is not a Google consent page; left alone")
            try:
                with map_playwright_errors("complete the consent popup"):
                    recognised = recognised or await self._is_consent_page(popup)
                    step = await self._oauth_step(popup) if recognised else None
            except BrowserError:
                if popup.is_closed():
                    break  # it closed itself after the last Continue: done
                raise
            except FrontendError as exc:
                # Google's screens are separate documents: mid-navigation a lookup can fail. Look again.
                log.debug("frontend.oauth_retry", frontend="colab", error=str(exc))
                step = None
            if step is None:
                await asyncio.sleep(0.1)
            else:
                steps.append(step)
        log.info("frontend.oauth_completed", frontend="colab", steps=steps)

    async def _is_consent_page(self, popup: Page) -> bool:
        if self.selectors.text("oauth_url").search(popup.url):
            return True
        markers = popup.locator(self.selectors.locator("oauth_account")).or_(self._select_all(popup))
        return await markers.filter(visible=True).count() > 0

    def _select_all(self, popup: Page) -> Locator:
        return popup.get_by_role("checkbox", name=self.selectors.button("oauth_select_all"))

    async def _oauth_step(self, popup: Page) -> str | None:
        account = popup.locator(self.selectors.locator("oauth_account")).filter(visible=True)
        if await account.count() > 0:
            await account.first.click(timeout=self.action_timeout * 1000)
            await self._settle(account.first)
            return "account"
        select_all = self._select_all(popup).filter(visible=True)
        if await select_all.count() > 0 and not await select_all.first.is_checked():
            await select_all.first.check(timeout=self.action_timeout * 1000)
            return "select_all"
        proceed = popup.get_by_role("button", name=self.selectors.button("oauth_continue")).filter(
            visible=True
        )
        if await proceed.count() > 0 and await proceed.first.is_enabled():
            await proceed.first.click(timeout=self.action_timeout * 1000)
            await self._settle(proceed.first)
            return "continue"
        return None

    async def _settle(self, clicked: Locator) -> None:
        # Give the popup time to move to its next screen, so one screen's button is not pressed twice.
        try:
            await clicked.wait_for(state="hidden", timeout=3000)
        except PlaywrightError as exc:
            if is_closed_error(exc):
                raise
            # Still visible after 3 s: the loop will look at the page again.

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
                await run_button.scroll_into_view_if_needed(timeout=self.action_timeout * 1000)
                await run_button.click(timeout=self.action_timeout * 1000)
                if await self._started(page, cell_id):
                    return
                how = "run button"
            except PlaywrightError as exc:
                if is_closed_error(exc):
                    raise
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
                    await menu.click(timeout=self.action_timeout * 1000)
                    item = page.locator(self.selectors.locator("run_all_item")).filter(visible=True).first
                    await item.click(timeout=self.action_timeout * 1000)
                    if await self._started(page, first):
                        log.info("frontend.run_all", frontend="colab", via="menu")
                        return
                except PlaywrightError as exc:
                    if is_closed_error(exc):
                        raise
                    await page.keyboard.press("Escape")  # close a menu left open
            if await self._js(page, "anyBusy()"):
                return
            await self._js(page, "watchCell(arg)", first)
            if await self._js(page, "runAllModel()") and await self._started(page, first):
                log.info("frontend.run_all", frontend="colab", via="runAll")
                return
            raise FrontendError("Run all did not start the first cell (tried: Runtime menu, runAll())")

    async def cell_output(self, page: Page, cell_id: str) -> str:
        """The text shown in cell ``cell_id``'s output area."""
        with map_playwright_errors(f"read the output of cell {cell_id}"):
            result = await self._js(page, "cellOutput(arg)", cell_id)
        if not isinstance(result, dict) or not result.get("found"):
            raise SelectorNotFoundError(f"no cell with id {cell_id!r}")
        return str(result.get("text") or "")

    async def debug_bundle(self, page: Page, directory: Path) -> Path:
        """Write ``page.png``, ``dom.html`` (shadow roots as declarative shadow DOM), ``facts.json``."""
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
            report = {"url": page.url, "facts": facts, "observation": _jsonable(observation)}
            files["facts.json"] = json.dumps(report, indent=2, default=str).encode()
        except SentinelError as exc:
            problems.append(str(exc))
        if problems:
            files["problems.txt"] = ("\n".join(problems) + "\n").encode()
        bundle = await asyncio.to_thread(_write_bundle, directory, files)
        log.warning("frontend.debug_bundle", frontend="colab", path=str(bundle), problems=len(problems))
        return bundle


def _css_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _jsonable(observation: Observation) -> dict[str, object]:
    return {
        "connection": str(observation.connection),
        "connect_text": observation.connect_text,
        "dialogs": [str(d) for d in observation.dialogs],
        "signed_in": observation.signed_in,
        "busy": observation.busy,
        "runtime_id": observation.runtime_id,
        "crash_toast": observation.crash_toast,
        "unclassified": observation.unclassified,
    }


def _write_bundle(directory: Path, files: Mapping[str, bytes]) -> Path:
    # Bundles can hold account names from the page: keep them private to the user.
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for n in range(1, 10_000):
        bundle = directory / f"debug-{stamp}-{n}"
        try:
            bundle.mkdir(mode=0o700)
        except FileExistsError:
            continue
        for name, data in files.items():
            (bundle / name).write_bytes(data)
        return bundle
    raise FrontendError(f"could not create a debug bundle folder in {directory}")
