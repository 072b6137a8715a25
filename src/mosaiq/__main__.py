"""``mosaiq`` and ``python -m mosaiq``.

``mosaiq --version`` and ``mosaiq --help`` are answered here without importing the command-line
library (typer takes longer to import than Python takes to start): the version is a constant and
the help text is the one :func:`mosaiq.cli.write_help` rendered (a test checks that both are what
the full command line prints). Everything else goes to :func:`mosaiq.cli.main`.
"""

from __future__ import annotations

import os
import sys


def _columns() -> int:
    """The terminal width as ``shutil.get_terminal_size`` (which click uses) would give it."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            stream = sys.__stdout__
            columns = os.get_terminal_size(stream.fileno()).columns if stream else 0
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def main() -> None:
    args = sys.argv[1:]
    if args == ["--version"]:
        from mosaiq._version import __version__

        sys.stdout.write(f"mosaiq {__version__}\n")
        return
    if args == ["--help"] and _columns() >= 80:  # narrower terminals wrap differently
        from mosaiq._help import HELP

        sys.stdout.write(HELP)
        return
    from mosaiq.cli import main as full

    full()


if __name__ == "__main__":
    main()
