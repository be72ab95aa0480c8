"""``sentinel login``: a visible browser on Colab so the user signs in to Google once, by hand.

Where no screen exists (a server, a container), ``--vnc`` runs the browser on a virtual display and
serves it with noVNC on 127.0.0.1: the user opens the printed URL (through an SSH tunnel from another
machine), signs in there, and closes the window or presses Ctrl+C.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import structlog
import typer

from sentinel.cli._app import app, settings_from
from sentinel.cli._defaults import default_of, env_of
from sentinel.errors import SentinelError, UsageError

if TYPE_CHECKING:
    from sentinel.config import Settings
    from sentinel.display import VncServer

log = structlog.get_logger(__name__)

COLAB_URL = "https://colab.research.google.com/"

NO_DISPLAY = (
    "no display: `sentinel login` opens a browser window for you to sign in to Google; on a machine "
    "without a screen use `sentinel login --vnc` (the window in your web browser, through noVNC), run it "
    "where a display exists (over ssh use X forwarding: ssh -X), or sign in within your own Chrome "
    "started with --remote-debugging-port=9222 and use `sentinel run --cdp-url http://127.0.0.1:9222`"
)


@app.command()
def login(
    ctx: typer.Context,
    profile: Annotated[
        Path | None,
        typer.Option(
            help=f"Browser profile dir to sign in (created 0700). {default_of('profile')}", show_default=False
        ),
    ] = None,
    browser_path: Annotated[
        Path | None,
        typer.Option(help=f"Chromium/Chrome executable. {env_of('browser_path')}", show_default=False),
    ] = None,
    channel: Annotated[
        str | None,
        typer.Option(help="Playwright channel; 'chrome' (real Chrome) is best for Google sign-in."),
    ] = None,
    url: Annotated[str, typer.Option(help="The page to open.")] = COLAB_URL,
    vnc: Annotated[
        bool,
        typer.Option(
            "--vnc",
            help="Run the browser on a virtual display and serve it with noVNC (sign in from a web browser).",
        ),
    ] = False,
    vnc_port: Annotated[
        int | None,
        typer.Option(
            help=f"noVNC's port with --vnc; 0 picks a free one. {default_of('vnc_port')} {env_of('vnc_port')}",
            show_default=False,
        ),
    ] = None,
    xvfb: Annotated[
        str | None,
        typer.Option(
            "--xvfb",
            metavar="auto|always|never",
            help="Virtual display (Xvfb): auto (with --vnc), always, never. " + default_of("xvfb"),
            show_default=False,
        ),
    ] = None,
) -> None:
    """Open Colab in a browser window on the profile; sign in by hand, then close the window.

    sentinel never types, reads or stores your password: the browser profile keeps the session.
    """
    settings = settings_from(
        ctx, profile=profile, browser_path=browser_path, channel=channel, xvfb=xvfb, vnc_port=vnc_port
    )
    from sentinel.browser import check_profile_unlocked, prepare_profile
    from sentinel.config import display_available
    from sentinel.urls import check_url

    # Bad input ends here, in one line, before any display, browser or message starts.
    try:
        check_url(url, ("http", "https"))
    except ValueError as exc:
        raise UsageError(f"--url: {exc}") from None
    # An existing profile that is not ours is refused first; then the display (--vnc with --xvfb
    # never, or no display and no way to make one); only then is a missing profile created.
    if settings.profile.exists():
        prepare_profile(settings.profile)
    virtual = _needs_virtual_display(settings, vnc=vnc, display=display_available())
    prepare_profile(settings.profile)
    check_profile_unlocked(settings.profile)
    with ExitStack() as stack:
        env: Mapping[str, str] | None = None
        if virtual:
            from sentinel.cli._screen import sigterm_unwinds
            from sentinel.config import process_env
            from sentinel.display import VirtualDisplay, VncServer

            stack.enter_context(sigterm_unwinds())
            screen = stack.enter_context(VirtualDisplay(process_env()))
            env = screen.env
            if vnc:
                password = settings.vnc_password.get_secret_value() if settings.vnc_password else None
                server = stack.enter_context(
                    VncServer(screen, host=settings.vnc_host, port=settings.vnc_port, password=password)
                )
                typer.echo(_vnc_instructions(server, url, password_set=password is not None), err=True)
            else:
                typer.echo(
                    f"The browser opens on {url} on the virtual display {screen.name} (no VNC: "
                    "use --vnc to see it). Close it with Ctrl+C.",
                    err=True,
                )
        else:
            typer.echo(
                f"A browser window opens on {url}. Sign in to Google there, then close the window.\n"
                "sentinel never sees or stores your password; the profile keeps the session.",
                err=True,
            )
        asyncio.run(
            sign_in(
                settings.profile, url, browser_path=settings.browser_path, channel=settings.channel, env=env
            )
        )
        if virtual:
            from sentinel.cli._screen import reinstall

            reinstall()  # asyncio.run put SIGTERM's default back; the helpers still need stopping
    typer.echo(f"Profile saved in {settings.profile}. Next: sentinel run --profile {settings.profile} URL")


def _needs_virtual_display(settings: Settings, *, vnc: bool, display: bool) -> bool:
    if vnc:
        if settings.xvfb == "never":
            raise UsageError(
                "--vnc shows sentinel's own virtual display, and --xvfb never forbids one; drop --xvfb never"
            )
        return True
    if settings.xvfb == "always":
        return True
    if not display:
        raise UsageError(NO_DISPLAY)
    return False


def _vnc_instructions(server: VncServer, url: str, *, password_set: bool) -> str:
    port = server.port
    lines = [
        f"Sign in to Google in the browser on {url}, seen through noVNC. Open:",
        "",
        f"    {server.url}",
        "",
        "From another machine, tunnel the port over SSH first, then open the same URL there:",
        "",
        f"    ssh -N -L {port}:127.0.0.1:{port} YOU@THIS-MACHINE",
        "",
        (
            "noVNC asks for the VNC password you set (SENTINEL_VNC_PASSWORD)."
            if password_set
            else "No VNC password is set: anyone who can reach the port sees the browser "
            "(SENTINEL_VNC_PASSWORD sets one)."
        ),
        "When you are signed in, close the browser window (or press Ctrl+C here): the profile is saved",
        "and the virtual display stops.",
        f"(A VNC client can also connect to 127.0.0.1:{server.vnc_port}.)",
    ]
    return "\n".join(lines)


async def sign_in(
    profile: Path,
    url: str,
    *,
    browser_path: Path | None = None,
    channel: str | None = None,
    headless: bool = False,
    env: Mapping[str, str] | None = None,
) -> None:
    """Open ``url`` in a browser on ``profile`` and return once the user closed every window (or on SIGINT/SIGTERM).

    ``headless`` exists for tests only; a person cannot sign in to a window they cannot see. ``env`` is
    the browser's environment (a virtual display's ``DISPLAY``); None inherits ours.

    Raises:
        ProfileLockedError: another browser holds the profile.
        BrowserError: the browser could not be started.
    """
    from playwright.async_api import Page, async_playwright

    from sentinel._playwright import map_playwright_errors
    from sentinel.browser import launch_persistent

    async with async_playwright() as pw:
        context = await launch_persistent(
            pw, profile, headless=headless, browser_path=browser_path, channel=channel, env=env
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
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(sig, done.set)
        try:
            try:
                with map_playwright_errors(f"open {url}"):
                    page = context.pages[0] if context.pages else await context.new_page()
                    await page.goto(url, timeout=60_000)
            except SentinelError as exc:
                # Leave the window open anyway: the user can retry or type an address.
                log.warning("login.page_failed", url=url, error=str(exc))
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
