"""planner: who can walk to a community facility within 15 minutes, and where the next should go."""

from __future__ import annotations

from planner import _deprecated
from planner._version import __version__
from planner.access import Access, compute_access, two_step_fca
from planner.areas import service_area_polygons
from planner.coverage import Coverage, compute_coverage
from planner.errors import InputError, NetworkError, PlannerError, SolverError
from planner.i18n import english_columns, localise_table
from planner.indicators import INDICATORS
from planner.io import (
    merge_duplicate_facilities,
    read_boundary,
    read_districts,
    read_facilities,
    read_population,
    read_street_names,
    write_layer,
    write_run_record,
    write_table,
)
from planner.kinds import DEFAULT_KINDS, FacilityKind
from planner.maps import coverage_map, map_html, save_map, show_map, siting_map
from planner.network import Snapped, WalkNetwork, travel_matrix_m
from planner.pipeline import StudyInputs, StudyResult, datum_hint, load_inputs, run_study, write_study_result
from planner.places import nearest_street_names
from planner.population import (
    Projection,
    age_shares_from_census,
    apply_age_shares,
    assign_units,
    grid_from_points,
    project_population,
    spread_population,
)
from planner.report import write_report
from planner.scale import DistrictSitingResult, compute_coverage_tiled, plan_tiles, solve_mclp_by_district
from planner.scenario import Comparison, Scenario, apply_scenario, compare, read_added, read_removed
from planner.siting import (
    MODELS,
    SitingProblem,
    SitingResult,
    candidate_sites,
    demand_candidates,
    read_candidates,
    solve_lscp,
    solve_mclp,
    solve_p_median,
    solve_siting,
)
from planner.study import MapSettings, SitingSettings, StudyArea, TargetSettings
from planner.targets import Target, TargetReport, TargetSet, evaluate_targets, read_targets

__all__ = [
    "DEFAULT_KINDS",
    "INDICATORS",
    "MODELS",
    "Access",
    "Comparison",
    "Coverage",
    "DistrictSitingResult",
    "FacilityKind",
    "InputError",
    "MapSettings",
    "NetworkError",
    "PlannerError",
    "Projection",
    "Scenario",
    "SitingProblem",
    "SitingResult",
    "SitingSettings",
    "Snapped",
    "SolverError",
    "StudyArea",
    "StudyInputs",
    "StudyResult",
    "Target",
    "TargetReport",
    "TargetSet",
    "TargetSettings",
    "WalkNetwork",
    "__version__",
    "age_shares_from_census",
    "apply_age_shares",
    "apply_scenario",
    "assign_units",
    "candidate_sites",
    "compare",
    "compute_access",
    "compute_coverage",
    "compute_coverage_tiled",
    "coverage_map",
    "datum_hint",
    "demand_candidates",
    "english_columns",
    "evaluate_targets",
    "grid_from_points",
    "load_inputs",
    "localise_table",
    "map_html",
    "merge_duplicate_facilities",
    "nearest_street_names",
    "plan_tiles",
    "project_population",
    "read_added",
    "read_boundary",
    "read_candidates",
    "read_districts",
    "read_facilities",
    "read_population",
    "read_removed",
    "read_street_names",
    "read_targets",
    "run_study",
    "save_map",
    "service_area_polygons",
    "show_map",
    "siting_map",
    "solve_lscp",
    "solve_mclp",
    "solve_mclp_by_district",
    "solve_p_median",
    "solve_siting",
    "spread_population",
    "travel_matrix_m",
    "two_step_fca",
    "write_layer",
    "write_report",
    "write_run_record",
    "write_study_result",
    "write_table",
]

_deprecated.install()
