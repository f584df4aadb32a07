"""Map style and strings: colours, glyphs and every label in English and Chinese, escaped."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from planner._escape import escape_html
from planner.kinds import FacilityKind

OSM_ATTRIBUTION = "© OpenStreetMap contributors"


LANGS = ("en", "zh")


# Walking-time classes, green (near) to red (beyond the last threshold or unreachable).
TIME_RAMP = ("#1a9641", "#a6d96a", "#fdae61", "#d7191c")


KIND_COLOURS = {
    "eldercare": "#1f4e9c",
    "nursery": "#8e24aa",
    "meal_site": "#00838f",
    "childrens_home": "#c2185b",
}


EXTRA_COLOURS = ("#5d4037", "#37474f", "#283593", "#6a1b9a", "#00695c", "#ad1457")


GLYPHS = {
    "en": {"eldercare": "E", "nursery": "N", "meal_site": "M", "childrens_home": "C"},
    "zh": {"eldercare": "老", "nursery": "托", "meal_site": "餐", "childrens_home": "童"},
}


SITE_COLOUR = "#ffb300"


GAP_COLOUR = "#4a148c"


STREET_COLOUR = "#8a8a8a"


DISTRICT_COLOUR = "#263238"


TEXT: dict[str, dict[str, str]] = {
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


TARGET_LABELS = {
    "en": {"age_60_plus": "people aged 60+", "age_0_3": "children aged 0–3",
           "age_0_17": "children aged 0–17", "population": "residents"},
    "zh": {"age_60_plus": "60岁及以上老人", "age_0_3": "0–3岁婴幼儿",
           "age_0_17": "0–17岁儿童", "population": "常住人口"},
}  # fmt: skip


# ---------------------------------------------------------------------- text helpers
def tr(lang: str, key: str, **values: Any) -> str:
    """A label in ``lang`` as safe HTML: the template and every value are escaped."""
    return escape_html(TEXT[lang][key]).format(**{k: escape_html(v) for k, v in values.items()})


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        msg = f"lang must be one of {list(LANGS)}; got {lang!r}."
        raise ValueError(msg)
    return lang


def kind_label(kind: FacilityKind | None, name: str, lang: str) -> str:
    if kind is None:
        return name
    if lang == "zh" and kind.label_zh:
        return kind.label_zh
    return kind.label_en or kind.name


def target_label(column: str | None, lang: str) -> str:
    if column is None:
        return "people" if lang == "en" else "人口"
    return TARGET_LABELS[lang].get(column, column)


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
    """``n`` colours from green to red (n = thresholds + 1)."""
    if n == len(TIME_RAMP):
        return list(TIME_RAMP)
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in TIME_RAMP], float)
    pos = np.linspace(0, len(TIME_RAMP) - 1, n)
    out = []
    for p in pos:
        i = min(int(p), len(TIME_RAMP) - 2)
        c = rgb[i] + (rgb[i + 1] - rgb[i]) * (p - i)
        out.append("#" + "".join(f"{round(v):02x}" for v in c))
    return out


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
