"""Reading facility points: kinds from a column or a mapping, names, capacities, duplicates merged."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from planner._validate import check_columns, check_unique_index, metric_crs_problem, row_list
from planner.errors import InputError
from planner.io.files import NAME_ALIASES, PathLike, clean_column, pick_column, read_any
from planner.kinds import CAPACITY, DEFAULT_MERGE_WITHIN_M, FACILITY_ID, KIND, NAME

logger = logging.getLogger(__name__)


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
    merge_within_m: float | None = DEFAULT_MERGE_WITHIN_M,
    coord_system: str | int | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read facility points and give them the columns planner uses.

    Parameters
    ----------
    path
        CSV or Excel (.xlsx) with lon/lat columns, GeoJSON, GeoPackage, Shapefile or
        GeoParquet.
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
        Coordinate columns of a CSV or Excel sheet (any names, Chinese too). When left at
        ``"lon"``/``"lat"`` and missing, ``lng``/``longitude``/``经度`` and
        ``latitude``/``纬度`` are recognised. ``name_column`` likewise falls back to ``名称``.
    layer
        Layer of a GeoPackage, or sheet name of an Excel file (default: the first sheet).
    assume_crs
        CRS to use when the file declares none.
    coord_system
        Datum of the coordinates: ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"`` (Amap, Tencent),
        ``"bd09"`` (Baidu) or a CRS such as ``"EPSG:4490"`` or ``32650``. GCJ-02 and BD-09
        are converted to WGS-84 on load, before any metric work (points outside China's
        box are left unchanged, as the datums define), and the log says how many points
        moved and by how much. None: the file's own CRS (CSV: WGS-84).
    encoding
        Text encoding of a CSV or shapefile, e.g. ``"gbk"``. None: a CSV is read as UTF-8,
        else GBK; a shapefile honours its ``.cpg``. Text that looks mis-decoded
        (mojibake) gives a UserWarning naming the column and rows.
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
    gdf = read_any(path, "facilities", layer=layer, lon_column=lon_column, lat_column=lat_column,
                    assume_crs=assume_crs, coord_system=coord_system, encoding=encoding)  # fmt: skip
    src = str(path)
    kind_column, name_column = clean_column(kind_column), clean_column(name_column)
    capacity_column = clean_column(capacity_column) if capacity_column is not None else None
    id_column = clean_column(id_column) if id_column is not None else None
    check_columns(gdf, [kind_column], "facilities", source=src)
    gdf = gdf.copy()
    name_column = pick_column(gdf, name_column, NAME, NAME_ALIASES)
    if id_column is not None:
        check_columns(gdf, [id_column], "facilities", source=src)
        ids = gdf[id_column].astype(str)
        dup = ids.duplicated(keep=False).to_numpy()
        if dup.any():
            first = gdf.attrs.get("first_row", 0)
            rows = [first + i for i in np.flatnonzero(dup)] if first else list(gdf.index[dup])
            msg = (
                f"facilities ({src}) has duplicate ids {row_list(ids[dup].unique())} in column "
                f"{id_column!r}, rows {row_list(rows)}; give every row a unique id, or drop the "
                "repeated rows."
            )
            raise InputError(msg)
        gdf.index = pd.Index(ids, name=FACILITY_ID)
    elif {"osm_type", "osm_id"} <= set(gdf.columns):
        gdf.index = pd.Index(gdf["osm_type"].astype(str) + "/" + gdf["osm_id"].astype(str),
                             name=FACILITY_ID)  # fmt: skip
    else:
        gdf.index = pd.Index([f"{Path(path).stem}-{i}" for i in range(len(gdf))], name=FACILITY_ID)
    check_unique_index(gdf, "facilities", source=src)

    gdf = _with_kinds(gdf, kind_column, kind_map, src)

    gdf[NAME] = gdf[name_column].fillna("").astype(str) if name_column in gdf.columns else ""
    if capacity_column is not None and capacity_column in gdf.columns:
        cap = pd.to_numeric(gdf[capacity_column], errors="coerce")
        bad = gdf.index[cap.isna() & gdf[capacity_column].notna()
                        & (gdf[capacity_column].astype(str).str.strip() != "")]  # fmt: skip
        if len(bad):
            msg = (
                f"facilities ({src}) column {capacity_column!r} has non-numeric values in rows "
                f"{row_list(bad)}; use a number of places (or leave it empty)."
            )
            raise InputError(msg)
        if (cap < 0).any():
            msg = f"facilities ({src}) column {capacity_column!r} is negative in rows {row_list(gdf.index[cap < 0])}."
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
    shift = gdf.attrs.get("datum_shift")
    if merge_within_m:
        gdf = merge_duplicate_facilities(gdf, within_m=merge_within_m)
    gdf.attrs["source"] = src
    if shift:  # how far the datum conversion moved the points: the run says so
        gdf.attrs["datum_shift"] = shift
    return gdf


def _with_kinds(
    gdf: gpd.GeoDataFrame, kind_column: str, kind_map: Mapping[str, str] | None, src: str
) -> gpd.GeoDataFrame:
    """The rows that map to a kind, with the ``kind`` column (unmapped rows logged and left out)."""
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
            msg = f"facilities ({src}) column {kind_column!r} is empty in rows {row_list(missing)}."
            raise InputError(msg)
        gdf[KIND] = kinds.astype(str).str.strip()
    if len(gdf) == 0:
        msg = f"facilities ({src}): no row maps to a facility kind; check kind_map {dict(kind_map or {})}."
        raise InputError(msg)
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


#: Each facility is compared with at most this many others within the merge distance, so
#: memory stays bounded (n × this) however dense the points are.
MAX_NEIGHBOURS = 16
#: More facility points than this in one 100 m square is a generated or broken file.
MAX_PER_SQUARE = 1000


def merge_duplicate_facilities(
    facilities: gpd.GeoDataFrame, *, within_m: float = DEFAULT_MERGE_WITHIN_M
) -> gpd.GeoDataFrame:
    """Merge rows that are one place mapped several times (an OSM node, way and relation).

    Rows merge when they are of one kind, their names match (ignoring case, accents and small
    words), they lie within ``within_m`` metres, and their capacities agree (equal, or known
    for one row only): two facilities of the same name with different capacities are two
    places and stay apart. The first row of each group stays, takes the group's known capacity
    and lists the other rows in a ``merged_ids`` column; a warning counts the merges. Each row is
    compared with its 16 nearest neighbours within ``within_m``, so memory stays bounded.

    Parameters
    ----------
    facilities
        Output of :func:`read_facilities` (any CRS).
    within_m
        Distance limit in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        The facilities, each place once, with ``merged_ids`` ("" where nothing merged).
    """
    if len(facilities) < 2:
        return facilities.assign(merged_ids="")
    metric = (
        facilities
        if metric_crs_problem(facilities.crs) is None
        else facilities.to_crs(facilities.estimate_utm_crs())
    )
    xy = shapely.get_coordinates(metric.geometry.to_numpy())
    check_density(xy, facilities)
    roots = _merge_groups(facilities, xy, within_m)
    out = facilities.assign(merged_ids="")
    groups = pd.Series(np.arange(len(roots))).groupby(roots).indices
    merged = {root: members for root, members in groups.items() if len(members) > 1}
    if not merged:
        return out
    cap_col = out.columns.get_loc(CAPACITY)
    ids_col = out.columns.get_loc("merged_ids")
    for root, members in merged.items():
        out.iloc[root, cap_col] = facilities[CAPACITY].iloc[members].max()  # the one known value
        out.iloc[root, ids_col] = ";".join(str(i) for i in facilities.index[members[1:]])
    rows = sum(len(m) for m in merged.values())
    examples = "; ".join(f"{facilities[NAME].iloc[r]!r} ×{len(m)}" for r, m in list(merged.items())[:3])
    places = f"{len(merged)} place" + ("s" if len(merged) > 1 else "")
    logger.warning(
        "facilities %s: merged %d facility rows into %s (same kind and name within %g m, capacities agree; "
        "see the merged_ids column): %s", facilities.attrs.get("source", ""), rows, places, within_m, examples,
    )  # fmt: skip
    return out.iloc[np.unique(roots)]


def _merge_groups(facilities: gpd.GeoDataFrame, xy: np.ndarray, within_m: float) -> np.ndarray:
    """The root row of each row's group (union-find over matching neighbour pairs, in row order)."""
    n = len(xy)
    k = min(n, MAX_NEIGHBOURS + 1)
    dist, idx = cKDTree(xy).query(xy, k=k, distance_upper_bound=within_m)
    i = np.repeat(np.arange(n), k).reshape(n, k)
    near = (idx < n) & (idx != i) & np.isfinite(dist)
    a, b = np.minimum(i[near], idx[near]), np.maximum(i[near], idx[near])
    pairs = np.unique(np.column_stack([a, b]), axis=0) if len(a) else np.zeros((0, 2), int)
    kinds, names = facilities[KIND].to_numpy(), facilities[NAME].to_numpy()
    cap = facilities[CAPACITY].to_numpy(float)
    parent = np.arange(n)
    group_cap = cap.copy()  # the known capacity of each root's group (NaN: none known)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return int(x)

    for x, y in pairs:
        if kinds[x] != kinds[y] or not _same_name(names[x], names[y]):
            continue
        rx, ry = find(x), find(y)
        cx, cy = group_cap[rx], group_cap[ry]
        if rx == ry or (cx == cx and cy == cy and cx != cy):  # NaN != NaN: one side unknown is fine
            continue
        root, other = min(rx, ry), max(rx, ry)  # the first row of a group stays its root
        parent[other] = root
        group_cap[root] = cx if cx == cx else cy
    return np.array([find(x) for x in range(n)])


def check_density(xy: np.ndarray, facilities: gpd.GeoDataFrame, *, square_m: float = 100.0) -> None:
    """Refuse more than :data:`MAX_PER_SQUARE` facility points in one 100 m square (a broken file)."""
    finite = np.isfinite(xy).all(axis=1)
    if finite.sum() <= MAX_PER_SQUARE:
        return
    keys, counts = np.unique(np.floor(xy[finite] / square_m).astype(np.int64), axis=0, return_counts=True)
    if counts.max() > MAX_PER_SQUARE:
        where = (keys[counts.argmax()] + 0.5) * square_m
        msg = (
            f"facilities ({facilities.attrs.get('source', '')}): {counts.max():,} points in one {square_m:g} m "
            f"square (around x={where[0]:.0f}, y={where[1]:.0f}); more than {MAX_PER_SQUARE:,} is not a facility "
            "list but a generated or broken file. Check it."
        )
        raise InputError(msg)
