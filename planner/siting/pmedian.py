"""p-median: k new sites that minimise the population-weighted walking time."""

from __future__ import annotations

import logging
import math
import time

import numpy as np
from scipy import sparse

from planner.siting.greedy import lazy_greedy
from planner.siting.mip import (
    Mip,
    SolveProgress,
    check_solver,
    rel_gap,
    solve_mip,
)
from planner.siting.problem import SitingProblem, check_common, check_k
from planner.siting.result import (
    SitingResult,
    coverage_gains_in_order,
    drop_useless,
    make_result,
)

logger = logging.getLogger(__name__)


# ====================================================================== p-median
def solve_p_median(
    problem: SitingProblem,
    k: int,
    *,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
    solver: str = "auto",
    seed: int | None = None,
    progress: bool = False,
) -> SitingResult:
    """p-median: ``k`` new sites that minimise the population-weighted walking time.

    Everyone walks to the nearest facility, existing or new. Walks longer than the
    problem's ``limit_min`` (and people out of reach) count at ``limit_min``: build the
    problem with a larger ``max_minutes`` to tell far from very far. The objective is the
    person-minutes saved by the new sites (so the gap is measured on what they add).

    Parameters
    ----------
    problem
        The siting problem; it needs walking minutes (``from_network``, or ``minutes=``).
    k
        Number of new sites.
    time_limit_s
        Time limit of the MILP, in seconds.
    mip_gap
        Relative gap on the minutes saved at which to stop (0: prove the optimum).
    solver
        ``"auto"``, ``"highs"``, ``"scipy"`` or ``"greedy"``.
    seed
        Seed of the MILP solver's random choices.
    progress
        Progress lines (elapsed, best, bound, gap) on stderr while a solve runs past ~2 s.

    Returns
    -------
    SitingResult
        ``objective`` is person-minutes saved; ``params`` has the mean minutes before
        and after (``mean_minutes_before`` / ``mean_minutes_after``).

    Examples
    --------
    >>> p = SitingProblem.from_coverage_matrix(
    ...     [[1, 0], [1, 1], [0, 1]], [10, 10, 10], threshold_min=15, limit_min=20,
    ...     minutes=[[2, np.inf], [8, 9], [np.inf, 4]])
    >>> r = solve_p_median(p, 1)
    >>> r.sites["candidate_id"].tolist(), r.objective
    (['0'], 300.0)
    """
    k = check_k(problem, k)
    check_common(time_limit_s, mip_gap)
    solver = check_solver(solver)
    if problem.minutes is None:
        msg = "the p-median needs walking minutes; build the problem with minutes (from_network does)."
        raise ValueError(msg)
    t0 = time.perf_counter()
    limit = problem.limit_min
    fallback = np.minimum(problem.existing_min, limit)
    mins = problem.minutes.tocoo()
    w = problem.weights
    save = w[mins.row] * (fallback[mins.row] - mins.data)
    keep = save > 1e-12
    rows, cols, save = mins.row[keep], mins.col[keep], save[keep]
    ur, rpos = np.unique(rows, return_inverse=True)
    m = problem.n_candidates
    s_mat = sparse.csr_matrix((save, (rpos, cols)), shape=(len(ur), m))
    s_csc = s_mat.tocsc()
    # greedy on savings: current saving per row is the best saving of an open site
    best = np.zeros(len(ur))

    def gain(j: int) -> float:
        sl = slice(s_csc.indptr[j], s_csc.indptr[j + 1])
        r = s_csc.indices[sl]
        return float(np.maximum(s_csc.data[sl] - best[r], 0.0).sum())

    def commit(j: int) -> None:
        sl = slice(s_csc.indptr[j], s_csc.indptr[j + 1])
        r = s_csc.indices[sl]
        best[r] = np.maximum(best[r], s_csc.data[sl])

    initial = np.asarray(s_csc.sum(axis=0)).ravel()
    g_sites, g_gains = lazy_greedy(s_csc, gain, initial, commit, k=k)
    g_obj = float(sum(g_gains))
    gains_now = np.asarray(np.maximum(s_csc.toarray() - best[:, None], 0).sum(axis=0)).ravel() if (
        s_csc.shape[0] * m <= 5_000_000) else initial  # fmt: skip
    bound_g = g_obj + float(np.sort(gains_now)[-k:].sum()) if m else g_obj
    if g_obj > 0:
        bound_g = min(bound_g, g_obj / (1 - (1 - 1 / k) ** k))
    greedy_s = time.perf_counter() - t0
    w_total = float(w.sum())
    base_minutes = float((w * fallback).sum())
    base = {"k": k, "mip_gap": mip_gap, "time_limit_s": time_limit_s, "seed": seed,
            "objective_is": "person-minutes saved (walks capped at limit_min)",
            "greedy_seconds": round(greedy_s, 4), "pairs_that_save": len(save),
            "mean_minutes_before": base_minutes / w_total if w_total > 0 else math.nan}  # fmt: skip
    chosen, obj, bound, status, name, extra = list(g_sites), g_obj, bound_g, "greedy", "lazy greedy", {}
    if solver != "greedy" and len(save):
        deg = np.diff(s_mat.indptr)
        single = deg == 1
        c_x = np.bincount(s_mat.indices[s_mat.indptr[:-1][single]], weights=s_mat.data[s_mat.indptr[:-1][single]],
                          minlength=m)  # fmt: skip
        multi_rows = np.flatnonzero(deg > 1)
        sm = s_mat[multi_rows].tocoo()
        nz = sm.nnz
        e = np.arange(nz)
        # z_e <= x_j ; sum_j z_gj <= 1 ; sum x <= k
        a_all = sparse.vstack([
            sparse.csr_matrix((np.concatenate([np.ones(nz), -np.ones(nz)]),
                               (np.concatenate([e, e]), np.concatenate([m + e, sm.col]))), shape=(nz, m + nz)),
            sparse.csr_matrix((np.ones(nz), (sm.row, m + e)), shape=(len(multi_rows), m + nz)),
            sparse.csr_matrix(np.concatenate([np.ones(m), np.zeros(nz)])[None, :]),
        ], format="csr")  # fmt: skip
        mip = Mip(
            c=np.concatenate([c_x, sm.data]), a=a_all, row_lo=np.full(a_all.shape[0], -np.inf),
            row_hi=np.concatenate([np.zeros(nz), np.ones(len(multi_rows)), [float(k)]]),
            col_lo=np.zeros(m + nz), col_hi=np.ones(m + nz),
            integer=np.concatenate([np.ones(m), np.zeros(nz)]), maximize=True,
        )  # fmt: skip
        x0 = None
        if solver == "highs":
            x0 = np.zeros(m + nz)
            x0[np.asarray(g_sites, np.int64)] = 1.0
            open_ = x0[:m] > 0.5
            # each multi row goes to its best open site
            val = np.where(open_[sm.col], sm.data, -1.0)
            order_e = np.lexsort((-val, sm.row))
            first = np.ones(nz, bool)
            first[1:] = sm.row[order_e][1:] != sm.row[order_e][:-1]
            pick = order_e[first & (val[order_e] > 0)]
            x0[m + pick] = 1.0
        out = solve_mip(mip, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, seed=seed, start=x0,
                         lp_method="dual", progress=SolveProgress("pmedian", enabled=progress, maximize=True))  # fmt: skip
        if out.x is not None:
            sel = np.flatnonzero(out.x[:m] > 0.5)
            saved_total = pmedian_saving(s_mat, sel)
            if saved_total >= g_obj - 1e-9:
                chosen, obj = list(sel), saved_total
        bound = max(min(out.bound, bound_g), obj) if np.isfinite(out.bound) else bound_g
        status = out.status if out.status in ("optimal", "time_limit") else "time_limit"
        name = out.solver
        extra = {"mip_seconds": round(out.seconds, 3), "mip_status": out.status,
                 "mip_rows": int(a_all.shape[0]), "mip_columns": m + nz}  # fmt: skip
    elif not len(save):
        bound, status, name = 0.0, "optimal", "none (no site saves any minutes)"
    gap = rel_gap(obj, bound, maximize=True)
    if status == "optimal" and np.isfinite(gap) and gap > max(mip_gap, 1e-6):
        status = "time_limit"
    # build order by minutes saved
    best[:] = 0.0
    order, saved = lazy_greedy(s_csc, gain, initial, commit, k=None, allowed=np.asarray(chosen, np.int64))
    rest = [j for j in chosen if j not in set(order)]
    order, saved = order + rest, saved + [0.0] * len(rest)
    order, saved = drop_useless(order, saved, "pmedian")
    covered_gain = coverage_gains_in_order(problem, order)
    after_minutes = base_minutes - obj
    base["mean_minutes_after"] = after_minutes / w_total if w_total > 0 else math.nan
    return make_result(
        problem, "pmedian", order, covered_gain, objective=obj, bound=bound, gap=gap, status=status,
        solver=name, seconds=time.perf_counter() - t0, greedy_objective=g_obj, params={**base, **extra},
        extra_columns={"minutes_saved": saved},
    )  # fmt: skip


def pmedian_saving(s_mat: sparse.csr_matrix, sites: np.ndarray) -> float:
    if len(sites) == 0:
        return 0.0
    sub = s_mat[:, sites].tocsr()
    return float(sub.max(axis=1).toarray().sum())
