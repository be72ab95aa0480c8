"""One notebook's page in the shared browser: the :class:`~sentinel.session.Tab` a session uses."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import structlog

from sentinel._playwright import map_playwright_errors
from sentinel.errors import NotebookUnreachableError
from sentinel.frontends import Frontend, Signal, detect_frontend
from sentinel.session import Attached

if TYPE_CHECKING:
    from playwright.async_api import Page

    from sentinel.browser._host import BrowserHost

log = structlog.get_logger(__name__)

# Seconds a notebook page may take to load before it counts as unreachable.
NAVIGATION_TIMEOUT = 30.0


class BrowserTab:
    """One notebook's page in the shared browser: the :class:`~sentinel.session.Tab` the session uses.

    Args:
        url: the notebook.
        host: the shared browser.
        frontends: the candidates for ``--frontend auto`` (or the one named).
        kind: ``auto`` or a frontend name.
        on_lost: called when this page crashes (the session reopens it).
        on_popup: called with every popup the page opens (consent popups).
    """

    def __init__(
        self,
        url: str,
        host: BrowserHost,
        frontends: Sequence[Frontend],
        kind: str,
        *,
        on_lost: Callable[[], None] = lambda: None,
        on_popup: Callable[[Page], None] = lambda _popup: None,
        navigation_timeout: float = NAVIGATION_TIMEOUT,
    ) -> None:
        self.url = url
        self._host = host
        self._frontends = tuple(frontends)
        self._kind = kind
        self.on_lost = on_lost
        self.on_popup = on_popup
        self._navigation_timeout = navigation_timeout
        self._page: Page | None = None
        self._frontend: Frontend | None = None

    @property
    def page(self) -> Page | None:
        """The current page, if open."""
        return self._page

    async def open(self, on_signal: Callable[[Signal], None]) -> Attached:
        """Open a fresh page on the notebook, recognise it and install the observer.

        Raises:
            NotebookUnreachableError: the page did not load or answered an HTTP error.
            FrontendError: no frontend recognises the page.
            BrowserError: the browser is gone.
        """
        page = await self._host.new_page()
        self._page = page
        page.on("crash", self._crashed)
        page.on("popup", self._popup)
        with map_playwright_errors(
            f"{self.url} did not load", error=NotebookUnreachableError, timeout=NotebookUnreachableError
        ):
            response = await page.goto(
                self.url, wait_until="domcontentloaded", timeout=self._navigation_timeout * 1000
            )
        if response is not None and response.status >= 400:
            raise NotebookUnreachableError(f"{self.url} answered HTTP {response.status}")
        frontend = await detect_frontend(page, self._frontends, self._kind)  # type: ignore[arg-type]
        await frontend.install(page, on_signal)
        self._frontend = frontend
        return Attached(page, frontend)

    def _crashed(self, page: Page) -> None:
        if page is self._page:
            log.warning("browser.page_crashed", notebook=self.url)
            self.on_lost()

    def _popup(self, popup: Page) -> None:
        # Whether to complete it is the session's call (sentinel.session.Session.popup_opened).
        self.on_popup(popup)

    async def close(self) -> None:
        """Close the page (bounded; a dead browser is fine)."""
        page, self._page, self._frontend = self._page, None, None
        if page is not None and not page.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(page.close(), 5.0)
