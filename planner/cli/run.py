"""``planner run`` and ``planner coverage``: the study pipeline, printed and written to a folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from planner.cli.common import add_study_arguments, quiet, study_from_args, wrote
from planner.cli.format import format_districts, format_result, format_summary, format_targets
from planner.cli.tiles import add_tile_arguments, run_tiled
from planner.io.datums import DATUM_NAMES
from planner.io.write import RunFolder
from planner.pipeline import StudyResult, run_study, write_study_result


def register(subparsers: Any) -> None:
    """Add ``coverage`` and ``run`` to the CLI's subparsers.

    Parameters
    ----------
    subparsers
        What ``ArgumentParser.add_subparsers()`` returned.
    """
    p = subparsers.add_parser("coverage", help="walking coverage from explicit files (or --study)")
    add_study_arguments(p)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--no-siting", action="store_true", help="skip the study's [siting] table")
    add_tile_arguments(p)
    p.set_defaults(func=run_command)

    p = subparsers.add_parser("run", help="the whole study.toml: coverage, its [siting] and [targets]")
    add_study_arguments(p, study_required=True)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--no-siting", action="store_true", help="skip the study's [siting] table")
    add_tile_arguments(p)  # --tiles/--scheduler: partitioned runs (Dask)
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Run the study pipeline and write its outputs.

    Parameters
    ----------
    args
        Parsed arguments of ``run`` or ``coverage``.

    Returns
    -------
    int
        The exit code (0).
    """
    study = study_from_args(args)
    if getattr(args, "tiles", None):
        return run_tiled(args, study)
    RunFolder(args.out)  # refuse a bad output folder before computing anything
    result = run_study(
        study, use_cache=not args.no_cache, siting=not args.no_siting, progress=not quiet(args)
    )
    written = write_study_result(result, args.out)
    if not quiet(args):
        print_result(result)
    wrote(args, written)
    return 0


def print_result(result: StudyResult) -> None:
    """The run's tables on the terminal: coverage, per district, siting and targets."""
    study, cov = result.study, result.coverage
    print(f"{study.name}: share of each kind's target population within walking time")
    print(f"network {result.network.n_nodes:,} nodes; {len(result.inputs.population):,} cells; "
          f"snap limit {study.max_snap_m:g} m; age groups: {cov.params['age_source']}")  # fmt: skip
    shift = result.inputs.facilities.attrs.get("datum_shift")
    if shift:
        print(f"facilities: {shift['points']:,} points converted from {DATUM_NAMES.get(shift['from'], shift['from'])} to WGS-84; "
              f"moved {shift['mean_m']:,.0f} m on average (at most {shift['max_m']:,.0f} m)")  # fmt: skip
    print(format_summary(cov.summary()))
    if result.districts is not None:
        print("\nper district: share within each kind's threshold (facilities in the district)")
        print(format_districts(cov))
    if result.siting is not None and result.siting_problem is not None:
        print(
            f"\nsiting from the study file ([siting]):\n{format_result(result.siting, result.siting_problem)}"
        )
    if result.targets is not None:
        print(f"\nplan targets ({study.relative(study.targets.path) if study.targets else ''}):")
        print(format_targets(result.targets.table))
    echo_timings(result)


def echo_timings(result: StudyResult) -> None:
    """One line: seconds per step (coverage appears once: it is computed once)."""
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items())
    print(f"timings: {steps}")
