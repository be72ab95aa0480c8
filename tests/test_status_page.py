"""The status page at ``/``: what it shows, who may see it (the token rule), the screenshot route, and
the page itself in real Chromium."""

from __future__ import annotations

import asyncio
import re
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import BrowserContext, Page, expect
from structlog.testing import capture_logs

from sentinel.config import Settings, load_settings
from sentinel.errors import ConfigError
from sentinel.status import (
    Metrics,
    NotebookStatus,
    StatusServer,
    StatusSnapshot,
    is_loopback,
    mask_secrets,
    render_page,
)
from sentinel.status._page import ProgressRates
from sentinel.timeline import Timeline, TimelineEntry

STARTED = datetime(2026, 1, 2, 1, 0, tzinfo=UTC)
NOW = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
TOKEN = "s3cret-status-token"
TRAIN = "https://colab.research.google.com/drive/1train"
EVAL = "http://127.0.0.1:8765/notebooks/eval.ipynb?token=jupyter-secret"
SWEEP = "https://colab.research.google.com/drive/1sweep"
DONE = "https://colab.research.google.com/drive/1done"


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def entry(minutes: int, event: str, detail: str) -> TimelineEntry:
    return TimelineEntry(at=STARTED + timedelta(minutes=minutes), event=event, detail=detail)


def notebooks() -> list[NotebookStatus]:
    """Four notebooks in four states: training, blocked, failed, finished."""
    return [
        NotebookStatus(
            url=TRAIN,
            state="connected",
            since=NOW - timedelta(minutes=5),
            reconnects=3,
            resumes=4,
            crashes=1,
            name="train",
            progress="step 1200/5000 loss=0.31",
            progress_record={"step": 1200, "total": 5000, "loss": 0.31},
            timeline=(entry(50, "state", "reconnecting -> connected"), entry(40, "answered", "")),
        ),
        NotebookStatus(
            url=EVAL,
            state="blocked",
            since=NOW - timedelta(hours=1),
            blocked_reason="captcha",
            timeline=(entry(60, "notified", "eval.ipynb is blocked: captcha"),),
        ),
        NotebookStatus(
            url=SWEEP,
            state="error",
            since=NOW - timedelta(minutes=20),
            last_error="the resume cell failed: CUDA out of memory",
            diagnosis="CUDA out of memory",
            action="Lower the batch size or use a smaller model.",
        ),
        NotebookStatus(
            url=DONE,
            state="finished",
            since=NOW - timedelta(hours=2),
            progress="step 800/800",
            progress_record={"step": 800, "total": 800},
            finished_at=NOW - timedelta(hours=2),
        ),
    ]


@dataclass
class Daemon:
    """Plays the daemon's side: the snapshot and the screenshot callbacks, with what they were asked."""

    notebooks: list[NotebookStatus] = field(default_factory=notebooks)
    shots: dict[str, bytes | None] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    delay: float = 0.0
    broken: bool = False

    def snapshot(self) -> StatusSnapshot:
        return StatusSnapshot(notebooks=tuple(self.notebooks), started_at=STARTED, browser_restarts=1)

    async def screenshot(self, url: str) -> bytes | None:
        self.asked.append(url)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.broken:
            raise RuntimeError("the capture broke")
        return self.shots.get(url)


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="daemon")
def _daemon() -> Daemon:
    return Daemon(shots={TRAIN: png()})


@pytest.fixture(name="clock")
def _clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(name="http")
async def _http() -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe: the default jar ignores cookies set by a bare IP address such as 127.0.0.1.
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15), cookie_jar=jar) as session:
        yield session


@pytest.fixture(name="clean_env")
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("SENTINEL_STATUS_ADDR", raising=False)
    monkeypatch.delenv("SENTINEL_STATUS_TOKEN", raising=False)
    yield


def serve(
    daemon: Daemon,
    clock: FakeClock,
    *,
    addr: str = "127.0.0.1:0",
    token: str | None = None,
    shots: bool = True,
) -> StatusServer:
    settings = load_settings(status_addr=addr, status_token=token)
    return StatusServer(
        settings,
        daemon.snapshot,
        Metrics(),
        screenshot=daemon.screenshot if shots else None,
        screenshot_interval=5.0,
        clock=clock,
    )


@pytest.fixture(name="server")
async def _server(clean_env: None, daemon: Daemon, clock: FakeClock) -> AsyncIterator[StatusServer]:
    async with serve(daemon, clock) as server:
        yield server


def local(server: StatusServer) -> str:
    """The server's address through loopback (it may be bound to every interface)."""
    return f"http://127.0.0.1:{server.port}"


class TestTimeline:
    def test_keeps_the_newest_entries_newest_first(self) -> None:
        """A notebook's ring buffer drops its oldest entry once full; recent() is newest first."""
        ticks = iter(range(100))
        timeline = Timeline(3, clock=lambda: STARTED + timedelta(seconds=next(ticks)))
        for n in range(5):
            timeline.record(TRAIN, "state", f"move {n}")
        timeline.record(EVAL, "notified", "other notebook")
        assert [e.detail for e in timeline.recent(TRAIN, 10)] == ["move 4", "move 3", "move 2"]
        assert [e.detail for e in timeline.recent(TRAIN, 2)] == ["move 4", "move 3"]
        assert timeline.recent(TRAIN, 0) == ()
        assert timeline.recent("https://never.example/x", 5) == ()
        assert [e.event for e in timeline.recent(EVAL, 5)] == ["notified"]
        timeline.forget(TRAIN)
        assert timeline.recent(TRAIN, 5) == ()

    def test_detail_is_one_short_line(self) -> None:
        """A multi-line detail keeps its first line; a long one is cut."""
        timeline = Timeline()
        assert timeline.record(TRAIN, "state", "first\nsecond").detail == "first"
        assert len(timeline.record(TRAIN, "state", "x" * 1000).detail) == 300
        assert timeline.record(TRAIN, "crash").detail == ""

    def test_size_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="at least 1"):
            Timeline(0)


class TestRender:
    def test_every_notebook_with_its_state_progress_and_problems(self) -> None:
        """The page names each notebook, colours its state, and shows progress, causes and counters."""
        html = render_page(StatusSnapshot(notebooks=notebooks(), started_at=STARTED), now=NOW)
        assert "<title>sentinel: 4 notebooks: 1 connected, 1 blocked, 1 error, 1 finished</title>" in html
        states = re.findall(r'class="state" style="background:(#[0-9a-f]{6})" data-state="(\w+)"', html)
        assert [s for _, s in states] == ["connected", "blocked", "error", "finished"]
        assert len({colour for colour, _ in states}) == 4
        assert '<span class="name">train</span>' in html
        assert '<span class="name">eval.ipynb</span>' in html  # named after the URL when unnamed
        assert '<progress max="5000" value="1200"></progress><span class="percent">24%</span>' in html
        assert "step 1200/5000 loss=0.31" in html
        assert '<progress max="800" value="800"></progress><span class="percent">100%</span>' in html
        assert "Blocked: captcha" in html
        assert "Last error: the resume cell failed: CUDA out of memory" in html
        assert (
            "<b>Diagnosis</b> CUDA out of memory <b>Action</b> Lower the batch size or use a smaller model."
            in html
        )
        assert "Finished at <time" in html
        assert "<li><b>3</b> reconnects</li><li><b>4</b> resumes</li><li><b>1</b> crashes</li>" in html
        assert "(for 5 min)" in html
        assert "(for 1 h)" in html
        assert "No progress reported." in html
        assert 'data-shot="notebooks/0/screenshot.png"' in html
        assert 'data-shot="notebooks/3/screenshot.png"' in html

    def test_timeline_newest_first_and_bounded(self) -> None:
        """The recent timeline shows at most eight entries, in the order the daemon gave (newest first)."""
        many = tuple(entry(60 - n, "state", f"move {n}") for n in range(12))
        nb = NotebookStatus(url=TRAIN, state="connected", since=NOW, timeline=many)
        html = render_page(StatusSnapshot(notebooks=[nb], started_at=STARTED), now=NOW)
        shown = re.findall(r'<span class="event">state</span> (move \d+)</li>', html)
        assert shown == [f"move {n}" for n in range(8)]
        assert '<time datetime="2026-01-02T02:00:00Z" title="2026-01-02T02:00:00Z" data-short>' in html
        empty = render_page(
            StatusSnapshot(notebooks=[NotebookStatus(url=TRAIN, state="starting", since=NOW)]), now=NOW
        )
        assert "Nothing happened yet." in empty

    def test_secrets_in_urls_are_masked_and_text_is_escaped(self) -> None:
        """A token= in a notebook URL (or an error) never reaches the page; page text is HTML-escaped."""
        nb = NotebookStatus(
            url=EVAL,
            state="error",
            since=NOW,
            name="<script>alert(1)</script>",
            last_error=f"could not open {EVAL}",
            timeline=(entry(1, "notified", "<b>bold</b>"),),
        )
        html = render_page(StatusSnapshot(notebooks=[nb], started_at=STARTED), now=NOW)
        assert "jupyter-secret" not in html
        assert "eval.ipynb?token=***" in html
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&lt;b&gt;bold&lt;/b&gt;" in html

    def test_mask_secrets(self) -> None:
        assert mask_secrets("http://h/x?a=1&token=abc&b=2") == "http://h/x?a=1&token=***&b=2"
        assert mask_secrets("http://h/x?access_token=abc#frag") == "http://h/x?access_token=***#frag"
        assert mask_secrets("http://user:pw@h/x") == "http://user:***@h/x"
        assert mask_secrets("https://colab.research.google.com/drive/1abc") == (
            "https://colab.research.google.com/drive/1abc"
        )

    def test_no_notebooks_and_no_screenshots(self) -> None:
        html = render_page(StatusSnapshot(notebooks=[], started_at=STARTED), now=NOW)
        assert "No notebooks." in html
        html = render_page(
            StatusSnapshot(notebooks=notebooks(), started_at=STARTED), now=NOW, screenshots=False
        )
        assert "screenshot.png" not in html

    def test_nothing_is_loaded_from_elsewhere(self) -> None:
        """Styles and script are inline: no stylesheet, script or image from any other address."""
        html = render_page(StatusSnapshot(notebooks=notebooks(), started_at=STARTED), now=NOW, nonce="abc")
        assert "<link" not in html
        assert not re.search(r'<script[^>]+src=|src="(https?:)?//', html)
        assert '<script nonce="abc">' in html
        assert '<noscript><meta http-equiv="refresh" content="10"></noscript>' in html


class TestEta:
    def test_from_the_steps_made_since_first_seen(self, clock: FakeClock) -> None:
        """200 steps in 100 s: the 3800 to go take 1900 s. A step going back (a new run) starts over."""
        rates = ProgressRates(clock)
        assert rates.eta(TRAIN, {"step": 1000, "total": 5000}) is None
        clock.now += 50
        assert rates.eta(TRAIN, {"step": 1100, "total": 5000}) == pytest.approx(1950.0)
        clock.now += 50
        assert rates.eta(TRAIN, {"step": 1200, "total": 5000}) == pytest.approx(1900.0)
        assert rates.eta(TRAIN, {"step": 10, "total": 5000}) is None
        assert rates.eta(TRAIN, {"step": 10}) is None
        assert rates.eta(TRAIN, None) is None

    def test_the_page_shows_it(self) -> None:
        nb = notebooks()[0]
        html = render_page(StatusSnapshot(notebooks=[nb], started_at=STARTED), now=NOW, etas={TRAIN: 3720.0})
        assert '<span class="eta">ETA 1 h 2 min</span>' in html


class TestPageRoute:
    async def test_serves_html_with_a_strict_policy(
        self, server: StatusServer, http: aiohttp.ClientSession
    ) -> None:
        """GET / is the page; its CSP allows only its own nonce'd script and same-origin images."""
        async with http.get(f"{server.url}/") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
            html = await response.text()
            policy = response.headers["Content-Security-Policy"]
            assert response.headers["Referrer-Policy"] == "no-referrer"
            assert response.headers["Cache-Control"] == "no-store"
        nonce = re.search(r'<script nonce="([^"]+)">', html)
        assert nonce is not None
        assert f"script-src 'nonce-{nonce[1]}'" in policy
        assert "default-src 'none'" in policy
        assert "img-src 'self'" in policy
        assert 'data-state="blocked"' in html

    async def test_a_failing_snapshot_is_a_500(
        self, server: StatusServer, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A daemon bug while describing itself is a 500 and one logged error, not a dead server."""

        def broken() -> StatusSnapshot:
            raise RuntimeError("sessions are being rebuilt")

        monkeypatch.setattr(server, "_snapshot", broken)
        with capture_logs() as logs:
            async with http.get(f"{server.url}/") as response:
                assert response.status == 500
        assert [e["event"] for e in logs] == ["status.snapshot_failed"]


class TestToken:
    def test_loopback_addresses(self) -> None:
        for host in ("127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost", "LOCALHOST"):
            assert is_loopback(host), host
        for host in ("0.0.0.0", "::", "", "192.168.1.10", "example.com", "localhost.example.com"):
            assert not is_loopback(host), host

    def test_setting_comes_from_the_environment_and_stays_secret(
        self, clean_env: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SENTINEL_STATUS_TOKEN", TOKEN)
        settings = load_settings()
        assert settings.status_token is not None
        assert settings.status_token.get_secret_value() == TOKEN
        assert TOKEN not in repr(settings)
        assert Settings.model_fields["status_token"].default is None

    def test_an_empty_token_is_one_line(self, clean_env: None) -> None:
        for bad in ("", "   ", " padded ", "tab\there"):
            with pytest.raises(ConfigError) as info:
                load_settings(status_token=bad)
            message = str(info.value)
            assert message.startswith("invalid setting status_token: "), message
            assert "\n" not in message
            assert "padded" not in message

    async def test_loopback_without_a_token_is_open(
        self, server: StatusServer, http: aiohttp.ClientSession
    ) -> None:
        for path in ("/", "/status", "/metrics", "/notebooks/0/screenshot.png"):
            async with http.get(f"{server.url}{path}") as response:
                assert response.status == 200, path

    async def test_loopback_with_a_token_still_needs_it(
        self, clean_env: None, daemon: Daemon, clock: FakeClock, http: aiohttp.ClientSession
    ) -> None:
        async with serve(daemon, clock, token=TOKEN) as server:
            async with http.get(f"{server.url}/status") as response:
                assert response.status == 401
            async with http.get(
                f"{server.url}/status", headers={"Authorization": f"Bearer {TOKEN}"}
            ) as response:
                assert response.status == 200

    async def test_beyond_loopback_without_a_token_warns_and_closes(
        self, clean_env: None, daemon: Daemon, clock: FakeClock, http: aiohttp.ClientSession
    ) -> None:
        """Bound to every interface with no token: one warning at start; every route but /healthz is 401."""
        with capture_logs() as logs:
            async with serve(daemon, clock, addr="0.0.0.0:0") as server:
                for path in ("/", "/status", "/metrics", "/notebooks/0/screenshot.png", "/nope"):
                    async with http.get(f"{local(server)}{path}") as response:
                        assert response.status == 401, path
                async with http.get(f"{local(server)}/healthz") as response:
                    assert response.status == 503  # open (not 401); no heartbeat yet
        warnings = [e for e in logs if e["log_level"] == "warning"]
        assert [e["event"] for e in warnings] == ["status.token_missing"]
        assert "SENTINEL_STATUS_TOKEN" in warnings[0]["message"]

    async def test_beyond_loopback_with_a_token(
        self, clean_env: None, daemon: Daemon, clock: FakeClock, http: aiohttp.ClientSession
    ) -> None:
        """401 without the token or with a wrong one; 200 with ``Authorization: Bearer``; no warning."""
        with capture_logs() as logs:
            async with serve(daemon, clock, addr="0.0.0.0:0", token=TOKEN) as server:
                base = local(server)
                async with http.get(f"{base}/status") as response:
                    assert response.status == 401
                    assert response.headers["WWW-Authenticate"] == 'Bearer realm="sentinel"'
                    assert TOKEN not in await response.text()
                for wrong in ({"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}):
                    async with http.get(f"{base}/status", headers=wrong) as response:
                        assert response.status == 401, wrong
                async with http.get(f"{base}/?token=nope", allow_redirects=False) as response:
                    assert response.status == 401
                    assert "Set-Cookie" not in response.headers
                bearer = {"Authorization": f"Bearer {TOKEN}"}
                for path in ("/", "/status", "/metrics", "/notebooks/0/screenshot.png"):
                    async with http.get(f"{base}{path}", headers=bearer) as response:
                        assert response.status == 200, path
                assert not http.cookie_jar.filter_cookies(base)  # a header needs no cookie
        assert not [e for e in logs if e["log_level"] == "warning"]
        assert TOKEN not in repr(logs)

    async def test_query_token_sets_a_cookie_for_the_page_and_its_screenshots(
        self, clean_env: None, daemon: Daemon, clock: FakeClock, http: aiohttp.ClientSession
    ) -> None:
        """/?token= redirects to the page without it and sets a cookie that opens every route."""
        with capture_logs() as logs:
            async with serve(daemon, clock, addr="0.0.0.0:0", token=TOKEN) as server:
                base = local(server)
                async with http.get(f"{base}/?token={TOKEN}&view=all", allow_redirects=False) as response:
                    assert response.status == 303
                    assert response.headers["Location"] == "/?view=all"
                    cookie = response.cookies["sentinel_status"]
                    assert cookie["httponly"]
                    assert cookie["samesite"] == "Strict"
                    assert cookie["path"] == "/"
                    assert TOKEN not in cookie.value
                for path in ("/", "/status", "/metrics", "/notebooks/0/screenshot.png"):
                    async with http.get(f"{base}{path}") as response:
                        assert response.status == 200, path
                http.cookie_jar.clear()
                async with http.get(
                    f"{base}/status", headers={"Cookie": "sentinel_status=forged"}
                ) as response:
                    assert response.status == 401
                async with http.get(
                    f"{base}/status", headers={"Cookie": f"sentinel_status={TOKEN}"}
                ) as response:
                    assert response.status == 401  # the cookie is not the token itself
                # Any other route takes ?token= too (scripts, curl), and sets the cookie as well.
                async with http.get(f"{base}/status?token={TOKEN}") as response:
                    assert response.status == 200
                    assert "sentinel_status" in response.cookies
        assert TOKEN not in repr(logs)


class TestScreenshotRoute:
    async def test_one_capture_per_window(
        self, server: StatusServer, daemon: Daemon, clock: FakeClock, http: aiohttp.ClientSession
    ) -> None:
        """Two requests within the window capture once and get the same PNG; after it, a new capture."""
        url = f"{server.url}/notebooks/0/screenshot.png"
        async with http.get(url) as response:
            assert response.status == 200
            assert response.content_type == "image/png"
            assert response.headers["Cache-Control"] == "no-store"
            first = await response.read()
        daemon.shots[TRAIN] = png(rgb=(0, 0, 255))
        clock.now += 4.9
        async with http.get(url) as response:
            assert await response.read() == first
        assert daemon.asked == [TRAIN]
        clock.now += 0.2
        async with http.get(url) as response:
            assert await response.read() == png(rgb=(0, 0, 255))
        assert daemon.asked == [TRAIN, TRAIN]

    async def test_concurrent_requests_share_one_capture(
        self, server: StatusServer, daemon: Daemon, http: aiohttp.ClientSession
    ) -> None:
        daemon.delay = 0.3

        async def fetch() -> bytes:
            async with http.get(f"{server.url}/notebooks/0/screenshot.png") as response:
                assert response.status == 200
                return await response.read()

        bodies = await asyncio.gather(*(fetch() for _ in range(4)))
        assert set(bodies) == {png()}
        assert daemon.asked == [TRAIN]

    async def test_unknown_notebook_is_404(self, server: StatusServer, http: aiohttp.ClientSession) -> None:
        for path in (
            "/notebooks/4/screenshot.png",
            "/notebooks/99999999999999999999/screenshot.png",
            "/notebooks/x/screenshot.png",
            "/notebooks/-1/screenshot.png",
        ):
            async with http.get(f"{server.url}{path}") as response:
                assert response.status == 404, path

    async def test_no_page_open_is_503(
        self, server: StatusServer, daemon: Daemon, http: aiohttp.ClientSession
    ) -> None:
        """A notebook without a page (the callback says None) is 503, and asking again soon asks no one."""
        for _ in range(2):
            async with http.get(f"{server.url}/notebooks/1/screenshot.png") as response:
                assert response.status == 503
                assert "notebook 1 has no page open" in await response.text()
        assert daemon.asked == [EVAL]

    async def test_without_a_screenshot_callback_is_503(
        self, clean_env: None, daemon: Daemon, clock: FakeClock, http: aiohttp.ClientSession
    ) -> None:
        async with serve(daemon, clock, shots=False) as server:
            async with http.get(f"{server.url}/notebooks/0/screenshot.png") as response:
                assert response.status == 503
            async with http.get(f"{server.url}/") as response:
                assert "screenshot.png" not in await response.text()

    async def test_a_failing_capture_is_a_500_and_the_server_lives_on(
        self, server: StatusServer, daemon: Daemon, http: aiohttp.ClientSession
    ) -> None:
        daemon.broken = True
        with capture_logs() as logs:
            async with http.get(f"{server.url}/notebooks/0/screenshot.png") as response:
                assert response.status == 500
        assert [e["event"] for e in logs] == ["status.screenshot_failed"]
        daemon.broken = False
        async with http.get(f"{server.url}/notebooks/0/screenshot.png") as response:
            assert response.status == 200  # a failure is not cached


class TestInChromium:
    async def test_the_page_shows_every_state_live(
        self, clean_env: None, daemon: Daemon, page: Page, context: BrowserContext, tmp_path: Path
    ) -> None:
        """1. A "notebook window" (a second page) is what the screenshot callback captures.
        2. The status page, opened with ?token= in real Chromium, shows each notebook's state and
           progress, and the screenshot of the one with a page open (the cookie carries the token).
        3. A state change in the daemon shows up without a reload; the page itself is screenshotted.
        4. Nothing breaks the Content-Security-Policy.
        """
        window = await context.new_page()
        await window.set_content(
            "<body style='margin:0;background:#fff'><h1 style='color:#f9ab00'>train.ipynb</h1>"
            "<pre>[sentinel] step 1200/5000</pre></body>"
        )
        await window.set_viewport_size({"width": 640, "height": 400})
        daemon.notebooks[1] = NotebookStatus(url=EVAL, state="reconnecting", since=datetime.now(UTC))

        async def capture(url: str) -> bytes | None:
            daemon.asked.append(url)
            return await window.screenshot(type="png") if url == TRAIN else None

        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
        settings = load_settings(status_addr="127.0.0.1:0", status_token=TOKEN)
        async with StatusServer(settings, daemon.snapshot, Metrics(), screenshot=capture) as server:
            await page.goto(f"{server.url}/?token={TOKEN}")
            assert page.url == f"{server.url}/"
            cards = page.locator("article.notebook")
            await expect(cards).to_have_count(4)
            await expect(page.locator(".state")).to_have_text(
                ["connected", "reconnecting", "error", "finished"]
            )
            await expect(cards.nth(0).locator("progress")).to_have_attribute("value", "1200")
            await expect(cards.nth(0).locator(".percent")).to_have_text("24%")
            await expect(cards.nth(2).locator(".diagnosis")).to_contain_text("CUDA out of memory")
            await expect(cards.nth(1).locator(".url")).to_contain_text("token=***")
            shot = cards.nth(0).locator("img[data-shot]")
            await expect(shot).to_have_attribute("src", re.compile(r"screenshot\.png\?t=\d+"))
            assert await shot.evaluate("img => img.complete && img.naturalWidth") == 640
            await expect(cards.nth(1).locator("figure")).to_have_class(re.compile(r"\bmissing\b"))
            await expect(cards.nth(1).locator("figcaption")).to_contain_text("no page open")

            daemon.notebooks[1] = NotebookStatus(
                url=EVAL, state="connected", since=datetime.now(UTC), reconnects=1
            )
            await expect(cards.nth(1).locator(".state")).to_have_text("connected")
            await expect(page).to_have_title("sentinel: 4 notebooks: 2 connected, 1 error, 1 finished")
            await expect(page.locator("body")).not_to_have_class(re.compile("stale"))

            path = tmp_path / "status.png"
            await page.screenshot(path=path, full_page=True)
            assert path.read_bytes().startswith(b"\x89PNG")
        assert problems == []
        assert TRAIN in daemon.asked
