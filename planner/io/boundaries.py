"""Reading study-area boundaries and districts, and checking that layers lie in the area."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pyproj

from planner._validate import check_columns, row_list
from planner.errors import InputError
from planner.io.files import PathLike, read_any
from planner.kinds import DISTRICT


# ---------------------------------------------------------------------- boundaries
def read_boundary(path: PathLike, *, layer: str | None = None, assume_crs: Any = None) -> gpd.GeoDataFrame:
    """Read a study-area boundary (one or more polygons).

    Parameters
    ----------
    path
        Any vector file with polygons.
    layer, assume_crs
        As in :func:`read_facilities`.

    Returns
    -------
    geopandas.GeoDataFrame
    """
    return read_any(path, "boundary", layer=layer, assume_crs=assume_crs)


def read_districts(
    path: PathLike, *, name_column: str = "name", layer: str | None = None, assume_crs: Any = None
) -> gpd.GeoDataFrame:
    """Read district polygons (街道/镇, communities) with a name column.

    Parameters
    ----------
    path
        Any vector file with polygons.
    name_column
        Column with the district name; copied to ``district``.
    layer, assume_crs
        As in :func:`read_facilities`.

    Returns
    -------
    geopandas.GeoDataFrame
        With a ``district`` column.
    """
    gdf = read_any(path, "districts", layer=layer, assume_crs=assume_crs)
    check_columns(gdf, [name_column], "districts", source=str(path))
    gdf = gdf.copy()
    gdf[DISTRICT] = gdf[name_column].astype(str)
    return gdf


def check_in_area(
    gdf: gpd.GeoDataFrame, area_crs: Any, bounds: tuple[float, float, float, float], *, what: str,
    any_inside: bool = False,
) -> None:  # fmt: skip
    """Raise InputError naming rows that lie outside ``bounds`` (given in ``area_crs``).

    Suggests a lon/lat swap when swapped coordinates would fall inside, and a wrong
    datum or CRS otherwise.

    Parameters
    ----------
    gdf
        Points (or cells) with a CRS.
    area_crs
        CRS of ``bounds``.
    bounds
        (minx, miny, maxx, maxy) of the area, already padded.
    what
        Name of the layer for the message.
    any_inside
        Accept the layer when at least one row is inside (raise only when none is).
    """
    area_crs = pyproj.CRS.from_user_input(area_crs)
    pts = gdf.geometry.to_crs(area_crs) if not gdf.crs.equals(area_crs) else gdf.geometry
    pts = pts.representative_point()
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    minx, miny, maxx, maxy = bounds
    inside = np.isfinite(x) & np.isfinite(y) & (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
    if inside.all() or (any_inside and inside.any()):
        return
    rows = gdf.index[~inside]
    src = gdf.attrs.get("source", what)
    hint = (
        "Check the file's CRS / coordinate datum (GCJ-02 and BD-09 need conversion: "
        "coord_system='gcj02' or 'bd09', CLI --coord-system)."
    )
    geo = gdf.to_crs(4326).geometry.representative_point()
    lon, lat = geo.x.to_numpy()[~inside], geo.y.to_numpy()[~inside]
    if np.isfinite(lon).all() and (np.abs(lon) <= 90).all():
        swapped = gpd.GeoSeries(gpd.points_from_xy(lat, lon), crs=4326).to_crs(area_crs)
        sx, sy = swapped.x.to_numpy(), swapped.y.to_numpy()
        if ((sx >= minx) & (sx <= maxx) & (sy >= miny) & (sy <= maxy)).all():
            hint = "Longitude and latitude look swapped: swap the two columns."
    msg = (
        f"{what} ({src}): {len(rows)} of {len(gdf)} rows lie outside the study area / network "
        f"extent: {row_list(rows)}. {hint}"
    )
    raise InputError(msg)
