"""Words and numbers in English and Chinese: column headers, target groups, people and shares.

What the report, the spreadsheet, the maps and (later) the command line's tables share. The API
is small on purpose:

- :func:`header` — a column's header (``header("share_before", "zh")`` → ``"现状覆盖率"``);
  an unknown column comes back as it is, so new columns never break a table;
- :func:`target_label` — a target population column as words (``"age_60_plus"`` →
  ``"people aged 60+"`` / ``"60岁及以上老人"``);
- :func:`fmt_people` — a count of people as it is written (``73865.9`` → ``"73,866"`` /
  ``"7.39万人"``); :func:`fmt_share` — a share 0..1 as a percentage with one decimal
  (``0.50627`` → ``"50.6%"``);
- :func:`check_lang` — ``"en"`` or ``"zh"``, else ``ValueError``.

Values are plain text, not HTML: escape them where they go (:mod:`planner._escape`).
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

LANGS = ("en", "zh")

#: Column → (English, Chinese) header.
HEADERS: dict[str, tuple[str, str]] = {
    "kind": ("Facility", "设施类型"),
    "target_group": ("Target group", "服务对象"),
    "people": ("People", "人数"),
    "residents": ("Residents", "常住人口"),
    "facilities_before": ("Facilities today", "现有设施"),
    "facilities_after": ("Facilities after", "建成后设施"),
    "covered_before": ("Covered today", "现状覆盖人数"),
    "covered_after": ("Covered after", "建成后覆盖人数"),
    "share_before": ("Share today", "现状覆盖率"),
    "share_after": ("Share after", "建成后覆盖率"),
    "delta_covered": ("Newly covered", "新增覆盖人数"),
    "new_sites": ("New sites", "新增点位"),
    "district": ("District", "街道/片区"),
    "blank_zone": ("Blank zone (0 % covered)", "服务空白（覆盖率为0）"),
    "targets_met": ("Targets met", "目标达成"),
    "needed": ("Needed to meet the targets", "达标尚需"),
    "rank": ("No.", "序号"),
    "name": ("Name", "名称"),
    "street": ("Nearest street", "最近道路"),
    "gain": ("People added", "新增覆盖人数"),
    "covered": ("Covered after it", "建成后累计覆盖"),
    "share": ("Share after it", "建成后覆盖率"),
    "lon": ("Longitude", "经度"),
    "lat": ("Latitude", "纬度"),
    "x": ("x (m)", "x（米）"),
    "y": ("y (m)", "y（米）"),
    "year": ("Year", "年份"),
    "phase": ("Phase", "期次"),
    "indicator": ("Indicator", "指标"),
    "current": ("Current", "现状值"),
    "target": ("Target", "目标值"),
    "met": ("Met", "是否达标"),
    "scope": ("Area", "范围"),
    "zone": ("Zone", "空白区域"),
    "minutes": ("Minutes", "分钟"),
    "layer": ("Data", "数据"),
    "source": ("Source", "来源"),
    "licence": ("Licence", "许可"),
    "facility_id": ("Id", "编号"),
    "status": ("Status", "状态"),
    "reach_m": ("Walk (m)", "步行距离（米）"),
}

#: Target population column → (English, Chinese) words.
TARGET_LABELS: dict[str, tuple[str, str]] = {
    "age_60_plus": ("people aged 60+", "60岁及以上老人"),
    "age_0_3": ("children aged 0–3", "0–3岁婴幼儿"),
    "age_0_17": ("children aged 0–17", "0–17岁儿童"),
    "population": ("residents", "常住人口"),
}


def check_lang(lang: str) -> str:
    """``lang`` if it is ``"en"`` or ``"zh"``, else ``ValueError``.

    Parameters
    ----------
    lang
        A language code.

    Returns
    -------
    str
    """
    if lang not in LANGS:
        msg = f"lang must be one of {list(LANGS)}; got {lang!r}."
        raise ValueError(msg)
    return lang


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if check_lang(lang) == "zh" else pair[0]


def header(column: str, lang: str) -> str:
    """The header of a column in ``lang`` (an unknown column: its own name).

    Parameters
    ----------
    column
        A column name of planner's tables.
    lang
        ``"en"`` or ``"zh"``.

    Returns
    -------
    str

    Examples
    --------
    >>> header("share_before", "zh"), header("gain", "en"), header("my_column", "zh")
    ('现状覆盖率', 'People added', 'my_column')
    """
    pair = HEADERS.get(column)
    return _pick(pair, lang) if pair else column


def target_label(column: str | None, lang: str) -> str:
    """A target population column in words (``None``: people in general).

    Parameters
    ----------
    column
        E.g. ``"age_60_plus"``.
    lang
        ``"en"`` or ``"zh"``.

    Returns
    -------
    str

    Examples
    --------
    >>> target_label("age_60_plus", "zh"), target_label("age_0_3", "en")
    ('60岁及以上老人', 'children aged 0–3')
    """
    if column is None:
        return _pick(("people", "人口"), lang)
    pair = TARGET_LABELS.get(column)
    return _pick(pair, lang) if pair else column


def _finite(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt_people(x: Any, lang: str = "en", *, unit: bool = True) -> str:
    """A number of people as it is written: ``73,866``; in Chinese ``7.39万人`` from 10,000 up.

    Parameters
    ----------
    x
        A count (rounded to a whole person); NaN or None gives ``"–"``.
    lang
        ``"en"`` or ``"zh"``.
    unit
        In Chinese, end with 人 (a table whose header says 人数 leaves it out).

    Returns
    -------
    str

    Examples
    --------
    >>> fmt_people(73865.86, "en"), fmt_people(73865.86, "zh"), fmt_people(3637.2, "zh")
    ('73,866', '7.39万人', '3637人')
    >>> fmt_people(100000, "zh", unit=False), fmt_people(1.5e8, "zh"), fmt_people(float("nan"))
    ('10万', '1.5亿人', '–')
    """
    f = _finite(x)
    if f is None:
        return "–"
    n = round(f)
    if check_lang(lang) == "en":
        return f"{n:,}"
    suffix = "人" if unit else ""
    for size, word in ((100_000_000, "亿"), (10_000, "万")):
        if abs(n) >= size:
            return f"{n / size:.2f}".rstrip("0").rstrip(".") + word + suffix
    return f"{n}{suffix}"


def fmt_share(x: Any, lang: str = "en") -> str:
    """A share 0..1 as a percentage with one decimal: ``50.6%`` (NaN: ``"–"``).

    Parameters
    ----------
    x
        The share.
    lang
        ``"en"`` or ``"zh"`` (written the same way).

    Returns
    -------
    str

    Examples
    --------
    >>> fmt_share(0.50627), fmt_share(1.0, "zh"), fmt_share(None)
    ('50.6%', '100.0%', '–')
    """
    check_lang(lang)
    f = _finite(x)
    return "–" if f is None else f"{100 * f:.1f}%"


def fmt_number(x: Any, decimals: int = 0) -> str:
    """A plain number with thousands separators (``–`` when missing).

    Parameters
    ----------
    x
        The number.
    decimals
        Decimal places.

    Returns
    -------
    str
    """
    f = _finite(x)
    return "–" if f is None else f"{f:,.{decimals}f}"


# ---------------------------------------------------------------------- the command line and the CSVs
#: Phrases of the command line's tables and messages → (English, Chinese).
WORDS: dict[str, tuple[str, str]] = {
    "coverage_title": (
        "share of each kind's target population within walking time",
        "各类设施服务对象的步行可达比例",
    ),
    "network_line": (
        "network {nodes} nodes; {cells} cells; snap limit {snap} m; age groups: {ages}",
        "路网 {nodes} 个节点；{cells} 个人口网格；吸附上限 {snap} 米；年龄结构：{ages}",
    ),
    "datum_line": (
        "facilities: {points} points converted from {datum} to WGS-84; moved {mean} m on average "
        "(at most {max} m)",
        "设施：{points} 个点已由 {datum} 转换为 WGS-84；平均移动 {mean} 米（最多 {max} 米）",
    ),
    "per_district": (
        "per district: share within each kind's threshold (facilities in the district)",
        "分片区：各类设施服务半径内的人口比例（括号内为片区内设施数）",
    ),
    "siting_from_study": ("siting from the study file ([siting]):", "选址（研究设置 [siting]）："),
    "plan_targets": ("plan targets", "规划指标"),
    "timings": ("timings", "用时"),
    "blank_zones": ("blank zones: {n} (see blank_zones.csv)", "服务空白单元：{n} 个（见 blank_zones.csv）"),
    "wrote": ("wrote", "已写出"),
    "error": ("error", "错误"),
    "no_targets": ("(no targets)", "（无指标）"),
    "plan": ("plan: ", "规划依据："),
    "target": ("target", "目标"),
    "baseline": ("baseline", "基期"),
    "scope": ("scope", "范围"),
    "now": ("now", "现状"),
    "met": ("met", "达标"),
    "needed": ("needed", "尚需"),
    "yes": ("yes", "是"),
    "no": ("NO", "否"),
    "min": ("min", "分钟"),
    "kind": ("kind", "设施类型"),
    "district": ("district", "片区"),
    "target_column": ("target", "服务对象"),
    "people": ("people", "人数"),
    "facilities": ("facilities", "设施数"),
    "speed": ("km/h", "步速(km/h)"),
    "within": ("≤{m} min", "≤{m}分钟"),
    "straight": ("straight ≤{m}", "直线≤{m}分钟"),
    "outside_districts": ("(outside districts)", "（片区外）"),
    "all": ("(all)", "（全部）"),
    "grid columns": ("grid columns", "人口网格自带"),
    "pts": ("pts", "个百分点"),
    "minutes": ("minutes", "步行时间"),
    "covered_ba": ("covered before → after", "覆盖人数 现状 → 建成后"),
    "share_ba": ("share before → after", "覆盖率 现状 → 建成后"),
    "change": ("change", "变化"),
    "facilities_ba": ("facilities", "设施数"),
    "scenario_title": ("scenario {name!r}: before → after", "方案“{name}”：现状 → 建成后"),
    "added_title": (
        "added facilities in build order (people of the kind's target group within its walk):",
        "按建设顺序新增的设施（步行范围内的服务对象人数）：",
    ),
    "targets_ba": ("targets met before → after:", "规划指标达标情况 现状 → 建成后："),
    "trajectory_note": (
        "trajectory: see trajectory.csv (coverage after each year's additions, cumulative)",
        "逐年变化：见 trajectory.csv（每年新增后的累计覆盖）",
    ),
    "rank": ("rank", "序号"),
    "year": ("year", "年份"),
    "phase": ("phase", "期次"),
    "name": ("name", "名称"),
    "adds": ("adds", "新增覆盖"),
    "covered_after": ("covered after", "建成后覆盖"),
    "share": ("share", "覆盖率"),
}

#: What a file is (the ``what`` of planner's readers) → Chinese.
WHAT_ZH: dict[str, str] = {
    "facilities": "设施", "population": "人口", "network": "路网", "boundary": "边界", "districts": "片区",
    "study": "研究设置", "targets": "规划指标", "sites": "选址点位", "census": "普查",
}  # fmt: skip


def what_zh(what: str) -> str:
    """A reader's ``what`` in Chinese (``facilities`` → ``设施``; unknown: itself)."""
    return WHAT_ZH.get(what, what)


#: Indicator → (English, Chinese) name.
INDICATOR_NAMES: dict[str, tuple[str, str]] = {
    "population_share_within": ("population_share_within", "步行可达人口比例"),
    "per_1000_target": ("per_1000_target", "每千名服务对象"),
    "per_1000": ("per_1000", "每千人"),
    "per_capita": ("per_capita", "人均"),
    "total_capacity": ("total_capacity", "总量"),
    "capacity_share": ("capacity_share", "占比"),
    "units_with_facility": ("units_with_facility", "有设施的单元比例"),
    "units_with_at_least": ("units_with_at_least", "设施数达标的单元比例"),
    "units_reached": ("units_reached", "步行可达的单元比例"),
}

#: Counted things → Chinese (a number and its measure word: 3 个设施, 240 张床位).
COUNT_WORDS_ZH: dict[str, str] = {
    "people": "人", "person": "人", "facilities": "个设施", "facility": "个设施", "units": "个单元",
    "unit": "个单元", "beds": "张床位", "slots": "个托位", "seats": "个餐位", "places": "个位置",
    "capacity": "个容量单位", "m²": "平方米",
}  # fmt: skip

#: Things counted per 1,000 or per person → Chinese (床位/千人).
MEASURES_ZH: dict[str, str] = {
    "beds": "床位", "slots": "托位", "seats": "餐位", "places": "位置", "capacity": "容量", "m²": "平方米",
}  # fmt: skip


def word(key: str, lang: str, **values: Any) -> str:
    """A phrase of the command line in ``lang``, with ``{fields}`` filled from ``values``.

    Examples
    --------
    >>> word("within", "zh", m=15), word("needed", "en")
    ('≤15分钟', 'needed')
    """
    return _pick(WORDS[key], lang).format(**values)


def indicator_name(indicator: str, lang: str) -> str:
    """An indicator's name (``units_reached`` → ``步行可达的单元比例``; unknown: itself)."""
    pair = INDICATOR_NAMES.get(indicator)
    return _pick(pair, lang) if pair else indicator


def count_text(n: float, unit: str, lang: str) -> str:
    """A whole count with its noun: ``1 facility``, ``4,670 slots``; ``240 张床位``, ``3 个设施``.

    Examples
    --------
    >>> count_text(1, "facilities", "en"), count_text(4670, "slots", "en"), count_text(240, "beds", "zh")
    ('1 facility', '4,670 slots', '240 张床位')
    """
    n = float(n)
    if check_lang(lang) == "zh":
        return f"{n:,.0f} {COUNT_WORDS_ZH.get(unit, unit)}".rstrip()
    if n == 1:
        unit = {"people": "person"}.get(
            unit, unit[:-3] + "y" if unit.endswith("ies") else unit.removesuffix("s")
        )
    return f"{n:,.0f} {unit}".rstrip()


def value_text(v: Any, unit: str, lang: str) -> str:
    """A target value with its unit: ``52.3 %``, ``41.0 beds/1,000``, ``3.40 m²/person``; ``41.0 床位/千人``.

    ``unit`` is the ``unit`` column of the targets table (``share``, ``beds per 1,000 age_60_plus``,
    ``m² per person``, ``slots``…).

    Examples
    --------
    >>> value_text(0.523, "share", "zh"), value_text(41, "beds per 1,000 age_60_plus", "zh")
    ('52.3 %', '41.0 床位/千人')
    """
    f = _finite(v)
    if f is None:
        return "-"
    zh = check_lang(lang) == "zh"
    if unit == "share":
        return f"{100 * f:.1f} %"
    if " per 1,000 " in unit:
        what = unit.split(" per 1,000 ")[0]
        return f"{f:,.1f} {MEASURES_ZH.get(what, what)}/千人" if zh else f"{f:,.1f} {what}/1,000"
    if unit.endswith(" per person"):
        what = unit.removesuffix(" per person")
        return f"{f:,.2f} {MEASURES_ZH.get(what, what)}/人" if zh else f"{f:,.2f} {what}/person"
    if f == round(f):
        return count_text(f, unit, lang)
    return f"{f:,.1f} {COUNT_WORDS_ZH.get(unit, unit) if zh else unit}"


def display_width(text: str) -> int:
    """Terminal columns of ``text``: East Asian wide and full-width characters count two, combining marks none.

    >>> display_width("五道口"), display_width("abc"), display_width("e\u0301")
    (6, 3, 1)
    """
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text
    )


#: Column of planner's CSV files → Chinese header (``--lang zh``); ``--lang en`` keeps the names.
#: One header per column and no two alike, so :func:`english_columns` reads them back.
CSV_HEADERS_ZH: dict[str, str] = {
    "kind": "设施类型", "indicator": "指标", "scope": "范围", "zone_column": "单元类型", "zone": "单元",
    "target_people": "服务对象人数", "facilities": "设施数", "rank": "序号", "candidate_id": "候选点编号",
    "name": "名称", "district": "片区", "gain": "新增覆盖人数", "cumulative": "累计新增覆盖人数",
    "covered": "覆盖人数", "share": "覆盖率", "x": "x坐标_米", "y": "y坐标_米", "lon": "经度", "lat": "纬度",
    "cost": "成本", "capacity": "容量", "source": "来源", "node": "路网节点", "total": "服务对象总数",
    "covered_before": "现状覆盖人数", "covered_after": "建成后覆盖人数", "share_before": "现状覆盖率",
    "share_after": "建成后覆盖率", "new_sites": "新增点位数", "model": "模型", "objective": "目标函数值",
    "objective_is": "目标函数含义", "bound": "最优界", "gap": "差距", "status": "求解状态", "solver": "求解器",
    "seconds": "用时_秒", "greedy_objective": "贪心解目标函数值", "threshold_min": "时间阈值_分钟",
    "speed_kmh": "步速_千米每小时", "minutes": "步行时间_分钟", "target_column": "服务对象",
    "covered_straight": "直线距离覆盖人数", "share_straight": "直线距离覆盖率",
    "facilities_left_out": "未纳入设施数", "reach_m": "步行距离_米", "target_source": "年龄结构来源",
    "label": "指标名称", "plan": "规划依据", "year": "目标年份", "unit": "单位", "unit_column": "单元列",
    "basis": "口径", "baseline": "基期值", "target": "目标值", "current": "现状值", "projected": "目标年预测值",
    "met": "是否达标", "needed": "尚需", "needed_unit": "尚需单位", "note": "说明", "target_no": "指标序号",
    "line": "行号", "facility_id": "设施编号", "population": "常住人口",
    "total_before": "现状服务对象总数", "total_after": "建成后服务对象总数", "delta_covered": "覆盖人数变化",
    "delta_share": "覆盖率变化", "facilities_before": "现状设施数", "facilities_after": "建成后设施数",
    "met_before": "现状是否达标", "met_after": "建成后是否达标", "phase": "期次", "street": "最近道路",
    "value_before": "现状指标值", "value_after": "建成后指标值", "cells": "人口网格数",
    "covered_is": "覆盖口径", "served": "容量内服务人数", "served_new": "新增容量内服务人数",
    "within_reach": "步行可达人数", "within_reach_new": "新增步行可达人数", "size": "规模", "hosts": "承载设施类型",
    "planned": "计划新增点位数", "open_sites": "累计建成点位数", "best_unconstrained": "同规模最优覆盖人数",
    "weight": "权重", "loss": "较同规模最优少覆盖人数", "loss_share": "较同规模最优少覆盖比例",
    "candidates": "候选点数", "existing": "现有设施数", "min_per_unit": "每单元最少点位",
    "max_per_unit": "每单元最多点位", "covered_shared": "共建覆盖人数", "covered_separate": "分建覆盖人数",
    "sites_hosting": "承载点位数", "sites_separate": "分建点位数", "minutes_saved": "节省步行人分钟",
}  # fmt: skip


def localise_table(table: Any, lang: str, *, kind_labels: dict[str, str] | None = None) -> Any:
    """A table as written for ``lang``: Chinese headers and words (``zh``), or as it is (``en``).

    In Chinese, the headers come from :data:`CSV_HEADERS_ZH` (other columns keep their names),
    facility kinds their Chinese labels (``kind_labels``: kind → label), target groups and
    indicators their names, and ``met`` reads 是/否. Numbers stay numbers.

    Parameters
    ----------
    table
        A pandas DataFrame.
    lang
        ``"en"`` or ``"zh"``.
    kind_labels
        Kind → Chinese label (e.g. ``{"eldercare": "养老服务设施"}``).

    Returns
    -------
    pandas.DataFrame
    """
    if check_lang(lang) == "en":
        return table
    out = table.copy()
    places = {word(k, "en"): word(k, "zh") for k in ("all", "outside_districts")}
    units = {**COUNT_WORDS_ZH, "share": "比例"}
    words = {
        "kind": lambda v: (kind_labels or {}).get(v, v),
        "target_column": lambda v: target_label(v, "zh") if isinstance(v, str) else v,
        "indicator": lambda v: indicator_name(v, "zh") if isinstance(v, str) else v,
        **dict.fromkeys(("met", "met_before", "met_after"), _yes_no),
        "scope": lambda v: places.get(v, v),
        "district": lambda v: places.get(v, v),
        "unit": lambda v: _unit_zh(v, units),
        "needed_unit": lambda v: units.get(v, v),
        "target_source": lambda v: "人口网格自带" if v == "grid columns" else v,
        "name": lambda v: f"新增点位{v[9:]}" if isinstance(v, str) and v.startswith("new site ") else v,
    }
    for col, fn in words.items():
        if col in out.columns:
            out[col] = out[col].map(fn)
    return out.rename(columns=CSV_HEADERS_ZH)


def _yes_no(v: Any) -> Any:
    return ("是" if v else "否") if isinstance(v, bool | int) else v


def _unit_zh(unit: Any, units: dict[str, str]) -> Any:
    """A value's unit in Chinese: ``share`` → 比例, ``beds per 1,000 age_60_plus`` → 床位/千名60岁及以上老人."""
    if not isinstance(unit, str):
        return unit
    if " per 1,000 " in unit:
        what, per = unit.split(" per 1,000 ", 1)
        return f"{MEASURES_ZH.get(what, what)}/千名{target_label(per, 'zh')}"
    if unit.endswith(" per person"):
        what = unit.removesuffix(" per person")
        return f"{MEASURES_ZH.get(what, what)}/人"
    return units.get(unit, unit)


def english_columns(columns: Any) -> list[str]:
    """Column headers back to planner's English names (a Chinese CSV of planner read by a script).

    Parameters
    ----------
    columns
        Headers as read, e.g. ``pd.read_csv("out/summary.csv").columns``.

    Returns
    -------
    list of str
        planner's column names; a header planner does not know stays as it is.

    Examples
    --------
    >>> english_columns(["现状覆盖率", "x坐标_米", "my_column"])
    ['share_before', 'x', 'my_column']
    """
    back = {unicodedata.normalize("NFKC", zh): col for col, zh in CSV_HEADERS_ZH.items()}
    return [back.get(unicodedata.normalize("NFKC", str(c)).strip(), str(c)) for c in columns]
