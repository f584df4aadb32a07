"""The ``planner site`` subcommand: where the next facilities of one kind should go.

Wired into :mod:`planner.cli` by ``add_site_command``; settings come from the command line,
then from the ``[siting]`` table of the study file, then from defaults.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from planner.errors import InputError, PlannerError
from planner.outputs import write_layer, write_run_record, write_table
from planner.siting import SitingProblem, SitingResult, read_candidates, solve_siting

logger = logging.getLogger("planner")

_MODELS = ("mclp", "cmclp", "lscp", "pmedian")
_SOLVERS = ("auto", "highs", "scipy", "greedy")
# [siting] keys of study.toml and their types
_KEYS: dict[str, type] = {
    "kind": str, "new": int, "model": str, "share": float, "candidates": str, "spacing_m": float,
    "demand_candidates": int, "capacity": float, "people_per_unit": float, "budget": float,
    "time_limit_s": float, "mip_gap": float, "solver": str, "max_minutes": float, "seed": int,
    "from_scratch": bool,
}  # fmt: skip
_DEFAULTS: dict[str, Any] = {
    "new": None, "model": "mclp", "share": None, "candidates": None, "spacing_m": 100.0,
    "demand_candidates": 0, "capacity": None, "people_per_unit": 1.0, "budget": None,
    "time_limit_s": 60.0, "mip_gap": 0.0, "solver": "auto", "max_minutes": None, "seed": 0,
    "from_scratch": False,
}  # fmt: skip


def add_site_command(subparsers: Any) -> None:
    """Register ``planner site`` on the CLI's subparsers.

    Parameters
    ----------
    subparsers
        The object returned by ``ArgumentParser.add_subparsers``.
    """
    from planner.cli import add_study_arguments

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
    p.add_argument("--new", type=int, help="number of new sites (mclp, cmclp, pmedian)")
    p.add_argument("--model", choices=_MODELS,
                   help="mclp: cover the most people; cmclp: mclp with capacities; lscp: fewest "
                        "sites for full coverage (or --share); pmedian: least walking time")  # fmt: skip
    p.add_argument("--share", type=float, help="lscp: reach this coverage share (0-1, or a percentage)")
    p.add_argument("--candidates", type=Path, help="candidate sites (points; optional cost, capacity)")
    p.add_argument("--spacing-m", type=float, help="spacing of network candidates (default 100 m)")
    p.add_argument("--demand-candidates", type=int,
                   help="add this many candidates at centres of uncovered people (k-means)")  # fmt: skip
    p.add_argument("--capacity", type=float,
                   help="capacity of each new site in the kind's unit (beds, slots…); implies cmclp")  # fmt: skip
    p.add_argument("--people-per-unit", type=float, help="people served per unit of capacity (default 1)")
    p.add_argument("--budget", type=float, help="mclp: limit on the total cost of new sites")
    p.add_argument("--time-limit", dest="time_limit_s", type=float, help="solver time limit, s (default 60)")
    p.add_argument("--mip-gap", type=float, help="stop at this relative gap on newly covered people (default 0)")
    p.add_argument("--solver", choices=_SOLVERS, help="auto (default), highs, scipy or greedy only")
    p.add_argument("--max-minutes", type=float, help="longest walk searched (pmedian: beyond counts as this)")
    p.add_argument("--seed", type=int, help="seed for k-means candidates and the solver (default 0)")
    p.add_argument("--from-scratch", action="store_true", default=None,
                   help="allow a kind with no existing facility")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--by-district", action="store_true",
                   help="split the --new budget across districts by marginal gain and solve each district "
                        "on its own (province scale); reports a bound for that split-up problem")
    p.add_argument("--split", choices=("greedy", "exact"), default="greedy",
                   help="with --by-district: budget split by greedy marginal gains or exactly (slower)")
    p.add_argument("--scheduler", default="serial",
                   help="with --by-district: serial, threads, local (Dask LocalCluster) or a scheduler address")
    p.set_defaults(func=run_site_command)


def _settings(args: argparse.Namespace, config: Mapping[str, Any], base: Path | None) -> dict[str, Any]:
    """CLI values over the study's [siting] table over defaults, type-checked."""
    table = dict(config.get("siting", {}) or {})
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        msg = f"[siting] in the study file has unknown key(s) {unknown}; allowed: {sorted(_KEYS)}."
        raise InputError(msg)
    out = dict(_DEFAULTS)
    for key, value in table.items():
        try:
            out[key] = _KEYS[key](value) if value is not None else None
        except (TypeError, ValueError) as exc:
            msg = f"[siting] {key} = {value!r} is not a {_KEYS[key].__name__}."
            raise InputError(msg) from exc
    if table.get("candidates") and base is not None:
        out["candidates"] = str((base / str(table["candidates"])).resolve())
    for key in _KEYS:
        value = getattr(args, key, None)
        if value is not None and value is not False:
            out[key] = value
    if out.get("share") is not None and out["share"] > 1:
        out["share"] = out["share"] / 100.0
    if out.get("capacity") is not None and out["model"] == "mclp":
        out["model"] = "cmclp"
    return out


def site_from_settings(
    settings: Mapping[str, Any],
    *,
    study: Any,
    network: Any,
    population: Any,
    facilities: Any,
    districts: Any = None,
    progress: bool = False,
) -> tuple[SitingProblem, SitingResult]:
    """Build the problem and solve it, from resolved settings (shared by ``site`` and ``run``).

    Parameters
    ----------
    settings
        Resolved siting settings (see ``_DEFAULTS``), with ``kind``.
    study
        The StudyArea (kinds, snap limit, boundary).
    network, population, facilities, districts
        The loaded inputs.
    progress
        Show progress bars.

    Returns
    -------
    tuple of SitingProblem and SitingResult
    """
    name = settings.get("kind")
    if not name:
        msg = "say which kind to site: --kind eldercare (or kind = \"...\" in [siting])."
        raise InputError(msg)
    if name not in study.kinds:
        msg = f"unknown kind {name!r}; the study has {list(study.kinds)}."
        raise InputError(msg)
    kind = study.kinds[name]
    model = settings["model"]
    if model != "lscp" and not settings.get("new"):
        msg = f"model {model!r} needs the number of new sites: --new N (or new = N in [siting])."
        raise InputError(msg)
    candidates = None
    if settings.get("candidates"):
        opts = getattr(study, "facilities_options", {}) or {}
        candidates = read_candidates(settings["candidates"], assume_crs=opts.get("assume_crs"))
    boundary = study.read_boundary() if getattr(study, "boundary_path", None) else None
    try:
        problem = SitingProblem.from_network(
            network, population, facilities, kind, candidates=candidates,
            spacing_m=float(settings["spacing_m"]), boundary=boundary,
            demand_candidates=int(settings["demand_candidates"] or 0), capacity=settings["capacity"],
            max_snap_m=study.max_snap_m, max_minutes=settings["max_minutes"], districts=districts,
            require_existing=not settings["from_scratch"], seed=settings["seed"], progress=progress,
        )  # fmt: skip
        options: dict[str, Any] = {
            "time_limit_s": float(settings["time_limit_s"]), "mip_gap": float(settings["mip_gap"]),
            "solver": settings["solver"], "seed": settings["seed"],
        }  # fmt: skip
        if model in ("mclp", "cmclp") and settings.get("budget") is not None:
            options["budget"] = float(settings["budget"])
        if model == "cmclp":
            options["people_per_unit"] = float(settings["people_per_unit"])
        result = solve_siting(problem, model, k=settings.get("new"), share=settings.get("share"), **options)
    except ValueError as exc:
        if isinstance(exc, PlannerError):
            raise
        raise InputError(str(exc)) from exc
    except ImportError as exc:
        raise InputError(str(exc)) from exc
    return problem, result


def write_site_outputs(result: SitingResult, out: Path, *, record: Mapping[str, Any] | None = None,
                       run_name: str = "run.toml") -> list[Path]:  # fmt: skip
    """Write sites.gpkg, sites.csv, siting_summary.csv, siting_by_district.csv and a run record.

    Parameters
    ----------
    result
        The siting result.
    out
        Output folder.
    record
        Extra run-record tables (e.g. the study's inputs).
    run_name
        File name of the run record.

    Returns
    -------
    list of pathlib.Path
    """
    sites = result.sites
    table = pd.DataFrame(sites.drop(columns=sites.geometry.name))
    written = []
    if len(sites) and sites.crs is not None:
        written.append(write_layer(sites, out / "sites.gpkg", layer="sites"))
    else:
        logger.warning("no new site to write as a layer (%s)", result.status)
    written.append(write_table(table, out / "sites.csv"))
    written.append(write_table(result.summary(), out / "siting_summary.csv"))
    written.append(write_table(result.coverage_after, out / "siting_by_district.csv"))
    params = {k: v for k, v in result.params.items() if v is not None}
    written.append(write_run_record({**(record or {}), "siting": params,
                                     "result": {"objective": result.objective, "bound": result.bound,
                                                "gap": result.gap, "status": result.status,
                                                "solver": result.solver, "seconds": result.seconds}},
                                    out / run_name))  # fmt: skip
    return written


def format_result(result: SitingResult, problem: SitingProblem) -> str:
    """A readable account of a siting result for the terminal.

    Parameters
    ----------
    result
        The siting result.
    problem
        The problem it solved.

    Returns
    -------
    str
    """
    p = result.params
    what = {"mclp": "most newly covered people", "cmclp": "most newly served people (capacities)",
            "lscp": f"fewest sites for {p.get('goal', '')}", "pmedian": "least walking time"}[result.model]  # fmt: skip
    lines = [
        f"{p.get('kind', '')}: {result.model} ({what}); {p.get('threshold_min', 0):g} min at "
        f"{p.get('speed_kmh') or 0:g} km/h; {problem.n_candidates:,} candidates, "
        f"{problem.params.get('existing_facilities', '?')} existing facilities kept",
    ]
    s = result.sites
    if len(s):
        show = pd.DataFrame({
            "rank": s["rank"], "site": s["candidate_id"],
            "gain": s["gain"].map(lambda v: f"{v:,.0f}"),
            "cumulative": s["cumulative"].map(lambda v: f"{v:,.0f}"),
            "share": s["share"].map(lambda v: f"{100 * v:.1f}%"),
            "lon": s["lon"].map(lambda v: f"{v:.5f}"), "lat": s["lat"].map(lambda v: f"{v:.5f}"),
        })  # fmt: skip
        if "minutes_saved" in s.columns:
            show["person-min saved"] = s["minutes_saved"].map(lambda v: f"{v:,.0f}")
        lines.append(show.to_string(index=False))
    else:
        lines.append("no new site is needed or useful")
    gap = "n/a" if not pd.notna(result.gap) else f"{100 * result.gap:.3f}%"
    lines.append(
        f"objective {result.objective:,.1f} ({p.get('objective_is', '')}); bound {result.bound:,.1f}; "
        f"gap {gap}; {result.status}; {result.solver}; {result.seconds:.2f} s"
    )
    lines.append(
        f"covered: {result.covered_before:,.0f} → {result.covered_after:,.0f} of {result.total:,.0f} "
        f"({100 * result.share_before:.1f}% → {100 * result.share_after:.1f}%)"
    )
    return "\n".join(lines)


def run_site_command(args: argparse.Namespace) -> int:
    """Run ``planner site``: load inputs, build the problem, solve, write and print.

    Parameters
    ----------
    args
        Parsed arguments.

    Returns
    -------
    int
        The exit code.
    """
    from planner.cli import load_inputs

    if getattr(args, "study", None) is None and all(
        getattr(args, n, None) is None for n in ("network", "population", "facilities")
    ) and Path("study.toml").exists():  # fmt: skip
        args.study = Path("study.toml")
    study, network, population, facilities, districts = load_inputs(args)
    base = Path(args.study).resolve().parent if getattr(args, "study", None) else None
    settings = _settings(args, getattr(study, "config", {}) or {}, base)
    quiet = bool(getattr(args, "quiet", False))
    if getattr(args, "by_district", False):
        return _run_by_district(args, settings, study, network, population, facilities, districts, quiet=quiet)
    problem, result = site_from_settings(settings, study=study, network=network, population=population,
                                         facilities=facilities, districts=districts,
                                         progress=not quiet and sys.stderr.isatty())  # fmt: skip
    record = {"study": {"name": study.name, "network": str(study.network_path),
                        "population": str(study.population_path),
                        "facilities": str(study.facilities_path)},
              "problem": {k: v for k, v in problem.params.items() if v is not None}}  # fmt: skip
    written = write_site_outputs(result, Path(args.out), record=record)
    if not quiet:
        print(format_result(result, problem))
        print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _run_by_district(args: argparse.Namespace, settings: Mapping[str, Any], study: Any, network: Any,
                     population: Any, facilities: Any, districts: Any, *, quiet: bool) -> int:  # fmt: skip
    """``planner site --by-district``: MCLP with the budget split across districts."""
    from planner.scale_siting import solve_mclp_by_district

    if districts is None:
        msg = "--by-district needs districts: a [districts] table in the study file."
        raise InputError(msg)
    if settings["model"] != "mclp" or not settings.get("new"):
        msg = "--by-district solves MCLP only: give --new K (and --model mclp)."
        raise InputError(msg)
    kind = study.kinds.get(settings["kind"]) if settings.get("kind") else None
    if kind is None:
        msg = f"--kind must be one of {list(study.kinds)}; got {settings.get('kind')!r}."
        raise InputError(msg)
    result = solve_mclp_by_district(
        network, population, facilities, kind, int(settings["new"]), districts=districts,
        split=args.split, scheduler=args.scheduler, spacing_m=settings["spacing_m"],
        time_limit_s=settings["time_limit_s"], seed=settings["seed"],
    )  # fmt: skip
    out = Path(args.out)
    sites = result.sites
    written = [write_table(sites.drop(columns="geometry", errors="ignore"), out / "sites.csv"),
               write_table(result.allocation, out / "allocation_by_district.csv")]  # fmt: skip
    record = {"by_district": {"kind": kind.name, "k": result.k, "objective": result.objective,
                              "bound": result.bound, "gap": result.gap, "status": result.status,
                              "split": args.split, "scheduler": str(args.scheduler),
                              "bound_is": "for the split-up problem (a site serves its own district only)"}}
    written.append(write_run_record(record, out / "run.toml"))
    if not quiet:
        print(f"{kind.name}: {result.k} new sites split across {len(result.allocation)} districts "
              f"({args.split} split); objective {result.objective:,.0f} newly covered, bound "
              f"{result.bound:,.0f}, gap {result.gap:.3%} (bound for the split-up problem)")
        alloc = result.allocation
        print(alloc[alloc["k"] > 0].to_string(index=False))
        print("wrote " + ", ".join(str(p) for p in written))
    return 0


def run_siting_from_study(
    study: Any, network: Any, population: Any, facilities: Any, districts: Any, out: Path,
    *, study_path: Path | None = None, progress: bool = False, echo: bool = False,
) -> list[Path]:  # fmt: skip
    """Run the ``[siting]`` table of a study file (for ``planner run``); writes into ``out``.

    Parameters
    ----------
    study
        The StudyArea; nothing happens without a ``[siting]`` table.
    network, population, facilities, districts
        The loaded inputs.
    out
        Output folder (files are the same as ``planner site`` writes, run record
        ``siting_run.toml``).
    study_path
        The study file, so that a relative ``candidates`` path is read beside it.
    progress
        Show progress bars.
    echo
        Print the result table (the CLI); otherwise it is logged at INFO.

    Returns
    -------
    list of pathlib.Path
        The files written (empty without ``[siting]``).
    """
    config = getattr(study, "config", {}) or {}
    if "siting" not in config:
        return []
    base = Path(study_path).resolve().parent if study_path is not None else Path.cwd()
    settings = _settings(argparse.Namespace(), config, base)
    problem, result = site_from_settings(settings, study=study, network=network, population=population,
                                         facilities=facilities, districts=districts, progress=progress)  # fmt: skip
    text = format_result(result, problem)
    if echo:
        print(f"\nsiting from the study file ([siting]):\n{text}")
    else:
        logger.info("siting from the study file:\n%s", text)
    return write_site_outputs(result, Path(out), record={"problem": dict(problem.params)},
                              run_name="siting_run.toml")  # fmt: skip
