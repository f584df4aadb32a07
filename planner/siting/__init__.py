"""Where new facilities should go: candidates, a sparse coverage matrix, MCLP / LSCP / p-median.

The models work on a sparse cell × candidate matrix built from bounded network searches
(pairs beyond the walking limit are never stored) with cells of identical candidate sets
merged. Existing facilities stay where they are and the people they already cover are
not counted again. A lazy greedy gives an instant answer and a warm start; HiGHS (highspy,
or scipy's copy of HiGHS) then proves the optimum or reports the bound and the gap, always
measured on the part the new sites add (newly covered people), not on a total that
includes the people who were covered before.

Modules, bottom up: :mod:`~planner.siting.candidates`, :mod:`~planner.siting.problem`,
:mod:`~planner.siting.greedy`, :mod:`~planner.siting.mip` (the HiGHS backend),
:mod:`~planner.siting.reduce` (exact set-cover reductions, Lagrangian bounds),
:mod:`~planner.siting.units` (per-unit rules), :mod:`~planner.siting.result`, one module per model
(:mod:`~planner.siting.mclp`, :mod:`~planner.siting.cmclp`, :mod:`~planner.siting.lscp`,
:mod:`~planner.siting.pmedian`, :mod:`~planner.siting.phased`, :mod:`~planner.siting.shared`) and
the registry :mod:`~planner.siting.models`.
"""

from planner.siting.candidates import candidate_sites, demand_candidates, read_candidates
from planner.siting.lscp import solve_lscp
from planner.siting.mclp import solve_mclp
from planner.siting.models import MODELS, SitingModel, solve_siting
from planner.siting.phased import solve_phased
from planner.siting.pmedian import solve_p_median
from planner.siting.problem import SitingProblem
from planner.siting.result import SitingResult
from planner.siting.shared import SharedProblem, solve_shared

__all__ = [
    "MODELS",
    "SharedProblem",
    "SitingModel",
    "SitingProblem",
    "SitingResult",
    "candidate_sites",
    "demand_candidates",
    "read_candidates",
    "solve_lscp",
    "solve_mclp",
    "solve_p_median",
    "solve_phased",
    "solve_shared",
    "solve_siting",
]
