"""The command line: parsing only; every verb calls the Python API (foveal.Model and the library's functions). Bad
input ends in one line and exit code 2 (a whole command that failed for another reason: 1); `--debug` shows the
traceback."""

from __future__ import annotations

import sys

import typer

from foveal.cli.app import app
from foveal.cli.keyvalue import expand_key_values
from foveal.errors import FovealError


def _usage_errors() -> tuple[type[BaseException], type[BaseException]]:
    """typer 0.29 raises the exceptions of its own vendored click, not the `click` package's."""
    try:
        from typer._click.exceptions import NoArgsIsHelpError, UsageError
    except ImportError:  # an older typer on the real click
        from click.exceptions import NoArgsIsHelpError, UsageError
    return UsageError, NoArgsIsHelpError


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; turn bad input into one line on stderr and a non-zero exit code."""
    usage_error, no_args_is_help = _usage_errors()
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        command = typer.main.get_command(app)
        command.main(args=expand_key_values(command, args), standalone_mode=False, prog_name="foveal")
        return 0
    except no_args_is_help as err:  # `foveal` alone: its help
        typer.echo(err.format_message())
        return 0
    except FovealError as err:
        if debug:
            raise
        typer.echo(f"error: {err}", err=True)
        return 2
    except usage_error as err:
        typer.echo(f"error: {err.format_message()}", err=True)
        return 2
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("interrupted", err=True)
        return 130
    except typer.Exit as ex:
        return ex.exit_code
    except Exception as err:  # a bug, not bad input: still one line unless --debug
        if debug:
            raise
        typer.echo(f"error: {type(err).__name__}: {err} (run with --debug for the traceback)", err=True)
        return 1


def run() -> None:
    sys.exit(main())
