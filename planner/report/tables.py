"""The report's tables, in the chosen language: summary, districts, sites, targets, blank zones, sources.

Each table is a :class:`Table`: localised headers, values rounded as printed (people to whole
persons, shares 0..1 unrounded and printed with one decimal, coordinates to six), and a format per column, so
that the page, the spreadsheet and the CSVs of the same run show the same numbers.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from planner.i18n import check_lang, count_text, fmt_people, fmt_share, header, target_label, value_text
from planner.kinds import DISTRICT, KIND, NAME
from planner.pipeline import StudyResult
from planner.scenario import Comparison

#: How a column is written: people (whole persons), share (0..1 shown as %), number, coordinate, text.
FORMATS = ("people", "share", "number", "coord", "text")

_WORDS: dict[str, tuple[str, str]] = {
    "summary": ("Summary", "概要"),
    "districts": ("Districts", "街道/片区"),
    "sites": ("Sites", "点位"),
    "proposed_sites": ("Proposed sites", "建议新增点位"),
    "planned_sites": ("Planned sites", "规划点位"),
    "targets": ("Plan targets", "规划目标"),
    "blank_zones": ("Blank zones", "服务空白"),
    "sources": ("Data, licences and caveats", "数据来源、许可与说明"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    "today": ("today", "现状"),
    "after": ("after", "建成后"),
    "no_cell": ("no population cell", "无人口格网"),
    "of": ("{a} of {b}", "{a}/{b}"),
    "whole_area": ("whole area", "全域"),
    "people to bring within reach": ("people to bring within reach", "人需纳入步行范围"),
    "facilities (one per blank unit)": ("facilities (one per blank unit)", "处设施（每个空白单元一处）"),
    "capacity": ("capacity", "容量"),
    "beds": ("beds", "张床位"),
    "slots": ("slots", "个托位"),
    "seats": ("seats", "个座位"),
    "per_1000": ("{x} per 1,000", "每千人 {x}"),
    "network": ("Walk network", "步行路网"),
    "population": ("Population", "人口"),
    "facilities": ("Facilities", "设施"),
    "boundary": ("Study area", "研究范围"),
    "age_shares": ("Age shares", "年龄结构"),
}


def word(key: str, lang: str) -> str:
    """A word of the report in ``lang`` (unknown keys come back as they are)."""
    pair = _WORDS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "zh" else pair[0]


@dataclass(frozen=True, eq=False)
class Table:
    """One table of the report: a title, localised headers and a format per column."""

    key: str
    title: str
    frame: pd.DataFrame
    formats: Mapping[str, str] = field(default_factory=dict)

    def fmt(self, column: str) -> str:
        """The format of a column (``text`` unless said otherwise)."""
        return self.formats.get(column, "text")


@dataclass(frozen=True, eq=False)
class ReportData:
    """Everything the report shows, in one language."""

    lang: str
    title: str
    place: str
    data_date: str
    population_note: str | None
    written: str
    sentences: list[str]
    tables: dict[str, Table]
    caveats: list[str]
    kinds: list[str]
    planned: bool


# ---------------------------------------------------------------------- helpers
def people(x: Any) -> float:
    """People rounded to whole persons (NaN stays NaN)."""
    f = float(x)
    return float(round(f)) if math.isfinite(f) else math.nan


def share(x: Any) -> float:
    """A share 0..1 kept whole (shown with one decimal as a percentage).

    Not rounded first: 0.805519 rounded to 0.8055 would print as 80.5 % beside the terminal's
    and the CSV's 80.6 % (a double rounding).
    """
    f = float(x)
    return f if math.isfinite(f) else math.nan


def kind_text(result: StudyResult, name: str, lang: str) -> str:
    """A kind's label in ``lang``."""
    k = result.coverage.kinds[name]
    if lang == "zh" and k.label_zh:
        return k.label_zh
    return k.label_en or name


def existing_kinds(result: StudyResult) -> set[str]:
    """Kinds with at least one facility today (a blank zone is a gap in an existing service)."""
    fac = result.coverage.facilities
    return set(fac[KIND]) if len(fac) else set()


def shown_kinds(result: StudyResult, comparison: Comparison | None) -> list[str]:
    """Kinds with facilities today or after the sites (all kinds when none has any)."""
    fac = result.coverage.facilities
    have = set(fac[KIND]) if len(fac) else set()
    if comparison is not None and len(comparison.sites):
        have |= set(comparison.sites[KIND])
    kinds = [k for k in result.coverage.kinds if k in have]
    return kinds or list(result.coverage.kinds)


def _at_threshold(table: pd.DataFrame, result: StudyResult) -> pd.DataFrame:
    """Rows of a per-threshold table at each kind's own threshold."""
    own = table["kind"].map({k: v.threshold_min for k, v in result.coverage.kinds.items()})
    return table[table["minutes"] == own]


def _table(key: str, title: str, rows: list[dict[str, Any]], formats: dict[str, str]) -> Table:
    frame = pd.DataFrame(rows, columns=list(formats))
    return Table(key, title, frame, formats)


# ---------------------------------------------------------------------- the tables
def summary_table(result: StudyResult, comparison: Comparison | None, kinds: list[str], lang: str) -> Table:
    """Per kind: target group, people, facilities, covered and share today (and after)."""
    h = {c: header(c, lang) for c in ("kind", "target_group", "people", "facilities_before", "covered_before",
                                       "share_before", "new_sites", "covered_after", "share_after",
                                       "delta_covered")}  # fmt: skip
    formats = {h["kind"]: "text", h["target_group"]: "text", h["people"]: "people",
               h["facilities_before"]: "number", h["covered_before"]: "people", h["share_before"]: "share"}  # fmt: skip
    if comparison is not None:
        formats |= {h["new_sites"]: "number", h["covered_after"]: "people", h["share_after"]: "share",
                    h["delta_covered"]: "people"}  # fmt: skip
        table = _at_threshold(comparison.table, result).set_index("kind")
    else:
        s = _at_threshold(result.coverage.summary(), result).set_index("kind")
        table = s.rename(columns={"covered": "covered_before", "total": "total_before", "share": "share_before",
                                  "facilities": "facilities_before"})  # fmt: skip
    added = comparison.sites[KIND].value_counts() if comparison is not None and len(comparison.sites) else {}
    rows = []
    for name in kinds:
        r = table.loc[name]
        row = {h["kind"]: kind_text(result, name, lang),
               h["target_group"]: target_label(result.coverage.kinds[name].target_column, lang),
               h["people"]: people(r["total_before"]), h["facilities_before"]: int(r["facilities_before"]),
               h["covered_before"]: people(r["covered_before"]), h["share_before"]: share(r["share_before"])}  # fmt: skip
        if comparison is not None:
            row |= {h["new_sites"]: int(added.get(name, 0)), h["covered_after"]: people(r["covered_after"]),
                    h["share_after"]: share(r["share_after"]), h["delta_covered"]: people(r["delta_covered"])}  # fmt: skip
        rows.append(row)
    return _table("summary", word("summary", lang), rows, formats)


def _colon(lang: str) -> str:
    return "：" if lang == "zh" else ": "


def _district_names(result: StudyResult) -> list[str]:
    d = result.districts
    if d is None:
        return []
    col = DISTRICT if DISTRICT in d.columns else ("name" if "name" in d.columns else None)
    return [str(x) for x in (d[col] if col else d.index)]


def district_rows(result: StudyResult, comparison: Comparison | None, kinds: list[str]) -> pd.DataFrame:
    """Per district and kind (own threshold): total, covered and share today and after; cells."""
    cov = result.coverage
    if comparison is not None and comparison.by_district is not None:
        t = _at_threshold(comparison.by_district, result)
    else:
        t = _at_threshold(cov.summary(by=DISTRICT), result).rename(
            columns={"covered": "covered_before", "total": "total_before", "share": "share_before"}
        )
    t = t[t["kind"].isin(kinds)].copy()
    cells = cov.population[DISTRICT].astype(str).value_counts() if DISTRICT in cov.population else pd.Series()
    t["cells"] = t[DISTRICT].astype(str).map(cells).fillna(0).astype(int)
    return t


def districts_table(result: StudyResult, comparison: Comparison | None, kinds: list[str], lang: str,
                    needs: Mapping[str, tuple[str, str]]) -> Table | None:  # fmt: skip
    """One row per district: residents, per kind people and share (today, after), blank zone, targets."""
    names = _district_names(result)
    if not names:
        return None
    rows_by = district_rows(result, comparison, kinds).set_index([DISTRICT, "kind"])
    pop = result.coverage.population
    residents = (
        pop.groupby(DISTRICT)["population"].sum() if DISTRICT in pop and "population" in pop else pd.Series()
    )
    changed = {
        k
        for k in kinds
        if comparison is not None and len(comparison.sites) and (comparison.sites[KIND] == k).any()
    }
    formats: dict[str, str] = {header("district", lang): "text", header("residents", lang): "people"}
    for k in kinds:
        label = kind_text(result, k, lang)
        formats[f"{label}{_colon(lang)}{header('people', lang)}"] = "people"
        formats[f"{label}{_colon(lang)}{word('today', lang)}"] = "share"
        if k in changed:
            formats[f"{label}{_colon(lang)}{word('after', lang)}"] = "share"
    formats[header("blank_zone", lang)] = "text"
    if needs:
        formats |= {header("targets_met", lang): "text", header("needed", lang): "text"}
    existing = existing_kinds(result)
    rows = []
    for name in names:
        row: dict[str, Any] = {
            header("district", lang): name,
            header("residents", lang): people(residents.get(name, math.nan)),
        }
        blank = []
        for k in kinds:
            label = kind_text(result, k, lang)
            r = rows_by.loc[(name, k)] if (name, k) in rows_by.index else None
            tot = float(r["total_before"]) if r is not None else math.nan
            row[f"{label}{_colon(lang)}{header('people', lang)}"] = people(tot)
            row[f"{label}{_colon(lang)}{word('today', lang)}"] = (
                share(r["share_before"]) if r is not None else math.nan
            )
            if k in changed:
                row[f"{label}{_colon(lang)}{word('after', lang)}"] = (
                    share(r["share_after"]) if r is not None else math.nan
                )
            if k in existing and r is not None and tot > 0 and float(r["covered_before"]) == 0:
                blank.append(label)
        row[header("blank_zone", lang)] = (
            ("、" if lang == "zh" else ", ").join(blank) if name in residents.index else word("no_cell", lang)
        )
        if needs:
            met, need = needs.get(name, ("", ""))
            row[header("targets_met", lang)] = met
            row[header("needed", lang)] = need
        rows.append(row)
    return _table("districts", word("districts", lang), rows, formats)


def sites_table(
    result: StudyResult, comparison: Comparison | None, lang: str, *, planned: bool
) -> Table | None:
    """The added sites in build order: where they are and what each adds."""
    if comparison is None or not len(comparison.sites):
        return None
    s = comparison.sites
    time_col = next((c for c in ("year", "phase") if c in s.columns), None)
    cols = ["rank", "kind", "name", *([time_col] if time_col else []), "district", "street", "gain", "covered",
            "share", "lon", "lat"]  # fmt: skip
    fmt = {"rank": "number", "gain": "people", "covered": "people", "share": "share", "lon": "coord", "lat": "coord",
           "year": "number", "phase": "number"}  # fmt: skip
    formats = {header(c, lang): fmt.get(c, "text") for c in cols}
    rows = []
    for _, r in s.iterrows():
        row = {header("rank", lang): int(r["rank"]), header("kind", lang): kind_text(result, r[KIND], lang),
               header("name", lang): str(r.get(NAME, "") or ""),
               header("district", lang): str(r.get(DISTRICT, "") or ""),
               header("street", lang): str(r.get("street", "—") or "—"),
               header("gain", lang): people(r["gain"]), header("covered", lang): people(r["covered"]),
               header("share", lang): share(r["share"]), header("lon", lang): round(float(r["lon"]), 6),
               header("lat", lang): round(float(r["lat"]), 6)}  # fmt: skip
        if time_col:
            row[header(time_col, lang)] = int(r[time_col])
        rows.append(row)
    title = word("planned_sites" if planned else "proposed_sites", lang)
    return _table("sites", title, rows, formats)


def _indicator_value(unit: str, x: Any, lang: str) -> str:
    """A target's value in its own unit (``71.0 %``, ``1.7 托位/千人``, ``4,670 slots``)."""
    return value_text(x, unit, lang)


def _needed_text(r: Mapping[str, Any], lang: str, kind_label: str) -> str:
    amount = _amount(r, lang)
    return f"{kind_label}: {amount}" if lang == "en" else f"{kind_label}：{amount}"


def _amount(r: Mapping[str, Any], lang: str) -> str:
    """What one unmet target needs, in short: ``523 people``, ``21 beds``, ``2 facilities``; ``523 人``."""
    unit = str(r.get("needed_unit", ""))
    n = math.ceil(float(r["needed"]) - 1e-9)
    if "people" in unit and lang == "zh":
        return fmt_people(n, lang)
    return count_text(n, unit, lang)


def targets_tables(result: StudyResult, comparison: Comparison | None, kinds: list[str],
                   lang: str) -> tuple[Table | None, dict[str, tuple[str, str]]]:  # fmt: skip
    """The whole area's targets (now and after), and per district (met "a of b", what is needed)."""
    if result.targets is None:
        return None, {}
    t = result.targets.table
    after = comparison.targets if comparison is not None else None
    cols = ["indicator", "current", "target", "met", "needed"]
    if after is not None:
        cols = ["indicator", "current", "current_after", "target", "met", "needed"]
    formats = {(header(c, lang) if c != "current_after" else f"{header('current', lang)} ({word('after', lang)})"): "text"
               for c in cols}  # fmt: skip
    rows = []
    whole = t[t["scope"] == "(all)"]
    for i, r in whole.iterrows():
        label = kind_text(result, r["kind"], lang)
        row = {header("indicator", lang): str(r["label"]),
               header("current", lang): _indicator_value(str(r["unit"]), r["current"], lang),
               header("target", lang): _indicator_value(str(r["unit"]), r["target"], lang),
               header("met", lang): word("yes" if r["met"] else "no", lang),
               header("needed", lang): "" if r["met"] else _needed_text(r, lang, label)}  # fmt: skip
        if after is not None:
            a = after[(after["scope"] == "(all)") & (after["label"] == r["label"])]
            value = a["current_after"].iloc[0] if len(a) else math.nan
            row[f"{header('current', lang)} ({word('after', lang)})"] = _indicator_value(
                str(r["unit"]), value, lang
            )
        rows.append(row)
        del i
    needs: dict[str, tuple[str, str]] = {}
    for scope, g in t[t["scope"] != "(all)"].groupby("scope"):
        met = word("of", lang).format(a=int(g["met"].sum()), b=len(g))
        by_kind: dict[str, list[str]] = {}
        for _, r in g[~g["met"]].iterrows():
            by_kind.setdefault(kind_text(result, r["kind"], lang), []).append(_amount(r, lang))
        sep = ("：", "、", "；") if lang == "zh" else (": ", ", ", "; ")
        needs[str(scope)] = (met, sep[2].join(f"{k}{sep[0]}{sep[1].join(v)}" for k, v in by_kind.items()))
    return _table("targets", word("targets", lang), rows, formats), needs


def blank_zones_table(
    result: StudyResult, comparison: Comparison | None, kinds: list[str], lang: str
) -> Table | None:
    """Districts where people live and nobody is within the walk today (and their share after)."""
    if result.districts is None:
        return None
    t = district_rows(result, comparison, kinds)
    blank = t[(t["total_before"] > 0) & (t["covered_before"] == 0) & t["kind"].isin(existing_kinds(result))]
    formats = {
        header("kind", lang): "text",
        header("district", lang): "text",
        header("people", lang): "people",
    }
    if comparison is not None:
        formats[header("share_after", lang)] = "share"
    rows = []
    for _, r in blank.sort_values(["kind", "total_before"], ascending=[True, False]).iterrows():
        row = {header("kind", lang): kind_text(result, r["kind"], lang), header("district", lang): str(r[DISTRICT]),
               header("people", lang): people(r["total_before"])}  # fmt: skip
        if comparison is not None:
            row[header("share_after", lang)] = share(r["share_after"])
        rows.append(row)
    return _table("blank_zones", word("blank_zones", lang), rows, formats)


def sources_table(result: StudyResult, lang: str) -> Table:
    """Each input's file, source and licence, as the study file records them."""
    cfg = result.study.config
    formats = {header("layer", lang): "text", header("source", lang): "text", header("licence", lang): "text"}
    rows = []
    for key in ("network", "population", "facilities", "districts", "boundary"):
        table = cfg.get(key)
        if not isinstance(table, Mapping) or "path" not in table:
            continue
        rows.append({header("layer", lang): word(key, lang) if key != "districts" else word("districts", lang),
                     header("source", lang): str(table.get("source", "") or table.get("path", "")),
                     header("licence", lang): str(table.get("licence", ""))})  # fmt: skip
    if result.study.age_shares:
        rows.append({header("layer", lang): word("age_shares", lang), header("source", lang): result.study.age_source,
                     header("licence", lang): ""})  # fmt: skip
    return _table("sources", word("sources", lang), rows, formats)


# ---------------------------------------------------------------------- words
_SENTENCES = {
    "en": {
        "today": "{kind}: today {share} of the {people} {target} in the study area live within a {t}-minute walk of one ({n} in the data).",
        "none": "{kind}: there is none in the data, so none of the {people} {target} is within a {t}-minute walk of one.",
        "after": "The {n} {what} would raise this to {after} (+{delta}).",
        "blank": "Blank zones: {k} district(s) with {target} but none within a {t}-minute walk of one today: {names}.",
    },
    "zh": {
        "today": "现状：研究范围内 {people}{target}中，{share} 步行{t}分钟可达{kind}（数据中共 {n} 处）。",
        "none": "数据中没有{kind}：{people}{target}均不在其步行{t}分钟范围内。",
        "after": "{what} {n} 处建成后，覆盖率将提高到 {after}（新增 {delta}）。",
        "blank": "服务空白：{k} 个片区有{target}居住，但现状步行{t}分钟内没有{kind}：{names}。",
    },
}

_CAVEATS = {
    "en": [
        "Walking times follow OpenStreetMap streets at the speeds stated per kind ({speeds}); slopes, steps, "
        "crossings and waiting are not modelled, and streets missing from the map are not walked.",
        "A cell or facility more than {snap:g} m from a street is not counted.",
        "A district's people are the population cells whose centre lies in it; a district with no cell shows “{no_cell}”.",
        "Shares are of the target group of each kind ({targets}).",
    ],
    "zh": [
        "步行时间沿 OpenStreetMap 道路按各类设施的步速计算（{speeds}）；未考虑坡度、台阶、过街与等候，地图上缺失的道路不计。",
        "距道路超过 {snap:g} 米的格网或设施不计入。",
        "片区人口按格网中心所在片区统计；无格网的片区标为“{no_cell}”。",
        "覆盖率均以各类设施的服务对象为分母（{targets}）。",
    ],
}


def sentences(result: StudyResult, comparison: Comparison | None, kinds: list[str], lang: str, *,
              planned: bool) -> list[str]:  # fmt: skip
    """The summary in words: per kind today, after the sites, and its blank districts."""
    words = _SENTENCES[lang]
    summary = summary_table(result, comparison, kinds, lang).frame
    blank = district_rows(result, comparison, kinds) if result.districts is not None else None
    out = []
    for i, name in enumerate(kinds):
        k = result.coverage.kinds[name]
        r = summary.iloc[i]
        values = {"kind": kind_text(result, name, lang), "target": target_label(k.target_column, lang),
                  "people": fmt_people(r[header("people", lang)], lang),
                  "share": fmt_share(r[header("share_before", lang)], lang),
                  "t": f"{k.threshold_min:g}", "n": int(r[header("facilities_before", lang)])}  # fmt: skip
        out.append(words["today" if values["n"] else "none"].format(**values))
        if comparison is not None and int(r[header("new_sites", lang)]) > 0:
            what = word("planned_sites" if planned else "proposed_sites", lang)
            what = what.lower() if lang == "en" else what
            out.append(words["after"].format(n=int(r[header("new_sites", lang)]), what=what,
                                             after=fmt_share(r[header("share_after", lang)], lang),
                                             delta=fmt_people(r[header("delta_covered", lang)], lang)))  # fmt: skip
        if blank is not None and values["n"]:
            b = blank[(blank["kind"] == name) & (blank["total_before"] > 0) & (blank["covered_before"] == 0)]
            if len(b):
                names = ("、" if lang == "zh" else ", ").join(
                    b.sort_values("total_before", ascending=False)[DISTRICT].astype(str)
                )
                out.append(words["blank"].format(k=len(b), names=names, **values))
    return out


def caveats(result: StudyResult, kinds: list[str], lang: str) -> list[str]:
    """What the numbers do and do not account for."""
    study = result.study
    sep = "、" if lang == "zh" else ", "
    speeds = sep.join(
        f"{kind_text(result, k, lang)} {result.coverage.kinds[k].speed_kmh:g} km/h" for k in kinds
    )
    targets = sep.join(f"{kind_text(result, k, lang)}: {target_label(result.coverage.kinds[k].target_column, lang)}"
                       for k in kinds)  # fmt: skip
    out = [c.format(speeds=speeds, snap=study.max_snap_m, no_cell=word("no_cell", lang), targets=targets)
           for c in _CAVEATS[lang]]  # fmt: skip
    if study.map.population_note is not None:
        note = study.map.population_note
        out.insert(0, ("人口为模型估算" if lang == "zh" else "The population is modelled, not counted")
                   + (f"{'：' if lang == 'zh' else ': '}{note}" if note else "") + ("。" if lang == "zh" else "."))  # fmt: skip
    return out


def report_data(result: StudyResult, comparison: Comparison | None = None, *, lang: str = "en",
                planned: bool = False, title: str | None = None) -> ReportData:  # fmt: skip
    """All the report's words and tables for one run (and its sites or plan).

    Parameters
    ----------
    result
        From :func:`~planner.pipeline.run_study`.
    comparison
        The sites or plan added (:func:`~planner.scenario.compare`), if any.
    lang
        ``"en"`` or ``"zh"``.
    planned
        The added sites are a plan, not a proposal.
    title
        The report's title (default: the study's map title, else "15-minute walking coverage").

    Returns
    -------
    ReportData
    """
    lang = check_lang(lang)
    kinds = shown_kinds(result, comparison)
    targets, needs = targets_tables(result, comparison, kinds, lang)
    tables = {"summary": summary_table(result, comparison, kinds, lang)}
    for table in (districts_table(result, comparison, kinds, lang, needs),
                  sites_table(result, comparison, lang, planned=planned), targets,
                  blank_zones_table(result, comparison, kinds, lang), sources_table(result, lang)):  # fmt: skip
        if table is not None:
            tables[table.key] = table
    settings = result.study.map
    default = "15分钟步行覆盖评估" if lang == "zh" else "15-minute walking coverage"
    return ReportData(
        lang=lang, title=title or settings.title or default, place=result.study.name,
        data_date=settings.data_date or "", population_note=settings.population_note,
        written=dt.date.today().isoformat(), sentences=sentences(result, comparison, kinds, lang, planned=planned),
        tables=tables, caveats=caveats(result, kinds, lang), kinds=kinds, planned=planned,
    )  # fmt: skip
