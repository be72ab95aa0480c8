"""Selector sets: a frontend's CSS selectors and texts as data, overridable from a user's TOML file.

A :class:`SelectorSet` has four tables, each mapping a key to a tuple of alternatives tried in order:

``css``
    CSS selectors. ``A >>> B`` marks a shadow-root boundary (B is looked up inside A's shadow root);
    Playwright locators pierce open shadow roots anyway, so for them ``>>>`` is a plain descendant.
``texts``
    Regular expressions (case-insensitive, searched) for visible texts such as connect-button states.
``dialogs``
    Regular expressions (case-insensitive, searched) recognising a dialog by its text.
``buttons``
    Literal button labels, matched case-insensitively against the whole label (whitespace collapsed).

The user's file (``--selectors FILE``) uses the same tables, plus an optional top-level
``mode = "prepend"`` (default: the user's alternatives are tried first, then the defaults) or
``mode = "replace"`` (the user's alternatives replace the defaults for the keys given)::

    mode = "prepend"
    [css]
    dialog = ["my-dialog[open]"]
    [buttons]
    reconnect = ["Reconnect now"]

A value may be one string or a list of strings. Unknown tables or keys, wrong types and invalid
regular expressions are :class:`~sentinel.errors.ConfigError` s naming the key.

Regular expressions also reach the page through Playwright, which converts them to JavaScript:
keep to the syntax both languages share: ``(?P<name>...)``, inline flags such as ``(?i)``, atomic
groups, possessive quantifiers, ``\\A``/``\\Z`` and a ``]`` first in a class are refused.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from sentinel.config import read_toml
from sentinel.errors import ConfigError

Table = Literal["css", "texts", "dialogs", "buttons"]
TABLES: tuple[Table, ...] = ("css", "texts", "dialogs", "buttons")
_MODES = ("prepend", "replace")


def _frozen(table: Mapping[str, Iterable[str]]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({key: tuple(values) for key, values in table.items()})


@dataclass(frozen=True)
class SelectorSet:
    """A frontend's selectors and texts. Build defaults in code, then :meth:`with_file` for user overrides."""

    css: Mapping[str, tuple[str, ...]]
    texts: Mapping[str, tuple[str, ...]]
    dialogs: Mapping[str, tuple[str, ...]]
    buttons: Mapping[str, tuple[str, ...]]
    _compiled: dict[tuple[str, str], re.Pattern[str]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        for table in TABLES:
            object.__setattr__(self, table, _frozen(getattr(self, table)))
        # Compile everything now so a bad pattern fails at start-up, not mid-run.
        for table in ("texts", "dialogs"):
            for key, sources in getattr(self, table).items():
                self._compiled[(table, key)] = _compile_any(table, key, sources)
        for key, labels in self.buttons.items():
            self._compiled[("buttons", key)] = _compile_labels(labels)

    def text(self, key: str) -> re.Pattern[str]:
        """The ``texts`` entry as one compiled, case-insensitive pattern (alternatives OR-ed)."""
        return self._compiled[("texts", key)]

    def dialog(self, key: str) -> re.Pattern[str]:
        """The ``dialogs`` entry as one compiled, case-insensitive pattern."""
        return self._compiled[("dialogs", key)]

    def button(self, key: str) -> re.Pattern[str]:
        """A pattern matching a whole button label equal to one of the ``buttons`` entry's labels."""
        return self._compiled[("buttons", key)]

    def locator(self, key: str) -> str:
        """The ``css`` entry as one selector list for Playwright (which pierces shadow roots itself)."""
        return ", ".join(sel.replace(">>>", " ") for sel in self.css[key])

    def page_config(self) -> dict[str, list[str]]:
        """The ``css`` table as plain JSON for the in-page script."""
        return {key: list(values) for key, values in self.css.items()}

    def with_overrides(self, data: Mapping[str, Any], source: str) -> SelectorSet:
        """A copy with ``data`` (the parsed user TOML) applied.

        Raises:
            ConfigError: one line naming ``source`` and the offending key.
        """
        mode = data.get("mode", "prepend")
        if mode not in _MODES:
            raise ConfigError(f"{source}: 'mode' must be 'prepend' or 'replace', got {mode!r}")
        merged: dict[str, dict[str, tuple[str, ...]]] = {t: dict(getattr(self, t)) for t in TABLES}
        for name, table in data.items():
            if name == "mode":
                continue
            if name not in TABLES:
                raise ConfigError(f"{source}: unknown table {name!r}{_suggest(name, (*TABLES, 'mode'))}")
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: {name!r} must be a table like [{name}]")
            for key, value in table.items():
                where = f"{name}.{key}"
                if key not in merged[name]:
                    raise ConfigError(f"{source}: unknown key {where!r}{_suggest(key, merged[name], name)}")
                values = _strings(value, source, where)
                merged[name][key] = values if mode == "replace" else values + merged[name][key]
        try:
            return SelectorSet(**merged)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    def with_file(self, path: Path | None) -> SelectorSet:
        """A copy with the user's TOML file applied (``None``: unchanged).

        Raises:
            ConfigError: the file is unreadable, malformed, or names an unknown key.
        """
        if path is None:
            return self
        data = read_toml(path, "selectors file")
        return self.with_overrides(data, f"selectors file {path}")


def _strings(value: object, source: str, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise ConfigError(f"{source}: {where!r} must be a non-empty string or a list of non-empty strings")
    return tuple(items)


def _suggest(word: str, known: Iterable[str], table: str | None = None) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    if not close:
        return ""
    return f"; did you mean {(f'{table}.' if table else '') + close[0]!r}?"


def _compile_any(table: str, key: str, sources: tuple[str, ...]) -> re.Pattern[str]:
    for source in sources:
        try:
            re.compile(source)
        except re.error as exc:
            raise ConfigError(f"{table}.{key}: invalid regular expression {source!r}: {exc}") from None
        why = _not_javascript(source)
        if why is not None:
            raise ConfigError(
                f"{table}.{key}: {source!r} uses {why}, which JavaScript (the page) does not understand"
            )
    try:
        return re.compile("|".join(f"(?:{s})" for s in sources), re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"{table}.{key}: the patterns {list(sources)!r} do not combine: {exc}") from None


# Python-only syntax after "(?" and after a backslash. Patterns reach the page as JavaScript RegExp
# sources (Playwright passes the text on), so these would fail there or mean something else.
_PY_GROUPS = (
    ("P<", "a named group (?P<name>...) (use a plain group)"),
    ("P=", "a named back-reference (?P=name) (use \\1)"),
    ("#", "a comment group (?#...)"),
    (">", "an atomic group (?>...)"),
    ("(", "a conditional group (?(...)...)"),
)
_PY_ESCAPES = {"A": "\\A (use ^)", "Z": "\\Z (use $)", "z": "\\z (use $)"}


def _not_javascript(source: str) -> str | None:
    """What in ``source`` is Python-only regular-expression syntax, or None."""
    index, in_class = 0, False
    while index < len(source):
        char = source[index]
        if char == "\\":
            if not in_class and source[index + 1 : index + 2] in _PY_ESCAPES:
                return _PY_ESCAPES[source[index + 1]]
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            # "[]" and "[^]" start a class holding "]" in Python; in JavaScript they are complete.
            if source[index + 1 : index + 2] == "]" or source[index + 1 : index + 3] == "^]":
                return "']' first in a character class (escape it: \\])"
        elif char == "(" and source[index + 1 : index + 2] == "?":
            rest = source[index + 2 :]
            for prefix, what in _PY_GROUPS:
                if rest.startswith(prefix):
                    return what
            if re.match(r"[aiLmsux-]+[:)]", rest):
                return "inline flags like (?i); matching is case-insensitive already"
        elif char in "*+?}" and source[index + 1 : index + 2] == "+":
            return "a possessive quantifier (*+, ++, ?+, {n}+)"
        index += 1
    return None


def _compile_labels(labels: tuple[str, ...]) -> re.Pattern[str]:
    # Whole-label match, whitespace-tolerant: "Connect" must not match "Connect without GPU".
    alternatives = "|".join(r"\s+".join(re.escape(word) for word in label.split()) for label in labels)
    return re.compile(rf"^\s*(?:{alternatives})\s*$", re.IGNORECASE)


def normalise(text: str) -> str:
    """Collapse whitespace (non-breaking spaces included) and trim, as labels are compared."""
    return " ".join(text.replace("\u00a0", " ").split())
