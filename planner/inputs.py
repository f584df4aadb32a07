"""Readers for facilities, population and boundaries, with the checks real files need."""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree

from planner._validate import _rows, check_columns, check_numeric_nonnegative, check_unique_index
from planner.errors import InputError
from planner.kinds import AGE_0_3, AGE_0_17, AGE_60_PLUS, CAPACITY, KIND, NAME, POPULATION

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
_VECTOR = (".geojson", ".json", ".gpkg", ".shp", ".fgb", ".zip")
_PARQUET = (".parquet", ".geoparquet")


def _read_any(
    path: PathLike,
    what: str,
    *,
    layer: str | None = None,
    lon_column: str = "lon",
    lat_column: str = "lat",
    assume_crs: Any = None,
) -> gpd.GeoDataFrame:
    """Read a vector file or a lon/lat CSV into a GeoDataFrame, with clear errors."""
    path = Path(path)
    if not path.exists():
        msg = f"{what} file {path} does not exist."
        raise InputError(msg)
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            gdf = _read_lonlat_csv(path, what, lon_column, lat_column)
        elif suffix in _PARQUET:
            gdf = gpd.read_parquet(path)
        elif suffix in _VECTOR:
            gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
        else:
            msg = (
                f"{what} file {path}: unknown type {suffix!r}; use CSV (lon/lat columns), "
                "GeoJSON, GeoPackage, Shapefile or GeoParquet."
            )
            raise InputError(msg)
    except InputError:
        raise
    except Exception as exc:  # pyogrio/pyarrow raise many types for broken files
        msg = f"{what} file {path} could not be read: {exc}"
        raise InputError(msg) from exc
    if len(gdf) == 0:
        msg = f"{what} file {path} has no rows."
        raise InputError(msg)
    if gdf.crs is None:
        if assume_crs is None:
            msg = (
                f"{what} file {path} has no CRS. Declare it in the file, or pass "
                "assume_crs (CLI: --assume-crs EPSG:4326) if you know what it is."
            )
            raise InputError(msg)
        gdf = gdf.set_crs(assume_crs)
    gdf = _drop_empty_geometries(gdf, what, path)
    gdf.attrs["source"] = str(path)
    return gdf


def _read_lonlat_csv(path: Path, what: str, lon_column: str, lat_column: str) -> gpd.GeoDataFrame:
    df = pd.read_csv(path)
    if len(df) == 0:
        msg = f"{what} file {path} has no rows."
        raise InputError(msg)
    check_columns(df, [lon_column, lat_column], what, source=str(path))
    lon = pd.to_numeric(df[lon_column], errors="coerce")
    lat = pd.to_numeric(df[lat_column], errors="coerce")
    bad = df.index[lon.isna() | lat.isna()]
    if len(bad):
        msg = (
            f"{what} file {path}: rows {_rows(bad + 2)} have no numeric {lon_column}/{lat_column} "
            "(row numbers count the header as line 1)."
        )
        raise InputError(msg)
    out_lat = lat.abs() > 90
    out_lon = lon.abs() > 180
    if out_lat.any() or out_lon.any():
        rows = df.index[out_lat | out_lon] + 2
        hint = (
            f" They look swapped: {lat_column} holds longitudes. Swap the two columns."
            if (out_lat & (lon.abs() <= 90)).all()
            else ""
        )
        msg = (
            f"{what} file {path}: rows {_rows(rows)} have {lon_column}/{lat_column} outside "
            f"the valid range (lon -180..180, lat -90..90).{hint}"
        )
        raise InputError(msg)
    geometry = gpd.points_from_xy(lon, lat)
    return gpd.GeoDataFrame(df.drop(columns=[lon_column, lat_column]), geometry=geometry,
                            crs="EPSG:4326")  # fmt: skip


def _drop_empty_geometries(gdf: gpd.GeoDataFrame, what: str, path: Path) -> gpd.GeoDataFrame:
    empty = gdf.geometry.isna() | gdf.geometry.is_empty
    if empty.all():
        msg = f"{what} file {path}: every geometry is empty."
        raise InputError(msg)
    if empty.any():
        logger.warning("%s file %s: dropped %d rows with empty geometry", what, path, int(empty.sum()))
        gdf = gdf.loc[~empty].copy()
    invalid = ~gdf.geometry.is_valid
    if invalid.any():
        gdf = gdf.copy()
        gdf.loc[invalid, "geometry"] = shapely.make_valid(gdf.geometry[invalid].to_numpy())
        logger.warning("%s file %s: repaired %d invalid geometries with make_valid",
                       what, path, int(invalid.sum()))  # fmt: skip
    return gdf


# ---------------------------------------------------------------------- facilities
def read_facilities(
    path: PathLike,
    *,
    kind_column: str = KIND,
    kind_map: Mapping[str, str] | None = None,
    name_column: str = NAME,
    capacity_column: str | None = CAPACITY,
    id_column: str | None = None,
    lon_column: str = "lon",
    lat_column: str = "lat",
    layer: str | None = None,
    assume_crs: Any = None,
    merge_within_m: float | None = 60.0,
) -> gpd.GeoDataFrame:
    """Read facility points and give them the columns planner uses.

    Parameters
    ----------
    path
        CSV with lon/lat (WGS-84) columns, GeoJSON, GeoPackage, Shapefile or GeoParquet.
    kind_column
        Column holding the kind, or a source category that ``kind_map`` translates.
    kind_map
        Source value → kind, e.g. ``{"amenity=kindergarten": "nursery"}`` or
        ``{"nursery": "nursery"}``. Rows whose value is not mapped are left out, with a
        log line counting them by value.
    name_column, capacity_column, id_column
        Source columns for the name, the capacity (optional) and a unique id (default:
        ``osm_type/osm_id`` when present, else the row number).
    lon_column, lat_column
        Coordinate columns of a CSV.
    layer
        Layer of a GeoPackage.
    assume_crs
        CRS to use when the file declares none.
    merge_within_m
        Merge rows of the same kind whose names match (ignoring case, accents and small
        words) and that lie within this many metres: OSM often maps one care home as a
        node, a way and a relation. None: keep all rows.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by ``facility_id``; columns ``kind``, ``name``, ``capacity`` (float, NaN
        where unknown), the other source columns, point geometry in the file's CRS.

    Examples
    --------
    >>> f = read_facilities("data/las_palmas/facilities.geojson", kind_column="category",
    ...                     kind_map={"eldercare": "eldercare", "nursery": "nursery"})
    >>> f["kind"].value_counts().to_dict()
    {'nursery': 20, 'eldercare': 7}
    """
    gdf = _read_any(path, "facilities", layer=layer, lon_column=lon_column,
                    lat_column=lat_column, assume_crs=assume_crs)  # fmt: skip
    src = str(path)
    check_columns(gdf, [kind_column], "facilities", source=src)
    gdf = gdf.copy()
    if id_column is not None:
        check_columns(gdf, [id_column], "facilities", source=src)
        gdf.index = pd.Index(gdf[id_column].astype(str), name="facility_id")
    elif {"osm_type", "osm_id"} <= set(gdf.columns):
        gdf.index = pd.Index(gdf["osm_type"].astype(str) + "/" + gdf["osm_id"].astype(str),
                             name="facility_id")  # fmt: skip
    else:
        gdf.index = pd.Index([f"{Path(path).stem}-{i}" for i in range(len(gdf))], name="facility_id")
    check_unique_index(gdf, "facilities", source=src)

    kinds = gdf[kind_column]
    if kind_map is not None:
        mapped = kinds.map(dict(kind_map))
        left = kinds[mapped.isna()]
        if len(left):
            counts = left.fillna("<empty>").value_counts().to_dict()
            logger.info("facilities %s: %d rows with no kind mapping left out: %s",
                        src, len(left), counts)  # fmt: skip
        gdf = gdf.loc[mapped.notna()].copy()
        gdf[KIND] = mapped[mapped.notna()].astype(str)
    else:
        missing = gdf.index[kinds.isna() | (kinds.astype(str).str.strip() == "")]
        if len(missing):
            msg = f"facilities ({src}) column {kind_column!r} is empty in rows {_rows(missing)}."
            raise InputError(msg)
        gdf[KIND] = kinds.astype(str).str.strip()
    if len(gdf) == 0:
        msg = f"facilities ({src}): no row maps to a facility kind; check kind_map {dict(kind_map or {})}."
        raise InputError(msg)

    gdf[NAME] = gdf[name_column].fillna("").astype(str) if name_column in gdf.columns else ""
    if capacity_column is not None and capacity_column in gdf.columns:
        cap = pd.to_numeric(gdf[capacity_column], errors="coerce")
        bad = gdf.index[cap.isna() & gdf[capacity_column].notna()
                        & (gdf[capacity_column].astype(str).str.strip() != "")]  # fmt: skip
        if len(bad):
            msg = (
                f"facilities ({src}) column {capacity_column!r} has non-numeric values in rows "
                f"{_rows(bad)}; use a number of places (or leave it empty)."
            )
            raise InputError(msg)
        if (cap < 0).any():
            msg = f"facilities ({src}) column {capacity_column!r} is negative in rows {_rows(gdf.index[cap < 0])}."
            raise InputError(msg)
        gdf[CAPACITY] = cap.astype(float)
    else:
        gdf[CAPACITY] = np.nan

    geoms = gdf.geometry.to_numpy()
    not_point = shapely.get_type_id(geoms) != 0
    if not_point.any():
        logger.info("facilities %s: %d polygons/lines reduced to a point on their surface",
                    src, int(not_point.sum()))  # fmt: skip
        gdf.loc[not_point, "geometry"] = shapely.point_on_surface(geoms[not_point])
    if merge_within_m:
        gdf = merge_duplicate_facilities(gdf, within_m=merge_within_m)
    gdf.attrs["source"] = src
    return gdf


_SMALL_WORDS = frozenset({"de", "la", "el", "los", "las", "del", "y", "the", "of", "and", "a"})


def _name_tokens(name: str) -> frozenset[str]:
    text = unicodedata.normalize("NFKD", name.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    words = re.findall(r"\w+", text)
    return frozenset(w for w in words if w not in _SMALL_WORDS and len(w) > 1)


def _same_name(a: str, b: str) -> bool:
    """Names match when most words of the shorter one appear in the longer one."""
    ta, tb = _name_tokens(a), _name_tokens(b)
    if not ta or not tb:
        return a.strip() == b.strip() != ""
    return len(ta & tb) / min(len(ta), len(tb)) >= 0.6


def merge_duplicate_facilities(facilities: gpd.GeoDataFrame, *, within_m: float = 60.0) -> gpd.GeoDataFrame:
    """Merge rows of one kind with matching names within ``within_m`` metres.

    The first row of each group is kept; its capacity is the group's largest known one.

    Parameters
    ----------
    facilities
        Output of :func:`read_facilities` (any CRS).
    within_m
        Distance limit in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        The facilities, each place once.
    """
    if len(facilities) < 2:
        return facilities
    metric = facilities if facilities.crs.is_projected else facilities.to_crs(facilities.estimate_utm_crs())
    xy = shapely.get_coordinates(metric.geometry.to_numpy())
    parent = np.arange(len(facilities))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return int(i)

    kinds = facilities[KIND].to_numpy()
    names = facilities[NAME].to_numpy()
    for i, j in sorted(cKDTree(xy).query_pairs(within_m)):
        if kinds[i] == kinds[j] and _same_name(names[i], names[j]):
            ri, rj = find(i), find(j)
            parent[max(ri, rj)] = min(ri, rj)  # the first row of a group stays its root
    roots = np.array([find(i) for i in range(len(facilities))])
    if (roots == np.arange(len(facilities))).all():
        return facilities
    out = facilities.copy()
    for root in np.unique(roots):
        members = np.flatnonzero(roots == root)
        if len(members) > 1:
            ids = list(facilities.index[members])
            out.iloc[root, out.columns.get_loc(CAPACITY)] = facilities[CAPACITY].iloc[members].max()
            logger.info("merged %d facility rows within %g m into %s (%r): %s",
                        len(members), within_m, ids[0], names[root], ids[1:])  # fmt: skip
    return out.iloc[np.unique(roots)]


# ---------------------------------------------------------------------- population
def read_population(
    path: PathLike,
    *,
    population_column: str = POPULATION,
    id_column: str | None = "cell_id",
    lon_column: str = "lon",
    lat_column: str = "lat",
    layer: str | None = None,
    assume_crs: Any = None,
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
    lon_column, lat_column, layer, assume_crs
        As in :func:`read_facilities`.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by cell id, ``population`` as float, age columns kept if present.

    Examples
    --------
    >>> p = read_population("data/las_palmas/population_grid_100m.gpkg")
    >>> len(p), round(p["population"].sum())
    (868, 273577)
    """
    gdf = _read_any(path, "population", layer=layer, lon_column=lon_column,
                    lat_column=lat_column, assume_crs=assume_crs)  # fmt: skip
    src = str(path)
    check_columns(gdf, [population_column], "population", source=src)
    gdf = gdf.copy()
    if id_column and id_column in gdf.columns:
        gdf.index = pd.Index(gdf[id_column].astype(str), name="cell_id")
        gdf = gdf.drop(columns=[id_column])
    else:
        gdf.index = pd.RangeIndex(len(gdf), name="cell_id")
    check_unique_index(gdf, "population", source=src)
    if population_column != POPULATION:
        gdf = gdf.rename(columns={population_column: POPULATION})
    check_numeric_nonnegative(gdf, POPULATION, "population", source=src)
    gdf[POPULATION] = pd.to_numeric(gdf[POPULATION]).astype(float)
    for col in (AGE_60_PLUS, AGE_0_3, AGE_0_17):
        if col in gdf.columns:
            check_numeric_nonnegative(gdf, col, "population", source=src)
            gdf[col] = pd.to_numeric(gdf[col]).astype(float)
    gdf.attrs["source"] = src
    gdf.attrs["age_source"] = "grid columns"
    return gdf


def apply_age_shares(
    population: gpd.GeoDataFrame, shares: Mapping[str, float], *, source: str = "given shares"
) -> gpd.GeoDataFrame:
    """Add age-group columns as ``population × share`` where the grid has none.

    Parameters
    ----------
    population
        Cells with a ``population`` column.
    shares
        Column name → share of the total (0..1), e.g. ``{"age_60_plus": 0.252}``.
    source
        Where the shares come from; recorded in ``attrs["age_source"]`` and in summaries.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with the new columns. Existing columns are not overwritten.
    """
    out = population.copy()
    added = []
    for col, share in shares.items():
        if not (0.0 <= float(share) <= 1.0):
            msg = f"age share {col!r} must be between 0 and 1; got {share!r}."
            raise ValueError(msg)
        if col in out.columns:
            continue
        out[col] = out[POPULATION] * float(share)
        added.append(col)
    if added:
        out.attrs["age_source"] = f"shares ({source}): " + ", ".join(
            f"{c}={float(shares[c]):.4f}" for c in added
        )
        logger.info("population: %s", out.attrs["age_source"])
    return out


def age_shares_from_census(path: PathLike, code: int | str) -> dict[str, float]:
    """Age shares for one county from a census table like ``china_census_2020``.

    ``age_60_plus`` = AGES_60-64 + AGES_65P; ``age_0_3`` ≈ AGES_0 + ¾·AGES_1-4;
    ``age_0_17`` ≈ AGES_0-14 + ⅗·AGES_15-19 (single years spread evenly in a band).

    Parameters
    ----------
    path
        CSV with ``CODE`` and ``AGES_*`` share columns.
    code
        The county code, e.g. 320508 for Gusu District, Suzhou.

    Returns
    -------
    dict
        ``{"age_60_plus": …, "age_0_3": …, "age_0_17": …}``.
    """
    df = pd.read_csv(path)
    needed = ["CODE", "AGES_0", "AGES_1-4", "AGES_0-14", "AGES_15-19", "AGES_60-64", "AGES_65P"]
    check_columns(df, needed, "census table", source=str(path))
    row = df.loc[df["CODE"].astype(str) == str(code)]
    if row.empty:
        msg = f"census table {path} has no row with CODE {code}."
        raise InputError(msg)
    r = row.iloc[0]
    return {
        AGE_60_PLUS: float(r["AGES_60-64"] + r["AGES_65P"]),
        AGE_0_3: float(r["AGES_0"] + 0.75 * r["AGES_1-4"]),
        AGE_0_17: float(r["AGES_0-14"] + 0.6 * r["AGES_15-19"]),
    }


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
    return _read_any(path, "boundary", layer=layer, assume_crs=assume_crs)


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
    gdf = _read_any(path, "districts", layer=layer, assume_crs=assume_crs)
    check_columns(gdf, [name_column], "districts", source=str(path))
    gdf = gdf.copy()
    gdf["district"] = gdf[name_column].astype(str)
    return gdf


def check_in_area(
    gdf: gpd.GeoDataFrame, area_crs: Any, bounds: tuple[float, float, float, float], *, what: str
) -> None:
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
    """
    area_crs = pyproj.CRS.from_user_input(area_crs)
    pts = gdf.geometry.to_crs(area_crs) if not gdf.crs.equals(area_crs) else gdf.geometry
    pts = pts.representative_point()
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    minx, miny, maxx, maxy = bounds
    inside = np.isfinite(x) & np.isfinite(y) & (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
    if inside.all():
        return
    rows = gdf.index[~inside]
    src = gdf.attrs.get("source", what)
    hint = "Check the file's CRS / coordinate datum (GCJ-02 and BD-09 need conversion)."
    geo = gdf.to_crs(4326).geometry.representative_point()
    lon, lat = geo.x.to_numpy()[~inside], geo.y.to_numpy()[~inside]
    if np.isfinite(lon).all() and (np.abs(lon) <= 90).all():
        swapped = gpd.GeoSeries(gpd.points_from_xy(lat, lon), crs=4326).to_crs(area_crs)
        sx, sy = swapped.x.to_numpy(), swapped.y.to_numpy()
        if ((sx >= minx) & (sx <= maxx) & (sy >= miny) & (sy <= maxy)).all():
            hint = "Longitude and latitude look swapped: swap the two columns."
    msg = (
        f"{what} ({src}): {len(rows)} of {len(gdf)} rows lie outside the study area / network "
        f"extent: {_rows(rows)}. {hint}"
    )
    raise InputError(msg)
