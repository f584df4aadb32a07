"""Maps: escaping, offline HTML, layers and legend, walk areas, siting layer, CLI (string level).

The same maps are opened in Chromium by tests/test_browser.py.
"""

from __future__ import annotations

import hashlib
import html as htmllib
import json
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import TINY, UTM, lattice_network, points, tiny_study_toml

import planner as pl
from planner import maps as pm
from planner._escape import escape_html, script_json
from planner.cli import build_parser, main
from planner.maps.export import _REMOTE
from planner.maps.layers import district_shares
from planner.maps.runtime import Legend, inline_assets

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "planner" / "_assets"
SHOWCASE = REPO / "maps" / "showcase.html"
KINDS = ("eldercare", "nursery")

# Each payload sets window.__xss (or opens a dialog) if it ever runs.
XSS = (
    '<img src=x onerror="window.__xss=(window.__xss||0)+1">',
    "${window.__xss=(window.__xss||0)+1}",
    "`;window.__xss=(window.__xss||0)+1;`",
    "</script><script>window.__xss=(window.__xss||0)+1</script>",
    "\"'><svg onload=window.__xss=1>\\",
    "\u2028alert(1)\u2029</style><script>alert(1)</script>",
)
RAW_FRAGMENTS = (
    "<img src=x",
    "${window",
    "`;window",
    "</script><script>",
    "<svg onload",
    "alert(1)</script>",
)


@dataclass(frozen=True)
class FakeSiting:
    """A stand-in with the SitingResult contract that maps rely on."""

    sites: gpd.GeoDataFrame
    params: dict[str, Any] = field(default_factory=dict)


def normalise(html: str) -> str:
    """Replace folium's random element ids so two renders can be compared."""
    return re.sub(r"_[0-9a-f]{32}(?![0-9a-f])", "_ID", html)


def js_text(html: str) -> str:
    """The page with the JSON ``\\uXXXX`` escapes undone (the strings the scripts see)."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda mo: chr(int(mo.group(1), 16)), html)


def body(html: str) -> str:
    """The page without the inlined Leaflet (whose minified code is not ours to check)."""
    style, script = inline_assets()
    return html.replace(style, "").replace(script, "")


# ---------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def tiny():
    net = pl.WalkNetwork.from_osm_file(TINY / "network.osm.bz2", crs=UTM, use_cache=False)
    pop = pl.apply_age_shares(
        pl.read_population(TINY / "population_grid_100m.gpkg"),
        {"age_60_plus": 0.25, "age_0_3": 0.03, "age_0_17": 0.16},
    )
    fac = pl.read_facilities(TINY / "facilities.geojson", kind_column="category",
                             kind_map={"eldercare": "eldercare", "nursery": "nursery"})  # fmt: skip
    kinds = {k: pl.DEFAULT_KINDS[k] for k in KINDS}
    cov = pl.compute_coverage(net, pop, fac, kinds=kinds)
    boundary = pl.read_boundary(TINY / "study_area.geojson")
    return net, cov, boundary


def two_districts(cov: pl.Coverage, names=("West <b>", "East")) -> gpd.GeoDataFrame:
    x0, y0, x1, y1 = cov.population.total_bounds
    mid = (x0 + x1) / 2
    boxes = [shapely.box(x0 - 50, y0 - 50, mid, y1 + 50), shapely.box(mid, y0 - 50, x1 + 50, y1 + 50)]
    return gpd.GeoDataFrame({"district": list(names)}, geometry=boxes, crs=cov.population.crs)


def fake_sites(cov: pl.Coverage, n: int = 3, names=None) -> FakeSiting:
    gaps = cov.gaps("eldercare").head(n)
    covered = cov.share("eldercare") * float(cov.population["age_60_plus"].sum())
    gain = gaps["uncovered"].to_numpy()
    sites = gpd.GeoDataFrame(
        {
            "rank": np.arange(1, n + 1),
            "gain": gain,
            "cumulative": covered + np.cumsum(gain),
            "kind": "eldercare",
            "name": list(names) if names else [f"candidate {i}" for i in range(n)],
        },
        geometry=gaps.geometry.representative_point().to_numpy(),
        crs=cov.population.crs,
    ).iloc[::-1]  # not in build order on purpose: the map sorts by rank
    return FakeSiting(sites, {"kind": "eldercare", "solver": "stand-in"})


def xss_coverage(cov: pl.Coverage) -> pl.Coverage:
    """The same coverage with every facility name and kind label a payload."""
    from dataclasses import replace

    fac = cov.facilities.copy()
    fac["name"] = [XSS[i % len(XSS)] for i in range(len(fac))]
    kinds = {k: replace(v, label_en=f"{k} {XSS[i]}", label_zh=f"{k} {XSS[i + 1]}")
             for i, (k, v) in enumerate(cov.kinds.items())}  # fmt: skip
    return replace(cov, facilities=fac, kinds=kinds)


def build_full_map(tiny, *, lang="en") -> tuple[folium.Map, dict[str, int]]:
    """Coverage + districts + proposed sites + a default-icon marker; and what to expect."""
    net, cov, boundary = tiny
    districts = two_districts(cov)
    m = pl_map(cov, net, districts=districts, boundary=boundary, lang=lang)
    result = fake_sites(cov)
    m = pm.siting_map(result, net, coverage=cov, m=m)
    folium.Marker([28.126, -15.418]).add_to(m)  # default Leaflet icon: must come from a data URI
    expect = {
        "facility_markers": len(cov.facilities),
        "site_markers": len(result.sites),
        "district_labels": len(districts),
        "default_markers": 1,
        "overlays": sum(isinstance(c, folium.FeatureGroup) for c in m._children.values()),
    }
    return m, expect


def build_xss_map(tiny) -> tuple[folium.Map, dict[str, int]]:
    net, cov, boundary = tiny
    bad = xss_coverage(cov)
    districts = two_districts(cov, names=(XSS[0], XSS[2]))
    m = pl_map(bad, net, districts=districts, boundary=boundary, title=XSS[1] + XSS[3],
               attribution=[XSS[4]], tiles="./tiles/{z}/{x}/{y}.png", tiles_attribution=XSS[5])  # fmt: skip
    result = fake_sites(cov, names=XSS[:3])
    m = pm.siting_map(result, net, coverage=bad, m=m)
    expect = {
        "markers": len(bad.facilities) + len(result.sites) + len(districts),
        "overlays": sum(isinstance(c, folium.FeatureGroup) for c in m._children.values()),
    }
    return m, expect


def pl_map(*args, **kwargs) -> folium.Map:
    return pm.coverage_map(*args, **kwargs)


# ---------------------------------------------------------------------- escaping
@pytest.mark.parametrize("payload", XSS)
def test_escape_html_encodes_everything_dangerous(payload):
    out = escape_html(payload)
    assert not set(out) & set("<>\"'`$\\\u2028\u2029")
    assert htmllib.unescape(out) == payload


def test_escape_html_plain_values():
    assert escape_html(None) == ""
    assert escape_html(float("nan")) == ""
    assert escape_html(12.5) == "12.5"
    assert escape_html("Residencia 3ª Edad & Co") == "Residencia 3ª Edad &amp; Co"
    assert escape_html("养老服务设施") == "养老服务设施"


@pytest.mark.parametrize("payload", XSS)
def test_script_json_is_inert_in_a_script_block(payload):
    out = script_json({"p": payload, "n": [1, 2.5]})
    assert "<" not in out
    assert ">" not in out
    assert "\u2028" not in out
    assert json.loads(out) == {"p": payload, "n": [1, 2.5]}


# ---------------------------------------------------------------------- vendored assets
def test_vendored_assets_match_the_manifest():
    lines = (ASSETS / "SHA256SUMS").read_text().split("\n")
    listed = {}
    for line in filter(None, lines):
        digest, name = line.split(maxsplit=1)
        listed[name.strip()] = digest
    on_disk = {str(p.relative_to(ASSETS)) for p in (ASSETS / "leaflet").rglob("*") if p.is_file()}
    assert on_disk == set(listed), "every vendored file is in SHA256SUMS and vice versa"
    for name, digest in listed.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name


def test_vendored_leaflet_is_1_9_with_its_licence():
    js = (ASSETS / "leaflet" / "leaflet.js").read_text(encoding="utf-8")
    assert js.startswith("/* @preserve\n * Leaflet 1.9.4")
    licence = (ASSETS / "leaflet" / "LICENSE").read_text(encoding="utf-8")
    assert "BSD 2-Clause License" in licence
    assert "Agafonkin" in licence
    assert "1.9.4" in (ASSETS / "README.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------------- offline HTML
def test_coverage_map_html_is_self_contained(tiny):
    net, cov, boundary = tiny
    m = pm.coverage_map(cov, net, boundary=boundary)
    assert isinstance(m, folium.Map)
    html = pm.map_html(m)
    rest = body(html)
    assert "Leaflet 1.9.4" in html
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?(https?:)?//", html)
    assert "cdn.jsdelivr" not in html
    assert "code.jquery" not in html
    assert "bootstrapcdn" not in html
    assert "url(images/" not in html, "Leaflet CSS images must be data URIs"
    assert "L.Icon.Default.imagePath = ''" in html
    assert "tileLayer" not in rest, "no basemap unless one is asked for"
    assert "$(" not in rest
    assert "L.AwesomeMarkers" not in rest
    # folium still renders with its CDN links when asked to (notebooks online)
    online = pm.map_html(m, offline=False)
    assert "cdn.jsdelivr.net/npm/leaflet" in online
    assert "Leaflet 1.9.4, a JS" not in online


def test_offline_render_leaves_the_map_usable_online(tiny):
    net, cov, _ = tiny
    m = pm.coverage_map(cov, net, kinds="nursery")
    before = pm.map_html(m, offline=False)
    pm.map_html(m)
    after = pm.map_html(m, offline=False)
    assert normalise(before) == normalise(after)
    assert folium.Map.default_js[0][0] == "leaflet"
    assert "default_js" not in vars(m)


def test_layers_legend_title_scale_and_attribution(tiny):
    net, cov, boundary = tiny
    m = pm.coverage_map(cov, net, boundary=boundary, districts=two_districts(cov))
    html = pm.map_html(m)
    for kind in ("Eldercare centre", "Nursery"):
        for layer in ("walking time", "15-min walk areas", "facilities ("):
            assert f"{kind}: {layer}" in html
    assert "people not covered (" in html
    for text in (
        "Streets",
        "Study area",
        "Districts",
        "Walking time to the nearest facility",
        "0–5 min",
        "5–10 min",
        "10–15 min",
        "over 15 min or not reachable",
        "15-minute walking coverage",
    ):
        assert escape_html(text) in html, text
    assert "© OpenStreetMap contributors" in html
    assert "L.control.scale" in html
    assert "L.control.layers" in html
    assert "<title>15-minute walking coverage</title>" in html
    # one layer control, after every layer; only the first kind's cell layers shown at first
    names = [type(c).__name__ for c in m._children.values()]
    assert names.count("LayerControl") == 1
    assert names[-1] == "LayerControl"
    groups = [c for c in m._children.values() if isinstance(c, folium.FeatureGroup)]
    shown = {g.layer_name.split("</span> ")[-1]: g.show for g in groups}
    assert shown["Eldercare centre: walking time"]
    assert not shown["Nursery: walking time"]
    assert shown["Nursery: facilities (9)"]
    assert shown["Eldercare centre: facilities (2)"]
    assert len({g.layer_name for g in groups}) == len(groups)


def test_popups_and_tooltips_carry_name_kind_capacity_people(tiny):
    net, cov, _ = tiny
    fac = cov.facilities.copy()
    fac.loc[fac.index[0], "capacity"] = 120.0
    from dataclasses import replace

    html = js_text(pm.map_html(pm.coverage_map(replace(cov, facilities=fac), net)))
    first = fac.iloc[0]
    unit = {"eldercare": "beds", "nursery": "slots"}[first["kind"]]
    assert escape_html(first["name"]) in html
    assert f"120 {unit}" in html
    assert "<th>Capacity</th><td>unknown</td>" in html
    assert "<th>Kind</th><td>Nursery</td>" in html
    assert "people aged 60+: " in html
    assert "Walking time: " in html
    assert "beyond a 15-min walk" in html
    assert "reached within 15 min on foot (900 m at 3.6 km/h)" in html


def test_same_input_gives_the_same_html_up_to_element_ids(tiny):
    net, cov, boundary = tiny
    a = pm.map_html(pm.coverage_map(cov, net, boundary=boundary))
    b = pm.map_html(pm.coverage_map(cov, net, boundary=boundary))
    assert a != b  # folium ids are random...
    assert normalise(a) == normalise(b)  # ...and nothing else is


def test_xss_payloads_never_reach_the_html_raw(tiny):
    m, _ = build_xss_map(tiny)
    html = pm.map_html(m)
    rest = body(html)
    for fragment in RAW_FRAGMENTS:
        assert fragment not in rest, fragment
    assert "\u2028" not in rest
    assert "\u2029" not in rest
    assert rest.count("<script") == rest.count("</script>")
    # displayed as text: the entity-encoded name is there, inside JSON strings
    assert script_json(escape_html(XSS[0]))[1:-1] in rest
    assert "&lt;/script&gt;" not in rest or "\\u0026lt;/script\\u0026gt;" in rest
    assert escape_html(XSS[1] + XSS[3]) in rest  # the page <title>


def test_chinese_labels(tiny):
    net, cov, _ = tiny
    html = js_text(pm.map_html(pm.coverage_map(cov, net, lang="zh")))
    for text in (
        "15分钟步行覆盖",
        "到最近设施的步行时间",
        "养老服务设施：步行时间",
        "托育机构：设施（9）",
        "60岁及以上老人",
        "超过 15 分钟或不可达",
        "道路",
        "© OpenStreetMap contributors",
    ):
        assert text in html, text
    assert "Walking time" not in html


def test_bad_arguments(tiny):
    net, cov, _ = tiny
    with pytest.raises(ValueError, match="lang must be one of"):
        pm.coverage_map(cov, net, lang="fr")
    with pytest.raises(ValueError, match="not in this coverage"):
        pm.coverage_map(cov, net, kinds=["meal_site"])
    with pytest.raises(ValueError, match="need an attribution"):
        pm.coverage_map(cov, tiles="https://tiles.example/{z}/{x}/{y}.png")
    with pytest.raises(ValueError, match="XYZ URL"):
        pm.coverage_map(cov, tiles="javascript:alert(1)//{z}/{x}/{y}", tiles_attribution="x")


def test_intranet_tiles_are_kept_with_their_escaped_credit(tiny):
    _, cov, _ = tiny
    m = pm.coverage_map(cov, tiles="https://gis.intranet.example/{z}/{x}/{y}.png",
                        tiles_attribution="<b>Bureau</b> tiles")  # fmt: skip
    html = pm.map_html(m)
    assert "https://gis.intranet.example/{z}/{x}/{y}.png" in html
    assert "<b>Bureau</b>" not in html
    assert "\\u0026lt;b\\u0026gt;Bureau" in html


def test_folium_elements_that_need_the_internet_are_refused_offline(tiny):
    _, cov, _ = tiny
    m = pm.coverage_map(cov)
    folium.Marker([28.12, -15.42], popup="x").add_to(m)  # folium.Popup uses jQuery
    with pytest.raises(ValueError, match="jQuery"):
        pm.map_html(m)
    assert "jquery" in pm.map_html(m, offline=False)
    from folium.plugins import MarkerCluster

    m2 = pm.coverage_map(cov)
    MarkerCluster().add_to(m2)
    with pytest.raises(ValueError, match="cannot be saved offline"):
        pm.map_html(m2)


def test_layers_stack_on_a_given_map(tiny):
    net, cov, _ = tiny
    base = folium.Map(location=[28.12, -15.42], tiles=None)
    m = pm.coverage_map(cov, net, kinds=["nursery"], m=base)
    assert m is base
    m = pm.coverage_map(cov, None, kinds=["eldercare"], m=m)
    kids = list(m._children.values())
    assert sum(isinstance(c, Legend) for c in kids) == 1
    assert sum(isinstance(c, folium.LayerControl) for c in kids) == 1
    html = pm.map_html(m)
    assert "Nursery: facilities" in html
    assert "Eldercare centre: facilities" in html
    assert html.count("L.control.layers(") == 1


def test_many_cells_become_an_image(tiny):
    net, cov, _ = tiny
    html = pm.map_html(pm.coverage_map(cov, net, kinds="eldercare", max_vector_cells=10))
    assert "plannerMap.image(" in html
    uri = re.search(r'"(data:image/png;base64,[A-Za-z0-9+/=]+)"', body(html)).group(1)
    png = __import__("base64").b64decode(uri.split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", png[16:24])
    idat = png[png.index(b"IDAT") + 4 : png.index(b"IEND") - 8]
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, w * 4 + 1)[:, 1:].reshape(h, w, 4)
    painted = int((raw[..., 3] > 0).sum())
    assert painted == len(cov.population)  # one pixel per 100 m cell, none lost


def test_point_cells_become_an_image_too():
    net = lattice_network(4, 100.0)
    cells = points([[0, 0], [100, 0], [200, 0], [300, 300]], population=[1.0, 2.0, 3.0, 4.0])
    cov = pl.compute_coverage(net, cells, points([[0, 0]], kind=["n"]),
                              kinds={"n": pl.FacilityKind("n", "population")})  # fmt: skip
    html = pm.map_html(pm.coverage_map(cov, net, max_vector_cells=2))
    assert html.count("plannerMap.image(") == 1  # the walking times; 4 cells are all reached


# ---------------------------------------------------------------------- walk areas
def test_walk_area_follows_the_streets_not_a_hull():
    net = lattice_network(4, 100.0)  # nodes at 0..300 m
    facility = points([[0, 0]], kind=["n"])
    area = pl.service_area_polygons(net, facility, 150.0, buffer_m=10.0, simplify_m=0.0).iloc[0]
    assert area.contains(shapely.Point(140, 0))
    assert area.contains(shapely.Point(0, 140))
    assert area.contains(shapely.Point(100, 45))  # half way up the street at x = 100
    assert not area.contains(shapely.Point(170, 0))  # 150 m walked + 10 m either side
    assert not area.contains(shapely.Point(100, 70))
    assert not area.contains(shapely.Point(50, 50))  # a convex hull or circle would contain it
    assert area.area == pytest.approx(2 * 150 * 20 + 2 * 50 * 20 + np.pi * 100, rel=0.06)


def test_walk_area_counts_the_access_leg_and_flags_unsnappable():
    net = lattice_network(4, 100.0)
    fac = points([[0, -60], [5000, 5000]], kind=["n", "n"])
    areas = pl.service_area_polygons(net, fac, 100.0, buffer_m=10.0, max_snap_m=300, simplify_m=0.0)
    first = areas.iloc[0]
    assert first.contains(shapely.Point(0, -50))
    assert first.contains(shapely.Point(35, 0))
    assert not first.contains(shapely.Point(50, 0))  # 60 m used by the access leg
    assert areas.iloc[1].is_empty


# ---------------------------------------------------------------------- districts
def test_district_shares_are_exact():
    net = lattice_network(4, 100.0)
    cells = points([[0, 0], [300, 0], [0, 300], [300, 300]], population=[10.0, 20.0, 30.0, 40.0])
    fac = points([[0, 0]], kind=["n"])
    kind = pl.FacilityKind("n", "population", threshold_min=5, speed_kmh=3.6)  # 300 m
    cov = pl.compute_coverage(net, cells, fac, kinds={"n": kind}, thresholds_min=(5,))
    districts = gpd.GeoDataFrame(
        {"district": ["south", "north"]},
        geometry=[shapely.box(-50, -50, 350, 150), shapely.box(-50, 150, 350, 350)], crs=UTM,
    )  # fmt: skip
    shares = district_shares(cov, districts, ["n"]).set_index("district")
    assert shares.loc[0, "covered"] == 30.0
    assert shares.loc[0, "total"] == 30.0
    assert shares.loc[1, "covered"] == 30.0
    assert shares.loc[1, "total"] == 70.0
    html = pm.map_html(pm.coverage_map(cov, net, districts=districts))
    assert "south: 100.0%" in html
    assert "north: 42.9%" in html
    assert "42.9% of residents within 5 min (30 of 70)" in html
    assert "Districts (label: n, share of residents within 5 min)" in html


# ---------------------------------------------------------------------- siting
def test_siting_map_stacks_sites_in_build_order(tiny):
    net, cov, _ = tiny
    result = fake_sites(cov)
    m = pm.siting_map(result, net, coverage=cov, m=pm.coverage_map(cov, net))
    html = pm.map_html(m)
    assert "Eldercare centre: proposed sites (3)" in html
    assert "Eldercare centre: 15-min walk areas of proposed sites" in html
    ranks = re.findall(r"Proposed site #(\d)", html)
    assert ranks[:3] == ["1", "2", "3"]
    gains = result.sites.sort_values("rank")["gain"].astype(float)
    assert f"Adds {gains.iloc[0]:,.0f} people aged 60+ within 15 min" in html
    # the popup gives the total covered after a site (not the people it adds), with the share:
    # today's covered people plus the gains up to it, by hand
    people = cov.population["age_60_plus"]
    before = float(people[cov.minutes["eldercare"] <= 15].sum())
    after3 = before + gains.sum()
    text = js_text(html)
    assert f"<th>Covered after it</th><td>{after3:,.0f} ({100 * after3 / people.sum():.1f}%)</td>" in text
    assert f"<th>People added</th><td>{gains.iloc[2]:,.0f}</td>" in text
    assert "<th>Lon, lat</th><td>-15.4" in text
    # the title tells before -> after for the kind
    share_before = f"{100 * before / people.sum():.1f}%"
    assert (
        f"Eldercare centre: {share_before} → {100 * after3 / people.sum():.1f}% of people aged 60+ within 15 min with 3 proposed sites"
        in text
    )
    assert "Proposed site (number = build order)" in html
    names = [type(c).__name__ for c in m._children.values()]
    assert names.count("LayerControl") == 1
    assert names[-1] == "LayerControl"


def test_siting_map_draws_its_own_coverage_context(tiny):
    net, cov, boundary = tiny
    m = pm.siting_map(fake_sites(cov), net, coverage=cov, districts=two_districts(cov), boundary=boundary)
    html = pm.map_html(m)
    for text in (
        "Eldercare centre: walking time",
        "Districts",
        "Study area",
        "Streets",
        "Eldercare centre: proposed sites (3)",
        "15-minute walking coverage",
    ):
        assert text in html, text
    assert "Nursery" not in html  # only the sites' kind
    assert html.count('"pane":"pl-context"') == 1  # the streets, drawn once


def test_siting_map_alone_with_a_minimal_result(tiny):
    _, _cov, _ = tiny
    sites = gpd.GeoDataFrame({"rank": [2, 1], "gain": [5.0, 7.0]},
                             geometry=gpd.points_from_xy([457500, 457900], [3111000, 3111500]), crs=UTM)  # fmt: skip
    m = pm.siting_map(FakeSiting(sites), lang="zh")
    html = pm.map_html(m)
    assert "建议新增点位 #1" in html
    assert "新增覆盖 7" in html
    assert "<title>建议新增点位</title>" in html
    assert "© OpenStreetMap contributors" in html


def test_siting_map_rejects_what_is_not_a_result():
    with pytest.raises(TypeError, match="SitingResult"):
        pm.siting_map(object())
    bad = FakeSiting(gpd.GeoDataFrame({"rank": [1]}, geometry=gpd.points_from_xy([0], [0]), crs=UTM))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['gain'\]"):
        pm.siting_map(bad)


# ---------------------------------------------------------------------- files
def test_save_map_writes_atomically(tiny, tmp_path):
    net, cov, _ = tiny
    out = pm.save_map(pm.coverage_map(cov, net), tmp_path / "sub" / "m.html")
    assert out == tmp_path / "sub" / "m.html"
    assert [p.name for p in out.parent.iterdir()] == ["m.html"]
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert 0 < text.index("charset=UTF-8") < 1024, "browsers look for the charset in the first 1 KB"


@pytest.fixture
def tiny_study_file(tmp_path):
    """A study file of the tiny fixture (eldercare and nursery)."""
    study = tmp_path / "study.toml"
    study.write_text(tiny_study_toml(boundary=True), encoding="utf-8")
    return study


def test_cli_map_command(tiny, tiny_study_file, tmp_path, capsys):
    study = tiny_study_file
    from planner.cli import main as cli_main
    from planner.cli.map import run_map_command

    def main(argv):
        return cli_main(["map", *argv])

    parser = build_parser()
    out = tmp_path / "maps" / "tiny.html"
    args = parser.parse_args(["map", "--study", str(study), "--kinds", "nursery", "--lang", "zh",
                              "--out", str(out), "--no-cache"])  # fmt: skip
    assert args.func is run_map_command
    assert run_map_command(args) == 0
    html = js_text(out.read_text(encoding="utf-8"))
    assert "托育机构：设施（9）" in html
    assert "养老服务设施" not in html
    assert "研究范围" in html
    assert "已写出" in capsys.readouterr().out  # --lang zh: the messages too
    assert main(["--study", str(study), "--out", str(tmp_path / "x.txt")]) == 2
    assert "--out must be an .html file" in capsys.readouterr().err
    assert main(["--study", str(study), "--tiles", "https://t/{z}/{x}/{y}.png", "--out", str(out)]) == 2
    assert "--tiles needs --tiles-attribution" in capsys.readouterr().err


@pytest.mark.slow
def test_bundled_city_map_is_small(tmp_path):
    s = pl.StudyArea.from_toml(REPO / "data" / "las_palmas" / "study.toml")
    net = pl.WalkNetwork.from_osm_file(s.network_path, crs=s.crs, max_edge_m=s.max_edge_m)
    cov = pl.compute_coverage(net, s.read_population(), s.read_facilities(), kinds=s.kinds,
                              thresholds_min=s.thresholds_min)  # fmt: skip
    out = pm.save_map(pm.coverage_map(cov, net, boundary=s.read_boundary()), tmp_path / "city.html")
    size = out.stat().st_size
    assert size < 5_000_000, f"{size / 1e6:.2f} MB"


def test_showcase_map_is_committed_small_and_offline():
    if not SHOWCASE.exists():
        pytest.skip("maps/showcase.html not generated yet (see planner.cli.map.SHOWCASE_COMMAND)")
    html = SHOWCASE.read_text(encoding="utf-8")
    assert SHOWCASE.stat().st_size < 2_000_000
    assert "Leaflet 1.9.4" in html
    assert "© OpenStreetMap contributors" in html
    assert not _REMOTE.search(body(html))


def test_show_map_embeds_the_offline_page_escaped():
    import html

    import folium

    m = folium.Map(location=[28.12, -15.43], zoom_start=14, tiles=None)
    frame = pl.show_map(m, height_px=300)._repr_html_()
    assert frame.startswith('<iframe srcdoc="')
    assert "height:300px" in frame
    assert frame.endswith(' sandbox="allow-scripts"></iframe>')  # no access to the notebook page
    page = html.unescape(frame.split('srcdoc="', 1)[1].split('" style=', 1)[0])
    assert page == pl.map_html(m, offline=True)
    assert "cdn.jsdelivr" not in page


def test_protocol_relative_tiles_are_refused(tiny):
    _, cov, _ = tiny
    with pytest.raises(ValueError, match="XYZ URL"):
        pm.coverage_map(cov, tiles="//tiles.elsewhere.example/{z}/{x}/{y}.png", tiles_attribution="x")


def test_tianditu_preset_keeps_the_key_out_of_the_map(tiny, monkeypatch):
    _, cov, _ = tiny
    monkeypatch.setenv("TIANDITU_KEY", "0123456789abcdef0123456789abcdef")
    html = pm.map_html(pm.coverage_map(cov, tiles="tianditu", lang="zh"))
    assert "0123456789abcdef" not in html
    assert html.count("tianditu.gov.cn/") == 2  # streets and their labels, as templates
    assert "\\u0026tk={tk}" in html  # the key is filled in by the page, from its address
    assert "未加载底图" in html  # what the page says without a key


def test_cli_map_tianditu_needs_the_key_and_never_writes_it(tiny_study_file, tmp_path, capsys, monkeypatch):
    out = tmp_path / "m.html"
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    assert main(["map", "--study", str(tiny_study_file), "--tiles", "tianditu", "--out", str(out)]) == 2
    assert "TIANDITU_KEY" in capsys.readouterr().err
    assert not out.exists()
    key = "fedcba9876543210fedcba9876543210"
    monkeypatch.setenv("TIANDITU_KEY", key)
    assert main(["map", "--study", str(tiny_study_file), "--tiles", "tianditu", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"{out.resolve().as_uri()}#tk=$TIANDITU_KEY" in printed  # not a terminal: the key is not printed
    assert key not in printed
    assert key not in out.read_text(encoding="utf-8")
