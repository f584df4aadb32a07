"""SitingResult: new sites in build order, objective, bound and gap, and coverage before and after."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from planner.kinds import ALL, CANDIDATE_ID, CAPACITY, DISTRICT, FACILITY_ID, KIND, NAME
from planner.siting.candidates import COST, SOURCE
from planner.siting.greedy import greedy_coverage
from planner.siting.problem import SitingProblem

logger = logging.getLogger(__name__)


# ====================================================================== result
@dataclass(frozen=True, eq=False)
class SitingResult:
    """New sites in build order, with the objective, its proven bound and the gap.

    Attributes
    ----------
    model
        ``"mclp"``, ``"cmclp"`` (capacitated), ``"lscp"`` or ``"pmedian"``.
    sites
        One row per new site in build order: ``rank``, ``candidate_id``, ``gain`` (what
        the site adds given the earlier ones: newly covered people; newly served people
        for ``cmclp``), ``cumulative``, ``covered`` (people covered after building up to
        this site, existing ones included), ``share`` (``covered`` / target population),
        ``x``, ``y`` (metric CRS), ``lon``, ``lat``, ``cost``, ``capacity``, ``source``;
        the p-median adds ``minutes_saved`` (person-minutes), ``cmclp`` adds ``served``
        and ``reach_gain``.
    objective
        The model's objective: newly covered people (``mclp``), newly served people
        (``cmclp``), number of sites or total cost (``lscp``), person-minutes saved
        (``pmedian``).
    bound
        The best bound proven on that objective (an upper bound when maximising).
    gap
        ``|bound - objective| / objective``: on what the new sites add, not on a total.
    status
        ``"optimal"`` (proven within ``mip_gap``), ``"time_limit"`` (stopped; see the
        gap) or ``"greedy"`` (greedy only; the bound is the greedy's own).
    solver
        The solver and its version.
    seconds
        Time spent solving (greedy and MILP), without building the problem.
    covered_before, covered_after, total
        Target people covered before and after building, and the target population.
    coverage_after
        Coverage before and after, per district and in total (``district`` = "(all)").
    cells
        Per cell: ``covered_before``, ``covered_after``, ``minutes_before``,
        ``minutes_after`` (``inf`` beyond the search limit), indexed like the population.
    greedy_objective
        The greedy's objective (the warm start).
    tables
        Model-specific tables by name: ``"phases"`` (phased plans: coverage per phase against
        the best unconstrained set of that size), ``"kinds"`` (shared centres: people covered
        per kind, shared against separate siting), ``"units"`` (per-unit rules: sites per unit).
    params
        Everything that produced the result (model, k, kind, speed, threshold, solver
        options, problem sizes).
    """

    model: str
    sites: gpd.GeoDataFrame
    objective: float
    bound: float
    gap: float
    status: str
    solver: str
    seconds: float
    covered_before: float
    covered_after: float
    total: float
    coverage_after: pd.DataFrame
    cells: pd.DataFrame
    greedy_objective: float
    params: Mapping[str, Any] = field(default_factory=dict)
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"SitingResult(model={self.model!r}, sites={len(self.sites)}, "
            f"objective={self.objective:,.1f}, gap={self.gap:.3%}, status={self.status!r}, "
            f"seconds={self.seconds:.2f})"
        )

    @property
    def share_before(self) -> float:
        """Share (0..1) of the target population covered before building."""
        return self.covered_before / self.total if self.total > 0 else math.nan

    @property
    def share_after(self) -> float:
        """Share (0..1) of the target population covered after building."""
        return self.covered_after / self.total if self.total > 0 else math.nan

    def summary(self) -> pd.DataFrame:
        """One row: model, sites, objective, bound, gap, status, solver, seconds, shares.

        Returns
        -------
        pandas.DataFrame
        """
        p = self.params
        row = {
            "model": self.model,
            "kind": p.get("kind", ""),
            "new_sites": len(self.sites),
            "objective": self.objective,
            "objective_is": p.get("objective_is", ""),
            "bound": self.bound,
            "gap": self.gap,
            "status": self.status,
            "solver": self.solver,
            "seconds": round(self.seconds, 3),
            "greedy_objective": self.greedy_objective,
            "covered_is": "target people within the walk of a facility (whatever its capacity)",
            "covered_before": self.covered_before,
            "covered_after": self.covered_after,
            "total": self.total,
            "share_before": self.share_before,
            "share_after": self.share_after,
            "served_new": p.get("served"),
            "threshold_min": p.get("threshold_min"),
            "speed_kmh": p.get("speed_kmh"),
        }
        return pd.DataFrame([row])

    def to_facilities(self, kind: str | None = None) -> gpd.GeoDataFrame:
        """The new sites as facilities (``kind``, ``name``, ``capacity``), e.g. to recompute coverage.

        Parameters
        ----------
        kind
            The kind to write (default: the result's kind).

        Returns
        -------
        geopandas.GeoDataFrame
        """
        name = kind or self.params.get("kind") or "new"
        s = self.sites
        out = gpd.GeoDataFrame(
            {KIND: name, NAME: s[NAME].to_numpy(), CAPACITY: s[CAPACITY].to_numpy()},
            index=pd.Index([f"new-{c}" for c in s[CANDIDATE_ID]], name=FACILITY_ID),
            geometry=s.geometry.to_numpy(), crs=s.crs,
        )  # fmt: skip
        return out


def cells_after(problem: SitingProblem, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: covered after building, minutes before and after (cell level, exact)."""
    before = problem.existing_covered
    sub = problem.cover[:, chosen]
    covered = before | (np.diff(sub.tocsr().indptr) > 0)
    minutes_before = problem.existing_min.astype(float)
    minutes_after = minutes_before.copy()
    if problem.minutes is not None and len(chosen):
        coo = problem.minutes[:, chosen].tocoo()
        np.minimum.at(minutes_after, coo.row, coo.data)
    return covered, minutes_before, minutes_after


def coverage_by_district(
    problem: SitingProblem, covered_after: np.ndarray, chosen: np.ndarray
) -> pd.DataFrame:
    w = problem.weights
    before = problem.existing_covered
    if DISTRICT in problem.cells.columns:
        label = problem.cells[DISTRICT].astype(str).to_numpy()
    else:
        label = np.full(problem.n_cells, ALL, dtype=object)
    frame = pd.DataFrame({DISTRICT: label, "total": w, "covered_before": np.where(before, w, 0.0),
                          "covered_after": np.where(covered_after, w, 0.0)})  # fmt: skip
    site_district = None
    if DISTRICT in problem.candidates.columns and len(chosen):  # the district holding each site
        site_district = problem.candidates[DISTRICT].iloc[chosen].astype(str).value_counts()
    elif DISTRICT in problem.cells.columns and len(chosen):
        # otherwise the district of the cell nearest to it, when geometry is known
        geo = problem.cells.geometry if isinstance(problem.cells, gpd.GeoDataFrame) else None
        cand_geo = problem.candidates.geometry.iloc[chosen]
        if geo is not None and cand_geo.notna().all():
            cxy = shapely.get_coordinates(geo.representative_point().to_numpy())
            sxy = shapely.get_coordinates(cand_geo.to_numpy())
            _, near = cKDTree(cxy).query(sxy)
            site_district = pd.Series(label[near]).value_counts()
    rows = frame.groupby(DISTRICT, sort=True)[["total", "covered_before", "covered_after"]].sum()
    if ALL not in rows.index or len(rows) > 1:
        rows.loc[ALL] = frame[["total", "covered_before", "covered_after"]].sum()
    rows["gain"] = rows["covered_after"] - rows["covered_before"]
    with np.errstate(invalid="ignore", divide="ignore"):
        rows["share_before"] = np.where(rows["total"] > 0, rows["covered_before"] / rows["total"], np.nan)
        rows["share_after"] = np.where(rows["total"] > 0, rows["covered_after"] / rows["total"], np.nan)
    if site_district is not None:
        rows["new_sites"] = site_district.reindex(rows.index).fillna(0).astype(int)
        rows.loc[ALL, "new_sites"] = len(chosen)
    else:
        rows["new_sites"] = 0
        rows.loc[ALL, "new_sites"] = len(chosen)
    rows["new_sites"] = rows["new_sites"].astype(int)
    return rows.reset_index()


def build_order(problem: SitingProblem, chosen: Sequence[int]) -> tuple[list[int], list[float]]:
    """Order chosen sites so that each adds the most newly covered people given the earlier ones."""
    model = problem.cover_model
    order, gains, _ = greedy_coverage(model, None, allowed=np.asarray(chosen, np.int64))
    rest = [j for j in chosen if j not in set(order)]  # sites that add nobody (kept, gain 0)
    return order + rest, gains + [0.0] * len(rest)


def make_result(
    problem: SitingProblem, model_name: str, order: Sequence[int], gains: Sequence[float], *,
    objective: float, bound: float, gap: float, status: str, solver: str, seconds: float,
    greedy_objective: float, params: dict[str, Any], extra_columns: Mapping[str, Sequence[float]] | None = None,
    labels: Mapping[str, Sequence[Any]] | None = None, tables: Mapping[str, pd.DataFrame] | None = None,
) -> SitingResult:  # fmt: skip
    """The result of a model: sites in ``order`` with their ``gains``, coverage before and after.

    ``extra_columns`` are numeric columns of the sites table (after ``share``); ``labels`` are
    columns of any type placed after ``rank`` (``phase``, ``year``, ``hosts``, ``size``).
    """
    order_arr = np.asarray(order, np.int64)
    covered, mb, ma = cells_after(problem, order_arr)
    w = problem.weights
    total = float(w.sum())
    before = float(w[problem.existing_covered].sum())
    after = float(w[covered].sum())
    cand = problem.candidates.iloc[order_arr]
    gains_arr = np.asarray(gains, float)
    cumulative = np.cumsum(gains_arr)
    geom = cand.geometry
    has_geom = len(cand) > 0 and geom.notna().all() and cand.crs is not None
    if has_geom:
        x, y = shapely.get_x(geom.to_numpy()), shapely.get_y(geom.to_numpy())
        ll = geom.to_crs("EPSG:4326")
        lon, lat = shapely.get_x(ll.to_numpy()), shapely.get_y(ll.to_numpy())
    else:
        x = y = lon = lat = np.full(len(cand), np.nan)
    rank = np.arange(1, len(cand) + 1)
    data: dict[str, Any] = {"rank": rank, **{key: list(values) for key, values in (labels or {}).items()}}
    data.update({
        CANDIDATE_ID: cand.index.to_numpy(),
        KIND: problem.kind.name if problem.kind else problem.params.get("kind", ""),
        NAME: [f"new site {r}" for r in rank],
        DISTRICT: cand[DISTRICT].astype(str).to_numpy() if DISTRICT in cand.columns else "",
        "gain": gains_arr,
        "cumulative": cumulative,
        "covered": before + cumulative,
        "share": (before + cumulative) / total if total > 0 else np.full(len(cand), np.nan),
    })  # fmt: skip
    for key, values in (extra_columns or {}).items():
        data[key] = np.asarray(values, float)
    data.update({"x": x, "y": y, "lon": lon, "lat": lat,
                 COST: cand[COST].to_numpy(float), CAPACITY: cand[CAPACITY].to_numpy(float),
                 SOURCE: cand[SOURCE].astype(str).to_numpy()})  # fmt: skip
    if "node" in cand.columns:
        data["node"] = cand["node"].to_numpy()
    sites = gpd.GeoDataFrame(data, geometry=geom.to_numpy() if len(cand) else [],
                             crs=problem.candidates.crs)  # fmt: skip
    cells = pd.DataFrame(
        {"covered_before": problem.existing_covered, "covered_after": covered,
         "minutes_before": mb, "minutes_after": ma},
        index=problem.cells.index,
    )  # fmt: skip
    kind = problem.kind
    full = {
        "model": model_name,
        "kind": kind.name if kind else problem.params.get("kind", ""),
        "target_column": kind.target_column if kind else "",
        "threshold_min": problem.threshold_min,
        "speed_kmh": kind.speed_kmh if kind else None,
        "limit_min": problem.limit_min,
        "n_cells": problem.n_cells,
        "n_candidates": problem.n_candidates,
        "pairs": int(problem.cover.nnz),
        **params,
    }
    logger.info(
        "%s: %d sites, objective %.6g, bound %.6g, gap %.4f%%, %s, %.2f s", model_name, len(order),
        objective, bound, 100 * gap if np.isfinite(gap) else math.nan, status, seconds,
    )  # fmt: skip
    return SitingResult(
        model=model_name, sites=sites, objective=float(objective), bound=float(bound), gap=float(gap),
        status=status, solver=solver, seconds=float(seconds), covered_before=before,
        covered_after=after, total=total, coverage_after=coverage_by_district(problem, covered, order_arr),
        cells=cells, greedy_objective=float(greedy_objective), params=MappingProxyType(full),
        tables=MappingProxyType(dict(tables or {})),
    )  # fmt: skip


def drop_useless(order: list[int], gains: list[float], model: str) -> tuple[list[int], list[float]]:
    keep = [i for i, g in enumerate(gains) if g > 1e-9]
    if len(keep) < len(order):
        logger.info("%s: %d chosen sites add nobody and are left out", model, len(order) - len(keep))
    return [order[i] for i in keep], [gains[i] for i in keep]


def coverage_gains_in_order(problem: SitingProblem, order: Sequence[int]) -> list[float]:
    model = problem.cover_model
    csc = model.csc
    covered = np.zeros(model.a.shape[0], bool)
    out = []
    for j in order:
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        out.append(float(model.w[rows][~covered[rows]].sum()))
        covered[rows] = True
    return out
