"""Notifications: real apprise deliveries to a local JSON sink, and the alert policy on a fake clock."""

from __future__ import annotations

import asyncio
import base64
import enum
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from sentinel.alerts import Alert, AlertKind, AlertPolicy, advice, notebook_name
from sentinel.config import load_settings
from sentinel.errors import ConfigError
from sentinel.notify import Level, Notifier
from sentinel.progress import format_duration
from sentinel.session import BlockedReason, ErrorKind
from tests._sink import Sink, serve_sink

NB = "https://colab.research.google.com/drive/1AbCdEf"
OTHER = "http://127.0.0.1:8765/notebooks/train.ipynb"


@pytest.fixture(name="sink")
async def _sink() -> AsyncIterator[Sink]:
    async with serve_sink() as sink:
        yield sink


def free_port_with_nothing_listening() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestNotifier:
    async def test_delivers_the_message_to_a_json_endpoint(self, sink: Sink) -> None:
        """apprise posts title, body and type to the json:// URL, and the delivery reports success."""
        notifier = Notifier([sink.url()])
        with capture_logs() as logs:
            [delivery] = await notifier.send("sentinel: hello", "the body", level=Level.WARNING)
        assert delivery.ok
        assert delivery.error is None
        assert delivery.scheme == "json"
        assert delivery.url == f"json://127.0.0.1:{sink.port}/hook"
        [payload] = sink.received
        assert payload["title"] == "sentinel: hello"
        assert payload["message"] == "the body"
        assert payload["type"] == "warning"
        assert [(e["event"], e["scheme"]) for e in logs] == [("notify.sent", "json")]

    async def test_never_blocks_the_event_loop(self, sink: Sink) -> None:
        """The sink runs on this same loop: it receives the post while send() is still waiting."""
        sink.hold = asyncio.Event()
        sending = asyncio.create_task(Notifier([sink.url()]).send("t", "b"))
        await asyncio.wait_for(sink.arrived.wait(), timeout=15)
        assert not sending.done()
        sink.hold.set()
        [delivery] = await asyncio.wait_for(sending, timeout=15)
        assert delivery.ok

    async def test_every_url_gets_its_own_result(self, sink: Sink) -> None:
        """One dead endpoint does not hide the others; results keep the configured order."""
        dead = f"json://127.0.0.1:{free_port_with_nothing_listening()}/hook"
        notifier = Notifier([dead, sink.url("a"), sink.url("b")])
        with capture_logs() as logs:
            deliveries = await notifier.send("t", "b", level=Level.FAILURE)
        assert [d.ok for d in deliveries] == [False, True, True]
        assert deliveries[0].error is not None
        assert "127.0.0.1" in deliveries[0].error
        assert len(sink.received) == 2
        failed = [e for e in logs if e["event"] == "notify.failed"]
        assert failed == [
            {
                "event": "notify.failed",
                "log_level": "warning",
                "scheme": "json",
                "severity": "failure",
                "cause": "rejected",
            }
        ]

    async def test_a_refusing_service_is_a_failed_delivery(self, sink: Sink) -> None:
        """An HTTP error from the service is a failure, not an exception."""
        sink.status = 500
        [delivery] = await Notifier([sink.url()]).send("t", "b")
        assert not delivery.ok
        assert delivery.error

    async def test_a_slow_service_is_given_up(self, sink: Sink) -> None:
        """Past the timeout the delivery fails; the daemon is never held up longer."""
        sink.hold = asyncio.Event()
        with capture_logs() as logs:
            [delivery] = await Notifier([sink.url()], timeout=0.5).send("t", "b")
        assert not delivery.ok
        assert delivery.error == "no answer within 0.5 s"
        assert [e.get("cause") for e in logs if e["event"] == "notify.failed"] == ["timeout"]

    async def test_credentials_are_masked_and_never_logged(self, sink: Sink) -> None:
        """A password in the URL reaches the service but not the printable URL or the log."""
        notifier = Notifier([sink.url(userinfo="bob:s3cr3t-t0ken@")])
        with capture_logs() as logs:
            [delivery] = await notifier.send("t", "b")
        assert delivery.ok
        assert "s3cr3t-t0ken" not in delivery.url
        assert notifier.urls == [delivery.url]
        assert "s3cr3t-t0ken" not in repr(logs)
        auth = sink.headers[0]["Authorization"]
        assert base64.b64decode(auth.removeprefix("Basic ")).decode() == "bob:s3cr3t-t0ken"

    async def test_an_empty_notifier_sends_nothing(self) -> None:
        """No URL configured: send() is a no-op and the notifier is falsy."""
        notifier = Notifier.from_settings(load_settings(notify=[]))
        assert not notifier
        assert await notifier.send("t", "b") == []

    async def test_send_alert_uses_the_alert_level(self, sink: Sink) -> None:
        """An Alert's title, body and level go out as they are."""
        alert = Alert(AlertKind.RECOVERED, NB, "title", "body", Level.SUCCESS)
        [delivery] = await Notifier([sink.url()]).send_alert(alert)
        assert delivery.ok
        assert sink.received[0]["type"] == "success"

    @pytest.mark.parametrize(
        ("urls", "message"),
        [
            (
                ["bogus://tok3n@host"],
                "invalid notification URL #1 bogus://...: apprise has no service for scheme 'bogus'",
            ),
            (
                ["json://127.0.0.1/ok", "tgram://"],
                "invalid notification URL #2 tgram://...: apprise cannot parse it",
            ),
            (["just-a-word"], "invalid notification URL #1 (no scheme): expected SCHEME://..."),
        ],
    )
    def test_invalid_urls_are_refused_at_start_up(
        self, urls: list[str], message: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A URL apprise cannot deliver to is one ConfigError line naming it (without its secrets)."""
        with caplog.at_level(logging.DEBUG), pytest.raises(ConfigError) as info:
            Notifier(urls)
        text = str(info.value)
        assert text.startswith(message)
        assert "\n" not in text
        assert "tok3n" not in text
        # apprise itself would log the whole unparsable URL.
        assert "tok3n" not in caplog.text


@dataclass
class FakeClock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


class State(enum.Enum):
    """Stands in for sentinel.session's state enum: the policy reads `.value`."""

    CONNECTED = "connected"
    BLOCKED = "blocked"
    RECONNECTING = "reconnecting"


@pytest.fixture(name="clock")
def _clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(name="policy")
def _policy(clock: FakeClock) -> AlertPolicy:
    return AlertPolicy(after_failures=3, repeat_interval=1800, clock=clock)


def kinds(alerts: list[Alert]) -> list[AlertKind]:
    return [a.kind for a in alerts]


class TestAlertPolicy:
    def test_blocked_alerts_once_then_reminds_then_recovers(
        self, policy: AlertPolicy, clock: FakeClock
    ) -> None:
        """1. Entering blocked alerts at once, with the reason and what to do.
        2. Staying blocked is silent until the repeat interval, then reminds, louder, each interval.
        3. Connected again: one recovery message with the downtime, then silence.
        """
        assert policy.state_changed(NB, "connected") == []
        [alert] = policy.state_changed(NB, "blocked", cause=BlockedReason.CAPTCHA)
        assert alert.kind is AlertKind.BLOCKED
        assert alert.level is Level.WARNING
        assert alert.url == NB
        assert alert.title == "sentinel: 1AbCdEf is blocked"
        assert "Reason: captcha." in alert.body
        assert "solve the reCAPTCHA by hand" in alert.body
        assert NB in alert.body

        assert policy.state_changed(NB, "blocked", cause=BlockedReason.CAPTCHA) == []
        clock.now = 1799
        assert policy.tick() == []
        clock.now = 1800
        [reminder] = policy.tick()
        assert reminder.kind is AlertKind.REMINDER
        assert reminder.level is Level.FAILURE
        assert reminder.title == "sentinel: 1AbCdEf still blocked after 30 min (reminder 1)"
        assert "solve the reCAPTCHA" in reminder.body
        assert policy.tick() == []
        clock.now = 3600
        assert [a.title for a in policy.tick()] == ["sentinel: 1AbCdEf still blocked after 1 h (reminder 2)"]

        clock.now = 3900
        assert policy.state_changed(NB, "reconnecting") == []
        clock.now = 4000
        [recovered] = policy.state_changed(NB, "connected")
        assert recovered.kind is AlertKind.RECOVERED
        assert recovered.level is Level.SUCCESS
        assert recovered.title == "sentinel: 1AbCdEf is back to normal"
        assert "after 1 h 6 min" in recovered.body
        clock.now = 100_000
        assert policy.tick() == []
        assert policy.state_changed(NB, "connected") == []

    def test_no_reminder_once_the_human_is_no_longer_needed(
        self, policy: AlertPolicy, clock: FakeClock
    ) -> None:
        """Left blocked for a reconnect that is still under way: no "still blocked" reminders."""
        policy.state_changed(NB, "blocked", cause=BlockedReason.TOO_MANY_SESSIONS)
        policy.state_changed(NB, "reconnecting")
        clock.now = 10_000
        assert policy.tick() == []

    def test_a_new_reason_is_a_new_alert(self, policy: AlertPolicy) -> None:
        """Blocked by one thing, then another: the human hears about both."""
        first = policy.state_changed(NB, "blocked", cause=BlockedReason.GPU_LIMIT)
        second = policy.state_changed(NB, "blocked", cause=BlockedReason.SIGNED_OUT)
        assert kinds(first) == kinds(second) == [AlertKind.BLOCKED]
        assert "--on-gpu-limit cpu" in first[0].body
        assert "sentinel login" in second[0].body

    def test_error_is_a_failure_with_what_to_do(self, policy: AlertPolicy) -> None:
        """An error alert is loud and says how to fix it (by its kind); an explicit action wins."""
        [alert] = policy.state_changed(
            NB,
            "error",
            reason="resume marker '# sentinel: resume' not found",
            cause=ErrorKind.RESUME_MARKER_MISSING,
        )
        assert alert.kind is AlertKind.ERROR
        assert alert.level is Level.FAILURE
        assert alert.title == "sentinel: 1AbCdEf stopped with an error"
        assert "Add a code cell containing the resume marker" in alert.body
        [custom] = policy.state_changed(OTHER, "error", reason="weird", action="Call Bob.")
        assert custom.body.endswith("What to do: Call Bob.")

    def test_an_unreachable_page_alerts_at_the_threshold_as_not_loading(self, policy: AlertPolicy) -> None:
        """Pages that do not load are transient: silent twice, one warning the third time, then recovery."""
        assert policy.state_changed(NB, "unreachable") == []
        assert policy.unreachable(NB, error="net::ERR_CONNECTION_REFUSED") == []
        assert policy.unreachable(NB, error="net::ERR_CONNECTION_REFUSED") == []
        [alert] = policy.unreachable(NB, error="net::ERR_CONNECTION_REFUSED")
        assert alert.kind is AlertKind.FAILING
        assert alert.level is Level.WARNING
        assert alert.title == "sentinel: 1AbCdEf did not load 3 times"
        assert "ERR_CONNECTION_REFUSED" in alert.body
        assert policy.unreachable(NB, error="again") == []
        assert kinds(policy.state_changed(NB, "connected")) == [AlertKind.RECOVERED]

    def test_an_unrecognised_page_is_one_warning_naming_the_bundle(self, policy: AlertPolicy) -> None:
        [alert] = policy.unclassified(NB, "Something new in Colab", Path("/state/debug/b1"), seconds=30)
        assert alert.kind is AlertKind.UNRECOGNISED
        assert alert.title == "sentinel: 1AbCdEf shows something sentinel does not recognise"
        assert "For 30 s the page has shown: Something new in Colab" in alert.body
        assert "Debug bundle: /state/debug/b1" in alert.body

    def test_consecutive_failures_alert_at_the_threshold(self, policy: AlertPolicy, clock: FakeClock) -> None:
        """1. Two failed reconnects are silent, the third alerts, the fourth is silent again.
        2. While it keeps failing, reminders follow the interval.
        3. A success starts the count over; connected sends the recovery message.
        """
        assert policy.reconnect_failed(NB) == []
        assert policy.reconnect_failed(NB) == []
        [alert] = policy.reconnect_failed(NB, error="timeout after 60 s")
        assert alert.kind is AlertKind.FAILING
        assert alert.title == "sentinel: 1AbCdEf failed to reconnect 3 times"
        assert "Last error: timeout after 60 s." in alert.body
        assert policy.reconnect_failed(NB) == []
        clock.now = 1800
        [reminder] = policy.tick()
        assert reminder.title == "sentinel: 1AbCdEf still failing after 30 min (reminder 1)"
        assert policy.reconnect_succeeded(NB) == []
        assert policy.reconnect_failed(NB) == []
        clock.now = 3600
        assert policy.tick() == [], "the count started over: no longer failing"
        assert kinds(policy.state_changed(NB, "connected")) == [AlertKind.RECOVERED]
        assert policy.reconnect_failed(NB) == []
        assert policy.reconnect_failed(NB) == []
        assert kinds(policy.reconnect_failed(NB)) == [AlertKind.FAILING]

    def test_no_recovery_message_without_an_alert(self, policy: AlertPolicy) -> None:
        """A reconnect that never alerted anybody does not send "back to normal" either."""
        policy.state_changed(NB, "connected")
        policy.state_changed(NB, "disconnected")
        policy.reconnect_failed(NB)
        policy.state_changed(NB, "reconnecting")
        assert policy.state_changed(NB, "connected") == []

    def test_notebooks_are_independent(self, policy: AlertPolicy, clock: FakeClock) -> None:
        """One notebook's incident neither silences nor recovers another."""
        policy.state_changed(NB, "blocked", cause=BlockedReason.CAPTCHA)
        assert kinds(policy.state_changed(OTHER, "blocked", cause=BlockedReason.CAPTCHA)) == [
            AlertKind.BLOCKED
        ]
        assert policy.state_changed(OTHER, "connected")[0].url == OTHER
        clock.now = 1800
        assert [a.url for a in policy.tick()] == [NB]
        policy.forget(NB)
        clock.now = 3600
        assert policy.tick() == []

    def test_reminders_can_be_turned_off(self, clock: FakeClock) -> None:
        """repeat_interval 0: alerts and recoveries only."""
        policy = AlertPolicy(after_failures=1, repeat_interval=0, clock=clock)
        assert kinds(policy.reconnect_failed(NB)) == [AlertKind.FAILING]
        clock.now = 1e9
        assert policy.tick() == []
        assert kinds(policy.state_changed(NB, "connected")) == [AlertKind.RECOVERED]

    def test_accepts_the_session_enum(self, policy: AlertPolicy) -> None:
        """The daemon may pass its state enum; the policy reads the value."""
        assert kinds(policy.state_changed(NB, State.BLOCKED, cause=BlockedReason.CAPTCHA)) == [
            AlertKind.BLOCKED
        ]
        assert kinds(policy.state_changed(NB, State.CONNECTED)) == [AlertKind.RECOVERED]

    def test_built_from_settings(self, clock: FakeClock) -> None:
        """notify_after_failures and notify_repeat_interval come from the Settings."""
        settings = load_settings(notify_after_failures=1, notify_repeat_interval=60.0)
        policy = AlertPolicy.from_settings(settings, clock=clock)
        assert kinds(policy.reconnect_failed(NB)) == [AlertKind.FAILING]
        clock.now = 60
        assert kinds(policy.tick()) == [AlertKind.REMINDER]

    def test_rejects_nonsense(self) -> None:
        """A threshold below 1 or a negative interval is a programming error."""
        with pytest.raises(ValueError, match="after_failures"):
            AlertPolicy(after_failures=0)
        with pytest.raises(ValueError, match="repeat_interval"):
            AlertPolicy(repeat_interval=-1)


@pytest.mark.parametrize(
    ("cause", "needle"),
    [
        (BlockedReason.CAPTCHA, "reCAPTCHA"),
        (BlockedReason.SIGNED_OUT, "sentinel login"),
        (BlockedReason.GPU_LIMIT, "--on-gpu-limit cpu"),
        (BlockedReason.TOO_MANY_SESSIONS, "Manage sessions"),
        (ErrorKind.RESUME_MARKER_MISSING, "resume marker"),
        (ErrorKind.RESUME_NOT_STARTED, "resume cell"),
        (None, "resolve it"),
    ],
)
def test_advice(cause: BlockedReason | ErrorKind | None, needle: str) -> None:
    """Every blocked reason and error kind has its own instruction; no cause gets a generic one."""
    assert needle in advice(cause)


def test_every_cause_has_advice() -> None:
    """No blocked reason or error kind falls back to the generic advice."""
    assert all(advice(cause) != advice(None) for cause in [*BlockedReason, *ErrorKind])


def test_notebook_name_and_duration() -> None:
    """Titles stay short and durations read like a person wrote them."""
    assert notebook_name(NB) == "1AbCdEf"
    assert notebook_name(OTHER + "?authuser=1#cell") == "train.ipynb"
    assert notebook_name("https://example.org/") == "example.org"
    assert len(notebook_name("https://x/" + "a" * 100)) == 39
    assert [format_duration(s) for s in (0, 59.9, 60, 95, 3600, 7260, -3)] == [
        "0 s",
        "59 s",
        "1 min",
        "1 min 35 s",
        "1 h",
        "2 h 1 min",
        "0 s",
    ]
