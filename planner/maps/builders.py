"""Map builders for officials: coverage and proposed sites as self-contained, escaped folium maps."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from planner._escape import escape_html
from planner.areas import service_area_polygons
from planner.coverage import Coverage
from planner.i18n import check_lang, target_label
from planner.kinds import DEFAULT_KINDS, DEFAULT_MAX_SNAP_M, DISTRICT, KIND, NAME, FacilityKind
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
    extend_bounds,
    finish,
    map_state,
    new_map,
    set_title,
)
from planner.maps.style import (
    SITE_COLOUR,
    SITE_EDGE,
    TEXT,
    fmt_num,
    fmt_pct,
    fmt_people,
    fmt_rank,
    kind_label,
    tr,
)
from planner.network import WalkNetwork
from planner.places import nearest_street_names

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
    place: str | None = None,
    data_date: str | None = None,
    population_note: str | None = None,
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
    tooltip; beyond the last threshold, the blank zone, in vermillion), each facility's walk
    area (reached streets, buffered) and the people not covered (rings sized by people). Also
    the districts with their coverage shares (labels placed so they cover no marker or other
    label), and the streets and boundary as light context so the map reads without a basemap.
    On opening, only the story shows: the first kind's walking times, the facilities, the
    districts and the context; walk areas and people not covered are switched on in the layer
    control (collapsed on small screens). Every string is escaped.

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
    place
        The place shown above the title (e.g. the study's name).
    data_date
        When the data are from, shown under the title (e.g. "OSM 2023-02-21").
    population_note
        Shown as "Population: modelled (…)" when the population is modelled, not counted.
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
        m = new_map(layer_bounds(coverage.population, boundary, districts, coverage.facilities), title=title or TEXT[lang]["title"],
                     tiles=tiles, tiles_attribution=tiles_attribution, lang=lang)  # fmt: skip
    state = map_state(m, lang=lang, created=created)
    legend = state.legend
    for credit in (*attribution, *([tiles_attribution] if tiles and created and tiles_attribution else [])):
        state.setup.credit(credit)

    for order, name in enumerate(names):
        has = bool((coverage.facilities[KIND] == name).any()) if len(coverage.facilities) else False
        if not has and order > 0:  # nothing to show but blank: the title says so in one line
            continue
        draw_kind(m, legend, coverage, network, name, list(coverage.kinds).index(name), lang=lang,
                   show=order == 0, service=service_areas, buffer_m=service_buffer_m,
                   max_vector_cells=max_vector_cells, decimals=decimals)  # fmt: skip
    if districts is not None:
        draw_districts(m, legend, coverage, districts, names, lang=lang, decimals=decimals)
    draw_context(m, legend, lang, network, boundary, decimals=decimals)

    for name in names:
        state.summary[name] = kind_summary(coverage, name, lang)
    if created or title is not None:
        set_title(m, escape_html(title or TEXT[lang]["title"]), None, tr(lang, "note"))
        assert state.title is not None
        state.title.place_html = escape_html(place or "")
        notes = [tr(lang, "data_line", date=data_date)] if data_date else []
        if population_note is not None:
            notes.append(tr(lang, "population_line", note=population_note) if population_note
                         else tr(lang, "population_plain"))  # fmt: skip
        state.title.notes_html = notes
    refresh_title(m)
    finish(m)
    return m


# ---------------------------------------------------------------------- the title's story
def kind_summary(coverage: Coverage, name: str, lang: str) -> dict[str, Any]:
    """What the title says of one kind today: its share covered (None without facilities)."""
    kind = coverage.kinds[name]
    has = bool((coverage.facilities[KIND] == name).any()) if len(coverage.facilities) else False
    total = float(coverage.population[kind.target_column].sum())
    return {"label": kind_label(kind, name, lang), "target": target_label(kind.target_column, lang),
            "t": fmt_num(kind.threshold_min), "speed": fmt_num(kind.speed_kmh),
            "share": coverage.share(name) if has else None, "total": total,
            "covered": coverage.share(name) * total if has else 0.0}  # fmt: skip


def summary_line(s: Mapping[str, Any], lang: str) -> str:
    """One kind's line of the title: today, or today → after the sites."""
    if s.get("after") is None:
        if s["share"] is None:
            return tr(lang, "summary_none", kind=s["label"])
        return tr(lang, "summary", kind=s["label"], share=fmt_pct(s["share"]), target=s["target"], t=s["t"],
                  speed=s["speed"])  # fmt: skip
    what = TEXT[lang]["planned" if s.get("planned") else "proposed"]
    values = {"kind": s["label"], "after": fmt_pct(s["after"]), "target": s["target"], "t": s["t"],
              "n": s["n_sites"], "what": what}  # fmt: skip
    if s["share"] is None:
        return tr(lang, "summary_none_after", **values)
    return tr(lang, "summary_after", share=fmt_pct(s["share"]), **values)


def refresh_title(m: folium.Map) -> None:
    """Rewrite the title's lines from planner's record of the map (one per kind)."""
    state = existing_state(m)
    if state is not None and state.title is not None and state.summary:
        state.title.lines_html = [summary_line(v, state.lang) for v in state.summary.values()]


# ---------------------------------------------------------------------- sites
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
    streets: gpd.GeoDataFrame | None = None,
    planned: bool = False,
    decimals: int = 5,
    m: folium.Map | None = None,
) -> folium.Map:
    """A map of proposed (or planned) sites in build order, with what each one adds.

    Each site is a numbered marker (its ``rank``); its popup gives the kind, the target people
    it adds (``gain``), the total covered after it (``covered``, or the coverage's covered
    people plus the gains up to it) with the share, its ``district``, the nearest named street
    (a ``street`` column, or found in ``streets``) and its coordinates. The title box, when
    the map has one, gives each kind's share before → after the sites. With ``network`` the
    sites' walk areas are drawn too (switched off on opening). With ``coverage`` and no
    ``m``, the coverage of that kind is drawn underneath (:func:`coverage_map`).

    Parameters
    ----------
    result
        A siting result: anything with ``.sites`` (GeoDataFrame in build order with
        ``rank``, ``gain`` and optionally ``covered``, ``share``, ``cumulative``, ``kind``,
        ``name``, ``district``, ``street``, ``year``) and ``.params``.
    network
        The walk network, for the sites' walk areas (and context when ``coverage`` is given).
    coverage
        The coverage the sites were chosen for (labels, thresholds, base layers, totals).
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
    streets
        Named streets (:func:`~planner.io.osm.read_street_names`) for each site's nearest street.
    planned
        The sites are a plan ("planned site"), not a proposal ("proposed site").
    decimals
        Decimal places kept in lon/lat.
    m
        A map to draw on, e.g. from :func:`coverage_map`; None for a new one.

    Returns
    -------
    folium.Map
    """
    sites = _checked_sites(result)
    params = dict(getattr(result, "params", {}) or {})
    kind = _site_kind(sites, params, kind)
    if m is not None and lang is None:
        state = existing_state(m)
        lang = state.lang if state is not None else "en"
    lang = check_lang(lang or "en")
    fk = _site_facility_kind(kind, coverage, params)
    label = kind_label(fk, kind, lang) if kind else TEXT[lang]["sites"]
    sites = _site_places(sites.sort_values("rank"), coverage, fk, streets)
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
                         tiles=tiles, tiles_attribution=tiles_attribution, lang=lang)  # fmt: skip
    state = map_state(m, lang=lang, created=created)
    what = tr(lang, "planned" if planned else "proposed")
    rows, icons = _site_markers(sites, fk, label, lang, planned=planned)
    name_html = tr(lang, "layer_sites", kind=label, n=len(sites), what=what)
    group = add_group(m, f'<span class="pl-mini-site" style="margin:0 3px"></span> {name_html}', show=True)
    group.add_child(Markers(rows, icons))
    if len(sites):
        extend_bounds(m, layer_bounds(sites))
    key = "legend_planned" if planned else "legend_sites"
    state.legend.add(tr(lang, "other_heading"), key, '<span class="pl-mini-site"></span>', tr(lang, key))
    if service_areas and network is not None and fk is not None and len(sites):
        _site_areas(m, network, sites, fk, coverage, label=label, what=what, lang=lang,
                    buffer_m=service_buffer_m, decimals=decimals)  # fmt: skip
    draw_context(m, state.legend, lang, network, boundary, decimals=decimals)  # each drawn once per map
    if created and state.title is None:
        set_title(m, escape_html(title or TEXT[lang]["sites"]), [], tr(lang, "note"))
    elif title is not None and not created:
        set_title(m, escape_html(title), None, tr(lang, "note"))
    if kind is not None and kind in state.summary and len(sites) and "share" in sites:
        state.summary[kind].update(after=float(sites["share"].iloc[-1]), n_sites=len(sites), planned=planned)
    refresh_title(m)
    finish(m)
    return m


def _checked_sites(result: Any) -> gpd.GeoDataFrame:
    sites = getattr(result, "sites", None)
    if not isinstance(sites, gpd.GeoDataFrame):
        msg = f"result must have a .sites GeoDataFrame (a SitingResult); got {type(result).__name__}."
        raise TypeError(msg)
    missing = [c for c in ("rank", "gain") if c not in sites.columns]
    if missing:
        msg = f"result.sites is missing column(s) {missing}; it has {[c for c in sites.columns if c != 'geometry']}."
        raise ValueError(msg)
    return sites


def _site_kind(sites: gpd.GeoDataFrame, params: Mapping[str, Any], kind: str | None) -> str | None:
    if kind is not None:
        return kind
    if KIND in sites.columns and sites[KIND].nunique() == 1:
        return str(sites[KIND].iloc[0])
    return str(params["kind"]) if params.get("kind") is not None else None


def _site_facility_kind(
    kind: str | None, coverage: Coverage | None, params: Mapping[str, Any]
) -> FacilityKind | None:
    """The sites' kind, with the threshold and speed the siting ran with."""
    if kind is None:
        return None
    fk = (coverage.kinds.get(kind) if coverage is not None else None) or DEFAULT_KINDS.get(kind)
    if fk is None:
        return None
    overrides = {
        k: params[k] for k in ("threshold_min", "speed_kmh") if isinstance(params.get(k), int | float)
    }
    return replace(fk, **overrides) if overrides else fk


def _site_places(sites: gpd.GeoDataFrame, coverage: Coverage | None, fk: FacilityKind | None,
                 streets: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:  # fmt: skip
    """Sites (in build order) with the total covered after each, its share, and the nearest street."""
    sites = sites.copy()
    if coverage is not None and fk is not None and fk.target_column in coverage.population:
        people = coverage.population[fk.target_column].astype(float)
        if "covered" not in sites.columns:
            before = float(people[coverage.minutes[fk.name] <= fk.threshold_min].sum())
            sites["covered"] = before + sites["gain"].astype(float).cumsum()
        if "share" not in sites.columns:
            total = float(people.sum())
            sites["share"] = sites["covered"] / total if total > 0 else np.nan
    if "street" not in sites.columns and streets is not None:
        sites["street"] = nearest_street_names(sites, streets).to_numpy()
    return sites


def _text(row: pd.Series, column: str) -> str:
    value = row.get(column)
    return value.strip() if isinstance(value, str) and value.strip() else ""


def _site_popup(
    r: pd.Series, pt: Any, fk: FacilityKind | None, label: str, lang: str, *, planned: bool
) -> str:
    """A site's popup: rank, what it adds, the total after it, where it is."""
    rank = fmt_rank(r["rank"])
    gain = float(r["gain"])
    target = target_label(fk.target_column if fk else None, lang)
    table = [(tr(lang, "kind"), escape_html(label))]
    if _text(r, NAME):
        table.insert(0, (tr(lang, "name"), escape_html(r[NAME])))
    for col in ("year", "phase"):
        if col in r.index and pd.notna(r[col]):
            table.append((tr(lang, "site_year"), escape_html(fmt_rank(r[col]))))
    table.append((tr(lang, "site_adds"), escape_html(fmt_people(gain))))
    if "covered" in r.index and pd.notna(r["covered"]):
        share = f" ({fmt_pct(float(r['share']))})" if "share" in r.index and pd.notna(r["share"]) else ""
        table.append((tr(lang, "site_total"), escape_html(fmt_people(float(r["covered"])) + share)))
    elif "cumulative" in r.index and pd.notna(r["cumulative"]):
        table.append(
            (tr(lang, "site_added_so_far", rank=rank), escape_html(fmt_people(float(r["cumulative"]))))
        )
    for col, key in ((DISTRICT, "district"), ("street", "street")):
        if _text(r, col):
            table.append((tr(lang, key), escape_html(r[col])))
    table.append((tr(lang, "lonlat"), escape_html(f"{pt.x:.5f}, {pt.y:.5f}")))
    if "x" in r.index and "y" in r.index and pd.notna(r["x"]):
        table.append((tr(lang, "xy"), escape_html(f"{float(r['x']):.0f}, {float(r['y']):.0f}")))
    gain_html = (tr(lang, "site_gain", n=fmt_people(gain), target=target, t=fmt_num(fk.threshold_min)) if fk
                 else tr(lang, "site_gain_plain", n=fmt_people(gain)))  # fmt: skip
    title_html = tr(lang, "planned_title" if planned else "site_title", rank=rank)
    return popup_html(title_html, table) + f"<div>{gain_html}</div>"


def _site_markers(sites: gpd.GeoDataFrame, fk: FacilityKind | None, label: str, lang: str, *,
                  planned: bool) -> tuple[list[list[Any]], list[dict[str, Any]]]:  # fmt: skip
    geo = to_lonlat(sites)
    rows, icons = [], []
    for k, ((_, r), pt) in enumerate(zip(sites.iterrows(), geo.to_numpy(), strict=True)):
        rank = fmt_rank(r["rank"])
        popup = _site_popup(r, pt, fk, label, lang, planned=planned)
        tip = tr(lang, "site_tip", rank=rank, n=fmt_people(float(r["gain"])))
        rows.append([round(pt.y, 6), round(pt.x, 6), k, {"p": popup, "t": tip}])
        icons.append(site_icon(rank))
    return rows, icons


def _site_areas(m: folium.Map, network: WalkNetwork, sites: gpd.GeoDataFrame, fk: FacilityKind,
                coverage: Coverage | None, *, label: str, what: str, lang: str, buffer_m: float,
                decimals: int) -> None:  # fmt: skip
    max_snap = (
        float(coverage.params.get("max_snap_m", DEFAULT_MAX_SNAP_M))
        if coverage is not None
        else DEFAULT_MAX_SNAP_M
    )
    areas = service_area_polygons(network, sites, fk.reach_m(), buffer_m=buffer_m, max_snap_m=max_snap)
    tips = [{"t": tr(lang, "site_title", rank=fmt_rank(r))} for r in sites["rank"]]
    style = {"color": SITE_EDGE, "weight": 2, "opacity": 0.9, "dashArray": "5 4", "fillColor": SITE_COLOUR,
             "fillOpacity": 0.25}  # fmt: skip
    text = tr(lang, "layer_site_areas", kind=label, t=fmt_num(fk.threshold_min), what=what)
    group = add_group(m, f"{swatch(SITE_COLOUR, opacity=0.6, border=SITE_EDGE)} {text}", show=False)
    group.add_child(Vectors(features_json(to_lonlat(areas).to_numpy(), tips, decimals=decimals), [style],
                             pane="pl-areas"))  # fmt: skip
