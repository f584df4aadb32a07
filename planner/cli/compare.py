"""``planner compare``: the study before and after a scenario (sites added, planned, closed)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from planner.cli.common import add_study_arguments, quiet, study_from_args, wrote
from planner.cli.format import format_comparison
from planner.errors import InputError
from planner.io.population import read_population
from planner.io.write import RunFolder, write_layer
from planner.pipeline import kind_labels, run_record, run_study
from planner.scenario import Comparison, Scenario, compare, read_added, read_removed


def register(subparsers: Any) -> None:
    """Add ``compare`` to the CLI's subparsers.

    Parameters
    ----------
    subparsers
        What ``ArgumentParser.add_subparsers()`` returned.
    """
    p = subparsers.add_parser(
        "compare",
        help="coverage and targets before and after adding, planning or closing facilities",
        description=(
            "Compare the study with a scenario: facilities added (a planner site output or any "
            "facility file with kind, name, optional capacity and year), facilities removed, or "
            "another population. Same network, snapping and rule on both sides."
        ),
    )
    add_study_arguments(p)
    p.add_argument("--add", type=Path, action="append", default=[],
                   help="facilities to add: sites.csv/sites.gpkg of planner site, or a facility file (repeatable)")  # fmt: skip
    p.add_argument("--remove", help="facilities that close: a file with a facility_id/id/name column, "
                   "or comma-separated ids or names")  # fmt: skip
    p.add_argument("--after-population", type=Path, help="another population for the after side (e.g. 2025)")
    p.add_argument("--targets", type=Path, help="plan targets to measure before and after (targets TOML)")
    p.add_argument("--name", default="scenario", help="a label for the scenario")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=run_compare_command)


def run_compare_command(args: argparse.Namespace) -> int:
    """Run ``planner compare``: before, the scenario, after; write and print the comparison.

    Parameters
    ----------
    args
        Parsed arguments.

    Returns
    -------
    int
        The exit code (0).
    """
    if not (args.add or args.remove or args.after_population):
        msg = (
            "give what changes: --add FILE (repeatable), --remove FILE_OR_IDS and/or --after-population FILE."
        )
        raise InputError(msg)
    study = study_from_args(args, siting=False)
    if args.targets is not None:
        study = study.override(targets={"path": args.targets})
    run = RunFolder(
        args.out, lang=study.lang, kind_labels=kind_labels(study)
    )  # refuse a bad output folder before computing anything
    before = run_study(study, siting=False, use_cache=not args.no_cache, progress=not quiet(args))
    scenario = scenario_from_args(args, before)
    comparison = compare(before, scenario, progress=not quiet(args))
    out = Path(args.out)
    with run:
        write_comparison(comparison, run)
        record = {"before": run_record(before, out), "after": run_record(comparison.after, out),
                  "scenario": dict(comparison.params)}  # fmt: skip
        run.finish(record)
    if not quiet(args):
        print(format_comparison(comparison, lang=study.lang, kinds=study.kinds))
    wrote(args, run.written)
    return 0


def scenario_from_args(args: argparse.Namespace, before: Any) -> Scenario:
    """The scenario the command line describes (files read against the study's CRS and kinds)."""
    study = before.study
    crs = before.network.crs
    options = {k: v for k, v in study.facilities_options.items() if k in ("coord_system", "encoding")}
    added = read_added(args.add, kinds=study.kinds, crs=crs, **options) if args.add else None
    removed = read_removed(args.remove, before.inputs.facilities) if args.remove else ()
    population = None
    if args.after_population is not None:
        population = read_population(args.after_population, **study.population_options)
    sources = {"add": [p.name for p in args.add], "remove": str(args.remove or ""),
               "after_population": args.after_population.name if args.after_population else ""}  # fmt: skip
    return Scenario(added=added, removed=removed, population=population, name=args.name, sources=sources)


def write_comparison(comparison: Comparison, run: RunFolder) -> None:
    """``compare.csv``, ``compare_by_district.csv``, ``compare_targets.csv``, ``trajectory.csv``,
    ``sites_added.csv``/``.gpkg`` and ``cells_changed.gpkg``."""
    run.table(comparison.table, "compare.csv")
    if comparison.by_district is not None:
        run.table(comparison.by_district, "compare_by_district.csv")
    if comparison.targets is not None:
        run.table(comparison.targets, "compare_targets.csv")
    if comparison.trajectory is not None:
        run.table(comparison.trajectory, "trajectory.csv")
    if comparison.trajectory_targets is not None:
        run.table(comparison.trajectory_targets, "trajectory_targets.csv")
    sites = comparison.sites
    if len(sites):
        run.table(pd.DataFrame(sites.drop(columns="geometry")), "sites_added.csv")
        write_layer(sites, run.path("sites_added.gpkg"), layer="sites")
    changed = pd.concat([comparison.newly_covered().assign(change="newly covered"),
                         comparison.newly_lost().assign(change="newly lost")])  # fmt: skip
    if len(changed):
        write_layer(changed.reset_index(), run.path("cells_changed.gpkg"), layer="cells")
