"""Exact reductions and Lagrangian bounds for set covering (LSCP) and the p-median.

Everything here keeps at least one optimal solution (``tests/test_siting_reductions.py``
checks each step against brute force on tiny instances).

Set covering, "every row covered" (:func:`reduce_set_cover`), until nothing changes:

* *essential* columns: a row that only one column covers forces that column in; the rows it
  covers go;
* dominated columns (:func:`~planner.siting.mip.dominated_columns`: rows inside another
  column's that costs no more; of identical ones exactly one stays) and columns covering
  nothing left;
* dominated rows (:func:`~planner.siting.mip.redundant_rows`: a row whose column set contains
  another row's set is covered whenever that one is).

What is left splits into connected components (:func:`split_components`), solved one by one.
:func:`lagrangian_set_cover` gives a lower bound (the LP bound in the limit) by subgradient
steps in numpy, and :func:`lagrangian_fix_cover` fixes columns by their Lagrangian reduced costs.

p-median, savings form ``max Σ s_e z_e, z_e ≤ x_j(e), Σ_{e ∈ row i} z_e ≤ 1, Σ x ≤ k``:
relaxing the assignment rows with ``λ_i ≥ 0`` leaves ``ρ_j(λ) = Σ_{e ∈ j} max(0, s_e − λ_i(e))``
per column, and ``L(λ) = Σ λ + (the k largest ρ_j)`` is an upper bound for every ``λ ≥ 0``
(:func:`pmedian_lagrangian`); a column outside the best ``k`` with ``L − ρ_(k) + ρ_j`` below the
incumbent is in no better solution (:func:`pmedian_fixing`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from planner.siting.mip import dominated_columns, redundant_rows

logger = logging.getLogger(__name__)


# ====================================================================== set covering
@dataclass
class CoverReduction:
    """What :func:`reduce_set_cover` leaves: forced columns and the remaining rows × columns."""

    forced: np.ndarray  # columns in every cover built from this reduction (original indices)
    rows: np.ndarray  # remaining rows (original indices)
    cols: np.ndarray  # remaining columns (original indices)
    a: sparse.csr_matrix  # a[rows][:, cols]
    rounds: list[dict[str, int]] = field(default_factory=list)


def reduce_set_cover(a: sparse.csr_matrix, cost: np.ndarray, *, max_rounds: int = 50) -> CoverReduction:
    """Reduce "cover every row" to a fixpoint; exact.

    ``cost(forced) + OPT(remaining)`` is the optimum of the whole instance, and the forced
    columns with any cover of the remaining rows by the remaining columns cover every row.

    Parameters
    ----------
    a
        Rows × columns, non-zero where the column covers the row; every row coverable.
    cost
        Per column, positive.
    max_rounds
        Most rounds of the reductions.

    Returns
    -------
    CoverReduction
    """
    cur = sparse.csr_matrix(a, dtype=float)
    cur.eliminate_zeros()
    cur.data[:] = 1.0
    if (np.diff(cur.indptr) == 0).any():
        msg = "a row that no column covers: the set-covering instance is infeasible."
        raise ValueError(msg)
    rows, cols = np.arange(cur.shape[0]), np.arange(cur.shape[1])
    forced: list[np.ndarray] = []
    rounds: list[dict[str, int]] = []
    for _ in range(max_rounds):
        if len(rows) == 0:
            break
        info = {"rows": len(rows), "cols": len(cols)}
        used = np.diff(cur.tocsc().indptr) > 0
        deg = np.diff(cur.indptr)
        essential = np.unique(cur.indices[cur.indptr[:-1][deg == 1]])
        if len(essential):  # the only column of some row
            forced.append(cols[essential])
            hit = np.asarray(cur[:, essential].sum(axis=1)).ravel() > 0
            keep_r = np.flatnonzero(~hit)
            keep_c = np.setdiff1d(np.flatnonzero(used), essential)
            info.update(essential=len(essential), rows_covered_by_essential=int(hit.sum()))
        else:
            dom = dominated_columns(cur, cost[cols]) | ~used
            keep_c = np.flatnonzero(~dom)
            red = redundant_rows(cur[:, keep_c].tocsr())
            info.update(dominated_cols=int(dom.sum()), dominated_rows=int(red.sum()))
            if not dom.any() and not red.any():
                rounds.append(info)
                break
            keep_r = np.flatnonzero(~red)
        rounds.append(info)
        rows, cols = rows[keep_r], cols[keep_c]
        cur = cur[keep_r][:, keep_c].tocsr()
    if len(rows) == 0:
        cols = cols[:0]
        cur = sparse.csr_matrix((0, 0))
    forced_all = np.unique(np.concatenate(forced)) if forced else np.zeros(0, np.int64)
    return CoverReduction(forced_all, rows, cols, cur.tocsr(), rounds)


def split_components(a: sparse.csr_matrix) -> list[tuple[np.ndarray, np.ndarray]]:
    """Rows and columns of each connected component of the row–column graph of ``a``.

    Components without a row (columns that cover nothing) are left out.
    """
    n, m = a.shape
    if n == 0:
        return []
    coo = a.tocoo()
    g = sparse.csr_matrix((np.ones(coo.nnz), (coo.row, n + coo.col)), shape=(n + m, n + m))
    k, label = csgraph.connected_components(g, directed=False)
    rl, cl = label[:n], label[n:]
    order_r, order_c = np.argsort(rl, kind="stable"), np.argsort(cl, kind="stable")
    r_start = np.searchsorted(rl[order_r], np.arange(k + 1))
    c_start = np.searchsorted(cl[order_c], np.arange(k + 1))
    out = []
    for c in range(k):
        r = order_r[r_start[c] : r_start[c + 1]]
        if len(r):
            out.append((r, order_c[c_start[c] : c_start[c + 1]]))
    return out


@dataclass
class Lagrangian:
    """A Lagrangian bound: its value, multipliers and the reduced cost of each column."""

    bound: float
    multipliers: np.ndarray
    reduced_cost: np.ndarray
    iterations: int
    seconds: float


def lagrangian_set_cover(
    a: sparse.csr_matrix, cost: np.ndarray, *, upper: float, iterations: int = 3000, time_limit_s: float = 20.0,
) -> Lagrangian:  # fmt: skip
    """Lower bound of ``min c x, A x ≥ 1, x ∈ {0,1}`` by subgradient steps on the row multipliers.

    ``L(λ) = Σ λ_i + Σ_j min(0, c_j − Σ_{i ∈ j} λ_i)`` for ``λ ≥ 0`` (Held–Karp steps towards
    the incumbent ``upper``; the step factor halves after 30 steps without progress).
    """
    t0 = time.perf_counter()
    a = a.tocsr()
    at = a.T.tocsr()
    n = a.shape[0]
    if n == 0:
        return Lagrangian(0.0, np.zeros(0), cost.copy(), 0, 0.0)
    size = np.diff(at.indptr).astype(float)
    per = np.where(size > 0, cost / np.maximum(size, 1), np.inf)
    coo = a.tocoo()
    lam = np.full(n, np.inf)
    np.minimum.at(lam, coo.row, per[coo.col])  # each row at its cheapest column's cost per row
    best, best_lam, best_rc = -math.inf, lam.copy(), cost.copy()
    f, stall, it = 2.0, 0, 0
    while it < iterations:
        it += 1
        rc = cost - at @ lam
        neg = rc < 0
        val = float(lam.sum() + rc[neg].sum())
        if val > best + 1e-9 * max(1.0, abs(best)) or not math.isfinite(best):
            best, best_lam, best_rc, stall = val, lam.copy(), rc, 0
        else:
            stall += 1
            if stall >= 30:
                f, stall = f / 2, 0
        if f < 1e-4 or time.perf_counter() - t0 > time_limit_s or upper - best < 1 - 1e-6:
            break
        g = 1.0 - np.asarray(a[:, np.flatnonzero(neg)].sum(axis=1)).ravel()
        g[(lam <= 0) & (g < 0)] = 0.0
        norm = float(g @ g)
        if norm == 0:
            break
        lam = np.maximum(0.0, lam + f * (upper - val) / norm * g)
    return Lagrangian(best, best_lam, best_rc, it, time.perf_counter() - t0)


def lagrangian_fix_cover(lag: Lagrangian, upper: float, *, integral: bool) -> tuple[np.ndarray, np.ndarray]:
    """Columns out of (``fix0``) / in (``fix1``) every cover cheaper than ``upper`` (by a unit if integral)."""
    need = upper - (1.0 - 1e-6 if integral else 0.0)
    rc = lag.reduced_cost
    fix0 = (rc > 0) & (lag.bound + rc > need + 1e-9)
    fix1 = (rc < 0) & (lag.bound - rc > need + 1e-9)
    return fix0, fix1


# ====================================================================== p-median
def pmedian_lagrangian(
    s: sparse.csr_matrix, k: int, *, lower: float, iterations: int = 2000, time_limit_s: float = 20.0,
) -> Lagrangian:  # fmt: skip
    """Upper bound of the p-median (savings form) by subgradient steps on the assignment rows.

    ``reduced_cost`` holds ``ρ_j`` of the best multipliers (see the module's text).
    """
    t0 = time.perf_counter()
    s = s.tocsr()
    n, m = s.shape
    coo = s.tocoo()
    row, col, val = coo.row, coo.col, coo.data
    lam = np.asarray(s.max(axis=1).toarray()).ravel() * 0.5
    best, best_lam, best_rho = math.inf, lam.copy(), np.zeros(m)
    f, stall, it = 1.0, 0, 0
    while it < iterations:
        it += 1
        pos = val - lam[row]
        pos_mask = pos > 0
        rho = np.bincount(col[pos_mask], weights=pos[pos_mask], minlength=m)
        top = np.argpartition(-rho, k - 1)[:k] if m > k else np.arange(m)
        val_l = float(lam.sum() + rho[top].sum())
        if val_l < best - 1e-9 * max(1.0, abs(best)) or not math.isfinite(best):
            best, best_lam, best_rho, stall = val_l, lam.copy(), rho, 0
        else:
            stall += 1
            if stall >= 20:
                f, stall = f / 2, 0
        if f < 1e-5 or time.perf_counter() - t0 > time_limit_s or best - lower <= 1e-7 * max(1.0, abs(lower)):
            break
        chosen = np.zeros(m, bool)
        chosen[top] = True
        g = 1.0 - np.bincount(row[pos_mask & chosen[col]], minlength=n).astype(float)
        g[(lam <= 0) & (g > 0)] = 0.0
        norm = float(g @ g)
        if norm == 0:
            break
        lam = np.maximum(0.0, lam - f * (val_l - lower) / norm * g)
    return Lagrangian(best, best_lam, best_rho, it, time.perf_counter() - t0)


def pmedian_fixing(lag: Lagrangian, k: int, incumbent: float) -> tuple[np.ndarray, np.ndarray]:
    """Columns out of (``fix0``) / in (``fix1``) every p-median solution better than ``incumbent``."""
    rho = lag.reduced_cost
    m = len(rho)
    if m <= k:
        return np.zeros(m, bool), np.zeros(m, bool)
    order = np.argsort(-rho, kind="stable")
    top = np.zeros(m, bool)
    top[order[:k]] = True
    kth, next_ = rho[order[k - 1]], rho[order[k]]
    tol = 1e-9 * max(1.0, abs(incumbent))
    fix0 = ~top & (lag.bound - kth + rho < incumbent - tol)
    fix1 = top & (lag.bound - rho + next_ < incumbent - tol)
    return fix0, fix1
