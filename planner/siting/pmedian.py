"""p-median: k new sites that minimise the population-weighted walking time."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from planner.siting.greedy import lazy_greedy
from planner.siting.mip import (
    Mip,
    SolveProgress,
    check_solver,
    mip_feasible,
    rel_gap,
    solve_mip,
)
from planner.siting.problem import SitingProblem, check_common, check_k
from planner.siting.reduce import pmedian_fixing, pmedian_lagrangian
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
        out = _exact(s_mat, k, list(g_sites), g_obj, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap,
                     seed=seed, progress=SolveProgress("pmedian", enabled=progress, maximize=True))  # fmt: skip
        chosen, obj, status, name, extra = out.sites, out.objective, out.status, out.solver, out.info
        bound = max(min(out.bound, bound_g), obj)
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
    if len(order) < k:
        base["note"] = f"{len(order)} sites save every minute new sites can save; {k} asked"
        logger.warning("pmedian: %s", base["note"])
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


@dataclass
class _Exact:
    sites: list[int]
    objective: float
    bound: float
    status: str
    solver: str
    info: dict[str, Any]


def _exact(
    s_mat: sparse.csr_matrix, k: int, g_sites: list[int], g_obj: float, *, solver: str, time_limit_s: float,
    mip_gap: float, seed: int | None, progress: SolveProgress,
) -> _Exact:  # fmt: skip
    """Lagrangian bound, swaps on the candidates it ranks high, Lagrangian fixing, then the MILP.

    The Lagrangian relaxation of the assignment rows (:func:`~planner.siting.reduce.pmedian_lagrangian`)
    bounds the p-median in O(pairs) per step; candidates it shows to be out of (in) every solution
    better than the incumbent are dropped (fixed open) before HiGHS sees the model. On the 100k-cell
    city it leaves a few hundred of 10,200 candidates.
    """
    t0 = time.perf_counter()
    m = s_mat.shape[1]
    lag = pmedian_lagrangian(s_mat, k, lower=g_obj, time_limit_s=min(15.0, 0.25 * time_limit_s))
    pool = np.argsort(-lag.reduced_cost, kind="stable")[: max(5 * k, 200)]
    inc_sites = swap_improve(
        s_mat, list(g_sites), candidates=pool, time_limit_s=min(10.0, 0.15 * time_limit_s)
    )
    top = np.argsort(-lag.reduced_cost, kind="stable")[:k]
    if pmedian_saving(s_mat, top) > pmedian_saving(s_mat, np.asarray(inc_sites)):
        inc_sites = [int(j) for j in top]
    inc = pmedian_saving(s_mat, np.asarray(inc_sites))
    info: dict[str, Any] = {"lagrangian_bound": lag.bound, "lagrangian_seconds": round(lag.seconds, 2),
                            "incumbent_after_swaps": inc}  # fmt: skip
    tol = 1e-7 * max(1.0, inc)
    if lag.bound <= inc + max(tol, mip_gap * inc):
        return _Exact(inc_sites, inc, max(lag.bound, inc), "optimal", "Lagrangian bound (p-median)", info)
    fix0, fix1 = pmedian_fixing(lag, k, inc)
    keep = np.union1d(np.flatnonzero(~fix0), np.asarray(inc_sites, np.int64))
    info.update(fixed_out=int(fix0.sum()), fixed_in=int(fix1.sum()), candidates_left=len(keep))
    logger.info("pmedian: greedy %.6g, swaps %.6g, Lagrangian bound %.6g in %.2f s; %d of %d candidates left",
                g_obj, inc, lag.bound, lag.seconds, len(keep), m)  # fmt: skip
    mip, sm, pos = _pmedian_mip(s_mat, keep, k, fix1)
    x0 = _assignment_start(sm, len(keep), pos[np.asarray(inc_sites, np.int64)])
    left = max(1.0, time_limit_s - (time.perf_counter() - t0))
    out = solve_mip(mip, solver=solver, time_limit_s=left, mip_gap=mip_gap, seed=seed,
                    start=x0 if solver == "highs" and mip_feasible(mip, x0, mip.col_lo, mip.col_hi) else None,
                    lp_method="dual", progress=progress)  # fmt: skip
    if out.x is not None:
        sel = keep[np.flatnonzero(out.x[: len(keep)] > 0.5)]
        val = pmedian_saving(s_mat, sel)
        if val > inc:
            inc_sites, inc = [int(j) for j in sel], val
    # the MILP's bound holds for the solutions not fixed out; those fixed out are below the incumbent
    mip_bound = max(out.bound, inc) if np.isfinite(out.bound) else math.inf
    bound = max(min(lag.bound, mip_bound), inc)
    status = "optimal" if bound <= inc + max(tol, mip_gap * inc) else "time_limit"
    info.update(mip_seconds=round(out.seconds, 3), mip_status=out.status, mip_rows=int(mip.a.shape[0]),
                mip_columns=len(mip.c))  # fmt: skip
    return _Exact(inc_sites, inc, bound, status, out.solver + " after Lagrangian fixing", info)


def _pmedian_mip(
    s_mat: sparse.csr_matrix, keep: np.ndarray, k: int, fix1: np.ndarray
) -> tuple[Mip, sparse.coo_matrix, np.ndarray]:  # fmt: skip
    """max Σ s_e z_e: z_e ≤ x_j(e), Σ_{e ∈ row} z_e ≤ 1, Σ x ≤ k, on the columns ``keep`` (rows one
    column reaches folded into its objective); and the position of each column in ``keep``."""
    mk = len(keep)
    pos = np.full(s_mat.shape[1], -1, np.int64)
    pos[keep] = np.arange(mk)
    sub = s_mat[:, keep].tocsr()
    sub = sub[np.diff(sub.indptr) > 0]
    deg = np.diff(sub.indptr)
    single = deg == 1
    c_x = np.bincount(sub.indices[sub.indptr[:-1][single]], weights=sub.data[sub.indptr[:-1][single]],
                      minlength=mk)  # fmt: skip
    multi = np.flatnonzero(deg > 1)
    sm = sub[multi].tocoo()
    nz = sm.nnz
    e = np.arange(nz)
    a_all = sparse.vstack([
        sparse.csr_matrix((np.concatenate([np.ones(nz), -np.ones(nz)]),
                           (np.concatenate([e, e]), np.concatenate([mk + e, sm.col]))), shape=(nz, mk + nz)),
        sparse.csr_matrix((np.ones(nz), (sm.row, mk + e)), shape=(len(multi), mk + nz)),
        sparse.csr_matrix(np.concatenate([np.ones(mk), np.zeros(nz)])[None, :]),
    ], format="csr")  # fmt: skip
    col_lo = np.zeros(mk + nz)
    col_lo[:mk][fix1[keep]] = 1.0
    mip = Mip(c=np.concatenate([c_x, sm.data]), a=a_all, row_lo=np.full(a_all.shape[0], -np.inf),
              row_hi=np.concatenate([np.zeros(nz), np.ones(len(multi)), [float(k)]]), col_lo=col_lo,
              col_hi=np.ones(mk + nz), integer=np.concatenate([np.ones(mk), np.zeros(nz)]), maximize=True)  # fmt: skip
    return mip, sm, pos


def _assignment_start(sm: sparse.coo_matrix, mk: int, open_cols: np.ndarray) -> np.ndarray:
    """The MILP solution of the sites ``open_cols``: each row to its best open site."""
    nz = sm.nnz
    x0 = np.zeros(mk + nz)
    x0[open_cols[open_cols >= 0]] = 1.0
    open_ = x0[:mk] > 0.5
    val = np.where(open_[sm.col], sm.data, -1.0)
    order_e = np.lexsort((-val, sm.row))
    first = np.ones(nz, bool)
    first[1:] = sm.row[order_e][1:] != sm.row[order_e][:-1]
    x0[mk + order_e[first & (val[order_e] > 0)]] = 1.0
    return x0


def swap_improve(
    s: sparse.csr_matrix, sites: list[int], *, candidates: np.ndarray, time_limit_s: float
) -> list[int]:  # fmt: skip
    """First-improvement swaps (Teitz–Bart) with ``candidates``, until none improves or time runs out.

    The change of a swap (add ``j``, drop ``q``) is computed exactly from each row's best and
    second-best open site.
    """
    t0 = time.perf_counter()
    s_csc = s.tocsc()
    cur = list(sites)
    if len(cur) < 1 or s.shape[0] * len(cur) > 50_000_000:
        return cur
    val = pmedian_saving(s, np.asarray(cur))
    improved = True
    while improved and time.perf_counter() - t0 < time_limit_s:
        improved = False
        sub = s[:, cur].toarray()
        order = np.argsort(-sub, axis=1)
        best1 = np.take_along_axis(sub, order[:, :1], axis=1).ravel()
        second = (
            np.take_along_axis(sub, order[:, 1:2], axis=1).ravel() if len(cur) > 1 else np.zeros(len(best1))
        )
        arg1 = order[:, 0]
        loss = np.bincount(arg1, weights=best1 - second, minlength=len(cur))  # dropping q: its rows fall back
        in_cur = set(cur)
        for j in candidates:
            if int(j) in in_cur:
                continue
            sl = slice(s_csc.indptr[j], s_csc.indptr[j + 1])
            r, v = s_csc.indices[sl], s_csc.data[sl]
            add = float(np.maximum(v - best1[r], 0).sum())
            if add <= 0:
                continue
            back = np.zeros(len(cur))  # rows of q that j serves at least as well as their second best
            np.add.at(back, arg1[r], np.minimum(best1[r] - second[r], np.maximum(0.0, v - second[r])))
            delta = add - (loss - back)
            q = int(np.argmax(delta))
            if delta[q] > 1e-9 * max(1.0, val):
                cur[q] = int(j)
                val = pmedian_saving(s, np.asarray(cur))
                improved = True
                break
            if time.perf_counter() - t0 > time_limit_s:
                break
    return cur
