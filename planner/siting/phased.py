"""Phased plans: a nested build order that maximises the coverage summed over the phases.

"At least one public nursery built every year 2021–2025": phase ``t`` adds ``k_t`` sites and a
site built in phase ``t`` stays open after it, so the sets are nested,
``S_1 ⊆ S_2 ⊆ … ⊆ S_T`` with ``|S_t| ≤ K_t = k_1 + … + k_t``. The objective is the newly
covered target people summed over the phases (with one phase a year: person-years of
coverage over the plan), each phase optionally weighted by ``β_t`` (``phase_weights``). It is
a sum, not a lexicographic order: a plan may give up a little in an early phase for more in
the later ones, and the phases table says how much (``loss`` against the best unconstrained
set of that size).

MILP, on the merged demand rows (existing facilities fixed, the people they cover not counted
again)::

    max  Σ_t β_t (Σ_j c_j x_{j,t} + Σ_i w_i y_{i,t})
    s.t. y_{i,t} ≤ Σ_j a_ij x_{j,t}     (a row counts in phase t only if a site open then reaches it)
         x_{j,t} ≤ x_{j,t+1}            (a site stays open)
         Σ_j x_{j,t} ≤ K_t
         x ∈ {0,1}, 0 ≤ y ≤ 1

with dominated candidates dropped and rows reached by one candidate folded into ``c_j``, as in
:func:`~planner.siting.mclp.solve_mclp`. The incumbent is the lazy greedy order (its prefixes
are nested). Besides the MILP's own bound, ``Σ_t β_t · bound(MCLP with K_t sites)`` holds
(nesting relaxed).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from planner.errors import InputError
from planner.kinds import CANDIDATE_ID
from planner.siting.greedy import greedy_coverage
from planner.siting.mclp import reduce_cover, solve_mclp
from planner.siting.mip import Mip, SolveProgress, check_solver, mip_feasible, rel_gap, solve_mip
from planner.siting.problem import CoverModel, SitingProblem, check_common
from planner.siting.result import SitingResult, build_order, coverage_gains_in_order, make_result

logger = logging.getLogger(__name__)


def parse_phases(phases: Sequence[int] | Mapping[int, int]) -> tuple[np.ndarray, list[int] | None]:
    """Sites per phase, and the years when ``phases`` maps years to counts.

    Parameters
    ----------
    phases
        ``[1, 1, 1]`` (sites per phase) or ``{2025: 1, 2026: 2}`` (sites per year).

    Returns
    -------
    tuple of numpy.ndarray and list of int or None
    """
    years = None
    if isinstance(phases, Mapping):
        try:
            years = sorted(int(y) for y in phases)
        except (TypeError, ValueError):
            years = []
        if not years or len(set(years)) != len(phases) or any(isinstance(y, bool) for y in phases):
            msg = (
                f"phases by year need whole-number years such as {{2025: 1, 2026: 1}}; got {dict(phases)!r}."
            )
            raise ValueError(msg)
        counts = [phases[y] if y in phases else phases[str(y)] for y in years]  # type: ignore[index]
    else:
        counts = list(phases)
    ok = all(isinstance(c, int | np.integer) and not isinstance(c, bool) and c >= 0 for c in counts)
    if not counts or not ok or sum(counts) < 1:
        msg = (
            f"phases must be whole numbers of sites per phase (0 or more, 1 or more in all); got {counts!r}."
        )
        raise ValueError(msg)
    return np.asarray(counts, np.int64), years


def covered_by(model: CoverModel, sites: Sequence[int]) -> float:
    """Newly covered people of the merged rows reached by ``sites``."""
    if len(sites) == 0:
        return 0.0
    hit = np.asarray(model.a[:, np.asarray(sites, np.int64)].sum(axis=1)).ravel() > 0
    return float(model.w[hit].sum())


def _phase_mip(red: Any, big_k: np.ndarray, beta: np.ndarray) -> tuple[Mip, int]:
    """The nested MILP (see the module's text); returns it and the width of one phase's block."""
    n_t = len(big_k)
    m, n_y = len(red.keep), len(red.w_multi)
    width = m + n_y
    n_var = n_t * width
    blocks: list[Any] = []
    lo: list[Any] = []
    hi: list[Any] = []
    r = np.arange(m)
    for t in range(n_t):
        off = t * width
        blocks.append(sparse.hstack([sparse.csr_matrix((n_y, off)), -red.a_multi, sparse.identity(n_y, format="csr"),
                                     sparse.csr_matrix((n_y, n_var - off - width))], format="csr"))  # fmt: skip
        lo.append(np.full(n_y, -np.inf))
        hi.append(np.zeros(n_y))
        card = np.zeros(n_var)
        card[off : off + m] = 1.0
        blocks.append(sparse.csr_matrix(card[None, :]))
        lo.append([-np.inf])
        hi.append([float(big_k[t])])
        if t + 1 < n_t:  # x_{j,t} - x_{j,t+1} <= 0
            blocks.append(sparse.csr_matrix(
                (np.concatenate([np.ones(m), -np.ones(m)]), (np.concatenate([r, r]),
                                                            np.concatenate([off + r, off + width + r]))),
                shape=(m, n_var)))  # fmt: skip
            lo.append(np.full(m, -np.inf))
            hi.append(np.zeros(m))
    c = np.concatenate([beta[t] * np.concatenate([red.c_x, red.w_multi]) for t in range(n_t)])
    mip = Mip(c=c, a=sparse.vstack(blocks, format="csr"), row_lo=np.concatenate(lo), row_hi=np.concatenate(hi),
              col_lo=np.zeros(n_var), col_hi=np.ones(n_var),
              integer=np.tile(np.concatenate([np.ones(m), np.zeros(n_y)]), n_t), maximize=True)  # fmt: skip
    return mip, width


def _nested_start(
    model: CoverModel, red: Any, order: Sequence[int], big_k: np.ndarray, width: int
) -> np.ndarray:
    """The greedy order as a MILP solution: each dominated site replaced by a free kept column
    covering its rows (one mapping for the whole order, so the prefixes stay nested)."""
    m = len(red.keep)
    pos = np.full(model.a.shape[1], -1, np.int64)
    pos[red.keep] = np.arange(m)
    csc = model.csc
    kept = model.a[:, red.keep].tocsc()
    used = np.zeros(m, bool)
    mapped = []
    for j in order:
        q = int(pos[j])
        if q < 0:
            rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
            hits = np.asarray(kept[rows].sum(axis=0)).ravel()
            free = np.flatnonzero((hits == len(rows)) & ~used)
            q = int(free[0]) if len(free) else -1
        if q >= 0 and not used[q]:
            used[q] = True
            mapped.append(q)
        else:
            mapped.append(-1)
    start = np.zeros(len(big_k) * width)
    for t, kk in enumerate(big_k):
        cols = [q for q in mapped[: int(kk)] if q >= 0]
        xs = np.zeros(m)
        xs[cols] = 1.0
        start[t * width : t * width + m] = xs
        start[t * width + m : (t + 1) * width] = (red.a_multi @ xs > 0.5).astype(float)
    return start


def _extend(problem: SitingProblem, order: list[int], total: int) -> list[int]:
    """``order`` followed by greedy sites (most newly covered given those before) up to ``total``."""
    model = problem.cover_model
    csc = model.csc
    covered = np.zeros(model.a.shape[0], bool)
    for j in order:
        covered[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] = True
    if len(order) >= total:
        return list(order[:total])
    rest = np.setdiff1d(np.arange(problem.n_candidates), order)
    more, _, _ = greedy_coverage(
        model, total - len(order), weights=np.where(covered, 0.0, model.w), allowed=rest
    )
    return list(order) + more


def solve_phased(
    problem: SitingProblem,
    *,
    phases: Sequence[int] | Mapping[int, int],
    phase_weights: Sequence[float] | None = None,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
    solver: str = "auto",
    seed: int | None = None,
    progress: bool = False,
) -> SitingResult:
    """Nested sites for several phases (or years), maximising the coverage summed over the phases.

    Parameters
    ----------
    problem
        The siting problem (existing facilities fixed).
    phases
        Sites added in each phase, e.g. ``[1, 1, 1, 1, 1]`` for one a year over five years, or
        by year, ``{2025: 1, 2026: 1}`` (the sites then carry a ``year``).
    phase_weights
        ``β_t`` per phase (default 1 each: coverage summed over the phases).
    time_limit_s
        Time limit of the phased MILP (each comparison MCLP gets its own, the same).
    mip_gap
        Relative gap at which to stop (0: prove the optimum).
    solver
        ``"auto"``, ``"highs"``, ``"scipy"`` or ``"greedy"`` (the greedy order).
    seed
        Seed of the MILP solver.
    progress
        Progress lines on stderr for a long solve.

    Returns
    -------
    SitingResult
        ``sites`` in build order with ``phase`` (and ``year``); ``tables["phases"]`` per phase:
        ``phase, [year], new_sites, open_sites, covered`` (newly covered with the sites open
        then), ``best_unconstrained`` (the best set of ``open_sites`` sites, MCLP), ``loss``
        and ``loss_share``; ``objective`` is Σ_t β_t × covered.

    Examples
    --------
    >>> p = SitingProblem.from_coverage_matrix([[1, 1, 0], [1, 0, 0], [0, 1, 1], [0, 0, 1]],
    ...                                        [30, 20, 30, 20])
    >>> r = solve_phased(p, phases=[1, 1])
    >>> r.objective, r.tables["phases"]["best_unconstrained"].tolist(), r.tables["phases"]["loss"].tolist()
    (150.0, [60.0, 100.0], [10.0, 0.0])
    """
    t0 = time.perf_counter()
    check_common(time_limit_s, mip_gap)
    solver = check_solver(solver)
    k_t, years = parse_phases(phases)
    big_k = np.cumsum(k_t)
    if big_k[-1] > problem.n_candidates:
        msg = (f"model 'phased': the phases add {int(big_k[-1])} sites, but there are only "
               f"{problem.n_candidates} candidate sites.")  # fmt: skip
        raise InputError(msg)
    beta = np.ones(len(k_t)) if phase_weights is None else np.asarray(list(phase_weights), float)
    if beta.shape != k_t.shape or not np.isfinite(beta).all() or (beta < 0).any():
        msg = f"model 'phased': phase_weights needs one non-negative number per phase ({len(k_t)})."
        raise ValueError(msg)
    model = problem.cover_model
    # the best unconstrained set of each size: the loss per phase, a bound (nesting relaxed), and starts
    best = np.full(len(k_t), np.nan)
    ub = np.zeros(len(k_t))
    orders: list[list[int]] = [greedy_coverage(model, int(big_k[-1]))[0]]
    for t, kk in enumerate(big_k):
        r = solve_mclp(problem, int(kk), time_limit_s=time_limit_s, mip_gap=mip_gap, solver=solver, seed=seed)
        best[t] = r.objective
        ub[t] = r.bound if np.isfinite(r.bound) else math.inf
        opt = [int(j) for j in problem.candidates.index.get_indexer(r.sites[CANDIDATE_ID])]
        orders.append(_extend(problem, build_order(problem, opt)[0], int(big_k[-1])))
    # the incumbent: the best nested order among the greedy's and each optimum's, extended greedily
    values = [float(beta @ [covered_by(model, o[: int(kk)]) for kk in big_k]) for o in orders]
    g_obj = values[0]
    g_sites = orders[int(np.argmax(values))]
    sets = [list(g_sites[: int(kk)]) for kk in big_k]
    obj, bound, status, name = max(values), math.inf, "greedy", "lazy greedy (nested prefixes)"
    extra: dict[str, Any] = {"start_from": "greedy order" if int(np.argmax(values)) == 0 else
                             f"best set of {int(big_k[int(np.argmax(values)) - 1])} sites, extended"}  # fmt: skip
    watch = SolveProgress("phased", enabled=progress, maximize=True)
    if solver != "greedy" and model.a.shape[0]:
        red = reduce_cover(model.a, model.w, None)
        mip, width = _phase_mip(red, big_k, beta)
        start: np.ndarray | None = _nested_start(model, red, g_sites, big_k, width)
        if start is not None and not mip_feasible(mip, start, mip.col_lo, mip.col_hi):
            start = None
        left = max(1.0, time_limit_s - (time.perf_counter() - t0))
        out = solve_mip(mip, solver=solver, time_limit_s=left, mip_gap=mip_gap, seed=seed,
                        start=start if solver == "highs" else None, progress=watch)  # fmt: skip
        if out.x is not None:
            m = len(red.keep)
            cand_sets = [list(red.keep[np.flatnonzero(out.x[t * width : t * width + m] > 0.5)])
                         for t in range(len(k_t))]  # fmt: skip
            cov = np.array([covered_by(model, s) for s in cand_sets])
            if float(beta @ cov) >= obj - 1e-9:
                sets, obj = cand_sets, float(beta @ cov)
        bound, status, name = out.bound, out.status, out.solver
        extra.update(mip_seconds=round(out.seconds, 3), mip_status=out.status, mip_rows=int(mip.a.shape[0]),
                     mip_columns=len(mip.c), dominated_sites=int(red.dominated.sum()))  # fmt: skip
    elif not model.a.shape[0]:
        status, name, bound = "optimal", "none (nobody left to cover)", 0.0
    cov = np.array([covered_by(model, s) for s in sets])
    bound = min(bound if np.isfinite(bound) else math.inf, float(beta @ ub))
    if status == "optimal" and not np.isfinite(bound):
        bound = obj
    bound = max(bound, obj)
    gap = rel_gap(obj, bound, maximize=True)
    if np.isfinite(gap) and gap <= max(mip_gap, 1e-6):
        status = "optimal"
    elif status == "optimal":
        status = "time_limit"
    return _phased_result(problem, sets, cov, best, k_t, years, beta, obj=obj, bound=bound, gap=gap, status=status,
                          solver=name, seconds=time.perf_counter() - t0, greedy=g_obj,
                          params={"phases": [int(v) for v in k_t], "years": years,
                                  "phase_weights": [float(b) for b in beta], "time_limit_s": time_limit_s,
                                  "mip_gap": mip_gap, "seed": seed, **extra,
                                  "objective_is": "newly covered target people summed over the phases"
                                                  + (" (weighted)" if phase_weights is not None else "")})  # fmt: skip


def _phased_result(
    problem: SitingProblem, sets: list[list[int]], cov: np.ndarray, best: np.ndarray, k_t: np.ndarray,
    years: list[int] | None, beta: np.ndarray, *, obj: float, bound: float, gap: float, status: str,
    solver: str, seconds: float, greedy: float, params: dict[str, Any],
) -> SitingResult:  # fmt: skip
    """Sites phase by phase (within a phase, largest gain first), and the phases table."""
    model = problem.cover_model
    order: list[int] = []
    phase: list[int] = []
    csc = model.csc
    for t, s in enumerate(sets):
        new = [int(j) for j in s if int(j) not in set(order)]
        covered = np.zeros(model.a.shape[0], bool)
        for j in order:
            covered[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] = True
        w_left = np.where(covered, 0.0, model.w)
        sub, _, _ = greedy_coverage(model, None, weights=w_left, allowed=np.asarray(new, np.int64))
        new = sub + [j for j in new if j not in set(sub)]
        order += new
        phase += [t + 1] * len(new)
    gains = coverage_gains_in_order(problem, order)
    labels: dict[str, Sequence[Any]] = {"phase": phase}
    if years is not None:
        labels["year"] = [years[t - 1] for t in phase]
    open_sites = [len(s) for s in sets]
    table = pd.DataFrame({"phase": np.arange(1, len(k_t) + 1)})
    if years is not None:
        table["year"] = years
    table = table.assign(new_sites=np.diff([0, *open_sites]), planned=k_t, open_sites=open_sites, covered=cov,
                         best_unconstrained=best, weight=beta)  # fmt: skip
    table["loss"] = table["best_unconstrained"] - table["covered"]
    with np.errstate(invalid="ignore", divide="ignore"):
        table["loss_share"] = np.where(table["best_unconstrained"] > 0,
                                       table["loss"] / table["best_unconstrained"], 0.0)  # fmt: skip
    return make_result(problem, "phased", order, gains, objective=obj, bound=bound, gap=gap, status=status,
                       solver=solver, seconds=seconds, greedy_objective=greedy, params=params, labels=labels,
                       tables={"phases": table})  # fmt: skip
