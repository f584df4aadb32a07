"""Maps opened in a real browser (Debian chromium + Playwright): offline, rendered, XSS-proof.

Skipped with a reason when chromium or playwright is missing; tests/test_maps.py checks the
same maps as strings and always runs.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path

import pytest
import test_maps as tm

import planner as pl
from planner import maps as pm

pytestmark = pytest.mark.browser
tiny = tm.tiny  # the module-scoped fixture of tests/test_maps.py

CHROMIUM = os.environ.get("PLANNER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip

# Turn every overlay on through the layer control, as a user would.
SHOW_ALL = """() => {
  const boxes = [...document.querySelectorAll('.leaflet-control-layers-overlays input')];
  boxes.filter(b => !b.checked).forEach(b => b.click());
  return boxes.length;
}"""

# Open every popup and tooltip of every layer on the map; return their texts.
OPEN_ALL = """() => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  const out = {popups: 0, tooltips: 0, texts: []};
  const layers = [];
  map.eachLayer(l => layers.push(l));
  for (const l of layers) {
    if (l.getPopup && l.getPopup()) {
      l.openPopup(); out.popups++;
      const el = l.getPopup().getElement(); if (el) out.texts.push(el.innerText);
      l.closePopup();
    }
    if (l.getTooltip && l.getTooltip()) {
      l.openTooltip(); out.tooltips++;
      const el = l.getTooltip().getElement(); if (el) out.texts.push(el.innerText);
      l.closeTooltip();
    }
  }
  return out;
}"""

# Distinct colours of a screenshot, counted in a blank page (so no request is made by the map page).
COLOURS = """async (uri) => {
  const img = new Image(); img.src = uri; await img.decode();
  const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  const seen = new Set();
  for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  return seen.size;
}"""


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium; or set PLANNER_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright; no `playwright install` needed)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A page that records every request, page error, console error and dialog."""

    def __init__(self, browser, path: Path, *, missing_files_ok: bool = False):
        self.page = browser.new_page(viewport={"width": 1280, "height": 860})
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def console(msg):
            if msg.type != "error":
                return
            if missing_files_ok and "net::ERR_FILE_NOT_FOUND" in msg.text:
                return  # the XSS map names a local tile folder that does not exist
            self.errors.append(msg.text)

        self.page.on("console", console)

        def dialog(d):
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", dialog)
        self.page.goto(path.as_uri())
        self.page.wait_for_function(
            "typeof L === 'object' && document.querySelector('.leaflet-control-layers')"
        )
        self.page.wait_for_timeout(300)

    def remote(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("file:", "data:"))]

    def eval(self, js: str, *args):
        return self.page.evaluate(js, *args)


def not_blank(browser, png: bytes) -> int:
    page = browser.new_page()
    try:
        return page.evaluate(COLOURS, "data:image/png;base64," + base64.b64encode(png).decode())
    finally:
        page.close()


@pytest.fixture(scope="module")
def full_map(tmp_path_factory, tiny):
    m, expect = tm.build_full_map(tiny)
    return pm.save_map(m, tmp_path_factory.mktemp("maps") / "full.html"), expect


def test_map_opens_offline_and_renders(browser, full_map, tmp_path):
    path, expect = full_map
    page = Page(browser, path)
    try:
        assert page.remote() == [], "an offline map must not touch the network"
        assert page.requests == [path.as_uri()], "everything is inline: not even a file: request"
        assert page.eval("typeof L") == "object"
        assert page.eval("L.version") == "1.9.4"
        assert page.errors == []
        assert page.dialogs == []
        # layers and markers as built; facilities, sites and labels shown on opening
        overlays = page.eval("document.querySelectorAll('.leaflet-control-layers-overlays input').length")
        assert overlays == expect["overlays"]
        shown = expect["facility_markers"] + expect["site_markers"] + expect["district_labels"]
        assert (
            page.eval("document.querySelectorAll('.leaflet-marker-icon .pl-fac').length")
            == expect["facility_markers"]
        )
        assert (
            page.eval("document.querySelectorAll('.leaflet-marker-icon .pl-site').length")
            == expect["site_markers"]
        )
        assert page.eval("document.querySelectorAll('.pl-label-in').length") == expect["district_labels"]
        assert page.eval("document.querySelectorAll('.leaflet-marker-icon').length") == shown + 1
        # the default Leaflet icon is a loaded data URI (the broken-default-icon regression)
        icon = page.eval("""() => { const i = document.querySelector('img.leaflet-marker-icon');
                                  return [i.src.slice(0, 22), i.complete && i.naturalWidth]; }""")
        assert icon == ["data:image/png;base64,", 25]
        # cells, walk areas and people are drawn as SVG paths; legend, title, scale, credit
        assert page.eval("document.querySelectorAll('path.leaflet-interactive').length") > 100
        assert "Walking time to the nearest facility" in page.eval(
            "document.querySelector('.pl-legend').innerText"
        )
        assert "15-minute walking coverage" in page.eval("document.querySelector('.pl-title').innerText")
        assert page.eval("document.querySelector('.leaflet-control-scale-line').innerText").endswith("m")
        assert "© OpenStreetMap contributors" in page.eval(
            "document.querySelector('.leaflet-control-attribution').innerText"
        )
        png = page.page.screenshot(path=str(tmp_path / "full.png"))  # as it opens
        assert not_blank(browser, png) > 40
        # every layer can be switched on, and every popup and tooltip opens
        assert page.eval(SHOW_ALL) == expect["overlays"]
        opened = page.eval(OPEN_ALL)
        assert opened["popups"] >= shown - expect["district_labels"]
        assert opened["tooltips"] > len(tm.XSS)
        assert page.errors == []
        assert page.remote() == []
        page.page.screenshot(path=str(tmp_path / "full-all-layers.png"))
    finally:
        page.page.close()


def test_xss_probes_fire_nothing_and_show_as_text(browser, tiny, tmp_path):
    m, expect = tm.build_xss_map(tiny)
    path = pm.save_map(m, tmp_path / "xss.html")
    page = Page(browser, path, missing_files_ok=True)
    try:
        assert page.eval("window.__xss") is None
        assert page.eval(SHOW_ALL) == expect["overlays"]
        # real pointer: hover and click markers, hover the layer control
        icons = page.page.locator(".leaflet-marker-icon.leaflet-interactive")
        for i in range(icons.count()):
            icons.nth(i).hover(force=True)
            icons.nth(i).click(force=True)
        opened = page.eval(OPEN_ALL)
        texts = "\n".join(opened["texts"])
        assert page.eval("window.__xss") is None
        assert page.dialogs == []
        assert page.errors == []
        # the payloads are displayed literally
        for payload in tm.XSS[:4]:
            assert payload in texts, payload
        layer_names = page.eval("document.querySelector('.leaflet-control-layers').innerText")
        assert tm.XSS[0] in layer_names
        assert tm.XSS[1] + tm.XSS[3] in page.eval("document.title")
        assert tm.XSS[1] in page.eval("document.querySelector('.pl-title').innerText")
        credit = page.eval("document.querySelector('.leaflet-control-attribution').innerText")
        assert "<svg onload" in credit
        assert "alert(1)</script>" in credit
        # no element was injected by a payload
        assert page.eval("document.querySelectorAll('img[src=x], svg[onload], [onerror]').length") == 0
        # tiles from a relative (intranet-like) URL are the only other requests: file: only
        assert page.remote() == []
        assert any("/tiles/" in u for u in page.requests)
        assert page.eval("document.querySelectorAll('.leaflet-marker-icon').length") == expect["markers"]
        png = page.page.screenshot(path=str(tmp_path / "xss.png"))
        assert not_blank(browser, png) > 40
    finally:
        page.page.close()


def test_chinese_map_opens(browser, tiny, tmp_path):
    m, _expect = tm.build_full_map(tiny, lang="zh")
    page = Page(browser, pm.save_map(m, tmp_path / "zh.html"))
    try:
        assert page.remote() == []
        assert page.errors == []
        assert "到最近设施的步行时间" in page.eval("document.querySelector('.pl-legend').innerText")
        assert "托育机构：设施（9）" in page.eval(
            "document.querySelector('.leaflet-control-layers').innerText"
        )
    finally:
        page.page.close()


def test_showcase_map_opens(browser):
    if not tm.SHOWCASE.exists():
        pytest.skip("maps/showcase.html not generated yet")
    page = Page(browser, tm.SHOWCASE)
    try:
        assert page.remote() == []
        assert page.errors == []
        assert page.eval("document.querySelectorAll('.leaflet-marker-icon .pl-fac').length") > 0
    finally:
        page.page.close()


# ---------------------------------------------------------------------- panels, labels, three sizes
SIZES = ((1400, 900), (1024, 640), (412, 860))
PANELS = {"title": ".pl-title", "legend": ".pl-legend", "layers": ".leaflet-control-layers",
          "zoom": ".leaflet-control-zoom", "scale": ".leaflet-control-scale", "credit": ".leaflet-control-attribution"}  # fmt: skip
BOXES = """(sel) => [...document.querySelectorAll(sel)].filter(e => e.offsetWidth && getComputedStyle(e).visibility !== 'hidden')
  .map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"""


def overlap(a, b, tol=0.5) -> bool:
    return a[0] + tol < b[2] and b[0] + tol < a[2] and a[1] + tol < b[3] and b[1] + tol < a[3]


def free_share(width: int, height: int, boxes) -> float:
    """Share of the map area not under any panel (boxes rasterised on a 2 px grid)."""
    import numpy as np

    grid = np.zeros((height // 2 + 1, width // 2 + 1), bool)
    for x0, y0, x1, y1 in boxes:
        grid[
            max(0, int(y0) // 2) : max(0, int(y1) // 2 + 1), max(0, int(x0) // 2) : max(0, int(x1) // 2 + 1)
        ] = True
    return 1.0 - grid.mean()


@pytest.fixture(scope="module")
def city_map(tmp_path_factory):
    """The bundled city with its five proposed sites, as `planner map --sites` writes it."""
    from planner.cli import main

    out = tmp_path_factory.mktemp("city") / "city.html"
    assert (
        main(
            [
                "-q",
                "map",
                "--study",
                str(tm.REPO / "data/las_palmas/study.toml"),
                "--sites",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


def open_at(browser, path: Path, size: tuple[int, int]) -> Page:
    page = Page.__new__(Page)
    page.page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.requests, page.errors, page.dialogs = [], [], []
    page.page.on("request", lambda r: page.requests.append(r.url))
    page.page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.page.goto(path.as_uri())
    page.page.wait_for_function("typeof L === 'object' && document.querySelector('.leaflet-control-layers')")
    page.page.wait_for_timeout(400)  # layout and label placement run once the map is ready
    return page


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_map_panels_never_overlap_and_leave_the_map_visible(browser, city_map, tmp_path, size):
    page = open_at(browser, city_map, size)
    try:
        assert page.remote() == []
        assert page.errors == []
        boxes = {k: page.eval(BOXES, sel) for k, sel in PANELS.items()}
        assert all(len(v) == 1 for v in boxes.values()), boxes
        flat = {k: v[0] for k, v in boxes.items()}
        w, h = size
        for k, b in flat.items():  # inside the map
            assert min(b[0], b[1]) >= -0.5, (k, b)
            assert b[2] <= w + 0.5, (k, b)
            assert b[3] <= h + 0.5, (k, b)
        names = list(flat)
        clashes = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :] if overlap(flat[a], flat[b])]
        assert clashes == [], (clashes, flat)
        share = free_share(w, h, flat.values())
        assert share >= 0.5, share
        expanded = page.eval(
            "document.querySelector('.leaflet-control-layers').classList.contains('leaflet-control-layers-expanded')"
        )
        assert expanded == (w >= 1200 and h >= 760)  # collapsed on laptops and phones
        folded = page.eval("document.querySelector('.pl-legend').classList.contains('pl-folded')")
        assert folded == (w < 700)  # the phone's legend opens on a tap
        # the title tells the story: place, before → after, data date, modelled population
        title = page.eval("document.querySelector('.pl-title').innerText")
        for words in ("Las Palmas de Gran Canaria", "50.6% → 90.9%", "5 proposed sites", "OpenStreetMap 2023-02-21",
                      "Population: modelled"):  # fmt: skip
            assert words in title, words
        # district labels: none covers a marker, a panel or another label
        labels = page.eval(BOXES, ".pl-label-in")
        marks = page.eval(BOXES, ".leaflet-marker-icon .pl-fac, .leaflet-marker-icon .pl-site")
        assert labels, "some district labels are shown"
        # the map opens fitted beside its panels: no facility or site is under one
        under = [(m, k) for m in marks for k, b in flat.items() if overlap(m, b)]
        assert under == [], under
        bad = [
            (a, b)
            for i, a in enumerate(labels)
            for b in labels[i + 1 :] + marks + list(flat.values())
            if overlap(a, b)
        ]
        assert bad == []
        page.page.screenshot(path=str(tmp_path / f"city-{w}x{h}.png"))
        print(f"{w}x{h}: panels {flat}, map visible {share:.1%}, labels shown {len(labels)}")
        # opening the layer control (hover or tap) never puts it under the legend
        if not expanded:
            x0, y0, x1, y1 = flat["layers"]
            page.page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2)  # Leaflet opens the control on hover
            page.page.wait_for_timeout(200)
            assert page.eval(
                "document.querySelector('.leaflet-control-layers').classList.contains('leaflet-control-layers-expanded')"
            )
            if folded:
                page.page.click(".pl-legend-head")
                page.page.wait_for_timeout(150)
            layers = page.eval(BOXES, ".leaflet-control-layers")[0]
            legend = page.eval(BOXES, ".pl-legend")[0]
            assert not overlap(layers, legend), (layers, legend)
            page.page.screenshot(path=str(tmp_path / f"city-{w}x{h}-open.png"))
        assert page.remote() == []
    finally:
        page.page.close()


def test_site_popup_gives_rank_gain_total_district_street_coordinates(browser, city_map):
    page = open_at(browser, city_map, (1400, 900))
    try:
        page.page.click(".pl-site >> nth=0", force=True)
        page.page.wait_for_selector(".leaflet-popup-content")
        text = page.eval("document.querySelector('.leaflet-popup-content').innerText")
        assert "Proposed site #" in text
        for words in ("People added", "Covered after it", "District", "Nearest street", "Lon, lat", "-15.4"):
            assert words in text, (words, text)
        assert re.search(r"Covered after it\s+[\d,]+ \(\d+\.\d%\)", text)
    finally:
        page.page.close()


# ---------------------------------------------------------------------- the report in Chromium
@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    """`planner report` of the tiny study whose every name is a payload, printed to PDF."""
    import test_report as tr

    from planner.cli import main

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}")
    folder = tmp_path_factory.mktemp("hostile")
    files = tr.write_tiny_study(folder / "study")
    out = folder / "report"
    os.environ.setdefault("PLANNER_CHROMIUM", CHROMIUM)
    assert main(["-q", "report", "--study", str(files["study"]), "--targets", str(files["targets"]),
                 "--no-cache", "--out", str(out)]) == 0  # fmt: skip
    return out


def test_report_page_is_offline_and_inert(browser, hostile_report, tmp_path):
    path = hostile_report / "report.html"
    page = browser.new_page(viewport={"width": 1024, "height": 900})
    requests, errors, dialogs = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(path.as_uri())
        page.wait_for_timeout(300)
        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
        assert errors == []
        assert dialogs == []
        assert page.evaluate("window.__xss") is None
        assert (
            page.evaluate(
                "document.querySelectorAll('script, img[src=x], svg[onload], [onerror], iframe').length"
            )
            == 0
        )
        text = page.evaluate("document.body.innerText")
        for payload in tm.XSS[:4]:  # district names, the study's name, a source: shown as text
            assert payload in text, payload
        assert tm.XSS[1] + tm.XSS[3] in page.evaluate("document.title")
        assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 500)")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    finally:
        page.close()


def test_report_pdf_has_a_page_per_section_and_no_cut_table(hostile_report):
    pypdf = pytest.importorskip("pypdf")
    html = (hostile_report / "report.html").read_text(encoding="utf-8")
    titles = [
        htmlunescape(t)
        for t in re.findall(r'<section class="pl-section" id="s-[\w-]+">(?:.*?)<h2>(.*?)</h2>', html)
    ]
    reader = pypdf.PdfReader(str(hostile_report / "report.pdf"))
    pages = [p.extract_text() or "" for p in reader.pages]
    assert len(pages) == len(titles) == 7, (len(pages), titles)
    for title, text in zip(titles, pages, strict=True):
        assert title in text, (title, text[:200])
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    # every row of every table is on the page of its section (no table cut across pages)
    from openpyxl import load_workbook

    wb = load_workbook(hostile_report / "report.xlsx")
    for ws, page_text in zip(wb, [pages[0], pages[1], pages[2], pages[3], pages[3], pages[6]], strict=False):
        first = [str(r[0]).lstrip("'") for r in ws.iter_rows(min_row=2, values_only=True) if r[0] is not None]
        flat = re.sub(r"\s+", "", page_text)
        missing = [f for f in first if re.sub(r"\s+", "", f)[:12] not in flat]
        assert missing == [], (ws.title, missing)
    # the payloads were printed as text
    printed = re.sub(r"\s+", "", "".join(pages))
    for payload in tm.XSS[:4]:
        assert re.sub(r"\s+", "", payload) in printed, payload


def htmlunescape(text: str) -> str:
    import html as _html

    return _html.unescape(text)


def test_chinese_report_pdf_embeds_a_cjk_font(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    import test_report as tr

    from planner.cli import main

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}")
    files = tr.write_tiny_study(tmp_path / "s")
    os.environ.setdefault("PLANNER_CHROMIUM", CHROMIUM)
    out = tmp_path / "zh"
    assert main(["-q", "report", "--study", str(files["study"]), "--lang", "zh", "--no-sites", "--no-cache",
                 "--out", str(out)]) == 0  # fmt: skip
    reader = pypdf.PdfReader(str(out / "report.pdf"))
    text = "".join(p.extract_text() or "" for p in reader.pages)
    for words in ("概要", "现状覆盖率", "服务对象", "数据来源、许可与说明"):
        assert words in text, words
    fonts = {str(f.get_object().get("/BaseFont")) for p in reader.pages
             for f in (p.get("/Resources", {}).get("/Font", {}) or {}).values()}  # fmt: skip
    assert any("WenQuanYi" in f or "CJK" in f or "Hei" in f for f in fonts), fonts


TILE_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_tianditu_map_waits_for_the_key_in_its_address(browser, tiny, tmp_path):
    """Without #tk= the page loads nothing and says why; with it, Tianditu tiles carry that key."""
    _, cov, _ = tiny
    path = pm.save_map(pm.coverage_map(cov, tiles="tianditu", lang="zh"), tmp_path / "tdt.html")
    page = Page(browser, path)
    try:
        assert page.remote() == []
        assert "未加载底图" in page.eval("document.querySelector('.pl-tiles-note').innerText")
    finally:
        page.page.close()
    key = "0123456789abcdef0123456789abcdef"
    tab = browser.new_page()
    asked: list[str] = []

    def tile(route):
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=TILE_PNG)

    try:
        tab.route(re.compile(r"^https://t[0-7]\.tianditu\.gov\.cn/"), tile)
        tab.goto(path.as_uri() + f"#tk={key}")
        tab.wait_for_function("document.querySelectorAll('img.leaflet-tile').length > 0")
        assert asked
        assert all(f"tk={key}" in u for u in asked)
        assert {re.search(r"LAYER=(\w+)", u).group(1) for u in asked} == {"vec", "cva"}
        assert tab.evaluate("document.querySelector('.pl-tiles-note')") is None
    finally:
        tab.close()


def test_show_map_frame_is_sandboxed_from_the_notebook(browser, tiny, tmp_path):
    """The inline map runs its scripts but cannot reach the page around it (a notebook)."""
    _, cov, _ = tiny
    frame = pl.show_map(pm.coverage_map(cov), height_px=300)._repr_html_()
    host = tmp_path / "notebook.html"
    host.write_text(f"<html><body><p id=secret>token</p>{frame}</body></html>", encoding="utf-8")
    tab = browser.new_page()
    try:
        tab.goto(host.as_uri())
        inner = tab.frames[1]
        inner.wait_for_function("typeof L === 'object'")
        assert inner.evaluate("document.querySelectorAll('.leaflet-control-layers').length") == 1
        reach = inner.evaluate("() => { try { return parent.document.getElementById('secret').innerText; }"
                               " catch (e) { return 'blocked'; } }")  # fmt: skip
        assert reach == "blocked"
    finally:
        tab.close()


def test_a_long_layer_control_starts_collapsed_on_a_desktop(browser, tmp_path):
    """Five kinds give 25 layers: the control folds even at 1400x900, so the map keeps its room."""
    study = pl.StudyArea.from_toml(
        Path(__file__).resolve().parents[1] / "data" / "beijing_wudaokou" / "study.toml"
    )
    result = pl.run_study(study, siting=False, targets=False)
    m = pm.coverage_map(result.coverage, result.network, districts=result.districts, lang="zh")
    tab = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        tab.goto(pm.save_map(m, tmp_path / "wdk.html").as_uri())
        tab.wait_for_function("document.querySelector('.leaflet-control-layers')")
        assert tab.evaluate("document.querySelectorAll('.leaflet-control-layers-overlays input').length") > 14
        assert tab.evaluate("document.querySelector('.leaflet-control-layers-expanded')") is None
    finally:
        tab.close()
