"""Tables for the terminal: coverage per kind and district, a siting answer, the targets."""

from __future__ import annotations

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
    what = {"mclp": "most newly covered people", "cmclp": "most newly served people (capacities)",
            "lscp": f"fewest sites for {p.get('goal', '')}", "pmedian": "least walking time"}[result.model]  # fmt: skip
    lines = [
        f"{p.get('kind', '')}: {result.model} ({what}); {p.get('threshold_min', 0):g} min at "
        f"{p.get('speed_kmh') or 0:g} km/h; {problem.n_candidates:,} candidates, "
        f"{problem.params.get('existing_facilities', '?')} existing facilities kept",
    ]
    s = result.sites
    if len(s):
        show = pd.DataFrame({
            "rank": s["rank"], "site": s["candidate_id"],
            "gain": s["gain"].map(lambda v: f"{v:,.0f}"),
            "cumulative": s["cumulative"].map(lambda v: f"{v:,.0f}"),
            "share": s["share"].map(lambda v: f"{100 * v:.1f}%"),
            "lon": s["lon"].map(lambda v: f"{v:.5f}"), "lat": s["lat"].map(lambda v: f"{v:.5f}"),
        })  # fmt: skip
        if "minutes_saved" in s.columns:
            show["person-min saved"] = s["minutes_saved"].map(lambda v: f"{v:,.0f}")
        lines.append(show.to_string(index=False))
    else:
        lines.append("no new site is needed or useful")
    gap = "n/a" if not pd.notna(result.gap) else f"{100 * result.gap:.3f}%"
    lines.append(
        f"objective {result.objective:,.1f} ({p.get('objective_is', '')}); bound {result.bound:,.1f}; "
        f"gap {gap}; {result.status}; {result.solver}; {result.seconds:.2f} s"
    )
    lines.append(
        f"covered: {result.covered_before:,.0f} → {result.covered_after:,.0f} of {result.total:,.0f} "
        f"({100 * result.share_before:.1f}% → {100 * result.share_after:.1f}%)"
    )
    return "\n".join(lines)


def format_targets(table: pd.DataFrame) -> str:
    """The targets table for the terminal: one line per target and scope."""
    if table.empty:
        return "(no targets)"
    view = pd.DataFrame({
        "scope": table["scope"],
        "indicator": table["label"],
        "current": table["current"].map(lambda v: "-" if pd.isna(v) else f"{v:,.3g}"),
        "target": table["target"].map(lambda v: f"{v:,.3g}"),
        "gap": table["gap"].map(lambda v: f"{v:,.3g}"),
        "met": table["met"].map({True: "yes", False: "NO"}),
        "needed": [
            "" if pd.isna(n) or n == 0 else f"{n:,.0f} {u}" if n >= 10 else f"{n:.3g} {u}"
            for n, u in zip(table["needed"], table["needed_unit"], strict=True)
        ],
    })  # fmt: skip
    return view.to_string(index=False)


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
