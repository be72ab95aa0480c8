"""What the daemon is doing, over HTTP: a page for people at ``/``, ``/healthz`` for supervisors,
``/status`` (JSON) for tools, ``/metrics`` for Prometheus, and live screenshots of each notebook.

The daemon owns two objects from here: a :class:`Metrics` it calls as things happen (reconnects,
resumes, blocked spans, detection latencies, main-loop heartbeats), and a :class:`StatusServer`
that it starts with a callable returning a :class:`StatusSnapshot` of its sessions (and one that
takes a screenshot of a notebook's window). The server never touches the sessions itself, so it
cannot disturb them.

Insides: ``_metrics`` (Prometheus), ``_snapshot`` (the records), ``_page`` (the HTML page),
``_auth`` (the token rule), ``_screenshots`` (the capture cache), ``_server`` (the routes).
"""

from sentinel.status._auth import check_exposure, is_loopback
from sentinel.status._metrics import DETECTION_BUCKETS, Metrics
from sentinel.status._page import mask_secrets, render_page
from sentinel.status._screenshots import SCREENSHOT_INTERVAL
from sentinel.status._server import StatusServer
from sentinel.status._snapshot import NotebookStatus, StatusSnapshot

__all__ = [
    "DETECTION_BUCKETS",
    "SCREENSHOT_INTERVAL",
    "Metrics",
    "NotebookStatus",
    "StatusServer",
    "StatusSnapshot",
    "check_exposure",
    "is_loopback",
    "mask_secrets",
    "render_page",
]
