"""Deliver notifications with apprise (:class:`Notifier`); *when* to speak is :mod:`sentinel.alerts`.

The notifier never raises into the daemon and never blocks its event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import structlog

from sentinel.errors import ConfigError

if TYPE_CHECKING:
    import apprise

    from sentinel.alerts import Alert
    from sentinel.config import Settings

log = structlog.get_logger(__name__)

# A notification that takes longer than this is given up (the service plugins time out sooner).
DEFAULT_TIMEOUT: Final = 30.0


class Level(StrEnum):
    """How loud a notification is. The values are apprise's notify types (icons, colours, priorities)."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one notification to one URL.

    Attributes:
        url: the URL with passwords and tokens masked by apprise; safe to print.
        scheme: the URL's scheme (``ntfy``, ``tgram``, ``json``...); safe to log.
        ok: the service accepted the message.
        error: why not, when ``ok`` is False: one line, at most a host name from the URL.
    """

    url: str
    scheme: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Target:
    service: apprise.Apprise
    url: str
    scheme: str


class Notifier:
    """Sends notifications to every configured apprise URL.

    Args:
        urls: apprise URLs (``ntfy://topic``, ``tgram://token/chat``, ``json://host/path``...).
        timeout: seconds after which one delivery is given up.

    Raises:
        ConfigError: when a URL is not one apprise can deliver to; the message names it (masked)
            and its position, so ``sentinel run --notify bogus://x`` fails at start-up.
    """

    def __init__(self, urls: Iterable[str], *, timeout: float = DEFAULT_TIMEOUT) -> None:
        import apprise

        self._timeout = timeout
        self._targets: list[_Target] = []
        for position, url in enumerate(urls, start=1):
            with _apprise_silenced():
                plugin = apprise.Apprise.instantiate(url)
            if plugin is None:
                raise ConfigError(_invalid_url_message(url, position))
            # One Apprise object per URL, so every delivery has its own result.
            service = apprise.Apprise()
            service.add(plugin)
            masked: str = plugin.url(privacy=True)  # type: ignore[no-untyped-call]  # apprise leaves url() untyped
            # The query holds apprise's defaults (method, retry, ...): noise when printed.
            masked = masked.split("?", 1)[0]
            self._targets.append(_Target(service=service, url=masked, scheme=_scheme_of(url)))

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifier:
        """The notifier for ``settings.notify`` (may hold no URL: then :meth:`send` does nothing)."""
        return cls(settings.notify)

    @property
    def urls(self) -> list[str]:
        """The configured URLs, masked: safe to print."""
        return [target.url for target in self._targets]

    def __bool__(self) -> bool:
        return bool(self._targets)

    async def send(self, title: str, body: str, *, level: Level = Level.INFO) -> list[Delivery]:
        """Deliver one message to every URL concurrently; returns one :class:`Delivery` per URL.

        Never raises (cancellation aside) and never blocks the event loop: apprise's async API runs
        the blocking service calls in its own threads. Failures are logged as ``notify.failed``
        with the URL's scheme only, since a URL may carry tokens.
        """
        if not self._targets:
            return []
        return list(
            await asyncio.gather(*(self._deliver(target, title, body, level) for target in self._targets))
        )

    async def send_alert(self, alert: Alert) -> list[Delivery]:
        """Deliver an :class:`Alert` from :class:`AlertPolicy`."""
        return await self.send(alert.title, alert.body, level=alert.level)

    async def _deliver(self, target: _Target, title: str, body: str, level: Level) -> Delivery:
        # `cause` is a fixed word for the log; `error` may quote apprise (a host name) for the user.
        try:
            async with asyncio.timeout(self._timeout):
                result = await target.service.async_notify(body=body, title=title, notify_type=level.value)
            ok = bool(result)
            cause, error = (None, None) if ok else ("rejected", _failure_reason(result))
        except TimeoutError:
            ok, cause, error = False, "timeout", f"no answer within {self._timeout:g} s"
        except Exception as exc:  # A plugin bug must never take the daemon down.
            ok, cause, error = False, "plugin_error", f"{type(exc).__name__} in the {target.scheme} plugin"
        if ok:
            log.info("notify.sent", scheme=target.scheme, severity=str(level))
        else:
            log.warning("notify.failed", scheme=target.scheme, severity=str(level), cause=cause)
        return Delivery(url=target.url, scheme=target.scheme, ok=ok, error=error)


@contextlib.contextmanager
def _apprise_silenced() -> Iterator[None]:
    # apprise logs a URL it cannot parse in full, secrets included; our ConfigError says it safely.
    logger = logging.getLogger("apprise")
    was_disabled, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = was_disabled


def _failure_reason(result: object) -> str:
    # apprise >= 2 returns an AppriseResult whose logs() say why (host names, never tokens);
    # apprise 1.x returns a bare bool.
    logs = getattr(result, "logs", None)
    entries = list(logs()) if callable(logs) else []
    for entry in reversed(entries):
        message = getattr(entry, "message", None)
        if getattr(entry, "level", "") in {"WARNING", "ERROR", "CRITICAL"} and message:
            return str(message)
    return "the service did not accept the message"


def _scheme_of(url: str) -> str:
    return urlsplit(url).scheme.lower() if "://" in url else ""


def _invalid_url_message(url: str, position: int) -> str:
    scheme = _scheme_of(url)
    # Only the scheme is echoed back: the rest of an unparsable URL may still be a token.
    shown = f"{scheme}://..." if scheme else "(no scheme)"
    if not scheme:
        why = "expected SCHEME://..., e.g. ntfy://topic or json://host/path"
    elif scheme not in _known_schemes():
        why = f"apprise has no service for scheme {scheme!r}"
    else:
        why = f"apprise cannot parse it; see its {scheme}:// syntax"
    return f"invalid notification URL #{position} {shown}: {why}"


_schemes: frozenset[str] | None = None


def _known_schemes() -> frozenset[str]:
    global _schemes  # noqa: PLW0603 - computed once: apprise loads every plugin to answer.
    if _schemes is None:
        import apprise

        found: set[str] = set()
        for entry in apprise.Apprise().details()["schemas"]:
            for key in ("protocols", "secure_protocols"):
                value = entry.get(key) or ()
                found.update([value] if isinstance(value, str) else value)
        _schemes = frozenset(s.lower() for s in found)
    return _schemes


__all__ = ["DEFAULT_TIMEOUT", "Delivery", "Level", "Notifier"]
