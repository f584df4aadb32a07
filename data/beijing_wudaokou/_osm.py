"""Small helpers shared by the make_*.py scripts of this folder (standard library + geopandas only).

Reads ``wudaokou_2017.osm.bz2`` (OSM API 0.6 XML) into a GeoDataFrame of its ways, and writes
files atomically (a temporary file in this folder, then ``os.replace``).
Data: © OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import bz2
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import shapely

HERE = Path(__file__).resolve().parent
OSM = HERE / "wudaokou_2017.osm.bz2"
CRS = "EPSG:32650"  # WGS 84 / UTM 50N
# <bounds> of the osm.org export (WGS-84 lon/lat)
W, S, E, N = 116.3084, 39.9905, 116.3320, 40.0123


def read_ways(path: Path = OSM) -> gpd.GeoDataFrame:
    """Every way whose nodes are all in the file, with all its tags, in EPSG:32650.

    Columns: ``osm_id`` (int), ``tags`` (dict), ``closed`` (bool), ``geometry``: a polygon for
    a closed way that is not a highway, else a line. Sorted by ``osm_id``.
    """
    with bz2.open(path) as f:
        root = ET.parse(f).getroot()
    nodes = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    rows = []
    for w in root.iter("way"):
        refs = [nd.get("ref") for nd in w.iter("nd")]
        if len(refs) < 2 or not all(r in nodes for r in refs):
            continue
        tags = {t.get("k"): t.get("v") for t in w.iter("tag")}
        xy = [nodes[r] for r in refs]
        closed = refs[0] == refs[-1] and len(refs) >= 4
        geom = shapely.Polygon(xy) if closed and "highway" not in tags else shapely.LineString(xy)
        rows.append({"osm_id": int(w.get("id")), "tags": tags, "closed": closed, "geometry": geom})
    ways = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326").to_crs(CRS)
    return ways.sort_values("osm_id").reset_index(drop=True)


def bounds_polygon(crs: str = CRS) -> shapely.Polygon:
    """The export's <bounds> box, in ``crs``."""
    return gpd.GeoSeries([shapely.box(W, S, E, N)], crs="EPSG:4326").to_crs(crs).iloc[0]


def replace_atomically(tmp: Path, final: Path) -> None:
    """Move a finished temporary file over the final one (same folder, so atomic)."""
    os.replace(tmp, final)


def tmp_path(final: Path) -> Path:
    """A temporary name next to ``final`` that keeps its suffix (GDAL picks drivers by suffix)."""
    return final.with_name(f".{final.stem}.tmp{os.getpid()}{final.suffix}")
