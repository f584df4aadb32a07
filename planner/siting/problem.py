"""SitingProblem: cells, candidate sites and which candidate reaches which cell (sparse)."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.spatial import cKDTree

from planner._validate import check_in_range, row_list
from planner.coverage import Coverage, cells_on_network, compute_coverage, join_districts
from planner.errors import InputError
from planner.kinds import (
    CANDIDATE_ID,
    CAPACITY,
    DEFAULT_KINDS,
    DEFAULT_MAX_SNAP_M,
    DEFAULT_SPACING_M,
    DISTRICT,
    KIND,
    FacilityKind,
)
from planner.network import Snapped, WalkNetwork, travel_matrix_m
from planner.siting.candidates import (
    COST,
    SOURCE,
    candidate_sites,
    demand_candidates,
    exclude_candidates,
    prepare_candidates,
)

logger = logging.getLogger(__name__)


# ====================================================================== the problem
@dataclass(frozen=True)
class CoverModel:
    """Demand rows for the coverage models: uncovered cells with people, merged by candidate set."""

    a: sparse.csr_matrix  # groups × candidates, 1.0 where the candidate covers the group
    w: np.ndarray  # target people per group
    group: np.ndarray  # per cell: its group, or -1 (covered already, nobody there, or out of reach)

    @cached_property
    def csc(self) -> sparse.csc_matrix:
        return self.a.tocsc()


def merge_rows(a: sparse.csr_matrix, w: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Merge rows with identical column sets (exactly: hashed, then verified)."""
    a = a.copy()
    a.sort_indices()
    n, m = a.shape
    if n == 0:
        return a, w, np.zeros(0, np.int64)
    rng = np.random.default_rng(20240607)
    lens = np.diff(a.indptr)
    keys = [lens.astype(np.uint64)]
    for _ in range(2):
        r = rng.integers(1, np.iinfo(np.int64).max, size=m, dtype=np.int64).view(np.uint64)
        vals = r[a.indices]
        h = np.zeros(n, np.uint64)
        nz = lens > 0
        if a.nnz:
            with np.errstate(over="ignore"):
                h[nz] = np.add.reduceat(vals, a.indptr[:-1][nz])
        keys.append(h)
    key = np.column_stack(keys)
    _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    rep = first[inv]  # representative row of each row
    # verify: every row has exactly its representative's columns
    same = lens == lens[rep]
    if a.nnz:
        starts, rstarts = a.indptr[:-1], a.indptr[:-1][rep]
        pos = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(a.nnz)
        rpos = np.repeat(rstarts - (np.cumsum(lens) - lens), lens) + np.arange(a.nnz)
        eq = a.indices[pos] == a.indices[np.minimum(rpos, a.nnz - 1)]
        bad_rows = np.repeat(np.arange(n), lens)[~eq]
        same[bad_rows] = False
    if not same.all():  # a hash collision: keep those rows apart
        logger.warning("row merging: %d hash collisions, rows kept apart", int((~same).sum()))
        rep = np.where(same, rep, np.arange(n))
    uniq, group = np.unique(rep, return_inverse=True)
    merged = a[uniq]
    merged.data[:] = 1.0
    wg = np.bincount(group, weights=w, minlength=len(uniq))
    return merged, wg, group


@dataclass(frozen=True, eq=False)
class SitingProblem:
    """Cells, candidate sites and which candidate reaches which cell: the input of the models.

    Build it with :meth:`from_network` (real data) or :meth:`from_coverage_matrix` (a
    hand-written matrix).

    Attributes
    ----------
    cover
        Cells × candidates, sparse; 1 where the candidate is within the threshold walk.
    minutes
        Cells × candidates, sparse; walking minutes for pairs within ``limit_min`` (None if
        only the coverage is known). Used by the p-median.
    weights
        Target population per cell.
    existing_min
        Minutes from each cell to the nearest existing facility (``inf`` beyond
        ``limit_min`` or where there is none).
    threshold_min
        The coverage threshold in minutes.
    limit_min
        The longest walk searched; the p-median counts farther people at this time.
    candidates
        One row per candidate (column): ``cost``, ``capacity``, ``source`` and, from
        :meth:`from_network`, ``node``, ``access_m``, ``snap_ok`` and point geometry.
    cells
        One row per cell: the target column, ``district`` when known, geometry when known.
    kind
        The facility kind, when known.
    coverage
        The coverage of the existing facilities, from :meth:`from_network`.
    params
        What produced the problem (speed, threshold, limits, sizes, seconds).
    """

    cover: sparse.csr_matrix
    weights: np.ndarray
    existing_min: np.ndarray
    threshold_min: float
    limit_min: float
    candidates: gpd.GeoDataFrame
    cells: pd.DataFrame
    minutes: sparse.csr_matrix | None = None
    kind: FacilityKind | None = None
    coverage: Coverage | None = field(default=None, repr=False)
    params: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"SitingProblem(cells={self.n_cells}, candidates={self.n_candidates}, "
            f"pairs={self.cover.nnz}, uncovered={self.uncovered_population:,.0f}, "
            f"threshold_min={self.threshold_min:g})"
        )

    @property
    def n_cells(self) -> int:
        """Number of cells (rows)."""
        return int(self.cover.shape[0])

    @property
    def n_candidates(self) -> int:
        """Number of candidate sites (columns)."""
        return int(self.cover.shape[1])

    @property
    def existing_covered(self) -> np.ndarray:
        """Per cell: True where an existing facility is within the threshold."""
        return np.asarray(self.existing_min <= self.threshold_min)

    @property
    def total_population(self) -> float:
        """The target population of all cells."""
        return float(self.weights.sum())

    @property
    def covered_population(self) -> float:
        """Target population already covered by the existing facilities."""
        return float(self.weights[self.existing_covered].sum())

    @property
    def uncovered_population(self) -> float:
        """Target population not covered by the existing facilities."""
        return self.total_population - self.covered_population

    @property
    def coverable_population(self) -> float:
        """Uncovered target population that some candidate can reach."""
        return float(self.cover_model.w.sum())

    @cached_property
    def cover_model(self) -> CoverModel:
        t0 = time.perf_counter()
        reach = np.diff(self.cover.indptr) > 0
        rows = np.flatnonzero(~self.existing_covered & (self.weights > 0) & reach)
        a, w, g = merge_rows(self.cover[rows], self.weights[rows])
        group = np.full(self.n_cells, -1, np.int64)
        group[rows] = g
        logger.info(
            "coverage model: %d uncovered cells with people in reach merged into %d demand rows "
            "(%d pairs) in %.2f s", len(rows), a.shape[0], a.nnz, time.perf_counter() - t0,
        )  # fmt: skip
        return CoverModel(a.tocsr(), w, group)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_coverage_matrix(
        cls,
        a: Any,
        weights: Any,
        *,
        existing_covered: Any = None,
        minutes: Any = None,
        existing_min: Any = None,
        threshold_min: float = 15.0,
        limit_min: float | None = None,
        cost: Any = None,
        capacity: Any = None,
        candidate_ids: Sequence[Any] | None = None,
        districts: Sequence[Any] | None = None,
    ) -> SitingProblem:
        """A problem from a cell × candidate coverage matrix (for tests and other tools).

        Parameters
        ----------
        a
            Cells × candidates (dense or sparse); non-zero where the candidate covers the cell.
        weights
            Target population per cell.
        existing_covered
            Per cell, True where an existing facility already covers it (default: none).
        minutes
            Optional cells × candidates walking minutes for the p-median; dense arrays use
            ``inf`` for pairs out of reach.
        existing_min
            Optional minutes to the nearest existing facility (overrides ``existing_covered``).
        threshold_min
            The coverage threshold (only used to read ``minutes`` / ``existing_min``).
        limit_min
            Longest walk counted by the p-median (default: the largest finite minute given,
            or ``threshold_min``).
        cost, capacity
            Per candidate: building cost (default 1) and capacity (default unknown).
        candidate_ids
            Labels of the candidates (default ``0..m-1``).
        districts
            Per cell, a district label for the before/after table.

        Returns
        -------
        SitingProblem

        Examples
        --------
        >>> from planner.siting.mclp import solve_mclp
        >>> p = SitingProblem.from_coverage_matrix([[1, 0], [1, 1], [0, 1]], [10, 20, 5])
        >>> solve_mclp(p, 1).objective
        30.0
        """
        cover = sparse.csr_matrix(a, dtype=float)
        cover.eliminate_zeros()
        cover.data[:] = 1.0
        n, m = cover.shape
        w = np.asarray(weights, float).ravel()
        if len(w) != n:
            msg = f"weights has {len(w)} values for {n} cells (rows of a)."
            raise ValueError(msg)
        if not np.isfinite(w).all() or (w < 0).any():
            msg = "weights must be finite and non-negative."
            raise ValueError(msg)
        mins = _matrix_minutes(minutes, cover.shape)
        emin = _existing_minutes(n, existing_min, existing_covered)
        if limit_min is None:
            finite = [threshold_min]
            if mins is not None and mins.nnz:
                finite.append(float(mins.data.max()))
            limit_min = max(finite)
        cand = _matrix_candidates(m, candidate_ids, cost, capacity)
        cells = pd.DataFrame({"weight": w})
        if districts is not None:
            cells[DISTRICT] = np.asarray(districts, object)
        return cls(
            cover=cover, weights=w, existing_min=emin, threshold_min=float(threshold_min),
            limit_min=float(limit_min), candidates=cand, cells=cells, minutes=mins,
            params=MappingProxyType({"source": "matrix", "threshold_min": float(threshold_min),
                                     "limit_min": float(limit_min)}),
        )  # fmt: skip

    @classmethod
    def from_network(
        cls,
        network: WalkNetwork,
        population: gpd.GeoDataFrame,
        facilities: gpd.GeoDataFrame,
        kind: FacilityKind | str,
        *,
        candidates: gpd.GeoDataFrame | None = None,
        spacing_m: float = DEFAULT_SPACING_M,
        boundary: Any = None,
        demand_candidates: int = 0,
        capacity: float | None = None,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
        max_minutes: float | None = None,
        districts: gpd.GeoDataFrame | None = None,
        require_existing: bool = True,
        seed: int | None = None,
        tile_m: float | None = None,
        progress: bool = False,
        excluded: Any = None,
        unit_columns: Sequence[str] = (),
    ) -> SitingProblem:
        """A problem from real data: the walk network, cells, existing facilities, candidates.

        Existing facilities of ``kind`` are kept; the cells they cover are not counted again.
        Candidates and cells are snapped to the network; a candidate reaches a cell when
        ``candidate access + network + cell access`` is within the kind's threshold walk,
        the same rule :func:`planner.compute_coverage` uses.

        Parameters
        ----------
        network
            The walk network.
        population
            Cells with the kind's target column (any CRS).
        facilities
            Existing facilities with a ``kind`` column; rows of other kinds are ignored.
        kind
            The kind to site: a :class:`FacilityKind`, or the name of a default kind.
        candidates
            Candidate sites (points, e.g. :func:`read_candidates`); None: network nodes
            thinned to ``spacing_m`` (:func:`candidate_sites`).
        spacing_m
            Spacing of network candidates, in metres.
        boundary
            Keep network candidates inside this polygon (see :func:`candidate_sites`).
        demand_candidates
            Add this many candidates at the centres of the uncovered target population
            (:func:`demand_candidates`).
        capacity
            Capacity, in the kind's unit, of every candidate without one of its own.
        max_snap_m
            Cells, facilities and candidates farther than this from a street are reported
            and left out.
        max_minutes
            Longest walk searched (default: the kind's threshold); the p-median needs
            longer walks to tell far from very far.
        districts
            Optional polygons with a ``district`` column, for the before/after table.
        require_existing
            Raise when there is no existing facility of ``kind`` (usually a wrong kind or
            kind_map); False to site from scratch.
        seed
            Seed for the demand-driven candidates.
        tile_m
            Tile side of the bounded searches (see :func:`travel_matrix_m`).
        progress
            Show progress bars.
        excluded
            Areas where no new site may go (polygons: a GeoDataFrame/GeoSeries in any CRS, or a
            shapely geometry in the network's CRS); candidates inside are left out.
        unit_columns
            Population columns (``street``, ``community``…) kept on the cells, for per-unit rules.

        Returns
        -------
        SitingProblem
        """
        kind = resolve_kind(kind)
        limit = _search_limit(kind, max_minutes)
        if not isinstance(facilities, gpd.GeoDataFrame) or KIND not in facilities.columns:
            msg = "facilities must be a GeoDataFrame with a 'kind' column."
            raise InputError(msg)
        _check_existing(facilities, kind, require_existing=require_existing)
        coverage = compute_coverage(
            network, population, facilities[facilities[KIND] == kind.name], kinds={kind.name: kind},
            thresholds_min=(kind.threshold_min,), max_snap_m=max_snap_m, max_minutes=limit, districts=districts,
        )  # fmt: skip
        return cls.from_coverage(
            coverage, network, kind, candidates=candidates, spacing_m=spacing_m, boundary=boundary,
            demand_candidates=demand_candidates, capacity=capacity, max_minutes=max_minutes,
            districts=districts, require_existing=require_existing, seed=seed, tile_m=tile_m,
            progress=progress, excluded=excluded, unit_columns=unit_columns,
        )  # fmt: skip

    @classmethod
    def from_coverage(
        cls,
        coverage: Coverage,
        network: WalkNetwork,
        kind: FacilityKind | str,
        *,
        candidates: gpd.GeoDataFrame | None = None,
        spacing_m: float = DEFAULT_SPACING_M,
        boundary: Any = None,
        demand_candidates: int = 0,
        capacity: float | None = None,
        max_minutes: float | None = None,
        districts: gpd.GeoDataFrame | None = None,
        require_existing: bool = True,
        seed: int | None = None,
        tile_m: float | None = None,
        progress: bool = False,
        excluded: Any = None,
        unit_columns: Sequence[str] = (),
    ) -> SitingProblem:
        """A problem from a coverage already computed: the existing facilities are not searched again.

        Gives what :meth:`from_network` gives on the coverage's network, cells, facilities,
        snap limit and districts, for the one kind sited. The coverage's minutes of ``kind`` are
        used as they are when its search reached the walk the model needs (``max_minutes``,
        default the kind's threshold); otherwise, or when the coverage measured the kind with
        another speed or threshold, that kind's coverage is computed again, with a log line.

        Parameters
        ----------
        coverage
            From :func:`~planner.coverage.compute_coverage` on ``network`` (any kinds).
        network
            The walk network the coverage was computed on.
        kind
            The kind to site: a :class:`FacilityKind`, or a kind of the coverage by name.
        districts
            District polygons with a ``district`` column: each candidate gets the district holding
            it (default: that of the nearest cell, when the coverage has districts).
        candidates, spacing_m, boundary, demand_candidates, capacity, max_minutes, require_existing, seed, tile_m, progress, excluded, unit_columns
            As for :meth:`from_network`.

        Returns
        -------
        SitingProblem
        """
        t0 = time.perf_counter()
        if isinstance(kind, str) and kind in coverage.kinds:
            kind = coverage.kinds[kind]
        kind = resolve_kind(kind)
        limit = _search_limit(kind, max_minutes)
        _check_existing(coverage.facilities, kind, require_existing=require_existing)
        coverage = _coverage_for(coverage, network, kind, limit)
        max_snap_m = float(coverage.params["max_snap_m"])
        pop = coverage.population
        existing_min = coverage.minutes[kind.name].to_numpy(float).copy()
        existing_min[existing_min > limit * (1 + 1e-12)] = np.inf  # as a search to ``limit`` would give

        cand = _candidates(network, coverage, kind, candidates=candidates, spacing_m=spacing_m, boundary=boundary,
                           demand_candidates=demand_candidates, capacity=capacity, seed=seed,
                           max_snap_m=max_snap_m, excluded=excluded)  # fmt: skip
        cand = _candidate_districts(cand, coverage, districts)
        t1 = time.perf_counter()
        mins, cell_snap = _minutes(network, coverage, cand, kind, limit, tile_m=tile_m, progress=progress)
        matrix_s = time.perf_counter() - t1
        cover = mins.copy()
        cover.data = (cover.data <= kind.threshold_min).astype(float)
        cover.eliminate_zeros()

        missing = [c for c in unit_columns if c not in pop.columns]
        if missing:
            msg = f"unit column(s) {missing} are not columns of the population; it has {list(pop.columns)}."
            raise InputError(msg)
        cols = list(
            dict.fromkeys(
                [kind.target_column, *([DISTRICT] if DISTRICT in pop.columns else []), *unit_columns]
            )
        )
        seconds = time.perf_counter() - t0
        params = {
            "kind": kind.name,
            "target_column": kind.target_column,
            "threshold_min": float(kind.threshold_min),
            "speed_kmh": kind.speed_kmh,
            "reach_m": kind.reach_m(),
            "limit_min": limit,
            "max_snap_m": max_snap_m,
            "spacing_m": float(spacing_m) if candidates is None else None,
            "candidates": "network" if candidates is None else "given",
            "demand_candidates": int(demand_candidates),
            "n_candidates": len(cand),
            "candidates_unsnapped": int((~cand["snap_ok"]).sum()),
            "n_cells": len(pop),
            "cells_unsnapped": int((~cell_snap.ok).sum()),
            "existing_facilities": int((coverage.facilities[KIND] == kind.name).sum()),
            "pairs": int(cover.nnz),
            "pairs_within_limit": int(mins.nnz),
            "network": network.source,
            "matrix_seconds": round(matrix_s, 3),
            "seconds": round(seconds, 3),
        }
        logger.info(
            "siting problem %s: %d cells × %d candidates, %d pairs within %g min (matrix %.2f s, "
            "total %.2f s)", kind.name, len(pop), len(cand), cover.nnz, kind.threshold_min, matrix_s, seconds,
        )  # fmt: skip
        return cls(
            cover=cover, weights=pop[kind.target_column].to_numpy(float), existing_min=existing_min,
            threshold_min=float(kind.threshold_min), limit_min=limit, candidates=cand,
            cells=pop[[*cols, pop.geometry.name]].copy(), minutes=mins, kind=kind, coverage=coverage,
            params=MappingProxyType(params),
        )  # fmt: skip


def _matrix_minutes(minutes: Any, shape: tuple[int, int]) -> sparse.csr_matrix | None:
    """Walking minutes given to :meth:`SitingProblem.from_coverage_matrix`, as a sparse matrix."""
    if minutes is None:
        return None
    if sparse.issparse(minutes):
        mins = sparse.csr_matrix(minutes, dtype=float)
    else:
        dense = np.asarray(minutes, float)
        r, c = np.nonzero(np.isfinite(dense))
        mins = sparse.csr_matrix((np.maximum(dense[r, c], 1e-12), (r, c)), shape=dense.shape)
    if mins.shape != shape:
        msg = f"minutes has shape {mins.shape}; a has {shape}."
        raise ValueError(msg)
    return mins


def _existing_minutes(n: int, existing_min: Any, existing_covered: Any) -> np.ndarray:
    if existing_min is not None:
        emin = np.asarray(existing_min, float).ravel()
    elif existing_covered is not None:
        emin = np.where(np.asarray(existing_covered, bool).ravel(), 0.0, np.inf)
    else:
        emin = np.full(n, np.inf)
    if len(emin) != n:
        msg = f"existing_covered / existing_min has {len(emin)} values for {n} cells."
        raise ValueError(msg)
    return emin


def _matrix_candidates(
    m: int, candidate_ids: Sequence[Any] | None, cost: Any, capacity: Any
) -> gpd.GeoDataFrame:
    """The candidates of a hand-written matrix: ids, cost (default 1), capacity (default unknown)."""
    ids = pd.Index(
        [str(i) for i in (range(m) if candidate_ids is None else candidate_ids)], name=CANDIDATE_ID
    )
    if len(ids) != m:
        msg = f"candidate_ids has {len(ids)} labels for {m} candidates."
        raise ValueError(msg)
    c = np.ones(m) if cost is None else np.asarray(cost, float).ravel()
    cap = np.full(m, np.nan) if capacity is None else np.asarray(capacity, float).ravel()
    if len(c) != m or len(cap) != m:
        msg = f"cost and capacity need one value per candidate ({m})."
        raise ValueError(msg)
    if not (np.isfinite(c).all() and (c > 0).all()):
        msg = "cost must be finite and positive."
        raise ValueError(msg)
    if (cap[~np.isnan(cap)] < 0).any():
        msg = "capacity must be non-negative (NaN where unknown)."
        raise ValueError(msg)
    return gpd.GeoDataFrame({SOURCE: "matrix", COST: c, CAPACITY: cap}, index=ids,
                            geometry=gpd.GeoSeries([None] * m, index=ids))  # fmt: skip


def _search_limit(kind: FacilityKind, max_minutes: float | None) -> float:
    """The longest walk a siting model searches: the kind's threshold, or ``max_minutes`` above it."""
    threshold = float(kind.threshold_min)
    limit = threshold if max_minutes is None else float(max_minutes)
    if limit < threshold:
        msg = f"max_minutes ({limit:g}) is below the kind's threshold ({threshold:g})."
        raise ValueError(msg)
    return limit


def _check_existing(facilities: gpd.GeoDataFrame, kind: FacilityKind, *, require_existing: bool) -> None:
    """No existing facility of the kind is usually a wrong kind name or kind_map: say so."""
    if require_existing and not (facilities[KIND] == kind.name).any():
        present = sorted(facilities[KIND].astype(str).unique().tolist())
        msg = (
            f"there are no existing facilities of kind {kind.name!r} (kinds present: {present}). "
            "Check the kind name and the kind_map; to site every facility from scratch pass "
            "require_existing=False (CLI: --from-scratch)."
        )
        raise InputError(msg)


def _coverage_for(coverage: Coverage, network: WalkNetwork, kind: FacilityKind, limit: float) -> Coverage:
    """``coverage`` when it measured ``kind`` as given and far enough; else that kind computed again."""
    same_kind = coverage.kinds.get(kind.name) == kind
    if same_kind and float(coverage.params["max_minutes"]) >= limit:
        return coverage
    why = (
        "with another speed or threshold"
        if not same_kind
        else f"only to {coverage.params['max_minutes']:g} min"
    )
    logger.info("the coverage measured %s %s; computing it again to %g min for siting", kind.name, why, limit)
    fac = coverage.facilities
    return compute_coverage(
        network, coverage.population, fac[fac[KIND] == kind.name].drop(columns=["snap_ok", "access_m"]),
        kinds={kind.name: kind}, thresholds_min=(kind.threshold_min,),
        max_snap_m=float(coverage.params["max_snap_m"]), max_minutes=limit,
    )  # fmt: skip


def _candidates(
    network: WalkNetwork, coverage: Coverage, kind: FacilityKind, *, candidates: gpd.GeoDataFrame | None,
    spacing_m: float, boundary: Any, demand_candidates: int, capacity: float | None, seed: int | None,
    max_snap_m: float, excluded: Any = None,
) -> gpd.GeoDataFrame:  # fmt: skip
    """The candidate sites, snapped: ``node``, ``access_m`` and ``snap_ok`` added."""
    if candidates is None:
        cand = candidate_sites(network, spacing_m=spacing_m, boundary=boundary)
    else:
        cand = prepare_candidates(candidates, network.crs)
    if excluded is not None:
        cand = exclude_candidates(cand, excluded)
    if demand_candidates:
        extra = _demand_candidates(coverage, kind.name, int(demand_candidates), seed=seed, network=network)
        if len(extra):
            cand = pd.concat(
                [cand, extra[[c for c in extra.columns if c in cand.columns or c == "uncovered"]]]
            )
    if capacity is not None:
        check_in_range(capacity, "capacity", 0.0, 1e9)
        cand[CAPACITY] = cand[CAPACITY].fillna(float(capacity))
    if cand.index.has_duplicates:
        msg = f"candidate ids repeat: {row_list(cand.index[cand.index.duplicated()].unique())}."
        raise InputError(msg)
    snap = network.snap(cand, max_snap_m=max_snap_m)
    if not snap.ok.any():
        msg = (
            f"none of the {len(cand)} candidate sites is within {max_snap_m:g} m of a street of "
            f"{network.source}; check their CRS and area."
        )
        raise InputError(msg)
    if not snap.ok.all():
        warnings.warn(
            f"candidates: {int((~snap.ok).sum())} of {len(cand)} sites are farther than "
            f"{max_snap_m:g} m from any usable street and cannot be chosen: "
            f"{row_list(cand.index[~snap.ok])}.",
            UserWarning, stacklevel=4,
        )  # fmt: skip
    return cand.assign(node=snap.node, access_m=np.where(snap.ok, snap.access_m, np.nan), snap_ok=snap.ok)


def _candidate_districts(
    cand: gpd.GeoDataFrame, coverage: Coverage, districts: gpd.GeoDataFrame | None
) -> gpd.GeoDataFrame:
    """Each candidate's district: the polygon holding it, else the nearest cell's (when known)."""
    if districts is not None:
        return join_districts(cand, districts)
    pop = coverage.population
    if DISTRICT not in pop.columns or not len(cand):
        return cand
    cells = shapely.get_coordinates(pop.geometry.representative_point().to_numpy())
    _, near = cKDTree(cells).query(shapely.get_coordinates(cand.geometry.to_numpy()))
    return cand.assign(**{DISTRICT: pop[DISTRICT].to_numpy()[near]})


def _minutes(
    network: WalkNetwork, coverage: Coverage, cand: gpd.GeoDataFrame, kind: FacilityKind, limit: float, *,
    tile_m: float | None, progress: bool,
) -> tuple[sparse.csr_matrix, Snapped]:  # fmt: skip
    """Cells × candidates walking minutes within ``limit``, by the coverage's rule (access legs at both ends)."""
    m_per_min = kind.speed_kmh * 1000.0 / 60.0
    cell_snap = cells_on_network(coverage, network)
    ok = cand["snap_ok"].to_numpy(bool)
    dist = travel_matrix_m(
        network, np.where(ok, cand["node"].to_numpy(), -1), np.where(cell_snap.ok, cell_snap.node, -1),
        limit_m=limit * m_per_min, from_offsets_m=np.where(ok, cand["access_m"].to_numpy(), 0.0),
        to_offsets_m=np.where(cell_snap.ok, cell_snap.access_m, 0.0), tile_m=tile_m, progress=progress,
    )  # fmt: skip
    mins = dist.T.tocsr()
    mins.data /= m_per_min
    mins.sort_indices()
    return mins, cell_snap


_demand_candidates = demand_candidates  # from_network has an argument of the same name


def resolve_kind(kind: FacilityKind | str) -> FacilityKind:
    if isinstance(kind, FacilityKind):
        return kind
    if isinstance(kind, str) and kind in DEFAULT_KINDS:
        return DEFAULT_KINDS[kind]
    msg = f"kind must be a FacilityKind or one of {list(DEFAULT_KINDS)}; got {kind!r}."
    raise ValueError(msg)


def check_common(time_limit_s: float, mip_gap: float) -> None:
    check_in_range(time_limit_s, "time_limit_s", 0.0, 1e7)
    check_in_range(mip_gap, "mip_gap", 0.0, 1.0)


def check_k(problem: SitingProblem, k: int) -> int:
    check_in_range(k, "k", 1, 1e7, integer=True)
    k = int(k)
    if k > problem.n_candidates:
        msg = (
            f"k={k} new sites asked for, but there are only {problem.n_candidates} candidate "
            "sites; lower k or add candidates (a smaller spacing, a candidates file, or "
            "demand-driven candidates)."
        )
        raise InputError(msg)
    return k
