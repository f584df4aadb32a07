"""Regenerate the tiny real-world input fixtures: python tests/data/realworld/make_fixtures.py

Three Suzhou (Gusu) facilities whose true WGS-84 positions are in ``WGS84``, written as
an Amap (GCJ-02) CSV in GBK with Chinese headers, a Baidu (BD-09) Excel sheet, and a
GBK shapefile with and without its .cpg.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from planner import datums

HERE = Path(__file__).parent
WGS84 = {"lon": [120.620, 120.630, 120.600], "lat": [31.300, 31.310, 31.290]}
NAMES = ["姑苏区养老服务中心", "平江街道托育园", "沧浪日间照料中心"]
KINDS = ["eldercare", "nursery", "eldercare"]


def main() -> None:
    glon, glat = datums.wgs84_to_gcj02(WGS84["lon"], WGS84["lat"])
    gcj = pd.DataFrame({"编号": ["A1", "A2", "A3"], "名称": NAMES, "类型": KINDS,
                        "经度": glon.round(7), "纬度": glat.round(7)})  # fmt: skip
    gcj.to_csv(HERE / "facilities_gcj02_gbk.csv", index=False, encoding="gbk")
    blon, blat = datums.wgs84_to_bd09(WGS84["lon"], WGS84["lat"])
    bd = pd.DataFrame({"name": NAMES, "kind": KINDS, "x_bd": blon.round(7), "y_bd": blat.round(7)})
    bd.to_excel(HERE / "facilities_bd09.xlsx", index=False, engine="openpyxl")
    shp = gpd.GeoDataFrame({"name": NAMES, "kind": KINDS},
                           geometry=gpd.points_from_xy(WGS84["lon"], WGS84["lat"]), crs=4326)  # fmt: skip
    for stem in ("facilities_gbk", "facilities_gbk_nocpg"):
        shp.to_file(HERE / f"{stem}.shp", encoding="GBK")
    (HERE / "facilities_gbk_nocpg.cpg").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
