"""A Jupyter URL's ?token= is a credential: masked wherever a URL is shown (logs, alerts, /status)."""

from __future__ import annotations

from sentinel.alerts import Alert, AlertKind
from sentinel.log import _mask_urls
from sentinel.notify import Level
from sentinel.urls import mask_url

URL = "http://127.0.0.1:8888/lab/tree/x.ipynb?token=s3cr3t&reset"


def test_mask_url_hides_the_token_and_keeps_the_rest() -> None:
    """The token's value is gone; the path and the other parameters stay readable."""
    assert mask_url(URL) == "http://127.0.0.1:8888/lab/tree/x.ipynb?token=***&reset"
    assert (
        mask_url(f"{URL} did not load")
        == "http://127.0.0.1:8888/lab/tree/x.ipynb?token=***&reset did not load"
    )
    assert mask_url("https://user:pw@hub.example/user/a/lab") == "https://user:***@hub.example/user/a/lab"
    assert mask_url("http://h/notebooks/a.ipynb") == "http://h/notebooks/a.ipynb"


def test_log_lines_never_carry_the_token() -> None:
    """Every string value of a log event, a formatted traceback included, is masked."""
    event = _mask_urls(
        None, "info", {"event": "session.step", "notebook": URL, "exception": f"Error: {URL}", "n": 3}
    )
    assert "s3cr3t" not in repr(event)
    assert event["notebook"].endswith("?token=***&reset") and event["n"] == 3


def test_alerts_never_carry_the_token() -> None:
    """A notification's title and body are masked, whatever error text they quote."""
    alert = Alert(AlertKind.FAILING, URL, f"x.ipynb: {URL}", f"{URL} answered HTTP 502", Level.FAILURE)
    assert "s3cr3t" not in alert.title + alert.body
