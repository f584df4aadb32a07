"""Maps for officials: self-contained, escaped folium maps of coverage and proposed sites.

Modules, bottom up: :mod:`~planner.maps.style` (colours and every label, en/zh),
:mod:`~planner.maps.runtime` (inlined Leaflet, planner's small JS helpers, map elements and
the record of what planner drew on a map), :mod:`~planner.maps.layers` (one function per
layer), :mod:`~planner.maps.builders` (:func:`coverage_map`, :func:`siting_map`) and
:mod:`~planner.maps.export` (the offline page, :func:`save_map`, :func:`show_map`).
"""

from planner.maps.builders import coverage_map, siting_map
from planner.maps.export import OfflineMap, map_html, save_map, show_map

__all__ = ["OfflineMap", "coverage_map", "map_html", "save_map", "show_map", "siting_map"]
