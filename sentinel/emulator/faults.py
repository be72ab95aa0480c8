"""Fault kinds the emulator can inject, and validation of fault requests into one-line errors."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

from sentinel.errors import SentinelError


class FaultKind(enum.StrEnum):
    """What ``POST /api/notebooks/{name}/faults`` can ask for (see docs/emulator-protocol.md)."""

    IDLE_DISCONNECT = "idle_disconnect"  # kill the runtime now, reason "idle"
    MAX_LIFETIME = "max_lifetime"  # kill the runtime now, reason "max_lifetime"
    CRASH_OOM = "crash_oom"  # kill it as an OOM crash; a fresh runtime starts by itself
    GPU_LIMIT = "gpu_limit"  # the next GPU connect fails with "Cannot connect to GPU backend"
    TOO_MANY_SESSIONS = "too_many_sessions"  # the next connect fails with the sessions dialog
    # The page shows colab-recaptcha-dialog now; like Google's, its anchor is an iframe that loads
    # `iframe_delay` seconds (default 0.3) after the host appears; `"iframe": false` draws the anchor
    # in the host's shadow root at once (the emulator's first reCAPTCHA).
    CAPTCHA = "captcha"
    STILL_THERE = "still_there"  # the page shows "Are you still there?" now
    UNKNOWN_DIALOG = "unknown_dialog"  # the page shows a dialog no Colab release has shown yet
    SIGN_OUT = "sign_out"
    SIGN_IN = "sign_in"
    ALLOCATION_DELAY = "allocation_delay"  # connects from now on take `seconds`
    OUTAGE = "outage"  # page and WebSocket refused for `seconds`; runtimes keep running


# Kinds that need `seconds` (> 0, finite); every other kind takes no field besides `kind`.
_TIMED = frozenset({FaultKind.ALLOCATION_DELAY, FaultKind.OUTAGE})
# One day: anything longer is a typo, and a huge value would overflow the event loop's timers.
_MAX_SECONDS = 86_400.0


class InvalidFaultError(SentinelError):
    """Raised when a fault request is not a known kind with valid fields; the message is one line."""


# The captcha's optional fields: how late its iframe loads, and whether there is one.
_CAPTCHA_FIELDS = frozenset({"iframe_delay", "iframe"})
CAPTCHA_IFRAME_DELAY = 0.3


@dataclass(frozen=True, slots=True)
class Fault:
    """A validated fault request."""

    kind: FaultKind
    seconds: float | None = None
    # captcha only: seconds between the host appearing and its iframe loading; None: no iframe.
    iframe_delay: float | None = None

    def fields(self) -> dict[str, Any]:
        """The request's fields besides ``kind`` (for the ``fault.injected`` event)."""
        if self.kind is FaultKind.CAPTCHA:
            return {"iframe_delay": self.iframe_delay}
        return {} if self.seconds is None else {"seconds": self.seconds}


def parse_fault(data: object) -> Fault:
    """Validate a decoded JSON body into a :class:`Fault`.

    Raises:
        InvalidFaultError: not an object, unknown or missing kind, missing, extra or bad fields.
    """
    if not isinstance(data, dict):
        raise InvalidFaultError(f"expected a JSON object like {{'kind': 'crash_oom'}}, got {_kind_of(data)}")
    raw_kind = data.get("kind")
    if raw_kind is None:
        raise InvalidFaultError("missing field 'kind'")
    if not isinstance(raw_kind, str) or raw_kind not in FaultKind.__members__.values():
        known = ", ".join(kind.value for kind in FaultKind)
        raise InvalidFaultError(f"unknown fault kind {raw_kind!r}; expected one of: {known}")
    kind = FaultKind(raw_kind)
    if kind is FaultKind.CAPTCHA:
        return _parse_captcha(data)
    extra = sorted(set(data) - {"kind", "seconds"} if kind in _TIMED else set(data) - {"kind"})
    if extra:
        allowed = "'seconds'" if kind in _TIMED else "no fields besides 'kind'"
        raise InvalidFaultError(
            f"fault {kind.value!r} takes {allowed}; unexpected {', '.join(map(repr, extra))}"
        )
    if kind not in _TIMED:
        return Fault(kind)
    if "seconds" not in data:
        raise InvalidFaultError(f"fault {kind.value!r} needs 'seconds' (a number > 0)")
    seconds = data["seconds"]
    # bool is an int subclass; `true` is not a duration.
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise InvalidFaultError(f"fault {kind.value!r}: 'seconds' must be a number > 0, got {seconds!r}")
    if not math.isfinite(seconds) or seconds <= 0 or seconds > _MAX_SECONDS:
        raise InvalidFaultError(
            f"fault {kind.value!r}: 'seconds' must be > 0 and at most {_MAX_SECONDS:g}, got {seconds!r}"
        )
    return Fault(kind, float(seconds))


def _parse_captcha(data: dict[str, Any]) -> Fault:
    extra = sorted(set(data) - {"kind"} - _CAPTCHA_FIELDS)
    if extra:
        raise InvalidFaultError(
            f"fault 'captcha' takes 'iframe_delay' and 'iframe'; unexpected {', '.join(map(repr, extra))}"
        )
    iframe = data.get("iframe", True)
    if not isinstance(iframe, bool):
        raise InvalidFaultError(f"fault 'captcha': 'iframe' must be true or false, got {iframe!r}")
    delay = data.get("iframe_delay", CAPTCHA_IFRAME_DELAY)
    if isinstance(delay, bool) or not isinstance(delay, int | float):
        raise InvalidFaultError(f"fault 'captcha': 'iframe_delay' must be a number >= 0, got {delay!r}")
    if not math.isfinite(delay) or delay < 0 or delay > 60:
        raise InvalidFaultError(f"fault 'captcha': 'iframe_delay' must be >= 0 and at most 60, got {delay!r}")
    if not iframe and "iframe_delay" in data:
        raise InvalidFaultError("fault 'captcha': 'iframe_delay' needs an iframe ('iframe': true)")
    return Fault(FaultKind.CAPTCHA, iframe_delay=float(delay) if iframe else None)


def _kind_of(value: object) -> str:
    names = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
