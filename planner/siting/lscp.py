"""Set covering (LSCP): the fewest (or cheapest) new sites for a coverage goal."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from planner._validate import check_in_range
from planner.errors import InputError, SolverError
from planner.siting.candidates import COST
from planner.siting.greedy import greedy_coverage, remove_redundant
from planner.siting.mip import (
    Mip,
    SolveProgress,
    check_solver,
    dominated_columns,
    highs_model,
    mip_feasible,
    rel_gap,
    solve_mip,
    start_from_sites,
)
from planner.siting.problem import CoverModel, SitingProblem, check_common, merge_rows
from planner.siting.reduce import (
    lagrangian_fix_cover,
    lagrangian_set_cover,
    reduce_set_cover,
    split_components,
)
from planner.siting.result import SitingResult, build_order, make_result
from planner.siting.search import improve_cover
from planner.siting.units import UnitRule, greedy_with_units, unit_dominance_rows, unit_rule

logger = logging.getLogger(__name__)


# ====================================================================== LSCP
def solve_lscp(
    problem: SitingProblem,
    *,
    share: float | None = None,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
    unit_column: str | None = None,
    min_per_unit: int | None = None,
    max_per_unit: int | None = None,
    solver: str = "auto",
    seed: int | None = None,
    progress: bool = False,
) -> SitingResult:
    """Set covering: the fewest new sites (or the cheapest, given costs) for a coverage goal.

    Parameters
    ----------
    problem
        The siting problem.
    share
        None: cover every person that some candidate can reach. A number in (0, 1]:
        reach this share of the whole target population covered (existing facilities
        included).
    unit_column, min_per_unit, max_per_unit
        Per-unit rules (see :mod:`~planner.siting.units`): with them, the goal is met with at
        least / at most so many sites in each unit.
    time_limit_s
        Time limit of the MILP, in seconds.
    mip_gap
        Relative gap at which to stop (0: prove the optimum).
    solver
        ``"auto"``, ``"highs"``, ``"scipy"`` or ``"greedy"``.
    seed
        Seed of the MILP solver's random choices.
    progress
        Progress lines (elapsed, best, bound, gap) on stderr while a solve runs past ~2 s.

    Returns
    -------
    SitingResult
        ``objective`` is the number of sites (the total cost when costs differ).

    Examples
    --------
    >>> p = SitingProblem.from_coverage_matrix([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]],
    ...                                        [10, 10, 10, 25])
    >>> solve_lscp(p).objective
    2.0
    """
    check_common(time_limit_s, mip_gap)
    solver = check_solver(solver)
    t0 = time.perf_counter()
    model = problem.cover_model
    cost = problem.candidates[COST].to_numpy(float)
    unit = bool(np.all(cost == 1.0))
    integral = bool(np.all(np.abs(cost - np.rint(cost)) < 1e-9))
    coverable = float(model.w.sum())
    before = problem.covered_population
    total = problem.total_population
    if share is None:
        need = coverable
        goal = "every coverable person"
    else:
        check_in_range(share, "share", 0.0, 1.0)
        need = share * total - before
        goal = f"{share:.1%} of the target population"
        best = (before + coverable) / total if total > 0 else 0.0
        if need > coverable + 1e-6 * max(1.0, total):
            msg = (
                f"a coverage of {share:.1%} cannot be reached: the existing facilities cover "
                f"{before / total:.1%} and all candidates together reach at most {best:.1%}. Lower "
                "the share, or add candidates."
            )
            raise SolverError(msg)
        need = min(max(need, 0.0), coverable)
    base = {"share": share, "goal": goal, "mip_gap": mip_gap, "time_limit_s": time_limit_s, "seed": seed,
            "objective_is": "number of new sites" if unit else "total cost of new sites",
            "needed_new": need, "demand_rows": int(model.a.shape[0])}  # fmt: skip
    if need <= 1e-9:
        return make_result(problem, "lscp", [], [], objective=0.0, bound=0.0, gap=0.0, status="optimal",
                            solver="none (goal already met)", seconds=time.perf_counter() - t0,
                            greedy_objective=0.0, params=base)  # fmt: skip
    full = share is None
    rule = unit_rule(problem, "lscp", unit_column=unit_column, min_per_unit=min_per_unit,
                     max_per_unit=max_per_unit)  # fmt: skip
    weights = np.ones(len(model.w)) if full else model.w
    g_sites, _, _ = greedy_coverage(model, None, weights=weights, cost=cost,
                                    target=None if full else need)  # fmt: skip
    g_sites = remove_redundant(model, g_sites, need, full=full)
    if rule is not None:
        g_sites = greedy_with_units(model, rule, 0, cost=cost, start=g_sites)
    g_obj = float(cost[g_sites].sum())
    base["greedy_seconds"] = round(time.perf_counter() - t0, 4)
    base.update(unit_column=unit_column, min_per_unit=min_per_unit, max_per_unit=max_per_unit)
    logger.info("lscp greedy: %d sites in %.3f s", len(g_sites), time.perf_counter() - t0)
    out = _Answer(list(g_sites), g_obj, math.nan, "greedy", "lazy greedy", {})
    watch = SolveProgress("lscp", enabled=progress, maximize=False)
    if solver != "greedy":
        if full and rule is None:
            out = _lscp_full(
                model,
                cost,
                integral,
                g_sites,
                xy=candidate_xy(problem),
                solver=solver,
                time_limit_s=time_limit_s,
                mip_gap=mip_gap,
                seed=seed,
                progress=watch,
            )
        else:
            out = _lscp_mip(
                model,
                cost,
                integral,
                g_sites,
                need,
                full,
                rule,
                solver=solver,
                time_limit_s=time_limit_s,
                mip_gap=mip_gap,
                seed=seed,
                progress=watch,
            )
    gap = rel_gap(out.objective, out.bound, maximize=False)
    status = out.status
    if status == "optimal" and np.isfinite(gap) and gap > max(mip_gap, 1e-6):
        status = "time_limit"
    order, gains = build_order(problem, out.sites)
    tables = {"units": rule.table(np.asarray(order, np.int64))} if rule is not None else None
    return make_result(
        problem, "lscp", order, gains, objective=out.objective, bound=out.bound, gap=gap, status=status,
        solver=out.solver, seconds=time.perf_counter() - t0, greedy_objective=g_obj, params={**base, **out.info},
        tables=tables,
    )  # fmt: skip


@dataclass
class _Answer:
    sites: list[int]
    objective: float
    bound: float
    status: str
    solver: str
    info: dict[str, Any]


def candidate_xy(problem: SitingProblem) -> np.ndarray | None:
    """Candidate positions (n × 2) when every candidate is a point, else None (the search then
    finds neighbours through shared cells). In degrees the pieces come out a little stretched,
    which changes only which sites are re-solved together, never the answer's validity."""
    geo = getattr(problem.candidates, "geometry", None)
    if geo is None or len(geo) != problem.n_candidates or not bool((geo.geom_type == "Point").all()):
        return None
    xy = np.column_stack([np.asarray(geo.x, float), np.asarray(geo.y, float)])
    return xy if np.isfinite(xy).all() else None


def _lscp_full(
    model: CoverModel, cost: np.ndarray, integral: bool, g_sites: list[int], *, xy: np.ndarray | None, solver: str,
    time_limit_s: float, mip_gap: float, seed: int | None, progress: SolveProgress,
) -> _Answer:  # fmt: skip
    """Cover every coverable row: exact reductions to a fixpoint (essential columns, dominated
    columns and rows), then each connected component on its own (Lagrangian bound, a search
    for a cheaper cover, Lagrangian fixing, the LP, branch and bound), smallest first, sharing
    the time left."""
    t0 = time.perf_counter()
    red = reduce_set_cover(model.a, cost)
    comps = sorted(split_components(red.a), key=lambda rc: len(rc[0]))
    info: dict[str, Any] = {"forced_sites": len(red.forced), "rows_left": len(red.rows), "sites_left": len(red.cols),
                            "components": len(comps), "reduce_seconds": round(time.perf_counter() - t0, 3),
                            "largest_component": [max((len(r) for r, _ in comps), default=0),
                                                  max((len(c) for _, c in comps), default=0)]}  # fmt: skip
    logger.info("lscp reductions: %d sites forced, %d rows x %d sites left in %d components (%.2f s)",
                len(red.forced), len(red.rows), len(red.cols), len(comps), time.perf_counter() - t0)  # fmt: skip
    chosen = [int(j) for j in red.forced]
    lower = float(cost[red.forced].sum())
    proven, name = True, "reductions"
    rows_left = sum(len(r) for r, _ in comps)
    for r, c in comps:
        sub, cc = red.a[r][:, c].tocsr(), cost[red.cols[c]]
        left = time_limit_s - (time.perf_counter() - t0)
        share = max(0.5, left * len(r) / max(1, rows_left))
        rows_left -= len(r)
        progress.offset, progress.offset_bound = float(cost[chosen].sum()), lower
        sol, lo, ok, name_c = _cover_component(sub, cc, integral, xy=None if xy is None else xy[red.cols[c]],
                                               solver=solver, time_limit_s=share, mip_gap=mip_gap, seed=seed,
                                               progress=progress)  # fmt: skip
        chosen += [int(j) for j in red.cols[c][sol]]
        lower += lo
        proven &= ok
        name = name_c if name_c != "reductions" else name
    obj = float(cost[chosen].sum())
    if obj > float(cost[g_sites].sum()) + 1e-9 or not meets_goal(
        model, chosen, float(model.w.sum()), full=True
    ):
        chosen, obj = list(g_sites), float(cost[g_sites].sum())  # never worse than the greedy
    bound = math.ceil(lower - 1e-6) if integral else lower
    bound = min(bound, obj)
    status = "optimal" if proven or bound >= obj - 1e-9 else "time_limit"
    return _Answer(sorted(set(chosen)), obj, bound, status, name, info)


def _cover_component(
    a: sparse.csr_matrix, cost: np.ndarray, integral: bool, *, xy: np.ndarray | None, solver: str,
    time_limit_s: float, mip_gap: float, seed: int | None, progress: SolveProgress,
) -> tuple[list[int], float, bool, str]:  # fmt: skip
    """One component: the greedy, a Lagrangian bound, a search for a cheaper cover (up to half
    the time left: it finds far better covers than the branch and bound's heuristics on a city),
    Lagrangian fixing, then the MILP on what is left.

    Returns the sites (local indices), a lower bound, whether the sites are proven optimal
    (within ``mip_gap``), and the solver's name.
    """
    t0 = time.perf_counter()
    red = CoverModel(a, np.ones(a.shape[0]), np.zeros(0, np.int64))
    g = remove_redundant(red, greedy_coverage(red, None, cost=cost)[0], float(a.shape[0]), full=True)
    inc = float(cost[g].sum())
    if a.shape[1] == 1 or (integral and inc <= 1 + 1e-9):
        return g, inc, True, "reductions"
    lag = lagrangian_set_cover(a, cost, upper=inc, time_limit_s=min(5.0, 0.15 * time_limit_s))
    lo = math.ceil(lag.bound - 1e-6) if integral else lag.bound
    if lo >= inc * (1 - mip_gap) - 1e-9:
        return g, lo, True, "greedy with a Lagrangian bound"
    found = improve_cover(a, cost, g, xy=xy, seed=seed, time_limit_s=0.5 * (time_limit_s - (time.perf_counter() - t0)),
                          on_better=lambda c: progress.update(c, lo))  # fmt: skip
    g, inc = list(found.sites), found.cost
    if lo >= inc * (1 - mip_gap) - 1e-9:
        return g, lo, True, "search over pieces of the cover with a Lagrangian bound"
    fix0, fix1 = lagrangian_fix_cover(lag, inc, integral=integral)
    m = a.shape[1]
    mip = Mip(c=cost, a=a, row_lo=np.ones(a.shape[0]), row_hi=np.full(a.shape[0], np.inf), col_lo=np.where(fix1, 1.0, 0.0),
              col_hi=np.where(fix0, 0.0, 1.0), integer=np.ones(m), maximize=False,
              abs_gap=1 - 1e-6 if integral else 1e-6)  # fmt: skip
    start = np.zeros(m)
    start[g] = 1.0
    if not mip_feasible(mip, start, mip.col_lo, mip.col_hi):
        start = None  # type: ignore[assignment]
    logger.info("lscp component %d x %d: best cover %.0f, Lagrangian bound %.2f in %.2f s; fixes %d out, %d in",
                a.shape[0], m, inc, lag.bound, lag.seconds, int(fix0.sum()), int(fix1.sum()))  # fmt: skip

    def improve(x_lp: np.ndarray, duals: np.ndarray) -> np.ndarray:
        # Chvátal's greedy with the LP duals as row prices, and an LP dive; the cheaper
        price = np.abs(duals) + 1e-6
        sites, _, _ = greedy_coverage(red, None, weights=price, cost=cost)
        sites = remove_redundant(red, sites, float(red.w.sum()), full=True)
        left = time_limit_s - (time.perf_counter() - t0)
        dived = lp_dive(red, cost, x_lp, deadline=time.perf_counter() + 0.5 * left)
        logger.info("lscp: LP-dual greedy finds %d sites, LP dive %d", len(sites), len(dived))
        x = np.zeros(m)
        x[dived if cost[dived].sum() < cost[sites].sum() else sites] = 1.0
        return x

    out = solve_mip(mip, solver=solver, time_limit_s=max(0.5, time_limit_s - (time.perf_counter() - t0)),
                    mip_gap=mip_gap, seed=seed, start=start, lp_method="ipm", improve=improve,
                    progress=progress)  # fmt: skip
    sol = g
    if out.x is not None and float(cost @ out.x) < inc - 1e-9:
        sol = [int(j) for j in np.flatnonzero(out.x > 0.5)]
    # fixing removed only covers no cheaper than the greedy's: the bound is min(MILP bound, greedy)
    lo_mip = out.bound if np.isfinite(out.bound) else -math.inf
    lo = min(max(lo_mip, lag.bound), inc)
    lo = math.ceil(lo - 1e-6) if integral else lo  # each component's optimum is a whole number of sites
    val = float(cost[sol].sum())
    return sol, lo, lo >= val * (1 - mip_gap) - 1e-9, out.solver


def _lscp_mip(
    model: CoverModel, cost: np.ndarray, integral: bool, g_sites: list[int], need: float, full: bool,
    rule: UnitRule | None, *, solver: str, time_limit_s: float, mip_gap: float, seed: int | None,
    progress: SolveProgress,
) -> _Answer:  # fmt: skip
    """A coverage goal below everyone (``share``) or per-unit rules: one MILP (dominance only)."""
    a = model.a
    dom = dominated_columns(unit_dominance_rows(rule, a) if rule is not None else a, cost)
    keep = np.flatnonzero(~dom)
    a_red, w_red, _ = merge_rows(a[:, keep].tocsr(), model.w)
    mk, n_red = len(keep), a_red.shape[0]
    if full:  # every row covered: A x >= 1
        blocks, lo, hi = [a_red], [np.ones(n_red)], [np.full(n_red, np.inf)]  # type: list[Any], list[Any], list[Any]
        c, n_y, col_int = cost[keep], 0, np.ones(mk)
    else:  # y_g <= sum_j a_gj x_j, sum w y >= need
        blocks = [sparse.hstack([-a_red, sparse.identity(n_red, format="csr")], format="csr"),
                  sparse.csr_matrix(np.concatenate([np.zeros(mk), w_red])[None, :])]  # fmt: skip
        lo, hi = [np.full(n_red, -np.inf), [need * (1 - 1e-12)]], [np.zeros(n_red), [np.inf]]
        c, n_y, col_int = (
            np.concatenate([cost[keep], np.zeros(n_red)]),
            n_red,
            np.concatenate([np.ones(mk), np.zeros(n_red)]),
        )
    if rule is not None:
        u_rows, u_need, u_room = rule.rows(keep)
        blocks.append(sparse.hstack([u_rows, sparse.csr_matrix((u_rows.shape[0], n_y))], format="csr"))
        lo.append(u_need)
        hi.append(u_room)
    mip = Mip(c=c, a=sparse.vstack(blocks, format="csr"), row_lo=np.concatenate(lo), row_hi=np.concatenate(hi),
              col_lo=np.zeros(mk + n_y), col_hi=np.ones(mk + n_y), integer=col_int, maximize=False,
              abs_gap=1 - 1e-6 if integral else 1e-6)  # fmt: skip
    xs = start_from_sites(g_sites, keep, dom, a, cost)
    x0 = np.concatenate([xs, (a_red @ xs > 0.5).astype(float)]) if not full else xs
    out = solve_mip(mip, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, seed=seed,
                    start=x0 if solver == "highs" else None, lp_method="ipm", progress=progress)  # fmt: skip
    if out.status == "infeasible":
        msg = ("model 'lscp': the coverage goal cannot be met under the per-unit rules (max_per_unit leaves too few "
               "sites); raise max_per_unit or lower the goal.")  # fmt: skip
        raise InputError(msg)
    chosen, obj = list(g_sites), float(cost[g_sites].sum())
    if out.x is not None:
        sel = keep[np.flatnonzero(out.x[:mk] > 0.5)]
        if float(cost[sel].sum()) <= obj + 1e-9 and meets_goal(model, list(sel), need, full=full):
            chosen, obj = list(sel), float(cost[sel].sum())
    bound = out.bound
    if np.isfinite(bound) and integral:
        bound = math.ceil(bound - 1e-6)
    bound = min(bound, obj) if np.isfinite(bound) else math.nan
    info = {"mip_seconds": round(out.seconds, 3), "mip_status": out.status, "dominated_sites": int(dom.sum()),
            "mip_rows": int(mip.a.shape[0]), "mip_columns": len(mip.c)}  # fmt: skip
    status = out.status if out.status in ("optimal", "time_limit") else "time_limit"
    return _Answer(chosen, obj, bound, status, out.solver, info)


def lp_dive(model: CoverModel, cost: np.ndarray, x_lp: np.ndarray, *, deadline: float) -> list[int]:
    """Set-cover sites by LP diving: take the sites the LP sets near 1 (or its largest few),
    drop the rows they cover, solve the LP again on the rest; greedy once past ``deadline``.
    """
    a = model.a.tocsr()
    rows = np.arange(a.shape[0])
    cols = np.arange(a.shape[1])
    chosen: list[int] = []
    x = x_lp
    while len(rows):
        pick = np.flatnonzero(x >= 0.9)
        if len(pick) == 0:
            order = np.argsort(-x, kind="stable")
            pick = order[: max(1, int(0.05 * (x > 1e-6).sum()))]
        chosen.extend(int(c) for c in cols[pick])
        sub = a[rows][:, cols]
        covered = np.asarray(sub[:, pick].sum(axis=1)).ravel() > 0
        rows = rows[~covered]
        if not len(rows):
            break
        sub = a[rows].tocsc()
        cols = np.flatnonzero(np.diff(sub.indptr) > 0)
        sub = sub[:, cols].tocsr()
        if time.perf_counter() > deadline:  # out of time: finish greedily
            rest = CoverModel(sub, np.ones(len(rows)), np.zeros(0, np.int64))
            more, _, _ = greedy_coverage(rest, None, cost=cost[cols])
            chosen.extend(int(c) for c in cols[more])
            break
        lp = Mip(c=cost[cols], a=sub, row_lo=np.ones(len(rows)), row_hi=np.full(len(rows), np.inf),
                  col_lo=np.zeros(len(cols)), col_hi=np.ones(len(cols)), integer=np.zeros(len(cols)),
                  maximize=False)  # fmt: skip
        h = highs_model(lp, integer=False, col_lo=lp.col_lo, col_hi=lp.col_hi)
        h.setOptionValue("solver", "ipm")
        h.setOptionValue("time_limit", max(0.1, deadline - time.perf_counter()))
        h.run()
        x = np.asarray(h.getSolution().col_value, float)
        if len(x) != len(cols) or not np.isfinite(x).all():
            x = np.zeros(len(cols))
    return remove_redundant(model, chosen, float(model.w.sum()), full=True)


def meets_goal(model: CoverModel, sites: Sequence[int], need: float, *, full: bool) -> bool:
    hit = np.asarray(model.a[:, np.asarray(sites, np.int64)].sum(axis=1)).ravel() > 0
    if full:
        return bool(hit.all())
    return float(model.w[hit].sum()) >= need - 1e-6 * max(1.0, need)
