"""``sentinel doctor URL``: open a page the way the daemon does and report what sentinel reads there.

It launches the browser on sentinel's profile (headless unless ``--headed``), recognises the frontend
as the daemon would, waits for the page to settle, then prints what each selector matched, each dialog
pattern, each detection layer's verdict, the raw facts, the classified observation and what the
daemon would do next. It never clicks anything. It writes a debug bundle into the state dir's
``debug/`` (files 0600) and says where.

Exit codes: 0 when the page is understood, 1 when it is not (no frontend recognised it, the
connection is unknown, or a dialog matches no pattern), 2 for bad input.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import structlog
import typer

from sentinel.cli._app import app, settings_from
from sentinel.cli._defaults import default_of, env_of
from sentinel.errors import BrowserError, FrontendError, NotebookUnreachableError, UsageError

if TYPE_CHECKING:
    from playwright.async_api import Page

    from sentinel.config import Settings
    from sentinel.frontends import Frontend, PageProbe
    from sentinel.session import NextAction

log = structlog.get_logger(__name__)

EXIT_NOT_UNDERSTOOD = 1


@dataclass(slots=True)
class DoctorReport:
    """What ``sentinel doctor`` found on one page."""

    url: str
    page_url: str = ""
    candidates: tuple[str, ...] = ()
    frontend: str | None = None
    chosen_by: str = "recognised by its DOM"
    probe: PageProbe | None = None
    next_action: NextAction | None = None
    bundle: Path | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def understood(self) -> bool:
        """A frontend drives it, the connection is known, and every open dialog is a known one."""
        return not self.problems

    def judge(self) -> None:
        """Fill ``problems`` from what was found."""
        from sentinel.frontends import Connection, Dialog

        if self.frontend is None:
            tried = ", ".join(self.candidates) or "none"
            self.problems.append(f"no frontend recognised the page (tried: {tried})")
            return
        if self.probe is None:
            self.problems.append("the page could not be read")
            return
        obs = self.probe.observation
        if obs.connection is Connection.UNKNOWN:
            self.problems.append(f"the connection is unknown (connect button reads {obs.connect_text!r})")
        if Dialog.UNKNOWN in obs.dialogs:
            self.problems.append(f"an unknown dialog is open: {(obs.unclassified or '')[:200]!r}")

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-able values (``--json``)."""
        probe = self.probe
        return {
            "url": self.url,
            "page_url": self.page_url,
            "understood": self.understood,
            "problems": list(self.problems),
            "candidates": list(self.candidates),
            "frontend": self.frontend,
            "chosen_by": self.chosen_by if self.frontend else None,
            "selectors": [
                {
                    "key": s.key,
                    "count": s.count,
                    "visible": s.visible,
                    "text": s.text,
                    "alternatives": [{"selector": sel, "count": n} for sel, n in s.alternatives],
                }
                for s in (probe.selectors if probe else ())
            ],
            "dialogs": [
                {"dialog": str(d.dialog), "patterns": list(d.patterns), "matched": d.matched}
                for d in (probe.dialogs if probe else ())
            ],
            "open_dialogs": list(probe.open_dialogs) if probe else [],
            "layers": [
                {
                    "layer": v.layer,
                    "connection": str(v.connection) if v.connection else None,
                    "evidence": v.evidence,
                }
                for v in (probe.layers if probe else ())
            ],
            "facts": dict(probe.facts) if probe else None,
            "observation": probe.observation.as_dict() if probe else None,
            "next_action": (
                {"kind": self.next_action.kind, "text": self.next_action.text} if self.next_action else None
            ),
            "bundle": str(self.bundle) if self.bundle else None,
        }


@app.command()
def doctor(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Argument(metavar="URL", help="The notebook page to examine.", show_default=False)
    ],
    profile: Annotated[
        Path | None,
        typer.Option(help=f"Browser profile dir (created 0700). {default_of('profile')}", show_default=False),
    ] = None,
    browser_path: Annotated[
        Path | None,
        typer.Option(help=f"Chromium/Chrome executable. {env_of('browser_path')}", show_default=False),
    ] = None,
    channel: Annotated[str | None, typer.Option(help="Playwright channel, e.g. 'chrome'.")] = None,
    headless: Annotated[
        bool | None,
        typer.Option("--headless/--headed", help="Hide or show the browser. \\[default: headless]"),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            help=f"The debug bundle goes into its debug/ folder. {default_of('state_dir')}",
            show_default=False,
        ),
    ] = None,
    selectors: Annotated[
        Path | None,
        typer.Option(help="TOML file overriding or adding Colab selectors and texts.", show_default=False),
    ] = None,
    frontend: Annotated[
        str | None,
        typer.Option(
            metavar="auto|colab",
            help=f"Which notebook UI; auto recognises Colab by its DOM. {default_of('frontend')}",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait at most for the page to settle.", min=0, max=600)
    ] = 30.0,
    settle: Annotated[
        float,
        typer.Option(help="Seconds the page must read the same before it is reported.", min=0, max=60),
    ] = 2.0,
) -> None:
    """Open URL as the daemon would and report what sentinel reads there (never clicks anything).

    Exit 0 when the page is understood, 1 when it is not: no frontend recognised it, the connection is
    unknown, or an unknown dialog is open. A debug bundle is written either way.
    """
    from sentinel.config import display_available, notebook_key

    try:
        notebook_key(url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    settings = settings_from(
        ctx,
        profile=profile,
        browser_path=browser_path,
        channel=channel,
        headless=headless,
        state_dir=state_dir,
        selectors=selectors,
        frontend=frontend,
    )
    hidden = True if settings.headless is None else settings.headless
    if not hidden and not display_available():
        raise UsageError("--headed needs a display and none is available; drop --headed")
    report = asyncio.run(diagnose(settings, url, headless=hidden, wait=wait, settle=settle))
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        from sentinel.cli._doctor_view import print_report

        print_report(report)
    if not report.understood:
        raise typer.Exit(EXIT_NOT_UNDERSTOOD)


async def diagnose(
    settings: Settings, url: str, *, headless: bool, wait: float, settle: float
) -> DoctorReport:
    """Open ``url`` on the profile, read it, write a bundle; the browser is closed before returning.

    Raises:
        ProfileLockedError: another browser (a running daemon?) holds the profile.
        NotebookUnreachableError: the page did not load.
        BrowserError: the browser could not be started or went away.
    """
    from playwright.async_api import async_playwright

    from sentinel._playwright import map_playwright_errors
    from sentinel.browser import NAVIGATION_TIMEOUT, launch_persistent
    from sentinel.frontends import detect_frontend, make_frontends
    from sentinel.session import next_action

    frontends = make_frontends(settings.frontend, settings.selectors)
    report = DoctorReport(url=url, candidates=tuple(f.name for f in frontends))
    async with async_playwright() as pw:
        context = await launch_persistent(
            pw,
            settings.profile,
            headless=headless,
            browser_path=settings.browser_path,
            channel=settings.channel,
        )
        try:
            with map_playwright_errors("open a page"):
                page = context.pages[0] if context.pages else await context.new_page()
            with map_playwright_errors(
                f"{url} did not load", error=NotebookUnreachableError, timeout=NotebookUnreachableError
            ):
                response = await page.goto(
                    url, wait_until="domcontentloaded", timeout=NAVIGATION_TIMEOUT * 1000
                )
            if response is not None and response.status >= 400:
                raise NotebookUnreachableError(f"{url} answered HTTP {response.status}")
            chosen: Frontend | None
            try:
                chosen = await detect_frontend(page, frontends, settings.frontend)
            except FrontendError:
                chosen = None
            if chosen is not None:
                report.frontend = chosen.name
                if settings.frontend != "auto":
                    report.chosen_by = f"chosen by --frontend {settings.frontend}"
                report.probe = await _settled_probe(chosen, page, wait=wait, settle=settle)
                if report.probe is not None:
                    report.next_action = next_action(report.probe.observation, settings.on_gpu_limit)
            report.page_url = page.url
            report.judge()
            # Without a recognised frontend, the first candidate's bundle still shows the page as it is.
            report.bundle = await _bundle(chosen or frontends[0], page, settings.state_dir)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(context.close(), 10.0)
    log.info("doctor.done", url=url, understood=report.understood, bundle=str(report.bundle))
    return report


async def _settled_probe(frontend: Frontend, page: Page, *, wait: float, settle: float) -> PageProbe | None:
    """Probe until the observation has held still for ``settle`` s (and is not mid-connect), or ``wait`` passed."""
    from sentinel.frontends import Connection

    deadline = time.monotonic() + wait
    last: PageProbe | None = None
    since = time.monotonic()
    while True:
        try:
            probe = await frontend.probe(page)
        except BrowserError:
            raise
        except FrontendError as exc:
            # Mid-navigation (the page's context went away): read it again.
            log.debug("doctor.probe_failed", error=str(exc))
        else:
            if last is None or probe.observation != last.observation:
                since = time.monotonic()
            last = probe
            steady = time.monotonic() - since >= settle
            if steady and probe.observation.connection not in (Connection.UNKNOWN, Connection.CONNECTING):
                return probe
        if time.monotonic() >= deadline:
            return last
        await asyncio.sleep(0.25)


async def _bundle(frontend: Frontend, page: Page, state_dir: Path) -> Path | None:
    try:
        # Created private when missing; an existing folder is the user's and keeps its mode.
        await asyncio.to_thread(_make_private_dir, state_dir)
        return await frontend.debug_bundle(page, state_dir / "debug")
    except (FrontendError, OSError) as exc:
        log.warning("doctor.bundle_failed", error=str(exc))
        return None


def _make_private_dir(directory: Path) -> None:
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
