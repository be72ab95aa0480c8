"""The daemon's one browser (BrowserHost) in real Chromium: pages come and go, bindings keep working."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sentinel.browser import BrowserHost
from sentinel.config import load_settings


async def test_pages_closing_during_the_first_binding_leave_the_context_usable(tmp_path: Path) -> None:
    """Playwright's first expose_binding in a context installs its own binding in every page and
    remembers the outcome: a page closing meanwhile used to make every later binding fail, so one
    notebook page failing to load could cost every notebook its observer.

    On a fresh browser (twice): close five windows while a sixth exposes a binding; nothing fails,
    and a further binding works too.
    """
    for attempt in range(2):
        settings = load_settings(
            urls=["http://127.0.0.1:9/notebooks/x"],
            profile=tmp_path / f"profile{attempt}",
            state_dir=tmp_path / "state",
            headless=True,
        )
        host = BrowserHost(settings)
        await host.start()
        try:
            pages = [await host.new_page() for _ in range(6)]
            results = await asyncio.gather(
                *(page.close() for page in pages[1:]),
                pages[0].expose_binding("first", lambda source: None),
                return_exceptions=True,
            )
            assert [r for r in results if isinstance(r, BaseException)] == []
            await pages[0].expose_binding("second", lambda source: None)
            assert await pages[0].evaluate("() => [typeof first, typeof second]") == ["function", "function"]
        finally:
            await host.close()
