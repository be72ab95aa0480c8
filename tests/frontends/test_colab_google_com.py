"""Pages on colab.google.com are Colab too: accepted, recognised by their DOM, named well in notifications.

The emulator is served under the host name ``colab.google.com`` (Chromium's host resolver maps it to
127.0.0.1; nothing leaves the machine), so ``--frontend auto`` sees exactly what it would see there.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import BrowserType

from sentinel.alerts import notebook_name
from sentinel.config import load_settings
from sentinel.emulator.testing import EmulatorServer
from sentinel.frontends import detect_frontend, make_frontends
from sentinel.frontends.base import Connection
from sentinel.urls import notebook_key


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://colab.google.com/drive/1AbCdEf", "1AbCdEf"),
        ("https://colab.google.com/drive/1AbCdEf#scrollTo=xyz", "1AbCdEf"),
        ("https://colab.google.com/github/me/repo/blob/main/train.ipynb?authuser=1", "train.ipynb"),
        ("https://colab.google.com/notebook#fileId=1XyZ&scrollTo=a", "1XyZ"),
        ("https://colab.research.google.com/notebook#fileId=1XyZ", "1XyZ"),
        ("https://colab.google.com/", "colab.google.com"),
        ("https://colab.google.com/notebooks/intro.ipynb", "intro.ipynb"),
    ],
)
def test_notebook_names_on_either_host(url: str, name: str) -> None:
    """Notifications name the notebook (file name or Drive id), never 'notebook' or the host's path."""
    assert notebook_name(url) == name


def test_colab_google_com_urls_are_accepted(tmp_path: Any) -> None:
    """The same notebook on the two hosts is two URLs (sentinel never rewrites a host), both accepted."""
    urls = ["https://colab.google.com/drive/1AbCdEf", "https://colab.research.google.com/drive/1AbCdEf"]
    settings = load_settings(urls=urls, profile=tmp_path / "profile", state_dir=tmp_path / "state")
    assert [str(u) for u in settings.urls] == urls
    assert notebook_key("HTTPS://Colab.Google.com:443/drive/1AbCdEf/#scrollTo=x") == urls[0]


async def test_frontend_auto_recognises_colab_on_colab_google_com(
    browser_type: BrowserType, browser_type_launch_args: dict[str, Any], fresh_emulator: EmulatorServer
) -> None:
    """1. The emulator's page at http://colab.google.com:PORT/... 2. ``--frontend auto``: Colab, by its DOM.
    3. It observes there as anywhere (a fresh emulator: no runtime another test left connected)."""
    port = urlsplit(fresh_emulator.base_url).port
    args = [*browser_type_launch_args.get("args", ()), "--host-resolver-rules=MAP colab.google.com 127.0.0.1"]
    browser = await browser_type.launch(**{**browser_type_launch_args, "args": args})
    try:
        page = await browser.new_page()
        await page.goto(f"http://colab.google.com:{port}/notebooks/hello?ui=2025")
        assert urlsplit(page.url).hostname == "colab.google.com"
        frontend = await detect_frontend(page, make_frontends("auto"))
        assert frontend.name == "colab"
        assert (await frontend.observe(page)).connection is Connection.DISCONNECTED
    finally:
        await browser.close()
