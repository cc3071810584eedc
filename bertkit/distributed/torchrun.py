"""``--nproc N``: start the running ``bertkit`` command again under torchrun with N processes.

The command line is rebuilt from the parsed options that the user gave (click records
where each value came from), minus ``--nproc`` itself, and run as
``python -m torch.distributed.run --standalone --nproc_per_node N -m bertkit ...``:
the same as typing ``torchrun --standalone --nproc_per_node N -m bertkit ...``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import PurePath

from bertkit.errors import UsageError

__all__ = ["torchrun_argv", "current_command_args", "relaunch"]


def _click():
    """(core, globals) of the click that typer runs on (typer >= 0.20 vendors it as typer._click)."""
    try:
        from typer._click import core, globals
    except ImportError:  # pragma: no cover
        from click import core, globals
    return core, globals


def _values(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value) if not isinstance(value, PurePath) else os.fspath(value)]


def current_command_args(skip: tuple[str, ...] = ("nproc",)) -> list[str]:
    """The running subcommand's arguments as the user gave them (defaults left out)."""
    core, globals_ = _click()
    ctx = globals_.get_current_context()
    given = (core.ParameterSource.COMMANDLINE, core.ParameterSource.ENVIRONMENT)
    args = ctx.command_path.split()[1:]  # e.g. ["classify", "train"]
    for param in ctx.command.params:
        if param.name in skip or ctx.get_parameter_source(param.name) not in given:
            continue
        value = ctx.params.get(param.name)
        if param.param_type_name == "argument":
            args += _values(value) if value is not None else []
        elif getattr(param, "is_flag", False) and not getattr(param, "count", False):
            names = param.opts if value else param.secondary_opts
            args += names[:1]
        elif value is not None:
            for v in value if getattr(param, "multiple", False) else [value]:
                args += [param.opts[0], *_values(v)]
    return args


def torchrun_argv(nproc: int, args: list[str]) -> list[str]:
    """The torchrun command line that runs ``bertkit ARGS`` in ``nproc`` local processes."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", "bertkit", *args]


def relaunch(nproc: int) -> int:
    """Run the current command under torchrun with ``nproc`` processes; its exit code."""
    if nproc < 1:
        raise UsageError(f"--nproc must be >= 1, got {nproc}")
    if os.environ.get("WORLD_SIZE"):
        raise UsageError("--nproc starts torchrun itself; leave it out when the command already runs under torchrun")
    argv = torchrun_argv(nproc, current_command_args())
    print(f"bertkit: starting {nproc} processes: torchrun --standalone --nproc_per_node={nproc} -m bertkit {' '.join(argv[7:])}",
          file=sys.stderr, flush=True)
    return subprocess.run(argv, check=False).returncode
