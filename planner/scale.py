"""Province-scale coverage: tiles with an exact halo, run serially or as Dask tasks, then merged.

Why the tiled answer equals the single-machine one
---------------------------------------------------
Let ``L`` be the longest walk searched, in metres (``max_minutes`` × the fastest kind's speed)
and ``r >= 1`` the largest ratio, over all edges, of the straight distance between the two
end nodes to the edge's length (``r`` is 1 for straight edges in a planar CRS; it is a little
over 1 where haversine lengths meet projected coordinates). A cell counts a facility only if
``access_cell + network_path + access_facility <= L``. Every point of that walk lies within
straight distance ``r * L`` of the cell, so a tile whose cells sit in a core box needs

* the facilities within ``r * L`` of the core (``facility_pad_m``), and
* the street nodes within ``r * L + max_snap_m`` of the core (``halo_m``): the walk itself
  (``r * L`` is enough for it; the extra ``max_snap_m`` keeps room for per-tile snapping
  when streets are read per tile). A task checks that every snapped node it is given lies
  in its sub-network and fails loudly otherwise.

Some things are global and are never decided per tile: which nodes are *snappable*
(components with at least ``min_component_share`` of all nodes), and the splitting of long
edges (each edge into ``ceil(length / max_edge_m)`` equal pieces, which depends on the edge
alone). In memory the driver also snaps cells and facilities with the whole network's
KD-tree; streamed, the tiles snap (see below). A tile's sub-network keeps the global node order and edge order, so the Dijkstra search adds the
same lengths in the same order and every reached node gets bit-for-bit the same distance.
Straight-line minutes use every facility of the kind in each tile (facilities are few), so
they are exact too. The nearest facility id is the one scipy's search settles first; where
two facilities are *exactly* equidistant in floating point (e.g. two at one address) the
tests find the same id as the untiled run, but scipy does not document its tie order.

What stays in memory where
--------------------------
*In memory* (a :class:`~planner.network.WalkNetwork` is given): the driver holds the network
arrays (roughly 200 B per node after splitting, with its KD-trees; osmnx needs ~21 KB per
node), the cells and the facilities, and snaps with the whole network's KD-tree. Each task
gets only its tile: the nodes and edges of the padded box, the core cells and the
facilities of the facility pad.

*Streamed* (a path to an OSM file is given): no process holds the whole network.
:func:`~planner.scale_osm.prepare_osm` scans the file in two streaming passes and keeps in
memory only the component flags (12 B per node) and a node-density grid; node coordinates,
segment ends and lengths go to ``.npy`` files on disk. Tiles are planned from the density
grid and the segments' stretch, one pass over the segment file cuts every tile's streets
(segments whose bounding box meets the padded box) into its own file, and each task builds
its tile's network with :meth:`~planner.network.WalkNetwork.from_edges`, snaps its cells and
facilities, and searches. The tile's nodes keep the whole network's relative order (sorted
OSM id, then nodes inserted by splitting, in segment order), and snapping breaks exact
distance ties by the first node, so within ``halo_m`` of a core cell a tile snaps exactly as
the whole network does. The driver snaps the facilities against the store (a slice at a time)
and every task checks its own facility snapping against it; cells with no usable node within
the halo (far from every street) are snapped again on the store, so even their reported
``access_m`` equals the untiled run's.

In both modes memory per tile is estimated from node and edge counts before the task is
sent (:func:`estimate_tile_bytes`), and tiles over the budget are cut in four until they fit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from scipy import sparse
from scipy.spatial import cKDTree

from planner.coverage import (
    DISTRICT,
    Coverage,
    _join_districts,
    _prepare_facilities,
    _prepare_population,
    _report_snap,
    assemble_coverage,
    check_options,
    run_params,
    straight_line_points,
)
from planner.errors import InputError, NetworkError
from planner.inputs import check_in_area
from planner.kinds import DEFAULT_KINDS, DEFAULT_THRESHOLDS_MIN, KIND, FacilityKind
from planner.network import Snapped, WalkNetwork, _points_xy, _stretch
from planner.scale_osm import OsmStore, prepare_osm

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
_RESULT_VERSION = 1


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
    r = _stretch(network.node_xy[e["u"].to_numpy()], network.node_xy[e["v"].to_numpy()], e["length_m"].to_numpy())
    if not np.isfinite(r):
        msg = "the network has edges of length 0 between distinct points; tiles cannot bound walks."
        raise NetworkError(msg)
    return r * (1 + 1e-9)


class _NodeIndex:
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


class _DensityCounts:
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


def _local(nodes: np.ndarray, global_nodes: np.ndarray) -> np.ndarray:
    """Positions of ``global_nodes`` in the sorted ``nodes`` (-1 where absent)."""
    if len(nodes) == 0:
        return np.full(len(global_nodes), -1, np.int64)
    pos = np.minimum(np.searchsorted(nodes, global_nodes), len(nodes) - 1)
    return np.where(nodes[pos] == global_nodes, pos, -1).astype(np.int64)


def _pad(box: tuple[float, float, float, float], m: float) -> tuple[float, float, float, float]:
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
    _index: _NodeIndex | None = None,
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

    Returns
    -------
    TilePlan
    """
    cell_xy = np.asarray(cell_xy, float).reshape(-1, 2)
    index = _index or _NodeIndex(network)
    return _plan(index, network_stretch(network), cell_xy, reach_m=reach_m, max_snap_m=max_snap_m,
                 tile_m=tile_m, groups=groups, memory_budget_mb=memory_budget_mb, n_kinds=n_kinds)  # fmt: skip


def _plan(
    index: _NodeIndex | _DensityCounts, stretch: float, cell_xy: np.ndarray, *, reach_m: float,
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
        padded = _pad(box, halo)  # type: ignore[arg-type]
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
        tiles.append(Tile(tile_id, box, len(cells), n_nodes, n_edges, est))  # type: ignore[arg-type]
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


# ---------------------------------------------------------------------- one tile
def _tile_network(task: Mapping[str, Any]) -> WalkNetwork:
    """The tile's sub-network, built as :meth:`WalkNetwork.from_edges` builds its CSR.

    The edges arrive split, de-duplicated and in the whole network's order, so only the
    search matrix is needed (no snapping index: snapping was done on the whole network).
    """
    xy, u, v, length = task["node_xy"], task["u"], task["v"], task["length_m"]
    n = len(xy)
    csr = sparse.csr_matrix(
        (np.concatenate([length, length]), (np.concatenate([u, v]), np.concatenate([v, u]))),
        shape=(n, n),
    )
    csr.sort_indices()  # explicit zeros stay edges, as in from_edges
    edges = pd.DataFrame({"u": u, "v": v, "length_m": length})
    none = np.zeros(n, bool)
    return WalkNetwork(
        pyproj.CRS.from_wkt(task["crs"]), xy, np.full(n, -1, np.int64), edges, csr,
        np.zeros(n, np.int64), none, f"tile {task['tile_id']}",
    )  # fmt: skip


def _peak_rss_mb() -> float:
    """Peak resident memory of this process's address space (VmHWM; reset by exec), MB."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return float("nan")
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _run_tile(task: Mapping[str, Any]) -> dict[str, Any]:
    """Walking minutes for one tile's cells on its sub-network (plain arrays in and out).

    Cells and facilities arrive already snapped (node positions in the tile, access legs);
    the per-kind arithmetic is that of :func:`planner.coverage.compute_coverage`.
    """
    t0 = time.perf_counter()
    ok = task["cell_ok"]
    net = _tile_network(task) if len(task["u"]) and ok.any() else None
    out = _kind_results(task, net, task["cell_node"], task["cell_access_m"], ok,
                        task["fac_node"], task["fac_access_m"], np.ones(len(task["fac_node"]), bool))  # fmt: skip
    out["stats"] = _stats(task, t0)
    return out


def _run_tile_streamed(task: Mapping[str, Any]) -> dict[str, Any]:
    """One tile read from a street store: build its network, snap, search (arrays in and out).

    Snapping happens here, on the tile's network: within ``halo_m`` of a core cell the
    tile holds every node of the whole network, in the same relative order, so a snap
    that finds a node that near is the whole network's snap (exact ties go to the first
    node in both). Cells whose nearest usable node is farther are marked unsure for the
    driver; facilities are checked against the driver's snapping of the whole network.
    """
    t0 = time.perf_counter()
    n_cells, n_fac = len(task["cell_pos"]), len(task["fac_pos"])
    net = None
    if len(task["u"]):
        net = WalkNetwork.from_edges(
            task["node_xy"], task["u"], task["v"], task["length_m"], crs=pyproj.CRS.from_wkt(task["crs"]),
            node_id=task["node_id"], max_edge_m=task["max_edge_m"], snappable=task["snappable"],
            source=f"tile {task['tile_id']}",
        )  # fmt: skip
    searchable = net if net is not None and net.snappable.any() else None
    if searchable is None:  # no usable street in the tile: nothing snaps here
        cs = Snapped(pd.RangeIndex(n_cells), np.full(n_cells, -1, np.int64), np.full(n_cells, np.inf),
                     np.zeros(n_cells, bool), np.zeros(n_cells, bool), task["max_snap_m"])  # fmt: skip
        fs_ok, fac_node, fac_access = np.zeros(n_fac, bool), np.zeros(n_fac, np.int64), task["fac_access_m"]
    else:
        cs = searchable.snap(task["cell_xy"], max_snap_m=task["max_snap_m"])
        fs = searchable.snap(task["fac_xy"], max_snap_m=task["max_snap_m"])
        fs_ok, fac_node, fac_access = fs.ok, fs.node, fs.access_m
    if not np.array_equal(fs_ok, task["fac_ok"]) or not np.array_equal(
        fac_access[fs_ok], task["fac_access_m"][fs_ok]
    ):
        msg = f"tile {task['tile_id']}: a facility snaps differently than on the whole network (halo too small)."
        raise NetworkError(msg)
    out = _kind_results(task, searchable, np.where(cs.ok, cs.node, 0), cs.access_m, cs.ok,
                        fac_node, task["fac_access_m"], fs_ok)  # fmt: skip
    out["cell_access_m"] = cs.access_m
    out["cell_ok"] = cs.ok
    out["cell_fragment"] = cs.fragment
    out["cell_sure"] = cs.access_m <= task["halo_m"]  # else the nearest node may lie outside the tile
    out["stats"] = _stats(task, t0, net)
    return out


def _kind_results(
    task: Mapping[str, Any], net: WalkNetwork | None, cell_node: np.ndarray, cell_access: np.ndarray,
    ok: np.ndarray, fac_node: np.ndarray, fac_access: np.ndarray, fac_usable: np.ndarray,
) -> dict[str, Any]:  # fmt: skip
    """Per kind: minutes, nearest facility (global position) and straight-line minutes per cell."""
    n_cells = len(task["cell_pos"])
    limit_min = task["limit_min"]
    out: dict[str, Any] = {"tile_id": task["tile_id"], "cell_pos": task["cell_pos"]}
    cell_xy = task["cell_xy"]
    finite = np.isfinite(cell_xy).all(axis=1)
    for name, m_per_min, all_fac_xy in task["kinds"]:
        mins = np.full(n_cells, np.inf)
        near = np.full(n_cells, -1, np.int64)
        if net is not None and ok.any():
            usable = (task["fac_kind"] == name) & fac_usable
            dist, origin = net.distances_m(fac_node[usable], fac_access[usable], limit_m=limit_min * m_per_min)
            cell_m = np.full(n_cells, np.inf)
            cell_m[ok] = cell_access[ok] + dist[cell_node[ok]]
            mins = cell_m / m_per_min
            mins[mins > limit_min * (1 + 1e-12)] = np.inf
            reached = np.isfinite(mins)
            near[reached] = task["fac_pos"][usable][origin[cell_node[reached]]]
        straight = np.full(n_cells, np.inf)
        if len(all_fac_xy):
            d = np.full(n_cells, np.inf)
            d[finite] = cKDTree(all_fac_xy).query(cell_xy[finite], k=1, workers=-1)[0]
            straight = d / m_per_min
        out[f"minutes_{name}"] = mins
        out[f"nearest_{name}"] = near
        out[f"straight_{name}"] = straight
    return out


def _stats(task: Mapping[str, Any], t0: float, net: WalkNetwork | None = None) -> dict[str, Any]:
    """Per-tile record; nodes and edges of the tile network searched (after splitting)."""
    return {
        "tile_id": task["tile_id"],
        "cells": len(task["cell_pos"]),
        "nodes": net.n_nodes if net is not None else len(task["node_xy"]),
        "edges": len(net.edges) if net is not None else len(task["u"]),
        "seconds": round(time.perf_counter() - t0, 3),
        "pid": os.getpid(),
        "peak_rss_mb": _peak_rss_mb(),
    }


# ---------------------------------------------------------------------- execution
def _client(scheduler: Any, n_workers: int, memory_limit: str | None) -> tuple[Any, Callable[[], None]]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the install
        msg = "running tiles on Dask needs the scale extra: pip install 'planner[scale]'."
        raise ImportError(msg) from exc
    if isinstance(scheduler, Client):
        return scheduler, lambda: None
    if scheduler in ("local", "threads"):
        cluster = LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=scheduler == "local",
            dashboard_address=None, memory_limit=memory_limit or "auto",
            protocol="tcp://", host="127.0.0.1",  # loopback: no outward probe for an address
        )  # fmt: skip
        client = Client(cluster)

        def close() -> None:
            client.close()
            cluster.close()

        return client, close
    client = Client(str(scheduler))
    return client, client.close


def _execute(
    tiles: Sequence[Tile], make_task: Callable[[Tile], dict[str, Any]],
    on_result: Callable[[Tile, dict[str, Any]], None], *, scheduler: Any, n_workers: int,
    memory_limit: str | None, progress: bool, key_prefix: str,
    run: Callable[[Mapping[str, Any]], dict[str, Any]] = _run_tile,
) -> None:  # fmt: skip
    bar: Any = None
    if progress and tiles:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tiles), desc="tiles", unit="tile", leave=False, disable=None)
    try:
        if scheduler in (None, "serial"):
            for tile in tiles:
                on_result(tile, run(make_task(tile)))
                if bar is not None:
                    bar.update()
            return
        from dask.distributed import as_completed

        client, close = _client(scheduler, n_workers, memory_limit)
        try:
            window = max(2, 2 * max(1, len(client.scheduler_info().get("workers", {})) or n_workers))
            pending: Iterator[Tile] = iter(tiles)
            owner: dict[str, Tile] = {}
            ac = as_completed()

            def submit_next() -> None:
                tile = next(pending, None)
                if tile is not None:
                    fut = client.submit(
                        run, make_task(tile), key=f"{key_prefix}-{tile.tile_id}", pure=False
                    )
                    owner[fut.key] = tile
                    ac.add(fut)

            for _ in range(window):  # a bounded number of tiles in flight: the driver never
                submit_next()  # holds every task's arrays at once
            for fut in ac:
                tile = owner.pop(fut.key)
                result = fut.result()
                fut.release()
                on_result(tile, result)
                if bar is not None:
                    bar.update()
                submit_next()
        finally:
            close()
    finally:
        if bar is not None:
            bar.close()


# ---------------------------------------------------------------------- resume store
def _atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _save_tile(folder: Path, result: Mapping[str, Any]) -> None:
    cols = {k: v for k, v in result.items() if isinstance(v, np.ndarray)}
    df = pd.DataFrame(cols)
    stats = json.dumps(result["stats"])
    _atomic_write(folder / f"{result['tile_id']}.parquet", lambda p: _to_parquet_with_meta(df, p, stats))


def _to_parquet_with_meta(df: pd.DataFrame, path: Path, stats: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"planner_tile_stats"] = stats.encode()
    pq.write_table(table.replace_schema_metadata(meta), path)


def _load_tile(path: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    out: dict[str, Any] = {c: table.column(c).to_numpy() for c in table.column_names}
    out["stats"] = {**json.loads(table.schema.metadata[b"planner_tile_stats"]), "resumed": True}
    out["tile_id"] = path.stem
    return out


def _fingerprint(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(np.ascontiguousarray(p).tobytes())
        else:
            h.update(repr(p).encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------- public entry
def compute_coverage_tiled(
    network: WalkNetwork | str | os.PathLike[str] | OsmStore,
    population: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    kinds: Mapping[str, FacilityKind] = DEFAULT_KINDS,
    thresholds_min: Sequence[float] = DEFAULT_THRESHOLDS_MIN,
    max_snap_m: float = 300.0,
    max_minutes: float | None = None,
    districts: gpd.GeoDataFrame | None = None,
    tiles: str = "grid",
    tile_m: float = 5000.0,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    scheduler: Any = "serial",
    n_workers: int = 2,
    work_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
    crs: Any = None,
    max_edge_m: float | None = 50.0,
) -> Coverage:
    """:func:`~planner.coverage.compute_coverage`, cut into tiles that run apart; same result.

    Every per-cell figure (minutes, nearest facility, straight-line minutes, snapping)
    equals the single-machine run's; see the module docstring for why.

    Given a path to an OSM file (``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``) instead of
    a network, the streets are *streamed*: the file is scanned once into a store on disk
    (:func:`~planner.scale_osm.prepare_osm`), each tile's streets are cut from it and the
    tile's network is built, snapped and searched inside its task, so no process holds the
    whole network. The result equals ``compute_coverage(WalkNetwork.from_osm_file(path,
    crs=crs, max_edge_m=max_edge_m), ...)`` cell for cell, except that ``cell_snap.node`` is
    ``-1`` (there is no whole-network numbering).

    Parameters
    ----------
    network
        A :class:`~planner.network.WalkNetwork`, or a path to an OSM file (streamed), or an
        :class:`~planner.scale_osm.OsmStore` already prepared.
    population, facilities, kinds, thresholds_min, max_snap_m, max_minutes, districts
        As for :func:`~planner.coverage.compute_coverage`.
    tiles
        ``"grid"`` (square tiles of ``tile_m``) or ``"district"`` (one tile per district;
        needs ``districts``).
    tile_m
        Grid tile side in metres.
    memory_budget_mb
        Estimated peak memory allowed per tile task; bigger tiles are split.
    scheduler
        ``"serial"`` (in this process), ``"local"`` (a Dask LocalCluster of ``n_workers``
        processes), ``"threads"`` (a LocalCluster of threads), a Dask scheduler address such
        as ``"tcp://10.0.0.5:8786"``, or a ``dask.distributed.Client``.
    n_workers
        Workers of a LocalCluster.
    work_dir
        Folder for finished tiles (and, when streaming, the street store); a re-run with the
        same inputs resumes from them.
    progress
        Show a progress bar over tiles.
    crs, max_edge_m
        When streaming a file: the metric CRS (default: the data's UTM zone) and the longest
        network piece, as for :meth:`~planner.network.WalkNetwork.from_osm_file`.

    Returns
    -------
    Coverage
        With ``params["tiles"]`` (count, halo, resumed tiles), ``params["tile_stats"]`` (per
        tile: cells, nodes, seconds, worker pid and peak RSS), ``params["tile_ids"]`` and
        ``params["cell_tile"]`` (position in ``tile_ids`` of every cell, for partitioned output);
        when streaming also ``params["streaming"]`` (store folder, driver timings).
    """
    t_start = time.perf_counter()
    kinds, thresholds, limit_min = check_options(kinds, thresholds_min, max_minutes)
    if max_snap_m <= 0:
        msg = f"max_snap_m must be positive; got {max_snap_m!r}."
        raise ValueError(msg)
    if tiles not in ("grid", "district"):
        msg = f"tiles must be 'grid' or 'district'; got {tiles!r}."
        raise ValueError(msg)
    if isinstance(network, WalkNetwork) and crs is not None and not network.crs.equals(crs):
        msg = "crs applies to a network read from a file; this WalkNetwork is already in its own CRS."
        raise ValueError(msg)
    with tempfile.TemporaryDirectory(prefix="planner-tiles-") as scratch:
        base = Path(work_dir) if work_dir is not None else Path(scratch)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        if isinstance(network, WalkNetwork):
            source: WalkNetwork | OsmStore = network
        elif isinstance(network, OsmStore):
            source = network
            if (crs is not None and not network.crs.equals(crs)) or max_edge_m != network.params["max_edge_m"]:
                msg = (
                    f"this street store is in {network.crs.to_string()} with max_edge_m="
                    f"{network.params['max_edge_m']!r}; prepare_osm it again with the crs and max_edge_m wanted."
                )
                raise ValueError(msg)
        else:
            source = prepare_osm(network, base / "streets", crs=crs, max_edge_m=max_edge_m)
            timings["prepare_s"] = round(time.perf_counter() - t0, 3)
        streamed = isinstance(source, OsmStore)

        population = _prepare_population(population, kinds, source.crs)
        facilities = _prepare_facilities(facilities, kinds, source.crs)
        if districts is not None:
            population = _join_districts(population, districts)
            facilities = _join_districts(facilities, districts)
        elif tiles == "district":
            msg = "tiles='district' needs districts."
            raise InputError(msg)
        _, cell_xy = _points_xy(population, source.crs)
        fac_xy = np.asarray(_points_xy(facilities, source.crs)[1], float)
        fac_kind = facilities[KIND].astype(str).to_numpy()
        speeds = {name: k.speed_kmh * 1000.0 / 60.0 for name, k in kinds.items()}
        reach_m = limit_min * max(speeds.values())
        plan_kw = {"reach_m": reach_m, "max_snap_m": max_snap_m, "tile_m": tile_m,
                   "groups": population[DISTRICT].to_numpy() if tiles == "district" else None,
                   "memory_budget_mb": memory_budget_mb, "n_kinds": len(kinds)}  # fmt: skip
        all_fac = {name: straight_line_points(facilities, name) for name in kinds}
        for name, xy in all_fac.items():
            if not len(xy):
                logger.warning("no facilities of kind %r: nobody is covered", name)
        common = {"crs": source.crs.to_wkt(), "kinds": [(name, speeds[name], all_fac[name]) for name in kinds],
                  "limit_min": limit_min, "max_snap_m": float(max_snap_m)}  # fmt: skip
        if isinstance(source, OsmStore):
            job = _streamed_job(source, population, facilities, cell_xy, fac_xy, fac_kind, common, plan_kw,
                                base / "tile_streets", timings)  # fmt: skip
        else:
            job = _in_memory_job(source, population, facilities, cell_xy, fac_xy, fac_kind, common, plan_kw)
        plan = job.plan
        facilities = facilities.assign(snap_ok=job.fac_snap.ok, access_m=job.fac_snap.access_m)

        # resume: finished tiles are kept under work_dir, keyed by everything that shapes them
        fp = _fingerprint(
            _RESULT_VERSION, sorted((n, speeds[n]) for n in kinds), limit_min, float(max_snap_m),
            [(t.tile_id, t.bounds) for t in plan.tiles], *job.fingerprint, cell_xy, fac_xy,
            fac_kind.astype("U"),
        )  # fmt: skip
        results: dict[str, dict[str, Any]] = {}
        folder = Path(work_dir) if work_dir is not None else None
        if folder is not None:
            results = _resume(folder, fp, plan)

        def on_result(tile: Tile, result: dict[str, Any]) -> None:
            s = result["stats"]
            logger.info("tile %s: %d cells, %d nodes in %.2f s (worker pid %d, peak RSS %.0f MB)",
                        tile.tile_id, s["cells"], s["nodes"], s["seconds"], s["pid"], s["peak_rss_mb"])  # fmt: skip
            if folder is not None:
                _save_tile(folder, result)
            results[tile.tile_id] = result

        todo = [t for t in plan.tiles if t.tile_id not in results]
        if job.before_run is not None:
            job.before_run(todo)
        t0 = time.perf_counter()
        _execute(todo, job.make_task, on_result, scheduler=scheduler, n_workers=n_workers,
                 memory_limit=None, progress=progress, key_prefix=f"planner-tile-{fp}", run=job.run)  # fmt: skip
        timings["tiles_s"] = round(time.perf_counter() - t0, 3)

        # ---- merge
        n = len(population)
        minutes = {k: np.full(n, np.inf) for k in kinds}
        near_pos = {k: np.full(n, -1, np.int64) for k in kinds}
        straight = {k: np.full(n, np.inf) for k in kinds}
        for res in results.values():
            pos = res["cell_pos"]
            for k in kinds:
                minutes[k][pos] = res[f"minutes_{k}"]
                near_pos[k][pos] = res[f"nearest_{k}"]
                straight[k][pos] = res[f"straight_{k}"]
        cell_snap = job.cell_snap
        if cell_snap is None:  # streamed: snapped in the tiles
            cell_snap = _merge_streamed_snap(source, population, cell_xy, results.values(), max_snap_m)  # type: ignore[arg-type]
            _report_snap(population, cell_snap, "population cells", source, job.bounds)
    ids = facilities.index.to_numpy()
    nearest = {}
    for k in kinds:
        col = np.full(n, None, dtype=object)
        hit = near_pos[k] >= 0
        col[hit] = ids[near_pos[k][hit]]
        nearest[k] = col

    stats = [results[t.tile_id]["stats"] for t in plan.tiles if t.tile_id in results]
    seconds = time.perf_counter() - t_start
    method = "scipy.sparse.csgraph.dijkstra per tile, halo r*L + max_snap_m, merged"
    if streamed:
        method += "; streets streamed per tile from the OSM file"
    params = run_params(source, population, kinds, thresholds, limit_min, max_snap_m, cell_snap,  # type: ignore[arg-type]
                        job.fac_snap, method=method, seconds=seconds)  # fmt: skip
    params |= {
        "tiles": {"count": len(plan.tiles), "mode": tiles, "tile_m": tile_m if tiles == "grid" else None,
                  "halo_m": round(plan.halo_m, 3), "stretch": plan.stretch,
                  "memory_budget_mb": memory_budget_mb, "scheduler": str(scheduler),
                  "resumed": sum(1 for s in stats if s.get("resumed")), "fingerprint": fp},
        "tile_stats": stats,
        "tile_ids": tuple(t.tile_id for t in plan.tiles),
        "cell_tile": plan.cell_tile,
    }  # fmt: skip
    if streamed:
        params["streaming"] = {"store": str(source.folder) if work_dir is not None else None,  # type: ignore[union-attr]
                               "driver_peak_rss_mb": _peak_rss_mb(), **timings}  # fmt: skip
    logger.info("tiled coverage of %d cells in %d tiles in %.2f s", n, len(plan.tiles), seconds)
    return assemble_coverage(minutes, nearest, straight, population, facilities, kinds, thresholds,
                             cell_snap, params, districts)  # fmt: skip


@dataclass(frozen=True)
class _Job:
    """How the tiles of one run are made and run (in memory, or streamed from a street store)."""

    plan: TilePlan
    make_task: Callable[[Tile], dict[str, Any]]
    run: Callable[[Mapping[str, Any]], dict[str, Any]]
    fac_snap: Snapped
    cell_snap: Snapped | None  # None: the tiles snap the cells
    bounds: tuple[float, float, float, float]
    fingerprint: tuple[Any, ...]
    before_run: Callable[[Sequence[Tile]], None] | None = None


def _members(plan: TilePlan, n: int) -> Callable[[Tile], np.ndarray]:
    members = pd.Series(np.arange(n)).groupby(plan.cell_tile).indices
    tile_pos = {t.tile_id: k for k, t in enumerate(plan.tiles)}
    return lambda tile: members[tile_pos[tile.tile_id]].astype(np.int64)


def _facilities_near(fac_xy: np.ndarray, tile: Tile, pad_m: float) -> np.ndarray:
    fpad = _pad(tile.bounds, pad_m)
    return np.flatnonzero(
        (fac_xy[:, 0] >= fpad[0]) & (fac_xy[:, 0] <= fpad[2]) & (fac_xy[:, 1] >= fpad[1]) & (fac_xy[:, 1] <= fpad[3])
    )


def _in_memory_job(
    network: WalkNetwork, population: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, cell_xy: np.ndarray,
    fac_xy: np.ndarray, fac_kind: np.ndarray, common: Mapping[str, Any], plan_kw: dict[str, Any],
) -> _Job:  # fmt: skip
    """Tiles cut from a network in memory; the driver snaps with the whole network's index."""
    max_snap_m = common["max_snap_m"]
    # snapping uses the whole network's index, as compute_coverage does
    cell_snap = replace(network.snap(cell_xy, max_snap_m=max_snap_m), index=population.index)
    pad = max_snap_m + 1.0
    x0, y0 = network.node_xy.min(axis=0)
    x1, y1 = network.node_xy.max(axis=0)
    bounds = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    _report_snap(population, cell_snap, "population cells", network, bounds)
    fac_snap = network.snap(facilities, max_snap_m=max_snap_m)
    if len(fac_xy):
        _report_snap(facilities, fac_snap, "facilities", network, bounds)
    index = _NodeIndex(network)
    plan = plan_tiles(network, cell_xy, _index=index, **plan_kw)
    u_all, v_all = index.u, index.v
    len_all = network.edges["length_m"].to_numpy()
    members = _members(plan, len(cell_xy))

    def make_task(tile: Tile) -> dict[str, Any]:
        padded = _pad(tile.bounds, plan.halo_m)
        nodes = index.nodes_in(padded)
        edges = index.edges_in(padded, nodes, u_all, v_all)
        in_f = _facilities_near(fac_xy, tile, plan.facility_pad_m)
        in_f = in_f[fac_snap.ok[in_f]]
        cells = members(tile)
        cell_ok = cell_snap.ok[cells]
        cell_node = _local(nodes, np.where(cell_ok, cell_snap.node[cells], nodes[0] if len(nodes) else 0))
        fac_node = _local(nodes, fac_snap.node[in_f])
        if (cell_ok & (cell_node < 0)).any() or (fac_node < 0).any():  # the halo argument failed
            msg = f"tile {tile.tile_id}: a snapped node lies outside the {plan.halo_m:.0f} m halo."
            raise NetworkError(msg)
        return {
            **common,
            "tile_id": tile.tile_id,
            "node_xy": network.node_xy[nodes],
            "node_global": nodes,
            "u": np.searchsorted(nodes, u_all[edges]),
            "v": np.searchsorted(nodes, v_all[edges]),
            "length_m": len_all[edges],
            "cell_xy": cell_xy[cells],
            "cell_pos": cells,
            "cell_ok": cell_ok,
            "cell_node": np.where(cell_ok, cell_node, 0),
            "cell_access_m": cell_snap.access_m[cells],
            "fac_node": fac_node,
            "fac_access_m": fac_snap.access_m[in_f],
            "fac_kind": fac_kind[in_f],
            "fac_pos": in_f.astype(np.int64),
        }

    fingerprint = ("memory", network.node_xy, len_all, network.snappable)
    return _Job(plan, make_task, _run_tile, fac_snap, cell_snap, bounds, fingerprint)


def _streamed_job(
    store: OsmStore, population: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, cell_xy: np.ndarray,
    fac_xy: np.ndarray, fac_kind: np.ndarray, common: Mapping[str, Any], plan_kw: dict[str, Any],
    streets: Path, timings: dict[str, float],
) -> _Job:  # fmt: skip
    """Tiles whose streets are cut from a store on disk; each task builds and snaps its own network."""
    max_snap_m = common["max_snap_m"]
    pad = max_snap_m + 1.0
    b = store.bounds
    bounds = (b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad)
    # facilities (for the table and the check in every task) and a sample of cells (to catch a
    # wrong CRS or swapped coordinates before any tile runs) in one pass over the nodes
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(len(cell_xy), size=min(len(cell_xy), 2000), replace=False))
    both = store.snap(np.vstack([fac_xy.reshape(-1, 2), cell_xy[sample]]), max_snap_m=max_snap_m)
    k = len(fac_xy)
    fac_snap = Snapped(facilities.index, both.node[:k], both.access_m[:k], both.ok[:k], both.fragment[:k],
                       both.max_snap_m)  # fmt: skip
    probe = Snapped(population.index[sample], both.node[k:], both.access_m[k:], both.ok[k:],
                    both.fragment[k:], both.max_snap_m)  # fmt: skip
    if not probe.ok.any():  # perhaps swapped or in another CRS: refuse if no cell is even in the area
        check_in_area(population, store.crs, bounds, what="population cells", any_inside=True)
    if k:
        _report_snap(facilities, fac_snap, "facilities", store, bounds)
    timings["snap_facilities_s"] = round(time.perf_counter() - t0, 3)
    plan = _plan(_DensityCounts(store.density), store.stretch, cell_xy, **plan_kw)
    members = _members(plan, len(cell_xy))

    def before_run(todo: Sequence[Tile]) -> None:
        # one pass over the store's segments cuts every tile's streets into its own file
        t0 = time.perf_counter()
        if streets.exists():
            for old in streets.glob("*.bin"):
                old.unlink()
        streets.mkdir(parents=True, exist_ok=True)
        boxes = [_pad(t.bounds, plan.halo_m) for t in todo]
        for k, segs in store.segments_meeting(boxes):
            with open(streets / f"{todo[k].tile_id}.bin", "ab") as fh:
                fh.write(np.ascontiguousarray(segs, np.int64).tobytes())
        timings["cut_streets_s"] = round(time.perf_counter() - t0, 3)

    def make_task(tile: Tile) -> dict[str, Any]:
        path = streets / f"{tile.tile_id}.bin"
        segs = np.zeros(0, np.int64)
        if path.exists():
            segs = np.fromfile(path, np.int64)
            path.unlink()  # a re-run cuts the streets again; finished tiles need none
        arrays = store.tile_arrays(segs)
        in_f = _facilities_near(fac_xy, tile, plan.facility_pad_m)
        cells = members(tile)
        return {
            **common,
            **arrays,
            "tile_id": tile.tile_id,
            "max_edge_m": store.params["max_edge_m"],
            "halo_m": plan.halo_m,
            "cell_xy": cell_xy[cells],
            "cell_pos": cells,
            "fac_xy": fac_xy[in_f],
            "fac_ok": fac_snap.ok[in_f],
            "fac_access_m": fac_snap.access_m[in_f],
            "fac_kind": fac_kind[in_f],
            "fac_pos": in_f.astype(np.int64),
        }

    fingerprint = ("streamed", store.params["digest"], store.crs.to_wkt(), store.params["max_edge_m"],
                   store.params["min_component_share"])  # fmt: skip
    return _Job(plan, make_task, _run_tile_streamed, fac_snap, None, bounds, fingerprint, before_run)


def _merge_streamed_snap(
    store: OsmStore, population: gpd.GeoDataFrame, cell_xy: np.ndarray, results: Any, max_snap_m: float
) -> Snapped:
    """The cells' snapping from their tiles; cells far from every street are redone on the store."""
    n = len(cell_xy)
    access, ok = np.full(n, np.inf), np.zeros(n, bool)
    fragment, sure = np.zeros(n, bool), np.zeros(n, bool)
    for res in results:
        pos = res["cell_pos"]
        access[pos], ok[pos] = res["cell_access_m"], res["cell_ok"]
        fragment[pos], sure[pos] = res["cell_fragment"], res["cell_sure"]
    unsure = np.flatnonzero(~sure & np.isfinite(cell_xy).all(axis=1))
    if len(unsure):  # their nearest usable node may lie beyond the tile: ask the whole store
        redo = store.snap(cell_xy[unsure], max_snap_m=max_snap_m)
        access[unsure], ok[unsure], fragment[unsure] = redo.access_m, redo.ok, redo.fragment
    return Snapped(population.index, np.full(n, -1, np.int64), access, ok, fragment, float(max_snap_m))


def _resume(folder: Path, fp: str, plan: TilePlan) -> dict[str, dict[str, Any]]:
    """Finished tiles under ``folder`` made with the same fingerprint (others are removed)."""
    results: dict[str, dict[str, Any]] = {}
    manifest = folder / "manifest.json"
    old = json.loads(manifest.read_text()) if manifest.exists() else {}
    if old.get("fingerprint") != fp:
        if old:
            logger.warning("inputs or parameters changed since the tiles in %s; recomputing all", folder)
        for stale in folder.glob("*.parquet"):
            stale.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        _atomic_write(manifest, lambda p: p.write_text(json.dumps({"fingerprint": fp, "tiles": len(plan.tiles)})))
    wanted = {t.tile_id for t in plan.tiles}
    for path in folder.glob("*.parquet"):
        if path.stem in wanted:
            results[path.stem] = _load_tile(path)
    if results:
        logger.info("resuming: %d of %d tiles already finished in %s", len(results), len(plan.tiles), folder)
    return results


def write_partitioned_geoparquet(
    gdf: gpd.GeoDataFrame, partition: Sequence[Any], folder: str | os.PathLike[str]
) -> list[Path]:
    """Write one GeoParquet file per partition value into ``folder`` (atomically per file).

    ``geopandas.read_parquet(folder)`` reads them back as one layer.

    Parameters
    ----------
    gdf
        The layer (e.g. ``Coverage.to_geodataframe()``).
    partition
        One value per row (e.g. the tile id).
    folder
        Output folder; files are ``part-<value>.parquet``.

    Returns
    -------
    list of pathlib.Path
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = gdf.copy()
    for col in out.columns:
        if col != out.geometry.name and out[col].dtype == object:
            out[col] = out[col].astype("string")  # ids with None: one Arrow type in every part
    key = pd.Series(np.asarray(partition, dtype=object), index=out.index).astype(str)
    written = []
    for value, rows in key.groupby(key, sort=True).groups.items():
        path = folder / f"part-{value}.parquet"
        part = out.loc[rows]

        def write(p: Path, part: gpd.GeoDataFrame = part) -> None:
            part.to_parquet(p)

        _atomic_write(path, write)
        written.append(path)
    return written
