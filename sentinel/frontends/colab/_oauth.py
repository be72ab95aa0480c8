"""Google's OAuth consent popup, as a person completes it: account tile, "Select all", Continue."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

import structlog

from sentinel._playwright import map_playwright_errors
from sentinel.errors import BrowserError, FrontendError
from sentinel.frontends.selectors import SelectorSet

if TYPE_CHECKING:
    from playwright.async_api import Locator, Page

log = structlog.get_logger(__name__)


class ConsentPopup:
    """Completes one consent popup that a notebook the user listed opened (Drive mount, credentials).

    Args:
        selectors: Colab's selector set (``oauth_*`` keys).
        action_timeout: seconds to recognise the popup, and to find and click each control.
        oauth_timeout: seconds the whole popup may take.
    """

    def __init__(self, selectors: SelectorSet, action_timeout: float, oauth_timeout: float) -> None:
        self.selectors = selectors
        self.action_timeout = action_timeout
        self.oauth_timeout = oauth_timeout

    async def complete(self, popup: Page) -> None:
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
        # Still visible after 3 s (or the lookup failed mid-navigation): the loop looks again.
        with contextlib.suppress(FrontendError), map_playwright_errors("wait for the next consent screen"):
            await clicked.wait_for(state="hidden", timeout=3000)
