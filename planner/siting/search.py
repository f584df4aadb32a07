"""Large-neighbourhood search for set covering: a cheaper cover than the greedy's, fast.

On a city (20k cells × 2k candidates and up) the branch and bound proves little in a minute
and its own heuristics leave the cover far above the bound (``docs/siting-findings.md``:
middle city, 200 sites after 60 s and 197 after 300 s, against 178 from the LP). What works on
these geometric covers is to re-solve small pieces exactly: take a site of the current cover
and the chosen sites around it (neighbours through the rows they share with other columns),
drop them, and cover again, with a small MILP over every column that reaches them, the rows
that they alone covered. A re-cover that is no dearer replaces them — equal ones too, so the
search moves along plateaus. Pieces start small and grow once a round of them finds nothing
cheaper (a variable-neighbourhood schedule); they shrink when a small MILP runs out of time.

Every step keeps a cover of every row, so stopping at any time is safe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

logger = logging.getLogger(__name__)

__all__ = ["SearchOutcome", "improve_cover"]

#: the time limit of one small MILP, in seconds
_PIECE_LIMIT_S = 2.0


@dataclass(frozen=True)
class SearchOutcome:
    """What :func:`improve_cover` found."""

    sites: tuple[int, ...]  # columns of the cover, sorted
    cost: float
    start_cost: float
    iterations: int
    improvements: int
    seconds: float


def improve_cover(
    a: sparse.csr_matrix,
    cost: np.ndarray,
    sites: Sequence[int],
    *,
    time_limit_s: float,
    seed: int | None = None,
    xy: np.ndarray | None = None,
    piece_sites: int = 8,
    max_piece_sites: int = 40,
    on_better: Callable[[float], None] | None = None,
) -> SearchOutcome:
    """Improve the cover ``sites`` of every row of ``a`` by re-solving pieces of it exactly.

    Parameters
    ----------
    a
        Rows × columns, non-zero where the column covers the row.
    cost
        Per column, positive.
    sites
        A cover of every row (columns).
    time_limit_s
        Stop after this long (each small MILP is cut to the time left).
    seed
        Seed of the choice of pieces; the same seed gives the same search when no time limit
        cuts it.
    xy
        Column positions (n × 2, metres), when known: a piece is then the sites nearest to one
        site (compact pieces re-solve several times faster); else sites a few shared rows away.
    piece_sites, max_piece_sites
        Sites per piece at the start, and at most. Pieces grow by two sites once about every
        site has been in two pieces of the current size without a cheaper cover (and shrink
        when a small MILP runs out of time); the search ends when they would outgrow the
        maximum or half the cover.
    on_better
        Called with the new cost whenever the cover gets cheaper (progress lines).

    Returns
    -------
    SearchOutcome
    """
    t0 = time.perf_counter()
    a = sparse.csr_matrix(a, dtype=float)
    at = a.T.tocsr()
    chosen = np.zeros(a.shape[1], bool)
    chosen[np.asarray(sites, np.int64)] = True
    count = a @ chosen.astype(float)
    if (count < 0.5).any():
        msg = "improve_cover needs a cover of every row to start from."
        raise ValueError(msg)
    start_cost = float(cost[chosen].sum())
    rng = np.random.default_rng(seed if seed is not None else 0)
    plan = _Schedule(max(1, piece_sites), max(piece_sites, max_piece_sites))
    it, better = 0, 0
    while not plan.done(int(chosen.sum())):
        left = time_limit_s - (time.perf_counter() - t0)
        if left <= 0.01:
            break
        it += 1
        current = np.flatnonzero(chosen)
        centre = int(current[rng.integers(len(current))])
        piece = _nearest(xy, current, centre, plan.size) if xy is not None else _piece(a, at, chosen, centre,
                                                                                      plan.size, rng)  # fmt: skip
        step = _recover(a, at, cost, count, piece, time_limit_s=min(left, _PIECE_LIMIT_S))
        saving = -1.0 if step is None else float(cost[piece].sum() - cost[step[0]].sum())
        if step is not None and saving >= -1e-9:  # equal covers too: moves along plateaus
            _apply(at, chosen, count, piece, step[0])
        if saving > 1e-9:
            better += 1
            if on_better is not None:
                on_better(float(cost[chosen].sum()))
        plan.after(better=saving > 1e-9, optimal=step is not None and step[1], sites=len(current))
    out = SearchOutcome(tuple(int(j) for j in np.flatnonzero(chosen)), float(cost[chosen].sum()), start_cost,
                        it, better, time.perf_counter() - t0)  # fmt: skip
    logger.info("cover search: %.6g -> %.6g in %d pieces (%d cheaper), %.2f s", start_cost, out.cost, it, better,
                out.seconds)  # fmt: skip
    return out


@dataclass
class _Schedule:
    """Piece sizes: grow after a round without a cheaper cover, shrink after a MILP out of time."""

    size: int
    max_size: int
    fails: int = 0

    def done(self, sites: int) -> bool:
        # a piece of half the cover is nearly the whole instance: that is the branch and bound's job
        return self.size > min(self.max_size, sites // 2)

    def after(self, *, better: bool, optimal: bool, sites: int) -> None:
        if not optimal:
            self.size, self.fails = max(2, self.size - 2), 0
        elif better:
            self.fails = 0
        else:
            self.fails += 1
            if self.fails >= max(3, 2 * sites // self.size):
                self.size, self.fails = self.size + 2, 0


def _nearest(xy: np.ndarray, current: np.ndarray, centre: int, size: int) -> np.ndarray:
    """The ``size`` sites of ``current`` nearest to ``centre`` (itself included)."""
    d = np.hypot(*(xy[current] - xy[centre]).T)
    if size >= len(current):
        return current
    return current[np.argpartition(d, size - 1)[:size]]


def _piece(
    a: sparse.csr_matrix, at: sparse.csr_matrix, chosen: np.ndarray, seed_site: int, size: int,
    rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    """``size`` chosen sites around ``seed_site``: breadth first through shared rows, the last
    ring sampled at random."""
    seen = np.zeros(a.shape[1], bool)
    seen[seed_site] = True
    picked, n = [np.array([seed_site])], 1
    frontier = picked[0]
    while n < size and len(frontier):
        rows = np.unique(at[frontier].indices)
        cols = np.unique(a[rows].indices)
        frontier = cols[~seen[cols]]
        seen[frontier] = True
        hit = frontier[chosen[frontier]]
        if n + len(hit) > size:
            hit = np.sort(rng.choice(hit, size - n, replace=False))
        picked.append(hit)
        n += len(hit)
    return np.concatenate(picked)


def _recover(
    a: sparse.csr_matrix, at: sparse.csr_matrix, cost: np.ndarray, count: np.ndarray, piece: np.ndarray, *,
    time_limit_s: float,
) -> tuple[np.ndarray, bool] | None:  # fmt: skip
    """The cheapest columns covering the rows only ``piece`` covers (a small MILP) and whether
    it is optimal; None when no cover was found in time."""
    rows, times = np.unique(at[piece].indices, return_counts=True)
    lost = rows[count[rows] <= times]
    if len(lost) == 0:
        return np.zeros(0, np.int64), True
    sub = a[lost]
    cols = np.unique(sub.indices)
    sub = sub[:, cols]
    res = milp(
        cost[cols], integrality=np.ones(len(cols)), bounds=Bounds(0, 1),
        constraints=LinearConstraint(sub, lb=np.ones(len(lost)), ub=np.full(len(lost), np.inf)),
        options={"disp": False, "time_limit": max(0.01, time_limit_s), "mip_rel_gap": 0.0},
    )  # fmt: skip
    if res.x is None:
        return None
    pick = np.asarray(res.x) > 0.5
    if (sub @ pick.astype(float) < 0.5).any():  # never trust a solution unchecked
        return None
    return cols[pick], bool(res.status == 0)


def _apply(
    at: sparse.csr_matrix, chosen: np.ndarray, count: np.ndarray, piece: np.ndarray, new: np.ndarray
) -> None:
    """Swap ``piece`` for ``new`` in the cover, keeping the per-row counts."""
    np.subtract.at(count, at[piece].indices, 1.0)
    chosen[piece] = False
    np.add.at(count, at[new].indices, 1.0)
    chosen[new] = True
