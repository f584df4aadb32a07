"""Province scale: tiles with an exact halo run serially or on Dask; streets streamed per tile.

Modules, bottom up: :mod:`~planner.scale.store` (an OSM file scanned once into arrays on disk),
:mod:`~planner.scale.tiles` (the plan and its memory estimate), :mod:`~planner.scale.execute`
(serial or Dask), :mod:`~planner.scale.coverage` (:func:`compute_coverage_tiled`, exact against
the untiled run) and :mod:`~planner.scale.siting` (MCLP with the budget split by district).
"""

from planner.scale.coverage import compute_coverage_tiled
from planner.scale.siting import DistrictSitingResult, solve_mclp_by_district
from planner.scale.store import OsmStore, prepare_osm
from planner.scale.tiles import TilePlan, plan_tiles

__all__ = [
    "DistrictSitingResult",
    "OsmStore",
    "TilePlan",
    "compute_coverage_tiled",
    "plan_tiles",
    "prepare_osm",
    "solve_mclp_by_district",
]
