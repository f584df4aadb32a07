"""StudyArea: one reproducible analysis set-up (files, CRS, kinds, thresholds) read from TOML."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import pyproj

from planner.errors import InputError
from planner.inputs import (
    age_shares_from_census,
    apply_age_shares,
    read_boundary,
    read_districts,
    read_facilities,
    read_population,
)
from planner.kinds import DEFAULT_KINDS, DEFAULT_THRESHOLDS_MIN, FacilityKind, kind_from_dict

_TOP_KEYS = {"name", "crs", "network", "population", "facilities", "boundary", "districts",
             "coverage", "kinds", "sources", "cache_dir", "siting", "targets", "map"}  # fmt: skip


@dataclass(frozen=True)
class StudyArea:
    """Everything that defines one analysis, so that it can be re-run exactly.

    Attributes
    ----------
    name
        A title for tables and maps.
    crs
        Metric CRS for all work (None: the network's UTM zone).
    network_path, population_path, facilities_path
        Input files.
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
    max_snap_m: float = 300.0
    max_edge_m: float | None = 50.0
    population_options: Mapping[str, Any] = field(default_factory=dict)
    facilities_options: Mapping[str, Any] = field(default_factory=dict)
    districts_options: Mapping[str, Any] = field(default_factory=dict)
    age_shares: Mapping[str, float] | None = None
    age_source: str = ""
    cache_dir: Path | None = None
    config: Mapping[str, Any] = field(default_factory=dict, repr=False)

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
        >>> s.kinds["eldercare"].speed_kmh, s.thresholds_min
        (3.6, (5.0, 10.0, 15.0))
        """
        path = Path(path)
        if not path.exists():
            msg = f"study file {path} does not exist."
            raise InputError(msg)
        try:
            cfg = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            msg = f"study file {path} is not valid TOML: {exc}"
            raise InputError(msg) from exc
        unknown = sorted(set(cfg) - _TOP_KEYS)
        if unknown:
            msg = f"study file {path}: unknown section(s) {unknown}; allowed: {sorted(_TOP_KEYS)}."
            raise InputError(msg)
        base = path.parent

        def section(name: str, *, required: bool = False) -> dict[str, Any]:
            value = cfg.get(name, {})
            if not isinstance(value, dict):
                msg = f"study file {path}: [{name}] must be a table."
                raise InputError(msg)
            if required and "path" not in value:
                msg = f"study file {path}: [{name}] needs a path = \"...\"."
                raise InputError(msg)
            return dict(value)

        def file(sec: Mapping[str, Any]) -> Path:
            return (base / str(sec["path"])).resolve()

        net, pop, fac = section("network", required=True), section("population", required=True), section(
            "facilities", required=True
        )
        cov = section("coverage")
        kinds = _kinds_from_config(section("kinds"), path)
        try:
            crs = pyproj.CRS.from_user_input(cfg["crs"]) if "crs" in cfg else None
        except pyproj.exceptions.CRSError as exc:
            msg = f"study file {path}: crs = {cfg['crs']!r} is not a CRS ({exc})."
            raise InputError(msg) from exc
        if crs is not None and not crs.is_projected:
            msg = f"study file {path}: crs must be metric (projected); {crs.to_string()} is not."
            raise InputError(msg)

        shares_cfg = dict(pop.pop("age_shares", {}))
        age_shares: dict[str, float] | None = None
        age_source = str(shares_cfg.pop("source", ""))
        if "census" in shares_cfg:
            census = (base / str(shares_cfg.pop("census"))).resolve()
            code = shares_cfg.pop("code")
            age_shares = age_shares_from_census(census, code)
            age_source = age_source or f"census {census.name}, code {code}"
        if shares_cfg:
            age_shares = {**(age_shares or {}), **{k: float(v) for k, v in shares_cfg.items()}}
        districts = section("districts")
        boundary = section("boundary")
        cache = cfg.get("cache_dir")
        return cls(
            name=str(cfg.get("name", path.parent.name)),
            network_path=file(net),
            population_path=file(pop),
            facilities_path=file(fac),
            crs=crs,
            boundary_path=file(boundary) if "path" in boundary else None,
            districts_path=file(districts) if "path" in districts else None,
            kinds=MappingProxyType(kinds),
            thresholds_min=tuple(float(t) for t in cov.get("thresholds_min", DEFAULT_THRESHOLDS_MIN)),
            max_snap_m=float(net.get("max_snap_m", cov.get("max_snap_m", 300.0))),
            max_edge_m=net.get("max_edge_m", 50.0),
            population_options={k: v for k, v in pop.items() if k not in ("path", "source", "licence")},
            facilities_options={k: v for k, v in fac.items() if k not in ("path", "source", "licence")},
            districts_options={k: v for k, v in districts.items() if k not in ("path", "source", "licence")},
            age_shares=age_shares,
            age_source=age_source,
            cache_dir=(base / str(cache)).resolve() if cache else None,
            config=MappingProxyType(cfg),
        )

    def read_population(self) -> gpd.GeoDataFrame:
        """The population, with age columns from ``age_shares`` where the grid has none."""
        try:
            pop = read_population(self.population_path, **self.population_options)
        except TypeError as exc:
            msg = f"[population] in the study file has an unknown option: {exc}"
            raise InputError(msg) from exc
        if self.age_shares:
            pop = apply_age_shares(pop, self.age_shares, source=self.age_source or "study file")
        return pop

    def read_facilities(self) -> gpd.GeoDataFrame:
        """The facilities, mapped to kinds and de-duplicated as the study file says."""
        try:
            return read_facilities(self.facilities_path, **self.facilities_options)
        except TypeError as exc:
            msg = f"[facilities] in the study file has an unknown option: {exc}"
            raise InputError(msg) from exc

    def read_districts(self) -> gpd.GeoDataFrame | None:
        """District polygons with a ``district`` column, or None."""
        if self.districts_path is None:
            return None
        return read_districts(self.districts_path, **self.districts_options)

    def read_boundary(self) -> gpd.GeoDataFrame | None:
        """The study-area boundary, or None."""
        return read_boundary(self.boundary_path) if self.boundary_path else None


def _kinds_from_config(cfg: Mapping[str, Any], path: Path) -> dict[str, FacilityKind]:
    """Kinds from ``[kinds.<name>]`` tables; a default kind's values fill what is not given.

    With no ``[kinds]`` table at all, the four default kinds are used.
    """
    if not cfg:
        return dict(DEFAULT_KINDS)
    kinds = {}
    for name, spec in cfg.items():
        if not isinstance(spec, dict):
            msg = f"study file {path}: [kinds.{name}] must be a table."
            raise InputError(msg)
        try:
            kinds[name] = kind_from_dict(name, spec, base=DEFAULT_KINDS.get(name))
        except (TypeError, ValueError) as exc:
            msg = f"study file {path}: [kinds.{name}]: {exc}"
            raise InputError(msg) from exc
    return kinds
