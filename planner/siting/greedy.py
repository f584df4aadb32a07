"""Greedy answers: lazy (CELF) greedy maximum coverage, its bound, and redundant-site removal."""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np
from scipy import sparse

from planner.siting.problem import CoverModel


# ====================================================================== greedy
def lazy_greedy(
    csc: sparse.csc_matrix,
    gain_fn: Any,
    initial: np.ndarray,
    commit_fn: Any,
    *,
    k: int | None,
    allowed: np.ndarray | None = None,
    cost: np.ndarray | None = None,
    budget: float | None = None,
    stop: Any = None,
) -> tuple[list[int], list[float]]:
    """Lazy (CELF) greedy: stale gains are upper bounds, so the top one is re-evaluated only.

    ``gain_fn(j)`` is the current gain of column ``j``; ``commit_fn(j)`` applies it. With a
    cost, the key is gain / cost and columns over the remaining budget are skipped.
    """
    m = csc.shape[1]
    cols = np.arange(m) if allowed is None else np.asarray(allowed, np.int64)
    c = np.ones(m) if cost is None else cost
    heap = [(-initial[j] / c[j], int(j)) for j in cols if initial[j] > 0]
    heapq.heapify(heap)
    chosen: list[int] = []
    gains: list[float] = []
    left = np.inf if budget is None else float(budget)
    while heap and (k is None or len(chosen) < k):
        if stop is not None and stop():
            break
        _, j = heapq.heappop(heap)
        if c[j] > left + 1e-9:
            continue
        g = gain_fn(j)
        if g <= 0:
            continue
        key = g / c[j]
        if not heap or key >= -heap[0][0] * (1 - 1e-12):
            chosen.append(j)
            gains.append(float(g))
            commit_fn(j)
            left -= c[j]
        else:
            heapq.heappush(heap, (-key, j))
    return chosen, gains


def greedy_coverage(
    model: CoverModel, k: int | None, *, weights: np.ndarray | None = None,
    allowed: np.ndarray | None = None, cost: np.ndarray | None = None, budget: float | None = None,
    target: float | None = None,
) -> tuple[list[int], list[float], np.ndarray]:  # fmt: skip
    """Greedy maximum coverage on the merged rows; returns sites, their gains and the covered mask."""
    csc = model.csc
    w = model.w if weights is None else weights
    covered = np.zeros(len(w), bool)
    done = [0.0]

    def gain(j: int) -> float:
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        return float(w[rows][~covered[rows]].sum())

    def commit(j: int) -> None:
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        done[0] += float(w[rows][~covered[rows]].sum())
        covered[rows] = True

    def stop() -> bool:
        return target is not None and done[0] >= target - 1e-9

    initial = np.asarray(csc.T @ w).ravel()
    chosen, gains = lazy_greedy(csc, gain, initial, commit, k=k, allowed=allowed, cost=cost,
                                 budget=budget, stop=stop)  # fmt: skip
    return chosen, gains, covered


def coverage_upper_bound(model: CoverModel, covered: np.ndarray, value: float, k: int) -> float:
    """Nemhauser–Wolsey bound: OPT ≤ f(S) + the k largest marginal gains with respect to S."""
    if k <= 0:
        return value
    gains = np.asarray(model.csc.T @ np.where(covered, 0.0, model.w)).ravel()
    top = np.partition(gains, -k)[-k:] if len(gains) > k else gains
    return value + float(top.sum())


def remove_redundant(model: CoverModel, sites: list[int], need: float, *, full: bool) -> list[int]:
    """Drop greedy sites (last chosen first) whose removal still meets the goal."""
    csc = model.csc
    count = np.zeros(model.a.shape[0], np.int64)
    for j in sites:
        count[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] += 1
    covered = float(model.w[count > 0].sum())
    kept = list(sites)
    for j in reversed(sites):
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        only = rows[count[rows] == 1]
        loss = float(model.w[only].sum())
        ok = len(only) == 0 if full else covered - loss >= need - 1e-6 * max(1.0, need)
        if ok:
            count[rows] -= 1
            covered -= loss
            kept.remove(j)
    return kept
