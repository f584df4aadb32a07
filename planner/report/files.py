"""The report's other files: ``report.xlsx``, ``report.pdf`` (printed by headless Chromium) and the
walk areas as polygons (``service_areas.gpkg``, and a shapefile with its ``.cpg``)."""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from planner._escape import escape_cell
from planner.areas import service_area_polygons
from planner.errors import InputError
from planner.kinds import FACILITY_ID, KIND, NAME
from planner.pipeline import StudyResult
from planner.report.tables import Table

logger = logging.getLogger(__name__)

#: Number formats of the spreadsheet per column format.
XLSX_FORMATS = {"people": "#,##0", "share": "0.0%", "number": "0", "coord": "0.00000"}
#: Where to look for Chromium (the first that exists); ``PLANNER_CHROMIUM`` comes first.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", "--no-pdf-header-footer")  # fmt: skip


# ---------------------------------------------------------------------- spreadsheet
def _sheet_name(title: str, taken: set[str]) -> str:
    name = "".join(" " if c in "[]:*?/\\" else c for c in title).strip()[:31] or "Sheet"
    base, k = name, 2
    while name in taken:
        name = f"{base[:28]} {k}"
        k += 1
    taken.add(name)
    return name


def _xlsx_value(value: Any, fmt: str) -> Any:
    if fmt == "text":
        return escape_cell(
            "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
        )
    try:
        f = float(value)
    except (TypeError, ValueError):
        return escape_cell(str(value))
    if not math.isfinite(f):
        return None
    return round(f) if fmt in ("people", "number") else f


def write_xlsx(tables: Iterable[Table], path: str | os.PathLike[str]) -> Path:
    """One sheet per table: localised headers, rounded numbers, shares formatted as %.

    Every text cell goes through :func:`~planner._escape.escape_cell` (no formula runs).

    Parameters
    ----------
    tables
        The report's tables.
    path
        The ``.xlsx`` to write.

    Returns
    -------
    pathlib.Path
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    taken: set[str] = set()
    for table in tables:
        ws = wb.create_sheet(_sheet_name(table.title, taken))
        columns = list(table.frame.columns)
        ws.append([escape_cell(str(c)) for c in columns])
        for c in ws[1]:
            c.font = Font(bold=True)
        for values in table.frame.itertuples(index=False):
            ws.append([_xlsx_value(v, table.fmt(col)) for col, v in zip(columns, values, strict=True)])
        for j, col in enumerate(columns, 1):
            fmt = XLSX_FORMATS.get(table.fmt(col))
            if fmt:
                for (c,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                    c.number_format = fmt
            width = max([len(str(col)), *(len(str(v)) for v in table.frame[col].head(200))])
            ws.column_dimensions[get_column_letter(j)].width = min(60, max(8, width + 2))
        ws.freeze_panes = "A2"
    wb.save(path)
    return Path(path)


# ---------------------------------------------------------------------- PDF
def find_chromium() -> str | None:
    """The Chromium to print with: ``PLANNER_CHROMIUM``, else the first on the PATH, else None."""
    given = os.environ.get("PLANNER_CHROMIUM")
    if given:
        return given if Path(given).exists() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html: str | os.PathLike[str], pdf: str | os.PathLike[str], *, chromium: str | None = None,
              timeout_s: float = 180.0) -> Path | None:  # fmt: skip
    """Print an HTML file to an A4 PDF with headless Chromium (nothing remote is loaded).

    Parameters
    ----------
    html
        The page (a local file).
    pdf
        The PDF to write.
    chromium
        The browser to use (default: :func:`find_chromium`).
    timeout_s
        Longest wait.

    Returns
    -------
    pathlib.Path or None
        None when no Chromium is found.
    """
    exe = chromium or find_chromium()
    if exe is None:
        logger.warning("no Chromium found (set PLANNER_CHROMIUM): report.pdf not printed")
        return None
    out = Path(pdf).resolve()
    with tempfile.TemporaryDirectory(prefix="planner-chromium-") as profile:
        cmd = [exe, *CHROMIUM_ARGS, f"--user-data-dir={profile}", f"--print-to-pdf={out}",
               Path(html).resolve().as_uri()]  # fmt: skip
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            msg = f"Chromium ({exe}) could not print the report: {exc}"
            raise InputError(msg) from exc
    if done.returncode != 0 or not out.exists() or out.read_bytes()[:5] != b"%PDF-":
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] if done.stderr else []
        msg = f"Chromium ({exe}) could not print the report (exit {done.returncode}): {' '.join(tail)}"
        raise InputError(msg)
    return out


# ---------------------------------------------------------------------- walk areas
def service_areas(result: StudyResult, kinds: Sequence[str], sites: gpd.GeoDataFrame | None = None, *,
                  planned: bool = False, buffer_m: float = 50.0) -> gpd.GeoDataFrame:  # fmt: skip
    """The walk area of every facility of ``kinds`` and of every added site, one polygon each.

    Parameters
    ----------
    result
        The study run (network, facilities, kinds).
    kinds
        Kinds to include.
    sites
        Added sites (``kind``, ``name``, ``rank``, ``facility_id``), e.g. ``Comparison.sites``.
    planned
        The sites are a plan (status ``planned``) rather than proposed.
    buffer_m
        Metres either side of a reached street.

    Returns
    -------
    geopandas.GeoDataFrame
        ``kind, fac_id, name, status, rank, minutes, speed_kmh, reach_m``, polygons in the
        study's CRS; facilities that could not be snapped are left out (logged).
    """
    cov, net = result.coverage, result.network
    snap = float(cov.params.get("max_snap_m", result.study.max_snap_m))
    parts = []
    for kind in kinds:
        k = cov.kinds[kind]
        groups = [("existing", cov.facilities[cov.facilities[KIND] == kind] if len(cov.facilities) else None)]
        if sites is not None and len(sites):
            groups.append(("planned" if planned else "proposed", sites[sites[KIND] == kind]))
        for status, pts in groups:
            if pts is None or not len(pts):
                continue
            areas = service_area_polygons(net, pts, k.reach_m(), buffer_m=buffer_m, max_snap_m=snap)
            ids = pts[FACILITY_ID] if FACILITY_ID in pts.columns else pts.index
            parts.append(gpd.GeoDataFrame({
                "kind": kind, "fac_id": [str(i) for i in ids],
                "name": [str(n) if isinstance(n, str) else "" for n in pts.get(NAME, pd.Series("", index=pts.index))],
                "status": status, "rank": pts["rank"].to_numpy() if "rank" in pts.columns else 0,
                "minutes": float(k.threshold_min), "speed_kmh": float(k.speed_kmh), "reach_m": round(k.reach_m(), 1),
            }, geometry=areas.to_numpy(), crs=areas.crs))  # fmt: skip
    if not parts:
        return gpd.GeoDataFrame(
            {"kind": [], "fac_id": [], "name": [], "status": []}, geometry=[], crs=net.crs
        )
    out = pd.concat(parts, ignore_index=True)
    empty = out.geometry.is_empty | out.geometry.isna()
    if empty.any():
        logger.warning(
            "%d facilities are too far from a street to have a walk area; left out", int(empty.sum())
        )
    return gpd.GeoDataFrame(out[~empty].reset_index(drop=True), geometry="geometry", crs=net.crs)


def write_shapefile(gdf: gpd.GeoDataFrame, path: str | os.PathLike[str]) -> list[Path]:
    """A shapefile in UTF-8 with its ``.cpg`` (so QGIS and ArcGIS read Chinese names right).

    Parameters
    ----------
    gdf
        The layer (column names of at most 10 characters).
    path
        The ``.shp`` to write.

    Returns
    -------
    list of pathlib.Path
        The files written (``.shp``, ``.shx``, ``.dbf``, ``.prj``, ``.cpg``).
    """
    path = Path(path)
    long = [c for c in gdf.columns if c != gdf.geometry.name and len(c) > 10]
    if long:
        msg = f"shapefile columns must have at most 10 characters; {long} do not."
        raise ValueError(msg)
    gdf.to_file(path, driver="ESRI Shapefile", encoding="UTF-8")
    cpg = path.with_suffix(".cpg")
    if not cpg.exists():
        cpg.write_text("UTF-8", encoding="ascii")
    return [p for p in (path.with_suffix(s) for s in (".shp", ".shx", ".dbf", ".prj", ".cpg")) if p.exists()]
