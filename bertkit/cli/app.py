"""The ``bertkit`` command: git-style subcommands over the library API.

Every user error (BertkitError, a bad option, an output that cannot be written) prints
one line on stderr and exits with code 2, without a traceback; Ctrl-C exits with 130
and SIGTERM with 143, after removing temporary files (see ``bertkit.cli.signals``).
"""

from __future__ import annotations

import sys
import warnings

import typer

try:  # typer >= 0.20 vendors click as typer._click (plain click is then never imported: 70 ms saved on every start)
    from typer import _click as click
except ImportError:  # pragma: no cover - older typer on plain click
    import click

_CLICK_ERRORS: tuple = (click.ClickException,)
_NO_ARGS: tuple = (click.exceptions.NoArgsIsHelpError,) if hasattr(click.exceptions, "NoArgsIsHelpError") else ()
_EXITS: tuple = (typer.Exit, *((click.exceptions.Exit,) if hasattr(click.exceptions, "Exit") else ()))
_ABORTS: tuple = (typer.Abort, *((click.exceptions.Abort,) if hasattr(click.exceptions, "Abort") else ()))

from bertkit.cli.signals import Stopped, handle_signals
from bertkit.errors import BertkitError, BertkitWarning, UsageError
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
    from bertkit.cli import rerank; app.add_typer(rerank.app, name="rerank")  # noqa: E702
    from bertkit.cli import index; app.add_typer(index.app, name="index")  # noqa: E702
    from bertkit.cli import search; app.command("search", help=search.search_command.__doc__)(search.search_command)  # noqa: E702
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


BOOL_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "1", "0"})


def _plain_help(command) -> None:
    """Plain click help on every command: twice as fast as typer's rich panels (which load
    rich's Markdown) and it shows on/off flags as ``--normalize / --no-normalize``."""
    command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)


def _leaf(command, args: list[str]):
    """The (sub)command ``args`` name and the arguments that follow its name."""
    while args and hasattr(command, "commands") and args[0] in command.commands:
        command, args = command.commands[args[0]], args[1:]
    return command, args


def _check_flag_values(command, args: list[str]) -> None:
    """``--normalize true``: one line saying how on/off flags are written (not a stray argument)."""
    leaf, rest = _leaf(command, args)
    flags = {}
    for param in getattr(leaf, "params", ()):
        if getattr(param, "is_flag", False) and not getattr(param, "count", False) and param.name != "help":
            spelled = (param.opts[0], param.secondary_opts[0] if param.secondary_opts else None)
            flags.update({name: spelled for name in (*param.opts, *param.secondary_opts)})
    for i, arg in enumerate(rest):
        if arg == "--":
            return
        name, eq, value = arg.partition("=")
        if not eq:
            name, value = arg, rest[i + 1] if i + 1 < len(rest) else ""
        if name in flags and value.lower() in BOOL_WORDS:
            on, off = flags[name]
            both = f"{on} (on) or {off} (off)" if off else f"{on} (on) or leave it out (off)"
            raise UsageError(f"{name} is an on/off flag and takes no value: write {both}, not {arg if eq else f'{name} {value}'}")


def _check_utf8(args: list[str]) -> None:
    """Bytes that are not UTF-8 reach argv as lone surrogates (surrogateescape): one line, not a traceback later."""
    for i, arg in enumerate(args, start=1):
        bad = next((c for c in arg if "\ud800" <= c <= "\udfff"), None)
        if bad is not None:
            shown = arg.encode("utf-8", "backslashreplace").decode("ascii", "replace")
            raise UsageError(f"argument {i} ({shown}) is not valid UTF-8 text (U+{ord(bad):04X}); bertkit reads its arguments as UTF-8")


def _click_message(exc) -> str:
    """A click error on one line; an unknown command without click's "Did you mean" lists the commands."""
    message = exc.format_message().replace("\n", " ")
    ctx = getattr(exc, "ctx", None)
    if message.startswith("No such command") and "Did you mean" not in message and hasattr(getattr(ctx, "command", None), "list_commands"):
        message = f"{message.rstrip('.')}; valid commands: {', '.join(ctx.command.list_commands(ctx))}"
    return message


def _run(argv: list[str] | None) -> int:
    """Run the app; every way it can end becomes an exit code and at most one line on stderr.

    2: bad input or an output that cannot be written; 130: Ctrl-C; 143: SIGTERM.
    """
    try:
        command = typer.main.get_command(app)  # called directly: typer's app() would also replace sys.excepthook
        _plain_help(command)
        args = list(sys.argv[1:] if argv is None else argv)
        _check_flag_values(command, args)
        _check_utf8(args)
        result = command.main(args=args, prog_name="bertkit", standalone_mode=False)
        code = result if isinstance(result, int) and not isinstance(result, bool) else 0
        if code == 130:  # typer swallowed a KeyboardInterrupt raised before signals were handled
            print("bertkit: interrupted", file=sys.stderr)
    except Stopped as exc:
        print(f"bertkit: {exc.message}", file=sys.stderr)
        code = exc.code
    except BertkitError as exc:
        error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        code = 2
    except _EXITS as exc:
        code = exc.exit_code
    except _NO_ARGS as exc:
        exc.show()
        code = 0
    except _CLICK_ERRORS as exc:
        error(_click_message(exc))
        code = exc.exit_code
    except _ABORTS:
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
