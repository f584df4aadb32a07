"""Maps for officials: self-contained, escaped folium maps of coverage and proposed sites."""

from __future__ import annotations

import base64
import contextlib
import functools
import logging
import math
import re
import struct
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from branca.element import CssLink, Element, Figure, JavascriptLink, MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from planner._escape import escape_html, script_json, script_safe
from planner.coverage import Coverage
from planner.kinds import CAPACITY, DEFAULT_KINDS, KIND, NAME, FacilityKind
from planner.network import WalkNetwork
from planner.outputs import atomic_path

logger = logging.getLogger(__name__)

OSM_ATTRIBUTION = "© OpenStreetMap contributors"
LANGS = ("en", "zh")

# Walking-time classes, green (near) to red (beyond the last threshold or unreachable).
_TIME_RAMP = ("#1a9641", "#a6d96a", "#fdae61", "#d7191c")
_KIND_COLOURS = {
    "eldercare": "#1f4e9c",
    "nursery": "#8e24aa",
    "meal_site": "#00838f",
    "childrens_home": "#c2185b",
}
_EXTRA_COLOURS = ("#5d4037", "#37474f", "#283593", "#6a1b9a", "#00695c", "#ad1457")
_GLYPHS = {
    "en": {"eldercare": "E", "nursery": "N", "meal_site": "M", "childrens_home": "C"},
    "zh": {"eldercare": "老", "nursery": "托", "meal_site": "餐", "childrens_home": "童"},
}
_SITE_COLOUR = "#ffb300"
_GAP_COLOUR = "#4a148c"
_STREET_COLOUR = "#8a8a8a"
_DISTRICT_COLOUR = "#263238"
_PANES = (("pl-context", 350), ("pl-cells", 360), ("pl-areas", 370), ("pl-lines", 380), ("pl-people", 390))

# Folium's own CDN assets. Offline maps leave them out: planner's layers need only Leaflet,
# which is inlined. Any other asset (a plugin) cannot be made offline and is an error.
_FOLIUM_BASE_ASSETS = frozenset({
    "leaflet", "jquery", "bootstrap", "awesome_markers", "leaflet_css", "bootstrap_css",
    "glyphicons_css", "awesome_markers_font_css", "awesome_markers_css", "awesome_rotate_css",
})  # fmt: skip

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "15-minute walking coverage",
        "sites": "Proposed sites",
        "note": "Walking times over OpenStreetMap streets",
        "time_heading": "Walking time to the nearest facility",
        "class_first": "0–{b} min",
        "class_mid": "{a}–{b} min",
        "class_last": "over {a} min or not reachable",
        "facilities_heading": "Facilities",
        "other_heading": "Other layers",
        "layer_facilities": "{kind}: facilities ({n})",
        "layer_time": "{kind}: walking time",
        "layer_areas": "{kind}: {t}-min walk areas",
        "layer_gaps": "{kind}: people not covered ({n})",
        "layer_sites": "{kind}: proposed sites ({n})",
        "layer_site_areas": "{kind}: {t}-min walk areas of proposed sites",
        "layer_streets": "Streets",
        "layer_boundary": "Study area",
        "layer_districts": "Districts",
        "name": "Name",
        "kind": "Kind",
        "capacity": "Capacity",
        "unknown": "unknown",
        "no_name": "(no name)",
        "not_snapped": "More than {m} m from a street: not counted",
        "walk_time": "Walking time",
        "minutes": "{x} min",
        "beyond": "over {t} min",
        "gap_tip": "{n} {target} beyond a {t}-min walk",
        "area_tip": "{name}: reached within {t} min on foot ({reach} m at {speed} km/h)",
        "site_title": "Proposed site #{rank}",
        "site_gain": "Adds {n} {target} within {t} min",
        "site_gain_plain": "Adds {n}",
        "site_cumulative": "Covered after sites 1–{rank}: {n}",
        "site_tip": "#{rank}: +{n}",
        "district_line": "{kind}: {share} of {target} within {t} min ({covered} of {total})",
        "district_none": "{kind}: no {target} here",
        "summary": "{kind}: {share} of {target} within a {t}-min walk ({speed} km/h)",
        "summary_none": "{kind}: no facilities in the data",
        "legend_areas": "Area within a {t}-min walk (streets reached)",
        "legend_gaps": "People not covered (bigger circle = more people)",
        "legend_sites": "Proposed site (number = build order)",
        "legend_districts": "Districts (label: {kind}, share of {target} within {t} min)",
        "legend_raster": "Cells drawn as an image: too many to draw one by one",
        "units": "beds=beds|slots=slots|seats=seats",
    },
    "zh": {
        "title": "15分钟步行覆盖",
        "sites": "建议新增点位",
        "note": "按 OpenStreetMap 道路网络计算步行时间",
        "time_heading": "到最近设施的步行时间",
        "class_first": "0–{b} 分钟",
        "class_mid": "{a}–{b} 分钟",
        "class_last": "超过 {a} 分钟或不可达",
        "facilities_heading": "设施",
        "other_heading": "其他图层",
        "layer_facilities": "{kind}：设施（{n}）",
        "layer_time": "{kind}：步行时间",
        "layer_areas": "{kind}：步行{t}分钟服务范围",
        "layer_gaps": "{kind}：未覆盖人口（{n}）",
        "layer_sites": "{kind}：建议新增点位（{n}）",
        "layer_site_areas": "{kind}：新增点位步行{t}分钟服务范围",
        "layer_streets": "道路",
        "layer_boundary": "研究范围",
        "layer_districts": "街道/片区",
        "name": "名称",
        "kind": "类型",
        "capacity": "容量",
        "unknown": "未知",
        "no_name": "（无名称）",
        "not_snapped": "距道路超过 {m} 米：未计入",
        "walk_time": "步行时间",
        "minutes": "{x} 分钟",
        "beyond": "超过 {t} 分钟",
        "gap_tip": "{target} {n} 人超出步行{t}分钟范围",
        "area_tip": "{name}：步行{t}分钟可达（步速 {speed} km/h，{reach} 米）",
        "site_title": "建议新增点位 #{rank}",
        "site_gain": "新增覆盖{target} {n} 人（步行{t}分钟）",
        "site_gain_plain": "新增覆盖 {n}",
        "site_cumulative": "建成第 1–{rank} 处后累计覆盖：{n}",
        "site_tip": "#{rank}：+{n}",
        "district_line": "{kind}：{target} {share} 在步行{t}分钟内（{covered}/{total}）",
        "district_none": "{kind}：无{target}",
        "summary": "{kind}：{target} {share} 在步行{t}分钟内（步速 {speed} km/h）",
        "summary_none": "{kind}：数据中没有设施",
        "legend_areas": "步行{t}分钟可达范围（沿道路）",
        "legend_gaps": "未覆盖人口（圆越大人数越多）",
        "legend_sites": "建议新增点位（数字为建设顺序）",
        "legend_districts": "街道/片区（标注：{kind}，{target}步行{t}分钟内覆盖率）",
        "legend_raster": "格网过多，以图像显示",
        "units": "beds=床位|slots=托位|seats=座位",
    },
}
_TARGETS = {
    "en": {"age_60_plus": "people aged 60+", "age_0_3": "children aged 0–3",
           "age_0_17": "children aged 0–17", "population": "residents"},
    "zh": {"age_60_plus": "60岁及以上老人", "age_0_3": "0–3岁婴幼儿",
           "age_0_17": "0–17岁儿童", "population": "常住人口"},
}  # fmt: skip


# ---------------------------------------------------------------------- text helpers
def _t(lang: str, key: str, **values: Any) -> str:
    """A label in ``lang`` as safe HTML: the template and every value are escaped."""
    return escape_html(_TEXT[lang][key]).format(**{k: escape_html(v) for k, v in values.items()})


def _check_lang(lang: str) -> str:
    if lang not in LANGS:
        msg = f"lang must be one of {list(LANGS)}; got {lang!r}."
        raise ValueError(msg)
    return lang


def _kind_label(kind: FacilityKind | None, name: str, lang: str) -> str:
    if kind is None:
        return name
    if lang == "zh" and kind.label_zh:
        return kind.label_zh
    return kind.label_en or kind.name


def _target_label(column: str | None, lang: str) -> str:
    if column is None:
        return "people" if lang == "en" else "人口"
    return _TARGETS[lang].get(column, column)


def _unit(unit: str | None, lang: str) -> str:
    if not unit:
        return ""
    table = dict(p.split("=", 1) for p in _TEXT[lang]["units"].split("|"))
    return table.get(unit, unit)


def _people(x: float) -> str:
    return f"{x:,.0f}" if math.isfinite(x) else "–"


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%" if math.isfinite(share) else "–"


def _num(x: float) -> str:
    return f"{x:g}"


def _colour(name: str, order: int) -> str:
    return _KIND_COLOURS.get(name, _EXTRA_COLOURS[order % len(_EXTRA_COLOURS)])


def _glyph(name: str, label: str, lang: str) -> str:
    return _GLYPHS[lang].get(name) or (label[:1].upper() if label else "?")


def _time_colours(n: int) -> list[str]:
    """``n`` colours from green to red (n = thresholds + 1)."""
    if n == len(_TIME_RAMP):
        return list(_TIME_RAMP)
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in _TIME_RAMP], float)
    pos = np.linspace(0, len(_TIME_RAMP) - 1, n)
    out = []
    for p in pos:
        i = min(int(p), len(_TIME_RAMP) - 2)
        c = rgb[i] + (rgb[i + 1] - rgb[i]) * (p - i)
        out.append("#" + "".join(f"{round(v):02x}" for v in c))
    return out


# ---------------------------------------------------------------------- vendored assets
def _asset(name: str) -> bytes:
    return resources.files("planner").joinpath("_assets", "leaflet", name).read_bytes()


def _data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


@functools.lru_cache(maxsize=1)
def _inline_assets() -> tuple[str, str]:
    """(style element, script element) with Leaflet inlined; images as data URIs."""
    css = _asset("leaflet.css").decode("utf-8")
    css = re.sub(
        r"url\(images/([\w.-]+\.png)\)", lambda mo: f"url({_data_uri(_asset('images/' + mo.group(1)))})", css
    )
    js = _asset("leaflet.js").decode("utf-8")
    for text, end in ((css, "</style"), (js, "</script")):
        if end in text.lower() or "<!--" in text:
            msg = f"vendored asset contains {end!r}; it cannot be inlined safely."
            raise RuntimeError(msg)
    icons = script_json({
        "iconUrl": _data_uri(_asset("images/marker-icon.png")),
        "iconRetinaUrl": _data_uri(_asset("images/marker-icon-2x.png")),
        "shadowUrl": _data_uri(_asset("images/marker-shadow.png")),
    })  # fmt: skip
    style = f'<style id="planner-leaflet-css">\n{css}\n</style>'
    script = (
        f'<script id="planner-leaflet-js">\n{js}\n</script>\n'
        # default marker icons from data URIs, never from a path next to the HTML file
        f"<script>L.Icon.Default.imagePath = '';L.Icon.Default.mergeOptions({icons});</script>"
    )
    return style, script


# ---------------------------------------------------------------------- runtime JS/CSS
_RUNTIME_JS = r"""
(function (w) {
  "use strict";
  function bind(layer, p) {
    if (!p) { return; }
    if (p.p) { layer.bindPopup(p.p, {maxWidth: 360}); }
    if (p.t) { layer.bindTooltip(p.t, {sticky: !layer.getLatLng, direction: "top", opacity: 0.95}); }
  }
  function style(styles, f) { return styles[(f.properties && f.properties.s) || 0]; }
  w.plannerMap = {
    setup: function (map, o) {
      (o.panes || []).forEach(function (p) {
        if (!map.getPane(p[0])) {
          var el = map.createPane(p[0]);
          el.style.zIndex = String(p[1]);
          el.style.pointerEvents = "none";
        }
      });
      if (o.scale) { L.control.scale({imperial: false, position: "bottomleft", maxWidth: 160}).addTo(map); }
      if (map.attributionControl) {
        (o.attribution || []).forEach(function (a) { map.attributionControl.addAttribution(a); });
      }
    },
    vectors: function (group, data, styles, o) {
      var interactive = o.interactive !== false;
      return L.geoJSON(data, {
        pane: o.pane, interactive: interactive,
        style: function (f) { return style(styles, f); },
        pointToLayer: function (f, ll) {
          return L.circleMarker(ll, L.extend({}, style(styles, f),
            {radius: f.properties.r || 5, pane: o.pane, interactive: interactive}));
        },
        onEachFeature: function (f, layer) { bind(layer, f.properties); }
      }).addTo(group);
    },
    markers: function (group, rows, icons) {
      var made = icons.map(function (i) {
        return L.divIcon({className: i.c, html: i.h, iconSize: i.s, iconAnchor: i.a,
                          popupAnchor: i.pa, tooltipAnchor: i.ta});
      });
      rows.forEach(function (r) {
        var live = r[3] !== null;
        var mk = L.marker([r[0], r[1]], {icon: made[r[2]], interactive: live, keyboard: live,
                                         riseOnHover: live, zIndexOffset: live ? 0 : -1000});
        bind(mk, r[3]);
        mk.addTo(group);
      });
    },
    image: function (group, url, bounds, o) {
      L.imageOverlay(url, bounds, {opacity: o.opacity, pane: o.pane, className: "pl-raster",
                                   interactive: false}).addTo(group);
    },
    control: function (map, position, html, cls) {
      var c = L.control({position: position});
      c.onAdd = function () {
        var d = L.DomUtil.create("div", cls);
        d.innerHTML = html;
        L.DomEvent.disableClickPropagation(d);
        L.DomEvent.disableScrollPropagation(d);
        return d;
      };
      c.addTo(map);
      return c;
    }
  };
})(window);
"""

_RUNTIME_CSS = """
.leaflet-container{background:#f5f5f2}
.pl-icon{background:none;border:none}
.pl-fac{box-sizing:border-box;width:24px;height:24px;border-radius:50%;border:2px solid #fff;
 box-shadow:0 0 0 1px rgba(0,0,0,.5),0 1px 4px rgba(0,0,0,.5);color:#fff;
 font:bold 12px/20px Arial,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;text-align:center}
.pl-site{box-sizing:border-box;width:22px;height:22px;margin:4px;background:#ffb300;border:2px solid #111;
 transform:rotate(45deg);box-shadow:0 1px 4px rgba(0,0,0,.6)}
.pl-site span{display:block;transform:rotate(-45deg);font:bold 11px/18px Arial,sans-serif;
 text-align:center;color:#111}
.pl-label-in{position:absolute;transform:translate(-50%,-50%);white-space:nowrap;
 background:rgba(255,255,255,.88);border:1px solid #37474f;border-radius:3px;padding:1px 5px;
 font:12px/1.3 Arial,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:#111}
.pl-box{background:rgba(255,255,255,.95);padding:8px 11px;border-radius:5px;
 box-shadow:0 1px 5px rgba(0,0,0,.4);font:13px/1.35 Arial,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;
 color:#1a1a1a}
.pl-title{max-width:430px}
.pl-title h1{font-size:17px;margin:0 0 4px 0}
.pl-title p{margin:1px 0;font-size:12px;color:#333}
.pl-title p.pl-note{color:#666;font-size:11px}
.pl-legend{max-width:300px;max-height:55vh;overflow:auto}
.pl-legend h2{font-size:12.5px;margin:6px 0 3px 0}
.pl-legend h2:first-child{margin-top:0}
.pl-row{display:flex;align-items:center;gap:7px;margin:2px 0;font-size:12px}
.pl-sw{display:inline-block;box-sizing:border-box;width:18px;height:13px;flex:none;vertical-align:-2px;
 border:1px solid rgba(0,0,0,.35)}
.pl-mini{display:inline-block;flex:none;width:18px;height:18px;font-size:10px;line-height:14px;vertical-align:-4px}
.pl-mini-site{display:inline-block;flex:none;width:12px;height:12px;margin:3px;background:#ffb300;
 border:2px solid #111;transform:rotate(45deg)}
.pl-dot{display:inline-block;flex:none;width:14px;height:14px;border-radius:50%;background:#4a148c;
 opacity:.75;border:1.5px solid #fff;box-shadow:0 0 0 1px #4a148c}
.pl-line{display:inline-block;flex:none;width:18px;height:0;border-top:2px solid #8a8a8a}
.pl-raster{image-rendering:pixelated}
.pl-pop b{font-size:13.5px}
.pl-pop table{border-collapse:collapse;margin-top:4px}
.pl-pop th{text-align:left;font-weight:normal;color:#555;padding:1px 8px 1px 0;vertical-align:top}
.pl-pop td{padding:1px 0}
.pl-warn{color:#b71c1c}
.leaflet-control-layers-overlays label{font-size:12px}
.leaflet-control-layers-overlays .pl-sw{width:12px;height:10px;margin-right:2px}
"""


# ---------------------------------------------------------------------- folium elements
class _Runtime(MacroElement):
    """planner's small JS helpers and CSS, in the page header (one per map)."""

    _template = Template(
        """{% macro header(this, kwargs) %}<style>{{ this.css }}</style>
<script>{{ this.js }}</script>{% endmacro %}"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "PlannerRuntime"
        self.css = _RUNTIME_CSS
        self.js = _RUNTIME_JS


class _Setup(MacroElement):
    """Panes (fixed drawing order), scale bar and attribution."""

    _template = Template(
        """{% macro script(this, kwargs) %}
plannerMap.setup({{ this._parent.get_name() }}, {{ this.options_js() }});
{% endmacro %}"""
    )

    def __init__(self, *, scale: bool) -> None:
        super().__init__()
        self._name = "PlannerSetup"
        self.scale = scale
        self.attribution: list[str] = []

    def credit(self, text: str) -> None:
        html = escape_html(text)
        if html not in self.attribution:
            self.attribution.append(html)

    def options_js(self) -> str:
        return script_json({"panes": [list(p) for p in _PANES], "scale": self.scale,
                            "attribution": self.attribution})  # fmt: skip


class _Vectors(MacroElement):
    """GeoJSON features (already escaped popups/tooltips) drawn into their FeatureGroup."""

    _template = Template(
        """{% macro script(this, kwargs) %}
plannerMap.vectors({{ this._parent.get_name() }}, {{ this.data }}, {{ this.styles }}, {{ this.options }});
{% endmacro %}"""
    )

    def __init__(self, data_js: str, styles: Sequence[Mapping[str, Any]], *, pane: str,
                 interactive: bool = True) -> None:  # fmt: skip
        super().__init__()
        self._name = "PlannerVectors"
        self.data = data_js
        self.styles = script_json(list(styles))
        self.options = script_json({"pane": pane, "interactive": interactive})


class _Markers(MacroElement):
    """Div-icon markers: rows ``[lat, lon, icon, {p: popup, t: tooltip} | null]``."""

    _template = Template(
        """{% macro script(this, kwargs) %}
plannerMap.markers({{ this._parent.get_name() }}, {{ this.rows }}, {{ this.icons }});
{% endmacro %}"""
    )

    def __init__(self, rows: list[list[Any]], icons: list[dict[str, Any]]) -> None:
        super().__init__()
        self._name = "PlannerMarkers"
        self.n = len(rows)
        self.rows = script_json(rows)
        self.icons = script_json(icons)


class _Image(MacroElement):
    """A PNG (data URI) stretched over lat/lon bounds, for very many cells."""

    _template = Template(
        """{% macro script(this, kwargs) %}
plannerMap.image({{ this._parent.get_name() }}, {{ this.url }}, {{ this.bounds }}, {{ this.options }});
{% endmacro %}"""
    )

    def __init__(self, url: str, bounds: list[list[float]], *, pane: str, opacity: float) -> None:
        super().__init__()
        self._name = "PlannerImage"
        self.url = script_json(url)
        self.bounds = script_json(bounds)
        self.options = script_json({"pane": pane, "opacity": opacity})


class _Control(MacroElement):
    """A box in a corner of the map holding HTML built here from escaped values."""

    _template = Template(
        """{% macro script(this, kwargs) %}
plannerMap.control({{ this._parent.get_name() }}, {{ this.position_js() }}, {{ this.html_js() }}, {{ this.css_js() }});
{% endmacro %}"""
    )

    def __init__(self, position: str, css_class: str) -> None:
        super().__init__()
        self._name = "PlannerControl"
        self.position = position
        self.css_class = css_class

    def inner_html(self) -> str:
        raise NotImplementedError

    def position_js(self) -> str:
        return script_json(self.position)

    def css_js(self) -> str:
        return script_json(self.css_class)

    def html_js(self) -> str:
        return script_json(self.inner_html())


class _Title(_Control):
    def __init__(self, title_html: str, lines_html: Sequence[str], note_html: str) -> None:
        super().__init__("topleft", "pl-box pl-title")
        self._name = "PlannerTitle"
        self.title_html = title_html
        self.lines_html = list(lines_html)
        self.note_html = note_html

    def inner_html(self) -> str:
        lines = "".join(f"<p>{line}</p>" for line in self.lines_html)
        note = f'<p class="pl-note">{self.note_html}</p>' if self.note_html else ""
        return f"<h1>{self.title_html}</h1>{lines}{note}"


class _Legend(_Control):
    """Legend rows grouped under headings; stacking maps add rows (each key once)."""

    def __init__(self, lang: str) -> None:
        super().__init__("bottomright", "pl-box pl-legend")
        self._name = "PlannerLegend"
        self.lang = lang
        self.sections: OrderedDict[str, OrderedDict[str, str]] = OrderedDict()

    def add(self, heading_html: str, key: str, symbol_html: str, label_html: str) -> None:
        rows = self.sections.setdefault(heading_html, OrderedDict())
        rows.setdefault(key, f'<div class="pl-row">{symbol_html}<span>{label_html}</span></div>')

    def inner_html(self) -> str:
        return "".join(f"<h2>{h}</h2>{''.join(rows.values())}" for h, rows in self.sections.items() if rows)


# ---------------------------------------------------------------------- geometry → JSON
def _round(geoms: np.ndarray, decimals: int) -> np.ndarray:
    return shapely.transform(geoms, lambda c: np.round(c, decimals))


def _to_lonlat(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoSeries:
    if gdf.crs is None:
        msg = "a layer to draw has no CRS; set one with .set_crs(...)."
        raise ValueError(msg)
    return gdf.geometry.to_crs(4326)


def _features(geoms: np.ndarray, props: Sequence[Mapping[str, Any]], *, decimals: int) -> str:
    """A FeatureCollection as script-safe JSON text; empty or missing geometries are skipped."""
    geoms = np.asarray(geoms, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    texts = shapely.to_geojson(_round(geoms[ok], decimals))
    kept = [p for p, keep in zip(props, ok, strict=True) if keep]
    parts = [
        '{"type":"Feature","geometry":' + g + ',"properties":' + script_json(dict(p)) + "}"
        for g, p in zip(texts, kept, strict=True)
    ]
    return script_safe('{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}")


def _popup(title_html: str, rows: Sequence[tuple[str, str]], *, warn: str = "") -> str:
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    extra = f'<div class="pl-warn">{warn}</div>' if warn else ""
    return f'<div class="pl-pop"><b>{title_html}</b><table>{body}</table>{extra}</div>'


def _png(rgba: np.ndarray) -> bytes:
    """Encode an (h, w, 4) uint8 array as PNG (no dependency beyond zlib)."""
    h, w, _ = rgba.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgba.reshape(h, w * 4)], axis=1).tobytes()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    head = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _raster(cells: gpd.GeoSeries, rgba: np.ndarray, *, max_pixels: int = 4096) -> tuple[str, list[list[float]]]:
    """Paint one pixel per cell centre in Web Mercator; returns (data URI, lat/lon bounds)."""
    merc = cells.to_crs(3857)
    cx = shapely.get_x(merc.centroid.to_numpy())
    cy = shapely.get_y(merc.centroid.to_numpy())
    if (shapely.get_type_id(cells.to_numpy()) >= 3).all():  # polygons: their size in Mercator
        b = merc.bounds
        pixel = float(np.median(np.sqrt((b.maxx - b.minx) * (b.maxy - b.miny))))
    else:  # points: the median distance to the nearest other point
        from scipy.spatial import cKDTree

        d, _ = cKDTree(np.column_stack([cx, cy])).query(np.column_stack([cx, cy]), k=2)
        pixel = float(np.median(d[:, 1])) if len(cx) > 1 else 100.0
    pixel = max(pixel, 1e-6, (max(np.ptp(cx), np.ptp(cy)) + pixel) / max_pixels)
    x0, y1 = cx.min() - pixel / 2, cy.max() + pixel / 2
    w = int(np.floor((cx.max() - x0) / pixel)) + 1
    h = int(np.floor((y1 - cy.min()) / pixel)) + 1
    img = np.zeros((h, w, 4), np.uint8)
    col = np.clip(((cx - x0) / pixel).astype(int), 0, w - 1)
    row = np.clip(((y1 - cy) / pixel).astype(int), 0, h - 1)
    img[row, col] = rgba
    to_ll = pyproj.Transformer.from_crs(3857, 4326, always_xy=True)
    lon0, lat0 = to_ll.transform(x0, y1 - h * pixel)
    lon1, lat1 = to_ll.transform(x0 + w * pixel, y1)
    return _data_uri(_png(img)), [[round(lat0, 6), round(lon0, 6)], [round(lat1, 6), round(lon1, 6)]]


def _rgba(hex_colour: str, alpha: float) -> list[int]:
    return [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)] + [round(255 * alpha)]


# ---------------------------------------------------------------------- service areas
def service_area_polygons(
    network: WalkNetwork,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    reach_m: float,
    *,
    buffer_m: float = 50.0,
    max_snap_m: float = 300.0,
    simplify_m: float | None = None,
) -> gpd.GeoSeries:
    """Area within a walk of ``reach_m`` from each point: the reached streets, buffered.

    Each point joins the network at its nearest usable node (its access leg counts); the
    streets reached within ``reach_m`` (partly reached ones cut where the walk ends) are
    buffered by ``buffer_m`` and merged. This follows the streets, unlike a convex hull or a
    circle, so water, rail and dead ends show.

    Parameters
    ----------
    network
        The walk network.
    points
        Facilities or sites, any CRS.
    reach_m
        Walking distance in metres (``FacilityKind.reach_m()``).
    buffer_m
        How far either side of a reached street counts, in metres.
    max_snap_m
        Points farther than this from a usable street get an empty area.
    simplify_m
        Simplification tolerance in metres (default: a tenth of ``buffer_m``).

    Returns
    -------
    geopandas.GeoSeries
        One (Multi)Polygon per point, same index, in the network's CRS; empty where the
        point could not be snapped.
    """
    if reach_m <= 0 or buffer_m <= 0:
        msg = f"reach_m and buffer_m must be positive; got {reach_m} and {buffer_m}."
        raise ValueError(msg)
    geo = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    geo = geo.to_crs(network.crs)
    snap = network.snap(geo, max_snap_m=max_snap_m)
    xy = network.node_xy
    u = network.edges["u"].to_numpy()
    v = network.edges["v"].to_numpy()
    length = network.edges["length_m"].to_numpy()
    a, b = xy[u], xy[v]
    tol = buffer_m / 10 if simplify_m is None else simplify_m
    pxy = shapely.get_coordinates(geo.to_numpy())
    out = []
    t0 = time.perf_counter()
    for i in range(len(geo)):
        if not snap.ok[i]:
            out.append(shapely.Polygon())
            continue
        dist, _ = network.distances_m([snap.node[i]], [snap.access_m[i]], limit_m=reach_m)
        with np.errstate(invalid="ignore"):
            fu = np.nan_to_num(np.clip((reach_m - dist[u]) / length, 0.0, 1.0), nan=0.0)
            fv = np.nan_to_num(np.clip((reach_m - dist[v]) / length, 0.0, 1.0), nan=0.0)
        full = fu + fv >= 1.0
        part_u = ~full & (fu > 0)
        part_v = ~full & (fv > 0)
        starts = np.concatenate([a[full], a[part_u], b[part_v], pxy[i : i + 1]])
        ends = np.concatenate([
            b[full],
            a[part_u] + fu[part_u, None] * (b[part_u] - a[part_u]),
            b[part_v] + fv[part_v, None] * (a[part_v] - b[part_v]),
            xy[[snap.node[i]]],
        ])  # fmt: skip
        seg = np.stack([starts, ends], axis=1)
        keep = np.hypot(*(seg[:, 1] - seg[:, 0]).T) > 1e-9
        if not keep.any():
            out.append(shapely.buffer(shapely.Point(pxy[i]), buffer_m, quad_segs=4))
            continue
        # buffering pieces and merging them is ~50x faster than buffering one MultiLineString
        area = shapely.union_all(shapely.buffer(shapely.linestrings(seg[keep]), buffer_m, quad_segs=3))
        out.append(shapely.simplify(area, tol))
    logger.info("walk areas of %d points (%.0f m) in %.2f s", len(geo), reach_m, time.perf_counter() - t0)
    return gpd.GeoSeries(out, index=geo.index, crs=network.crs)


# ---------------------------------------------------------------------- map plumbing
def _children(m: Any) -> list[Any]:
    return list(m._children.values())


def _find(m: folium.Map, cls: type) -> Any:
    for child in _children(m):
        if isinstance(child, cls):
            return child
    return None


def _setup(m: folium.Map, *, lang: str, created: bool) -> tuple[_Setup, _Legend]:
    """planner's runtime, panes, attribution and legend on ``m`` (added once)."""
    if _find(m, _Runtime) is None:
        m.add_child(_Runtime())
    setup = _find(m, _Setup)
    if setup is None:
        setup = _Setup(scale=created)
        m.add_child(setup)
    setup.credit(OSM_ATTRIBUTION)
    legend = _find(m, _Legend)
    if legend is None:
        legend = _Legend(lang)
        m.add_child(legend)
    return setup, legend


def _new_map(bounds: tuple[float, float, float, float], *, title: str, tiles: str | None,
             tiles_attribution: str | None) -> folium.Map:  # fmt: skip
    """An empty map over (west, south, east, north), with no basemap unless ``tiles`` is given."""
    w, s, e, n = bounds
    m = folium.Map(location=[(s + n) / 2, (w + e) / 2], zoom_start=14, tiles=None,
                   control_scale=False, zoom_control="bottomleft")  # fmt: skip
    root = m.get_root()
    if isinstance(root, Figure):
        root.title = escape_html(title)
    if tiles:
        _check_tiles(tiles, tiles_attribution)
        folium.TileLayer(tiles=tiles, attr=escape_html(tiles_attribution), name="basemap", overlay=False,
                         control=False, max_zoom=19).add_to(m)  # fmt: skip
    m.fit_bounds([[s, w], [n, e]])
    return m


def _check_tiles(tiles: str, attribution: str | None) -> None:
    if not re.match(r"^(https?://|/|\./|\.\./)", tiles) or not all(p in tiles for p in ("{z}", "{x}", "{y}")):
        msg = (
            f"tiles must be an http(s) or relative XYZ URL with {{z}}, {{x}} and {{y}}, e.g. "
            f"'https://tiles.intranet.example/{{z}}/{{x}}/{{y}}.png'; got {tiles!r}."
        )
        raise ValueError(msg)
    if not attribution:
        msg = "tiles need an attribution (tiles_attribution=...), shown on the map."
        raise ValueError(msg)


class _Group(folium.FeatureGroup):
    """A layer of planner's; ``planner_key`` marks layers drawn once per map (context)."""

    planner_key: str | None = None


def _group(m: folium.Map, name_html: str, *, show: bool) -> _Group:
    taken = {getattr(c, "layer_name", None) for c in _children(m)}
    name, k = name_html, 2
    while name in taken:
        name, k = f"{name_html} ({k})", k + 1
    group = _Group(name=name, show=show, overlay=True, control=True)
    m.add_child(group)
    return group


def _swatch(colour: str, *, border: str | None = None, opacity: float = 1.0) -> str:
    edge = f";border-color:{border}" if border else ""
    return f'<span class="pl-sw" style="background:{colour};opacity:{opacity:g}{edge}"></span>'


def _finish(m: folium.Map) -> None:
    """Keep the legend and layer control after every layer, so they list all of them."""
    for cls in (_Legend, folium.LayerControl):
        for key, child in list(m._children.items()):
            if isinstance(child, cls):
                del m._children[key]
                m._children[key] = child
    if _find(m, folium.LayerControl) is None:
        m.add_child(folium.LayerControl(position="topright", collapsed=False))


def _bounds(*layers: gpd.GeoDataFrame | gpd.GeoSeries | None) -> tuple[float, float, float, float]:
    boxes = []
    for layer in layers:
        if layer is None or len(layer) == 0:
            continue
        g = _to_lonlat(layer)
        g = g[~(g.is_empty | g.isna())]
        if len(g):
            boxes.append(g.total_bounds)
    if not boxes:
        msg = "nothing to draw: every layer is empty."
        raise ValueError(msg)
    arr = np.array(boxes)
    w, s, e, n = arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max()
    if not np.all(np.isfinite([w, s, e, n])):
        msg = "layer bounds are not finite; check the CRS of the inputs (lon/lat swapped?)."
        raise ValueError(msg)
    return float(w), float(s), float(e), float(n)


def _select_kinds(coverage: Coverage, kinds: Sequence[str] | str | None) -> list[str]:
    if kinds is None:
        return list(coverage.kinds)
    names = [kinds] if isinstance(kinds, str) else list(kinds)
    unknown = [k for k in names if k not in coverage.kinds]
    if unknown or not names:
        msg = f"kinds {unknown or names} not in this coverage; it has {list(coverage.kinds)}."
        raise ValueError(msg)
    return names


# ---------------------------------------------------------------------- layers
def _draw_context(m: folium.Map, legend: _Legend, lang: str, network: WalkNetwork | None,
                  boundary: gpd.GeoDataFrame | None, *, decimals: int) -> None:  # fmt: skip
    other = _t(lang, "other_heading")
    drawn = {getattr(c, "planner_key", None) for c in _children(m)}
    if network is not None and "streets" not in drawn:
        edges = network.edges_geodataframe()
        merged = shapely.line_merge(shapely.multilinestrings(edges.geometry.to_numpy()))
        lines = gpd.GeoSeries([shapely.simplify(merged, 2.0)], crs=network.crs).to_crs(4326)
        name = _t(lang, "layer_streets")
        group = _group(m, f'<span class="pl-line"></span> {name}', show=True)
        group.planner_key = "streets"
        style = {"color": _STREET_COLOUR, "weight": 1, "opacity": 0.55}
        group.add_child(_Vectors(_features(lines.to_numpy(), [{}], decimals=decimals), [style],
                                 pane="pl-context", interactive=False))  # fmt: skip
        legend.add(other, "streets", '<span class="pl-line"></span>', name)
    if boundary is not None and len(boundary) and "boundary" not in drawn:
        geo = _to_lonlat(boundary)
        name = _t(lang, "layer_boundary")
        group = _group(m, name, show=True)
        group.planner_key = "boundary"
        style = {"color": "#212121", "weight": 2, "dashArray": "6 4", "fill": False, "opacity": 0.9}
        group.add_child(_Vectors(_features(geo.boundary.to_numpy(), [{}] * len(geo), decimals=decimals),
                                 [style], pane="pl-lines", interactive=False))  # fmt: skip
        legend.add(other, "boundary", '<span class="pl-line" style="border-top:2px dashed #212121"></span>', name)


def _facility_icon(colour: str, glyph: str) -> dict[str, Any]:
    html = f'<div class="pl-fac" style="background:{colour}">{escape_html(glyph)}</div>'
    return {"c": "pl-icon", "h": html, "s": [24, 24], "a": [12, 12], "pa": [0, -12], "ta": [0, -12]}


def _site_icon(rank: str) -> dict[str, Any]:
    html = f'<div class="pl-site"><span>{escape_html(rank)}</span></div>'
    return {"c": "pl-icon", "h": html, "s": [30, 30], "a": [15, 15], "pa": [0, -15], "ta": [0, -15]}


def _draw_kind(
    m: folium.Map, legend: _Legend, coverage: Coverage, network: WalkNetwork | None, name: str,
    order: int, *, lang: str, show: bool, service: bool, buffer_m: float, max_vector_cells: int,
    decimals: int,
) -> None:  # fmt: skip
    kind = coverage.kinds[name]
    label = _kind_label(kind, name, lang)
    colour = _colour(name, order)
    target = _target_label(kind.target_column, lang)
    pop = coverage.population
    minutes = coverage.minutes[name].to_numpy(dtype=float)
    people = pop[kind.target_column].to_numpy(dtype=float)
    edges = [float(t) for t in coverage.thresholds_min]
    colours = _time_colours(len(edges) + 1)
    cls = (minutes[:, None] > np.array(edges)[None, :]).sum(axis=1)
    raster = len(pop) > max_vector_cells
    time_heading = _t(lang, "time_heading")
    for i, c in enumerate(colours):
        if i == 0:
            text = _t(lang, "class_first", b=_num(edges[0]))
        elif i < len(edges):
            text = _t(lang, "class_mid", a=_num(edges[i - 1]), b=_num(edges[i]))
        else:
            text = _t(lang, "class_last", a=_num(edges[-1]))
        legend.add(time_heading, f"class{i}", _swatch(c, opacity=0.75), text)

    # walking-time classes of the cells
    group = _group(m, f"{_swatch(colours[0])} {_t(lang, 'layer_time', kind=label)}", show=show)
    if raster:
        palette = np.array([_rgba(c, 0.7) for c in colours], np.uint8)
        url, bounds = _raster(pop.geometry, palette[cls])
        group.add_child(_Image(url, bounds, pane="pl-cells", opacity=1.0))
        legend.add(time_heading, "raster", "", _t(lang, "legend_raster"))
    else:
        geoms = _to_lonlat(pop).to_numpy()
        is_point = shapely.get_type_id(geoms) == 0
        styles = [{"stroke": False, "fillColor": c, "fillOpacity": 0.72} for c in colours]
        walk = _t(lang, "walk_time")
        props = []
        for k, (mins, n, pt) in enumerate(zip(minutes, people, is_point, strict=True)):
            when = (_t(lang, "minutes", x=f"{mins:.1f}") if mins <= edges[-1]
                    else _t(lang, "beyond", t=_num(edges[-1])))  # fmt: skip
            tip = f"{escape_html(target)}: {escape_html(_people(n))}<br>{walk}: {when}"
            p = {"s": int(cls[k]), "t": tip}
            if pt:
                p["r"] = 4
            props.append(p)
        group.add_child(_Vectors(_features(geoms, props, decimals=decimals), styles, pane="pl-cells"))

    # service areas of the facilities, from the streets they reach
    fac = coverage.facilities
    fac = fac[fac[KIND] == name]
    names = [str(x) if isinstance(x, str) and x.strip() else "" for x in fac.get(NAME, pd.Series("", fac.index))]
    no_name = _TEXT[lang]["no_name"]
    if service and network is not None and len(fac):
        reach = kind.reach_m()
        areas = service_area_polygons(network, fac, reach, buffer_m=buffer_m,
                              max_snap_m=float(coverage.params.get("max_snap_m", 300.0)))  # fmt: skip
        tips = [{"t": _t(lang, "area_tip", name=nm or no_name, t=_num(kind.threshold_min),
                          reach=f"{reach:,.0f}", speed=_num(kind.speed_kmh))} for nm in names]  # fmt: skip
        style = {"color": colour, "weight": 1.5, "opacity": 0.9, "dashArray": "4 3",
                 "fillColor": colour, "fillOpacity": 0.12}  # fmt: skip
        text = _t(lang, "layer_areas", kind=label, t=_num(kind.threshold_min))
        group = _group(m, f"{_swatch(colour, opacity=0.35, border=colour)} {text}", show=show)
        group.add_child(_Vectors(_features(_to_lonlat(areas).to_numpy(), tips, decimals=decimals), [style],
                                 pane="pl-areas"))  # fmt: skip
        legend.add(_t(lang, "other_heading"), f"areas{_num(kind.threshold_min)}",
                   _swatch("#9e9e9e", opacity=0.45, border="#424242"),
                   _t(lang, "legend_areas", t=_num(kind.threshold_min)))  # fmt: skip

    # people not covered, as circles sized by people
    gaps = coverage.gaps(name)
    if len(gaps):
        total = float(gaps["uncovered"].sum())
        text = _t(lang, "layer_gaps", kind=label, n=_people(total))
        group = _group(m, f'<span class="pl-dot" style="width:10px;height:10px"></span> {text}', show=show)
        if len(gaps) > max_vector_cells:
            rgba = np.repeat(np.array([_rgba(_GAP_COLOUR, 0.85)], np.uint8), len(gaps), axis=0)
            url, bounds = _raster(gaps.geometry, rgba)
            group.add_child(_Image(url, bounds, pane="pl-people", opacity=1.0))
        else:
            pts = _to_lonlat(gaps.geometry.representative_point()).to_numpy()
            n = gaps["uncovered"].to_numpy(dtype=float)
            radius = 2.0 + 6.0 * np.sqrt(n / max(float(n.max()), 1e-9))
            t = _num(kind.threshold_min)
            props = [{"r": round(float(r), 1), "t": _t(lang, "gap_tip", n=_people(x), target=target, t=t)}
                     for r, x in zip(radius, n, strict=True)]  # fmt: skip
            style = {"color": "#ffffff", "weight": 0.8, "fillColor": _GAP_COLOUR, "fillOpacity": 0.75}
            group.add_child(_Vectors(_features(pts, props, decimals=decimals), [style], pane="pl-people"))
        legend.add(_t(lang, "other_heading"), "gaps", '<span class="pl-dot"></span>', _t(lang, "legend_gaps"))

    # facilities
    if len(fac):
        fac_ll = _to_lonlat(fac)
        snapped = fac["snap_ok"].to_numpy(bool) if "snap_ok" in fac else np.ones(len(fac), bool)
        caps = fac[CAPACITY] if CAPACITY in fac else pd.Series(np.nan, index=fac.index)
        rows = []
        unit = _unit(kind.capacity_unit, lang)
        for nm, geom, ok, cap in zip(names, fac_ll.to_numpy(), snapped, caps, strict=True):
            cap_text = _capacity(cap, unit) or _TEXT[lang]["unknown"]
            warn = "" if ok else _t(lang, "not_snapped", m=_num(float(coverage.params.get("max_snap_m", 300))))
            pop_html = _popup(escape_html(nm or no_name), [
                (_t(lang, "kind"), escape_html(label)),
                (_t(lang, "capacity"), escape_html(cap_text)),
            ], warn=warn)  # fmt: skip
            rows.append([round(geom.y, 6), round(geom.x, 6), 0, {"p": pop_html, "t": escape_html(nm or label)}])
        icon = _facility_icon(colour, _glyph(name, label, lang))
        text = _t(lang, "layer_facilities", kind=label, n=len(fac))
        group = _group(m, f"{_swatch(colour)} {text}", show=True)
        group.add_child(_Markers(rows, [icon]))
    mini = f'<span class="pl-fac pl-mini" style="background:{colour}">{escape_html(_glyph(name, label, lang))}</span>'
    legend.add(_t(lang, "facilities_heading"), f"fac-{name}", mini, escape_html(label))


def _district_shares(coverage: Coverage, districts: gpd.GeoDataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Covered and total target people per district and kind (cells join by their centre)."""
    pts = gpd.GeoDataFrame(geometry=coverage.population.geometry.representative_point(),
                           crs=coverage.population.crs)  # fmt: skip
    d = districts.geometry.to_crs(coverage.population.crs)
    joined = gpd.sjoin(pts, gpd.GeoDataFrame(geometry=d.reset_index(drop=True)), how="inner", predicate="within")
    joined = joined[~joined.index.duplicated()]
    rows = []
    for name in names:
        kind = coverage.kinds[name]
        w = coverage.population.loc[joined.index, kind.target_column].astype(float)
        ok = coverage.minutes.loc[joined.index, name] <= kind.threshold_min
        frame = pd.DataFrame({"d": joined["index_right"].to_numpy(), "w": w.to_numpy(), "c": (w * ok).to_numpy()})
        agg = frame.groupby("d")[["w", "c"]].sum().reindex(range(len(d)), fill_value=0.0)
        for i, (tot, cov) in enumerate(zip(agg["w"], agg["c"], strict=True)):
            rows.append({"district": i, "kind": name, "total": float(tot), "covered": float(cov)})
    return pd.DataFrame(rows)


def _draw_districts(m: folium.Map, legend: _Legend, coverage: Coverage, districts: gpd.GeoDataFrame,
                    names: Sequence[str], *, lang: str, decimals: int) -> None:  # fmt: skip
    if len(districts) == 0:
        return
    col = "district" if "district" in districts else ("name" if "name" in districts else None)
    labels = [str(x) for x in (districts[col] if col else districts.index)]
    shares = _district_shares(coverage, districts, names)
    geo = _to_lonlat(districts)
    props, rows = [], []
    first = names[0]
    for i, (lab, geom) in enumerate(zip(labels, geo.to_numpy(), strict=True)):
        lines, headline = [], ""
        for name in names:
            kind = coverage.kinds[name]
            klabel = _kind_label(kind, name, lang)
            target = _target_label(kind.target_column, lang)
            r = shares[(shares["district"] == i) & (shares["kind"] == name)].iloc[0]
            if r["total"] > 0:
                share = r["covered"] / r["total"]
                line = _t(lang, "district_line", kind=klabel, share=_pct(share), target=target,
                          t=_num(kind.threshold_min), covered=_people(r["covered"]), total=_people(r["total"]))  # fmt: skip
                if name == first:
                    headline = _pct(share)
            else:
                line = _t(lang, "district_none", kind=klabel, target=target)
            lines.append(line)
        popup = f'<div class="pl-pop"><b>{escape_html(lab)}</b><br>{"<br>".join(lines)}</div>'
        props.append({"p": popup, "t": popup})
        if geom is not None and not geom.is_empty:
            at = geom.representative_point()
            text = escape_html(lab) + (f": {escape_html(headline)}" if headline else "")
            rows.append([round(at.y, 6), round(at.x, 6), 0, None, text])
    name = _t(lang, "layer_districts")
    group = _group(m, f'<span class="pl-line" style="border-top-color:{_DISTRICT_COLOUR}"></span> {name}', show=True)
    style = {"color": _DISTRICT_COLOUR, "weight": 2, "opacity": 0.9, "fill": False}
    group.add_child(_Vectors(_features(geo.boundary.to_numpy(), props, decimals=decimals), [style], pane="pl-lines"))
    icons = [{"c": "pl-icon", "h": f'<div class="pl-label-in">{r[4]}</div>', "s": [0, 0], "a": [0, 0],
              "pa": [0, 0], "ta": [0, 0]} for r in rows]  # fmt: skip
    group.add_child(_Markers([[r[0], r[1], k, None] for k, r in enumerate(rows)], icons))
    fk = coverage.kinds[first]
    explain = _t(lang, "legend_districts", target=_target_label(fk.target_column, lang),
                 t=_num(fk.threshold_min), kind=_kind_label(fk, first, lang))  # fmt: skip
    legend.add(_t(lang, "other_heading"), "districts",
               f'<span class="pl-line" style="border-top-color:{_DISTRICT_COLOUR}"></span>', explain)  # fmt: skip


# ---------------------------------------------------------------------- public API
def coverage_map(
    coverage: Coverage,
    network: WalkNetwork | None = None,
    *,
    kinds: Sequence[str] | str | None = None,
    districts: gpd.GeoDataFrame | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    lang: str = "en",
    title: str | None = None,
    tiles: str | None = None,
    tiles_attribution: str | None = None,
    attribution: Sequence[str] = (),
    service_areas: bool = True,
    service_buffer_m: float = 50.0,
    max_vector_cells: int = 20_000,
    decimals: int = 5,
    m: folium.Map | None = None,
) -> folium.Map:
    """A map of walking coverage for officials: layers per kind, legend, escaped text.

    Per kind, as layers that can be switched on and off: the facilities (icon and colour per
    kind; popup with name, kind and capacity), the cells coloured by walking-time class (the
    coverage's thresholds, e.g. 0–5, 5–10, 10–15, over 15 min; the target population in the
    tooltip), each facility's walk area (reached streets, buffered) and the people not
    covered (circles sized by people). Also the districts with their coverage shares, and
    the streets and boundary as light context so the map reads without a basemap. Only the
    first kind's cell layers are shown on opening. Every string is escaped.

    Save it with :func:`save_map`, which inlines Leaflet so the file works offline.

    Parameters
    ----------
    coverage
        From :func:`planner.compute_coverage`.
    network
        The walk network: draws the streets and the facilities' walk areas (None: neither).
    kinds
        Kinds to draw, in order (default: all kinds of the coverage).
    districts
        Polygons with a ``district`` (or ``name``) column: outlines labelled with the share
        of the first kind's target population covered; the popup lists every kind.
    boundary
        Study-area polygons drawn as a dashed outline.
    lang
        ``"en"`` or ``"zh"`` for every label.
    title
        Map title (default: "15-minute walking coverage" in ``lang``).
    tiles
        An XYZ tile URL (e.g. an intranet server); default: no basemap.
    tiles_attribution
        Credit for ``tiles`` (required with it).
    attribution
        More credits for the attribution line; "© OpenStreetMap contributors" is always there.
    service_areas
        Draw the walk area of every facility (needs ``network``).
    service_buffer_m
        Metres either side of a reached street that count as in the walk area.
    max_vector_cells
        Above this many cells the walking-time classes are drawn as one image (no tooltips),
        which keeps big maps small.
    decimals
        Decimal places kept in lon/lat (5 ≈ 1 m).
    m
        A map to draw on (layers stack); None for a new one.

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> import geopandas as gpd
    >>> from planner.network import WalkNetwork
    >>> from planner.coverage import compute_coverage
    >>> from planner.kinds import FacilityKind
    >>> net = WalkNetwork.from_edges([[0, 0], [600, 0]], [0], [1], [600.0], crs="EPSG:32628")
    >>> cells = gpd.GeoDataFrame({"population": [10.0, 5.0]},
    ...                          geometry=gpd.points_from_xy([0, 600], [0, 0]), crs=32628)
    >>> fac = gpd.GeoDataFrame({"kind": ["nursery"], "name": ["<b>Bambi</b>"]},
    ...                        geometry=gpd.points_from_xy([0], [0]), crs=32628)
    >>> kinds = {"nursery": FacilityKind("nursery", "population", speed_kmh=3.6)}
    >>> cov = compute_coverage(net, cells, fac, kinds=kinds, thresholds_min=(5, 10))
    >>> html = map_html(coverage_map(cov, net))
    >>> "© OpenStreetMap contributors" in html, "<b>Bambi" in html, "https://cdn" in html
    (True, False, False)
    """
    lang = _check_lang(lang)
    names = _select_kinds(coverage, kinds)
    created = m is None
    if m is None:
        m = _new_map(_bounds(coverage.population, boundary, districts), title=title or _TEXT[lang]["title"],
                     tiles=tiles, tiles_attribution=tiles_attribution)  # fmt: skip
    setup, legend = _setup(m, lang=lang, created=created)
    for credit in (*attribution, *([tiles_attribution] if tiles and created and tiles_attribution else [])):
        setup.credit(credit)

    for order, name in enumerate(names):
        _draw_kind(m, legend, coverage, network, name, list(coverage.kinds).index(name), lang=lang,
                   show=order == 0, service=service_areas, buffer_m=service_buffer_m,
                   max_vector_cells=max_vector_cells, decimals=decimals)  # fmt: skip
    if districts is not None:
        _draw_districts(m, legend, coverage, districts, names, lang=lang, decimals=decimals)
    _draw_context(m, legend, lang, network, boundary, decimals=decimals)

    if created or title is not None:
        lines = []
        for name in names:
            kind = coverage.kinds[name]
            label = _kind_label(kind, name, lang)
            has = bool((coverage.facilities[KIND] == name).any()) if len(coverage.facilities) else False
            if has:
                lines.append(_t(lang, "summary", kind=label, share=_pct(coverage.share(name)),
                                target=_target_label(kind.target_column, lang),
                                t=_num(kind.threshold_min), speed=_num(kind.speed_kmh)))  # fmt: skip
            else:
                lines.append(_t(lang, "summary_none", kind=label))
        _set_title(m, escape_html(title or _TEXT[lang]["title"]), lines, _t(lang, "note"))
    _finish(m)
    return m


def _set_title(m: folium.Map, title_html: str, lines: Sequence[str] | None, note: str) -> None:
    """Add the title box, or update it (``lines=None`` keeps the lines it has)."""
    old = _find(m, _Title)
    if old is not None:
        old.title_html, old.note_html = title_html, note
        if lines is not None:
            old.lines_html = list(lines)
        return
    m.add_child(_Title(title_html, lines or [], note))


def siting_map(
    result: Any,
    network: WalkNetwork | None = None,
    *,
    coverage: Coverage | None = None,
    kind: str | None = None,
    districts: gpd.GeoDataFrame | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    lang: str | None = None,
    title: str | None = None,
    tiles: str | None = None,
    tiles_attribution: str | None = None,
    service_areas: bool = True,
    service_buffer_m: float = 50.0,
    decimals: int = 5,
    m: folium.Map | None = None,
) -> folium.Map:
    """A map of proposed sites in build order, with the people each one adds.

    Each site is a numbered marker (its ``rank``); the popup gives the kind, the target
    people it adds (``gain``) and the running total (``cumulative``). With ``network`` the
    sites' walk areas are drawn too. With ``coverage`` and no ``m``, the coverage of that
    kind is drawn underneath (:func:`coverage_map`).

    Parameters
    ----------
    result
        A siting result: anything with ``.sites`` (GeoDataFrame in build order with
        ``rank``, ``gain`` and optionally ``cumulative`` and ``kind``) and ``.params``.
    network
        The walk network, for the sites' walk areas (and context when ``coverage`` is given).
    coverage
        The coverage the sites were chosen for (labels, thresholds, base layers).
    kind
        The facility kind (default: the sites' ``kind`` column or ``result.params["kind"]``).
    districts, boundary
        Drawn with the coverage underneath (new map with ``coverage`` only); see
        :func:`coverage_map`.
    lang
        ``"en"`` or ``"zh"`` (default: that of ``m``, else ``"en"``).
    title
        Map title (default: the coverage title, or "Proposed sites").
    tiles, tiles_attribution
        As in :func:`coverage_map`.
    service_areas
        Draw the sites' walk areas (needs ``network``).
    service_buffer_m
        As in :func:`coverage_map`.
    decimals
        Decimal places kept in lon/lat.
    m
        A map to draw on, e.g. from :func:`coverage_map`; None for a new one.

    Returns
    -------
    folium.Map
    """
    sites = getattr(result, "sites", None)
    if not isinstance(sites, gpd.GeoDataFrame):
        msg = f"result must have a .sites GeoDataFrame (a SitingResult); got {type(result).__name__}."
        raise TypeError(msg)
    missing = [c for c in ("rank", "gain") if c not in sites.columns]
    if missing:
        msg = f"result.sites is missing column(s) {missing}; it has {[c for c in sites.columns if c != 'geometry']}."
        raise ValueError(msg)
    params = dict(getattr(result, "params", {}) or {})
    if kind is None:
        if KIND in sites.columns and sites[KIND].nunique() == 1:
            kind = str(sites[KIND].iloc[0])
        elif params.get("kind") is not None:
            kind = str(params["kind"])
    if m is not None and lang is None:
        legend = _find(m, _Legend)
        lang = legend.lang if legend is not None else "en"
    lang = _check_lang(lang or "en")
    fk: FacilityKind | None = None
    if kind is not None:
        fk = (coverage.kinds.get(kind) if coverage is not None else None) or DEFAULT_KINDS.get(kind)
    if fk is not None:
        overrides = {k: params[k] for k in ("threshold_min", "speed_kmh") if isinstance(params.get(k), int | float)}
        if overrides:
            fk = FacilityKind(**{**{f: getattr(fk, f) for f in ("name", "target_column", "threshold_min",
                                                                 "speed_kmh", "capacity_unit", "label_en",
                                                                 "label_zh")}, **overrides})  # fmt: skip
    label = _kind_label(fk, kind, lang) if kind else _TEXT[lang]["sites"]
    sites = sites.sort_values("rank")
    created = m is None
    if m is None:
        if coverage is not None and kind is not None and kind in coverage.kinds:
            m = coverage_map(coverage, network, kinds=[kind], districts=districts, boundary=boundary,
                             lang=lang, title=title, tiles=tiles,
                             tiles_attribution=tiles_attribution, service_areas=service_areas,
                             service_buffer_m=service_buffer_m, decimals=decimals)  # fmt: skip
        else:
            w, s, e, n = _bounds(sites, boundary)
            pad = max(e - w, n - s, 0.01) * 0.15
            m = _new_map((w - pad, s - pad, e + pad, n + pad),
                         title=title or _TEXT[lang]["sites"],
                         tiles=tiles, tiles_attribution=tiles_attribution)  # fmt: skip
    _, legend = _setup(m, lang=lang, created=created)

    target = _target_label(fk.target_column if fk else None, lang)
    t = _num(fk.threshold_min) if fk else ""
    total = None
    if coverage is not None and fk is not None and fk.target_column in coverage.population:
        total = float(coverage.population[fk.target_column].sum())
    geo = _to_lonlat(sites)
    rows, icons = [], []
    for k, ((_, r), pt) in enumerate(zip(sites.iterrows(), geo.to_numpy(), strict=True)):
        rank = _rank(r["rank"])
        gain = float(r["gain"])
        title_html = _t(lang, "site_title", rank=rank)
        gain_html = (_t(lang, "site_gain", n=_people(gain), target=target, t=t) if fk
                     else _t(lang, "site_gain_plain", n=_people(gain)))  # fmt: skip
        table = [(_t(lang, "kind"), escape_html(label))]
        if NAME in sites.columns and isinstance(r[NAME], str) and r[NAME].strip():
            table.insert(0, (_t(lang, "name"), escape_html(r[NAME])))
        lines = [gain_html]
        if "cumulative" in sites.columns and pd.notna(r["cumulative"]):
            cum = float(r["cumulative"])
            text = _people(cum) + (f" ({_pct(cum / total)})" if total and 1.0 < cum <= total * 1.0001 else "")
            lines.append(_t(lang, "site_cumulative", rank=rank, n=text))
        popup = _popup(title_html, table) + "".join(f"<div>{line}</div>" for line in lines)
        rows.append([round(pt.y, 6), round(pt.x, 6), k, {"p": popup, "t": _t(lang, "site_tip", rank=rank,
                                                                               n=_people(gain))}])  # fmt: skip
        icons.append(_site_icon(rank))
    name_html = _t(lang, "layer_sites", kind=label, n=len(sites))
    group = _group(m, f'<span class="pl-mini-site" style="margin:0 3px"></span> {name_html}', show=True)
    group.add_child(_Markers(rows, icons))
    legend.add(_t(lang, "other_heading"), "sites", '<span class="pl-mini-site"></span>', _t(lang, "legend_sites"))

    if service_areas and network is not None and fk is not None and len(sites):
        max_snap = float(coverage.params.get("max_snap_m", 300.0)) if coverage is not None else 300.0
        areas = service_area_polygons(network, sites, fk.reach_m(), buffer_m=service_buffer_m, max_snap_m=max_snap)
        tips = [{"t": _t(lang, "site_title", rank=_rank(r))} for r in sites["rank"]]
        style = {"color": "#b26a00", "weight": 2, "opacity": 0.9, "fillColor": _SITE_COLOUR,
                 "fillOpacity": 0.18}  # fmt: skip
        text = _t(lang, "layer_site_areas", kind=label, t=t)
        group = _group(m, f"{_swatch(_SITE_COLOUR, opacity=0.5, border='#b26a00')} {text}", show=True)
        group.add_child(_Vectors(_features(_to_lonlat(areas).to_numpy(), tips, decimals=decimals), [style],
                                 pane="pl-areas"))  # fmt: skip
    _draw_context(m, legend, lang, network, boundary, decimals=decimals)  # each drawn once per map
    if created and _find(m, _Title) is None:
        _set_title(m, escape_html(title or _TEXT[lang]["sites"]), [], _t(lang, "note"))
    elif title is not None and not created:
        _set_title(m, escape_html(title), None, _t(lang, "note"))
    _finish(m)
    return m


def _capacity(value: Any, unit: str) -> str:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value) if value is not None else ""
    return f"{f:,.0f} {unit}".strip() if math.isfinite(f) else ""


def _rank(value: Any) -> str:
    try:
        f = float(value)
        return str(int(f)) if f.is_integer() else f"{f:g}"
    except (TypeError, ValueError):
        return str(value)


# ---------------------------------------------------------------------- HTML out
def _walk(element: Any) -> Iterator[Any]:
    yield element
    for child in list(getattr(element, "_children", {}).values()):
        yield from _walk(child)


_MISSING = object()


@contextlib.contextmanager
def _offline(figure: Figure) -> Iterator[None]:
    """Render-time swap: folium's CDN links out, Leaflet (vendored) inline; undone afterwards."""
    saved: list[tuple[Any, Any, Any]] = []
    unknown: list[str] = []
    for el in _walk(figure):
        if isinstance(el, JSCSSMixin):
            for name, url in [*el.default_js, *el.default_css]:
                if name not in _FOLIUM_BASE_ASSETS:
                    unknown.append(f"{type(el).__name__} needs {url}")
            saved.append((el, el.__dict__.get("default_js", _MISSING), el.__dict__.get("default_css", _MISSING)))
            el.default_js, el.default_css = [], []
    header_before = figure.header._children
    try:
        if unknown:
            msg = (
                "these map elements load files from the internet and cannot be saved offline: "
                + "; ".join(sorted(set(unknown))) + ". Remove them or save with offline=False."
            )
            raise ValueError(msg)
        style, script = _inline_assets()
        kept = [(k, c) for k, c in header_before.items() if not isinstance(c, JavascriptLink | CssLink)]
        # the charset <meta> must stay within the first 1024 bytes, before the inlined assets
        meta = [(k, c) for k, c in kept if k == "meta_http"]
        rest = [(k, c) for k, c in kept if k != "meta_http"]
        figure.header._children = OrderedDict(
            [*meta, ("planner_leaflet_css", Element(style)), ("planner_leaflet_js", Element(script)), *rest]
        )
        yield
    finally:
        figure.header._children = header_before
        for el, js, css in saved:
            for attr, value in (("default_js", js), ("default_css", css)):
                if value is _MISSING:
                    el.__dict__.pop(attr, None)
                else:
                    setattr(el, attr, value)


@contextlib.contextmanager
def _restored(figure: Figure) -> Iterator[None]:
    """Undo what rendering adds to the page, so a map renders the same however often."""
    saved = {part: OrderedDict(getattr(figure, part)._children) for part in ("header", "html", "script")}
    try:
        yield
    finally:
        for part, children in saved.items():
            getattr(figure, part)._children = children


_REMOTE = re.compile(
    r"""<(?:script|link|img|iframe|source|embed|object)\b[^>]*?\b(?:src|href|data)\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//|@import""",
    re.IGNORECASE,
)


def map_html(m: folium.Map, *, offline: bool = True) -> str:
    """The whole HTML page of a map, as saved by :func:`save_map`.

    Parameters
    ----------
    m
        The map.
    offline
        Inline Leaflet (vendored in planner) instead of folium's CDN links, so that the page
        loads nothing from the internet. Elements that need other web files (folium plugins,
        folium ``Popup``/``Icon``, which need jQuery or Font Awesome) are an error.

    Returns
    -------
    str
    """
    figure = m.get_root()
    if not isinstance(figure, Figure):
        msg = "the map is not in a Figure; create it with folium.Map(...)."
        raise TypeError(msg)
    with _restored(figure):
        if not offline:
            return figure.render()
        with _offline(figure):
            html = figure.render()
    style, script = _inline_assets()
    rest = html.replace(style, "").replace(script, "")
    hit = _REMOTE.search(rest)
    if hit:
        msg = f"the offline map still references a remote file: {hit.group(0)!r}."
        raise ValueError(msg)
    for needle, what in (("$(", "jQuery (folium Popup, or another folium element)"),
                         ("L.AwesomeMarkers", "awesome-markers (folium Icon)")):  # fmt: skip
        if needle in rest:
            msg = (
                f"the map uses {what}, which planner does not inline; use planner's layers, "
                "or save with offline=False."
            )
            raise ValueError(msg)
    tiles = [c for c in _walk(figure) if isinstance(c, folium.TileLayer)]
    for tile in tiles:
        logger.info("offline map keeps the basemap %s (loaded when the map opens)", tile.tiles)
    return html


def save_map(m: folium.Map, path: str | Path, *, offline: bool = True) -> Path:
    """Write a map as one self-contained HTML file (atomically).

    Parameters
    ----------
    m
        The map, e.g. from :func:`coverage_map`.
    path
        Target ``.html`` file; folders are created.
    offline
        Inline Leaflet so that the file makes no internet request (see :func:`map_html`).

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    html = map_html(m, offline=offline)
    with atomic_path(path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    logger.info("wrote map %s (%.2f MB)", path, path.stat().st_size / 1e6)
    return path


class OfflineMap:
    """A map shown in Jupyter from an inline page (no CDN), as officials will see it."""

    def __init__(self, m: folium.Map, *, height_px: int = 520) -> None:
        self.m = m
        self.height_px = int(height_px)

    def _repr_html_(self) -> str:
        import html as _html

        page = map_html(self.m, offline=True)
        # the whole page goes into srcdoc, attribute-escaped; its own content is escaped already
        return (
            f'<iframe srcdoc="{_html.escape(page, quote=True)}" '
            f'style="width:100%;height:{self.height_px}px;border:1px solid #ccc"></iframe>'
        )


def show_map(m: folium.Map, *, height_px: int = 520) -> OfflineMap:
    """Display a map inline in a notebook without loading anything from the internet.

    Parameters
    ----------
    m
        A map from :func:`coverage_map` or :func:`siting_map`.
    height_px
        Height of the frame in pixels.

    Returns
    -------
    OfflineMap
        Jupyter renders it as an iframe holding the offline page of :func:`map_html`.
    """
    return OfflineMap(m, height_px=height_px)
