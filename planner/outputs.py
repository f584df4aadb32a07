"""Writing tables, layers and run records atomically (temp file, then rename)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    os.unlink(tmp)  # some writers (GPKG) refuse an existing empty file
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_table(df: pd.DataFrame, path: str | os.PathLike[str], *, index: bool = False) -> Path:
    """Write a CSV (UTF-8 with BOM, so Excel shows Chinese text) atomically.

    Parameters
    ----------
    df
        The table.
    path
        Target ``.csv``.
    index
        Write the index as a column.

    Returns
    -------
    pathlib.Path
    """
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=index, encoding="utf-8-sig")
    return Path(path)


def write_layer(gdf: gpd.GeoDataFrame, path: str | os.PathLike[str], *, layer: str | None = None) -> Path:
    """Write a GeoPackage, GeoParquet or GeoJSON layer atomically (by the file suffix).

    Parameters
    ----------
    gdf
        The layer.
    path
        Target ``.gpkg``, ``.parquet`` or ``.geojson``.
    layer
        Layer name inside a GeoPackage (default: the file stem).

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    out = gdf.copy()
    for col in out.columns:  # object columns of ids with None are fine; inf is not portable
        if col != out.geometry.name and pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].replace([np.inf, -np.inf], np.nan)
    with atomic_path(path) as tmp:
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".geoparquet"):
            out.to_parquet(tmp)
        elif suffix in (".geojson", ".json"):
            out.to_file(tmp, driver="GeoJSON")
        else:
            out.to_file(tmp, driver="GPKG", layer=layer or path.stem)
    return path


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        f = float(v)
        return "inf" if math.isinf(f) and f > 0 else ("nan" if math.isnan(f) else repr(f))
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if v is None:
        return '""'
    s = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{s}"'


def to_toml(data: Mapping[str, Any]) -> str:
    """A small TOML writer for run records (scalars, lists and nested tables)."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []

    def emit(prefix: str, table: Mapping[str, Any]) -> None:
        for k, v in table.items():
            if isinstance(v, Mapping):
                tables.append((f"{prefix}{k}", v))
            else:
                lines.append(f"{_key(k)} = {_toml_value(v)}")

    emit("", data)
    while tables:
        name, table = tables.pop(0)
        lines.append(f"\n[{'.'.join(_key(p) for p in name.split(chr(0)))}]")
        for k, v in table.items():
            if isinstance(v, Mapping):
                tables.append((f"{name}{chr(0)}{k}", v))
            else:
                lines.append(f"{_key(k)} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def _key(k: Any) -> str:
    s = str(k)
    return s if s.replace("_", "").replace("-", "").isalnum() and s.isascii() else _toml_value(s)


def write_run_record(params: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``run.toml``: parameters, inputs, version and time of a run.

    Parameters
    ----------
    params
        Nested mapping of what produced the outputs.
    path
        Target file.

    Returns
    -------
    pathlib.Path
    """
    from planner import __version__

    record = {
        "planner_version": __version__,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **params,
    }
    with atomic_path(path) as tmp:
        tmp.write_text(to_toml(record), encoding="utf-8")
    return Path(path)
