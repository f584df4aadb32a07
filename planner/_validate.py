"""Private checks shared by the readers and the public functions: one message format."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from planner.errors import InputError
from planner.i18n import what_zh

#: More people than this in one row (cell, building, district) is a broken value, not a count.
MAX_PEOPLE_PER_ROW = 1e8


def _where(source: str | None) -> str:
    return f" ({source})" if source else ""


def row_list(index: Iterable[Any], limit: int = 8) -> str:
    """Show at most `limit` row labels so messages stay one line."""
    items = list(index)
    shown = ", ".join(str(i) for i in items[:limit])
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return f"[{shown}{more}]"


def check_columns(df: pd.DataFrame, columns: Sequence[str], name: str, *, source: str | None = None) -> None:
    """Raise InputError listing every missing column and the columns that exist."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        have = [c for c in df.columns if c != "geometry"]
        msg = f"{name}{_where(source)} is missing column(s) {missing}; it has {have}."
        zh = f"{what_zh(name)}数据{_where(source)}缺少列 {missing}；现有列 {have}。"
        raise InputError(msg, zh=zh)


def check_unique_index(df: pd.DataFrame, name: str, *, source: str | None = None) -> None:
    """Raise InputError when index labels repeat, naming them."""
    dup = df.index[df.index.duplicated()].unique()
    if len(dup):
        msg = f"{name}{_where(source)} has duplicate ids {row_list(dup)}; give every row a unique id."
        raise InputError(msg)


def check_projected_crs(crs: Any, name: str, *, source: str | None = None) -> None:
    """Raise InputError for a missing or geographic CRS (metres are needed)."""
    if crs is None:
        msg = f"{name}{_where(source)} has no CRS; declare one (e.g. EPSG:4326) in the file."
        raise InputError(msg)
    if not crs.is_projected:
        msg = (
            f"{name}{_where(source)} is in a geographic CRS ({crs.to_string()}); "
            "reproject to a metric CRS first (e.g. gdf.to_crs(gdf.estimate_utm_crs()))."
        )
        raise InputError(msg)


def metric_crs_problem(crs: Any) -> str | None:
    """Why ``crs`` cannot measure walks in metres (None when it can).

    It must be projected, in metres (not US feet), and local: a world Mercator stretches
    distances by 1 / cos(latitude), 13 % at 28° N and 31 % at 40° N.
    """
    if crs is None:
        return "it has no CRS"
    if not crs.is_projected:
        return f"{crs.to_string()} is geographic (degrees)"
    units = {a.unit_name.lower() for a in crs.axis_info}
    if not units <= {"metre", "meter", "m"}:
        return f"{crs.to_string()} is in {sorted(units)}, not metres"
    method = (crs.coordinate_operation.method_name if crs.coordinate_operation else "").lower()
    if "mercator" in method and "transverse" not in method:
        return f"{crs.to_string()} is a world Mercator ({method}), whose metres grow with latitude"
    return None


def check_metric_crs(crs: Any, name: str) -> None:
    """Raise InputError when ``crs`` cannot measure walks in metres, suggesting a UTM zone."""
    problem = metric_crs_problem(crs)
    if problem:
        msg = (
            f"{name} needs a local metric CRS; {problem}. Use the UTM zone of the area "
            "(e.g. EPSG:32628, or leave crs out to get it from the data)."
        )
        raise InputError(msg)


def check_same_crs(a: Any, b: Any, name_a: str, name_b: str) -> None:
    """Raise InputError when two layers are not in the same CRS."""
    if a is None or b is None or not a.equals(b):
        sa = a.to_string() if a is not None else None
        sb = b.to_string() if b is not None else None
        msg = f"{name_a} ({sa}) and {name_b} ({sb}) must share one CRS; reproject one of them."
        raise InputError(msg)


def check_numeric_nonnegative(df: pd.DataFrame, column: str, name: str, *, source: str | None = None) -> None:
    """Raise InputError naming the rows where `column` is non-numeric, NaN or negative."""
    values = pd.to_numeric(df[column], errors="coerce")
    bad_text = df.index[values.isna() & df[column].notna()]
    if len(bad_text):
        msg = (
            f"{name}{_where(source)} column {column!r} has non-numeric values in rows "
            f"{row_list(bad_text)}; use numbers only."
        )
        raise InputError(msg)
    nan = df.index[values.isna()]
    if len(nan):
        msg = (
            f"{name}{_where(source)} column {column!r} is empty (NaN) in rows {row_list(nan)}; "
            "fill them (0 if nobody lives there) or drop the rows."
        )
        raise InputError(msg)
    neg = df.index[values.to_numpy() < 0]
    if len(neg):
        msg = (
            f"{name}{_where(source)} column {column!r} is negative in rows {row_list(neg)}; "
            "counts of people cannot be negative."
        )
        raise InputError(msg)
    huge = df.index[~(values.to_numpy() <= MAX_PEOPLE_PER_ROW)]
    if len(huge):
        msg = (
            f"{name}{_where(source)} column {column!r} is infinite or over {MAX_PEOPLE_PER_ROW:,.0f} in rows "
            f"{row_list(huge)}; a cell cannot hold that many people. Check the column and its units."
        )
        raise InputError(msg)


def check_in_range(value: float, name: str, low: float, high: float, *, integer: bool = False) -> None:
    """Raise ValueError when a numeric option is out of its range (or not an integer)."""
    if integer and (isinstance(value, bool) or not float(value).is_integer()):
        msg = f"{name} must be a whole number; got {value!r}."
        raise ValueError(msg)
    if not (np.isfinite(value) and low <= value <= high):
        msg = f"{name} must be between {low} and {high}; got {value!r}."
        raise ValueError(msg)


def check_choice(value: Any, name: str, options: Iterable[Any]) -> None:
    """Raise ValueError when `value` is not one of `options`."""
    opts = list(options)
    if value not in opts:
        msg = f"{name} must be one of {opts}; got {value!r}."
        raise ValueError(msg)
