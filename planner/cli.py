"""The ``planner`` command line: the same pipeline as the notebooks, one command per step."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from planner.coverage import Coverage, compute_coverage
from planner.errors import PlannerError
from planner.inputs import apply_age_shares, read_districts, read_facilities, read_population
from planner.kinds import DEFAULT_KINDS, FacilityKind
from planner.network import WalkNetwork
from planner.outputs import write_layer, write_run_record, write_table
from planner.study import StudyArea

logger = logging.getLogger("planner")


# ---------------------------------------------------------------------- shared helpers
def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        msg = f"expected comma-separated numbers like 5,10,15; got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not values or min(values) <= 0:
        msg = f"expected positive numbers; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return values


def _shares(text: str) -> dict[str, float]:
    out = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            msg = f"expected column=share pairs like age_60_plus=0.25,age_0_3=0.03; got {text!r}"
            raise argparse.ArgumentTypeError(msg) from None
    return out


class _Steps:
    """A progress bar over pipeline steps, on a terminal only."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="step", leave=False)

    def step(self, text: str) -> None:
        logger.info(text)
        if self.bar is not None:
            self.bar.set_description(text)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def add_study_arguments(p: argparse.ArgumentParser, *, study_required: bool = False) -> None:
    """Inputs shared by the commands that load a study: --study or the three files."""
    if study_required:
        p.add_argument("study", type=Path, help="study.toml describing the analysis")
    else:
        p.add_argument("--study", type=Path, help="study.toml giving kinds, shares and defaults")
    p.add_argument("--network", type=Path, help="walk network: .osm, .osm.bz2, .osm.pbf (needs pyosmium) or .graphml")
    p.add_argument("--population", type=Path, help="population grid (gpkg/geojson/parquet/csv)")
    p.add_argument("--facilities", type=Path, help="facilities (csv lon/lat, geojson, gpkg, parquet)")
    p.add_argument("--minutes", type=_floats, help="thresholds in minutes, e.g. 5,10,15")
    p.add_argument("--speed-kmh", type=float, help="walking speed for every kind (km/h)")
    p.add_argument("--kinds", help="comma-separated kinds to measure (default: all)")
    p.add_argument("--kind-column", help="facilities column holding the kind (default 'kind')")
    p.add_argument("--age-shares", type=_shares, help="e.g. age_60_plus=0.25,age_0_3=0.03,age_0_17=0.16")
    p.add_argument("--max-snap-m", type=float, help="farthest a point may be from a street (m)")
    p.add_argument("--assume-crs", help="CRS for input files that declare none, e.g. EPSG:4326")
    p.add_argument("--coord-system", help="datum of facility (and lon/lat population table) coordinates: "
                   "wgs84, cgcs2000, gcj02 (Amap/Tencent), bd09 (Baidu) or an EPSG code")
    p.add_argument("--encoding", help="text encoding of CSV/shapefile inputs, e.g. gbk "
                   "(default: UTF-8, else GBK; shapefiles honour .cpg)")
    p.add_argument("--lon-col", help="longitude column of CSV/Excel inputs (e.g. 经度)")
    p.add_argument("--lat-col", help="latitude column of CSV/Excel inputs (e.g. 纬度)")
    p.add_argument("--name-col", help="facilities column holding the name (e.g. 名称)")
    p.add_argument("--cache-dir", type=Path, help="network cache folder")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the network cache")


def load_inputs(args: argparse.Namespace) -> tuple[StudyArea, WalkNetwork, Any, Any, Any]:
    """Resolve the study from --study and overrides; read network, population, facilities."""
    study, population, facilities, districts = load_tables(args)
    network = WalkNetwork.from_osm_file(
        study.network_path, crs=study.crs, max_edge_m=study.max_edge_m,
        cache_dir=study.cache_dir, use_cache=not args.no_cache,
    )  # fmt: skip
    return study, network, population, facilities, districts


def load_tables(args: argparse.Namespace) -> tuple[StudyArea, Any, Any, Any]:
    """:func:`load_inputs` without the network: the study, population, facilities, districts."""
    study_path = getattr(args, "study", None)
    if study_path is not None:
        study = StudyArea.from_toml(study_path)
    else:
        missing = [f"--{n}" for n in ("network", "population", "facilities") if getattr(args, n) is None]
        if missing:
            msg = f"give --study study.toml, or all of --network, --population, --facilities (missing {', '.join(missing)})."
            raise PlannerError(msg)
        study = StudyArea(name="planner", network_path=args.network, population_path=args.population,
                          facilities_path=args.facilities)  # fmt: skip
    changes: dict[str, Any] = {}
    for name in ("network", "population", "facilities"):
        if getattr(args, name) is not None:
            changes[f"{name}_path"] = getattr(args, name)
    if args.minutes:
        changes["thresholds_min"] = tuple(args.minutes)
    if args.max_snap_m is not None:
        changes["max_snap_m"] = args.max_snap_m
    if args.cache_dir is not None:
        changes["cache_dir"] = args.cache_dir
    base_kinds = dict(study.kinds)
    kinds: dict[str, FacilityKind] = dict(base_kinds)
    if args.kinds:
        wanted = [k.strip() for k in args.kinds.split(",") if k.strip()]
        unknown = [k for k in wanted if k not in kinds]
        if unknown:
            msg = f"--kinds: unknown kind(s) {unknown}; known: {list(kinds)}."
            raise PlannerError(msg)
        kinds = {k: kinds[k] for k in wanted}
    if args.speed_kmh is not None:
        kinds = {k: replace(v, speed_kmh=args.speed_kmh) for k, v in kinds.items()}
    changes["kinds"] = kinds
    if args.age_shares:
        changes["age_shares"] = {**(study.age_shares or {}), **args.age_shares}
        changes["age_source"] = "--age-shares"
    fac_opts = dict(study.facilities_options)
    pop_opts = dict(study.population_options)
    if args.kind_column:
        fac_opts["kind_column"] = args.kind_column
    if args.assume_crs:
        fac_opts["assume_crs"] = pop_opts["assume_crs"] = args.assume_crs
    if args.coord_system:
        fac_opts["coord_system"] = args.coord_system
        # a projected grid has its own CRS; the datum applies to lon/lat tables only
        if Path(changes.get("population_path", study.population_path)).suffix.lower() in (".csv", ".txt", ".xlsx"):
            pop_opts["coord_system"] = args.coord_system
    if args.encoding:
        fac_opts["encoding"] = pop_opts["encoding"] = args.encoding
    if args.lon_col:
        fac_opts["lon_column"] = pop_opts["lon_column"] = args.lon_col
    if args.lat_col:
        fac_opts["lat_column"] = pop_opts["lat_column"] = args.lat_col
    if args.name_col:
        fac_opts["name_column"] = args.name_col
    changes["facilities_options"], changes["population_options"] = fac_opts, pop_opts
    study = replace(study, **changes)

    population = read_population(study.population_path, **study.population_options)
    if study.age_shares:
        population = apply_age_shares(population, study.age_shares, source=study.age_source or "study")
    facilities = read_facilities(study.facilities_path, **study.facilities_options)
    # facilities of known kinds not selected with --kinds are left out on purpose
    unselected = (set(base_kinds) | set(DEFAULT_KINDS)) - set(kinds)
    facilities = facilities[~facilities["kind"].isin(sorted(unselected))]
    districts = read_districts(study.districts_path, **study.districts_options) if study.districts_path else None
    return study, population, facilities, districts


def format_summary(summary: pd.DataFrame) -> str:
    """Shares per kind (rows) and threshold (columns), with people counts, for the terminal."""
    rows = []
    for kind, g in summary.groupby("kind", sort=False):
        first = g.iloc[0]
        row: dict[str, Any] = {
            "kind": kind,
            "target": first["target_column"],
            "people": f"{first['total']:,.0f}",
            "facilities": int(first["facilities"]),
            "km/h": f"{first['speed_kmh']:g}",
        }
        for _, r in g.iterrows():
            row[f"≤{r['minutes']:g} min"] = f"{100 * r['share']:.1f}%" if pd.notna(r["share"]) else "-"
        last = g.iloc[-1]
        row[f"straight ≤{last['minutes']:g}"] = (
            f"{100 * last['share_straight']:.1f}%" if pd.notna(last["share_straight"]) else "-"
        )
        rows.append(row)
    return pd.DataFrame(rows).to_string(index=False)


def format_districts(coverage: Coverage) -> str:
    """Districts (rows) × kinds (columns): share within the kind's own threshold, and facility count."""
    by = coverage.summary(by="district")
    parts = []
    for name, kind in coverage.kinds.items():
        rows = by[(by["kind"] == name) & (by["minutes"] == kind.threshold_min)]
        if rows.empty:  # the kind's threshold is not among the reported ones: use the largest
            rows = by[(by["kind"] == name) & (by["minutes"] == by["minutes"].max())]
        cell = [f"{100 * s:.0f}% ({n})" if pd.notna(s) else "-" for s, n in zip(rows["share"], rows["facilities"], strict=True)]
        parts.append(pd.Series(cell, index=rows["district"].to_numpy(), name=name))
    return pd.concat(parts, axis=1).to_string()


def write_coverage_outputs(coverage: Coverage, out: Path, study: StudyArea, *, by_district: bool) -> list[Path]:
    """Write summary.csv, cells.gpkg (and summary_by_district.csv) and run.toml into ``out``."""
    summary = coverage.summary()
    by = coverage.summary(by="district") if by_district else None
    cells = coverage.to_geodataframe().reset_index()
    written = [write_table(summary, out / "summary.csv")]
    if by is not None:
        written.append(write_table(by, out / "summary_by_district.csv"))
    written.append(write_layer(cells, out / "cells.gpkg", layer="cells"))
    record = {
        "study": {
            "name": study.name,
            "network": str(study.network_path),
            "population": str(study.population_path),
            "facilities": str(study.facilities_path),
            "districts": str(study.districts_path or ""),
            "age_source": coverage.params.get("age_source", ""),
        },
        "coverage": {k: (dict(v) if isinstance(v, dict) else v) for k, v in coverage.params.items()},
    }
    written.append(write_run_record(record, out / "run.toml"))
    return written


# ---------------------------------------------------------------------- commands
def _cmd_coverage(args: argparse.Namespace) -> int:
    if getattr(args, "tiles", None):
        from planner._cli_scale import run_tiled

        return run_tiled(args)
    steps = _Steps(3, enabled=not args.quiet)
    try:
        steps.step("reading inputs")
        study, network, population, facilities, districts = load_inputs(args)
        steps.step("computing coverage")
        coverage = compute_coverage(
            network, population, facilities, kinds=study.kinds, thresholds_min=study.thresholds_min,
            max_snap_m=study.max_snap_m, districts=districts, progress=not args.quiet,
        )  # fmt: skip
        steps.step("writing outputs")
        written = write_coverage_outputs(coverage, args.out, study, by_district=districts is not None)
    finally:
        steps.close()
    if not args.quiet:
        print(f"{study.name}: share of each kind's target population within walking time")
        print(f"network {network.n_nodes:,} nodes; {len(population):,} cells; "
              f"snap limit {study.max_snap_m:g} m; age groups: {coverage.params['age_source']}")  # fmt: skip
        print(format_summary(coverage.summary()))
        if districts is not None:
            print("\nper district: share within each kind's threshold (facilities in the district)")
            print(format_districts(coverage))
    from planner._cli_site import run_siting_from_study

    # the study's [siting] table, if any: where the next facilities should go
    written += run_siting_from_study(study, network, population, facilities, districts, args.out,
                                     study_path=getattr(args, "study", None), echo=not args.quiet)  # fmt: skip
    if not args.quiet:
        print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _cmd_demand(args: argparse.Namespace) -> int:
    import geopandas as gpd

    from planner.demand import grid_from_points, spread_population
    from planner.inputs import age_shares_from_census, read_boundary

    units = read_boundary(args.units, assume_crs=args.assume_crs)
    targets = read_boundary(args.buildings, assume_crs=args.assume_crs)
    shares: dict[str, float | str] = dict(args.age_shares or {})
    if args.census:
        if args.code_column not in units.columns:
            msg = f"units ({args.units}) have no column {args.code_column!r} to look up in {args.census}."
            raise PlannerError(msg)
        table = [age_shares_from_census(args.census, code) for code in units[args.code_column]]
        for col in table[0]:
            units[f"_share_{col}"] = [row[col] for row in table]
            shares[col] = f"_share_{col}"
    spread = spread_population(units, targets, total_column=args.total_column, unit_column=args.unit_column,
                               weight_column=args.weight_column, shares=shares or None)  # fmt: skip
    metric = spread.crs if spread.crs.is_projected else spread.estimate_utm_crs()
    grid = grid_from_points(gpd.GeoDataFrame(spread, crs=spread.crs).to_crs(metric), cell_m=args.cell_m)
    path = write_layer(grid.reset_index(), args.out, layer="population")
    if not args.quiet:
        print(f"spread {spread['population'].sum():,.0f} people of {len(units)} units over "
              f"{int((spread['population'] > 0).sum()):,} buildings/cells into {len(grid):,} cells of "
              f"{args.cell_m:g} m; {spread.attrs.get('age_source') or 'no age groups'}")  # fmt: skip
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="planner",
        description="Walking coverage of community facilities, and where the next ones should go.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log lines (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("coverage", help="walking coverage from explicit files (or --study)")
    add_study_arguments(p)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=_cmd_coverage)

    p = sub.add_parser("run", help="coverage for a study.toml (reproducible analysis)")
    add_study_arguments(p, study_required=True)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    from planner._cli_scale import add_scale_arguments

    add_scale_arguments(p)  # --tiles/--scheduler: partitioned runs (Dask)
    p.set_defaults(func=_cmd_coverage)

    p = sub.add_parser("demand", help="population grid from census totals spread over buildings (dasymetric)")
    p.add_argument("--units", type=Path, required=True, help="polygons with a total per unit (districts/counties)")
    p.add_argument("--buildings", type=Path, required=True, help="residential buildings or cells to spread over")
    p.add_argument("--unit-column", default="name", help="unit name/code column (default 'name')")
    p.add_argument("--total-column", default="population", help="residents per unit (default 'population')")
    p.add_argument("--weight-column", help="weight per building, e.g. floor area (default: footprint area)")
    p.add_argument("--age-shares", type=_shares, help="shares for every unit, e.g. age_60_plus=0.25")
    p.add_argument("--census", type=Path, help="census table with CODE and AGES_* shares (china_census_2020 form)")
    p.add_argument("--code-column", default="code", help="units column with the census CODE (default 'code')")
    p.add_argument("--cell-m", type=float, default=100.0, help="grid cell size in metres (default 100)")
    p.add_argument("--assume-crs", help="CRS for input files that declare none")
    p.add_argument("--out", type=Path, required=True, help="output grid (.gpkg, .parquet or .geojson)")
    p.set_defaults(func=_cmd_demand)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


def _extra_commands() -> list[Callable[[Any], None]]:
    """Subcommands that live in their own modules (site, map, targets)."""
    from planner._cli_map import add_map_command
    from planner._cli_site import add_site_command
    from planner._cli_targets import add_targets_command

    found: list[Callable[[Any], None]] = [add_site_command, add_targets_command, add_map_command]
    return found


_EXTRA_COMMANDS = _extra_commands()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for bad input, with a one-line message)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING
    if args.quiet:
        level = logging.ERROR
    elif args.verbose >= 2:
        level = logging.DEBUG
    elif args.verbose == 1:
        level = logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.captureWarnings(True)
    if level > logging.INFO:  # Dask logs each worker's start and stop at INFO; read when it loads
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", logging.getLevelName(max(level, logging.WARNING)).lower())
    try:
        return int(args.func(args))
    except PlannerError as exc:
        print(f"planner: error: {exc}", file=sys.stderr)
        return 2
    except (PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        print(f"planner: error: cannot write or read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("planner: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
