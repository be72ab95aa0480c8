"""The userscript file itself: header, size, no network APIs, packaging, and `sentinel userscript`."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import ClassVar

import pytest

import sentinel
from sentinel.userscript import SCRIPT_NAME, header_fields, script_text

PACKAGE_DIR = Path(sentinel.__file__).parent


def run_sentinel(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sentinel", *args],
        capture_output=True,
        text=True,
        timeout=60,
        encoding="utf-8",
    )


class TestHeader:
    def test_match_is_exactly_the_colab_origin(self) -> None:
        """The manager injects the script into Colab pages and nowhere else."""
        assert header_fields()["match"] == [
            "https://colab.research.google.com/*",
            "https://colab.google.com/*",
        ]
        assert "include" not in header_fields()
        assert "exclude-match" not in header_fields()

    def test_grant_none_runs_in_the_page_with_no_privileged_api(self) -> None:
        """@grant none: no GM_xmlhttpRequest or other manager privileges, and page context for window.sentinel."""
        assert header_fields()["grant"] == ["none"]

    def test_name_version_description_run_at(self) -> None:
        fields = header_fields()
        assert fields["name"] == ["Colab Sentinel"]
        assert fields["version"] == [sentinel.__version__]
        assert fields["description"][0]
        assert fields["run-at"] == ["document-idle"]
        assert "noframes" in fields

    def test_the_script_reports_the_header_version(self) -> None:
        """The console/status version and the manager's @version cannot drift apart."""
        assert f"const VERSION = '{sentinel.__version__}';" in script_text()

    def test_console_text_drops_exactly_the_header(self) -> None:
        full, body = script_text(), script_text(header=False)
        assert "==UserScript==" not in body
        assert full.endswith(body)
        assert full[: len(full) - len(body)].rstrip().endswith("// ==/UserScript==")
        assert body.startswith("// colab-sentinel")


class TestContent:
    def test_smaller_than_10_kib_unminified(self) -> None:
        assert len(script_text().encode()) < 10 * 1024

    def test_plain_ascii(self) -> None:
        """Safe to copy, paste and print on any terminal encoding."""
        assert script_text().isascii()

    @pytest.mark.parametrize(
        "api",
        [
            r"\bfetch\b",
            r"XMLHttpRequest",
            r"WebSocket",
            r"sendBeacon",
            r"EventSource",
            r"RTCPeerConnection",
            r"\bimport\s*\(",
            r"new\s+Image\b",
            r"\.src\b",
            r"window\.open\b",
            r"\blocation\b",
            r"\beval\b",
            r"new\s+Function\b",
            r"innerHTML",
            r"GM_",
        ],
    )
    def test_no_network_or_code_loading_api(self, api: str) -> None:
        """Nothing is sent anywhere and no code is loaded: none of these appear in the script."""
        assert not re.search(api, script_text(header=False)), api

    def test_no_urls_outside_the_header(self) -> None:
        assert "http" not in script_text(header=False)

    def test_dialog_texts_follow_the_reference(self) -> None:
        """The answered dialogs and buttons are colab-ui.md 3.2/3.3 texts, in all three generations' tags."""
        body = script_text(header=False)
        assert "button: 'Reconnect'" in body
        assert "button: 'Yes'" in body
        assert "/runtime disconnected/i" in body
        assert "/are you still (there|here)/i" in body
        for tag in ("paper-button", "mwc-button", "md-text-button", "colab-recaptcha-dialog"):
            assert tag in body
        assert "#top-toolbar > colab-connect-button" in body


class TestPackaging:
    def test_read_through_importlib_resources_from_a_zip(self, tmp_path: Path) -> None:
        """The text loads from a zipped package (no __file__ paths), as from any installed wheel."""
        archive = tmp_path / "sentinel.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for name in ("__init__.py", "userscript/__init__.py", f"userscript/{SCRIPT_NAME}"):
                zf.write(PACKAGE_DIR / name, f"sentinel/{name}")
        code = (
            "import sys, sentinel.userscript as u; "
            "assert '.zip' in u.__file__, u.__file__; "
            "sys.stdout.write(u.script_text(header=False))"
        )
        result = subprocess.run(
            [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(archive)!r}); {code}"],
            capture_output=True,
            text=True,
            timeout=60,
            encoding="utf-8",
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == script_text(header=False)


class TestCli:
    def test_prints_the_userscript_with_its_header(self) -> None:
        result = run_sentinel("userscript")
        assert result.returncode == 0, result.stderr
        assert result.stdout == script_text()
        assert result.stdout.startswith("// ==UserScript==\n")

    def test_console_flag_prints_it_without_the_header(self) -> None:
        result = run_sentinel("userscript", "--console")
        assert result.returncode == 0, result.stderr
        assert result.stdout == script_text(header=False)

    def test_listed_in_help(self) -> None:
        assert "userscript" in run_sentinel("--help").stdout


class TestAgreesWithTheDaemonFrontend:
    """The userscript carries its own small copy of Colab's texts and selectors (it cannot import
    Python); these tests keep it a subset of what ``sentinel.frontends.colab`` knows, so the two
    cannot drift apart silently.
    """

    BODY = script_text(header=False)
    # { title: /runtime disconnected/i, button: 'Reconnect', count: 'reconnects' }
    ANSWERS = re.findall(r"\{ title: /(.+?)/i, button: '(.+?)', count: '(\w+)' \}", BODY)
    TITLES: ClassVar[dict[str, tuple[str, ...]]] = {
        # colab-ui.md 3.2/3.3, verbatim
        "reconnects": ("Runtime disconnected",),
        "stillThere": ("Are you still there?", "Are you still here?"),
    }
    OTHER_TITLES = (
        "Warning: This notebook was not authored by Google",
        "Permit this notebook to access your Google Drive files?",
        "Allow this notebook to access your Google credentials?",
        "Cannot connect to GPU backend",
        "Google sign-in required",
        "Disconnect and delete runtime",
        "Change runtime type",
        "Switch to a high-RAM runtime?",
    )

    def js_list(self, name: str) -> set[str]:
        match = re.search(rf"const {name} = '([^']+)';", self.BODY)
        assert match, name
        return set(match.group(1).split(","))

    def test_answers_are_found(self) -> None:
        assert [count for _, _, count in self.ANSWERS] == ["reconnects", "stillThere"]

    def test_button_labels_are_ones_the_frontend_presses(self) -> None:
        from sentinel.frontends.base import Action
        from sentinel.frontends.colab import DEFAULT_SELECTORS

        actions = {"reconnects": Action.RECONNECT, "stillThere": Action.YES}
        for _, button, count in self.ANSWERS:
            assert DEFAULT_SELECTORS.button(actions[count]).match(button), button

    def test_dialog_titles_are_recognised_the_same_way(self) -> None:
        from sentinel.frontends.base import Dialog
        from sentinel.frontends.colab import DEFAULT_SELECTORS

        dialogs = {"reconnects": Dialog.RUNTIME_DISCONNECTED, "stillThere": Dialog.STILL_THERE}
        for title_re, _, count in self.ANSWERS:
            ours = re.compile(title_re, re.IGNORECASE)
            for title in self.TITLES[count]:
                assert ours.search(title), title
                assert DEFAULT_SELECTORS.dialog(dialogs[count]).search(title), title
            for other in self.OTHER_TITLES:
                assert not ours.search(other), other
                assert not DEFAULT_SELECTORS.dialog(dialogs[count]).search(other), other

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("Connect", "disconnected"),
            ("Connect T4", "disconnected"),
            ("Connect T4 GPU", "disconnected"),
            ("Reconnect", "disconnected"),
            ("Connecting", "connecting"),
            ("Allocating", "connecting"),
            ("Initializing", "connecting"),
            ("Resuming session", "connecting"),
            ("Reconnecting", "connecting"),
            ("", "connected"),
            ("RAM Disk", "connected"),
            ("Connected", "connected"),
            ("Busy", "connected"),
        ],
    )
    def test_connect_button_texts_are_classified_the_same_way(self, text: str, expected: str) -> None:
        from sentinel.frontends.colab import DEFAULT_SELECTORS

        disconnected = re.search(r"/(\^\(re\)\?connect.*?)/i\.test\(t\) \? 'disconnected'", self.BODY)
        connecting = re.search(r"/(\^\(connecting.*?)/i\.test\(t\) \? 'connecting'", self.BODY)
        assert disconnected and connecting
        ours = (
            "disconnected"
            if re.search(disconnected.group(1), text, re.IGNORECASE)
            else "connecting"
            if re.search(connecting.group(1), text, re.IGNORECASE)
            else "connected"
        )
        theirs = next(
            state
            for state in ("disconnected", "connecting", "connected")
            if DEFAULT_SELECTORS.text(state).search(text)
        )
        assert ours == theirs == expected

    def test_tags_are_a_subset_of_the_frontend_selectors(self) -> None:
        from sentinel.frontends.colab import DEFAULT_SELECTORS

        def tags(selectors: tuple[str, ...]) -> set[str]:
            return {tag for sel in selectors for tag in re.findall(r"\[role=\w+\]|[a-z]+(?:-[a-z]+)*", sel)}

        assert self.js_list("DIALOGS") <= tags(DEFAULT_SELECTORS.css["dialog"])
        assert self.js_list("BUTTONS") <= tags(DEFAULT_SELECTORS.css["dialog_button"])
        assert "colab-recaptcha-dialog" in DEFAULT_SELECTORS.css["captcha"]
        assert "colab-connect-button >>> #connect" in DEFAULT_SELECTORS.css["connect_button"]
        assert "document.querySelector('#top-toolbar > colab-connect-button')?.shadowRoot" in self.BODY
        assert "?.querySelector('#connect')" in self.BODY
