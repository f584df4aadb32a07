"""Rebuild units.geojson and study_area.geojson: APPROXIMATE 社区-like units of the Wudaokou box.

Not official boundaries. OSM (2017) has no 街道/社区 boundaries here, so the units are
the residential compounds and campus quarters, taken from OSM polygons where they exist
(landuse=residential, the Tsinghua University outline) and drawn by hand as simple
rectangles (EPSG:32650, metres, rounded to 5 m) around OSM buildings where they do not.
Each unit is nested in one illustrative 街道-like street. Run from anywhere:

    python data/beijing_wudaokou/make_units.py

Reads only wudaokou_2017.osm.bz2 in this folder; deterministic; writes atomically.
Data: © OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import geopandas as gpd
import shapely
from _osm import CRS, HERE, bounds_polygon, read_ways, replace_atomically, tmp_path

TSINGHUA = 30663333  # amenity=university 清华大学
QH = "清华园街道（示意）"  # Tsinghua campus and its staff quarters
WDK = "五道口街道（示意）"  # compounds outside the Tsinghua wall, north and south of 成府路

# (community, street, how). how is ("osm", way id, what), ("box", [(x0, y0, x1, y1), ...], clip, what)
# with clip = "tsinghua" (keep the part inside the campus outline), "outside" (the part outside
# it) or None, or ("campus", way id, what): the rest of the campus. Order matters: every unit
# gives up what earlier units took; all are clipped to the export bounds.
UNITS = [
    ("荷清苑社区（近似）", QH, ("osm", 226684173, "landuse=residential 荷清苑教师住宅区")),
    ("西北社区（近似）", QH, ("osm", 385514039, "landuse=residential 清华大学西北小区")),
    ("西院社区（近似）", QH, ("osm", 255748954, "landuse=residential 西院")),
    ("西王庄社区（近似）", WDK, ("osm", 265789821, "landuse=residential 西王庄小区")),
    ("华清嘉园社区（近似）", WDK, ("osm", 473654608, "landuse=residential 华清嘉园小区")),
    (
        "新林院社区（近似）",
        QH,
        (
            "box",
            [(441605, 4427240, 441985, 4427600), (441605, 4427570, 441760, 4427720)],
            "tsinghua",
            "around OSM landuse=residential 新林院, 普吉院, 胜因院, 专家公寓",
        ),
    ),
    (
        "西南社区（近似）",
        QH,
        (
            "box",
            [(441400, 4427040, 441605, 4427700), (441605, 4427140, 441760, 4427240)],
            "tsinghua",
            "around buildings 西南1–20 and 1–12公寓",
        ),
    ),
    (
        "照澜院社区（近似）",
        QH,
        (
            "box",
            [(441730, 4427600, 442200, 4427860), (441985, 4427230, 442200, 4427600)],
            "tsinghua",
            "around buildings 南0–13楼, 东1–16楼 and landuse=retail 照澜院",
        ),
    ),
    (
        "紫荆社区（近似，学生公寓）",
        QH,
        ("box", [(441880, 4428860, 442760, 4429300)], "tsinghua", "around buildings 紫荆学生公寓1–23号楼"),
    ),
    (
        "蓝旗营社区（近似）",
        WDK,
        ("box", [(441680, 4426995, 441990, 4427215)], "outside", "around buildings 蓝旗营6–12号楼"),
    ),
    (
        "燕东园社区（近似）",
        WDK,
        ("box", [(441090, 4427290, 441480, 4427650)], None, "around buildings 北京大学燕东园…号楼"),
    ),
    ("清华大学校园（近似）", QH, ("campus", TSINGHUA, "amenity=university 清华大学 minus the units above")),
]


def main() -> None:
    ways = read_ways().set_index("osm_id")
    box = bounds_polygon()
    campus = ways.geometry[TSINGHUA]
    taken = shapely.Polygon()
    rows = []
    for community, street, how in UNITS:
        if how[0] == "osm":
            geom, osm_id, source = ways.geometry[how[1]], how[1], f"OSM way {how[1]} ({how[2]})"
        elif how[0] == "box":
            geom = shapely.union_all([shapely.box(*b) for b in how[1]])
            if how[2] == "tsinghua":
                geom = geom.intersection(campus)
            elif how[2] == "outside":
                geom = geom.difference(campus)
            osm_id, source = None, f"drawn by hand: rectangles {how[3]}"
        else:
            geom, osm_id, source = campus, how[1], f"OSM way {how[1]} ({how[2]})"
        geom = geom.difference(taken).intersection(box)
        taken = taken.union(geom)
        rows.append(
            {
                "community": community,
                "street": street,
                "urban": True,
                "approximate": True,
                "osm_way": osm_id,
                "source": source,
                "area_ha": round(geom.area / 1e4, 2),
                "geometry": geom,
            }
        )
    units = gpd.GeoDataFrame(rows, crs=CRS)
    units["osm_way"] = units["osm_way"].astype("Int64")
    units["geometry"] = units.geometry.set_precision(0.1)
    write(units.to_crs("EPSG:4326"), HERE / "units.geojson")
    area = gpd.GeoDataFrame(
        {
            "name": ["五道口（北京市海淀区）示例研究区"],
            "source": ["<bounds> of the osm.org export wudaokou_2017.osm.bz2"],
        },
        geometry=[shapely.box(116.3084, 39.9905, 116.3320, 40.0123)],
        crs="EPSG:4326",
    )
    write(area, HERE / "study_area.geojson")
    for r in units.itertuples():
        print(f"{r.street}  {r.community}  {r.area_ha} ha")


def write(gdf: gpd.GeoDataFrame, final) -> None:
    tmp = tmp_path(final)
    gdf.to_file(tmp, driver="GeoJSON", engine="pyogrio", COORDINATE_PRECISION=7, WRITE_NAME=False)
    replace_atomically(tmp, final)


if __name__ == "__main__":
    main()
