"""Map layers: walking-time classes, walk areas, people not covered, facilities, districts, context."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from folium.utilities import image_to_url

from planner._escape import escape_html, script_json, script_safe
from planner.areas import service_area_polygons
from planner.coverage import Coverage
from planner.i18n import target_label
from planner.kinds import CAPACITY, DEFAULT_MAX_SNAP_M, KIND, NAME
from planner.maps.runtime import Image, Legend, Markers, Vectors, add_group, map_state
from planner.maps.style import (
    DISTRICT_COLOUR,
    GAP_COLOUR,
    STREET_COLOUR,
    TEXT,
    fmt_capacity,
    fmt_num,
    fmt_pct,
    fmt_people,
    kind_colour,
    kind_glyph,
    kind_label,
    rgba,
    time_colours,
    tr,
    unit_label,
)
from planner.network import WalkNetwork


# ---------------------------------------------------------------------- geometry -> JSON
# ---------------------------------------------------------------------- geometry → JSON
def _round(geoms: np.ndarray, decimals: int) -> np.ndarray:
    return shapely.transform(geoms, lambda c: np.round(c, decimals))


def to_lonlat(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoSeries:
    if gdf.crs is None:
        msg = "a layer to draw has no CRS; set one with .set_crs(...)."
        raise ValueError(msg)
    return gdf.geometry.to_crs(4326)


def features_json(geoms: np.ndarray, props: Sequence[Mapping[str, Any]], *, decimals: int) -> str:
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


def popup_html(title_html: str, rows: Sequence[tuple[str, str]], *, warn: str = "") -> str:
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    extra = f'<div class="pl-warn">{warn}</div>' if warn else ""
    return f'<div class="pl-pop"><b>{title_html}</b><table>{body}</table>{extra}</div>'


def raster_overlay(
    cells: gpd.GeoSeries, rgba: np.ndarray, *, max_pixels: int = 4096
) -> tuple[str, list[list[float]]]:
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
    return image_to_url(img), [[round(lat0, 6), round(lon0, 6)], [round(lat1, 6), round(lon1, 6)]]


def layer_bounds(*layers: gpd.GeoDataFrame | gpd.GeoSeries | None) -> tuple[float, float, float, float]:
    boxes = []
    for layer in layers:
        if layer is None or len(layer) == 0:
            continue
        g = to_lonlat(layer)
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


def select_kinds(coverage: Coverage, kinds: Sequence[str] | str | None) -> list[str]:
    if kinds is None:
        return list(coverage.kinds)
    names = [kinds] if isinstance(kinds, str) else list(kinds)
    unknown = [k for k in names if k not in coverage.kinds]
    if unknown or not names:
        msg = f"kinds {unknown or names} not in this coverage; it has {list(coverage.kinds)}."
        raise ValueError(msg)
    return names


# ---------------------------------------------------------------------- layers
def draw_context(m: folium.Map, legend: Legend, lang: str, network: WalkNetwork | None,
                  boundary: gpd.GeoDataFrame | None, *, decimals: int) -> None:  # fmt: skip
    other = tr(lang, "other_heading")
    drawn = map_state(m, lang=lang, created=False).drawn
    if network is not None and "streets" not in drawn:
        drawn.add("streets")
        edges = network.edges_geodataframe()
        merged = shapely.line_merge(shapely.multilinestrings(edges.geometry.to_numpy()))
        lines = gpd.GeoSeries([shapely.simplify(merged, 2.0)], crs=network.crs).to_crs(4326)
        name = tr(lang, "layer_streets")
        group = add_group(m, f'<span class="pl-line"></span> {name}', show=True)
        style = {"color": STREET_COLOUR, "weight": 1, "opacity": 0.55}
        group.add_child(Vectors(features_json(lines.to_numpy(), [{}], decimals=decimals), [style],
                                 pane="pl-context", interactive=False))  # fmt: skip
        legend.add(other, "streets", '<span class="pl-line"></span>', name)
    if boundary is not None and len(boundary) and "boundary" not in drawn:
        drawn.add("boundary")
        geo = to_lonlat(boundary)
        name = tr(lang, "layer_boundary")
        group = add_group(m, name, show=True)
        style = {"color": "#212121", "weight": 2, "dashArray": "6 4", "fill": False, "opacity": 0.9}
        group.add_child(Vectors(features_json(geo.boundary.to_numpy(), [{}] * len(geo), decimals=decimals),
                                 [style], pane="pl-lines", interactive=False))  # fmt: skip
        legend.add(
            other, "boundary", '<span class="pl-line" style="border-top:2px dashed #212121"></span>', name
        )


def swatch(colour: str, *, border: str | None = None, opacity: float = 1.0) -> str:
    edge = f";border-color:{border}" if border else ""
    return f'<span class="pl-sw" style="background:{colour};opacity:{opacity:g}{edge}"></span>'


def facility_icon(colour: str, glyph: str) -> dict[str, Any]:
    html = f'<div class="pl-fac" style="background:{colour}">{escape_html(glyph)}</div>'
    return {"c": "pl-icon", "h": html, "s": [24, 24], "a": [12, 12], "pa": [0, -12], "ta": [0, -12]}


def site_icon(rank: str) -> dict[str, Any]:
    html = f'<div class="pl-site"><span>{escape_html(rank)}</span></div>'
    return {"c": "pl-icon", "h": html, "s": [30, 30], "a": [15, 15], "pa": [0, -15], "ta": [0, -15]}


def draw_kind(
    m: folium.Map, legend: Legend, coverage: Coverage, network: WalkNetwork | None, name: str,
    order: int, *, lang: str, show: bool, service: bool, buffer_m: float, max_vector_cells: int,
    decimals: int,
) -> None:  # fmt: skip
    kind = coverage.kinds[name]
    label = kind_label(kind, name, lang)
    colour = kind_colour(name, order)
    target = target_label(kind.target_column, lang)
    pop = coverage.population
    minutes = coverage.minutes[name].to_numpy(dtype=float)
    people = pop[kind.target_column].to_numpy(dtype=float)
    edges = [float(t) for t in coverage.thresholds_min]
    colours = time_colours(len(edges) + 1)
    cls = (minutes[:, None] > np.array(edges)[None, :]).sum(axis=1)
    raster = len(pop) > max_vector_cells
    time_heading = tr(lang, "time_heading")
    for i, c in enumerate(colours):
        if i == 0:
            text = tr(lang, "class_first", b=fmt_num(edges[0]))
        elif i < len(edges):
            text = tr(lang, "class_mid", a=fmt_num(edges[i - 1]), b=fmt_num(edges[i]))
        else:
            text = tr(lang, "class_last", a=fmt_num(edges[-1]))
        legend.add(time_heading, f"class{i}", swatch(c, opacity=0.75), text)

    # walking-time classes of the cells
    group = add_group(m, f"{swatch(colours[0])} {tr(lang, 'layer_time', kind=label)}", show=show)
    if raster:
        palette = np.array([rgba(c, 0.7) for c in colours], np.uint8)
        url, bounds = raster_overlay(pop.geometry, palette[cls])
        group.add_child(Image(url, bounds, pane="pl-cells", opacity=1.0))
        legend.add(time_heading, "raster", "", tr(lang, "legend_raster"))
    else:
        geoms = to_lonlat(pop).to_numpy()
        is_point = shapely.get_type_id(geoms) == 0
        styles = [{"stroke": False, "fillColor": c, "fillOpacity": 0.8 if i == len(colours) - 1 else 0.6}
                  for i, c in enumerate(colours)]  # fmt: skip
        walk = tr(lang, "walk_time")
        props = []
        for k, (mins, n, pt) in enumerate(zip(minutes, people, is_point, strict=True)):
            when = (tr(lang, "minutes", x=f"{mins:.1f}") if mins <= edges[-1]
                    else tr(lang, "beyond", t=fmt_num(edges[-1])))  # fmt: skip
            tip = f"{escape_html(target)}: {escape_html(fmt_people(n))}<br>{walk}: {when}"
            p = {"s": int(cls[k]), "t": tip}
            if pt:
                p["r"] = 4
            props.append(p)
        group.add_child(Vectors(features_json(geoms, props, decimals=decimals), styles, pane="pl-cells"))

    # service areas of the facilities, from the streets they reach
    fac = coverage.facilities
    fac = fac[fac[KIND] == name]
    names = [
        str(x) if isinstance(x, str) and x.strip() else "" for x in fac.get(NAME, pd.Series("", fac.index))
    ]
    no_name = TEXT[lang]["no_name"]
    if service and network is not None and len(fac):
        reach = kind.reach_m()
        areas = service_area_polygons(network, fac, reach, buffer_m=buffer_m,
                              max_snap_m=float(coverage.params.get("max_snap_m", DEFAULT_MAX_SNAP_M)))  # fmt: skip
        tips = [{"t": tr(lang, "area_tip", name=nm or no_name, t=fmt_num(kind.threshold_min),
                          reach=f"{reach:,.0f}", speed=fmt_num(kind.speed_kmh))} for nm in names]  # fmt: skip
        style = {"color": colour, "weight": 1.5, "opacity": 0.9, "dashArray": "4 3",
                 "fillColor": colour, "fillOpacity": 0.12}  # fmt: skip
        text = tr(lang, "layer_areas", kind=label, t=fmt_num(kind.threshold_min))
        group = add_group(m, f"{swatch(colour, opacity=0.35, border=colour)} {text}", show=False)
        group.add_child(Vectors(features_json(to_lonlat(areas).to_numpy(), tips, decimals=decimals), [style],
                                 pane="pl-areas"))  # fmt: skip
        legend.add(tr(lang, "other_heading"), f"areas{fmt_num(kind.threshold_min)}",
                   swatch("#9e9e9e", opacity=0.45, border="#424242"),
                   tr(lang, "legend_areas", t=fmt_num(kind.threshold_min)))  # fmt: skip

    # people not covered, as circles sized by people
    gaps = coverage.gaps(name)
    if len(gaps):
        total = float(gaps["uncovered"].sum())
        text = tr(lang, "layer_gaps", kind=label, n=fmt_people(total))
        group = add_group(
            m, f'<span class="pl-dot" style="width:10px;height:10px"></span> {text}', show=False
        )
        if len(gaps) > max_vector_cells:
            pixels = np.repeat(np.array([rgba(GAP_COLOUR, 0.85)], np.uint8), len(gaps), axis=0)
            url, bounds = raster_overlay(gaps.geometry, pixels)
            group.add_child(Image(url, bounds, pane="pl-people", opacity=1.0))
        else:
            pts = to_lonlat(gaps.geometry.representative_point()).to_numpy()
            n = gaps["uncovered"].to_numpy(dtype=float)
            radius = 2.0 + 6.0 * np.sqrt(n / max(float(n.max()), 1e-9))
            t = fmt_num(kind.threshold_min)
            props = [{"r": round(float(r), 1), "t": tr(lang, "gap_tip", n=fmt_people(x), target=target, t=t)}
                     for r, x in zip(radius, n, strict=True)]  # fmt: skip
            style = {"color": GAP_COLOUR, "weight": 1.6, "opacity": 0.9, "fill": False}
            group.add_child(Vectors(features_json(pts, props, decimals=decimals), [style], pane="pl-people"))
        legend.add(tr(lang, "other_heading"), "gaps", '<span class="pl-dot"></span>', tr(lang, "legend_gaps"))

    # facilities
    if len(fac):
        fac_ll = to_lonlat(fac)
        snapped = fac["snap_ok"].to_numpy(bool) if "snap_ok" in fac else np.ones(len(fac), bool)
        caps = fac[CAPACITY] if CAPACITY in fac else pd.Series(np.nan, index=fac.index)
        rows = []
        unit = unit_label(kind.capacity_unit, lang)
        for nm, geom, ok, cap in zip(names, fac_ll.to_numpy(), snapped, caps, strict=True):
            cap_text = fmt_capacity(cap, unit) or TEXT[lang]["unknown"]
            warn = (
                ""
                if ok
                else tr(
                    lang,
                    "not_snapped",
                    m=fmt_num(float(coverage.params.get("max_snap_m", DEFAULT_MAX_SNAP_M))),
                )
            )
            pop_html = popup_html(escape_html(nm or no_name), [
                (tr(lang, "kind"), escape_html(label)),
                (tr(lang, "capacity"), escape_html(cap_text)),
            ], warn=warn)  # fmt: skip
            rows.append(
                [round(geom.y, 6), round(geom.x, 6), 0, {"p": pop_html, "t": escape_html(nm or label)}]
            )
        icon = facility_icon(colour, kind_glyph(name, label, lang))
        text = tr(lang, "layer_facilities", kind=label, n=len(fac))
        group = add_group(m, f"{swatch(colour)} {text}", show=True)
        group.add_child(Markers(rows, [icon]))
    mini = f'<span class="pl-fac pl-mini" style="background:{colour}">{escape_html(kind_glyph(name, label, lang))}</span>'
    legend.add(tr(lang, "facilities_heading"), f"fac-{name}", mini, escape_html(label))


def district_shares(coverage: Coverage, districts: gpd.GeoDataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Covered and total target people and cells per district and kind (cells join by their centre)."""
    pts = gpd.GeoDataFrame(geometry=coverage.population.geometry.representative_point(),
                           crs=coverage.population.crs)  # fmt: skip
    d = districts.geometry.to_crs(coverage.population.crs)
    joined = gpd.sjoin(
        pts, gpd.GeoDataFrame(geometry=d.reset_index(drop=True)), how="inner", predicate="within"
    )
    joined = joined[~joined.index.duplicated()]
    rows = []
    for name in names:
        kind = coverage.kinds[name]
        w = coverage.population.loc[joined.index, kind.target_column].astype(float)
        ok = coverage.minutes.loc[joined.index, name] <= kind.threshold_min
        frame = pd.DataFrame(
            {"d": joined["index_right"].to_numpy(), "w": w.to_numpy(), "c": (w * ok).to_numpy(), "n": 1}
        )
        agg = frame.groupby("d")[["w", "c", "n"]].sum().reindex(range(len(d)), fill_value=0)
        for i, (tot, cov, n) in enumerate(zip(agg["w"], agg["c"], agg["n"], strict=True)):
            rows.append(
                {"district": i, "kind": name, "total": float(tot), "covered": float(cov), "cells": int(n)}
            )
    return pd.DataFrame(rows)


def district_label(name: str, r: pd.Series, lang: str) -> tuple[str, str]:
    """(label HTML, CSS class) of a district: its first kind's share; red at 0 %, "—" with no cell."""
    if r["cells"] == 0:
        return f"{escape_html(name)}: —", "pl-empty"
    if r["total"] <= 0:
        return escape_html(name), ""
    share = r["covered"] / r["total"]
    return f"{escape_html(name)}: {escape_html(fmt_pct(share))}", ("pl-zero" if share == 0 else "")


def draw_districts(m: folium.Map, legend: Legend, coverage: Coverage, districts: gpd.GeoDataFrame,
                    names: Sequence[str], *, lang: str, decimals: int) -> None:  # fmt: skip
    if len(districts) == 0:
        return
    col = "district" if "district" in districts else ("name" if "name" in districts else None)
    labels = [str(x) for x in (districts[col] if col else districts.index)]
    shares = district_shares(coverage, districts, names)
    geo = to_lonlat(districts)
    props, rows = [], []
    first = names[0]
    for i, (lab, geom) in enumerate(zip(labels, geo.to_numpy(), strict=True)):
        mine = shares[shares["district"] == i].set_index("kind")
        lines = []
        for name in names:
            kind = coverage.kinds[name]
            klabel = kind_label(kind, name, lang)
            target = target_label(kind.target_column, lang)
            r = mine.loc[name]
            if r["total"] > 0:
                line = tr(lang, "district_line", kind=klabel, share=fmt_pct(r["covered"] / r["total"]), target=target,
                          t=fmt_num(kind.threshold_min), covered=fmt_people(r["covered"]), total=fmt_people(r["total"]))  # fmt: skip
            else:
                line = tr(lang, "district_none", kind=klabel, target=target)
            lines.append(line)
        if mine["cells"].iloc[0] == 0:
            lines = [tr(lang, "district_empty")]
        popup = f'<div class="pl-pop"><b>{escape_html(lab)}</b><br>{"<br>".join(lines)}</div>'
        props.append({"p": popup, "t": popup})
        if geom is not None and not geom.is_empty:
            at = geom.representative_point()
            text, cls = district_label(lab, mine.loc[first], lang)
            rows.append((-float(mine.loc[first, "total"]), i, [round(at.y, 6), round(at.x, 6)], text, cls))
    rows.sort()  # most people first: their labels are placed first when labels collide
    name = tr(lang, "layer_districts")
    group = add_group(
        m, f'<span class="pl-line" style="border-top-color:{DISTRICT_COLOUR}"></span> {name}', show=True
    )
    style = {"color": DISTRICT_COLOUR, "weight": 2, "opacity": 0.9, "fill": False}
    group.add_child(
        Vectors(features_json(geo.boundary.to_numpy(), props, decimals=decimals), [style], pane="pl-lines")
    )
    icons = [{"c": "pl-icon", "h": f'<div class="pl-label-in {cls}">{text}</div>', "s": [0, 0], "a": [0, 0],
              "pa": [0, 0], "ta": [0, 0]} for *_, text, cls in rows]  # fmt: skip
    group.add_child(Markers([[*r[2], k, None] for k, r in enumerate(rows)], icons))
    fk = coverage.kinds[first]
    explain = tr(lang, "legend_districts", target=target_label(fk.target_column, lang),
                 t=fmt_num(fk.threshold_min), kind=kind_label(fk, first, lang))  # fmt: skip
    legend.add(tr(lang, "other_heading"), "districts",
               f'<span class="pl-line" style="border-top-color:{DISTRICT_COLOUR}"></span>', explain)  # fmt: skip
    legend.add(tr(lang, "other_heading"), "districts-zero",
               '<span class="pl-sw" style="background:#fff;border:2px solid #b2182b"></span>', tr(lang, "legend_zero"))  # fmt: skip
