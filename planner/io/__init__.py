"""Reading and writing files: facilities, population, boundaries, OSM streets, datums, encodings.

Modules: :mod:`~planner.io.datums` (GCJ-02/BD-09), :mod:`~planner.io.files` (any vector file,
lon/lat CSV or Excel sheet, with encodings and checks), :mod:`~planner.io.facilities`,
:mod:`~planner.io.population`, :mod:`~planner.io.boundaries`, :mod:`~planner.io.osm` (OSM
XML/PBF streamed into street segments) and :mod:`~planner.io.write` (every write is atomic;
a run's folder is written whole).
"""

from planner.io.boundaries import read_boundary, read_districts
from planner.io.facilities import merge_duplicate_facilities, read_facilities
from planner.io.osm import read_street_names
from planner.io.population import read_population
from planner.io.write import write_layer, write_run_record, write_table

__all__ = [
    "merge_duplicate_facilities",
    "read_boundary",
    "read_districts",
    "read_facilities",
    "read_population",
    "read_street_names",
    "write_layer",
    "write_run_record",
    "write_table",
]
