"""Capacity-aware access: two-step floating catchment (2SFCA, E2SFCA) over walking times."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner._validate import check_choice, check_columns, row_list
from planner.coverage import Coverage, cells_on_network
from planner.errors import InputError
from planner.kinds import CAPACITY, KIND, FacilityKind
from planner.network import WalkNetwork, travel_matrix_m

logger = logging.getLogger(__name__)

METHODS = ("2sfca", "e2sfca")
# Luo & Qi (2009) weights for three equal travel-time zones; scaled to each kind's threshold.
LUO_QI_WEIGHTS = (1.0, 0.68, 0.22)
PER_PEOPLE = 1000.0


def default_step_weights(threshold_min: float) -> dict[float, float]:
    """Luo & Qi's E2SFCA step weights for three equal zones up to ``threshold_min``.

    Parameters
    ----------
    threshold_min
        The catchment, in minutes.

    Returns
    -------
    dict
        Upper bound of each zone in minutes → weight (inclusive bounds, as PySAL ``access``).

    Examples
    --------
    >>> default_step_weights(15)
    {5.0: 1.0, 10.0: 0.68, 15.0: 0.22}
    """
    t = float(threshold_min)
    return {t / 3: LUO_QI_WEIGHTS[0], 2 * t / 3: LUO_QI_WEIGHTS[1], t: LUO_QI_WEIGHTS[2]}


def _step(minutes: np.ndarray, step_weights: Mapping[float, float] | None, max_minutes: float) -> np.ndarray:
    w = np.zeros(len(minutes))
    inside = minutes <= max_minutes
    if step_weights is None:
        w[inside] = 1.0
        return w
    done = np.zeros(len(minutes), bool)
    for bound, weight in sorted((float(k), float(v)) for k, v in step_weights.items()):
        hit = inside & ~done & (minutes <= bound)
        w[hit] = weight
        done |= hit
    return w


def _check_weights(step_weights: Mapping[float, float] | None) -> None:
    if step_weights is None:
        return
    if not step_weights:
        msg = "step_weights is empty; give {upper_minutes: weight, ...} or None."
        raise ValueError(msg)
    bad = {k: v for k, v in step_weights.items() if not (0 <= float(v) <= 1) or float(k) <= 0}
    if bad:
        msg = f"step_weights must map positive minutes to weights in 0..1; got {bad}."
        raise ValueError(msg)


def _fca(
    costs: pd.DataFrame,
    demand: pd.Series,
    supply: pd.Series,
    *,
    max_minutes: float,
    step_weights: Mapping[float, float] | None,
) -> tuple[pd.Series, pd.DataFrame]:
    """Per-demand accessibility (supply per person) and per-supply demand/ratio."""
    check_columns(costs, ["facility", "cell", "minutes"], "costs")
    _check_weights(step_weights)
    minutes = costs["minutes"].to_numpy(float)
    w = _step(minutes, step_weights, float(max_minutes))
    keep = w > 0
    fac = costs["facility"].to_numpy()[keep]
    cell = costs["cell"].to_numpy()[keep]
    w = w[keep]
    missing_cells = pd.Index(cell).difference(demand.index)
    missing_fac = pd.Index(fac).difference(supply.index)
    if len(missing_cells) or len(missing_fac):
        msg = (
            f"costs name cells {row_list(missing_cells)} not in demand and facilities "
            f"{row_list(missing_fac)} not in supply."
        )
        raise InputError(msg)
    d = demand.reindex(cell).to_numpy(float) * w
    fac_demand = pd.Series(d).groupby(pd.Index(fac)).sum().reindex(supply.index, fill_value=0.0)
    s = supply.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(fac_demand.to_numpy() > 0, s / fac_demand.to_numpy(), np.nan)
    ratio_s = pd.Series(ratio, index=supply.index)
    contrib = ratio_s.reindex(fac).to_numpy() * w
    contrib = np.where(np.isfinite(contrib), contrib, 0.0)  # facilities nobody reaches give nothing
    acc = pd.Series(contrib).groupby(pd.Index(cell)).sum().reindex(demand.index, fill_value=0.0)
    table = pd.DataFrame({"demand": fac_demand, "ratio": ratio_s})
    return acc.astype(float), table


def two_step_fca(
    costs: pd.DataFrame,
    demand: pd.Series,
    supply: pd.Series,
    *,
    max_minutes: float,
    step_weights: Mapping[float, float] | None = None,
) -> pd.Series:
    """Two-step floating catchment accessibility from a sparse cost table.

    Step 1: each facility's ratio ``R_j = S_j / Σ_i w(t_ij) P_i``. Step 2: each cell's
    accessibility ``A_i = Σ_j w(t_ij) R_j``, over pairs with ``t_ij ≤ max_minutes``. With
    ``step_weights`` None every weight is 1 (Luo & Wang 2SFCA); with step weights it is the
    enhanced 2SFCA (Luo & Qi 2009), computed as PySAL ``access`` does.

    Parameters
    ----------
    costs
        One row per reachable (facility, cell) pair: columns ``facility``, ``cell``, ``minutes``.
    demand
        People per cell (index = cell ids).
    supply
        Capacity per facility (index = facility ids).
    max_minutes
        The catchment.
    step_weights
        Upper minutes → weight, inclusive (e.g. ``{5: 1, 10: 0.68, 15: 0.22}``); None for 2SFCA.

    Returns
    -------
    pandas.Series
        Capacity per person within reach, indexed like ``demand`` (0 where nothing is in reach).

    Examples
    --------
    >>> import pandas as pd
    >>> costs = pd.DataFrame({"facility": ["a", "a", "b"], "cell": [1, 2, 2], "minutes": [3.0, 9.0, 4.0]})
    >>> two_step_fca(costs, pd.Series({1: 10.0, 2: 30.0}), pd.Series({"a": 20.0, "b": 6.0}),
    ...              max_minutes=15).tolist()
    [0.5, 0.7]
    """
    return _fca(costs, demand, supply, max_minutes=max_minutes, step_weights=step_weights)[0]


@dataclass(frozen=True, eq=False)
class Access:
    """Capacity within walking reach, per cell and per facility, for each kind.

    Attributes
    ----------
    per_1000
        Cells × kinds: capacity (beds, slots…) within reach per 1,000 target people (2SFCA
        or E2SFCA accessibility × 1,000); 0 where no facility is in reach.
    served
        Cells × kinds: target people served, ``people × min(1, capacity per person)``.
    in_reach
        Cells × kinds: True where at least one facility with a weight > 0 is in reach.
    facilities
        One row per facility: ``kind``, ``capacity``, ``capacity_assumed``, ``snap_ok``,
        ``demand`` (weighted target people in its catchment), ``cells``, ``per_1000``
        (capacity per 1,000 of that demand), ``load`` (demand / capacity), ``oversubscribed``.
    costs
        The sparse table: ``kind``, ``facility``, ``cell``, ``minutes``, ``weight``.
    population
        The cells (with ``district`` if the coverage had districts).
    kinds
        The kinds measured.
    params
        Method, thresholds, weights, speeds, capacity defaults.
    """

    per_1000: pd.DataFrame
    served: pd.DataFrame
    in_reach: pd.DataFrame
    facilities: pd.DataFrame
    costs: pd.DataFrame
    population: gpd.GeoDataFrame
    kinds: Mapping[str, FacilityKind]
    params: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"Access(method={self.params.get('method')!r}, cells={len(self.per_1000)}, "
            f"kinds={list(self.kinds)}, pairs={len(self.costs)})"
        )

    def oversubscribed(self, kind: str | None = None) -> pd.DataFrame:
        """Facilities whose catchment demand exceeds their capacity, most loaded first.

        Parameters
        ----------
        kind
            One kind, or None for all.

        Returns
        -------
        pandas.DataFrame
            Rows of :attr:`facilities` with ``oversubscribed`` True.
        """
        f = self.facilities[self.facilities["oversubscribed"]]
        if kind is not None:
            f = f[f[KIND] == kind]
        return f.sort_values("load", ascending=False)

    def split(self, by: str | None = None) -> pd.DataFrame:
        """PlanWise-style three-way split of each kind's target people.

        Parameters
        ----------
        by
            A population column to group by (e.g. ``"district"``); None for the whole area.

        Returns
        -------
        pandas.DataFrame
            ``kind, target_column, people, served, short_of_capacity, out_of_reach`` and their
            shares (``served_share``…), plus ``by`` first when given. The three parts sum to
            ``people``.
        """
        if by is not None:
            check_columns(self.population, [by], "access population")
        rows = []
        for name, kind in self.kinds.items():
            p = self.population[kind.target_column].astype(float)
            reach = self.in_reach[name]
            served = self.served[name]
            groups = [(None, p.index)] if by is None else list(self.population.groupby(by).groups.items())
            for key, idx in groups:
                people = float(p.loc[idx].sum())
                s = float(served.loc[idx].sum())
                r = float(p.loc[idx][reach.loc[idx]].sum())
                row: dict[str, Any] = {
                    "kind": name,
                    "target_column": kind.target_column,
                    "people": people,
                    "served": s,
                    "short_of_capacity": r - s,
                    "out_of_reach": people - r,
                }
                for part in ("served", "short_of_capacity", "out_of_reach"):
                    row[f"{part}_share"] = float(row[part]) / people if people > 0 else np.nan
                if by is not None:
                    row = {by: key, **row}
                rows.append(row)
        return pd.DataFrame(rows)


def facility_capacities(
    facilities: pd.DataFrame,
    kinds: Mapping[str, FacilityKind],
    default_capacity: float | Mapping[str, float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Capacity per facility and whether it was assumed (``default_capacity``); missing ones named."""
    cap = (
        pd.to_numeric(facilities[CAPACITY], errors="coerce").to_numpy(float)
        if CAPACITY in facilities.columns
        else np.full(len(facilities), np.nan)
    )
    kind = facilities[KIND].to_numpy()
    if isinstance(default_capacity, Mapping):
        unknown = sorted(set(default_capacity) - set(kinds))
        if unknown:
            msg = f"default_capacity names unknown kind(s) {unknown}; kinds are {list(kinds)}."
            raise ValueError(msg)
        fill = np.array([default_capacity.get(k, np.nan) for k in kind], float)
    else:
        fill = np.full(len(facilities), np.nan if default_capacity is None else float(default_capacity))
    if (fill[np.isfinite(fill)] <= 0).any():
        msg = f"default_capacity must be positive; got {default_capacity!r}."
        raise ValueError(msg)
    assumed = ~np.isfinite(cap)
    cap = np.where(assumed, fill, cap)
    missing = ~np.isfinite(cap)
    if missing.any():
        by_kind = pd.Series(facilities.index[missing]).groupby(kind[missing]).apply(list).to_dict()
        detail = "; ".join(f"{k}: {row_list(v)}" for k, v in by_kind.items())
        msg = (
            f"{int(missing.sum())} facilities have no capacity ({detail}); add a 'capacity' "
            "column, or pass default_capacity (a number or {kind: number})."
        )
        raise InputError(msg)
    if (cap < 0).any():
        msg = f"facilities have negative capacity in rows {row_list(facilities.index[cap < 0])}."
        raise InputError(msg)
    if assumed.any():
        counts = pd.Series(kind[assumed]).value_counts().to_dict()
        logger.warning("facilities using the default capacity (none in the data): %s", counts)
    return cap, assumed


def _pair_table(
    network: WalkNetwork, coverage: Coverage, kind_name: str, kind: FacilityKind, threshold_min: float
) -> pd.DataFrame:
    """(facility, cell, minutes) pairs within ``threshold_min``, access legs at both ends."""
    fac = coverage.facilities
    use = ((fac[KIND] == kind_name) & fac["snap_ok"]).to_numpy()
    snap = cells_on_network(coverage, network)
    cells_ok = np.flatnonzero(snap.ok)
    cell_node = snap.node[cells_ok]
    cell_acc = snap.access_m[cells_ok]
    m_per_min = kind.speed_kmh * 1000.0 / 60.0
    reach_m = threshold_min * m_per_min
    fac_ids = fac.index.to_numpy()[use]
    snapped = network.snap(fac.geometry[use], max_snap_m=float(coverage.params["max_snap_m"]))
    # sparse, tile by tile: no facilities × nodes rows held at once
    dist = travel_matrix_m(
        network, snapped.node, cell_node, limit_m=reach_m * (1 + 1e-12),
        from_offsets_m=snapped.access_m, to_offsets_m=cell_acc,
    ).tocoo()  # fmt: skip
    # a stored pair is at least 1e-6 m (sparse matrices keep no zeros): 0 within a micrometre
    return pd.DataFrame({
        "facility": fac_ids[dist.row],
        "cell": coverage.population.index.to_numpy()[cells_ok[dist.col]],
        "minutes": dist.data / m_per_min,
    })  # fmt: skip


def compute_access(
    network: WalkNetwork,
    coverage: Coverage,
    *,
    method: str = "2sfca",
    step_weights: Mapping[str, Mapping[float, float]] | None = None,
    default_capacity: float | Mapping[str, float] | None = None,
    kinds: list[str] | None = None,
) -> Access:
    """Capacity within each kind's walking catchment: 2SFCA or E2SFCA over the network.

    Catchments are each kind's ``threshold_min`` at its ``speed_kmh``; walking times count
    the access legs at both ends, as :func:`~planner.coverage.compute_coverage` does, so a
    cell is in reach exactly when its coverage minutes are within the threshold.
    One capacity unit (bed, slot, seat) serves one target person.

    Parameters
    ----------
    network
        The walk network the coverage was computed on.
    coverage
        From :func:`~planner.coverage.compute_coverage`: prepared cells, facilities and snaps.
    method
        ``"2sfca"`` (all weights 1) or ``"e2sfca"`` (step distance decay).
    step_weights
        Kind → ``{upper_minutes: weight}`` for E2SFCA (default: Luo & Qi's 1, 0.68, 0.22 over
        three equal zones of the kind's threshold).
    default_capacity
        Capacity for facilities whose ``capacity`` is missing: one number or kind → number.
        Without it, a missing capacity is an error naming the facilities.
    kinds
        Kinds to measure (default: every kind of the coverage).

    Returns
    -------
    Access

    Examples
    --------
    >>> import geopandas as gpd
    >>> from planner.coverage import compute_coverage
    >>> net = WalkNetwork.from_edges([[0, 0], [600, 0]], [0], [1], [600.0], crs="EPSG:32628")
    >>> cells = gpd.GeoDataFrame({"population": [10.0, 30.0]},
    ...                          geometry=gpd.points_from_xy([0, 600], [0, 0]), crs=32628)
    >>> fac = gpd.GeoDataFrame({"kind": ["nursery"], "capacity": [20.0]},
    ...                        geometry=gpd.points_from_xy([0], [0]), crs=32628)
    >>> kinds = {"nursery": FacilityKind("nursery", "population", threshold_min=15, speed_kmh=3.6)}
    >>> cov = compute_coverage(net, cells, fac, kinds=kinds, thresholds_min=(15,))
    >>> acc = compute_access(net, cov)
    >>> acc.per_1000["nursery"].tolist()
    [500.0, 500.0]
    >>> acc.split()[["people", "served", "short_of_capacity", "out_of_reach"]].values.tolist()
    [[40.0, 20.0, 20.0, 0.0]]
    """
    t0 = time.perf_counter()
    check_choice(method, "method", METHODS)
    names = list(coverage.kinds) if kinds is None else list(kinds)
    unknown = [k for k in names if k not in coverage.kinds]
    if unknown:
        msg = f"unknown kind(s) {unknown}; this coverage has {list(coverage.kinds)}."
        raise ValueError(msg)
    if step_weights is not None and method != "e2sfca":
        msg = "step_weights only apply to method='e2sfca'."
        raise ValueError(msg)
    fac = coverage.facilities
    sel = fac[fac[KIND].isin(names)]
    cap, assumed = facility_capacities(sel, coverage.kinds, default_capacity)
    supply_all = pd.Series(cap, index=sel.index)

    pop = coverage.population
    per_1000, served, in_reach, costs, fac_tables, weights_used = {}, {}, {}, [], [], {}
    for name in names:
        kind = coverage.kinds[name]
        t = float(kind.threshold_min)
        sw: Mapping[float, float] | None = None
        if method == "e2sfca":
            sw = (step_weights or {}).get(name) or default_step_weights(t)
            _check_weights(sw)
            weights_used[name] = {float(k): float(v) for k, v in sw.items()}
        pairs = _pair_table(network, coverage, name, kind, t)
        demand = pop[kind.target_column].astype(float)
        of_kind = sel[KIND] == name
        supply = supply_all[of_kind]
        acc, table = _fca(pairs, demand, supply, max_minutes=t, step_weights=sw)
        w = _step(pairs["minutes"].to_numpy(float), sw, t)
        reached = pd.Index(pairs["cell"].to_numpy()[w > 0]).unique()
        per_1000[name] = acc * PER_PEOPLE
        served[name] = demand * np.minimum(acc, 1.0)
        in_reach[name] = pd.Series(pop.index.isin(reached), index=pop.index)
        costs.append(pairs.assign(kind=name, weight=w)[["kind", "facility", "cell", "minutes", "weight"]])
        n_cells = pd.Series(pairs["facility"].to_numpy()[w > 0]).value_counts()
        ft = pd.DataFrame(
            {
                KIND: name,
                "name": sel.loc[of_kind, "name"] if "name" in sel.columns else None,
                CAPACITY: supply,
                "capacity_assumed": assumed[of_kind.to_numpy()],
                "snap_ok": sel.loc[of_kind, "snap_ok"].astype(bool),
                "demand": table["demand"],
                "cells": n_cells.reindex(supply.index, fill_value=0).astype(int),
            },
            index=supply.index,
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            ft["per_1000"] = PER_PEOPLE * table["ratio"]
            ft["load"] = np.where(supply > 0, ft["demand"] / supply, np.where(ft["demand"] > 0, np.inf, 0.0))
        ft["oversubscribed"] = ft["demand"] > ft[CAPACITY]
        fac_tables.append(ft)
        logger.info(
            "%s: %s, %d facilities, %d reachable pairs, %d over-subscribed",
            name, method, len(supply), len(pairs), int(ft["oversubscribed"].sum()),
        )  # fmt: skip

    idx = pop.index
    facilities = pd.concat(fac_tables) if fac_tables else pd.DataFrame()
    params = {
        "method": method,
        "threshold_min": {k: float(coverage.kinds[k].threshold_min) for k in names},
        "speed_kmh": {k: float(coverage.kinds[k].speed_kmh) for k in names},
        "capacity_unit": {k: coverage.kinds[k].capacity_unit for k in names},
        "step_weights": weights_used,
        "default_capacity": dict(default_capacity)
        if isinstance(default_capacity, Mapping)
        else default_capacity,
        "facilities_capacity_assumed": int(assumed.sum()),
        "per_people": PER_PEOPLE,
        "max_snap_m": coverage.params.get("max_snap_m"),
        "network": coverage.params.get("network"),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return Access(
        per_1000=pd.DataFrame(per_1000, index=idx),
        served=pd.DataFrame(served, index=idx),
        in_reach=pd.DataFrame(in_reach, index=idx),
        facilities=facilities,
        costs=pd.concat(costs, ignore_index=True) if costs else pd.DataFrame(),
        population=pop,
        kinds=MappingProxyType({k: coverage.kinds[k] for k in names}),
        params=MappingProxyType(params),
    )
