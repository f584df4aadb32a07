"""Map style and strings: colours, glyphs and every label in English and Chinese, escaped."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from planner._escape import escape_html
from planner.kinds import FacilityKind

OSM_ATTRIBUTION = "© OpenStreetMap contributors"


# Walking-time classes: blues from near (dark) to the threshold (light), then one vermillion for
# the blank zone (beyond the last threshold or unreachable). Blue against vermillion stays apart
# for every common colour-vision deficiency (Okabe & Ito); no layer below reuses either.
NEAR_RAMP = ("#08519c", "#3182bd", "#9ecae1")
BLANK_COLOUR = "#d55e00"
TIME_RAMP = (*NEAR_RAMP, BLANK_COLOUR)


# Facility markers: near-black and Okabe–Ito hues that are neither blue nor vermillion.
KIND_COLOURS = {
    "eldercare": "#222222",
    "nursery": "#cc79a7",
    "meal_site": "#009e73",
    "childrens_home": "#8c510a",
}


EXTRA_COLOURS = ("#5d4037", "#37474f", "#6a3d9a", "#00695c", "#ad1457", "#7f6d00")


GLYPHS = {
    "en": {"eldercare": "E", "nursery": "N", "meal_site": "M", "childrens_home": "C"},
    "zh": {"eldercare": "老", "nursery": "托", "meal_site": "餐", "childrens_home": "童"},
}


# Proposed and planned sites: yellow diamonds (their walk areas the same yellow, outlined olive).
SITE_COLOUR = "#f0e442"
SITE_EDGE = "#6b6200"


# People not covered: hollow black rings (no fill that could be mistaken for a class or a kind).
GAP_COLOUR = "#111111"


STREET_COLOUR = "#8a8a8a"


DISTRICT_COLOUR = "#263238"


TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "15-minute walking coverage",
        "sites": "Proposed sites",
        "note": "Walking times over OpenStreetMap streets",
        "data_line": "Data of {date}",
        "population_line": "Population: modelled ({note})",
        "population_plain": "Population: modelled",
        "time_heading": "Walking time to the nearest facility",
        "class_first": "0–{b} min",
        "class_mid": "{a}–{b} min",
        "class_last": "over {a} min or not reachable: blank zone",
        "facilities_heading": "Facilities",
        "other_heading": "Other layers",
        "layer_facilities": "{kind}: facilities ({n})",
        "layer_time": "{kind}: walking time",
        "layer_areas": "{kind}: {t}-min walk areas",
        "layer_gaps": "{kind}: people not covered ({n})",
        "layer_sites": "{kind}: {what} ({n})",
        "layer_site_areas": "{kind}: {t}-min walk areas of {what}",
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
        "proposed": "proposed sites",
        "planned": "planned sites",
        "site_title": "Proposed site #{rank}",
        "planned_title": "Planned site #{rank}",
        "site_gain": "Adds {n} {target} within {t} min",
        "site_gain_plain": "Adds {n}",
        "site_adds": "People added",
        "site_total": "Covered after it",
        "site_added_so_far": "Added by #1–{rank}",
        "site_year": "Year",
        "district": "District",
        "street": "Nearest street",
        "lonlat": "Lon, lat",
        "xy": "x, y (m)",
        "site_tip": "#{rank}: +{n}",
        "district_line": "{kind}: {share} of {target} within {t} min ({covered} of {total})",
        "district_none": "{kind}: no {target} here",
        "district_empty": "no population cell in this district",
        "summary": "{kind}: {share} of {target} within a {t}-min walk ({speed} km/h)",
        "summary_after": "{kind}: {share} → {after} of {target} within {t} min with {n} {what}",
        "summary_none": "{kind}: no facilities in the data",
        "summary_none_after": "{kind}: none today → {after} of {target} within {t} min with {n} {what}",
        "legend_areas": "Area within a {t}-min walk (streets reached)",
        "legend_gaps": "People not covered (bigger ring = more people)",
        "legend_sites": "Proposed site (number = build order)",
        "legend_planned": "Planned site (number = build order)",
        "legend_districts": "Districts (label: {kind}, share of {target} within {t} min)",
        "legend_zero": "District label in red: 0% covered; “—”: no population cell",
        "legend_raster": "Cells drawn as an image: too many to draw one by one",
        "legend": "Legend",
        "tiles_key": "No basemap: open this file with your Tianditu key after its name (map.html#{param}=YOUR_KEY).",
        "units": "beds=beds|slots=slots|seats=seats",
    },
    "zh": {
        "title": "15分钟步行覆盖",
        "sites": "建议新增点位",
        "note": "按 OpenStreetMap 道路网络计算步行时间",
        "data_line": "数据日期：{date}",
        "population_line": "人口：模型估算（{note}）",
        "population_plain": "人口：模型估算",
        "time_heading": "到最近设施的步行时间",
        "class_first": "0–{b} 分钟",
        "class_mid": "{a}–{b} 分钟",
        "class_last": "超过 {a} 分钟或不可达：服务空白",
        "facilities_heading": "设施",
        "other_heading": "其他图层",
        "layer_facilities": "{kind}：设施（{n}）",
        "layer_time": "{kind}：步行时间",
        "layer_areas": "{kind}：步行{t}分钟服务范围",
        "layer_gaps": "{kind}：未覆盖人口（{n}）",
        "layer_sites": "{kind}：{what}（{n}）",
        "layer_site_areas": "{kind}：{what}步行{t}分钟服务范围",
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
        "gap_tip": "{target} {n} 超出步行{t}分钟范围",
        "area_tip": "{name}：步行{t}分钟可达（步速 {speed} km/h，{reach} 米）",
        "proposed": "建议新增点位",
        "planned": "规划点位",
        "site_title": "建议新增点位 #{rank}",
        "planned_title": "规划点位 #{rank}",
        "site_gain": "新增覆盖{target} {n}（步行{t}分钟）",
        "site_gain_plain": "新增覆盖 {n}",
        "site_adds": "新增覆盖",
        "site_total": "建成后累计覆盖",
        "site_added_so_far": "第1–{rank}处合计新增",
        "site_year": "年份",
        "district": "街道/片区",
        "street": "最近道路",
        "lonlat": "经度, 纬度",
        "xy": "x, y（米）",
        "site_tip": "#{rank}：+{n}",
        "district_line": "{kind}：{target} {share} 在步行{t}分钟内（{covered}/{total}）",
        "district_none": "{kind}：无{target}",
        "district_empty": "本片区无人口格网",
        "summary": "{kind}：{target} {share} 在步行{t}分钟内（步速 {speed} km/h）",
        "summary_after": "{kind}：{target}步行{t}分钟覆盖率 {share} → {after}（{what} {n} 处）",
        "summary_none": "{kind}：数据中没有设施",
        "summary_none_after": "{kind}：现状无设施 → {target}步行{t}分钟覆盖率 {after}（{what} {n} 处）",
        "legend_areas": "步行{t}分钟可达范围（沿道路）",
        "legend_gaps": "未覆盖人口（圆圈越大人数越多）",
        "legend_sites": "建议新增点位（数字为建设顺序）",
        "legend_planned": "规划点位（数字为建设顺序）",
        "legend_districts": "街道/片区（标注：{kind}，{target}步行{t}分钟内覆盖率）",
        "legend_zero": "红色标注：覆盖率为0；“—”：无人口格网",
        "legend_raster": "格网过多，以图像显示",
        "legend": "图例",
        "tiles_key": "未加载底图：请在文件地址后加上天地图密钥后打开（map.html#{param}=您的密钥）。",
        "units": "beds=床位|slots=托位|seats=座位",
    },
}


def tr(lang: str, key: str, **values: Any) -> str:
    """A label in ``lang`` as safe HTML: the template and every value are escaped."""
    return escape_html(TEXT[lang][key]).format(**{k: escape_html(v) for k, v in values.items()})


def kind_label(kind: FacilityKind | None, name: str, lang: str) -> str:
    if kind is None:
        return name
    if lang == "zh" and kind.label_zh:
        return kind.label_zh
    return kind.label_en or kind.name


def unit_label(unit: str | None, lang: str) -> str:
    if not unit:
        return ""
    table = dict(p.split("=", 1) for p in TEXT[lang]["units"].split("|"))
    return table.get(unit, unit)


def fmt_people(x: float) -> str:
    return f"{x:,.0f}" if math.isfinite(x) else "–"


def fmt_pct(share: float) -> str:
    return f"{100 * share:.1f}%" if math.isfinite(share) else "–"


def fmt_num(x: float) -> str:
    return f"{x:g}"


def kind_colour(name: str, order: int) -> str:
    return KIND_COLOURS.get(name, EXTRA_COLOURS[order % len(EXTRA_COLOURS)])


def kind_glyph(name: str, label: str, lang: str) -> str:
    return GLYPHS[lang].get(name) or (label[:1].upper() if label else "?")


def time_colours(n: int) -> list[str]:
    """``n`` colours: ``n - 1`` blues from near to the threshold, then the blank-zone vermillion."""
    if n == len(TIME_RAMP):
        return list(TIME_RAMP)
    if n == 1:
        return [BLANK_COLOUR]
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in NEAR_RAMP], float)
    pos = np.linspace(0, len(NEAR_RAMP) - 1, n - 1)
    out = []
    for p in pos:
        i = min(int(p), len(NEAR_RAMP) - 2)
        c = rgb[i] + (rgb[i + 1] - rgb[i]) * (p - i)
        out.append("#" + "".join(f"{round(v):02x}" for v in c))
    return [*out, BLANK_COLOUR]


def fmt_capacity(value: Any, unit: str) -> str:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value) if value is not None else ""
    return f"{f:,.0f} {unit}".strip() if math.isfinite(f) else ""


def fmt_rank(value: Any) -> str:
    try:
        f = float(value)
        return str(int(f)) if f.is_integer() else f"{f:g}"
    except (TypeError, ValueError):
        return str(value)


def rgba(hex_colour: str, alpha: float) -> list[int]:
    return [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)] + [round(255 * alpha)]
