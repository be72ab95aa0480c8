"""``sentinel login``: a visible browser on Colab so the user signs in to Google once, by hand."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import structlog
import typer

from sentinel.cli._app import app, settings_from
from sentinel.errors import UsageError

log = structlog.get_logger(__name__)

COLAB_URL = "https://colab.research.google.com/"

NO_DISPLAY = (
    "no display: `sentinel login` opens a browser window for you to sign in to Google; run it where a "
    "display exists (over ssh use X forwarding: ssh -X), or sign in within your own Chrome started with "
    "--remote-debugging-port=9222 and use `sentinel run --cdp-url http://127.0.0.1:9222`"
)


@app.command()
def login(
    ctx: typer.Context,
    profile: Annotated[
        Path | None,
        typer.Option(help="Browser profile dir to sign in (created 0700). \\[default: profiles/default]"),
    ] = None,
    browser_path: Annotated[
        Path | None, typer.Option(help="Chromium/Chrome executable. \\[env: SENTINEL_BROWSER_PATH]")
    ] = None,
    channel: Annotated[
        str | None,
        typer.Option(help="Playwright channel; 'chrome' (real Chrome) is best for Google sign-in."),
    ] = None,
    url: Annotated[str, typer.Option(help="The page to open.")] = COLAB_URL,
) -> None:
    """Open Colab in a browser window on the profile; sign in by hand, then close the window.

    sentinel never types, reads or stores your password: the browser profile keeps the session.
    """
    settings = settings_from(ctx, profile=profile, browser_path=browser_path, channel=channel)
    from sentinel.config import display_available

    if not display_available():
        raise UsageError(NO_DISPLAY)
    typer.echo(
        f"A browser window opens on {url}. Sign in to Google there, then close the window.\n"
        "sentinel never sees or stores your password; the profile keeps the session.",
        err=True,
    )
    asyncio.run(sign_in(settings.profile, url, browser_path=settings.browser_path, channel=settings.channel))
    typer.echo(f"Profile saved in {settings.profile}. Next: sentinel run --profile {settings.profile} URL")


async def sign_in(
    profile: Path,
    url: str,
    *,
    browser_path: Path | None = None,
    channel: str | None = None,
    headless: bool = False,
) -> None:
    """Open ``url`` in a browser on ``profile`` and return once the user closed every window (or on SIGINT/SIGTERM).

    ``headless`` exists for tests only; a person cannot sign in to a window they cannot see.

    Raises:
        ProfileLockedError: another browser holds the profile.
        BrowserError: the browser could not be started.
    """
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import Page, async_playwright

    from sentinel.browser import launch_persistent

    async with async_playwright() as pw:
        context = await launch_persistent(
            pw, profile, headless=headless, browser_path=browser_path, channel=channel
        )
        done = asyncio.Event()
        context.on("close", lambda _: done.set())

        def page_closed(_: Page) -> None:
            # Closing the last window ends the sign-in (Chromium may keep running without windows).
            if not [p for p in context.pages if not p.is_closed()]:
                done.set()

        context.on("page", lambda page: page.on("close", page_closed))
        for page in context.pages:
            page.on("close", page_closed)
        page = context.pages[0] if context.pages else await context.new_page()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(sig, done.set)
        try:
            try:
                await page.goto(url, timeout=60_000)
            except PlaywrightError as exc:
                # Leave the window open anyway: the user can retry or type an address.
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                log.warning("login.page_failed", url=url, error=first)
            log.info("login.waiting", profile=str(profile))
            await done.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                    loop.remove_signal_handler(sig)
            # Closing the context flushes cookies to the profile on disk.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(context.close(), 10.0)
    log.info("login.done", profile=str(profile))
