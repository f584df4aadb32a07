"""Maximal covering (MCLP) and its capacitated form: k new sites that cover (serve) the most people."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from planner._validate import check_in_range
from planner.errors import InputError
from planner.kinds import CANDIDATE_ID
from planner.siting.candidates import COST
from planner.siting.cmclp import solve_cmclp
from planner.siting.greedy import coverage_upper_bound, greedy_coverage
from planner.siting.lscp import solve_lscp
from planner.siting.mip import (
    Mip,
    SolveProgress,
    check_solver,
    dominated_columns,
    rel_gap,
    solve_mip,
    start_from_sites,
)
from planner.siting.problem import CoverModel, SitingProblem, check_common, check_k, merge_rows
from planner.siting.result import (
    SitingResult,
    build_order,
    drop_useless,
    make_result,
)
from planner.siting.units import UnitRule, greedy_with_units, unit_dominance_rows, unit_rule

logger = logging.getLogger(__name__)


# ====================================================================== MCLP
@dataclass(frozen=True)
class ReducedCover:
    """The coverage rows as the MILP sees them: dominated columns dropped, rows merged again,
    rows only one kept column reaches folded into that column's objective."""

    dominated: np.ndarray  # per original column
    keep: np.ndarray  # kept columns (original indices)
    a_multi: sparse.csr_matrix  # rows reached by two or more kept columns × kept columns
    w_multi: np.ndarray  # their people
    c_x: np.ndarray  # per kept column: people of the rows only it reaches
    rows: int  # rows after merging (folded ones included)


def reduce_cover(
    a: sparse.csr_matrix,
    w: np.ndarray,
    cost: np.ndarray | None,
    *,
    dominance: sparse.csr_matrix | None = None,
) -> ReducedCover:
    """Dominated columns (rows inside another's that costs no more) are never needed: drop them,
    merge the rows that became identical, and fold rows with one column into that column.

    ``dominance`` replaces ``a`` for the dominance test (``a`` with side rows appended, see
    :func:`~planner.siting.units.unit_dominance_rows`).
    """
    dom = dominated_columns(a if dominance is None else dominance, cost)
    keep = np.flatnonzero(~dom)
    a_red, w_red, _ = merge_rows(a[:, keep].tocsr(), w)
    deg = np.diff(a_red.indptr)
    single = deg == 1
    multi = np.flatnonzero(deg > 1)
    c_x = np.bincount(a_red.indices[a_red.indptr[:-1][single]], weights=w_red[single], minlength=len(keep))
    return ReducedCover(dom, keep, a_red[multi].tocsr(), w_red[multi], c_x, int(a_red.shape[0]))


def solve_mclp(
    problem: SitingProblem,
    k: int,
    *,
    budget: float | None = None,
    capacitated: bool = False,
    people_per_unit: float = 1.0,
    sizes: Mapping[float, float] | None = None,
    unit_column: str | None = None,
    min_per_unit: int | None = None,
    max_per_unit: int | None = None,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
    solver: str = "auto",
    seed: int | None = None,
    progress: bool = False,
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
    sizes
        Capacitated only: facility sizes to choose from, places (in the kind's unit) → cost,
        e.g. ``{30: 1.0, 60: 1.6, 120: 2.5}``; each site takes one size (see
        :mod:`~planner.siting.cmclp`, which also states the tie-break rule).
    unit_column, min_per_unit, max_per_unit
        Per-unit rules: at least / at most so many sites (existing ones included) in each unit
        of this column, e.g. ``unit_column="street", min_per_unit=1`` (see
        :mod:`~planner.siting.units`).
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
    progress
        Progress lines (elapsed, best, bound, gap) on stderr while a solve runs past ~2 s.

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
    if sizes is not None and not capacitated:
        msg = "model 'mclp' does not take sizes (facility sizes are for the capacitated model, cmclp)."
        raise ValueError(msg)
    if capacitated:
        if unit_column is not None:
            msg = "model 'cmclp' does not take unit_column / min_per_unit / max_per_unit; use model 'mclp'."
            raise ValueError(msg)

        def coverage_best() -> tuple[list[int], float]:
            best = solve_mclp(problem, k, time_limit_s=max(1.0, 0.2 * time_limit_s), solver=solver, seed=seed)
            idx = problem.candidates.index.get_indexer(best.sites[CANDIDATE_ID])
            return [int(j) for j in idx], best.bound

        return solve_cmclp(problem, k, budget=budget, people_per_unit=people_per_unit, sizes=sizes,
                           time_limit_s=time_limit_s, mip_gap=mip_gap, solver=solver, seed=seed,
                           progress=progress, coverage_best=coverage_best)  # fmt: skip
    rule = unit_rule(problem, "mclp", unit_column=unit_column, min_per_unit=min_per_unit,
                     max_per_unit=max_per_unit, k=k)  # fmt: skip
    t0 = time.perf_counter()
    model = problem.cover_model
    cost = problem.candidates[COST].to_numpy(float)
    use_cost = cost if budget is not None else None
    if rule is None:
        g_sites, g_gains, g_cov = greedy_coverage(model, k, cost=use_cost, budget=budget)
        g_obj = float(sum(g_gains))
    else:
        g_sites = greedy_with_units(model, rule, k, cost=use_cost)
        g_cov = (
            np.asarray(model.a[:, g_sites].sum(axis=1)).ravel() > 0
            if g_sites
            else np.zeros(len(model.w), bool)
        )
        g_obj = float(model.w[g_cov].sum())
    greedy_s = time.perf_counter() - t0
    logger.info("mclp greedy: %d sites cover %.6g new people in %.3f s", len(g_sites), g_obj, greedy_s)
    base = {"k": k, "budget": budget, "mip_gap": mip_gap, "time_limit_s": time_limit_s, "seed": seed,
            "unit_column": unit_column, "min_per_unit": min_per_unit, "max_per_unit": max_per_unit,
            "objective_is": "newly covered target people", "greedy_seconds": round(greedy_s, 4),
            "demand_rows": int(model.a.shape[0]), "coverable": float(model.w.sum())}  # fmt: skip
    bound_g = min(coverage_upper_bound(model, g_cov, g_obj, k), float(model.w.sum()))
    if budget is None and rule is None and g_obj > 0:
        bound_g = min(bound_g, g_obj / (1 - (1 - 1 / k) ** k))
    done = g_obj >= float(model.w.sum()) - 1e-9
    if solver == "greedy" or model.a.shape[0] == 0 or done:
        return _mclp_result(
            problem, g_sites, k, obj=g_obj, bound=g_obj if done else bound_g, status="optimal" if done else "greedy",
            solver="lazy greedy" if not done else "lazy greedy (covers all)", t0=t0, greedy=g_obj,
            params=base, rule=rule, budget=budget, time_limit_s=time_limit_s, seed=seed,
        )  # fmt: skip
    mip, red, x0 = _mclp_mip(model, k, cost, budget, rule, g_sites)

    def improve(x_lp: np.ndarray, _duals: np.ndarray) -> np.ndarray | None:
        # round the LP: its k largest site values (budget and unit rules keep the greedy start)
        if budget is not None or rule is not None:
            return None
        xs = np.zeros(len(red.keep))
        xs[np.argsort(-x_lp[: len(red.keep)], kind="stable")[:k]] = 1.0
        return np.concatenate([xs, (red.a_multi @ xs > 0.5).astype(float)])

    out = solve_mip(mip, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, seed=seed,
                    start=x0 if solver == "highs" else None, improve=improve,
                    progress=SolveProgress("mclp", enabled=progress, maximize=True))  # fmt: skip
    if out.status == "infeasible":
        msg = "model 'mclp': the per-unit rules and the budget cannot be met together."
        raise InputError(msg)
    chosen, obj, used_greedy = g_sites, g_obj, True
    if out.x is not None:
        sel = red.keep[np.flatnonzero(out.x[: len(red.keep)] > 0.5)]
        val = float(model.w[np.asarray(model.a[:, sel].sum(axis=1)).ravel() > 0].sum())
        if val >= g_obj - 1e-9:
            chosen, obj, used_greedy = list(sel), val, False
    bound = out.bound if np.isfinite(out.bound) else bound_g
    status = out.status if out.status in ("optimal", "time_limit") else "time_limit"
    return _mclp_result(
        problem, chosen, k, obj=obj, bound=max(min(bound, bound_g), obj), status=status,
        solver=out.solver + (" (greedy start kept)" if used_greedy else ""), t0=t0, greedy=g_obj,
        params={**base, "mip_seconds": round(out.seconds, 3), "mip_status": out.status,
                "dominated_sites": int(red.dominated.sum()), "mip_rows": int(mip.a.shape[0]),
                "mip_columns": len(mip.c), "mip_nonzeros": int(mip.a.nnz)},
        rule=rule, budget=budget, time_limit_s=time_limit_s, seed=seed, mip_gap=mip_gap,
    )  # fmt: skip


def _mclp_mip(
    model: CoverModel, k: int, cost: np.ndarray, budget: float | None, rule: UnitRule | None, g_sites: list[int]
) -> tuple[Mip, ReducedCover, np.ndarray]:  # fmt: skip
    """The reduced MCLP MILP (rows: y_g − Σ x_j ≤ 0, Σ x ≤ k, [budget], [per-unit]) and its start."""
    use_cost = cost if budget is not None else None
    red = reduce_cover(
        model.a, model.w, use_cost, dominance=unit_dominance_rows(rule, model.a) if rule else None
    )
    keep, a_multi = red.keep, red.a_multi
    m_red, n_y = len(keep), len(red.w_multi)
    pad = sparse.csr_matrix((0, n_y))
    blocks = [sparse.hstack([-a_multi, sparse.identity(n_y, format="csr")], format="csr"),
              sparse.csr_matrix(np.concatenate([np.ones(m_red), np.zeros(n_y)])[None, :])]  # fmt: skip
    lo: list[Any] = [np.full(n_y, -np.inf), [-np.inf]]
    hi: list[Any] = [np.zeros(n_y), [float(k)]]
    if budget is not None:
        blocks.append(sparse.csr_matrix(np.concatenate([cost[keep], np.zeros(n_y)])[None, :]))
        lo.append([-np.inf])
        hi.append([float(budget)])
    if rule is not None:
        u_rows, need, room = rule.rows(keep)
        blocks.append(sparse.hstack([u_rows, sparse.csr_matrix((u_rows.shape[0], n_y))], format="csr"))
        lo.append(need)
        hi.append(room)
    del pad
    mip = Mip(
        c=np.concatenate([red.c_x, red.w_multi]), a=sparse.vstack(blocks, format="csr"),
        row_lo=np.concatenate(lo), row_hi=np.concatenate(hi),
        col_lo=np.zeros(m_red + n_y), col_hi=np.ones(m_red + n_y),
        integer=np.concatenate([np.ones(m_red), np.zeros(n_y)]), maximize=True,
    )  # fmt: skip
    # warm start: the greedy's sites, each dominated one replaced by a column that dominates it
    # (under unit rules such a column is of the same unit, so the rule still holds)
    start = start_from_sites(g_sites, keep, red.dominated, model.a, use_cost)
    x0 = np.concatenate([start, (a_multi @ start > 0.5).astype(float)])
    logger.info(
        "mclp MILP: %d sites (%d dominated dropped), %d demand rows (%d folded into site weights), %d non-zeros",
        m_red, int(red.dominated.sum()), red.rows, red.rows - n_y, mip.a.nnz,
    )  # fmt: skip
    return mip, red, x0


def _mclp_result(
    problem: SitingProblem, chosen: list[int], k: int, *, obj: float, bound: float, status: str, solver: str,
    t0: float, greedy: float, params: dict[str, Any], rule: UnitRule | None, budget: float | None,
    time_limit_s: float, seed: int | None, mip_gap: float = 0.0,
) -> SitingResult:  # fmt: skip
    """Build order, the per-unit table, and a word when fewer sites than ``k`` reach everyone."""
    gap = rel_gap(obj, bound, maximize=True)
    if status == "optimal" and gap > max(mip_gap, 1e-6):
        status = "time_limit"
    order, gains = build_order(problem, chosen)
    if rule is None:
        order, gains = drop_useless(order, gains, "mclp")
    coverable = float(problem.cover_model.w.sum())
    if rule is None and budget is None and coverable > 0 and obj >= coverable - 1e-9 and len(order) < k:
        fewest = solve_lscp(problem, time_limit_s=time_limit_s, seed=seed)
        if fewest.status == "optimal" and len(fewest.sites) < len(order):
            order, gains = build_order(
                problem, [problem.candidates.index.get_loc(c) for c in fewest.sites[CANDIDATE_ID]]
            )
        proven = "the fewest" if fewest.status == "optimal" and len(fewest.sites) == len(order) else "found"
        params["note"] = f"{len(order)} sites ({proven}) reach everyone coverable; {k} asked"
        logger.warning("mclp: %s", params["note"])
    tables = {"units": rule.table(np.asarray(order, np.int64))} if rule is not None else None
    return make_result(
        problem, "mclp", order, gains, objective=obj, bound=bound, gap=gap, status=status, solver=solver,
        seconds=time.perf_counter() - t0, greedy_objective=greedy, params=params, tables=tables,
    )  # fmt: skip
