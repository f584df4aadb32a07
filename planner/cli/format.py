"""Tables for the terminal: coverage per kind and district, a siting answer, the targets."""

from __future__ import annotations

import math
import unicodedata
from typing import Any

import pandas as pd

from planner.coverage import Coverage
from planner.siting.problem import SitingProblem
from planner.siting.result import SitingResult


def format_summary(summary: pd.DataFrame) -> str:
    """Shares per kind (rows) and threshold (columns), with people counts, for the terminal."""
    rows = []
    for kind, g in summary.groupby("kind", sort=False):
        first = g.iloc[0]
        row: dict[str, Any] = {
            "kind": kind,
            "target": first["target_column"],
            "people": f"{first['total']:,.0f}",
            "facilities": int(first["facilities"]),
            "km/h": f"{first['speed_kmh']:g}",
        }
        for _, r in g.iterrows():
            row[f"≤{r['minutes']:g} min"] = f"{100 * r['share']:.1f}%" if pd.notna(r["share"]) else "-"
        last = g.iloc[-1]
        row[f"straight ≤{last['minutes']:g}"] = (
            f"{100 * last['share_straight']:.1f}%" if pd.notna(last["share_straight"]) else "-"
        )
        rows.append(row)
    return pd.DataFrame(rows).to_string(index=False)


def format_districts(coverage: Coverage) -> str:
    """Districts (rows) × kinds (columns): share within the kind's own threshold, and facility count."""
    by = coverage.summary(by="district")
    parts = []
    for name, kind in coverage.kinds.items():
        rows = by[(by["kind"] == name) & (by["minutes"] == kind.threshold_min)]
        if rows.empty:  # the kind's threshold is not among the reported ones: use the largest
            rows = by[(by["kind"] == name) & (by["minutes"] == by["minutes"].max())]
        cell = [
            f"{100 * s:.0f}% ({n})" if pd.notna(s) else "-"
            for s, n in zip(rows["share"], rows["facilities"], strict=True)
        ]
        parts.append(pd.Series(cell, index=rows["district"].to_numpy(), name=name))
    return pd.concat(parts, axis=1).to_string()


def format_result(result: SitingResult, problem: SitingProblem) -> str:
    """A readable account of a siting result for the terminal.

    Parameters
    ----------
    result
        The siting result.
    problem
        The problem it solved.

    Returns
    -------
    str
    """
    p = result.params
    what = {"mclp": "most newly covered people", "cmclp": "most newly served people (within reach and capacity)",
            "lscp": f"fewest sites for {p.get('goal', '')}", "pmedian": "least walking time",
            "phased": "most coverage summed over the phases, nested build order",
            "shared": f"shared centres for {', '.join(p.get('kinds', []))}"}.get(result.model, result.model)  # fmt: skip
    lines = [
        f"{p.get('kind', '')}: {result.model} ({what}); {p.get('threshold_min', 0):g} min at "
        f"{p.get('speed_kmh') or 0:g} km/h; {problem.n_candidates:,} candidates, "
        f"{problem.params.get('existing_facilities', '?')} existing facilities kept",
    ]
    lines.append(_sites_table(result) if len(result.sites) else "no new site is needed or useful")
    for name, table in result.tables.items():
        lines.append(f"{name}:\n{_readable(table).to_string(index=False)}")
    gap = "n/a" if not pd.notna(result.gap) else f"{100 * result.gap:.3f}%"
    lines.append(
        f"objective {result.objective:,.1f} ({p.get('objective_is', '')}); bound {result.bound:,.1f}; "
        f"gap {gap}; {result.status}; {result.solver}; {result.seconds:.2f} s"
    )
    if result.status == "time_limit":
        lines.append(_advice(result, problem))
    reach = "within reach" if result.model == "cmclp" else "covered"
    lines.append(
        f"{reach}: {result.covered_before:,.0f} → {result.covered_after:,.0f} of {result.total:,.0f} "
        f"({100 * result.share_before:.1f}% → {100 * result.share_after:.1f}%)"
        + (" (people counted once per kind)" if result.model == "shared" else "")
    )
    if result.model == "cmclp":
        lines.append(
            f"served (within reach and capacity): {p.get('served', result.objective):,.0f} new people by the new "
            f"sites; ties broken by: {p.get('tie_break', '')}"
        )
    if p.get("note"):
        lines.append(f"note: {p['note']}")
    return "\n".join(lines)


def _sites_table(result: SitingResult) -> str:
    s = result.sites
    cmclp = result.model == "cmclp"
    show = pd.DataFrame({"rank": s["rank"]})
    for col in ("phase", "year", "size", "hosts"):
        if col in s.columns:
            show[col] = s[col].map(lambda v: f"{v:g}" if isinstance(v, float) else str(v))
    show["site"] = s["candidate_id"]
    if cmclp:
        show["served"] = s["served"].map(lambda v: f"{v:,.0f}")
    show["within reach" if cmclp else "gain"] = s["gain"].map(lambda v: f"{v:,.0f}")
    show["cumulative"] = s["cumulative"].map(lambda v: f"{v:,.0f}")
    show["share within reach" if cmclp else "share"] = s["share"].map(lambda v: f"{100 * v:.1f}%")
    show["lon"] = s["lon"].map(lambda v: f"{v:.5f}")
    show["lat"] = s["lat"].map(lambda v: f"{v:.5f}")
    if "minutes_saved" in s.columns:
        show["person-min saved"] = s["minutes_saved"].map(lambda v: f"{v:,.0f}")
    return show.to_string(index=False)


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


def format_targets(table: pd.DataFrame, *, width: int = 100) -> str:
    """The targets table for the terminal: one block per target, one line per scope.

    Each block opens with the target's label (the plan's wording when given) and a line with
    the kind, the indicator, the target (and its year and the plan's baseline); then each
    scope's value now (and in the target year), whether it is met and what is needed. Every
    value carries its unit (``52.3 %``, ``41.0 beds/1,000``, ``4,670 slots``, ``1 facility``);
    needed places and facilities are whole numbers. Lines fit ``width`` display columns,
    Chinese characters counted double.

    Parameters
    ----------
    table
        :attr:`~planner.targets.TargetReport.table`.
    width
        Widest line, in terminal columns.

    Returns
    -------
    str
    """
    if table.empty:
        return "(no targets)"
    key = "target_no" if "target_no" in table.columns else "line"
    blocks = [_target_block(g, width) for _, g in table.groupby(key, sort=False, dropna=False)]
    return "\n\n".join(blocks)


def _target_block(rows: pd.DataFrame, width: int) -> str:
    first = rows.iloc[0]
    unit = str(first.get("unit", ""))
    year = first.get("year")
    has_year = pd.notna(year)
    number = first.get("target_no")
    head = f"{int(number):>2}  " if pd.notna(number) else "    "
    lines = [_clip(head + str(first["label"]), width)]
    plan = str(first.get("plan", "") or "")
    if plan and plan != first["label"]:
        lines.append(_clip(f"    plan: {plan}", width))
    what = [
        str(first["kind"]),
        str(first["indicator"]) + (f" ({first['basis']})" if first.get("basis") else ""),
    ]
    if pd.notna(first.get("minutes")):
        what.append(f"{first['minutes']:g} min")
    what.append(f"target {_value(first['target'], unit)}" + (f" by {int(year)}" if has_year else ""))
    if pd.notna(first.get("baseline")):
        what.append(f"baseline {_value(first['baseline'], unit)}")
    lines += _joined(what, width, indent="    ")
    header = ["scope", "now", *([f"{int(year)}"] if has_year else []), "met", "needed"]
    body = []
    for _, r in rows.iterrows():
        needed = _count(math.ceil(r["needed"] - 1e-9), str(r["needed_unit"])) if r["needed"] > 0 else ""
        cells = [str(r["scope"]), _value(r["current"], unit),
                 *([_value(r["projected"], unit)] if has_year else []),
                 "yes" if r["met"] else "NO", "; ".join(x for x in (needed, str(r.get("note") or "")) if x)]  # fmt: skip
        body.append(cells)
    scope_w = min(24, max(_width(c[0]) for c in [header, *body]))
    widths = [scope_w] + [max(_width(c[j]) for c in [header, *body]) for j in range(1, len(header) - 1)]
    for cells in [header, *body]:
        parts = [_pad(_clip(cells[0], scope_w), scope_w)]
        parts += [_pad(c, w, right=True) for c, w in zip(cells[1:-1], widths[1:], strict=True)]
        lines.append(_clip("    " + "  ".join([*parts, cells[-1]]).rstrip(), width))
    return "\n".join(lines)


def _joined(items: list[str], width: int, *, indent: str) -> list[str]:
    """``items`` joined by `` · `` into lines of at most ``width`` columns, breaking between items."""
    lines = [indent + items[0]]
    for item in items[1:]:
        if _width(lines[-1] + " · " + item) <= width:
            lines[-1] += " · " + item
        else:
            lines.append(indent + item)
    return [_clip(ln, width) for ln in lines]


def _value(v: Any, unit: str) -> str:
    """A value with its unit: ``52.3 %``, ``41.0 beds/1,000``, ``3.40 m²/person``, ``4,670 slots``."""
    if v is None or pd.isna(v):
        return "-"
    v = float(v)
    if unit == "share":
        return f"{100 * v:.1f} %"
    if " per 1,000 " in unit:
        return f"{v:,.1f} {unit.split(' per 1,000 ')[0]}/1,000"
    if unit.endswith(" per person"):
        return f"{v:,.2f} {unit.removesuffix(' per person')}/person"
    return _count(v, unit) if v == round(v) else f"{v:,.1f} {unit}"


def _count(n: float, unit: str) -> str:
    """A whole count with its noun, singular for one: ``1 facility``, ``3 facilities``, ``4,670 slots``."""
    n = float(n)
    if n == 1:
        unit = {"people": "person"}.get(
            unit, unit[:-3] + "y" if unit.endswith("ies") else unit.removesuffix("s")
        )
    return f"{n:,.0f} {unit}".rstrip()


def _width(text: str) -> int:
    """Terminal columns of ``text``: wide (CJK) characters count two, combining marks none."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text
    )


def _clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, with an ellipsis when cut."""
    if _width(text) <= width:
        return text
    out = ""
    for c in text:
        if _width(out + c) > width - 1:
            break
        out += c
    return out + "…"


def _pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` columns (on the left when ``right``)."""
    fill = " " * max(0, width - _width(text))
    return fill + text if right else text + fill


def format_comparison(comparison: Any) -> str:
    """Before → after per kind at each threshold: people covered and shares (one decimal), and sites."""
    t = comparison.table
    view = pd.DataFrame({
        "kind": t["kind"],
        "minutes": t["minutes"].map(lambda v: f"≤{v:g}"),
        "covered before → after": [f"{b:,.0f} → {a:,.0f}" for b, a in zip(t["covered_before"], t["covered_after"], strict=True)],
        "share before → after": [_pct(b) + " → " + _pct(a) for b, a in zip(t["share_before"], t["share_after"], strict=True)],
        "change": t["delta_share"].map(lambda v: "-" if pd.isna(v) else f"{100 * v:+.1f} pts"),
        "facilities": [f"{b:.0f} → {a:.0f}" for b, a in zip(t["facilities_before"], t["facilities_after"], strict=True)],
    })  # fmt: skip
    lines = [f"scenario {comparison.scenario.name!r}: before → after", view.to_string(index=False)]
    sites = comparison.sites
    if len(sites):
        shown = pd.DataFrame({
            "rank": sites["rank"], "kind": sites["kind"], "name": sites["name"],
            "adds": sites["gain"].map(lambda v: f"{v:,.0f}"),
            "covered after": sites["covered"].map(lambda v: f"{v:,.0f}"),
            "share": sites["share"].map(_pct), "district": sites["district"],
        })  # fmt: skip
        for col in ("year", "phase"):
            if col in sites.columns:
                shown.insert(1, col, sites[col])
        lines += ["\nadded facilities in build order (people of the kind's target group within its walk):",
                  shown.to_string(index=False)]  # fmt: skip
    if comparison.targets is not None:
        tt = comparison.targets
        met = [f"{_yes(b)} → {_yes(a)}" for b, a in zip(tt["met_before"], tt["met_after"], strict=True)]
        lines += ["\ntargets met before → after:",
                  pd.DataFrame({"scope": tt["scope"], "target": tt["label"], "met": met}).to_string(index=False)]  # fmt: skip
    if comparison.trajectory is not None:
        lines.append("\ntrajectory: see trajectory.csv (coverage after each year's additions, cumulative)")
    return "\n".join(lines)


def _pct(share: float) -> str:
    return "-" if pd.isna(share) else f"{100 * share:.1f}%"


def _yes(value: Any) -> str:
    return "-" if pd.isna(value) else ("yes" if bool(value) else "NO")
