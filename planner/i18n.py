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
