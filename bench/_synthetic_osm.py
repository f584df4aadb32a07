"""Write a synthetic city (``_synthetic.py``) as an OSM file, for the streaming benchmarks.

``write_synthetic_osm(path, city)`` writes the city's street network as

* ``.osm.pbf`` with pyosmium's ``SimpleWriter`` (one reused mutable node / way object, so
  the cost is libosmium's, a few microseconds per object), or
* OSM XML (``.osm``, ``.osm.bz2``, ``.osm.gz``) by hand with a buffered writer,

nodes first (sorted by id), then ways, ``<osm version="0.6">``. Node ``i`` of the city gets OSM
id ``i + 1``; its coordinates are ``city.node_xy`` inverse-projected from ``city.crs`` to
EPSG:4326 and rounded to 7 decimals (OSM's fixed precision), so the PBF and XML files of a
city hold exactly the same coordinates.

Edges are chained into ways (``highway=residential``): each way is a trail of unused edges,
extended greedily at both ends, straight on where the node offers it (up to
``max_way_nodes`` nodes), so grid rows and columns become long streets as in real OSM data
and the file has ~6x fewer ways than edges. Every edge of the city is the segment between
two consecutive nodes of exactly one way, so the file's walkable segments are the city's
edges (no duplicates, no extras).

What the file does not carry: the city's ``length_m`` (detour factors). Readers compute
haversine lengths from the rounded coordinates, so a network read from the file differs
slightly from ``WalkNetwork.from_edges`` on the city; compare runs on the same file.

``city_frames(city)`` gives the matching population cells and facilities (in ``city.crs``).

Quick look: ``python bench/_synthetic_osm.py --cells 200000 /tmp/city.osm.pbf``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["chain_ways", "city_frames", "lonlat_e7", "write_synthetic_osm"]

#: OSM's fixed coordinate precision (libosmium stores int32 of 1e-7 degrees)
PRECISION = 10_000_000
HIGHWAY = "residential"


def city_frames(city: Any) -> tuple[Any, Any]:
    """Population cells and facilities of a synthetic city as GeoDataFrames in ``city.crs``."""
    import geopandas as gpd
    import pandas as pd

    pop = gpd.GeoDataFrame(
        {"population": city.cell_pop},
        index=pd.Index(city.cell_id, name="cell_id"),
        geometry=gpd.points_from_xy(*city.cell_xy.T),
        crs=city.crs,
    )
    fac = gpd.GeoDataFrame(
        {"kind": city.facility_kind},
        index=pd.Index([f"f{i}" for i in range(len(city.facility_xy))], name="facility_id"),
        geometry=gpd.points_from_xy(*city.facility_xy.T),
        crs=city.crs,
    )
    return pop, fac


def lonlat_e7(node_xy: np.ndarray, crs: Any) -> np.ndarray:
    """``(n, 2)`` int64 lon/lat in 1e-7 degrees: ``node_xy`` from ``crs`` to EPSG:4326, rounded."""
    import pyproj

    tr = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(node_xy[:, 0], node_xy[:, 1])
    return np.rint(np.column_stack([lon, lat]) * PRECISION).astype(np.int64)


def chain_ways(
    node_xy: np.ndarray, u: np.ndarray, v: np.ndarray, *, max_way_nodes: int = 500
) -> tuple[np.ndarray, np.ndarray]:
    """Cover the edges ``(u, v)`` with trails: ``(refs, offsets)``, way ``k`` = ``refs[offsets[k]:offsets[k+1]]``.

    Every edge is used by exactly one pair of consecutive refs. A trail starts at the first
    unused edge (in edge order) and is extended at its head, then at its tail, through the
    unused edge at the end node that turns least (so grid rows and columns stay whole).
    """
    n, m = len(node_xy), len(u)
    ends = np.concatenate([u, v])
    other = np.concatenate([v, u])
    eid = np.concatenate([np.arange(m), np.arange(m)])
    order = np.argsort(ends, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=n), out=indptr[1:])
    adj_edge = eid[order].tolist()
    adj_node = other[order].tolist()
    ptr = indptr.tolist()
    xs, ys = node_xy[:, 0].tolist(), node_xy[:, 1].tolist()
    us, vs = u.tolist(), v.tolist()
    used = bytearray(m)

    def step(prev: int, cur: int) -> int:
        """Unused edge at ``cur`` that continues ``prev -> cur`` straightest, or -1."""
        lo, hi = ptr[cur], ptr[cur + 1]
        dx, dy = xs[cur] - xs[prev], ys[cur] - ys[prev]
        best, best_cos = -1, -2.0
        for p in range(lo, hi):
            e = adj_edge[p]
            if used[e]:
                continue
            w = adj_node[p]
            ex, ey = xs[w] - xs[cur], ys[w] - ys[cur]
            c = (dx * ex + dy * ey) / (((dx * dx + dy * dy) * (ex * ex + ey * ey)) ** 0.5 or 1.0)
            if c > best_cos:
                best, best_cos = p, c
        return best

    refs: list[int] = []
    offsets = [0]
    for e in range(m):
        if used[e]:
            continue
        used[e] = 1
        head = [us[e], vs[e]]
        while len(head) < max_way_nodes:
            p = step(head[-2], head[-1])
            if p < 0:
                break
            used[adj_edge[p]] = 1
            head.append(adj_node[p])
        tail: list[int] = []
        prev, cur = head[1], head[0]
        while len(head) + len(tail) < max_way_nodes:
            p = step(prev, cur)
            if p < 0:
                break
            used[adj_edge[p]] = 1
            prev, cur = cur, adj_node[p]
            tail.append(cur)
        tail.reverse()
        refs.extend(tail)
        refs.extend(head)
        offsets.append(len(refs))
    return np.asarray(refs, dtype=np.int64), np.asarray(offsets, dtype=np.int64)


def _is_pbf(path: Path) -> bool:
    return path.name.lower().endswith(".pbf")


def _write_pbf(path: Path, e7: np.ndarray, refs: np.ndarray, offsets: np.ndarray) -> None:
    import osmium
    from osmium.osm.mutable import Node, Way

    lon = (e7[:, 0] / PRECISION).tolist()  # exact decimals: libosmium rounds them back to e7
    lat = (e7[:, 1] / PRECISION).tolist()
    tags = {"highway": HIGHWAY}
    with osmium.SimpleWriter(str(path), overwrite=True) as w:
        node = Node(id=1, location=(0.0, 0.0), version=1)
        add = w.add_node
        for i, (x, y) in enumerate(zip(lon, lat, strict=True), start=1):
            node.id = i
            node.location = (x, y)
            add(node)
        way = Way(id=1, nodes=[1, 2], tags=tags, version=1)
        add = w.add_way
        ids = (refs + 1).tolist()
        off = offsets.tolist()
        for k in range(len(off) - 1):
            way.id = k + 1
            way.nodes = ids[off[k] : off[k + 1]]
            add(way)


def _fmt_e7(a: np.ndarray) -> list[str]:
    """Decimal strings of 1e-7 degree integers, exactly (no float formatting)."""
    sign = np.where(a < 0, "-", "")
    whole, frac = np.divmod(np.abs(a), PRECISION)
    s = np.char.add(np.char.add(sign, whole.astype(str)), ".")
    return np.char.add(s, np.char.zfill(frac.astype(str), 7)).tolist()


def _open_xml(path: Path) -> Any:
    name = path.name.lower()
    if name.endswith(".bz2"):
        return bz2.open(path, "wb", compresslevel=6)
    if name.endswith(".gz"):
        return gzip.open(path, "wb", compresslevel=4)
    return path.open("wb")


def _write_xml(path: Path, e7: np.ndarray, refs: np.ndarray, offsets: np.ndarray) -> None:
    lon, lat = _fmt_e7(e7[:, 0]), _fmt_e7(e7[:, 1])
    chunk = 100_000
    with _open_xml(path) as raw, io.BufferedWriter(raw, buffer_size=1 << 22) as fh:
        fh.write(b'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="planner-bench">\n')
        for s in range(0, len(lon), chunk):
            xs, ys = lon[s : s + chunk], lat[s : s + chunk]
            part = [
                f'  <node id="{i}" version="1" lat="{y}" lon="{x}"/>\n'
                for i, x, y in zip(range(s + 1, s + 1 + len(xs)), xs, ys, strict=True)
            ]
            fh.write("".join(part).encode())
        ids = (refs + 1).astype(str).tolist()
        off = offsets.tolist()
        tag = f'    <tag k="highway" v="{HIGHWAY}"/>\n  </way>\n'
        for s in range(0, len(off) - 1, chunk):
            part = []
            for k in range(s, min(s + chunk, len(off) - 1)):
                part.append(f'  <way id="{k + 1}" version="1">\n')
                part.extend(f'    <nd ref="{r}"/>\n' for r in ids[off[k] : off[k + 1]])
                part.append(tag)
            fh.write("".join(part).encode())
        fh.write(b"</osm>\n")


def write_synthetic_osm(
    path: str | os.PathLike[str], city: Any, *, seed: int = 0, max_way_nodes: int = 500
) -> dict[str, Any]:
    """Write ``city``'s street network to ``path`` (``.osm.pbf``, ``.osm``, ``.osm.bz2`` or ``.osm.gz``).

    ``seed`` is recorded only: the output is a deterministic function of the city. Returns
    counts (``nodes``, ``ways``, ``segments``), ``bytes`` and seconds (``project_s``,
    ``chain_s``, ``write_s``, ``seconds``).
    """
    path = Path(path)
    name = path.name.lower()
    if not name.endswith((".osm.pbf", ".osm", ".osm.bz2", ".osm.gz")):
        msg = f"{path}: use .osm.pbf, .osm, .osm.bz2 or .osm.gz"
        raise ValueError(msg)
    t0 = time.perf_counter()
    e7 = lonlat_e7(np.asarray(city.node_xy, float), city.crs)
    t1 = time.perf_counter()
    refs, offsets = chain_ways(city.node_xy, city.u, city.v, max_way_nodes=max_way_nodes)
    t2 = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.name[name.rindex(".osm") :]  # keeps the format for the writer
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{suffix}")
    try:
        (_write_pbf if _is_pbf(path) else _write_xml)(tmp, e7, refs, offsets)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    t3 = time.perf_counter()
    return {
        "path": str(path),
        "format": "pbf" if _is_pbf(path) else "xml",
        "nodes": len(e7),
        "ways": len(offsets) - 1,
        "segments": len(refs) - (len(offsets) - 1),
        "bytes": path.stat().st_size,
        "seed": seed,
        "project_s": round(t1 - t0, 2),
        "chain_s": round(t2 - t1, 2),
        "write_s": round(t3 - t2, 2),
        "seconds": round(t3 - t0, 2),
    }


if __name__ == "__main__":
    import argparse
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _synthetic import make_synthetic_city

    ap = argparse.ArgumentParser(description="write a synthetic city as OSM (timing)")
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--cells", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    k = int(np.ceil(np.sqrt(a.cells)))
    t = time.perf_counter()
    c = make_synthetic_city(n_nodes=int(k * k * 1.1), n_cells=k * k, n_facilities=4000, seed=a.seed)
    print(f"city: {c.n_nodes:,} nodes, {c.n_edges:,} edges in {time.perf_counter() - t:.1f} s")
    for p in a.paths:
        r = write_synthetic_osm(p, c, seed=a.seed)
        print(r, f"{r['nodes'] / r['seconds']:,.0f} nodes/s", f"{r['bytes'] / 2**20:.1f} MiB")
