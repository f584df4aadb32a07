"""The capacitated MCLP: k new sites that *serve* the most people, within reach and capacity.

Two measures, labelled everywhere (tables, summary lines, run records):

* **served** (within reach and capacity): people assigned to a new site within the walk,
  at most its capacity × ``people_per_unit``; the objective;
* **within reach**: people a new site reaches within the walk, whatever its capacity (the
  coverage of the other models). ``covered``/``share`` of the sites table and
  ``covered_after``/``share_after`` of the result use this one.

Ties are broken by a stated rule, lexicographically: (1) most people **served** (a MILP);
then (2) among the site sets serving that many, most people **within reach** (a MILP with
served held at its optimum); then (3) with those sites, the people served are those **nearest**
to them: the least person-minutes walked by the people served (an LP, served held). Many sets
of k sites serve exactly ``k × capacity`` people when demand is ample; stage 2 spreads them out
to reach more people instead of taking the first candidate ids. Stage 2 gets a fifth of the
time limit (at least 2 s); when it stops there, ``params["tie_break_stages"]`` says so.

``sizes`` offers facility sizes to choose from (e.g. 30/60/120 places at different costs): each
chosen site takes one size; its capacity is that size's and its cost the candidate's own cost
plus the size's.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from planner._validate import check_in_range, row_list
from planner.errors import InputError, SolverError
from planner.kinds import CAPACITY
from planner.siting.candidates import COST
from planner.siting.greedy import greedy_coverage, lazy_greedy
from planner.siting.mip import Mip, MipOutcome, SolveProgress, mip_feasible, rel_gap, solve_mip
from planner.siting.problem import SitingProblem
from planner.siting.result import SitingResult, build_order, make_result

logger = logging.getLogger(__name__)

#: The tie-break rule, for tables and run records.
TIE_BREAK = (
    "most served, then most within reach, then the served nearest to their site (least person-minutes)"
)


@dataclass(frozen=True)
class _Options:
    """Site options: one column per (candidate, size)."""

    site: np.ndarray  # candidate of each option
    cap: np.ndarray  # people it can serve
    cost: np.ndarray  # its cost
    size: np.ndarray  # its size in the kind's unit (NaN: the candidate's own capacity)


def _site_options(
    problem: SitingProblem, people_per_unit: float, sizes: Mapping[float, float] | None
) -> _Options:
    m = problem.n_candidates
    cost = problem.candidates[COST].to_numpy(float)
    if sizes:
        units = np.array(sorted(float(s) for s in sizes), float)
        site = np.repeat(np.arange(m), len(units))
        size = np.tile(units, m)
        extra = np.tile(np.array([float(sizes[u]) if u in sizes else float(sizes[int(u)]) for u in units]), m)
        return _Options(site, size * people_per_unit, cost[site] + extra, size)
    cap_units = problem.candidates[CAPACITY].to_numpy(float)
    missing = np.isnan(cap_units)
    if missing.any():
        msg = (
            f"model 'cmclp' needs a capacity for every candidate; {int(missing.sum())} have none: "
            f"{row_list(problem.candidates.index[missing])}. Give a capacity column, capacity=... for all "
            "candidates without one, or sizes to choose from."
        )
        raise InputError(msg)
    return _Options(np.arange(m), cap_units * people_per_unit, cost, np.full(m, np.nan))


def check_sizes(sizes: Mapping[Any, Any] | None) -> dict[float, float] | None:
    """``{places: cost}`` with positive numbers, or a one-line error naming the option."""
    if sizes is None:
        return None
    out = {}
    for key, value in dict(sizes).items():
        try:
            s, c = float(key), float(value)
        except (TypeError, ValueError):
            s = c = math.nan
        if not (np.isfinite(s) and s > 0 and np.isfinite(c) and c >= 0):
            msg = f"model 'cmclp': sizes must map places to a cost, e.g. {{30: 1.0, 60: 1.6}}; got {key!r}: {value!r}."
            raise ValueError(msg)
        out[s] = c
    if not out:
        msg = "model 'cmclp': sizes is empty; give sizes to choose from, e.g. {30: 1.0, 60: 1.6, 120: 2.5}."
        raise ValueError(msg)
    return out


def _group_minutes(problem: SitingProblem) -> sparse.csr_matrix | None:
    """Per demand row × candidate: the mean minutes walked by its people (None without minutes)."""
    if problem.minutes is None:
        return None
    model = problem.cover_model
    cells = np.flatnonzero(model.group >= 0)
    w = problem.weights[cells]
    g = sparse.csr_matrix((w, (model.group[cells], cells)), shape=(model.a.shape[0], problem.n_cells))
    within = problem.minutes.multiply(problem.cover).tocsr()
    total = (g @ within).tocsr()
    scale = np.where(model.w > 0, 1.0 / np.where(model.w > 0, model.w, 1.0), 0.0)
    return sparse.diags(scale) @ total


@dataclass
class _Model:
    """The assignment MILP: options x_o, flows z_e per (row, candidate) pair, reach y_g."""

    mip: Mip
    n_opt: int
    nnz: int
    pairs: sparse.coo_matrix
    rows: int
    reach: sparse.csr_matrix  # rows × candidates


def _assignment_mip(
    a: sparse.csr_matrix, w: np.ndarray, opts: _Options, k: int, budget: float | None
) -> _Model:  # fmt: skip
    """max Σ z  s.t.  Σ_j z_gj ≤ w_g;  Σ_g z_gj ≤ Σ_s cap_s x_js;  z_gj ≤ min(w_g, cap_max) Σ_s x_js;
    y_g ≤ Σ_j a_gj Σ_s x_js;  Σ x ≤ k;  Σ_s x_js ≤ 1;  [Σ cost x ≤ budget]."""
    g_n, m = a.shape
    n_opt = len(opts.site)
    coo = a.tocoo()
    nnz = coo.nnz
    e = np.arange(nnz)
    n_var = n_opt + nnz + g_n
    zc = n_opt + e
    site_opt = sparse.csr_matrix((np.ones(n_opt), (opts.site, np.arange(n_opt))), shape=(m, n_opt))
    cap_max = np.zeros(m)
    np.maximum.at(cap_max, opts.site, opts.cap)
    blocks = [
        sparse.csr_matrix((np.ones(nnz), (coo.row, zc)), shape=(g_n, n_var)),  # demand
        sparse.hstack([-sparse.csr_matrix((opts.cap, (opts.site, np.arange(n_opt))), shape=(m, n_opt)),
                       sparse.csr_matrix((np.ones(nnz), (coo.col, e)), shape=(m, nnz)),
                       sparse.csr_matrix((m, g_n))], format="csr"),  # capacity
        sparse.hstack([-sparse.diags(np.minimum(w[coo.row], cap_max[coo.col])) @ (site_opt[coo.col]),
                       sparse.identity(nnz, format="csr"), sparse.csr_matrix((nnz, g_n))], format="csr"),  # open
        sparse.hstack([-(a @ site_opt), sparse.csr_matrix((g_n, nnz)), sparse.identity(g_n, format="csr")],
                      format="csr"),  # reach
        sparse.hstack([site_opt, sparse.csr_matrix((m, nnz + g_n))], format="csr"),  # one size per site
        sparse.csr_matrix(np.concatenate([np.ones(n_opt), np.zeros(nnz + g_n)])[None, :]),  # k sites
    ]  # fmt: skip
    hi: list[Any] = [w, np.zeros(m), np.zeros(nnz), np.zeros(g_n), np.ones(m), [float(k)]]
    if budget is not None:
        blocks.append(sparse.csr_matrix(np.concatenate([opts.cost, np.zeros(nnz + g_n)])[None, :]))
        hi.append([float(budget)])
    a_all = sparse.vstack(blocks, format="csr")
    mip = Mip(
        c=np.concatenate([np.zeros(n_opt), np.ones(nnz), np.zeros(g_n)]), a=a_all,
        row_lo=np.full(a_all.shape[0], -np.inf), row_hi=np.concatenate(hi),
        col_lo=np.zeros(n_var), col_hi=np.concatenate([np.ones(n_opt), np.full(nnz, np.inf), np.ones(g_n)]),
        integer=np.concatenate([np.ones(n_opt), np.zeros(nnz + g_n)]), maximize=True,
    )  # fmt: skip
    return _Model(mip, n_opt, nnz, coo, g_n, a.tocsr())


def _with_floor(mip: Mip, c: np.ndarray, value: float, *, maximize: bool, slack: float = 1e-7) -> Mip:
    """``mip`` with the objective ``c`` held at ``value`` (a little relative slack for rounding)."""
    slack = slack * max(1.0, abs(value))
    row = sparse.csr_matrix(c[None, :])
    lo, hi = (value - slack, np.inf) if maximize else (-np.inf, value + slack)
    return Mip(c=mip.c, a=sparse.vstack([mip.a, row], format="csr"), row_lo=np.append(mip.row_lo, lo),
               row_hi=np.append(mip.row_hi, hi), col_lo=mip.col_lo, col_hi=mip.col_hi, integer=mip.integer,
               maximize=mip.maximize)  # fmt: skip


def _stages(
    base: _Model, dist: np.ndarray | None, w: np.ndarray, start: np.ndarray | None, *, solver: str,
    time_limit_s: float, mip_gap: float, seed: int | None, progress: bool, others: tuple[np.ndarray, ...] = (),
    reach_bound: float = math.inf,
) -> tuple[MipOutcome, np.ndarray | None, list[str]]:  # fmt: skip
    """Served, then within reach, then least person-minutes: each stage holds the ones before."""
    t0 = time.perf_counter()
    n_opt, nnz = base.n_opt, base.nnz
    served_c = base.mip.c.copy()
    reach_c = np.concatenate([np.zeros(n_opt + nnz), w])
    first = solve_mip(base.mip, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, seed=seed, start=start,
                      progress=SolveProgress("cmclp", enabled=progress, maximize=True))  # fmt: skip
    x, done = first.x, ["served"]
    if x is None:
        return first, None, done
    stages: list[tuple[str, np.ndarray, bool]] = [("within reach", reach_c, True)]
    del dist  # stage 3 is an LP once the sites are fixed (see _solution)
    mip = _with_floor(base.mip, served_c, float(served_c @ x), maximize=True)
    for other in others:  # a start that serves as many and reaches more (the coverage greedy's, the MCLP's)
        if mip_feasible(mip, other, mip.col_lo, mip.col_hi) and float(reach_c @ other) > float(reach_c @ x):
            x = other
    if float(reach_c @ x) >= reach_bound - 1e-9 * max(1.0, reach_bound):
        # the uncapacitated MCLP optimum bounds stage 2; sites that serve as many and reach that many are optimal
        return first, x, [*done, "within reach (the MCLP optimum)"]
    for label, c, maximize in stages:
        # a tie-break stage gets a fifth of the limit (at least 2 s) of what is left
        left = min(time_limit_s - (time.perf_counter() - t0), max(2.0, 0.2 * time_limit_s))
        if left < 0.5:
            break
        stage = Mip(c=c, a=mip.a, row_lo=mip.row_lo, row_hi=mip.row_hi, col_lo=mip.col_lo, col_hi=mip.col_hi,
                    integer=mip.integer, maximize=maximize, abs_gap=1e-6)  # fmt: skip
        out = solve_mip(stage, solver=solver, time_limit_s=left, mip_gap=0.0, seed=seed, lp_method="dual",
                        start=x if solver == "highs" else None)  # fmt: skip
        if out.x is None:
            break
        x = out.x
        done.append(label if out.status == "optimal" else f"{label} (time limit)")
        mip = _with_floor(stage, c, float(c @ x), maximize=maximize)
    return first, x, done


def solve_cmclp(
    problem: SitingProblem, k: int, *, budget: float | None, people_per_unit: float, time_limit_s: float,
    mip_gap: float, solver: str, seed: int | None, sizes: Mapping[float, float] | None = None,
    progress: bool = False, coverage_best: Callable[[], tuple[list[int], float]] | None = None,
) -> SitingResult:  # fmt: skip
    """The capacitated MCLP (see the module's text); called by ``solve_mclp(..., capacitated=True)``.

    ``coverage_best()`` gives the uncapacitated MCLP's sites and its proven bound (``solve_mclp``
    passes it): a start, and when those sites also serve the most, stage 2 needs no MILP.
    """
    check_in_range(people_per_unit, "people_per_unit", 1e-9, 1e9)
    sizes = check_sizes(sizes)
    opts = _site_options(problem, float(people_per_unit), sizes)
    t0 = time.perf_counter()
    model = problem.cover_model
    a, csc = model.a, model.csc
    base_model = _assignment_mip(a, model.w, opts, k, budget) if a.shape[0] else None
    x_g, g_obj, starts = None, 0.0, []
    reach_bound, best_cover = math.inf, []
    if coverage_best is not None and budget is None and base_model is not None and solver != "greedy":
        sites, reach_bound = coverage_best()
        best_cover = _largest(opts, sites)
    if base_model is not None:  # starts: the capacitated greedy, the coverage greedy, the MCLP's sites
        for chosen in (_greedy(model, opts, k, budget), _reach_greedy(model, opts, k, budget), best_cover):
            x_c = _solution(base_model, opts, chosen, model.w, solver) if chosen else None
            if x_c is None:
                continue
            starts.append(x_c)
            if x_g is None or float(base_model.mip.c @ x_c) > g_obj + 1e-9:
                x_g, g_obj = x_c, float(base_model.mip.c @ x_c)
    params: dict[str, Any] = {
        "k": k, "budget": budget, "mip_gap": mip_gap, "time_limit_s": time_limit_s, "seed": seed,
        "people_per_unit": people_per_unit, "sizes": sizes,
        "capacity_unit": problem.kind.capacity_unit if problem.kind else None,
        "objective_is": "newly served target people (within reach and capacity)", "tie_break": TIE_BREAK,
        "greedy_seconds": round(time.perf_counter() - t0, 4), "demand_rows": int(a.shape[0]),
    }  # fmt: skip
    x, bound, status, name = x_g, math.nan, "greedy", "lazy greedy"
    if base_model is None:
        x, bound, status, name = None, 0.0, "optimal", "none (nobody left to serve)"
    elif solver != "greedy":
        dist = _group_minutes(problem)
        dist_e = (
            None if dist is None else np.asarray(dist[base_model.pairs.row, base_model.pairs.col]).ravel()
        )
        first, x_best, stages = _stages(base_model, dist_e, model.w, x_g if solver == "highs" else None,
                                        solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, seed=seed,
                                        progress=progress, others=tuple(starts), reach_bound=reach_bound)  # fmt: skip
        # the tie-break stages hold 'served' within a relative 1e-7 of its optimum
        if x_best is not None and float(base_model.mip.c @ x_best) >= g_obj - 1e-6 * max(1.0, g_obj):
            # the people served by the sites chosen, exactly (the stages allow a hair of slack)
            x = _solution(
                base_model,
                opts,
                list(np.flatnonzero(x_best[: base_model.n_opt] > 0.5)),
                model.w,
                solver,
                dist=dist_e,
            )
        bound, name = first.bound, first.solver
        status = first.status if first.status in ("optimal", "time_limit") else "time_limit"
        params.update(mip_seconds=round(first.seconds, 3), mip_status=first.status, tie_break_stages=stages,
                      mip_rows=int(base_model.mip.a.shape[0]), mip_columns=len(base_model.mip.c))  # fmt: skip
    return _result(problem, base_model, opts, x, g_obj, bound, status, name, mip_gap, t0, params, csc)


def _greedy(model: Any, opts: _Options, k: int, budget: float | None) -> list[int]:
    """Lazy greedy over options (a candidate at most once): served gain per cost, ties to more reach."""
    csc = model.csc
    remaining = model.w.copy()
    deg = np.diff(model.a.indptr).astype(float)
    reach = np.asarray(csc.T @ model.w).ravel()
    used = np.zeros(csc.shape[1], bool)

    def gain(o: int) -> float:
        j = opts.site[o]
        if used[j]:
            return 0.0
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        return float(min(opts.cap[o], remaining[rows].sum())) * (1 + 1e-9 * reach[j] / max(1.0, reach.max()))

    def commit(o: int) -> None:
        j = opts.site[o]
        used[j] = True
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        left = opts.cap[o]
        for r in rows[np.argsort(deg[rows], kind="stable")]:  # people with fewest options first
            take = min(left, remaining[r])
            remaining[r] -= take
            left -= take
            if left <= 0:
                break

    opt_csc = sparse.csc_matrix((np.ones(len(opts.site)), (np.zeros(len(opts.site), np.int64),
                                                           np.arange(len(opts.site)))), shape=(1, len(opts.site)))  # fmt: skip
    initial = np.minimum(opts.cap, reach[opts.site]) * (1 + 1e-9 * reach[opts.site] / max(1.0, reach.max()))
    chosen, _ = lazy_greedy(opt_csc, gain, initial, commit, k=k, cost=opts.cost if budget is not None else None,
                            budget=budget)  # fmt: skip
    return chosen


def _reach_greedy(model: Any, opts: _Options, k: int, budget: float | None) -> list[int]:
    """The coverage greedy's sites (most people within reach, spread out), each with its largest size."""
    if budget is not None:
        return []
    sites, _, _ = greedy_coverage(model, k)
    return _largest(opts, sites)


def _largest(opts: _Options, sites: list[int]) -> list[int]:
    """The option of each site with the largest capacity."""
    best: dict[int, int] = {}
    for o in np.argsort(opts.cap, kind="stable"):  # the largest option of each site last
        best[int(opts.site[o])] = int(o)
    return [best[j] for j in sites if j in best]


def _solution(
    base: _Model, opts: _Options, chosen: list[int], w: np.ndarray, solver: str, dist: np.ndarray | None = None
) -> np.ndarray | None:  # fmt: skip
    """A MILP solution with the options ``chosen`` open: the most people served (an LP), reach
    flags; with ``dist`` (minutes per pair), the served people then go to the nearest places
    (a second LP: least person-minutes, served held)."""
    mip = base.mip
    col_lo, col_hi = mip.col_lo.copy(), mip.col_hi.copy()
    col_hi[: base.n_opt] = 0.0
    col_lo[chosen] = col_hi[chosen] = 1.0
    lp = Mip(c=mip.c, a=mip.a, row_lo=mip.row_lo, row_hi=mip.row_hi, col_lo=col_lo, col_hi=col_hi,
             integer=np.zeros_like(mip.integer), maximize=True)  # fmt: skip
    backend = "highs" if solver == "highs" else "scipy"
    out = solve_mip(lp, solver=backend, time_limit_s=1e6, mip_gap=0.0, seed=0, start=None)
    if out.x is None:
        msg = f"the allocation LP ended with status {out.status}."
        raise SolverError(msg)
    x = out.x.copy()
    if dist is not None and out.objective > 0:
        c = np.concatenate([np.zeros(base.n_opt), dist, np.zeros(base.rows)])
        held = _with_floor(lp, mip.c, out.objective, maximize=True, slack=1e-10)
        near = Mip(c=c, a=held.a, row_lo=held.row_lo, row_hi=held.row_hi, col_lo=col_lo, col_hi=col_hi,
                   integer=lp.integer, maximize=False)  # fmt: skip
        again = solve_mip(
            near, solver=backend, time_limit_s=1e6, mip_gap=0.0, seed=0, start=None, lp_method="dual"
        )
        if again.x is not None:
            flows = again.x[base.n_opt : base.n_opt + base.nnz]
            x[base.n_opt : base.n_opt + base.nnz] = flows * min(1.0, out.objective / max(flows.sum(), 1e-12))
    x[: base.n_opt] = np.rint(x[: base.n_opt])
    open_sites = np.zeros(base.pairs.shape[1])
    open_sites[opts.site[np.asarray(chosen, np.int64)]] = 1.0
    x[base.n_opt + base.nnz :] = (base.reach @ open_sites > 0.5).astype(
        float
    )  # every row an open site reaches
    return x


def _result(
    problem: SitingProblem, base: _Model | None, opts: _Options, x: np.ndarray | None, g_obj: float, bound: float,
    status: str, name: str, mip_gap: float, t0: float, params: dict[str, Any], csc: sparse.csc_matrix,
) -> SitingResult:  # fmt: skip
    model = problem.cover_model
    if base is None or x is None:
        chosen_o = np.zeros(0, np.int64)
        served = np.zeros(0)
        obj = 0.0
    else:
        chosen_o = np.flatnonzero(x[: base.n_opt] > 0.5)
        flows = x[base.n_opt : base.n_opt + base.nnz]
        per_site = np.bincount(base.pairs.col, weights=flows, minlength=problem.n_candidates)
        served = per_site[opts.site[chosen_o]]
        obj = float(flows.sum())
    bound = max(bound, obj) if np.isfinite(bound) else bound
    gap = rel_gap(obj, bound, maximize=True)
    if status == "optimal" and np.isfinite(gap) and gap > max(mip_gap, 1e-6):
        status = "time_limit"
    elif status == "time_limit" and np.isfinite(gap) and gap <= max(mip_gap, 1e-9):
        status = "optimal"  # stopped, but with the optimum proven
    # build order: most served first; among equals, the one adding most people within reach
    greedy_order, _ = build_order(problem, [int(j) for j in opts.site[chosen_o]])
    rank = {j: r for r, j in enumerate(greedy_order)}
    idx = sorted(
        range(len(chosen_o)),
        key=lambda i: (-round(float(served[i]), 6), rank.get(int(opts.site[chosen_o[i]]), 0)),
    )
    keep = [i for i in idx if served[i] > 1e-9]
    order = [int(opts.site[chosen_o[i]]) for i in keep]
    covered = np.zeros(model.a.shape[0], bool)
    reach = []
    for j in order:  # newly within reach, in the same order
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        reach.append(float(model.w[rows][~covered[rows]].sum()))
        covered[rows] = True
    served_sorted = [float(served[i]) for i in keep]
    labels = {"size": [float(opts.size[chosen_o[i]]) for i in keep]} if params.get("sizes") else None
    cost = [float(opts.cost[chosen_o[i]]) for i in keep]
    result = make_result(
        problem, "cmclp", order, reach, objective=obj, bound=bound, gap=gap, status=status, solver=name,
        seconds=time.perf_counter() - t0, greedy_objective=g_obj,
        params={**params, "served": obj, "within_reach_new": float(sum(reach))},
        extra_columns={"served": served_sorted, "within_reach": reach}, labels=labels,
    )  # fmt: skip
    if labels is not None:  # a site's capacity and cost are those of its size
        result.sites[CAPACITY] = [float(opts.size[chosen_o[i]]) for i in keep]
        result.sites[COST] = cost
    return result
