"""Population from census tables: age shares, district totals spread over buildings, grids."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner._validate import (
    check_columns,
    check_numeric_nonnegative,
    check_projected_crs,
    metric_crs_problem,
    row_list,
)
from planner.errors import InputError
from planner.kinds import AGE_0_3, AGE_0_17, AGE_60_PLUS, POPULATION

logger = logging.getLogger(__name__)

UNIT = "unit"


def spread_population(
    units: gpd.GeoDataFrame,
    targets: gpd.GeoDataFrame,
    *,
    total_column: str = POPULATION,
    unit_column: str = "name",
    weight_column: str | None = None,
    shares: Mapping[str, float | str] | None = None,
) -> gpd.GeoDataFrame:
    """Spread each unit's published total over the buildings or cells inside it (dasymetric).

    Each target joins the unit holding its representative point and receives
    ``total × weight / Σ weight`` of that unit. Age groups follow from ``shares``.

    Parameters
    ----------
    units
        Polygons with a total (e.g. 街道/镇 or county census totals) and a name.
    targets
        Residential buildings or grid cells (polygons or points), any CRS.
    total_column
        Residents per unit.
    unit_column
        Name or code of each unit; copied to the output column ``unit``.
    weight_column
        Weight per target, e.g. floor area (footprint × levels); default: polygon area.
    shares
        Age column → share: a number (the same in every unit) or the name of a units column
        holding each unit's own share, e.g. ``{"age_60_plus": "share_60p"}``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``targets`` (their CRS) with ``unit``, ``population`` and the age columns; targets
        outside every unit get 0. ``attrs["age_source"]`` says where the ages came from.

    Examples
    --------
    >>> from shapely.geometry import box, Point
    >>> units = gpd.GeoDataFrame({"name": ["A"], "population": [300.0]},
    ...                          geometry=[box(0, 0, 100, 100)], crs=32650)
    >>> homes = gpd.GeoDataFrame({"floor_m2": [100.0, 200.0]},
    ...                          geometry=[Point(10, 10), Point(50, 50)], crs=32650)
    >>> spread_population(units, homes, weight_column="floor_m2",
    ...                   shares={"age_60_plus": 0.25})[["population", "age_60_plus"]].values.tolist()
    [[100.0, 25.0], [200.0, 50.0]]
    """
    src_u = units.attrs.get("source")
    check_columns(units, [total_column, unit_column], "units", source=src_u)
    check_numeric_nonnegative(units, total_column, "units", source=src_u)
    for what, layer in (("units", units), ("targets", targets)):
        if layer.crs is None:
            msg = f"{what} ({layer.attrs.get('source', what)}) have no CRS; set one with .set_crs(...)."
            raise InputError(msg)
    if len(targets) == 0:
        msg = "targets (buildings or cells) are empty."
        raise InputError(msg)
    metric = targets.crs if metric_crs_problem(targets.crs) is None else targets.estimate_utm_crs()
    # positional indexes: the spatial join names its column after the index (geopandas 1.x)
    t = targets.to_crs(metric).reset_index(drop=True)
    u = units.to_crs(metric).reset_index(drop=True)

    if weight_column is None:
        geoms = t.geometry.to_numpy()
        if (shapely.get_type_id(geoms) == 0).any():
            msg = "targets are points: give weight_column (e.g. floor area) to spread people over them."
            raise InputError(msg)
        weight = shapely.area(geoms)
    else:
        check_columns(targets, [weight_column], "targets", source=targets.attrs.get("source"))
        check_numeric_nonnegative(targets, weight_column, "targets", source=targets.attrs.get("source"))
        weight = pd.to_numeric(t[weight_column]).to_numpy(float)

    pts = gpd.GeoDataFrame(geometry=t.geometry.representative_point(), crs=metric)
    joined = gpd.sjoin(pts, u[[unit_column, total_column, "geometry"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated()]  # a point on a shared border joins one unit
    upos = joined["index_right"].reindex(t.index).fillna(-1).to_numpy().astype(np.int64)

    inside = upos >= 0
    wsum = np.bincount(upos[inside], weights=weight[inside], minlength=len(u))
    totals = pd.to_numeric(units[total_column]).to_numpy(float)
    empty = (wsum <= 0) & (totals > 0)
    if empty.any():
        lost = totals[empty].sum()
        warnings.warn(
            f"{int(empty.sum())} units have residents but no building/cell (with weight) inside: "
            f"{row_list(units[unit_column].to_numpy()[empty])}; their {lost:,.0f} people are not placed.",
            UserWarning,
            stacklevel=2,
        )
    share = np.zeros(len(t))
    share[inside] = weight[inside] / np.where(wsum > 0, wsum, 1.0)[upos[inside]]
    pop = np.zeros(len(t))
    pop[inside] = share[inside] * totals[upos[inside]]

    out = targets.copy()
    names = units[unit_column].astype(str).to_numpy()
    out[UNIT] = np.where(inside, names[np.maximum(upos, 0)], None)
    out[POPULATION] = pop
    described = []
    for col, spec in (shares or {}).items():
        if isinstance(spec, str):
            check_columns(units, [spec], "units", source=src_u)
            per_unit = pd.to_numeric(units[spec], errors="coerce").to_numpy(float)
            described.append(f"{col} from units column {spec!r}")
        else:
            per_unit = np.full(len(u), float(spec))
            described.append(f"{col}={float(spec):.4f}")
        if np.isnan(per_unit).any() or (per_unit < 0).any() or (per_unit > 1).any():
            bad = units[unit_column].to_numpy()[np.isnan(per_unit) | (per_unit < 0) | (per_unit > 1)]
            msg = f"age share {col!r} must be between 0 and 1 in every unit; check {row_list(bad)}."
            raise InputError(msg)
        out[col] = np.where(inside, pop * per_unit[np.maximum(upos, 0)], 0.0)
    out.attrs["age_source"] = "census shares per unit: " + ", ".join(described) if described else ""
    logger.info("spread %.0f people of %d units over %d targets", pop.sum(), len(u), int(inside.sum()))
    return out


def grid_from_points(
    points: gpd.GeoDataFrame, *, cell_m: float = 100.0, columns: list[str] | None = None
) -> gpd.GeoDataFrame:
    """Sum point values (people per building) into square cells aligned to multiples of ``cell_m``.

    Parameters
    ----------
    points
        Points (or polygons, by their representative point) in a metric CRS.
    cell_m
        Cell size in metres.
    columns
        Numeric columns to sum (default: ``population`` and any ``age_*`` columns).

    Returns
    -------
    geopandas.GeoDataFrame
        Non-empty cells indexed by ``cell_id`` = ``E{xmin}N{ymin}``, polygon geometry.
    """
    check_projected_crs(points.crs, "points")
    if cell_m <= 0:
        msg = f"cell_m must be positive; got {cell_m!r}."
        raise ValueError(msg)
    cols = columns or [c for c in points.columns if c == POPULATION or c.startswith("age_")]
    check_columns(points, cols, "points")
    xy = shapely.get_coordinates(points.geometry.representative_point().to_numpy())
    ix = np.floor(xy[:, 0] / cell_m).astype(np.int64)
    iy = np.floor(xy[:, 1] / cell_m).astype(np.int64)
    frame = pd.DataFrame({c: pd.to_numeric(points[c]).to_numpy(float) for c in cols})
    frame["ix"], frame["iy"] = ix, iy
    agg = frame.groupby(["ix", "iy"], sort=True)[cols].sum().reset_index()
    x0 = agg["ix"].to_numpy() * cell_m
    y0 = agg["iy"].to_numpy() * cell_m
    ids = [f"E{_num(x)}N{_num(y)}" for x, y in zip(x0, y0, strict=True)]
    geometry = shapely.box(x0, y0, x0 + cell_m, y0 + cell_m)
    return gpd.GeoDataFrame(agg[cols].set_index(pd.Index(ids, name="cell_id")),
                            geometry=geometry, crs=points.crs)  # fmt: skip


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


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


def age_shares_from_census(path: str | os.PathLike[str], code: int | str) -> dict[str, float]:
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
