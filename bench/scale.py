"""Province-scale benchmark: tiled coverage on a Dask LocalCluster vs one process, same answer.

A synthetic area (``_synthetic.py``: perturbed street grid, 100 m population cells) of at
least 2 million cells is measured twice, each in its own child process so that peak memory
(``ru_maxrss``) is that run's alone:

  single   planner.compute_coverage in one process (where it fits)
  tiled    planner.scale.compute_coverage_tiled, tiles as Dask tasks on a LocalCluster of
           ``--workers`` worker processes (1 thread each); peak RSS is reported per worker

The parent compares the per-cell minutes and nearest facility ids of the two runs (they
must be identical) and prints one table.

Run from the repo root (needs ``pip install -e ".[scale]"``)::

    python bench/scale.py                        # 2.0 M cells, ~5 M nodes after 50 m splits
    python bench/scale.py --cells 200000 --tile-m 5000    # a quick look
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


def _case(cells: int, facilities: int, seed: int):
    import geopandas as gpd
    import pandas as pd
    from _synthetic import make_synthetic_city

    import planner as pl
    from planner.kinds import FacilityKind

    k = int(np.ceil(np.sqrt(cells)))
    city = make_synthetic_city(n_nodes=int(k * k * 1.1), n_cells=k * k, n_facilities=facilities, seed=seed)
    net = pl.WalkNetwork.from_edges(
        city.node_xy, city.u, city.v, city.length_m, crs=city.crs, max_edge_m=50.0
    )
    pop = gpd.GeoDataFrame({"population": city.cell_pop}, index=pd.Index(city.cell_id, name="cell_id"),
                           geometry=gpd.points_from_xy(*city.cell_xy.T), crs=city.crs)  # fmt: skip
    fac = gpd.GeoDataFrame({"kind": city.facility_kind},
                           index=pd.Index([f"f{i}" for i in range(len(city.facility_xy))], name="facility_id"),
                           geometry=gpd.points_from_xy(*city.facility_xy.T), crs=city.crs)  # fmt: skip
    kinds = {name: FacilityKind(name, "population", threshold_min=15, speed_kmh=4.5)
             for name in ("nursery", "eldercare", "community_centre")}  # fmt: skip
    return net, pop, fac, kinds


def _child(mode: str, a: argparse.Namespace, out: Path) -> None:
    import warnings

    import planner as pl
    from planner.scale import compute_coverage_tiled

    warnings.simplefilter("ignore", UserWarning)  # a few far cells: reported, not a bench concern
    t0 = time.perf_counter()
    net, pop, fac, kinds = _case(a.cells, a.facilities, a.seed)
    t_case = time.perf_counter() - t0
    kw = {"kinds": kinds, "thresholds_min": (5, 10, 15), "max_snap_m": 300.0}
    t0 = time.perf_counter()
    if mode == "single":
        cov = pl.compute_coverage(net, pop, fac, **kw)
        extra: dict = {}
    else:
        cov = compute_coverage_tiled(net, pop, fac, tile_m=a.tile_m, scheduler="local", n_workers=a.workers,
                                     memory_budget_mb=a.budget_mb, **kw)  # fmt: skip
        stats = cov.params["tile_stats"]
        per_worker: dict[int, dict] = {}
        for s in stats:
            w = per_worker.setdefault(s["pid"], {"tiles": 0, "seconds": 0.0, "peak_rss_mb": 0.0})
            w["tiles"] += 1
            w["seconds"] += s["seconds"]
            w["peak_rss_mb"] = max(w["peak_rss_mb"], s["peak_rss_mb"])
        extra = {"tiles": cov.params["tiles"], "workers": list(per_worker.values()),
                 "max_tile_nodes": max(s["nodes"] for s in stats),
                 "max_tile_cells": max(s["cells"] for s in stats)}  # fmt: skip
    seconds = time.perf_counter() - t0
    ids = {f: i for i, f in enumerate(cov.facilities.index)}
    np.savez(
        out / f"{mode}.npz",
        **{f"minutes_{k}": cov.minutes[k].to_numpy() for k in kinds},
        **{f"nearest_{k}": np.array([ids.get(x, -1) for x in cov.nearest[k]]) for k in kinds},
    )
    info = {"mode": mode, "case_s": round(t_case, 1), "seconds": round(seconds, 1),
            "driver_peak_rss_mb": round(_peak_rss_mb()), "nodes": net.n_nodes, "cells": len(pop),
            "facilities": len(fac), "share_15": {k: round(cov.share(k, 15), 4) for k in kinds}, **extra}  # fmt: skip
    (out / f"{mode}.json").write_text(json.dumps(info))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", type=int, default=2_000_000)
    p.add_argument("--facilities", type=int, default=4000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tile-m", type=float, default=10_000.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--budget-mb", type=float, default=2048.0)
    p.add_argument("--skip-single", action="store_true", help="only the tiled run")
    p.add_argument("--child", choices=("single", "tiled"), help=argparse.SUPPRESS)
    p.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        _child(a.child, a, a.dir)
        return
    with tempfile.TemporaryDirectory() as tmp:
        modes = ["tiled"] if a.skip_single else ["single", "tiled"]
        for mode in modes:
            cmd = [sys.executable, __file__, "--child", mode, "--dir", tmp, *sys.argv[1:]]
            subprocess.run(cmd, check=True)
        res = {m: json.loads((Path(tmp) / f"{m}.json").read_text()) for m in modes}
        same = None
        if len(modes) == 2:
            a_, b_ = (np.load(Path(tmp) / f"{m}.npz") for m in modes)
            same = all(np.array_equal(a_[k], b_[k]) for k in a_.files)
    t = res["tiled"]
    print(f"\ncase: {t['cells']:,} cells, {t['nodes']:,} nodes (after 50 m splits), {t['facilities']:,} "
          f"facilities, 3 kinds x 15 min at 4.5 km/h, snap 300 m; machine: 2 cores")  # fmt: skip
    print(f"tiles: {t['tiles']['count']} of {a.tile_m:g} m, halo {t['tiles']['halo_m']:.0f} m, largest tile "
          f"{t['max_tile_nodes']:,} nodes / {t['max_tile_cells']:,} cells")  # fmt: skip
    print(f"{'run':<28}{'seconds':>10}{'peak RSS MB':>14}")
    if "single" in res:
        s = res["single"]
        print(f"{'single process':<28}{s['seconds']:>10.1f}{s['driver_peak_rss_mb']:>14,}")
    print(f"{'tiled: driver':<28}{t['seconds']:>10.1f}{t['driver_peak_rss_mb']:>14,}")
    for i, w in enumerate(t["workers"]):
        label = f"  worker {i} ({w['tiles']} tiles)"
        print(f"{label:<28}{w['seconds']:>10.1f}{w['peak_rss_mb']:>14,.0f}")
    print(f"(case generation, not timed above: {t['case_s']} s per run)")
    if same is not None:
        print(f"per-cell minutes and nearest ids identical to the single process: {same}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
