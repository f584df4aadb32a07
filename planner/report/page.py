"""``report.html``: one self-contained page (no script, nothing remote), escaped, printable on A4.

Every string from the data goes through :func:`planner._escape.escape_html`; pictures are PNG
data URIs. Each section starts a new printed page; table rows never split across pages and a
table that runs over repeats its header.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

from planner._escape import escape_html
from planner.i18n import fmt_people, fmt_share
from planner.report.tables import ReportData, Table

_CSS = """
@page { size: A4; margin: 14mm 12mm 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei",
       "PingFang SC", Arial, sans-serif; color: #1a1a1a; margin: 0 auto; max-width: 1000px; padding: 16px;
       font-size: 10.5pt; line-height: 1.4; }
h1 { font-size: 18pt; margin: 0 0 4px 0; }
h2 { font-size: 14pt; margin: 0 0 8px 0; border-bottom: 2px solid #08519c; padding-bottom: 3px; }
h3 { font-size: 11pt; margin: 10px 0 4px 0; }
.pl-place { font-size: 12pt; color: #333; margin: 0; }
.pl-meta { color: #555; font-size: 9pt; margin: 2px 0; }
section { margin: 0 0 28px 0; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; margin: 6px 0 10px 0; }
th, td { border: 1px solid #b0b7bf; padding: 2px 5px; vertical-align: top; }
th { background: #e8eef5; text-align: left; font-weight: bold; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.zero { color: #b2182b; font-weight: bold; }
thead { display: table-header-group; }
table[data-table="districts"] { font-size: 7.5pt; }
table[data-table="districts"] td:last-child { width: 30%; }
tr, img, figure { break-inside: avoid; page-break-inside: avoid; }
figure { margin: 6px 0 12px 0; }
figure img { width: 100%; max-height: 118mm; object-fit: contain; border: 1px solid #ccc; }
figcaption { font-size: 9pt; color: #444; }
ul { margin: 4px 0 8px 18px; padding: 0; }
@media print {
  body { max-width: none; padding: 0; }
  section { margin: 0; }
  section + section { break-before: page; page-break-before: always; }
}
"""


def cell(value: Any, fmt: str, lang: str) -> tuple[str, str]:
    """(escaped text, CSS class) of one table cell."""
    if fmt == "people":
        return escape_html(fmt_people(value, lang, unit=False)), "num"
    if fmt == "share":
        zero = isinstance(value, float) and value == 0
        return escape_html(fmt_share(value, lang)), "num zero" if zero else "num"
    if fmt in ("number", "coord"):
        try:
            f = float(value)
        except (TypeError, ValueError):
            return escape_html(value), "num"
        if not math.isfinite(f):
            return "–", "num"
        return escape_html(f"{f:.5f}" if fmt == "coord" else f"{f:.0f}"), "num"
    return escape_html(value), ""


def table_html(table: Table, lang: str) -> str:
    """A table as HTML, every value escaped."""
    head = "".join(f"<th>{escape_html(c)}</th>" for c in table.frame.columns)
    rows = []
    for values in table.frame.itertuples(index=False):
        tds = []
        for col, v in zip(table.frame.columns, values, strict=True):
            text, cls = cell(v, table.fmt(col), lang)
            tds.append(f'<td class="{cls}">{text}</td>' if cls else f"<td>{text}</td>")
        rows.append(f"<tr>{''.join(tds)}</tr>")
    return f'<table class="pl-table" data-table="{escape_html(table.key)}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


_LABELS = {
    "en": {"written": "Report of {date}", "data": "Data of {date}", "modelled": "Population: modelled ({note})",
           "modelled_plain": "Population: modelled", "maps": "Map: {kind}", "caveats": "Caveats",
           "sources": "Sources and licences", "targets_blank": "Plan targets and blank zones",
           "no_blank": "No district with people is left without a facility within reach.",
           "credit": "Map data © OpenStreetMap contributors (ODbL 1.0)."},
    "zh": {"written": "报告日期：{date}", "data": "数据日期：{date}", "modelled": "人口：模型估算（{note}）",
           "modelled_plain": "人口：模型估算", "maps": "地图：{kind}", "caveats": "说明",
           "sources": "数据来源与许可", "targets_blank": "规划目标与服务空白",
           "no_blank": "没有有人口居住却无设施可达的片区。",
           "credit": "地图数据 © OpenStreetMap contributors（ODbL 1.0）。"},
}  # fmt: skip


def _section(key: str, title: str, body: str) -> str:
    return f'<section class="pl-section" id="s-{key}"><h2>{escape_html(title)}</h2>{body}</section>'


def report_html(data: ReportData, pictures: Sequence[tuple[str, str, bytes]] = ()) -> str:
    """The whole report page.

    Parameters
    ----------
    data
        From :func:`~planner.report.tables.report_data`.
    pictures
        ``(kind label, caption, PNG bytes)`` per static map, grouped by kind in order.

    Returns
    -------
    str
    """
    lang, words = data.lang, _LABELS[data.lang]
    t = data.tables
    meta = [words["written"].format(date=data.written)]
    if data.data_date:
        meta.append(words["data"].format(date=data.data_date))
    if data.population_note is not None:
        meta.append(words["modelled"].format(note=data.population_note) if data.population_note
                    else words["modelled_plain"])  # fmt: skip
    head = (f'<p class="pl-place">{escape_html(data.place)}</p><h1>{escape_html(data.title)}</h1>'
            + "".join(f'<p class="pl-meta">{escape_html(m)}</p>' for m in meta))  # fmt: skip
    words_html = "".join(f"<p>{escape_html(s)}</p>" for s in data.sentences)
    sections = [f'<section class="pl-section" id="s-summary">{head}<h2>{escape_html(t["summary"].title)}</h2>'
                f"{words_html}{table_html(t['summary'], lang)}</section>"]  # fmt: skip
    for key in ("districts", "sites"):
        if key in t:
            sections.append(_section(key, t[key].title, table_html(t[key], lang)))
    parts = []
    if "targets" in t:
        parts.append(f"<h3>{escape_html(t['targets'].title)}</h3>{table_html(t['targets'], lang)}")
    if "blank_zones" in t:
        body = (
            table_html(t["blank_zones"], lang)
            if len(t["blank_zones"].frame)
            else f"<p>{escape_html(words['no_blank'])}</p>"
        )
        parts.append(f"<h3>{escape_html(t['blank_zones'].title)}</h3>{body}")
    if parts:
        title = words["targets_blank"] if "targets" in t else t["blank_zones"].title
        sections.append(_section("targets", title, "".join(parts)))
    by_kind: dict[str, list[tuple[str, bytes]]] = {}
    for label, caption, png in pictures:
        by_kind.setdefault(label, []).append((caption, png))
    for i, (label, pics) in enumerate(by_kind.items()):
        figs = "".join(
            f'<figure><img alt="{escape_html(c)}" src="data:image/png;base64,{base64.b64encode(p).decode("ascii")}">'
            f"<figcaption>{escape_html(c)}</figcaption></figure>"
            for c, p in pics
        )
        sections.append(_section(f"map-{i + 1}", words["maps"].format(kind=label), figs))
    caveats = "".join(f"<li>{escape_html(c)}</li>" for c in data.caveats)
    body = (f"<h3>{escape_html(words['sources'])}</h3>{table_html(t['sources'], lang)}"
            f"<p class=\"pl-meta\">{escape_html(words['credit'])}</p>"
            f"<h3>{escape_html(words['caveats'])}</h3><ul>{caveats}</ul>")  # fmt: skip
    sections.append(_section("sources", t["sources"].title, body))
    html_lang = "zh-CN" if lang == "zh" else "en"
    title = escape_html(f"{data.place} — {data.title}")
    return (
        f'<!DOCTYPE html>\n<html lang="{html_lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n"
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )
