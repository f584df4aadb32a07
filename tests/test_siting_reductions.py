"""Siting: every reduction the exact models make, checked against brute force on tiny instances.

Each test enumerates every subset of candidates, so the instances stay small (≤ 9 columns).
What is checked is the property each reduction needs to be exact:

* ``dominated_columns``: the set-covering optimum is unchanged, every dropped column has a kept one
  that covers its rows at no higher cost, and of two identical columns exactly one stays;
* ``redundant_rows``: over the kept columns, a subset covers the kept rows iff it covers
  them all (same feasible set), and of two identical rows exactly one stays;
* ``start_from_sites``: the mapped warm start covers every row the sites covered, at no
  higher cost;
* ``reduced_cost_fixing``: every solution that beats the incumbent agrees with the fixings;
* ``solve_mip`` with an incumbent: the objective is ``c @ x`` of a feasible ``x``, the bound
  is valid, an optimal status is a true optimum. This is what failed: HiGHS 1.16 given the
  incumbent with ``setSolution`` (presolve on) answered "Optimal" with an objective and a bound
  below the optimum and handed back the incumbent itself (see ``test_highs_start_*``).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import distances
from scipy import sparse

from planner import siting as st
from planner.siting.greedy import greedy_coverage, remove_redundant
from planner.siting.mip import (
    Mip,
    dominated_columns,
    highs_model,
    reduced_cost_fixing,
    redundant_rows,
    solve_mip,
    start_from_sites,
)
from planner.siting.problem import CoverModel
from planner.siting.reduce import (
    lagrangian_fix_cover,
    lagrangian_set_cover,
    pmedian_fixing,
    pmedian_lagrangian,
    reduce_set_cover,
    split_components,
)

highspy = pytest.importorskip("highspy")


# ---------------------------------------------------------------------- helpers
def random_cover(rng, n_max=9, m_max=8, dup=True):
    """A small 0/1 matrix with every row coverable, often with repeated rows and columns."""
    n, m = int(rng.integers(1, n_max + 1)), int(rng.integers(1, m_max + 1))
    a = (rng.random((n, m)) < rng.uniform(0.2, 0.7)).astype(float)
    if dup and m > 1 and rng.random() < 0.5:
        a[:, rng.integers(m)] = a[:, rng.integers(m)]
    if dup and n > 1 and rng.random() < 0.5:
        a[rng.integers(n)] = a[rng.integers(n)]
    a = a[a.sum(axis=1) > 0]
    if a.shape[0] == 0:
        a = np.ones((1, m))
    return a


def covers(a, cols):
    return bool((a[:, list(cols)].sum(axis=1) > 0).all())


def subsets(m):
    for size in range(m + 1):
        yield from itertools.combinations(range(m), size)


def brute_cover(a, cost):
    best = np.inf
    for s in subsets(a.shape[1]):
        if covers(a, s):
            best = min(best, float(cost[list(s)].sum()))
    return best


def set_cover_mip(a, cost, integral=True):
    n, m = a.shape
    return Mip(c=np.asarray(cost, float), a=sparse.csr_matrix(a), row_lo=np.ones(n),
                   row_hi=np.full(n, np.inf), col_lo=np.zeros(m), col_hi=np.ones(m),
                   integer=np.ones(m), maximize=False, abs_gap=1 - 1e-6 if integral else 1e-6)  # fmt: skip


def mclp_mip(a, w, k):
    """max sum w_i y_i, y_i <= sum_j a_ij x_j, sum x <= k (the MCLP without the folding)."""
    n, m = a.shape
    blocks = [sparse.hstack([-sparse.csr_matrix(a), sparse.identity(n, format="csr")], format="csr"),
              sparse.csr_matrix(np.concatenate([np.ones(m), np.zeros(n)])[None, :])]  # fmt: skip
    return Mip(c=np.concatenate([np.zeros(m), w]), a=sparse.vstack(blocks, format="csr"),
                   row_lo=np.full(n + 1, -np.inf), row_hi=np.concatenate([np.zeros(n), [k]]),
                   col_lo=np.zeros(m + n), col_hi=np.ones(m + n),
                   integer=np.concatenate([np.ones(m), np.zeros(n)]), maximize=True)  # fmt: skip


def brute_mclp(a, w, k):
    return max(
        float(w[a[:, list(s)].sum(axis=1) > 0].sum()) for s in itertools.combinations(range(a.shape[1]), k)
    )


def greedy_cover(a, cost):
    model = CoverModel(sparse.csr_matrix(a), np.ones(a.shape[0]), np.zeros(0, np.int64))
    sites, _, _ = greedy_coverage(model, None, cost=cost)
    return remove_redundant(model, sites, float(a.shape[0]), full=True)


# ---------------------------------------------------------------------- dominated columns
@pytest.mark.parametrize("seed", range(4))
def test_dominated_columns_keep_the_optimum(seed):
    rng = np.random.default_rng(seed)
    for _ in range(150):
        a = random_cover(rng)
        m = a.shape[1]
        cost = rng.integers(1, 3, m).astype(float) if rng.random() < 0.5 else np.ones(m)
        dom = dominated_columns(sparse.csr_matrix(a), cost)
        keep = np.flatnonzero(~dom)
        assert len(keep) >= 1
        assert brute_cover(a[:, keep], cost[keep]) == brute_cover(a, cost)
        for j in np.flatnonzero(dom & (a.sum(axis=0) > 0)):  # a kept one covers its rows, costs no more
            inside = (a[:, keep] >= a[:, [j]]).all(axis=0) & (cost[keep] <= cost[j])
            assert inside.any()


def test_dominated_keeps_exactly_one_of_identical_columns():
    a = np.array([[1, 1, 0, 1], [0, 0, 1, 1], [1, 1, 0, 0]], float)  # columns 0 and 1 identical
    dom = dominated_columns(sparse.csr_matrix(a), np.ones(4))
    assert dom[:2].sum() == 1
    # cheaper copy kept whatever its position
    dom = dominated_columns(sparse.csr_matrix(a), np.array([2.0, 1.0, 1.0, 1.0]))
    assert dom[0]
    assert not dom[1]
    # three copies: exactly one stays
    a3 = np.array([[1, 1, 1], [1, 1, 1]], float)
    assert (~dominated_columns(sparse.csr_matrix(a3), np.ones(3))).sum() == 1


# ---------------------------------------------------------------------- redundant rows
@pytest.mark.parametrize("seed", range(4))
def test_redundant_rows_keep_the_feasible_set(seed):
    rng = np.random.default_rng(100 + seed)
    for _ in range(150):
        a = random_cover(rng)
        m = a.shape[1]
        cost = np.ones(m)
        keep = np.flatnonzero(~dominated_columns(sparse.csr_matrix(a), cost))
        ak = a[:, keep]
        red = redundant_rows(sparse.csr_matrix(ak))
        assert (~red).any()
        for s in subsets(len(keep)):
            assert covers(ak[~red], s) == covers(ak, s)


def test_redundant_rows_keep_exactly_one_of_identical_rows():
    a = np.array([[1, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 0]], float)
    red = redundant_rows(sparse.csr_matrix(a))
    assert red[:2].sum() == 1  # one of the two identical rows
    assert red[2]  # contains row 0's set
    assert not red[3]


# ---------------------------------------------------------------------- warm start mapping
@pytest.mark.parametrize("seed", range(3))
def test_start_from_sites_covers_what_the_sites_cover(seed):
    rng = np.random.default_rng(200 + seed)
    for _ in range(150):
        a = random_cover(rng)
        m = a.shape[1]
        cost = rng.integers(1, 3, m).astype(float) if rng.random() < 0.5 else np.ones(m)
        dom = dominated_columns(sparse.csr_matrix(a), cost)
        keep = np.flatnonzero(~dom)
        sites = list(rng.choice(m, size=int(rng.integers(1, m + 1)), replace=False))
        x = start_from_sites(sites, keep, dom, sparse.csr_matrix(a), cost)
        chosen = keep[x > 0.5]
        hit_sites = a[:, sites].sum(axis=1) > 0
        hit_start = a[:, chosen].sum(axis=1) > 0
        assert (hit_start >= hit_sites).all()
        assert cost[chosen].sum() <= cost[sites].sum() + 1e-9


# ---------------------------------------------------------------------- reduced-cost fixing
def _lp(mip):
    h = highs_model(mip, integer=False, col_lo=mip.col_lo, col_hi=mip.col_hi)
    h.setOptionValue("solver", "simplex")
    h.run()
    sol = h.getSolution()
    return (np.asarray(sol.col_value, float), np.asarray(sol.col_dual, float),
            float(h.getInfo().objective_function_value))  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_reduced_cost_fixing_keeps_every_better_cover(seed):
    rng = np.random.default_rng(300 + seed)
    n_fixed = 0
    for _ in range(120):
        a = random_cover(rng, n_max=10, m_max=8, dup=False)
        m = a.shape[1]
        integral = rng.random() < 0.7
        cost = rng.integers(1, 4, m).astype(float) if integral else rng.uniform(1, 3, m).round(2)
        mip = set_cover_mip(a, cost, integral=integral)
        x_lp, d_lp, lp_val = _lp(mip)
        start = np.zeros(m)
        start[greedy_cover(a, cost)] = 1.0
        inc = float(cost @ start)
        fix0, fix1 = reduced_cost_fixing(mip, x_lp, d_lp, lp_val, start, mip.col_lo, mip.col_hi)
        assert (start[fix0] == 0).all()
        assert (start[fix1] == 1).all()
        n_fixed += int(fix0.sum() + fix1.sum())
        for s in subsets(m):
            total = float(cost[list(s)].sum())
            better = total <= inc - 1 + 1e-9 if integral else total < inc - 1e-9
            if better and covers(a, s):
                x = np.zeros(m)
                x[list(s)] = 1.0
                assert (x[fix0] == 0).all()
                assert (x[fix1] == 1).all()
    assert n_fixed > 0  # the test exercises the fixing


@pytest.mark.parametrize("seed", range(3))
def test_reduced_cost_fixing_keeps_every_better_coverage(seed):
    rng = np.random.default_rng(400 + seed)
    for _ in range(80):
        a = random_cover(rng, n_max=9, m_max=7, dup=False)
        n, m = a.shape
        w = rng.integers(1, 30, n).astype(float)
        k = int(rng.integers(1, m + 1))
        mip = mclp_mip(a, w, k)
        x_lp, d_lp, lp_val = _lp(mip)
        sites, _, _ = greedy_coverage(CoverModel(sparse.csr_matrix(a), w, np.zeros(0, np.int64)), k)
        start = np.zeros(m + n)
        start[sites] = 1.0
        start[m:] = (a[:, sites].sum(axis=1) > 0).astype(float)
        inc = float(mip.c @ start)
        fix0, fix1 = reduced_cost_fixing(mip, x_lp, d_lp, lp_val, start, mip.col_lo, mip.col_hi)
        for s in itertools.combinations(range(m), k):
            val = float(w[a[:, list(s)].sum(axis=1) > 0].sum())
            if val > inc + 1e-9:
                x = np.zeros(m)
                x[list(s)] = 1.0
                assert (x[fix0[:m]] == 0).all()
                assert (x[fix1[:m]] == 1).all()


# ---------------------------------------------------------------------- the MIP with an incumbent
# HiGHS 1.16, given this optimal start with setSolution (presolve on), prints "MIP start solution
# is feasible in the reduced space: objective value is 2" and stops: Optimal, objective 2, dual
# bound 2, and col_value = the start (3 sites). The optimum is 3 (rows {3,5,6} {2,4} {0,6}
# {0,4,5} {1,2} need three columns).
MINI_ROWS = [[3, 5, 6], [2, 4], [0, 6], [0, 4, 5], [1, 2]]
MINI_START = [0, 2, 3]


def mini_matrix():
    a = np.zeros((5, 7))
    for i, r in enumerate(MINI_ROWS):
        a[i, r] = 1.0
    return a


def test_highs_start_minimal_reproduction_is_solved_right():
    a = mini_matrix()
    assert brute_cover(a, np.ones(7)) == 3
    mip = set_cover_mip(a, np.ones(7))
    start = np.zeros(7)
    start[MINI_START] = 1.0
    out = solve_mip(mip, solver="highs", time_limit_s=10, mip_gap=0.0, seed=0, start=start, lp_method="ipm")
    assert out.status == "optimal"
    assert out.objective == pytest.approx(3.0)
    assert float(mip.c @ out.x) == pytest.approx(out.objective)
    assert covers(a, np.flatnonzero(out.x > 0.5))
    assert out.bound <= 3.0 + 1e-9
    assert out.bound >= 3.0 - 1e-6


# The smallest solve_lscp case found (10 cells x 9 candidates, shrunk from a random one): the
# greedy's 5 sites are optimal, HiGHS (given them as a start) said "Optimal" at 4 and returned
# them, and solve_lscp reported 5 sites, status time_limit, bound 4, gap 20 %.
LSCP_10x9 = [
    [1, 1, 0, 0, 0, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 1, 0, 0, 0, 0],
    [0, 0, 0, 1, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1, 0, 1, 0], [0, 0, 0, 0, 0, 1, 1, 0, 0],
    [0, 0, 1, 0, 0, 0, 0, 1, 1], [0, 0, 1, 0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 0, 0, 1, 0, 0],
    [1, 0, 0, 0, 1, 0, 0, 0, 0],
]  # fmt: skip


def test_solve_mip_proves_the_greedy_start_on_the_smallest_failing_case():
    a = np.array(LSCP_10x9, float)
    cost = np.ones(9)
    dom = dominated_columns(sparse.csr_matrix(a), cost)  # the reduced model solve_lscp builds
    keep = np.flatnonzero(~dom)
    a_red = a[:, keep][~redundant_rows(sparse.csr_matrix(a[:, keep]))]
    start = start_from_sites(greedy_cover(a, cost), keep, dom, sparse.csr_matrix(a), cost)
    assert start.sum() == 5
    mip = set_cover_mip(a_red, cost[keep])
    out = solve_mip(mip, solver="highs", time_limit_s=10, mip_gap=0.0, seed=0, start=start, lp_method="ipm")
    assert out.status == "optimal"
    assert out.objective == 5
    assert out.bound >= 5 - 1e-6


def test_lscp_proof_is_kept_on_the_smallest_failing_case():
    a = np.array(LSCP_10x9, float)
    p = st.SitingProblem.from_coverage_matrix(a, np.ones(len(a)))
    r = st.solve_lscp(p, solver="highs")
    assert brute_cover(a, np.ones(a.shape[1])) == 5
    assert r.objective == 5
    assert r.status == "optimal"
    assert r.bound == 5
    assert r.gap == 0


@pytest.mark.parametrize("seed", range(4))
def test_solve_mip_with_an_incumbent_matches_brute_force(seed):
    """Set covers with a (greedy) incumbent, the path of solve_lscp: never a false optimum."""
    rng = np.random.default_rng(500 + seed)
    for _ in range(40):
        n, m = int(rng.integers(6, 30)), int(rng.integers(5, 10))
        cells = rng.uniform(0, 4, (n, 2))
        cand = rng.uniform(0, 4, (m, 2))
        a = (distances(cells, cand) <= rng.uniform(0.8, 2)).astype(float)
        a = a[a.sum(axis=1) > 0]
        if not len(a):
            continue
        cost = rng.integers(1, 3, m).astype(float) if rng.random() < 0.4 else np.ones(m)
        best = brute_cover(a, cost)
        start = np.zeros(m)
        start[greedy_cover(a, cost)] = 1.0
        mip = set_cover_mip(a, cost)
        out = solve_mip(
            mip, solver="highs", time_limit_s=10, mip_gap=0.0, seed=0, start=start, lp_method="ipm"
        )
        assert covers(a, np.flatnonzero(out.x > 0.5))
        assert out.objective == pytest.approx(float(cost @ out.x))
        assert out.bound <= best + 1e-6
        if out.status == "optimal":  # a proof: the objective is the optimum and so is the bound
            assert out.objective == pytest.approx(best)
            assert out.bound >= best - 1e-6


@pytest.mark.parametrize("seed", range(3))
def test_solve_lscp_matches_brute_force_on_geometric_instances(seed):
    rng = np.random.default_rng(600 + seed)
    for _ in range(25):
        n, m = int(rng.integers(6, 40)), int(rng.integers(4, 10))
        cells = rng.uniform(0, 4, (n, 2))
        cand = np.round(rng.uniform(0, 4, (m, 2)))  # rounded: repeated columns
        a = (distances(cells, cand) <= rng.uniform(0.8, 2)).astype(float)
        cost = rng.integers(1, 3, m).astype(float) if rng.random() < 0.4 else None
        p = st.SitingProblem.from_coverage_matrix(a, np.ones(n), cost=cost)
        reach = a.sum(axis=1) > 0
        if not reach.any():
            continue
        r = st.solve_lscp(p, solver="highs")
        c = np.ones(m) if cost is None else cost
        assert r.objective == pytest.approx(brute_cover(a[reach], c))
        assert r.status == "optimal"
        chosen = [int(i) for i in r.sites["candidate_id"]]
        assert covers(a[reach], chosen)


@pytest.mark.parametrize("seed", range(3))
def test_solve_mip_mclp_with_an_incumbent_matches_brute_force(seed):
    rng = np.random.default_rng(700 + seed)
    for _ in range(40):
        a = random_cover(rng, n_max=12, m_max=8, dup=True)
        n, m = a.shape
        w = rng.integers(1, 30, n).astype(float)
        k = int(rng.integers(1, min(m, 4) + 1))
        sites, _, _ = greedy_coverage(CoverModel(sparse.csr_matrix(a), w, np.zeros(0, np.int64)), k)
        mip = mclp_mip(a, w, k)
        start = np.zeros(m + n)
        start[sites] = 1.0
        start[m:] = (a[:, sites].sum(axis=1) > 0).astype(float)
        best = brute_mclp(a, w, k)
        out = solve_mip(mip, solver="highs", time_limit_s=10, mip_gap=0.0, seed=0, start=start)
        assert out.objective == pytest.approx(float(mip.c @ out.x))
        assert out.bound >= best - 1e-6
        assert out.status == "optimal"
        assert out.objective == pytest.approx(best)


# ---------------------------------------------------------------------- reductions to a fixpoint, Lagrangian bounds
def random_cover_essential(rng, n_max=10, m_max=8):
    a = random_cover(rng, n_max=n_max, m_max=m_max)
    if rng.random() < 0.5:  # a few rows only one column covers: essential columns
        for i in rng.choice(a.shape[0], size=min(2, a.shape[0]), replace=False):
            a[i] = 0.0
            a[i, rng.integers(a.shape[1])] = 1.0
    return a


@pytest.mark.parametrize("seed", range(4))
def test_reduce_set_cover_keeps_the_optimum(seed):
    rng = np.random.default_rng(800 + seed)
    for _ in range(120):
        a = random_cover_essential(rng)
        m = a.shape[1]
        cost = rng.integers(1, 4, m).astype(float) if rng.random() < 0.5 else np.ones(m)
        red = reduce_set_cover(sparse.csr_matrix(a), cost)
        rest = a[red.rows][:, red.cols]
        opt_rest = brute_cover(rest, cost[red.cols]) if len(red.rows) else 0.0
        assert float(cost[red.forced].sum()) + opt_rest == pytest.approx(brute_cover(a, cost))
        for s in subsets(len(red.cols)):  # forced + any cover of the rest covers everything
            if len(red.rows) == 0 or covers(rest, s):
                assert covers(a, list(red.forced) + list(red.cols[list(s)]))
        # the components split the rest: each row and column in exactly one, no link between them
        comps = split_components(red.a) if len(red.rows) else []
        assert sorted(np.concatenate([r for r, _ in comps]).tolist() if comps else []) == list(
            range(len(red.rows))
        )
        for r, c in comps:
            outside = np.setdiff1d(np.arange(len(red.cols)), c)
            assert rest[np.ix_(r, outside)].sum() == 0


@pytest.mark.parametrize("seed", range(3))
def test_lagrangian_set_cover_bound_and_fixing(seed):
    rng = np.random.default_rng(850 + seed)
    for _ in range(50):
        a = random_cover_essential(rng, n_max=9, m_max=7)
        m = a.shape[1]
        cost = rng.integers(1, 4, m).astype(float)
        best = brute_cover(a, cost)
        upper = best + float(rng.integers(0, 3))  # an incumbent at or above the optimum
        lag = lagrangian_set_cover(sparse.csr_matrix(a), cost, upper=upper, iterations=300)
        assert lag.bound <= best + 1e-9
        fix0, fix1 = lagrangian_fix_cover(lag, upper, integral=True)
        for s in subsets(m):
            if covers(a, s) and cost[list(s)].sum() <= upper - 1:  # every strictly better cover
                x = np.zeros(m, bool)
                x[list(s)] = True
                assert not (x & fix0).any()
                assert (x | ~fix1).all()


def brute_pmedian(s, k):
    s = s.toarray()
    return max(float(s[:, list(c)].max(axis=1).sum()) for c in itertools.combinations(range(s.shape[1]), k))


@pytest.mark.parametrize("seed", range(3))
def test_pmedian_lagrangian_bound_and_fixing(seed):
    rng = np.random.default_rng(880 + seed)
    for _ in range(40):
        n, m = int(rng.integers(2, 14)), int(rng.integers(2, 8))
        dense = np.where(rng.random((n, m)) < 0.5, rng.uniform(0, 10, (n, m)).round(1), 0.0)
        s = sparse.csr_matrix(dense)
        k = int(rng.integers(1, m + 1))
        best = brute_pmedian(s, k)
        lag = pmedian_lagrangian(s, k, lower=0.0, iterations=500)
        assert lag.bound >= best - 1e-6
        incumbent = best - float(rng.choice([0.0, 0.5]))
        fix0, fix1 = pmedian_fixing(lag, k, incumbent)
        for c in itertools.combinations(range(m), k):
            if float(dense[:, list(c)].max(axis=1).sum()) > incumbent + 1e-9:  # every better solution
                x = np.zeros(m, bool)
                x[list(c)] = True
                assert not (x & fix0).any()
                assert (x | ~fix1).all()


@pytest.mark.parametrize("seed", range(3))
def test_solve_p_median_matches_brute_force_with_fixing(seed):
    rng = np.random.default_rng(900 + seed)
    for _ in range(8):
        n, m = int(rng.integers(10, 40)), int(rng.integers(4, 9))
        cells = rng.uniform(0, 4, (n, 2))
        cand = rng.uniform(0, 4, (m, 2))
        dist = distances(cells, cand) * 5
        mins = np.where(dist <= 20, dist, np.inf)
        w = rng.integers(1, 9, n).astype(float)
        p = st.SitingProblem.from_coverage_matrix((mins <= 10).astype(float), w, minutes=mins, threshold_min=10,
                                                  limit_min=20)  # fmt: skip
        k = int(rng.integers(1, min(m, 4) + 1))
        save = np.where(np.isfinite(mins), w[:, None] * (20 - np.where(np.isfinite(mins), mins, 20)), 0.0)
        r = st.solve_p_median(p, k)
        assert r.objective == pytest.approx(brute_pmedian(sparse.csr_matrix(save), k))
        assert r.status == "optimal"
        assert r.bound >= r.objective - 1e-6
