"""Reports: words and numbers (en/zh), street names, the report folder (HTML, xlsx, walk areas, CSVs).

The same report is opened and printed in Chromium by tests/test_browser.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from conftest import TINY, UTM
from test_maps import RAW_FRAGMENTS, XSS

import planner as pl
from planner._escape import escape_cell, escape_html
from planner.cli import main
from planner.i18n import english_columns, fmt_people, fmt_share, header, target_label
from planner.io.osm import read_street_names
from planner.places import nearest_street_names

FORMULA = '=HYPERLINK("http://evil.example","click")'


# ---------------------------------------------------------------------- words and numbers
@pytest.mark.parametrize(
    ("x", "lang", "unit", "expected"),
    [
        (73865.86, "en", True, "73,866"),
        (73865.86, "zh", True, "7.39万人"),
        (29743.29, "zh", False, "2.97万"),
        (10000, "zh", True, "1万人"),
        (9999.4, "zh", True, "9999人"),
        (123_456_789, "zh", True, "1.23亿人"),
        (0.4, "zh", True, "0人"),
        (float("nan"), "zh", True, "–"),
    ],
)
def test_fmt_people(x, lang, unit, expected):
    assert fmt_people(x, lang, unit=unit) == expected


def test_fmt_share_header_target_label():
    assert fmt_share(0.50627) == "50.6%"
    assert fmt_share(0.90893, "zh") == "90.9%"
    assert fmt_share(0.0) == "0.0%"
    assert fmt_share(float("inf")) == "–"
    assert header("covered_after", "zh") == "建成后覆盖人数"
    assert header("street", "en") == "Nearest street"
    assert header("not_a_column", "zh") == "not_a_column"
    assert target_label("age_0_3", "zh") == "0–3岁婴幼儿"
    with pytest.raises(ValueError, match="lang must be one of"):
        header("kind", "fr")


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", FORMULA])
def test_escape_cell_neutralises_formulas(text):
    assert escape_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["Schamann", "养老服务设施", "1+1", "a=b", 3, -2.5, None, True])
def test_escape_cell_leaves_the_rest(value):
    assert escape_cell(value) == value


# ---------------------------------------------------------------------- street names
def test_read_street_names_of_the_tiny_network():
    streets = read_street_names(TINY / "network.osm.bz2", UTM)
    assert streets.crs.to_epsg() == 32628
    assert len(streets) > 50
    assert (streets["name"].str.strip() != "").all()
    assert set(shapely.get_type_id(streets.geometry.to_numpy())) == {1}  # LineStrings
    # each street's own midpoint finds that street (or one of the same name crossing it)
    sample = streets.drop_duplicates("name").head(20)
    mid = gpd.GeoSeries(sample.geometry.interpolate(0.5, normalized=True).to_numpy(), crs=UTM)
    names = nearest_street_names(mid, streets, within_m=1.0)
    assert (names.to_numpy() == sample["name"].to_numpy()).mean() >= 0.9


def test_nearest_street_beyond_the_limit_is_a_dash():
    streets = gpd.GeoDataFrame(
        {"name": ["Calle A"]}, geometry=[shapely.LineString([(0, 0), (100, 0)])], crs=UTM
    )
    pts = gpd.GeoSeries(gpd.points_from_xy([50, 50], [149, 151]), crs=UTM)
    assert nearest_street_names(pts, streets).tolist() == ["Calle A", "—"]
    assert nearest_street_names(pts, streets.iloc[:0]).tolist() == ["—", "—"]


# ---------------------------------------------------------------------- a tiny study with hostile names
def write_tiny_study(folder: Path) -> dict[str, Path]:
    """The tiny Las Palmas piece as a study whose every name is a payload; a plan and targets too."""
    folder.mkdir(parents=True, exist_ok=True)
    fac = gpd.read_file(TINY / "facilities.geojson")
    fac["name"] = [XSS[i % len(XSS)] for i in range(len(fac))]
    fac.loc[fac.index[-1], "name"] = FORMULA
    fac.to_file(folder / "facilities.geojson", driver="GeoJSON")
    pop = gpd.read_file(TINY / "population_grid_100m.gpkg")
    x0, y0, x1, y1 = pop.total_bounds
    mid = (x0 + x1) / 2
    districts = gpd.GeoDataFrame(
        {"name": [XSS[0], "东区 Este", "@SUM(1+1)"]},
        geometry=[shapely.box(x0 - 50, y0 - 50, mid, y1 + 50), shapely.box(mid, y0 - 50, x1 + 50, y1 + 50),
                  shapely.box(x1 + 60, y0, x1 + 600, y0 + 500)],  # the third one has no population cell
        crs=pop.crs,
    )  # fmt: skip
    districts.to_file(folder / "districts.geojson", driver="GeoJSON")
    pts = fac.to_crs(4326).geometry
    plan = pd.DataFrame({"kind": "meal_site", "name": [XSS[1], FORMULA], "lon": pts.x.iloc[:2].round(6),
                         "lat": pts.y.iloc[:2].round(6), "year": [2025, 2026]})  # fmt: skip
    plan.to_csv(folder / "plan.csv", index=False)
    (folder / "targets.toml").write_text(
        'by = "district"\n[[target]]\nkind = "eldercare"\nindicator = "population_share_within"\nvalue = 0.9\n'
        '[[target]]\nkind = "nursery"\nindicator = "population_share_within"\nvalue = 0.8\n',
        encoding="utf-8",
    )
    toml = f"""name = {json.dumps(XSS[1] + XSS[3])}
crs = "EPSG:32628"
[network]
path = "{(TINY / "network.osm.bz2").as_posix()}"
source = {json.dumps("OSM " + XSS[2])}
licence = "ODbL 1.0"
[population]
path = "{(TINY / "population_grid_100m.gpkg").as_posix()}"
source = "modelled"
[population.age_shares]
age_60_plus = 0.25
age_0_3 = 0.03
[facilities]
path = "facilities.geojson"
kind_column = "category"
[facilities.kind_map]
eldercare = "eldercare"
nursery = "nursery"
[districts]
path = "districts.geojson"
name_column = "name"
[boundary]
path = "{(TINY / "study_area.geojson").as_posix()}"
[kinds.eldercare]
target_column = "age_60_plus"
[kinds.nursery]
target_column = "age_0_3"
[kinds.meal_site]
target_column = "age_60_plus"
[siting]
kind = "eldercare"
new = 2
spacing_m = 100
[map]
data_date = {json.dumps("2023 " + XSS[4])}
population_note = {json.dumps(XSS[5])}
"""
    (folder / "study.toml").write_text(toml, encoding="utf-8")
    return {"study": folder / "study.toml", "plan": folder / "plan.csv", "targets": folder / "targets.toml"}


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    """``planner report`` on the hostile tiny study, in Chinese, with its own [siting] proposals."""
    folder = tmp_path_factory.mktemp("study")
    files = write_tiny_study(folder)
    out = folder / "report"
    code = main(["-q", "report", "--study", str(files["study"]), "--targets", str(files["targets"]),
                 "--lang", "zh", "--no-pdf", "--shapefile", "--no-cache", "--out", str(out)])  # fmt: skip
    assert code == 0
    return out, files


def body_text(html: str) -> str:
    return re.sub(r'src="data:image/png;base64,[^"]+"', 'src=""', html)


@pytest.mark.slow
def test_report_folder_is_whole(tiny_report):
    out, _ = tiny_report
    names = {p.name for p in out.iterdir()}
    for name in ("report.html", "report.xlsx", "service_areas.gpkg", "service_areas.shp", "service_areas.cpg",
                 "service_areas.dbf", "summary.csv", "summary_by_district.csv", "sites.csv", "compare.csv",
                 "sites_added.csv", "targets.csv", "run.toml"):  # fmt: skip
        assert name in names, name
    assert "report.pdf" not in names  # --no-pdf
    assert not [n for n in names if n.startswith(".")]
    manifest = (out / "run.toml").read_text(encoding="utf-8")
    assert '"report.html" = ' in manifest or "report.html = " in manifest


@pytest.mark.slow
def test_report_html_is_offline_escaped_and_chinese(tiny_report):
    out, _ = tiny_report
    html = (out / "report.html").read_text(encoding="utf-8")
    text = body_text(html)
    assert "<script" not in text.lower()  # no script at all
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", text)
    assert "url(" not in text
    for fragment in RAW_FRAGMENTS:
        assert fragment not in text, fragment
    assert "\u2028" not in text
    assert escape_html(XSS[1] + XSS[3]) in text  # the place, as text
    assert escape_html(FORMULA) not in text or "&quot;" in escape_html(FORMULA)
    for words in ("概要", "街道/片区", "建议新增点位", "现状覆盖率", "建成后覆盖率", "最近道路", "数据来源、许可与说明",
                  "规划目标与服务空白", "无人口格网", "人口：模型估算"):  # fmt: skip
        assert words in text, words
    assert (
        text.count('<section class="pl-section"') == 7
    )  # summary, districts, sites, targets, 2 maps, sources
    assert text.count("data:image/png;base64,") == 0
    assert html.count("data:image/png;base64,") == 3  # eldercare today and after, nursery today


@pytest.mark.slow
def test_report_numbers_equal_the_csv_outputs(tiny_report):
    from openpyxl import load_workbook

    out, _ = tiny_report
    wb = load_workbook(out / "report.xlsx")
    assert wb.sheetnames == [
        "概要",
        "街道 片区",
        "建议新增点位",
        "规划目标",
        "服务空白",
        "数据来源、许可与说明",
    ]
    summary = pd.read_csv(out / "compare.csv", encoding="utf-8-sig")  # a zh report: Chinese headers and kinds
    summary = summary.set_axis(english_columns(summary.columns), axis=1).replace(
        {"kind": {"养老服务设施": "eldercare"}}
    )
    s15 = summary[summary["minutes"] == 15].set_index("kind")
    ws = wb["概要"]
    head = [c.value for c in ws[1]]
    rows = {r[0]: dict(zip(head, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)}
    elder = rows["养老服务设施"]
    assert elder["现状覆盖人数"] == round(s15.loc["eldercare", "covered_before"])
    assert elder["建成后覆盖人数"] == round(s15.loc["eldercare", "covered_after"])
    assert elder["人数"] == round(s15.loc["eldercare", "total_before"])
    assert elder["现状覆盖率"] == pytest.approx(s15.loc["eldercare", "share_before"], abs=5e-5)
    assert elder["新增点位"] == 2
    assert ws.cell(2, head.index("现状覆盖率") + 1).number_format == "0.0%"
    assert ws.cell(2, head.index("人数") + 1).number_format == "#,##0"
    # the sites: gain and total after each, as in sites_added.csv (and sites.csv of the siting)
    added = pd.read_csv(out / "sites_added.csv", encoding="utf-8-sig")
    added = added.set_axis(english_columns(added.columns), axis=1)
    sited = pd.read_csv(out / "sites.csv", encoding="utf-8-sig")
    sited = sited.set_axis(english_columns(sited.columns), axis=1)
    sheet = next(wb[n] for n in wb.sheetnames if n.startswith("建议新增"))
    head = [c.value for c in sheet[1]]
    got = [dict(zip(head, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert (
        [g["新增覆盖人数"] for g in got]
        == [round(x) for x in added["gain"]]
        == [round(x) for x in sited["gain"]]
    )
    assert [g["建成后累计覆盖"] for g in got] == [round(x) for x in added["covered"]]
    assert [g["经度"] for g in got] == [round(x, 6) for x in added["lon"]]
    assert all(g["最近道路"] for g in got)
    # the same numbers are in the page
    html = (out / "report.html").read_text(encoding="utf-8")
    assert f">{fmt_share(s15.loc['eldercare', 'share_after'], 'zh')}<" in html
    assert f">{fmt_people(added['gain'].iloc[0], 'zh', unit=False)}<" in html


@pytest.mark.slow
def test_report_xlsx_cells_are_inert_text(tiny_report):
    from openpyxl import load_workbook

    out, _ = tiny_report
    wb = load_workbook(out / "report.xlsx")
    texts = [c.value for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert all(c.data_type != "f" for ws in wb for row in ws.iter_rows() for c in row)
    assert not [t for t in texts if t.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert "'@SUM(1+1)" in texts  # a district name that is a formula
    assert XSS[0] in texts  # another district name, as plain text
    assert any(XSS[2] in t for t in texts)  # the network's source


@pytest.mark.slow
def test_service_areas_open_as_they_are(tiny_report):
    out, _ = tiny_report
    areas = gpd.read_file(out / "service_areas.gpkg")
    assert areas.crs.to_epsg() == 32628
    assert set(areas["status"]) == {"existing", "proposed"}
    assert (areas["status"] == "proposed").sum() == 2
    assert set(areas["kind"]) == {"eldercare", "nursery"}
    assert areas.geometry.is_valid.all()
    assert (areas.geometry.area > 10_000).all()  # a 15-min walk is well over a hectare
    assert (out / "service_areas.cpg").read_text().strip().upper().replace("-", "") == "UTF8"
    shp = gpd.read_file(out / "service_areas.shp")
    assert len(shp) == len(areas)
    assert sorted(shp["name"]) == sorted(areas["name"])  # payload names survive as text
    assert FORMULA in set(shp["name"])


@pytest.mark.slow
def test_report_of_a_plan_says_planned_and_before_after(tmp_path):
    files = write_tiny_study(tmp_path / "s")
    out = tmp_path / "plan-report"
    assert main(["-q", "report", "--study", str(files["study"]), "--add", str(files["plan"]), "--no-pdf",
                 "--no-cache", "--out", str(out)]) == 0  # fmt: skip
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Planned sites" in html
    assert "Elderly meal site: there is none in the data" in html
    assert re.search(r"The 2 planned sites would raise this to \d+\.\d%", html)
    from openpyxl import load_workbook

    ws = load_workbook(out / "report.xlsx")["Planned sites"]
    head = [c.value for c in ws[1]]
    assert head[:4] == ["No.", "Facility", "Name", "Year"]
    names = [r[2] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert names == [XSS[1], "'" + FORMULA]


def test_report_refuses_bad_input_in_one_line(tmp_path, capsys):
    files = write_tiny_study(tmp_path / "s")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep me", encoding="utf-8")
    assert main(["report", "--study", str(files["study"]), "--no-pdf", "--out", str(busy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "not a planner run" in err
    assert [p.name for p in busy.iterdir()] == ["mine.txt"]
    assert main(["report", "--study", str(files["study"]), "--targets", str(tmp_path / "nope.toml"),
                 "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_no_chromium_no_pdf_and_a_word(tmp_path, capsys, monkeypatch):
    files = write_tiny_study(tmp_path / "s")
    monkeypatch.setenv("PLANNER_CHROMIUM", str(tmp_path / "no-such-chromium"))
    out = tmp_path / "r"
    assert (
        main(["report", "--study", str(files["study"]), "--no-sites", "--no-cache", "--out", str(out)]) == 0
    )
    said = capsys.readouterr().out
    assert "no report.pdf: Chromium was not found" in said
    assert not (out / "report.pdf").exists()
    assert (out / "report.html").exists()


def test_siting_prints_no_solver_banner(capfd, tiny_network, tiny_population, tiny_facilities):
    kinds = {k: pl.DEFAULT_KINDS[k] for k in ("eldercare", "nursery")}
    cov = pl.compute_coverage(tiny_network, tiny_population, tiny_facilities, kinds=kinds)
    problem = pl.SitingProblem.from_coverage(cov, tiny_network, kinds["eldercare"], spacing_m=200)
    pl.solve_siting(problem, "mclp", k=2, solver="highs")
    out = capfd.readouterr()
    assert "HiGHS" not in out.out
    assert "Running HiGHS" not in out.err


def test_report_tables_on_a_lattice():
    """Hand-computed: 4 cells of 10/20/30/40 people, one facility reaching the first two."""
    from conftest import lattice_network, points

    from planner.pipeline import StudyInputs, StudyResult
    from planner.report.tables import report_data

    net = lattice_network(4, 100.0)
    cells = points([[0, 0], [100, 0], [0, 300], [300, 300]], population=[10.0, 20.0, 30.0, 40.0])
    fac = points([[0, 0]], kind=["n"], name=["=cmd"])
    kind = pl.FacilityKind("n", "population", threshold_min=2, speed_kmh=3.6, label_zh="托育")  # 120 m
    districts = gpd.GeoDataFrame({"district": ["south", "north"]},
                                 geometry=[shapely.box(-50, -50, 350, 150), shapely.box(-50, 150, 350, 350)],
                                 crs=UTM)  # fmt: skip
    cov = pl.compute_coverage(net, cells, fac, kinds={"n": kind}, thresholds_min=(2,), districts=districts)
    study = pl.StudyArea(name="lattice", network_path=Path("x.osm"), population_path=Path("p.gpkg"),
                         facilities_path=Path("f.geojson"), kinds={"n": kind}, thresholds_min=(2,))  # fmt: skip
    result = StudyResult(study, StudyInputs(net, cells, fac, districts), cov)
    data = report_data(result, lang="zh")
    summary = data.tables["summary"].frame.iloc[0]
    assert summary["人数"] == 100
    assert summary["现状覆盖人数"] == 30
    assert summary["现状覆盖率"] == 0.3
    d = data.tables["districts"].frame.set_index("街道/片区")
    assert d.loc["south", "托育：现状"] == 1.0
    assert d.loc["north", "托育：现状"] == 0.0
    assert d.loc["north", "服务空白（覆盖率为0）"] == "托育"
    assert d.loc["south", "服务空白（覆盖率为0）"] == ""
    assert any("服务空白：1 个片区" in s and "north" in s for s in data.sentences)
    assert "现状：研究范围内 100人常住人口中，30.0% 步行2分钟可达托育（数据中共 1 处）。" in data.sentences
    blank = data.tables["blank_zones"].frame
    assert blank.values.tolist() == [["托育", "north", 70.0]]
    assert d.loc["south", "常住人口"] == 30
    assert d.loc["north", "常住人口"] == 70
