"""Maximal covering (MCLP) and its capacitated form: k new sites that cover (serve) the most people."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
from scipy import sparse

from planner._validate import check_in_range, row_list
from planner.errors import InputError, SolverError
from planner.kinds import CAPACITY
from planner.siting.candidates import COST
from planner.siting.greedy import coverage_upper_bound, greedy_coverage, lazy_greedy
from planner.siting.mip import (
    Mip,
    check_solver,
    dominated_columns,
    rel_gap,
    solve_mip,
    start_from_sites,
)
from planner.siting.problem import SitingProblem, check_common, check_k, merge_rows
from planner.siting.result import (
    SitingResult,
    build_order,
    drop_useless,
    make_result,
)

logger = logging.getLogger(__name__)


# ====================================================================== MCLP
def solve_mclp(
    problem: SitingProblem,
    k: int,
    *,
    budget: float | None = None,
    capacitated: bool = False,
    people_per_unit: float = 1.0,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
    solver: str = "auto",
    seed: int | None = None,
) -> SitingResult:
    """Maximal covering: ``k`` new sites that cover the most target people not yet covered.

    Existing facilities are fixed and the people they cover do not count again, so the
    objective (and the gap) is the newly covered population. A lazy greedy gives a start;
    HiGHS then proves the optimum within ``mip_gap`` (relative, on the newly covered
    people) or stops at ``time_limit_s`` with the bound it proved.

    Parameters
    ----------
    problem
        The siting problem.
    k
        Number of new sites.
    budget
        Optional limit on the total ``cost`` of the new sites.
    capacitated
        Each new site serves at most ``capacity × people_per_unit`` people (the
        candidates' ``capacity``, in the kind's unit); the objective becomes newly
        *served* people. Every candidate needs a capacity.
    people_per_unit
        People served per unit of capacity (1 bed = 1 person by default).
    time_limit_s
        Time limit of the MILP, in seconds.
    mip_gap
        Stop when the relative gap on the newly covered people is at most this (0: prove
        the optimum).
    solver
        ``"auto"`` (highspy if installed, else scipy), ``"highs"``, ``"scipy"`` or
        ``"greedy"`` (greedy only, with its bound).
    seed
        Seed of the MILP solver's random choices.

    Returns
    -------
    SitingResult

    Examples
    --------
    >>> p = SitingProblem.from_coverage_matrix([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]],
    ...                                        [10, 10, 10, 25])
    >>> r = solve_mclp(p, 2)
    >>> r.sites["candidate_id"].tolist(), r.objective, r.status
    (['2', '0'], 55.0, 'optimal')
    """
    k = check_k(problem, k)
    check_common(time_limit_s, mip_gap)
    solver = check_solver(solver)
    if budget is not None:
        check_in_range(budget, "budget", 0.0, 1e15)
    if capacitated:
        return solve_cmclp(problem, k, budget=budget, people_per_unit=people_per_unit,
                            time_limit_s=time_limit_s, mip_gap=mip_gap, solver=solver, seed=seed)  # fmt: skip
    t0 = time.perf_counter()
    model = problem.cover_model
    cost = problem.candidates[COST].to_numpy(float)
    use_cost = cost if budget is not None else None
    g_sites, g_gains, g_cov = greedy_coverage(model, k, cost=use_cost, budget=budget)
    g_obj = float(sum(g_gains))
    greedy_s = time.perf_counter() - t0
    logger.info("mclp greedy: %d sites cover %.6g new people in %.3f s", len(g_sites), g_obj, greedy_s)
    base = {"k": k, "budget": budget, "mip_gap": mip_gap, "time_limit_s": time_limit_s, "seed": seed,
            "objective_is": "newly covered target people", "greedy_seconds": round(greedy_s, 4),
            "demand_rows": int(model.a.shape[0]), "coverable": float(model.w.sum())}  # fmt: skip
    bound_g = min(coverage_upper_bound(model, g_cov, g_obj, k), float(model.w.sum()))
    if budget is None and g_obj > 0:
        bound_g = min(bound_g, g_obj / (1 - (1 - 1 / k) ** k))

    if solver == "greedy" or model.a.shape[0] == 0 or g_obj >= float(model.w.sum()) - 1e-9:
        done = g_obj >= float(model.w.sum()) - 1e-9
        order, gains = build_order(problem, g_sites)
        return make_result(
            problem, "mclp", order, gains, objective=g_obj, bound=g_obj if done else bound_g,
            gap=0.0 if done else rel_gap(g_obj, bound_g, maximize=True),
            status="optimal" if done else "greedy", solver="lazy greedy" if not done else "lazy greedy (covers all)",
            seconds=time.perf_counter() - t0, greedy_objective=g_obj, params=base,
        )  # fmt: skip

    # ---- reduce: drop dominated columns, re-merge rows, singletons into the objective
    a = model.a
    dom = dominated_columns(a, use_cost)
    keep_cols = np.flatnonzero(~dom)
    a_red = a[:, keep_cols]
    a_red, w_red, _ = merge_rows(a_red.tocsr(), model.w)
    deg = np.diff(a_red.indptr)
    single = deg == 1
    multi = np.flatnonzero(deg > 1)
    m_red = len(keep_cols)
    c_x = np.bincount(a_red.indices[a_red.indptr[:-1][single]], weights=w_red[single], minlength=m_red)
    a_multi = a_red[multi]
    n_y = len(multi)
    # rows: y_g - sum x_j <= 0 (n_y), sum x <= k, [sum cost x <= budget]
    blocks = [sparse.hstack([-a_multi, sparse.identity(n_y, format="csr")], format="csr"),
              sparse.csr_matrix(np.concatenate([np.ones(m_red), np.zeros(n_y)])[None, :])]  # fmt: skip
    lo: list[Any] = [np.full(n_y, -np.inf), [-np.inf]]
    hi: list[Any] = [np.zeros(n_y), [float(k)]]
    if budget is not None:
        blocks.append(sparse.csr_matrix(np.concatenate([cost[keep_cols], np.zeros(n_y)])[None, :]))
        lo.append([-np.inf])
        hi.append([float(budget)])
    mip = Mip(
        c=np.concatenate([c_x, w_red[multi]]), a=sparse.vstack(blocks, format="csr"),
        row_lo=np.concatenate(lo), row_hi=np.concatenate(hi),
        col_lo=np.zeros(m_red + n_y), col_hi=np.ones(m_red + n_y),
        integer=np.concatenate([np.ones(m_red), np.zeros(n_y)]), maximize=True,
    )  # fmt: skip
    # warm start: the greedy's sites, each dominated one replaced by a column that dominates it
    start = start_from_sites(g_sites, keep_cols, dom, a, use_cost)
    x0 = np.zeros(m_red + n_y)
    x0[:m_red] = start
    x0[m_red:] = (a_multi @ start > 0.5).astype(float)
    logger.info(
        "mclp MILP: %d sites (%d dominated dropped), %d demand rows (%d folded into site "
        "weights), %d non-zeros", m_red, int(dom.sum()), len(w_red), int(single.sum()), mip.a.nnz,
    )  # fmt: skip

    def improve(x_lp: np.ndarray, _duals: np.ndarray) -> np.ndarray | None:
        # round the LP: its k largest site values (the budget model keeps the greedy start)
        if budget is not None:
            return None
        xs = np.zeros(m_red)
        xs[np.argsort(-x_lp[:m_red], kind="stable")[:k]] = 1.0
        return np.concatenate([xs, (a_multi @ xs > 0.5).astype(float)])

    out = solve_mip(mip, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, seed=seed,
                     start=x0 if solver == "highs" else None, improve=improve)  # fmt: skip
    chosen, obj, used_greedy = g_sites, g_obj, True
    if out.x is not None:
        sel = keep_cols[np.flatnonzero(out.x[:m_red] > 0.5)]
        val = float(model.w[np.asarray(model.a[:, sel].sum(axis=1)).ravel() > 0].sum())
        if val >= g_obj - 1e-9:
            chosen, obj, used_greedy = list(sel), val, False
    bound = out.bound if np.isfinite(out.bound) else bound_g
    bound = max(min(bound, bound_g), obj)
    status = out.status if out.status in ("optimal", "time_limit") else "time_limit"
    gap = rel_gap(obj, bound, maximize=True)
    if status == "optimal" and gap > max(mip_gap, 1e-6):
        status = "time_limit"
    order, gains = build_order(problem, chosen)
    order, gains = drop_useless(order, gains, "mclp")
    return make_result(
        problem, "mclp", order, gains, objective=obj, bound=bound, gap=gap, status=status,
        solver=out.solver + (" (greedy start kept)" if used_greedy else ""),
        seconds=time.perf_counter() - t0, greedy_objective=g_obj,
        params={**base, "mip_seconds": round(out.seconds, 3), "mip_status": out.status,
                "dominated_sites": int(dom.sum()), "mip_rows": int(mip.a.shape[0]),
                "mip_columns": len(mip.c), "mip_nonzeros": int(mip.a.nnz)},
    )  # fmt: skip


# ---------------------------------------------------------------------- capacitated MCLP
def solve_cmclp(
    problem: SitingProblem, k: int, *, budget: float | None, people_per_unit: float,
    time_limit_s: float, mip_gap: float, solver: str, seed: int | None,
) -> SitingResult:  # fmt: skip
    check_in_range(people_per_unit, "people_per_unit", 1e-9, 1e9)
    cap_units = problem.candidates[CAPACITY].to_numpy(float)
    missing = np.isnan(cap_units)
    if missing.any():
        msg = (
            f"the capacitated model needs a capacity for every candidate; "
            f"{int(missing.sum())} have none: {row_list(problem.candidates.index[missing])}. Give a "
            "capacity column, or capacity=... for all candidates without one."
        )
        raise InputError(msg)
    cap = cap_units * float(people_per_unit)
    t0 = time.perf_counter()
    model = problem.cover_model
    a = model.a
    csc = model.csc
    g_n, m = a.shape
    cost = problem.candidates[COST].to_numpy(float)
    use_cost = cost if budget is not None else None
    remaining = model.w.copy()
    deg = np.diff(a.indptr).astype(float)

    def gain(j: int) -> float:
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        return float(min(cap[j], remaining[rows].sum()))

    def commit(j: int) -> None:
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        left = cap[j]
        for r in rows[np.argsort(deg[rows], kind="stable")]:  # people with fewest options first
            take = min(left, remaining[r])
            remaining[r] -= take
            left -= take
            if left <= 0:
                break

    initial = np.minimum(cap, np.asarray(csc.T @ model.w).ravel())
    g_sites, _ = lazy_greedy(csc, gain, initial, commit, k=k, cost=use_cost, budget=budget)
    g_obj, g_served = allocate(a, model.w, cap, np.asarray(g_sites, np.int64), solver)
    greedy_s = time.perf_counter() - t0
    base = {"k": k, "budget": budget, "mip_gap": mip_gap, "time_limit_s": time_limit_s, "seed": seed,
            "people_per_unit": people_per_unit, "capacity_unit": problem.kind.capacity_unit if problem.kind else None,
            "objective_is": "newly served target people (within reach and capacity)",
            "greedy_seconds": round(greedy_s, 4), "demand_rows": int(g_n)}  # fmt: skip

    chosen, served, obj, bound, status, name, extra = (
        list(g_sites),
        g_served,
        g_obj,
        math.nan,
        "greedy",
        "lazy greedy",
        {},
    )
    if solver != "greedy" and g_n > 0:
        # x_j (m), z_e per pair e=(g,j) (nnz); rows: sum_j z_gj <= w_g; sum_g z_gj - cap_j x_j <= 0;
        # z_gj - min(w_g, cap_j) x_j <= 0; sum x <= k; [sum cost x <= budget]
        coo = a.tocoo()
        nnz = coo.nnz
        e = np.arange(nnz)
        zcol = m + e
        r_dem = sparse.csr_matrix((np.ones(nnz), (coo.row, zcol)), shape=(g_n, m + nnz))
        r_cap = sparse.csr_matrix(
            (np.concatenate([np.ones(nnz), -cap]), (np.concatenate([coo.col, np.arange(m)]),
                                                     np.concatenate([zcol, np.arange(m)]))),
            shape=(m, m + nnz),
        )  # fmt: skip
        vub = np.minimum(model.w[coo.row], cap[coo.col])
        r_vub = sparse.csr_matrix((np.concatenate([np.ones(nnz), -vub]),
                                   (np.concatenate([e, e]), np.concatenate([zcol, coo.col]))),
                                  shape=(nnz, m + nnz))  # fmt: skip
        blocks = [
            r_dem,
            r_cap,
            r_vub,
            sparse.csr_matrix(np.concatenate([np.ones(m), np.zeros(nnz)])[None, :]),
        ]
        hi: list[Any] = [model.w, np.zeros(m), np.zeros(nnz), [float(k)]]
        if budget is not None:
            blocks.append(sparse.csr_matrix(np.concatenate([cost, np.zeros(nnz)])[None, :]))
            hi.append([float(budget)])
        a_all = sparse.vstack(blocks, format="csr")
        mip = Mip(
            c=np.concatenate([np.zeros(m), np.ones(nnz)]), a=a_all,
            row_lo=np.full(a_all.shape[0], -np.inf), row_hi=np.concatenate(hi),
            col_lo=np.zeros(m + nnz), col_hi=np.concatenate([np.ones(m), np.full(nnz, np.inf)]),
            integer=np.concatenate([np.ones(m), np.zeros(nnz)]), maximize=True,
        )  # fmt: skip
        x0 = None
        if solver == "highs":
            _, z0 = allocate(a, model.w, cap, np.asarray(g_sites, np.int64), solver, return_flows=True)
            x0 = np.zeros(m + nnz)
            x0[np.asarray(g_sites, np.int64)] = 1.0
            x0[m:] = z0
        out = solve_mip(mip, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, seed=seed, start=x0)
        if out.x is not None and out.objective >= g_obj - 1e-9:
            sel = np.flatnonzero(out.x[:m] > 0.5)
            flows = out.x[m:]
            per_site = np.bincount(coo.col, weights=flows, minlength=m)
            chosen, served, obj = list(sel), per_site[sel], float(flows.sum())
        bound = max(out.bound, obj) if np.isfinite(out.bound) else math.nan
        status = out.status if out.status in ("optimal", "time_limit") else "time_limit"
        name = out.solver
        extra = {"mip_seconds": round(out.seconds, 3), "mip_status": out.status,
                 "mip_rows": int(a_all.shape[0]), "mip_columns": m + nnz}  # fmt: skip
    elif g_n == 0:
        bound, status = 0.0, "optimal"
    gap = rel_gap(obj, bound, maximize=True)
    if status == "optimal" and np.isfinite(gap) and gap > max(mip_gap, 1e-6):
        status = "time_limit"
    served = np.asarray(served, float)
    idx = np.argsort(-served, kind="stable")
    order = [int(chosen[i]) for i in idx if served[i] > 1e-9]
    served_sorted = [float(served[i]) for i in idx if served[i] > 1e-9]
    # newly covered (within reach) in the same order, for the table
    covered = np.zeros(g_n, bool)
    reach = []
    for j in order:
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        reach.append(float(model.w[rows][~covered[rows]].sum()))
        covered[rows] = True
    return make_result(
        problem, "cmclp", order, served_sorted, objective=obj, bound=bound, gap=gap, status=status,
        solver=name, seconds=time.perf_counter() - t0, greedy_objective=g_obj,
        params={**base, **extra}, extra_columns={"served": served_sorted, "reach_gain": reach},
    )  # fmt: skip


def allocate(
    a: sparse.csr_matrix, w: np.ndarray, cap: np.ndarray, sites: np.ndarray, solver: str,
    *, return_flows: bool = False,
) -> Any:  # fmt: skip
    """Best assignment of people to a fixed set of sites within reach and capacity (an LP)."""
    coo = a.tocoo()
    nnz = coo.nnz
    open_ = np.zeros(a.shape[1], bool)
    open_[sites] = True
    usable = open_[coo.col]
    flows = np.zeros(nnz)
    if len(sites) == 0 or not usable.any():
        res: Any = (0.0, np.zeros(len(sites)))
        return (*res[:1], flows) if return_flows else res
    e = np.flatnonzero(usable)
    rows, cols = coo.row[e], coo.col[e]
    ur, rpos = np.unique(rows, return_inverse=True)
    uc, cpos = np.unique(cols, return_inverse=True)
    ne = len(e)
    a_lp = sparse.vstack([
        sparse.csr_matrix((np.ones(ne), (rpos, np.arange(ne))), shape=(len(ur), ne)),
        sparse.csr_matrix((np.ones(ne), (cpos, np.arange(ne))), shape=(len(uc), ne)),
    ], format="csr")  # fmt: skip
    lp = Mip(c=np.ones(ne), a=a_lp, row_lo=np.full(a_lp.shape[0], -np.inf),
              row_hi=np.concatenate([w[ur], cap[uc]]), col_lo=np.zeros(ne), col_hi=np.full(ne, np.inf),
              integer=np.zeros(ne), maximize=True)  # fmt: skip
    out = solve_mip(lp, solver="highs" if solver == "highs" else "scipy", time_limit_s=1e6,
                     mip_gap=0.0, seed=0, start=None)  # fmt: skip
    if out.x is None:
        msg = f"the allocation LP ended with status {out.status}."
        raise SolverError(msg)
    flows[e] = out.x
    per_site = np.bincount(coo.col, weights=flows, minlength=a.shape[1])[sites]
    if return_flows:
        return float(flows.sum()), flows
    return float(flows.sum()), per_site
