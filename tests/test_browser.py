"""Maps opened in a real browser (Debian chromium + Playwright): offline, rendered, XSS-proof.

Skipped with a reason when chromium or playwright is missing; tests/test_maps.py checks the
same maps as strings and always runs.
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest
import test_maps as tm

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
