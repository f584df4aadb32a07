"""Siting: the search over pieces of a set cover (``planner.siting.search``).

The search is a heuristic, so what is checked is what it must never break and what it must
reach where the answer is known by hand: every answer covers every row (counted again here,
not from the search's own bookkeeping), never costs more than the start nor less than the
brute-force optimum, is the same for the same seed, and on a line of rows, where three rows
per site make the optimum one third of the rows, reaches that optimum or one site above it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import distances
from scipy import sparse

from planner import siting as st
from planner.siting.search import improve_cover


def covers_all(a, sites) -> bool:
    x = np.zeros(a.shape[1])
    x[list(sites)] = 1.0
    return bool((sparse.csr_matrix(a) @ x >= 1).all())


def line_instance(n_sites: int):
    """3n rows on a line; a column per run of three consecutive rows. Optimum: n (3 rows each)."""
    rows = 3 * n_sites
    start = np.arange(rows - 2)
    a = sparse.csr_matrix(
        (
            np.ones(3 * len(start)),
            (np.concatenate([start + k for k in range(3)]), np.tile(np.arange(len(start)), 3)),
        ),
        shape=(rows, len(start)),
    )
    xy = np.column_stack([start.astype(float), np.zeros(len(start))])
    wasteful = sorted({*range(0, rows - 2, 2), rows - 3})  # a run every two rows: 3n/2 sites
    return a, xy, wasteful


@pytest.mark.parametrize("with_xy", [True, False])
def test_search_on_a_line_reaches_the_hand_optimum(with_xy):
    n = 30
    a, xy, wasteful = line_instance(n)
    out = improve_cover(a, np.ones(a.shape[1]), wasteful, time_limit_s=60, seed=1, xy=xy if with_xy else None)
    assert covers_all(a, out.sites)
    assert out.start_cost == len(wasteful) == 45
    assert out.cost == len(out.sites)
    assert n <= out.cost <= n + 1  # from 45: the optimum, or one site above it
    assert out.improvements > 0


def test_search_is_repeatable_with_a_seed():
    a, xy, wasteful = line_instance(40)
    runs = [improve_cover(a, np.ones(a.shape[1]), wasteful, time_limit_s=60, seed=7, xy=xy) for _ in range(2)]
    assert runs[0].sites == runs[1].sites
    assert runs[0].iterations == runs[1].iterations


@pytest.mark.parametrize("seed", range(3))
def test_search_keeps_a_cover_between_start_and_brute_force(seed):
    rng = np.random.default_rng(900 + seed)
    for _ in range(15):
        n, m = int(rng.integers(10, 40)), int(rng.integers(5, 12))
        cells = rng.uniform(0, 4, (n, 2))
        cand = rng.uniform(0, 4, (m, 2))
        a = (distances(cells, cand) <= 1.4).astype(float)
        a = a[a.sum(axis=1) > 0]
        if a.shape[0] == 0:
            continue
        cost = rng.integers(1, 4, m).astype(float)
        best = min(
            float(cost[list(s)].sum())
            for k in range(m + 1)
            for s in itertools.combinations(range(m), k)
            if covers_all(a, s)
        )
        out = improve_cover(sparse.csr_matrix(a), cost, list(range(m)), time_limit_s=30, seed=seed,
                            xy=cand, piece_sites=2, max_piece_sites=6)  # fmt: skip
        assert covers_all(a, out.sites)
        assert out.cost == pytest.approx(float(cost[list(out.sites)].sum()))
        assert best - 1e-9 <= out.cost <= float(cost.sum()) + 1e-9


def test_search_refuses_a_start_that_is_not_a_cover():
    a, _, _ = line_instance(5)
    with pytest.raises(ValueError, match="cover of every row"):
        improve_cover(a, np.ones(a.shape[1]), [0, 3], time_limit_s=5)


def test_lscp_on_a_grid_of_squares_proves_the_tiling():
    """12 × 12 cells, a candidate per 3 × 3 block of cells: 16 blocks tile the grid, and 144 / 9 = 16
    is also the LP bound, so the answer is 16, proven."""
    side = 12
    cells = [(i, j) for i in range(side) for j in range(side)]
    corners = [(i, j) for i in range(side - 2) for j in range(side - 2)]
    a = np.array([[float(ci <= i <= ci + 2 and cj <= j <= cj + 2) for ci, cj in corners] for i, j in cells])
    p = st.SitingProblem.from_coverage_matrix(a, np.ones(len(cells)))
    r = st.solve_lscp(p, solver="highs", seed=0)
    assert r.objective == 16
    assert r.status == "optimal"
    assert covers_all(a, [int(i) for i in r.sites["candidate_id"]])
