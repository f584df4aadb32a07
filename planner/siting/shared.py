"""Shared centres: several kinds sited together ("one old, one young" community service centres).

A candidate can host a set of kinds (its ``hosts`` column, e.g. ``"eldercare;nursery"``; all
kinds when absent). Opening a site costs ``site_cost`` (default: the candidate's ``cost``) and
each kind it hosts ``kind_cost[kind]``; ``budget`` limits the total, ``k`` the number of sites.
The objective is the newly covered target people summed over the kinds, each weighted by
``kind_weights[kind]`` (default 1): a person counts once per kind (an older person reached by
eldercare and by a meal site counts twice). MILP::

    max  Σ_q β_q (Σ_j c^q_j x_jq + Σ_g w^q_g y_gq)
    s.t. y_gq ≤ Σ_j a^q_gj x_jq,   x_jq ≤ s_j (and 0 where j cannot host q),
         Σ_j s_j ≤ k,   [Σ_j site_cost_j s_j + Σ_jq kind_cost_q x_jq ≤ budget]

The answer says which kinds each chosen site hosts, and ``tables["kinds"]`` compares it with
siting each kind separately (an MCLP per kind with as many sites as the shared answer gives it):
people covered per kind and number of sites.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from planner.errors import InputError
from planner.siting.candidates import COST
from planner.siting.mclp import reduce_cover, solve_mclp
from planner.siting.mip import Mip, SolveProgress, check_solver, mip_feasible, rel_gap, solve_mip
from planner.siting.problem import SitingProblem, check_common, check_k
from planner.siting.result import SitingResult, build_order, make_result

logger = logging.getLogger(__name__)

HOSTS = "hosts"


@dataclass(frozen=True)
class SharedProblem:
    """One :class:`SitingProblem` per kind, on the same candidates (same ids, same order)."""

    problems: Mapping[str, SitingProblem]

    def __post_init__(self) -> None:
        if len(self.problems) < 2:
            msg = f"model 'shared' needs two kinds or more; got {list(self.problems)}."
            raise ValueError(msg)
        first = next(iter(self.problems.values())).candidates.index
        for kind, p in self.problems.items():
            if not p.candidates.index.equals(first):
                msg = f"model 'shared': the problem of {kind!r} has other candidates than the first kind's."
                raise ValueError(msg)

    @property
    def kinds(self) -> list[str]:
        """The kinds, in order."""
        return list(self.problems)

    @property
    def first(self) -> SitingProblem:
        """The first kind's problem (its candidates are everyone's)."""
        return next(iter(self.problems.values()))

    @property
    def n_candidates(self) -> int:
        """Number of candidate sites."""
        return self.first.n_candidates

    def __repr__(self) -> str:
        return f"SharedProblem(kinds={self.kinds}, candidates={self.n_candidates})"


def can_host(problem: SharedProblem) -> np.ndarray:
    """Candidates × kinds: True where the candidate may host the kind (``hosts`` column)."""
    cand = problem.first.candidates
    kinds = problem.kinds
    if HOSTS not in cand.columns:
        return np.ones((len(cand), len(kinds)), bool)
    out = np.zeros((len(cand), len(kinds)), bool)
    for i, text in enumerate(cand[HOSTS].to_numpy(object)):
        if text is None or (isinstance(text, float) and math.isnan(text)) or not str(text).strip():
            out[i] = True
            continue
        names = {t.strip() for t in str(text).replace(",", ";").split(";") if t.strip()}
        unknown = names - set(kinds)
        if unknown:
            msg = f"model 'shared': candidate {cand.index[i]!r} hosts {sorted(unknown)}, not among the kinds {kinds}."
            raise InputError(msg)
        out[i] = [k in names for k in kinds]
    return out


def _check_mapping(
    name: str, values: Mapping[str, float] | None, kinds: list[str], default: float
) -> np.ndarray:
    if values is None:
        return np.full(len(kinds), default)
    unknown = sorted(set(values) - set(kinds))
    if unknown:
        msg = f"model 'shared': {name} names {unknown}, not among the kinds {kinds}."
        raise ValueError(msg)
    out = np.array([float(values.get(k, default)) for k in kinds])
    if not np.isfinite(out).all() or (out < 0).any():
        msg = f"model 'shared': {name} must be non-negative numbers per kind; got {dict(values)!r}."
        raise ValueError(msg)
    return out


def _shared_mip(
    problem: SharedProblem, host: np.ndarray, beta: np.ndarray, k: int, site_cost: np.ndarray,
    kind_cost: np.ndarray, budget: float | None,
) -> tuple[Mip, np.ndarray]:  # fmt: skip
    """Columns: s (m), then per kind x_q (m) and y_q (multi rows of that kind); and each kind's offset."""
    m = problem.n_candidates
    reds = [reduce_cover(p.cover_model.a, p.cover_model.w, None, dominance=sparse.identity(m, format="csr"))
            for p in problem.problems.values()]  # fmt: skip
    widths = [m + len(r.w_multi) for r in reds]
    n_var = m + sum(widths)
    offs = np.concatenate([[m], m + np.cumsum(widths)[:-1]]).astype(int)
    rows: list[Any] = []
    lo: list[Any] = []
    hi: list[Any] = []
    c = np.zeros(n_var)
    col_hi = np.ones(n_var)
    integer = np.zeros(n_var)
    integer[:m] = 1
    for q, (red, off) in enumerate(zip(reds, offs, strict=True)):
        n_y = len(red.w_multi)
        c[off : off + m] = beta[q] * red.c_x
        c[off + m : off + m + n_y] = beta[q] * red.w_multi
        integer[off : off + m] = 1
        col_hi[off : off + m] = host[:, q]
        rows.append(sparse.hstack([sparse.csr_matrix((n_y, off)), -red.a_multi, sparse.identity(n_y, format="csr"),
                                   sparse.csr_matrix((n_y, n_var - off - m - n_y))], format="csr"))  # fmt: skip
        lo.append(np.full(n_y, -np.inf))
        hi.append(np.zeros(n_y))
        link = sparse.hstack([-sparse.identity(m, format="csr"), sparse.csr_matrix((m, off - m)),
                              sparse.identity(m, format="csr"), sparse.csr_matrix((m, n_var - off - m))], format="csr")  # fmt: skip
        rows.append(link)  # x_jq - s_j <= 0
        lo.append(np.full(m, -np.inf))
        hi.append(np.zeros(m))
    card = np.zeros(n_var)
    card[:m] = 1.0
    rows.append(sparse.csr_matrix(card[None, :]))
    lo.append([-np.inf])
    hi.append([float(k)])
    if budget is not None:
        spend = np.zeros(n_var)
        spend[:m] = site_cost
        for q, off in enumerate(offs):
            spend[off : off + m] = kind_cost[q]
        rows.append(sparse.csr_matrix(spend[None, :]))
        lo.append([-np.inf])
        hi.append([float(budget)])
    return Mip(
        c=c,
        a=sparse.vstack(rows, format="csr"),
        row_lo=np.concatenate(lo),
        row_hi=np.concatenate(hi),
        col_lo=np.zeros(n_var),
        col_hi=col_hi,
        integer=integer,
        maximize=True,
    ), offs


def _value(problem: SharedProblem, hosted: list[list[int]], beta: np.ndarray) -> tuple[float, np.ndarray]:
    per = np.zeros(len(hosted))
    for q, (p, sites) in enumerate(zip(problem.problems.values(), hosted, strict=True)):
        model = p.cover_model
        if sites:
            per[q] = float(model.w[np.asarray(model.a[:, sites].sum(axis=1)).ravel() > 0].sum())
    return float(beta @ per), per


def _greedy_shared(
    problem: SharedProblem, host: np.ndarray, beta: np.ndarray, k: int, site_cost: np.ndarray,
    kind_cost: np.ndarray, budget: float | None,
) -> list[list[int]]:  # fmt: skip
    """Greedy: open the site adding the most weighted coverage (per cost with a budget), hosting
    every kind it adds someone for while the budget allows."""
    models = [p.cover_model for p in problem.problems.values()]
    covered = [np.zeros(len(mo.w), bool) for mo in models]
    hosted: list[list[int]] = [[] for _ in models]
    left = math.inf if budget is None else float(budget)
    opened: set[int] = set()
    for _ in range(k):
        gains = np.zeros((problem.n_candidates, len(models)))
        for q, mo in enumerate(models):
            gains[:, q] = (
                beta[q] * np.asarray(mo.csc.T @ np.where(covered[q], 0.0, mo.w)).ravel() * host[:, q]
            )
        useful = gains > 0
        spend = site_cost + useful @ kind_cost
        value = gains.sum(axis=1) / (spend if budget is not None else 1.0)
        value[list(opened)] = -1
        value[spend > left + 1e-9] = -1
        j = int(np.argmax(value))
        if value[j] <= 0:
            break
        opened.add(j)
        left -= spend[j]
        for q, mo in enumerate(models):
            if useful[j, q]:
                hosted[q].append(j)
                covered[q][mo.csc.indices[mo.csc.indptr[j] : mo.csc.indptr[j + 1]]] = True
    return hosted


def solve_shared(
    problem: SharedProblem,
    k: int,
    *,
    kind_weights: Mapping[str, float] | None = None,
    kind_cost: Mapping[str, float] | None = None,
    site_cost: float | None = None,
    budget: float | None = None,
    compare: bool = True,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
    solver: str = "auto",
    seed: int | None = None,
    progress: bool = False,
) -> SitingResult:
    """Shared centres: ``k`` sites, each hosting a set of kinds, covering the most weighted people.

    Parameters
    ----------
    problem
        One problem per kind on the same candidates (:class:`SharedProblem`).
    k
        Number of sites (each may host several kinds).
    kind_weights
        ``β`` per kind (default 1).
    kind_cost
        Cost of hosting each kind at a site (default 0).
    site_cost
        Cost of opening any site (default: each candidate's ``cost``).
    budget
        Limit on the total cost (sites and kinds hosted).
    compare
        Also site each kind separately (``tables["kinds"]``).
    time_limit_s, mip_gap, solver, seed, progress
        As for :func:`~planner.siting.mclp.solve_mclp`.

    Returns
    -------
    SitingResult
        ``sites`` with ``hosts`` (kinds hosted, ``;``-separated) and ``covered_<kind>`` (newly
        covered people of that kind, in build order); ``objective`` is the weighted sum.

    Examples
    --------
    >>> a = SitingProblem.from_coverage_matrix([[1, 0], [0, 1]], [10, 1])
    >>> b = SitingProblem.from_coverage_matrix([[1, 0], [0, 1]], [1, 10])
    >>> r = solve_shared(SharedProblem({"eldercare": a, "nursery": b}), 1, compare=False)
    >>> r.objective, r.sites["hosts"].tolist()
    (11.0, ['eldercare;nursery'])
    """
    t0 = time.perf_counter()
    if not isinstance(problem, SharedProblem):
        msg = "model 'shared' takes a SharedProblem (one SitingProblem per kind on the same candidates)."
        raise TypeError(msg)
    k = check_k(problem.first, k)
    check_common(time_limit_s, mip_gap)
    solver = check_solver(solver)
    kinds = problem.kinds
    beta = _check_mapping("kind_weights", kind_weights, kinds, 1.0)
    kc = _check_mapping("kind_cost", kind_cost, kinds, 0.0)
    sc = problem.first.candidates[COST].to_numpy(float) if site_cost is None else np.full(problem.n_candidates,
                                                                                         float(site_cost))  # fmt: skip
    host = can_host(problem)
    hosted = _greedy_shared(problem, host, beta, k, sc, kc, budget)
    g_obj, _ = _value(problem, hosted, beta)
    obj, bound, status, name, extra = g_obj, math.inf, "greedy", "greedy (shared)", {}
    if solver != "greedy":
        mip, offs = _shared_mip(problem, host, beta, k, sc, kc, budget)
        out = solve_mip(mip, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, seed=seed,
                        start=None, progress=SolveProgress("shared", enabled=progress, maximize=True))  # fmt: skip
        if out.x is not None and mip_feasible(mip, out.x, mip.col_lo, mip.col_hi):
            m = problem.n_candidates
            cand = [[int(j) for j in np.flatnonzero(out.x[off : off + m] > 0.5)] for off in offs]
            val, _ = _value(problem, cand, beta)
            if val >= g_obj - 1e-9:
                hosted, obj = cand, val
        bound, name = out.bound, out.solver
        status = out.status if out.status in ("optimal", "time_limit") else "time_limit"
        extra = {"mip_seconds": round(out.seconds, 3), "mip_status": out.status, "mip_rows": int(mip.a.shape[0]),
                 "mip_columns": len(mip.c)}  # fmt: skip
    bound = max(bound, obj) if np.isfinite(bound) else bound
    gap = rel_gap(obj, bound, maximize=True)
    if status == "optimal" and np.isfinite(gap) and gap > max(mip_gap, 1e-6):
        status = "time_limit"
    params = {"k": k, "kinds": kinds, "kind_weights": dict(zip(kinds, beta.tolist(), strict=True)),
              "kind_cost": dict(zip(kinds, kc.tolist(), strict=True)), "site_cost": site_cost, "budget": budget,
              "time_limit_s": time_limit_s, "mip_gap": mip_gap, "seed": seed, **extra,
              "objective_is": "newly covered target people summed over the kinds (weighted)"}  # fmt: skip
    return _shared_result(problem, hosted, beta, obj=obj, bound=bound, gap=gap, status=status, solver=name,
                          t0=t0, greedy=g_obj, params=params, compare=compare, time_limit_s=time_limit_s,
                          seed=seed)  # fmt: skip


def _shared_result(
    problem: SharedProblem, hosted: list[list[int]], beta: np.ndarray, *, obj: float, bound: float, gap: float,
    status: str, solver: str, t0: float, greedy: float, params: dict[str, Any], compare: bool,
    time_limit_s: float, seed: int | None,
) -> SitingResult:  # fmt: skip
    kinds = problem.kinds
    # per kind: its sites in build order, those that add nobody of the kind left out
    useful: list[list[int]] = []
    for p, sites in zip(problem.problems.values(), hosted, strict=True):
        kind_order, gains = build_order(p, sites)
        useful.append([j for j, g in zip(kind_order, gains, strict=True) if g > 1e-9])
    sites_all = sorted({j for s in useful for j in s})
    gain_per_kind = np.zeros((len(sites_all), len(kinds)))
    # build order: the site adding the most weighted coverage given the earlier ones, first
    covered = [np.zeros(len(p.cover_model.w), bool) for p in problem.problems.values()]
    order: list[int] = []
    left = list(sites_all)
    while left:
        best, best_val, best_g = left[0], -1.0, np.zeros(len(kinds))
        for j in left:
            g = np.zeros(len(kinds))
            for q, p in enumerate(problem.problems.values()):
                if j in useful[q]:
                    mo = p.cover_model
                    rows = mo.csc.indices[mo.csc.indptr[j] : mo.csc.indptr[j + 1]]
                    g[q] = float(mo.w[rows][~covered[q][rows]].sum())
            if float(beta @ g) > best_val:
                best, best_val, best_g = j, float(beta @ g), g
        order.append(best)
        gain_per_kind[len(order) - 1] = best_g
        left.remove(best)
        for q, p in enumerate(problem.problems.values()):
            if best in useful[q]:
                mo = p.cover_model
                covered[q][mo.csc.indices[mo.csc.indptr[best] : mo.csc.indptr[best + 1]]] = True
    hosts = [";".join(kinds[q] for q in range(len(kinds)) if j in useful[q]) for j in order]
    per_kind = [make_result(p, "mclp", s, [0.0] * len(s), objective=0, bound=0, gap=0, status="", solver="",
                            seconds=0, greedy_objective=0, params={}) for p, s in zip(problem.problems.values(),
                                                                                        useful, strict=True)]  # fmt: skip
    table = pd.DataFrame({
        "kind": kinds, "weight": beta, "sites_hosting": [len(s) for s in useful],
        "covered_before": [r.covered_before for r in per_kind],
        "covered_shared": [r.covered_after for r in per_kind], "total": [r.total for r in per_kind],
    })  # fmt: skip
    if compare:
        sep = [solve_mclp(p, len(s), time_limit_s=time_limit_s, seed=seed) if s else None
               for p, s in zip(problem.problems.values(), useful, strict=True)]  # fmt: skip
        table["covered_separate"] = [r.covered_after if r is not None else pc.covered_before
                                     for r, pc in zip(sep, per_kind, strict=True)]  # fmt: skip
        table["sites_separate"] = [len(r.sites) if r is not None else 0 for r in sep]
    summary = {"kind": "(all)", "weight": math.nan, "sites_hosting": len(order),
               "covered_before": table["covered_before"].sum(), "covered_shared": table["covered_shared"].sum(),
               "total": table["total"].sum()}  # fmt: skip
    if compare:
        summary.update(
            covered_separate=table["covered_separate"].sum(), sites_separate=table["sites_separate"].sum()
        )
    table = pd.concat([table, pd.DataFrame([summary])], ignore_index=True)
    first = problem.first
    result = make_result(
        first, "shared", order, list(gain_per_kind @ beta), objective=obj, bound=bound, gap=gap, status=status,
        solver=solver, seconds=time.perf_counter() - t0, greedy_objective=greedy, params=params,
        extra_columns={f"covered_{q}": gain_per_kind[:, i].tolist() for i, q in enumerate(kinds)},
        labels={HOSTS: hosts}, tables={"kinds": table},
    )  # fmt: skip
    result.sites["kind"] = hosts
    logger.info("shared: %d sites for %s; %s", len(order), kinds,
                dict(zip(kinds, [len(s) for s in useful], strict=True)))  # fmt: skip
    before, total = float(table["covered_before"].iloc[-1]), float(table["total"].iloc[-1])
    cumulative = np.cumsum(gain_per_kind.sum(axis=1))
    result.sites["covered"] = before + cumulative
    result.sites["share"] = (before + cumulative) / total if total > 0 else np.nan
    by_kind = pd.concat([r.coverage_after.assign(kind=q) for q, r in zip(kinds, per_kind, strict=True)],
                        ignore_index=True)  # fmt: skip
    return replace(result, covered_before=before, covered_after=float(table["covered_shared"].iloc[-1]), total=total,
                   coverage_after=by_kind)  # fmt: skip
