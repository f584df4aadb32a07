"""``planner demand``: a population grid from census totals spread over buildings (dasymetric)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import geopandas as gpd

from planner._validate import metric_crs_problem
from planner.cli.common import echo, positive, shares
from planner.errors import PlannerError
from planner.io.boundaries import read_boundary
from planner.io.write import write_layer
from planner.population import age_shares_from_census, grid_from_points, spread_population


def register(subparsers: Any) -> None:
    """Add ``demand`` to the CLI's subparsers.

    Parameters
    ----------
    subparsers
        What ``ArgumentParser.add_subparsers()`` returned.
    """
    p = subparsers.add_parser(
        "demand", help="population grid from census totals spread over buildings (dasymetric)"
    )
    p.add_argument(
        "--units", type=Path, required=True, help="polygons with a total per unit (districts/counties)"
    )
    p.add_argument(
        "--buildings", type=Path, required=True, help="residential buildings or cells to spread over"
    )
    p.add_argument("--unit-column", default="name", help="unit name/code column (default 'name')")
    p.add_argument("--total-column", default="population", help="residents per unit (default 'population')")
    p.add_argument("--weight-column", help="weight per building, e.g. floor area (default: footprint area)")
    p.add_argument("--age-shares", type=shares, help="shares for every unit, e.g. age_60_plus=0.25")
    p.add_argument(
        "--census", type=Path, help="census table with CODE and AGES_* shares (china_census_2020 form)"
    )
    p.add_argument("--code-column", default="code", help="units column with the census CODE (default 'code')")
    p.add_argument("--cell-m", type=positive, default=100.0, help="grid cell size in metres (default 100)")
    p.add_argument("--assume-crs", help="CRS for input files that declare none")
    p.add_argument("--out", type=Path, required=True, help="output grid (.gpkg, .parquet or .geojson)")
    p.set_defaults(func=run_demand_command)


def run_demand_command(args: argparse.Namespace) -> int:
    """Spread unit totals over buildings and bin them into a grid.

    Parameters
    ----------
    args
        Parsed arguments of the ``demand`` subcommand.

    Returns
    -------
    int
        The exit code (0).
    """
    units = read_boundary(args.units, assume_crs=args.assume_crs)
    targets = read_boundary(args.buildings, assume_crs=args.assume_crs)
    spread_shares: dict[str, float | str] = dict(args.age_shares or {})
    if args.census:
        if args.code_column not in units.columns:
            msg = f"units ({args.units}) have no column {args.code_column!r} to look up in {args.census}."
            raise PlannerError(msg)
        table = [age_shares_from_census(args.census, code) for code in units[args.code_column]]
        for col in table[0]:
            units[f"_share_{col}"] = [row[col] for row in table]
            spread_shares[col] = f"_share_{col}"
    spread = spread_population(units, targets, total_column=args.total_column, unit_column=args.unit_column,
                               weight_column=args.weight_column, shares=spread_shares or None)  # fmt: skip
    metric = spread.crs if metric_crs_problem(spread.crs) is None else spread.estimate_utm_crs()
    grid = grid_from_points(gpd.GeoDataFrame(spread, crs=spread.crs).to_crs(metric), cell_m=args.cell_m)
    path = write_layer(grid.reset_index(), args.out, layer="population")
    echo(args, f"spread {spread['population'].sum():,.0f} people of {len(units)} units over "
               f"{int((spread['population'] > 0).sum()):,} buildings/cells into {len(grid):,} cells of "
               f"{args.cell_m:g} m; {spread.attrs.get('age_source') or 'no age groups'}")  # fmt: skip
    echo(args, f"wrote {path}")
    return 0
