"""The command-line interface (a thin layer over the library API)."""

__all__ = ["main"]


def main(argv=None):
    from bertkit.cli.app import main as _main

    return _main(argv)
