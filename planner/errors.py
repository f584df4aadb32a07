"""Exceptions that planner raises on purpose."""

from __future__ import annotations


class PlannerError(Exception):
    """Base class for every error that planner raises on purpose.

    ``zh`` is the same message in Chinese, for the errors a Chinese user meets first (files,
    encodings, columns, coordinates); the command line shows it with ``--lang zh``.
    """

    def __init__(self, *args: object, zh: str | None = None) -> None:
        super().__init__(*args)
        self.zh = zh

    def text(self, lang: str = "en") -> str:
        """The message in ``lang`` (English when there is no Chinese one)."""
        return self.zh if lang == "zh" and self.zh else str(self)


class InputError(PlannerError, ValueError):
    """Input data break the data contract (columns, CRS, geometry type, duplicate ids)."""


class NetworkError(PlannerError):
    """The walk network cannot be built, or points cannot be snapped to it."""


class SolverError(PlannerError, RuntimeError):
    """A siting model ended without a usable answer (infeasible, or time limit with no solution)."""
