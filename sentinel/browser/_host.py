"""The one browser every notebook's page lives in: launched (or reached over CDP), watched, relaunched."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import structlog

from sentinel._playwright import map_playwright_errors
from sentinel.browser._launch import launch_persistent, resolve_headless
from sentinel.errors import BrowserChoiceError, BrowserError, FrontendError, UsageError

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright

    from sentinel.config import Settings

log = structlog.get_logger(__name__)


class BrowserHost:
    """The one browser all tabs live in; relaunched (or reattached over CDP) after it dies.

    Args:
        settings: ``profile``, ``browser_path``, ``channel``, ``headless``, ``cdp_url``.
        env: the browser's environment (a virtual display's ``DISPLAY``); None inherits ours.
        on_lost: called once each time the browser is seen gone (event or poll).
        on_restart: called after every relaunch.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        on_lost: Callable[[], None] = lambda: None,
        on_restart: Callable[[], None] = lambda: None,
    ) -> None:
        self._settings = settings
        self._env = env
        self._on_lost = on_lost
        self._on_restart = on_restart
        self._pw: Playwright | None = None
        self._context: BrowserContext | None = None
        self._browser: Browser | None = None
        self._alive = False
        self._closing = False
        self._lock = asyncio.Lock()
        self._spare: list[Page] = []
        self._windows = itertools.count(1)
        self.restarts = 0
        self.headless = resolve_headless(settings.headless)

    @property
    def context(self) -> BrowserContext | None:
        """The live browser context, if any."""
        return self._context

    async def start(self) -> None:
        """Start Playwright and the browser.

        Raises:
            ProfileLockedError: another browser holds the profile.
            BrowserChoiceError: the browser the user named could not be started or reached.
            BrowserError: the browser could not be started.
        """
        from playwright.async_api import async_playwright

        self._pw = await async_playwright().start()
        await self._launch()

    async def _launch(self) -> None:
        assert self._pw is not None
        settings = self._settings
        if settings.cdp_url is not None:
            what = f"cannot attach to the browser at {settings.cdp_url} (--cdp-url)"
            with map_playwright_errors(
                what, error=BrowserChoiceError, timeout=BrowserChoiceError, closed=BrowserChoiceError
            ):
                browser = await self._pw.chromium.connect_over_cdp(settings.cdp_url, timeout=15_000)
            context = browser.contexts[0] if browser.contexts else await browser.new_context()
            log.info("browser.attached", cdp_url=settings.cdp_url)
            # A user's own browser: its tabs are not ours to reuse.
            self._spare = []
        else:
            context = await launch_persistent(
                self._pw,
                settings.profile,
                headless=self.headless,
                browser_path=settings.browser_path,
                channel=settings.channel,
                env=self._env,
            )
            browser = context.browser  # type: ignore[assignment]
            self._spare = [page for page in context.pages if page.url in ("about:blank", "")]
        self._context, self._browser, self._alive = context, browser, True
        context.on("close", lambda _: self._gone("context closed"))
        if browser is not None:
            browser.on("disconnected", lambda _: self._gone("browser disconnected"))
        await self._prime_bindings(context)

    async def _prime_bindings(self, context: BrowserContext) -> None:
        """Expose a first binding in the context now, on a throwaway page, before any notebook opens.

        Playwright's first ``expose_binding`` in a context installs its own binding in every page of
        the context, once, and remembers the outcome. If a page closes meanwhile, that failure is
        kept: every later ``expose_binding`` in the context fails with "Target page, context or
        browser has been closed", although the page is open. The daemon closes and reopens pages
        that fail to load while other pages install their observer, so under load it lost every
        notebook of the browser that way (tests/daemon/test_browser_host.py). Done here, nothing
        else is opening or closing pages.

        Raises:
            BrowserError: it failed; the next :meth:`ensure` relaunches the browser.
        """
        try:
            with map_playwright_errors(
                "prime Playwright's binding", error=BrowserError, timeout=BrowserError
            ):
                page = await context.new_page()
                try:
                    await page.expose_binding("__sentinelPrime", lambda _source: None)
                finally:
                    await page.close()
        except BrowserError:
            self._alive = False
            raise

    def _gone(self, why: str) -> None:
        if self._alive and not self._closing:
            log.warning("browser.lost", reason=why)
            self._alive = False
            self._on_lost()
        self._alive = False

    def check(self) -> bool:
        """Poll: is the browser still there? (Events can be missed; a killed process is not always reported.)"""
        if self._alive and self._browser is not None and not self._browser.is_connected():
            self._gone("browser not connected (poll)")
        return self._alive

    async def ensure(self) -> BrowserContext:
        """The live context, relaunching the browser first if it died (one relaunch for all callers).

        Raises:
            BrowserError: shutting down, or the relaunch failed (callers retry with backoff).
        """
        async with self._lock:
            if self._closing:
                raise BrowserError("the daemon is shutting down")
            if self.check() and self._context is not None:
                return self._context
            await self._discard()
            try:
                await self._launch()
            except UsageError as exc:
                # At start-up this is the user's mistake (exit 2); now it is just another failure.
                raise BrowserError(str(exc)) from exc
            self.restarts += 1
            log.warning("browser.relaunched", restarts=self.restarts)
            self._on_restart()
            assert self._context is not None
            return self._context

    async def new_page(self) -> Page:
        """A page for a notebook, in a window of its own (the launch's blank window first).

        One window per notebook, not one tab each: Chromium renders only the front tab of a
        window, so a background tab gets no animation frames, its clicks wait on actionability
        checks for seconds and Colab's own timers are throttled.
        """
        context = await self.ensure()
        while self._spare:
            page = self._spare.pop()
            if not page.is_closed():
                return page
        try:
            with map_playwright_errors("open a window"):
                return await self._new_window(context)
        except BrowserError:
            self._gone("new window failed")
            raise
        except FrontendError as exc:
            log.info("browser.new_window_unavailable", error=str(exc))
        try:
            with map_playwright_errors("open a tab", error=BrowserError, timeout=BrowserError):
                return await context.new_page()
        except BrowserError:
            self._gone("new_page failed")
            raise

    async def _new_window(self, context: BrowserContext) -> Page:
        if self._browser is None:
            return await context.new_page()
        # The fragment tells our page apart from a popup some notebook opens at the same moment.
        marker = f"about:blank#sentinel-{next(self._windows)}"
        cdp = await self._browser.new_browser_cdp_session()
        try:
            async with context.expect_event("page", lambda page: page.url == marker, timeout=10_000) as info:
                await cdp.send("Target.createTarget", {"url": marker, "newWindow": True})
            page: Page = await info.value
            return page
        finally:
            with contextlib.suppress(Exception):
                await cdp.detach()

    async def _discard(self) -> None:
        context, self._context, self._browser = self._context, None, None
        if context is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(context.close(), 5.0)

    async def close(self) -> None:
        """Close the browser (or detach from a CDP browser) and stop Playwright. Never raises."""
        self._closing = True
        self._alive = False
        context, browser = self._context, self._browser
        self._context = self._browser = None
        if self._settings.cdp_url is not None:
            # Leave the user's browser running: detach only (our own tabs are closed by their tabs).
            if browser is not None:
                with contextlib.suppress(Exception):
                    await browser.close()
        elif context is not None:
            with contextlib.suppress(Exception):
                await context.close()
        if self._pw is not None:
            pw, self._pw = self._pw, None
            with contextlib.suppress(Exception):
                await pw.stop()
        log.debug("browser.closed")
