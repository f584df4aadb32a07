"""Candidate sites: network nodes thinned to a spacing, a file of parcels, or centres of unmet demand."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from planner._validate import check_in_range, row_list
from planner.coverage import Coverage
from planner.errors import InputError
from planner.io.files import read_any
from planner.kinds import CANDIDATE_ID, CAPACITY, DEFAULT_SPACING_M
from planner.network import WalkNetwork

logger = logging.getLogger(__name__)

COST = "cost"


SOURCE = "source"


def empty_candidates(crs: Any) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(
        {SOURCE: pd.Series(dtype=object), COST: pd.Series(dtype=float),
         CAPACITY: pd.Series(dtype=float)},
        geometry=gpd.GeoSeries([], crs=crs), crs=crs,
    )  # fmt: skip
    gdf.index.name = CANDIDATE_ID
    return gdf


def boundary_geometry(boundary: Any, crs: pyproj.CRS) -> Any:
    if isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        if boundary.crs is None:
            msg = "boundary has no CRS; set one with .set_crs(...)."
            raise InputError(msg)
        return boundary.to_crs(crs).union_all()
    return boundary  # a shapely geometry, assumed in the network's CRS


def exclude_candidates(candidates: gpd.GeoDataFrame, areas: Any) -> gpd.GeoDataFrame:
    """Candidates outside ``areas`` (excluded land: water, protected areas, other uses).

    Parameters
    ----------
    candidates
        Candidate sites (points).
    areas
        Polygons: a GeoDataFrame/GeoSeries (any CRS) or a shapely geometry in the candidates' CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        The candidates not inside (nor on the edge of) any of the areas.
    """
    shape = boundary_geometry(areas, candidates.crs)
    xy = shapely.get_coordinates(candidates.geometry.to_numpy())
    inside = shapely.intersects_xy(shape, xy[:, 0], xy[:, 1])
    if inside.all():
        msg = f"every one of the {len(candidates)} candidate sites lies in the excluded areas."
        raise InputError(msg)
    if inside.any():
        logger.info(
            "%d of %d candidate sites lie in excluded areas and are left out",
            int(inside.sum()),
            len(candidates),
        )
    return candidates[~inside]


def candidate_sites(
    network: WalkNetwork,
    *,
    spacing_m: float = DEFAULT_SPACING_M,
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
        inside = shapely.contains_xy(boundary_geometry(boundary, network.crs), xy[:, 0], xy[:, 1])
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
        index=pd.Index([f"node-{i}" for i in keep], name=CANDIDATE_ID),
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
            f"{what} column {column!r} has non-numeric values in rows {row_list(df.index[text])} "
            f"(e.g. {raw[text].iloc[0]!r}); use plain numbers."
        )
        raise InputError(msg)
    if not allow_nan and values.isna().any():
        msg = f"{what} column {column!r} is empty in rows {row_list(df.index[values.isna()])}."
        raise InputError(msg)
    bad = (values <= low) if strict else (values < low)
    if bad.any():
        rel = ">" if strict else ">="
        msg = f"{what} column {column!r} must be {rel} {low:g}; rows {row_list(df.index[bad])} are not."
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
    gdf = read_any(path, "candidates", layer=layer, lon_column=lon_column,
                    lat_column=lat_column, assume_crs=assume_crs)  # fmt: skip
    gdf = gdf.copy()
    stem = Path(path).stem
    if id_column is not None:
        if id_column not in gdf.columns:
            msg = f"candidates ({path}) have no column {id_column!r}; they have {list(gdf.columns)}."
            raise InputError(msg)
        gdf.index = pd.Index(gdf[id_column].astype(str), name=CANDIDATE_ID)
    else:
        gdf.index = pd.Index([f"{stem}-{i}" for i in range(len(gdf))], name=CANDIDATE_ID)
    gdf[SOURCE] = "file"
    if cost_column in gdf.columns and cost_column != COST:
        gdf[COST] = gdf[cost_column]
    if capacity_column in gdf.columns and capacity_column != CAPACITY:
        gdf[CAPACITY] = gdf[capacity_column]
    gdf.attrs["source"] = str(path)
    return prepare_candidates(gdf, gdf.crs, what=f"candidates ({path})")


def prepare_candidates(
    candidates: gpd.GeoDataFrame, crs: Any, *, what: str = "candidates"
) -> gpd.GeoDataFrame:
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
        msg = f"{what} have duplicate ids {row_list(gdf.index[gdf.index.duplicated()].unique())}."
        raise InputError(msg)
    geoms = gdf.geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        msg = f"{what} have empty geometries in rows {row_list(gdf.index[missing])}."
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
    gdf.index.name = CANDIDATE_ID
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
        return empty_candidates(crs)
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
        index=pd.Index([f"demand-{i}" for i in range(len(centres))], name=CANDIDATE_ID),
        geometry=gpd.points_from_xy(centres[:, 0], centres[:, 1]),
        crs=crs,
    )
    logger.info("%d demand-driven candidates from %d uncovered cells", len(gdf), int(out.sum()))
    return gdf
