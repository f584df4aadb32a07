"""The study pipeline: inputs read once, coverage computed once, then siting and targets as configured.

:func:`run_study` is what ``planner run`` and the notebooks call; :func:`write_study_result`
writes its tables and layers into one output folder, whole (see :class:`~planner.io.write.RunFolder`).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.access import Access, compute_access
from planner.coverage import Coverage, compute_coverage
from planner.errors import InputError
from planner.io import datums
from planner.io.boundaries import read_boundary
from planner.io.write import RunFolder, write_layer
from planner.network import WalkNetwork
from planner.population import Projection
from planner.siting.candidates import candidate_sites, read_candidates
from planner.siting.models import check_model_options, solve_siting
from planner.siting.problem import SitingProblem
from planner.siting.result import SitingResult
from planner.siting.shared import SharedProblem
from planner.study import StudyArea
from planner.targets import TargetReport, TargetSet, evaluate_targets, read_targets

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class StudyInputs:
    """The study's layers, read once: network, population, facilities, districts, boundary."""

    network: WalkNetwork
    population: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame | None = None
    boundary: gpd.GeoDataFrame | None = None

    def __repr__(self) -> str:
        return (
            f"StudyInputs(nodes={self.network.n_nodes}, cells={len(self.population)}, "
            f"facilities={len(self.facilities)}, districts={0 if self.districts is None else len(self.districts)})"
        )


@dataclass(frozen=True, eq=False)
class StudyResult:
    """What one study run produced, each part computed once.

    Attributes
    ----------
    study
        The study, with every override applied.
    inputs
        The layers read.
    coverage
        Walking minutes per cell and kind (:func:`~planner.coverage.compute_coverage`).
    siting_problem, siting
        The study's ``[siting]`` problem and answer (None without one).
    targets
        The plan targets measured (None without a ``[targets]`` table).
    access
        Capacity within reach (2SFCA), when a target needs it.
    timings
        Seconds per step (``read``, ``coverage``, ``siting``, ``targets``).
    """

    study: StudyArea
    inputs: StudyInputs
    coverage: Coverage
    siting_problem: SitingProblem | None = None
    siting: SitingResult | None = None
    targets: TargetReport | None = None
    access: Access | None = None
    timings: Mapping[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        parts = [f"coverage={self.coverage!r}"]
        if self.siting is not None:
            parts.append(f"siting={self.siting!r}")
        if self.targets is not None:
            parts.append(f"targets={self.targets!r}")
        return f"StudyResult({self.study.name!r}, {', '.join(parts)})"

    @property
    def network(self) -> WalkNetwork:
        """The walk network."""
        return self.inputs.network

    @property
    def districts(self) -> gpd.GeoDataFrame | None:
        """The districts, if the study has them."""
        return self.inputs.districts


@contextmanager
def _step(timings: dict[str, float], name: str) -> Iterator[None]:
    """Time one pipeline step and log it: the run's timing log."""
    t0 = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - t0, 3)
    logger.info("step %s: %.2f s", name, timings[name])


def load_inputs(
    study: StudyArea, *, network: WalkNetwork | None = None, use_cache: bool = True
) -> StudyInputs:
    """Read every layer of a study (the network from its cache when it has been built before).

    Parameters
    ----------
    study
        The study.
    network
        A network already built for it (not read again).
    use_cache
        Read and write the network cache.

    Returns
    -------
    StudyInputs
    """
    if network is None:
        network = WalkNetwork.from_osm_file(study.network_path, crs=study.crs, max_edge_m=study.max_edge_m,
                                            cache_dir=study.cache_dir, use_cache=use_cache)  # fmt: skip
    return StudyInputs(network, study.read_population(), study.read_facilities(), study.read_districts(),
                       study.read_boundary())  # fmt: skip


#: Where each datum's coordinates come from, for the hint.
_DATUM_SOURCES = {"gcj02": "Amap (高德) or Tencent", "bd09": "Baidu (百度)", "wgs84": "GPS or OpenStreetMap"}
_DATUM_SOURCES_ZH = {"gcj02": "高德或腾讯地图", "bd09": "百度地图", "wgs84": "GPS 或 OpenStreetMap"}


def datum_hint(
    network: WalkNetwork, facilities: gpd.GeoDataFrame, *, declared: str | None = None, lang: str = "en"
) -> str | None:
    """A warning when facilities in China snap much closer to the streets read in another datum.

    The facilities' positions are read as WGS-84, GCJ-02 and BD-09 in turn and snapped; when
    another reading halves the median distance to a street (and saves over 15 m), the file is
    probably in that datum (Amap, Tencent and Baidu lists shift points by 250-1,400 m).

    Parameters
    ----------
    network
        The walk network.
    facilities
        As read (their ``attrs["coord_system"]`` is the declared datum, default WGS-84).
    declared
        The declared datum, if not in the attrs.
    lang
        ``"en"`` or ``"zh"``: the language of the text.

    Returns
    -------
    str or None
        The warning text, or None when the declared datum reads best or the points are outside China.
    """
    declared = (declared or facilities.attrs.get("coord_system") or "wgs84").lower()
    if declared not in ("wgs84", "cgcs2000", "gcj02", "bd09") or not len(facilities):
        return None
    ll = facilities.geometry.to_crs(4326).representative_point()
    lon, lat = ll.x.to_numpy(), ll.y.to_numpy()
    inside = datums.in_china(lon, lat) & np.isfinite(lon)
    if not inside.any():
        return None
    medians = {}
    for datum, (x, y) in datums.datum_readings(lon[inside], lat[inside], declared).items():
        pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=4326).to_crs(network.crs)
        medians[datum] = float(np.median(network.snap(pts, max_snap_m=np.inf).access_m))
    current = medians["wgs84" if declared == "cgcs2000" else declared]
    best = min(medians, key=lambda d: medians[d])
    if not (medians[best] < 0.5 * current and current - medians[best] > 15.0):
        return None
    src = facilities.attrs.get("source", "facilities")
    if lang == "zh":
        return (
            f"设施（{src}）：按 {datums.DATUM_NAMES[declared]} 读取时，到道路的距离中位数为 {current:,.0f} 米；"
            f"按 {datums.DATUM_NAMES[best]} 读取则为 {medians[best]:,.0f} 米。若清单来自{_DATUM_SOURCES_ZH[best]}，"
            f'请声明 coord_system = "{best}"（study.toml 的 [facilities]；命令行 --facilities-coord-system {best}）。'
        )
    return (
        f"facilities ({src}): read as {datums.DATUM_NAMES[declared]}, their median distance to a street is {current:,.0f} m; "
        f"read as {datums.DATUM_NAMES[best]} it would be {medians[best]:,.0f} m. If the list comes from {_DATUM_SOURCES[best]}, "
        f'declare coord_system = "{best}" ([facilities] in study.toml; CLI --facilities-coord-system {best}).'
    )


def check_study(study: StudyArea) -> TargetSet | None:
    """Everything about the study's settings that can fail, checked before anything is computed.

    Parameters
    ----------
    study
        The study.

    Returns
    -------
    TargetSet or None
        The study's targets, read.
    """
    if study.siting is not None:
        s = study.siting
        if s.kind is None:
            msg = '[siting] needs kind = "..." (the kind of facility to site; CLI: --kind).'
            raise InputError(msg)
        unknown = sorted(set(s.shared_kinds or ()) - set(study.kinds))
        if unknown:
            msg = f"[siting] shared_kinds {unknown} are not kinds of the study ({list(study.kinds)})."
            raise InputError(msg)
        try:
            check_model_options(s.model_name, k=s.k, options={**s.model_options(), "share": s.share})
        except ValueError as exc:
            msg = f"[siting] {exc}"
            raise InputError(msg) from exc
    if study.targets is None:
        return None
    return read_targets(study.targets.path, kinds=list(study.kinds))


def run_study(
    study: StudyArea,
    *,
    inputs: StudyInputs | None = None,
    siting: bool = True,
    targets: bool = True,
    use_cache: bool = True,
    progress: bool = False,
) -> StudyResult:
    """Run a study: coverage once, then the study's siting and targets when it has them.

    Every setting is checked before anything is computed (:func:`check_study`).

    Parameters
    ----------
    study
        From :meth:`StudyArea.from_toml`, possibly with :meth:`StudyArea.override`.
    inputs
        Layers already read (:func:`load_inputs`); default: read them.
    siting
        Solve the ``[siting]`` table if there is one.
    targets
        Measure the ``[targets]`` file if there is one.
    use_cache
        Read and write the network cache (when the inputs are read here).
    progress
        Show progress bars.

    Returns
    -------
    StudyResult

    Examples
    --------
    >>> s = StudyArea.from_toml("data/las_palmas/study.toml").override(siting={"new": 2})
    >>> r = run_study(s)
    >>> round(100 * r.coverage.share("eldercare"), 1), len(r.siting.sites)
    (50.6, 2)
    """
    target_set = check_study(study) if targets else None
    timings: dict[str, float] = {}
    with _step(timings, "read"):
        inputs = inputs or load_inputs(study, use_cache=use_cache)
    hint = datum_hint(inputs.network, inputs.facilities, lang=study.lang)
    if hint:
        warnings.warn(hint, UserWarning, stacklevel=2)
    thresholds = set(study.thresholds_min)
    if target_set is not None:
        thresholds |= {float(t.minutes) for t in target_set.targets if t.minutes is not None}
    with _step(timings, "coverage"):
        coverage = compute_coverage(
            inputs.network, inputs.population, inputs.facilities, kinds=study.kinds,
            thresholds_min=sorted(thresholds), max_snap_m=study.max_snap_m, districts=inputs.districts,
            progress=progress,
        )  # fmt: skip
    problem = result = None
    if siting and study.siting is not None:
        with _step(timings, "siting"):
            problem, result = site_study(study, coverage, inputs, progress=progress)
    report = access = None
    if target_set is not None:
        with _step(timings, "targets"):
            report, access = measure_targets(study, coverage, inputs.network, target_set)
    return StudyResult(study, inputs, coverage, problem, result, report, access, MappingProxyType(timings))


def site_study(
    study: StudyArea, coverage: Coverage, inputs: StudyInputs, *, progress: bool = False
) -> tuple[SitingProblem, SitingResult]:
    """The study's ``[siting]`` problem built on its coverage, and the model's answer.

    Parameters
    ----------
    study
        A study with ``siting`` settings.
    coverage
        Its coverage (the existing facilities are not searched again).
    inputs
        Its layers (network, boundary).
    progress
        Show progress bars.

    Returns
    -------
    tuple of SitingProblem and SitingResult
    """
    s = study.siting
    if s is None or s.kind is None:
        msg = "the study has no [siting] table with a kind."
        raise InputError(msg)
    candidates = None
    if s.candidates is not None:
        candidates = read_candidates(s.candidates, assume_crs=study.facilities_options.get("assume_crs"))
    excluded = read_boundary(s.excluded) if s.excluded is not None else None
    kinds = list(s.shared_kinds) if s.model_name == "shared" and s.shared_kinds else [s.kind]
    if len(kinds) > 1:
        if s.demand_candidates:
            msg = (
                "[siting] shared centres take no demand_candidates (the kinds must share one candidate set)."
            )
            raise InputError(msg)
        if candidates is None:
            candidates = candidate_sites(inputs.network, spacing_m=s.spacing_m, boundary=inputs.boundary)
    try:
        problems = {
            kind: SitingProblem.from_coverage(
                coverage, inputs.network, study.kinds[kind], candidates=candidates, spacing_m=s.spacing_m,
                boundary=inputs.boundary, demand_candidates=s.demand_candidates, capacity=s.capacity,
                max_minutes=s.max_minutes, districts=inputs.districts, require_existing=not s.from_scratch,
                seed=s.seed, progress=progress, excluded=excluded,
                unit_columns=[s.unit_column] if s.unit_column else (),
            )
            for kind in kinds
        }  # fmt: skip
        problem: Any = SharedProblem(problems) if len(kinds) > 1 else problems[kinds[0]]
        result = solve_siting(problem, s.model_name, k=s.k, share=s.share_fraction, progress=progress,
                              **s.model_options())  # fmt: skip
    except InputError:
        raise
    except (ValueError, ImportError) as exc:
        msg = f"[siting] {exc}"
        raise InputError(msg) from exc
    return problems[kinds[0]], result


def measure_targets(
    study: StudyArea, coverage: Coverage, network: WalkNetwork, targets: TargetSet
) -> tuple[TargetReport, Access | None]:
    """The plan's targets against the coverage (and capacity within reach where a target needs it).

    Parameters
    ----------
    study
        The study (its ``[targets]`` method).
    coverage
        Its coverage.
    network
        The walk network.
    targets
        From :func:`~planner.targets.read_targets`. Targets with a ``year`` and no
        ``[projection]`` are projected with the study's census (:func:`study_projection`).

    Returns
    -------
    tuple of TargetReport and Access or None
    """
    if targets.projection is None and any(t.year is not None for t in targets.targets):
        targets = replace(targets, projection=study_projection(study))
    reach = sorted(
        {t.kind for t in targets.targets if t.indicator == "per_1000_target" and t.basis == "reachable"}
    )
    access = None
    if reach:
        method = study.targets.method if study.targets is not None else "2sfca"
        access = compute_access(network, coverage, method=method, kinds=reach,
                                default_capacity=dict(targets.default_capacity) or None)  # fmt: skip
    return evaluate_targets(coverage, targets, access=access), access


def study_projection(study: StudyArea) -> Projection | None:
    """The study's census row (``[population.age_shares] census``/``code``) as a target-year projection.

    Parameters
    ----------
    study
        The study.

    Returns
    -------
    Projection or None
        None when the study names no census table.
    """
    shares = study.config.get("population", {}).get("age_shares", {})
    if not isinstance(shares, Mapping) or "census" not in shares:
        return None
    base = study.path.parent if study.path is not None else Path.cwd()
    return Projection(census=(base / str(shares["census"])).resolve(), code=shares.get("code"))


# ---------------------------------------------------------------------- writing
def write_study_result(result: StudyResult, out: str | os.PathLike[str], *, cells: bool = True) -> list[Path]:
    """Write a study run into ``out``, whole: tables, layers and ``run.toml`` with a manifest.

    Files: ``summary.csv``, ``summary_by_district.csv`` (with districts), ``cells.gpkg``; with
    siting ``sites.csv``, ``sites.gpkg``, ``siting_summary.csv``, ``siting_by_district.csv``; with
    targets ``targets.csv``, ``blank_zones.csv`` (and ``access_*.csv``). Paths in ``run.toml``
    are relative to ``out``.

    Parameters
    ----------
    result
        From :func:`run_study`.
    out
        The output folder (replaced whole if it holds an earlier run).
    cells
        Write the per-cell layer ``cells.gpkg``.

    Returns
    -------
    list of pathlib.Path
        The files written, ``run.toml`` last.
    """
    with RunFolder(out, lang=result.study.lang, kind_labels=kind_labels(result.study)) as run:
        write_coverage(result, run, cells=cells)
        if result.siting is not None:
            write_siting(result.siting, run)
        write_targets(result, run)
        run.finish(run_record(result, Path(out)))
    return run.written


def kind_labels(study: StudyArea) -> dict[str, str]:
    """Kind → its Chinese label (the kind's name where it has none), for Chinese tables.

    Parameters
    ----------
    study
        The study.

    Returns
    -------
    dict
    """
    return {name: kind.label_zh or name for name, kind in study.kinds.items()}


def write_coverage(result: StudyResult, run: RunFolder, *, cells: bool = True) -> None:
    """``summary.csv``, ``summary_by_district.csv`` (with districts) and ``cells.gpkg``.

    Parameters
    ----------
    result
        The study run.
    run
        The run folder being written.
    cells
        Write the per-cell layer.
    """
    cov = result.coverage
    run.table(cov.summary(), "summary.csv")
    if result.districts is not None:
        run.table(cov.summary(by="district"), "summary_by_district.csv")
    if cells:
        write_layer(cov.to_geodataframe().reset_index(), run.path("cells.gpkg"), layer="cells")


def write_targets(result: StudyResult, run: RunFolder) -> None:
    """``targets.csv``, ``blank_zones.csv`` and, with capacity within reach, ``access_*.csv``.

    Parameters
    ----------
    result
        The study run (nothing is written without targets).
    run
        The run folder being written.
    """
    if result.targets is None:
        return
    run.table(result.targets.table, "targets.csv")
    run.table(result.targets.blank_zones, "blank_zones.csv")
    if result.access is not None:
        run.table(result.access.split(by=result.targets.params.get("by")), "access_split.csv")
        run.table(result.access.facilities.reset_index(), "access_facilities.csv")


def write_siting(result: SitingResult, run: RunFolder) -> None:
    """``sites.csv``, ``sites.gpkg`` (when there are sites), ``siting_summary.csv``, ``siting_by_district.csv``,
    and the model's own tables (``siting_phases.csv``, ``siting_kinds.csv``, ``siting_units.csv``).

    Parameters
    ----------
    result
        The siting answer.
    run
        The run folder being written.
    """
    sites = result.sites
    if len(sites) and sites.crs is not None:
        write_layer(sites, run.path("sites.gpkg"), layer="sites")
    else:
        logger.warning("no new site to write as a layer (%s)", result.status)
    run.table(pd.DataFrame(sites.drop(columns=sites.geometry.name)), "sites.csv")
    run.table(result.summary(), "siting_summary.csv")
    run.table(result.coverage_after, "siting_by_district.csv")
    for name, table in result.tables.items():  # phases, kinds (shared centres), units (per-unit rules)
        run.table(table, f"siting_{name}.csv")


def study_record(study: StudyArea, out: Path) -> dict[str, Any]:
    """The study's name, file and inputs, with paths relative to ``out``.

    Parameters
    ----------
    study
        The study.
    out
        The output folder.

    Returns
    -------
    dict
    """
    rel = study.relative
    return {
        "name": study.name,
        "file": rel(study.path, to=out),
        "network": rel(study.network_path, to=out),
        "population": rel(study.population_path, to=out),
        "facilities": rel(study.facilities_path, to=out),
        "districts": rel(study.districts_path, to=out),
        "targets": rel(study.targets.path, to=out) if study.targets is not None else "",
        "lang": study.lang,
    }


def run_record(result: StudyResult, out: Path) -> dict[str, Any]:
    """Everything that produced a study run, paths relative to ``out`` (no machine paths).

    Parameters
    ----------
    result
        The run.
    out
        The output folder.

    Returns
    -------
    dict
    """
    record: dict[str, Any] = {
        "study": study_record(result.study, out),
        "coverage": dict(result.coverage.params),
        "timings": dict(result.timings),
    }
    shift = result.inputs.facilities.attrs.get("datum_shift")
    if shift:  # how far the datum conversion moved the facilities
        record["facilities_datum_shift"] = dict(shift)
    if result.siting is not None and result.siting_problem is not None:
        s = result.siting
        record["problem"] = {k: v for k, v in result.siting_problem.params.items() if v is not None}
        record["siting"] = {k: v for k, v in s.params.items() if v is not None}
        record["siting_result"] = {"objective": s.objective, "bound": s.bound, "gap": s.gap, "status": s.status,
                                   "solver": s.solver, "seconds": s.seconds}  # fmt: skip
    if result.targets is not None:
        record["targets"] = {k: v for k, v in result.targets.params.items() if v is not None}
    if result.access is not None:
        record["access"] = {k: v for k, v in result.access.params.items() if v is not None}
    return relative_paths(record, out)


def relative_paths(record: Any, out: Path) -> Any:
    """``record`` with every absolute path in its strings written relative to ``out``.

    Parameters
    ----------
    record
        Nested mappings, lists and scalars.
    out
        The folder paths become relative to.

    Returns
    -------
    Any
    """
    if isinstance(record, Mapping):
        return {k: relative_paths(v, out) for k, v in record.items()}
    if isinstance(record, list | tuple):
        return [relative_paths(v, out) for v in record]
    if isinstance(record, str) and os.path.isabs(record) and Path(record).exists():
        try:
            return Path(os.path.relpath(record, Path(out).resolve())).as_posix()
        except ValueError:  # another drive on Windows
            return Path(record).name
    return record
