"""The ``bertkit`` command: git-style subcommands over the library API.

Every user error (BertkitError, a bad option) prints one line on stderr and exits
with code 2, without a traceback.
"""

from __future__ import annotations

import sys
import warnings

import click
import typer

try:  # typer >= 0.20 vendors click as typer._click
    from typer import _click as _tclick

    _CLICK_ERRORS: tuple = (click.ClickException, _tclick.ClickException)
    _NO_ARGS: tuple = (_tclick.exceptions.NoArgsIsHelpError,)
except ImportError:  # pragma: no cover - older typer on plain click
    _CLICK_ERRORS = (click.ClickException,)
    _NO_ARGS = (getattr(click.exceptions, "NoArgsIsHelpError", ()),) if hasattr(click.exceptions, "NoArgsIsHelpError") else ()

from bertkit.errors import BertkitError, BertkitWarning

app = typer.Typer(
    name="bertkit",
    help="Put BERT-family encoders to work: embed, classify, answer questions, inspect.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _register() -> None:
    from bertkit.cli import embed, export, inspect, tour

    app.command("embed", help=embed.embed_command.__doc__)(embed.embed_command)
    app.command("inspect", help=inspect.inspect_command.__doc__)(inspect.inspect_command)
    app.command("tour", help=tour.tour_command.__doc__)(tour.tour_command)
    app.command("export", help=export.export_command.__doc__)(export.export_command)
    # Sub-applications (one module each) are added here:
    # --- subcommands ---
    from bertkit.cli import classify; app.add_typer(classify.app, name="classify")  # noqa: E702
    from bertkit.cli import qa; app.add_typer(qa.app, name="qa")  # noqa: E702


_register()


def error(message: str) -> None:
    """Print a one-line error on stderr."""
    print(f"bertkit: error: {message}", file=sys.stderr)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, BertkitWarning):
        print(f"bertkit: warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns (and exits with) the process exit code."""
    warnings.showwarning = _show_warning
    try:
        app(args=argv, prog_name="bertkit", standalone_mode=False)
        code = 0
    except BertkitError as exc:
        error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        code = 2
    except (click.exceptions.Exit, typer.Exit) as exc:
        code = exc.exit_code
    except _NO_ARGS as exc:
        exc.show()
        code = 0
    except _CLICK_ERRORS as exc:
        error(exc.format_message().replace("\n", " "))
        code = exc.exit_code
    except (click.exceptions.Abort, typer.Abort):
        error("aborted")
        code = 130
    except KeyboardInterrupt:
        error("interrupted")
        code = 130
    except BrokenPipeError:
        code = 0
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":  # pragma: no cover
    main()
