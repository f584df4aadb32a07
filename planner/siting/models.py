"""The siting models, registered in one table: adding a model is one entry in :data:`MODELS`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any

from planner.siting.lscp import solve_lscp
from planner.siting.mclp import solve_mclp
from planner.siting.phased import solve_phased
from planner.siting.pmedian import solve_p_median
from planner.siting.problem import SitingProblem
from planner.siting.result import SitingResult
from planner.siting.shared import SharedProblem, solve_shared

#: Options every model takes.
COMMON_OPTIONS = frozenset({"time_limit_s", "mip_gap", "solver", "seed", "progress"})

#: Per-unit rules (see :mod:`planner.siting.units`).
UNIT_OPTIONS = frozenset({"unit_column", "min_per_unit", "max_per_unit"})


@dataclass(frozen=True)
class SitingModel:
    """One siting model: its function, what its objective counts, and the options it takes.

    Attributes
    ----------
    name
        The model's name in study files and on the command line.
    solve
        ``solve(problem, k, **options)`` when ``needs_k``, else ``solve(problem, **options)``.
    needs_k
        Whether the model takes the number of new sites.
    options
        Keyword options it takes besides :data:`COMMON_OPTIONS`.
    objective
        What its objective counts, for tables and messages.
    requires
        Options it cannot do without (e.g. ``phases``).
    kinds
        ``"one"``: it sites one kind (a :class:`SitingProblem`); ``"several"``: several kinds
        together (a :class:`~planner.siting.shared.SharedProblem`).
    """

    name: str
    solve: Callable[..., SitingResult]
    needs_k: bool
    options: frozenset[str]
    objective: str
    requires: frozenset[str] = frozenset()
    kinds: str = "one"


MODELS: Mapping[str, SitingModel] = MappingProxyType({
    m.name: m
    for m in (
        SitingModel("mclp", solve_mclp, True, frozenset({"budget"}) | UNIT_OPTIONS, "most newly covered people"),
        SitingModel("cmclp", partial(solve_mclp, capacitated=True), True,
                    frozenset({"budget", "people_per_unit", "sizes"}),
                    "most newly served people (within reach and capacity)"),
        SitingModel("lscp", solve_lscp, False, frozenset({"share"}) | UNIT_OPTIONS, "fewest sites for the coverage goal"),
        SitingModel("pmedian", solve_p_median, True, frozenset(), "least walking time"),
        SitingModel("phased", solve_phased, False, frozenset({"phases", "phase_weights"}),
                    "most newly covered people summed over the phases (nested build order)",
                    requires=frozenset({"phases"})),
        SitingModel("shared", solve_shared, True, frozenset({"kind_weights", "kind_cost", "site_cost", "budget"}),
                    "most newly covered people summed over several kinds (shared centres)", kinds="several"),
    )
})  # fmt: skip


def siting_model(name: str) -> SitingModel:
    """The registered model called ``name``, or a ValueError listing the models.

    Parameters
    ----------
    name
        A key of :data:`MODELS`.

    Returns
    -------
    SitingModel
    """
    if name not in MODELS:
        msg = f"model must be one of {list(MODELS)}; got {name!r}."
        raise ValueError(msg)
    return MODELS[name]


def check_model_options(name: str, *, k: int | None, options: Mapping[str, Any]) -> SitingModel:
    """The model, after checking that it takes ``k`` (or not) and every option given.

    Parameters
    ----------
    name
        The model.
    k
        Number of new sites, or None.
    options
        The options that will be passed (None values count as not given).

    Returns
    -------
    SitingModel
    """
    spec = siting_model(name)
    given = {key for key, value in options.items() if value is not None}
    unknown = sorted(given - COMMON_OPTIONS - spec.options)
    if unknown:
        takes = sorted(COMMON_OPTIONS | spec.options)
        msg = f"model {name!r} does not take {unknown}; it takes {takes}."
        raise ValueError(msg)
    missing = sorted(spec.requires - given)
    if missing:
        msg = f"model {name!r} needs {missing}."
        raise ValueError(msg)
    if spec.needs_k and k is None:
        msg = f"model {name!r} needs the number of new sites (k; CLI --new N, study file new = N)."
        raise ValueError(msg)
    if not spec.needs_k and k is not None:
        msg = f"model {name!r} does not take k (the number of new sites): it finds how many are needed."
        raise ValueError(msg)
    return spec


def solve_siting(
    problem: SitingProblem | SharedProblem,
    model: str = "mclp",
    *,
    k: int | None = None,
    share: float | None = None,
    **options: Any,
) -> SitingResult:
    """Run one registered model by name (for the CLI, study files and the pipeline).

    Parameters
    ----------
    problem
        The siting problem (a :class:`~planner.siting.shared.SharedProblem` for ``"shared"``).
    model
        A name in :data:`MODELS`: ``"mclp"``, ``"cmclp"``, ``"lscp"``, ``"pmedian"``,
        ``"phased"`` or ``"shared"``.
    k
        Number of new sites (every model but ``lscp``).
    share
        Coverage goal of the LSCP (see :func:`~planner.siting.lscp.solve_lscp`).
    **options
        Passed to the model's function (``time_limit_s``, ``mip_gap``, ``solver``, ``seed``,
        and the model's own, e.g. ``budget``); an option the model does not take is an error.

    Returns
    -------
    SitingResult
    """
    given = {key: value for key, value in {**options, "share": share}.items() if value is not None}
    spec = check_model_options(model, k=k, options=given)
    if spec.needs_k:
        return spec.solve(problem, k, **given)
    return spec.solve(problem, **given)
