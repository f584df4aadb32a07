"""Plan-target indicators: one registry entry each, with its formula, its unit and what "needed" counts.

A :class:`Target` is one line of a plan ("nursing beds ≥ 60 % of eldercare beds by 2025");
:data:`INDICATORS` maps an indicator name to an :class:`Indicator`, which says which target
fields it needs and takes and how it measures one scope (the whole area or one district).
Adding an indicator is one entry of that table. ``docs/indicators.md`` gives every formula.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd

from planner._validate import row_list
from planner.access import Access, facility_capacities
from planner.coverage import Coverage
from planner.errors import InputError
from planner.kinds import CAPACITY, KIND, POPULATION, FacilityKind
from planner.population import AGE_GROUPS

BASES = ("located", "reachable")
#: What ``unit`` may say about the value: a percentage (shares only).
PERCENT = "%"
#: Target fields every indicator takes.
COMMON_FIELDS = frozenset(
    {"kind", "indicator", "value", "label", "plan", "line", "year", "baseline", "where"}
)
_EPS = 1e-9
#: ``units_reached``: share of a unit's target people within the walk for the unit to count.
DEFAULT_REACH_SHARE = 0.5


class TargetError(InputError):
    """A target that breaks the targets-file contract.

    Parameters
    ----------
    problem
        What is wrong and what to do, without a place.
    key
        The offending key, if one is (the targets file reader points at its line).
    line
        Line of the target's header, if known.
    """

    def __init__(self, problem: str, *, key: str | None = None, line: int | None = None) -> None:
        super().__init__(f"{_at(line)}{problem}")
        self.problem = problem
        self.key = key


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _at(line: int | None) -> str:
    return "" if line is None else f"line {line}: "


@dataclass(frozen=True)
class Target:
    """One plan target.

    Parameters
    ----------
    kind
        Facility kind, e.g. ``"eldercare"``.
    indicator
        A key of :data:`INDICATORS`, e.g. ``"population_share_within"``.
    value
        The target. Shares are stored as 0..1: a percentage given with ``unit = "%"`` is
        divided by 100 here.
    minutes
        Walking minutes (indicators that take it; default: the kind's threshold).
    unit
        ``"%"``: ``value`` and ``baseline`` are percentages (share indicators only). Any other
        text names the unit column, as ``units`` does (files written before ``units``).
    basis
        For ``per_1000_target``: ``"located"`` (capacity in the district) or ``"reachable"``
        (2SFCA capacity within walking reach, population-weighted).
    label
        Text for the table (default: built from the other fields).
    line
        Line of the ``[[target]]`` header in the targets file, for messages.
    units
        Population column naming the units (``"community"``, ``"street"``…).
    n, max_n
        ``units_with_at_least``: a unit conforms when it holds ``n`` ≤ facilities ≤ ``max_n``.
    reach_share
        ``units_reached``: a unit is reached when at least this share (0..1] of its target
        people live within ``minutes`` (default 0.5: most of its people).
    capacity_column
        Facility column counted (default ``capacity``): beds, nursing_beds, doctors, area_m2…
    of_column
        ``capacity_share``: the facility column it is a share of (default ``capacity``).
    population_column
        Population column counted (default: the kind's target column).
    capacity_unit
        What ``capacity_column`` counts, for the table (default: the kind's capacity unit for
        ``capacity``, else the column name).
    where
        Population column → value (or list of values): only cells matching every entry, and
        facilities located in them, count (e.g. ``{"urban": True}``).
    year
        The plan's target year: the target is judged on the population projected to it.
    baseline
        The plan's stated baseline value (same unit as ``value``), shown in the table.
    plan
        The plan's own wording of the target.
    """

    kind: str
    indicator: str
    value: float
    minutes: float | None = None
    unit: str | None = None
    basis: str = "located"
    label: str = ""
    line: int | None = None
    units: str | None = None
    n: int | None = None
    max_n: int | None = None
    reach_share: float | None = None
    capacity_column: str | None = None
    of_column: str | None = None
    population_column: str | None = None
    capacity_unit: str | None = None
    where: Mapping[str, Any] | None = None
    year: int | None = None
    baseline: float | None = None
    plan: str = ""

    def __post_init__(self) -> None:
        if self.indicator not in INDICATORS:
            msg = f"unknown indicator {self.indicator!r}; use one of {list(INDICATORS)}."
            raise TargetError(msg, key="indicator", line=self.line)
        ind = INDICATORS[self.indicator]
        if not _is_number(self.value):
            msg = f"target value must be a number; got {self.value!r}."
            raise TargetError(msg, key="value", line=self.line)
        self._normalise_unit(ind)
        self._check_taken(ind)
        self._check_value(ind)
        self._check_options()
        if self.where is not None:
            object.__setattr__(self, "where", MappingProxyType(_check_where(self.where, self.line)))

    def _normalise_unit(self, ind: Indicator) -> None:
        if self.unit is None or self.unit == PERCENT:
            return
        if "units" not in ind.takes or self.units is not None:
            msg = f"unit must be '%' (a percentage) or left out; got {self.unit!r}."
            raise TargetError(msg, key="unit", line=self.line)
        object.__setattr__(self, "units", self.unit)  # the unit column, as files before `units` wrote it
        object.__setattr__(self, "unit", None)

    def _check_taken(self, ind: Indicator) -> None:
        given = [
            f.name for f in fields(self) if f.name not in COMMON_FIELDS and getattr(self, f.name) != f.default
        ]
        extra = [k for k in given if k not in ind.takes]
        if extra:
            msg = (
                f"{self.indicator} does not take {extra}; it takes "
                f"{sorted(ind.takes) or 'no options'}{' (unit = %: shares only)' if 'unit' in extra else ''}."
            )
            raise TargetError(msg, key=extra[0], line=self.line)
        missing = [k for k in ind.needs if getattr(self, k) is None]
        if missing:
            example = ind.needs_example.get(missing[0], "...")
            msg = f"{self.indicator} needs {missing[0]} = {example}."
            raise TargetError(msg, key=missing[0], line=self.line)

    def _check_value(self, ind: Indicator) -> None:
        scale = 100.0 if self.unit == PERCENT else 1.0
        for key in ("value", "baseline"):
            v = getattr(self, key)
            if v is None:
                continue
            if not _is_number(v):
                msg = f"{key} must be a number; got {v!r}."
                raise TargetError(msg, key=key, line=self.line)
            if ind.share and not 0 <= v <= scale:
                hint = (
                    "between 0 and 100 (unit = '%')"
                    if scale > 1
                    else "between 0 and 1, or 0–100 with unit = '%'"
                )
                msg = f"{self.indicator} is a share: {key} must be {hint}; got {v!r}."
                raise TargetError(msg, key=key, line=self.line)
            if v < 0:
                msg = f"{key} must not be negative; got {v!r}."
                raise TargetError(msg, key=key, line=self.line)
            object.__setattr__(self, key, float(v) / scale)

    def _check_options(self) -> None:
        checks: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
            ("basis", lambda v: v in BASES, f"one of {list(BASES)}"),
            ("minutes", lambda v: _is_number(v) and v > 0, "a positive number"),
            ("n", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "a whole number ≥ 1"),
            ("max_n", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= (self.n or 1),
             "a whole number ≥ n"),
            ("reach_share", lambda v: _is_number(v) and 0 < v <= 1, "a share in (0, 1]"),
            ("year", lambda v: isinstance(v, int) and not isinstance(v, bool) and 1900 <= v <= 2200, "a year such as 2025"),
            ("label", lambda v: isinstance(v, str), "text"),
            ("plan", lambda v: isinstance(v, str), "text"),
        )  # fmt: skip
        for key, ok, what in checks:
            v = getattr(self, key)
            if v is not None and not ok(v):
                word = "unknown basis" if key == "basis" else f"{key} must be {what}; got"
                msg = f"{word} {v!r}{f'; use {what}' if key == 'basis' else ''}."
                raise TargetError(msg, key=key, line=self.line)
        for key in ("units", "capacity_column", "of_column", "population_column", "capacity_unit"):
            v = getattr(self, key)
            if v is not None and (not isinstance(v, str) or not v):
                msg = f"{key} must be a column name (text); got {v!r}."
                raise TargetError(msg, key=key, line=self.line)


def _check_where(where: Any, line: int | None) -> dict[str, Any]:
    if not isinstance(where, Mapping) or not where:
        msg = f"where must be a table of column = value, e.g. where = {{urban = true}}; got {where!r}."
        raise TargetError(msg, key="where", line=line)
    scalar = (str, int, float, bool)
    for k, v in where.items():
        values = v if isinstance(v, list) else [v]
        if not isinstance(k, str) or not values or not all(isinstance(x, scalar) for x in values):
            msg = f"where {k} must be a value or a list of values; got {v!r}."
            raise TargetError(msg, key="where", line=line)
    return dict(where)


# ---------------------------------------------------------------------- what one measurement sees
@dataclass(frozen=True, eq=False)
class Scope:
    """Where one row of the report is measured: cells and facilities (any kind) inside it.

    Attributes
    ----------
    name
        ``(all)`` or a district.
    cells
        Population index of the cells in scope (a target's ``where`` already applied).
    facilities
        Facility ids located in those cells.
    """

    name: str
    cells: pd.Index
    facilities: pd.Index


@dataclass(frozen=True, eq=False)
class Context:
    """The data one evaluation measures on: coverage, the (possibly projected) cells, capacities.

    Attributes
    ----------
    coverage
        Walking minutes and the facilities.
    population
        The cells whose people count (the coverage's, or projected to a target year).
    located
        Per facility: the population columns (district, units, where columns) of its nearest cell.
    access
        2SFCA capacity within reach (``per_1000_target`` with ``basis = "reachable"``).
    default_capacity
        Kind → capacity for facilities without one (``capacity`` only).
    capacities
        (kind, column) → the checked column per facility, filled on first use; contexts of
        several target years share it (capacities do not change with the year).
    """

    coverage: Coverage
    population: gpd.GeoDataFrame
    located: pd.DataFrame
    access: Access | None = None
    default_capacity: Mapping[str, float] = field(default_factory=dict)
    capacities: dict[tuple[str, str], pd.Series] = field(default_factory=dict, repr=False)

    def kind(self, t: Target) -> FacilityKind:
        """The target's facility kind."""
        return self.coverage.kinds[t.kind]

    def people_column(self, t: Target) -> str:
        """The population column a target counts."""
        return t.population_column or self.kind(t).target_column

    def people(self, t: Target, scope: Scope) -> pd.Series:
        """People per cell in scope (the target's population column)."""
        return self.population.loc[scope.cells, self.people_column(t)].astype(float)

    def minutes(self, t: Target) -> float:
        """The target's walking minutes (default: the kind's threshold)."""
        return float(t.minutes if t.minutes is not None else self.kind(t).threshold_min)

    def of_kind(self, t: Target, scope: Scope) -> pd.Index:
        """Ids of the target kind's facilities in scope."""
        fac = self.coverage.facilities
        return scope.facilities.intersection(fac.index[fac[KIND] == t.kind])

    def capacity(self, t: Target, column: str | None = None) -> pd.Series:
        """One facility column (default ``capacity``) for every facility of the kind, checked numeric.

        ``capacity`` falls back on ``default_capacity``; any other column must be filled.
        """
        col = column or CAPACITY
        key = (t.kind, col)
        if key not in self.capacities:
            fac = self.coverage.facilities
            sel = fac[fac[KIND] == t.kind]
            if col == CAPACITY:
                cap, _ = facility_capacities(sel, self.coverage.kinds, dict(self.default_capacity))
                self.capacities[key] = pd.Series(cap, index=sel.index)
            else:
                self.capacities[key] = _numeric_column(sel, col, t.kind)
        return self.capacities[key]


def _numeric_column(sel: pd.DataFrame, col: str, kind: str) -> pd.Series:
    if col not in sel.columns:
        have = [c for c in sel.columns if c != "geometry"]
        msg = f"facility column {col!r} does not exist; the facilities have {have}."
        raise InputError(msg)
    values = pd.to_numeric(sel[col], errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any():
        msg = (
            f"facility column {col!r} is not a number ≥ 0 for {int(bad.sum())} {kind} facilities "
            f"({row_list(sel.index[bad])}); fill it in the facilities file."
        )
        raise InputError(msg)
    return values.astype(float)


class Zone(NamedTuple):
    """A unit that falls short: its name, its target people and the facilities it holds."""

    zone: str
    target_people: float
    facilities: float


@dataclass(frozen=True)
class Measure:
    """One indicator in one scope.

    Attributes
    ----------
    current
        The indicator's value (NaN where undefined, e.g. no people).
    needed
        What closes the gap to the target, rounded up to whole people, places, facilities or
        units (0 when met).
    people
        Target people in scope.
    zones
        Units short of the target (units indicators).
    note
        Anything the figure needs said.
    """

    current: float
    needed: float
    people: float
    zones: tuple[Zone, ...] = ()
    note: str = ""


class Wording(NamedTuple):
    """How a target reads in the table: a default label, the value's unit, what "needed" counts."""

    label: str
    unit: str
    needed_unit: str


@dataclass(frozen=True)
class Indicator:
    """One indicator: its measurement and the target fields it needs and takes.

    Attributes
    ----------
    name
        The key in :data:`INDICATORS`.
    measure
        ``measure(context, target, scope) -> Measure``.
    wording
        ``wording(target, kind, minutes) -> Wording``.
    share
        The value is a share 0..1 (a percentage with ``unit = "%"``).
    needs
        Fields that must be given.
    takes
        Fields that may be given (besides :data:`COMMON_FIELDS`).
    needs_example
        An example value for each needed field, for messages.
    whole_area
        Measured for the whole area only (an absolute total: a district has no share of it).
    per_unit
        Counts units; the units short of the target are listed as blank zones.
    """

    name: str
    measure: Callable[[Context, Target, Scope], Measure]
    wording: Callable[[Target, FacilityKind, float], Wording]
    share: bool = False
    needs: tuple[str, ...] = ()
    takes: frozenset[str] = frozenset()
    needs_example: Mapping[str, str] = field(default_factory=dict)
    whole_area: bool = False
    per_unit: bool = False


def ceil_needed(x: float) -> float:
    """``max(0, ⌈x⌉)``, forgiving floating-point dust (``2.0000000001`` is 2)."""
    return float(max(0, math.ceil(x - _EPS))) if np.isfinite(x) else 0.0


def _ratio(a: float, b: float, scale: float = 1.0) -> float:
    return scale * a / b if b > 0 else float("nan")


# ---------------------------------------------------------------------- the measurements
def _share_within(ctx: Context, t: Target, s: Scope) -> Measure:
    people = ctx.people(t, s)
    tp = float(people.sum())
    covered = float(people[ctx.coverage.minutes.loc[s.cells, t.kind] <= ctx.minutes(t)].sum())
    return Measure(_ratio(covered, tp), ceil_needed(t.value * tp - covered), tp)


def _capacity_here(ctx: Context, t: Target, s: Scope, column: str | None = None) -> float:
    return float(ctx.capacity(t, column).reindex(ctx.of_kind(t, s)).sum())


def _per_1000_target(ctx: Context, t: Target, s: Scope) -> Measure:
    people = ctx.people(t, s)
    tp = float(people.sum())
    if t.basis == "reachable":
        assert ctx.access is not None
        cap = float((people * ctx.access.per_1000[t.kind].loc[s.cells]).sum() / 1000)
    else:
        cap = _capacity_here(ctx, t, s)
    return Measure(_ratio(cap, tp, 1000.0), ceil_needed(t.value * tp / 1000 - cap), tp)


def _per_1000(ctx: Context, t: Target, s: Scope) -> Measure:
    tp = float(ctx.people(t, s).sum())
    cap = _capacity_here(ctx, t, s, t.capacity_column)
    return Measure(_ratio(cap, tp, 1000.0), ceil_needed(t.value * tp / 1000 - cap), tp)


def _per_capita(ctx: Context, t: Target, s: Scope) -> Measure:
    tp = float(ctx.people(t, s).sum())
    cap = _capacity_here(ctx, t, s, t.capacity_column)
    return Measure(_ratio(cap, tp), ceil_needed(t.value * tp - cap), tp)


def _total_capacity(ctx: Context, t: Target, s: Scope) -> Measure:
    cap = _capacity_here(ctx, t, s, t.capacity_column)
    return Measure(cap, ceil_needed(t.value - cap), float(ctx.people(t, s).sum()))


def _capacity_share(ctx: Context, t: Target, s: Scope) -> Measure:
    part = _capacity_here(ctx, t, s, t.capacity_column)
    whole = _capacity_here(ctx, t, s, t.of_column)
    note = "" if whole > 0 else f"no {t.of_column or CAPACITY} in scope"
    return Measure(
        _ratio(part, whole), ceil_needed(t.value * whole - part), float(ctx.people(t, s).sum()), note=note
    )


def _units_in_scope(ctx: Context, t: Target, s: Scope) -> pd.Series:
    """Unit name (text) of every cell in scope that has one."""
    assert t.units is not None
    return ctx.population.loc[s.cells, t.units].dropna().astype(str)


def _units_with_at_least(ctx: Context, t: Target, s: Scope) -> Measure:
    unit_of = _units_in_scope(ctx, t, s)
    units = pd.Index(unit_of.unique())
    located = ctx.located.loc[ctx.of_kind(t, s), t.units].dropna().astype(str)
    counts = located.value_counts().reindex(units, fill_value=0)
    n, top = (t.n or 1), (t.max_n if t.max_n is not None else math.inf)
    ok = (counts >= n) & (counts <= top)
    short = (n - counts[counts < n]).sort_values()
    fix = max(0, math.ceil(t.value * len(units) - _EPS) - int(ok.sum()))
    note = ""
    if fix > len(short):
        note = f"{int((counts > top).sum())} units hold more than {t.max_n}"
    people = ctx.people(t, s).groupby(unit_of).sum()
    zones = tuple(Zone(u, float(people.get(u, 0.0)), float(counts[u])) for u in units[~ok.to_numpy()])
    tp = float(ctx.people(t, s).sum())
    return Measure(_ratio(float(ok.sum()), len(units)), float(short.iloc[:fix].sum()), tp, zones, note)


def _units_reached(ctx: Context, t: Target, s: Scope) -> Measure:
    unit_of = _units_in_scope(ctx, t, s)
    people = ctx.people(t, s).loc[unit_of.index]
    within = ctx.coverage.minutes.loc[unit_of.index, t.kind] <= ctx.minutes(t)
    total = people.groupby(unit_of).sum()
    covered = people[within].groupby(unit_of[within]).sum().reindex(total.index, fill_value=0.0)
    counted = total[total > 0]
    need = t.reach_share if t.reach_share is not None else DEFAULT_REACH_SHARE
    reached = covered.loc[counted.index] >= need * counted - _EPS
    fix = ceil_needed(t.value * len(counted) - int(reached.sum()))
    zones = tuple(Zone(u, float(counted[u]), float("nan")) for u in counted.index[~reached.to_numpy()])
    empty = len(total) - len(counted)
    note = f"{empty} units without target people left out" if empty else ""
    return Measure(
        _ratio(float(reached.sum()), len(counted)), fix, float(ctx.people(t, s).sum()), zones, note
    )


# ---------------------------------------------------------------------- how each reads
def _cap_unit(t: Target, kind: FacilityKind, column: str | None) -> str:
    if t.capacity_unit:
        return t.capacity_unit
    col = column or CAPACITY
    return (kind.capacity_unit or CAPACITY) if col == CAPACITY else col


def _words_share_within(t: Target, k: FacilityKind, m: float) -> Wording:
    col = t.population_column or "target people"
    return Wording(f"{k.name}: share of {col} within {m:g} min", "share", "people")


def _words_per_1000_target(t: Target, k: FacilityKind, m: float) -> Wording:
    unit = _cap_unit(t, k, None)
    return Wording(
        f"{k.name}: capacity per 1,000 target people ({t.basis})", f"{unit} per 1,000 {k.target_column}", unit
    )


def _words_per_1000(t: Target, k: FacilityKind, m: float) -> Wording:
    unit = _cap_unit(t, k, t.capacity_column)
    col = t.population_column or k.target_column
    return Wording(f"{k.name}: {unit} per 1,000 {col}", f"{unit} per 1,000 {col}", unit)


def _words_per_capita(t: Target, k: FacilityKind, m: float) -> Wording:
    unit = _cap_unit(t, k, t.capacity_column)
    col = t.population_column or k.target_column
    return Wording(f"{k.name}: {unit} per person ({col})", f"{unit} per person", unit)


def _words_total(t: Target, k: FacilityKind, m: float) -> Wording:
    unit = _cap_unit(t, k, t.capacity_column)
    return Wording(f"{k.name}: total {unit}", unit, unit)


def _words_capacity_share(t: Target, k: FacilityKind, m: float) -> Wording:
    part = _cap_unit(t, k, t.capacity_column)
    whole = t.of_column or CAPACITY
    return Wording(f"{k.name}: {part} as a share of {whole}", "share", part)


def _words_units_with_facility(t: Target, k: FacilityKind, m: float) -> Wording:
    return Wording(f"{k.name}: share of {t.units} units with a facility", "share", "facilities")


def _words_units_with_at_least(t: Target, k: FacilityKind, m: float) -> Wording:
    n = t.n or 1
    count = f"{n}–{t.max_n}" if t.max_n is not None and t.max_n != n else f"≥ {n}"
    return Wording(f"{k.name}: share of {t.units} units with {count} facilities", "share", "facilities")


def _words_units_reached(t: Target, k: FacilityKind, m: float) -> Wording:
    share = t.reach_share if t.reach_share is not None else DEFAULT_REACH_SHARE
    return Wording(
        f"{k.name}: share of {t.units} units with ≥ {100 * share:g}% of people within {m:g} min",
        "share",
        "units",
    )


_UNITS = {"units": '"community"'}
#: Indicator name → :class:`Indicator`. One entry per indicator; ``docs/indicators.md`` explains each.
INDICATORS: Mapping[str, Indicator] = MappingProxyType({
    "population_share_within": Indicator(
        "population_share_within", _share_within, _words_share_within, share=True,
        takes=frozenset({"minutes", "population_column", "unit"})),
    "per_1000_target": Indicator(
        "per_1000_target", _per_1000_target, _words_per_1000_target, takes=frozenset({"basis"})),
    "units_with_facility": Indicator(
        "units_with_facility", _units_with_at_least, _words_units_with_facility, share=True,
        needs=("units",), takes=frozenset({"units", "unit"}), needs_example=_UNITS, per_unit=True),
    "per_1000": Indicator(
        "per_1000", _per_1000, _words_per_1000,
        takes=frozenset({"capacity_column", "population_column", "capacity_unit"})),
    "per_capita": Indicator(
        "per_capita", _per_capita, _words_per_capita,
        takes=frozenset({"capacity_column", "population_column", "capacity_unit"})),
    "total_capacity": Indicator(
        "total_capacity", _total_capacity, _words_total, whole_area=True,
        takes=frozenset({"capacity_column", "capacity_unit"})),
    "capacity_share": Indicator(
        "capacity_share", _capacity_share, _words_capacity_share, share=True, needs=("capacity_column",),
        takes=frozenset({"capacity_column", "of_column", "capacity_unit", "unit"}),
        needs_example={"capacity_column": '"nursing_beds"'}),
    "units_with_at_least": Indicator(
        "units_with_at_least", _units_with_at_least, _words_units_with_at_least, share=True,
        needs=("units",), takes=frozenset({"units", "n", "max_n", "unit"}), needs_example=_UNITS,
        per_unit=True),
    "units_reached": Indicator(
        "units_reached", _units_reached, _words_units_reached, share=True, needs=("units",),
        takes=frozenset({"units", "minutes", "reach_share", "population_column", "unit"}),
        needs_example=_UNITS, per_unit=True),
})  # fmt: skip


def target_columns(t: Target, kind: FacilityKind) -> dict[str, str]:
    """Population columns a target reads: role → column (people, units, where…).

    Parameters
    ----------
    t
        The target.
    kind
        Its facility kind.

    Returns
    -------
    dict
    """
    cols = {"people": t.population_column or kind.target_column}
    if t.units:
        cols["unit"] = t.units
    for c in t.where or {}:
        cols[f"where {c}"] = c
    return cols


def facility_columns(t: Target) -> list[str]:
    """Facility columns a target reads besides ``capacity``.

    Parameters
    ----------
    t
        The target.

    Returns
    -------
    list of str
    """
    return [c for c in (t.capacity_column, t.of_column) if c and c != CAPACITY]


#: Population columns a target year re-weights (a target counting another cannot have a year).
PROJECTED_COLUMNS = (POPULATION, *AGE_GROUPS)
