"""``planner report``: a printable district report (HTML, PDF), a spreadsheet and the walk areas."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from planner.cli.common import add_study_arguments, echo, quiet, study_from_args, wrote
from planner.errors import InputError
from planner.io.write import RunFolder
from planner.pipeline import run_study
from planner.report.build import write_report
from planner.scenario import Scenario, compare, read_added


def register(subparsers: Any) -> None:
    """Add ``report`` to the CLI's subparsers.

    Parameters
    ----------
    subparsers
        What ``ArgumentParser.add_subparsers()`` returned.
    """
    p = subparsers.add_parser(
        "report",
        help="a printable report per district (report.html, report.pdf, report.xlsx) and the walk areas",
        description=(
            "Write one folder an official can forward: report.html (self-contained, offline), report.pdf "
            "(printed by headless Chromium when it is installed), report.xlsx (one sheet per table), "
            "service_areas.gpkg (walk areas per kind and facility) and the run's CSVs. Without --add, "
            "the study's [siting] proposals are the sites reported."
        ),
    )
    add_study_arguments(p)
    p.add_argument("--targets", type=Path, help="plan targets to report against (targets TOML)")
    p.add_argument("--add", type=Path, action="append", default=[],
                   help="planned or proposed facilities instead of the study's [siting]: a planner site "
                        "output or a facility file with kind, name, optional year (repeatable)")  # fmt: skip
    p.add_argument("--no-sites", action="store_true", help="report today's coverage only")
    p.add_argument("--no-pdf", action="store_true", help="do not print report.pdf")
    p.add_argument("--no-xlsx", action="store_true", help="do not write report.xlsx")
    p.add_argument(
        "--shapefile", action="store_true", help="also write the walk areas as service_areas.shp (+ .cpg)"
    )
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=run_report_command)


def run_report_command(args: argparse.Namespace) -> int:
    """Run ``planner report``.

    Parameters
    ----------
    args
        Parsed arguments.

    Returns
    -------
    int
        The exit code (0).
    """
    study = study_from_args(args, siting=not args.add and not args.no_sites)  # a plan is reported, not sited
    if args.targets is not None:
        if not args.targets.exists():
            msg = f"--targets {args.targets} does not exist."
            raise InputError(msg)
        study = study.override(targets={"path": args.targets})
    RunFolder(args.out)  # refuse a bad output folder before computing anything
    own_sites = not args.add and not args.no_sites
    result = run_study(study, siting=own_sites, use_cache=not args.no_cache, progress=not quiet(args))
    comparison, planned = None, False
    if args.add and not args.no_sites:
        options = {k: v for k, v in study.facilities_options.items() if k in ("coord_system", "encoding")}
        added = read_added(args.add, kinds=study.kinds, crs=result.network.crs, **options)
        planned = "rank" not in added.columns  # a plan, not a planner site output
        comparison = compare(result, Scenario(added=added, name=", ".join(p.stem for p in args.add)))
    written = write_report(result, args.out, comparison=comparison, lang=study.lang, planned=planned,
                           pdf=not args.no_pdf, xlsx=not args.no_xlsx, shapefile=args.shapefile)  # fmt: skip
    if not args.no_pdf and args.out / "report.pdf" not in written:
        echo(args, "no report.pdf: Chromium was not found (install chromium, or set PLANNER_CHROMIUM)")
    wrote(args, written)
    return 0
