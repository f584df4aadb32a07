"""``planner run`` and ``planner coverage``: the study pipeline, printed and written to a folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from planner.cli.common import add_study_arguments, quiet, study_from_args, wrote
from planner.cli.format import format_districts, format_result, format_summary, format_targets
from planner.cli.tiles import add_tile_arguments, run_tiled
from planner.i18n import WORDS, word
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
    """The run's tables on the terminal: coverage, per district, siting and targets (in the study's language)."""
    study, cov = result.study, result.coverage
    lang = study.lang
    print(f"{study.name}: {word('coverage_title', lang)}")
    ages = (
        word(cov.params["age_source"], lang)
        if cov.params["age_source"] in WORDS
        else cov.params["age_source"]
    )
    print(word("network_line", lang, nodes=f"{result.network.n_nodes:,}", cells=f"{len(result.inputs.population):,}",
               snap=f"{study.max_snap_m:g}", ages=ages))  # fmt: skip
    shift = result.inputs.facilities.attrs.get("datum_shift")
    if shift:
        print(word("datum_line", lang, points=f"{shift['points']:,}", datum=DATUM_NAMES.get(shift["from"], shift["from"]),
                   mean=f"{shift['mean_m']:,.0f}", max=f"{shift['max_m']:,.0f}"))  # fmt: skip
    print(format_summary(cov.summary(), lang=lang, kinds=cov.kinds))
    if result.districts is not None:
        print(f"\n{word('per_district', lang)}")
        print(format_districts(cov, lang=lang))
    if result.siting is not None and result.siting_problem is not None:
        print(
            f"\n{word('siting_from_study', lang)}\n{format_result(result.siting, result.siting_problem, lang=lang, kinds=cov.kinds)}"
        )
    if result.targets is not None:
        where = study.relative(study.targets.path) if study.targets else ""
        print(f"\n{word('plan_targets', lang)} ({where}):")
        print(format_targets(result.targets.table, lang=lang, kinds=cov.kinds))
    echo_timings(result)


def echo_timings(result: StudyResult) -> None:
    """One line: seconds per step (coverage appears once: it is computed once)."""
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items())
    print(f"{word('timings', result.study.lang)}: {steps}")
