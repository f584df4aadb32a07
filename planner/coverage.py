"""Walking time from each population cell to the nearest facility of each kind; coverage shares."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree

from planner._validate import MAX_PEOPLE_PER_ROW, check_columns, row_list
from planner.errors import InputError
from planner.io.boundaries import check_in_area
from planner.kinds import (
    DEFAULT_KINDS,
    DEFAULT_MAX_SNAP_M,
    DEFAULT_THRESHOLDS_MIN,
    DISTRICT,
    KIND,
    MAX_MINUTES,
    NO_DISTRICT,
    POPULATION,
    FacilityKind,
)
from planner.network import Snapped, StreetSource, WalkNetwork, points_xy

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Coverage:
    """Walking minutes from every cell to the nearest facility of each kind.

    Attributes
    ----------
    minutes
        Cells × kinds: network walking minutes to the nearest facility, access legs at both
        ends included; ``inf`` beyond the search limit or where a cell could not be snapped.
    nearest
        Cells × kinds: id of that nearest facility (``None`` where unreached).
    straight_minutes
        Cells × kinds: minutes at the same speed along a straight line (the buffer method).
    population
        The cells (metric CRS) with their target columns, and ``district`` if given.
    facilities
        The facilities used (metric CRS) with ``snap_ok`` and ``access_m``.
    kinds
        The facility kinds, with their speeds and thresholds.
    thresholds_min
        Thresholds reported by :meth:`summary`.
    cell_snap
        How cells joined the network.
    params
        Everything that produced these figures (speeds, limits, network, version).
    """

    minutes: pd.DataFrame
    nearest: pd.DataFrame
    straight_minutes: pd.DataFrame
    population: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    kinds: Mapping[str, FacilityKind]
    thresholds_min: tuple[float, ...]
    cell_snap: Snapped
    params: Mapping[str, Any] = field(default_factory=dict)
    district_names: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"Coverage(cells={len(self.minutes)}, kinds={list(self.kinds)}, "
            f"thresholds_min={tuple(_fmt(t) for t in self.thresholds_min)})"
        )

    def _weights(self, kind: str) -> pd.Series:
        return self.population[self.kinds[kind].target_column]

    def share(self, kind: str, minutes: float | None = None) -> float:
        """Share (0..1) of the kind's target population within ``minutes`` (default: its threshold)."""
        if kind not in self.kinds:
            msg = f"unknown kind {kind!r}; this coverage has {list(self.kinds)}."
            raise ValueError(msg)
        t = self.kinds[kind].threshold_min if minutes is None else minutes
        w = self._weights(kind)
        total = float(w.sum())
        return float(w[self.minutes[kind] <= t].sum()) / total if total > 0 else float("nan")

    def summary(self, by: str | None = None) -> pd.DataFrame:
        """Covered target population per kind and threshold (and per ``by`` group).

        Parameters
        ----------
        by
            A population column to group by, e.g. ``"district"``; None for the whole area.

        Returns
        -------
        pandas.DataFrame
            Columns ``kind, minutes, target_column, covered, total, share,
            covered_straight, share_straight, facilities`` (those that joined the network),
            ``facilities_left_out`` (farther than the snap limit from every street; whole area
            only), ``speed_kmh, reach_m, target_source``
            (and ``by`` first when given). Shares are 0..1; people are counts.
        """
        if by is not None:
            check_columns(self.population, [by], "coverage population")
        rows = []
        for name, kind in self.kinds.items():
            w = self._weights(name)
            of_kind = (
                (self.facilities[KIND] == name).to_numpy() if len(self.facilities) else np.zeros(0, bool)
            )
            usable = _usable(self.facilities)
            n_fac, n_out = int((of_kind & usable).sum()), int((of_kind & ~usable).sum())
            groups = [(None, w.index)] if by is None else self._groups(by)
            for t in self.thresholds_min:
                net_ok = self.minutes[name] <= t
                line_ok = self.straight_minutes[name] <= t
                for key, idx in groups:
                    total = float(w.loc[idx].sum())
                    covered = float(w.loc[idx][net_ok.loc[idx]].sum())
                    straight = float(w.loc[idx][line_ok.loc[idx]].sum())
                    row = {
                        "kind": name,
                        "minutes": t,
                        "target_column": kind.target_column,
                        "covered": covered,
                        "total": total,
                        "share": covered / total if total > 0 else np.nan,
                        "covered_straight": straight,
                        "share_straight": straight / total if total > 0 else np.nan,
                        "facilities": n_fac
                        if key is None or by is None
                        else _count_in(self.facilities, name, by, key),
                        "facilities_left_out": n_out if key is None else None,
                        "speed_kmh": kind.speed_kmh,
                        "reach_m": kind.reach_m(t),
                        "target_source": self.population.attrs.get("age_source", "grid columns")
                        if kind.target_column != POPULATION
                        else "grid columns",
                    }
                    if by is not None:
                        row = {by: key, **row}
                    rows.append(row)
        return pd.DataFrame(rows)

    def _groups(self, by: str) -> list[tuple[Any, pd.Index]]:
        groups = dict(self.population.groupby(by).groups)
        if by == DISTRICT:  # districts with no cells are listed too (0 people)
            for name in self.district_names:
                groups.setdefault(name, pd.Index([]))
        return sorted(groups.items(), key=lambda kv: str(kv[0]))

    def gaps(self, kind: str | None = None, minutes: float | None = None) -> gpd.GeoDataFrame:
        """Cells whose target population is not covered.

        Parameters
        ----------
        kind
            One kind, or None for every kind (one row per cell and kind).
        minutes
            Threshold (default: each kind's own ``threshold_min``).

        Returns
        -------
        geopandas.GeoDataFrame
            ``kind``, ``minutes`` (walking time, may be inf), ``uncovered`` (target people),
            geometry; sorted by ``uncovered``, largest first.
        """
        names = list(self.kinds) if kind is None else [kind]
        parts = []
        for name in names:
            if name not in self.kinds:
                msg = f"unknown kind {name!r}; this coverage has {list(self.kinds)}."
                raise ValueError(msg)
            t = self.kinds[name].threshold_min if minutes is None else minutes
            out = self.minutes[name] > t
            w = self._weights(name)
            part = gpd.GeoDataFrame(
                {"kind": name, "threshold_min": t, "minutes": self.minutes[name][out],
                 "uncovered": w[out]},
                geometry=self.population.geometry[out], crs=self.population.crs,
            )  # fmt: skip
            parts.append(part[part["uncovered"] > 0])
        gdf = pd.concat(parts) if parts else gpd.GeoDataFrame()
        return gdf.sort_values("uncovered", ascending=False)

    def to_geodataframe(self) -> gpd.GeoDataFrame:
        """One row per cell: target columns, ``minutes_<kind>``, ``nearest_<kind>``, geometry."""
        base = self.population.copy()
        for name in self.kinds:
            base[f"minutes_{name}"] = self.minutes[name]
            base[f"nearest_{name}"] = self.nearest[name]
            base[f"straight_minutes_{name}"] = self.straight_minutes[name]
        base["snap_ok"] = self.cell_snap.ok
        base["access_m"] = self.cell_snap.access_m
        return base


def _fmt(t: float) -> float | int:
    return int(t) if float(t).is_integer() else t


def compute_coverage(
    network: WalkNetwork,
    population: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    kinds: Mapping[str, FacilityKind] = DEFAULT_KINDS,
    thresholds_min: Sequence[float] = DEFAULT_THRESHOLDS_MIN,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    max_minutes: float | None = None,
    districts: gpd.GeoDataFrame | None = None,
    progress: bool = False,
) -> Coverage:
    """Walking minutes from each cell to the nearest facility of each kind.

    One bounded multi-source Dijkstra per kind (scipy) with a virtual node per facility, so
    facility access legs are exact; cells add their own access leg.

    Parameters
    ----------
    network
        The walk network.
    population
        Cells with ``population`` and each kind's target column; any CRS (reprojected).
    facilities
        Points with a ``kind`` column; any CRS (reprojected).
    kinds
        The kinds to measure; facilities of other kinds are an error.
    thresholds_min
        Minutes at which :meth:`Coverage.summary` reports shares.
    max_snap_m
        Cells and facilities farther than this from a usable street are reported and left
        out (cells count as not covered).
    max_minutes
        Search limit; farther cells get ``inf`` (default: the largest threshold).
    districts
        Optional polygons with a ``district`` column; each cell joins the one holding its
        centre, for :meth:`Coverage.summary` ``(by="district")``.
    progress
        Show a progress bar over kinds.

    Returns
    -------
    Coverage

    Examples
    --------
    >>> import geopandas as gpd
    >>> net = WalkNetwork.from_edges([[0, 0], [600, 0]], [0], [1], [600.0], crs="EPSG:32628")
    >>> cells = gpd.GeoDataFrame({"population": [10.0, 5.0]},
    ...                          geometry=gpd.points_from_xy([0, 600], [0, 0]), crs=32628)
    >>> fac = gpd.GeoDataFrame({"kind": ["nursery"]}, geometry=gpd.points_from_xy([0], [0]), crs=32628)
    >>> kinds = {"nursery": FacilityKind("nursery", "population", speed_kmh=3.6)}
    >>> cov = compute_coverage(net, cells, fac, kinds=kinds, thresholds_min=(5, 10))
    >>> cov.minutes["nursery"].round(6).tolist()
    [0.0, 10.0]
    >>> cov.summary()[["minutes", "covered", "share"]].values.tolist()
    [[5.0, 10.0, 0.6666666666666666], [10.0, 15.0, 1.0]]
    """
    t_start = time.perf_counter()
    kinds, thresholds, limit_min = check_options(kinds, thresholds_min, max_minutes)

    population = prepare_population(population, kinds, network.crs)
    facilities = prepare_facilities(facilities, kinds, network.crs)
    if districts is not None:
        population = join_districts(population, districts)
        facilities = join_districts(facilities, districts)

    pad = max_snap_m + 1.0
    x0, y0 = network.node_xy.min(axis=0)
    x1, y1 = network.node_xy.max(axis=0)
    bounds = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)

    # one representative point per cell, shared by snapping and the straight-line distances
    _, cell_xy = points_xy(population, network.crs)
    cell_snap = replace(network.snap(cell_xy, max_snap_m=max_snap_m), index=population.index)
    report_snap(population, cell_snap, "population cells", network, bounds)
    fac_snap = network.snap(facilities, max_snap_m=max_snap_m)
    if len(facilities):
        report_snap(facilities, fac_snap, "facilities", network, bounds)
    facilities = facilities.assign(snap_ok=fac_snap.ok, access_m=fac_snap.access_m)

    minutes, nearest, straight = {}, {}, {}
    names = list(kinds)
    iterator: Any = names
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(names, desc="coverage", unit="kind", leave=False, disable=None, delay=1.0)
    for name in iterator:
        kind = kinds[name]
        m_per_min = kind.speed_kmh * 1000.0 / 60.0
        of_kind = (facilities[KIND] == name).to_numpy()
        usable = of_kind & fac_snap.ok
        if not of_kind.any():
            logger.warning("no facilities of kind %r: nobody is covered", name)
        dist, origin = network.distances_m(
            fac_snap.node[usable], fac_snap.access_m[usable], limit_m=limit_min * m_per_min
        )
        cell_m = np.full(len(population), np.inf)
        ok = cell_snap.ok
        cell_m[ok] = cell_snap.access_m[ok] + dist[cell_snap.node[ok]]
        mins = cell_m / m_per_min
        mins[mins > limit_min * (1 + 1e-12)] = np.inf
        ids = facilities.index.to_numpy()[usable]
        near = np.full(len(population), None, dtype=object)
        reached = np.isfinite(mins)
        near[reached] = ids[origin[cell_snap.node[reached]]]
        minutes[name], nearest[name] = mins, near
        if of_kind.any():
            fxy = straight_line_points(facilities, name)
            d = np.full(len(population), np.inf)
            finite = np.isfinite(cell_xy).all(axis=1)
            d[finite] = cKDTree(fxy).query(cell_xy[finite], k=1, workers=-1)[0]
            straight[name] = d / m_per_min
        else:
            straight[name] = np.full(len(population), np.inf)

    seconds = time.perf_counter() - t_start
    params = run_params(network, population, kinds, thresholds, limit_min, max_snap_m, cell_snap, fac_snap,
                        method="scipy.sparse.csgraph.dijkstra, multi-source with virtual facility nodes",
                        seconds=seconds)  # fmt: skip
    logger.info("coverage of %d cells × %d kinds in %.2f s", len(population), len(kinds), seconds)
    return assemble_coverage(minutes, nearest, straight, population, facilities, kinds, thresholds,
                             cell_snap, params, districts)  # fmt: skip


def straight_line_points(facilities: gpd.GeoDataFrame, kind: str) -> np.ndarray:
    """Every vertex of the facilities of ``kind``: the targets of straight-line distances."""
    return shapely.get_coordinates(facilities.geometry.to_numpy()[(facilities[KIND] == kind).to_numpy()])


def cells_on_network(coverage: Coverage, network: WalkNetwork) -> Snapped:
    """The coverage's cell snapping, with node positions on ``network``.

    A coverage from a streamed tiled run keeps no whole-network node numbering
    (``cell_snap.node`` is -1); its cells are then snapped again on ``network``, which gives
    what :func:`compute_coverage` on that network records.
    """
    snap = coverage.cell_snap
    if not (snap.ok & (snap.node < 0)).any():
        return snap
    _, xy = points_xy(coverage.population, network.crs)
    return replace(network.snap(xy, max_snap_m=snap.max_snap_m), index=snap.index)


def assemble_coverage(
    minutes: Mapping[str, np.ndarray], nearest: Mapping[str, np.ndarray], straight: Mapping[str, np.ndarray],
    population: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, kinds: Mapping[str, FacilityKind],
    thresholds: tuple[float, ...], cell_snap: Snapped, params: Mapping[str, Any],
    districts: gpd.GeoDataFrame | None,
) -> Coverage:  # fmt: skip
    """The Coverage of per-kind arrays (cells in population order), read-only mappings inside."""
    idx = population.index
    return Coverage(
        minutes=pd.DataFrame(minutes, index=idx),
        nearest=pd.DataFrame(nearest, index=idx),
        straight_minutes=pd.DataFrame(straight, index=idx),
        population=population,
        facilities=facilities,
        kinds=MappingProxyType(kinds),
        thresholds_min=thresholds,
        cell_snap=cell_snap,
        params=MappingProxyType(params),
        district_names=tuple(districts[DISTRICT].astype(str)) if districts is not None else (),
    )


def check_options(
    kinds: Mapping[str, FacilityKind], thresholds_min: Sequence[float], max_minutes: float | None
) -> tuple[dict[str, FacilityKind], tuple[float, ...], float]:
    """Validated kinds, sorted thresholds and the search limit in minutes."""
    kinds = dict(kinds)
    if not kinds:
        msg = "kinds is empty; give at least one FacilityKind."
        raise ValueError(msg)
    thresholds = tuple(sorted({float(t) for t in thresholds_min}))
    if not thresholds or not all(0 < t <= MAX_MINUTES for t in thresholds):  # NaN fails too
        msg = f"thresholds_min must be positive minutes, at most {MAX_MINUTES:g}; got {tuple(thresholds_min)!r}."
        raise ValueError(msg)
    limit_min = float(max_minutes) if max_minutes is not None else max(thresholds)
    if not limit_min <= MAX_MINUTES:
        msg = f"max_minutes must be at most {MAX_MINUTES:g} (a {MAX_MINUTES / 60:g}-hour walk); got {max_minutes!r}."
        raise ValueError(msg)
    if limit_min < max(thresholds):
        msg = f"max_minutes ({limit_min}) is below the largest threshold ({max(thresholds)})."
        raise ValueError(msg)
    return kinds, thresholds, limit_min


def run_params(
    network: StreetSource, population: gpd.GeoDataFrame, kinds: Mapping[str, FacilityKind],
    thresholds: tuple[float, ...], limit_min: float, max_snap_m: float, cell_snap: Snapped,
    fac_snap: Snapped, *, method: str, seconds: float,
) -> dict[str, Any]:  # fmt: skip
    """What produced a coverage: speeds, thresholds, limits, network, snapping, method, time."""
    return {
        "thresholds_min": thresholds,
        "max_minutes": limit_min,
        "max_snap_m": float(max_snap_m),
        "speed_kmh": {k: v.speed_kmh for k, v in kinds.items()},
        "threshold_min": {k: v.threshold_min for k, v in kinds.items()},
        "target_column": {k: v.target_column for k, v in kinds.items()},
        "network": network.source,
        "network_nodes": network.n_nodes,
        "max_edge_m": network.params.get("max_edge_m"),
        "cells_unsnapped": int((~cell_snap.ok).sum()),
        "facilities_unsnapped": int((~fac_snap.ok).sum()),
        "age_source": population.attrs.get("age_source", "grid columns"),
        "method": method,
        "seconds": round(seconds, 3),
    }


def prepare_population(
    population: gpd.GeoDataFrame, kinds: Mapping[str, FacilityKind], crs: pyproj.CRS
) -> gpd.GeoDataFrame:
    src = population.attrs.get("source")
    if population.crs is None:
        msg = f"population{f' ({src})' if src else ''} has no CRS; set one with .set_crs(...)."
        raise InputError(msg)
    if len(population) == 0:
        msg = "population has no cells."
        raise InputError(msg)
    needed = list(dict.fromkeys([POPULATION, *(k.target_column for k in kinds.values())]))
    missing = [c for c in needed if c not in population.columns]
    if missing:
        users = [n for n, k in kinds.items() if k.target_column in missing]
        msg = (
            f"population{f' ({src})' if src else ''} is missing column(s) {missing} needed by "
            f"kind(s) {users}; it has {[c for c in population.columns if c != 'geometry']}. "
            "Add them, or derive them from age shares (pl.apply_age_shares, or "
            "[population.age_shares] in study.toml)."
        )
        raise InputError(msg)
    for col in needed:
        values = pd.to_numeric(population[col], errors="coerce")
        bad = population.index[~((values >= 0) & (values <= MAX_PEOPLE_PER_ROW))]
        if len(bad):
            msg = f"population column {col!r} is NaN, negative, infinite or not a number in rows {row_list(bad)}."
            raise InputError(msg)
    if not float(pd.to_numeric(population[POPULATION]).sum()) > 0:
        msg = f"population{f' ({src})' if src else ''} has nobody: every cell's {POPULATION!r} is 0."
        raise InputError(msg)
    if not population.crs.equals(crs):
        population = population.to_crs(crs)
    return population


def prepare_facilities(
    facilities: gpd.GeoDataFrame, kinds: Mapping[str, FacilityKind], crs: pyproj.CRS
) -> gpd.GeoDataFrame:
    src = facilities.attrs.get("source")
    if facilities.crs is None:
        msg = f"facilities{f' ({src})' if src else ''} have no CRS; set one with .set_crs(...)."
        raise InputError(msg)
    check_columns(facilities, [KIND], "facilities", source=src)
    unknown = ~facilities[KIND].isin(list(kinds))
    if unknown.any():
        values = sorted(facilities.loc[unknown, KIND].astype(str).unique())
        msg = (
            f"facilities{f' ({src})' if src else ''} have unknown kind(s) {values} in rows "
            f"{row_list(facilities.index[unknown])}; known kinds are {list(kinds)}. Map them with "
            "kind_map, define the kind, or drop those rows."
        )
        raise InputError(msg)
    if facilities.index.has_duplicates:
        msg = f"facilities have duplicate ids {row_list(facilities.index[facilities.index.duplicated()])}."
        raise InputError(msg)
    if not facilities.crs.equals(crs):
        facilities = facilities.to_crs(crs)
    return facilities


def report_snap(
    gdf: gpd.GeoDataFrame, snap: Snapped, what: str, network: StreetSource,
    bounds: tuple[float, float, float, float],
) -> None:  # fmt: skip
    """Warn about points far from the streets; refuse when none is near (wrong CRS or swap).

    Population cells must all lie within the network's extent (padded by the snap limit): a
    cell beyond it is another place (or a wrong CRS), and counting it as uncovered would be wrong.
    """
    bad = ~snap.ok
    if what == "population cells" and bad.any():
        check_in_area(gdf, network.crs, bounds, what=what)  # raises, naming rows beyond the extent
    if bad.all():
        check_in_area(gdf, network.crs, bounds, what=what)  # raises with a swap/datum hint
        msg = (
            f"{what}: none of the {len(gdf)} rows is within {snap.max_snap_m:g} m of a street "
            f"of {network.source}; check that they belong to this network's area."
        )
        raise InputError(msg)
    if bad.any():
        warnings.warn(
            f"{what}: {int(bad.sum())} of {len(gdf)} rows are farther than {snap.max_snap_m:g} m "
            f"from any usable street and are left out: {row_list(gdf.index[bad])}.",
            UserWarning,
            stacklevel=3,
        )
    if snap.fragment.any():
        logger.info(
            "%s: %d rows lie nearer a small disconnected street fragment than the main network; "
            "they were joined to the main network", what, int(snap.fragment.sum()),
        )  # fmt: skip


def _usable(facilities: gpd.GeoDataFrame) -> np.ndarray:
    """Facilities that joined the network (those farther than the snap limit serve nobody)."""
    if "snap_ok" in facilities.columns:
        return facilities["snap_ok"].to_numpy(bool)
    return np.ones(len(facilities), bool)


def _count_in(facilities: gpd.GeoDataFrame, kind: str, by: str, key: Any) -> Any:
    """Usable facilities of ``kind`` in group ``key`` (None when facilities carry no ``by`` column)."""
    if by not in facilities.columns:
        return None
    return int(
        (((facilities[KIND] == kind) & (facilities[by] == key)).to_numpy() & _usable(facilities)).sum()
    )


def join_districts(population: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    check_columns(districts, [DISTRICT], "districts", source=districts.attrs.get("source"))
    if districts.crs is None:
        msg = "districts have no CRS."
        raise InputError(msg)
    d = districts[[DISTRICT, "geometry"]].to_crs(population.crs)
    pts = gpd.GeoDataFrame(geometry=population.geometry.representative_point(), crs=population.crs)
    joined = gpd.sjoin(pts, d, how="left", predicate="within")
    first = joined[~joined.index.duplicated()]
    out = population.copy()
    out[DISTRICT] = first[DISTRICT].reindex(out.index).fillna(NO_DISTRICT).astype(str)
    return out
