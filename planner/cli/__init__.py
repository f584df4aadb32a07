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
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from planner.cli import compare, demand, report, run, site, targets
from planner.cli import map as map_command
from planner.cli.common import cli_lang
from planner.errors import PlannerError
from planner.i18n import word

#: The subcommand modules, each with ``register(subparsers)``: a new command is one entry here.
COMMANDS = (run, site, compare, targets, map_command, demand, report)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the usage is one ``-h`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(
        prog="planner",
        description="Walking coverage of community facilities, and where the next ones should go.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log lines (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


class _PlainWarnings(logging.Filter):
    """A warning as one line of text (no file, line number and source line), in the user's language."""

    _WARNING = re.compile(r"^.*?:\d+: \w+: (.*?)\n.*$", re.S)

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "py.warnings":
            match = self._WARNING.match(record.getMessage())
            if match:
                record.msg, record.args = match.group(1), None
            record.name = "planner"
        if self.lang == "zh":
            record.levelname = {"WARNING": "警告", "ERROR": "错误"}.get(record.levelname, record.levelname)
        return True


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
    for handler in logging.getLogger().handlers:
        handler.addFilter(_PlainWarnings(cli_lang(args)))
    if level > logging.INFO:  # Dask logs each worker's start and stop at INFO; read when it loads
        os.environ.setdefault(
            "DASK_LOGGING__DISTRIBUTED", logging.getLevelName(max(level, logging.WARNING)).lower()
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for bad input, with a one-line message)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # -h, or a one-line usage error (see _Parser.error)
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    _configure_logging(args)
    try:
        return int(args.func(args))
    except PlannerError as exc:
        lang = cli_lang(args)
        print(f"planner: {word('error', lang)}: {exc.text(lang)}", file=sys.stderr)
        return 2
    except OSError as exc:  # permissions, a full disk, a missing folder: the machine, not planner
        where = f" {exc.filename}" if exc.filename else ""
        print(f"planner: error: cannot write or read{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            "planner: error: out of memory; use a smaller area, or tiles (planner run --tiles 5000)",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("planner: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
