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


NOTEBOOKS_TOML = """
on_finish = "keep"
active_hours = ["22:00-07:00"]
timezone = "Europe/Berlin"

[[notebooks]]
url = "https://colab.research.google.com/drive/AAA"
name = "sweep-a"
on_finish = "release"
max_resume_retries = 1

[[notebooks]]
url = "https://colab.research.google.com/drive/BBB"
active_hours = ["sat,sun 00:00-24:00"]
max_runtime = 6
"""


def test_per_notebook_tables_default_to_the_globals(tmp_path: Path) -> None:
    """[[notebooks]] tables add notebooks; each changes only what it names, the rest comes from the globals."""
    from sentinel.session import SessionPolicy

    config = tmp_path / "sentinel.toml"
    config.write_text(NOTEBOOKS_TOML)
    settings = load_settings(config, urls=["https://colab.research.google.com/drive/CCC"])
    notebooks = settings.notebook_settings()
    assert [n.url.rsplit("/", 1)[1] for n in notebooks] == ["CCC", "AAA", "BBB"]
    base = SessionPolicy.from_settings(settings)
    a, b, c = (base.for_notebook(n) for n in (notebooks[1], notebooks[2], notebooks[0]))
    assert (a.on_finish, a.max_resume_retries) == ("release", 1)
    assert (b.on_finish, b.max_runtime) == ("keep", 6 * 3600)
    assert [w.describe() for w in b.active_hours] == ["sat,sun 00:00-24:00"]
    assert [w.describe() for w in c.active_hours] == ["daily 22:00-07:00"]
    assert str(c.timezone) == "Europe/Berlin"


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ('url = "https://x.test/a"\non_finish = "never"', "notebooks[0] (https://x.test/a).on_finish"),
        ('url = "https://x.test/a"\nactive_hours = ["9-17"]', "notebooks[0] (https://x.test/a).active_hours"),
        ('url = "https://x.test/a"\ntimezone = "Mars/Base"', "unknown time zone"),
        ('url = "ftp://x.test/a"', "notebooks[0] (ftp://x.test/a).url"),
        (
            'url = "https://x.test/a"\ncolour = "red"',
            "unknown setting 'notebooks[0] (https://x.test/a).colour'",
        ),
        ('name = "no url"', "notebooks[0].url"),
    ],
)
def test_a_bad_notebook_table_names_the_notebook_and_the_key(tmp_path: Path, table: str, needle: str) -> None:
    config = tmp_path / "sentinel.toml"
    config.write_text(f"[[notebooks]]\n{table}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert needle in str(info.value)
    assert str(info.value).startswith(f"config file {config}: ")


def test_one_notebook_in_a_table_and_on_the_command_line_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "sentinel.toml"
    config.write_text('[[notebooks]]\nurl = "https://x.test/a#scrollTo=1"\n')
    with pytest.raises(ConfigError, match="listed twice"):
        load_settings(config, urls=["https://X.test/a"])
