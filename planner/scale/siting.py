"""Maximal covering by district: a k-site budget split by marginal gains, with a global bound.

The problem solved here (and the only one the bound is valid for)
-----------------------------------------------------------------
Every cell joins the district holding its centre, and every candidate site the district
holding it. A site in district ``d`` is allowed to count **only the cells of district
d**: the districts are treated as independent MCLPs that share one budget of ``k`` sites.
Call ``OPT_d(j)`` the best newly covered population of district ``d`` with ``j`` sites;
the decomposed problem is ``max sum_d OPT_d(k_d)`` over ``sum_d k_d = k``.

This is a *restriction* of the whole-area MCLP (:func:`planner.siting.mclp.solve_mclp`): a site
near a border that would also reach the neighbour's cells gets no credit for them, and
cells outside every district are not counted at all. So the decomposed objective is at most
the whole-area optimum, and the bound reported here bounds the **decomposed** problem, not
the whole-area one (a whole-area solution may beat it by using border sites). The sites
chosen here, evaluated on the whole area, cover at least the decomposed objective.

Steps
-----
1. Per district, a :class:`~planner.siting.SitingProblem` with that district's cells and
   candidates (the network is the whole one; existing facilities are all kept, so cells
   already covered from across a border are not counted again), and its lazy-greedy gain
   curve ``g_d(1..k)``.
2. The budget is split greedily: each next site goes to the district whose greedy curve
   gains most from it. Greedy curves are concave (submodularity: greedy gains never rise),
   and for concave curves this greedy split is the exact optimum of ``max sum_d g_d(k_d)``.
   It is a heuristic for the true curves ``OPT_d``, which need not be concave; the bound
   below says how much that can cost. ``split="exact"`` instead solves every district's
   MILP for every ``j = 1..k`` and splits by dynamic programming on those optima: the
   exact optimum of the decomposed problem (when each MILP is proven), at up to ``k``
   MILPs per district.
3. Each district is solved exactly with its ``k_d`` (HiGHS, per district time limit).
4. The global bound is ``max sum_d u_d(j_d)`` over ``sum_d j_d = k``, solved exactly by a
   small dynamic programme, where ``u_d(j) >= OPT_d(j)`` is the least of: the
   Nemhauser–Wolsey bounds ``f(S_i) + (sum of the j largest gains given S_i)`` over every
   greedy prefix ``S_i``; ``g_d(j) / (1 - (1 - 1/j)^j)``; the district's coverable
   population; the MIP bound proven at ``k_d`` (valid for every ``j <= k_d``, as ``OPT_d``
   never falls with ``j``); and ``u_d(j')`` for ``j' > j``. No concavity is needed for it.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.coverage import join_districts
from planner.errors import InputError
from planner.kinds import DEFAULT_SPACING_M, DISTRICT, NO_DISTRICT, FacilityKind
from planner.network import WalkNetwork
from planner.scale.execute import dask_client
from planner.siting.candidates import candidate_sites, prepare_candidates
from planner.siting.greedy import greedy_coverage
from planner.siting.mclp import solve_mclp
from planner.siting.problem import SitingProblem, resolve_kind
from planner.siting.result import SitingResult

logger = logging.getLogger(__name__)

_NOT_PER_DISTRICT = ("candidates", "boundary", "demand_candidates", "districts")


@dataclass(frozen=True)
class DistrictSitingResult:
    """New sites from per-district MCLPs sharing one budget, with the decomposed problem's bound.

    Attributes
    ----------
    sites
        One row per new site: the districts' ``solve_mclp`` site tables merged in build
        order (the next site is always the largest next gain of any district), with
        ``district``, a global ``rank`` and ``cumulative``.
    objective
        Newly covered target people, each district counting only its own cells.
    bound
        Upper bound on the best ``objective`` of any ``k`` sites in the decomposed problem
        (districts independent; see the module docstring). Not a bound on the whole-area MCLP.
    gap
        ``(bound - objective) / objective``.
    status
        ``"optimal"`` when the gap is at most 1e-6, else ``"gap"``.
    k
        The budget of new sites.
    allocation
        One row per district: ``cells``, ``candidates``, ``coverable``, ``k`` (its share of
        the budget), ``greedy`` (``g_d(k_d)``), ``objective``, ``bound`` (MIP bound at
        ``k_d``), ``status``.
    curves
        One row per district and ``j = 0..k``: ``greedy`` (``g_d(j)``) and ``upper``
        (``u_d(j)``).
    results
        The per-district :class:`~planner.siting.SitingResult` (districts with ``k_d > 0``).
    covered_before, covered_after, total
        Target people covered before and after, and the target population, over the cells
        that lie in a district.
    outside_population
        Target people in cells outside every district (never counted).
    params
        What produced the result.
    """

    sites: gpd.GeoDataFrame
    objective: float
    bound: float
    gap: float
    status: str
    k: int
    allocation: pd.DataFrame
    curves: pd.DataFrame
    results: Mapping[str, SitingResult]
    covered_before: float
    covered_after: float
    total: float
    outside_population: float
    params: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"DistrictSitingResult(k={self.k}, districts={len(self.allocation)}, "
            f"objective={self.objective:,.0f}, bound={self.bound:,.0f}, gap={self.gap:.4%})"
        )


# ---------------------------------------------------------------------- per-district tasks
def _build_district(task: Mapping[str, Any]) -> SitingProblem | None:
    """The district's siting problem, or None when it has no cells or no candidates."""
    if len(task["population"]) == 0 or len(task["candidates"]) == 0:
        return None
    return SitingProblem.from_network(
        task["network"], task["population"], task["facilities"], task["kind"],
        candidates=task["candidates"], **task["options"],
    )  # fmt: skip


def _curve(problem: SitingProblem | None, k: int, exact: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Greedy gains ``g(1..)``, upper bounds ``u(0..k)`` and, with ``exact``, MIP optima ``OPT(0..)``."""
    if problem is None:
        return {"gains": [], "upper": np.zeros(k + 1), "cells": 0, "candidates": 0,
                "coverable": 0.0, "covered_before": 0.0, "total": 0.0, "exact": [0.0]}  # fmt: skip
    model = problem.cover_model
    kmax = min(k, problem.n_candidates)
    sites, gains, _ = greedy_coverage(model, kmax)
    coverable = float(model.w.sum())
    upper = np.full(k + 1, coverable)
    upper[0] = 0.0
    csc = model.csc
    covered = np.zeros(model.a.shape[0], bool)
    value = 0.0
    js = np.arange(1, k + 1)
    for i in range(len(sites) + 1):  # Nemhauser–Wolsey at every greedy prefix S_i
        marg = np.asarray(csc.T @ np.where(covered, 0.0, model.w)).ravel()
        top = np.sort(marg)[::-1][:k] if len(marg) else np.zeros(0)
        top = np.concatenate([top, np.zeros(k - len(top))])
        upper[1:] = np.minimum(upper[1:], value + np.cumsum(top))
        if i < len(sites):
            j = sites[i]
            covered[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] = True
            value += gains[i]
    g = np.concatenate([[0.0], np.cumsum(gains)])
    g = np.concatenate([g, np.full(k + 1 - len(g), g[-1])])  # no more useful sites
    ratio = 1 - (1 - 1 / js) ** js
    with np.errstate(divide="ignore", invalid="ignore"):
        upper[1:] = np.minimum(upper[1:], np.where(g[1:] > 0, g[1:] / ratio, upper[1:]))
    opt = [0.0]
    if exact is not None:  # OPT(j) and its proven bound for every j the district can hold
        for j in range(1, kmax + 1):
            r = solve_mclp(problem, j, **exact)
            opt.append(r.objective)
            upper[j] = min(upper[j], r.bound)
    upper[1:] = np.minimum(upper[1:], np.where(js > problem.n_candidates,
                                               upper[min(kmax, k)], upper[1:]))  # fmt: skip
    return {"gains": [float(x) for x in gains], "upper": upper, "exact": opt, "cells": problem.n_cells,
            "candidates": problem.n_candidates, "coverable": coverable,
            "covered_before": problem.covered_population, "total": problem.total_population}  # fmt: skip


def _solve(problem: SitingProblem, k: int, options: Mapping[str, Any]) -> SitingResult:
    return solve_mclp(problem, min(k, problem.n_candidates), **options)


# ---------------------------------------------------------------------- budget and bound
def _split_budget(gains: Mapping[str, list[float]], room: Mapping[str, int], k: int) -> dict[str, int]:
    """Each next site to the district whose greedy curve gains most (exact for concave curves)."""
    order = {d: i for i, d in enumerate(gains)}
    alloc = dict.fromkeys(gains, 0)

    def nxt(d: str) -> float:
        j = alloc[d]
        return gains[d][j] if j < len(gains[d]) else 0.0

    heap = [(-nxt(d), order[d], d) for d in gains if room[d] > 0]
    heapq.heapify(heap)
    for _ in range(k):
        _, _, d = heapq.heappop(heap)
        alloc[d] += 1
        if alloc[d] < room[d]:
            heapq.heappush(heap, (-nxt(d), order[d], d))
    return alloc


def _best_allocation(values: list[np.ndarray], k: int) -> tuple[float, list[int]]:
    """``max sum_d v_d(j_d)`` over ``sum_d j_d = k`` and the ``j_d`` (dynamic programme, no concavity).

    ``v_d`` has one value per ``j = 0..len(v_d)-1``; larger ``j`` are not allowed.
    """
    best = np.full(k + 1, -np.inf)
    best[0] = 0.0
    choice = []
    for v in values:
        new = np.full(k + 1, -np.inf)
        pick = np.zeros(k + 1, np.int64)
        for j in range(min(k, len(v) - 1) + 1):
            cand = np.full(k + 1, -np.inf)
            cand[j:] = best[: k + 1 - j] + v[j]
            better = cand > new
            new[better], pick[better] = cand[better], j
        best = new
        choice.append(pick)
    js = []
    t = k
    for pick in reversed(choice):
        js.append(int(pick[t]))
        t -= js[-1]
    return float(best[k]), js[::-1]


def _best_allocation_value(upper: list[np.ndarray], k: int) -> float:
    """``max sum_d u_d(j_d)`` over ``sum_d j_d = k`` (exact dynamic programme, no concavity)."""
    return _best_allocation(upper, k)[0]


def _merge_sites(results: Mapping[str, SitingResult]) -> gpd.GeoDataFrame:
    """Districts' sites in one build order: always the largest next gain, districts' orders kept."""
    frames = [r.sites.assign(**{DISTRICT: d}) for d, r in results.items() if len(r.sites)]
    if not frames:
        return gpd.GeoDataFrame({"rank": [], DISTRICT: [], "gain": [], "cumulative": []},
                                geometry=gpd.GeoSeries([]))  # fmt: skip
    pos = [0] * len(frames)
    heap = [(-float(f["gain"].iloc[0]), i) for i, f in enumerate(frames)]
    heapq.heapify(heap)
    rows = []
    while heap:
        _, i = heapq.heappop(heap)
        rows.append(frames[i].iloc[[pos[i]]])
        pos[i] += 1
        if pos[i] < len(frames[i]):
            heapq.heappush(heap, (-float(frames[i]["gain"].iloc[pos[i]]), i))
    sites = gpd.GeoDataFrame(pd.concat(rows, ignore_index=True), crs=frames[0].crs)
    sites["rank"] = np.arange(1, len(sites) + 1)
    sites["cumulative"] = sites["gain"].cumsum()
    sites = sites.drop(columns=[c for c in ("covered", "share") if c in sites.columns])
    cols = ["rank", DISTRICT] + [c for c in sites.columns if c not in ("rank", DISTRICT)]
    return sites[cols]


# ---------------------------------------------------------------------- public
def solve_mclp_by_district(
    network: WalkNetwork,
    population: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    kind: FacilityKind | str,
    k: int,
    *,
    districts: gpd.GeoDataFrame,
    district_column: str = DISTRICT,
    candidates: gpd.GeoDataFrame | None = None,
    spacing_m: float = DEFAULT_SPACING_M,
    boundary: Any = None,
    split: str = "greedy",
    scheduler: Any = "serial",
    n_workers: int = 2,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
    seed: int | None = 0,
    **problem_options: Any,
) -> DistrictSitingResult:
    """MCLP with ``k`` new sites split across districts by marginal gain, each solved on its own.

    Districts are independent here: a site counts only the cells of its own district (see
    the module docstring for the exact problem, and why the result is at most the
    whole-area :func:`~planner.siting.mclp.solve_mclp` optimum). ``bound`` is a valid upper
    bound for that decomposed problem.

    Parameters
    ----------
    network
        The walk network (the whole one).
    population
        Cells with the kind's target column.
    facilities
        Existing facilities with a ``kind`` column (all are kept in every district).
    kind
        The kind to site: a :class:`~planner.kinds.FacilityKind` or a default kind's name.
    k
        Number of new sites in total.
    districts
        District polygons; each cell and candidate joins the one holding it.
    district_column
        Column of ``districts`` with the district name.
    candidates
        Candidate sites; None: network nodes at ``spacing_m`` (:func:`candidate_sites`),
        thinned once over the whole area, then split by district.
    spacing_m
        Spacing of network candidates, in metres.
    boundary
        Keep network candidates inside this polygon.
    split
        ``"greedy"``: split ``k`` greedily on the greedy gain curves (one exact MILP per
        district with sites). ``"exact"``: solve every district's MILP for every
        ``j = 1..k`` and split by dynamic programming on those optima, which is the exact
        optimum of the decomposed problem when every MILP is proven (costs up to
        ``k`` × districts MILPs; the bound tightens too).
    scheduler
        ``"serial"``, ``"local"`` / ``"threads"`` (a local Dask cluster), a scheduler
        address or a ``dask.distributed.Client``. With Dask, each district's problem is
        built on a worker and stays there for its greedy curve and its exact solve.
    n_workers
        Workers of a local Dask cluster.
    time_limit_s
        Time limit of each district's MILP, in seconds.
    mip_gap
        Relative gap of each district's MILP (0: prove the optimum).
    seed
        Seed of the MILP solver.
    **problem_options
        Passed to :meth:`SitingProblem.from_network` (``max_snap_m``, ``max_minutes``,
        ``require_existing``, ``capacity``, ``tile_m``).

    Returns
    -------
    DistrictSitingResult
    """
    t0 = time.perf_counter()
    k = _check_district_options(k, split, problem_options)
    kind = resolve_kind(kind)
    dist, names = _district_frame(districts, district_column)
    pop, cand, outside_pop = _district_inputs(network, population, candidates, dist, kind, k,
                                              spacing_m=spacing_m, boundary=boundary)  # fmt: skip
    tasks = _district_tasks(names, network, pop, facilities, kind, cand, dict(problem_options))
    solve_options = {"time_limit_s": time_limit_s, "mip_gap": mip_gap, "seed": seed}
    curves, alloc, results, t_curves = _run_districts(
        tasks, names, k, split, solve_options, scheduler=scheduler, n_workers=n_workers, t0=t0
    )
    upper = _upper_curves(names, curves, alloc, results)
    objective, bound, gap = _objective_bound_gap(upper, results, k)
    allocation, curve_table = _district_tables(names, curves, upper, alloc, results, k)
    before = float(sum(c["covered_before"] for c in curves.values()))
    seconds = time.perf_counter() - t0
    params = _district_params(
        kind, k, names, district_column, network_candidates=candidates is None, spacing_m=spacing_m,
        scheduler=scheduler, solve_options=solve_options, split=split, t_curves=t_curves, seconds=seconds,
        problem_options=problem_options,
    )  # fmt: skip
    logger.info("mclp by district: %d districts, k=%d, objective %.6g, bound %.6g, %.2f s",
                len(names), k, objective, bound, seconds)  # fmt: skip
    return DistrictSitingResult(
        sites=_merge_sites(results), objective=objective, bound=float(bound), gap=float(gap),
        status="optimal" if gap <= 1e-6 else "gap", k=k, allocation=allocation,
        curves=curve_table, results=MappingProxyType(results), covered_before=before,
        covered_after=before + objective, total=float(sum(c["total"] for c in curves.values())),
        outside_population=outside_pop, params=MappingProxyType(params),
    )  # fmt: skip


# ---------------------------------------------------------------------- the steps of one solve
def _check_district_options(k: Any, split: str, problem_options: Mapping[str, Any]) -> int:
    """``k`` as an int, once the options are known to be valid."""
    bad = sorted(set(problem_options) & set(_NOT_PER_DISTRICT))
    if bad:
        msg = f"solve_mclp_by_district does not take {bad} as problem options."
        raise TypeError(msg)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        msg = f"k must be a positive integer; got {k!r}."
        raise ValueError(msg)
    if split not in ("greedy", "exact"):
        msg = f"split must be 'greedy' or 'exact'; got {split!r}."
        raise ValueError(msg)
    return int(k)


def _district_frame(districts: gpd.GeoDataFrame, district_column: str) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The districts with their names (as str) in ``DISTRICT``, and the names in first-seen order."""
    if district_column not in districts.columns:
        msg = f"districts have no column {district_column!r}; they have {list(districts.columns)}."
        raise InputError(msg)
    dist = districts[[district_column, districts.geometry.name]].rename(columns={district_column: DISTRICT})
    dist = gpd.GeoDataFrame(dist, geometry=districts.geometry.name, crs=districts.crs)
    dist[DISTRICT] = dist[DISTRICT].astype(str)
    return dist, list(dict.fromkeys(dist[DISTRICT]))


def _district_inputs(
    network: WalkNetwork, population: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame | None,
    dist: gpd.GeoDataFrame, kind: FacilityKind, k: int, *, spacing_m: float, boundary: Any,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, float]:  # fmt: skip
    """Cells and candidates joined to their districts, and the target people outside every district."""
    pop = population.to_crs(network.crs) if population.crs is not None else population
    pop = join_districts(pop.drop(columns=[DISTRICT], errors="ignore"), dist)
    if candidates is None:
        cand = candidate_sites(network, spacing_m=spacing_m, boundary=boundary)
    else:
        cand = prepare_candidates(candidates, network.crs)
    cand = join_districts(cand.drop(columns=[DISTRICT], errors="ignore"), dist)
    outside = pop[DISTRICT] == NO_DISTRICT
    outside_pop = float(pd.to_numeric(pop.loc[outside, kind.target_column], errors="coerce").sum()) if (
        kind.target_column in pop.columns) else math.nan  # fmt: skip
    if outside.any():
        logger.info("%d cells (%.6g target people) lie outside every district and are not counted",
                    int(outside.sum()), outside_pop)  # fmt: skip
    room_total = int((cand[DISTRICT] != NO_DISTRICT).sum())
    if k > room_total:
        msg = f"k={k} new sites asked for, but the districts hold only {room_total} candidate sites."
        raise InputError(msg)
    return pop, cand, outside_pop


def _district_tasks(
    names: list[str], network: WalkNetwork, pop: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
    kind: FacilityKind, cand: gpd.GeoDataFrame, options: dict[str, Any],
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """What :func:`_build_district` needs per district: its own cells and candidates, every facility."""
    return {
        d: {"network": network, "population": pop[pop[DISTRICT] == d].drop(columns=[DISTRICT]),
            "facilities": facilities, "kind": kind,
            "candidates": cand[cand[DISTRICT] == d].drop(columns=[DISTRICT]), "options": options}
        for d in names
    }  # fmt: skip


def _run_districts(
    tasks: Mapping[str, Mapping[str, Any]], names: list[str], k: int, split: str,
    solve_options: Mapping[str, Any], *, scheduler: Any, n_workers: int, t0: float,
) -> tuple[dict[str, dict[str, Any]], dict[str, int], dict[str, SitingResult], float]:  # fmt: skip
    """Curves, the budget split and the districts' solves, serially or on Dask (closed after).

    Also returns the seconds from ``t0`` to the end of the curves.
    """
    exact = solve_options if split == "exact" else None
    close = None
    client: Any = None
    if scheduler not in (None, "serial"):
        client, close = dask_client(scheduler, n_workers, None)
    try:
        problems, curves = _district_curves(client, tasks, k, exact)
        t_curves = time.perf_counter() - t0
        alloc = _allocate(curves, names, k, split)
        todo = [d for d in names if alloc[d] > 0]
        results = _solve_districts(client, problems, alloc, todo, solve_options)
    finally:
        if close is not None:
            close()
    return curves, alloc, results, t_curves


def _district_curves(
    client: Any, tasks: Mapping[str, Mapping[str, Any]], k: int, exact: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Each district's problem (on Dask: futures, so it stays on its worker) and its curve."""
    if client is None:
        problems: dict[str, Any] = {d: _build_district(t) for d, t in tasks.items()}
        return problems, {d: _curve(p, k, exact) for d, p in problems.items()}
    problems = {d: client.submit(_build_district, t, key=f"district-problem-{i}", pure=False)
                for i, (d, t) in enumerate(tasks.items())}  # fmt: skip
    curve_futs = {d: client.submit(_curve, f, k, exact, pure=False) for d, f in problems.items()}
    return problems, {d: f.result() for d, f in curve_futs.items()}


def _allocate(
    curves: Mapping[str, Mapping[str, Any]], names: list[str], k: int, split: str
) -> dict[str, int]:
    """``k_d`` per district: DP on the MILP optima (``"exact"``) or greedy on the greedy curves."""
    if split == "exact":
        _, js = _best_allocation([np.asarray(curves[d]["exact"], float) for d in names], k)
        return dict(zip(names, js, strict=True))
    room = {d: min(k, c["candidates"]) for d, c in curves.items()}
    return _split_budget({d: c["gains"] for d, c in curves.items()}, room, k)


def _solve_districts(
    client: Any, problems: Mapping[str, Any], alloc: Mapping[str, int], todo: list[str],
    solve_options: Mapping[str, Any],
) -> dict[str, SitingResult]:  # fmt: skip
    """The exact MCLP of every district in ``todo`` with its share of the budget."""
    if client is None:
        return {d: _solve(problems[d], alloc[d], solve_options) for d in todo}
    futs = {d: client.submit(_solve, problems[d], alloc[d], solve_options, pure=False) for d in todo}
    return {d: f.result() for d, f in futs.items()}


def _upper_curves(
    names: list[str], curves: Mapping[str, Mapping[str, Any]], alloc: Mapping[str, int],
    results: Mapping[str, SitingResult],
) -> list[np.ndarray]:  # fmt: skip
    """``u_d(0..k)`` per district, with the MIP bound at ``k_d``, made non-increasing from the right."""
    upper = []
    for d in names:
        u = np.asarray(curves[d]["upper"], float).copy()
        if d in results:  # the MIP bound at k_d holds for every j <= k_d
            u[: alloc[d] + 1] = np.minimum(u[: alloc[d] + 1], results[d].bound)
        u = np.minimum.accumulate(u[::-1])[::-1]  # OPT_d never falls with j
        u = np.maximum(u, 0.0)
        upper.append(u)
    return upper


def _objective_bound_gap(
    upper: list[np.ndarray], results: Mapping[str, SitingResult], k: int
) -> tuple[float, float, float]:
    """The decomposed objective, the global bound (never below it) and the relative gap."""
    objective = float(sum(r.objective for r in results.values()))
    bound = max(_best_allocation_value(upper, k), objective)
    gap = (bound - objective) / objective if objective > 0 else (0.0 if bound <= 0 else math.inf)
    return objective, bound, gap


def _district_tables(
    names: list[str], curves: Mapping[str, Mapping[str, Any]], upper: list[np.ndarray],
    alloc: Mapping[str, int], results: Mapping[str, SitingResult], k: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """The ``allocation`` table (one row per district) and the ``curves`` table (per district and j)."""
    alloc_rows: list[dict[str, Any]] = []
    curve_rows: list[dict[str, Any]] = []
    for d, u in zip(names, upper, strict=True):
        c = curves[d]
        g = np.concatenate([[0.0], np.cumsum(c["gains"])])
        g = np.concatenate([g, np.full(k + 1 - len(g), g[-1])])
        r = results.get(d)
        alloc_rows.append({
            DISTRICT: d, "cells": c["cells"], "candidates": c["candidates"], "coverable": c["coverable"],
            "k": alloc[d], "greedy": float(g[alloc[d]]), "objective": r.objective if r else 0.0,
            "bound": r.bound if r else 0.0, "status": r.status if r else "no sites",
        })  # fmt: skip
        curve_rows.extend({DISTRICT: d, "j": j, "greedy": float(g[j]), "upper": float(u[j])}
                          for j in range(k + 1))  # fmt: skip
    return pd.DataFrame(alloc_rows), pd.DataFrame(curve_rows)


def _district_params(
    kind: FacilityKind, k: int, names: list[str], district_column: str, *, network_candidates: bool,
    spacing_m: float, scheduler: Any, solve_options: Mapping[str, Any], split: str, t_curves: float,
    seconds: float, problem_options: Mapping[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """``DistrictSitingResult.params``: the kind, budget, districts, candidates, solver and timings."""
    return {
        "model": "mclp by district", "kind": kind.name, "target_column": kind.target_column,
        "threshold_min": float(kind.threshold_min), "speed_kmh": kind.speed_kmh, "k": k,
        "districts": len(names), "district_column": district_column,
        "candidates": "network" if network_candidates else "given",
        "spacing_m": float(spacing_m) if network_candidates else None,
        "scheduler": scheduler if isinstance(scheduler, str) or scheduler is None else type(scheduler).__name__,
        "time_limit_s": solve_options["time_limit_s"], "mip_gap": solve_options["mip_gap"],
        "seed": solve_options["seed"],
        "bound_is": "decomposed problem (each site counts only its own district's cells)",
        "split": "greedy on greedy gain curves (exact for concave curves)" if split == "greedy"
        else "dynamic programme on per-district MILP optima",
        "curve_seconds": round(t_curves, 3), "seconds": round(seconds, 3),
        **{f"problem_{key}": v for key, v in problem_options.items()},
    }  # fmt: skip
