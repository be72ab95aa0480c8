"""Help text that shows a setting's default as the one Settings model defines it (never a hand-copied one)."""

from __future__ import annotations

from pathlib import Path

from sentinel.config import Settings


def default_of(name: str) -> str:
    """``Settings.<name>``'s default as a help suffix, e.g. ``\\[default: 60]`` (escaped for Typer's markup)."""
    value = Settings.model_fields[name].default
    if isinstance(value, float) and value.is_integer():
        shown = str(int(value))
    elif isinstance(value, Path):
        shown = str(value)
    elif isinstance(value, str) and (not value or " " in value or "#" in value):
        shown = repr(value)
    else:
        shown = str(value)
    return f"\\[default: {shown}]"


def env_of(name: str) -> str:
    """The environment variable of ``Settings.<name>`` as a help suffix, e.g. ``\\[env: SENTINEL_PROFILE]``."""
    prefix = Settings.model_config.get("env_prefix", "")
    return f"\\[env: {prefix}{name.upper()}]"


__all__ = ["default_of", "env_of"]
