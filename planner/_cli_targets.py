"""The ``planner targets`` command: indicators per district against a plan's targets file."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import pandas as pd

logger = logging.getLogger("planner")


def add_targets_command(subparsers: Any) -> None:
    """Register ``planner targets`` on the CLI's subparsers.

    Parameters
    ----------
    subparsers
        The object returned by ``ArgumentParser.add_subparsers``.
    """
    from planner.cli import add_study_arguments

    p = subparsers.add_parser("targets", help="indicators per district against a plan's targets file")
    add_study_arguments(p)
    p.add_argument("--targets", type=Path, required=True, help="targets TOML ([[target]] entries)")
    p.add_argument("--method", choices=("2sfca", "e2sfca"), default="2sfca",
                   help="catchment method for basis='reachable' capacity targets")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=run_targets_command)


def format_targets(table: pd.DataFrame) -> str:
    """The targets table for the terminal: one line per target and scope."""
    if table.empty:
        return "(no targets)"
    view = pd.DataFrame({
        "scope": table["scope"],
        "indicator": table["label"],
        "current": table["current"].map(lambda v: "-" if pd.isna(v) else f"{v:,.3g}"),
        "target": table["target"].map(lambda v: f"{v:,.3g}"),
        "gap": table["gap"].map(lambda v: f"{v:,.3g}"),
        "met": table["met"].map({True: "yes", False: "NO"}),
        "needed": [
            "" if pd.isna(n) or n == 0 else f"{n:,.0f} {u}" if n >= 10 else f"{n:.3g} {u}"
            for n, u in zip(table["needed"], table["needed_unit"], strict=True)
        ],
    })  # fmt: skip
    return view.to_string(index=False)


def run_targets_command(args: argparse.Namespace) -> int:
    """Run ``planner targets``: coverage (and access when needed), indicators, outputs.

    Parameters
    ----------
    args
        Parsed arguments of the ``targets`` subcommand.

    Returns
    -------
    int
        The exit code (0).
    """
    from planner.access import compute_access
    from planner.cli import load_inputs
    from planner.coverage import compute_coverage
    from planner.outputs import write_run_record, write_table
    from planner.targets import evaluate_targets, read_targets

    study, network, population, facilities, districts = load_inputs(args)
    targets = read_targets(args.targets, kinds=list(study.kinds))
    used = sorted({t.kind for t in targets.targets})
    kinds = {k: study.kinds[k] for k in used}
    facilities = facilities[facilities["kind"].isin(used)]
    minutes = sorted({*study.thresholds_min, *(t.minutes for t in targets.targets if t.minutes is not None)})
    coverage = compute_coverage(
        network, population, facilities, kinds=kinds, thresholds_min=minutes,
        max_snap_m=study.max_snap_m, districts=districts, progress=not getattr(args, "quiet", False),
    )  # fmt: skip
    reach_kinds = sorted({t.kind for t in targets.targets
                          if t.indicator == "per_1000_target" and t.basis == "reachable"})  # fmt: skip
    access = None
    if reach_kinds:
        access = compute_access(network, coverage, method=args.method, kinds=reach_kinds,
                                default_capacity=dict(targets.default_capacity) or None)  # fmt: skip
    report = evaluate_targets(coverage, targets, access=access)
    out: Path = args.out
    written = [
        write_table(report.table, out / "targets.csv"),
        write_table(report.blank_zones, out / "blank_zones.csv"),
    ]
    if access is not None:
        written.append(write_table(access.split(by=targets.by), out / "access_split.csv"))
        written.append(write_table(access.facilities.reset_index(), out / "access_facilities.csv"))
    record = {
        "study": {"name": study.name, "network": str(study.network_path), "population": str(study.population_path),
                  "facilities": str(study.facilities_path), "districts": str(study.districts_path or ""),
                  "targets": str(args.targets)},
        "coverage": {k: (dict(v) if isinstance(v, dict) else v) for k, v in coverage.params.items()},
        "targets": {k: v for k, v in report.params.items() if v is not None},
    }
    if access is not None:
        record["access"] = {k: v for k, v in access.params.items() if v is not None}
    written.append(write_run_record(record, out / "run.toml"))
    if not getattr(args, "quiet", False):
        print(f"{study.name}: plan targets ({args.targets})")
        print(format_targets(report.table))
        if len(report.blank_zones):
            print(f"blank zones: {len(report.blank_zones)} (see blank_zones.csv)")
        print("wrote " + ", ".join(str(p) for p in written))
    return 0
