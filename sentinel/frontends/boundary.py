"""The one boundary where Playwright's exceptions become sentinel's (see :mod:`sentinel.errors`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from sentinel.errors import BrowserError, FrontendError, SelectorNotFoundError

# Messages Playwright uses when the page, its context or the whole browser is gone. Its
# TargetClosedError is not exported from playwright.async_api, so it is recognised by name and text.
_CLOSED_MARKERS = (
    "target page, context or browser has been closed",
    "target closed",
    "browser has been closed",
    "browser closed",
    "page closed",
    "page crashed",
    "target crashed",
    "context closed",
    "connection closed",
)


def is_closed_error(exc: BaseException) -> bool:
    """Whether a Playwright error means the page, context or browser is gone (not just a bad selector)."""
    if any(cls.__name__ == "TargetClosedError" for cls in type(exc).__mro__):
        return True
    text = str(exc).lower()
    return any(marker in text for marker in _CLOSED_MARKERS)


@contextmanager
def map_playwright_errors(action: str) -> Iterator[None]:
    """Translate Playwright errors raised inside the block, naming ``action`` in the message.

    * the page, context or browser is gone -> :class:`BrowserError`
    * a locator or wait timed out -> :class:`SelectorNotFoundError`
    * anything else Playwright raises (navigation mid-evaluate, a JS exception) -> :class:`FrontendError`

    The original exception is chained (``raise ... from exc``). sentinel's own errors pass through.
    """
    try:
        yield
    except PlaywrightTimeoutError as exc:
        if is_closed_error(exc):
            raise BrowserError(f"{action}: the page or browser closed ({_first_line(exc)})") from exc
        raise SelectorNotFoundError(f"{action}: {_first_line(exc)}") from exc
    except PlaywrightError as exc:
        if is_closed_error(exc):
            raise BrowserError(f"{action}: the page or browser closed ({_first_line(exc)})") from exc
        raise FrontendError(f"{action}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
