"""Tables for the terminal: coverage per kind and district, a siting answer, the targets."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from planner.coverage import Coverage
from planner.i18n import count_text, display_width, indicator_name, target_label, value_text, word
from planner.kinds import DEFAULT_KINDS, FacilityKind
from planner.siting.problem import SitingProblem
from planner.siting.result import SitingResult


def format_summary(
    summary: pd.DataFrame, *, lang: str = "en", kinds: Mapping[str, FacilityKind] | None = None
) -> str:
    """Shares per kind (rows) and threshold (columns), with people counts, for the terminal.

    Parameters
    ----------
    summary
        :meth:`Coverage.summary`.
    lang
        ``"en"`` or ``"zh"`` (Chinese headers, kind labels and target groups).
    kinds
        The kinds, for their Chinese labels.
    """
    rows: list[list[str]] = []
    header: list[str] = []
    for kind, g in summary.groupby("kind", sort=False):
        first, last = g.iloc[0], g.iloc[-1]
        header = [
            word("kind", lang), word("target_column", lang), word("people", lang),
            word("facilities", lang), word("speed", lang),
            *[word("within", lang, m=f"{m:g}") for m in g["minutes"]],
            word("straight", lang, m=f"{last['minutes']:g}"),
        ]  # fmt: skip
        rows.append([
            kind_text(str(kind), lang, kinds), target_text(first["target_column"], lang),
            f"{first['total']:,.0f}", f"{int(first['facilities'])}", f"{first['speed_kmh']:g}",
            *[_pct(v) for v in g["share"]], _pct(last["share_straight"]),
        ])  # fmt: skip
    return _grid(header, rows, right_from=2)


def format_districts(coverage: Coverage, *, lang: str = "en") -> str:
    """Districts (rows) × kinds (columns): share within the kind's own threshold, and facility count."""
    by = coverage.summary(by="district")
    names: list[str] = []
    columns = []
    for name, kind in coverage.kinds.items():
        rows = by[(by["kind"] == name) & (by["minutes"] == kind.threshold_min)]
        if rows.empty:  # the kind's threshold is not among the reported ones: use the largest
            rows = by[(by["kind"] == name) & (by["minutes"] == by["minutes"].max())]
        cells = dict(zip(rows["district"], [
            f"{100 * s:.0f}% ({n})" if pd.notna(s) else "-"
            for s, n in zip(rows["share"], rows["facilities"], strict=True)
        ], strict=True))  # fmt: skip
        names += [d for d in rows["district"] if d not in names]
        columns.append((kind_text(name, lang, coverage.kinds), cells))
    body = [[_district(d, lang), *[cells.get(d, "-") for _, cells in columns]] for d in names]
    return _grid([word("district", lang), *[c for c, _ in columns]], body, right_from=1)


def _district(name: str, lang: str) -> str:
    return word("outside_districts", lang) if name == word("outside_districts", "en") else name


def kind_text(kind: str, lang: str, kinds: Mapping[str, FacilityKind] | None = None) -> str:
    """A kind as people read it: its id in English, its Chinese label in Chinese."""
    if lang != "zh":
        return kind
    k = (kinds or {}).get(kind) or DEFAULT_KINDS.get(kind)
    return k.label_zh if k is not None and k.label_zh else kind


def target_text(column: str, lang: str) -> str:
    """A target population column: as it is in English, in words in Chinese."""
    return target_label(column, lang) if lang == "zh" else column


def _grid(header: list[str], rows: list[list[str]], *, right_from: int, right: tuple[int, ...] = ()) -> str:
    """A plain text table, columns aligned by display width (Chinese characters count two)."""
    table = [header, *rows]
    widths = [max(display_width(r[j]) for r in table) for j in range(len(header))]
    lines = [
        "  ".join(
            _pad(c, w, right=j >= right_from or j in right)
            for j, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in table
    ]
    return "\n".join(ln.rstrip() for ln in lines)


_WHAT = {
    "mclp": ("most newly covered people", "新增覆盖人数最多"),
    "cmclp": ("most newly served people (within reach and capacity)", "容量内新增服务人数最多"),
    "lscp": ("fewest sites for {goal}", "以最少点位实现 {goal}"),
    "pmedian": ("least walking time", "步行时间总和最少"),
    "phased": (
        "most coverage summed over the phases, nested build order",
        "各期覆盖之和最多（逐期嵌套的建设顺序）",
    ),
    "shared": ("shared centres for {kinds}", "{kinds} 共建中心"),
}


def format_result(
    result: SitingResult,
    problem: SitingProblem,
    *,
    lang: str = "en",
    kinds: Mapping[str, FacilityKind] | None = None,
) -> str:
    """A readable account of a siting result for the terminal.

    Parameters
    ----------
    result
        The siting result.
    problem
        The problem it solved.
    lang
        ``"en"`` or ``"zh"``.
    kinds
        The study's kinds, for their Chinese labels.

    Returns
    -------
    str
    """
    p = result.params
    zh = lang == "zh"
    pair = _WHAT.get(result.model, (result.model, result.model))
    what = pair[zh].format(goal=p.get("goal", ""), kinds=", ".join(p.get("kinds", [])))
    kind = kind_text(str(p.get("kind", "")), lang, kinds)
    t, v, n = f"{p.get('threshold_min', 0):g}", f"{p.get('speed_kmh') or 0:g}", f"{problem.n_candidates:,}"
    kept = problem.params.get("existing_facilities", "?")
    lines = [
        f"{kind}：{result.model}（{what}）；{t}分钟、步速 {v} km/h；候选点 {n} 个，保留现有设施 {kept} 处"
        if zh
        else f"{kind}: {result.model} ({what}); {t} min at {v} km/h; {n} candidates, {kept} existing facilities kept"
    ]
    none = "无需或无益于新增点位" if zh else "no new site is needed or useful"
    lines.append(_sites_table(result, lang) if len(result.sites) else none)
    for name, table in result.tables.items():
        lines.append(f"{name}:\n{_readable(table).to_string(index=False)}")
    lines += _result_lines(result, problem, lang)
    return "\n".join(lines)


def _result_lines(result: SitingResult, problem: SitingProblem, lang: str) -> list[str]:
    """The solver's line (objective, bound, gap, status), advice at a time limit, coverage before → after."""
    p = result.params
    zh = lang == "zh"
    gap = "n/a" if not pd.notna(result.gap) else f"{100 * result.gap:.3f}%"
    obj, bound = f"{result.objective:,.1f}", f"{result.bound:,.1f}"
    lines = [
        f"目标函数 {obj}（{_OBJECTIVE_ZH.get(str(p.get('objective_is', '')), p.get('objective_is', ''))}）；界 {bound}；差距 {gap}；{result.status}；{result.solver}；"
        f"{result.seconds:.2f} 秒"
        if zh
        else f"objective {obj} ({p.get('objective_is', '')}); bound {bound}; gap {gap}; {result.status}; "
        f"{result.solver}; {result.seconds:.2f} s"
    ]
    if result.status == "time_limit":
        lines.append(_advice(result, problem))
    before, after, total = (
        f"{result.covered_before:,.0f}",
        f"{result.covered_after:,.0f}",
        f"{result.total:,.0f}",
    )
    shares = f"{100 * result.share_before:.1f}% → {100 * result.share_after:.1f}%"
    if zh:
        reach = "步行可达" if result.model == "cmclp" else "覆盖"
        lines.append(f"{reach}：{before} → {after} / {total} 人（{shares}）")
    else:
        reach = "within reach" if result.model == "cmclp" else "covered"
        lines.append(f"{reach}: {before} → {after} of {total} ({shares})"
                     + (" (people counted once per kind)" if result.model == "shared" else ""))  # fmt: skip
    if result.model == "cmclp":
        lines.append(
            f"served (within reach and capacity): {p.get('served', result.objective):,.0f} new people by the new "
            f"sites; ties broken by: {p.get('tie_break', '')}"
        )
    if p.get("note"):
        lines.append(f"note: {p['note']}")
    return lines


_OBJECTIVE_ZH = {
    "newly covered target people": "新增覆盖的服务对象人数",
    "newly covered target people summed over the phases": "各期新增覆盖人数之和",
    "newly covered target people summed over the kinds (weighted)": "各类设施新增覆盖人数加权之和",
    "newly served target people (within reach and capacity)": "容量内新增服务人数",
    "number of new sites": "新增点位数",
    "total cost of new sites": "新增点位总成本",
    "person-minutes saved (walks capped at limit_min)": "节省的步行人·分钟",
}

_SITE_HEADERS = {
    "rank": ("rank", "序号"), "phase": ("phase", "期次"), "year": ("year", "年份"), "size": ("size", "规模"),
    "hosts": ("hosts", "承载类型"), "site": ("site", "候选点"), "served": ("served", "容量内服务"),
    "within reach": ("within reach", "步行可达"), "gain": ("gain", "新增覆盖"), "cumulative": ("cumulative", "累计"),
    "share within reach": ("share within reach", "可达比例"), "share": ("share", "覆盖率"),
    "lon": ("lon", "经度"), "lat": ("lat", "纬度"), "person-min saved": ("person-min saved", "节省人·分钟"),
}  # fmt: skip


def _sites_table(result: SitingResult, lang: str = "en") -> str:
    s = result.sites
    cmclp = result.model == "cmclp"
    show = pd.DataFrame({"rank": s["rank"].astype(str)})
    for col in ("phase", "year", "size", "hosts"):
        if col in s.columns:
            show[col] = s[col].map(lambda v: f"{v:g}" if isinstance(v, float) else str(v))
    show["site"] = s["candidate_id"].astype(str)
    if cmclp:
        show["served"] = s["served"].map(lambda v: f"{v:,.0f}")
    show["within reach" if cmclp else "gain"] = s["gain"].map(lambda v: f"{v:,.0f}")
    show["cumulative"] = s["cumulative"].map(lambda v: f"{v:,.0f}")
    show["share within reach" if cmclp else "share"] = s["share"].map(lambda v: f"{100 * v:.1f}%")
    show["lon"] = s["lon"].map(lambda v: f"{v:.5f}")
    show["lat"] = s["lat"].map(lambda v: f"{v:.5f}")
    if "minutes_saved" in s.columns:
        show["person-min saved"] = s["minutes_saved"].map(lambda v: f"{v:,.0f}")
    head = [_SITE_HEADERS.get(c, (c, c))[lang == "zh"] for c in show.columns]
    return _grid(head, show.to_numpy(str).tolist(), right_from=0)


def _readable(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for col in out.columns:
        if out[col].dtype.kind == "f":
            share = col == "share" or col.startswith("share_") or col.endswith("_share")
            out[col] = out[col].map(
                lambda v, share=share: "-" if pd.isna(v) else (f"{100 * v:.1f}%" if share else f"{v:,.0f}")
            )
    return out


def _advice(result: SitingResult, problem: SitingProblem) -> str:
    """What to do when the time limit stopped the proof."""
    gap = "unknown" if not pd.notna(result.gap) else f"{100 * result.gap:.2f}%"
    spacing = problem.params.get("spacing_m")
    coarser = f"a coarser --spacing-m (now {spacing:g} m)" if spacing else "a coarser --spacing-m"
    return (
        f"advice: stopped at the time limit {result.params.get('time_limit_s', 0):g} s with a gap of {gap} (the answer "
        f"is at most that far from the optimum): try {coarser} or fewer candidates ({problem.n_candidates:,} now), a "
        "longer --time-limit, or accept the gap with --mip-gap."
    )


def format_targets(
    table: pd.DataFrame,
    *,
    width: int = 100,
    lang: str = "en",
    kinds: Mapping[str, FacilityKind] | None = None,
) -> str:
    """The targets table for the terminal: one block per target, one line per scope.

    Each block opens with the target's label (the plan's wording when given) and a line with
    the kind, the indicator, the target (and its year and the plan's baseline); then each
    scope's value now (and in the target year), whether it is met and what is needed. Every
    value carries its unit (``52.3 %``, ``41.0 beds/1,000``, ``4,670 slots``, ``1 facility``;
    in Chinese ``41.0 床位/千人``, ``240 张床位``); needed places and facilities are whole
    numbers. Lines fit ``width`` display columns, Chinese characters counted double.

    Parameters
    ----------
    table
        :attr:`~planner.targets.TargetReport.table`.
    width
        Widest line, in terminal columns.
    lang
        ``"en"`` or ``"zh"``.
    kinds
        The study's kinds, for their Chinese labels.

    Returns
    -------
    str
    """
    if table.empty:
        return word("no_targets", lang)
    key = "target_no" if "target_no" in table.columns else "line"
    blocks = [_target_block(g, width, lang, kinds) for _, g in table.groupby(key, sort=False, dropna=False)]
    return "\n\n".join(blocks)


def _target_head(
    first: pd.Series, width: int, lang: str, kinds: Mapping[str, FacilityKind] | None
) -> list[str]:
    """The label, the plan's wording and the line saying what is measured against what."""
    unit = str(first.get("unit", ""))
    year = first.get("year")
    number = first.get("target_no")
    head = f"{int(number):>2}  " if pd.notna(number) else "    "
    lines = [_clip(head + str(first["label"]), width)]
    plan = str(first.get("plan", "") or "")
    if plan and plan != first["label"]:
        lines.append(_clip(f"    {word('plan', lang)}{plan}", width))
    what = [
        kind_text(str(first["kind"]), lang, kinds),
        indicator_name(str(first["indicator"]), lang)
        + (f" ({first['basis']})" if first.get("basis") else ""),
    ]
    if pd.notna(first.get("minutes")):
        what.append(f"{first['minutes']:g} {word('min', lang)}")
    by_year = (f"（{int(year)}年）" if lang == "zh" else f" by {int(year)}") if pd.notna(year) else ""
    what.append(f"{word('target', lang)} {value_text(first['target'], unit, lang)}{by_year}")
    if pd.notna(first.get("baseline")):
        what.append(f"{word('baseline', lang)} {value_text(first['baseline'], unit, lang)}")
    return lines + _joined(what, width, indent="    ")


def _target_block(
    rows: pd.DataFrame, width: int, lang: str = "en", kinds: Mapping[str, FacilityKind] | None = None
) -> str:
    first = rows.iloc[0]
    unit = str(first.get("unit", ""))
    year = first.get("year")
    has_year = pd.notna(year)
    lines = _target_head(first, width, lang, kinds)
    header = [word("scope", lang), word("now", lang), *([f"{int(year)}"] if has_year else []),
              word("met", lang), word("needed", lang)]  # fmt: skip
    body = []
    for _, r in rows.iterrows():
        needed = (
            count_text(math.ceil(r["needed"] - 1e-9), str(r["needed_unit"]), lang) if r["needed"] > 0 else ""
        )
        cells = [_scope(str(r["scope"]), lang), value_text(r["current"], unit, lang),
                 *([value_text(r["projected"], unit, lang)] if has_year else []),
                 word("yes" if r["met"] else "no", lang),
                 "; ".join(x for x in (needed, str(r.get("note") or "")) if x)]  # fmt: skip
        body.append(cells)
    scope_w = min(24, max(display_width(c[0]) for c in [header, *body]))
    widths = [scope_w] + [
        max(display_width(c[j]) for c in [header, *body]) for j in range(1, len(header) - 1)
    ]
    for cells in [header, *body]:
        parts = [_pad(_clip(cells[0], scope_w), scope_w)]
        parts += [_pad(c, w, right=True) for c, w in zip(cells[1:-1], widths[1:], strict=True)]
        lines.append(_clip("    " + "  ".join([*parts, cells[-1]]).rstrip(), width))
    return "\n".join(lines)


def _scope(scope: str, lang: str) -> str:
    return word("all", lang) if scope == word("all", "en") else scope


def _joined(items: list[str], width: int, *, indent: str) -> list[str]:
    """``items`` joined by `` · `` into lines of at most ``width`` columns, breaking between items."""
    lines = [indent + items[0]]
    for item in items[1:]:
        if display_width(lines[-1] + " · " + item) <= width:
            lines[-1] += " · " + item
        else:
            lines.append(indent + item)
    return [_clip(ln, width) for ln in lines]


def _clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, with an ellipsis when cut."""
    if display_width(text) <= width:
        return text
    out = ""
    for c in text:
        if display_width(out + c) > width - 1:
            break
        out += c
    return out + "…"


def _pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` columns (on the left when ``right``)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def format_comparison(
    comparison: Any, *, lang: str = "en", kinds: Mapping[str, FacilityKind] | None = None
) -> str:
    """Before → after per kind at each threshold: people covered and shares (one decimal), and sites."""
    t = comparison.table
    rows = [[kind_text(k, lang, kinds), word("within", lang, m=f"{m:g}"), f"{b:,.0f} → {a:,.0f}",
             f"{_pct(sb)} → {_pct(sa)}", "-" if pd.isna(d) else f"{100 * d:+.1f} {word('pts', lang)}",
             f"{fb:.0f} → {fa:.0f}"]
            for k, m, b, a, sb, sa, d, fb, fa in zip(t["kind"], t["minutes"], t["covered_before"], t["covered_after"],
                                                     t["share_before"], t["share_after"], t["delta_share"],
                                                     t["facilities_before"], t["facilities_after"], strict=True)]  # fmt: skip
    head = [word(w, lang) for w in ("kind", "minutes", "covered_ba", "share_ba", "change", "facilities_ba")]
    lines = [word("scenario_title", lang, name=comparison.scenario.name), _grid(head, rows, right_from=2)]
    if len(comparison.sites):
        lines += [f"\n{word('added_title', lang)}", _added_sites(comparison.sites, lang, kinds)]
    if comparison.targets is not None:
        tt = comparison.targets
        body = [[_scope(str(s), lang), str(label), f"{_yes(b, lang)} → {_yes(a, lang)}"]
                for s, label, b, a in zip(tt["scope"], tt["label"], tt["met_before"], tt["met_after"], strict=True)]  # fmt: skip
        lines += [
            f"\n{word('targets_ba', lang)}",
            _grid([word(w, lang) for w in ("scope", "target", "met")], body, right_from=3),
        ]
    if comparison.trajectory is not None:
        lines.append(f"\n{word('trajectory_note', lang)}")
    return "\n".join(lines)


def _added_sites(sites: pd.DataFrame, lang: str, kinds: Mapping[str, FacilityKind] | None) -> str:
    """The added facilities in build order: year or phase, kind, name, people added, total after."""
    when = [c for c in ("year", "phase") if c in sites.columns]
    head = [word("rank", lang), *[word(c, lang) for c in when], word("kind", lang), word("name", lang),
            word("adds", lang), word("covered_after", lang), word("share", lang), word("district", lang)]  # fmt: skip
    body = [[str(r["rank"]), *[str(r[c]) for c in when], kind_text(str(r["kind"]), lang, kinds), str(r["name"]),
             f"{r['gain']:,.0f}", f"{r['covered']:,.0f}", _pct(r["share"]), _district(str(r["district"]), lang)]
            for _, r in sites.iterrows()]  # fmt: skip
    n = len(head)
    return _grid(head, body, right_from=n, right=(0, n - 4, n - 3, n - 2))


def _pct(share: float) -> str:
    return "-" if pd.isna(share) else f"{100 * share:.1f}%"


def _yes(value: Any, lang: str = "en") -> str:
    return "-" if pd.isna(value) else word("yes" if bool(value) else "no", lang)
