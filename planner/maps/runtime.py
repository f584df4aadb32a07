"""The offline runtime: vendored Leaflet inlined, planner's small JS helpers, and the map's elements."""

from __future__ import annotations

import base64
import functools
import re
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import folium
from branca.element import Figure, MacroElement
from folium.template import Template

from planner._escape import escape_html, script_json
from planner.maps.style import OSM_ATTRIBUTION, TEXT

PANES = (("pl-context", 350), ("pl-cells", 360), ("pl-areas", 370), ("pl-lines", 380), ("pl-people", 390))


# ---------------------------------------------------------------------- vendored assets
def _asset(name: str) -> bytes:
    return resources.files("planner").joinpath("_assets", "leaflet", name).read_bytes()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


@functools.lru_cache(maxsize=1)
def inline_assets() -> tuple[str, str]:
    """(style element, script element) with Leaflet inlined; images as data URIs."""
    css = _asset("leaflet.css").decode("utf-8")
    css = re.sub(
        r"url\(images/([\w.-]+\.png)\)", lambda mo: f"url({data_uri(_asset('images/' + mo.group(1)))})", css
    )
    js = _asset("leaflet.js").decode("utf-8")
    for text, end in ((css, "</style"), (js, "</script")):
        if end in text.lower() or "<!--" in text:
            msg = f"vendored asset contains {end!r}; it cannot be inlined safely."
            raise RuntimeError(msg)
    icons = script_json({
        "iconUrl": data_uri(_asset("images/marker-icon.png")),
        "iconRetinaUrl": data_uri(_asset("images/marker-icon-2x.png")),
        "shadowUrl": data_uri(_asset("images/marker-shadow.png")),
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
      if (o.bounds) { map._plBounds = L.latLngBounds(o.bounds); }
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
    // A map whose panels must fold: the layer control starts collapsed below this size, or when it
    // lists more layers than fit beside the map (five kinds give 25).
    compact: function (map, layers) {
      var s = map.getSize(); return s.x < 1200 || s.y < 760 || (layers || 0) > 14;
    },
    finish: function (map, control) {
      var self = this, c = map.getContainer(), timer = null;
      function later() { clearTimeout(timer); timer = setTimeout(function () { self.layout(map); self.declutter(map); }, 30); }
      var legend = c.querySelector(".pl-legend");
      if (legend && c.clientWidth < 700) { legend.classList.add("pl-folded"); }
      if (legend) {
        var btn = legend.querySelector(".pl-legend-head");
        if (btn) { L.DomEvent.on(btn, "click", function () { legend.classList.toggle("pl-folded"); later(); }); }
      }
      if (control && window.MutationObserver) {
        new MutationObserver(later).observe(control.getContainer(), {attributes: true, attributeFilter: ["class"]});
      }
      map.on("zoomend moveend overlayadd overlayremove resize", later);
      function first() {
        if (map._animatingZoom) { map.once("zoomend", first); return; }  // folium's first fit, still zooming
        map.invalidateSize(false); self.layout(map); self.refit(map); self.declutter(map);
      }
      // once the page is laid out: sizes read while the page is still loading can be stale
      if (document.readyState === "complete") { map.whenReady(first); }
      else { window.addEventListener("load", function () { map.whenReady(first); }); }
    },
    // Keep the panels apart: the title beside the layer control and above the zoom buttons, the
    // legend between the layer control (above) and the credit line (below).
    layout: function (map) {
      var c = map.getContainer(), W = c.clientWidth, H = c.clientHeight, cr = c.getBoundingClientRect();
      function box(sel) {
        var e = c.querySelector(sel); if (!e || !e.offsetWidth) { return null; }
        var r = e.getBoundingClientRect();
        return {l: r.left - cr.left, t: r.top - cr.top, r: r.right - cr.left, b: r.bottom - cr.top};
      }
      var ctl = box(".leaflet-top.leaflet-right .leaflet-control"), bl = box(".leaflet-bottom.leaflet-left");
      var attr = box(".leaflet-control-attribution");
      var title = c.querySelector(".pl-title");
      if (title) {
        var right = ctl ? ctl.l : W;
        title.style.maxWidth = Math.max(150, Math.min(430, right - 30)) + "px";
        title.style.maxHeight = Math.max(80, (bl ? bl.t : H) - 30) + "px";
      }
      var legend = c.querySelector(".pl-legend"), body = legend && legend.querySelector(".pl-legend-body");
      if (body) {
        var t = box(".pl-title"), top = ctl ? ctl.b : 0;
        var width = Math.min(300, W - (bl ? bl.r : 0) - 30);
        legend.style.maxWidth = Math.max(120, width) + "px";
        if (t && t.r > W - width - 20) { top = Math.max(top, t.b); }
        var head = legend.querySelector(".pl-legend-head");
        var room = H - top - (attr ? H - attr.t : 0) - 30 - (head ? head.offsetHeight : 0);
        body.style.maxHeight = Math.max(40, room) + "px";
      }
    },
    // Fit the data where no panel covers it: right of the title or below it, left of the legend
    // (or above it when folded), whichever shows the data bigger.
    refit: function (map) {
      var b = map._plBounds, c = map.getContainer(), t = c.querySelector(".pl-title");
      if (!b || !t) { return; }
      var cr = c.getBoundingClientRect(), tr = t.getBoundingClientRect();
      var ctl = c.querySelector(".leaflet-top.leaflet-right .leaflet-control");
      var kr = ctl ? ctl.getBoundingClientRect() : {left: cr.right, bottom: cr.top};
      var lg = c.querySelector(".pl-legend"), br = L.point(10, 10);
      if (lg && lg.offsetWidth) {
        var r = lg.getBoundingClientRect();
        br = lg.classList.contains("pl-folded") ? L.point(10, cr.bottom - r.top + 10) : L.point(cr.right - r.left + 10, 10);
      }
      // beside the title (and below the layer control where it reaches over), or below both
      var beside = L.point(tr.right - cr.left + 10, (kr.left < cr.right - br.x ? kr.bottom - cr.top : 0) + 10);
      var below = L.point(10, Math.max(tr.bottom, kr.bottom) - cr.top + 10);
      var best = null, zoom = -1;
      [beside, below].forEach(function (tl) {
        var z = map.getBoundsZoom(b, false, tl.add(br));
        if (z > zoom) { zoom = z; best = tl; }
      });
      map.stop();  // folium's first fitBounds may still be panning
      map.fitBounds(b, {paddingTopLeft: best, paddingBottomRight: br, animate: false});
    },
    // District labels: each placed at its centre, or moved beside it, where it covers no marker,
    // panel or other label and is not cut by the map's edge; one that fits nowhere is hidden (its
    // district still shows on hover).
    declutter: function (map) {
      var c = map.getContainer(), taken = [], box = c.getBoundingClientRect();
      function inside(a) { return a.l >= box.left && a.t >= box.top && a.r <= box.right && a.b <= box.bottom; }
      function rect(e, pad) {
        var r = e.getBoundingClientRect();
        return {l: r.left - pad, t: r.top - pad, r: r.right + pad, b: r.bottom + pad};
      }
      function hits(a) { return taken.some(function (b) { return a.l < b.r && b.l < a.r && a.t < b.b && b.t < a.b; }); }
      c.querySelectorAll(".pl-fac, .pl-site, .leaflet-control").forEach(function (e) {
        if (e.offsetWidth) { taken.push(rect(e, 2)); }
      });
      c.querySelectorAll(".pl-label-in").forEach(function (e) {
        e.classList.remove("pl-hidden");
        e.style.transform = "";
        var r = rect(e, 1), w = r.r - r.l, h = r.b - r.t, placed = false;
        var moves = [[0, 0], [0, -(h / 2 + 13)], [0, h / 2 + 13], [w / 2 + 13, 0], [-(w / 2 + 13), 0],
                     [w / 2 + 13, -(h / 2 + 13)], [-(w / 2 + 13), h / 2 + 13]];
        for (var i = 0; i < moves.length && !placed; i++) {
          var dx = moves[i][0], dy = moves[i][1];
          var cand = {l: r.l + dx, t: r.t + dy, r: r.r + dx, b: r.b + dy};
          if (inside(cand) && !hits(cand)) {
            e.style.transform = "translate(calc(-50% + " + dx + "px), calc(-50% + " + dy + "px))";
            taken.push(cand);
            placed = true;
          }
        }
        if (!placed) { e.classList.add("pl-hidden"); }
      });
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
.pl-site{box-sizing:border-box;width:22px;height:22px;margin:4px;background:#f0e442;border:2px solid #111;
 transform:rotate(45deg);box-shadow:0 1px 4px rgba(0,0,0,.6)}
.pl-site span{display:block;transform:rotate(-45deg);font:bold 11px/18px Arial,sans-serif;
 text-align:center;color:#111}
.pl-label-in{position:absolute;transform:translate(-50%,-50%);white-space:nowrap;
 background:rgba(255,255,255,.88);border:1px solid #37474f;border-radius:3px;padding:1px 5px;
 font:12px/1.3 Arial,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:#111}
.pl-box{background:rgba(255,255,255,.95);padding:8px 11px;border-radius:5px;
 box-shadow:0 1px 5px rgba(0,0,0,.4);font:13px/1.35 Arial,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;
 color:#1a1a1a}
.pl-title{max-width:430px;overflow:auto}
.pl-title h1 .pl-place{display:block;font-size:12px;font-weight:normal;color:#444;margin-bottom:1px}
.pl-title h1{font-size:17px;margin:0 0 4px 0}
.pl-title p{margin:1px 0;font-size:12px;color:#333}
.pl-title p.pl-note{color:#666;font-size:11px}
.pl-legend{max-width:300px;padding:0}
.pl-legend-head{display:block;width:100%;border:0;background:none;text-align:left;cursor:pointer;
 font:bold 12.5px/1.3 Arial,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;padding:6px 11px 2px 11px;color:#1a1a1a}
.pl-legend-head::after{content:" ▾"}
.pl-legend.pl-folded .pl-legend-head::after{content:" ▸"}
.pl-legend.pl-folded .pl-legend-body{display:none}
.pl-legend-body{overflow:auto;padding:0 11px 8px 11px;max-height:50vh}
.pl-hidden{visibility:hidden}
.pl-label-in.pl-zero{border:2px solid #b2182b;color:#b2182b;font-weight:bold}
.pl-label-in.pl-empty{border-style:dashed;color:#555}
@media (max-width:700px){.pl-title h1{font-size:14px}.pl-title p{font-size:11px}.pl-box{padding:6px 8px}}
.pl-legend h2{font-size:12.5px;margin:6px 0 3px 0}
.pl-legend h2:first-child{margin-top:0}
.pl-row{display:flex;align-items:center;gap:7px;margin:2px 0;font-size:12px}
.pl-sw{display:inline-block;box-sizing:border-box;width:18px;height:13px;flex:none;vertical-align:-2px;
 border:1px solid rgba(0,0,0,.35)}
.pl-mini{display:inline-block;flex:none;width:18px;height:18px;font-size:10px;line-height:14px;vertical-align:-4px}
.pl-mini-site{display:inline-block;flex:none;width:12px;height:12px;margin:3px;background:#f0e442;
 border:2px solid #111;transform:rotate(45deg)}
.pl-dot{display:inline-block;flex:none;box-sizing:border-box;width:14px;height:14px;border-radius:50%;
 background:none;border:1.5px solid #111}
.pl-line{display:inline-block;flex:none;width:18px;height:0;border-top:2px solid #8a8a8a}
.pl-raster{image-rendering:pixelated}
.pl-pop b{font-size:13.5px}
.pl-pop table{border-collapse:collapse;margin-top:4px}
.pl-pop th{text-align:left;font-weight:normal;color:#555;padding:1px 8px 1px 0;vertical-align:top}
.pl-pop td{padding:1px 0}
.pl-warn{color:#b71c1c}
.leaflet-control-layers-overlays label{font-size:12px}
.leaflet-control-layers-expanded{max-width:min(440px,calc(100vw - 40px))}
.leaflet-control-layers-overlays .pl-sw{width:12px;height:10px;margin-right:2px}
"""


# ---------------------------------------------------------------------- folium elements
class Runtime(MacroElement):
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


class Setup(MacroElement):
    """Panes (fixed drawing order), scale bar and attribution."""

    _template = Template(
        """{% macro script(this, kwargs) %}
plannerMap.setup({{ this._parent.get_name() }}, {{ this.options_js() }});
{% endmacro %}"""
    )

    def __init__(self, *, scale: bool, bounds: list[list[float]] | None = None) -> None:
        super().__init__()
        self._name = "PlannerSetup"
        self.scale = scale
        self.bounds = bounds
        self.attribution: list[str] = []

    def credit(self, text: str) -> None:
        html = escape_html(text)
        if html not in self.attribution:
            self.attribution.append(html)

    def options_js(self) -> str:
        return script_json({"panes": [list(p) for p in PANES], "scale": self.scale,
                            "attribution": self.attribution, "bounds": self.bounds})  # fmt: skip


class Vectors(MacroElement):
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


class Markers(MacroElement):
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


class Image(MacroElement):
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


class Control(MacroElement):
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


class Title(Control):
    """The title box: place, title, one line per kind (before → after), data notes."""

    def __init__(self, title_html: str, lines_html: Sequence[str], note_html: str) -> None:
        super().__init__("topleft", "pl-box pl-title")
        self._name = "PlannerTitle"
        self.title_html = title_html
        self.lines_html = list(lines_html)
        self.note_html = note_html
        self.place_html = ""
        self.notes_html: list[str] = []

    def inner_html(self) -> str:
        place = f'<span class="pl-place">{self.place_html}</span>' if self.place_html else ""
        lines = "".join(f"<p>{line}</p>" for line in self.lines_html)
        notes = [n for n in (*self.notes_html, self.note_html) if n]
        note = "".join(f'<p class="pl-note">{n}</p>' for n in notes)
        return f"<h1>{place}{self.title_html}</h1>{lines}{note}"


class LayerControl(folium.LayerControl):
    """folium's layer control, collapsed on small screens or when it is long, then planner's layout and labels."""

    _template = Template(
        """
        {% macro script(this,kwargs) %}
            var {{ this.get_name() }}_layers = {
                base_layers : {
                    {%- for key, val in this.base_layers.items() %}
                    {{ key|tojson }} : {{val}},
                    {%- endfor %}
                },
                overlays :  {
                    {%- for key, val in this.overlays.items() %}
                    {{ key|tojson }} : {{val}},
                    {%- endfor %}
                },
            };
            let {{ this.get_name() }} = L.control.layers(
                {{ this.get_name() }}_layers.base_layers,
                {{ this.get_name() }}_layers.overlays,
                L.extend({{ this.options|tojavascript }},
                         {collapsed: plannerMap.compact({{ this._parent.get_name() }},
                                                         Object.keys({{ this.get_name() }}_layers.overlays).length)})
            ).addTo({{this._parent.get_name()}});
            plannerMap.finish({{ this._parent.get_name() }}, {{ this.get_name() }});
        {% endmacro %}
        """
    )


class Legend(Control):
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
        rows = "".join(f"<h2>{h}</h2>{''.join(rows.values())}" for h, rows in self.sections.items() if rows)
        head = escape_html(TEXT[self.lang]["legend"])
        return f'<button type="button" class="pl-legend-head">{head}</button><div class="pl-legend-body">{rows}</div>'


@dataclass(frozen=True)
class TilePreset:
    """A named basemap that needs the user's key: the key is read when the map opens, never stored.

    The page takes the key from its address (``map.html#tk=<key>``) and only then adds the
    layers; without a key it loads nothing and says how to give one.
    """

    layers: tuple[str, ...]
    attribution: str
    key_env: str
    key_param: str
    subdomains: str
    max_zoom: int
    signup: str


#: Named basemaps (``tiles="tianditu"``): Tianditu is CGCS2000, no datum shift under planner's WGS-84.
TILE_PRESETS: Mapping[str, TilePreset] = {
    "tianditu": TilePreset(
        layers=tuple(
            f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
            f"&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
            f"&TILECOL={{x}}&tk={{tk}}"
            for layer in ("vec", "cva")  # streets, then their Chinese labels
        ),
        attribution="© 天地图 Tianditu (tianditu.gov.cn), CGCS2000",
        key_env="TIANDITU_KEY",
        key_param="tk",
        subdomains="01234567",
        max_zoom=18,
        signup="https://console.tianditu.gov.cn",
    ),
}


class KeyedTiles(MacroElement):
    """A preset's layers, added when the page's address carries the key (``#tk=...``)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
(function (m, layers, o) {
  var key = new URLSearchParams(location.hash.slice(1)).get(o.param) || "";
  if (!/^[A-Za-z0-9]{8,64}$/.test(key)) {
    var c = L.control({position: "bottomleft"});
    c.onAdd = function () { var d = L.DomUtil.create("div", "pl-box pl-tiles-note"); d.textContent = o.note; return d; };
    c.addTo(m);
    return;
  }
  layers.forEach(function (url) {
    var opts = {subdomains: o.subdomains, maxZoom: o.maxZoom, attribution: o.attribution};
    opts[o.param] = key;
    L.tileLayer(url, opts).addTo(m).bringToBack();
  });
})({{ this._parent.get_name() }}, {{ this.layers }}, {{ this.options }});
{% endmacro %}"""
    )

    def __init__(self, preset: TilePreset, *, lang: str) -> None:
        super().__init__()
        self._name = "PlannerKeyedTiles"
        self.layers = script_json(list(preset.layers))
        note = TEXT[lang]["tiles_key"].format(param=preset.key_param)
        self.options = script_json({"param": preset.key_param, "subdomains": preset.subdomains,
                                    "maxZoom": preset.max_zoom, "attribution": escape_html(preset.attribution),
                                    "note": note})  # fmt: skip


def new_map(bounds: tuple[float, float, float, float], *, title: str, tiles: str | None,
            tiles_attribution: str | None, lang: str = "en") -> folium.Map:  # fmt: skip
    """An empty map over (west, south, east, north), with no basemap unless ``tiles`` is given."""
    w, s, e, n = bounds
    m = folium.Map(location=[(s + n) / 2, (w + e) / 2], zoom_start=14, tiles=None,
                   control_scale=False, zoom_control="bottomleft", zoom_snap=0.25)  # fmt: skip
    root = m.get_root()
    if isinstance(root, Figure):
        root.title = escape_html(title)
    if tiles is not None and tiles in TILE_PRESETS:
        m.add_child(KeyedTiles(TILE_PRESETS[tiles], lang=lang))
        _TILES[m] = tiles
    elif tiles:
        check_tiles(tiles, tiles_attribution)
        folium.TileLayer(tiles=tiles, attr=escape_html(tiles_attribution), name="basemap", overlay=False,
                         control=False, max_zoom=19).add_to(m)  # fmt: skip
        _TILES[m] = tiles
    m.fit_bounds([[s, w], [n, e]])
    _BOUNDS[m] = [[round(s, 6), round(w, 6)], [round(n, 6), round(e, 6)]]
    return m


def check_tiles(tiles: str, attribution: str | None) -> None:
    """Refuse a tile URL that is not http(s) or relative XYZ, or that comes without its credit.

    A protocol-relative URL (``//host/...``) is refused: it would load from another host while
    looking like a path on this one.
    """
    if tiles in TILE_PRESETS:
        return
    if not re.match(r"^(https?://|/(?!/)|\./|\.\./)", tiles) or not all(
        p in tiles for p in ("{z}", "{x}", "{y}")
    ):
        msg = (
            f"tiles must be an http(s) or relative XYZ URL with {{z}}, {{x}} and {{y}}, e.g. "
            f"'https://tiles.intranet.example/{{z}}/{{x}}/{{y}}.png', or one of {sorted(TILE_PRESETS)}; "
            f"got {tiles!r}."
        )
        raise ValueError(msg)
    if not attribution:
        msg = "tiles need an attribution (tiles_attribution=...), shown on the map."
        raise ValueError(msg)


@dataclass(eq=False)
class MapState:
    """What planner added to one map, so that maps drawn on it (``m=``) stack on it.

    folium keeps no public index of a map's children, so planner keeps its own.
    """

    lang: str
    setup: Setup
    legend: Legend
    title: Title | None = None
    control: folium.LayerControl | None = None
    #: per kind, what the title says: before (and after) shares, sites added
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)
    layer_names: set[str] = field(default_factory=set)
    drawn: set[str] = field(default_factory=set)


_STATES: weakref.WeakKeyDictionary[folium.Map, MapState] = weakref.WeakKeyDictionary()
_TILES: weakref.WeakKeyDictionary[folium.Map, str] = weakref.WeakKeyDictionary()
_BOUNDS: weakref.WeakKeyDictionary[folium.Map, list[list[float]]] = weakref.WeakKeyDictionary()
# add_child with an index past the end moves a child to the end (branca's public API)
_LAST = 1 << 30


def existing_state(m: folium.Map) -> MapState | None:
    """planner's record of ``m``, if planner drew on it."""
    return _STATES.get(m)


def basemap(m: folium.Map) -> str | None:
    """The tile URL of a map made by :func:`new_map`, if it has a basemap."""
    return _TILES.get(m)


def map_state(m: folium.Map, *, lang: str, created: bool) -> MapState:
    """planner's runtime, panes, attribution and legend on ``m`` (added once), and its record."""
    state = _STATES.get(m)
    if state is None:
        m.add_child(Runtime())
        setup, legend = Setup(scale=created, bounds=_BOUNDS.get(m)), Legend(lang)
        m.add_child(setup)
        m.add_child(legend)
        state = MapState(lang, setup, legend)
        _STATES[m] = state
    state.setup.credit(OSM_ATTRIBUTION)
    return state


def extend_bounds(m: folium.Map, bounds: tuple[float, float, float, float]) -> None:
    """Make the area the map fits on opening (beside its panels) cover ``bounds`` (w, s, e, n) too."""
    state = _STATES.get(m)
    if state is None or state.setup.bounds is None:
        return
    (s0, w0), (n0, e0) = state.setup.bounds
    w, s, e, n = bounds
    state.setup.bounds = [
        [round(min(s0, s), 6), round(min(w0, w), 6)],
        [round(max(n0, n), 6), round(max(e0, e), 6)],
    ]


def add_group(m: folium.Map, name_html: str, *, show: bool) -> folium.FeatureGroup:
    """A new switchable layer on ``m``, its name made unique among planner's layers."""
    taken = map_state(m, lang="en", created=False).layer_names
    name, k = name_html, 2
    while name in taken:
        name, k = f"{name_html} ({k})", k + 1
    taken.add(name)
    group = folium.FeatureGroup(name=name, show=show, overlay=True, control=True)
    m.add_child(group)
    return group


def finish(m: folium.Map) -> None:
    """Keep the legend and layer control after every layer, so they list all of them."""
    state = map_state(m, lang="en", created=False)
    if state.control is None:
        state.control = LayerControl(position="topright", collapsed=False)
    for child in (state.legend, state.control):
        m.add_child(child, name=child.get_name(), index=_LAST)


def set_title(m: folium.Map, title_html: str, lines: Sequence[str] | None, note: str) -> None:
    """Add the title box, or update it (``lines=None`` keeps the lines it has)."""
    state = map_state(m, lang="en", created=False)
    if state.title is not None:
        state.title.title_html, state.title.note_html = title_html, note
        if lines is not None:
            state.title.lines_html = list(lines)
        return
    state.title = Title(title_html, lines or [], note)
    m.add_child(state.title)
