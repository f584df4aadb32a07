"""Readers for facilities, population and boundaries, with the checks real files need."""

from __future__ import annotations

import logging
import os
import re
import unicodedata
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree

from planner import datums
from planner._validate import _rows, check_columns, check_numeric_nonnegative, check_unique_index
from planner.errors import InputError
from planner.kinds import AGE_0_3, AGE_0_17, AGE_60_PLUS, CAPACITY, KIND, NAME, POPULATION

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
_VECTOR = (".geojson", ".json", ".gpkg", ".shp", ".fgb", ".zip")
_PARQUET = (".parquet", ".geoparquet")
_EXCEL = (".xlsx", ".xlsm")
# Column names that the readers accept when the default lon/lat/name columns are missing.
_LON_ALIASES = ("lon", "lng", "long", "longitude", "x", "经度", "东经", "经度坐标")
_LAT_ALIASES = ("lat", "latitude", "y", "纬度", "北纬", "纬度坐标")
_NAME_ALIASES = ("name", "名称", "机构名称", "设施名称", "名字")


def _read_any(
    path: PathLike,
    what: str,
    *,
    layer: str | None = None,
    lon_column: str = "lon",
    lat_column: str = "lat",
    assume_crs: Any = None,
    coord_system: str | int | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector file, a lon/lat CSV or an Excel sheet into a GeoDataFrame, with clear errors.

    ``coord_system`` (see :func:`read_facilities`) is applied before anything else is
    done with the geometries, so GCJ-02/BD-09 never reach metric work.
    """
    datum = _check_coord_system(coord_system, what)
    path = Path(path)
    if not path.exists():
        msg = f"{what} file {path} does not exist."
        raise InputError(msg)
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            gdf = _read_lonlat_csv(path, what, lon_column, lat_column, encoding=encoding, datum=datum)
        elif suffix in _EXCEL:
            gdf = _read_lonlat_excel(path, what, lon_column, lat_column, sheet=layer, datum=datum)
        elif suffix in _PARQUET:
            gdf = gpd.read_parquet(path)
        elif suffix in _VECTOR:
            kw: dict[str, Any] = {"layer": layer} if layer else {}
            if encoding:
                kw["encoding"] = encoding
            gdf = gpd.read_file(path, **kw)
        else:
            msg = (
                f"{what} file {path}: unknown type {suffix!r}; use CSV (lon/lat columns), "
                "Excel .xlsx, GeoJSON, GeoPackage, Shapefile or GeoParquet."
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
        declared = _declared_crs(datum)
        if declared is not None:
            gdf = gdf.set_crs(declared)
        elif assume_crs is None:
            msg = (
                f"{what} file {path} has no CRS. Declare it in the file, or pass "
                "assume_crs (CLI: --assume-crs EPSG:4326) or coord_system "
                "(CLI: --coord-system wgs84|cgcs2000|gcj02|bd09|EPSG code) if you know what it is."
            )
            raise InputError(msg)
        else:
            gdf = gdf.set_crs(assume_crs)
    elif datum is not None and suffix not in (".csv", ".txt", *_EXCEL):
        _check_declared_matches(gdf.crs, datum, what, path)
    gdf = _drop_empty_geometries(gdf, what, path)
    _check_lonlat_range(gdf, what, path)
    if datum in ("gcj02", "bd09"):
        gdf = _convert_to_wgs84(gdf, datum, what, path)
    _warn_mojibake(gdf, what, path)
    gdf.attrs["source"] = str(path)
    if datum is not None:
        gdf.attrs["coord_system"] = datum if isinstance(datum, str) else gdf.crs.to_string()
    return gdf


def _check_coord_system(coord_system: str | int | None, what: str) -> str | pyproj.CRS | None:
    """Normalise ``coord_system``: a datum name from :data:`planner.datums.COORD_SYSTEMS` or a CRS."""
    if coord_system is None:
        return None
    if isinstance(coord_system, str):
        key = coord_system.strip().lower().replace("-", "").replace("_", "")
        aliases = {"wgs84": "wgs84", "epsg4326": "wgs84", "cgcs2000": "cgcs2000", "gcj02": "gcj02",
                   "gcj": "gcj02", "amap": "gcj02", "bd09": "bd09", "bd09ll": "bd09", "baidu": "bd09"}  # fmt: skip
        if key in aliases:
            return aliases[key]
    try:
        return pyproj.CRS.from_user_input(coord_system)
    except pyproj.exceptions.CRSError as exc:
        msg = (
            f"{what}: coord_system {coord_system!r} is not known; use one of "
            f"{list(datums.COORD_SYSTEMS)} or an EPSG code such as 'EPSG:4490' or 32650."
        )
        raise InputError(msg) from exc


def _declared_crs(datum: str | pyproj.CRS | None) -> pyproj.CRS | None:
    """The CRS a file in ``datum`` gets (GCJ-02/BD-09 are lon/lat on WGS-84 until converted)."""
    if datum is None:
        return None
    if isinstance(datum, pyproj.CRS):
        return datum
    return pyproj.CRS.from_epsg(4490 if datum == "cgcs2000" else 4326)


def _check_declared_matches(crs: pyproj.CRS, datum: str | pyproj.CRS, what: str, path: Path) -> None:
    """A file's own CRS must agree with ``coord_system``; GCJ-02/BD-09 need lon/lat degrees."""
    if datum in ("gcj02", "bd09"):
        if not crs.is_geographic:
            msg = (
                f"{what} file {path} is in a projected CRS ({crs.to_string()}) but coord_system "
                f"is {datum!r}, which is longitude/latitude in degrees. Export the file in "
                "longitude/latitude, or fix coord_system."
            )
            raise InputError(msg)
        return
    want = _declared_crs(datum)
    geographic_pair = {crs.to_epsg(), want.to_epsg()} <= {4326, 4490}
    if not crs.equals(want) and not geographic_pair:
        msg = (
            f"{what} file {path} declares CRS {crs.to_string()} but coord_system says "
            f"{want.to_string()}. Remove coord_system to use the file's CRS, or fix the file."
        )
        raise InputError(msg)


def _check_lonlat_range(gdf: gpd.GeoDataFrame, what: str, path: Path) -> None:
    """Geographic coordinates outside lon ±180 / lat ±90 (swapped axes) are an error, not inf."""
    if not gdf.crs.is_geographic:
        return
    xmin, ymin, xmax, ymax = shapely.bounds(gdf.geometry.to_numpy()).T
    bad_lat = (np.abs(ymin) > 90) | (np.abs(ymax) > 90)
    bad_lon = (np.abs(xmin) > 180) | (np.abs(xmax) > 180)
    bad = bad_lat | bad_lon
    if not bad.any():
        return
    rows = gdf.index[bad]
    swapped = (bad_lat & (np.abs(xmax) <= 90) & (np.abs(xmin) <= 90))[bad].all()
    hint = " They look swapped (x holds latitudes): swap the axes." if swapped else ""
    msg = (
        f"{what} file {path}: rows {_rows(rows)} have coordinates outside the valid range "
        f"(lon -180..180, lat -90..90) for CRS {gdf.crs.to_string()}.{hint}"
    )
    raise InputError(msg)


def _convert_to_wgs84(gdf: gpd.GeoDataFrame, datum: str, what: str, path: Path) -> gpd.GeoDataFrame:
    """Move every vertex from GCJ-02/BD-09 to WGS-84 with planner's own converter; log the shift."""
    if not gdf.crs.is_geographic:
        msg = (
            f"{what} file {path} is in a projected CRS ({gdf.crs.to_string()}) but coord_system "
            f"is {datum!r}, which is longitude/latitude in degrees."
        )
        raise InputError(msg)
    geoms = gdf.geometry.to_numpy()
    xy = shapely.get_coordinates(geoms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lon, lat = datums.to_wgs84(xy[:, 0], xy[:, 1], datum)
        shift = datums._haversine_m(xy[:, 0], xy[:, 1], lon, lat)
    moved = np.isfinite(shift) & (shift > 0)
    out = gdf.copy()
    out["geometry"] = shapely.set_coordinates(geoms.copy(), np.column_stack([lon, lat]))
    out = out.set_crs(4326, allow_override=True)
    outside = int((~datums.in_china(xy[:, 0], xy[:, 1])).sum())
    logger.info(
        "%s file %s: converted %d points from %s to WGS-84; %d moved, mean shift %.1f m "
        "(max %.1f m); %d outside China's box left unchanged",
        what, path, len(xy), datum.upper(), int(moved.sum()),
        float(shift[moved].mean()) if moved.any() else 0.0,
        float(shift[moved].max()) if moved.any() else 0.0, outside,
    )  # fmt: skip
    return out


def _looks_mojibake(text: str) -> bool:
    """True for text that is probably GBK/UTF-8 bytes decoded with the wrong codec.

    Such text re-encodes as Latin-1/CP1252 into bytes that decode as UTF-8 (to non-ASCII)
    or as GBK (to Chinese). Runs of non-ASCII characters are then at least two long (one
    Chinese character is 2-3 bytes), so accented words such as "Sánchez" never match.

    >>> _looks_mojibake("托育园".encode("gbk").decode("latin-1")), _looks_mojibake("Guardería Sánchez")
    (True, False)
    """
    if "\ufffd" in text:
        return True
    runs = re.findall(r"[^\x00-\x7f]+", text)
    if not runs or min(len(r) for r in runs) < 2:
        return False
    for wrong in ("latin-1", "cp1252"):
        try:
            raw = text.encode(wrong)
        except UnicodeEncodeError:
            continue
        try:
            raw.decode("utf-8")
            return True  # non-ASCII bytes that form valid UTF-8: almost never chance
        except UnicodeDecodeError:
            pass
        try:
            fixed = raw.decode("gb18030")
        except UnicodeDecodeError:
            continue
        if all(len(r) % 2 == 0 for r in runs) and any("\u4e00" <= c <= "\u9fff" for c in fixed):
            return True
    return False


def _warn_mojibake(gdf: gpd.GeoDataFrame, what: str, path: Path) -> None:
    """Warn (UserWarning) per text column holding probable mojibake, naming rows and the fix."""
    for col in gdf.columns:
        dtype = gdf[col].dtype
        if col == gdf.geometry.name or not (pd.api.types.is_object_dtype(dtype)
                                            or pd.api.types.is_string_dtype(dtype)):  # fmt: skip
            continue
        values = gdf[col]
        bad = values.map(lambda v: isinstance(v, str) and _looks_mojibake(v)).astype(bool)
        if bad.any():
            example = values[bad].iloc[0]
            first = gdf.attrs.get("first_row")
            rows = _rows(np.flatnonzero(bad.to_numpy()) + first) if first else _rows(gdf.index[bad])
            msg = (
                f"{what} file {path}: column {col!r} looks mis-decoded (mojibake) in rows "
                f"{rows}, e.g. {example!r}. Give the file's encoding: "
                "encoding='gbk' (CLI: --encoding gbk), or for a shapefile add a .cpg file "
                "next to the .shp holding its encoding (e.g. GBK)."
            )
            warnings.warn(msg, UserWarning, stacklevel=4)


def _decode_table(path: Path, what: str, encoding: str | None) -> tuple[str, str]:
    """Text of a CSV and the encoding used: the given one, else UTF-8, else GBK (GB18030)."""
    raw = path.read_bytes()
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except LookupError as exc:
            msg = f"{what} file {path}: unknown encoding {encoding!r}; use e.g. 'utf-8' or 'gbk'."
            raise InputError(msg) from exc
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            msg = (
                f"{what} file {path} is not valid {encoding} (line {line}); "
                "give its real encoding (encoding=..., CLI: --encoding), e.g. 'utf-8' or 'gbk'."
            )
            raise InputError(msg) from exc
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError as exc:
        msg = (
            f"{what} file {path} is neither UTF-8 nor GBK; give its encoding "
            "(encoding=..., CLI: --encoding), or save it as UTF-8."
        )
        raise InputError(msg) from exc
    logger.info("%s file %s is not UTF-8; read it as GBK (GB18030)", what, path)
    return text, "gbk"


def _pick_column(df: pd.DataFrame, wanted: str, default: str, aliases: tuple[str, ...]) -> str:
    """``wanted`` if present; when it is the default and missing, a known alias (case-insensitive)."""
    if wanted in df.columns or wanted != default:
        return wanted
    by_lower = {str(c).strip().lower(): c for c in df.columns}
    for alias in aliases:
        if alias in by_lower:
            return str(by_lower[alias])
    return wanted


def _read_lonlat_csv(
    path: Path,
    what: str,
    lon_column: str,
    lat_column: str,
    *,
    encoding: str | None = None,
    datum: str | pyproj.CRS | None = None,
) -> gpd.GeoDataFrame:
    import io

    text, _ = _decode_table(path, what, encoding)
    df = pd.read_csv(io.StringIO(text))
    return _lonlat_frame(df, path, what, lon_column, lat_column, datum=datum)


def _read_lonlat_excel(
    path: Path,
    what: str,
    lon_column: str,
    lat_column: str,
    *,
    sheet: str | None = None,
    datum: str | pyproj.CRS | None = None,
) -> gpd.GeoDataFrame:
    try:
        import openpyxl  # noqa: F401
    except ImportError as exc:
        msg = f"{what} file {path}: reading Excel needs openpyxl; run `pip install openpyxl`, or save the sheet as CSV."
        raise InputError(msg) from exc
    df = pd.read_excel(path, sheet_name=sheet if sheet is not None else 0, engine="openpyxl")
    df.columns = [str(c).strip() for c in df.columns]
    return _lonlat_frame(df, path, what, lon_column, lat_column, datum=datum)


def _lonlat_frame(
    df: pd.DataFrame,
    path: Path,
    what: str,
    lon_column: str,
    lat_column: str,
    *,
    datum: str | pyproj.CRS | None = None,
) -> gpd.GeoDataFrame:
    if len(df) == 0:
        msg = f"{what} file {path} has no rows."
        raise InputError(msg)
    lon_column = _pick_column(df, lon_column, "lon", _LON_ALIASES)
    lat_column = _pick_column(df, lat_column, "lat", _LAT_ALIASES)
    if lon_column in df.columns and lat_column in df.columns and (lon_column, lat_column) != ("lon", "lat"):
        logger.info("%s file %s: coordinates from columns %r/%r", what, path, lon_column, lat_column)
    if lon_column not in df.columns or lat_column not in df.columns:
        have = [str(c) for c in df.columns]
        missing = [c for c in (lon_column, lat_column) if c not in df.columns]
        msg = (
            f"{what} ({path}) is missing column(s) {missing}; it has {have}. Name the coordinate "
            "columns with lon_column=/lat_column= (CLI: --lon-col/--lat-col; study.toml: "
            "lon_column/lat_column)."
        )
        raise InputError(msg)
    lon = pd.to_numeric(df[lon_column], errors="coerce")
    lat = pd.to_numeric(df[lat_column], errors="coerce")
    bad = df.index[lon.isna() | lat.isna()]
    if len(bad):
        msg = (
            f"{what} file {path}: rows {_rows(bad + 2)} have no numeric {lon_column}/{lat_column} "
            "(row numbers count the header as line 1)."
        )
        raise InputError(msg)
    crs = _declared_crs(datum) or pyproj.CRS.from_epsg(4326)
    if crs.is_geographic:
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
    out = gpd.GeoDataFrame(df.drop(columns=[lon_column, lat_column]), geometry=geometry, crs=crs)
    out.attrs["first_row"] = 2  # header is line 1
    return out


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
    gdf = _read_any(path, "facilities", layer=layer, lon_column=lon_column, lat_column=lat_column,
                    assume_crs=assume_crs, coord_system=coord_system, encoding=encoding)  # fmt: skip
    src = str(path)
    check_columns(gdf, [kind_column], "facilities", source=src)
    gdf = gdf.copy()
    name_column = _pick_column(gdf, name_column, NAME, _NAME_ALIASES)
    if id_column is not None:
        check_columns(gdf, [id_column], "facilities", source=src)
        ids = gdf[id_column].astype(str)
        dup = ids.duplicated(keep=False).to_numpy()
        if dup.any():
            first = gdf.attrs.get("first_row", 0)
            rows = [first + i for i in np.flatnonzero(dup)] if first else list(gdf.index[dup])
            msg = (
                f"facilities ({src}) has duplicate ids {_rows(ids[dup].unique())} in column "
                f"{id_column!r}, rows {_rows(rows)}; give every row a unique id, or drop the "
                "repeated rows."
            )
            raise InputError(msg)
        gdf.index = pd.Index(ids, name="facility_id")
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
    gdf = _read_any(path, "population", layer=layer, lon_column=lon_column, lat_column=lat_column,
                    assume_crs=assume_crs, coord_system=coord_system, encoding=encoding)  # fmt: skip
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
    _check_no_overlap(gdf, src)
    gdf.attrs["source"] = src
    gdf.attrs["age_source"] = "grid columns"
    return gdf


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
    pairs = [f"{cells.index[idx[a]]}/{cells.index[idx[b]]}" for a, b in zip(left[over], right[over], strict=True)]
    msg = (
        f"population ({src}) has {int(over.sum())} pairs of overlapping cells {_rows(pairs)}; "
        "their people would be counted twice. Use a grid whose cells do not overlap, "
        "or dissolve the duplicates."
    )
    raise InputError(msg)


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
        f"extent: {_rows(rows)}. {hint}"
    )
    raise InputError(msg)
