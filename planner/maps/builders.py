"""Map builders for officials: coverage and proposed sites as self-contained, escaped folium maps."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import pandas as pd

from planner._escape import escape_html
from planner.areas import service_area_polygons
from planner.coverage import Coverage
from planner.kinds import DEFAULT_KINDS, DEFAULT_MAX_SNAP_M, KIND, NAME, FacilityKind
from planner.maps.layers import (
    draw_context,
    draw_districts,
    draw_kind,
    features_json,
    layer_bounds,
    popup_html,
    select_kinds,
    site_icon,
    swatch,
    to_lonlat,
)
from planner.maps.runtime import (
    Markers,
    Vectors,
    add_group,
    existing_state,
    finish,
    map_state,
    new_map,
    set_title,
)
from planner.maps.style import (
    SITE_COLOUR,
    TEXT,
    check_lang,
    fmt_num,
    fmt_pct,
    fmt_people,
    fmt_rank,
    kind_label,
    target_label,
    tr,
)
from planner.network import WalkNetwork

logger = logging.getLogger(__name__)


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
    >>> from planner.maps.export import map_html
    >>> html = map_html(coverage_map(cov, net))
    >>> "© OpenStreetMap contributors" in html, "<b>Bambi" in html, "https://cdn" in html
    (True, False, False)
    """
    lang = check_lang(lang)
    names = select_kinds(coverage, kinds)
    created = m is None
    if m is None:
        m = new_map(layer_bounds(coverage.population, boundary, districts), title=title or TEXT[lang]["title"],
                     tiles=tiles, tiles_attribution=tiles_attribution)  # fmt: skip
    state = map_state(m, lang=lang, created=created)
    legend = state.legend
    for credit in (*attribution, *([tiles_attribution] if tiles and created and tiles_attribution else [])):
        state.setup.credit(credit)

    for order, name in enumerate(names):
        draw_kind(m, legend, coverage, network, name, list(coverage.kinds).index(name), lang=lang,
                   show=order == 0, service=service_areas, buffer_m=service_buffer_m,
                   max_vector_cells=max_vector_cells, decimals=decimals)  # fmt: skip
    if districts is not None:
        draw_districts(m, legend, coverage, districts, names, lang=lang, decimals=decimals)
    draw_context(m, legend, lang, network, boundary, decimals=decimals)

    if created or title is not None:
        lines = []
        for name in names:
            kind = coverage.kinds[name]
            label = kind_label(kind, name, lang)
            has = bool((coverage.facilities[KIND] == name).any()) if len(coverage.facilities) else False
            if has:
                lines.append(tr(lang, "summary", kind=label, share=fmt_pct(coverage.share(name)),
                                target=target_label(kind.target_column, lang),
                                t=fmt_num(kind.threshold_min), speed=fmt_num(kind.speed_kmh)))  # fmt: skip
            else:
                lines.append(tr(lang, "summary_none", kind=label))
        set_title(m, escape_html(title or TEXT[lang]["title"]), lines, tr(lang, "note"))
    finish(m)
    return m


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
        state = existing_state(m)
        lang = state.lang if state is not None else "en"
    lang = check_lang(lang or "en")
    fk: FacilityKind | None = None
    if kind is not None:
        fk = (coverage.kinds.get(kind) if coverage is not None else None) or DEFAULT_KINDS.get(kind)
    if fk is not None:
        overrides = {
            k: params[k] for k in ("threshold_min", "speed_kmh") if isinstance(params.get(k), int | float)
        }
        if overrides:
            fk = FacilityKind(**{**{f: getattr(fk, f) for f in ("name", "target_column", "threshold_min",
                                                                 "speed_kmh", "capacity_unit", "label_en",
                                                                 "label_zh")}, **overrides})  # fmt: skip
    label = kind_label(fk, kind, lang) if kind else TEXT[lang]["sites"]
    sites = sites.sort_values("rank")
    created = m is None
    if m is None:
        if coverage is not None and kind is not None and kind in coverage.kinds:
            m = coverage_map(coverage, network, kinds=[kind], districts=districts, boundary=boundary,
                             lang=lang, title=title, tiles=tiles,
                             tiles_attribution=tiles_attribution, service_areas=service_areas,
                             service_buffer_m=service_buffer_m, decimals=decimals)  # fmt: skip
        else:
            w, s, e, n = layer_bounds(sites, boundary)
            pad = max(e - w, n - s, 0.01) * 0.15
            m = new_map((w - pad, s - pad, e + pad, n + pad),
                         title=title or TEXT[lang]["sites"],
                         tiles=tiles, tiles_attribution=tiles_attribution)  # fmt: skip
    state = map_state(m, lang=lang, created=created)
    legend = state.legend

    target = target_label(fk.target_column if fk else None, lang)
    t = fmt_num(fk.threshold_min) if fk else ""
    total = None
    if coverage is not None and fk is not None and fk.target_column in coverage.population:
        total = float(coverage.population[fk.target_column].sum())
    geo = to_lonlat(sites)
    rows, icons = [], []
    for k, ((_, r), pt) in enumerate(zip(sites.iterrows(), geo.to_numpy(), strict=True)):
        rank = fmt_rank(r["rank"])
        gain = float(r["gain"])
        title_html = tr(lang, "site_title", rank=rank)
        gain_html = (tr(lang, "site_gain", n=fmt_people(gain), target=target, t=t) if fk
                     else tr(lang, "site_gain_plain", n=fmt_people(gain)))  # fmt: skip
        table = [(tr(lang, "kind"), escape_html(label))]
        if NAME in sites.columns and isinstance(r[NAME], str) and r[NAME].strip():
            table.insert(0, (tr(lang, "name"), escape_html(r[NAME])))
        lines = [gain_html]
        if "cumulative" in sites.columns and pd.notna(r["cumulative"]):
            cum = float(r["cumulative"])
            text = fmt_people(cum) + (
                f" ({fmt_pct(cum / total)})" if total and 1.0 < cum <= total * 1.0001 else ""
            )
            lines.append(tr(lang, "site_cumulative", rank=rank, n=text))
        popup = popup_html(title_html, table) + "".join(f"<div>{line}</div>" for line in lines)
        rows.append([round(pt.y, 6), round(pt.x, 6), k, {"p": popup, "t": tr(lang, "site_tip", rank=rank,
                                                                               n=fmt_people(gain))}])  # fmt: skip
        icons.append(site_icon(rank))
    name_html = tr(lang, "layer_sites", kind=label, n=len(sites))
    group = add_group(m, f'<span class="pl-mini-site" style="margin:0 3px"></span> {name_html}', show=True)
    group.add_child(Markers(rows, icons))
    legend.add(
        tr(lang, "other_heading"), "sites", '<span class="pl-mini-site"></span>', tr(lang, "legend_sites")
    )

    if service_areas and network is not None and fk is not None and len(sites):
        max_snap = (
            float(coverage.params.get("max_snap_m", DEFAULT_MAX_SNAP_M))
            if coverage is not None
            else DEFAULT_MAX_SNAP_M
        )
        areas = service_area_polygons(
            network, sites, fk.reach_m(), buffer_m=service_buffer_m, max_snap_m=max_snap
        )
        tips = [{"t": tr(lang, "site_title", rank=fmt_rank(r))} for r in sites["rank"]]
        style = {"color": "#b26a00", "weight": 2, "opacity": 0.9, "fillColor": SITE_COLOUR,
                 "fillOpacity": 0.18}  # fmt: skip
        text = tr(lang, "layer_site_areas", kind=label, t=t)
        group = add_group(m, f"{swatch(SITE_COLOUR, opacity=0.5, border='#b26a00')} {text}", show=True)
        group.add_child(Vectors(features_json(to_lonlat(areas).to_numpy(), tips, decimals=decimals), [style],
                                 pane="pl-areas"))  # fmt: skip
    draw_context(m, legend, lang, network, boundary, decimals=decimals)  # each drawn once per map
    if created and state.title is None:
        set_title(m, escape_html(title or TEXT[lang]["sites"]), [], tr(lang, "note"))
    elif title is not None and not created:
        set_title(m, escape_html(title), None, tr(lang, "note"))
    finish(m)
    return m
