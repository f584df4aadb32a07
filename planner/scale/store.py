"""The street store: an OSM file scanned once into arrays on disk, so tiles never hold every street.

:func:`prepare_osm` streams the file in two passes (ways, then nodes) and keeps in memory, per
walkable node, only its OSM id and component label (12 B per node; :class:`ComponentIndex`).
It decides which components are *snappable* exactly as
:meth:`~planner.network.WalkNetwork.from_osm_file` does, on the same node count (OSM nodes plus
the nodes inserted by splitting long edges). Node coordinates, segment ends and lengths go to
``.npy`` files (:class:`OsmStore`), so that :func:`~planner.scale.compute_coverage_tiled` cuts
every tile's streets in one pass over the segments and each task builds, snaps and searches its
own tile network.

Nodes are numbered as :func:`~planner.io.osm.parse_osm` numbers them (sorted OSM id, then
inserted nodes in segment order), so a tile's nodes and edges are an order-preserving subset of
the whole network's, and searches settle ties in the same order.
"""

from __future__ import annotations

import json
import logging
import os
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from planner._validate import check_metric_crs
from planner.errors import NetworkError
from planner.io.datums import haversine_m
from planner.io.osm import check_osm_path, check_segments, file_digest, iter_osm, project_xy, utm_crs
from planner.kinds import DEFAULT_MAX_EDGE_M
from planner.network import Snapped, edge_pieces, max_stretch, split_long_edges

logger = logging.getLogger(__name__)

#: Nodes buffered before they are projected and filtered as one array.
_CHUNK = 50_000
#: Bytes kept per walkable node by a :class:`ComponentIndex` (int64 id + int32 label).
BYTES_PER_NODE = 12


def _copy(buf: array, dtype: Any) -> np.ndarray:
    """A numpy copy of an ``array`` buffer (no view, so the buffer can still be cleared)."""
    return np.frombuffer(buf, dtype).copy() if len(buf) else np.zeros(0, dtype)


def _member(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Position of each of ``ids`` in ``sorted_ids``, -1 where absent."""
    if len(sorted_ids) == 0:
        return np.full(len(ids), -1, np.int64)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == ids, pos, -1).astype(np.int64)


def _way_pairs(refs: array, way_len: array) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive node pairs of all ways, from the flat refs and the ways' lengths."""
    r = _copy(refs, np.int64)
    lens = _copy(way_len, np.int64)
    last = np.cumsum(lens) - 1  # the last ref of each way starts no pair
    starts = np.ones(len(r), bool)
    starts[last[lens > 0]] = False
    a = np.flatnonzero(starts)
    return r[a], r[a + 1]


# ---------------------------------------------------------------------- components
@dataclass(frozen=True, eq=False)
class ComponentIndex:
    """Connected components of a file's walkable street graph, in compact arrays.

    Attributes
    ----------
    node_id
        Sorted OSM ids of the nodes of the walkable segments (both ends in the file).
    label
        Component per node (int32; 0 is the largest, ranked as ``WalkNetwork`` ranks them).
    size
        Nodes per component, counting the nodes inserted when long edges are split.
    snappable_component
        Per component: may points snap to it (at least ``min_component_share`` of all
        nodes, always the largest).
    n_nodes
        All nodes of the network after splitting (the share's denominator).
    max_segment_m
        Longest walkable segment (haversine metres): the least margin a tile read needs.
    params
        ``max_edge_m``, ``min_component_share``, ``source``.
    """

    node_id: np.ndarray
    label: np.ndarray
    size: np.ndarray
    snappable_component: np.ndarray
    n_nodes: int
    max_segment_m: float
    params: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"ComponentIndex(nodes={len(self.node_id)}, components={len(self.size)}, "
            f"snappable={int(self.snappable_component.sum())}, nbytes={self.nbytes})"
        )

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return int(sum(a.nbytes for a in (self.node_id, self.label, self.size, self.snappable_component)))

    def snappable(self, node_id: Any) -> np.ndarray:
        """Snappable flag per OSM node id (False for ids not in the walkable graph).

        Parameters
        ----------
        node_id
            OSM node ids.

        Returns
        -------
        numpy.ndarray
            Booleans, one per id.
        """
        ids = np.asarray(node_id, np.int64).ravel()
        pos = _member(self.node_id, ids)
        out = np.zeros(len(ids), bool)
        out[pos >= 0] = self.snappable_component[self.label[pos[pos >= 0]]]
        return out


@dataclass(frozen=True, eq=False)
class _Scan:
    """What one streaming scan learns: components, and the arrays a store keeps on disk."""

    components: ComponentIndex
    seg_a: np.ndarray  # segment ends, positions in components.node_id, file order
    seg_b: np.ndarray
    lonlat: np.ndarray  # per node of components.node_id
    length_m: np.ndarray  # haversine metres per segment


def _scan(path: str | os.PathLike[str], *, max_edge_m: float | None, min_component_share: float) -> _Scan:
    path = check_osm_path(path)
    if max_edge_m is not None and max_edge_m <= 0:
        msg = f"max_edge_m must be positive; got {max_edge_m!r}."
        raise ValueError(msg)
    t0 = time.perf_counter()
    refs, way_len = array("q"), array("q")
    for kind, w in iter_osm(path, nodes=False, ways=True):
        if kind == "w":
            refs.extend(w)
            way_len.append(len(w))
    a_id, b_id = _way_pairs(refs, way_len)
    del refs, way_len
    wanted: np.ndarray = np.unique(np.concatenate([a_id, b_id]))

    # pass 2: coordinates of the wanted nodes only
    lonlat = np.full((len(wanted), 2), np.nan)
    ids_buf, lon_buf, lat_buf = array("q"), array("d"), array("d")

    def flush() -> None:
        ids = _copy(ids_buf, np.int64)
        pos = _member(wanted, ids)
        hit = pos >= 0
        lonlat[pos[hit], 0] = _copy(lon_buf, float)[hit]
        lonlat[pos[hit], 1] = _copy(lat_buf, float)[hit]
        del ids_buf[:], lon_buf[:], lat_buf[:]

    for _, (i, lon, lat) in iter_osm(path, nodes=True, ways=False):
        ids_buf.append(i)
        lon_buf.append(lon)
        lat_buf.append(lat)
        if len(ids_buf) >= _CHUNK:
            flush()
    flush()

    known = ~np.isnan(lonlat[:, 0])
    pa, pb = np.searchsorted(wanted, a_id), np.searchsorted(wanted, b_id)
    complete = known[pa] & known[pb]
    pa, pb = pa[complete], pb[complete]
    used = np.unique(np.concatenate([pa, pb]))  # nodes of complete segments, sorted by id
    node_id = wanted[used]
    lonlat = lonlat[used]
    pa, pb = np.searchsorted(used, pa), np.searchsorted(used, pb)
    del a_id, b_id, known, used
    n = len(node_id)
    if n == 0:
        msg = f"{path} has no walkable streets."
        raise NetworkError(msg)

    pa, pb = pa.astype(np.int32), pb.astype(np.int32)
    graph = sparse.csr_matrix((np.ones(len(pa), np.int8), (pa, pb)), shape=(n, n))
    n_comp, labels = csgraph.connected_components(graph, directed=False)
    del graph
    # nodes that splitting will insert, per segment; lengths in chunks to bound temporaries
    extra = np.zeros(len(pa), np.int32)
    length_m = np.zeros(len(pa))
    max_segment_m = 0.0
    for s in range(0, len(pa), _CHUNK):
        a, b = pa[s : s + _CHUNK], pb[s : s + _CHUNK]
        length = haversine_m(lonlat[a, 0], lonlat[a, 1], lonlat[b, 0], lonlat[b, 1])
        check_segments(path, length, node_id[a], node_id[b])
        length_m[s : s + _CHUNK] = length
        loop = a == b  # self-loops are dropped before splitting
        if max_edge_m is not None:
            k = edge_pieces(length, max_edge_m) - 1
            extra[s : s + _CHUNK] = np.where(loop, 0, k)
        if (~loop).any():
            max_segment_m = max(max_segment_m, float(length[~loop].max()))
    sizes = np.bincount(labels, minlength=n_comp) + np.bincount(
        labels[pa], weights=extra, minlength=n_comp
    ).astype(np.int64)
    del extra
    n_total = int(sizes.sum())
    # rank as WalkNetwork.from_edges: labels follow the smallest node position, stable sort
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(n_comp)
    sizes = sizes[order]
    big = sizes >= max(1.0, min_component_share * n_total)
    big[0] = True
    idx = ComponentIndex(
        node_id=node_id,
        label=rank[labels].astype(np.int32),
        size=sizes,
        snappable_component=big,
        n_nodes=n_total,
        max_segment_m=max_segment_m,
        params={"max_edge_m": max_edge_m, "min_component_share": min_component_share,
                "source": str(path)},
    )  # fmt: skip
    logger.info(
        "components of %s: %d walkable nodes (%d after splitting), %d components, %d snappable, "
        "%.1f MB kept, %.2f s",
        path, n, n_total, n_comp, int(big.sum()), idx.nbytes / 2**20, time.perf_counter() - t0,
    )  # fmt: skip
    return _Scan(idx, pa, pb, lonlat, length_m)


# ---------------------------------------------------------------------- the store
#: Files of a store folder (besides ``store.json`` and ``components.npz``).
_STORE_ARRAYS = ("node_xy", "seg", "seg_length_m")
_STORE_VERSION = 2


@dataclass(frozen=True, eq=False)
class OsmStore:
    """A street file prepared for per-tile reading: flags in memory, geometry on disk.

    Made by :func:`prepare_osm`. Memory held: the :class:`ComponentIndex` (12 B per node)
    and a coarse node-density grid. On disk (read by memory map, a slice at a time): node
    coordinates in ``crs`` (16 B per node), segment ends (16 B per segment) and segment
    lengths (8 B per segment), in the order :meth:`WalkNetwork.from_osm_file` uses, so that a
    tile built from them is an order-preserving piece of the whole network.

    Attributes
    ----------
    path
        The OSM file.
    folder
        Where the arrays are.
    crs
        Metric CRS of the node coordinates.
    components
        Global components and snappable flags.
    n_segments
        Walkable segments (both ends in the file), self-loops included.
    stretch
        Largest straight-distance / length ratio over the segments, times ``1 + 1e-6``
        (the split pieces of a segment share its ratio up to rounding).
    bounds
        ``(xmin, ymin, xmax, ymax)`` of the nodes in ``crs``.
    density
        Per square of ``density_cell_m``: nodes (after splitting) and edge pieces, for
        memory estimates without the network (``origin``, ``cell_m``, ``nodes``, ``edges``).
    params
        ``max_edge_m``, ``min_component_share``, ``digest`` (SHA-256 of the file).
    """

    path: Path
    folder: Path
    crs: pyproj.CRS
    components: ComponentIndex
    n_segments: int
    stretch: float
    bounds: tuple[float, float, float, float]
    density: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"OsmStore({self.path.name}, nodes={self.n_nodes}, segments={self.n_segments}, "
            f"crs={self.crs.to_string()})"
        )

    @property
    def source(self) -> str:
        """The file, as a network's ``source``."""
        return str(self.path)

    @property
    def n_nodes(self) -> int:
        """Nodes of the whole network after splitting long segments."""
        return self.components.n_nodes

    def _array(self, name: str) -> np.ndarray:
        return np.load(self.folder / f"{name}.npy", mmap_mode="r")

    def segments_meeting(self, boxes: Sequence[tuple[float, float, float, float]], *,
                         chunk: int = 1_000_000) -> Iterator[tuple[int, np.ndarray]]:  # fmt: skip
        """For each chunk of segments, the (box, segment) pairs whose bounding boxes meet.

        Yields ``(k, segments)`` with the sorted global segment positions meeting box ``k``,
        once per chunk that has any; one streaming pass over the segments.

        Parameters
        ----------
        boxes
            ``(xmin, ymin, xmax, ymax)`` per box, in ``crs``.
        chunk
            Segments per slice read from disk.
        """
        xy, seg = self._array("node_xy"), self._array("seg")
        bx = np.asarray(boxes, float).reshape(-1, 4)
        for s in range(0, self.n_segments, chunk):
            ab = np.asarray(seg[s : s + chunk])
            pa, pb = xy[ab[:, 0]], xy[ab[:, 1]]
            lo, hi = np.minimum(pa, pb), np.maximum(pa, pb)
            order = np.argsort(lo[:, 0], kind="stable")
            x_sorted = lo[order, 0]
            widest = float((hi[:, 0] - lo[:, 0]).max()) if len(lo) else 0.0
            for k, (x0, y0, x1, y1) in enumerate(bx):
                # a segment meeting [x0, x1] starts at most `widest` left of x0
                i0 = np.searchsorted(x_sorted, x0 - widest, side="left")
                i1 = np.searchsorted(x_sorted, x1, side="right")
                cand = order[i0:i1]
                meet = (hi[cand, 0] >= x0) & (lo[cand, 1] <= y1) & (hi[cand, 1] >= y0)
                if meet.any():
                    yield k, np.sort(cand[meet]) + s

    def tile_arrays(self, segments: np.ndarray) -> dict[str, np.ndarray]:
        """Nodes and edges of the given segments, numbered as the whole network numbers them.

        Parameters
        ----------
        segments
            Sorted global segment positions (e.g. from :meth:`segments_meeting`).

        Returns
        -------
        dict
            ``node_xy``, ``node_id``, ``snappable`` per node (sorted by OSM id, the whole
            network's order) and ``u``, ``v``, ``length_m`` per segment (file order): the
            arguments of :meth:`WalkNetwork.from_edges`.
        """
        seg = np.asarray(self._array("seg")[segments])
        length = np.asarray(self._array("seg_length_m")[segments])
        nodes, inv = np.unique(seg.ravel(), return_inverse=True)
        inv = inv.reshape(-1, 2)
        c = self.components
        return {
            "node_xy": np.asarray(self._array("node_xy")[nodes]),
            "node_id": c.node_id[nodes],
            "snappable": c.snappable_component[c.label[nodes]],
            "u": inv[:, 0].astype(np.int64),
            "v": inv[:, 1].astype(np.int64),
            "length_m": length,
        }

    def snap(self, points_xy: np.ndarray, *, max_snap_m: float, chunk: int = 250_000) -> Snapped:
        """:meth:`WalkNetwork.snap` against the whole network, read a slice at a time.

        Distances equal the in-memory ones (same nodes, including those inserted by
        splitting, same arithmetic). ``node`` is ``-1`` throughout: a store has no
        whole-network node numbering in memory.

        Parameters
        ----------
        points_xy
            (n, 2) coordinates in ``crs``.
        max_snap_m
            The snap limit.
        chunk
            Nodes per slice.

        Returns
        -------
        Snapped
        """
        xy = np.asarray(points_xy, float).reshape(-1, 2)
        finite = np.isfinite(xy).all(axis=1)
        best = np.full(len(xy), np.inf)
        best_all = np.full(len(xy), np.inf)
        q = xy[finite]
        if len(q):
            for node_xy, usable in self._iter_nodes(chunk):
                if len(node_xy) == 0:
                    continue
                d_all = cKDTree(node_xy).query(q, k=1, workers=-1)[0]
                best_all[finite] = np.minimum(best_all[finite], d_all)
                if usable.any():
                    d = cKDTree(node_xy[usable]).query(q, k=1, workers=-1)[0]
                    best[finite] = np.minimum(best[finite], d)
        ok = finite & (best <= max_snap_m)
        fragment = finite & (best_all < best - 1e-9)
        index = pd.RangeIndex(len(xy))
        return Snapped(index, np.full(len(xy), -1, np.int64), best, ok, fragment, float(max_snap_m))

    def _iter_nodes(self, chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Coordinates and snappable flags of every node: file nodes, then inserted ones."""
        xy_all = self._array("node_xy")
        c = self.components
        for s in range(0, len(c.node_id), chunk):
            yield np.asarray(xy_all[s : s + chunk]), c.snappable_component[c.label[s : s + chunk]]
        max_edge_m = self.params["max_edge_m"]
        if max_edge_m is None:
            return
        for s in range(0, self.n_segments, chunk):
            t = self.tile_arrays(np.arange(s, min(s + chunk, self.n_segments)))
            keep = t["u"] != t["v"]
            xy, _, _, _, _ = split_long_edges(
                t["node_xy"], t["node_id"], t["u"][keep], t["v"][keep], t["length_m"][keep], max_edge_m
            )
            new = xy[len(t["node_xy"]) :]
            if len(new):  # inserted nodes take their segment's flag
                k = edge_pieces(t["length_m"][keep], max_edge_m) - 1
                yield new, np.repeat(t["snappable"][t["u"][keep]], k)


def prepare_osm(
    path: str | os.PathLike[str],
    folder: str | os.PathLike[str],
    *,
    crs: Any = None,
    max_edge_m: float | None = DEFAULT_MAX_EDGE_M,
    min_component_share: float = 0.01,
    density_cell_m: float = 1000.0,
) -> OsmStore:
    """Scan an OSM file once and keep what per-tile reading needs (see :class:`OsmStore`).

    Reads the file in two streaming passes, then writes node
    coordinates, segment ends and lengths to ``folder`` as ``.npy``. A folder already
    prepared from the same file and options is reused.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf`` (needs pyosmium).
    folder
        Where the store is written.
    crs
        Metric CRS (default: the UTM zone of the data, as :meth:`WalkNetwork.from_osm_file`).
    max_edge_m, min_component_share
        As for :meth:`WalkNetwork.from_osm_file`.
    density_cell_m
        Side of the squares of the node-density grid used for memory estimates.

    Returns
    -------
    OsmStore

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     store = prepare_osm("tests/data/west_oakland.osm.bz2", tmp)
    ...     store.crs.to_string(), store.stretch >= 1.0
    ('EPSG:32610', True)
    """
    path = check_osm_path(path)
    folder = Path(folder)
    if density_cell_m <= 0:
        msg = f"density_cell_m must be positive; got {density_cell_m!r}."
        raise ValueError(msg)
    t0 = time.perf_counter()
    crs_key = None if crs is None else pyproj.CRS.from_user_input(crs).to_wkt()
    key = {"version": _STORE_VERSION, "digest": file_digest(path), "crs": crs_key,
           "max_edge_m": max_edge_m, "min_component_share": min_component_share,
           "density_cell_m": float(density_cell_m)}  # fmt: skip
    old = _load_store(path, folder, key)
    if old is not None:
        logger.info("reusing the street store in %s", folder)
        return old
    scan = _scan(path, max_edge_m=max_edge_m, min_component_share=min_component_share)
    target = pyproj.CRS.from_user_input(crs) if crs is not None else utm_crs(scan.lonlat)
    check_metric_crs(target, "the network")
    xy = project_xy(scan.lonlat, target)
    pa, pb, length = scan.seg_a, scan.seg_b, scan.length_m
    # stretch, as scale.network_stretch over the whole network (split pieces share their
    # segment's ratio up to rounding, hence the wider margin)
    stretch = max_stretch(xy[pa], xy[pb], length)
    if not np.isfinite(stretch):
        msg = f"{path} has segments of length 0 between distinct points; tiles cannot bound walks."
        raise NetworkError(msg)
    stretch *= 1 + 1e-6
    # density: nodes (inserted ones at their segment's first end) and edge pieces per square
    loop = pa == pb
    pieces = np.where(loop, 0, 1)
    if max_edge_m is not None:
        pieces = np.where(loop, 0, edge_pieces(length, max_edge_m))
    # at most ~4 M squares, even if a stray node stretches the extent
    extent = float(np.prod(np.maximum(xy.max(axis=0) - xy.min(axis=0), 1.0)))
    density_cell_m = max(float(density_cell_m), float(np.sqrt(extent / 4e6)))
    origin = np.floor(xy.min(axis=0) / density_cell_m) * density_cell_m
    ij = np.floor((xy - origin) / density_cell_m).astype(np.int64)
    shape = tuple(int(m) + 1 for m in ij.max(axis=0))
    flat = ij[:, 0] * shape[1] + ij[:, 1]
    size = shape[0] * shape[1]
    nodes = np.bincount(flat, minlength=size) + np.bincount(
        flat[pa], weights=np.maximum(pieces - 1, 0), minlength=size
    ).astype(np.int64)
    edges = np.bincount(flat[pa], weights=pieces, minlength=size).astype(np.int64)
    density = {"origin": origin, "cell_m": float(density_cell_m),
               "nodes": nodes.reshape(shape), "edges": edges.reshape(shape)}  # fmt: skip
    bounds = (*(float(b) for b in xy.min(axis=0)), *(float(b) for b in xy.max(axis=0)))

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "store.json").unlink(missing_ok=True)  # an interrupted rebuild must not look complete
    arrays = {"node_xy": xy, "seg": np.column_stack([pa, pb]).astype(np.int64), "seg_length_m": length}
    for name, arr in arrays.items():
        np.save(folder / f"{name}.npy", arr)
    c = scan.components
    np.savez(folder / "components.npz", node_id=c.node_id, label=c.label, size=c.size,
             snappable_component=c.snappable_component, density_nodes=density["nodes"],
             density_edges=density["edges"], density_origin=origin)  # fmt: skip
    meta = {**key, "target_crs": target.to_wkt(), "n_nodes": c.n_nodes, "max_segment_m": c.max_segment_m,
            "n_segments": len(pa), "stretch": stretch, "bounds": bounds,
            "density_cell_used_m": float(density_cell_m)}  # fmt: skip
    (folder / "store.json").write_text(json.dumps(meta))  # written last: marks the store complete
    logger.info("street store of %s in %s: %.2f s", path, folder, time.perf_counter() - t0)
    return OsmStore(
        path, folder, target, c, len(pa), stretch, (bounds[0], bounds[1], bounds[2], bounds[3]), density,
        {"max_edge_m": max_edge_m, "min_component_share": min_component_share, "digest": key["digest"]},
    )  # fmt: skip


def _load_store(path: Path, folder: Path, key: dict[str, Any]) -> OsmStore | None:
    try:
        meta = json.loads((folder / "store.json").read_text())
    except (OSError, ValueError):
        return None
    if any(meta.get(k) != v for k, v in key.items()):
        return None
    if not all((folder / f"{name}.npy").exists() for name in _STORE_ARRAYS):
        return None
    try:
        z = np.load(folder / "components.npz")
    except (OSError, ValueError):
        return None
    with z:
        c = ComponentIndex(
            node_id=z["node_id"], label=z["label"], size=z["size"],
            snappable_component=z["snappable_component"], n_nodes=int(meta["n_nodes"]),
            max_segment_m=float(meta["max_segment_m"]),
            params={"max_edge_m": key["max_edge_m"], "min_component_share": key["min_component_share"],
                    "source": str(path)},
        )  # fmt: skip
        density = {"origin": z["density_origin"], "cell_m": float(meta["density_cell_used_m"]),
                   "nodes": z["density_nodes"], "edges": z["density_edges"]}  # fmt: skip
    return OsmStore(
        path, folder, pyproj.CRS.from_wkt(meta["target_crs"]), c, int(meta["n_segments"]),
        float(meta["stretch"]), tuple(meta["bounds"]), density,
        {"max_edge_m": key["max_edge_m"], "min_component_share": key["min_component_share"],
         "digest": key["digest"]},
    )  # fmt: skip
