"""``planner targets``: the plan's indicators per district against a targets file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from planner.cli.common import add_study_arguments, quiet, study_from_args, wrote
from planner.cli.format import format_targets
from planner.errors import InputError
from planner.i18n import word
from planner.io.write import RunFolder
from planner.pipeline import kind_labels, relative_paths, run_study, study_record, write_targets
from planner.study import ACCESS_METHODS
from planner.targets import read_targets


def register(subparsers: Any) -> None:
    """Add ``targets`` to the CLI's subparsers.

    Parameters
    ----------
    subparsers
        What ``ArgumentParser.add_subparsers()`` returned.
    """
    p = subparsers.add_parser("targets", help="indicators per district against a plan's targets file")
    add_study_arguments(p)
    p.add_argument(
        "--targets", type=Path, help="targets TOML ([[target]] entries); default: the study's [targets]"
    )
    p.add_argument("--method", choices=ACCESS_METHODS,
                   help="catchment method for basis='reachable' capacity targets (default 2sfca)")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=run_targets_command)


def run_targets_command(args: argparse.Namespace) -> int:
    """Run ``planner targets``: coverage of the kinds the targets name, then the indicators.

    Parameters
    ----------
    args
        Parsed arguments of the ``targets`` subcommand.

    Returns
    -------
    int
        The exit code (0).
    """
    study = study_from_args(args, siting=False)
    changes = {k: v for k, v in (("path", args.targets), ("method", args.method)) if v is not None}
    study = study.override(targets=changes) if changes else study
    if study.targets is None:
        msg = 'give --targets targets.toml (or a [targets] table with path = "..." in the study file).'
        raise InputError(msg)
    targets = read_targets(study.targets.path, kinds=list(study.kinds))
    study = study.select_kinds(sorted({t.kind for t in targets.targets}))
    run = RunFolder(args.out, lang=study.lang, kind_labels=kind_labels(study))
    result = run_study(study, use_cache=not args.no_cache, siting=False,
                       progress=not quiet(args))  # fmt: skip
    assert result.targets is not None
    assert study.targets is not None
    out = Path(args.out)
    with run:
        write_targets(result, run)
        record = {"study": study_record(study, out), "coverage": dict(result.coverage.params),
                  "targets": dict(result.targets.params), "timings": dict(result.timings)}  # fmt: skip
        if result.access is not None:
            record["access"] = dict(result.access.params)
        run.finish(relative_paths(record, out))
    if not quiet(args):
        lang = study.lang
        print(f"{study.name}: {word('plan_targets', lang)} ({study.relative(study.targets.path)})")
        print(format_targets(result.targets.table, lang=lang, kinds=result.coverage.kinds))
        if len(result.targets.blank_zones):
            print(word("blank_zones", lang, n=len(result.targets.blank_zones)))
    wrote(args, run.written)
    return 0
