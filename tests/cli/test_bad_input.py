"""Every bad input gets one line on stderr (``sentinel: error: ...``), exit 2, and harms nothing.

The table below is run as real processes, each in a folder of its own that is also its working
directory (so the default ``profiles/default`` and ``state`` would show up there): forked from one
interpreter that imported the CLI once (tests/cli/_forkcli.py), except the cases about a stdout that
cannot be written, which are fresh ``python -m sentinel`` processes because the interpreter's own
exit is what they test. For every case: the exit code; exactly one stderr line and it starts
with ``sentinel: error:``; no traceback; the text that names the problem; and the case's folder is
exactly as it was (nothing created, nothing chmod'ed), unless the case says it may create.

Exit 1 instead of 2, by house rule: a stdout that cannot be written (full, closed, a broken pipe) and
a notification that cannot be delivered (``notify-test``); the input was fine, the world was not.

No case starts a browser, except ``--browser-path /bin/true`` (it exits at once).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sentinel.frontends.colab._selectors import DEFAULT_SELECTORS

U = "http://127.0.0.1:9/notebooks/a"
V = "https://colab.research.google.com/drive/1AbC"
TEXT = str(next(iter(DEFAULT_SELECTORS.texts)))
DIALOG = str(next(iter(DEFAULT_SELECTORS.dialogs)))
ROOT = os.geteuid() == 0
REPO = Path(__file__).resolve().parents[2]
PARALLEL = os.cpu_count() or 2
# A directory entry in `files`: a mode (int) or a mode and an owner uid.
Dir = int | tuple[int, int]


@dataclass(frozen=True)
class Case:
    """One bad input. ``{d}`` in args, env values and file contents is the case's own folder."""

    id: str
    args: tuple[str, ...]
    says: str
    env: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, bytes | str | Dir] = field(default_factory=dict)
    code: int = 2
    stdout: str = "pipe"  # pipe | full | closed | broken
    creates: bool = False


def c(
    id: str,
    *args: str,
    says: str,
    env: Mapping[str, str] | None = None,
    files: Mapping[str, bytes | str | Dir] | None = None,
    code: int = 2,
    stdout: str = "pipe",
    creates: bool = False,
) -> Case:
    return Case(id, args, says, dict(env or {}), dict(files or {}), code, stdout, creates)


def toml(id: str, text: str | bytes, says: str, *args: str) -> Case:
    """A --config FILE case; ``args`` default to ``run URL``."""
    return c(id, "--config", "{d}/c.toml", *(args or ("run", U)), says=says, files={"c.toml": text})


def sel(id: str, text: str | bytes, says: str) -> Case:
    """A --selectors FILE case."""
    return c(id, "run", U, "--selectors", "{d}/s.toml", says=says, files={"s.toml": text})


def env(id: str, says: str, *args: str, **variables: str) -> Case:
    """A SENTINEL_* case; ``args`` default to ``run URL``."""
    return c(id, *(args or ("run", U)), says=says, env=variables)


OTHER_USER = 65534
NOTEBOOK_OK = '{"cells": [], "metadata": {}}'

CASES: list[Case] = [
    # --- command line: the command and click's own checks ---
    c("unknown-command", "bogus", says="No such command"),
    c("unknown-option", "run", U, "--bogus", says="No such option"),
    c("unknown-global-option", "--bogus", "run", U, says="No such option"),
    c("float-not-a-number", "run", U, "--keepalive-interval", "fast", says="valid number"),
    c("flag-with-value", "run", U, "--headless=maybe", says="--headless"),
    c("run-option-missing-value", "run", U, "--profile", says="--profile"),
    c("status-timeout-too-small", "status", "--timeout", "0", says="--timeout"),
    c("demo-timeout-too-small", "demo", "--timeout", "1", says="--timeout"),
    c("kit-without-subcommand-arg", "kit", "export", says="Missing argument"),
    c("kit-unknown-subcommand", "kit", "bogus", says="No such command"),
    # --- global options without their value (they must not swallow the next word) ---
    c("trailing-config", "run", U, "--config", says="--config needs a value"),
    c("trailing-log-level", "run", U, "--log-level", says="--log-level needs a value"),
    c("trailing-log-format", "run", U, "--log-format", says="--log-format needs a value"),
    c("config-takes-url", "run", "--config", U, says="got the URL"),
    c("log-level-takes-url", "run", "--log-level", U, says="got the URL"),
    c("config-takes-command", "--config", "run", U, says="'run' is a command"),
    c("log-level-takes-command", "--log-level", "run", U, says="'run' is a command"),
    c("log-format-takes-option", "run", "--log-format", "--headless", U, says="got the option --headless"),
    c("config-takes-option", "--config", "--log-level", "info", "run", U, says="got the option"),
    c("only-config", "--config", says="--config needs a value"),
    c("bad-log-level", "--log-level", "loud", "run", U, says="log_level"),
    c("bad-log-format", "run", U, "--log-format", "xml", says="log_format"),
    # --- notebook URLs (flags) ---
    c("no-url", "run", says="no notebook URL"),
    c("url-no-scheme", "run", "colab.research.google.com/drive/x", says="not a notebook URL"),
    c("url-ftp", "run", "ftp://example.com/x", says="not a notebook URL"),
    c("url-javascript", "run", "javascript:alert(1)", says="not a notebook URL"),
    c("url-empty-host", "run", "http:///path", says="not a notebook URL"),
    c("url-only-scheme", "run", "http://", says="not a notebook URL"),
    c("url-ipv6-unclosed", "run", "http://[::1", says="not a notebook URL"),
    c("url-ipv6-garbage", "run", "http://[zz]/x", says="not a notebook URL"),
    c("url-port-too-big", "run", "http://127.0.0.1:99999/a", says="Port out of range"),
    c("url-port-65536", "run", "http://127.0.0.1:65536/a", says="Port out of range"),
    c("url-port-zero", "run", "http://127.0.0.1:0/a", says="port 0"),
    c("url-port-text", "run", "http://127.0.0.1:abc/a", says="not a notebook URL"),
    c("url-port-negative", "run", "http://127.0.0.1:-1/a", says="not a notebook URL"),
    c("url-empty", "run", "", says="not a notebook URL"),
    c("url-twice", "run", U, U, says="listed twice"),
    c("url-twice-fragment", "run", V, V + "#scrollTo=abc", says="listed twice"),
    c("url-twice-case", "run", V, V.replace("colab", "COLAB").replace("https", "HTTPS"), says="listed twice"),
    c("url-twice-default-port", "run", V, V.replace(".com/", ".com:443/"), says="listed twice"),
    c("url-twice-slash", "run", V, V + "/", says="listed twice"),
    c("url-one-bad-of-two", "run", U, "nope", says="not a notebook URL"),
    # --- run: other flags ---
    c("keepalive-zero", "run", U, "--keepalive-interval", "0", says="keepalive_interval"),
    c("keepalive-negative", "run", U, "--keepalive-interval", "-5", says="keepalive_interval"),
    c("keepalive-huge", "run", U, "--keepalive-interval", "99999", says="keepalive_interval"),
    c("keepalive-nan", "run", U, "--keepalive-interval", "nan", says="keepalive_interval"),
    c("resume-marker-empty", "run", U, "--resume-marker", "", says="resume_marker"),
    c("on-gpu-limit-bogus", "run", U, "--on-gpu-limit", "panic", says="on_gpu_limit"),
    c("frontend-bogus", "run", U, "--frontend", "jupyter-classic", says="frontend"),
    c("xvfb-bogus", "run", U, "--xvfb", "sometimes", says="xvfb"),
    c("status-addr-no-port", "run", U, "--status-addr", "localhost", says="status_addr"),
    c("status-addr-port-big", "run", U, "--status-addr", "127.0.0.1:99999", says="status_addr"),
    c("status-addr-empty-host", "run", U, "--status-addr", ":8731", says="status_addr"),
    c("status-addr-url", "run", U, "--status-addr", "http://127.0.0.1:8731", says="status_addr"),
    c("status-addr-ipv6-unbracketed", "run", U, "--status-addr", "::1:8731", says="status_addr"),
    c("status-open-wildcard", "run", U, "--status-addr", "0.0.0.0:8731", says="no status token"),
    c("status-open-ipv6-wildcard", "run", U, "--status-addr", "[::]:8731", says="no status token"),
    c("status-open-lan", "run", U, "--status-addr", "192.168.1.5:8731", says="no status token"),
    c("status-open-name", "run", U, "--status-addr", "myhost:8731", says="no status token"),
    c("cdp-ipv6-unclosed", "run", U, "--cdp-url", "http://[::1", says="cdp_url"),
    c("cdp-port-big", "run", U, "--cdp-url", "http://127.0.0.1:99999", says="Port out of range"),
    c("cdp-port-zero", "run", U, "--cdp-url", "http://127.0.0.1:0", says="port 0"),
    c("cdp-port-text", "run", U, "--cdp-url", "ws://127.0.0.1:x/devtools", says="cdp_url"),
    c("cdp-ftp", "run", U, "--cdp-url", "ftp://127.0.0.1:9222", says="cdp_url"),
    c("cdp-no-host", "run", U, "--cdp-url", "http://", says="cdp_url"),
    c("cdp-no-scheme", "run", U, "--cdp-url", "127.0.0.1:9222", says="cdp_url"),
    c("cdp-space", "run", U, "--cdp-url", "http://a b:9222", says="cdp_url"),
    c("notify-unknown-scheme", "run", U, "--notify", "bogus://x", says="invalid notification URL #1"),
    c("notify-no-scheme", "run", U, "--notify", "just-a-word", says="invalid notification URL #1"),
    c("notify-ipv6-unclosed", "run", U, "--notify", "json://[::1", says="does not parse"),
    c("notify-second-bad", "run", U, "--notify", "json://127.0.0.1:9/x", "--notify", "x", says="URL #2"),
    c("selectors-missing", "run", U, "--selectors", "{d}/none.toml", says="selectors"),
    c("selectors-dir", "run", U, "--selectors", "{d}/sd", says="selectors", files={"sd": 0o700}),
    c("browser-path-missing", "run", U, "--browser-path", "{d}/chrome", says="browser_path"),
    c("browser-path-dir", "run", U, "--browser-path", "{d}", says="browser_path"),
    c(
        "browser-path-not-chromium",
        *("run", U, "--browser-path", "/bin/true", "--profile", "{d}/p", "--state-dir", "{d}/s"),
        says="could not start /bin/true",
        creates=True,
    ),
    # --- paths: profile and state dir (never the current folder, never chmod a folder not ours) ---
    c("profile-empty", "run", U, "--profile", "", says="profile: must name a folder"),
    c("profile-dot", "run", U, "--profile", ".", says="profile: must name a folder"),
    c("state-dir-empty", "run", U, "--state-dir", "", says="state_dir: must name a folder"),
    c("state-dir-dot", "run", U, "--state-dir", ".", says="state_dir: must name a folder"),
    c("profile-sticky", "run", U, "--profile", "{d}/t", says="shared with other users", files={"t": 0o1777}),
    c("profile-755", "run", U, "--profile", "{d}/p", says="chmod 700", files={"p": 0o755}),
    c("profile-750", "run", U, "--profile", "{d}/p", says="chmod 700", files={"p": 0o750}),
    c("profile-707", "run", U, "--profile", "{d}/p", says="shared with other users", files={"p": 0o707}),
    c("profile-file", "run", U, "--profile", "{d}/f", says="not a directory", files={"f": "x"}),
    c("profile-under-file", "run", U, "--profile", "{d}/f/p", says="Not a directory", files={"f": "x"}),
    c("profile-in-proc", "run", U, "--profile", "/proc/sentinel-test/p", says="profile /proc"),
    c(
        "state-sticky",
        *("run", U, "--profile", "{d}/p", "--state-dir", "{d}/t"),
        says="shared with other users",
        files={"t": 0o1777, "p": 0o700},
    ),
    c(
        "state-755",
        *("run", U, "--profile", "{d}/p", "--state-dir", "{d}/s"),
        says="chmod 700",
        files={"s": 0o755, "p": 0o700},
    ),
    c(
        "state-file",
        *("run", U, "--profile", "{d}/p", "--state-dir", "{d}/f"),
        says="not a directory",
        files={"f": "x", "p": 0o700},
    ),
    c(
        "state-in-proc",
        *("run", U, "--profile", "{d}/p", "--state-dir", "/proc/sentinel-test/s"),
        says="state dir /proc",
        files={"p": 0o700},
    ),
    c("login-profile-empty", "login", "--profile", "", says="profile: must name a folder"),
    c("login-profile-sticky", "login", "--profile", "{d}/t", says="shared", files={"t": 0o1777}),
    c("login-profile-755", "login", "--profile", "{d}/p", says="chmod 700", files={"p": 0o755}),
    c("login-url-bad", "login", "--profile", "{d}/p", "--url", "nope", says="--url", files={"p": 0o700}),
    c("login-url-port", "login", "--url", "http://h:99999/", says="--url"),
    c("login-vnc-port", "login", "--vnc-port", "70000", says="vnc_port"),
    c("login-xvfb", "login", "--xvfb", "maybe", says="xvfb"),
    c("login-browser-missing", "login", "--browser-path", "{d}/none", says="browser_path"),
    # --- emulator ---
    c("emu-port-big", "emulator", "--port", "70000", says="emulator.port"),
    c("emu-port-negative", "emulator", "--port", "-1", says="emulator.port"),
    c("emu-port-text", "emulator", "--port", "http", says="--port"),
    c("emu-idle-zero", "emulator", "--idle-timeout", "0", says="emulator.idle_timeout"),
    c("emu-lifetime-negative", "emulator", "--max-lifetime", "-1", says="emulator.max_lifetime"),
    c("emu-allocation-negative", "emulator", "--allocation-delay", "-1", says="emulator.allocation_delay"),
    c("emu-notebooks-missing", "emulator", "--notebooks", "{d}/none", says="not a directory"),
    c("emu-notebooks-file", "emulator", "--notebooks", "{d}/f", says="not a directory", files={"f": "x"}),
    c("emu-drive-file", "emulator", "--drive-dir", "{d}/f", says="not a directory", files={"f": "x"}),
    c("emu-drive-empty", "emulator", "--drive-dir", "", says="must name a folder"),
    c("emu-drive-under-file", "emulator", "--drive-dir", "{d}/f/d", says="drive dir", files={"f": "x"}),
    c("emu-drive-in-proc", "emulator", "--drive-dir", "/proc/sentinel-test/d", says="drive dir /proc"),
    c("emu-host-bogus", "emulator", "--host", "256.256.256.256", "--port", "0", says="cannot listen"),
    c(
        "emu-notebook-not-json",
        *("emulator", "--port", "0", "--notebooks", "{d}/nb"),
        says="bad.ipynb: cannot read notebook",
        files={"nb": 0o755, "nb/bad.ipynb": "{"},
    ),
    c(
        "emu-notebook-no-cells",
        *("emulator", "--port", "0", "--notebooks", "{d}/nb"),
        says="no 'cells' list",
        files={"nb": 0o755, "nb/ok.ipynb": NOTEBOOK_OK, "nb/x.ipynb": '{"cells": 3}'},
    ),
    c(
        "emu-notebook-cell-not-object",
        *("emulator", "--port", "0", "--notebooks", "{d}/nb"),
        says="cell 0 is not an object",
        files={"nb": 0o755, "nb/x.ipynb": '{"cells": [1]}'},
    ),
    c(
        "emu-notebook-latin1",
        *("emulator", "--port", "0", "--notebooks", "{d}/nb"),
        says="cannot read notebook",
        files={"nb": 0o755, "nb/x.ipynb": b'{"cells": [], "x": "caf\xe9"}'},
    ),
    c(
        "emu-notebook-a-list",
        *("emulator", "--port", "0", "--notebooks", "{d}/nb"),
        says="not a notebook",
        files={"nb": 0o755, "nb/x.ipynb": "[]"},
    ),
    # --- the other commands ---
    c("status-addr-port-zero", "status", "--status-addr", "127.0.0.1:0", says="port 0"),
    c("status-addr-garbage", "status", "--status-addr", "nope", says="status_addr"),
    c("notify-test-none", "notify-test", says="no notification URL"),
    c("notify-test-unknown", "notify-test", "--notify", "bogus://x", says="invalid notification URL"),
    c("notify-test-ipv6", "notify-test", "--notify", "json://[::1", says="does not parse"),
    c("notify-test-ntfy-empty", "notify-test", "--notify", "ntfy://", says="1 of 1", code=1),
    c("notify-test-dead", "notify-test", "--notify", "json://127.0.0.1:9/x", says="1 of 1", code=1),
    c("kit-missing-dir", "kit", "export", "{d}/none", says="does not exist"),
    c("kit-file", "kit", "export", "{d}/f", says="not a directory", files={"f": "x"}),
    c(
        "kit-over-other-file",
        *("kit", "export", "{d}/k"),
        says="--force",
        files={"k": 0o700, "k/sentinel_kit.py": "MINE = 1\n"},
    ),
    # --- standard output that cannot be written: exit 1 ---
    c("userscript-full", "userscript", says="standard output: No space", code=1, stdout="full"),
    c("userscript-console-full", "userscript", "--console", says="No space", code=1, stdout="full"),
    c("userscript-closed", "userscript", says="standard output: it is closed", code=1, stdout="closed"),
    c("userscript-broken-pipe", "userscript", says="Broken pipe", code=1, stdout="broken"),
    c("help-full", "--help", says="standard output", code=1, stdout="full"),
    c("help-closed", "--help", says="it is closed", code=1, stdout="closed"),
    c("run-help-broken-pipe", "run", "--help", says="Broken pipe", code=1, stdout="broken"),
    c("version-full", "--version", says="standard output", code=1, stdout="full"),
    c("kit-help-full", "kit", "--help", says="standard output", code=1, stdout="full"),
    c("emulator-full", "emulator", "--port", "0", says="standard output", code=1, stdout="full"),
    c("emulator-closed", "emulator", "--port", "0", says="it is closed", code=1, stdout="closed"),
    # --- environment variables (SENTINEL_*) ---
    env("env-notify-not-json", "SENTINEL_NOTIFY: expected JSON", SENTINEL_NOTIFY="ntfy://topic"),
    env("env-notify-object", "notify", SENTINEL_NOTIFY='{"a": 1}'),
    env("env-notify-bad-url", "invalid notification URL", SENTINEL_NOTIFY='["bogus://x"]'),
    env("env-notify-ipv6", "does not parse", SENTINEL_NOTIFY='["json://[::1"]'),
    env("env-notebooks-not-json", "SENTINEL_NOTEBOOKS: expected JSON", "run", SENTINEL_NOTEBOOKS="x"),
    env("env-notebooks-bad-url", "not a notebook URL", "run", SENTINEL_NOTEBOOKS='[{"url": "x"}]'),
    env("env-notebooks-unknown", "unknown setting", "run", SENTINEL_NOTEBOOKS=f'[{{"url": "{U}", "z": 1}}]'),
    env("env-notebooks-twice", "listed twice", SENTINEL_NOTEBOOKS=f'[{{"url": "{U}"}}]'),
    env(
        "env-emulator-not-json", "SENTINEL_EMULATOR: expected JSON", "emulator", SENTINEL_EMULATOR="port=9000"
    ),
    env("env-emulator-port-text", "emulator.port", "emulator", SENTINEL_EMULATOR__PORT="abc"),
    env("env-emulator-port-big", "emulator.port", "emulator", SENTINEL_EMULATOR__PORT="70000"),
    env(
        "env-emulator-drive-file", "not a directory", "emulator", SENTINEL_EMULATOR__DRIVE_DIR="/etc/hostname"
    ),
    env("env-active-hours-not-json", "SENTINEL_ACTIVE_HOURS: expected JSON", SENTINEL_ACTIVE_HOURS="22-7"),
    env("env-active-hours-bad", "active_hours", SENTINEL_ACTIVE_HOURS='["mon 25:00-26:00"]'),
    env("env-urls-bad", "not a notebook URL", "run", SENTINEL_URLS="not-a-url"),
    env("env-urls-twice", "listed twice", "run", SENTINEL_URLS=f"{U} {U}"),
    env("env-urls-ipv6", "not a notebook URL", "run", SENTINEL_URLS="http://[::1"),
    env("env-urls-port", "Port out of range", "run", SENTINEL_URLS="http://h:123456/x"),
    env("env-keepalive-text", "keepalive_interval", SENTINEL_KEEPALIVE_INTERVAL="fast"),
    env("env-keepalive-zero", "keepalive_interval", SENTINEL_KEEPALIVE_INTERVAL="0"),
    env("env-headless", "headless", SENTINEL_HEADLESS="maybe"),
    env("env-resume", "resume", SENTINEL_RESUME="perhaps"),
    env("env-run-all", "run_all", SENTINEL_RUN_ALL="2"),
    env("env-log-level", "log_level", SENTINEL_LOG_LEVEL="loud"),
    env("env-log-format", "log_format", SENTINEL_LOG_FORMAT="xml"),
    env("env-status-addr", "status_addr", SENTINEL_STATUS_ADDR="nope"),
    env("env-status-open", "no status token", SENTINEL_STATUS_ADDR="0.0.0.0:8731"),
    env("env-status-token-empty", "status_token", SENTINEL_STATUS_TOKEN=" "),
    env("env-status-token-spaces", "status_token", SENTINEL_STATUS_TOKEN=" tok "),
    env("env-status-token-unicode", "status_token", SENTINEL_STATUS_TOKEN="tökén"),
    env("env-status-stale", "status_stale_after", SENTINEL_STATUS_STALE_AFTER="0"),
    env("env-heartbeat-ipv6", "heartbeat_url", SENTINEL_HEARTBEAT_URL="http://[::1"),
    env("env-heartbeat-ftp", "heartbeat_url", SENTINEL_HEARTBEAT_URL="ftp://hc-ping.com/x"),
    env("env-heartbeat-port", "Port out of range", SENTINEL_HEARTBEAT_URL="https://hc-ping.com:99999/x"),
    env("env-cdp", "cdp_url", SENTINEL_CDP_URL="localhost:9222"),
    env("env-profile-empty", "profile: must name a folder", SENTINEL_PROFILE=""),
    env("env-state-dir-empty", "state_dir: must name a folder", SENTINEL_STATE_DIR=" "),
    env("env-browser-path", "browser_path", SENTINEL_BROWSER_PATH="/nonexistent/chrome"),
    env("env-selectors", "selectors", SENTINEL_SELECTORS="/nonexistent.toml"),
    env("env-timezone", "timezone", SENTINEL_TIMEZONE="Mars/Olympus_Mons"),
    env("env-start-at", "start_at", SENTINEL_START_AT="yesterday"),
    env("env-max-runtime", "max_runtime", SENTINEL_MAX_RUNTIME="0"),
    env("env-on-finish", "on_finish", SENTINEL_ON_FINISH="explode"),
    env("env-retries", "max_resume_retries", SENTINEL_MAX_RESUME_RETRIES="1000"),
    env("env-stall", "stall_after", SENTINEL_STALL_AFTER="-1"),
    env("env-after-failures", "notify_after_failures", SENTINEL_NOTIFY_AFTER_FAILURES="0"),
    env("env-repeat", "notify_repeat_interval", SENTINEL_NOTIFY_REPEAT_INTERVAL="-1"),
    env("env-shutdown", "shutdown_timeout", SENTINEL_SHUTDOWN_TIMEOUT="0"),
    env("env-xvfb", "xvfb", SENTINEL_XVFB="sometimes"),
    env("env-vnc-port", "vnc_port", "login", SENTINEL_VNC_PORT="70000"),
    env("env-frontend", "frontend", SENTINEL_FRONTEND="vscode"),
    env("env-on-gpu-limit", "on_gpu_limit", SENTINEL_ON_GPU_LIMIT="panic"),
    # --- the TOML file (--config) ---
    c("config-missing", "--config", "{d}/none.toml", "run", U, says="no such file"),
    c("config-dir", "--config", "{d}", "run", U, says="is a directory"),
    toml("config-latin1", b'resume_marker = "caf\xe9"\n', "not UTF-8"),
    toml("config-utf16", "keepalive_interval = 30\n".encode("utf-16"), "not UTF-8"),
    toml("config-binary", b"\xff\xfe\x00\x01", "not UTF-8"),
    toml("config-malformed", "urls = [\n", "malformed TOML"),
    toml("config-bare-word", "hello\n", "malformed TOML"),
    toml("config-unknown-key", "keepalive = 30\n", "unknown setting 'keepalive'"),
    toml("config-wrong-type", 'keepalive_interval = "fast"\n', "keepalive_interval"),
    toml("config-urls-bad", 'urls = ["nope"]\n', "not a notebook URL", "run"),
    toml("config-urls-twice", f'urls = ["{U}", "{U}/"]\n', "listed twice", "run"),
    toml("config-urls-port", 'urls = ["http://h:70000/x"]\n', "Port out of range", "run"),
    toml("config-notebooks-no-url", "[[notebooks]]\nname = 'x'\n", "notebooks[0]", "run"),
    toml("config-notebooks-bad-url", "[[notebooks]]\nurl = 'x'\n", "not a notebook URL", "run"),
    toml("config-notebooks-unknown", f"[[notebooks]]\nurl = '{U}'\nz = 1\n", "unknown setting", "run"),
    toml("config-notebooks-finish", f"[[notebooks]]\nurl = '{U}'\non_finish = 'x'\n", "on_finish", "run"),
    toml(
        "config-notebooks-hours", f"[[notebooks]]\nurl = '{U}'\nactive_hours = ['x']\n", "active_hours", "run"
    ),
    toml("config-notebooks-zone", f"[[notebooks]]\nurl = '{U}'\ntimezone = 'Mars/X'\n", "timezone", "run"),
    toml("config-notebooks-dup", f"[[notebooks]]\nurl = '{U}'\n", "listed twice"),
    toml("config-notebooks-not-list", "notebooks = 5\n", "notebooks", "run"),
    toml("config-emulator-port", "[emulator]\nport = 70000\n", "emulator.port", "emulator"),
    toml("config-emulator-unknown", "[emulator]\nbogus = 1\n", "unknown setting", "emulator"),
    toml("config-emulator-not-table", "emulator = 5\n", "emulator", "emulator"),
    toml("config-status-open", 'status_addr = "0.0.0.0:8731"\n', "no status token"),
    toml("config-cdp", 'cdp_url = "http://[::1"\n', "cdp_url"),
    toml("config-heartbeat", 'heartbeat_url = "http://h:99999"\n', "heartbeat_url"),
    toml("config-notify-ipv6", 'notify = ["json://[::1"]\n', "does not parse"),
    toml("config-notify-string", 'notify = "ntfy://x"\n', "notify"),
    toml("config-profile-empty", 'profile = ""\n', "profile: must name a folder"),
    toml("config-state-empty", 'state_dir = ""\n', "state_dir: must name a folder"),
    toml("config-log-level", 'log_level = "loud"\n', "log_level"),
    toml("config-start-at", 'start_at = "soon"\n', "start_at"),
    toml("config-max-runtime", "max_runtime = -1\n", "max_runtime"),
    toml("config-selectors", 'selectors = "/nonexistent.toml"\n', "selectors"),
    toml("config-active-hours", 'active_hours = ["mon-fri 25:00-07:00"]\n', "active_hours"),
    toml("config-timezone", 'timezone = "Nowhere/Land"\n', "timezone"),
    toml("config-vnc-port", "vnc_port = -1\n", "vnc_port", "login"),
    toml("config-empty-no-url", "", "no notebook URL", "run"),
    # --- the selectors file (--selectors) ---
    sel("sel-latin1", b'[buttons]\nreconnect = ["R\xe9essayer"]\n', "not UTF-8"),
    sel("sel-utf16", '[buttons]\nreconnect = ["x"]\n'.encode("utf-16"), "not UTF-8"),
    sel("sel-malformed", "[css\n", "malformed TOML"),
    sel("sel-mode", 'mode = "append"\n', "'mode' must be"),
    sel("sel-unknown-table", "[colours]\na = 'b'\n", "unknown table"),
    sel("sel-table-not-table", "css = 5\n", "must be a table"),
    sel("sel-unknown-key", '[css]\nnope = "div"\n', "unknown key 'css.nope'"),
    sel("sel-empty-string", f'[texts]\n{TEXT} = ""\n', "non-empty"),
    sel("sel-empty-list", f"[texts]\n{TEXT} = []\n", "non-empty"),
    sel("sel-not-string", f"[texts]\n{TEXT} = [1]\n", "non-empty"),
    sel("sel-regex-invalid", f'[texts]\n{TEXT} = ["("]\n', "invalid regular expression"),
    sel("sel-inline-flags-middle", f'[texts]\n{TEXT} = ["foo(?i)bar"]\n', "invalid regular expression"),
    sel("sel-inline-flags-start", f'[texts]\n{TEXT} = ["(?i)connected"]\n', "inline flags"),
    sel("sel-inline-flags-scoped", f'[dialogs]\n{DIALOG} = ["(?s:a.b)"]\n', "inline flags"),
    sel("sel-inline-verbose", f'[dialogs]\n{DIALOG} = ["(?x) a b"]\n', "inline flags"),
    sel("sel-named-group", f'[texts]\n{TEXT} = ["(?P<n>a)"]\n', "named group"),
    sel("sel-named-backref", f'[texts]\n{TEXT} = ["(?P<n>a)(?P=n)"]\n', "named group"),
    sel("sel-comment", f'[dialogs]\n{DIALOG} = ["(?#note)a"]\n', "comment group"),
    sel("sel-atomic", f'[dialogs]\n{DIALOG} = ["(?>ab)"]\n', "atomic group"),
    sel("sel-conditional", f'[dialogs]\n{DIALOG} = ["(a)?(?(1)b|c)"]\n', "conditional"),
    sel("sel-possessive", f'[dialogs]\n{DIALOG} = ["a++"]\n', "possessive"),
    sel("sel-possessive-brace", f'[dialogs]\n{DIALOG} = ["a{{2}}+"]\n', "possessive"),
    sel("sel-backslash-a", f'[texts]\n{TEXT} = ["\\\\Aconnected"]\n', "\\A"),
    sel("sel-backslash-z", f'[texts]\n{TEXT} = ["connected\\\\Z"]\n', "\\Z"),
    sel("sel-bracket-first", f'[texts]\n{TEXT} = ["[]a]"]\n', "']' first"),
    sel("sel-unknown-button", '[buttons]\nnope = "OK"\n', "unknown key 'buttons.nope'"),
]

if ROOT:
    CASES += [
        c(
            "profile-other-user",
            *("run", U, "--profile", "{d}/o"),
            says="belongs to another user",
            files={"o": (0o700, OTHER_USER)},
        ),
        c(
            "state-other-user",
            *("run", U, "--profile", "{d}/p", "--state-dir", "{d}/o"),
            says="belongs to another user",
            files={"o": (0o700, OTHER_USER), "p": 0o700},
        ),
        c(
            "login-profile-other-user",
            *("login", "--profile", "{d}/o"),
            says="belongs to another user",
            files={"o": (0o700, OTHER_USER)},
        ),
    ]


@dataclass
class Result:
    code: int | None
    stderr: str
    before: dict[str, tuple[int, int]]
    after: dict[str, tuple[int, int]]


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its mode and owner (``folder`` itself as '.')."""
    out = {}
    for path in [folder, *folder.rglob("*")]:
        info = path.lstat()
        out[str(path.relative_to(folder))] = (info.st_mode, info.st_uid)
    return out


def _fill(text: str, folder: Path) -> str:
    return text.replace("{d}", str(folder))


def _prepare(case: Case, folder: Path) -> None:
    folder.mkdir(mode=0o700)
    for name, spec in case.files.items():
        path = folder / name
        if isinstance(spec, int | tuple):
            mode, owner = spec if isinstance(spec, tuple) else (spec, os.geteuid())
            path.mkdir()
            path.chmod(mode)
            if owner != os.geteuid():
                os.chown(path, owner, -1)
        else:
            path.write_bytes(_fill(spec, folder).encode() if isinstance(spec, str) else spec)


def _environment(case: Case, folder: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SENTINEL_") and k not in ("DISPLAY", "WAYLAND_DISPLAY")
    }
    env.update({k: _fill(v, folder) for k, v in case.env.items()})
    return env


async def _run(case: Case, folder: Path) -> Result:
    _prepare(case, folder)
    before = _tree(folder)
    argv = [sys.executable, "-m", "sentinel", *(_fill(arg, folder) for arg in case.args)]
    stdout: int = asyncio.subprocess.PIPE
    opened: list[int] = []
    if case.stdout == "full":
        stdout = os.open("/dev/full", os.O_WRONLY)
        opened.append(stdout)
    elif case.stdout == "broken":
        read_end, stdout = os.pipe()
        os.close(read_end)  # nobody will ever read: the first write is EPIPE
        opened.append(stdout)
    elif case.stdout == "closed":
        argv = ["/bin/sh", "-c", 'exec "$@" >&-', "sh", *argv]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=folder,
            env=_environment(case, folder),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=asyncio.subprocess.PIPE,
        )
    finally:
        for fd in opened:
            os.close(fd)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 120)
    except TimeoutError:
        proc.kill()
        _, err = await proc.communicate()
        return Result(None, err.decode(errors="replace") + "\n(timed out)", before, _tree(folder))
    return Result(proc.returncode, err.decode(errors="replace"), before, _tree(folder))


async def _run_forked(cases: list[tuple[Case, Path]]) -> dict[str, Result]:
    """``cases`` (each folder prepared) through one fork server; a result per case id."""
    before = {case.id: _tree(folder) for case, folder in cases}
    server = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests.cli._forkcli", str(PARALLEL)),
        cwd=REPO,
        env=_environment(Case("", (), ""), Path()),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    requests = "".join(
        json.dumps(
            {
                "id": case.id,
                "argv": [_fill(arg, folder) for arg in case.args],
                "cwd": str(folder),
                "env": _environment(case, folder),
                "out": str(folder.parent / f"{folder.name}.out"),
                "err": str(folder.parent / f"{folder.name}.err"),
            }
        )
        + "\n"
        for case, folder in cases
    )
    try:
        out, _ = await asyncio.wait_for(server.communicate(requests.encode()), 300)
    except TimeoutError:
        os.killpg(server.pid, signal.SIGKILL)
        await server.wait()
        raise
    codes = {item["id"]: item["code"] for item in map(json.loads, out.decode().splitlines())}
    return {
        case.id: Result(
            codes.get(case.id),
            (folder.parent / f"{folder.name}.err").read_text(errors="replace"),
            before[case.id],
            _tree(folder),
        )
        for case, folder in cases
    }


@pytest.fixture(scope="module")
async def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Every case's result: the stdout cases as fresh interpreters, the rest forked, PARALLEL at a time."""
    base = tmp_path_factory.mktemp("bad-input")
    gate = asyncio.Semaphore(PARALLEL)

    async def fresh(index: int, case: Case) -> tuple[str, Result]:
        async with gate:
            return case.id, await _run(case, base / f"{index:03d}")

    forked = []
    for index, case in enumerate(CASES):
        if case.stdout == "pipe":
            _prepare(case, base / f"{index:03d}")
            forked.append((case, base / f"{index:03d}"))
    done = dict(
        await asyncio.gather(*(fresh(i, case) for i, case in enumerate(CASES) if case.stdout != "pipe"))
    )
    done.update(await _run_forked(forked))
    # Folders owned by another user are handed back, so that pytest can remove them.
    for entry in base.rglob("*"):
        if not entry.is_symlink() and entry.lstat().st_uid != os.geteuid():
            os.chown(entry, os.geteuid(), -1)
    return done


def test_the_table_is_big_and_its_ids_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert len(CASES) >= 150


# The first case waits for the whole table (a few hundred interpreter start-ups on a busy machine).
@pytest.mark.timeout(900)
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gets_one_line(case: Case, results: dict[str, Result]) -> None:
    result = results[case.id]
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sentinel: error: "), result.stderr
    assert case.says in lines[0], lines[0]
    assert result.code == case.code, result.stderr
    if not case.creates:
        changed = {
            path: (stat.filemode(result.before[path][0]) if path in result.before else None, after)
            for path, after in result.after.items()
            if result.before.get(path) != after
        }
        gone = result.before.keys() - result.after.keys()
        assert not changed and not gone, f"changed: {changed}, removed: {gone}"
