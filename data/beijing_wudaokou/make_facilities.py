"""Rebuild facilities_amap_gcj02_gbk.csv: an ILLUSTRATIVE (示例) facility list as Amap (高德) exports it.

示例数据，非真实设施 — made-up facilities, not a register of real ones. Each row is placed on the
real OSM street that its address names: the point of that named street (all OSM ways with
that `name`) nearest to the compound it serves (an OSM way, the "anchor"), moved `along_m`
metres along the way and then `offset_m` (at most 20 m) off the street towards the anchor.
That WGS-84 point is converted to GCJ-02 with planner.datums.wgs84_to_gcj02, as Amap,
Tencent and other Chinese map services publish coordinates. The file is GBK-encoded with
Chinese headers. Run from the repository root (planner must be importable):

    python data/beijing_wudaokou/make_facilities.py

Reads only wudaokou_2017.osm.bz2 in this folder; deterministic; writes atomically.
Street geometry: © OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from _osm import CRS, HERE, read_ways, replace_atomically, tmp_path

sys.path.insert(0, str(HERE.parents[1]))  # the repository root, for planner
from planner.datums import wgs84_to_gcj02

NOTE = "示例数据，非真实设施"
MAX_OFFSET_M = 20.0

# OSM ways the facilities serve (anchors)
HEQINGYUAN, XIBEI, XIWANGZHUANG, HUAQING = 226684173, 385514039, 265789821, 473654608  # landuse=residential
LANQIYING_12, NAN_1, GONGYU_11, YANDONGYUAN_6 = 226753504, 226668733, 226668706, 392563346  # buildings
ZHAOLANYUAN, SHENGYINYUAN = 33460758, 226671071  # landuse=retail 照澜院, building 胜因院

# fmt: off
# 名称, 类型, street (OSM name), anchor way, along_m, offset_m, 容量, 地址 (after the street name)
FACILITIES = [
    ("荷清苑养老服务驿站（示例）", "养老服务驿站", "荷清路", HEQINGYUAN, 0, 15, 10, "南侧，荷清苑小区旁"),
    ("蓝旗营养老服务驿站（示例）", "养老服务驿站", "成府路", LANQIYING_12, 40, 15, None, "北侧，蓝旗营小区旁"),
    ("华清嘉园养老服务驿站（示例）", "养老服务驿站", "成府路", HUAQING, -60, 15, 8, "南侧，华清嘉园北门附近"),
    ("照澜院日间照料中心（示例）", "日间照料中心", "学堂路", ZHAOLANYUAN, 0, 10, 30, "清华大学校内，照澜院附近"),
    ("西王庄日间照料中心（示例）", "日间照料中心", "双清路", XIWANGZHUANG, 0, 15, 25, "西侧，西王庄小区旁"),
    ("华清嘉园托育园（示例）", "托育机构", "中关村东路", HUAQING, 60, 15, 40, "东侧，华清嘉园旁"),
    ("西北小区托育园（示例）", "托育机构", "中关村北大街", XIBEI, 0, 15, 30, "东侧，清华大学西北小区旁"),
    ("荷清苑托育园（示例）", "托育机构", "荷清路", HEQINGYUAN, 120, 15, None, "南侧，荷清苑小区东部"),
    ("燕东园托育园（示例）", "托育机构", "清华南路", YANDONGYUAN_6, 0, 10, 20, "燕东园附近"),
    ("照澜院老年助餐点（示例）", "老年助餐点", "学堂路", NAN_1, 0, 10, 60, "清华大学校内，南区住宅楼旁"),
    ("西北小区老年助餐点（示例）", "老年助餐点", "荷清路", XIBEI, 0, 15, None, "南侧，清华大学西北小区旁"),
    ("蓝旗营老年助餐点（示例）", "老年助餐点", "成府路", LANQIYING_12, -80, 15, 40, "北侧，蓝旗营小区旁"),
    ("西王庄老年助餐点（示例）", "老年助餐点", "中关村东路", XIWANGZHUANG, 0, 15, 50, "北段东侧，西王庄小区附近"),
    ("荷清苑儿童之家（示例）", "儿童之家", "荷清路", HEQINGYUAN, -120, 15, None, "南侧，荷清苑小区西部"),
    ("华清嘉园儿童之家（示例）", "儿童之家", "成府路", HUAQING, 80, 15, None, "南侧，华清嘉园北门附近"),
    ("新林院儿童之家（示例）", "儿童之家", "熙春路", SHENGYINYUAN, 0, 15, None, "清华大学校内，胜因院附近"),
    ("西南社区儿童之家（示例）", "儿童之家", "熙春路", GONGYU_11, 0, 15, None, "清华大学校内，西南小区附近"),
]
# fmt: on
UNIT_OF = {
    "养老服务驿站": "床",
    "日间照料中心": "床",
    "托育机构": "托位",
    "老年助餐点": "餐位",
    "儿童之家": "",
}


def place(
    ways: gpd.GeoDataFrame, street: str, anchor_id: int, along_m: float, offset_m: float
) -> shapely.Point:
    """A point on the OSM street named `street` near the anchor way (EPSG:32650)."""
    if not 0 <= offset_m <= MAX_OFFSET_M:
        msg = f"offset_m must be between 0 and {MAX_OFFSET_M} m; got {offset_m}."
        raise ValueError(msg)
    named = ways[ways["tags"].map(lambda t: "highway" in t and t.get("name") == street)]
    if named.empty:
        msg = f"no OSM way named {street!r}"
        raise ValueError(msg)
    anchor = ways.loc[ways["osm_id"] == anchor_id].geometry.iloc[0].representative_point()
    lines = named.geometry.to_numpy()
    nearest = int(np.argmin(shapely.distance(lines, anchor)))  # ties: the lowest osm_id
    line = lines[nearest]
    at = float(np.clip(line.project(anchor) + along_m, 0.0, line.length))
    p = line.interpolate(at)
    d = np.array([anchor.x - p.x, anchor.y - p.y])
    d = d / np.hypot(*d) if np.hypot(*d) > 0 else np.zeros(2)
    return shapely.Point(p.x + offset_m * d[0], p.y + offset_m * d[1])


def main() -> None:
    ways = read_ways()
    pts = [place(ways, f[2], f[3], f[4], f[5]) for f in FACILITIES]
    wgs = gpd.GeoSeries(pts, crs=CRS).to_crs("EPSG:4326")
    glon, glat = wgs84_to_gcj02(wgs.x.to_numpy(), wgs.y.to_numpy())
    out = pd.DataFrame(
        {
            "编号": [f"WDK{i + 1:02d}" for i in range(len(FACILITIES))],
            "名称": [f[0] for f in FACILITIES],
            "类型": [f[1] for f in FACILITIES],
            "地址": [f"北京市海淀区{f[2]}（{f[7]}，示例地址）" for f in FACILITIES],
            "经度": [f"{v:.6f}" for v in glon],
            "纬度": [f"{v:.6f}" for v in glat],
            "容量": pd.array([f[6] for f in FACILITIES], dtype="Int64"),
            "容量单位": [UNIT_OF[f[1]] if f[6] is not None else "" for f in FACILITIES],
            "备注": NOTE,
        }
    )
    final = HERE / "facilities_amap_gcj02_gbk.csv"
    tmp = tmp_path(final)
    out.to_csv(tmp, index=False, encoding="gbk", lineterminator="\r\n")
    replace_atomically(tmp, final)
    print(out.drop(columns=["地址", "备注"]).to_string(index=False))
    print(
        f"wrote {final.name}: {len(out)} rows, "
        + ", ".join(f"{k} {v}" for k, v in out["类型"].value_counts().items())
    )


if __name__ == "__main__":
    main()
