"""The one boundary where Playwright's exceptions become sentinel's (see :mod:`sentinel.errors`).

Shaped like httpx's ``map_httpcore_exceptions``: every call into Playwright that can fail runs inside
:func:`map_playwright_errors`, which re-raises the most specific sentinel error ``from`` the original.
No other module imports Playwright's exception classes (ruff's banned-api table enforces it), so
"what does a closed page look like" is answered here once.

==============================================  ==================================================
Playwright says                                 sentinel raises
==============================================  ==================================================
the page, context or browser is gone            ``closed`` (default :class:`BrowserError`)
the profile is held by another browser          :class:`ProfileLockedError`
a wait or locator timed out                     ``timeout`` (default :class:`SelectorNotFoundError`)
anything else (navigation mid-evaluate, a JS    ``error`` (default :class:`FrontendError`)
exception, an unknown channel, ...)
==============================================  ==================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from sentinel.errors import (
    BrowserError,
    FrontendError,
    ProfileLockedError,
    SelectorNotFoundError,
    SentinelError,
)

# Messages Playwright uses when the page, its context or the whole browser is gone. Its
# TargetClosedError is recognised by name as well, since not every version exports it.
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
# Chromium's words for a profile directory another browser process holds.
_PROFILE_LOCKED_MARKERS = ("processsingleton", "profile appears to be in use")


def is_closed_error(exc: BaseException) -> bool:
    """Whether a Playwright error means the page, context or browser is gone (not just a bad selector)."""
    if any(cls.__name__ == "TargetClosedError" for cls in type(exc).__mro__):
        return True
    text = str(exc).lower()
    return any(marker in text for marker in _CLOSED_MARKERS)


def first_line(exc: BaseException) -> str:
    """The first non-blank line of an exception's message (Playwright appends call logs below it)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def translate(
    exc: Exception,
    action: str,
    *,
    error: type[SentinelError] = FrontendError,
    timeout: type[SentinelError] = SelectorNotFoundError,
    closed: type[SentinelError] = BrowserError,
    closed_means: str = "the page or browser closed",
) -> SentinelError:
    """The sentinel error for Playwright's ``exc`` raised while doing ``action`` (message: ``action: why``)."""
    text = str(exc)
    if any(marker in text.lower() for marker in _PROFILE_LOCKED_MARKERS):
        return ProfileLockedError(
            f"{action}: the profile is in use by another browser; close it or choose another with --profile DIR"
        )
    if is_closed_error(exc):
        return closed(f"{action}: {closed_means} ({first_line(exc)})")
    if isinstance(exc, PlaywrightTimeoutError):
        return timeout(f"{action}: {first_line(exc)}")
    return error(f"{action}: {first_line(exc)}")


@contextmanager
def map_playwright_errors(
    action: str,
    *,
    error: type[SentinelError] = FrontendError,
    timeout: type[SentinelError] = SelectorNotFoundError,
    closed: type[SentinelError] = BrowserError,
    closed_means: str = "the page or browser closed",
) -> Iterator[None]:
    """Translate Playwright errors raised inside the block (see the module table), naming ``action``.

    The original exception is chained (``raise ... from exc``). sentinel's own errors pass through.

    Args:
        action: what was being done, in words ("click the connect button"); starts the message.
        error: the class for failures that are neither a closed page nor a timeout.
        timeout: the class for a wait or locator that timed out.
        closed: the class for a page, context or browser that is gone.
        closed_means: what a closed page means here, in words (the message's middle).
    """
    try:
        yield
    except PlaywrightError as exc:
        raise translate(
            exc, action, error=error, timeout=timeout, closed=closed, closed_means=closed_means
        ) from exc


__all__ = ["first_line", "is_closed_error", "map_playwright_errors", "translate"]
