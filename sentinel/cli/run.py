"""``sentinel run [URL ...]``: keep the listed notebooks alive until SIGINT/SIGTERM.

With no URL on the command line the notebooks come from ``SENTINEL_URLS`` or the TOML file (how the
container image runs). ``--headed`` where no display exists runs the browser on a virtual display
(Xvfb, ``--xvfb``), stopped again when the daemon stops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sentinel.cli._app import app, settings_from
from sentinel.cli._defaults import default_of, env_of


@app.command()
def run(
    ctx: typer.Context,
    urls: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="URL",
            help="Notebook URLs (http:// or https://), one window each. None: SENTINEL_URLS or the config file.",
            show_default=False,
        ),
    ] = None,
    profile: Annotated[
        Path | None,
        typer.Option(help=f"Browser profile dir (created 0700). {default_of('profile')}", show_default=False),
    ] = None,
    browser_path: Annotated[
        Path | None,
        typer.Option(
            help=f"Chromium/Chrome executable to drive. {env_of('browser_path')}", show_default=False
        ),
    ] = None,
    channel: Annotated[
        str | None,
        typer.Option(help="Playwright channel, e.g. 'chrome' (real Chrome: Google trusts it for sign-in)."),
    ] = None,
    headless: Annotated[
        bool | None,
        typer.Option(
            "--headless/--headed",
            help="Hide or show the browser; --headed without a display uses a virtual one (see --xvfb). "
            "\\[default: headed when a display exists]",
        ),
    ] = None,
    xvfb: Annotated[
        str | None,
        typer.Option(
            "--xvfb",
            metavar="auto|always|never",
            help="Virtual display (Xvfb) for a headed browser: auto (when no display exists), always, never. "
            + default_of("xvfb"),
            show_default=False,
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
            help=f"Where resume state and debug bundles go (0700). {default_of('state_dir')}",
            show_default=False,
        ),
    ] = None,
    keepalive_interval: Annotated[
        float | None,
        typer.Option(
            help=f"Mean seconds between keep-alive inputs (±20 %). {default_of('keepalive_interval')}",
            show_default=False,
        ),
    ] = None,
    resume_marker: Annotated[
        str | None,
        typer.Option(
            help=f"Text that marks the resume cell. {default_of('resume_marker')}", show_default=False
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
            help="GPU usage limit: wait (blocked, retried), cpu (connect without GPU), stop. "
            + default_of("on_gpu_limit"),
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
            help=f"HOST:PORT of /healthz, /status, /metrics. {default_of('status_addr')}", show_default=False
        ),
    ] = None,
    frontend: Annotated[
        str | None,
        typer.Option(
            metavar="auto|colab",
            help=f"Which notebook UI; auto recognises Colab by its DOM. {default_of('frontend')}",
            show_default=False,
        ),
    ] = None,
    on_finish: Annotated[
        str | None,
        typer.Option(
            metavar="idle|keep|release",
            help="A finished run: idle (stop keep-alive; Colab reclaims the runtime), keep, or release "
            f"(Disconnect and delete runtime). {default_of('on_finish')}",
            show_default=False,
        ),
    ] = None,
    max_resume_retries: Annotated[
        int | None,
        typer.Option(
            help="Retryable failures of the resume cell (Drive lost, a crash) retried per run. "
            + default_of("max_resume_retries"),
            show_default=False,
        ),
    ] = None,
    stall_after: Annotated[
        float | None,
        typer.Option(
            help=f"Seconds without new progress before a running run is reported stalled; 0: off. {default_of('stall_after')}",
            show_default=False,
        ),
    ] = None,
    heartbeat_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Fetched once a minute while every notebook is healthy (healthchecks.io, Uptime Kuma push URL).",
            show_default=False,
        ),
    ] = None,
    active_hours: Annotated[
        list[str] | None,
        typer.Option(
            "--active-hours",
            metavar="WINDOW",
            help="Only then keep alive and reconnect, e.g. 'mon-fri 22:00-07:00' (repeatable). Default: always.",
            show_default=False,
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            help="IANA time zone of --active-hours and --start-at. Default: the machine's.",
            show_default=False,
        ),
    ] = None,
    max_runtime: Annotated[
        float | None,
        typer.Option(
            help="Hours of one run after which keep-alive stops. Default: no limit.", show_default=False
        ),
    ] = None,
    start_at: Annotated[
        str | None,
        typer.Option(
            metavar="TIME",
            help="Do nothing before this time (ISO 8601, e.g. 2026-12-24T22:00).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Keep Colab notebooks alive: reconnect, answer dialogs, run the resume cell once per fresh runtime."""
    settings = settings_from(
        ctx,
        urls=urls or None,
        profile=profile,
        browser_path=browser_path,
        channel=channel,
        headless=headless,
        xvfb=xvfb,
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
        on_finish=on_finish,
        max_resume_retries=max_resume_retries,
        stall_after=stall_after,
        heartbeat_url=heartbeat_url,
        active_hours=active_hours or None,
        timezone=timezone,
        max_runtime=max_runtime,
        start_at=start_at,
    )
    from sentinel.config import display_available, process_env
    from sentinel.daemon import Daemon
    from sentinel.display import wants_virtual_display

    # A browser reached over CDP draws wherever it was started: no display of ours to give it.
    virtual = settings.cdp_url is None and wants_virtual_display(
        settings.xvfb, headless=settings.headless, display_available=display_available()
    )
    if virtual:
        settings = settings.model_copy(update={"headless": False})
    # Everything that can be wrong with the input (URLs, selectors file, notification URLs) is
    # checked here, before a display or a browser starts.
    daemon = Daemon(settings)
    if not virtual:
        raise typer.Exit(daemon.run())

    from sentinel.cli._screen import reinstall, sigterm_unwinds
    from sentinel.display import VirtualDisplay

    with sigterm_unwinds(), VirtualDisplay(process_env()) as screen:
        daemon.browser_env = screen.env
        code = daemon.run()
        reinstall()
    raise typer.Exit(code)
