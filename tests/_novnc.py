"""Look at a noVNC page the way a person would: open it in headless Chromium and read its screen."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Page

# Counts colours over a grid of pixels of noVNC's canvas, and the share of near-white ones (a page).
_STATS = """() => {
  const canvas = document.querySelector('#noVNC_container canvas');
  if (!canvas || !canvas.width) return null;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const colours = new Set();
  let white = 0, seen = 0;
  for (let i = 0; i < data.length; i += 4 * 37) {
    colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    if (data[i] > 240 && data[i + 1] > 240 && data[i + 2] > 240) white++;
    seen++;
  }
  return {width: canvas.width, height: canvas.height, colours: colours.size, white: white / seen};
}"""


@dataclass(frozen=True)
class Screen:
    width: int
    height: int
    colours: int
    white: float


async def novnc_screen(page: Page, url: str, shot: Path, within: float = 40.0) -> Screen:
    """Open noVNC at ``url`` and wait until its screen shows a browser page (many colours, mostly white).

    A blank Xvfb screen is one colour; Chromium showing a notebook page is hundreds, mostly white.
    Saves a screenshot to ``shot`` either way; fails after ``within`` seconds with what it saw.
    """
    await page.set_viewport_size({"width": 1280, "height": 1024})
    await page.goto(url)
    deadline = time.monotonic() + within
    stats = None
    while time.monotonic() < deadline:
        stats = await page.evaluate(_STATS)
        if stats and stats["colours"] >= 50 and stats["white"] >= 0.3:
            break
        await asyncio.sleep(0.5)
    await page.screenshot(path=str(shot))
    assert stats, f"noVNC at {url} showed no screen within {within} s (screenshot: {shot})"
    screen = Screen(**stats)
    assert screen.colours >= 50 and screen.white >= 0.3, (
        f"noVNC's screen looks blank, not like Chromium on a page: {screen} (screenshot: {shot})"
    )
    return screen
