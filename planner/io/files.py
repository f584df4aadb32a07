"""Reading any vector file, lon/lat CSV or Excel sheet into a GeoDataFrame: encodings, datums, checks."""

from __future__ import annotations

import codecs
import logging
import os
import re
import unicodedata
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from planner._validate import row_list
from planner.errors import InputError
from planner.i18n import what_zh
from planner.io import datums

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
_VECTOR = (".geojson", ".json", ".gpkg", ".shp", ".fgb", ".zip")
_PARQUET = (".parquet", ".geoparquet")
_EXCEL = (".xlsx", ".xlsm")
# Column names that the readers accept when the default lon/lat/name columns are missing.
_LON_ALIASES = ("lon", "lng", "long", "longitude", "x", "经度", "东经", "经度坐标")
_LAT_ALIASES = ("lat", "latitude", "y", "纬度", "北纬", "纬度坐标")
NAME_ALIASES = ("name", "名称", "机构名称", "设施名称", "名字")


def read_any(
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
        raise InputError(msg, zh=f"{what_zh(what)}文件 {path} 不存在。")
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        msg = (
            f"{what} file {path}: unknown type {suffix!r}; use CSV (lon/lat columns), "
            "Excel .xlsx, GeoJSON, GeoPackage, Shapefile or GeoParquet."
        )
        raise InputError(msg)
    try:
        gdf = reader(path, what, layer=layer, lon_column=lon_column, lat_column=lat_column, encoding=encoding,
                     datum=datum)  # fmt: skip
    except InputError:
        raise
    except Exception as exc:  # pyogrio/pyarrow raise many types for broken files
        msg = f"{what} file {path} could not be read: {exc}"
        raise InputError(msg) from exc
    if len(gdf) == 0:
        msg = f"{what} file {path} has no rows."
        raise InputError(msg)
    gdf = _clean_columns(gdf, what, path)
    gdf = _with_crs(gdf, datum, assume_crs, what, path, lonlat_table=suffix in _TABLES)
    gdf = _drop_empty_geometries(gdf, what, path)
    _check_lonlat_range(gdf, what, path)
    if isinstance(datum, str) and datum in ("gcj02", "bd09"):
        gdf = _convert_to_wgs84(gdf, datum, what, path)
    _warn_mojibake(gdf, what, path)
    gdf.attrs["source"] = str(path)
    if datum is not None:
        gdf.attrs["coord_system"] = datum if isinstance(datum, str) else gdf.crs.to_string()
    return gdf


def _with_crs(
    gdf: gpd.GeoDataFrame, datum: str | pyproj.CRS | None, assume_crs: Any, what: str, path: Path, *,
    lonlat_table: bool,
) -> gpd.GeoDataFrame:  # fmt: skip
    """The layer with its CRS: declared by the file, else by ``coord_system``, else ``assume_crs``."""
    if gdf.crs is not None:
        if datum is not None and not lonlat_table:
            _check_declared_matches(gdf.crs, datum, what, path)
        return gdf
    declared = _declared_crs(datum)
    if declared is not None:
        return gdf.set_crs(declared)
    if assume_crs is None:
        msg = (
            f"{what} file {path} has no CRS. Declare it in the file, or pass "
            "assume_crs (CLI: --assume-crs EPSG:4326) or coord_system "
            f"(CLI: {_flag(what)} wgs84|cgcs2000|gcj02|bd09|EPSG code) if you know what it is."
        )
        raise InputError(msg)
    return gdf.set_crs(assume_crs)


def _flag(what: str) -> str:
    """The command-line flag of a layer's datum."""
    return "--population-coord-system" if what.startswith("population") else "--facilities-coord-system"


def _read_vector(
    path: Path, what: str, *, layer: str | None, encoding: str | None, **_: Any
) -> gpd.GeoDataFrame:
    kw: dict[str, Any] = {"layer": layer} if layer else {}
    if encoding and path.suffix.lower() in _OWN_ENCODING:
        logger.info(
            "%s file %s is UTF-8 by its format; encoding %r is for CSV and shapefiles", what, path, encoding
        )
    elif encoding:
        kw["encoding"] = encoding
    return gpd.read_file(path, **kw)


# Formats whose text is UTF-8 by definition: an encoding given for the study's CSVs does not apply.
_OWN_ENCODING = frozenset({".gpkg", ".geojson", ".json", ".fgb"})


def _read_parquet(path: Path, what: str, **_: Any) -> gpd.GeoDataFrame:
    return gpd.read_parquet(path)


def _read_csv(
    path: Path, what: str, *, lon_column: str, lat_column: str, encoding: str | None, datum: Any, **_: Any
) -> gpd.GeoDataFrame:
    return _read_lonlat_csv(path, what, lon_column, lat_column, encoding=encoding, datum=datum)


def _read_excel(
    path: Path, what: str, *, layer: str | None, lon_column: str, lat_column: str, datum: Any, **_: Any
) -> gpd.GeoDataFrame:
    return _read_lonlat_excel(path, what, lon_column, lat_column, sheet=layer, datum=datum)


def _check_coord_system(coord_system: str | int | None, what: str) -> str | pyproj.CRS | None:
    """Normalise ``coord_system``: a datum name from :data:`planner.io.datums.COORD_SYSTEMS` or a CRS."""
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
    assert want is not None
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
        f"{what} file {path}: rows {row_list(rows)} have coordinates outside the valid range "
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
        shift = datums.haversine_m(xy[:, 0], xy[:, 1], lon, lat)
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
    out.attrs["datum_shift"] = {
        "from": datum, "points": len(xy), "moved": int(moved.sum()),
        "mean_m": round(float(shift[moved].mean()), 1) if moved.any() else 0.0,
        "max_m": round(float(shift[moved].max()), 1) if moved.any() else 0.0,
    }  # fmt: skip
    return out


def _looks_mojibake(text: str) -> bool:
    """True for text that is probably GBK/UTF-8 bytes decoded with the wrong codec.

    Such text re-encodes as Latin-1/CP1252 into bytes that decode as UTF-8 (to non-ASCII)
    or as GBK (to Chinese). Runs of non-ASCII characters are then at least two long (one
    Chinese character is 2-3 bytes), so accented words such as "Sánchez" never match.

    UTF-8 bytes read as GBK give Chinese characters that re-encode as GBK into valid UTF-8 of
    other Chinese text ("阳光托育" → "闃冲厜鎵樿偛").

    >>> _looks_mojibake("托育园".encode("gbk").decode("latin-1")), _looks_mojibake("Guardería Sánchez")
    (True, False)
    >>> _looks_mojibake("阳光托育".encode("utf-8").decode("gbk")), _looks_mojibake("阳光托育")
    (True, False)
    """
    if "\ufffd" in text:
        return True
    runs = re.findall(r"[^\x00-\x7f]+", text)
    if not runs or min(len(r) for r in runs) < 2:
        return False
    if _utf8_read_as_gbk(text):
        return True
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


def _utf8_read_as_gbk(text: str) -> bool:
    """True when ``text``'s GBK bytes are valid UTF-8 spelling other Chinese characters."""
    try:
        fixed = text.encode("gbk").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False
    return fixed != text and sum("\u4e00" <= c <= "\u9fff" for c in fixed) >= 2


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
            rows = row_list(np.flatnonzero(bad.to_numpy()) + first) if first else row_list(gdf.index[bad])
            msg = (
                f"{what} file {path}: column {col!r} looks mis-decoded (mojibake) in rows "
                f"{rows}, e.g. {example!r}. Give the file's encoding: "
                "encoding='gbk' (CLI: --encoding gbk), or for a shapefile add a .cpg file "
                "next to the .shp holding its encoding (e.g. GBK)."
            )
            warnings.warn(msg, UserWarning, stacklevel=4)


_GBK_CODECS = frozenset({"gbk", "gb2312", "gb18030", "cp936"})


def _is_utf8_text(raw: bytes) -> bool:
    """Valid UTF-8 with non-ASCII characters: GBK text almost never is."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return any(ord(c) > 127 for c in text)


_FIX = "; give its real encoding (encoding=..., CLI: --encoding), e.g. 'utf-8' or 'gbk'."


def _first_line(text: str) -> str:
    line = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    return line if len(line) <= 60 else line[:57] + "..."


def _gbk_hint(raw: bytes, encoding: str) -> tuple[str, str]:
    """``: it is GBK ...`` (and in Chinese) when the bytes are Chinese text in GBK that ``encoding`` garbles."""
    if codecs.lookup(encoding).name in _GBK_CODECS:
        return "", ""
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        return "", ""
    if not re.search(r"[\u4e00-\u9fff]", text):
        return "", ""
    right, garbled = _first_line(text), _first_line(raw.decode(encoding, errors="replace"))
    en = (
        f": it is Chinese text in GBK — line 1 reads {right!r} as GBK but {garbled!r} "
        f"(mojibake) as {encoding}. Set encoding = 'gbk' (CLI: --encoding gbk), or leave it out."
    )
    zh = (
        f"是 GBK 编码的中文：第1行按 GBK 读为 {right!r}，按 {encoding} 读成乱码 {garbled!r}。"
        "请设 encoding = 'gbk'（命令行：--encoding gbk），或不指定编码让程序自动识别。"
    )
    return en, zh


def _check_header_decoded(text: str, raw: bytes, what: str, path: Path, encoding: str) -> None:
    """Refuse a header that the given encoding turned into mojibake (e.g. GBK read as Latin-1)."""
    header = _first_line(text)
    if _looks_mojibake(header):
        en, zh = _gbk_hint(raw, encoding)
        msg = f"{what} file {path} looks mis-decoded (mojibake) as {encoding}{en or f': line 1 reads {header!r}{_FIX}'}"
        zh = f"{what_zh(what)}文件 {path} 按 {encoding} 读出来是乱码：{zh or f'第1行为 {header!r}；请给出文件的实际编码（如 gbk 或 utf-8）。'}"
        raise InputError(msg, zh=zh)


def _decode_table(path: Path, what: str, encoding: str | None) -> tuple[str, str]:
    """Text of a CSV and the encoding used: the given one, else UTF-8, else GBK (GB18030)."""
    raw = path.read_bytes()
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            msg = f"{what} file {path}: unknown encoding {encoding!r}; use e.g. 'utf-8' or 'gbk'."
            raise InputError(msg) from exc
    if encoding and codecs.lookup(encoding).name in _GBK_CODECS and _is_utf8_text(raw):
        msg = (
            f"{what} file {path} is UTF-8 (its Chinese text is valid UTF-8); read as {encoding} it would "
            "turn into mojibake. Leave the encoding out (or give 'utf-8')."
        )
        zh = f"{what_zh(what)}文件 {path} 是 UTF-8 编码；按 {encoding} 读会变成乱码。请不指定编码（或设为 'utf-8'）。"
        raise InputError(msg, zh=zh)
    if encoding:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            en, zh = _gbk_hint(raw, encoding)
            msg = f"{what} file {path} is not valid {encoding} (line {line}){en or _FIX}"
            zh = f"{what_zh(what)}文件 {path} 不是有效的 {encoding} 编码（第{line}行）：{zh or '请给出文件的实际编码（如 gbk 或 utf-8）。'}"
            raise InputError(msg, zh=zh) from exc
        _check_header_decoded(text, raw, what, path, encoding)
        return text, encoding
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


def clean_column(name: Any) -> str:
    """A column name as people mean it: full-width letters, brackets and spaces made plain (NFKC), ends trimmed.

    >>> clean_column("名称（全称）　"), clean_column(" 经度")
    ('名称(全称)', '经度')
    """
    return unicodedata.normalize("NFKC", str(name)).strip()


def _clean_names(columns: Any, what: str, path: Path, *, keep: Any = None) -> dict[Any, str]:
    """Old → cleaned column names (``keep`` as it is); two that become one name are an error."""
    names = {c: (c if c == keep else clean_column(c)) for c in columns}
    seen: dict[str, Any] = {}
    for old, new in names.items():
        if new in seen and seen[new] != old:
            msg = (
                f"{what} file {path}: columns {seen[new]!r} and {old!r} are both {new!r} once full-width "
                "characters and spaces are made plain; rename one."
            )
            zh = f"{what_zh(what)}文件 {path}：列 {seen[new]!r} 与 {old!r} 去掉全角字符和空格后都是 {new!r}；请改名其中一列。"
            raise InputError(msg, zh=zh)
        seen[new] = old
    return names


def _clean_columns(gdf: gpd.GeoDataFrame, what: str, path: Path) -> gpd.GeoDataFrame:
    """Columns renamed by :func:`clean_column` (the geometry column kept)."""
    names = _clean_names(gdf.columns, what, path, keep=gdf.geometry.name)
    return gdf.rename(columns=names) if any(k != v for k, v in names.items()) else gdf


def pick_column(df: pd.DataFrame, wanted: str, default: str, aliases: tuple[str, ...]) -> str:
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
    df = df.rename(columns=_clean_names(df.columns, what, path))
    lon_column = pick_column(df, clean_column(lon_column), "lon", _LON_ALIASES)
    lat_column = pick_column(df, clean_column(lat_column), "lat", _LAT_ALIASES)
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
            f"{what} file {path}: rows {row_list(bad + 2)} have no numeric {lon_column}/{lat_column} "
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
                f"{what} file {path}: rows {row_list(rows)} have {lon_column}/{lat_column} outside "
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


#: Readers by file suffix: a new format is one entry here.
_READERS: dict[str, Callable[..., gpd.GeoDataFrame]] = {
    **dict.fromkeys((".csv", ".txt"), _read_csv),
    **dict.fromkeys(_EXCEL, _read_excel),
    **dict.fromkeys(_PARQUET, _read_parquet),
    **dict.fromkeys(_VECTOR, _read_vector),
}
#: Suffixes of lon/lat tables, whose CRS comes from ``coord_system``.
_TABLES = frozenset({".csv", ".txt", *_EXCEL})
