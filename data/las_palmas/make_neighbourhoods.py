"""Rebuild neighbourhoods.geojson: Voronoi zones of OSM place=suburb nodes in the study area.

These are approximate neighbourhood zones for per-district summaries, NOT official boundaries
(OSM has no sub-municipal admin boundaries here). Needs `pip install osmium` and the municipality
extract `municipality_2023-02-21.osm.pbf` (see SOURCES.md). Run from the repository root:

    python data/las_palmas/make_neighbourhoods.py PATH/TO/municipality_2023-02-21.osm.pbf
"""

import sys
from pathlib import Path

import geopandas as gpd
import osmium
import shapely

HERE = Path(__file__).parent
W, S, E, N = -15.452, 28.095, -15.405, 28.148


class Places(osmium.SimpleHandler):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []

    def node(self, n) -> None:
        tags = dict(n.tags)
        if tags.get("place") == "suburb" and W <= n.location.lon <= E and S <= n.location.lat <= N:
            self.rows.append(
                {
                    "name": tags.get("name"),
                    "osm_id": n.id,
                    "geometry": shapely.Point(n.location.lon, n.location.lat),
                }
            )


def main(pbf: str) -> None:
    h = Places()
    h.apply_file(pbf)
    pts = gpd.GeoDataFrame(h.rows, crs=4326).sort_values("osm_id").to_crs(32628)
    area = gpd.read_file(HERE / "study_area.geojson").to_crs(32628).union_all()
    muni = gpd.read_file(HERE / "municipality_boundary.geojson").to_crs(32628).union_all()
    clip = area.intersection(muni)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(pts.geometry.tolist()), extend_to=clip.envelope)
    zones = gpd.GeoDataFrame(geometry=list(cells.geoms), crs=32628)
    zones = gpd.sjoin(zones, pts, predicate="contains").drop(columns="index_right")
    zones["geometry"] = zones.geometry.intersection(clip).set_precision(0.1)
    zones["method"] = "Voronoi of OSM place=suburb nodes, clipped to study area and municipality"
    zones[["name", "osm_id", "method", "geometry"]].to_crs(4326).to_file(
        HERE / "neighbourhoods.geojson", driver="GeoJSON", COORDINATE_PRECISION=6
    )


if __name__ == "__main__":
    main(sys.argv[1])
