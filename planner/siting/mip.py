"""The MILP backend: LP relaxation, reduced-cost fixing and branch and bound (HiGHS), and reductions."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
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


class SolveProgress:
    """Progress lines of a long solve on stderr: elapsed, best, bound, gap (every ~2 s after 2 s).

    Quiet unless ``enabled`` (the CLI enables it without ``-q``; the Python API and the tests
    leave it off). The solver's own log never reaches stdout (:func:`new_highs`).
    """

    def __init__(self, label: str, *, enabled: bool, maximize: bool, every_s: float = 2.0) -> None:
        self.label = label
        self.enabled = enabled
        self.maximize = maximize
        self.every_s = every_s
        self.t0 = time.perf_counter()
        self.last = self.t0
        self.lines = 0
        # added to best and bound: what parts solved before this one (set covering's forced
        # sites and smaller components) contribute, so the line shows whole-problem figures
        self.offset = 0.0
        self.offset_bound = 0.0

    def update(self, best: float, bound: float, *, force: bool = False) -> None:
        """Print a line when enabled and due (or ``force``)."""
        now = time.perf_counter()
        if not self.enabled or (
            not force and (now - self.t0 < self.every_s or now - self.last < self.every_s)
        ):
            return
        self.last = now
        self.lines += 1
        best, bound = best + self.offset, bound + self.offset_bound
        gap = rel_gap(best, bound, maximize=self.maximize)
        gap_text = f"{100 * gap:.2f} %" if np.isfinite(gap) else "-"
        best_text = f"{best:,.6g}" if np.isfinite(best) else "-"
        bound_text = f"{bound:,.6g}" if np.isfinite(bound) else "-"
        sys.stderr.write(
            f"planner: {self.label}: {now - self.t0:.0f} s, best {best_text}, bound {bound_text}, gap {gap_text}\n"
        )
        sys.stderr.flush()


def solve_mip(
    mip: Mip, *, solver: str, time_limit_s: float, mip_gap: float, seed: int | None,
    start: np.ndarray | None, lp_method: str = "primal", improve: Any = None,
    progress: SolveProgress | None = None,
) -> MipOutcome:  # fmt: skip
    """Solve a MILP with the backend ``solver`` (a key of :data:`BACKENDS`).

    ``start`` is an incumbent (feasible 0/1 solution) or None; ``improve(x_lp, row_duals)``
    may return a better one from the LP relaxation (highs only). The objective returned is
    always ``c @ x`` of an ``x`` checked against the rows, bounds and integrality.
    """
    if solver not in BACKENDS:
        msg = f"MIP backend must be one of {list(BACKENDS)}; got {solver!r}."
        raise ValueError(msg)
    t0 = time.perf_counter()
    out = BACKENDS[solver](mip, time_limit_s=time_limit_s, mip_gap=mip_gap, seed=seed, start=start,
                           lp_method=lp_method, improve=improve, progress=progress)  # fmt: skip
    out.seconds = time.perf_counter() - t0
    return out


def mip_feasible(mip: Mip, x: np.ndarray, col_lo: np.ndarray, col_hi: np.ndarray, tol: float = 1e-6) -> bool:
    """Whether ``x`` meets the rows, the column bounds and integrality (within ``tol``)."""
    x = np.asarray(x, float)
    if x.shape != mip.c.shape or not np.isfinite(x).all():
        return False
    act = mip.a @ x
    scale = tol * (1.0 + np.abs(act))
    if (act < mip.row_lo - scale).any() or (act > mip.row_hi + scale).any():
        return False
    if (x < col_lo - tol).any() or (x > col_hi + tol).any():
        return False
    ints = mip.integer.astype(bool)
    return bool((np.abs(x[ints] - np.rint(x[ints])) <= 1e-5).all())


def reduced_cost_fixing(
    mip: Mip, x_lp: np.ndarray, d_lp: np.ndarray, lp_val: float, start: np.ndarray,
    col_lo: np.ndarray, col_hi: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """0/1 variables that every solution better than ``start`` has at their LP value.

    Any solution with ``x_j`` moved off the bound it has in the LP optimum is worse than
    the LP by at least ``|d_j|`` (its reduced cost). Returns the masks of the variables to
    fix at their lower and at their upper bound: those where that worst case cannot beat the
    incumbent ``start`` (by a whole unit when ``abs_gap >= 0.5``, i.e. an integral objective
    to minimise) and where ``start`` has the same value, so ``start`` stays feasible.
    """
    ints = mip.integer.astype(bool)
    sense = 1.0 if mip.maximize else -1.0
    inc = float(mip.c @ start)
    tol = 1e-9 * max(1.0, abs(inc))
    worst = lp_val - sense * np.abs(d_lp)  # objective of any solution with x_j flipped is at most this (max)
    if mip.maximize:
        cannot = worst < inc - tol
    else:
        need = inc - (mip.abs_gap if mip.abs_gap >= 0.5 else 0.0)
        cannot = worst > need + tol
    at_lo = np.abs(x_lp - col_lo) <= 1e-9
    at_hi = np.abs(x_lp - col_hi) <= 1e-9
    fix0 = ints & at_lo & cannot & (start <= col_lo + 0.5)
    fix1 = ints & at_hi & cannot & (start >= col_hi - 0.5)
    return fix0, fix1


@dataclass
class _Root:
    """What the root LP left for branch and bound."""

    col_lo: np.ndarray
    col_hi: np.ndarray
    start: np.ndarray | None
    bound: float
    fixed: int
    done: MipOutcome | None


def _highs_root(
    mip: Mip, *, time_limit_s: float, start: np.ndarray | None, lp_method: str, improve: Any, version: str
) -> _Root:
    """The LP relaxation: an integral optimum is a proof; else a better incumbent and reduced-cost fixing."""
    import highspy

    t0 = time.perf_counter()
    ints = mip.integer.astype(bool)
    col_lo, col_hi = mip.col_lo.astype(float).copy(), mip.col_hi.astype(float).copy()
    sense = 1.0 if mip.maximize else -1.0
    h = highs_model(mip, integer=False, col_lo=col_lo, col_hi=col_hi)
    h.setOptionValue("time_limit", float(time_limit_s))
    if lp_method == "ipm":
        h.setOptionValue("solver", "ipm")
    else:
        h.setOptionValue("solver", "simplex")
        h.setOptionValue("simplex_strategy", 4 if lp_method == "primal" else 1)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return _Root(col_lo, col_hi, start, math.inf * sense, 0, None)
    sol = h.getSolution()
    x_lp = np.asarray(sol.col_value, float)
    lp_val = float(h.getInfo().objective_function_value)
    frac = np.abs(x_lp[ints] - np.rint(x_lp[ints])) > 1e-7
    if not frac.any():
        x = x_lp.copy()
        x[ints] = np.rint(x[ints])
        if mip_feasible(mip, x, mip.col_lo, mip.col_hi):
            logger.info(
                "LP relaxation is integral: optimum proven at the root (%.2f s)", time.perf_counter() - t0
            )
            out = MipOutcome(x, float(mip.c @ x), lp_val, "optimal",
                             f"HiGHS {version} (highspy, LP relaxation integral)", 0.0)  # fmt: skip
            return _Root(col_lo, col_hi, start, lp_val, 0, out)
    if start is not None and (lp_val - float(mip.c @ start)) * sense <= max(mip.abs_gap if mip.abs_gap < 0.5 else 0.0,
                                                                             1e-9 * max(1.0, abs(lp_val))):  # fmt: skip
        logger.info(
            "the incumbent meets the LP bound: optimum proven at the root (%.2f s)", time.perf_counter() - t0
        )
        out = MipOutcome(start.astype(float), float(mip.c @ start), lp_val, "optimal",
                         f"HiGHS {version} (highspy, incumbent at the LP bound)", 0.0)  # fmt: skip
        return _Root(col_lo, col_hi, start, lp_val, 0, out)
    if improve is not None:
        better = improve(x_lp, np.asarray(sol.row_dual, float))
        if (
            better is not None
            and mip_feasible(mip, better, col_lo, col_hi)
            and (start is None or sense * (mip.c @ better) > sense * (mip.c @ start))
        ):
            start = better
    fixed = 0
    if start is not None:
        fix0, fix1 = reduced_cost_fixing(mip, x_lp, np.asarray(sol.col_dual, float), lp_val, start,
                                         col_lo, col_hi)  # fmt: skip
        col_hi[fix0] = col_lo[fix0]
        col_lo[fix1] = col_hi[fix1]
        fixed = int(fix0.sum() + fix1.sum())
    logger.info(
        "LP relaxation %.6g in %.2f s (%d fractional 0/1 variables); reduced costs fix %d of %d",
        lp_val, time.perf_counter() - t0, int(frac.sum()), fixed, int(ints.sum()),
    )  # fmt: skip
    return _Root(col_lo, col_hi, start, lp_val, fixed, None)


def _highs_label(h: Any, status: Any, *, fixed: int) -> str:
    import highspy

    hs = highspy.HighsModelStatus
    if status == hs.kOptimal:
        return "optimal"
    if status == hs.kInfeasible:
        return "optimal" if fixed else "infeasible"  # fixing left nothing better than the incumbent
    if status in (hs.kTimeLimit, hs.kInterrupt):
        return "time_limit"
    return str(h.modelStatusToString(status)).lower().replace(" ", "_")


def _watch(h: Any, progress: SolveProgress | None, incumbent: float) -> None:
    """Progress lines from HiGHS's MIP callback (the better of its incumbent and ours, its bound)."""
    if progress is None or not progress.enabled:
        return
    sense = 1.0 if progress.maximize else -1.0

    def on_event(e: Any) -> None:
        out = e.data_out
        best = float(out.mip_primal_bound)
        if not np.isfinite(best) or (np.isfinite(incumbent) and sense * incumbent > sense * best):
            best = incumbent
        progress.update(best, float(out.mip_dual_bound))

    h.cbMipInterrupt.subscribe(on_event)


def _solve_highs(
    mip: Mip, *, time_limit_s: float, mip_gap: float, seed: int | None, start: np.ndarray | None,
    lp_method: str, improve: Any, progress: SolveProgress | None,
) -> MipOutcome:  # fmt: skip
    """highspy: the LP relaxation, reduced-cost fixing, then branch and bound on what is left.

    HiGHS's dual simplex is slow on the root LP of these covering models, while the primal
    simplex (coverage) or the interior point method (set covering) solves it in a second.
    When the LP optimum is integral it is the proven optimum. Otherwise every 0/1 variable
    whose LP reduced cost shows that flipping it cannot beat the incumbent is fixed (exact:
    the solutions left out are all worse than the incumbent), and HiGHS's branch and bound
    runs on what is left.

    The incumbent is NOT handed to HiGHS, neither as a MIP start (``setSolution``) nor as a
    cutoff (``objective_bound``): with presolve on, HiGHS 1.16 compares both with objectives of
    the presolved model that lack the offset of the columns presolve fixed. Given a start it can
    stop at once with "Optimal", an objective and a bound below the optimum, and hand back the
    start itself as its solution (a proof thrown away: the LSCP of issue "Siting the way plans
    are made"). The incumbent is kept here, compared with what HiGHS finds, and the objective is
    always ``c @ x`` of a checked ``x``.
    """
    t0 = time.perf_counter()
    if start is not None and not mip_feasible(mip, start, mip.col_lo, mip.col_hi):
        logger.warning("the warm start breaks the model; it is not used")
        start = None
    version = str(new_highs().version())
    root = _highs_root(mip, time_limit_s=time_limit_s, start=start, lp_method=lp_method, improve=improve,
                       version=version)  # fmt: skip
    if root.done is not None:
        return root.done
    start = root.start
    sense = 1.0 if mip.maximize else -1.0
    h = highs_model(mip, integer=True, col_lo=root.col_lo, col_hi=root.col_hi)
    h.setOptionValue("time_limit", max(0.1, float(time_limit_s) - (time.perf_counter() - t0)))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("mip_abs_gap", float(mip.abs_gap))
    h.setOptionValue("random_seed", int(seed or 0) % 2_147_483_647)
    _watch(h, progress, float(mip.c @ start) if start is not None else math.nan)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    x = None
    if info.primal_solution_status == 2:  # kSolutionStatusFeasible
        x = np.asarray(h.getSolution().col_value, float)
        if not mip_feasible(mip, x, root.col_lo, root.col_hi):
            logger.warning("HiGHS returned a solution that breaks the model; it is ignored")
            x = None
    objective = float(mip.c @ x) if x is not None else math.nan
    bound = float(info.mip_dual_bound)
    label = _highs_label(h, status, fixed=root.fixed)
    if start is not None:  # solutions removed by fixing are no better than the incumbent
        inc = float(mip.c @ start)
        bound = max(bound, inc) if mip.maximize else min(bound, inc)
        if x is None or sense * objective < sense * inc:
            x, objective = start.astype(float), inc
    if np.isfinite(root.bound):
        bound = min(bound, root.bound) if mip.maximize else max(bound, root.bound)
    return MipOutcome(x, objective, bound, label, f"HiGHS {version} (highspy)", 0.0)


def _solve_scipy(
    mip: Mip, *, time_limit_s: float, mip_gap: float, seed: int | None, start: np.ndarray | None,
    lp_method: str, improve: Any, progress: SolveProgress | None,
) -> MipOutcome:  # fmt: skip
    """scipy.optimize.milp (scipy's own copy of HiGHS): no start, no fixing, no progress lines."""
    import scipy
    from scipy.optimize import Bounds, LinearConstraint, milp

    del seed, lp_method, improve, progress
    sign = -1.0 if mip.maximize else 1.0
    res = milp(
        sign * mip.c, integrality=mip.integer.astype(np.int8), bounds=Bounds(mip.col_lo, mip.col_hi),
        constraints=LinearConstraint(mip.a, mip.row_lo, mip.row_hi) if mip.a.shape[0] else None,
        options={"disp": False, "time_limit": float(time_limit_s), "mip_rel_gap": float(mip_gap)},
    )  # fmt: skip
    x = None if res.x is None else np.asarray(res.x, float)
    if x is not None and not mip_feasible(mip, x, mip.col_lo, mip.col_hi):
        x = None
    label = {0: "optimal", 1: "time_limit", 2: "infeasible"}.get(res.status, "error")
    sense = 1.0 if mip.maximize else -1.0
    objective = math.nan if x is None else float(mip.c @ x)
    if start is not None and (x is None or sense * objective < sense * float(mip.c @ start)):
        x, objective = start.astype(float), float(mip.c @ start)
    dual = getattr(res, "mip_dual_bound", None)
    bound = math.nan if dual is None else sign * float(dual)
    return MipOutcome(
        x, objective, bound, label, f"HiGHS via scipy {scipy.__version__} (scipy.optimize.milp)", 0.0
    )


#: MIP backends by name: ``solve(mip, *, time_limit_s, mip_gap, seed, start, lp_method, improve, progress)``.
BACKENDS: Mapping[str, Callable[..., MipOutcome]] = MappingProxyType(
    {"highs": _solve_highs, "scipy": _solve_scipy}
)


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
