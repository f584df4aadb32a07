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
:func:`~planner.scale.store.prepare_osm` scans the file in two streaming passes and keeps in
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from scipy import sparse
from scipy.spatial import cKDTree

from planner.coverage import (
    Coverage,
    assemble_coverage,
    check_options,
    join_districts,
    prepare_facilities,
    prepare_population,
    report_snap,
    run_params,
    straight_line_points,
)
from planner.errors import InputError, NetworkError
from planner.io.boundaries import check_in_area
from planner.io.write import atomic_path
from planner.kinds import (
    DEFAULT_KINDS,
    DEFAULT_MAX_EDGE_M,
    DEFAULT_MAX_SNAP_M,
    DEFAULT_THRESHOLDS_MIN,
    DISTRICT,
    KIND,
    FacilityKind,
)
from planner.network import Snapped, WalkNetwork, points_xy
from planner.scale.execute import peak_rss_mb, run_tiles
from planner.scale.store import OsmStore, prepare_osm
from planner.scale.tiles import (
    DEFAULT_MEMORY_BUDGET_MB,
    DensityCounts,
    NodeIndex,
    Tile,
    TilePlan,
    local_positions,
    pad_box,
    plan_from_counts,
    plan_tiles,
)

logger = logging.getLogger(__name__)

_RESULT_VERSION = 1


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
            dist, origin = net.distances_m(
                fac_node[usable], fac_access[usable], limit_m=limit_min * m_per_min
            )
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
        "peak_rss_mb": peak_rss_mb(),
    }


def _save_tile(folder: Path, result: Mapping[str, Any]) -> None:
    cols = {k: v for k, v in result.items() if isinstance(v, np.ndarray)}
    df = pd.DataFrame(cols)
    stats = json.dumps(result["stats"])
    with atomic_path(folder / f"{result['tile_id']}.parquet") as tmp:
        _to_parquet_with_meta(df, tmp, stats)


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
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
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
    max_edge_m: float | None = DEFAULT_MAX_EDGE_M,
) -> Coverage:
    """:func:`~planner.coverage.compute_coverage`, cut into tiles that run apart; same result.

    Every per-cell figure (minutes, nearest facility, straight-line minutes, snapping)
    equals the single-machine run's; see the module docstring for why.

    Given a path to an OSM file (``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``) instead of
    a network, the streets are *streamed*: the file is scanned once into a store on disk
    (:func:`~planner.scale.store.prepare_osm`), each tile's streets are cut from it and the
    tile's network is built, snapped and searched inside its task, so no process holds the
    whole network. The result equals ``compute_coverage(WalkNetwork.from_osm_file(path,
    crs=crs, max_edge_m=max_edge_m), ...)`` cell for cell, except that ``cell_snap.node`` is
    ``-1`` (there is no whole-network numbering).

    Parameters
    ----------
    network
        A :class:`~planner.network.WalkNetwork`, or a path to an OSM file (streamed), or an
        :class:`~planner.scale.store.OsmStore` already prepared.
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
    _check_tiled_options(network, max_snap_m=max_snap_m, tiles=tiles, crs=crs)
    with tempfile.TemporaryDirectory(prefix="planner-tiles-") as scratch:
        base = Path(work_dir) if work_dir is not None else Path(scratch)
        timings: dict[str, float] = {}
        source = _street_source(network, base / "streets", crs=crs, max_edge_m=max_edge_m, timings=timings)
        population, facilities = _prepare_tables(population, facilities, kinds, source.crs, districts, tiles)
        _, cell_xy = points_xy(population, source.crs)
        fac_xy = np.asarray(points_xy(facilities, source.crs)[1], float)
        fac_kind = facilities[KIND].astype(str).to_numpy()
        speeds, plan_kw, common = _task_settings(
            source, population, facilities, kinds, limit_min, max_snap_m,
            tiles=tiles, tile_m=tile_m, memory_budget_mb=memory_budget_mb,
        )  # fmt: skip
        job = _make_job(source, population, facilities, cell_xy, fac_xy, fac_kind, common, plan_kw,
                        base / "tile_streets", timings)  # fmt: skip
        facilities = facilities.assign(snap_ok=job.fac_snap.ok, access_m=job.fac_snap.access_m)
        fp = _run_fingerprint(speeds, limit_min, max_snap_m, job, cell_xy, fac_xy, fac_kind)
        results = _run_job(job, fp, work_dir, scheduler=scheduler, n_workers=n_workers, progress=progress,
                           timings=timings)  # fmt: skip
        minutes, near_pos, straight = _merge_tiles(results.values(), kinds, len(population))
        cell_snap = job.cell_snap
        if cell_snap is None:  # streamed: snapped in the tiles
            cell_snap = _merge_streamed_snap(source, population, cell_xy, results.values(), max_snap_m)  # type: ignore[arg-type]
            report_snap(population, cell_snap, "population cells", source, job.bounds)
    nearest = _nearest_ids(near_pos, facilities.index.to_numpy())
    seconds = time.perf_counter() - t_start
    params = run_params(source, population, kinds, thresholds, limit_min, max_snap_m, cell_snap,
                        job.fac_snap, method=_method(source), seconds=seconds)  # fmt: skip
    params |= _tile_params(job.plan, results, fp, tiles=tiles, tile_m=tile_m,
                           memory_budget_mb=memory_budget_mb, scheduler=scheduler)  # fmt: skip
    params |= _streaming_params(source, work_dir, timings)
    logger.info(
        "tiled coverage of %d cells in %d tiles in %.2f s", len(population), len(job.plan.tiles), seconds
    )
    return assemble_coverage(minutes, nearest, straight, population, facilities, kinds, thresholds,
                             cell_snap, params, districts)  # fmt: skip


# ---------------------------------------------------------------------- the steps of one run
def _check_tiled_options(network: Any, *, max_snap_m: float, tiles: str, crs: Any) -> None:
    """The options :func:`~planner.coverage.check_options` does not check."""
    if max_snap_m <= 0:
        msg = f"max_snap_m must be positive; got {max_snap_m!r}."
        raise ValueError(msg)
    if tiles not in ("grid", "district"):
        msg = f"tiles must be 'grid' or 'district'; got {tiles!r}."
        raise ValueError(msg)
    if isinstance(network, WalkNetwork) and crs is not None and not network.crs.equals(crs):
        msg = "crs applies to a network read from a file; this WalkNetwork is already in its own CRS."
        raise ValueError(msg)


def _street_source(
    network: WalkNetwork | str | os.PathLike[str] | OsmStore, streets: Path, *, crs: Any,
    max_edge_m: float | None, timings: dict[str, float],
) -> WalkNetwork | OsmStore:  # fmt: skip
    """The network as given, a store checked against ``crs`` and ``max_edge_m``, or a file made a store."""
    t0 = time.perf_counter()
    if isinstance(network, WalkNetwork):
        return network
    if isinstance(network, OsmStore):
        if (crs is not None and not network.crs.equals(crs)) or max_edge_m != network.params["max_edge_m"]:
            msg = (
                f"this street store is in {network.crs.to_string()} with max_edge_m="
                f"{network.params['max_edge_m']!r}; prepare_osm it again with the crs and max_edge_m wanted."
            )
            raise ValueError(msg)
        return network
    store = prepare_osm(network, streets, crs=crs, max_edge_m=max_edge_m)
    timings["prepare_s"] = round(time.perf_counter() - t0, 3)
    return store


def _prepare_tables(
    population: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, kinds: Mapping[str, FacilityKind],
    crs: pyproj.CRS, districts: gpd.GeoDataFrame | None, tiles: str,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:  # fmt: skip
    """Cells and facilities checked and in the streets' CRS, with their districts when given."""
    population = prepare_population(population, kinds, crs)
    facilities = prepare_facilities(facilities, kinds, crs)
    if districts is not None:
        population = join_districts(population, districts)
        facilities = join_districts(facilities, districts)
    elif tiles == "district":
        msg = "tiles='district' needs districts."
        raise InputError(msg)
    return population, facilities


def _task_settings(
    source: WalkNetwork | OsmStore, population: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
    kinds: Mapping[str, FacilityKind], limit_min: float, max_snap_m: float, *, tiles: str, tile_m: float,
    memory_budget_mb: float,
) -> tuple[dict[str, float], dict[str, Any], dict[str, Any]]:  # fmt: skip
    """Speeds in metres per minute, the tile planner's options and what every task shares."""
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
    return speeds, plan_kw, common


def _make_job(
    source: WalkNetwork | OsmStore, population: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
    cell_xy: np.ndarray, fac_xy: np.ndarray, fac_kind: np.ndarray, common: Mapping[str, Any],
    plan_kw: dict[str, Any], streets: Path, timings: dict[str, float],
) -> _Job:  # fmt: skip
    """The tiles cut from a street store on disk, or from a network in memory."""
    if isinstance(source, OsmStore):
        return _streamed_job(source, population, facilities, cell_xy, fac_xy, fac_kind, common, plan_kw,
                             streets, timings)  # fmt: skip
    return _in_memory_job(source, population, facilities, cell_xy, fac_xy, fac_kind, common, plan_kw)


def _run_fingerprint(
    speeds: Mapping[str, float], limit_min: float, max_snap_m: float, job: _Job, cell_xy: np.ndarray,
    fac_xy: np.ndarray, fac_kind: np.ndarray,
) -> str:  # fmt: skip
    """Key of finished tiles under ``work_dir``: everything that shapes a tile's result."""
    return _fingerprint(
        _RESULT_VERSION, sorted(speeds.items()), limit_min, float(max_snap_m),
        [(t.tile_id, t.bounds) for t in job.plan.tiles], *job.fingerprint, cell_xy, fac_xy,
        fac_kind.astype("U"),
    )  # fmt: skip


def _run_job(
    job: _Job, fp: str, work_dir: str | os.PathLike[str] | None, *, scheduler: Any, n_workers: int,
    progress: bool, timings: dict[str, float],
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Every tile's result: those finished under ``work_dir`` are resumed, the others run (and saved)."""
    results: dict[str, dict[str, Any]] = {}
    folder = Path(work_dir) if work_dir is not None else None
    if folder is not None:
        results = _resume(folder, fp, job.plan)

    def on_result(tile: Tile, result: dict[str, Any]) -> None:
        s = result["stats"]
        logger.info("tile %s: %d cells, %d nodes in %.2f s (worker pid %d, peak RSS %.0f MB)",
                    tile.tile_id, s["cells"], s["nodes"], s["seconds"], s["pid"], s["peak_rss_mb"])  # fmt: skip
        if folder is not None:
            _save_tile(folder, result)
        results[tile.tile_id] = result

    todo = [t for t in job.plan.tiles if t.tile_id not in results]
    if job.before_run is not None:
        job.before_run(todo)
    t0 = time.perf_counter()
    run_tiles(todo, job.make_task, job.run, on_result, scheduler=scheduler, n_workers=n_workers,
              memory_limit=None, progress=progress, key_prefix=f"planner-tile-{fp}")  # fmt: skip
    timings["tiles_s"] = round(time.perf_counter() - t0, 3)
    return results


def _merge_tiles(
    results: Iterable[Mapping[str, Any]], kinds: Mapping[str, FacilityKind], n: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per kind, minutes, nearest facility position and straight-line minutes of all ``n`` cells."""
    minutes = {k: np.full(n, np.inf) for k in kinds}
    near_pos = {k: np.full(n, -1, np.int64) for k in kinds}
    straight = {k: np.full(n, np.inf) for k in kinds}
    for res in results:
        pos = res["cell_pos"]
        for k in kinds:
            minutes[k][pos] = res[f"minutes_{k}"]
            near_pos[k][pos] = res[f"nearest_{k}"]
            straight[k][pos] = res[f"straight_{k}"]
    return minutes, near_pos, straight


def _nearest_ids(near_pos: Mapping[str, np.ndarray], ids: np.ndarray) -> dict[str, np.ndarray]:
    """Facility positions turned into facility ids (None where no facility was reached)."""
    nearest = {}
    for k, pos in near_pos.items():
        col = np.full(len(pos), None, dtype=object)
        hit = pos >= 0
        col[hit] = ids[pos[hit]]
        nearest[k] = col
    return nearest


def _method(source: WalkNetwork | OsmStore) -> str:
    """``params["method"]``."""
    method = "scipy.sparse.csgraph.dijkstra per tile, halo r*L + max_snap_m, merged"
    if isinstance(source, OsmStore):
        method += "; streets streamed per tile from the OSM file"
    return method


def _tile_params(
    plan: TilePlan, results: Mapping[str, Mapping[str, Any]], fp: str, *, tiles: str, tile_m: float,
    memory_budget_mb: float, scheduler: Any,
) -> dict[str, Any]:  # fmt: skip
    """The tiling part of ``Coverage.params``: the plan, per-tile records and each cell's tile."""
    stats = [results[t.tile_id]["stats"] for t in plan.tiles if t.tile_id in results]
    return {
        "tiles": {"count": len(plan.tiles), "mode": tiles, "tile_m": tile_m if tiles == "grid" else None,
                  "halo_m": round(plan.halo_m, 3), "stretch": plan.stretch,
                  "memory_budget_mb": memory_budget_mb, "scheduler": str(scheduler),
                  "resumed": sum(1 for s in stats if s.get("resumed")), "fingerprint": fp},
        "tile_stats": stats,
        "tile_ids": tuple(t.tile_id for t in plan.tiles),
        "cell_tile": plan.cell_tile,
    }  # fmt: skip


def _streaming_params(
    source: WalkNetwork | OsmStore, work_dir: str | os.PathLike[str] | None, timings: Mapping[str, float]
) -> dict[str, Any]:
    """``params["streaming"]`` when the streets were streamed (the store is kept only under ``work_dir``)."""
    if not isinstance(source, OsmStore):
        return {}
    return {"streaming": {"store": str(source.folder) if work_dir is not None else None,
                          "driver_peak_rss_mb": peak_rss_mb(), **timings}}  # fmt: skip


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
    fpad = pad_box(tile.bounds, pad_m)
    return np.flatnonzero(
        (fac_xy[:, 0] >= fpad[0])
        & (fac_xy[:, 0] <= fpad[2])
        & (fac_xy[:, 1] >= fpad[1])
        & (fac_xy[:, 1] <= fpad[3])
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
    report_snap(population, cell_snap, "population cells", network, bounds)
    fac_snap = network.snap(facilities, max_snap_m=max_snap_m)
    if len(fac_xy):
        report_snap(facilities, fac_snap, "facilities", network, bounds)
    index = NodeIndex(network)
    plan = plan_tiles(network, cell_xy, index=index, **plan_kw)
    u_all, v_all = index.u, index.v
    len_all = network.edges["length_m"].to_numpy()
    members = _members(plan, len(cell_xy))

    def make_task(tile: Tile) -> dict[str, Any]:
        padded = pad_box(tile.bounds, plan.halo_m)
        nodes = index.nodes_in(padded)
        edges = index.edges_in(padded, nodes, u_all, v_all)
        in_f = _facilities_near(fac_xy, tile, plan.facility_pad_m)
        in_f = in_f[fac_snap.ok[in_f]]
        cells = members(tile)
        cell_ok = cell_snap.ok[cells]
        cell_node = local_positions(
            nodes, np.where(cell_ok, cell_snap.node[cells], nodes[0] if len(nodes) else 0)
        )
        fac_node = local_positions(nodes, fac_snap.node[in_f])
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
    fac_snap = _snap_on_store(store, population, facilities, fac_xy, max_snap_m, bounds, timings)
    plan = plan_from_counts(DensityCounts(store.density), store.stretch, cell_xy, **plan_kw)
    members = _members(plan, len(cell_xy))

    def before_run(todo: Sequence[Tile]) -> None:
        # one pass over the store's segments cuts every tile's streets into its own file
        t0 = time.perf_counter()
        if streets.exists():
            for old in streets.glob("*.bin"):
                old.unlink()
        streets.mkdir(parents=True, exist_ok=True)
        boxes = [pad_box(t.bounds, plan.halo_m) for t in todo]
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


def _snap_on_store(
    store: OsmStore, population: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, fac_xy: np.ndarray,
    max_snap_m: float, bounds: tuple[float, float, float, float], timings: dict[str, float],
) -> Snapped:  # fmt: skip
    """The facilities' snapping on the whole store (for the table and the check in every task);
    cells beyond the streets' extent are refused before any tile runs (a wrong CRS, swapped axes)."""
    t0 = time.perf_counter()
    fac_snap = store.snap(fac_xy.reshape(-1, 2), max_snap_m=max_snap_m)
    fac_snap = Snapped(facilities.index, fac_snap.node, fac_snap.access_m, fac_snap.ok, fac_snap.fragment,
                       fac_snap.max_snap_m)  # fmt: skip
    # every cell within the streets' extent, as compute_coverage requires (no snapping needed to tell)
    check_in_area(population, store.crs, bounds, what="population cells")
    if len(fac_xy):
        report_snap(facilities, fac_snap, "facilities", store, bounds)
    timings["snap_facilities_s"] = round(time.perf_counter() - t0, 3)
    return fac_snap


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
        with atomic_path(manifest) as tmp:
            tmp.write_text(json.dumps({"fingerprint": fp, "tiles": len(plan.tiles)}))
    wanted = {t.tile_id for t in plan.tiles}
    for path in folder.glob("*.parquet"):
        if path.stem in wanted:
            results[path.stem] = _load_tile(path)
    if results:
        logger.info("resuming: %d of %d tiles already finished in %s", len(results), len(plan.tiles), folder)
    return results
