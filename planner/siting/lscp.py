"""Set covering (LSCP): the fewest (or cheapest) new sites for a coverage goal."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse

from planner._validate import check_in_range
from planner.errors import SolverError
from planner.siting.candidates import COST
from planner.siting.greedy import greedy_coverage, remove_redundant
from planner.siting.mip import (
    Mip,
    SolveProgress,
    check_solver,
    dominated_columns,
    highs_model,
    redundant_rows,
    rel_gap,
    solve_mip,
    start_from_sites,
)
from planner.siting.problem import CoverModel, SitingProblem, check_common, merge_rows
from planner.siting.result import (
    SitingResult,
    build_order,
    make_result,
)

logger = logging.getLogger(__name__)


# ====================================================================== LSCP
def solve_lscp(
    problem: SitingProblem,
    *,
    share: float | None = None,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
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
    weights = np.ones(len(model.w)) if full else model.w
    g_sites, _, _ = greedy_coverage(model, None, weights=weights, cost=cost,
                                     target=None if full else need)  # fmt: skip
    g_sites = remove_redundant(model, g_sites, need, full=full)
    g_obj = float(cost[g_sites].sum())
    base["greedy_seconds"] = round(time.perf_counter() - t0, 4)
    logger.info("lscp greedy: %d sites in %.3f s", len(g_sites), time.perf_counter() - t0)
    chosen, obj, bound, status, name, extra = g_sites, g_obj, math.nan, "greedy", "lazy greedy", {}
    if solver != "greedy":
        a = model.a
        if full:
            dom = dominated_columns(a, cost)
            keep = np.flatnonzero(~dom)
            a_red = a[:, keep].tocsr()
            a_red = a_red[np.flatnonzero(~redundant_rows(a_red))]
            mip = Mip(c=cost[keep], a=a_red, row_lo=np.ones(a_red.shape[0]),
                       row_hi=np.full(a_red.shape[0], np.inf), col_lo=np.zeros(len(keep)),
                       col_hi=np.ones(len(keep)), integer=np.ones(len(keep)), maximize=False,
                       abs_gap=1 - 1e-6 if integral else 1e-6)  # fmt: skip
            x0: np.ndarray | None = start_from_sites(g_sites, keep, dom, a, cost)
            if (
                x0 is not None and a_red[:, np.flatnonzero(x0 > 0.5)].sum(axis=1).min() < 1
            ):  # start not covering
                x0 = None
            red = CoverModel(a_red, np.ones(a_red.shape[0]), np.zeros(0, np.int64))
            c_red = cost[keep]

            def _improve(x_lp: np.ndarray, duals: np.ndarray) -> np.ndarray:
                # Chvátal's greedy with the LP duals as row prices, and an LP dive; the cheaper
                price = np.abs(duals) + 1e-6
                sites, _, _ = greedy_coverage(red, None, weights=price, cost=c_red)
                sites = remove_redundant(red, sites, float(red.w.sum()), full=True)
                dived = lp_dive(red, c_red, x_lp, deadline=time.perf_counter() + 0.6 * time_limit_s)
                logger.info("lscp: LP-dual greedy finds %d sites, LP dive %d", len(sites), len(dived))
                if c_red[dived].sum() < c_red[sites].sum():
                    sites = dived
                x = np.zeros(len(keep))
                x[sites] = 1.0
                return x

            improve: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = _improve
        else:
            dom = dominated_columns(a, cost)
            keep = np.flatnonzero(~dom)
            a_red, w_red, _ = merge_rows(a[:, keep].tocsr(), model.w)
            deg = np.diff(a_red.indptr)
            single = deg == 1
            multi = np.flatnonzero(deg > 1)
            mk, n_y = len(keep), len(multi)
            cov_x = np.bincount(a_red.indices[a_red.indptr[:-1][single]], weights=w_red[single], minlength=mk)
            a_multi = a_red[multi]
            a_all = sparse.vstack([
                sparse.hstack([-a_multi, sparse.identity(n_y, format="csr")], format="csr"),
                sparse.csr_matrix(np.concatenate([cov_x, w_red[multi]])[None, :]),
            ], format="csr")  # fmt: skip
            mip = Mip(
                c=np.concatenate([cost[keep], np.zeros(n_y)]), a=a_all,
                row_lo=np.concatenate([np.full(n_y, -np.inf), [need * (1 - 1e-12)]]),
                row_hi=np.concatenate([np.zeros(n_y), [np.inf]]),
                col_lo=np.zeros(mk + n_y), col_hi=np.ones(mk + n_y),
                integer=np.concatenate([np.ones(mk), np.zeros(n_y)]), maximize=False,
                abs_gap=1 - 1e-6 if integral else 1e-6,
            )  # fmt: skip
            xs = start_from_sites(g_sites, keep, dom, a, cost)
            x0 = np.concatenate([xs, (a_multi @ xs > 0.5).astype(float)])
            improve = None  # the partial goal keeps the greedy start
        out = solve_mip(mip, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, seed=seed,
                         start=x0 if solver == "highs" else None, lp_method="ipm", improve=improve,
                         progress=SolveProgress("lscp", enabled=progress, maximize=False))  # fmt: skip
        if out.status == "infeasible":
            msg = "the set-covering model is infeasible (this should not happen: please report it)."
            raise SolverError(msg)
        if out.x is not None:
            sel = keep[np.flatnonzero(out.x[: len(keep)] > 0.5)]
            if float(cost[sel].sum()) <= g_obj + 1e-9 and meets_goal(model, list(sel), need, full=full):
                chosen, obj = list(sel), float(cost[sel].sum())
        bound = out.bound
        if np.isfinite(bound) and integral:
            bound = math.ceil(bound - 1e-6)
        bound = min(bound, obj) if np.isfinite(bound) else math.nan
        status = out.status if out.status in ("optimal", "time_limit") else "time_limit"
        name = out.solver
        extra = {"mip_seconds": round(out.seconds, 3), "mip_status": out.status,
                 "dominated_sites": int(dom.sum()), "mip_rows": int(mip.a.shape[0]),
                 "mip_columns": len(mip.c)}  # fmt: skip
    gap = rel_gap(obj, bound, maximize=False)
    if status == "optimal" and np.isfinite(gap) and gap > max(mip_gap, 1e-6):
        status = "time_limit"
    order, gains = build_order(problem, chosen)
    return make_result(
        problem, "lscp", order, gains, objective=obj, bound=bound, gap=gap, status=status, solver=name,
        seconds=time.perf_counter() - t0, greedy_objective=g_obj, params={**base, **extra},
    )  # fmt: skip


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
