"""Where a point is, in words an official can act on: the nearest named street."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.errors import PlannerError
from planner.io.osm import read_street_names

logger = logging.getLogger(__name__)

#: How far a named street may be from a site to be called its street, in metres.
STREET_WITHIN_M = 150.0
#: What a site with no named street within reach gets.
NO_STREET = "—"


def nearest_street_names(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    streets: gpd.GeoDataFrame,
    *,
    within_m: float = STREET_WITHIN_M,
) -> pd.Series:
    """The name of the nearest named street within ``within_m`` of each point (else ``"—"``).

    Parameters
    ----------
    points
        Sites, in a metric CRS (or any CRS: they are projected to the streets').
    streets
        From :func:`~planner.io.osm.read_street_names`: ``name`` and lines in a metric CRS.
    within_m
        The farthest a street may be, in metres.

    Returns
    -------
    pandas.Series
        Text, indexed like ``points``.

    Examples
    --------
    >>> import shapely
    >>> streets = gpd.GeoDataFrame({"name": ["Calle A", "Calle B"]},
    ...     geometry=[shapely.LineString([(0, 0), (100, 0)]), shapely.LineString([(0, 500), (100, 500)])],
    ...     crs=32628)
    >>> pts = gpd.GeoSeries(gpd.points_from_xy([50, 50, 50], [20, 440, 250]), crs=32628)
    >>> nearest_street_names(pts, streets).tolist()
    ['Calle A', 'Calle B', '—']
    """
    geo = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    out = pd.Series(NO_STREET, index=geo.index, dtype=object)
    if not len(geo) or streets is None or not len(streets):
        return out
    if streets.crs is None or not streets.crs.is_projected:
        msg = "streets need a metric (projected) CRS; read them with read_street_names(path, crs)."
        raise ValueError(msg)
    left = gpd.GeoDataFrame(geometry=geo.to_crs(streets.crs).reset_index(drop=True))
    right = streets[["name", "geometry"]].reset_index(drop=True)
    joined = gpd.sjoin_nearest(left, right, how="left", max_distance=within_m, distance_col="d")
    joined = joined.sort_values("d", kind="stable")
    joined = joined[~joined.index.duplicated()].sort_index()
    names: Any = joined["name"].reindex(range(len(geo)))
    ok = names.notna().to_numpy()
    out.iloc[np.flatnonzero(ok)] = names[ok].astype(str).to_numpy()
    return out


def read_study_streets(network_path: str | Path, crs: Any) -> gpd.GeoDataFrame | None:
    """The named streets of a study's OSM file, or None (with a warning) when it has none to give.

    Parameters
    ----------
    network_path
        The study's network file.
    crs
        The study's metric CRS.

    Returns
    -------
    geopandas.GeoDataFrame or None
    """
    try:
        return read_street_names(network_path, crs)
    except (PlannerError, OSError) as exc:
        logger.warning("no street names for the sites (%s)", exc)
        return None
