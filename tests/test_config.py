"""Settings: one model, three sources, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.config import load_settings
from sentinel.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("SENTINEL_"):
            monkeypatch.delenv(key)


def test_defaults_are_safe() -> None:
    """With nothing given, the status page binds to loopback and the emulator uses port 8765."""
    settings = load_settings()
    assert settings.status_host == "127.0.0.1"
    assert settings.emulator.port == 8765
    assert settings.resume_marker == "# sentinel: resume"


def test_flags_beat_env_beat_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI overrides win over SENTINEL_* env vars, which win over the TOML file."""
    config = tmp_path / "s.toml"
    config.write_text(
        'keepalive_interval = 30\nresume_marker = "# toml"\n[emulator]\nport = 1111\nidle_timeout = 9\n'
    )
    monkeypatch.setenv("SENTINEL_EMULATOR__PORT", "2222")
    monkeypatch.setenv("SENTINEL_KEEPALIVE_INTERVAL", "40")
    settings = load_settings(config, keepalive_interval=50.0)
    assert settings.keepalive_interval == 50.0
    assert settings.emulator.port == 2222
    assert settings.emulator.idle_timeout == 9
    assert settings.resume_marker == "# toml"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[emulator]\nport = 70000\n", "emulator.port"),
        ("bogus = 1\n", "unknown setting 'bogus'"),
        ("keepalive_interval = \n", "malformed TOML"),
        ('status_addr = "nowhere"\n', "status_addr"),
        ('on_gpu_limit = "evade"\n', "on_gpu_limit"),
    ],
)
def test_bad_toml_names_the_file_and_field(tmp_path: Path, toml: str, message: str) -> None:
    """Invalid TOML content raises one line that names the file and the field."""
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    text = str(info.value)
    assert "\n" not in text
    assert message in text
    assert str(config) in text


def test_missing_config_file(tmp_path: Path) -> None:
    """A config file that does not exist is named in the error."""
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "absent.toml")


def test_bad_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    """An invalid SENTINEL_* value is reported with its field name."""
    monkeypatch.setenv("SENTINEL_KEEPALIVE_INTERVAL", "0")
    with pytest.raises(ConfigError, match="keepalive_interval"):
        load_settings()
