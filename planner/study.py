"""StudyArea: one reproducible analysis (files, CRS, kinds, typed settings) read from a study.toml.

Every table of the file is parsed against a schema here: an unknown key or a value of the wrong
type is an error naming the file, the table, the key and its line, with the nearest valid key
suggested. Settings are frozen dataclasses; :meth:`StudyArea.override` changes fields (from the
command line or Python) and validates them the same way.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import pyproj

from planner._validate import metric_crs_problem
from planner.errors import InputError
from planner.io.boundaries import read_boundary, read_districts
from planner.io.facilities import read_facilities
from planner.io.population import read_population
from planner.kinds import (
    DEFAULT_KINDS,
    DEFAULT_MAX_EDGE_M,
    DEFAULT_MAX_SNAP_M,
    DEFAULT_SPACING_M,
    DEFAULT_THRESHOLDS_MIN,
    KIND,
    MAX_MINUTES,
    FacilityKind,
    kind_from_dict,
)
from planner.population import age_shares_from_census, apply_age_shares

LANGS = ("en", "zh")
SOLVERS = ("auto", "highs", "scipy", "greedy")
#: Named basemaps planner knows (planner.maps.runtime.TILE_PRESETS): they need no tiles_attribution.
TILE_PRESET_NAMES = ("tianditu",)
ACCESS_METHODS = ("2sfca", "e2sfca")
_LAYER_META = ("path", "source", "licence")


# ---------------------------------------------------------------------- typed settings
@dataclass(frozen=True)
class SitingSettings:
    """Where the next facilities of one kind should go: the ``[siting]`` table.

    ``None`` means "not given": the model's own default applies, and an option given to a
    model that does not take it is an error (see :data:`planner.siting.models.MODELS`).
    """

    kind: str | None = None
    model: str = "mclp"
    new: int | None = None
    share: float | None = None
    candidates: Path | None = None
    spacing_m: float = DEFAULT_SPACING_M
    demand_candidates: int = 0
    capacity: float | None = None
    people_per_unit: float | None = None
    budget: float | None = None
    time_limit_s: float = 60.0
    mip_gap: float = 0.0
    solver: str = "auto"
    max_minutes: float | None = None
    seed: int = 0
    from_scratch: bool = False
    phases: list[int] | dict[str, int] | None = None
    phase_weights: list[float] | None = None
    unit_column: str | None = None
    min_per_unit: int | None = None
    max_per_unit: int | None = None
    excluded: Path | None = None
    sizes: dict[str, float] | None = None
    shared_kinds: list[str] | None = None
    kind_weights: dict[str, float] | None = None
    kind_cost: dict[str, float] | None = None
    site_cost: float | None = None

    def __post_init__(self) -> None:
        _check_positive(self, "spacing_m", "time_limit_s")
        _check_positive(self, "new", "capacity", "people_per_unit", "budget", "max_minutes", "site_cost",
                        optional=True)  # fmt: skip
        _check_plans(self)
        if self.share is not None and not 0 < self.share <= 100:
            msg = f"share must be a share in (0, 1] or a percentage in (1, 100]; got {self.share!r}."
            raise ValueError(msg)
        if not 0 <= self.mip_gap < 1:
            msg = f"mip_gap must be in [0, 1); got {self.mip_gap!r}."
            raise ValueError(msg)
        if self.demand_candidates < 0:
            msg = f"demand_candidates must be 0 or more; got {self.demand_candidates!r}."
            raise ValueError(msg)
        if self.solver not in SOLVERS:
            msg = f"solver must be one of {list(SOLVERS)}; got {self.solver!r}."
            raise ValueError(msg)

    @property
    def share_fraction(self) -> float | None:
        """``share`` as 0..1 (a value above 1 is read as a percentage)."""
        if self.share is None:
            return None
        return self.share / 100.0 if self.share > 1 else self.share

    @property
    def model_name(self) -> str:
        """The model to run: ``cmclp`` when an MCLP is given a capacity or sizes, ``phased`` when it
        is given phases, ``shared`` when it is given shared kinds."""
        if self.model != "mclp":
            return self.model
        if self.phases is not None:
            return "phased"
        if self.shared_kinds is not None:
            return "shared"
        return "cmclp" if self.capacity is not None or self.sizes is not None else "mclp"

    @property
    def k(self) -> int | None:
        """The number of new sites the model takes (None for ``phased``: the phases say it)."""
        return None if self.model_name == "phased" else self.new

    @property
    def phase_counts(self) -> list[int] | dict[int, int] | None:
        """``phases`` as the model takes it: sites per phase, or per year."""
        if isinstance(self.phases, dict):
            return {int(y): int(n) for y, n in self.phases.items()}
        return None if self.phases is None else [int(n) for n in self.phases]

    def model_options(self) -> dict[str, Any]:
        """The options passed to the model (those not given are left out)."""
        opts: dict[str, Any] = {
            "time_limit_s": self.time_limit_s, "mip_gap": self.mip_gap, "solver": self.solver, "seed": self.seed,
            "budget": self.budget, "people_per_unit": self.people_per_unit, "phases": self.phase_counts,
            "phase_weights": self.phase_weights, "unit_column": self.unit_column,
            "min_per_unit": self.min_per_unit, "max_per_unit": self.max_per_unit,
            "sizes": None if self.sizes is None else {float(k): float(v) for k, v in self.sizes.items()},
            "kind_weights": self.kind_weights, "kind_cost": self.kind_cost, "site_cost": self.site_cost,
        }  # fmt: skip
        return {k: v for k, v in opts.items() if v is not None}


@dataclass(frozen=True)
class TargetSettings:
    """The plan's targets to measure: the ``[targets]`` table."""

    path: Path
    method: str = "2sfca"

    def __post_init__(self) -> None:
        if self.method not in ACCESS_METHODS:
            msg = f"method must be one of {list(ACCESS_METHODS)}; got {self.method!r}."
            raise ValueError(msg)


@dataclass(frozen=True)
class MapSettings:
    """How maps and reports of the study are drawn: the ``[map]`` table.

    ``data_date`` (when the data are from) and ``population_note`` (how the population was
    modelled; ``""`` just says "modelled") appear under the title of maps and reports.
    """

    title: str | None = None
    tiles: str | None = None
    tiles_attribution: str | None = None
    service_areas: bool = True
    max_vector_cells: int = 20_000
    sites: bool = False
    data_date: str | None = None
    population_note: str | None = None

    def __post_init__(self) -> None:
        _check_positive(self, "max_vector_cells")
        if self.tiles and not self.tiles_attribution and self.tiles not in TILE_PRESET_NAMES:
            msg = "tiles needs tiles_attribution, the basemap's credit shown on the map (CLI: --tiles needs --tiles-attribution)."
            raise ValueError(msg)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_plans(s: SitingSettings) -> None:
    """Phases, per-unit rules, sizes and shared kinds: types and values, one line each."""
    if s.phases is not None:
        counts = list(s.phases.values()) if isinstance(s.phases, dict) else s.phases
        years_ok = not isinstance(s.phases, dict) or all(str(y).isdigit() for y in s.phases)
        if (
            not isinstance(s.phases, list | dict)
            or not counts
            or not all(_whole(n) for n in counts)
            or not years_ok
        ):
            msg = f"phases must be sites per phase such as [1, 1, 1] or per year such as {{2025 = 1}}; got {s.phases!r}."
            raise ValueError(msg)
        if sum(counts) < 1:
            msg = f"phases must add at least one site; got {s.phases!r}."
            raise ValueError(msg)
        if s.new is not None and s.new != sum(counts):
            msg = f"new ({s.new}) and phases ({s.phases!r}, {sum(counts)} sites in all) disagree; give one of them."
            raise ValueError(msg)
    if s.phase_weights is not None and (s.phases is None or not isinstance(s.phase_weights, list)):
        msg = "phase_weights needs phases, and one number per phase."
        raise ValueError(msg)
    for name in ("min_per_unit", "max_per_unit"):
        value = getattr(s, name)
        if value is not None and not _whole(value):
            msg = f"{name} must be a whole number, 0 or more; got {value!r}."
            raise ValueError(msg)
    if (s.min_per_unit is not None or s.max_per_unit is not None) and s.unit_column is None:
        msg = "min_per_unit / max_per_unit need unit_column (the population column of the units, e.g. 'street')."
        raise ValueError(msg)
    if s.sizes is not None and (not isinstance(s.sizes, dict) or not s.sizes):
        msg = f"sizes must map places to a cost, such as {{30 = 1.0, 60 = 1.6}}; got {s.sizes!r}."
        raise ValueError(msg)
    if s.shared_kinds is not None and (
        not isinstance(s.shared_kinds, list)
        or len(s.shared_kinds) < 2
        or not all(isinstance(k, str) for k in s.shared_kinds)
    ):
        msg = f"shared_kinds must name two kinds or more, such as ['eldercare', 'meal_site']; got {s.shared_kinds!r}."
        raise ValueError(msg)
    for name in ("kind_weights", "kind_cost", "sizes"):
        value = getattr(s, name)
        if isinstance(value, dict) and not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
                                               for v in value.values()):  # fmt: skip
            msg = f"{name} must map names to numbers, 0 or more; got {value!r}."
            raise ValueError(msg)


def _check_positive(obj: Any, *names: str, optional: bool = False) -> None:
    for name in names:
        value = getattr(obj, name)
        if optional and value is None:
            continue
        if not (isinstance(value, int | float) and value > 0 and value == value and value != float("inf")):
            msg = f"{name} must be a positive number; got {value!r}."
            raise ValueError(msg)


# ---------------------------------------------------------------------- the study
@dataclass(frozen=True)
class StudyArea:
    """Everything that defines one analysis, so that it can be re-run exactly.

    Attributes
    ----------
    name
        A title for tables and maps.
    network_path, population_path, facilities_path
        Input files.
    crs
        Metric CRS for all work (None: the network's UTM zone).
    boundary_path, districts_path
        Optional polygons.
    kinds
        Facility kinds with speeds and thresholds.
    thresholds_min
        Minutes at which coverage is reported.
    max_snap_m
        Farthest a cell or facility may be from a street, in metres.
    max_edge_m
        Longest network piece, in metres (bounds the snapping error).
    population_options, facilities_options, districts_options
        Keyword options for the readers (column names, kind_map…).
    age_shares
        Column → share, applied when the grid has no age columns.
    age_source
        Where the shares come from.
    cache_dir
        Network cache folder (None: the default).
    siting, targets, map
        Typed settings of the ``[siting]``, ``[targets]`` and ``[map]`` tables (None: absent).
    lang
        Language of tables, maps and messages: ``"en"`` or ``"zh"``.
    skip_kinds
        Kinds left out on purpose (``--kinds``): their facilities are dropped when read.
    path
        The study file, if read from one (relative output paths are written against it).
    config
        The parsed TOML, kept for the run record.
    """

    name: str
    network_path: Path
    population_path: Path
    facilities_path: Path
    crs: pyproj.CRS | None = None
    boundary_path: Path | None = None
    districts_path: Path | None = None
    kinds: Mapping[str, FacilityKind] = field(default_factory=lambda: dict(DEFAULT_KINDS))
    thresholds_min: tuple[float, ...] = DEFAULT_THRESHOLDS_MIN
    max_snap_m: float = DEFAULT_MAX_SNAP_M
    max_edge_m: float | None = DEFAULT_MAX_EDGE_M
    population_options: Mapping[str, Any] = field(default_factory=dict)
    facilities_options: Mapping[str, Any] = field(default_factory=dict)
    districts_options: Mapping[str, Any] = field(default_factory=dict)
    age_shares: Mapping[str, float] | None = None
    age_source: str = ""
    cache_dir: Path | None = None
    siting: SitingSettings | None = None
    targets: TargetSettings | None = None
    map: MapSettings = field(default_factory=MapSettings)
    lang: str = "en"
    skip_kinds: frozenset[str] = frozenset()
    path: Path | None = None
    config: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.kinds:
            msg = "a study needs at least one facility kind."
            raise ValueError(msg)
        thresholds = tuple(float(t) for t in self.thresholds_min)
        if not thresholds or not all(0 < t <= MAX_MINUTES for t in thresholds):
            msg = f"thresholds_min must be minutes in (0, {MAX_MINUTES:g}]; got {self.thresholds_min!r}."
            raise ValueError(msg)
        _check_positive(self, "max_snap_m")
        _check_positive(self, "max_edge_m", optional=True)
        if self.lang not in LANGS:
            msg = f"lang must be one of {list(LANGS)}; got {self.lang!r}."
            raise ValueError(msg)
        if self.siting is not None and self.siting.kind is not None and self.siting.kind not in self.kinds:
            msg = f"[siting] kind {self.siting.kind!r} is not a kind of the study ({list(self.kinds)})."
            raise ValueError(msg)

    @classmethod
    def from_toml(cls, path: str | Path) -> StudyArea:
        """Read a study file; relative paths are relative to the file.

        Parameters
        ----------
        path
            The ``study.toml``.

        Returns
        -------
        StudyArea

        Examples
        --------
        >>> s = StudyArea.from_toml("data/las_palmas/study.toml")
        >>> s.kinds["eldercare"].speed_kmh, s.thresholds_min, s.siting.new
        (3.6, (5.0, 10.0, 15.0), 5)
        """
        return _StudyFile(Path(path)).study(cls)

    def override(self, **changes: Any) -> StudyArea:
        """A copy with fields changed, validated as the study file is.

        ``siting``, ``targets`` and ``map`` take a mapping of their fields, merged into the
        current settings (``siting={"new": 3}``); the others take values.

        Parameters
        ----------
        **changes
            Field names and values.

        Returns
        -------
        StudyArea

        Examples
        --------
        >>> s = StudyArea.from_toml("data/las_palmas/study.toml").override(siting={"new": 3})
        >>> s.siting.new, s.siting.kind
        (3, 'eldercare')
        """
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            msg = f"StudyArea has no field(s) {unknown}; it has {sorted(known)}."
            raise TypeError(msg)
        nested = {"siting": SitingSettings, "targets": TargetSettings, "map": MapSettings}
        for key, kind in nested.items():
            if isinstance(changes.get(key), Mapping):
                current = getattr(self, key)
                values = dataclasses.asdict(current) if current is not None else {}
                changes[key] = _settings(kind, {**values, **changes[key]}, where=f"[{key}]")
        try:
            return replace(self, **changes)
        except (TypeError, ValueError) as exc:
            raise InputError(str(exc)) from exc

    def select_kinds(self, names: Sequence[str]) -> StudyArea:
        """Only the kinds ``names``; facilities of the others are left out when read.

        Parameters
        ----------
        names
            Kinds of the study.

        Returns
        -------
        StudyArea
        """
        unknown = [k for k in names if k not in self.kinds]
        if unknown or not names:
            msg = f"unknown kind(s) {unknown or list(names)}; the study has {list(self.kinds)}."
            raise InputError(msg)
        dropped = (set(self.kinds) | set(DEFAULT_KINDS)) - set(names)
        return self.override(kinds=MappingProxyType({k: self.kinds[k] for k in names}),
                             skip_kinds=frozenset(self.skip_kinds | dropped))  # fmt: skip

    def read_population(self) -> gpd.GeoDataFrame:
        """The population, with age columns from ``age_shares`` where the grid has none."""
        pop = read_population(self.population_path, **self.population_options)
        if self.age_shares:
            pop = apply_age_shares(pop, self.age_shares, source=self.age_source or "study file")
        return pop

    def read_facilities(self) -> gpd.GeoDataFrame:
        """The facilities, mapped to kinds and de-duplicated as the study file says."""
        fac = read_facilities(self.facilities_path, **self.facilities_options)
        if self.skip_kinds:
            fac = fac[~fac[KIND].isin(sorted(self.skip_kinds))]
        return fac

    def read_districts(self) -> gpd.GeoDataFrame | None:
        """District polygons with a ``district`` column, or None."""
        if self.districts_path is None:
            return None
        return read_districts(self.districts_path, **self.districts_options)

    def read_boundary(self) -> gpd.GeoDataFrame | None:
        """The study-area boundary, or None."""
        return read_boundary(self.boundary_path) if self.boundary_path else None

    def relative(self, path: str | Path | None, *, to: str | Path | None = None) -> str:
        """``path`` relative to ``to`` (default: the study file's folder), for run records.

        Parameters
        ----------
        path
            A file the study uses.
        to
            The folder to be relative to.

        Returns
        -------
        str
            POSIX-style relative path; ``""`` for None.
        """
        if path is None:
            return ""
        base = Path(to) if to is not None else (self.path.parent if self.path else Path.cwd())
        try:
            return Path(os.path.relpath(Path(path).resolve(), base.resolve())).as_posix()
        except ValueError:  # another drive on Windows: no relative path exists
            return Path(path).name


# ---------------------------------------------------------------------- the file
_TOP: dict[str, str] = {
    "name": "str", "crs": "str", "lang": "str", "cache_dir": "str", "network": "table",
    "population": "table", "facilities": "table", "boundary": "table", "districts": "table",
    "coverage": "table", "kinds": "table", "sources": "table", "siting": "table", "targets": "table",
    "map": "table",
}  # fmt: skip
_NETWORK_KEYS = {"path", "source", "licence", "max_snap_m", "max_edge_m"}
_COVERAGE_KEYS = {"thresholds_min", "max_snap_m"}
_AGE_KEYS = {"source", "census", "code"}


# what a TOML value must be for each type named in a reader's annotation ("Any" and others: anything)
_FITS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "Mapping": lambda v: isinstance(v, dict),
}


def _fits(value: Any, annotation: str) -> bool:
    """Whether a TOML value fits a reader's annotation such as ``"float | None"`` or ``"Mapping[str, str] | None"``."""
    names = [part.strip().split("[")[0] for part in annotation.split("|")]
    checks = [_FITS[n] for n in names if n in _FITS]
    return not checks or len(checks) < len([n for n in names if n != "None"]) or any(c(value) for c in checks)


def _reader_keys(reader: Callable[..., Any]) -> set[str]:
    """Keyword options a reader takes (its signature is the schema of its study table)."""
    return {p for p in inspect.signature(reader).parameters if p != "path"}


class _StudyFile:
    """One study.toml being read: its text for line numbers, its folder for relative paths."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            msg = f"study file {path} does not exist."
            raise InputError(msg, zh=f"研究设置文件 {path} 不存在。")
        self.path = path
        try:
            self.text = path.read_text(encoding="utf-8-sig")  # a BOM from Windows editors is fine
            self.cfg = tomllib.loads(self.text)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            msg = f"study file {path} is not valid TOML: {exc}"
            raise InputError(msg) from exc
        self.lines = self.text.splitlines()
        self.base = path.parent

    # -- messages
    def line_of(self, table: str | None, key: str) -> int | None:
        """Line of ``key =`` inside ``[table]`` (top level when None), for messages."""
        current: str | None = None
        pat = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for i, ln in enumerate(self.lines, 1):
            head = re.match(r"^\s*\[+\s*([^\]]+?)\s*\]+", ln)
            if head:
                current = head.group(1).strip()
                continue
            if current == table and pat.match(ln):
                return i
        return None

    def error(self, text: str, *, table: str | None, key: str | None) -> InputError:
        where = f"[{table}]" if table else "top level"
        line = self.line_of(table, key) if key else None
        at = f", line {line}" if line else ""
        what = f"{where} {key}:" if key else where
        return InputError(f"study file {self.path}{at}: {what} {text}")

    def check_keys(self, table: str | None, values: Mapping[str, Any], allowed: set[str]) -> None:
        for key in values:
            if key not in allowed:
                near = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                msg = f"unknown key{hint}; allowed: {sorted(allowed)}."
                raise self.error(msg, table=table, key=key)

    def check_reader_values(self, table: str, values: Mapping[str, Any], reader: Callable[..., Any]) -> None:
        """Each reader option of the table has a value of the type the reader's signature names."""
        params = inspect.signature(reader).parameters
        for key, value in values.items():
            if key in params and not _fits(value, str(params[key].annotation)):
                msg = f"must be {params[key].annotation}; got {value!r} ({type(value).__name__})."
                raise self.error(msg, table=table, key=key)
        for key in ("source", "licence"):
            if key in values and not isinstance(values[key], str):
                msg = f"must be text; got {values[key]!r}."
                raise self.error(msg, table=table, key=key)

    def table(self, name: str, *, required: bool = False) -> dict[str, Any]:
        value = self.cfg.get(name, {})
        if not isinstance(value, dict):
            msg = "must be a table ([" + name + "])."
            raise self.error(msg, table=None, key=name)
        if required and "path" not in value:
            msg = 'needs a path = "...".'
            raise self.error(msg, table=name, key=None)
        return dict(value)

    def file(self, value: Any, table: str, key: str = "path") -> Path:
        if not isinstance(value, str) or not value.strip():
            msg = f"must be a file path (text); got {value!r}."
            raise self.error(msg, table=table, key=key)
        return (self.base / value).resolve()

    # -- the whole file
    def study(self, cls: type[StudyArea]) -> StudyArea:
        cfg = self.cfg
        self.check_keys(None, cfg, set(_TOP))
        for key, kind in _TOP.items():
            if key in cfg and kind == "str" and not isinstance(cfg[key], str):
                msg = f"must be text; got {cfg[key]!r}."
                raise self.error(msg, table=None, key=key)
        net = self.table("network", required=True)
        pop = self.table("population", required=True)
        fac = self.table("facilities", required=True)
        cov = self.table("coverage")
        self.check_keys("network", net, _NETWORK_KEYS)
        self.check_keys("coverage", cov, _COVERAGE_KEYS)
        shares_cfg = pop.pop("age_shares", {})
        self.check_keys("population", pop, _reader_keys(read_population) | set(_LAYER_META))
        self.check_keys("facilities", fac, _reader_keys(read_facilities) | set(_LAYER_META))
        self.check_reader_values("population", pop, read_population)
        self.check_reader_values("facilities", fac, read_facilities)
        districts, boundary = self.table("districts"), self.table("boundary")
        self.check_keys("districts", districts, _reader_keys(read_districts) | set(_LAYER_META))
        self.check_reader_values("districts", districts, read_districts)
        self.check_keys("boundary", boundary, set(_LAYER_META))
        age_shares, age_source = self.age_shares(shares_cfg)
        values: dict[str, Any] = {
            "name": cfg.get("name", self.path.parent.name),
            "network_path": self.file(net.get("path"), "network"),
            "population_path": self.file(pop.get("path"), "population"),
            "facilities_path": self.file(fac.get("path"), "facilities"),
            "crs": self.crs(),
            "boundary_path": self.file(boundary["path"], "boundary") if "path" in boundary else None,
            "districts_path": self.file(districts["path"], "districts") if "path" in districts else None,
            "kinds": MappingProxyType(self.kinds()),
            "thresholds_min": self.number_list("coverage", "thresholds_min", cov, DEFAULT_THRESHOLDS_MIN),
            "max_snap_m": self.number(
                "network", "max_snap_m", net, self.number("coverage", "max_snap_m", cov, DEFAULT_MAX_SNAP_M)
            ),
            "max_edge_m": self.number("network", "max_edge_m", net, DEFAULT_MAX_EDGE_M),
            "population_options": {k: v for k, v in pop.items() if k not in _LAYER_META},
            "facilities_options": {k: v for k, v in fac.items() if k not in _LAYER_META},
            "districts_options": {k: v for k, v in districts.items() if k not in _LAYER_META},
            "age_shares": age_shares,
            "age_source": age_source,
            "cache_dir": self.cache_dir(),
            "siting": self.settings("siting", SitingSettings, paths=("candidates", "excluded")),
            "targets": self.settings("targets", TargetSettings, paths=("path",)),
            "map": self.settings("map", MapSettings) or MapSettings(),
            "lang": cfg.get("lang", "en"),
            "path": self.path.resolve(),
            "config": MappingProxyType(cfg),
        }
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:
            msg = f"study file {self.path}: {exc}"
            raise InputError(msg) from exc

    def cache_dir(self) -> Path | None:
        """The network cache folder: inside the study's folder (a study file cannot write elsewhere)."""
        if "cache_dir" not in self.cfg:
            return None
        folder = self.file(self.cfg["cache_dir"], "", "cache_dir")
        if not folder.is_relative_to(self.base.resolve()):
            msg = (
                f"{self.cfg['cache_dir']!r} leads outside the study's folder; keep the cache in it, or give "
                "--cache-dir (or $PLANNER_CACHE_DIR) on the command line."
            )
            raise self.error(msg, table=None, key="cache_dir")
        return folder

    def crs(self) -> pyproj.CRS | None:
        if "crs" not in self.cfg:
            return None
        try:
            crs = pyproj.CRS.from_user_input(self.cfg["crs"])
        except pyproj.exceptions.CRSError as exc:
            msg = f"{self.cfg['crs']!r} is not a CRS ({exc})."
            raise self.error(msg, table=None, key="crs") from exc
        problem = metric_crs_problem(crs)
        if problem:
            msg = f"must be a local metric CRS (e.g. the UTM zone, EPSG:32628); {problem}."
            raise self.error(msg, table=None, key="crs")
        return crs

    def number(self, table: str, key: str, values: Mapping[str, Any], default: Any) -> Any:
        if key not in values:
            return default
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            msg = f"must be a number; got {value!r}."
            raise self.error(msg, table=table, key=key)
        return float(value)

    def number_list(self, table: str, key: str, values: Mapping[str, Any], default: Any) -> tuple[float, ...]:
        if key not in values:
            return tuple(default)
        value = values[key]
        if not isinstance(value, list) or not value or any(isinstance(v, bool) or not isinstance(v, int | float)
                                                          for v in value):  # fmt: skip
            msg = f"must be a list of numbers such as [5, 10, 15]; got {value!r}."
            raise self.error(msg, table=table, key=key)
        return tuple(float(v) for v in value)

    def age_shares(self, cfg: Any) -> tuple[dict[str, float] | None, str]:
        table = "population.age_shares"
        if not isinstance(cfg, dict):
            msg = "must be a table."
            raise self.error(msg, table="population", key="age_shares")
        cfg = dict(cfg)
        source = cfg.pop("source", "")
        shares: dict[str, float] | None = None
        if "census" in cfg:
            census = self.file(cfg.pop("census"), table, "census")
            if "code" not in cfg:
                msg = "needs code = <county code> too."
                raise self.error(msg, table=table, key="census")
            code = cfg.pop("code")
            shares = age_shares_from_census(census, code)
            source = source or f"census {census.name}, code {code}"
        for key, value in cfg.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                msg = f"must be a share between 0 and 1; got {value!r}."
                raise self.error(msg, table=table, key=key)
        if cfg:
            shares = {**(shares or {}), **{k: float(v) for k, v in cfg.items()}}
        return shares, str(source)

    def kinds(self) -> dict[str, FacilityKind]:
        """Kinds from ``[kinds.<name>]`` tables; a default kind's values fill what is not given.

        With no ``[kinds]`` table at all, the four default kinds are used.
        """
        cfg = self.table("kinds")
        if not cfg:
            return dict(DEFAULT_KINDS)
        kinds = {}
        for name, spec in cfg.items():
            if not isinstance(spec, dict):
                msg = f"must be a table ([kinds.{name}])."
                raise self.error(msg, table="kinds", key=name)
            try:
                kinds[name] = kind_from_dict(name, spec, base=DEFAULT_KINDS.get(name))
            except (TypeError, ValueError) as exc:
                msg = str(exc)
                raise self.error(msg, table=f"kinds.{name}", key=None) from exc
        return kinds

    def settings(self, name: str, kind: type, *, paths: Sequence[str] = ()) -> Any:
        if name not in self.cfg:
            return None
        values = self.table(name)
        allowed = {f.name for f in fields(kind)}
        self.check_keys(name, values, allowed)
        for key in paths:
            if key in values:
                values[key] = self.file(values[key], name, key)
        return _settings(kind, values, where=f"[{name}]", file=self)


_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,),
                                       "Path": (Path,)}  # fmt: skip


def _settings(kind: type, values: Mapping[str, Any], *, where: str, file: _StudyFile | None = None) -> Any:
    """A settings dataclass from ``values``, each value checked against its field's type."""
    for f in fields(kind):
        if f.name not in values or values[f.name] is None:
            continue
        value = values[f.name]
        names = [t.strip() for t in str(f.type).split("|") if t.strip() != "None"]
        ok = any(isinstance(value, _TYPES.get(t, (object,))) for t in names)
        if isinstance(value, bool) and "bool" not in names:
            ok = False
        if not ok:
            text = f"must be {' or '.join(names)}; got {value!r} ({type(value).__name__})."
            if file is not None:
                msg = text
                raise file.error(msg, table=where.strip("[]"), key=f.name)
            msg = f"{where} {f.name} {text}"
            raise InputError(msg)
    try:
        return kind(**values)
    except (TypeError, ValueError) as exc:
        if file is not None:
            key = next((k for k in values if re.search(rf"\b{k}\b", str(exc))), None)
            msg = str(exc)
            raise file.error(msg, table=where.strip("[]"), key=key) from exc
        msg = f"{where}: {exc}"
        raise InputError(msg) from exc
