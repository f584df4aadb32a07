"""Where new facilities should go: candidates, a sparse coverage matrix, MCLP / LSCP / p-median.

The models work on a sparse cell × candidate matrix built from bounded network searches
(pairs beyond the walking limit are never stored) with cells of identical candidate sets
merged. Existing facilities stay where they are and the people they already cover are
not counted again. A lazy greedy gives an instant answer and a warm start; HiGHS (highspy,
or scipy's copy of HiGHS) then proves the optimum or reports the bound and the gap, always
measured on the part the new sites add (newly covered people), not on a total that
includes the people who were covered before.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.spatial import cKDTree

from planner._validate import _rows, check_in_range
from planner.coverage import Coverage, cells_on_network, compute_coverage
from planner.errors import InputError, SolverError
from planner.kinds import CAPACITY, DEFAULT_KINDS, KIND, NAME, FacilityKind
from planner.network import WalkNetwork, travel_matrix_m

logger = logging.getLogger(__name__)

COST = "cost"
SOURCE = "source"
DISTRICT = "district"
ALL = "(all)"
_MODELS = ("mclp", "cmclp", "lscp", "pmedian")
_SOLVERS = ("auto", "highs", "scipy", "greedy")


def _empty_candidates(crs: Any) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(
        {SOURCE: pd.Series(dtype=object), COST: pd.Series(dtype=float),
         CAPACITY: pd.Series(dtype=float)},
        geometry=gpd.GeoSeries([], crs=crs), crs=crs,
    )  # fmt: skip
    gdf.index.name = "candidate_id"
    return gdf


def _boundary_geometry(boundary: Any, crs: pyproj.CRS) -> Any:
    if isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        if boundary.crs is None:
            msg = "boundary has no CRS; set one with .set_crs(...)."
            raise InputError(msg)
        return boundary.to_crs(crs).union_all()
    return boundary  # a shapely geometry, assumed in the network's CRS


def candidate_sites(
    network: WalkNetwork,
    *,
    spacing_m: float = 100.0,
    boundary: Any = None,
) -> gpd.GeoDataFrame:
    """Network nodes thinned to about one per ``spacing_m`` square, as candidate sites.

    In each square of a ``spacing_m`` grid the usable node nearest the square's centre is
    kept (nodes of small disconnected fragments are never candidates).

    Parameters
    ----------
    network
        The walk network.
    spacing_m
        Side of the thinning grid, in metres.
    boundary
        Keep only nodes inside this polygon: a GeoDataFrame/GeoSeries (any CRS) or a shapely
        geometry in the network's CRS. None: the whole network.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by ``candidate_id`` (``"node-<n>"``); columns ``source`` (``"network"``),
        ``node``, ``cost`` (1), ``capacity`` (NaN), point geometry in the network's CRS.

    Examples
    --------
    >>> net = WalkNetwork.from_edges([[0, 0], [40, 0], [100, 0], [150, 0]], [0, 1, 2], [1, 2, 3],
    ...                              [40.0, 60.0, 50.0], crs="EPSG:32628")
    >>> candidate_sites(net, spacing_m=100).index.tolist()
    ['node-1', 'node-3']
    """
    check_in_range(spacing_m, "spacing_m", 1.0, 1e5)
    nodes = np.flatnonzero(network.snappable)
    xy = network.node_xy[nodes]
    if boundary is not None:
        inside = shapely.contains_xy(_boundary_geometry(boundary, network.crs), xy[:, 0], xy[:, 1])
        nodes, xy = nodes[inside], xy[inside]
    if len(nodes) == 0:
        msg = "no candidate sites: no network node lies inside the boundary."
        raise InputError(msg)
    cell = np.floor(xy / spacing_m)
    centre = (cell + 0.5) * spacing_m
    d2 = ((xy - centre) ** 2).sum(axis=1)
    order = np.lexsort((nodes, d2, cell[:, 1], cell[:, 0]))
    cs = cell[order]
    first = np.ones(len(order), bool)
    first[1:] = (cs[1:] != cs[:-1]).any(axis=1)
    keep = np.sort(nodes[order[first]])
    gdf = gpd.GeoDataFrame(
        {SOURCE: "network", "node": keep, COST: 1.0, CAPACITY: np.nan},
        index=pd.Index([f"node-{i}" for i in keep], name="candidate_id"),
        geometry=gpd.points_from_xy(network.node_xy[keep, 0], network.node_xy[keep, 1]),
        crs=network.crs,
    )
    logger.info("%d candidate sites from %d network nodes at %g m spacing",
                len(gdf), len(nodes), spacing_m)  # fmt: skip
    return gdf


def _numeric_column(
    df: pd.DataFrame, column: str, what: str, *, low: float, strict: bool, allow_nan: bool
) -> pd.Series:
    values = pd.to_numeric(df[column], errors="coerce").astype(float)
    raw = df[column]
    text = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if text.any():
        msg = (
            f"{what} column {column!r} has non-numeric values in rows {_rows(df.index[text])} "
            f"(e.g. {raw[text].iloc[0]!r}); use plain numbers."
        )
        raise InputError(msg)
    if not allow_nan and values.isna().any():
        msg = f"{what} column {column!r} is empty in rows {_rows(df.index[values.isna()])}."
        raise InputError(msg)
    bad = (values <= low) if strict else (values < low)
    if bad.any():
        rel = ">" if strict else ">="
        msg = f"{what} column {column!r} must be {rel} {low:g}; rows {_rows(df.index[bad])} are not."
        raise InputError(msg)
    return values


def read_candidates(
    path: str | Path,
    *,
    id_column: str | None = None,
    cost_column: str = COST,
    capacity_column: str = CAPACITY,
    lon_column: str = "lon",
    lat_column: str = "lat",
    layer: str | None = None,
    assume_crs: Any = None,
) -> gpd.GeoDataFrame:
    """Read candidate sites from a file of points, optionally with a cost and a capacity.

    Parameters
    ----------
    path
        CSV with lon/lat (WGS-84) columns, GeoJSON, GeoPackage, Shapefile or GeoParquet.
    id_column
        Column with a unique id per site (default: ``<file stem>-<row>``).
    cost_column
        Column with the cost of building each site (positive; default 1 where absent).
        LSCP minimises the total cost; MCLP can be given a budget.
    capacity_column
        Column with each site's capacity in the kind's unit (beds, slots, seats…), used by
        the capacitated model; may be empty.
    lon_column, lat_column
        Coordinate columns of a CSV.
    layer
        Layer of a GeoPackage.
    assume_crs
        CRS to use when the file declares none.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by ``candidate_id``; columns ``source`` (``"file"``), ``cost``,
        ``capacity`` (NaN where unknown), the other source columns, point geometry.
    """
    from planner.inputs import _read_any

    gdf = _read_any(path, "candidates", layer=layer, lon_column=lon_column,
                    lat_column=lat_column, assume_crs=assume_crs)  # fmt: skip
    gdf = gdf.copy()
    stem = Path(path).stem
    if id_column is not None:
        if id_column not in gdf.columns:
            msg = f"candidates ({path}) have no column {id_column!r}; they have {list(gdf.columns)}."
            raise InputError(msg)
        gdf.index = pd.Index(gdf[id_column].astype(str), name="candidate_id")
    else:
        gdf.index = pd.Index([f"{stem}-{i}" for i in range(len(gdf))], name="candidate_id")
    gdf[SOURCE] = "file"
    if cost_column in gdf.columns and cost_column != COST:
        gdf[COST] = gdf[cost_column]
    if capacity_column in gdf.columns and capacity_column != CAPACITY:
        gdf[CAPACITY] = gdf[capacity_column]
    gdf.attrs["source"] = str(path)
    return _prepare_candidates(gdf, gdf.crs, what=f"candidates ({path})")


def _prepare_candidates(candidates: gpd.GeoDataFrame, crs: Any, *, what: str = "candidates") -> gpd.GeoDataFrame:
    """Check and complete a candidates layer: CRS, unique ids, points, numeric cost/capacity."""
    if not isinstance(candidates, gpd.GeoDataFrame):
        msg = f"{what} must be a GeoDataFrame of points; got {type(candidates).__name__}."
        raise TypeError(msg)
    if len(candidates) == 0:
        msg = f"{what}: no candidate sites given."
        raise InputError(msg)
    if candidates.crs is None:
        msg = f"{what} have no CRS; set one with .set_crs(...)."
        raise InputError(msg)
    gdf = candidates.to_crs(crs) if crs is not None and not candidates.crs.equals(crs) else candidates.copy()
    if gdf.index.has_duplicates:
        msg = f"{what} have duplicate ids {_rows(gdf.index[gdf.index.duplicated()].unique())}."
        raise InputError(msg)
    geoms = gdf.geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        msg = f"{what} have empty geometries in rows {_rows(gdf.index[missing])}."
        raise InputError(msg)
    not_point = shapely.get_type_id(geoms) != 0
    if not_point.any():
        gdf.loc[not_point, gdf.geometry.name] = shapely.point_on_surface(geoms[not_point])
    if SOURCE not in gdf.columns:
        gdf[SOURCE] = "user"
    gdf[COST] = 1.0 if COST not in gdf.columns else _numeric_column(
        gdf, COST, what, low=0.0, strict=True, allow_nan=True).fillna(1.0)  # fmt: skip
    gdf[CAPACITY] = np.nan if CAPACITY not in gdf.columns else _numeric_column(
        gdf, CAPACITY, what, low=0.0, strict=False, allow_nan=True)  # fmt: skip
    gdf.index = gdf.index.astype(str)
    gdf.index.name = "candidate_id"
    return gdf


def demand_candidates(
    coverage: Coverage,
    kind: str,
    n: int,
    *,
    seed: int | None = None,
    network: WalkNetwork | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites at the centres of the uncovered target population (weighted k-means).

    Parameters
    ----------
    coverage
        Coverage with the existing facilities (:func:`planner.compute_coverage`).
    kind
        The facility kind whose uncovered target population is clustered.
    n
        Number of clusters (fewer if fewer uncovered cells have people).
    seed
        Seed of the k-means initialisation.
    network
        If given, each centre moves to its nearest usable network node (duplicates merged).

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by ``candidate_id`` (``"demand-<i>"``); columns ``source`` (``"demand"``),
        ``uncovered`` (target people in the cluster), ``cost`` (1), ``capacity`` (NaN),
        point geometry in the coverage's CRS; empty when everybody is covered.
    """
    from sklearn.cluster import KMeans

    if kind not in coverage.kinds:
        msg = f"unknown kind {kind!r}; this coverage has {list(coverage.kinds)}."
        raise ValueError(msg)
    check_in_range(n, "n", 1, 1e6, integer=True)
    k = coverage.kinds[kind]
    pop = coverage.population
    w = pop[k.target_column].to_numpy(float)
    out = (coverage.minutes[kind].to_numpy() > k.threshold_min) & (w > 0)
    crs = pop.crs
    if not out.any():
        logger.info("demand candidates: all %s target population is covered", kind)
        return _empty_candidates(crs)
    xy = shapely.get_coordinates(pop.geometry.representative_point().to_numpy()[out])
    w = w[out]
    distinct = len(np.unique(xy, axis=0))
    n_clusters = int(min(n, distinct))
    km = KMeans(n_clusters=n_clusters, n_init=4, random_state=seed)
    labels = km.fit_predict(xy, sample_weight=w)
    centres = km.cluster_centers_
    people = np.bincount(labels, weights=w, minlength=n_clusters)
    if network is not None:
        snap = network.snap(centres, max_snap_m=np.inf)
        centres = network.node_xy[snap.node]
        _, first = np.unique(snap.node, return_index=True)
        first = np.sort(first)
        agg = pd.Series(people).groupby(snap.node).sum()
        people = agg.reindex(snap.node[first]).to_numpy()
        centres = centres[first]
    gdf = gpd.GeoDataFrame(
        {SOURCE: "demand", "uncovered": people, COST: 1.0, CAPACITY: np.nan},
        index=pd.Index([f"demand-{i}" for i in range(len(centres))], name="candidate_id"),
        geometry=gpd.points_from_xy(centres[:, 0], centres[:, 1]),
        crs=crs,
    )
    logger.info("%d demand-driven candidates from %d uncovered cells", len(gdf), int(out.sum()))
    return gdf


# ====================================================================== the problem
@dataclass(frozen=True)
class _CoverModel:
    """Demand rows for the coverage models: uncovered cells with people, merged by candidate set."""

    a: sparse.csr_matrix  # groups × candidates, 1.0 where the candidate covers the group
    w: np.ndarray  # target people per group
    group: np.ndarray  # per cell: its group, or -1 (covered already, nobody there, or out of reach)

    @cached_property
    def csc(self) -> sparse.csc_matrix:
        return self.a.tocsc()


def _merge_rows(a: sparse.csr_matrix, w: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
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
        return float(self._cover_model.w.sum())

    @cached_property
    def _cover_model(self) -> _CoverModel:
        t0 = time.perf_counter()
        reach = np.diff(self.cover.indptr) > 0
        rows = np.flatnonzero(~self.existing_covered & (self.weights > 0) & reach)
        a, w, g = _merge_rows(self.cover[rows], self.weights[rows])
        group = np.full(self.n_cells, -1, np.int64)
        group[rows] = g
        logger.info(
            "coverage model: %d uncovered cells with people in reach merged into %d demand rows "
            "(%d pairs) in %.2f s", len(rows), a.shape[0], a.nnz, time.perf_counter() - t0,
        )  # fmt: skip
        return _CoverModel(a.tocsr(), w, group)

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
        mins = None
        if minutes is not None:
            if sparse.issparse(minutes):
                mins = sparse.csr_matrix(minutes, dtype=float)
            else:
                dense = np.asarray(minutes, float)
                r, c = np.nonzero(np.isfinite(dense))
                mins = sparse.csr_matrix((np.maximum(dense[r, c], 1e-12), (r, c)), shape=dense.shape)
            if mins.shape != cover.shape:
                msg = f"minutes has shape {mins.shape}; a has {cover.shape}."
                raise ValueError(msg)
        if existing_min is not None:
            emin = np.asarray(existing_min, float).ravel()
        elif existing_covered is not None:
            emin = np.where(np.asarray(existing_covered, bool).ravel(), 0.0, np.inf)
        else:
            emin = np.full(n, np.inf)
        if len(emin) != n:
            msg = f"existing_covered / existing_min has {len(emin)} values for {n} cells."
            raise ValueError(msg)
        if limit_min is None:
            finite = [threshold_min]
            if mins is not None and mins.nnz:
                finite.append(float(mins.data.max()))
            limit_min = max(finite)
        ids = pd.Index([str(i) for i in (range(m) if candidate_ids is None else candidate_ids)],
                       name="candidate_id")  # fmt: skip
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
        cand = gpd.GeoDataFrame({SOURCE: "matrix", COST: c, CAPACITY: cap}, index=ids,
                                geometry=gpd.GeoSeries([None] * m, index=ids))  # fmt: skip
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
        spacing_m: float = 100.0,
        boundary: Any = None,
        demand_candidates: int = 0,
        capacity: float | None = None,
        max_snap_m: float = 300.0,
        max_minutes: float | None = None,
        districts: gpd.GeoDataFrame | None = None,
        require_existing: bool = True,
        seed: int | None = None,
        tile_m: float | None = None,
        progress: bool = False,
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

        Returns
        -------
        SitingProblem
        """
        t0 = time.perf_counter()
        kind = _resolve_kind(kind)
        threshold = float(kind.threshold_min)
        limit = threshold if max_minutes is None else float(max_minutes)
        if limit < threshold:
            msg = f"max_minutes ({limit:g}) is below the kind's threshold ({threshold:g})."
            raise ValueError(msg)
        if not isinstance(facilities, gpd.GeoDataFrame) or KIND not in facilities.columns:
            msg = "facilities must be a GeoDataFrame with a 'kind' column."
            raise InputError(msg)
        existing = facilities[facilities[KIND] == kind.name]
        if len(existing) == 0 and require_existing:
            present = sorted(facilities[KIND].astype(str).unique().tolist())
            msg = (
                f"there are no existing facilities of kind {kind.name!r} (kinds present: {present}). "
                "Check the kind name and the kind_map; to site every facility from scratch pass "
                "require_existing=False (CLI: --from-scratch)."
            )
            raise InputError(msg)
        coverage = compute_coverage(
            network, population, existing, kinds={kind.name: kind}, thresholds_min=(threshold,),
            max_snap_m=max_snap_m, max_minutes=limit, districts=districts,
        )  # fmt: skip
        pop = coverage.population
        weights = pop[kind.target_column].to_numpy(float)
        existing_min = coverage.minutes[kind.name].to_numpy(float)

        if candidates is None:
            cand = candidate_sites(network, spacing_m=spacing_m, boundary=boundary)
        else:
            cand = _prepare_candidates(candidates, network.crs)
        if demand_candidates:
            extra = _demand_candidates(coverage, kind.name, int(demand_candidates), seed=seed,
                                         network=network)  # fmt: skip
            if len(extra):
                cand = pd.concat([cand, extra[[c for c in extra.columns if c in cand.columns or c == "uncovered"]]])
        if capacity is not None:
            check_in_range(capacity, "capacity", 0.0, 1e9)
            cand[CAPACITY] = cand[CAPACITY].fillna(float(capacity))
        if cand.index.has_duplicates:
            msg = f"candidate ids repeat: {_rows(cand.index[cand.index.duplicated()].unique())}."
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
                f"{_rows(cand.index[~snap.ok])}.",
                UserWarning, stacklevel=2,
            )  # fmt: skip
        cand = cand.assign(node=snap.node, access_m=np.where(snap.ok, snap.access_m, np.nan),
                           snap_ok=snap.ok)  # fmt: skip

        m_per_min = kind.speed_kmh * 1000.0 / 60.0
        cell_snap = cells_on_network(coverage, network)
        cand_node = np.where(snap.ok, snap.node, -1)
        cell_node = np.where(cell_snap.ok, cell_snap.node, -1)
        t1 = time.perf_counter()
        dist = travel_matrix_m(
            network, cand_node, cell_node, limit_m=limit * m_per_min,
            from_offsets_m=np.where(snap.ok, snap.access_m, 0.0),
            to_offsets_m=np.where(cell_snap.ok, cell_snap.access_m, 0.0),
            tile_m=tile_m, progress=progress,
        )  # fmt: skip
        matrix_s = time.perf_counter() - t1
        mins = dist.T.tocsr()
        mins.data /= m_per_min
        mins.sort_indices()
        cover = mins.copy()
        cover.data = (cover.data <= threshold).astype(float)
        cover.eliminate_zeros()

        cols = [kind.target_column] + ([DISTRICT] if DISTRICT in pop.columns else [])
        cells = pop[[*cols, pop.geometry.name]].copy()
        seconds = time.perf_counter() - t0
        params = {
            "kind": kind.name,
            "target_column": kind.target_column,
            "threshold_min": threshold,
            "speed_kmh": kind.speed_kmh,
            "reach_m": kind.reach_m(),
            "limit_min": limit,
            "max_snap_m": float(max_snap_m),
            "spacing_m": float(spacing_m) if candidates is None else None,
            "candidates": "network" if candidates is None else "given",
            "demand_candidates": int(demand_candidates),
            "n_candidates": len(cand),
            "candidates_unsnapped": int((~snap.ok).sum()),
            "n_cells": len(pop),
            "cells_unsnapped": int((~cell_snap.ok).sum()),
            "existing_facilities": len(existing),
            "pairs": int(cover.nnz),
            "pairs_within_limit": int(mins.nnz),
            "network": network.source,
            "matrix_seconds": round(matrix_s, 3),
            "seconds": round(seconds, 3),
        }
        logger.info(
            "siting problem %s: %d cells × %d candidates, %d pairs within %g min (matrix %.2f s, "
            "total %.2f s)", kind.name, len(pop), len(cand), cover.nnz, threshold, matrix_s, seconds,
        )  # fmt: skip
        return cls(
            cover=cover, weights=weights, existing_min=existing_min, threshold_min=threshold,
            limit_min=limit, candidates=cand, cells=cells, minutes=mins, kind=kind,
            coverage=coverage, params=MappingProxyType(params),
        )  # fmt: skip


_demand_candidates = demand_candidates  # from_network has an argument of the same name


def _resolve_kind(kind: FacilityKind | str) -> FacilityKind:
    if isinstance(kind, FacilityKind):
        return kind
    if isinstance(kind, str) and kind in DEFAULT_KINDS:
        return DEFAULT_KINDS[kind]
    msg = f"kind must be a FacilityKind or one of {list(DEFAULT_KINDS)}; got {kind!r}."
    raise ValueError(msg)


# ====================================================================== greedy
def _lazy_greedy(
    csc: sparse.csc_matrix,
    gain_fn: Any,
    initial: np.ndarray,
    commit_fn: Any,
    *,
    k: int | None,
    allowed: np.ndarray | None = None,
    cost: np.ndarray | None = None,
    budget: float | None = None,
    stop: Any = None,
) -> tuple[list[int], list[float]]:
    """Lazy (CELF) greedy: stale gains are upper bounds, so the top one is re-evaluated only.

    ``gain_fn(j)`` is the current gain of column ``j``; ``commit_fn(j)`` applies it. With a
    cost, the key is gain / cost and columns over the remaining budget are skipped.
    """
    m = csc.shape[1]
    cols = np.arange(m) if allowed is None else np.asarray(allowed, np.int64)
    c = np.ones(m) if cost is None else cost
    heap = [(-initial[j] / c[j], int(j)) for j in cols if initial[j] > 0]
    heapq.heapify(heap)
    chosen: list[int] = []
    gains: list[float] = []
    left = np.inf if budget is None else float(budget)
    while heap and (k is None or len(chosen) < k):
        if stop is not None and stop():
            break
        _, j = heapq.heappop(heap)
        if c[j] > left + 1e-9:
            continue
        g = gain_fn(j)
        if g <= 0:
            continue
        key = g / c[j]
        if not heap or key >= -heap[0][0] * (1 - 1e-12):
            chosen.append(j)
            gains.append(float(g))
            commit_fn(j)
            left -= c[j]
        else:
            heapq.heappush(heap, (-key, j))
    return chosen, gains


def _greedy_coverage(
    model: _CoverModel, k: int | None, *, weights: np.ndarray | None = None,
    allowed: np.ndarray | None = None, cost: np.ndarray | None = None, budget: float | None = None,
    target: float | None = None,
) -> tuple[list[int], list[float], np.ndarray]:  # fmt: skip
    """Greedy maximum coverage on the merged rows; returns sites, their gains and the covered mask."""
    csc = model.csc
    w = model.w if weights is None else weights
    covered = np.zeros(len(w), bool)
    done = [0.0]

    def gain(j: int) -> float:
        rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        return float(w[rows][~covered[rows]].sum())

    def commit(j: int) -> None:
        rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        done[0] += float(w[rows][~covered[rows]].sum())
        covered[rows] = True

    def stop() -> bool:
        return target is not None and done[0] >= target - 1e-9

    initial = np.asarray(csc.T @ w).ravel()
    chosen, gains = _lazy_greedy(csc, gain, initial, commit, k=k, allowed=allowed, cost=cost,
                                 budget=budget, stop=stop)  # fmt: skip
    return chosen, gains, covered


def _coverage_upper_bound(model: _CoverModel, covered: np.ndarray, value: float, k: int) -> float:
    """Nemhauser–Wolsey bound: OPT ≤ f(S) + the k largest marginal gains with respect to S."""
    if k <= 0:
        return value
    gains = np.asarray(model.csc.T @ np.where(covered, 0.0, model.w)).ravel()
    top = np.partition(gains, -k)[-k:] if len(gains) > k else gains
    return value + float(top.sum())


# ====================================================================== MIP
@dataclass
class _Mip:
    c: np.ndarray
    a: sparse.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    integer: np.ndarray
    maximize: bool
    abs_gap: float = 1e-6


@dataclass
class _MipOutcome:
    x: np.ndarray | None
    objective: float
    bound: float
    status: str
    solver: str
    seconds: float


def _have_highspy() -> bool:
    try:
        import highspy  # noqa: F401
    except ImportError:
        return False
    return True


def _check_solver(solver: str) -> str:
    if solver not in _SOLVERS:
        msg = f"solver must be one of {list(_SOLVERS)}; got {solver!r}."
        raise ValueError(msg)
    if solver == "auto":
        return "highs" if _have_highspy() else "scipy"
    if solver == "highs" and not _have_highspy():
        msg = "solver='highs' needs the highspy package (pip install highspy); or use solver='scipy'."
        raise ImportError(msg)
    return solver


def _highs_model(mip: _Mip, *, integer: bool, col_lo: np.ndarray, col_hi: np.ndarray) -> Any:
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    csc = mip.a.tocsc()
    csc.sort_indices()
    h.passModel(
        len(mip.c), mip.a.shape[0], int(csc.nnz), 1, -1 if mip.maximize else 1, 0.0,
        mip.c.astype(float), col_lo.astype(float), col_hi.astype(float),
        mip.row_lo.astype(float), mip.row_hi.astype(float),
        csc.indptr.astype(np.int32), csc.indices.astype(np.int32), csc.data.astype(float),
        (mip.integer if integer else np.zeros_like(mip.integer)).astype(np.int32),
    )  # fmt: skip
    return h


def _solve_mip(
    mip: _Mip, *, solver: str, time_limit_s: float, mip_gap: float, seed: int | None,
    start: np.ndarray | None, lp_method: str = "primal", improve: Any = None,
) -> _MipOutcome:  # fmt: skip
    """Solve a MILP; with highspy, the LP relaxation first, then reduced-cost fixing, then B&B.

    HiGHS's dual simplex is slow on the root LP of these covering models, while the primal
    simplex (coverage) or the interior point method (set covering) solves it in a second.
    When the LP optimum is integral it is the proven optimum. Otherwise every 0/1 variable
    whose LP reduced cost shows that flipping it cannot beat the incumbent is fixed (exact:
    the solutions left out are all worse than the incumbent), and HiGHS's branch and bound
    runs on what is left, with the incumbent as its start.
    """
    t0 = time.perf_counter()
    n_col = len(mip.c)
    n_row = mip.a.shape[0]
    if solver == "highs":
        import highspy

        ints = mip.integer.astype(bool)
        col_lo, col_hi = mip.col_lo.astype(float).copy(), mip.col_hi.astype(float).copy()
        sense = 1.0 if mip.maximize else -1.0
        lp_bound = math.inf * sense
        # ---- 1. LP relaxation
        h = _highs_model(mip, integer=False, col_lo=col_lo, col_hi=col_hi)
        h.setOptionValue("time_limit", float(time_limit_s))
        if lp_method == "ipm":
            h.setOptionValue("solver", "ipm")
        else:
            h.setOptionValue("solver", "simplex")
            h.setOptionValue("simplex_strategy", 4 if lp_method == "primal" else 1)
        h.run()
        lp_ok = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        version = h.version()
        fixed = 0
        if lp_ok:
            sol = h.getSolution()
            x_lp = np.asarray(sol.col_value, float)
            d_lp = np.asarray(sol.col_dual, float)
            lp_val = float(h.getInfo().objective_function_value)
            lp_bound = lp_val
            frac = np.abs(x_lp[ints] - np.rint(x_lp[ints])) > 1e-7
            if not frac.any():
                x = x_lp.copy()
                x[ints] = np.rint(x[ints])
                logger.info("LP relaxation is integral: optimum proven at the root (%.2f s)",
                            time.perf_counter() - t0)  # fmt: skip
                return _MipOutcome(x, float(mip.c @ x), lp_val, "optimal",
                                   f"HiGHS {version} (highspy, LP relaxation integral)",
                                   time.perf_counter() - t0)  # fmt: skip
            if improve is not None:
                better = improve(x_lp, np.asarray(sol.row_dual, float))
                if better is not None and (start is None or sense * (mip.c @ better) > sense * (mip.c @ start)):
                    start = better
            if start is not None:
                inc = float(mip.c @ start)
                tol = 1e-9 * max(1.0, abs(inc))
                # objective of any solution with x_j flipped is at most lp_val - |d_j| (max)
                worst = lp_val - sense * np.abs(d_lp)
                if mip.maximize:
                    cannot = worst < inc - tol
                else:
                    need = inc - (mip.abs_gap if mip.abs_gap >= 0.5 else 0.0)
                    cannot = worst > need + tol
                at_lo = np.abs(x_lp - col_lo) <= 1e-9
                at_hi = np.abs(x_lp - col_hi) <= 1e-9
                fix0 = ints & at_lo & cannot & (start <= col_lo + 0.5)
                fix1 = ints & at_hi & cannot & (start >= col_hi - 0.5)
                col_hi[fix0] = col_lo[fix0]
                col_lo[fix1] = col_hi[fix1]
                fixed = int(fix0.sum() + fix1.sum())
            logger.info(
                "LP relaxation %.6g in %.2f s (%d fractional 0/1 variables); reduced costs fix %d "
                "of %d", lp_val, time.perf_counter() - t0, int(frac.sum()), fixed, int(ints.sum()),
            )  # fmt: skip
        # ---- 2. branch and bound on what is left
        left = max(0.1, float(time_limit_s) - (time.perf_counter() - t0))
        h = _highs_model(mip, integer=True, col_lo=col_lo, col_hi=col_hi)
        h.setOptionValue("time_limit", left)
        h.setOptionValue("mip_rel_gap", float(mip_gap))
        h.setOptionValue("mip_abs_gap", float(mip.abs_gap))
        h.setOptionValue("random_seed", int(seed or 0) % 2_147_483_647)
        if start is not None:
            h.setSolution(n_col, np.arange(n_col, dtype=np.int32), start.astype(float))
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
        x = np.asarray(h.getSolution().col_value, float) if has_x else None
        optimal = status == highspy.HighsModelStatus.kOptimal
        if status == highspy.HighsModelStatus.kInfeasible and not fixed:
            label = "infeasible"
        elif optimal:
            label = "optimal"
        elif status in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt,
                        highspy.HighsModelStatus.kInfeasible):  # fmt: skip
            label = "time_limit"
        else:
            label = h.modelStatusToString(status).lower().replace(" ", "_")
        objective = float(info.objective_function_value) if has_x else math.nan
        bound = float(info.mip_dual_bound)
        if start is not None and fixed:
            # solutions removed by fixing are no better than the start
            inc = float(mip.c @ start)
            bound = max(bound, inc) if mip.maximize else min(bound, inc)
            if x is None or sense * objective < sense * inc:
                x, objective = start.astype(float), inc
        if np.isfinite(lp_bound):
            bound = min(bound, lp_bound) if mip.maximize else max(bound, lp_bound)
        if label == "optimal" and fixed:
            label = "optimal"
        name = f"HiGHS {version} (highspy)"
    else:
        import scipy
        from scipy.optimize import Bounds, LinearConstraint, milp

        sign = -1.0 if mip.maximize else 1.0
        res = milp(
            sign * mip.c, integrality=mip.integer.astype(np.int8),
            bounds=Bounds(mip.col_lo, mip.col_hi),
            constraints=LinearConstraint(mip.a, mip.row_lo, mip.row_hi) if n_row else None,
            options={"disp": False, "time_limit": float(time_limit_s), "mip_rel_gap": float(mip_gap)},
        )  # fmt: skip
        x = None if res.x is None else np.asarray(res.x, float)
        objective = math.nan if x is None else float(mip.c @ x)
        dual = getattr(res, "mip_dual_bound", None)
        bound = math.nan if dual is None else sign * float(dual)
        label = {0: "optimal", 1: "time_limit", 2: "infeasible"}.get(res.status, "error")
        name = f"HiGHS via scipy {scipy.__version__} (scipy.optimize.milp)"
    return _MipOutcome(x, objective, bound, label, name, time.perf_counter() - t0)


def _rel_gap(objective: float, bound: float, *, maximize: bool) -> float:
    if not (np.isfinite(objective) and np.isfinite(bound)):
        return math.nan
    diff = max(0.0, (bound - objective) if maximize else (objective - bound))
    if objective == 0:
        return 0.0 if diff <= 1e-9 else math.inf
    return diff / abs(objective)


def _dominated(a: sparse.csr_matrix, cost: np.ndarray | None) -> np.ndarray:
    """Columns whose row set lies inside another column's (that costs no more): never needed."""
    csc = a.tocsc()
    size = np.diff(csc.indptr)
    b = csc.copy()
    b.data[:] = 1.0
    overlap = (b.T @ b).tocoo()
    j, jj, both = overlap.row, overlap.col, overlap.data
    c = np.zeros(len(size)) if cost is None else cost
    inside = (j != jj) & (np.rint(both).astype(np.int64) == size[j]) & (size[j] > 0)
    same = size[jj] == size[j]
    better = np.where(same, (c[jj] < c[j]) | ((c[jj] == c[j]) & (jj < j)), c[jj] <= c[j])
    out = np.zeros(len(size), bool)
    out[j[inside & better]] = True
    out[size == 0] = True
    return out


def _redundant_rows(a: sparse.csr_matrix) -> np.ndarray:
    """Covering rows implied by another: a row whose column set contains another row's set."""
    b = a.copy()
    b.data[:] = 1.0
    size = np.diff(b.indptr)
    ov = (b @ b.T).tocoo()
    i, ii = ov.row, ov.col
    both = np.rint(ov.data).astype(np.int64)
    red = (i != ii) & (both == size[ii]) & ((size[i] > size[ii]) | ((size[i] == size[ii]) & (ii < i)))
    out = np.zeros(a.shape[0], bool)
    out[i[red]] = True
    return out


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
            "covered_before": self.covered_before,
            "covered_after": self.covered_after,
            "total": self.total,
            "share_before": self.share_before,
            "share_after": self.share_after,
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
            {KIND: name, NAME: [f"new site {r}" for r in s["rank"]], CAPACITY: s[CAPACITY].to_numpy()},
            index=pd.Index([f"new-{c}" for c in s["candidate_id"]], name="facility_id"),
            geometry=s.geometry.to_numpy(), crs=s.crs,
        )  # fmt: skip
        return out


def _cells_after(problem: SitingProblem, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _by_district(problem: SitingProblem, covered_after: np.ndarray, chosen: np.ndarray) -> pd.DataFrame:
    w = problem.weights
    before = problem.existing_covered
    if DISTRICT in problem.cells.columns:
        label = problem.cells[DISTRICT].astype(str).to_numpy()
    else:
        label = np.full(problem.n_cells, ALL, dtype=object)
    frame = pd.DataFrame({DISTRICT: label, "total": w, "covered_before": np.where(before, w, 0.0),
                          "covered_after": np.where(covered_after, w, 0.0)})  # fmt: skip
    site_district = None
    if DISTRICT in problem.cells.columns and len(chosen):
        # a site belongs to the district of the cell nearest to it, when geometry is known
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


def _build_order_coverage(problem: SitingProblem, chosen: Sequence[int]) -> tuple[list[int], list[float]]:
    """Order chosen sites so that each adds the most newly covered people given the earlier ones."""
    model = problem._cover_model
    order, gains, _ = _greedy_coverage(model, None, allowed=np.asarray(chosen, np.int64))
    rest = [j for j in chosen if j not in set(order)]  # sites that add nobody (kept, gain 0)
    return order + rest, gains + [0.0] * len(rest)


def _make_result(
    problem: SitingProblem, model_name: str, order: Sequence[int], gains: Sequence[float], *,
    objective: float, bound: float, gap: float, status: str, solver: str, seconds: float,
    greedy_objective: float, params: dict[str, Any], extra_columns: Mapping[str, Sequence[float]] | None = None,
) -> SitingResult:  # fmt: skip
    order_arr = np.asarray(order, np.int64)
    covered, mb, ma = _cells_after(problem, order_arr)
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
    data: dict[str, Any] = {
        "rank": np.arange(1, len(cand) + 1),
        "candidate_id": cand.index.to_numpy(),
        "gain": gains_arr,
        "cumulative": cumulative,
        "covered": before + cumulative,
        "share": (before + cumulative) / total if total > 0 else np.full(len(cand), np.nan),
    }
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
        covered_after=after, total=total, coverage_after=_by_district(problem, covered, order_arr),
        cells=cells, greedy_objective=float(greedy_objective), params=MappingProxyType(full),
    )  # fmt: skip


def _check_common(time_limit_s: float, mip_gap: float) -> None:
    check_in_range(time_limit_s, "time_limit_s", 0.0, 1e7)
    check_in_range(mip_gap, "mip_gap", 0.0, 1.0)


def _check_k(problem: SitingProblem, k: int) -> int:
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


# ====================================================================== MCLP
def solve_mclp(
    problem: SitingProblem,
    k: int,
    *,
    budget: float | None = None,
    capacitated: bool = False,
    people_per_unit: float = 1.0,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
    solver: str = "auto",
    seed: int | None = None,
) -> SitingResult:
    """Maximal covering: ``k`` new sites that cover the most target people not yet covered.

    Existing facilities are fixed and the people they cover do not count again, so the
    objective (and the gap) is the newly covered population. A lazy greedy gives a start;
    HiGHS then proves the optimum within ``mip_gap`` (relative, on the newly covered
    people) or stops at ``time_limit_s`` with the bound it proved.

    Parameters
    ----------
    problem
        The siting problem.
    k
        Number of new sites.
    budget
        Optional limit on the total ``cost`` of the new sites.
    capacitated
        Each new site serves at most ``capacity × people_per_unit`` people (the
        candidates' ``capacity``, in the kind's unit); the objective becomes newly
        *served* people. Every candidate needs a capacity.
    people_per_unit
        People served per unit of capacity (1 bed = 1 person by default).
    time_limit_s
        Time limit of the MILP, in seconds.
    mip_gap
        Stop when the relative gap on the newly covered people is at most this (0: prove
        the optimum).
    solver
        ``"auto"`` (highspy if installed, else scipy), ``"highs"``, ``"scipy"`` or
        ``"greedy"`` (greedy only, with its bound).
    seed
        Seed of the MILP solver's random choices.

    Returns
    -------
    SitingResult

    Examples
    --------
    >>> p = SitingProblem.from_coverage_matrix([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]],
    ...                                        [10, 10, 10, 25])
    >>> r = solve_mclp(p, 2)
    >>> r.sites["candidate_id"].tolist(), r.objective, r.status
    (['2', '0'], 55.0, 'optimal')
    """
    k = _check_k(problem, k)
    _check_common(time_limit_s, mip_gap)
    solver = _check_solver(solver)
    if budget is not None:
        check_in_range(budget, "budget", 0.0, 1e15)
    if capacitated:
        return _solve_cmclp(problem, k, budget=budget, people_per_unit=people_per_unit,
                            time_limit_s=time_limit_s, mip_gap=mip_gap, solver=solver, seed=seed)  # fmt: skip
    t0 = time.perf_counter()
    model = problem._cover_model
    cost = problem.candidates[COST].to_numpy(float)
    use_cost = cost if budget is not None else None
    g_sites, g_gains, g_cov = _greedy_coverage(model, k, cost=use_cost, budget=budget)
    g_obj = float(sum(g_gains))
    greedy_s = time.perf_counter() - t0
    logger.info("mclp greedy: %d sites cover %.6g new people in %.3f s", len(g_sites), g_obj, greedy_s)
    base = {"k": k, "budget": budget, "mip_gap": mip_gap, "time_limit_s": time_limit_s, "seed": seed,
            "objective_is": "newly covered target people", "greedy_seconds": round(greedy_s, 4),
            "demand_rows": int(model.a.shape[0]), "coverable": float(model.w.sum())}  # fmt: skip
    bound_g = min(_coverage_upper_bound(model, g_cov, g_obj, k), float(model.w.sum()))
    if budget is None and g_obj > 0:
        bound_g = min(bound_g, g_obj / (1 - (1 - 1 / k) ** k))

    if solver == "greedy" or model.a.shape[0] == 0 or g_obj >= float(model.w.sum()) - 1e-9:
        done = g_obj >= float(model.w.sum()) - 1e-9
        order, gains = _build_order_coverage(problem, g_sites)
        return _make_result(
            problem, "mclp", order, gains, objective=g_obj, bound=g_obj if done else bound_g,
            gap=0.0 if done else _rel_gap(g_obj, bound_g, maximize=True),
            status="optimal" if done else "greedy", solver="lazy greedy" if not done else "lazy greedy (covers all)",
            seconds=time.perf_counter() - t0, greedy_objective=g_obj, params=base,
        )  # fmt: skip

    # ---- reduce: drop dominated columns, re-merge rows, singletons into the objective
    a = model.a
    dom = _dominated(a, use_cost)
    keep_cols = np.flatnonzero(~dom)
    a_red = a[:, keep_cols]
    a_red, w_red, _ = _merge_rows(a_red.tocsr(), model.w)
    deg = np.diff(a_red.indptr)
    single = deg == 1
    multi = np.flatnonzero(deg > 1)
    m_red = len(keep_cols)
    c_x = np.bincount(a_red.indices[a_red.indptr[:-1][single]], weights=w_red[single], minlength=m_red)
    a_multi = a_red[multi]
    n_y = len(multi)
    # rows: y_g - sum x_j <= 0 (n_y), sum x <= k, [sum cost x <= budget]
    blocks = [sparse.hstack([-a_multi, sparse.identity(n_y, format="csr")], format="csr"),
              sparse.csr_matrix(np.concatenate([np.ones(m_red), np.zeros(n_y)])[None, :])]  # fmt: skip
    lo = [np.full(n_y, -np.inf), [-np.inf]]
    hi = [np.zeros(n_y), [float(k)]]
    if budget is not None:
        blocks.append(sparse.csr_matrix(np.concatenate([cost[keep_cols], np.zeros(n_y)])[None, :]))
        lo.append([-np.inf])
        hi.append([float(budget)])
    mip = _Mip(
        c=np.concatenate([c_x, w_red[multi]]), a=sparse.vstack(blocks, format="csr"),
        row_lo=np.concatenate(lo), row_hi=np.concatenate(hi),
        col_lo=np.zeros(m_red + n_y), col_hi=np.ones(m_red + n_y),
        integer=np.concatenate([np.ones(m_red), np.zeros(n_y)]), maximize=True,
    )  # fmt: skip
    # warm start: the greedy's sites, each dominated one replaced by a column that dominates it
    start = _start_from_sites(g_sites, keep_cols, dom, a, use_cost)
    x0 = np.zeros(m_red + n_y)
    x0[:m_red] = start
    x0[m_red:] = (a_multi @ start > 0.5).astype(float)
    logger.info(
        "mclp MILP: %d sites (%d dominated dropped), %d demand rows (%d folded into site "
        "weights), %d non-zeros", m_red, int(dom.sum()), len(w_red), int(single.sum()), mip.a.nnz,
    )  # fmt: skip
    def improve(x_lp: np.ndarray, _duals: np.ndarray) -> np.ndarray | None:
        # round the LP: its k largest site values (the budget model keeps the greedy start)
        if budget is not None:
            return None
        xs = np.zeros(m_red)
        xs[np.argsort(-x_lp[:m_red], kind="stable")[:k]] = 1.0
        return np.concatenate([xs, (a_multi @ xs > 0.5).astype(float)])

    out = _solve_mip(mip, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, seed=seed,
                     start=x0 if solver == "highs" else None, improve=improve)  # fmt: skip
    chosen, obj, used_greedy = g_sites, g_obj, True
    if out.x is not None:
        sel = keep_cols[np.flatnonzero(out.x[:m_red] > 0.5)]
        val = float(model.w[np.asarray(model.a[:, sel].sum(axis=1)).ravel() > 0].sum())
        if val >= g_obj - 1e-9:
            chosen, obj, used_greedy = list(sel), val, False
    bound = out.bound if np.isfinite(out.bound) else bound_g
    bound = max(min(bound, bound_g), obj)
    status = out.status if out.status in ("optimal", "time_limit") else "time_limit"
    gap = _rel_gap(obj, bound, maximize=True)
    if status == "optimal" and gap > max(mip_gap, 1e-6):
        status = "time_limit"
    order, gains = _build_order_coverage(problem, chosen)
    order, gains = _drop_useless(order, gains, "mclp")
    return _make_result(
        problem, "mclp", order, gains, objective=obj, bound=bound, gap=gap, status=status,
        solver=out.solver + (" (greedy start kept)" if used_greedy else ""),
        seconds=time.perf_counter() - t0, greedy_objective=g_obj,
        params={**base, "mip_seconds": round(out.seconds, 3), "mip_status": out.status,
                "dominated_sites": int(dom.sum()), "mip_rows": int(mip.a.shape[0]),
                "mip_columns": len(mip.c), "mip_nonzeros": int(mip.a.nnz)},
    )  # fmt: skip


def _start_from_sites(
    sites: Sequence[int], keep_cols: np.ndarray, dom: np.ndarray, a: sparse.csr_matrix,
    cost: np.ndarray | None,
) -> np.ndarray:  # fmt: skip
    """0/1 over the kept columns: each greedy site, or a kept column that covers all its rows."""
    pos = np.full(a.shape[1], -1, np.int64)
    pos[keep_cols] = np.arange(len(keep_cols))
    x = np.zeros(len(keep_cols))
    csc = a.tocsc()
    kept = a[:, keep_cols].tocsr()
    for j in sites:
        if not dom[j]:
            x[pos[j]] = 1.0
            continue
        rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        if len(rows) == 0:
            continue
        hits = np.asarray(kept[rows].sum(axis=0)).ravel()
        cands = np.flatnonzero(hits == len(rows))
        if cost is not None:
            cands = cands[cost[keep_cols[cands]] <= cost[j] + 1e-12]
        free = cands[x[cands] == 0]
        if len(free):
            x[free[0]] = 1.0
        elif len(cands) == 0:  # should not happen; fall back to nothing for this site
            logger.debug("no dominating column found for site %d", j)
    return x


def _drop_useless(order: list[int], gains: list[float], model: str) -> tuple[list[int], list[float]]:
    keep = [i for i, g in enumerate(gains) if g > 1e-9]
    if len(keep) < len(order):
        logger.info("%s: %d chosen sites add nobody and are left out", model, len(order) - len(keep))
    return [order[i] for i in keep], [gains[i] for i in keep]


# ---------------------------------------------------------------------- capacitated MCLP
def _solve_cmclp(
    problem: SitingProblem, k: int, *, budget: float | None, people_per_unit: float,
    time_limit_s: float, mip_gap: float, solver: str, seed: int | None,
) -> SitingResult:  # fmt: skip
    check_in_range(people_per_unit, "people_per_unit", 1e-9, 1e9)
    cap_units = problem.candidates[CAPACITY].to_numpy(float)
    missing = np.isnan(cap_units)
    if missing.any():
        msg = (
            f"the capacitated model needs a capacity for every candidate; "
            f"{int(missing.sum())} have none: {_rows(problem.candidates.index[missing])}. Give a "
            "capacity column, or capacity=... for all candidates without one."
        )
        raise InputError(msg)
    cap = cap_units * float(people_per_unit)
    t0 = time.perf_counter()
    model = problem._cover_model
    a = model.a
    csc = model.csc
    g_n, m = a.shape
    cost = problem.candidates[COST].to_numpy(float)
    use_cost = cost if budget is not None else None
    remaining = model.w.copy()
    deg = np.diff(a.indptr).astype(float)

    def gain(j: int) -> float:
        rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        return float(min(cap[j], remaining[rows].sum()))

    def commit(j: int) -> None:
        rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        left = cap[j]
        for r in rows[np.argsort(deg[rows], kind="stable")]:  # people with fewest options first
            take = min(left, remaining[r])
            remaining[r] -= take
            left -= take
            if left <= 0:
                break

    initial = np.minimum(cap, np.asarray(csc.T @ model.w).ravel())
    g_sites, _ = _lazy_greedy(csc, gain, initial, commit, k=k, cost=use_cost, budget=budget)
    g_obj, g_served = _allocate(a, model.w, cap, np.asarray(g_sites, np.int64), solver)
    greedy_s = time.perf_counter() - t0
    base = {"k": k, "budget": budget, "mip_gap": mip_gap, "time_limit_s": time_limit_s, "seed": seed,
            "people_per_unit": people_per_unit, "capacity_unit": problem.kind.capacity_unit if problem.kind else None,
            "objective_is": "newly served target people (within reach and capacity)",
            "greedy_seconds": round(greedy_s, 4), "demand_rows": int(g_n)}  # fmt: skip

    chosen, served, obj, bound, status, name, extra = list(g_sites), g_served, g_obj, math.nan, "greedy", "lazy greedy", {}
    if solver != "greedy" and g_n > 0:
        # x_j (m), z_e per pair e=(g,j) (nnz); rows: sum_j z_gj <= w_g; sum_g z_gj - cap_j x_j <= 0;
        # z_gj - min(w_g, cap_j) x_j <= 0; sum x <= k; [sum cost x <= budget]
        coo = a.tocoo()
        nnz = coo.nnz
        e = np.arange(nnz)
        zcol = m + e
        r_dem = sparse.csr_matrix((np.ones(nnz), (coo.row, zcol)), shape=(g_n, m + nnz))
        r_cap = sparse.csr_matrix(
            (np.concatenate([np.ones(nnz), -cap]), (np.concatenate([coo.col, np.arange(m)]),
                                                     np.concatenate([zcol, np.arange(m)]))),
            shape=(m, m + nnz),
        )  # fmt: skip
        vub = np.minimum(model.w[coo.row], cap[coo.col])
        r_vub = sparse.csr_matrix((np.concatenate([np.ones(nnz), -vub]),
                                   (np.concatenate([e, e]), np.concatenate([zcol, coo.col]))),
                                  shape=(nnz, m + nnz))  # fmt: skip
        blocks = [r_dem, r_cap, r_vub, sparse.csr_matrix(np.concatenate([np.ones(m), np.zeros(nnz)])[None, :])]
        hi = [model.w, np.zeros(m), np.zeros(nnz), [float(k)]]
        if budget is not None:
            blocks.append(sparse.csr_matrix(np.concatenate([cost, np.zeros(nnz)])[None, :]))
            hi.append([float(budget)])
        a_all = sparse.vstack(blocks, format="csr")
        mip = _Mip(
            c=np.concatenate([np.zeros(m), np.ones(nnz)]), a=a_all,
            row_lo=np.full(a_all.shape[0], -np.inf), row_hi=np.concatenate(hi),
            col_lo=np.zeros(m + nnz), col_hi=np.concatenate([np.ones(m), np.full(nnz, np.inf)]),
            integer=np.concatenate([np.ones(m), np.zeros(nnz)]), maximize=True,
        )  # fmt: skip
        x0 = None
        if solver == "highs":
            _, z0 = _allocate(a, model.w, cap, np.asarray(g_sites, np.int64), solver, return_flows=True)
            x0 = np.zeros(m + nnz)
            x0[np.asarray(g_sites, np.int64)] = 1.0
            x0[m:] = z0
        out = _solve_mip(mip, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, seed=seed, start=x0)
        if out.x is not None and out.objective >= g_obj - 1e-9:
            sel = np.flatnonzero(out.x[:m] > 0.5)
            flows = out.x[m:]
            per_site = np.bincount(coo.col, weights=flows, minlength=m)
            chosen, served, obj = list(sel), per_site[sel], float(flows.sum())
        bound = max(out.bound, obj) if np.isfinite(out.bound) else math.nan
        status = out.status if out.status in ("optimal", "time_limit") else "time_limit"
        name = out.solver
        extra = {"mip_seconds": round(out.seconds, 3), "mip_status": out.status,
                 "mip_rows": int(a_all.shape[0]), "mip_columns": m + nnz}  # fmt: skip
    elif g_n == 0:
        bound, status = 0.0, "optimal"
    gap = _rel_gap(obj, bound, maximize=True)
    if status == "optimal" and np.isfinite(gap) and gap > max(mip_gap, 1e-6):
        status = "time_limit"
    served = np.asarray(served, float)
    idx = np.argsort(-served, kind="stable")
    order = [int(chosen[i]) for i in idx if served[i] > 1e-9]
    served_sorted = [float(served[i]) for i in idx if served[i] > 1e-9]
    # newly covered (within reach) in the same order, for the table
    covered = np.zeros(g_n, bool)
    reach = []
    for j in order:
        rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        reach.append(float(model.w[rows][~covered[rows]].sum()))
        covered[rows] = True
    return _make_result(
        problem, "cmclp", order, served_sorted, objective=obj, bound=bound, gap=gap, status=status,
        solver=name, seconds=time.perf_counter() - t0, greedy_objective=g_obj,
        params={**base, **extra}, extra_columns={"served": served_sorted, "reach_gain": reach},
    )  # fmt: skip


def _allocate(
    a: sparse.csr_matrix, w: np.ndarray, cap: np.ndarray, sites: np.ndarray, solver: str,
    *, return_flows: bool = False,
) -> Any:  # fmt: skip
    """Best assignment of people to a fixed set of sites within reach and capacity (an LP)."""
    coo = a.tocoo()
    nnz = coo.nnz
    open_ = np.zeros(a.shape[1], bool)
    open_[sites] = True
    usable = open_[coo.col]
    flows = np.zeros(nnz)
    if len(sites) == 0 or not usable.any():
        res: Any = (0.0, np.zeros(len(sites)))
        return (*res[:1], flows) if return_flows else res
    e = np.flatnonzero(usable)
    rows, cols = coo.row[e], coo.col[e]
    ur, rpos = np.unique(rows, return_inverse=True)
    uc, cpos = np.unique(cols, return_inverse=True)
    ne = len(e)
    a_lp = sparse.vstack([
        sparse.csr_matrix((np.ones(ne), (rpos, np.arange(ne))), shape=(len(ur), ne)),
        sparse.csr_matrix((np.ones(ne), (cpos, np.arange(ne))), shape=(len(uc), ne)),
    ], format="csr")  # fmt: skip
    lp = _Mip(c=np.ones(ne), a=a_lp, row_lo=np.full(a_lp.shape[0], -np.inf),
              row_hi=np.concatenate([w[ur], cap[uc]]), col_lo=np.zeros(ne), col_hi=np.full(ne, np.inf),
              integer=np.zeros(ne), maximize=True)  # fmt: skip
    out = _solve_mip(lp, solver="highs" if solver == "highs" else "scipy", time_limit_s=1e6,
                     mip_gap=0.0, seed=0, start=None)  # fmt: skip
    if out.x is None:
        msg = f"the allocation LP ended with status {out.status}."
        raise SolverError(msg)
    flows[e] = out.x
    per_site = np.bincount(coo.col, weights=flows, minlength=a.shape[1])[sites]
    if return_flows:
        return float(flows.sum()), flows
    return float(flows.sum()), per_site


# ====================================================================== LSCP
def solve_lscp(
    problem: SitingProblem,
    *,
    share: float | None = None,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
    solver: str = "auto",
    seed: int | None = None,
) -> SitingResult:
    """Set covering: the fewest new sites (or the cheapest, given costs) for a coverage goal.

    Parameters
    ----------
    problem
        The siting problem.
    share
        None: cover every person that some candidate can reach. A number in (0, 1]:
        reach this share of the whole target population covered (existing facilities
        included).
    time_limit_s
        Time limit of the MILP, in seconds.
    mip_gap
        Relative gap at which to stop (0: prove the optimum).
    solver
        ``"auto"``, ``"highs"``, ``"scipy"`` or ``"greedy"``.
    seed
        Seed of the MILP solver's random choices.

    Returns
    -------
    SitingResult
        ``objective`` is the number of sites (the total cost when costs differ).

    Examples
    --------
    >>> p = SitingProblem.from_coverage_matrix([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]],
    ...                                        [10, 10, 10, 25])
    >>> solve_lscp(p).objective
    2.0
    """
    _check_common(time_limit_s, mip_gap)
    solver = _check_solver(solver)
    t0 = time.perf_counter()
    model = problem._cover_model
    cost = problem.candidates[COST].to_numpy(float)
    unit = bool(np.all(cost == 1.0))
    integral = bool(np.all(np.abs(cost - np.rint(cost)) < 1e-9))
    coverable = float(model.w.sum())
    before = problem.covered_population
    total = problem.total_population
    if share is None:
        need = coverable
        goal = "every coverable person"
    else:
        check_in_range(share, "share", 0.0, 1.0)
        need = share * total - before
        goal = f"{share:.1%} of the target population"
        best = (before + coverable) / total if total > 0 else 0.0
        if need > coverable + 1e-6 * max(1.0, total):
            msg = (
                f"a coverage of {share:.1%} cannot be reached: the existing facilities cover "
                f"{before / total:.1%} and all candidates together reach at most {best:.1%}. Lower "
                "the share, or add candidates."
            )
            raise SolverError(msg)
        need = min(max(need, 0.0), coverable)
    base = {"share": share, "goal": goal, "mip_gap": mip_gap, "time_limit_s": time_limit_s, "seed": seed,
            "objective_is": "number of new sites" if unit else "total cost of new sites",
            "needed_new": need, "demand_rows": int(model.a.shape[0])}  # fmt: skip
    if need <= 1e-9:
        return _make_result(problem, "lscp", [], [], objective=0.0, bound=0.0, gap=0.0, status="optimal",
                            solver="none (goal already met)", seconds=time.perf_counter() - t0,
                            greedy_objective=0.0, params=base)  # fmt: skip
    full = share is None
    weights = np.ones(len(model.w)) if full else model.w
    g_sites, _, _ = _greedy_coverage(model, None, weights=weights, cost=cost,
                                     target=None if full else need)  # fmt: skip
    g_sites = _remove_redundant(model, g_sites, need, full=full)
    g_obj = float(cost[g_sites].sum())
    base["greedy_seconds"] = round(time.perf_counter() - t0, 4)
    logger.info("lscp greedy: %d sites in %.3f s", len(g_sites), time.perf_counter() - t0)
    chosen, obj, bound, status, name, extra = g_sites, g_obj, math.nan, "greedy", "lazy greedy", {}
    if solver != "greedy":
        a = model.a
        if full:
            dom = _dominated(a, cost)
            keep = np.flatnonzero(~dom)
            a_red = a[:, keep].tocsr()
            a_red = a_red[np.flatnonzero(~_redundant_rows(a_red))]
            mip = _Mip(c=cost[keep], a=a_red, row_lo=np.ones(a_red.shape[0]),
                       row_hi=np.full(a_red.shape[0], np.inf), col_lo=np.zeros(len(keep)),
                       col_hi=np.ones(len(keep)), integer=np.ones(len(keep)), maximize=False,
                       abs_gap=1 - 1e-6 if integral else 1e-6)  # fmt: skip
            x0 = _start_from_sites(g_sites, keep, dom, a, cost)
            if a_red[:, np.flatnonzero(x0 > 0.5)].sum(axis=1).min() < 1:  # start not covering
                x0 = None
            red = _CoverModel(a_red, np.ones(a_red.shape[0]), np.zeros(0, np.int64))
            c_red = cost[keep]

            def improve(x_lp: np.ndarray, duals: np.ndarray) -> np.ndarray:
                # Chvátal's greedy with the LP duals as row prices, and an LP dive; the cheaper
                price = np.abs(duals) + 1e-6
                sites, _, _ = _greedy_coverage(red, None, weights=price, cost=c_red)
                sites = _remove_redundant(red, sites, float(red.w.sum()), full=True)
                dived = _lp_dive(red, c_red, x_lp, deadline=time.perf_counter() + 0.6 * time_limit_s)
                logger.info("lscp: LP-dual greedy finds %d sites, LP dive %d", len(sites), len(dived))
                if c_red[dived].sum() < c_red[sites].sum():
                    sites = dived
                x = np.zeros(len(keep))
                x[sites] = 1.0
                return x
        else:
            dom = _dominated(a, cost)
            keep = np.flatnonzero(~dom)
            a_red, w_red, _ = _merge_rows(a[:, keep].tocsr(), model.w)
            deg = np.diff(a_red.indptr)
            single = deg == 1
            multi = np.flatnonzero(deg > 1)
            mk, n_y = len(keep), len(multi)
            cov_x = np.bincount(a_red.indices[a_red.indptr[:-1][single]], weights=w_red[single], minlength=mk)
            a_multi = a_red[multi]
            a_all = sparse.vstack([
                sparse.hstack([-a_multi, sparse.identity(n_y, format="csr")], format="csr"),
                sparse.csr_matrix(np.concatenate([cov_x, w_red[multi]])[None, :]),
            ], format="csr")  # fmt: skip
            mip = _Mip(
                c=np.concatenate([cost[keep], np.zeros(n_y)]), a=a_all,
                row_lo=np.concatenate([np.full(n_y, -np.inf), [need * (1 - 1e-12)]]),
                row_hi=np.concatenate([np.zeros(n_y), [np.inf]]),
                col_lo=np.zeros(mk + n_y), col_hi=np.ones(mk + n_y),
                integer=np.concatenate([np.ones(mk), np.zeros(n_y)]), maximize=False,
                abs_gap=1 - 1e-6 if integral else 1e-6,
            )  # fmt: skip
            xs = _start_from_sites(g_sites, keep, dom, a, cost)
            x0 = np.concatenate([xs, (a_multi @ xs > 0.5).astype(float)])
            improve = None
        out = _solve_mip(mip, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, seed=seed,
                         start=x0 if solver == "highs" else None, lp_method="ipm",
                         improve=improve)  # fmt: skip
        if out.status == "infeasible":
            msg = "the set-covering model is infeasible (this should not happen: please report it)."
            raise SolverError(msg)
        if out.x is not None:
            sel = keep[np.flatnonzero(out.x[: len(keep)] > 0.5)]
            if float(cost[sel].sum()) <= g_obj + 1e-9 and _meets(model, sel, need, full=full):
                chosen, obj = list(sel), float(cost[sel].sum())
        bound = out.bound
        if np.isfinite(bound) and integral:
            bound = math.ceil(bound - 1e-6)
        bound = min(bound, obj) if np.isfinite(bound) else math.nan
        status = out.status if out.status in ("optimal", "time_limit") else "time_limit"
        name = out.solver
        extra = {"mip_seconds": round(out.seconds, 3), "mip_status": out.status,
                 "dominated_sites": int(dom.sum()), "mip_rows": int(mip.a.shape[0]),
                 "mip_columns": len(mip.c)}  # fmt: skip
    gap = _rel_gap(obj, bound, maximize=False)
    if status == "optimal" and np.isfinite(gap) and gap > max(mip_gap, 1e-6):
        status = "time_limit"
    order, gains = _build_order_coverage(problem, chosen)
    return _make_result(
        problem, "lscp", order, gains, objective=obj, bound=bound, gap=gap, status=status, solver=name,
        seconds=time.perf_counter() - t0, greedy_objective=g_obj, params={**base, **extra},
    )  # fmt: skip


def _lp_dive(model: _CoverModel, cost: np.ndarray, x_lp: np.ndarray, *, deadline: float) -> list[int]:
    """Set-cover sites by LP diving: take the sites the LP sets near 1 (or its largest few),
    drop the rows they cover, solve the LP again on the rest; greedy once past ``deadline``.
    """
    a = model.a.tocsr()
    rows = np.arange(a.shape[0])
    cols = np.arange(a.shape[1])
    chosen: list[int] = []
    x = x_lp
    while len(rows):
        pick = np.flatnonzero(x >= 0.9)
        if len(pick) == 0:
            order = np.argsort(-x, kind="stable")
            pick = order[: max(1, int(0.05 * (x > 1e-6).sum()))]
        chosen.extend(int(c) for c in cols[pick])
        sub = a[rows][:, cols]
        covered = np.asarray(sub[:, pick].sum(axis=1)).ravel() > 0
        rows = rows[~covered]
        if not len(rows):
            break
        sub = a[rows].tocsc()
        cols = np.flatnonzero(np.diff(sub.indptr) > 0)
        sub = sub[:, cols].tocsr()
        if time.perf_counter() > deadline:  # out of time: finish greedily
            rest = _CoverModel(sub, np.ones(len(rows)), np.zeros(0, np.int64))
            more, _, _ = _greedy_coverage(rest, None, cost=cost[cols])
            chosen.extend(int(c) for c in cols[more])
            break
        lp = _Mip(c=cost[cols], a=sub, row_lo=np.ones(len(rows)), row_hi=np.full(len(rows), np.inf),
                  col_lo=np.zeros(len(cols)), col_hi=np.ones(len(cols)), integer=np.zeros(len(cols)),
                  maximize=False)  # fmt: skip
        h = _highs_model(lp, integer=False, col_lo=lp.col_lo, col_hi=lp.col_hi)
        h.setOptionValue("solver", "ipm")
        h.setOptionValue("time_limit", max(0.1, deadline - time.perf_counter()))
        h.run()
        x = np.asarray(h.getSolution().col_value, float)
        if len(x) != len(cols) or not np.isfinite(x).all():
            x = np.zeros(len(cols))
    return _remove_redundant(model, chosen, float(model.w.sum()), full=True)


def _meets(model: _CoverModel, sites: Sequence[int], need: float, *, full: bool) -> bool:
    hit = np.asarray(model.a[:, np.asarray(sites, np.int64)].sum(axis=1)).ravel() > 0
    if full:
        return bool(hit.all())
    return float(model.w[hit].sum()) >= need - 1e-6 * max(1.0, need)


def _remove_redundant(model: _CoverModel, sites: list[int], need: float, *, full: bool) -> list[int]:
    """Drop greedy sites (last chosen first) whose removal still meets the goal."""
    csc = model.csc
    count = np.zeros(model.a.shape[0], np.int64)
    for j in sites:
        count[csc.indices[csc.indptr[j]:csc.indptr[j + 1]]] += 1
    covered = float(model.w[count > 0].sum())
    kept = list(sites)
    for j in reversed(sites):
        rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        only = rows[count[rows] == 1]
        loss = float(model.w[only].sum())
        ok = len(only) == 0 if full else covered - loss >= need - 1e-6 * max(1.0, need)
        if ok:
            count[rows] -= 1
            covered -= loss
            kept.remove(j)
    return kept


# ====================================================================== p-median
def solve_p_median(
    problem: SitingProblem,
    k: int,
    *,
    time_limit_s: float = 60.0,
    mip_gap: float = 0.0,
    solver: str = "auto",
    seed: int | None = None,
) -> SitingResult:
    """p-median: ``k`` new sites that minimise the population-weighted walking time.

    Everyone walks to the nearest facility, existing or new. Walks longer than the
    problem's ``limit_min`` (and people out of reach) count at ``limit_min``: build the
    problem with a larger ``max_minutes`` to tell far from very far. The objective is the
    person-minutes saved by the new sites (so the gap is measured on what they add).

    Parameters
    ----------
    problem
        The siting problem; it needs walking minutes (``from_network``, or ``minutes=``).
    k
        Number of new sites.
    time_limit_s
        Time limit of the MILP, in seconds.
    mip_gap
        Relative gap on the minutes saved at which to stop (0: prove the optimum).
    solver
        ``"auto"``, ``"highs"``, ``"scipy"`` or ``"greedy"``.
    seed
        Seed of the MILP solver's random choices.

    Returns
    -------
    SitingResult
        ``objective`` is person-minutes saved; ``params`` has the mean minutes before
        and after (``mean_minutes_before`` / ``mean_minutes_after``).

    Examples
    --------
    >>> p = SitingProblem.from_coverage_matrix(
    ...     [[1, 0], [1, 1], [0, 1]], [10, 10, 10], threshold_min=15, limit_min=20,
    ...     minutes=[[2, np.inf], [8, 9], [np.inf, 4]])
    >>> r = solve_p_median(p, 1)
    >>> r.sites["candidate_id"].tolist(), r.objective
    (['0'], 300.0)
    """
    k = _check_k(problem, k)
    _check_common(time_limit_s, mip_gap)
    solver = _check_solver(solver)
    if problem.minutes is None:
        msg = "the p-median needs walking minutes; build the problem with minutes (from_network does)."
        raise ValueError(msg)
    t0 = time.perf_counter()
    limit = problem.limit_min
    fallback = np.minimum(problem.existing_min, limit)
    mins = problem.minutes.tocoo()
    w = problem.weights
    save = w[mins.row] * (fallback[mins.row] - mins.data)
    keep = save > 1e-12
    rows, cols, save = mins.row[keep], mins.col[keep], save[keep]
    ur, rpos = np.unique(rows, return_inverse=True)
    m = problem.n_candidates
    s_mat = sparse.csr_matrix((save, (rpos, cols)), shape=(len(ur), m))
    s_csc = s_mat.tocsc()
    # greedy on savings: current saving per row is the best saving of an open site
    best = np.zeros(len(ur))

    def gain(j: int) -> float:
        sl = slice(s_csc.indptr[j], s_csc.indptr[j + 1])
        r = s_csc.indices[sl]
        return float(np.maximum(s_csc.data[sl] - best[r], 0.0).sum())

    def commit(j: int) -> None:
        sl = slice(s_csc.indptr[j], s_csc.indptr[j + 1])
        r = s_csc.indices[sl]
        best[r] = np.maximum(best[r], s_csc.data[sl])

    initial = np.asarray(s_csc.sum(axis=0)).ravel()
    g_sites, g_gains = _lazy_greedy(s_csc, gain, initial, commit, k=k)
    g_obj = float(sum(g_gains))
    gains_now = np.asarray(np.maximum(s_csc.toarray() - best[:, None], 0).sum(axis=0)).ravel() if (
        s_csc.shape[0] * m <= 5_000_000) else initial  # fmt: skip
    bound_g = g_obj + float(np.sort(gains_now)[-k:].sum()) if m else g_obj
    if g_obj > 0:
        bound_g = min(bound_g, g_obj / (1 - (1 - 1 / k) ** k))
    greedy_s = time.perf_counter() - t0
    w_total = float(w.sum())
    base_minutes = float((w * fallback).sum())
    base = {"k": k, "mip_gap": mip_gap, "time_limit_s": time_limit_s, "seed": seed,
            "objective_is": "person-minutes saved (walks capped at limit_min)",
            "greedy_seconds": round(greedy_s, 4), "pairs_that_save": len(save),
            "mean_minutes_before": base_minutes / w_total if w_total > 0 else math.nan}  # fmt: skip
    chosen, obj, bound, status, name, extra = list(g_sites), g_obj, bound_g, "greedy", "lazy greedy", {}
    if solver != "greedy" and len(save):
        deg = np.diff(s_mat.indptr)
        single = deg == 1
        c_x = np.bincount(s_mat.indices[s_mat.indptr[:-1][single]], weights=s_mat.data[s_mat.indptr[:-1][single]],
                          minlength=m)  # fmt: skip
        multi_rows = np.flatnonzero(deg > 1)
        sm = s_mat[multi_rows].tocoo()
        nz = sm.nnz
        e = np.arange(nz)
        # z_e <= x_j ; sum_j z_gj <= 1 ; sum x <= k
        a_all = sparse.vstack([
            sparse.csr_matrix((np.concatenate([np.ones(nz), -np.ones(nz)]),
                               (np.concatenate([e, e]), np.concatenate([m + e, sm.col]))), shape=(nz, m + nz)),
            sparse.csr_matrix((np.ones(nz), (sm.row, m + e)), shape=(len(multi_rows), m + nz)),
            sparse.csr_matrix(np.concatenate([np.ones(m), np.zeros(nz)])[None, :]),
        ], format="csr")  # fmt: skip
        mip = _Mip(
            c=np.concatenate([c_x, sm.data]), a=a_all, row_lo=np.full(a_all.shape[0], -np.inf),
            row_hi=np.concatenate([np.zeros(nz), np.ones(len(multi_rows)), [float(k)]]),
            col_lo=np.zeros(m + nz), col_hi=np.ones(m + nz),
            integer=np.concatenate([np.ones(m), np.zeros(nz)]), maximize=True,
        )  # fmt: skip
        x0 = None
        if solver == "highs":
            x0 = np.zeros(m + nz)
            x0[np.asarray(g_sites, np.int64)] = 1.0
            open_ = x0[:m] > 0.5
            # each multi row goes to its best open site
            val = np.where(open_[sm.col], sm.data, -1.0)
            order_e = np.lexsort((-val, sm.row))
            first = np.ones(nz, bool)
            first[1:] = sm.row[order_e][1:] != sm.row[order_e][:-1]
            pick = order_e[first & (val[order_e] > 0)]
            x0[m + pick] = 1.0
        out = _solve_mip(mip, solver=solver, time_limit_s=time_limit_s, mip_gap=mip_gap, seed=seed, start=x0,
                         lp_method="dual")  # fmt: skip
        if out.x is not None:
            sel = np.flatnonzero(out.x[:m] > 0.5)
            val = _pmedian_saving(s_mat, sel)
            if val >= g_obj - 1e-9:
                chosen, obj = list(sel), val
        bound = max(min(out.bound, bound_g), obj) if np.isfinite(out.bound) else bound_g
        status = out.status if out.status in ("optimal", "time_limit") else "time_limit"
        name = out.solver
        extra = {"mip_seconds": round(out.seconds, 3), "mip_status": out.status,
                 "mip_rows": int(a_all.shape[0]), "mip_columns": m + nz}  # fmt: skip
    elif not len(save):
        bound, status, name = 0.0, "optimal", "none (no site saves any minutes)"
    gap = _rel_gap(obj, bound, maximize=True)
    if status == "optimal" and np.isfinite(gap) and gap > max(mip_gap, 1e-6):
        status = "time_limit"
    # build order by minutes saved
    best[:] = 0.0
    order, saved = _lazy_greedy(s_csc, gain, initial, commit, k=None, allowed=np.asarray(chosen, np.int64))
    rest = [j for j in chosen if j not in set(order)]
    order, saved = order + rest, saved + [0.0] * len(rest)
    order, saved = _drop_useless(order, saved, "pmedian")
    covered_gain = _coverage_gains_in_order(problem, order)
    after_minutes = base_minutes - obj
    base["mean_minutes_after"] = after_minutes / w_total if w_total > 0 else math.nan
    return _make_result(
        problem, "pmedian", order, covered_gain, objective=obj, bound=bound, gap=gap, status=status,
        solver=name, seconds=time.perf_counter() - t0, greedy_objective=g_obj, params={**base, **extra},
        extra_columns={"minutes_saved": saved},
    )  # fmt: skip


def _pmedian_saving(s_mat: sparse.csr_matrix, sites: np.ndarray) -> float:
    if len(sites) == 0:
        return 0.0
    sub = s_mat[:, sites].tocsr()
    return float(sub.max(axis=1).toarray().sum())


def _coverage_gains_in_order(problem: SitingProblem, order: Sequence[int]) -> list[float]:
    model = problem._cover_model
    csc = model.csc
    covered = np.zeros(model.a.shape[0], bool)
    out = []
    for j in order:
        rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        out.append(float(model.w[rows][~covered[rows]].sum()))
        covered[rows] = True
    return out


def solve_siting(
    problem: SitingProblem,
    model: str = "mclp",
    *,
    k: int | None = None,
    share: float | None = None,
    **options: Any,
) -> SitingResult:
    """Run one model by name (for the CLI and study files).

    Parameters
    ----------
    problem
        The siting problem.
    model
        ``"mclp"``, ``"cmclp"``, ``"lscp"`` or ``"pmedian"``.
    k
        Number of new sites (MCLP, p-median).
    share
        Coverage goal of the LSCP (see :func:`solve_lscp`).
    **options
        Passed to the model's function (``time_limit_s``, ``mip_gap``, ``solver``, ``seed``…).

    Returns
    -------
    SitingResult
    """
    if model not in _MODELS:
        msg = f"model must be one of {list(_MODELS)}; got {model!r}."
        raise ValueError(msg)
    if model == "lscp":
        return solve_lscp(problem, share=share, **options)
    if k is None:
        msg = f"model {model!r} needs k (the number of new sites)."
        raise ValueError(msg)
    if model == "pmedian":
        return solve_p_median(problem, k, **options)
    return solve_mclp(problem, k, capacitated=model == "cmclp", **options)
