"""Tiles: how an area is cut into squares or districts, each with the halo that keeps it exact.

The halo argument (why a tile's walks equal the whole network's) is in
:mod:`planner.scale.coverage`. Here: the plan, and the memory estimate that splits big tiles.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from planner.errors import NetworkError
from planner.network import WalkNetwork, max_stretch

logger = logging.getLogger(__name__)

#: Bytes per item of a tile task. Measured with tracemalloc on 109 synthetic tiles of 10k-215k
#: nodes (3 kinds): the peak was 0.10-0.14 of an older estimate, ~176 B per node all told; these
#: constants give about twice the measured peak (the search matrix, its copy with the virtual
#: sources, Dijkstra outputs per kind, cells with their per-kind results, the task's own arrays).
NODE_BYTES = 150


EDGE_BYTES = 80


CELL_BYTES = 300


#: Default memory budget per tile task.
DEFAULT_MEMORY_BUDGET_MB = 2048.0


_MAX_SPLIT_DEPTH = 12


# ---------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class Tile:
    """One unit of work: the cells of a core box and the network of its padded box.

    Attributes
    ----------
    tile_id
        A stable name (``g<col>_<row>`` for grid tiles, ``d<k>`` for districts, ``_<q>``
        appended per split).
    bounds
        Core box of the tile's cells ``(xmin, ymin, xmax, ymax)``.
    n_cells, n_nodes, n_edges
        Cells of the core; nodes and edges of the padded box.
    est_bytes
        Estimated peak memory of the task (:func:`estimate_tile_bytes`).
    """

    tile_id: str
    bounds: tuple[float, float, float, float]
    n_cells: int
    n_nodes: int
    n_edges: int
    est_bytes: int


@dataclass(frozen=True, eq=False)
class TilePlan:
    """How an area is cut into tiles, with the halo that makes the tiles exact.

    Attributes
    ----------
    tiles
        The tiles, each with its size and memory estimate.
    cell_tile
        Position in ``tiles`` of every population cell (population order).
    reach_m
        ``L``: the longest walk searched, metres.
    stretch
        ``r``: largest straight-distance / length ratio over the network's edges (>= 1).
    halo_m
        Network pad around each core: ``r * L + max_snap_m``.
    facility_pad_m
        Facility pad around each core: ``r * L``.
    memory_budget_bytes
        Budget that every tile's estimate respects.
    params
        How the plan was made (``tiles``, ``tile_m``, ``max_snap_m``).
    """

    tiles: tuple[Tile, ...]
    cell_tile: np.ndarray
    reach_m: float
    stretch: float
    halo_m: float
    facility_pad_m: float
    memory_budget_bytes: int
    params: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        peak = max((t.est_bytes for t in self.tiles), default=0) / 2**20
        return (
            f"TilePlan(tiles={len(self.tiles)}, halo_m={self.halo_m:.0f}, "
            f"max_est_mb={peak:.0f}, budget_mb={self.memory_budget_bytes / 2**20:.0f})"
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per tile: id, core bounds, counts and estimated MB."""
        rows = [
            {"tile_id": t.tile_id, "xmin": t.bounds[0], "ymin": t.bounds[1], "xmax": t.bounds[2],
             "ymax": t.bounds[3], "cells": t.n_cells, "nodes": t.n_nodes, "edges": t.n_edges,
             "est_mb": round(t.est_bytes / 2**20, 1)}
            for t in self.tiles
        ]  # fmt: skip
        return pd.DataFrame(rows)


def estimate_tile_bytes(n_nodes: int, n_edges: int, n_cells: int, n_kinds: int = 1) -> int:
    """Estimated peak memory of one tile task, in bytes.

    Parameters
    ----------
    n_nodes, n_edges
        Nodes and edges of the padded box (after long edges are split).
    n_cells
        Cells of the core.
    n_kinds
        Facility kinds (each adds one search's outputs per node and results per cell).

    Returns
    -------
    int

    Examples
    --------
    >>> estimate_tile_bytes(1_000_000, 1_400_000, 250_000, 3) // 2**20
    417
    """
    per_kind = 0.15 * (n_nodes * NODE_BYTES + n_cells * CELL_BYTES)
    return int(n_nodes * NODE_BYTES + n_edges * EDGE_BYTES + n_cells * CELL_BYTES + n_kinds * per_kind)


def network_stretch(network: WalkNetwork) -> float:
    """Largest ratio of straight end-to-end distance to edge length over all edges (>= 1).

    A walk of network length ``d`` never ends farther than ``stretch * d`` in a straight line.

    Parameters
    ----------
    network
        The walk network.

    Returns
    -------
    float
    """
    e = network.edges
    r = max_stretch(
        network.node_xy[e["u"].to_numpy()], network.node_xy[e["v"].to_numpy()], e["length_m"].to_numpy()
    )
    if not np.isfinite(r):
        msg = "the network has edges of length 0 between distinct points; tiles cannot bound walks."
        raise NetworkError(msg)
    return r * (1 + 1e-9)


class NodeIndex:
    """Nodes sorted by x, and edges sorted by their ``u`` end's x, for fast box queries."""

    def __init__(self, network: WalkNetwork) -> None:
        self.xy = network.node_xy
        self.u, self.v = network.edges["u"].to_numpy(), network.edges["v"].to_numpy()
        self.x_order = np.argsort(self.xy[:, 0], kind="stable")
        self.x_sorted = self.xy[self.x_order, 0]
        u = network.edges["u"].to_numpy()
        self.e_order = np.argsort(self.xy[u, 0], kind="stable")
        self.e_x_sorted = self.xy[u[self.e_order], 0]

    def nodes_in(self, box: tuple[float, float, float, float]) -> np.ndarray:
        lo = np.searchsorted(self.x_sorted, box[0], side="left")
        hi = np.searchsorted(self.x_sorted, box[2], side="right")
        cand = self.x_order[lo:hi]
        y = self.xy[cand, 1]
        return np.sort(cand[(y >= box[1]) & (y <= box[3])])

    def edges_in(self, box: tuple[float, float, float, float], nodes: np.ndarray,
                 u: np.ndarray, v: np.ndarray) -> np.ndarray:  # fmt: skip
        lo = np.searchsorted(self.e_x_sorted, box[0], side="left")
        hi = np.searchsorted(self.e_x_sorted, box[2], side="right")
        cand = self.e_order[lo:hi]
        if len(nodes) == 0 or len(cand) == 0:
            return np.zeros(0, np.int64)
        yu = self.xy[u[cand], 1]
        cand = cand[(yu >= box[1]) & (yu <= box[3])]
        pu = np.minimum(np.searchsorted(nodes, u[cand]), len(nodes) - 1)
        pv = np.minimum(np.searchsorted(nodes, v[cand]), len(nodes) - 1)
        inside = (nodes[pu] == u[cand]) & (nodes[pv] == v[cand])
        return np.sort(cand[inside])

    def counts(self, box: tuple[float, float, float, float]) -> tuple[int, int]:
        """Nodes and edges of the network within ``box``."""
        nodes = self.nodes_in(box)
        return len(nodes), len(self.edges_in(box, nodes, self.u, self.v))


class DensityCounts:
    """Node and edge counts of a box from a store's density grid.

    Whole squares are counted, so it is usually an over-estimate; a long segment that crosses
    the box brings nodes the box's squares do not count (its inserted nodes are counted at its
    first end), so it is an estimate, not a bound.
    """

    def __init__(self, density: Mapping[str, Any]) -> None:
        self.origin, self.cell = np.asarray(density["origin"], float), float(density["cell_m"])
        pad = ((1, 0), (1, 0))
        self.nodes = np.pad(np.asarray(density["nodes"]).cumsum(0).cumsum(1), pad)
        self.edges = np.pad(np.asarray(density["edges"]).cumsum(0).cumsum(1), pad)

    def counts(self, box: tuple[float, float, float, float]) -> tuple[int, int]:
        """Nodes and edges of the squares that meet ``box``."""
        shape = np.array(self.nodes.shape) - 1
        lo = np.clip(np.floor((np.array(box[:2]) - self.origin) / self.cell).astype(int), 0, shape)
        hi = np.clip(np.floor((np.array(box[2:]) - self.origin) / self.cell).astype(int) + 1, 0, shape)

        def total(c: np.ndarray) -> int:
            return int(c[hi[0], hi[1]] - c[lo[0], hi[1]] - c[hi[0], lo[1]] + c[lo[0], lo[1]])

        return total(self.nodes), total(self.edges)


def local_positions(nodes: np.ndarray, global_nodes: np.ndarray) -> np.ndarray:
    """Positions of ``global_nodes`` in the sorted ``nodes`` (-1 where absent)."""
    if len(nodes) == 0:
        return np.full(len(global_nodes), -1, np.int64)
    pos = np.minimum(np.searchsorted(nodes, global_nodes), len(nodes) - 1)
    return np.where(nodes[pos] == global_nodes, pos, -1).astype(np.int64)


def pad_box(box: tuple[float, float, float, float], m: float) -> tuple[float, float, float, float]:
    return (box[0] - m, box[1] - m, box[2] + m, box[3] + m)


def plan_tiles(
    network: WalkNetwork,
    cell_xy: np.ndarray,
    *,
    reach_m: float,
    max_snap_m: float,
    tile_m: float | None = 5000.0,
    groups: Sequence[Any] | None = None,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    n_kinds: int = 1,
    index: NodeIndex | None = None,
) -> TilePlan:
    """Cut the cells into tiles (a square grid, or given groups such as districts).

    Parameters
    ----------
    network
        The whole walk network (long edges already split).
    cell_xy
        (n, 2) representative points of the cells, in the network's CRS.
    reach_m
        The longest walk searched, metres (access legs included).
    max_snap_m
        The snap limit.
    tile_m
        Side of the square grid tiles, metres (ignored when ``groups`` is given).
    groups
        One label per cell (e.g. its district); one tile per label.
    memory_budget_mb
        Tiles whose estimate exceeds this are cut in four, recursively.
    n_kinds
        Number of facility kinds, for the estimate.
    index
        A :class:`NodeIndex` of ``network`` already built (default: build one).

    Returns
    -------
    TilePlan
    """
    cell_xy = np.asarray(cell_xy, float).reshape(-1, 2)
    index = index or NodeIndex(network)
    return plan_from_counts(index, network_stretch(network), cell_xy, reach_m=reach_m, max_snap_m=max_snap_m,
                 tile_m=tile_m, groups=groups, memory_budget_mb=memory_budget_mb, n_kinds=n_kinds)  # fmt: skip


def plan_from_counts(
    index: NodeIndex | DensityCounts, stretch: float, cell_xy: np.ndarray, *, reach_m: float,
    max_snap_m: float, tile_m: float | None, groups: Sequence[Any] | None, memory_budget_mb: float,
    n_kinds: int,
) -> TilePlan:  # fmt: skip
    """:func:`plan_tiles` on any source of node and edge counts per box."""
    if groups is None and (tile_m is None or tile_m <= 0):
        msg = f"tile_m must be a positive number of metres; got {tile_m!r}."
        raise ValueError(msg)
    if memory_budget_mb <= 0:
        msg = f"memory_budget_mb must be positive; got {memory_budget_mb!r}."
        raise ValueError(msg)
    budget = int(memory_budget_mb * 2**20)
    halo = stretch * reach_m + max_snap_m
    finite = np.isfinite(cell_xy).all(axis=1)
    if not finite.all():  # empty geometries: they join the first tile and stay unsnapped there
        cell_xy = np.where(
            finite[:, None], cell_xy, np.nanmin(cell_xy[finite], axis=0) if finite.any() else 0.0
        )

    if groups is not None:
        labels = pd.Series(np.asarray(groups, dtype=object)).astype(str)
        codes, names = pd.factorize(labels, sort=True)
        seeds = [(f"d{k:04d}", np.flatnonzero(codes == k)) for k in range(len(names))]
    else:
        assert tile_m is not None
        origin = np.floor(cell_xy.min(axis=0) / tile_m) * tile_m if len(cell_xy) else np.zeros(2)
        ij = np.floor((cell_xy - origin) / tile_m).astype(np.int64)
        key = ij[:, 0] * (1 << 31) + ij[:, 1]
        uniq, inverse = np.unique(key, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds_at = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
        seeds = [
            (f"g{int(k >> 31)}_{int(k & ((1 << 31) - 1))}", order[bounds_at[i] : bounds_at[i + 1]])
            for i, k in enumerate(uniq)
        ]

    tiles: list[Tile] = []
    members: list[np.ndarray] = []

    def visit(tile_id: str, cells: np.ndarray, depth: int) -> None:
        pts = cell_xy[cells]
        box = (*pts.min(axis=0), *pts.max(axis=0))
        box = tuple(float(b) for b in box)
        padded = pad_box(box, halo)
        n_nodes, n_edges = index.counts(padded)
        est = estimate_tile_bytes(n_nodes, n_edges, len(cells), n_kinds)
        if est > budget and len(cells) > 1 and depth < _MAX_SPLIT_DEPTH:
            mx, my = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            quad = (pts[:, 0] > mx).astype(int) + 2 * (pts[:, 1] > my).astype(int)
            if len(np.unique(quad)) > 1:
                logger.info("tile %s: estimated %.0f MB > budget; splitting", tile_id, est / 2**20)
                for q in range(4):
                    if (quad == q).any():
                        visit(f"{tile_id}_{q}", cells[quad == q], depth + 1)
                return
        if est > budget:
            msg = (
                f"tile {tile_id} needs about {est / 2**20:.0f} MB ({n_nodes:,} nodes within the "
                f"{halo:.0f} m halo) even when cut to {len(cells)} cell(s); raise the memory "
                f"budget above {memory_budget_mb:g} MB or shorten the walk."
            )
            raise NetworkError(msg)
        tiles.append(Tile(tile_id, box, len(cells), n_nodes, n_edges, est))
        members.append(cells)

    for tile_id, cells in seeds:
        if len(cells):
            visit(tile_id, cells, 0)
    cell_tile = np.full(len(cell_xy), -1, np.int64)
    for k, cells in enumerate(members):
        cell_tile[cells] = k
    plan = TilePlan(
        tuple(tiles), cell_tile, float(reach_m), stretch, float(halo), stretch * float(reach_m), budget,
        MappingProxyType({"tiles": "groups" if groups is not None else "grid", "tile_m": tile_m,
                          "max_snap_m": float(max_snap_m)}),
    )  # fmt: skip
    logger.info("%r", plan)
    return plan
