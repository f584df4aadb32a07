"""Exceptions that planner raises on purpose."""

from __future__ import annotations


class PlannerError(Exception):
    """Base class for every error that planner raises on purpose."""


class InputError(PlannerError, ValueError):
    """Input data break the data contract (columns, CRS, geometry type, duplicate ids)."""


class NetworkError(PlannerError):
    """The walk network cannot be built, or points cannot be snapped to it."""


class SolverError(PlannerError, RuntimeError):
    """A siting model ended without a usable answer (infeasible, or time limit with no solution)."""
