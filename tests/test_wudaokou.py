"""The Chinese example study (Wudaokou, Haidian, Beijing): real OSM streets, a GBK/GCJ-02 facility list.

The datum is what this study is about: read as declared (GCJ-02, converted), the facilities sit on
the streets their addresses name; read as WGS-84 (the usual mistake) they land about 540 m away.
"""

from __future__ import annotations

import re
import tomllib

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import REPO, networkx_minutes, osmnx_graph

import planner as pl
from planner.cli import main
from planner.i18n import CSV_HEADERS_ZH, display_width, english_columns
from planner.io import datums
from planner.pipeline import datum_hint

WDK = REPO / "data" / "beijing_wudaokou"
STUDY = WDK / "study.toml"
CRS = "EPSG:32650"


@pytest.fixture(scope="module")
def study() -> pl.StudyArea:
    return pl.StudyArea.from_toml(STUDY)


@pytest.fixture(scope="module")
def graph():
    return osmnx_graph(WDK / "wudaokou_2017.osm.bz2")


@pytest.fixture(scope="module")
def plain_network() -> pl.WalkNetwork:
    """The streets as OSM draws them (no split segments), for an exact reference."""
    return pl.WalkNetwork.from_osm_file(
        WDK / "wudaokou_2017.osm.bz2", crs=CRS, max_edge_m=None, use_cache=False
    )


def read_as(study: pl.StudyArea, coord_system: str) -> gpd.GeoDataFrame:
    options = {**study.facilities_options, "coord_system": coord_system, "merge_within_m": None}
    return pl.read_facilities(study.facilities_path, **options).to_crs(CRS)


def named_streets(graph, addresses: pd.Series) -> list[shapely.Geometry]:
    """For each address 北京市海淀区<street>（…）, the OSM edges carrying that street name (osmnx's reading)."""
    import osmnx as ox

    edges = ox.graph_to_gdfs(ox.project_graph(graph, to_crs=CRS), nodes=False)
    names = edges["name"].map(lambda n: n if isinstance(n, list) else [n])
    out = []
    for address in addresses:
        street = re.match(r"北京市海淀区(.+?)（", address).group(1)
        out.append(shapely.union_all(edges.geometry[names.map(lambda ns, s=street: s in ns)].to_numpy()))
    return out


def test_the_study_is_what_its_readme_says(study):
    pop = study.read_population()
    assert len(pop) == 118
    assert pop["population"].sum() == pytest.approx(71_883.3, abs=0.5)
    for col in ("age_60_plus", "age_0_3", "age_0_17"):
        assert (pop[col] <= pop["population"] + 1e-9).all()
    # age groups are Haidian's 2020 census shares of the non-student residents (students: no group)
    census = pd.read_csv(WDK / "haidian_census_2020.csv").iloc[0]
    share_60 = census["AGES_60-64"] + census["AGES_65P"]  # 0.0539 + 0.1306
    assert pop["age_60_plus"].sum() == pytest.approx(share_60 * 26_783, rel=1e-3)  # 26,783 non-students
    assert study.lang == "zh"
    fac = study.read_facilities()
    assert fac["kind"].value_counts().to_dict() == {
        "eldercare": 3, "nursery": 4, "meal_site": 4, "childrens_home": 4, "daycare": 2,
    }  # fmt: skip
    assert fac["name"].str.endswith("（示例）").all()  # illustrative, and says so


def test_converted_facilities_sit_on_the_streets_they_name(study, graph, plain_network):
    good, raw = read_as(study, "gcj02"), read_as(study, "wgs84")
    streets = named_streets(graph, good["地址"])
    to_named = np.array([s.distance(p) for s, p in zip(streets, good.geometry, strict=True)])
    raw_to_named = np.array([s.distance(p) for s, p in zip(streets, raw.geometry, strict=True)])
    # converted: every facility within 20 m of its street (placed 10-15 m off it), median leg small
    assert to_named.max() <= 20.0
    assert np.median(plain_network.snap(good.geometry).access_m) <= 25.0
    # unconverted: hundreds of metres from the named street, ~540 m from the right place
    assert np.median(raw_to_named) >= 200.0
    shift = shapely.distance(good.geometry.to_numpy(), raw.geometry.to_numpy())
    assert 500.0 <= shift.min() <= shift.max() <= 600.0


def test_declared_wgs84_gives_a_datum_hint_with_the_figures(study, plain_network):
    hint = datum_hint(plain_network, read_as(study, "wgs84"))
    assert hint is not None
    assert "gcj02" in hint.lower().replace("-", "")
    assert re.search(r"\d+ m", hint)  # says how far, in metres
    assert datum_hint(plain_network, read_as(study, "gcj02")) is None  # the right datum: no hint


def test_bd09_file_declared_gcj02_gives_a_hint(study, plain_network, tmp_path):
    wgs = read_as(study, "gcj02").to_crs(4326)
    lon, lat = datums.wgs84_to_bd09(wgs.geometry.x.to_numpy(), wgs.geometry.y.to_numpy())
    path = tmp_path / "baidu.csv"
    pd.DataFrame({"名称": wgs["name"], "类型": wgs["kind"], "经度": lon, "纬度": lat}).to_csv(
        path, index=False
    )
    fac = pl.read_facilities(path, kind_column="类型", coord_system="gcj02", merge_within_m=None)
    hint = datum_hint(plain_network, fac)
    assert hint is not None
    assert "bd09" in hint.lower().replace("-", "")


def test_eldercare_minutes_agree_with_networkx(study, graph, plain_network):
    pop = study.read_population()
    fac = read_as(study, "gcj02")
    kind = study.kinds["eldercare"]
    fac = fac[fac["kind"] == "eldercare"]
    cov = pl.compute_coverage(plain_network, pop, fac, kinds={"eldercare": kind}, thresholds_min=(15,))
    expected = networkx_minutes(
        graph, pop.to_crs(CRS), fac, speed_kmh=kind.speed_kmh, limit_min=15.0, crs=CRS
    )
    got = cov.minutes["eldercare"].to_numpy()
    assert np.array_equal(np.isinf(got), np.isinf(expected))
    assert np.isfinite(got).sum() > 50
    np.testing.assert_allclose(got[np.isfinite(got)], expected[np.isfinite(expected)], rtol=1e-9, atol=1e-6)


def test_run_says_how_far_the_points_moved(tmp_path, capsys):
    out = tmp_path / "wudaokou"
    assert main(["run", str(STUDY), "--out", str(out), "--lang", "en"]) == 0
    text = capsys.readouterr().out
    line = next(ln for ln in text.splitlines() if "converted from GCJ-02" in ln)
    moved = float(re.search(r"moved ([\d,]+) m on average", line).group(1).replace(",", ""))
    assert 500 <= moved <= 600
    record = tomllib.loads((out / "run.toml").read_text(encoding="utf-8"))
    assert record["facilities_datum_shift"]["from"] == "gcj02"
    assert record["facilities_datum_shift"]["moved"] == 17
    assert record["facilities_datum_shift"]["mean_m"] == pytest.approx(moved, abs=0.5)


def test_targets_units_agree_with_the_unit_polygons(tmp_path):
    """Children's homes per community: planner's count equals an independent polygon join."""
    study = pl.StudyArea.from_toml(STUDY)
    result = pl.run_study(study, siting=False)
    table = result.targets.table
    row = table[(table["kind"] == "childrens_home") & (table["scope"] == "(all)")].iloc[0]
    units = gpd.read_file(WDK / "units.geojson").to_crs(CRS)
    fac = result.inputs.facilities
    homes = fac[fac["kind"] == "childrens_home"].to_crs(CRS)
    held = gpd.sjoin(homes, units[["community", "geometry"]], predicate="within")["community"].nunique()
    assert row["current"] == pytest.approx(held / len(units))
    assert row["needed"] == len(units) - held


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_the_gbk_list_read_with_another_encoding_is_named_mojibake(study, encoding, tmp_path, capsys):
    options = {**study.facilities_options, "encoding": encoding}
    with pytest.raises(pl.InputError, match=r"GBK.*编号,名称,类型.*mojibake") as err:
        pl.read_facilities(study.facilities_path, **options)
    assert "facilities_amap_gcj02_gbk.csv" in str(err.value)
    # the command line: one line, nothing written; in the study's language (zh), or --lang en
    out = tmp_path / "out"
    assert main(["run", str(STUDY), "--out", str(out), "--encoding", encoding]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("planner: 错误: 设施文件")
    assert "乱码" in err
    assert "facilities_amap_gcj02_gbk.csv" in err
    assert main(["run", str(STUDY), "--out", str(out), "--encoding", encoding, "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("planner: error: facilities file")
    assert "mojibake" in err
    assert not out.exists()


def test_chinese_run_tables_and_files(tmp_path, capsys):
    """lang = "zh": Chinese tables (aligned), Chinese CSV headers that map back to planner's names."""
    zh, en = tmp_path / "zh", tmp_path / "en"
    assert main(["run", str(STUDY), "--out", str(zh)]) == 0
    text = capsys.readouterr().out
    assert main(["run", str(STUDY), "--out", str(en), "--lang", "en"]) == 0
    capsys.readouterr()
    assert "各类设施服务对象的步行可达比例" in text
    assert "已写出" in text
    # the coverage table: Chinese labels, every row as wide as the header (columns aligned)
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("设施类型"))
    table = lines[start : start + 6]
    assert [ln.split()[0] for ln in table[1:]] == [
        "养老服务驿站",
        "日间照料中心",
        "托育机构",
        "老年助餐点",
        "儿童之家",
    ]
    assert len({display_width(ln) for ln in table}) == 1
    for words in ("一刻钟居家养老服务圈", "尚需", "张床位"):
        assert words in text
    for name in ("summary.csv", "sites.csv", "targets.csv", "siting_summary.csv", "blank_zones.csv"):
        zh_table = pd.read_csv(zh / name, encoding="utf-8-sig")
        en_table = pd.read_csv(en / name, encoding="utf-8-sig")
        assert all(re.search(r"[\u4e00-\u9fff]", c) for c in zh_table.columns), name
        assert english_columns(zh_table.columns) == list(en_table.columns), name
        numbers = en_table.select_dtypes("number").columns.drop("seconds", errors="ignore")  # solver time
        renamed = zh_table.set_axis(english_columns(zh_table.columns), axis=1)
        pd.testing.assert_frame_equal(renamed[numbers], en_table[numbers], check_dtype=False)
    # a Chinese sites.csv reads back as the same sites
    study = pl.StudyArea.from_toml(STUDY)
    a = pl.read_added(zh / "sites.csv", kinds=study.kinds, crs=CRS)
    b = pl.read_added(en / "sites.csv", kinds=study.kinds, crs=CRS)
    assert list(a["kind"]) == list(b["kind"]) == ["eldercare", "eldercare"]
    assert shapely.equals_exact(a.geometry.to_numpy(), b.geometry.to_numpy(), tolerance=0).all()


def test_chinese_csv_headers_are_one_to_one():
    """Every Chinese header names one column, so a Chinese CSV reads back unambiguously."""
    zh = list(CSV_HEADERS_ZH.values())
    assert len(zh) == len(set(zh))
    assert english_columns(zh) == list(CSV_HEADERS_ZH)
