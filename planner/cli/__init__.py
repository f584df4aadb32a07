"""The ``planner`` command line: argument parsing and printing around the library's pipeline.

One module per subcommand (:mod:`~planner.cli.run`, :mod:`~planner.cli.site`, :mod:`~planner.cli.compare`,
:mod:`~planner.cli.targets`, :mod:`~planner.cli.map`, :mod:`~planner.cli.demand`, :mod:`~planner.cli.report`; tiled runs in
:mod:`~planner.cli.tiles`), what they share in :mod:`~planner.cli.common` and
:mod:`~planner.cli.format`. Nothing in planner imports this package.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from planner.cli import compare, demand, report, run, site, targets
from planner.cli import map as map_command
from planner.errors import PlannerError

#: The subcommand modules, each with ``register(subparsers)``: a new command is one entry here.
COMMANDS = (run, site, compare, targets, map_command, demand, report)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="planner",
        description="Walking coverage of community facilities, and where the next ones should go.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log lines (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.WARNING
    if args.quiet:
        level = logging.ERROR
    elif args.verbose >= 2:
        level = logging.DEBUG
    elif args.verbose == 1:
        level = logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.captureWarnings(True)
    if level > logging.INFO:  # Dask logs each worker's start and stop at INFO; read when it loads
        os.environ.setdefault(
            "DASK_LOGGING__DISTRIBUTED", logging.getLevelName(max(level, logging.WARNING)).lower()
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for bad input, with a one-line message)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args)
    try:
        return int(args.func(args))
    except PlannerError as exc:
        print(f"planner: error: {exc}", file=sys.stderr)
        return 2
    except (PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        print(f"planner: error: cannot write or read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("planner: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
