"""Writing tables, layers and run records atomically (temp file, then rename): the one atomic write."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner._escape import escape_cell
from planner._version import __version__
from planner.errors import InputError
from planner.i18n import localise_table

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
    """Write a CSV (UTF-8 with BOM, so Excel shows Chinese text) atomically, formulas made inert.

    Text cells starting with ``= + - @`` (or tab, CR, LF) get a leading apostrophe
    (:func:`~planner._escape.escape_cell`), as in the report's spreadsheet.

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
    text = [
        c for c in df.columns if pd.api.types.is_object_dtype(df[c]) or pd.api.types.is_string_dtype(df[c])
    ]
    if text:  # a CSV opens in a spreadsheet: text that would run as a formula is made inert
        df = df.assign(**{c: df[c].map(escape_cell) for c in text})
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


# TOML basic strings: backslash and quote escaped, every control character as an escape
_TOML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}
_TOML_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f]')


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
    return (
        '"'
        + _TOML_ESCAPE.sub(lambda m: _TOML_ESCAPES.get(m.group(0)) or f"\\u{ord(m.group(0)):04X}", str(v))
        + '"'
    )


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
    record = {
        "planner_version": __version__,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **params,
    }
    with atomic_path(path) as tmp:
        tmp.write_text(to_toml(record), encoding="utf-8")
    return Path(path)


def write_partitioned_geoparquet(
    gdf: gpd.GeoDataFrame, partition: Sequence[Any], folder: str | os.PathLike[str]
) -> list[Path]:
    """Write one GeoParquet file per partition value into ``folder`` (atomically per file).

    ``geopandas.read_parquet(folder)`` reads them back as one layer.

    Parameters
    ----------
    gdf
        The layer (e.g. ``Coverage.to_geodataframe()``).
    partition
        One value per row (e.g. the tile id).
    folder
        Output folder; files are ``part-<value>.parquet``.

    Returns
    -------
    list of pathlib.Path
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = gdf.copy()
    for col in out.columns:
        if col != out.geometry.name and out[col].dtype == object:
            out[col] = out[col].astype("string")  # ids with None: one Arrow type in every part
    key = pd.Series(np.asarray(partition, dtype=object), index=out.index).astype(str)
    written = []
    for value, rows in key.groupby(key, sort=True).groups.items():
        path = folder / f"part-{value}.parquet"
        with atomic_path(path) as tmp:
            out.loc[rows].to_parquet(tmp)
        written.append(path)
    return written


RUN_RECORD = "run.toml"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file, read in 1 MB chunks.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        Hex digest.
    """
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class RunFolder:
    """An output folder written whole: files go to a staging folder beside it, moved in at the end.

    Use it as a context manager. :meth:`path` gives where to write a file; on success the run
    record (``run.toml``, with a manifest of every file and its SHA-256) is written last and
    the staging folder replaces the output folder in two renames. A previous planner run in
    the folder (it has a ``run.toml``) is replaced whole, never mixed with the new files; a
    folder holding anything else is refused, as is a file. On any error nothing changes in
    the output folder.

    Parameters
    ----------
    out
        The output folder.
    keep
        Sub-folders of a previous run carried into the new one (e.g. a tile cache).
    lang
        Language of the CSV headers written by :meth:`table` (``"zh"``: Chinese headers and
        words, see :func:`planner.i18n.localise_table`; ``"en"``: planner's column names).
    kind_labels
        Kind → its Chinese label, for the ``kind`` column of Chinese tables.
    """

    def __init__(
        self, out: str | os.PathLike[str], *, keep: tuple[str, ...] = (), lang: str = "en",
        kind_labels: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.out = Path(out)
        self.keep = keep
        self.lang = lang
        self.kind_labels = dict(kind_labels or {})
        if self.out.exists() and not self.out.is_dir():
            msg = f"--out {self.out} is a file; give a folder for the outputs."
            raise InputError(msg)
        if self.out.is_dir() and any(self.out.iterdir()) and not (self.out / RUN_RECORD).exists():
            extra = sorted(p.name for p in self.out.iterdir() if p.name not in keep)
            if extra:
                msg = (
                    f"--out {self.out} holds files that are not a planner run ({extra[:3]}); "
                    "give an empty or new folder."
                )
                raise InputError(msg)
        self.stage: Path | None = None
        self.written: list[Path] = []

    def __enter__(self) -> RunFolder:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.stage = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.staging-", dir=self.out.parent))
        return self

    def path(self, name: str) -> Path:
        """Where to write ``name`` (relative to the output folder) for this run."""
        assert self.stage is not None, "use RunFolder as a context manager"
        target = self.stage / name
        target.parent.mkdir(parents=True, exist_ok=True)
        self.written.append(self.out / name)
        return target

    def table(self, df: pd.DataFrame, name: str, *, index: bool = False) -> Path:
        """Write the CSV ``name`` of this run, in the run's language (:func:`write_table`)."""
        return write_table(
            localise_table(df, self.lang, kind_labels=self.kind_labels), self.path(name), index=index
        )

    def folder(self, name: str) -> Path:
        """A sub-folder ``name`` of this run to write several files into."""
        assert self.stage is not None, "use RunFolder as a context manager"
        target = self.stage / name
        target.mkdir(parents=True, exist_ok=True)
        self.written.append(self.out / name)
        return target

    def finish(self, record: Mapping[str, Any]) -> Path:
        """Write ``run.toml`` (``record`` plus the manifest) and move the run into place."""
        assert self.stage is not None
        manifest = {
            p.relative_to(self.stage).as_posix(): file_sha256(p)
            for p in sorted(self.stage.rglob("*"))
            if p.is_file()
        }
        write_run_record({**record, "manifest": manifest}, self.stage / RUN_RECORD)
        self.written.append(self.out / RUN_RECORD)
        old = None
        if self.out.exists():
            logger.warning(
                "replacing the earlier run in %s with this one (the folder is written whole)", self.out
            )
            for name in self.keep:
                if (self.out / name).exists():
                    os.replace(self.out / name, self.stage / name)
            old = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.previous-", dir=self.out.parent))
            os.replace(self.out, old / "run")
        os.replace(self.stage, self.out)
        self.stage = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        logger.info("wrote %d files into %s", len(manifest) + 1, self.out)
        return self.out / RUN_RECORD

    def __exit__(self, *exc: object) -> None:
        if self.stage is not None:  # failed before finish: the output folder is untouched
            shutil.rmtree(self.stage, ignore_errors=True)
            self.stage = None
