"""``sentinel run URL [URL ...]``: keep the listed notebooks alive until SIGINT/SIGTERM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sentinel.cli._app import app, settings_from


@app.command()
def run(
    ctx: typer.Context,
    urls: Annotated[
        list[str], typer.Argument(metavar="URL...", help="Notebook URLs (http:// or https://), one tab each.")
    ],
    profile: Annotated[
        Path | None,
        typer.Option(
            help="Browser profile dir (created 0700). \\[default: profiles/default]", show_default=False
        ),
    ] = None,
    browser_path: Annotated[
        Path | None,
        typer.Option(
            help="Chromium/Chrome executable to drive. [env: SENTINEL_BROWSER_PATH]", show_default=False
        ),
    ] = None,
    channel: Annotated[
        str | None,
        typer.Option(help="Playwright channel, e.g. 'chrome' (real Chrome: Google trusts it for sign-in)."),
    ] = None,
    headless: Annotated[
        bool | None,
        typer.Option(
            "--headless/--headed", help="Hide or show the browser. \\[default: headed when a display exists]"
        ),
    ] = None,
    cdp_url: Annotated[
        str | None,
        typer.Option(
            help="Attach to a running browser (e.g. http://127.0.0.1:9222) instead of launching one."
        ),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where resume state and debug bundles go (0700). \\[default: state]", show_default=False
        ),
    ] = None,
    keepalive_interval: Annotated[
        float | None,
        typer.Option(
            help="Mean seconds between keep-alive inputs (±20 %). \\[default: 60]", show_default=False
        ),
    ] = None,
    resume_marker: Annotated[
        str | None,
        typer.Option(
            help="Text that marks the resume cell. \\[default: '# sentinel: resume']", show_default=False
        ),
    ] = None,
    no_resume: Annotated[
        bool, typer.Option("--no-resume", help="Never run a cell; only keep runtimes connected.")
    ] = False,
    run_all: Annotated[
        bool | None,
        typer.Option(
            "--run-all", help="After every fresh runtime, run all cells instead of the resume cell."
        ),
    ] = None,
    on_gpu_limit: Annotated[
        str | None,
        typer.Option(
            metavar="wait|cpu|stop",
            help="GPU usage limit: wait (blocked, retried), cpu (connect without GPU), stop. \\[default: wait]",
            show_default=False,
        ),
    ] = None,
    selectors: Annotated[
        Path | None,
        typer.Option(help="TOML file overriding or adding Colab selectors and texts.", show_default=False),
    ] = None,
    notify: Annotated[
        list[str] | None,
        typer.Option(
            "--notify",
            metavar="URL",
            help="apprise URL (repeatable): ntfy://topic, tgram://..., json://host/path.",
        ),
    ] = None,
    status_addr: Annotated[
        str | None,
        typer.Option(
            help="HOST:PORT of /healthz, /status, /metrics. \\[default: 127.0.0.1:8731]", show_default=False
        ),
    ] = None,
    frontend: Annotated[
        str | None,
        typer.Option(
            metavar="auto|colab",
            help="Which notebook UI; auto recognises Colab by its DOM. \\[default: auto]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Keep Colab notebooks alive: reconnect, answer dialogs, run the resume cell once per fresh runtime."""
    settings = settings_from(
        ctx,
        urls=urls,
        profile=profile,
        browser_path=browser_path,
        channel=channel,
        headless=headless,
        cdp_url=cdp_url,
        state_dir=state_dir,
        keepalive_interval=keepalive_interval,
        resume_marker=resume_marker,
        resume=False if no_resume else None,
        run_all=True if run_all else None,
        on_gpu_limit=on_gpu_limit,
        selectors=selectors,
        notify=notify or None,
        status_addr=status_addr,
        frontend=frontend,
    )
    from sentinel.daemon import Daemon

    # Everything that can be wrong with the input (URLs, selectors file, notification URLs) is
    # checked here, before a browser starts.
    daemon = Daemon(settings)
    raise typer.Exit(daemon.run())
