"""``write_report``: a run's report folder, written whole (page, PDF, spreadsheet, walk areas, CSVs)."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from planner.io.write import RunFolder, write_layer
from planner.pipeline import StudyResult, kind_labels, run_record, write_coverage, write_siting, write_targets
from planner.places import nearest_street_names, read_study_streets
from planner.report.files import print_pdf, service_areas, write_shapefile, write_xlsx
from planner.report.page import report_html
from planner.report.pictures import kind_pictures
from planner.report.tables import ReportData, kind_text, report_data, word
from planner.scenario import Comparison, Scenario, compare

logger = logging.getLogger(__name__)

_MAP_TITLES = {
    "en": ("{kind}: walking time today", "{kind}: after the {what}"),
    "zh": ("{kind}：现状步行时间", "{kind}：{what}建成后"),
}


def default_comparison(result: StudyResult) -> Comparison | None:
    """The study's own proposals (its ``[siting]`` answer) as a comparison, or None."""
    if result.siting is None or not len(result.siting.sites):
        return None
    return compare(result, Scenario(added=result.siting.to_facilities(), name="proposed sites"))


def with_streets(comparison: Comparison | None, streets: gpd.GeoDataFrame | None) -> Comparison | None:
    """The comparison with each added site's nearest named street (``street``)."""
    if comparison is None or not len(comparison.sites) or "street" in comparison.sites.columns:
        return comparison
    sites = comparison.sites.copy()
    sites["street"] = nearest_street_names(sites, streets).to_numpy() if streets is not None else "—"
    return replace(comparison, sites=sites)


def report_pictures(
    result: StudyResult, comparison: Comparison | None, data: ReportData
) -> list[tuple[str, str, bytes]]:
    """Static maps per kind: today, and after its sites."""
    lang = data.lang
    what = word("planned_sites" if data.planned else "proposed_sites", lang)
    what = what.lower() if lang == "en" else what
    titles = {k: tuple(t.format(kind=kind_text(result, k, lang), what=what) for t in _MAP_TITLES[lang])
              for k in data.kinds}  # fmt: skip
    pics = kind_pictures(
        result.coverage, data.kinds, after=comparison.after.coverage if comparison is not None else None,
        sites=comparison.sites if comparison is not None else None, districts=result.districts,
        boundary=result.inputs.boundary, titles=titles, sites_label=what, lang=lang,  # type: ignore[arg-type]
    )  # fmt: skip
    out = []
    for caption, png in pics:
        kind = next(k for k in data.kinds if caption in titles[k])
        out.append((kind_text(result, kind, lang), caption, png))
    return out


def write_report(
    result: StudyResult,
    out: str | os.PathLike[str],
    *,
    comparison: Comparison | None = None,
    lang: str | None = None,
    planned: bool = False,
    pdf: bool = True,
    xlsx: bool = True,
    shapefile: bool = False,
    streets: gpd.GeoDataFrame | None = None,
) -> list[Path]:
    """Write a run's report folder, whole: ``report.html``, ``report.pdf``, ``report.xlsx``,
    ``service_areas.gpkg`` (and ``service_areas.shp``), and the run's CSVs.

    ``report.html`` is one self-contained page (no script, nothing remote) with the summary in
    words and numbers, a table per district (people, share covered per kind today and after,
    blank zones, targets met and what is needed), the added sites with district, nearest
    street and gain, static maps, and the sources, licences and caveats. ``report.pdf`` is the
    same page printed on A4 by headless Chromium, when Chromium is found (else it is left out,
    with a warning). The numbers are those of the CSVs written beside it.

    Parameters
    ----------
    result
        From :func:`~planner.pipeline.run_study` (with targets to report on them).
    out
        The output folder (replaced whole if it holds an earlier run).
    comparison
        Sites or a plan added (:func:`~planner.scenario.compare`); default: the study's own
        ``[siting]`` proposals when it has them.
    lang
        ``"en"`` or ``"zh"`` (default: the study's).
    planned
        The added sites are a plan, not a proposal (words only).
    pdf, xlsx, shapefile
        Write ``report.pdf``, ``report.xlsx``, ``service_areas.shp``.
    streets
        Named streets (:func:`~planner.io.osm.read_street_names`); default: read from the
        study's OSM file.

    Returns
    -------
    list of pathlib.Path
        The files written, ``run.toml`` last.
    """
    lang = lang or result.study.lang
    if comparison is None:
        comparison = default_comparison(result)
    if streets is None and comparison is not None and len(comparison.sites):
        streets = read_study_streets(result.study.network_path, result.network.crs)
    comparison = with_streets(comparison, streets)
    data = report_data(result, comparison, lang=lang, planned=planned)
    pictures = report_pictures(result, comparison, data)
    run = RunFolder(out, lang=lang, kind_labels=kind_labels(result.study))
    with run:
        write_run_tables(result, comparison, run)
        page = run.path("report.html")
        page.write_text(report_html(data, pictures), encoding="utf-8")
        if xlsx:
            write_xlsx(data.tables.values(), run.path("report.xlsx"))
        sites = comparison.sites if comparison is not None else None
        areas = service_areas(result, data.kinds, sites, planned=planned)
        write_layer(areas, run.path("service_areas.gpkg"), layer="service_areas")
        if shapefile:
            for p in write_shapefile(areas, run.path("service_areas.shp")):
                if p.suffix != ".shp":
                    run.path(p.name)
        if pdf:
            target = run.path("report.pdf")
            if print_pdf(page, target) is None:
                run.written.remove(run.out / "report.pdf")
        record: dict[str, Any] = {"report": {"lang": lang, "planned": planned, "kinds": data.kinds},
                                  **run_record(result, Path(out))}  # fmt: skip
        if comparison is not None:
            record["scenario"] = dict(comparison.params)
        run.finish(record)
    return run.written


def write_run_tables(result: StudyResult, comparison: Comparison | None, run: RunFolder) -> None:
    """The run's CSVs (as ``planner run`` and ``planner compare`` write them), for the same numbers."""
    write_coverage(result, run, cells=False)
    if result.siting is not None:
        write_siting(result.siting, run)
    write_targets(result, run)
    if comparison is not None:
        run.table(comparison.table, "compare.csv")
        if comparison.by_district is not None:
            run.table(comparison.by_district, "compare_by_district.csv")
        if len(comparison.sites):
            sites = pd.DataFrame(comparison.sites.drop(columns="geometry"))
            run.table(sites, "sites_added.csv")
