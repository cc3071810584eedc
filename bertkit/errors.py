"""User-facing errors.

Anything the user can fix (a bad path, a bad option, a malformed file) raises
:class:`BertkitError`. The CLI prints its message on one line and exits with code 2;
library users catch it like any exception. ``UsageError`` subclasses ``ValueError`` so
that validation of names (pooling, layers, dtype) reads as the usual ``ValueError``.
"""

from __future__ import annotations

__all__ = ["BertkitError", "BertkitWarning", "UsageError", "ParameterError", "InputError", "ModelLoadError", "choice_error", "did_you_mean"]


class BertkitError(Exception):
    """An error caused by user input; its message is a single line meant for the user."""


class BertkitWarning(UserWarning):
    """Advice the user should see (the CLI prints it as one `bertkit: warning:` line)."""


class UsageError(BertkitError, ValueError):
    """A bad option value: the message names the value and the valid options."""


class ParameterError(UsageError):
    """A bad argument of a library call: ``param`` names it (``top_k``, ``pairs``), so the
    CLI can name its own flag instead (``--top-k``, ``--pair-column``)."""

    def __init__(self, param: str, message: str, *others: str) -> None:
        super().__init__(message)
        self.param = param
        self.params = (param, *others)  # every argument the message names


class InputError(BertkitError):
    """A problem in an input file: the message names the file (and line or field)."""


class ModelLoadError(BertkitError):
    """A model directory that is missing, incomplete or not loadable."""


def did_you_mean(value: object, options: list[str] | tuple[str, ...]) -> str:
    """``"; did you mean 'mean'?"`` when ``value`` is close to one of ``options`` (difflib), else ``""``."""
    if not isinstance(value, str):
        return ""
    import difflib

    close = difflib.get_close_matches(value, [str(o) for o in options], n=1, cutoff=0.6)
    if not close:
        lowered = {str(o).lower(): str(o) for o in options}
        close = [lowered[value.lower()]] if value.lower() in lowered else []
    return f"; did you mean {close[0]!r}?" if close else ""


def choice_error(what: str, value: object, options: list[str] | tuple[str, ...]) -> UsageError:
    """`unknown pooling 'maen'; valid options: cls, mean, ...; did you mean 'mean'?` as a UsageError."""
    return UsageError(f"unknown {what} {value!r}; valid options: {', '.join(options)}{did_you_mean(value, options)}")
