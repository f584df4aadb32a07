"""Rebuild population_grid_100m.gpkg: a MODELLED (模拟) residential population on a 100 m grid.

Not a census product. Residents are placed in the OSM (2017) residential buildings of the
Wudaokou box from their floor area; age groups use Haidian District's 2020 census shares.
Run from anywhere (after make_units.py, whose units.geojson gives the community/street):

    python data/beijing_wudaokou/make_population.py

Reads only files in this folder (wudaokou_2017.osm.bz2, haidian_census_2020.csv,
units.geojson); deterministic; writes atomically. The model and every parameter below
are explained, with sources, in README.md. Data: © OpenStreetMap contributors, ODbL 1.0.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from _osm import CRS, HERE, bounds_polygon, read_ways, replace_atomically, tmp_path

CELL_M = 100.0
MIN_FOOTPRINT_M2 = 20.0

# Residential floor area (gross, m²) per resident.
M2_PER_PERSON = 33.0  # Beijing urban per-capita housing floor area, late 2010s (README: source)
M2_PER_STUDENT = 10.0  # student dormitory floor area per student (README: source)

# Which buildings are residential (README: "Which buildings"):
RES_TYPES = {"residential", "apartments", "house", "dormitory"}  # rule A
NUMBERED_BLOCK = re.compile(r"\d+号楼|^西南\d+$|^[东南]\d+楼$|^\d+公寓$")  # rule C, for building=yes
# Student dormitories besides building=dormitory: the bare numbered blocks "N号楼" inside the
# Tsinghua outline (Tsinghua's student housing blocks 1–33号楼; OSM tags one of them, 30号楼, dormitory).
STUDENT_BLOCK = re.compile(r"^\d+号楼[东西]?$")
TSINGHUA = 30663333  # amenity=university 清华大学
NOT_RESIDENTIAL_KEYS = ("amenity", "shop", "office", "tourism", "leisure", "craft", "healthcare")

# Storeys where building:levels is not tagged (only 11 of 529 buildings carry it, none residential).
DEFAULT_LEVELS = {"residential": 6, "apartments": 6, "dormitory": 6, "house": 2, "yes": 6}
NAMED_LEVELS = [  # (name pattern, storeys, reason)
    (re.compile(r"^蓝旗营"), 16, "蓝旗营 compound: high-rise slab towers (assumed 16 storeys)"),
    (re.compile(r"小楼"), 2, "燕东园 '小楼' (small house): two-storey villas"),
]
# OSM polygons that outline a whole compound rather than one building, and landuse=residential
# areas with no residential footprint mapped inside: floor area = land area × plot ratio (容积率).
PLOT_RATIO = {  # way id: (plot ratio, reason), all assumptions
    409368388: (0.6, "普吉院: outline of a one-storey courtyard quarter"),
    226671071: (0.6, "胜因院: outline of a quarter of two-storey villas"),
    226671070: (1.5, "专家公寓: outline of a low-rise apartment group"),
    473654608: (3.0, "华清嘉园小区: high-rise compound, no footprints in OSM 2017"),
    255748954: (0.8, "西院: low-rise staff quarter, no footprints in OSM 2017"),
}

CENSUS = HERE / "haidian_census_2020.csv"
CENSUS_CODE = 110108  # 海淀区
OUTSIDE = None  # community/street of a cell whose centre is in no unit: empty, so it counts in no unit (README: Units)
LAYER = "population"
DESCRIPTION = (
    "模拟人口 / MODELLED residential population, not census data: OSM 2017 residential "
    "floor area / 33 m2 per person (dormitories 10 m2), Haidian 2020 census age shares; "
    "see README.md. (c) OpenStreetMap contributors, ODbL 1.0"
)
FIXED_DATE = "2017-06-24T00:00:00Z"  # GeoPackage timestamps: the OSM file's newest object, so reruns match


def age_shares(path=CENSUS, code=CENSUS_CODE) -> dict[str, float]:
    """The formulas of planner.inputs.age_shares_from_census (single years spread evenly in a band)."""
    df = pd.read_csv(path)
    r = df.loc[df["CODE"] == code].iloc[0]
    return {
        "age_60_plus": float(r["AGES_60-64"] + r["AGES_65P"]),
        "age_0_3": float(r["AGES_0"] + 0.75 * r["AGES_1-4"]),
        "age_0_17": float(r["AGES_0-14"] + 0.6 * r["AGES_15-19"]),
    }


def study_cells() -> gpd.GeoDataFrame:
    """Every 100 m cell (aligned to multiples of 100 m) whose centre lies in the export bounds."""
    box = bounds_polygon()
    x0, y0, x1, y1 = (np.floor(np.array(box.bounds) / CELL_M) * CELL_M).tolist()
    xs, ys = np.meshgrid(np.arange(x0, x1 + CELL_M, CELL_M), np.arange(y0, y1 + CELL_M, CELL_M))
    xs, ys = xs.ravel(), ys.ravel()
    keep = shapely.contains_xy(box, xs + CELL_M / 2, ys + CELL_M / 2)
    xs, ys = xs[keep], ys[keep]
    ids = [f"E{int(x)}N{int(y)}" for x, y in zip(xs, ys, strict=True)]
    return gpd.GeoDataFrame({"cell_id": ids}, geometry=shapely.box(xs, ys, xs + CELL_M, ys + CELL_M), crs=CRS)


def residential_buildings(ways: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Residential footprints with their storeys, floor area and residents."""
    tags = ways["tags"]
    poly = ways[ways.geometry.geom_type == "Polygon"]
    landuse_res = poly[tags[poly.index].map(lambda t: t.get("landuse") == "residential")]
    campus = ways.loc[ways["osm_id"] == TSINGHUA].geometry.iloc[0]
    rows = []
    for w in poly.itertuples():
        t = w.tags
        btype = t.get("building")
        if btype is None or any(k in t for k in NOT_RESIDENTIAL_KEYS):
            continue
        name = t.get("name", "")
        if btype in RES_TYPES:
            rule = "A: building type"
        elif btype == "yes" and landuse_res.geometry.contains(w.geometry.representative_point()).any():
            rule = "B: building=yes in landuse=residential"
        elif btype == "yes" and NUMBERED_BLOCK.search(name):
            rule = "C: building=yes named as a numbered housing block"
        else:
            continue
        student = btype == "dormitory" or bool(
            STUDENT_BLOCK.match(name) and campus.contains(w.geometry.representative_point())
        )
        rows.append(
            {
                "osm_id": w.osm_id,
                "building": btype,
                "name": name,
                "rule": rule,
                "dormitory": student,
                "levels_tag": t.get("building:levels"),
                "geometry": w.geometry,
            }
        )
    b = gpd.GeoDataFrame(rows, crs=CRS)
    b["footprint_m2"] = b.geometry.area
    b = b[b["footprint_m2"] >= MIN_FOOTPRINT_M2].copy()

    levels, how = [], []
    for r in b.itertuples():
        tagged = pd.to_numeric(r.levels_tag, errors="coerce")
        named = next(((n, why) for pat, n, why in NAMED_LEVELS if pat.search(r.name)), None)
        if r.osm_id in PLOT_RATIO:
            levels.append(np.nan)
            how.append("plot ratio: " + PLOT_RATIO[r.osm_id][1])
        elif np.isfinite(tagged) and 1 <= tagged <= 60:
            levels.append(float(tagged))
            how.append("building:levels tag")
        elif named is not None:
            levels.append(float(named[0]))
            how.append(named[1])
        else:
            levels.append(float(DEFAULT_LEVELS[r.building]))
            how.append(f"default for building={r.building}")
    b["levels"] = levels
    b["levels_source"] = how
    ratio = b["osm_id"].map(lambda i: PLOT_RATIO.get(i, (np.nan,))[0])
    b["floor_m2"] = np.where(ratio.notna(), b["footprint_m2"] * ratio, b["footprint_m2"] * b["levels"])
    b["n_buildings"] = 1
    return b


def empty_residential_areas(ways: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """landuse=residential areas listed in PLOT_RATIO that hold no residential footprint."""
    rows = []
    for way_id, (ratio, why) in PLOT_RATIO.items():
        w = ways.loc[ways["osm_id"] == way_id].iloc[0]
        if w.tags.get("landuse") != "residential":
            continue
        inside = buildings.representative_point().within(w.geometry)
        if inside.any():
            msg = f"way {way_id} has {int(inside.sum())} residential footprints; remove it from PLOT_RATIO."
            raise SystemExit(msg)
        rows.append(
            {
                "osm_id": way_id,
                "building": "(landuse)",
                "name": w.tags.get("name", ""),
                "rule": "D: landuse=residential with no footprint",
                "levels": np.nan,
                "levels_source": "plot ratio: " + why,
                "geometry": w.geometry,
                "ratio": ratio,
            }
        )
    return gpd.GeoDataFrame(rows, crs=CRS)


def main() -> None:
    ways = read_ways()
    cells = study_cells()
    shares = age_shares()

    b = residential_buildings(ways)
    # each footprint goes to the cell holding its representative point; cells outside the study grid drop it
    rp = gpd.GeoDataFrame(b.drop(columns="geometry"), geometry=b.representative_point(), crs=CRS)
    rp = gpd.sjoin(rp, cells, how="inner", predicate="within").drop(columns="index_right")
    # areas without footprints: spread their floor area over the cells they cover, by area
    areas = empty_residential_areas(ways, b)
    pieces = gpd.overlay(areas, cells, how="intersection", keep_geom_type=True)
    pieces["footprint_m2"] = pieces.geometry.area
    pieces["floor_m2"] = pieces["footprint_m2"] * pieces["ratio"]
    pieces["dormitory"] = False
    pieces["n_buildings"] = 0
    parts = pd.concat(
        [rp.drop(columns="geometry"), pieces.drop(columns=["geometry", "ratio"])], ignore_index=True
    )

    per_person = np.where(parts["dormitory"], M2_PER_STUDENT, M2_PER_PERSON)
    parts["population"] = parts["floor_m2"] / per_person
    for col, share in shares.items():
        # students in dormitories are 18+: they add to no age group (README: "Age groups")
        parts[col] = np.where(parts["dormitory"], 0.0, parts["population"] * share)

    cols = ["population", "age_60_plus", "age_0_3", "age_0_17", "n_buildings"]
    grid = parts.groupby("cell_id", sort=True)[cols].sum()
    grid = cells.set_index("cell_id").join(grid, how="inner")
    grid = grid[grid["population"] > 0].reset_index()
    for col in cols[:-1]:
        grid[col] = grid[col].round(2)
    grid["n_buildings"] = grid["n_buildings"].astype("int32")

    units = gpd.read_file(HERE / "units.geojson").to_crs(CRS)
    centres = gpd.GeoDataFrame(geometry=grid.geometry.centroid, crs=CRS)
    hit = gpd.sjoin(centres, units[["community", "street", "geometry"]], how="left", predicate="within")
    hit = hit[~hit.index.duplicated()]
    for col in ("community", "street"):
        grid[col] = hit[col].where(hit[col].notna(), OUTSIDE).to_numpy()
    grid = grid[
        [
            "cell_id",
            "population",
            "age_60_plus",
            "age_0_3",
            "age_0_17",
            "n_buildings",
            "community",
            "street",
            "geometry",
        ]
    ]

    final = HERE / "population_grid_100m.gpkg"
    tmp = tmp_path(final)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_DATE})
    try:
        pyogrio.write_dataframe(
            grid,
            tmp,
            layer=LAYER,
            driver="GPKG",
            layer_options={"DESCRIPTION": DESCRIPTION, "SPATIAL_INDEX": "NO"},
        )
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
    replace_atomically(tmp, final)
    report(b, parts, grid, shares)


def report(b: gpd.GeoDataFrame, parts: pd.DataFrame, grid: gpd.GeoDataFrame, shares: dict) -> None:
    total = grid["population"].sum()
    cells_km2 = len(grid) * CELL_M**2 / 1e6
    box_km2 = bounds_polygon().area / 1e6
    dorm = parts.loc[parts["dormitory"], "population"].sum()
    print("age shares (Haidian 110108): " + ", ".join(f"{k}={v:.6f}" for k, v in shares.items()))
    print(
        f"residential footprints used: {len(b)} ({b['rule'].str[0].value_counts().sort_index().to_dict()}), "
        f"in study cells: {int(parts['n_buildings'].sum())}"
    )
    print(
        f"MODELLED population total: {total:,.0f} (dormitory students {dorm:,.0f}, "
        f"others {total - dorm:,.0f}); 60+ {grid['age_60_plus'].sum():,.0f}, 0-3 {grid['age_0_3'].sum():,.0f}, "
        f"0-17 {grid['age_0_17'].sum():,.0f}"
    )
    print(
        f"cells: {len(grid)} non-empty; per cell mean {total / len(grid):,.0f}, "
        f"median {grid['population'].median():,.0f}, max {grid['population'].max():,.0f} "
        f"({grid.loc[grid['population'].idxmax(), 'cell_id']})"
    )
    print(
        f"density: {total / box_km2:,.0f} per km² over the export box ({box_km2:.2f} km²); "
        f"{total / cells_km2:,.0f} per km² over the non-empty cells ({cells_km2:.2f} km²)"
    )
    by = grid.groupby(["street", "community"])[["population", "age_60_plus", "n_buildings"]].sum().round(0)
    print(by.to_string())


if __name__ == "__main__":
    main()
