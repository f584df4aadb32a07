"""Reading population cells (polygons or points) with ``population`` and age-group columns."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner._validate import check_columns, check_numeric_nonnegative, check_unique_index, row_list
from planner.errors import InputError
from planner.io.files import PathLike, clean_column, read_any
from planner.kinds import AGE_COLUMNS, CELL_ID, POPULATION


# ---------------------------------------------------------------------- population
def read_population(
    path: PathLike,
    *,
    population_column: str = POPULATION,
    id_column: str | None = CELL_ID,
    lon_column: str = "lon",
    lat_column: str = "lat",
    layer: str | None = None,
    assume_crs: Any = None,
    coord_system: str | int | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read population cells (polygons or points) with a ``population`` column.

    Parameters
    ----------
    path
        GeoPackage/GeoJSON/Shapefile/GeoParquet grid, or a CSV of cell points with lon/lat.
    population_column
        Column with residents per cell; renamed to ``population``.
    id_column
        Column with a unique cell id (used as index if present).
    lon_column, lat_column, layer, assume_crs, coord_system, encoding
        As in :func:`read_facilities`.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by cell id, ``population`` as float, age columns kept if present.

    Raises
    ------
    InputError
        Also when population or age values are negative, or polygon cells overlap
        (their people would be counted twice).

    Examples
    --------
    >>> p = read_population("data/las_palmas/population_grid_100m.gpkg")
    >>> len(p), round(p["population"].sum())
    (868, 273577)
    """
    gdf = read_any(path, "population", layer=layer, lon_column=lon_column, lat_column=lat_column,
                    assume_crs=assume_crs, coord_system=coord_system, encoding=encoding)  # fmt: skip
    src = str(path)
    population_column = clean_column(population_column)
    id_column = clean_column(id_column) if id_column else id_column
    check_columns(gdf, [population_column], "population", source=src)
    gdf = gdf.copy()
    if id_column and id_column in gdf.columns:
        gdf.index = pd.Index(gdf[id_column].astype(str), name=CELL_ID)
        gdf = gdf.drop(columns=[id_column])
    else:
        gdf.index = pd.RangeIndex(len(gdf), name=CELL_ID)
    check_unique_index(gdf, "population", source=src)
    if population_column != POPULATION:
        gdf = gdf.rename(columns={population_column: POPULATION})
    check_numeric_nonnegative(gdf, POPULATION, "population", source=src)
    gdf[POPULATION] = pd.to_numeric(gdf[POPULATION]).astype(float)
    for col in AGE_COLUMNS:
        if col in gdf.columns:
            check_numeric_nonnegative(gdf, col, "population", source=src)
            gdf[col] = pd.to_numeric(gdf[col]).astype(float)
    check_people(gdf, src)
    _check_no_overlap(gdf, src)
    gdf.attrs["source"] = src
    gdf.attrs["age_source"] = "grid columns"
    return gdf


def check_people(cells: gpd.GeoDataFrame, src: str) -> None:
    """Somebody lives there; no age group exceeds the residents; no two point cells at one place."""
    if float(cells[POPULATION].sum()) <= 0:
        msg = f"population ({src}) has nobody: every cell's {POPULATION!r} is 0. Check the column."
        raise InputError(msg)
    for col in AGE_COLUMNS:
        if col in cells.columns:
            over = cells.index[cells[col] > cells[POPULATION] * (1 + 1e-9) + 1e-9]
            if len(over):
                msg = (
                    f"population ({src}) column {col!r} exceeds {POPULATION!r} in rows {row_list(over)}; "
                    "an age group cannot hold more people than live in the cell."
                )
                raise InputError(msg)
    geoms = cells.geometry.to_numpy()
    points = shapely.get_type_id(geoms) == 0
    if points.sum() > 1:
        xy = pd.DataFrame(shapely.get_coordinates(geoms[points]), index=cells.index[points])
        dup = xy.duplicated(keep=False)
        if dup.any():
            msg = (
                f"population ({src}) has cells at the same place (rows {row_list(xy.index[dup])}); "
                "their people would be counted twice. Merge or drop the repeated rows."
            )
            raise InputError(msg)


def _check_no_overlap(cells: gpd.GeoDataFrame, src: str, *, tolerance: float = 1e-6) -> None:
    """Raise InputError naming cells whose polygons overlap by more than ``tolerance`` of the smaller.

    Cells that only touch along edges are fine; overlapping ones count people twice.
    """
    geoms = cells.geometry.to_numpy()
    poly = np.isin(shapely.get_type_id(geoms), (3, 6))
    if poly.sum() < 2:
        return
    idx = np.flatnonzero(poly)
    g = geoms[idx]
    left, right = shapely.STRtree(g).query(g, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if len(left) == 0:
        return
    shared = shapely.area(shapely.intersection(g[left], g[right]))
    smaller = np.minimum(shapely.area(g[left]), shapely.area(g[right]))
    over = shared > tolerance * np.where(smaller > 0, smaller, 1.0)
    if not over.any():
        return
    pairs = [
        f"{cells.index[idx[a]]}/{cells.index[idx[b]]}" for a, b in zip(left[over], right[over], strict=True)
    ]
    msg = (
        f"population ({src}) has {int(over.sum())} pairs of overlapping cells {row_list(pairs)}; "
        "their people would be counted twice. Use a grid whose cells do not overlap, "
        "or dissolve the duplicates."
    )
    raise InputError(msg)
