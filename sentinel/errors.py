"""Exceptions factored out to avoid import loops.

The tree::

    SentinelError
    ├── UsageError            bad input from the user; the CLI prints one line and exits 2
    │   ├── ConfigError       a setting is invalid (flag, env var, TOML file)
    │   ├── ProfileLockedError  another browser holds the profile directory
    │   ├── BrowserChoiceError  the browser the user named does not start (or cannot be reached)
    │   └── StateDirLockedError another sentinel holds the state directory
    ├── BrowserError          the browser closed, crashed or could not start
    ├── FrontendError         the page did not look like the frontend we expected
    │   ├── SelectorNotFoundError
    │   └── ResumeMarkerNotFoundError
    └── SessionError
        ├── IllegalTransitionError
        └── NotebookUnreachableError  a notebook URL did not load (refused, DNS, HTTP error)
"""

from __future__ import annotations


class SentinelError(Exception):
    """Base class of every error sentinel raises on purpose."""


class UsageError(SentinelError):
    """Raised when the user gave input sentinel cannot use; the message is shown as one line."""


class ConfigError(UsageError):
    """Raised when a setting from a flag, an environment variable or the TOML file is invalid."""


class ProfileLockedError(UsageError):
    """Raised when another browser process holds the profile directory."""


class StateDirLockedError(UsageError):
    """Raised when another sentinel process holds the state directory's lock."""


class BrowserChoiceError(UsageError):
    """Raised when the browser the user named (``--browser-path``, ``--channel``, ``--cdp-url``) does not start or answer."""


class BrowserError(SentinelError):
    """Raised when the browser closed, crashed or could not be started."""


class FrontendError(SentinelError):
    """Raised when a notebook page does not behave like the frontend we drive."""


class SelectorNotFoundError(FrontendError):
    """Raised when none of a selector's alternatives matched in time."""


class ResumeMarkerNotFoundError(FrontendError):
    """Raised when no code cell of the notebook contains the resume marker; the message names it."""


class SessionError(SentinelError):
    """Raised when a notebook session cannot go on."""


class IllegalTransitionError(SessionError):
    """Raised when the state machine is asked for a move its transition table forbids."""


class NotebookUnreachableError(SessionError):
    """Raised when a notebook URL does not load (connection refused, DNS failure, HTTP error status)."""
