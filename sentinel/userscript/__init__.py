"""The browser userscript (``colab-sentinel.user.js``): its text and header, read from the installed package."""

from __future__ import annotations

from importlib import resources

__all__ = ["SCRIPT_NAME", "header_fields", "script_text"]

SCRIPT_NAME = "colab-sentinel.user.js"

_HEADER_START = "// ==UserScript==\n"
_HEADER_END = "// ==/UserScript==\n"


def script_text(*, header: bool = True) -> str:
    """The userscript's source.

    Args:
        header: keep the ``// ==UserScript==`` block that Tampermonkey/Violentmonkey read; ``False``
            gives the text to paste into the DevTools console.

    Raises:
        RuntimeError: the packaged file lost its header (a broken build, never bad user input).
    """
    text = resources.files(__name__).joinpath(SCRIPT_NAME).read_text(encoding="utf-8")
    if header:
        return text
    end = text.find(_HEADER_END)
    if not text.startswith(_HEADER_START) or end < 0:
        raise RuntimeError(f"{SCRIPT_NAME} does not start with a ==UserScript== header")
    return text[end + len(_HEADER_END) :]


def header_fields() -> dict[str, list[str]]:
    """The ``// @key value`` lines of the header, as ``{"match": ["https://..."], "grant": ["none"], ...}``."""
    text = script_text()
    fields: dict[str, list[str]] = {}
    for line in text[: text.find(_HEADER_END)].splitlines()[1:]:
        key, _, value = line.removeprefix("// @").partition(" ")
        fields.setdefault(key, []).append(value.strip())
    return fields
