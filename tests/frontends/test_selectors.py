"""Selector sets: Colab's defaults compile, a user's TOML file overrides or extends them, mistakes are one-line ConfigErrors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.errors import ConfigError
from sentinel.frontends.base import Action, Dialog
from sentinel.frontends.colab import DEFAULT_SELECTORS, load_selectors


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "selectors.toml"
    path.write_text(text, encoding="utf-8")
    return path


class TestDefaults:
    def test_every_dialog_and_action_has_an_entry(self) -> None:
        """Every dialog kind but UNKNOWN has recognising texts; every action has a button label."""
        for dialog in Dialog:
            if dialog is not Dialog.UNKNOWN:
                assert DEFAULT_SELECTORS.dialog(dialog.value).pattern
        for action in Action:
            assert DEFAULT_SELECTORS.button(action.value).pattern

    def test_button_labels_match_whole_labels_only(self) -> None:
        """'Connect' must not match 'Connect without GPU'; case and spacing do not matter."""
        connect = DEFAULT_SELECTORS.button(Action.CONNECT.value)
        assert connect.search("Connect to Google Drive")
        assert connect.search("  CONNECT ")
        assert not connect.search("Connect without GPU")
        assert DEFAULT_SELECTORS.button(Action.RUN_ANYWAY.value).search("RUN  ANYWAY")
        assert not DEFAULT_SELECTORS.button(Action.NO.value).search("No, thanks")

    def test_locator_turns_shadow_marks_into_descendants(self) -> None:
        """'A >>> B' is for the page script; Playwright gets 'A   B' (its CSS pierces shadow roots)."""
        assert ">>>" not in DEFAULT_SELECTORS.locator("connect_button")
        assert "colab-connect-button" in DEFAULT_SELECTORS.locator("connect_button")


class TestUserFile:
    def test_none_means_defaults(self) -> None:
        """No file: the defaults themselves."""
        assert load_selectors(None) is DEFAULT_SELECTORS

    def test_prepend_is_the_default_mode(self, tmp_path: Path) -> None:
        """A user's alternatives come first and the defaults still follow."""
        sel = load_selectors(
            _write(tmp_path, '[css]\ndialog = ["my-dialog[open]"]\n[buttons]\nreconnect = "Verbinden"\n')
        )
        assert sel.css["dialog"][0] == "my-dialog[open]"
        assert sel.css["dialog"][1:] == DEFAULT_SELECTORS.css["dialog"]
        assert sel.button("reconnect").search("verbinden")
        assert sel.button("reconnect").search("Reconnect")

    def test_replace_mode(self, tmp_path: Path) -> None:
        """mode = 'replace' drops the defaults of the keys given, and only those."""
        sel = load_selectors(
            _write(tmp_path, 'mode = "replace"\n[dialogs]\nstill_there = ["Bist du noch da"]\n')
        )
        assert sel.dialogs["still_there"] == ("Bist du noch da",)
        assert not sel.dialog("still_there").search("Are you still there?")
        assert sel.dialogs["gpu_limit"] == DEFAULT_SELECTORS.dialogs["gpu_limit"]

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ('[css]\ndialgo = ["x"]\n', "unknown key 'css.dialgo'; did you mean 'css.dialog'?"),
            ('[selectors]\ndialog = ["x"]\n', "unknown table 'selectors'"),
            ('[texts]\nconnecting = ["("]\n', "texts.connecting: invalid regular expression '('"),
            ("[buttons]\nyes = []\n", "'buttons.yes' must be a non-empty string or a list"),
            ("[buttons]\nyes = [1]\n", "'buttons.yes' must be a non-empty string or a list"),
            ('css = "x"\n', "'css' must be a table"),
            ('mode = "merge"\n', "'mode' must be 'prepend' or 'replace'"),
            ("[css\n", "malformed TOML"),
        ],
    )
    def test_mistakes_are_one_line_config_errors(self, tmp_path: Path, text: str, message: str) -> None:
        """Each mistake names the file and the key in one line."""
        path = _write(tmp_path, text)
        with pytest.raises(ConfigError) as caught:
            load_selectors(path)
        assert message in str(caught.value)
        assert str(caught.value).startswith(f"selectors file {path}: ")
        assert "\n" not in str(caught.value)

    def test_missing_file(self, tmp_path: Path) -> None:
        """A path that does not exist is a ConfigError, not a traceback."""
        with pytest.raises(ConfigError, match="no such file"):
            load_selectors(tmp_path / "nope.toml")
