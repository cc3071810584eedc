"""The ``bertkit`` command: git-style subcommands over the library API.

Every user error (BertkitError, a bad option, an output that cannot be written) prints
one line on stderr and exits with code 2, without a traceback; Ctrl-C exits with 130
and SIGTERM with 143, after removing temporary files (see ``bertkit.cli.signals``).
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

from bertkit.cli.signals import Stopped, handle_signals
from bertkit.errors import BertkitError, BertkitWarning
from bertkit.io.atomic import output_error

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
    from bertkit.cli import convert; app.command("convert", help=convert.convert_command.__doc__)(convert.convert_command)  # noqa: E702
    # Sub-applications (one module each) are added here:
    # --- subcommands ---
    from bertkit.cli import classify; app.add_typer(classify.app, name="classify")  # noqa: E702
    from bertkit.cli import qa; app.add_typer(qa.app, name="qa")  # noqa: E702
    from bertkit.cli import tag; app.add_typer(tag.app, name="tag")  # noqa: E702
    from bertkit.cli import serve; app.command("serve", help=serve.serve_command.__doc__)(serve.serve_command)  # noqa: E702


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
    with warnings.catch_warnings(), handle_signals():  # the command's own display of warnings, restored after
        warnings.showwarning = _show_warning
        code = _run(argv)
    if argv is None:
        sys.exit(code)
    return code


def _run(argv: list[str] | None) -> int:
    """Run the app; every way it can end becomes an exit code and at most one line on stderr.

    2: bad input or an output that cannot be written; 130: Ctrl-C; 143: SIGTERM.
    """
    try:
        result = app(args=argv, prog_name="bertkit", standalone_mode=False)
        code = result if isinstance(result, int) and not isinstance(result, bool) else 0
        if code == 130:  # typer swallowed a KeyboardInterrupt raised before signals were handled
            print("bertkit: interrupted", file=sys.stderr)
    except Stopped as exc:
        print(f"bertkit: {exc.message}", file=sys.stderr)
        code = exc.code
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
        print("bertkit: interrupted", file=sys.stderr)
        code = 130
    except KeyboardInterrupt:
        print("bertkit: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        code = 0
    except OSError as exc:  # a full disk, a read-only directory, ... met outside an atomic writer
        failure = output_error(exc)
        if failure is None:
            raise
        error(str(failure))
        code = 2
    return code


if __name__ == "__main__":  # pragma: no cover
    main()
