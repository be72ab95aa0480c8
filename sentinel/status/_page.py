"""The status page at ``/``: one server-rendered HTML document, no framework, nothing from the internet.

Everything the page needs (styles, a few lines of script) is inline, so it works offline and under a
strict Content-Security-Policy (the script carries a per-response nonce). Without JavaScript it
reloads itself (``<meta http-equiv="refresh">`` in ``<noscript>``); with it, it fetches itself every
few seconds, swaps the parts marked ``data-live``, and reloads each notebook's screenshot in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any, Final

from sentinel.progress import format_duration
from sentinel.status._snapshot import NotebookStatus, StatusSnapshot
from sentinel.urls import mask_url

# Seconds between the page's refreshes of itself, and of each screenshot.
PAGE_REFRESH: Final = 5.0
SHOT_REFRESH: Final = 10.0
# Timeline entries shown per notebook (the daemon keeps more).
TIMELINE_SHOWN: Final = 8

# State -> (colour, what it means for a person); unknown states are grey.
STATE_COLOURS: Final[Mapping[str, str]] = {
    "connected": "#1a7f37",
    "finished": "#8250df",
    "starting": "#0969da",
    "connecting": "#0969da",
    "reconnecting": "#0969da",
    "resuming": "#0969da",
    "disconnected": "#9a6700",
    "unreachable": "#9a6700",
    "blocked": "#bc4c00",
    "error": "#cf222e",
    "stopped": "#6e7781",
}
_GREY: Final = "#6e7781"


def mask_secrets(text: str) -> str:
    """``text`` with every ``token=`` query value and URL password replaced by ``***`` (:func:`~sentinel.urls.mask_url`)."""
    return mask_url(text)


class ProgressRates:
    """Estimates each notebook's time to finish from the progress records successive snapshots show.

    The rate is the steps made since a notebook's record was first seen (or since its step went
    backwards: a new run), over the seconds since then.

    Args:
        clock: monotonic seconds; inject a fake in tests.
    """

    __slots__ = ("_clock", "_first")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._first: dict[str, tuple[float, int]] = {}

    def eta(self, url: str, record: Mapping[str, Any] | None) -> float | None:
        """Seconds until ``record``'s ``step`` reaches its ``total``; None while unknown."""
        step_total = _step_total(record)
        if step_total is None:
            return None
        step, total = step_total
        now = self._clock()
        first = self._first.get(url)
        if first is None or step < first[1]:
            self._first[url] = (now, step)
            return None
        done, elapsed = step - first[1], now - first[0]
        if done <= 0 or elapsed <= 0:
            return None
        return max(0.0, (total - step) * elapsed / done)


def _step_total(record: Mapping[str, Any] | None) -> tuple[int, int] | None:
    if not record:
        return None
    step, total = record.get("step"), record.get("total")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (step, total)):
        return None
    assert isinstance(step, int)
    assert isinstance(total, int)
    return (step, total) if total > 0 else None


def render_page(
    snapshot: StatusSnapshot,
    *,
    now: datetime | None = None,
    etas: Mapping[str, float | None] | None = None,
    nonce: str = "",
    screenshots: bool = True,
) -> str:
    """The whole status page for ``snapshot``.

    Args:
        snapshot: what to show.
        now: the time the page is rendered at (for "for 5 min"); default: now.
        etas: seconds to finish, per notebook URL (from :class:`ProgressRates`).
        nonce: the Content-Security-Policy nonce of the inline script.
        screenshots: whether each notebook shows its live screenshot.
    """
    moment = now or datetime.now(UTC)
    states = _summary(snapshot)
    cards = "\n".join(
        _card(i, nb, moment, (etas or {}).get(nb.url), screenshots) for i, nb in enumerate(snapshot.notebooks)
    )
    if not snapshot.notebooks:
        cards = '<p class="empty">No notebooks.</p>'
    return _PAGE.format(
        title=escape(f"sentinel: {states}"),
        refresh=int(PAGE_REFRESH * 2),
        style=_STYLE,
        summary=escape(states),
        started=_time(snapshot.started_at),
        uptime=escape(format_duration((moment - snapshot.started_at).total_seconds())),
        restarts=snapshot.browser_restarts,
        updated=_time(moment),
        cards=cards,
        nonce=escape(nonce),
        script=_SCRIPT.replace("PAGE_MS", str(int(PAGE_REFRESH * 1000))).replace(
            "SHOT_MS", str(int(SHOT_REFRESH * 1000))
        ),
    )


def _summary(snapshot: StatusSnapshot) -> str:
    counts: dict[str, int] = {}
    for nb in snapshot.notebooks:
        counts[nb.state_name] = counts.get(nb.state_name, 0) + 1
    n = len(snapshot.notebooks)
    head = f"{n} notebook" + ("" if n == 1 else "s")
    return head + (": " + ", ".join(f"{c} {s}" for s, c in counts.items()) if counts else "")


def _card(index: int, nb: NotebookStatus, now: datetime, eta: float | None, screenshots: bool) -> str:
    state = nb.state_name
    colour = STATE_COLOURS.get(state, _GREY)
    name = escape(mask_secrets(nb.display_name))
    url = escape(mask_secrets(nb.url))
    lines = [
        f'<h2><span class="name">{name}</span> '
        f'<span class="state" style="background:{colour}" data-state="{escape(state)}">{escape(state)}</span></h2>',
        f'<p class="url"><a href="{url}" rel="noreferrer noopener" target="_blank">{url}</a></p>',
        f'<p class="since">since {_time(nb.since)} '
        f"(for {escape(format_duration((now - nb.since).total_seconds()))})</p>",
    ]
    if nb.finished_at is not None:
        lines.append(f'<p class="finished">Finished at {_time(nb.finished_at)}</p>')
    if nb.blocked_reason:
        lines.append(f'<p class="problem">Blocked: {_text(nb.blocked_reason)}</p>')
    if nb.last_error:
        lines.append(f'<p class="problem">Last error: {_text(nb.last_error)}</p>')
    if nb.diagnosis or nb.action:
        lines.append(
            '<p class="diagnosis">'
            + (f"<b>Diagnosis</b> {_text(nb.diagnosis)}" if nb.diagnosis else "")
            + (" " if nb.diagnosis and nb.action else "")
            + (f"<b>Action</b> {_text(nb.action)}" if nb.action else "")
            + "</p>"
        )
    lines.append(_progress(nb, eta))
    lines.append(
        '<ul class="counts">'
        f"<li><b>{nb.reconnects}</b> reconnects</li>"
        f"<li><b>{nb.resumes}</b> resumes</li>"
        f"<li><b>{nb.crashes}</b> crashes</li></ul>"
    )
    lines.append(_timeline(nb))
    facts = "\n".join(lines)
    shot = ""
    if screenshots:
        src = f"notebooks/{index}/screenshot.png"
        shot = (
            f'<figure class="shot"><img data-shot="{src}" alt="screenshot of {name}">'
            f'<noscript><img src="{src}" alt="screenshot of {name}"></noscript>'
            '<figcaption>live view <span class="none">(no page open)</span></figcaption></figure>'
        )
    return (
        f'<article class="notebook" id="nb-{index}" style="border-left-color:{colour}">'
        f'<div class="facts" id="nb-{index}-facts" data-live>\n{facts}\n</div>{shot}</article>'
    )


def _progress(nb: NotebookStatus, eta: float | None) -> str:
    text = nb.progress
    step_total = _step_total(nb.progress_record)
    if text is None and nb.progress_record:
        text = f"step {nb.progress_record.get('step')}"
    if text is None:
        return '<div class="progress none">No progress reported.</div>'
    bar = ""
    if step_total is not None:
        step, total = step_total
        percent = min(100.0, 100.0 * step / total)
        bar = (
            f'<progress max="{total}" value="{min(step, total)}"></progress>'
            f'<span class="percent">{percent:.0f}%</span>'
        )
    after = f' <span class="eta">ETA {escape(format_duration(eta))}</span>' if eta is not None else ""
    return f'<div class="progress">{bar}<span class="text">{_text(text)}</span>{after}</div>'


def _timeline(nb: NotebookStatus) -> str:
    if not nb.timeline:
        return '<ol class="timeline"><li class="none">Nothing happened yet.</li></ol>'
    items = [
        f'<li>{_time(entry.at, short=True)} <span class="event">{escape(entry.event)}</span> '
        f"{_text(entry.detail)}</li>"
        for entry in list(nb.timeline)[:TIMELINE_SHOWN]
    ]
    return '<ol class="timeline">' + "".join(items) + "</ol>"


def _text(value: str | None) -> str:
    return escape(mask_secrets(value or ""))


def _time(moment: datetime, *, short: bool = False) -> str:
    utc = moment.astimezone(UTC)
    shown = utc.strftime("%H:%M:%S" if short else "%Y-%m-%d %H:%M:%S")
    iso = utc.isoformat().replace("+00:00", "Z")
    extra = " data-short" if short else ""
    return f'<time datetime="{iso}" title="{iso}"{extra}>{shown} UTC</time>'


_STYLE: Final = """
:root { color-scheme: light; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
body { margin: 0; background: #f6f8fa; color: #1f2328; }
header { padding: 12px 20px; background: #24292f; color: #fff; }
header h1 { margin: 0; font-size: 20px; display: inline; }
header p { margin: 4px 0 0; color: #d0d7de; font-size: 13px; }
body.stale header { background: #8c959f; }
body.stale header::after { content: "not updating: the daemon does not answer"; font-size: 13px; }
main { padding: 12px 20px; display: grid; gap: 14px; }
.notebook { display: flex; flex-wrap: wrap; gap: 16px; background: #fff; border: 1px solid #d0d7de;
  border-left: 8px solid; border-radius: 6px; padding: 12px 16px; }
.facts { flex: 1 1 420px; min-width: 0; }
h2 { margin: 0 0 4px; font-size: 18px; display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.state { color: #fff; border-radius: 12px; padding: 1px 10px; font-size: 13px; font-weight: 600;
  text-transform: uppercase; letter-spacing: .04em; }
.url { margin: 0; font-size: 12px; overflow-wrap: anywhere; }
.url a { color: #57606a; }
.since, .finished { margin: 4px 0; color: #57606a; }
.problem { margin: 6px 0; padding: 6px 8px; background: #fff1e5; border-radius: 4px; }
.diagnosis { margin: 6px 0; padding: 6px 8px; background: #ffebe9; border-radius: 4px; }
.diagnosis b { margin-right: 4px; }
.progress { display: flex; align-items: center; gap: 8px; margin: 8px 0; flex-wrap: wrap; }
.progress progress { width: 240px; height: 14px; accent-color: #1a7f37; }
.progress.none, .timeline .none { color: #8c959f; }
.percent { font-weight: 600; }
.counts { list-style: none; display: flex; gap: 18px; padding: 0; margin: 6px 0; }
.timeline { margin: 6px 0 0; padding-left: 0; list-style: none; font-size: 13px; }
.timeline li { padding: 1px 0; border-top: 1px solid #eaeef2; }
.timeline time { color: #57606a; font-variant-numeric: tabular-nums; }
.event { display: inline-block; min-width: 110px; font-weight: 600; }
.shot { margin: 0; flex: 0 1 480px; }
.shot img { width: 100%; border: 1px solid #d0d7de; border-radius: 4px; background: #eaeef2;
  min-height: 60px; display: block; }
.shot figcaption { font-size: 12px; color: #57606a; }
.shot .none { display: none; }
.shot.missing { flex: 0 0 auto; }
.shot.missing img { display: none; }
.shot.missing .none { display: inline; }
.empty { color: #57606a; }
"""

_SCRIPT: Final = """
(() => {
  const local = (root) => {
    for (const t of root.querySelectorAll("time[datetime]")) {
      const d = new Date(t.dateTime);
      t.textContent = t.hasAttribute("data-short") ? d.toLocaleTimeString() : d.toLocaleString();
    }
  };
  const visible = () => document.visibilityState === "visible";
  async function refresh() {
    if (!visible()) return;
    try {
      const r = await fetch(location.pathname + location.search, {cache: "no-store"});
      if (!r.ok) throw new Error(String(r.status));
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const live = document.querySelectorAll("[data-live]");
      if (live.length !== doc.querySelectorAll("[data-live]").length) { location.reload(); return; }
      for (const el of live) {
        const next = doc.getElementById(el.id);
        if (next) el.replaceWith(document.importNode(next, true));
      }
      document.title = doc.title;
      local(document);
      document.body.classList.remove("stale");
    } catch (e) {
      document.body.classList.add("stale");
    }
  }
  function shots() {
    if (!visible()) return;
    for (const img of document.querySelectorAll("img[data-shot]")) {
      const next = new Image();
      const figure = img.closest("figure");
      next.onload = () => { img.src = next.src; figure.classList.remove("missing"); };
      next.onerror = () => figure.classList.add("missing");
      next.src = img.dataset.shot + "?t=" + Date.now();
    }
  }
  local(document);
  shots();
  setInterval(refresh, PAGE_MS);
  setInterval(shots, SHOT_MS);
})();
"""

_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<noscript><meta http-equiv="refresh" content="{refresh}"></noscript>
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header><h1>sentinel</h1>
<p id="summary" data-live><span class="states">{summary}</span> &middot; started {started} (up {uptime})
&middot; browser restarts: {restarts} &middot; updated {updated}</p></header>
<main>
{cards}
</main>
<script nonce="{nonce}">{script}</script>
</body>
</html>
"""


__all__ = ["PAGE_REFRESH", "SHOT_REFRESH", "STATE_COLOURS", "ProgressRates", "mask_secrets", "render_page"]
