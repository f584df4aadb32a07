"""Datum check of facilities_amap_gcj02_gbk.csv against the OSM walk network (prints the numbers in README.md).

Reads the GBK/GCJ-02 list twice with planner.inputs.read_facilities: converted
(coord_system="gcj02", the right way) and unconverted (coord_system="wgs84", the usual
mistake), snaps both to planner.WalkNetwork.from_osm_file(wudaokou_2017.osm.bz2) and
reports the access legs (metres from each facility to its network node) and how far the
unconverted points are from the converted ones. Run from the repository root:

    python data/beijing_wudaokou/check_facilities.py
"""

from __future__ import annotations

import logging
import re
import sys

import geopandas as gpd
import numpy as np
import shapely
from _osm import CRS, HERE, bounds_polygon, read_ways

sys.path.insert(0, str(HERE.parents[1]))  # the repository root, for planner
from planner.inputs import read_facilities

import planner

CSV = HERE / "facilities_amap_gcj02_gbk.csv"
KIND_MAP = {
    "养老服务驿站": "eldercare",
    "日间照料中心": "eldercare",
    "托育机构": "nursery",
    "老年助餐点": "meal_site",
    "儿童之家": "childrens_home",
}


def read(coord_system: str):
    f = read_facilities(
        CSV,
        kind_column="类型",
        kind_map=KIND_MAP,
        coord_system=coord_system,
        encoding="gbk",
        lon_column="经度",
        lat_column="纬度",
        name_column="名称",
        capacity_column="容量",
        id_column="编号",
        merge_within_m=None,
    )
    return f.to_crs(CRS)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    print(f"planner from {planner.__file__}")
    net = planner.WalkNetwork.from_osm_file(HERE / "wudaokou_2017.osm.bz2", crs=CRS, use_cache=False)
    good, raw = read("gcj02"), read("wgs84")
    s_good = net.snap(good.geometry, max_snap_m=300)
    s_raw = net.snap(raw.geometry, max_snap_m=300)
    shift = shapely.distance(good.geometry.to_numpy(), raw.geometry.to_numpy())
    dx = raw.geometry.x.to_numpy() - good.geometry.x.to_numpy()
    dy = raw.geometry.y.to_numpy() - good.geometry.y.to_numpy()
    inside = shapely.contains(bounds_polygon(), raw.geometry.to_numpy())
    print(f"{len(good)} facilities; kinds {good['kind'].value_counts().to_dict()}")
    print(
        f"converted (gcj02 -> WGS-84): access leg median {np.median(s_good.access_m):.1f} m, "
        f"max {s_good.access_m.max():.1f} m, all within 300 m: {bool(s_good.ok.all())}"
    )
    print(
        f"unconverted (read as WGS-84): access leg median {np.median(s_raw.access_m):.1f} m, "
        f"max {s_raw.access_m.max():.1f} m, beyond 300 m: {int((~s_raw.ok).sum())}, "
        f"outside the export bounds: {int((~inside).sum())}"
    )
    print(
        f"displacement unconverted vs converted: median {np.median(shift):.0f} m "
        f"(min {shift.min():.0f}, max {shift.max():.0f}); mean shift east {dx.mean():.0f} m, north {dy.mean():.0f} m"
    )
    # distance to the OSM street that the address names (北京市海淀区<street>（…）)
    ways = read_ways()
    streets = [re.match(r"北京市海淀区(.+?)（", a).group(1) for a in good["地址"]]
    named = {
        n: shapely.union_all(
            ways.geometry[ways["tags"].map(lambda t, n=n: "highway" in t and t.get("name") == n)].to_numpy()
        )
        for n in sorted(set(streets))
    }
    d_good = np.array([named[n].distance(p) for n, p in zip(streets, good.geometry, strict=True)])
    d_raw = np.array([named[n].distance(p) for n, p in zip(streets, raw.geometry, strict=True)])
    print(
        f"distance to the street named in the address: converted median {np.median(d_good):.1f} m "
        f"(max {d_good.max():.1f}); unconverted median {np.median(d_raw):.0f} m (min {d_raw.min():.0f}, max {d_raw.max():.0f})"
    )
    same = (s_good.node == s_raw.node).sum()
    print(f"facilities snapped to the same node both ways: {same} of {len(good)}")
    units = gpd.read_file(HERE / "units.geojson").to_crs(CRS)
    hit = gpd.sjoin(good[["geometry"]], units[["community", "geometry"]], how="left", predicate="within")
    community = hit["community"].groupby(level=0).first().reindex(good.index).fillna("（范围外）")
    for i, fid in enumerate(good.index):
        print(
            f"  {fid} {good['name'].iloc[i]} [{community.iloc[i]}]: access {s_good.access_m[i]:.1f} m converted, "
            f"{s_raw.access_m[i]:.1f} m unconverted, displaced {shift[i]:.0f} m, "
            f"{d_raw[i]:.0f} m from {streets[i]} unconverted"
        )


if __name__ == "__main__":
    main()
