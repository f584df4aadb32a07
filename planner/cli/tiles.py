"""``planner run --tiles``: coverage cut into tiles, run serially or on Dask, written as GeoParquet."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pandas as pd

from planner.cli.common import quiet, wrote
from planner.cli.format import format_summary
from planner.errors import PlannerError
from planner.io.write import RunFolder, write_partitioned_geoparquet
from planner.network import WalkNetwork
from planner.pipeline import kind_labels, relative_paths, study_record
from planner.scale.coverage import compute_coverage_tiled
from planner.scale.tiles import DEFAULT_MEMORY_BUDGET_MB
from planner.study import StudyArea


def tile_cache(out: Path) -> Path:
    """Where finished tiles and the street store are kept: beside the output folder, never in it,
    so a failed or interrupted run leaves the output folder as it was (and a rerun resumes)."""
    return out.parent / f".{out.name}.tiles"


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        msg = f"expected a whole number of workers, 1 or more; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return n


def add_tile_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--tiles``, ``--scheduler``, ``--workers`` and ``--memory-budget-mb`` to a subcommand.

    Parameters
    ----------
    p
        The ``run`` subparser.
    """
    g = p.add_argument_group("province scale (needs pip install 'planner[scale]' for Dask)")
    g.add_argument("--tiles", help="cut the area into tiles: a square grid side in metres (e.g. 5000) "
                   "or 'district' (one tile per district); results equal the untiled run")  # fmt: skip
    g.add_argument("--scheduler", default="local",
                   help="where tiles run: local (Dask LocalCluster, default), threads, serial, "
                   "or a Dask scheduler address such as tcp://10.0.0.5:8786")  # fmt: skip
    g.add_argument("--workers", type=_workers, default=2, help="workers of the local cluster (default 2)")
    g.add_argument("--memory-budget-mb", type=float, default=None,
                   help="estimated memory allowed per tile; bigger tiles are split (default 2048)")  # fmt: skip


def run_tiled(args: argparse.Namespace, study: StudyArea) -> int:
    """Run coverage by tiles and write ``summary.csv``, ``cells/`` (GeoParquet parts), ``tiles.csv``.

    Finished tiles are kept in ``.<out>.tiles`` beside the output folder; the same command again resumes.

    Parameters
    ----------
    args
        Parsed arguments of ``run`` with :func:`add_tile_arguments`.
    study
        The study, with the command line's overrides.

    Returns
    -------
    int
        The exit code.
    """
    mode, tile_m = _parse_tiles(args.tiles)
    _check_scheduler(args.scheduler)
    out = Path(args.out)
    run = RunFolder(out, lang=study.lang, kind_labels=kind_labels(study))
    population, facilities, districts = (
        study.read_population(),
        study.read_facilities(),
        study.read_districts(),
    )
    if mode == "district" and districts is None:
        msg = "--tiles district needs districts in the study (a [districts] table)."
        raise PlannerError(msg)
    streets: WalkNetwork | Path = study.network_path  # OSM files are streamed: no process holds them whole
    if study.network_path.name.lower().endswith(".graphml"):
        streets = WalkNetwork.from_osm_file(study.network_path, crs=study.crs, max_edge_m=study.max_edge_m)
    coverage = compute_coverage_tiled(
        streets, population, facilities, kinds=study.kinds, thresholds_min=study.thresholds_min,
        max_snap_m=study.max_snap_m, districts=districts, tiles=mode, tile_m=tile_m,
        memory_budget_mb=args.memory_budget_mb or DEFAULT_MEMORY_BUDGET_MB,
        scheduler=args.scheduler, n_workers=args.workers, work_dir=tile_cache(out),
        progress=not quiet(args), crs=study.crs, max_edge_m=study.max_edge_m,
    )  # fmt: skip
    params = dict(coverage.params)
    cell_tile, tile_ids, stats = params.pop("cell_tile"), params.pop("tile_ids"), params.pop("tile_stats")
    cells = coverage.to_geodataframe().reset_index()
    with run:
        run.table(coverage.summary(), "summary.csv")
        if districts is not None:
            run.table(coverage.summary(by="district"), "summary_by_district.csv")
        run.table(pd.DataFrame(stats), "tiles.csv")
        parts = write_partitioned_geoparquet(cells, [tile_ids[k] for k in cell_tile], run.folder("cells"))
        run.finish(relative_paths({"study": study_record(study, out), "coverage": params}, out))
    if not quiet(args):
        t = params["tiles"]
        print(f"{study.name}: {len(cells):,} cells in {t['count']} tiles (halo {t['halo_m']:.0f} m, "
              f"{t['resumed']} resumed) on scheduler {t['scheduler']}")  # fmt: skip
        if "streaming" in params:
            s = params["streaming"]
            print(f"streets streamed per tile from {study.network_path.name}; driver peak memory "
                  f"{s['driver_peak_rss_mb']:,.0f} MB, largest tile {max(x['nodes'] for x in stats):,} nodes")  # fmt: skip
        print(format_summary(coverage.summary()))
    wrote(args, run.written)
    if not quiet(args):
        print(f"cells: {len(parts)} GeoParquet parts")
    return 0


def _check_scheduler(scheduler: str) -> None:
    """Dask installed when needed; a scheduler name or a tcp:// address."""
    if scheduler in ("serial",):
        return
    if scheduler not in ("local", "threads") and "://" not in scheduler:
        msg = (
            f"--scheduler must be serial, threads, local or a Dask address such as tcp://10.0.0.5:8786; "
            f"got {scheduler!r}."
        )
        raise PlannerError(msg)
    if importlib.util.find_spec("distributed") is None:
        msg = f"--scheduler {scheduler} needs Dask: pip install 'planner[scale]' (or use --scheduler serial)."
        raise PlannerError(msg)


def _parse_tiles(text: str) -> tuple[str, float]:
    if text.strip().lower() in ("district", "districts"):
        return "district", 5000.0
    try:
        size = float(text)
    except ValueError:
        size = -1.0
    if not 0 < size < float("inf"):
        msg = f"--tiles must be 'district' or a tile side in metres such as 5000; got {text!r}."
        raise PlannerError(msg)
    return "grid", size
