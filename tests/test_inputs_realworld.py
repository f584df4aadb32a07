"""Real-world inputs: Chinese datums, encodings, Excel, shapefile .cpg and a table of bad inputs."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import DATA, UTM, lattice_network, points
from shapely.geometry import Point, Polygon, box

import planner as pl
from planner.io import datums
from planner.io.boundaries import check_in_area
from planner.io.files import _looks_mojibake

RW = DATA / "realworld"
WGS_LON = np.array([120.620, 120.630, 120.600])
WGS_LAT = np.array([31.300, 31.310, 31.290])


def _err_m(gdf: gpd.GeoDataFrame) -> np.ndarray:
    return datums.haversine_m(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), WGS_LON, WGS_LAT)


# ---------------------------------------------------------------- datums on load
def test_gcj02_gbk_csv_with_chinese_columns(caplog):
    caplog.set_level("INFO")
    f = pl.read_facilities(RW / "facilities_gcj02_gbk.csv", coord_system="gcj02", kind_column="类型",
                           id_column="编号", merge_within_m=None)  # fmt: skip
    assert f.crs.to_epsg() == 4326
    assert _err_m(f).max() < 0.05  # fixture rounded to 1e-7 degree
    assert f["name"].tolist()[0] == "姑苏区养老服务中心"  # GBK detected, 名称 used as name
    assert f.index.tolist() == ["A1", "A2", "A3"]
    assert "read it as GBK" in caplog.text
    assert "converted 3 points from GCJ02 to WGS-84; 3 moved, mean shift" in caplog.text


def test_gcj02_left_unconverted_is_hundreds_of_metres_off():
    f = pl.read_facilities(RW / "facilities_gcj02_gbk.csv", kind_column="类型", merge_within_m=None)
    assert (_err_m(f) > 250).all()
    assert (_err_m(f) < 650).all()


def test_bd09_excel_with_user_columns(caplog):
    caplog.set_level("INFO")
    f = pl.read_facilities(RW / "facilities_bd09.xlsx", coord_system="bd09", lon_column="x_bd",
                           lat_column="y_bd", merge_within_m=None)  # fmt: skip
    assert _err_m(f).max() < 0.05
    assert "from BD09 to WGS-84" in caplog.text
    assert f["kind"].tolist() == ["eldercare", "nursery", "eldercare"]


def test_points_outside_china_are_left_unchanged(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("kind,lon,lat\nnursery,-15.43,28.12\nnursery,120.62,31.30\n", encoding="utf-8")
    f = pl.read_facilities(p, coord_system="gcj02", merge_within_m=None)
    assert (f.geometry.x.iloc[0], f.geometry.y.iloc[0]) == (-15.43, 28.12)
    assert f.geometry.x.iloc[1] != 120.62


def test_gcj02_polygons_are_converted_vertex_by_vertex(tmp_path):
    p = tmp_path / "pop.geojson"
    cell = box(120.62, 31.30, 120.621, 31.301)
    gpd.GeoDataFrame({"population": [5.0]}, geometry=[cell], crs=4326).to_file(p)
    pop = pl.read_population(p, coord_system="gcj02")
    xy = np.asarray(pop.geometry.iloc[0].exterior.coords)
    lon, lat = datums.gcj02_to_wgs84(*np.asarray(cell.exterior.coords).T)
    np.testing.assert_allclose(xy, np.column_stack([lon, lat]), atol=1e-9)


@pytest.mark.parametrize(("coord_system", "epsg"), [("wgs84", 4326), ("cgcs2000", 4490),
                                                    ("EPSG:4490", 4490), (32650, 32650)])  # fmt: skip
def test_declared_crs_for_csv(tmp_path, coord_system, epsg):
    p = tmp_path / "f.csv"
    xy = "500000,3460000" if epsg == 32650 else "120.62,31.30"
    p.write_text(f"kind,x,y\nnursery,{xy}\n", encoding="utf-8")
    f = pl.read_facilities(p, coord_system=coord_system, lon_column="x", lat_column="y")
    assert f.crs.to_epsg() == epsg


def test_coord_system_supplies_a_missing_crs(tmp_path):
    p = tmp_path / "f.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        gpd.GeoDataFrame({"kind": ["n"]}, geometry=[Point(120.62, 31.30)]).to_file(p)
    assert pl.read_facilities(p, coord_system="cgcs2000").crs.to_epsg() == 4490


def test_study_toml_passes_coord_system_and_encoding(tmp_path):
    study = tmp_path / "study.toml"
    study.write_text(
        '[network]\npath = "net.osm"\n[population]\npath = "pop.gpkg"\n'
        f'[facilities]\npath = "{(RW / "facilities_gcj02_gbk.csv").as_posix()}"\n'
        'coord_system = "gcj02"\nencoding = "gbk"\nkind_column = "类型"\nname_column = "名称"\n'
        'lon_column = "经度"\nlat_column = "纬度"\nmerge_within_m = 0\n',
        encoding="utf-8",
    )
    f = pl.StudyArea.from_toml(study).read_facilities()
    assert _err_m(f).max() < 0.05
    assert f["name"].iloc[1] == "平江街道托育园"


# ---------------------------------------------------------------- encodings
def test_shapefile_honours_cpg():
    f = pl.read_facilities(RW / "facilities_gbk.shp", merge_within_m=None)
    assert f["name"].tolist()[1] == "平江街道托育园"


def test_shapefile_without_cpg_warns_mojibake_and_encoding_fixes_it():
    with pytest.warns(
        UserWarning, match=r"column 'name' looks mis-decoded \(mojibake\).*--encoding gbk.*\.cpg"
    ):
        pl.read_facilities(RW / "facilities_gbk_nocpg.shp", merge_within_m=None)
    f = pl.read_facilities(RW / "facilities_gbk_nocpg.shp", encoding="gbk", merge_within_m=None)
    assert f["name"].tolist()[0] == "姑苏区养老服务中心"


def test_utf8_csv_with_bom_and_explicit_encoding(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("kind,名称,经度,纬度\nnursery,托育园,120.62,31.30\n", encoding="utf-8-sig")
    assert pl.read_facilities(p)["name"].iloc[0] == "托育园"
    p.write_text("kind,名称,经度,纬度\nnursery,托育园,120.62,31.30\n", encoding="gbk")
    assert pl.read_facilities(p, encoding="gb18030")["name"].iloc[0] == "托育园"


def test_mojibake_in_csv_is_warned(tmp_path):
    p = tmp_path / "f.csv"
    garbled = "托育园".encode("gbk").decode("latin-1")
    p.write_text(
        f"kind,name,lon,lat\nnursery,{garbled},120.62,31.30\nnursery,ok,120.63,31.31\n", encoding="utf-8"
    )
    with pytest.warns(UserWarning, match=r"'name'.*rows \[2\]"):
        pl.read_facilities(p, merge_within_m=None)


@pytest.mark.parametrize("text", ["Escuela Infantil Bambi", "Guardería Sol", "Café Müller", "姑苏区", ""])
def test_ordinary_text_is_not_mojibake(text):
    assert not _looks_mojibake(text)


# ---------------------------------------------------------------- the table of bad inputs
def _csv(tmp_path, text, encoding="utf-8"):
    p = tmp_path / "in.csv"
    p.write_bytes(text.encode(encoding))
    return p


def _gpkg(tmp_path, geoms, crs=UTM, **cols):
    p = tmp_path / "in.gpkg"
    gpd.GeoDataFrame(cols, geometry=geoms, crs=crs).to_file(p)
    return p


def _bowtie(tmp_path):
    bow = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    return _gpkg(tmp_path, [bow, box(20, 0, 30, 10)], population=[1.0, 2.0])


BAD = [
    # (id, reader, make file, reader options, expected InputError message)
    (
        "swapped-csv",
        "fac",
        lambda t: _csv(t, "kind,lon,lat\nn,31.30,120.62\n"),
        {},
        r"rows \[2\].*swapped: lat holds longitudes",
    ),
    (
        "swapped-vector",
        "fac",
        lambda t: _gpkg(t, [Point(31.3, 120.62)], crs=4326, kind=["n"]),
        {},
        r"rows \[0\].*outside the valid range.*swap",
    ),
    (
        "no-numeric-coords",
        "fac",
        lambda t: _csv(t, "kind,lon,lat\nn,120.6,31.3\nn,,31.3\n"),
        {},
        r"rows \[3\] have no numeric lon/lat",
    ),
    (
        "missing-coord-columns",
        "fac",
        lambda t: _csv(t, "kind,东,北\nn,120.6,31.3\n"),
        {},
        r"missing column\(s\) \['lon', 'lat'\].*--lon-col/--lat-col",
    ),
    (
        "unknown-coord-system",
        "fac",
        lambda t: _csv(t, "kind,lon,lat\nn,120.6,31.3\n"),
        {"coord_system": "wgs-72x"},
        r"coord_system 'wgs-72x' is not known.*gcj02",
    ),
    (
        "gcj-on-projected-file",
        "fac",
        lambda t: _gpkg(t, [Point(457000, 3110000)], kind=["n"]),
        {"coord_system": "gcj02"},
        r"projected CRS.*coord_system is 'gcj02'",
    ),
    (
        "declared-crs-disagrees",
        "fac",
        lambda t: _gpkg(t, [Point(457000, 3110000)], kind=["n"]),
        {"coord_system": "EPSG:32650"},
        r"declares CRS EPSG:32628 but coord_system says EPSG:32650",
    ),
    (
        "wrong-encoding",
        "fac",
        lambda t: _csv(t, "kind,名称,lon,lat\nn,托育,120.6,31.3\n", "gbk"),
        {"encoding": "utf-8"},
        r"not valid utf-8 \(line 1\).*--encoding",
    ),
    (
        "unknown-encoding",
        "fac",
        lambda t: _csv(t, "kind,lon,lat\nn,120.6,31.3\n"),
        {"encoding": "klingon"},
        r"unknown encoding 'klingon'",
    ),
    (
        "duplicate-ids",
        "fac",
        lambda t: _csv(t, "id,kind,lon,lat\na,n,120.6,31.3\nb,n,120.7,31.3\na,n,120.8,31.3\n"),
        {"id_column": "id"},
        r"duplicate ids \[a\] in column 'id', rows \[2, 4\]",
    ),
    ("no-crs", "pop", lambda t: _no_crs(t), {}, r"has no CRS.*--population-coord-system"),
    (
        "negative-population",
        "pop",
        lambda t: _csv(t, "cell_id,population,lon,lat\na,5,120.6,31.3\nb,-2,120.7,31.3\n"),
        {},
        r"negative",
    ),
    (
        "overlapping-cells",
        "pop",
        lambda t: _gpkg(
            t, [box(0, 0, 100, 100), box(50, 0, 150, 100), box(100, 0, 200, 100)], population=[1.0, 2.0, 3.0]
        ),
        {},
        r"2 pairs of overlapping cells \[0/1, 1/2\].*counted twice",
    ),
    ("all-empty", "pop", lambda t: _gpkg(t, [None], population=[1.0]), {}, r"every geometry is empty"),
    ("not-a-format", "fac", lambda t: _write(t / "f.dbf2", "x"), {}, r"unknown type '.dbf2'.*Excel"),
]


def _write(p, text):
    p.write_text(text)
    return p


def _no_crs(tmp_path):
    p = tmp_path / "in.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        gpd.GeoDataFrame({"population": [1.0]}, geometry=[Point(1, 1)]).to_file(p)
    return p


@pytest.mark.parametrize(
    ("reader", "make", "options", "match"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_input_table(tmp_path, reader, make, options, match):
    path = make(tmp_path)
    read = pl.read_facilities if reader == "fac" else pl.read_population
    with pytest.raises(pl.InputError, match=match):
        read(path, **options)


def test_cells_touching_along_edges_are_fine(tmp_path):
    p = _gpkg(tmp_path, [box(0, 0, 100, 100), box(100, 0, 200, 100)], population=[1.0, 2.0])
    assert len(pl.read_population(p)) == 2


def test_invalid_polygon_repaired_with_make_valid_and_counted(tmp_path, caplog):
    pop = pl.read_population(_bowtie(tmp_path))
    assert "repaired 1 invalid geometries with make_valid" in caplog.text
    assert pop.geometry.is_valid.all()
    assert pop.geometry.iloc[0].area == pytest.approx(50.0)  # buffer(0) would keep only 25


def test_empty_and_null_geometries_dropped_and_counted(tmp_path, caplog):
    p = _gpkg(tmp_path, [Point(0, 0), None, Point()], kind=["n", "n", "n"])
    assert len(pl.read_facilities(p)) == 1
    assert "dropped 2 rows with empty geometry" in caplog.text


def test_points_outside_area_suggest_wrong_datum(tmp_path):
    f = pl.read_facilities(
        RW / "facilities_bd09.xlsx", lon_column="x_bd", lat_column="y_bd", merge_within_m=None
    )
    area = gpd.GeoSeries(gpd.points_from_xy(WGS_LON, WGS_LAT), crs=4326).to_crs(32651)
    minx, miny, maxx, maxy = area.total_bounds
    with pytest.raises(pl.InputError, match=r"of 3 rows lie outside.*datum.*--coord-system"):
        check_in_area(f, 32651, (minx - 100, miny - 100, maxx + 100, maxy + 100), what="facilities")


# ---------------------------------------------------------------- properties
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

china = st.tuples(st.floats(73.0, 135.0), st.floats(18.0, 53.0))


@hypothesis.settings(max_examples=50, deadline=None)
@hypothesis.given(china, st.sampled_from(["gcj02", "bd09"]))
def test_conversion_round_trips_through_the_reader(tmp_path_factory, lonlat, datum):
    lon, lat = lonlat
    fwd = datums.wgs84_to_gcj02 if datum == "gcj02" else datums.wgs84_to_bd09
    x, y = fwd(lon, lat)
    p = tmp_path_factory.mktemp("rt") / "f.csv"
    p.write_text(f"kind,lon,lat\nn,{float(x)!r},{float(y)!r}\n", encoding="utf-8")
    f = pl.read_facilities(p, coord_system=datum)
    assert datums.haversine_m(f.geometry.x.iloc[0], f.geometry.y.iloc[0], lon, lat) < 0.01


xy = st.tuples(st.floats(-50, 550), st.floats(-50, 550))


@hypothesis.settings(max_examples=40, deadline=None)
@hypothesis.given(st.lists(xy, min_size=0, max_size=4), xy, st.integers(0, 2**16))
def test_coverage_never_decreases_when_a_facility_is_added(existing, new, seed):
    net = lattice_network(6)
    rng = np.random.default_rng(seed)
    cells = points(rng.uniform(0, 500, (25, 2)), population=rng.integers(0, 100, 25).astype(float))
    kinds = {"n": pl.FacilityKind("n", "population", speed_kmh=3.6, threshold_min=5)}
    before_fac = points(existing or [(10_000.0, 10_000.0)], kind=["n"] * max(len(existing), 1))
    after_fac = pd.concat([before_fac, points([new], kind=["n"])], ignore_index=True)
    opts = {"kinds": kinds, "thresholds_min": (2, 5), "max_snap_m": 20_000.0}
    before = pl.compute_coverage(net, cells, before_fac, **opts)
    after = pl.compute_coverage(net, cells, after_fac, **opts)
    assert (after.minutes["n"].to_numpy() <= before.minutes["n"].to_numpy() + 1e-9).all()
    for t in (2, 5):
        share_before, share_after = before.share("n", t), after.share("n", t)
        if np.isfinite(share_before):
            assert share_after >= share_before - 1e-12
