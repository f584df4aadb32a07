"""Scenarios: a study plus changes (facilities added, by year or not; removed; another population).

A :class:`Scenario` holds the changes; :func:`compare` runs them on a study's result with the
same network, snapping and rule, and returns a :class:`Comparison`: before and after per kind,
threshold and district, the cells newly covered and newly lost, the targets before and after,
the trajectory year by year when the added facilities carry a ``year``, and a table of the added
sites in build order (rank, people each adds, total after it, district) that maps can draw.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from planner._validate import row_list
from planner.coverage import Coverage, cells_on_network, compute_coverage
from planner.errors import InputError
from planner.i18n import english_columns
from planner.io.facilities import read_facilities
from planner.io.files import read_any
from planner.kinds import ALL, CAPACITY, DISTRICT, FACILITY_ID, KIND, NAME
from planner.network import WalkNetwork, travel_matrix_m
from planner.pipeline import StudyResult, measure_targets
from planner.targets import read_targets

logger = logging.getLogger(__name__)

#: Columns that order added facilities in time: a calendar year or a phase number.
TIME_COLUMNS = ("year", "phase")
#: Columns of a ``planner site`` output that mark it as one (its x/y are in the study's CRS).
_SITES_COLUMNS = {"rank", "candidate_id", "x", "y"}


# ---------------------------------------------------------------------- the changes
@dataclass(frozen=True, eq=False)
class Scenario:
    """Changes to a study: facilities added (optionally by ``year``), removed, another population.

    Attributes
    ----------
    added
        New facilities: ``kind``, ``name``, optional ``capacity`` and ``year`` (or ``phase``),
        point geometry with a CRS; indexed by a unique facility id.
    removed
        Ids of existing facilities that close.
    population
        Another population (e.g. a target year's), or None for the study's.
    name
        A label for tables.
    sources
        Where each change came from (files), for the run record.
    """

    added: gpd.GeoDataFrame | None = None
    removed: tuple[str, ...] = ()
    population: gpd.GeoDataFrame | None = None
    name: str = "scenario"
    sources: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        n = 0 if self.added is None else len(self.added)
        return f"Scenario({self.name!r}, added={n}, removed={len(self.removed)}, population={self.population is not None})"

    @property
    def time_column(self) -> str | None:
        """``year`` or ``phase`` when the added facilities carry one."""
        if self.added is None:
            return None
        return next((c for c in TIME_COLUMNS if c in self.added.columns), None)


def read_added(
    paths: str | Path | Sequence[str | Path], *, kinds: Iterable[str], crs: Any, **reader_options: Any
) -> gpd.GeoDataFrame:
    """Facilities to add, from ``planner site`` outputs or any facility file the readers take.

    A ``sites.csv`` of ``planner site`` is read from its ``x``/``y`` columns, which are in the
    study's metric CRS (``crs``), so a site lands on exactly the street point the siting used;
    its ``kind`` column says which kind it is. Other files are read as facilities
    (:func:`~planner.io.facilities.read_facilities`): they need a ``kind`` column (or
    ``kind_column=``), may have ``name``, ``capacity`` and ``year`` (or ``phase``).

    Parameters
    ----------
    paths
        One file or several.
    kinds
        The study's kinds; any other is an error naming the file and rows.
    crs
        The study's metric CRS (of a ``sites.csv``'s ``x``/``y``).
    **reader_options
        Passed to :func:`~planner.io.facilities.read_facilities` (``coord_system``, ``encoding``…).

    Returns
    -------
    geopandas.GeoDataFrame
        In ``crs``; ids ``<file stem>-<row>`` unless the file has its own; ``source`` is the file.
    """
    files = [paths] if isinstance(paths, str | Path) else list(paths)
    if not files:
        msg = "no file of facilities to add was given."
        raise InputError(msg)
    parts = [_read_one_added(Path(p), kinds=kinds, crs=crs, **reader_options) for p in files]
    out = pd.concat(parts)
    if out.index.has_duplicates:
        dup = out.index[out.index.duplicated()].unique()
        msg = f"facilities to add: the same id {row_list(dup)} appears in more than one file; rename them."
        raise InputError(msg)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=parts[0].crs)


def _read_one_added(path: Path, *, kinds: Iterable[str], crs: Any, **options: Any) -> gpd.GeoDataFrame:
    what = f"facilities to add ({path})"
    raw = read_any(path, "facilities to add", assume_crs=crs, **_any_options(options))
    english = dict(zip(raw.columns, english_columns(raw.columns), strict=True))
    if set(english.values()) >= _SITES_COLUMNS:  # a sites table of planner (Chinese headers too)
        gdf = _sites_output(raw.rename(columns=english), path, crs)
        gdf[KIND] = gdf[KIND].map(_kind_names(kinds)).fillna(gdf[KIND])
    else:
        gdf = read_facilities(path, merge_within_m=None, **options).to_crs(crs)
    unknown = ~gdf[KIND].isin(sorted(kinds))
    if unknown.any():
        bad = sorted(gdf.loc[unknown, KIND].astype(str).unique())
        msg = (
            f"{what}: unknown kind(s) {bad} in rows {row_list(_rows(gdf, unknown))} (column 'kind'); "
            f"the study's kinds are {sorted(kinds)}. Is the file from another study?"
        )
        raise InputError(msg)
    _check_names(gdf, what)
    gdf = _check_time(gdf, what)
    gdf["source"] = path.name
    return gdf


def _kind_names(kinds: Any) -> dict[str, str]:
    """Label → kind name, for tables written in Chinese (``养老服务设施`` → ``eldercare``)."""
    if not isinstance(kinds, Mapping):
        return {}
    return {label: name for name, k in kinds.items() for label in (getattr(k, "label_zh", ""), name) if label}


def _any_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options of :func:`read_facilities` that the plain reader takes too."""
    keep = ("lon_column", "lat_column", "layer", "coord_system", "encoding")
    return {k: v for k, v in options.items() if k in keep}


def _rows(gdf: gpd.GeoDataFrame, mask: Any) -> list[Any]:
    """Row numbers as the file shows them (CSV lines count the header), else index labels."""
    first = gdf.attrs.get("first_row")
    pos = np.flatnonzero(np.asarray(mask, bool))
    return [int(first) + int(i) for i in pos] if first else list(gdf.index[pos])


def _sites_output(raw: gpd.GeoDataFrame, path: Path, crs: Any) -> gpd.GeoDataFrame:
    """A ``planner site`` table: points from ``x``/``y`` in the study's CRS, ids from its candidates."""
    if KIND not in raw.columns:
        msg = f"facilities to add ({path}): a planner sites table needs a 'kind' column (planner 0.2 writes it)."
        raise InputError(msg)
    x = pd.to_numeric(raw["x"], errors="coerce").to_numpy(float)
    y = pd.to_numeric(raw["y"], errors="coerce").to_numpy(float)
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        msg = f"facilities to add ({path}): rows {row_list(_rows(raw, bad))} have no numeric x/y."
        raise InputError(msg)
    names = raw[NAME].astype(str) if NAME in raw.columns else "new site " + raw["rank"].astype(str)
    cap = pd.to_numeric(raw[CAPACITY], errors="coerce") if CAPACITY in raw.columns else np.nan
    data = {KIND: raw[KIND].astype(str).to_numpy(), NAME: np.asarray(names), CAPACITY: np.asarray(cap, float)}
    for col in (*TIME_COLUMNS, "rank"):
        if col in raw.columns:
            data[col] = raw[col].to_numpy()
    index = pd.Index([f"new-{c}" for c in raw["candidate_id"].astype(str)], name=FACILITY_ID)
    out = gpd.GeoDataFrame(
        data, index=index, geometry=gpd.points_from_xy(x, y), crs=pyproj.CRS.from_user_input(crs)
    )
    out.attrs.update(raw.attrs)
    return out


def _check_names(gdf: gpd.GeoDataFrame, what: str) -> None:
    names = gdf[NAME].astype(str).str.strip() if NAME in gdf.columns else pd.Series("", index=gdf.index)
    dup = names.duplicated(keep=False) & (names != "")
    if dup.any():
        msg = (
            f"{what}: the name {names[dup].iloc[0]!r} appears more than once (column 'name', rows "
            f"{row_list(_rows(gdf, dup))}); give each planned facility its own name."
        )
        raise InputError(msg)


def _check_time(gdf: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    """``year``/``phase`` as whole numbers, on every row or none."""
    col = next((c for c in TIME_COLUMNS if c in gdf.columns), None)
    if col is None:
        return gdf
    values = pd.to_numeric(gdf[col], errors="coerce")
    bad = values.isna() | (values != np.floor(values))
    if bad.any():
        example = gdf.loc[bad, col].iloc[0]
        msg = (
            f"{what}: column {col!r} must hold whole numbers (a year such as 2025, or a phase 1, 2…); "
            f"rows {row_list(_rows(gdf, bad))} hold {example!r}."
        )
        raise InputError(msg)
    return gdf.assign(**{col: values.astype(int)})


def read_removed(spec: str | Path | Sequence[str], facilities: gpd.GeoDataFrame) -> tuple[str, ...]:
    """Ids of existing facilities to close, from a file (an ``id`` or ``name`` column) or ids/names.

    Parameters
    ----------
    spec
        A CSV/vector file with a ``facility_id``, ``id`` or ``name`` column; or a comma-separated
        string or list of facility ids or names.
    facilities
        The study's facilities; every id or name must be one of them.

    Returns
    -------
    tuple of str
    """
    path = Path(str(spec)) if isinstance(spec, str | Path) else None
    if path is not None and path.suffix and path.exists():
        table = (
            pd.read_csv(path)
            if path.suffix.lower() in (".csv", ".txt")
            else read_any(path, "facilities to remove")
        )
        col = next((c for c in (FACILITY_ID, "id", NAME) if c in table.columns), None)
        if col is None:
            msg = f"facilities to remove ({path}) need a column facility_id, id or name; they have {list(table.columns)}."
            raise InputError(msg)
        wanted = [str(v) for v in table[col].dropna()]
        where = f"{path} (column {col!r})"
    else:
        wanted = (
            [s.strip() for s in str(spec).split(",")]
            if isinstance(spec, str | Path)
            else [str(s) for s in spec]
        )
        wanted = [w for w in wanted if w]
        where = "--remove"
    ids = facilities.index.astype(str)
    names = (
        facilities[NAME].astype(str) if NAME in facilities.columns else pd.Series("", index=facilities.index)
    )
    out = []
    for w in wanted:
        hit = ids[(ids == w) | (names.to_numpy() == w)]
        if len(hit) == 0:
            msg = f"{where}: no facility has the id or name {w!r}; see the facility ids in the study's facilities."
            raise InputError(msg)
        out += list(hit)
    return tuple(dict.fromkeys(out))


# ---------------------------------------------------------------------- the comparison
@dataclass(frozen=True, eq=False)
class SiteLayer:
    """Sites of one kind in build order (``rank``, ``gain``, ``cumulative``…) and their kind."""

    sites: gpd.GeoDataFrame
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Before and after: coverage per kind, threshold and district, cells, targets, trajectory.

    Attributes
    ----------
    before, after
        The two study runs (same network, snapping and rule).
    table
        Per kind and threshold: ``kind, minutes, target_column, covered_before, covered_after,
        total_before, total_after, share_before, share_after, delta_covered, delta_share,
        facilities_before, facilities_after``. Shares 0..1, people as counts.
    by_district
        The same per district (with districts).
    cells
        Per cell and kind: ``minutes_before``, ``minutes_after`` (columns ``<kind>_before`` …).
    sites
        The added facilities in build order: ``rank, facility_id, kind, name, [year], gain``
        (target people newly covered within the kind's threshold, given the earlier ones),
        ``cumulative``, ``covered`` (total covered after it), ``share``, ``district``, ``x, y,
        lon, lat``, geometry; what :func:`~planner.maps.builders.siting_map` draws.
    targets
        The plan targets before and after (None without targets).
    trajectory
        Per year (or phase), cumulative: ``year, kind, minutes, covered, total, share, facilities``
        (None when the added facilities carry no year).
    trajectory_targets
        The targets after each year (None without targets or years).
    scenario
        The changes.
    params
        What produced it.
    """

    before: StudyResult
    after: StudyResult
    table: pd.DataFrame
    by_district: pd.DataFrame | None
    cells: pd.DataFrame
    sites: gpd.GeoDataFrame
    targets: pd.DataFrame | None
    trajectory: pd.DataFrame | None
    trajectory_targets: pd.DataFrame | None
    scenario: Scenario
    params: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        rows = [
            f"{r.kind} {r.share_before:.1%}→{r.share_after:.1%}"
            for r in self.table.itertuples()
            if r.minutes == self.before.coverage.kinds[r.kind].threshold_min
        ]
        return f"Comparison({self.scenario.name!r}: {', '.join(rows)})"

    def _changed(self, kind: str | None, minutes: float | None, *, gained: bool) -> gpd.GeoDataFrame:
        names = list(self.before.coverage.kinds) if kind is None else [kind]
        pop = self.after.coverage.population
        parts = []
        for name in names:
            k = self.after.coverage.kinds[name]
            t = k.threshold_min if minutes is None else minutes
            b, a = self.before.coverage.minutes[name] <= t, self.after.coverage.minutes[name] <= t
            hit = (a & ~b) if gained else (b & ~a)
            people = pop[k.target_column]
            keep = hit & (people > 0)
            parts.append(
                gpd.GeoDataFrame(
                    {
                        KIND: name,
                        "threshold_min": t,
                        "people": people[keep],
                        "minutes_before": self.before.coverage.minutes[name][keep],
                        "minutes_after": self.after.coverage.minutes[name][keep],
                    },
                    geometry=pop.geometry[keep],
                    crs=pop.crs,
                )
            )
        return pd.concat(parts).sort_values("people", ascending=False)

    def newly_covered(self, kind: str | None = None, minutes: float | None = None) -> gpd.GeoDataFrame:
        """Cells whose target people are within the walk after the changes and were not before.

        Parameters
        ----------
        kind
            One kind, or None for every kind.
        minutes
            Threshold (default: each kind's own).

        Returns
        -------
        geopandas.GeoDataFrame
            ``kind, threshold_min, people, minutes_before, minutes_after``, geometry; most people first.
        """
        return self._changed(kind, minutes, gained=True)

    def site_layers(self) -> list[SiteLayer]:
        """The added sites, one layer per kind, as :func:`~planner.maps.builders.siting_map` draws them.

        Returns
        -------
        list of SiteLayer
        """
        sites = self.sites
        if not len(sites):
            return []
        return [
            SiteLayer(
                gpd.GeoDataFrame(sites[sites[KIND] == kind], crs=sites.crs), MappingProxyType({"kind": kind})
            )
            for kind in dict.fromkeys(sites[KIND])
        ]

    def newly_lost(self, kind: str | None = None, minutes: float | None = None) -> gpd.GeoDataFrame:
        """Cells within the walk before the changes and not after (a facility closed, or moved).

        Parameters
        ----------
        kind
            One kind, or None for every kind.
        minutes
            Threshold (default: each kind's own).

        Returns
        -------
        geopandas.GeoDataFrame
        """
        return self._changed(kind, minutes, gained=False)


def compare(before: StudyResult, after: Scenario | StudyResult, *, progress: bool = False) -> Comparison:
    """Run a scenario on a study's result (or take another result) and compare the two.

    The after side uses the same network, snap limit, kinds, thresholds and districts as the
    before side, so adding exactly the sites a siting run proposed gives the covered people it
    reported, to the person. Added facilities farther than the snap limit from every street are
    an error (they would add nobody without a word).

    Parameters
    ----------
    before
        From :func:`~planner.pipeline.run_study`.
    after
        The changes (:class:`Scenario`), or another result to compare with.
    progress
        Show progress bars.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import planner as pl
    >>> r = pl.run_study(pl.StudyArea.from_toml("data/las_palmas/study.toml").override(siting={"new": 2}))
    >>> c = pl.compare(r, pl.Scenario(added=r.siting.to_facilities()))
    >>> round(c.after.coverage.share("eldercare"), 4) == round(r.siting.share_after, 4)
    True
    """
    scenario = after if isinstance(after, Scenario) else Scenario(name="other result")
    result = apply_scenario(before, after, progress=progress) if isinstance(after, Scenario) else after
    sites = site_gains(before, scenario)
    fac = result.coverage.facilities
    if len(sites) and DISTRICT in fac.columns:  # the district polygon holding each site
        sites[DISTRICT] = fac[DISTRICT].reindex(sites[FACILITY_ID]).to_numpy()
    trajectory = trajectory_targets = None
    if scenario.time_column is not None:
        trajectory, trajectory_targets = _trajectory(before, scenario, progress=progress)
    params = {
        "scenario": scenario.name,
        "added": 0 if scenario.added is None else len(scenario.added),
        "removed": list(scenario.removed),
        "other_population": scenario.population is not None,
        "sources": dict(scenario.sources),
    }
    return Comparison(
        before=before, after=result, table=_table(before.coverage, result.coverage),
        by_district=_table(before.coverage, result.coverage, by=DISTRICT) if before.districts is not None else None,
        cells=_cells(before.coverage, result.coverage), sites=sites,
        targets=_targets_table(before, result), trajectory=trajectory, trajectory_targets=trajectory_targets,
        scenario=scenario, params=MappingProxyType(params),
    )  # fmt: skip


def apply_scenario(
    before: StudyResult, scenario: Scenario, *, until: float | None = None, progress: bool = False
) -> StudyResult:
    """The study's coverage (and targets) with the scenario's changes, by the same rule.

    Parameters
    ----------
    before
        The study's result.
    scenario
        The changes.
    until
        Only the facilities added up to this year (or phase); None: all.
    progress
        Show progress bars.

    Returns
    -------
    StudyResult
    """
    study, inputs = before.study, before.inputs
    _check_added_snap(inputs.network, scenario, max_snap_m=study.max_snap_m)
    facilities = _facilities_after(before, scenario, until=until)
    population = scenario.population if scenario.population is not None else inputs.population
    coverage = compute_coverage(
        inputs.network, population, facilities, kinds=study.kinds, thresholds_min=before.coverage.thresholds_min,
        max_snap_m=study.max_snap_m, districts=inputs.districts, progress=progress,
    )  # fmt: skip
    report = access = None
    if before.targets is not None and study.targets is not None:
        report, access = measure_targets(study, coverage, inputs.network, read_targets(study.targets.path))
    return StudyResult(study, inputs, coverage, targets=report, access=access)


def _facilities_after(before: StudyResult, scenario: Scenario, *, until: float | None) -> gpd.GeoDataFrame:
    base = before.inputs.facilities
    missing = [i for i in scenario.removed if i not in base.index.astype(str)]
    if missing:
        msg = f"facilities to remove {row_list(missing)} are not among the study's facilities."
        raise InputError(msg)
    kept = base[~base.index.astype(str).isin(list(scenario.removed))]
    crs = before.network.crs
    kept = kept.to_crs(crs)
    if scenario.added is None or not len(scenario.added):
        return kept
    added = scenario.added.to_crs(crs)
    col = scenario.time_column
    if until is not None and col is not None:
        added = added[added[col] <= until]
    clash = added.index.intersection(kept.index)
    if len(clash):
        msg = f"facilities to add reuse the ids of existing facilities {row_list(clash)}; give them new ids."
        raise InputError(msg)
    keep_cols = [c for c in (KIND, NAME, CAPACITY) if c in added.columns]
    return gpd.GeoDataFrame(pd.concat([kept, added[[*keep_cols, "geometry"]]]), geometry="geometry", crs=crs)


def _check_added_snap(network: WalkNetwork, scenario: Scenario, *, max_snap_m: float) -> None:
    """Added facilities that cannot join the network would add nobody: refuse them by name."""
    added = scenario.added
    if added is None or not len(added):
        return
    snap = network.snap(added.to_crs(network.crs), max_snap_m=max_snap_m)
    if snap.ok.all():
        return
    bad = ~snap.ok
    names = added.loc[bad, NAME].astype(str).tolist() if NAME in added.columns else []
    src = (
        ", ".join(sorted(set(added.loc[bad, "source"].astype(str))))
        if "source" in added.columns
        else "the scenario"
    )
    msg = (
        f"facilities to add ({src}) {row_list(added.index[bad])} {row_list(names)} are farther than "
        f"{max_snap_m:g} m from any street of the study: outside the study area, or in another CRS or datum. "
        "Fix their coordinates or leave them out."
    )
    raise InputError(msg)


def _table(before: Coverage, after: Coverage, *, by: str | None = None) -> pd.DataFrame:
    keys = [c for c in (by, "kind", "minutes") if c]
    b = before.summary(by=by).set_index(keys)
    a = after.summary(by=by).set_index(keys)
    out = pd.DataFrame({"target_column": b["target_column"]})
    for col in ("covered", "total", "share", "facilities"):
        out[f"{col}_before"] = b[col]
        out[f"{col}_after"] = a[col].reindex(b.index)
    out["delta_covered"] = out["covered_after"] - out["covered_before"]
    out["delta_share"] = out["share_after"] - out["share_before"]
    order = ["target_column", "covered_before", "covered_after", "total_before", "total_after", "share_before",
             "share_after", "delta_covered", "delta_share", "facilities_before", "facilities_after"]  # fmt: skip
    return out[order].reset_index()


def _cells(before: Coverage, after: Coverage) -> pd.DataFrame:
    cols = {}
    for name in before.kinds:
        cols[f"{name}_before"] = before.minutes[name]
        cols[f"{name}_after"] = after.minutes[name].reindex(before.minutes.index)
    return pd.DataFrame(cols, index=before.minutes.index)


def _targets_table(before: StudyResult, after: StudyResult) -> pd.DataFrame | None:
    if before.targets is None or after.targets is None:
        return None
    keys = ["scope", "kind", "indicator", "label"]
    b = before.targets.table.set_index(keys)
    a = after.targets.table.set_index(keys).reindex(b.index)
    out = pd.DataFrame({"target": b["target"]})
    for col in ("current", "met", "needed", "gap"):
        if col in b.columns:
            out[f"{col}_before"], out[f"{col}_after"] = b[col], a[col]
    if "needed_unit" in b.columns:
        out["needed_unit"] = b["needed_unit"]
    return out.reset_index()


def _trajectory(
    before: StudyResult, scenario: Scenario, *, progress: bool
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    col = scenario.time_column
    assert col is not None
    assert scenario.added is not None
    rows, targets = [], []
    for step in sorted(scenario.added[col].unique()):
        result = apply_scenario(before, scenario, until=float(step), progress=progress)
        summary = result.coverage.summary().assign(**{col: int(step)})
        rows.append(summary[[col, "kind", "minutes", "covered", "total", "share", "facilities"]])
        if result.targets is not None:
            targets.append(result.targets.table.assign(**{col: int(step)}))
    base = before.coverage.summary().assign(**{col: "now"})[
        [col, "kind", "minutes", "covered", "total", "share", "facilities"]
    ]
    trajectory = pd.concat([base, *rows], ignore_index=True)
    return trajectory, (pd.concat(targets, ignore_index=True) if targets else None)


# ---------------------------------------------------------------------- sites in build order
def site_gains(before: StudyResult, scenario: Scenario) -> gpd.GeoDataFrame:
    """The added facilities in build order with the target people each adds (siting-table columns).

    Build order is the file order, by ``year`` (or ``phase``) first when given. A site's ``gain``
    is its kind's target people within the threshold walk of it (same rule as the coverage:
    access legs at both ends) and of no existing or earlier site; ``covered`` is the total
    covered after it, closures included.

    Parameters
    ----------
    before
        The study's result.
    scenario
        The changes.

    Returns
    -------
    geopandas.GeoDataFrame
        ``rank, facility_id, kind, name, [year], gain, cumulative, covered, share, district,
        capacity, x, y, lon, lat``, geometry (the study's CRS).
    """
    if scenario.added is None or not len(scenario.added):
        return gpd.GeoDataFrame({"rank": [], "gain": []}, geometry=[], crs=before.network.crs)
    added = scenario.added.to_crs(before.network.crs)
    col = scenario.time_column
    if col is not None:
        added = added.sort_values(col, kind="stable")
    base = before.coverage
    if scenario.removed or scenario.population is not None:  # gains start from the study minus closures
        base = apply_scenario(
            before, Scenario(removed=scenario.removed, population=scenario.population)
        ).coverage
    parts = [
        _kind_gains(before.network, base, added[added[KIND] == kind], kind) for kind in added[KIND].unique()
    ]
    out = pd.concat(parts).loc[added.index]
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    ll = out.geometry.to_crs(4326)
    out = out.assign(x=shapely.get_x(out.geometry.to_numpy()), y=shapely.get_y(out.geometry.to_numpy()),
                     lon=shapely.get_x(ll.to_numpy()), lat=shapely.get_y(ll.to_numpy()))  # fmt: skip
    out.index.name = FACILITY_ID
    return gpd.GeoDataFrame(out.reset_index(), geometry="geometry", crs=before.network.crs)


def _kind_gains(network: WalkNetwork, base: Coverage, sites: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    """People each site of one kind adds, in the given order, over the base coverage."""
    k = base.kinds[kind]
    weights = base.population[k.target_column].to_numpy(float)
    covered = (base.minutes[kind] <= k.threshold_min).to_numpy().copy()
    total = float(weights.sum())
    snap = network.snap(sites, max_snap_m=float(base.params["max_snap_m"]))
    cells = cells_on_network(base, network)
    m_per_min = k.speed_kmh * 1000.0 / 60.0
    reach = travel_matrix_m(
        network, np.where(snap.ok, snap.node, -1), np.where(cells.ok, cells.node, -1),
        limit_m=k.threshold_min * m_per_min * (1 + 1e-12), from_offsets_m=np.where(snap.ok, snap.access_m, 0.0),
        to_offsets_m=np.where(cells.ok, cells.access_m, 0.0),
    ).tocsr()  # fmt: skip
    gains, after = [], []
    running = float(weights[covered].sum())
    for i in range(len(sites)):
        hit = reach.indices[reach.indptr[i] : reach.indptr[i + 1]]
        new = hit[~covered[hit]]
        gain = float(weights[new].sum())
        covered[new] = True
        running += gain
        gains.append(gain)
        after.append(running)
    cols = [c for c in (KIND, NAME, *TIME_COLUMNS, CAPACITY, DISTRICT) if c in sites.columns]
    out = sites[[*cols, "geometry"]].copy()
    if DISTRICT not in out.columns:
        out[DISTRICT] = _districts_of(sites, base)
    out["gain"] = gains
    out["cumulative"] = np.cumsum(gains)
    out["covered"] = after
    out["share"] = np.asarray(after) / total if total > 0 else math.nan
    return out


def _districts_of(sites: gpd.GeoDataFrame, base: Coverage) -> Any:
    """The district of each site: that of the nearest cell (the coverage keeps no polygons)."""
    pop = base.population
    if DISTRICT not in pop.columns:
        return ALL
    from scipy.spatial import cKDTree

    cells = shapely.get_coordinates(pop.geometry.representative_point().to_numpy())
    _, near = cKDTree(cells).query(shapely.get_coordinates(sites.geometry.to_numpy()))
    return pop[DISTRICT].to_numpy()[near]
