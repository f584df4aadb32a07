"""Walk areas: the streets reached within a walk from each point, buffered into polygons."""

from __future__ import annotations

import logging
import time

import geopandas as gpd
import numpy as np
import shapely

from planner.kinds import DEFAULT_MAX_SNAP_M
from planner.network import WalkNetwork

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------- service areas
def service_area_polygons(
    network: WalkNetwork,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    reach_m: float,
    *,
    buffer_m: float = 50.0,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    simplify_m: float | None = None,
) -> gpd.GeoSeries:
    """Area within a walk of ``reach_m`` from each point: the reached streets, buffered.

    Each point joins the network at its nearest usable node (its access leg counts); the
    streets reached within ``reach_m`` (partly reached ones cut where the walk ends) are
    buffered by ``buffer_m`` and merged. This follows the streets, unlike a convex hull or a
    circle, so water, rail and dead ends show.

    Parameters
    ----------
    network
        The walk network.
    points
        Facilities or sites, any CRS.
    reach_m
        Walking distance in metres (``FacilityKind.reach_m()``).
    buffer_m
        How far either side of a reached street counts, in metres.
    max_snap_m
        Points farther than this from a usable street get an empty area.
    simplify_m
        Simplification tolerance in metres (default: a tenth of ``buffer_m``).

    Returns
    -------
    geopandas.GeoSeries
        One (Multi)Polygon per point, same index, in the network's CRS; empty where the
        point could not be snapped.
    """
    if reach_m <= 0 or buffer_m <= 0:
        msg = f"reach_m and buffer_m must be positive; got {reach_m} and {buffer_m}."
        raise ValueError(msg)
    geo = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    geo = geo.to_crs(network.crs)
    snap = network.snap(geo, max_snap_m=max_snap_m)
    xy = network.node_xy
    u = network.edges["u"].to_numpy()
    v = network.edges["v"].to_numpy()
    length = network.edges["length_m"].to_numpy()
    a, b = xy[u], xy[v]
    tol = buffer_m / 10 if simplify_m is None else simplify_m
    pxy = shapely.get_coordinates(geo.to_numpy())
    out = []
    t0 = time.perf_counter()
    for i in range(len(geo)):
        if not snap.ok[i]:
            out.append(shapely.Polygon())
            continue
        dist, _ = network.distances_m([snap.node[i]], [snap.access_m[i]], limit_m=reach_m)
        with np.errstate(invalid="ignore", divide="ignore"):  # zero-length edges (duplicate OSM nodes)
            fu = np.nan_to_num(np.clip((reach_m - dist[u]) / length, 0.0, 1.0), nan=0.0)
            fv = np.nan_to_num(np.clip((reach_m - dist[v]) / length, 0.0, 1.0), nan=0.0)
        full = fu + fv >= 1.0
        part_u = ~full & (fu > 0)
        part_v = ~full & (fv > 0)
        starts = np.concatenate([a[full], a[part_u], b[part_v], pxy[i : i + 1]])
        ends = np.concatenate([
            b[full],
            a[part_u] + fu[part_u, None] * (b[part_u] - a[part_u]),
            b[part_v] + fv[part_v, None] * (a[part_v] - b[part_v]),
            xy[[snap.node[i]]],
        ])  # fmt: skip
        seg = np.stack([starts, ends], axis=1)
        keep = np.hypot(*(seg[:, 1] - seg[:, 0]).T) > 1e-9
        if not keep.any():
            out.append(shapely.buffer(shapely.Point(pxy[i]), buffer_m, quad_segs=4))
            continue
        # buffering pieces and merging them is ~50x faster than buffering one MultiLineString
        area = shapely.union_all(shapely.buffer(shapely.linestrings(seg[keep]), buffer_m, quad_segs=3))
        out.append(shapely.simplify(area, tol))
    logger.info("walk areas of %d points (%.0f m) in %.2f s", len(geo), reach_m, time.perf_counter() - t0)
    return gpd.GeoSeries(out, index=geo.index, crs=network.crs)
