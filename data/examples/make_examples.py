"""Rebuild the small example inputs of notebooks/04-your-own-data.ipynb. Run from the repository root:

    python data/examples/make_examples.py

- ``suzhou_gusu_facilities_gcj02_gbk.csv``: an ILLUSTRATIVE facility list as a Chinese map
  service exports it (Amap/Tencent: GCJ-02 lon/lat, Chinese headers, GBK). The positions are
  chosen points in Gusu District, Suzhou, converted from WGS-84 to GCJ-02; the names are
  made up and marked 示例 (example). It is not a register of real facilities. One row is
  repeated 15 m away, as search results often are.
- ``suzhou_districts_2020.csv``: REAL totals and 60+ shares of six Suzhou districts from
  ``county_census_2020_policy_cities.csv`` (2020 census, NBS), as a yearbook-style table
  (UTF-8 with BOM, as Excel writes it).
- ``las_palmas_meal_sites_plan.csv``: the same with a ``year`` per site (one a year from 2025).
- ``las_palmas_meal_sites_proposal.csv``: the four OSM community centres of the bundled Las
  Palmas area (© OpenStreetMap contributors, ODbL) as a user's list of proposed meal sites.
"""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.io import datums

HERE = Path(__file__).parent
ROOT = HERE.parents[1]

# (name, type as a Chinese source would label it, beds/seats or None, WGS-84 lon, lat)
FACILITIES = [
    ("平江街道养老服务中心（示例）", "养老服务中心", 60, 120.6302, 31.3151),
    ("观前街道日间照料中心（示例）", "日间照料中心", 25, 120.6228, 31.3098),
    ("金阊街道托育园（示例）", "托育机构", 40, 120.6003, 31.3112),
    ("双塔街道老年助餐点（示例）", "老年助餐点", 80, 120.6281, 31.2952),
    ("吴门桥街道儿童之家（示例）", "儿童之家", None, 120.6102, 31.2891),
    ("苏锦街道养老服务中心（示例）", "养老服务中心", 45, 120.6095, 31.3305),
]
DUPLICATE_OF = 0  # the first row appears twice, 15 m apart
SUZHOU_CODES = [320505, 320506, 320507, 320508, 320509, 320571]


def facilities() -> None:
    rows = [*FACILITIES, FACILITIES[DUPLICATE_OF]]
    lon = np.array([r[3] for r in rows], float)
    lat = np.array([r[4] for r in rows], float)
    lon[-1] += 15.0 / (111_320 * np.cos(np.radians(lat[-1])))  # 15 m east
    glon, glat = datums.wgs84_to_gcj02(lon, lat)
    out = pd.DataFrame(
        {
            "编号": [f"SZ{i + 1:02d}" for i in range(len(rows))],
            "名称": [r[0] for r in rows],
            "类型": [r[1] for r in rows],
            "床位数": pd.array([r[2] for r in rows], dtype="Int64"),
            "经度": glon.round(6),
            "纬度": glat.round(6),
        }
    )
    out.to_csv(HERE / "suzhou_gusu_facilities_gcj02_gbk.csv", index=False, encoding="gbk")


def districts() -> None:
    census = pd.read_csv(HERE / "county_census_2020_policy_cities.csv")
    rows = census.set_index("CODE").loc[SUZHOU_CODES]
    out = pd.DataFrame(
        {
            "代码": rows.index,
            "区县": rows["NAME"].to_numpy(),
            "常住人口": rows["POPU"].round().astype(int).to_numpy(),
            "60岁及以上占比(%)": ((rows["AGES_60-64"] + rows["AGES_65P"]) * 100).round(2).to_numpy(),
        }
    )
    out.to_csv(HERE / "suzhou_districts_2020.csv", index=False, encoding="utf-8-sig")


def meal_site_proposal() -> None:
    osm = gpd.read_file(ROOT / "data" / "las_palmas" / "facilities.geojson")
    cc = osm[osm["category"] == "community_centre"]
    out = pd.DataFrame(
        {
            "kind": "meal_site",
            "name": cc["name"].to_numpy(),
            "lon": cc.geometry.x.round(6).to_numpy(),
            "lat": cc.geometry.y.round(6).to_numpy(),
        }
    )
    out.to_csv(HERE / "las_palmas_meal_sites_proposal.csv", index=False, encoding="utf-8")
    # the same list as a plan: one meal site a year from 2025 (notebook 03's trajectory)
    out.assign(year=range(2025, 2025 + len(out))).to_csv(
        HERE / "las_palmas_meal_sites_plan.csv", index=False, encoding="utf-8"
    )


if __name__ == "__main__":
    facilities()
    districts()
    meal_site_proposal()
