"""Plan targets (coverage shares, capacity per 1,000, units with a facility) against current values."""

from __future__ import annotations

import logging
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.access import Access, facility_capacities
from planner.coverage import Coverage
from planner.errors import InputError
from planner.kinds import ALL, KIND

logger = logging.getLogger(__name__)

INDICATORS = ("population_share_within", "per_1000_target", "units_with_facility")
BASES = ("located", "reachable")
_TARGET_KEYS = {"kind", "indicator", "value", "minutes", "unit", "basis", "label"}
_TOP_KEYS = {"target", "by", "default_capacity", "name", "source"}
_HEADER = re.compile(r"^\s*\[\[\s*target\s*\]\]")


@dataclass(frozen=True)
class Target:
    """One plan target.

    Parameters
    ----------
    kind
        Facility kind, e.g. ``"eldercare"``.
    indicator
        ``"population_share_within"`` (share 0..1 of the kind's target people within
        ``minutes``), ``"per_1000_target"`` (capacity per 1,000 target people) or
        ``"units_with_facility"`` (share 0..1 of ``unit`` areas holding at least one facility).
    value
        The target value.
    minutes
        Walking minutes for ``population_share_within`` (default: the kind's threshold).
    unit
        Population column naming the administrative units, for ``units_with_facility``.
    basis
        For ``per_1000_target``: ``"located"`` counts the capacity located in each district;
        ``"reachable"`` the population-weighted 2SFCA capacity within walking reach.
    label
        Text for the table (default: built from the other fields).
    line
        Line of the ``[[target]]`` header in the targets file, for messages.
    """

    kind: str
    indicator: str
    value: float
    minutes: float | None = None
    unit: str | None = None
    basis: str = "located"
    label: str = ""
    line: int | None = None

    def __post_init__(self) -> None:
        where = _at(self.line)
        if self.indicator not in INDICATORS:
            msg = f"{where}unknown indicator {self.indicator!r}; use one of {list(INDICATORS)}."
            raise InputError(msg)
        if (
            not isinstance(self.value, int | float)
            or isinstance(self.value, bool)
            or not math.isfinite(self.value)
        ):
            msg = f"{where}target value must be a number; got {self.value!r}."
            raise InputError(msg)
        if self.indicator != "per_1000_target" and not 0 <= self.value <= 1:
            msg = f"{where}{self.indicator} is a share: value must be between 0 and 1; got {self.value!r}."
            raise InputError(msg)
        if self.value < 0:
            msg = f"{where}value must not be negative; got {self.value!r}."
            raise InputError(msg)
        if self.indicator == "units_with_facility" and not self.unit:
            msg = f"{where}units_with_facility needs unit = '<population column>' (e.g. 'community')."
            raise InputError(msg)
        if self.basis not in BASES:
            msg = f"{where}unknown basis {self.basis!r}; use one of {list(BASES)}."
            raise InputError(msg)
        if self.minutes is not None and not (isinstance(self.minutes, int | float) and self.minutes > 0):
            msg = f"{where}minutes must be a positive number; got {self.minutes!r}."
            raise InputError(msg)


def _at(line: int | None, source: str | None = None) -> str:
    if line is None:
        return f"{source}: " if source else ""
    return f"{source + ' ' if source else ''}line {line}: "


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
        Kind → capacity assumed where a facility has none (for ``per_1000_target``).
    source
        The file read.
    by_line
        Line of the ``by`` key, for messages.
    """

    targets: tuple[Target, ...]
    by: str | None = None
    default_capacity: Mapping[str, float] = field(default_factory=dict)
    source: str | None = None
    by_line: int | None = None


def read_targets(path: str | Path, *, kinds: Sequence[str] | None = None) -> TargetSet:
    """Read a TOML targets file; every problem names its line.

    Parameters
    ----------
    path
        The file: optional top-level ``by = "district"``, an optional ``[default_capacity]``
        table (kind = number) and ``[[target]]`` entries with ``kind``, ``indicator``,
        ``value`` and, as needed, ``minutes``, ``unit``, ``basis``, ``label``.
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
    path = Path(path)
    src = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"targets file {src} does not exist."
        raise InputError(msg) from None
    try:
        cfg = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"targets file {src} is not valid TOML: {exc}."
        raise InputError(msg) from None
    lines = text.splitlines()
    headers = [i + 1 for i, ln in enumerate(lines) if _HEADER.match(ln)]

    def key_line(key: str, start: int | None = None, end: int | None = None) -> int | None:
        lo = 0 if start is None else start - 1
        hi = len(lines) if end is None else end - 1
        pat = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for i in range(lo, hi):
            if pat.match(lines[i]):
                return i + 1
        return start

    unknown_top = sorted(set(cfg) - _TOP_KEYS)
    if unknown_top:
        msg = f"{src}: unknown top-level key(s) {unknown_top}; allowed: {sorted(_TOP_KEYS)}."
        raise InputError(msg)
    raw = cfg.get("target", [])
    if not isinstance(raw, list) or not raw:
        msg = f"{src}: no [[target]] entries; add at least one."
        raise InputError(msg)
    defaults = cfg.get("default_capacity", {})
    if not isinstance(defaults, dict) or any(
        not isinstance(v, int | float) or isinstance(v, bool) or v <= 0 for v in defaults.values()
    ):
        msg = (
            f"{_at(key_line('[default_capacity]'), src)}default_capacity must map kinds to positive numbers."
        )
        raise InputError(msg)
    out = []
    for i, spec in enumerate(raw):
        start = headers[i] if i < len(headers) else None
        end = headers[i + 1] if i + 1 < len(headers) else None
        where = _at(start, src)
        unknown = sorted(set(spec) - _TARGET_KEYS)
        if unknown:
            line = key_line(unknown[0], start, end)
            msg = f"{_at(line, src)}target {i + 1} has unknown key(s) {unknown}; allowed: {sorted(_TARGET_KEYS)}."
            raise InputError(msg)
        missing = [k for k in ("kind", "indicator", "value") if k not in spec]
        if missing:
            msg = f"{where}target {i + 1} is missing {missing}."
            raise InputError(msg)
        if kinds is not None and spec["kind"] not in kinds:
            line = key_line("kind", start, end)
            msg = f"{_at(line, src)}target {i + 1} has unknown kind {spec['kind']!r}; known kinds are {list(kinds)}."
            raise InputError(msg)
        try:
            out.append(Target(**{**spec, "line": start}))
        except InputError as exc:
            bad = next((k for k in ("indicator", "basis", "minutes", "unit", "value") if k in str(exc)), None)
            line = key_line(bad, start, end) if bad and bad in spec else start
            msg = f"{src} {str(exc).replace(f'line {start}:', f'line {line}:')}"
            raise InputError(msg) from None
    if kinds is not None:
        bad_defaults = sorted(set(defaults) - set(kinds))
        if bad_defaults:
            msg = f"{src}: default_capacity names unknown kind(s) {bad_defaults}; known kinds are {list(kinds)}."
            raise InputError(msg)
    by = cfg.get("by")
    return TargetSet(
        targets=tuple(out),
        by=by,
        default_capacity=MappingProxyType({k: float(v) for k, v in defaults.items()}),
        source=src,
        by_line=key_line("by") if by is not None else None,
    )


@dataclass(frozen=True, eq=False)
class TargetReport:
    """Current values against plan targets.

    Attributes
    ----------
    table
        One row per target and scope (``(all)`` and each district): ``scope, kind, indicator,
        minutes, unit, basis, target_people, current, target, gap, met, needed, needed_unit,
        note, line``. ``gap`` is ``max(0, target − current)`` in the indicator's unit;
        ``needed`` is what closes it: people to bring within reach, capacity to add, or
        facilities (one per blank unit).
    blank_zones
        Units without a facility (``units_with_facility`` targets) and districts where the
        indicator is zero while people live there: ``kind, indicator, scope, zone_column,
        zone, target_people``.
    params
        ``by``, the targets file and capacity defaults.
    """

    table: pd.DataFrame
    blank_zones: pd.DataFrame
    params: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        met = int(self.table["met"].sum()) if len(self.table) else 0
        return f"TargetReport(rows={len(self.table)}, met={met}, blank_zones={len(self.blank_zones)})"


def _facility_cells(coverage: Coverage, columns: list[str]) -> pd.DataFrame:
    """Population columns (district, unit…) of the cell nearest each facility."""
    fac = coverage.facilities
    cols = [c for c in dict.fromkeys(columns) if c]
    if not len(fac):
        return pd.DataFrame(columns=cols, index=fac.index)
    pop = coverage.population[[*cols, "geometry"]].reset_index(drop=True)
    pts = gpd.GeoDataFrame(geometry=fac.geometry.to_numpy(), crs=fac.crs, index=pd.RangeIndex(len(fac)))
    joined = gpd.sjoin_nearest(pts, pop, how="left")
    joined = joined[~joined.index.duplicated()]
    out = joined[cols].copy()
    out.index = fac.index
    return out


def evaluate_targets(coverage: Coverage, targets: TargetSet, *, access: Access | None = None) -> TargetReport:
    """Indicators per district and for the whole area, against the plan's targets.

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
    pop = coverage.population
    by = targets.by
    src = targets.source
    if by is not None and by not in pop.columns:
        have = [c for c in pop.columns if c != "geometry"]
        hint = " (pass districts= to compute_coverage)" if by == "district" else ""
        msg = f"{_at(targets.by_line, src)}by = {by!r} is not a population column{hint}; it has {have}."
        raise InputError(msg)
    for t in targets.targets:
        where = _at(t.line, src)
        if t.kind not in coverage.kinds:
            msg = f"{where}unknown kind {t.kind!r}; this coverage has {list(coverage.kinds)}."
            raise InputError(msg)
        if t.unit is not None and t.unit not in pop.columns:
            have = [c for c in pop.columns if c != "geometry"]
            msg = f"{where}unit {t.unit!r} is not a population column; it has {have}."
            raise InputError(msg)
        if t.basis == "reachable" and t.indicator == "per_1000_target":
            if access is None:
                msg = f"{where}basis = 'reachable' needs access= (from compute_access)."
                raise ValueError(msg)
            if t.kind not in access.kinds:
                msg = f"{where}kind {t.kind!r} is not in the access result ({list(access.kinds)})."
                raise InputError(msg)
            if t.minutes is not None:
                msg = f"{where}minutes does not apply to per_1000_target (reach is the kind's threshold)."
                raise InputError(msg)

    loc = _facility_cells(coverage, [by or "", *(t.unit or "" for t in targets.targets)])
    fac = coverage.facilities
    scopes: list[tuple[str, pd.Index, pd.Series]] = [(ALL, pop.index, pd.Series(True, index=fac.index))]
    if by is not None:
        for key, idx in pop.groupby(by).groups.items():
            scopes.append((str(key), idx, loc[by].astype(str) == str(key)))

    capacity: dict[str, pd.Series] = {}
    rows, blanks = [], []
    for t in targets.targets:
        kind = coverage.kinds[t.kind]
        people = pop[kind.target_column].astype(float)
        of_kind = fac[KIND] == t.kind
        minutes = float(t.minutes if t.minutes is not None else kind.threshold_min)
        if t.indicator == "population_share_within" and minutes > max(coverage.params["max_minutes"], 0):
            msg = f"{_at(t.line, src)}minutes = {minutes:g} is beyond the coverage search limit ({coverage.params['max_minutes']:g})."
            raise InputError(msg)
        if t.indicator == "per_1000_target" and t.basis == "located" and t.kind not in capacity:
            sel = fac[of_kind]
            cap, _ = facility_capacities(sel, coverage.kinds, dict(targets.default_capacity))
            capacity[t.kind] = pd.Series(cap, index=sel.index)
        for scope, idx, fac_in in scopes:
            tp = float(people.loc[idx].sum())
            note = ""
            needed, needed_unit = np.nan, ""
            if t.indicator == "population_share_within":
                covered = float(people.loc[idx][coverage.minutes[t.kind].loc[idx] <= minutes].sum())
                current = covered / tp if tp > 0 else np.nan
                needed = max(0.0, math.ceil(t.value * tp - covered - 1e-9))
                needed_unit = "people to bring within reach"
            elif t.indicator == "per_1000_target":
                if t.basis == "located":
                    cap_here = float(capacity[t.kind][fac_in[of_kind]].sum())
                else:
                    assert access is not None
                    cap_here = float((people.loc[idx] * access.per_1000[t.kind].loc[idx]).sum() / 1000)
                current = 1000 * cap_here / tp if tp > 0 else np.nan
                needed = max(0.0, t.value * tp / 1000 - cap_here)
                needed_unit = kind.capacity_unit or "capacity"
            else:  # units_with_facility
                assert t.unit is not None
                units = pd.Index(pop.loc[idx, t.unit].dropna().astype(str).unique())
                with_fac = set(loc.loc[of_kind & fac_in, t.unit].dropna().astype(str))
                n_with = int(units.isin(list(with_fac)).sum())
                current = n_with / len(units) if len(units) else np.nan
                needed = max(0, math.ceil(t.value * len(units) - 1e-9) - n_with)
                needed_unit = "facilities (one per blank unit)"
                if scope == ALL or by is None:
                    for u in units[~units.isin(list(with_fac))]:
                        cells = pop.index[pop[t.unit].astype(str) == u]
                        blanks.append({
                            "kind": t.kind, "indicator": t.indicator,
                            "scope": ", ".join(sorted(pop.loc[cells, by].astype(str).unique())) if by else ALL,
                            "zone_column": t.unit, "zone": u, "target_people": float(people.loc[cells].sum()),
                        })  # fmt: skip
            if tp == 0:
                note = "no target people"
            met = bool(current >= t.value - 1e-9) if np.isfinite(current) else True
            gap = max(0.0, t.value - current) if np.isfinite(current) else 0.0
            if t.indicator != "units_with_facility" and scope != ALL and tp > 0 and current == 0:
                blanks.append({"kind": t.kind, "indicator": t.indicator, "scope": scope, "zone_column": by,
                               "zone": scope, "target_people": tp})  # fmt: skip
            rows.append({
                "scope": scope, "kind": t.kind, "indicator": t.indicator,
                "label": t.label or _label(t, minutes),
                "minutes": minutes if t.indicator == "population_share_within" else np.nan,
                "unit": t.unit or "", "basis": t.basis if t.indicator == "per_1000_target" else "",
                "target_people": tp, "current": current, "target": float(t.value), "gap": gap, "met": met,
                "needed": float(needed), "needed_unit": needed_unit, "note": note,
                "line": t.line if t.line is not None else np.nan,
            })  # fmt: skip
    table = pd.DataFrame(rows)
    blank_cols = ["kind", "indicator", "scope", "zone_column", "zone", "target_people"]
    blank_zones = pd.DataFrame(blanks, columns=blank_cols).drop_duplicates(
        ["kind", "indicator", "zone_column", "zone"]
    )
    logger.info(
        "targets: %d rows, %d met, %d blank zones", len(table), int(table["met"].sum()), len(blank_zones)
    )
    params = {
        "by": by,
        "targets_file": src,
        "default_capacity": dict(targets.default_capacity),
        "access_method": access.params.get("method") if access is not None else None,
    }
    return TargetReport(
        table=table, blank_zones=blank_zones.reset_index(drop=True), params=MappingProxyType(params)
    )


def _label(t: Target, minutes: float) -> str:
    if t.indicator == "population_share_within":
        return f"{t.kind}: share of target people within {minutes:g} min"
    if t.indicator == "per_1000_target":
        return f"{t.kind}: capacity per 1,000 target people ({t.basis})"
    return f"{t.kind}: share of {t.unit} units with a facility"
