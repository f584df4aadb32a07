"""``planner run --tiles``: coverage cut into tiles, run serially or on Dask, written as GeoParquet."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_scale_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--tiles``, ``--scheduler``, ``--workers`` and ``--memory-budget-mb`` to a subcommand.

    Parameters
    ----------
    p
        The ``run`` (or ``coverage``) subparser.
    """
    g = p.add_argument_group("province scale (needs pip install 'planner[scale]' for Dask)")
    g.add_argument("--tiles", help="cut the area into tiles: a square grid side in metres (e.g. 5000) "
                   "or 'district' (one tile per district); results equal the untiled run")  # fmt: skip
    g.add_argument("--scheduler", default="local",
                   help="where tiles run: local (Dask LocalCluster, default), threads, serial, "
                   "or a Dask scheduler address such as tcp://10.0.0.5:8786")  # fmt: skip
    g.add_argument("--workers", type=int, default=2, help="workers of the local cluster (default 2)")
    g.add_argument("--memory-budget-mb", type=float, default=None,
                   help="estimated memory allowed per tile; bigger tiles are split (default 2048)")  # fmt: skip


def run_tiled(args: argparse.Namespace) -> int:
    """Run coverage by tiles and write ``summary.csv``, ``cells/`` (GeoParquet parts), ``tiles.csv``.

    Finished tiles are kept in ``<out>/_tiles``; running the same command again resumes.

    Parameters
    ----------
    args
        Parsed arguments of ``run`` with :func:`add_scale_arguments`.

    Returns
    -------
    int
        The exit code.
    """
    from planner.cli import format_summary, load_inputs, load_tables
    from planner.errors import PlannerError
    from planner.outputs import write_run_record, write_table
    from planner.scale import DEFAULT_MEMORY_BUDGET_MB, compute_coverage_tiled, write_partitioned_geoparquet

    quiet = bool(getattr(args, "quiet", False))
    mode, tile_m = _parse_tiles(args.tiles)
    if args.scheduler != "serial":
        import importlib.util

        if importlib.util.find_spec("distributed") is None:
            msg = (
                f"--scheduler {args.scheduler} needs Dask: pip install 'planner[scale]' "
                "(or use --scheduler serial)."
            )
            raise PlannerError(msg)
    study, population, facilities, districts = load_tables(args)
    if mode == "district" and districts is None:
        msg = "--tiles district needs districts in the study (a [districts] table)."
        raise PlannerError(msg)
    streets: Any = study.network_path  # OSM files are streamed per tile: no process holds them whole
    if study.network_path.name.lower().endswith(".graphml"):
        _, streets, *_ = load_inputs(args)
    coverage = compute_coverage_tiled(
        streets, population, facilities, kinds=study.kinds, thresholds_min=study.thresholds_min,
        max_snap_m=study.max_snap_m, districts=districts, tiles=mode, tile_m=tile_m,
        memory_budget_mb=args.memory_budget_mb or DEFAULT_MEMORY_BUDGET_MB,
        scheduler=args.scheduler, n_workers=args.workers, work_dir=Path(args.out) / "_tiles",
        progress=not quiet, crs=study.crs, max_edge_m=study.max_edge_m,
    )  # fmt: skip
    out = Path(args.out)
    params: dict[str, Any] = dict(coverage.params)
    cell_tile, tile_ids, stats = params.pop("cell_tile"), params.pop("tile_ids"), params.pop("tile_stats")
    written = [write_table(coverage.summary(), out / "summary.csv")]
    if districts is not None:
        written.append(write_table(coverage.summary(by="district"), out / "summary_by_district.csv"))
    import pandas as pd

    written.append(write_table(pd.DataFrame(stats), out / "tiles.csv"))
    cells = coverage.to_geodataframe().reset_index()
    parts = write_partitioned_geoparquet(cells, [tile_ids[k] for k in cell_tile], out / "cells")
    record = {
        "study": {"name": study.name, "network": str(study.network_path),
                  "population": str(study.population_path), "facilities": str(study.facilities_path),
                  "districts": str(study.districts_path or "")},
        "coverage": {k: (dict(v) if isinstance(v, dict) else v) for k, v in params.items()},
    }  # fmt: skip
    written.append(write_run_record(record, out / "run.toml"))
    if not quiet:
        t = params["tiles"]
        print(f"{study.name}: {len(cells):,} cells in {t['count']} tiles (halo {t['halo_m']:.0f} m, "
              f"{t['resumed']} resumed) on scheduler {t['scheduler']}")  # fmt: skip
        if "streaming" in params:
            s = params["streaming"]
            print(f"streets streamed per tile from {study.network_path.name}; driver peak memory "
                  f"{s['driver_peak_rss_mb']:,.0f} MB, largest tile {max(x['nodes'] for x in stats):,} nodes")  # fmt: skip
        print(format_summary(coverage.summary()))
        print("wrote " + ", ".join(str(p) for p in written) + f", {out / 'cells'} ({len(parts)} parts)")
    return 0


def _parse_tiles(text: str) -> tuple[str, float]:
    from planner.errors import PlannerError

    if text.strip().lower() in ("district", "districts"):
        return "district", 5000.0
    try:
        size = float(text)
    except ValueError:
        size = -1.0
    if not size > 0:
        msg = f"--tiles must be 'district' or a tile side in metres such as 5000; got {text!r}."
        raise PlannerError(msg)
    return "grid", size
