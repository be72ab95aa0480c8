"""sentinel: keeps Google Colab training runs alive and brings them back when the runtime is lost.

What a user scripts against::

    import sentinel

    settings = sentinel.load_settings(urls=["https://colab.research.google.com/drive/ID"])
    exit_code = sentinel.Daemon(settings).run()      # or: sentinel.run("https://...", headless=True)

The names are loaded on first use (PEP 562), so ``import sentinel.notebook`` inside a Colab kernel
stays standard-library only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from sentinel.config import Settings, load_settings
    from sentinel.daemon import Daemon
    from sentinel.errors import SentinelError, UsageError

__all__ = ["Daemon", "SentinelError", "Settings", "UsageError", "__version__", "load_settings", "run"]

_LAZY = {
    "Daemon": "sentinel.daemon",
    "SentinelError": "sentinel.errors",
    "Settings": "sentinel.config",
    "UsageError": "sentinel.errors",
    "load_settings": "sentinel.config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sentinel' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def run(*urls: str, **settings: Any) -> int:
    """Keep the notebooks at ``urls`` alive until SIGINT/SIGTERM; returns the exit code.

    Args:
        urls: notebook URLs (none: from ``SENTINEL_URLS``).
        settings: any :class:`Settings` field (``headless=True``, ``notify=["ntfy://topic"]``...);
            the environment fills the rest, as for ``sentinel run``.

    Raises:
        UsageError: a setting is invalid (one line naming it), or the browser named cannot start.
    """
    from sentinel.config import load_settings
    from sentinel.daemon import Daemon
    from sentinel.log import configure_logging

    config = load_settings(urls=list(urls) or None, **settings)
    configure_logging(config.log_format, config.log_level)
    return Daemon(config).run()
