"""The Typer app, global options, and the one place where errors become exit codes.

Commands live in sibling modules (``emulator.py``, ``run.py``, ...) and register themselves on
``app`` when this module imports them at the bottom.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import click
import typer

from sentinel import __version__
from sentinel.cli import _stdout
from sentinel.config import Settings, load_settings
from sentinel.errors import SentinelError, UsageError
from sentinel.log import LogFormat, LogLevel, configure_logging

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Keeps Google Colab training runs alive and brings them back when the runtime is lost anyway.",
)

EXIT_USAGE = 2
# A SentinelError that is not the user's input (the browser sentinel picked would not start).
EXIT_FAILURE = 1


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    config_file: Path | None
    log_format: LogFormat | None
    log_level: LogLevel | None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sentinel {__version__}")
        raise typer.Exit


@app.callback()
def _global(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML file with settings (flags and SENTINEL_* env vars win).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    log_format: Annotated[
        str | None, typer.Option("--log-format", help="console | json | auto (JSON when not on a TTY).")
    ] = None,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="debug | info | warning | error.")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    ctx.obj = GlobalOptions(config_file=config, log_format=log_format, log_level=log_level)  # type: ignore[arg-type]


def settings_from(ctx: typer.Context, **overrides: Any) -> Settings:
    """Build the Settings for a command (global options + the command's flags) and configure logging.

    ``None`` overrides are flags the user did not give. Raises ConfigError on invalid input.
    """
    options: GlobalOptions = ctx.find_root().obj
    settings = load_settings(
        options.config_file,
        log_format=options.log_format,
        log_level=options.log_level,
        **overrides,
    )
    configure_logging(settings.log_format, settings.log_level)
    return settings


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one line to stderr and exit with ``code`` (the usage error code unless told otherwise)."""
    typer.echo(f"sentinel: error: {' '.join(message.split())}", err=True)
    raise SystemExit(code)


# Typer >= 0.20 ships its own copy of click; its exceptions are not click's. Match both.
_click_exceptions = getattr(typer, "_click", click).exceptions


_GLOBAL_OPTIONS = ("--config", "--log-format", "--log-level")


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move global options given after the command (``sentinel run --log-format json URL``) in front of it.

    Click only accepts them before the command name; people type them anywhere. Arguments after ``--``
    are left alone.

    Raises:
        UsageError: a global option without its value (last on the line, or followed by another
            option, a command name or a URL, which it would otherwise swallow).
    """
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            rest.extend(argv[index:])
            break
        name = arg.split("=", 1)[0]
        if name in _GLOBAL_OPTIONS and "=" not in arg:
            _check_option_value(name, argv[index + 1] if index + 1 < len(argv) else None)
            target = front if rest else rest
            target.extend(argv[index : index + 2])
            index += 2
            continue
        if name in _GLOBAL_OPTIONS and rest:
            front.append(arg)
        else:
            rest.append(arg)
        index += 1
    return front + rest


def _check_option_value(option: str, value: str | None) -> None:
    if value is None:
        raise UsageError(f"option {option} needs a value")
    if value.startswith("--"):
        raise UsageError(f"option {option} needs a value (got the option {value})")
    if "://" in value:
        raise UsageError(f"option {option} needs a value (got the URL {value})")
    if value in _command_names():
        raise UsageError(
            f"option {option} needs a value ({value!r} is a command; write ./{value} for a file of that name)"
        )


def _command_names() -> set[str]:
    names = {group.name for group in app.registered_groups if group.name}
    for command in app.registered_commands:
        if command.name:
            names.add(command.name)
        elif command.callback is not None:
            names.add(typer.main.get_command_name(command.callback.__name__))
    return names


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``sentinel`` console script: every SentinelError becomes one line.

    Exit codes: 2 when the user's input is at fault (:class:`UsageError`, bad flags), 1 for other
    sentinel errors and for a stdout that cannot be written (full, closed, a broken pipe), 130 on Ctrl+C.
    """
    _stdout.install()
    try:
        args = hoist_global_options(sys.argv[1:] if argv is None else argv)
        # Without standalone mode, click returns a command's `typer.Exit(code)` instead of raising it.
        returned = app(args=args, standalone_mode=False)
        sys.stdout.flush()
    except OSError:
        if (why := _stdout.failure()) is None:
            raise
        fail(why, EXIT_FAILURE)
    except SystemExit:
        # Click turns a broken pipe into a silent exit 1; say why.
        if (why := _stdout.failure()) is not None:
            fail(why, EXIT_FAILURE)
        raise
    except UsageError as exc:
        fail(str(exc))
    except SentinelError as exc:
        # Not the user's input, but still one line: the log above it (if any) has the details.
        fail(str(exc), EXIT_FAILURE)
    except (_click_exceptions.NoArgsIsHelpError, click.exceptions.NoArgsIsHelpError) as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else "")
        raise SystemExit(0) from None
    except (_click_exceptions.ClickException, click.ClickException) as exc:
        fail(exc.format_message())
    except (typer.Exit, click.exceptions.Exit) as exc:
        raise SystemExit(exc.exit_code) from None
    except (typer.Abort, click.exceptions.Abort, KeyboardInterrupt):
        typer.echo("Aborted.", err=True)
        raise SystemExit(130) from None
    sys.exit(returned if isinstance(returned, int) else 0)


# Command modules register themselves on `app`; keep these imports at the bottom.
from sentinel.cli import demo as _demo  # noqa: E402, F401
from sentinel.cli import doctor as _doctor  # noqa: E402, F401
from sentinel.cli import emulator as _emulator  # noqa: E402, F401
from sentinel.cli import kit as _kit  # noqa: E402, F401
from sentinel.cli import login as _login  # noqa: E402, F401
from sentinel.cli import notify as _notify  # noqa: E402, F401
from sentinel.cli import run as _run  # noqa: E402, F401
from sentinel.cli import status as _status  # noqa: E402, F401
from sentinel.cli import userscript as _userscript  # noqa: E402, F401
