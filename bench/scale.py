"""Province-scale benchmark: tiled coverage on a Dask LocalCluster vs one process, same answer.

A synthetic area (``_synthetic.py``: perturbed street grid, 100 m population cells) of at
least 2 million cells is measured twice, each in its own child process so that peak memory
(``ru_maxrss``) is that run's alone. Two modes:

In-memory network (default): every child generates the city and builds the whole
``WalkNetwork.from_edges`` (the city's own detour lengths):

  single   planner.compute_coverage in one process (where it fits)
  tiled    planner.scale.compute_coverage_tiled, tiles as Dask tasks on a LocalCluster of
           ``--workers`` worker processes (1 thread each); peak RSS is reported per worker

Streaming from an OSM file (``--from-osm``): a first child writes the city's streets once to
``<tmp>/city.osm.pbf`` (``_synthetic_osm.py``: ways chained from the edges, coordinates
rounded to OSM's 7 decimals, lengths recomputed by the reader as haversine metres, so the
numbers differ a little from the in-memory mode) and the cells and facilities to GeoParquet;
the children read those, so no child builds the network unless it has to:

  single-osm  WalkNetwork.from_osm_file(path, crs=..., use_cache=False), then
              planner.compute_coverage (the reference; its seconds include reading the file)
  tiled-osm   planner.scale.compute_coverage_tiled(path, ..., crs=...): the path switches it to
              streaming, so the driver never holds the whole network and every tile reads its
              own streets from the file; driver-side timings (``params["streaming"]``) are
              printed as reported

The parent compares the per-cell minutes and nearest facility ids of the two runs (they
must be identical; exit status 1 if not) and prints one table.

Run from the repo root (needs ``pip install -e ".[scale]"``; ``--from-osm`` also pyosmium)::

    python bench/scale.py                        # 2.0 M cells, ~5 M nodes after 50 m splits
    python bench/scale.py --cells 200000 --tile-m 5000    # a quick look
    python bench/scale.py --from-osm             # streaming: 2.0 M cells from city.osm.pbf
    python bench/scale.py --from-osm --cells 200000 --tile-m 5000
    python bench/scale.py --from-osm --osm-format osm.bz2 # XML instead of PBF
    python bench/scale.py --from-osm --skip-single        # only the streaming tiled run
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _city(cells: int, facilities: int, seed: int):
    from _synthetic import make_synthetic_city

    k = int(np.ceil(np.sqrt(cells)))
    return make_synthetic_city(n_nodes=int(k * k * 1.1), n_cells=k * k, n_facilities=facilities, seed=seed)


def _kinds() -> dict:
    from planner.kinds import FacilityKind

    return {name: FacilityKind(name, "population", threshold_min=15, speed_kmh=4.5)
            for name in ("nursery", "eldercare", "community_centre")}  # fmt: skip


def _case(cells: int, facilities: int, seed: int, *, network: bool = True):
    """``(net, pop, fac, kinds)``; with ``network=False``, ``(city, pop, fac, kinds)`` (no WalkNetwork)."""
    from _synthetic_osm import city_frames

    import planner as pl

    city = _city(cells, facilities, seed)
    pop, fac = city_frames(city)
    if not network:
        return city, pop, fac, _kinds()
    net = pl.WalkNetwork.from_edges(
        city.node_xy, city.u, city.v, city.length_m, crs=city.crs, max_edge_m=50.0
    )
    return net, pop, fac, _kinds()


def _write_osm_case(a: argparse.Namespace, tmp: Path) -> dict:
    """``--from-osm``, once: the city's streets to ``tmp/city.<fmt>``, cells and facilities to parquet."""
    from _synthetic_osm import write_synthetic_osm

    t0 = time.perf_counter()
    city, pop, fac, _ = _case(a.cells, a.facilities, a.seed, network=False)
    case_s = time.perf_counter() - t0
    info = write_synthetic_osm(tmp / f"city.{a.osm_format}", city, seed=a.seed)
    info.update(crs=city.crs, case_s=round(case_s, 1), city_nodes=city.n_nodes, city_edges=city.n_edges)
    pop.to_parquet(tmp / "pop.parquet")
    fac.to_parquet(tmp / "fac.parquet")
    (tmp / "osm.json").write_text(json.dumps(info))
    return info


def _tile_extra(cov) -> dict:
    stats = cov.params["tile_stats"]
    per_worker: dict[int, dict] = {}
    for s in stats:
        w = per_worker.setdefault(s["pid"], {"tiles": 0, "seconds": 0.0, "peak_rss_mb": 0.0})
        w["tiles"] += 1
        w["seconds"] += s["seconds"]
        w["peak_rss_mb"] = max(w["peak_rss_mb"], s["peak_rss_mb"])
    return {"tiles": cov.params["tiles"], "workers": list(per_worker.values()),
            "max_tile_nodes": max(s["nodes"] for s in stats),
            "max_tile_cells": max(s["cells"] for s in stats)}  # fmt: skip


def _child(mode: str, a: argparse.Namespace, out: Path) -> None:
    import warnings

    import planner as pl
    from planner.scale import compute_coverage_tiled

    warnings.simplefilter("ignore", UserWarning)  # a few far cells: reported, not a bench concern
    t0 = time.perf_counter()
    if mode.endswith("-osm"):
        import geopandas as gpd

        osm = json.loads((out / "osm.json").read_text())
        path, crs = Path(osm["path"]), osm["crs"]
        pop, fac = gpd.read_parquet(out / "pop.parquet"), gpd.read_parquet(out / "fac.parquet")
        kinds, net = _kinds(), None
    else:
        net, pop, fac, kinds = _case(a.cells, a.facilities, a.seed)
    t_case = time.perf_counter() - t0
    kw = {"kinds": kinds, "thresholds_min": (5, 10, 15), "max_snap_m": 300.0}
    tiled_kw = {
        "tile_m": a.tile_m,
        "scheduler": "local",
        "n_workers": a.workers,
        "memory_budget_mb": a.budget_mb,
    }
    extra: dict = {}
    t0 = time.perf_counter()
    if mode == "single":
        cov = pl.compute_coverage(net, pop, fac, **kw)
    elif mode == "tiled":
        cov = compute_coverage_tiled(net, pop, fac, **tiled_kw, **kw)
        extra = _tile_extra(cov)
    elif mode == "single-osm":
        net = pl.WalkNetwork.from_osm_file(path, crs=crs, use_cache=False)
        extra = {"read_s": round(time.perf_counter() - t0, 1)}
        cov = pl.compute_coverage(net, pop, fac, **kw)
    else:  # tiled-osm: the path switches compute_coverage_tiled to streaming
        cov = compute_coverage_tiled(path, pop, fac, crs=crs, work_dir=out / "work", **tiled_kw, **kw)
        extra = {**_tile_extra(cov), "streaming": cov.params.get("streaming")}
    seconds = time.perf_counter() - t0
    ids = {f: i for i, f in enumerate(cov.facilities.index)}
    np.savez(
        out / f"{mode}.npz",
        **{f"minutes_{k}": cov.minutes[k].to_numpy() for k in kinds},
        **{f"nearest_{k}": np.array([ids.get(x, -1) for x in cov.nearest[k]]) for k in kinds},
    )
    info = {"mode": mode, "case_s": round(t_case, 1), "seconds": round(seconds, 1),
            "driver_peak_rss_mb": round(_peak_rss_mb()), "nodes": None if net is None else net.n_nodes,
            "cells": len(pop), "facilities": len(fac),
            "share_15": {k: round(cov.share(k, 15), 4) for k in kinds}, **extra}  # fmt: skip
    (out / f"{mode}.json").write_text(json.dumps(info, default=str))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", type=int, default=2_000_000)
    p.add_argument("--facilities", type=int, default=4000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tile-m", type=float, default=10_000.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--budget-mb", type=float, default=2048.0)
    p.add_argument("--skip-single", action="store_true", help="only the tiled run")
    p.add_argument("--from-osm", action="store_true",
                   help="streaming mode: write the city as an OSM file, run single-osm and tiled-osm")  # fmt: skip
    p.add_argument("--osm-format", choices=("osm.pbf", "osm", "osm.bz2"), default="osm.pbf",
                   help="file written by --from-osm (default osm.pbf)")  # fmt: skip
    p.add_argument(
        "--child", choices=("single", "tiled", "single-osm", "tiled-osm", "write-osm"), help=argparse.SUPPRESS
    )
    p.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child == "write-osm":
        _write_osm_case(a, a.dir)
        return
    if a.child:
        _child(a.child, a, a.dir)
        return
    osm = None
    with tempfile.TemporaryDirectory() as tmp:
        if a.from_osm:  # in a child too, so that the parent holds nothing while the runs are measured
            cmd = [sys.executable, __file__, "--child", "write-osm", "--dir", tmp, *sys.argv[1:]]
            subprocess.run(cmd, check=True)
            osm = json.loads((Path(tmp) / "osm.json").read_text())
            print(f"wrote {osm['path']}: {osm['nodes']:,} nodes, {osm['ways']:,} ways, {osm['segments']:,} "
                  f"segments, {osm['bytes'] / 2**20:,.1f} MiB in {osm['seconds']:.1f} s "
                  f"({osm['nodes'] / max(osm['seconds'], 1e-9):,.0f} nodes/s)", flush=True)  # fmt: skip
            modes = ["single-osm", "tiled-osm"]
        else:
            modes = ["single", "tiled"]
        if a.skip_single:
            modes = modes[1:]
        for mode in modes:
            cmd = [sys.executable, __file__, "--child", mode, "--dir", tmp, *sys.argv[1:]]
            subprocess.run(cmd, check=True)
        res = {m: json.loads((Path(tmp) / f"{m}.json").read_text()) for m in modes}
        same = None
        if len(modes) == 2:
            a_, b_ = (np.load(Path(tmp) / f"{m}.npz") for m in modes)
            same = all(np.array_equal(a_[k], b_[k]) for k in a_.files)
    single, t = (res.get(modes[0]) if len(modes) == 2 else None), res[modes[-1]]
    nodes = t["nodes"] or (single or {}).get("nodes") or (t.get("streaming") or {}).get("nodes")
    nodes_s = f"{nodes:,}" if isinstance(nodes, int) else "?"
    print(f"\ncase: {t['cells']:,} cells, {nodes_s} nodes (after 50 m splits), {t['facilities']:,} "
          f"facilities, 3 kinds x 15 min at 4.5 km/h, snap 300 m; machine: 2 cores")  # fmt: skip
    if osm is not None:
        print(f"network: {osm['path'].rsplit('/', 1)[-1]}, {osm['nodes']:,} OSM nodes, {osm['ways']:,} ways, "
              f"{osm['bytes'] / 2**20:,.1f} MiB; streets read from the file in every run")  # fmt: skip
    print(f"tiles: {t['tiles']['count']} of {a.tile_m:g} m, halo {t['tiles']['halo_m']:.0f} m, largest tile "
          f"{t['max_tile_nodes']:,} nodes / {t['max_tile_cells']:,} cells")  # fmt: skip
    print(f"{'run':<28}{'seconds':>10}{'peak RSS MB':>14}")
    if osm is not None:
        print(f"{'write OSM file':<28}{osm['seconds']:>10.1f}{'':>14}")
    if single is not None:
        label = "single process" + (f" (read {single['read_s']} s)" if "read_s" in single else "")
        print(f"{label:<28}{single['seconds']:>10.1f}{single['driver_peak_rss_mb']:>14,}")
    print(f"{'tiled: driver':<28}{t['seconds']:>10.1f}{t['driver_peak_rss_mb']:>14,}")
    for i, w in enumerate(t["workers"]):
        label = f"  worker {i} ({w['tiles']} tiles)"
        print(f"{label:<28}{w['seconds']:>10.1f}{w['peak_rss_mb']:>14,.0f}")
    if t.get("streaming"):
        print(f"streaming (driver): {t['streaming']}")
    print(f"(case generation / loading, not timed above: {t['case_s']} s per run)")
    if same is not None:
        print(f"per-cell minutes and nearest ids identical to the single process: {same}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
