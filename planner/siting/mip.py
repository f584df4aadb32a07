"""The MILP backend: LP relaxation, reduced-cost fixing and branch and bound (HiGHS), and reductions."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

logger = logging.getLogger(__name__)

SOLVERS = ("auto", "highs", "scipy", "greedy")


# ====================================================================== MIP
@dataclass
class Mip:
    c: np.ndarray
    a: sparse.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    integer: np.ndarray
    maximize: bool
    abs_gap: float = 1e-6


@dataclass
class MipOutcome:
    x: np.ndarray | None
    objective: float
    bound: float
    status: str
    solver: str
    seconds: float


def have_highspy() -> bool:
    try:
        import highspy  # noqa: F401
    except ImportError:
        return False
    return True


def check_solver(solver: str) -> str:
    if solver not in SOLVERS:
        msg = f"solver must be one of {list(SOLVERS)}; got {solver!r}."
        raise ValueError(msg)
    if solver == "auto":
        return "highs" if have_highspy() else "scipy"
    if solver == "highs" and not have_highspy():
        msg = "solver='highs' needs the highspy package (pip install highspy); or use solver='scipy'."
        raise ImportError(msg)
    return solver


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Send C-level writes to stdout to /dev/null for a moment (HiGHS's banner, printed by its
    constructor before any option can be set); Python's own stdout is untouched."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no file descriptor 1 (some embedded interpreters): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).fflush(None)  # what the C library still buffers goes to /dev/null too
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def new_highs() -> Any:
    """A silent ``highspy.Highs``: no banner, no log on stdout (notebooks and ``-q`` stay clean)."""
    import highspy

    with _quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def highs_model(mip: Mip, *, integer: bool, col_lo: np.ndarray, col_hi: np.ndarray) -> Any:
    """A HiGHS instance holding ``mip`` (relaxed unless ``integer``) with the given column bounds."""
    h = new_highs()
    csc = mip.a.tocsc()
    csc.sort_indices()
    h.passModel(
        len(mip.c), mip.a.shape[0], int(csc.nnz), 1, -1 if mip.maximize else 1, 0.0,
        mip.c.astype(float), col_lo.astype(float), col_hi.astype(float),
        mip.row_lo.astype(float), mip.row_hi.astype(float),
        csc.indptr.astype(np.int32), csc.indices.astype(np.int32), csc.data.astype(float),
        (mip.integer if integer else np.zeros_like(mip.integer)).astype(np.int32),
    )  # fmt: skip
    return h


def solve_mip(
    mip: Mip, *, solver: str, time_limit_s: float, mip_gap: float, seed: int | None,
    start: np.ndarray | None, lp_method: str = "primal", improve: Any = None,
) -> MipOutcome:  # fmt: skip
    """Solve a MILP; with highspy, the LP relaxation first, then reduced-cost fixing, then B&B.

    HiGHS's dual simplex is slow on the root LP of these covering models, while the primal
    simplex (coverage) or the interior point method (set covering) solves it in a second.
    When the LP optimum is integral it is the proven optimum. Otherwise every 0/1 variable
    whose LP reduced cost shows that flipping it cannot beat the incumbent is fixed (exact:
    the solutions left out are all worse than the incumbent), and HiGHS's branch and bound
    runs on what is left, with the incumbent as its start.
    """
    t0 = time.perf_counter()
    n_col = len(mip.c)
    n_row = mip.a.shape[0]
    x: np.ndarray | None
    if solver == "highs":
        import highspy

        ints = mip.integer.astype(bool)
        col_lo, col_hi = mip.col_lo.astype(float).copy(), mip.col_hi.astype(float).copy()
        sense = 1.0 if mip.maximize else -1.0
        lp_bound = math.inf * sense
        # ---- 1. LP relaxation
        h = highs_model(mip, integer=False, col_lo=col_lo, col_hi=col_hi)
        h.setOptionValue("time_limit", float(time_limit_s))
        if lp_method == "ipm":
            h.setOptionValue("solver", "ipm")
        else:
            h.setOptionValue("solver", "simplex")
            h.setOptionValue("simplex_strategy", 4 if lp_method == "primal" else 1)
        h.run()
        lp_ok = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        version = h.version()
        fixed = 0
        if lp_ok:
            sol = h.getSolution()
            x_lp = np.asarray(sol.col_value, float)
            d_lp = np.asarray(sol.col_dual, float)
            lp_val = float(h.getInfo().objective_function_value)
            lp_bound = lp_val
            frac = np.abs(x_lp[ints] - np.rint(x_lp[ints])) > 1e-7
            if not frac.any():
                x = x_lp.copy()
                x[ints] = np.rint(x[ints])
                logger.info("LP relaxation is integral: optimum proven at the root (%.2f s)",
                            time.perf_counter() - t0)  # fmt: skip
                return MipOutcome(x, float(mip.c @ x), lp_val, "optimal",
                                   f"HiGHS {version} (highspy, LP relaxation integral)",
                                   time.perf_counter() - t0)  # fmt: skip
            if improve is not None:
                better = improve(x_lp, np.asarray(sol.row_dual, float))
                if better is not None and (
                    start is None or sense * (mip.c @ better) > sense * (mip.c @ start)
                ):
                    start = better
            if start is not None:
                inc = float(mip.c @ start)
                tol = 1e-9 * max(1.0, abs(inc))
                # objective of any solution with x_j flipped is at most lp_val - |d_j| (max)
                worst = lp_val - sense * np.abs(d_lp)
                if mip.maximize:
                    cannot = worst < inc - tol
                else:
                    need = inc - (mip.abs_gap if mip.abs_gap >= 0.5 else 0.0)
                    cannot = worst > need + tol
                at_lo = np.abs(x_lp - col_lo) <= 1e-9
                at_hi = np.abs(x_lp - col_hi) <= 1e-9
                fix0 = ints & at_lo & cannot & (start <= col_lo + 0.5)
                fix1 = ints & at_hi & cannot & (start >= col_hi - 0.5)
                col_hi[fix0] = col_lo[fix0]
                col_lo[fix1] = col_hi[fix1]
                fixed = int(fix0.sum() + fix1.sum())
            logger.info(
                "LP relaxation %.6g in %.2f s (%d fractional 0/1 variables); reduced costs fix %d "
                "of %d", lp_val, time.perf_counter() - t0, int(frac.sum()), fixed, int(ints.sum()),
            )  # fmt: skip
        # ---- 2. branch and bound on what is left
        left = max(0.1, float(time_limit_s) - (time.perf_counter() - t0))
        h = highs_model(mip, integer=True, col_lo=col_lo, col_hi=col_hi)
        h.setOptionValue("time_limit", left)
        h.setOptionValue("mip_rel_gap", float(mip_gap))
        h.setOptionValue("mip_abs_gap", float(mip.abs_gap))
        h.setOptionValue("random_seed", int(seed or 0) % 2_147_483_647)
        if start is not None:
            h.setSolution(n_col, np.arange(n_col, dtype=np.int32), start.astype(float))
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
        x = np.asarray(h.getSolution().col_value, float) if has_x else None
        optimal = status == highspy.HighsModelStatus.kOptimal
        if status == highspy.HighsModelStatus.kInfeasible and not fixed:
            label = "infeasible"
        elif optimal:
            label = "optimal"
        elif status in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt,
                        highspy.HighsModelStatus.kInfeasible):  # fmt: skip
            label = "time_limit"
        else:
            label = h.modelStatusToString(status).lower().replace(" ", "_")
        objective = float(info.objective_function_value) if has_x else math.nan
        bound = float(info.mip_dual_bound)
        if start is not None and fixed:
            # solutions removed by fixing are no better than the start
            inc = float(mip.c @ start)
            bound = max(bound, inc) if mip.maximize else min(bound, inc)
            if x is None or sense * objective < sense * inc:
                x, objective = start.astype(float), inc
        if np.isfinite(lp_bound):
            bound = min(bound, lp_bound) if mip.maximize else max(bound, lp_bound)
        if label == "optimal" and fixed:
            label = "optimal"
        name = f"HiGHS {version} (highspy)"
    else:
        import scipy
        from scipy.optimize import Bounds, LinearConstraint, milp

        sign = -1.0 if mip.maximize else 1.0
        res = milp(
            sign * mip.c, integrality=mip.integer.astype(np.int8),
            bounds=Bounds(mip.col_lo, mip.col_hi),
            constraints=LinearConstraint(mip.a, mip.row_lo, mip.row_hi) if n_row else None,
            options={"disp": False, "time_limit": float(time_limit_s), "mip_rel_gap": float(mip_gap)},
        )  # fmt: skip
        x = None if res.x is None else np.asarray(res.x, float)
        objective = math.nan if x is None else float(mip.c @ x)
        dual = getattr(res, "mip_dual_bound", None)
        bound = math.nan if dual is None else sign * float(dual)
        label = {0: "optimal", 1: "time_limit", 2: "infeasible"}.get(res.status, "error")
        name = f"HiGHS via scipy {scipy.__version__} (scipy.optimize.milp)"
    return MipOutcome(x, objective, bound, label, name, time.perf_counter() - t0)


def rel_gap(objective: float, bound: float, *, maximize: bool) -> float:
    if not (np.isfinite(objective) and np.isfinite(bound)):
        return math.nan
    diff = max(0.0, (bound - objective) if maximize else (objective - bound))
    if objective == 0:
        return 0.0 if diff <= 1e-9 else math.inf
    return diff / abs(objective)


def dominated_columns(a: sparse.csr_matrix, cost: np.ndarray | None) -> np.ndarray:
    """Columns whose row set lies inside another column's (that costs no more): never needed."""
    csc = a.tocsc()
    size = np.diff(csc.indptr)
    b = csc.copy()
    b.data[:] = 1.0
    overlap = (b.T @ b).tocoo()
    j, jj, both = overlap.row, overlap.col, overlap.data
    c = np.zeros(len(size)) if cost is None else cost
    inside = (j != jj) & (np.rint(both).astype(np.int64) == size[j]) & (size[j] > 0)
    same = size[jj] == size[j]
    better = np.where(same, (c[jj] < c[j]) | ((c[jj] == c[j]) & (jj < j)), c[jj] <= c[j])
    out = np.zeros(len(size), bool)
    out[j[inside & better]] = True
    out[size == 0] = True
    return out


def redundant_rows(a: sparse.csr_matrix) -> np.ndarray:
    """Covering rows implied by another: a row whose column set contains another row's set."""
    b = a.copy()
    b.data[:] = 1.0
    size = np.diff(b.indptr)
    ov = (b @ b.T).tocoo()
    i, ii = ov.row, ov.col
    both = np.rint(ov.data).astype(np.int64)
    red = (i != ii) & (both == size[ii]) & ((size[i] > size[ii]) | ((size[i] == size[ii]) & (ii < i)))
    out = np.zeros(a.shape[0], bool)
    out[i[red]] = True
    return out


def start_from_sites(
    sites: Sequence[int], keep_cols: np.ndarray, dom: np.ndarray, a: sparse.csr_matrix,
    cost: np.ndarray | None,
) -> np.ndarray:  # fmt: skip
    """0/1 over the kept columns: each greedy site, or a kept column that covers all its rows."""
    pos = np.full(a.shape[1], -1, np.int64)
    pos[keep_cols] = np.arange(len(keep_cols))
    x = np.zeros(len(keep_cols))
    csc = a.tocsc()
    kept = a[:, keep_cols].tocsr()
    for j in sites:
        if not dom[j]:
            x[pos[j]] = 1.0
            continue
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        if len(rows) == 0:
            continue
        hits = np.asarray(kept[rows].sum(axis=0)).ravel()
        cands = np.flatnonzero(hits == len(rows))
        if cost is not None:
            cands = cands[cost[keep_cols[cands]] <= cost[j] + 1e-12]
        free = cands[x[cands] == 0]
        if len(free):
            x[free[0]] = 1.0
        elif len(cands) == 0:  # should not happen; fall back to nothing for this site
            logger.debug("no dominating column found for site %d", j)
    return x
