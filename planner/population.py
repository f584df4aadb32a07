"""Population from census tables: age shares, district totals spread over buildings, grids, units, target years."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

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


# ---------------------------------------------------------------------- units
def assign_units(
    population: gpd.GeoDataFrame, units: gpd.GeoDataFrame, *, columns: Sequence[str]
) -> gpd.GeoDataFrame:
    """Give each cell the unit columns (community, street…) of the polygon holding its centre.

    Parameters
    ----------
    population
        Cells (any geometry) with a CRS.
    units
        Unit polygons with the ``columns`` (e.g. ``community`` and ``street``), any CRS.
    columns
        Columns of ``units`` to copy onto the cells (existing cell columns of these names
        are replaced).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``population`` with the columns; a cell outside every polygon gets a
        missing value (it counts in no unit) and a warning names how many people that is.

    Examples
    --------
    >>> from shapely.geometry import box, Point
    >>> units = gpd.GeoDataFrame({"community": ["a", "b"], "street": ["S", "S"]},
    ...                          geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=32650)
    >>> cells = gpd.GeoDataFrame({"population": [10.0, 20.0]},
    ...                          geometry=[Point(50, 50), Point(150, 50)], crs=32650)
    >>> assign_units(cells, units, columns=["community", "street"])[["community", "street"]].values.tolist()
    [['a', 'S'], ['b', 'S']]
    """
    cols = list(columns)
    if not cols:
        msg = "columns is empty; name the unit columns to copy, e.g. ['community', 'street']."
        raise ValueError(msg)
    check_columns(units, cols, "units", source=units.attrs.get("source"))
    for what, layer in (("population", population), ("units", units)):
        if layer.crs is None:
            msg = f"{what} have no CRS; set one with .set_crs(...)."
            raise InputError(msg)
    u = units[[*cols, "geometry"]].to_crs(population.crs).reset_index(drop=True)
    pts = gpd.GeoDataFrame(geometry=population.geometry.representative_point().to_numpy(), crs=population.crs)
    joined = gpd.sjoin(pts, u, how="left", predicate="within")
    joined = joined[~joined.index.duplicated()]  # a centre on a shared border joins one unit
    out = population.copy()
    for c in cols:
        out[c] = joined[c].to_numpy()
    outside = joined["index_right"].isna().to_numpy()
    if outside.any():
        people = float(pd.to_numeric(out.loc[outside, POPULATION]).sum()) if POPULATION in out else 0.0
        warnings.warn(
            f"{int(outside.sum())} cells ({people:,.0f} people) lie outside every unit polygon; "
            "they count in no unit.",
            UserWarning,
            stacklevel=2,
        )
    return out


# ---------------------------------------------------------------------- target years
#: Census age bands (columns ``AGES_*`` of the county census table), youngest first.
CENSUS_BANDS = ("AGES_0", "AGES_1-4", *(f"AGES_{a}-{a + 4}" for a in range(5, 85, 5)), "AGES_85P")
#: Oldest single age kept apart; the last age of a projection is the open group 85+.
OPEN_AGE = 85
#: Annual deaths per 1,000 people by five-year band: China, 5th national census, deaths of
#: 1999-11-01…2000-10-31 (NBS, *China Statistical Yearbook 2002*, table 4-11). 85+ is the
#: four published bands 85-89…100+ pooled: 644,477 deaths over 3,552,819 mean people.
#: These rates are above today's (life expectancy 71.4 in 2000, 77.9 in 2020), so projected
#: elderly counts are on the low side; give ``death_rates_per_1000`` from a newer life table.
DEATH_RATES_PER_1000_CHINA_2000: Mapping[str, float] = MappingProxyType({
    "0-4": 6.04, "5-9": 0.55, "10-14": 0.42, "15-19": 0.63, "20-24": 0.97, "25-29": 1.11,
    "30-34": 1.33, "35-39": 1.68, "40-44": 2.40, "45-49": 3.47, "50-54": 5.49, "55-59": 8.68,
    "60-64": 14.79, "65-69": 24.37, "70-74": 42.29, "75-79": 66.49, "80-84": 111.68, "85P": 181.40,
})  # fmt: skip
#: Age columns a projection gives: column → (first age, last age or None for "and over").
AGE_GROUPS: Mapping[str, tuple[int, int | None]] = MappingProxyType(
    {AGE_60_PLUS: (60, None), AGE_0_3: (0, 3), AGE_0_17: (0, 17)}
)
_RATE_BANDS = tuple(DEATH_RATES_PER_1000_CHINA_2000)


def _band_of_age(age: int) -> str:
    return "85P" if age >= OPEN_AGE else f"{5 * (age // 5)}-{5 * (age // 5) + 4}"


def census_row(
    census: str | os.PathLike[str] | Mapping[str, Any], *, code: int | str | None = None
) -> dict[str, float]:
    """The age-band shares ``AGES_*`` of one census row (a path with ``code``, or a mapping).

    Parameters
    ----------
    census
        A CSV like ``county_census_2020_policy_cities.csv`` (columns ``CODE``, ``AGES_0``,
        ``AGES_1-4``, ``AGES_5-9`` … ``AGES_85P``), or one row of it as a mapping.
    code
        The row's ``CODE`` (not needed for a table of one row or a mapping).

    Returns
    -------
    dict
        Band column → share (the bands sum to 1 up to the table's rounding).
    """
    if isinstance(census, Mapping):
        row = dict(census)
        where = "census row"
    else:
        df = pd.read_csv(census)
        check_columns(df, ["CODE", *CENSUS_BANDS], "census table", source=str(census))
        if code is None and len(df) != 1:
            msg = f"census table {census} has {len(df)} rows; give code = <county code>."
            raise InputError(msg)
        pick = df if code is None else df.loc[df["CODE"].astype(str) == str(code)]
        if pick.empty:
            msg = f"census table {census} has no row with CODE {code}."
            raise InputError(msg)
        row = pick.iloc[0].to_dict()
        where = f"census table {census}"
    missing = [b for b in CENSUS_BANDS if b not in row]
    if missing:
        msg = f"{where} lacks age band(s) {missing}."
        raise InputError(msg)
    shares = {b: float(row[b]) for b in (*CENSUS_BANDS, *(["POPU"] if "POPU" in row else []))}
    if any(not np.isfinite(shares[b]) or shares[b] < 0 for b in CENSUS_BANDS):
        msg = f"{where}: age-band shares must be numbers ≥ 0."
        raise InputError(msg)
    return shares


def single_ages(bands: Mapping[str, float]) -> np.ndarray:
    """Shares by single age 0…84 and the open group 85+, spread evenly inside each band.

    ``AGES_0`` is age 0, ``AGES_1-4`` is spread over ages 1–4, each five-year band over its five
    ages; the result is scaled to sum to 1 (the census shares are rounded).

    Parameters
    ----------
    bands
        Band column → share, as :func:`census_row` returns.

    Returns
    -------
    numpy.ndarray
        86 shares (index = age; the last is 85 and over).
    """
    ages = np.zeros(OPEN_AGE + 1)
    ages[0] = bands["AGES_0"]
    ages[1:5] = bands["AGES_1-4"] / 4
    for a in range(5, OPEN_AGE, 5):
        ages[a : a + 5] = bands[f"AGES_{a}-{a + 4}"] / 5
    ages[OPEN_AGE] = bands["AGES_85P"]
    total = ages.sum()
    if total <= 0:
        msg = "census age-band shares sum to 0."
        raise InputError(msg)
    return ages / total


def _death_rates(rates: float | Mapping[str, float] | None) -> np.ndarray:
    """Annual death probability (0..1) for each single age 0…85 from per-1,000 band rates."""
    if rates is None:
        table: Mapping[str, float] = DEATH_RATES_PER_1000_CHINA_2000
    elif isinstance(rates, Mapping):
        unknown = sorted(set(rates) - set(_RATE_BANDS))
        missing = [b for b in _RATE_BANDS if b not in rates]
        if unknown or missing:
            msg = f"death_rates_per_1000 needs exactly the bands {list(_RATE_BANDS)}; unknown {unknown}, missing {missing}."
            raise ValueError(msg)
        table = rates
    else:
        table = dict.fromkeys(_RATE_BANDS, float(rates))
    per_age = np.array([float(table[_band_of_age(a)]) for a in range(OPEN_AGE + 1)]) / 1000.0
    if not np.all((per_age >= 0) & (per_age <= 1)):
        msg = f"death rates must be between 0 and 1,000 per 1,000; got {dict(table)}."
        raise ValueError(msg)
    return per_age


@dataclass(frozen=True)
class AgeProjection:
    """One census row's people by single age, at the census year and at a target year.

    Counts are per person of the census year (``ages_from`` sums to 1).

    Attributes
    ----------
    ages_from, ages_to
        People by single age 0…84 and 85+ (86 values), at ``from_year`` and ``to_year``;
        ``ages_to`` includes ``migration_factor``.
    from_year, to_year
        The census year and the target year.
    birth_rate_per_1000
        Births per 1,000 people a year (the census's share aged 0 unless given).
    death_rates_per_1000
        Annual deaths per 1,000 by five-year band.
    migration_factor
        Net migration as a factor on the projected total (1.0: none).
    """

    ages_from: tuple[float, ...]
    ages_to: tuple[float, ...]
    from_year: int
    to_year: int
    birth_rate_per_1000: float
    death_rates_per_1000: Mapping[str, float]
    migration_factor: float = 1.0

    def count(self, column: str, *, at: str = "to") -> float:
        """People of an age column (``population`` or a key of :data:`AGE_GROUPS`) per census person.

        Parameters
        ----------
        column
            ``"population"`` or an age group, e.g. ``"age_60_plus"``.
        at
            ``"from"`` (the census year) or ``"to"`` (the target year).

        Returns
        -------
        float
        """
        ages = np.asarray(self.ages_from if at == "from" else self.ages_to)
        if column == POPULATION:
            return float(ages.sum())
        lo, hi = AGE_GROUPS[column]
        return float(ages[lo : (OPEN_AGE if hi is None else hi) + 1].sum())

    def factor(self, column: str) -> float:
        """Target-year people over census-year people of ``column`` (NaN when there were none)."""
        base = self.count(column, at="from")
        return self.count(column) / base if base > 0 else float("nan")

    def share(self, column: str) -> float:
        """Share of ``column`` in the target year's population."""
        return self.count(column) / self.count(POPULATION)


def project_ages(
    bands: Mapping[str, float],
    *,
    to_year: int,
    from_year: int = 2020,
    death_rates_per_1000: float | Mapping[str, float] | None = None,
    birth_rate_per_1000: float | None = None,
    migration_factor: float = 1.0,
) -> AgeProjection:
    """Age a census row year by year from ``from_year`` to ``to_year`` (cohort-component).

    Each band is spread evenly over its single ages (:func:`single_ages`). Every year each
    age loses its band's death rate, then moves up one year (85+ stays open); births —
    ``birth_rate_per_1000`` × the year's starting total — enter age 0. No migration is
    modelled; ``migration_factor`` scales the final result.

    Parameters
    ----------
    bands
        Band column → share (:func:`census_row`).
    to_year
        The target year (not before ``from_year``).
    from_year
        The census year.
    death_rates_per_1000
        Annual deaths per 1,000 people: one number for every age, or band → rate for the bands
        of :data:`DEATH_RATES_PER_1000_CHINA_2000` (the default).
    birth_rate_per_1000
        Births per 1,000 people a year; default: 1,000 × ``AGES_0`` (the census year's
        surviving births per person, so infant deaths are already out).
    migration_factor
        Factor on the projected total for net migration (1.0: none).

    Returns
    -------
    AgeProjection

    Examples
    --------
    Half the people aged 55–59 and half 60–64; five years on, with no deaths and no births,
    everyone is 60 or over:

    >>> bands = dict.fromkeys(CENSUS_BANDS, 0.0) | {"AGES_55-59": 0.5, "AGES_60-64": 0.5}
    >>> p = project_ages(bands, to_year=2025, death_rates_per_1000=0, birth_rate_per_1000=0)
    >>> p.count("age_60_plus", at="from"), p.count("age_60_plus"), p.factor("age_60_plus")
    (0.5, 1.0, 2.0)
    """
    years = int(to_year) - int(from_year)
    if years < 0:
        msg = f"to_year {to_year} is before the census year {from_year}; a projection runs forward."
        raise ValueError(msg)
    if not (np.isfinite(migration_factor) and migration_factor > 0):
        msg = f"migration_factor must be a positive number; got {migration_factor!r}."
        raise ValueError(msg)
    births = 1000.0 * float(bands["AGES_0"]) if birth_rate_per_1000 is None else float(birth_rate_per_1000)
    if not (np.isfinite(births) and births >= 0):
        msg = f"birth_rate_per_1000 must be a number ≥ 0; got {birth_rate_per_1000!r}."
        raise ValueError(msg)
    q = _death_rates(death_rates_per_1000)
    start = single_ages(bands)
    x = start.copy()
    for _ in range(years):
        born = births / 1000.0 * x.sum()
        alive = x * (1.0 - q)
        x = np.concatenate([[born], alive[:-2], [alive[-2] + alive[-1]]])
    rates = (
        dict(DEATH_RATES_PER_1000_CHINA_2000) if death_rates_per_1000 is None
        else dict(death_rates_per_1000) if isinstance(death_rates_per_1000, Mapping)
        else dict.fromkeys(_RATE_BANDS, float(death_rates_per_1000))
    )  # fmt: skip
    return AgeProjection(
        ages_from=tuple(start.tolist()), ages_to=tuple((x * migration_factor).tolist()),
        from_year=int(from_year), to_year=int(to_year), birth_rate_per_1000=births,
        death_rates_per_1000=MappingProxyType(rates), migration_factor=float(migration_factor),
    )  # fmt: skip


@dataclass(frozen=True)
class Projection:
    """How to age a population to a target year: the census row and the stated rates.

    Parameters
    ----------
    census
        Census table (path, with ``code``) or one row of it as a mapping (:func:`census_row`).
    code
        The row's ``CODE``.
    from_year
        The census year (the year of the population being aged).
    death_rates_per_1000, birth_rate_per_1000, migration_factor
        As in :func:`project_ages`.
    """

    census: Path | Mapping[str, float]
    code: int | str | None = None
    from_year: int = 2020
    death_rates_per_1000: float | Mapping[str, float] | None = None
    birth_rate_per_1000: float | None = None
    migration_factor: float = 1.0

    def ages(self, to_year: int) -> AgeProjection:
        """The census row aged to ``to_year``.

        Parameters
        ----------
        to_year
            The target year.

        Returns
        -------
        AgeProjection
        """
        return project_ages(
            census_row(self.census, code=self.code), to_year=to_year, from_year=self.from_year,
            death_rates_per_1000=self.death_rates_per_1000, birth_rate_per_1000=self.birth_rate_per_1000,
            migration_factor=self.migration_factor,
        )  # fmt: skip

    def describe(self) -> str:
        """One line for run records: census, code and rates."""
        where = self.census.name if isinstance(self.census, Path) else "census row"
        deaths = "China 2000 census rates" if self.death_rates_per_1000 is None else "given death rates"
        births = (
            "census share aged 0" if self.birth_rate_per_1000 is None else f"{self.birth_rate_per_1000:g}‰"
        )
        return (
            f"{where}{f' code {self.code}' if self.code is not None else ''}, from {self.from_year}; "
            f"deaths: {deaths}; births: {births}; migration ×{self.migration_factor:g}"
        )


def project_population(
    population: gpd.GeoDataFrame,
    *,
    census: str | os.PathLike[str] | Mapping[str, float],
    to_year: int,
    code: int | str | None = None,
    from_year: int = 2020,
    death_rates_per_1000: float | Mapping[str, float] | None = None,
    birth_rate_per_1000: float | None = None,
    migration_factor: float = 1.0,
) -> gpd.GeoDataFrame:
    """The population aged to ``to_year`` with the census row's cohorts (:func:`project_ages`).

    Every cell's ``population`` is multiplied by the projected total factor; each age column
    of :data:`AGE_GROUPS` the cell has is multiplied by that group's factor (the cell keeps its
    own age structure), and one it lacks is ``population × share`` of the target year. The
    cells and their places do not change: only the weights do.

    Parameters
    ----------
    population
        Cells with ``population`` (and any age columns), counted in ``from_year``.
    census
        Census table (path) or one row of it (mapping with ``AGES_*``).
    to_year
        The target year.
    code
        The census row's ``CODE`` (for a table of more than one row).
    from_year, death_rates_per_1000, birth_rate_per_1000, migration_factor
        As in :func:`project_ages`.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy; ``attrs["projection"]`` says how it was made.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> cells = gpd.GeoDataFrame({"population": [100.0], "age_60_plus": [50.0]},
    ...                          geometry=[Point(0, 0)], crs=32650)
    >>> bands = dict.fromkeys(CENSUS_BANDS, 0.0) | {"AGES_55-59": 0.5, "AGES_60-64": 0.5}
    >>> p = project_population(cells, census=bands, to_year=2025, death_rates_per_1000=0,
    ...                        birth_rate_per_1000=0)
    >>> p[["population", "age_60_plus", "age_0_3"]].values.tolist()
    [[100.0, 100.0, 0.0]]
    """
    settings = Projection(
        census=census if isinstance(census, Mapping) else Path(census), code=code, from_year=from_year,
        death_rates_per_1000=death_rates_per_1000, birth_rate_per_1000=birth_rate_per_1000,
        migration_factor=migration_factor,
    )  # fmt: skip
    return apply_projection(population, settings.ages(to_year), description=settings.describe())


def apply_projection(
    population: gpd.GeoDataFrame, projection: AgeProjection, *, description: str = ""
) -> gpd.GeoDataFrame:
    """Cells re-weighted by an :class:`AgeProjection` (see :func:`project_population`).

    Parameters
    ----------
    population
        Cells with ``population``.
    projection
        From :func:`project_ages` or :meth:`Projection.ages`.
    description
        How the projection was made, for ``attrs["projection"]``.

    Returns
    -------
    geopandas.GeoDataFrame
    """
    check_columns(population, [POPULATION], "population")
    out = population.copy()
    out[POPULATION] = pd.to_numeric(out[POPULATION]).astype(float) * projection.factor(POPULATION)
    for col in AGE_GROUPS:
        f = projection.factor(col)
        if col in out.columns and np.isfinite(f):
            out[col] = pd.to_numeric(out[col]).astype(float) * f
        else:
            out[col] = out[POPULATION] * projection.share(col)
    out.attrs["projection"] = f"{projection.from_year} → {projection.to_year}" + (
        f" ({description})" if description else ""
    )
    logger.info(
        "population projected %s: total ×%.4f", out.attrs["projection"], projection.factor(POPULATION)
    )
    return out
