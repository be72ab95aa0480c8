"""The one Settings model: env vars ``SENTINEL_*``, an optional TOML file, CLI flags. Read once, at the edge.

Precedence, highest first: CLI flags, environment variables, the TOML file (``--config``), defaults.
Every other module receives a ``Settings`` (or a part of it) and never reads the environment itself.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from sentinel.errors import ConfigError
from sentinel.log import LogFormat, LogLevel
from sentinel.urls import check_url
from sentinel.urls import notebook_key as notebook_key  # noqa: PLC0414 - re-exported (sentinel.config.notebook_key)

DEFAULT_RESUME_MARKER = "# sentinel: resume"
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):(?P<port>\d{1,5})$")


def _check_own_folder(value: object) -> None:
    """Refuse an empty folder setting: it means the current folder (Typer has made it ``Path('.')`` already)."""
    if (isinstance(value, str) and not value.strip()) or (isinstance(value, Path) and str(value) == "."):
        raise ValueError("must name a folder of its own (empty or '.' means the current folder)")


class EmulatorSettings(BaseModel):
    """The local Colab stand-in (``sentinel emulator``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535, description="0 picks a free port")
    notebooks: Path | None = Field(
        default=None, description="folder of .ipynb files; default: bundled samples"
    )
    drive_dir: Path | None = Field(
        default=None, description="folder that plays Google Drive; default: a temp dir"
    )
    idle_timeout: float = Field(default=5400.0, gt=0, description="seconds of no input before disconnect")
    max_lifetime: float = Field(default=43200.0, gt=0, description="seconds a runtime may live at most")
    allocation_delay: float = Field(default=1.5, ge=0, description="seconds Connecting takes")

    @field_validator("drive_dir", mode="before")
    @classmethod
    def _dir_is_named(cls, value: object) -> object:
        # Path("") is the current folder: sentinel would take it over (its lock file, its files).
        _check_own_folder(value)
        return value

    @field_validator("drive_dir")
    @classmethod
    def _drive_dir_is_writable(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        if value.is_dir() and not os.access(value, os.W_OK | os.X_OK):
            raise ValueError(f"{value} is not writable")
        return value

    @field_validator("notebooks")
    @classmethod
    def _notebooks_is_readable_dir(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        if not os.access(value, os.R_OK | os.X_OK):
            raise ValueError(f"{value} is not readable")
        return value


_OnFinish = Literal["idle", "keep", "release"]
_OnGpuLimit = Literal["wait", "cpu", "stop"]


def _check_windows(value: list[str] | None) -> list[str] | None:
    from sentinel.schedule import parse_window

    for spec in value or ():
        parse_window(spec)
    return value


def _check_zone(value: str | None) -> str | None:
    from sentinel.schedule import zone

    zone(value)
    return value


class NotebookSettings(BaseModel):
    """One ``[[notebooks]]`` table of the TOML file: a notebook and what differs for it from the globals."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    name: str | None = Field(default=None, description="shown in notifications and the status page")
    resume_marker: str | None = Field(default=None, min_length=1)
    resume: bool | None = None
    run_all: bool | None = None
    on_gpu_limit: _OnGpuLimit | None = None
    on_finish: _OnFinish | None = None
    max_resume_retries: int | None = Field(default=None, ge=0, le=100)
    keepalive_interval: float | None = Field(default=None, ge=1.0, le=3600.0)
    active_hours: list[str] | None = None
    timezone: str | None = None
    max_runtime: float | None = Field(default=None, gt=0, description="hours")
    start_at: datetime | None = None

    @field_validator("url")
    @classmethod
    def _url_is_a_notebook(cls, value: str) -> str:
        notebook_key(value)
        return value

    @field_validator("active_hours")
    @classmethod
    def _active_hours_parse(cls, value: list[str] | None) -> list[str] | None:
        return _check_windows(value)

    @field_validator("timezone")
    @classmethod
    def _timezone_exists(cls, value: str | None) -> str | None:
        return _check_zone(value)


class Settings(BaseSettings):
    """Everything sentinel can be told. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    log_format: LogFormat = "auto"
    log_level: LogLevel = "info"

    emulator: EmulatorSettings = EmulatorSettings()

    # --- the daemon (`sentinel run`, `sentinel login`) ---
    # NoDecode: SENTINEL_URLS is a plain list ("URL URL" or "URL,URL"), not JSON (see _split_urls).
    urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="notebook URLs to keep alive"
    )
    profile: Path = Path("profiles/default")
    browser_path: Path | None = None
    channel: str | None = Field(default=None, description="Playwright channel, e.g. 'chrome'")
    headless: bool | None = Field(default=None, description="None: headed when a display exists")
    cdp_url: str | None = None
    state_dir: Path = Path("state")
    keepalive_interval: float = Field(default=60.0, ge=1.0, le=3600.0)
    resume_marker: str = Field(default=DEFAULT_RESUME_MARKER, min_length=1)
    resume: bool = True
    run_all: bool = False
    on_gpu_limit: Literal["wait", "cpu", "stop"] = "wait"
    selectors: Path | None = Field(default=None, description="TOML file overriding Colab selectors")
    notify: list[str] = Field(default_factory=list, description="apprise URLs")
    notify_after_failures: int = Field(default=3, ge=1)
    notify_repeat_interval: float = Field(
        default=1800.0, ge=0, description="seconds between reminders while a human is needed; 0: none"
    )
    status_addr: str = "127.0.0.1:8731"
    status_token: SecretStr | None = Field(
        default=None,
        description="token the status page and /status, /metrics ask for (required when status_addr is not loopback)",
    )
    status_stale_after: float = Field(
        default=30.0, gt=0, description="/healthz answers 503 when the main loop has not ticked for this long"
    )
    frontend: Literal["auto", "colab", "jupyterlab"] = "auto"
    shutdown_timeout: float = Field(default=10.0, gt=0, le=120)
    # --- when the run is over (finished or failed) ---
    on_finish: _OnFinish = Field(
        default="idle",
        description="finished run: idle (stop keep-alive; Colab reclaims the runtime), keep, or release it now",
    )
    max_resume_retries: int = Field(
        default=3, ge=0, le=100, description="retryable failures of the resume cell retried per run"
    )
    stall_after: float = Field(
        default=1800.0,
        ge=0,
        description="seconds without new progress before a running run is called stalled; 0: off",
    )
    # --- when sentinel may act (per notebook in [[notebooks]] too) ---
    active_hours: list[str] = Field(
        default_factory=list,
        description="windows in which sentinel keeps alive and reconnects, e.g. 'mon-fri 22:00-07:00'; none: always",
    )
    timezone: str | None = Field(
        default=None, description="IANA time zone of active_hours and start_at; none: the machine's"
    )
    max_runtime: float | None = Field(
        default=None, gt=0, description="hours of one run after which keep-alive stops"
    )
    start_at: datetime | None = Field(
        default=None, description="nothing is done for a notebook before this time"
    )
    notebooks: list[NotebookSettings] = Field(default_factory=list, description="[[notebooks]] tables")
    heartbeat_url: str | None = Field(
        default=None,
        description="fetched once a minute while every notebook is healthy (healthchecks.io, Kuma)",
    )

    # --- headed Chromium without a screen, and sign-in over noVNC (sentinel/display.py) ---
    xvfb: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="virtual display (Xvfb): auto when headed and no display exists, always, or never",
    )
    vnc_host: str = Field(default="127.0.0.1", description="address noVNC listens on (sentinel login --vnc)")
    vnc_port: int = Field(default=6080, ge=0, le=65535, description="noVNC's port; 0 picks a free one")
    vnc_password: SecretStr | None = Field(
        default=None, description="password a VNC viewer must give (VNC uses its first 8 characters)"
    )

    @field_validator("urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in re.split(r"[\s,]+", value) if part]
        return value

    @field_validator("urls")
    @classmethod
    def _urls_are_notebooks(cls, value: list[str]) -> list[str]:
        seen: dict[str, str] = {}
        for url in value:
            key = notebook_key(url)
            if key in seen:
                twice = url if seen[key] == url else f"{seen[key]} and {url}"
                raise ValueError(f"one notebook listed twice: {twice}")
            seen[key] = url
        return value

    @field_validator("status_addr")
    @classmethod
    def _status_addr_is_host_port(cls, value: str) -> str:
        match = _HOST_PORT.match(value)
        if match is None or not 0 <= int(match["port"]) <= 65535:
            raise ValueError(f"expected HOST:PORT with a port in 0-65535, got {value!r}")
        return value

    @field_validator("status_token")
    @classmethod
    def _status_token_is_usable(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value()
        if not token.strip():
            raise ValueError("must not be empty")
        if token != token.strip() or not token.isprintable() or not token.isascii():
            raise ValueError("must be printable ASCII without surrounding spaces")
        return value

    @field_validator("profile", "state_dir", mode="before")
    @classmethod
    def _dir_is_named(cls, value: object) -> object:
        # Path("") is the current folder: sentinel would take it over (its lock file, its files).
        _check_own_folder(value)
        return value

    @field_validator("browser_path", "selectors")
    @classmethod
    def _file_is_readable(cls, value: Path | None) -> Path | None:
        if value is not None and not (value.is_file() and os.access(value, os.R_OK)):
            raise ValueError(f"{value} is not a readable file")
        return value

    @field_validator("active_hours")
    @classmethod
    def _active_hours_parse(cls, value: list[str]) -> list[str]:
        _check_windows(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_exists(cls, value: str | None) -> str | None:
        return _check_zone(value)

    @model_validator(mode="after")
    def _no_notebook_twice(self) -> Settings:
        seen: dict[str, str] = {notebook_key(url): url for url in self.urls}
        for notebook in self.notebooks:
            key = notebook_key(notebook.url)
            if key in seen:
                raise ValueError(f"one notebook listed twice: {seen[key]} and {notebook.url}")
            seen[key] = notebook.url
        return self

    def notebook_settings(self) -> list[NotebookSettings]:
        """Every notebook to keep alive: the URLs (flags, SENTINEL_URLS, ``urls``), then ``[[notebooks]]``."""
        return [NotebookSettings(url=url) for url in self.urls] + list(self.notebooks)

    @field_validator("heartbeat_url")
    @classmethod
    def _heartbeat_is_http(cls, value: str | None) -> str | None:
        if value is not None:
            check_url(value, ("http", "https"), secret=True)
        return value

    @field_validator("cdp_url")
    @classmethod
    def _cdp_url_is_http_or_ws(cls, value: str | None) -> str | None:
        if value is not None:
            check_url(value, ("http", "https", "ws", "wss"))
        return value

    @field_validator("notify")
    @classmethod
    def _notify_urls_split(cls, value: list[str]) -> list[str]:
        for position, url in enumerate(value, start=1):
            scheme = url.split("://", 1)[0].lower() if "://" in url else ""
            try:
                urlsplit(url)
            except ValueError as exc:
                # Only the scheme is echoed: the rest may hold a token.
                raise ValueError(
                    f"notification URL #{position} {scheme}://... does not parse: {exc}"
                ) from None
        return value

    @property
    def status_host(self) -> str:
        return self.status_addr.rsplit(":", 1)[0].strip("[]")

    @property
    def status_port(self) -> int:
        return int(self.status_addr.rsplit(":", 1)[1])

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = InitSettingsSource(settings_cls, init_kwargs=_toml_data.get(settings_cls, {}))
        return (init_settings, env_settings, toml)


# The TOML file's contents for the Settings being built. load_settings() fills it just before
# constructing the model and empties it right after, so Settings() alone never sees a stale file.
_toml_data: dict[type[BaseSettings], dict[str, Any]] = {}


def read_toml(path: Path, what: str = "config file") -> dict[str, Any]:
    """Read a TOML file, turning every failure into a one-line :class:`ConfigError` that starts with ``what``."""
    source = f"{what} {path}"
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such file") from None
    except PermissionError:
        raise ConfigError(f"{source}: permission denied") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: malformed TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except OSError as exc:
        raise ConfigError(f"{source}: {exc.strerror or exc}") from None


def _describe(error: ValidationError, notebooks: object = None) -> str:
    first = error.errors()[0]
    loc = list(first["loc"])
    where = ".".join(str(part) for part in loc) or "settings"
    if len(loc) >= 2 and loc[0] == "notebooks" and isinstance(loc[1], int):
        # Name the notebook, not just its index: "notebooks[2] (https://...).on_finish".
        entry = notebooks[loc[1]] if isinstance(notebooks, list) and loc[1] < len(notebooks) else None
        url = entry.get("url") if isinstance(entry, dict) else None
        where = (
            f"notebooks[{loc[1]}]" + (f" ({url})" if url else "") + "".join(f".{part}" for part in loc[2:])
        )
    if first["type"] == "extra_forbidden":
        return f"unknown setting {where!r}"
    shown = first.get("input")
    message = first["msg"].removeprefix("Value error, ")
    plain = isinstance(shown, dict) or shown is None or first["type"] == "value_error"
    suffix = "" if plain else f" (got {shown!r})"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"invalid setting {where}: {message}{suffix}{more}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the Settings from defaults, the TOML file, the environment and CLI overrides.

    Args:
        config_file: optional TOML file; its keys are the Settings fields (``[emulator]`` is a table).
        overrides: values from CLI flags; ``None`` means the flag was not given. Nested sections are
            passed as dicts, e.g. ``emulator={"port": 9000}``.

    Raises:
        ConfigError: with one line naming the field and the problem.
    """
    data = read_toml(config_file) if config_file is not None else {}
    given = _drop_none(overrides)
    _toml_data[Settings] = data
    try:
        return Settings(**given)
    except SettingsError as exc:
        raise ConfigError(_describe_env_error(exc)) from None
    except ValidationError as exc:
        prefix = f"config file {config_file}: " if config_file is not None and _blames_file(exc, data) else ""
        notebooks = given.get("notebooks", data.get("notebooks"))
        raise ConfigError(prefix + _describe(exc, notebooks)) from None
    finally:
        _toml_data.pop(Settings, None)


def _describe_env_error(error: SettingsError) -> str:
    # pydantic-settings: 'error parsing value for field "notify" from source "EnvSettingsSource"'.
    # The value is not echoed: it may hold a token (notification URLs do).
    match = re.search(r'field "([^"]+)"', str(error))
    field = match[1] if match else None
    if field is None:
        return f"invalid SENTINEL_* environment variable: {error}"
    variable = f"SENTINEL_{field.upper()}"
    example = '{"port": 9000}' if field == "emulator" else '["a", "b"]'
    return f"invalid environment variable {variable}: expected JSON, e.g. {example}"


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            nested = _drop_none(value)
            if nested:
                out[key] = nested
        elif value is not None:
            out[key] = value
    return out


def _blames_file(error: ValidationError, data: dict[str, Any]) -> bool:
    node: Any = data
    for part in error.errors()[0]["loc"]:
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_list or (isinstance(node, dict) and part in node):
            node = node[part]
        else:
            # A missing key of a table the file has ([[notebooks]] without url) is the file's too.
            return isinstance(node, dict) and node is not data
    return True


def process_env() -> dict[str, str]:
    """A copy of this process's environment, for child processes (Xvfb, x11vnc, the browser) to extend.

    Lives here because this module is the one place that reads the environment.
    """
    return dict(os.environ)


def display_available() -> bool:
    """Whether a graphical display is reachable: always on macOS and Windows, else ``$DISPLAY``/``$WAYLAND_DISPLAY``.

    Lives here because this module is the one place that reads the environment.
    """
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
