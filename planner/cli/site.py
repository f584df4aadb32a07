"""``planner site``: where the next facilities of one kind should go.

Settings come from the command line, then from the ``[siting]`` table of the study file, then
from defaults (:class:`~planner.study.SitingSettings`).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path
from typing import Any

from planner.cli.common import add_study_arguments, positive, quiet, study_from_args, wrote
from planner.cli.format import format_result
from planner.errors import InputError
from planner.io.write import RunFolder
from planner.pipeline import kind_labels, load_inputs, relative_paths, run_study, study_record, write_siting
from planner.scale.siting import solve_mclp_by_district
from planner.siting.models import COMMON_OPTIONS, MODELS
from planner.study import SOLVERS, SitingSettings, StudyArea

logger = logging.getLogger("planner")

# command-line destinations that are [siting] fields
_FIELDS = tuple(f.name for f in dataclasses.fields(SitingSettings))


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        msg = f"expected a whole number of sites, 1 or more; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return n


def _pairs(kind: str, value: type) -> Any:
    """An argparse type for ``key:value,key:value`` (``2025:1,2026:1``, ``30:1,60:1.6``)."""

    def parse(text: str) -> dict[Any, Any]:
        out = {}
        for part in text.split(","):
            key, sep, val = part.partition(":")
            try:
                if not sep:
                    raise ValueError
                out[key.strip()] = value(val)
            except ValueError:
                msg = f"expected {kind} pairs like {_EXAMPLES[kind]}; got {text!r}"
                raise argparse.ArgumentTypeError(msg) from None
        return out

    return parse


_EXAMPLES = {
    "year:sites": "2025:1,2026:1",
    "places:cost": "30:1,60:1.6,120:2.5",
    "kind:number": "eldercare:2,nursery:1",
}


def _phases(text: str) -> list[int] | dict[str, int]:
    """``1,1,1`` (sites per phase) or ``2025:1,2026:1`` (sites per year)."""
    if ":" in text:
        years = _pairs("year:sites", int)(text)
        if not all(y.isdigit() for y in years):
            msg = f"expected years such as 2025:1,2026:1; got {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return years
    try:
        counts = [int(p) for p in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 0:
        msg = f"expected sites per phase such as 1,1,1 (or per year, 2025:1,2026:1); got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return counts


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _whole(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        msg = f"expected a whole number, 0 or more; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return n


def register(subparsers: Any) -> None:
    """Add ``site`` to the CLI's subparsers.

    Parameters
    ----------
    subparsers
        What ``ArgumentParser.add_subparsers()`` returned.
    """
    p = subparsers.add_parser(
        "site",
        help="propose new sites for one kind (MCLP, LSCP, p-median), solved to a proven optimum",
        description=(
            "Choose where new facilities of one kind should go. Existing facilities stay; the "
            "people they cover are not counted again. Settings not given here come from the "
            "[siting] table of --study."
        ),
    )
    add_study_arguments(p)
    p.add_argument("--kind", help="facility kind to site, e.g. eldercare")
    p.add_argument("--new", type=_count, help="number of new sites (mclp, cmclp, pmedian)")
    p.add_argument("--model", choices=list(MODELS),
                   help="mclp: cover the most people; cmclp: mclp with capacities; lscp: fewest "
                        "sites for full coverage (or --share); pmedian: least walking time")  # fmt: skip
    p.add_argument("--share", type=positive, help="lscp: reach this coverage share (0-1, or a percentage)")
    p.add_argument("--candidates", type=Path, help="candidate sites (points; optional cost, capacity)")
    p.add_argument("--spacing-m", type=positive, help="spacing of network candidates (default 100 m)")
    p.add_argument("--demand-candidates", type=_count,
                   help="add this many candidates at centres of uncovered people (k-means)")  # fmt: skip
    p.add_argument("--capacity", type=positive,
                   help="capacity of each new site in the kind's unit (beds, slots…); implies cmclp")  # fmt: skip
    p.add_argument("--people-per-unit", type=positive, help="people served per unit of capacity (default 1)")
    p.add_argument("--budget", type=positive, help="mclp: limit on the total cost of new sites")
    p.add_argument(
        "--time-limit", dest="time_limit_s", type=positive, help="solver time limit, s (default 60)"
    )
    p.add_argument(
        "--mip-gap", type=float, help="stop at this relative gap on newly covered people (default 0)"
    )
    p.add_argument("--solver", choices=SOLVERS, help="auto (default), highs, scipy or greedy only")
    p.add_argument(
        "--max-minutes", type=positive, help="longest walk searched (pmedian: beyond counts as this)"
    )
    p.add_argument("--seed", type=int, help="seed for k-means candidates and the solver (default 0)")
    g = p.add_argument_group("plans (phases, per-unit rules, land, shared centres, sizes)")
    g.add_argument("--phases", type=_phases,
                   help="phased plan: sites per phase (1,1,1,1,1) or per year (2025:1,2026:1); a nested build "
                        "order maximising coverage summed over the phases")  # fmt: skip
    g.add_argument(
        "--unit-column", help="population column of the units for --min/--max-per-unit (street, community)"
    )
    g.add_argument(
        "--min-per-unit", type=_whole, help="at least this many sites (existing ones count) in every unit"
    )
    g.add_argument(
        "--max-per-unit", type=_whole, help="at most this many sites (existing ones count) in any unit"
    )
    g.add_argument("--exclude", dest="excluded", type=Path, help="polygons where no new site may go")
    g.add_argument("--shared", dest="shared_kinds", type=_names,
                   help="shared centres: site these kinds together, e.g. eldercare,meal_site,nursery")  # fmt: skip
    g.add_argument("--kind-weights", type=_pairs("kind:number", float), help="shared: weight per kind")
    g.add_argument("--kind-cost", type=_pairs("kind:number", float), help="shared: cost of hosting each kind")
    g.add_argument(
        "--site-cost", type=positive, help="shared: cost of opening a site (default: candidate cost)"
    )
    g.add_argument("--sizes", type=_pairs("places:cost", float),
                   help="cmclp: facility sizes to choose from, places:cost (30:1,60:1.6,120:2.5)")  # fmt: skip
    p.add_argument("--from-scratch", action="store_true", default=None,
                   help="allow a kind with no existing facility")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument(
        "--by-district",
        action="store_true",
        help="split the --new budget across districts by marginal gain and solve each district "
        "on its own (province scale); reports a bound for that split-up problem",
    )
    p.add_argument(
        "--split",
        choices=("greedy", "exact"),
        default="greedy",
        help="with --by-district: budget split by greedy marginal gains or exactly (slower)",
    )
    p.add_argument(
        "--scheduler",
        default="serial",
        help="with --by-district: serial, threads, local (Dask LocalCluster) or a scheduler address",
    )
    p.set_defaults(func=run_site_command)


def siting_overrides(args: argparse.Namespace, study: StudyArea) -> dict[str, Any]:
    """``[siting]`` fields given on the command line.

    When the command line changes the model, what the study file set for the old model and
    the new one does not take (``new`` for the LSCP, ``share`` for the others, ``budget``…)
    is dropped: an option the new model ignores is an error only when given here.
    """
    given = {k: getattr(args, k) for k in _FIELDS if getattr(args, k, None) is not None}
    for key in ("candidates", "excluded"):
        if key in given:
            given[key] = Path(given[key]).resolve()
    current = study.siting or SitingSettings()
    if "phases" in given and "new" not in given:  # the phases say how many
        given["new"] = None
    if "new" in given and "phases" not in given and current.phases is not None:
        logger.info("[siting] phases from the study file give way to --new; left out")
        given["phases"] = given["phase_weights"] = None
    model = given.get("model")
    if model is not None and model != current.model:
        spec = MODELS[model]
        takes = COMMON_OPTIONS | spec.options
        unused = {"new": not spec.needs_k, "shared_kinds": model != "shared"}
        for key in ("share", "budget", "people_per_unit", "phases", "phase_weights", "unit_column", "min_per_unit",
                    "max_per_unit", "sizes", "kind_weights", "kind_cost", "site_cost"):  # fmt: skip
            unused[key] = key not in takes
        for key, drop in unused.items():
            if drop and key not in given and getattr(current, key) is not None:
                logger.info(
                    "[siting] %s from the study file does not apply to model %s; left out", key, model
                )
                given[key] = None
    return given


def run_site_command(args: argparse.Namespace) -> int:
    """Run ``planner site``: the study with its [siting] settings overridden, solved and written.

    Parameters
    ----------
    args
        Parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    if getattr(args, "study", None) is None and all(
        getattr(args, n, None) is None for n in ("network", "population", "facilities")
    ) and Path("study.toml").exists():  # fmt: skip
        args.study = Path("study.toml")
    study = study_from_args(args)
    study = study.override(siting=siting_overrides(args, study))
    settings = study.siting
    if settings is not None and settings.kind is None and settings.shared_kinds:
        study = study.override(siting={"kind": settings.shared_kinds[0]})
        settings = study.siting
    if settings is None or settings.kind is None:
        msg = 'say which kind to site: --kind eldercare (or kind = "..." in [siting]).'
        raise InputError(msg)
    run = RunFolder(args.out, lang=study.lang, kind_labels=kind_labels(study))
    study = study.select_kinds(settings.shared_kinds if settings.model_name == "shared" and settings.shared_kinds
                               else [settings.kind])  # fmt: skip
    if args.by_district:
        return _run_by_district(args, study, run)
    result = run_study(study, use_cache=not args.no_cache, targets=False,
                       progress=not quiet(args))  # fmt: skip
    assert result.siting is not None
    assert result.siting_problem is not None
    out = Path(args.out)
    with run:
        write_siting(result.siting, run)
        record = {"study": study_record(study, out), "problem": dict(result.siting_problem.params),
                  "siting": dict(result.siting.params), "timings": dict(result.timings)}  # fmt: skip
        run.finish(relative_paths(record, out))
    if not quiet(args):
        print(format_result(result.siting, result.siting_problem, lang=study.lang, kinds=study.kinds))
    wrote(args, run.written)
    return 0


def _run_by_district(args: argparse.Namespace, study: StudyArea, run: RunFolder) -> int:
    """``planner site --by-district``: MCLP with the budget split across districts."""
    s = study.siting
    assert s is not None
    assert s.kind is not None
    if study.districts_path is None:
        msg = "--by-district needs districts: a [districts] table in the study file."
        raise InputError(msg)
    if s.model_name != "mclp" or not s.new:
        msg = "--by-district solves MCLP only: give --new K (and --model mclp)."
        raise InputError(msg)
    inputs = load_inputs(study, use_cache=not args.no_cache)
    kind = study.kinds[s.kind]
    result = solve_mclp_by_district(
        inputs.network, inputs.population, inputs.facilities, kind, int(s.new), districts=inputs.districts,
        split=args.split, scheduler=args.scheduler, spacing_m=s.spacing_m, time_limit_s=s.time_limit_s,
        seed=s.seed, max_snap_m=study.max_snap_m,
    )  # fmt: skip
    out = Path(args.out)
    with run:
        run.table(result.sites.drop(columns="geometry", errors="ignore"), "sites.csv")
        run.table(result.allocation, "allocation_by_district.csv")
        record = {
            "study": study_record(study, out),
            "by_district": {
                "kind": kind.name,
                "k": result.k,
                "objective": result.objective,
                "bound": result.bound,
                "gap": result.gap,
                "status": result.status,
                "split": args.split,
                "scheduler": str(args.scheduler),
                "bound_is": "for the split-up problem (a site serves its own district only)",
            },
        }
        run.finish(relative_paths(record, out))
    if not quiet(args):
        print(
            f"{kind.name}: {result.k} new sites split across {len(result.allocation)} districts "
            f"({args.split} split); objective {result.objective:,.0f} newly covered, bound "
            f"{result.bound:,.0f}, gap {result.gap:.3%} (bound for the split-up problem)"
        )
        alloc = result.allocation
        print(alloc[alloc["k"] > 0].to_string(index=False))
    wrote(args, run.written)
    return 0
