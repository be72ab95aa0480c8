"""structlog setup: readable console lines on a TTY, JSON lines otherwise. Event names are dotted and stable."""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

from sentinel.urls import mask_url

LogFormat = Literal["auto", "console", "json"]
LogLevel = Literal["debug", "info", "warning", "error"]

# Keys whose values never reach a log line, whatever a caller passes.
_REDACTED_KEYS = frozenset({"cookie", "cookies", "token", "password", "authorization", "storage_state"})


def _redact(_: object, __: str, event_dict: structlog.typing.EventDict) -> structlog.typing.EventDict:
    for key in event_dict.keys() & _REDACTED_KEYS:
        event_dict[key] = "[redacted]"
    return event_dict


def _mask_urls(_: object, __: str, event_dict: structlog.typing.EventDict) -> structlog.typing.EventDict:
    # A notebook URL may carry its server's token (Jupyter's ?token=): masked in every value, the
    # formatted traceback included (this runs after format_exc_info).
    for key, value in event_dict.items():
        if isinstance(value, str) and "token" in value.lower():
            event_dict[key] = mask_url(value)
    return event_dict


def configure_logging(fmt: LogFormat = "auto", level: LogLevel = "info") -> None:
    """Configure structlog (and the stdlib root logger) to write to stderr.

    Args:
        fmt: ``console`` for people, ``json`` for machines, ``auto`` picks by whether stderr is a TTY.
        level: the lowest level that is written.
    """
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    numeric = logging.getLevelNamesMapping()[level.upper()]
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            _mask_urls,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(
        level=max(numeric, logging.WARNING), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
