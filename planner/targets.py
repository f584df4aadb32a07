"""Plan targets: the targets file read and checked, every target measured per district and year.

What each indicator measures is :data:`planner.indicators.INDICATORS`; this module reads the
targets file (``[[target]]`` entries, ``[units]``, ``[projection]``), checks the targets
against the coverage before anything is measured, and assembles the :class:`TargetReport`.
"""

from __future__ import annotations

import itertools
import logging
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.access import Access
from planner.coverage import Coverage
from planner.errors import InputError
from planner.indicators import (
    BASES,
    INDICATORS,
    PROJECTED_COLUMNS,
    Context,
    Measure,
    Scope,
    Target,
    TargetError,
    facility_columns,
    target_columns,
)
from planner.io.files import read_any
from planner.kinds import ALL
from planner.population import Projection, apply_projection, assign_units, census_row

logger = logging.getLogger(__name__)

__all__ = [
    "BASES", "CENSUS_YEAR", "INDICATORS", "Target", "TargetError", "TargetReport", "TargetSet",
    "check_nested", "evaluate_targets", "facility_cells", "read_targets",
]  # fmt: skip

_TARGET_KEYS = {f.name for f in fields(Target)} - {"line"}
_TOP_KEYS = {"target", "by", "default_capacity", "name", "source", "units", "projection"}
_UNITS_KEYS = {"levels", "path", "columns", "layer"}
_PROJECTION_KEYS = {
    "census",
    "code",
    "from_year",
    "birth_rate_per_1000",
    "death_rates_per_1000",
    "migration_factor",
}
_HEADER = re.compile(r"^\s*\[\[\s*target\s*\]\]")
_TABLE = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
#: Census year assumed when a target year comes before any ``[projection]`` is known.
CENSUS_YEAR = 2020


def _at(line: int | None, source: str | None = None) -> str:
    if line is None:
        return f"{source}: " if source else ""
    return f"{source + ' ' if source else ''}line {line}: "


def _name(index: int, t: Target | Mapping[str, Any]) -> str:
    """``target 3: <label>`` for messages."""
    get = t.get if isinstance(t, Mapping) else lambda k, d="": getattr(t, k, d)
    label = get("label", "") or get("plan", "") or f"{get('kind', '?')} {get('indicator', '?')}"
    return f"target {index}: {label}"


@dataclass(frozen=True)
class TargetSet:
    """The targets of a plan, as read from a targets file.

    Attributes
    ----------
    targets
        The targets, in file order.
    by
        Population column of the reporting districts (None: whole area only).
    default_capacity
        Kind → capacity assumed where a facility has none (for ``capacity``).
    source
        The file read.
    by_line
        Line of the ``by`` key, for messages.
    levels
        Unit columns from the finest to the coarsest (``["community", "street"]``): each
        finer unit must lie in exactly one coarser unit.
    units_path, units_columns, units_layer
        A unit boundary file whose polygons give the cells the ``units_columns``.
    projection
        How to age the population to a target year (``[projection]``; None: not given).
    lines
        Line of each top-level table (``units``, ``projection``), for messages.
    """

    targets: tuple[Target, ...]
    by: str | None = None
    default_capacity: Mapping[str, float] = field(default_factory=dict)
    source: str | None = None
    by_line: int | None = None
    levels: tuple[str, ...] = ()
    units_path: Path | None = None
    units_columns: tuple[str, ...] = ()
    units_layer: str | None = None
    projection: Projection | None = None
    lines: Mapping[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------- reading
class _TargetsFile:
    """One targets file being read: its text for line numbers, its folder for relative paths."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.src = str(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            msg = f"targets file {self.src} does not exist."
            raise InputError(msg) from None
        try:
            self.cfg = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            msg = f"targets file {self.src} is not valid TOML: {exc}."
            raise InputError(msg) from None
        self.lines = text.splitlines()
        self.headers = [i + 1 for i, ln in enumerate(self.lines) if _HEADER.match(ln)]

    def key_line(self, key: str, start: int | None = None, end: int | None = None) -> int | None:
        """Line of ``key =`` between two lines (default: the whole file); ``start`` if absent."""
        lo = 0 if start is None else start - 1
        hi = len(self.lines) if end is None else end - 1
        pat = re.compile(rf"^\s*{re.escape(key)}\s*=")
        return next((i + 1 for i in range(lo, hi) if pat.match(self.lines[i])), start)

    def table_line(self, table: str, key: str | None = None) -> int | None:
        """Line of ``[table]`` or of ``key =`` inside it."""
        current, found = None, None
        for i, ln in enumerate(self.lines, 1):
            head = _TABLE.match(ln)
            if head:
                current = head.group(1).strip()
                found = i if current == table and found is None else found
            elif current == table and key and re.match(rf"^\s*{re.escape(key)}\s*=", ln):
                return i
        return found

    def fail(self, line: int | None, problem: str) -> InputError:
        return InputError(f"{_at(line, self.src)}{problem}")

    def fail_target(
        self, line: int | None, problem: str, index: int, t: Target | Mapping[str, Any]
    ) -> InputError:
        return self.fail(line, f"{problem.rstrip('.')} ({_name(index, t)}).")

    def span(self, i: int) -> tuple[int | None, int | None]:
        return (self.headers[i] if i < len(self.headers) else None,
                self.headers[i + 1] if i + 1 < len(self.headers) else None)  # fmt: skip

    def top(self) -> None:
        unknown = sorted(set(self.cfg) - _TOP_KEYS)
        if unknown:
            msg = f"{self.src}: unknown top-level key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}."
            raise InputError(msg)
        by = self.cfg.get("by")
        if by is not None and (not isinstance(by, str) or not by):
            raise self.fail(self.key_line("by"), f"by must be a population column name; got {by!r}.")

    def default_capacity(self, kinds: Sequence[str] | None) -> dict[str, float]:
        defaults = self.cfg.get("default_capacity", {})
        if not isinstance(defaults, dict) or any(
            not isinstance(v, int | float) or isinstance(v, bool) or v <= 0 for v in defaults.values()
        ):
            problem = "default_capacity must map kinds to positive numbers."
            raise self.fail(self.table_line("default_capacity"), problem)
        bad = sorted(set(defaults) - set(kinds)) if kinds is not None else []
        if bad:
            msg = f"{self.src}: default_capacity names unknown kind(s) {bad}; known kinds are {list(kinds or [])}."
            raise InputError(msg)
        return {k: float(v) for k, v in defaults.items()}

    def targets(self, kinds: Sequence[str] | None) -> tuple[Target, ...]:
        raw = self.cfg.get("target", [])
        if not isinstance(raw, list) or not raw:
            msg = f"{self.src}: no [[target]] entries; add at least one."
            raise InputError(msg)
        if not all(isinstance(spec, dict) for spec in raw):
            msg = f"{self.src}: target must be written as [[target]] tables of key = value lines."
            raise InputError(msg)
        return tuple(self.target(i, spec, kinds) for i, spec in enumerate(raw))

    def target(self, i: int, spec: dict[str, Any], kinds: Sequence[str] | None) -> Target:
        start, end = self.span(i)
        unknown = sorted(set(spec) - _TARGET_KEYS)
        if unknown:
            problem = f"target {i + 1} has unknown key(s) {unknown}; allowed: {sorted(_TARGET_KEYS)}"
            raise self.fail_target(self.key_line(unknown[0], start, end), problem, i + 1, spec)
        missing = [k for k in ("kind", "indicator", "value") if k not in spec]
        if missing:
            raise self.fail_target(start, f"target {i + 1} is missing {missing}", i + 1, spec)
        if kinds is not None and spec["kind"] not in kinds:
            problem = f"target {i + 1} has unknown kind {spec['kind']!r}; known kinds are {list(kinds)}"
            raise self.fail_target(self.key_line("kind", start, end), problem, i + 1, spec)
        try:
            return Target(**{**spec, "line": start})
        except TargetError as exc:
            line = self.key_line(exc.key, start, end) if exc.key and exc.key in spec else start
            raise self.fail_target(line, exc.problem, i + 1, spec) from None
        except TypeError as exc:  # a value of a type no check expected (e.g. a table for a number)
            raise self.fail_target(start, f"target {i + 1}: {exc}", i + 1, spec) from None

    def units(self) -> tuple[tuple[str, ...], Path | None, tuple[str, ...], str | None]:
        cfg = self.cfg.get("units", {})
        if not isinstance(cfg, dict):
            raise self.fail(self.key_line("units"), "units must be a table: [units] levels = [...].")
        unknown = sorted(set(cfg) - _UNITS_KEYS)
        if unknown:
            raise self.fail(
                self.table_line("units", unknown[0]),
                f"[units] has unknown key(s) {unknown}; allowed: {sorted(_UNITS_KEYS)}.",
            )
        levels = self.names(cfg, "levels")
        columns = self.names(cfg, "columns") or levels
        path = None
        if "path" in cfg:
            path = (self.path.parent / str(cfg["path"])).resolve()
            if not path.exists():
                raise self.fail(self.table_line("units", "path"), f"[units] path {path} does not exist.")
            if not columns:
                raise self.fail(
                    self.table_line("units", "path"),
                    "[units] path needs columns = [...] (or levels) to copy onto the cells.",
                )
        return levels, path, columns, cfg.get("layer")

    def names(self, cfg: Mapping[str, Any], key: str) -> tuple[str, ...]:
        value = cfg.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            problem = (
                f'[units] {key} must be a list of column names, finest first, e.g. ["community", "street"].'
            )
            raise self.fail(self.table_line("units", key), problem)
        return tuple(value)

    def projection(self) -> Projection | None:
        cfg = self.cfg.get("projection")
        if cfg is None:
            return None
        where = self.table_line("projection")
        if not isinstance(cfg, dict) or "census" not in cfg:
            raise self.fail(
                where, '[projection] needs census = "<census table>.csv" (and code = <county code>).'
            )
        unknown = sorted(set(cfg) - _PROJECTION_KEYS)
        if unknown:
            raise self.fail(
                self.table_line("projection", unknown[0]),
                f"[projection] has unknown key(s) {unknown}; allowed: {sorted(_PROJECTION_KEYS)}.",
            )
        census = (self.path.parent / str(cfg["census"])).resolve()
        try:
            census_row(census, code=cfg.get("code"))
            projection = Projection(census=census, **{k: v for k, v in cfg.items() if k != "census"})
            projection.ages(projection.from_year)  # the rates are checked once here
        except FileNotFoundError:
            raise self.fail(
                self.table_line("projection", "census"), f"[projection] census file {census} does not exist."
            ) from None
        except (TypeError, ValueError) as exc:
            raise self.fail(where, f"[projection] {exc}") from None
        return projection

    def check_years(self, targets: tuple[Target, ...], projection: Projection | None) -> None:
        first = projection.from_year if projection is not None else CENSUS_YEAR
        for i, t in enumerate(targets):
            if t.year is not None and t.year < first:
                start, end = self.span(i)
                problem = (
                    f"year = {t.year} is before the census year {first}; give a year from {first} on "
                    f"(the population is counted in {first})"
                )
                raise self.fail_target(self.key_line("year", start, end), problem, i + 1, t)


def read_targets(path: str | Path, *, kinds: Sequence[str] | None = None) -> TargetSet:
    """Read a TOML targets file; every problem names its line, the target and what to do.

    Parameters
    ----------
    path
        The file: optional top-level ``by = "district"``, an optional ``[default_capacity]``
        table (kind = number), optional ``[units]`` (``levels``, ``path``, ``columns``) and
        ``[projection]`` (``census``, ``code``, rates) tables, and ``[[target]]`` entries with
        ``kind``, ``indicator``, ``value`` and the fields of :class:`Target` the indicator takes.
    kinds
        Known kind names; targets naming others are an error (None: not checked here).

    Returns
    -------
    TargetSet

    Examples
    --------
    >>> ts = read_targets("data/las_palmas/targets.toml")
    >>> [t.indicator for t in ts.targets][:2]
    ['population_share_within', 'population_share_within']
    """
    f = _TargetsFile(Path(path))
    f.top()
    defaults = f.default_capacity(kinds)
    targets = f.targets(kinds)
    levels, units_path, units_columns, units_layer = f.units()
    projection = f.projection()
    f.check_years(targets, projection)
    by = f.cfg.get("by")
    lines = {k: line for k in ("units", "projection") if (line := f.table_line(k)) is not None}
    return TargetSet(
        targets=targets, by=by, default_capacity=MappingProxyType(defaults), source=f.src,
        by_line=f.key_line("by") if by is not None else None, levels=levels, units_path=units_path,
        units_columns=units_columns, units_layer=units_layer, projection=projection,
        lines=MappingProxyType(lines),
    )  # fmt: skip


# ---------------------------------------------------------------------- the report
@dataclass(frozen=True, eq=False)
class TargetReport:
    """Current (and projected) values against plan targets.

    Attributes
    ----------
    table
        One row per target and scope (``(all)`` and each district): ``scope, kind, indicator,
        label, plan, year, unit, minutes, unit_column, basis, target_people, baseline, target,
        current, projected, gap, met, needed, needed_unit, note, target_no, line``. ``unit``
        says what ``baseline``, ``target``, ``current`` and ``projected`` count (``share`` is
        0..1). With a ``year``, ``projected`` is the value on that year's population and
        ``met``, ``gap``, ``needed`` and ``target_people`` judge it; otherwise they judge
        ``current``. ``gap`` is ``max(0, target − value)``; ``needed`` is what closes it,
        rounded up (``needed_unit``: people, beds, slots, facilities, units…).
    blank_zones
        Units short of a units target and districts where an indicator is zero while people
        live there: ``kind, indicator, scope, zone_column, zone, target_people, facilities``.
    params
        ``by``, the targets file, capacity defaults, unit levels and the projection.
    """

    table: pd.DataFrame
    blank_zones: pd.DataFrame
    params: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        met = int(self.table["met"].sum()) if len(self.table) else 0
        return f"TargetReport(rows={len(self.table)}, met={met}, blank_zones={len(self.blank_zones)})"


_BLANK_COLUMNS = ["kind", "indicator", "scope", "zone_column", "zone", "target_people", "facilities"]


def facility_cells(
    facilities: gpd.GeoDataFrame, population: gpd.GeoDataFrame, columns: Sequence[str]
) -> pd.DataFrame:
    """Population columns (district, units…) of the cell nearest each facility.

    Parameters
    ----------
    facilities
        Facility points, indexed by facility id.
    population
        The cells, same CRS.
    columns
        Population columns to copy.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``facilities``.
    """
    cols = [c for c in dict.fromkeys(columns) if c]
    if not len(facilities):
        return pd.DataFrame(columns=cols, index=facilities.index)
    pop = population[[*cols, "geometry"]].reset_index(drop=True)
    pts = gpd.GeoDataFrame(geometry=facilities.geometry.to_numpy(), crs=facilities.crs,
                           index=pd.RangeIndex(len(facilities)))  # fmt: skip
    joined = gpd.sjoin_nearest(pts, pop, how="left")
    joined = joined[~joined.index.duplicated()]
    out = joined[cols].copy()
    out.index = facilities.index
    return out


@dataclass(frozen=True, eq=False)
class _Run:
    """One evaluation: the targets, the cells (with units), the scopes, one context per year."""

    coverage: Coverage
    targets: TargetSet
    population: gpd.GeoDataFrame
    access: Access | None

    def fail(self, index: int, t: Target, problem: str) -> InputError:
        return InputError(f"{_at(t.line, self.targets.source)}{problem.rstrip('.')} ({_name(index, t)}).")


def _with_units(coverage: Coverage, targets: TargetSet) -> gpd.GeoDataFrame:
    """The coverage's cells, with the unit columns of a ``[units] path`` file when there is one."""
    if targets.units_path is None:
        return coverage.population
    units = read_any(targets.units_path, "units", layer=targets.units_layer)
    try:
        return assign_units(coverage.population, units, columns=targets.units_columns)
    except InputError as exc:
        line = targets.lines.get("units")
        msg = f"{_at(line, targets.source)}[units] {exc}"
        raise InputError(msg) from None


def check_nested(population: pd.DataFrame, levels: Sequence[str]) -> str | None:
    """What breaks the nesting of unit columns (finest first), or None when each finer unit lies in one coarser unit.

    Parameters
    ----------
    population
        Cells with the unit columns.
    levels
        Unit columns from the finest to the coarsest.

    Returns
    -------
    str or None
    """
    for fine, coarse in itertools.pairwise(levels):
        pairs = population[[fine, coarse]].dropna().astype(str).drop_duplicates()
        parents = pairs.groupby(fine)[coarse].unique()
        split = parents[parents.map(len) > 1]
        if len(split):
            unit = split.index[0]
            return (
                f"units are not nested: {fine} {unit!r} lies in {coarse} {sorted(split.iloc[0])[:4]} "
                f"({len(split)} such {fine} units); fix the unit columns or the order of [units] levels "
                "(finest first)."
            )
    return None


def _check_population(run: _Run) -> None:
    pop, ts = run.population, run.targets
    have = [c for c in pop.columns if c != "geometry"]
    if ts.by is not None and ts.by not in pop.columns:
        hint = " (pass districts= to compute_coverage)" if ts.by == "district" else ""
        msg = f"{_at(ts.by_line, ts.source)}by = {ts.by!r} is not a population column{hint}; it has {have}."
        raise InputError(msg)
    missing = [c for c in ts.levels if c not in pop.columns]
    if missing:
        msg = f"{_at(ts.lines.get('units'), ts.source)}[units] levels {missing} are not population columns; it has {have}; add them (pl.assign_units or [units] path)."
        raise InputError(msg)
    problem = check_nested(pop, ts.levels)
    if problem:
        msg = f"{_at(ts.lines.get('units'), ts.source)}{problem}"
        raise InputError(msg)


# Each check returns what is wrong with one target (and what to do), or None.
def _check_kind(run: _Run, t: Target) -> str | None:
    if t.kind not in run.coverage.kinds:
        return f"unknown kind {t.kind!r}; this coverage has {list(run.coverage.kinds)}"
    return None


def _check_columns(run: _Run, t: Target) -> str | None:
    pop = run.population
    have = [c for c in pop.columns if c != "geometry"]
    for role, col in target_columns(t, run.coverage.kinds[t.kind]).items():
        if col not in pop.columns:
            what = {"people": "population column", "unit": "unit"}.get(role, "where column")
            hint = "; add it with pl.assign_units or a [units] path" if role == "unit" else ""
            return f"{what} {col!r} is not a population column; it has {have}{hint}"
    fac = run.coverage.facilities
    for col in facility_columns(t):
        if col not in fac.columns:
            names = [c for c in fac.columns if c != "geometry"]
            return f"facility column {col!r} does not exist; the facilities have {names}; add it to the facilities file"
    return None


def _check_where(run: _Run, t: Target) -> str | None:
    if t.where and not _where_mask(run.population, t.where).any():
        col = next(iter(t.where))
        seen = sorted(map(str, run.population[col].dropna().unique()))[:6]
        return f"where = {dict(t.where)} matches no cell; column {col!r} holds {seen}"
    return None


def _check_access(run: _Run, t: Target) -> str | None:
    if not (t.indicator == "per_1000_target" and t.basis == "reachable"):
        return None
    if run.access is None:
        msg = f"{_at(t.line, run.targets.source)}basis = 'reachable' needs access= (from compute_access)."
        raise ValueError(msg)
    if t.kind not in run.access.kinds:
        return f"kind {t.kind!r} is not in the access result ({list(run.access.kinds)})"
    if t.year is not None:
        return "basis = 'reachable' cannot be judged in a target year (2SFCA is on today's people); use basis = 'located'"
    return None


def _check_minutes(run: _Run, t: Target) -> str | None:
    limit = run.coverage.params.get("max_minutes", np.inf)
    if t.minutes is not None and float(t.minutes) > max(limit, 0):
        return f"minutes = {t.minutes:g} is beyond the coverage search limit ({limit:g}); lower it or raise the limit"
    return None


def _check_year(run: _Run, t: Target) -> str | None:
    if t.year is None:
        return None
    p = run.targets.projection
    if p is None:
        return (
            f'year = {t.year} needs a census to project from; add [projection] census = "<table>.csv", '
            "code = <county code> to the targets file (or census/code in the study's [population.age_shares])"
        )
    if t.year < p.from_year:
        return f"year = {t.year} is before the census year {p.from_year}; give a year from {p.from_year} on"
    col = t.population_column or run.coverage.kinds[t.kind].target_column
    if col not in PROJECTED_COLUMNS:
        return f"population column {col!r} cannot be projected to {t.year} (only {list(PROJECTED_COLUMNS)}); leave out year"
    return None


_TARGET_CHECKS: tuple[Callable[[_Run, Target], str | None], ...] = (
    _check_kind, _check_columns, _check_where, _check_access, _check_minutes, _check_year,
)  # fmt: skip


def _where_mask(frame: pd.DataFrame, where: Mapping[str, Any] | None) -> np.ndarray:
    mask = np.ones(len(frame), bool)
    for col, value in (where or {}).items():
        values = value if isinstance(value, list) else [value]
        mask &= frame[col].isin(values).to_numpy()
    return mask


def _scopes(run: _Run, located: pd.DataFrame) -> list[Scope]:
    pop, by = run.population, run.targets.by
    scopes = [Scope(ALL, pop.index, located.index)]
    if by is not None:
        for key, idx in pop.groupby(by).groups.items():
            scopes.append(Scope(str(key), pd.Index(idx), located.index[located[by].astype(str) == str(key)]))
    return scopes


def _narrow(scope: Scope, t: Target, pop: pd.DataFrame, located: pd.DataFrame) -> Scope:
    if not t.where:
        return scope
    cells = pop.index[_where_mask(pop, t.where)]
    facilities = located.index[_where_mask(located, t.where)]
    return Scope(scope.name, scope.cells.intersection(cells), scope.facilities.intersection(facilities))


def _contexts(run: _Run, located: pd.DataFrame) -> dict[int | None, Context]:
    """One measuring context now (None) and one per target year, each population projected once."""
    defaults = dict(run.targets.default_capacity)
    capacities: dict[tuple[str, str], pd.Series] = {}  # capacities do not change with the year
    out: dict[int | None, Context] = {
        None: Context(run.coverage, run.population, located, run.access, defaults, capacities)
    }
    projection = run.targets.projection
    for year in sorted({t.year for t in run.targets.targets if t.year is not None}):
        assert projection is not None
        pop = apply_projection(run.population, projection.ages(year), description=projection.describe())
        out[year] = Context(run.coverage, pop, located, None, defaults, capacities)
    return out


def evaluate_targets(coverage: Coverage, targets: TargetSet, *, access: Access | None = None) -> TargetReport:
    """Indicators per district and for the whole area, against the plan's targets.

    Every target is checked before any is measured. A target with a ``year`` is judged on the
    population projected to that year (``targets.projection``); the facilities and walking
    minutes stay as they are.

    Parameters
    ----------
    coverage
        From :func:`~planner.coverage.compute_coverage` (with ``districts`` to report by
        district).
    targets
        From :func:`read_targets`, or built by hand.
    access
        From :func:`~planner.access.compute_access`; needed only by ``per_1000_target``
        targets with ``basis = "reachable"``.

    Returns
    -------
    TargetReport

    Examples
    --------
    >>> import geopandas as gpd
    >>> from planner import FacilityKind, WalkNetwork, compute_coverage
    >>> net = WalkNetwork.from_edges([[0, 0], [600, 0]], [0], [1], [600.0], crs="EPSG:32628")
    >>> cells = gpd.GeoDataFrame({"population": [1000.0, 3000.0]},
    ...                          geometry=gpd.points_from_xy([0, 1800], [0, 0]), crs=32628)
    >>> fac = gpd.GeoDataFrame({"kind": ["nursery"], "capacity": [10.0]},
    ...                        geometry=gpd.points_from_xy([0], [0]), crs=32628)
    >>> kinds = {"nursery": FacilityKind("nursery", "population", speed_kmh=3.6)}
    >>> cov = compute_coverage(net, cells, fac, kinds=kinds, thresholds_min=(15,), max_snap_m=2000)
    >>> ts = TargetSet((Target("nursery", "population_share_within", 1.0),
    ...                 Target("nursery", "per_1000_target", 4.5)))
    >>> r = evaluate_targets(cov, ts)
    >>> r.table[["indicator", "current", "target", "met", "needed"]].values.tolist()
    [['population_share_within', 0.25, 1.0, False, 3000.0], ['per_1000_target', 2.5, 4.5, False, 8.0]]
    """
    run = _Run(coverage, targets, _with_units(coverage, targets), access)
    _check_population(run)
    for i, t in enumerate(targets.targets, 1):
        for check in _TARGET_CHECKS:
            problem = check(run, t)
            if problem:
                raise run.fail(i, t, problem)
    columns = [targets.by or "", *targets.levels]
    for t in targets.targets:
        columns += list(target_columns(t, coverage.kinds[t.kind]).values())[1:]
    located = facility_cells(coverage.facilities, run.population, columns)
    contexts = _contexts(run, located)
    scopes = _scopes(run, located)
    rows: list[dict[str, Any]] = []
    blanks: list[dict[str, Any]] = []
    for i, t in enumerate(targets.targets, 1):
        try:
            _measure_target(
                run, i, t, contexts, [_narrow(s, t, run.population, located) for s in scopes], rows, blanks
            )
        except InputError as exc:
            raise run.fail(i, t, str(exc).rstrip(".")) from None
    return _report(run, rows, blanks)


def _measure_target(
    run: _Run, index: int, t: Target, contexts: Mapping[int | None, Context], scopes: list[Scope],
    rows: list[dict[str, Any]], blanks: list[dict[str, Any]],
) -> None:  # fmt: skip
    ind = INDICATORS[t.indicator]
    now = contexts[None]
    kind = run.coverage.kinds[t.kind]
    words = ind.wording(t, kind, now.minutes(t))
    by = run.targets.by
    for scope in scopes[:1] if ind.whole_area else scopes:
        current = ind.measure(now, t, scope)
        judged = ind.measure(contexts[t.year], t, scope) if t.year is not None else current
        rows.append(
            _row(
                t,
                index,
                scope,
                words,
                current,
                judged,
                minutes=now.minutes(t) if "minutes" in ind.takes else np.nan,
            )
        )
        blanks += _blanks(run, t, scope, judged, per_unit=ind.per_unit, by=by)


def _row(
    t: Target, index: int, scope: Scope, words: Any, current: Measure, judged: Measure, *, minutes: float
) -> dict[str, Any]:
    value = judged.current
    met = bool(value >= t.value - 1e-9) if np.isfinite(value) else True
    note = "; ".join(x for x in ("no target people" if judged.people == 0 else "", judged.note) if x)
    return {
        "scope": scope.name, "kind": t.kind, "indicator": t.indicator, "label": t.label or t.plan or words.label,
        "plan": t.plan, "year": t.year if t.year is not None else np.nan, "unit": words.unit, "minutes": minutes,
        "unit_column": t.units or "", "basis": t.basis if t.indicator == "per_1000_target" else "",
        "target_people": judged.people, "baseline": np.nan if t.baseline is None else float(t.baseline),
        "target": float(t.value), "current": current.current,
        "projected": judged.current if t.year is not None else np.nan,
        "gap": max(0.0, t.value - value) if np.isfinite(value) else 0.0, "met": met,
        "needed": float(judged.needed), "needed_unit": words.needed_unit, "note": note,
        "target_no": index, "line": t.line if t.line is not None else np.nan,
    }  # fmt: skip


def _blanks(
    run: _Run, t: Target, scope: Scope, m: Measure, *, per_unit: bool, by: str | None
) -> list[dict[str, Any]]:
    if per_unit:
        if scope.name != ALL and by is not None:
            return []
        pop = run.population
        out = []
        for z in m.zones:
            cells = scope.cells[pop.loc[scope.cells, t.units].astype(str) == z.zone]
            where = ", ".join(sorted(pop.loc[cells, by].astype(str).unique())) if by else ALL
            out.append({"kind": t.kind, "indicator": t.indicator, "scope": where, "zone_column": t.units,
                        "zone": z.zone, "target_people": z.target_people, "facilities": z.facilities})  # fmt: skip
        return out
    if scope.name != ALL and m.people > 0 and m.current == 0:
        return [{"kind": t.kind, "indicator": t.indicator, "scope": scope.name, "zone_column": by,
                 "zone": scope.name, "target_people": m.people, "facilities": np.nan}]  # fmt: skip
    return []


def _report(run: _Run, rows: list[dict[str, Any]], blanks: list[dict[str, Any]]) -> TargetReport:
    table = pd.DataFrame(rows)
    blank_zones = pd.DataFrame(blanks, columns=_BLANK_COLUMNS).drop_duplicates(
        ["kind", "indicator", "zone_column", "zone"]
    )
    logger.info(
        "targets: %d rows, %d met, %d blank zones", len(table), int(table["met"].sum()), len(blank_zones)
    )
    ts = run.targets
    params = {
        "by": ts.by,
        "targets_file": ts.source,
        "default_capacity": dict(ts.default_capacity),
        "access_method": run.access.params.get("method") if run.access is not None else None,
        "levels": list(ts.levels),
        "units_file": str(ts.units_path) if ts.units_path else None,
        "projection": ts.projection.describe() if ts.projection is not None else None,
        "years": sorted({t.year for t in ts.targets if t.year is not None}),
    }
    return TargetReport(
        table=table, blank_zones=blank_zones.reset_index(drop=True), params=MappingProxyType(params)
    )
