"""Per-unit rules: at least / at most so many sites in each unit of a column (street, community).

"A comprehensive eldercare centre in every street, a station in every community": a unit
column names each candidate's unit (its own column, else the unit of the nearest cell, which
:meth:`~planner.siting.problem.SitingProblem.from_coverage` copies from the population with
``unit_columns=``). Existing facilities of the kind count towards the minimum of the unit they
stand in; the rule then asks for ``need_u = max(0, min − existing_u)`` new sites in unit ``u``
and allows at most ``max − existing_u``. Units are those of the cells with target people and
those of the candidates. A combination that cannot be met is explained: which unit has too few
candidates, or how many sites the minimums need against the number asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.spatial import cKDTree

from planner._validate import row_list
from planner.errors import InputError
from planner.kinds import KIND
from planner.siting.greedy import greedy_coverage
from planner.siting.problem import CoverModel, SitingProblem


@dataclass(frozen=True)
class UnitRule:
    """The rule as the models see it: candidate × unit membership, need and room per unit."""

    column: str
    units: np.ndarray  # unit labels
    member: sparse.csr_matrix  # units × candidates, 1 where the candidate is in the unit
    existing: np.ndarray  # existing facilities per unit
    need: np.ndarray  # new sites needed per unit (>= 0)
    room: np.ndarray  # new sites allowed per unit (inf: no maximum)
    min_per_unit: int | None
    max_per_unit: int | None

    @property
    def active(self) -> np.ndarray:
        """Units with a need or a maximum that can bind."""
        return (self.need > 0) | np.isfinite(self.room)

    def rows(self, cols: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
        """Constraint rows over the columns ``cols``: ``need ≤ Σ_{j ∈ u} x_j ≤ room``."""
        act = np.flatnonzero(self.active)
        return self.member[act][:, cols].tocsr(), self.need[act].astype(float), self.room[act].astype(float)

    def table(self, chosen: np.ndarray) -> pd.DataFrame:
        """Per unit: candidates, existing, new sites, and the rule."""
        new = (
            np.asarray(self.member[:, np.asarray(chosen, np.int64)].sum(axis=1)).ravel() if len(chosen) else 0
        )
        return pd.DataFrame({
            "unit_column": self.column, "unit": self.units,
            "candidates": np.diff(self.member.indptr), "existing": self.existing, "new_sites": new,
            "min_per_unit": self.min_per_unit, "max_per_unit": self.max_per_unit,
        })  # fmt: skip


def _nearest_cell_labels(problem: SitingProblem, column: str, geoms: np.ndarray) -> np.ndarray:
    cells = problem.cells
    xy = shapely.get_coordinates(cells.geometry.representative_point().to_numpy())
    _, near = cKDTree(xy).query(shapely.get_coordinates(geoms))
    return cells[column].to_numpy(object)[near]


def candidate_units(problem: SitingProblem, column: str, model: str) -> np.ndarray:
    """Each candidate's unit: its own ``column``, else the nearest cell's (NaN-like when unknown)."""
    if column in problem.candidates.columns:
        return problem.candidates[column].to_numpy(object)
    cells = problem.cells
    has_geo = "geometry" in cells.columns and problem.candidates.geometry.notna().all()
    if column in cells.columns and has_geo and len(cells):
        return _nearest_cell_labels(problem, column, problem.candidates.geometry.to_numpy())
    msg = (
        f"model {model!r}: unit_column {column!r} is neither a column of the candidates nor of the cells; "
        f"give the population a {column!r} column (unit_columns=[{column!r}]) or the candidates file one."
    )
    raise InputError(msg)


def _existing_units(problem: SitingProblem, column: str) -> np.ndarray:
    """Unit of each existing facility of the kind (nearest cell), when the problem knows them."""
    cov = problem.coverage
    if cov is None or problem.kind is None or column not in problem.cells.columns:
        return np.zeros(0, object)
    fac = cov.facilities
    if column in fac.columns:
        return fac.loc[fac[KIND] == problem.kind.name, column].to_numpy(object)
    fac = fac[(fac[KIND] == problem.kind.name) & fac.geometry.notna()]
    if not len(fac):
        return np.zeros(0, object)
    return _nearest_cell_labels(problem, column, fac.geometry.to_crs(problem.cells.crs).to_numpy())


def unit_rule(
    problem: SitingProblem, model: str, *, unit_column: str | None, min_per_unit: int | None,
    max_per_unit: int | None, k: int | None = None,
) -> UnitRule | None:  # fmt: skip
    """The per-unit rule of a model's options (None when none is given), checked and explained.

    Raises
    ------
    InputError
        When the options do not fit together or the rule cannot be met.
    """
    if unit_column is None:
        if min_per_unit is not None or max_per_unit is not None:
            msg = f"model {model!r}: min_per_unit / max_per_unit need unit_column (e.g. 'street')."
            raise ValueError(msg)
        return None
    if min_per_unit is None and max_per_unit is None:
        msg = f"model {model!r}: unit_column {unit_column!r} needs min_per_unit and/or max_per_unit."
        raise ValueError(msg)
    for name, value in (("min_per_unit", min_per_unit), ("max_per_unit", max_per_unit)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0
        ):
            msg = f"model {model!r}: {name} must be a whole number, 0 or more; got {value!r}."
            raise ValueError(msg)
    if min_per_unit is not None and max_per_unit is not None and max_per_unit < min_per_unit:
        msg = f"model {model!r}: max_per_unit ({max_per_unit}) is below min_per_unit ({min_per_unit})."
        raise ValueError(msg)
    labels = candidate_units(problem, unit_column, model)
    known = pd.notna(labels) & ~problem.candidates.get("snap_ok", pd.Series(True, index=problem.candidates.index)).eq(
        False).to_numpy()  # fmt: skip
    cell_units = (
        problem.cells[unit_column] if unit_column in problem.cells.columns else pd.Series(dtype=object)
    )
    with_people = (
        cell_units[(problem.weights > 0) & cell_units.notna().to_numpy()] if len(cell_units) else cell_units
    )
    units = np.array(sorted({str(u) for u in labels[known]} | {str(u) for u in with_people}), object)
    index = {u: i for i, u in enumerate(units)}
    cols = np.flatnonzero(known)
    member = sparse.csr_matrix((np.ones(len(cols)), ([index[str(u)] for u in labels[cols]], cols)),
                               shape=(len(units), problem.n_candidates))  # fmt: skip
    existing = np.zeros(len(units), np.int64)
    for u in _existing_units(problem, unit_column):
        if pd.notna(u) and str(u) in index:
            existing[index[str(u)]] += 1
    need = np.maximum(0, (min_per_unit or 0) - existing)
    room = (
        np.full(len(units), np.inf)
        if max_per_unit is None
        else np.maximum(0, max_per_unit - existing).astype(float)
    )
    rule = UnitRule(unit_column, units, member, existing, need, room, min_per_unit, max_per_unit)
    _explain(rule, model, k)
    return rule


def _explain(rule: UnitRule, model: str, k: int | None) -> None:
    """Raise a one-line InputError naming what makes the rule impossible."""
    have = np.diff(rule.member.indptr)
    short = np.flatnonzero(rule.need > have)
    if len(short):
        none = [str(u) for u in rule.units[short] if have[rule.units.tolist().index(u)] == 0]
        what = f"no candidate site in {rule.column} {row_list(none)}" if none else (
            f"fewer candidate sites than needed in {rule.column} {row_list(rule.units[short])}")  # fmt: skip
        msg = (f"model {model!r}: min_per_unit={rule.min_per_unit} cannot be met: {what}. Add candidates there "
               "(a candidates file, a smaller spacing) or lower min_per_unit.")  # fmt: skip
        raise InputError(msg)
    total = int(rule.need.sum())
    if k is not None and total > k:
        msg = (f"model {model!r}: min_per_unit={rule.min_per_unit} needs {total} new sites in "
               f"{int((rule.need > 0).sum())} {rule.column} units without enough existing facilities; "
               f"only {k} asked. Ask for {total} or more, or lower min_per_unit.")  # fmt: skip
        raise InputError(msg)


def greedy_with_units(
    model: CoverModel, rule: UnitRule, k: int | None, *, cost: np.ndarray | None = None,
    start: list[int] | None = None,
) -> list[int]:  # fmt: skip
    """Greedy sites that meet the rule: the needs of each unit first (best gain there), then up
    to ``k`` (None: while anything is gained) where the maximum leaves room."""
    chosen = list(start or [])
    member = rule.member.tocsc()
    unit_of = np.full(member.shape[1], -1, np.int64)
    coo = rule.member.tocoo()
    unit_of[coo.col] = coo.row
    count = np.zeros(len(rule.units), np.int64)
    for j in chosen:
        if unit_of[j] >= 0:
            count[unit_of[j]] += 1
    covered = np.zeros(model.a.shape[0], bool)
    csc = model.csc
    for j in chosen:
        covered[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] = True

    def pick(allowed: np.ndarray) -> int | None:
        allowed = np.setdiff1d(allowed, chosen)
        if not len(allowed):
            return None
        gains = np.asarray(csc[:, allowed].T @ np.where(covered, 0.0, model.w)).ravel()
        if cost is not None:
            gains = gains / cost[allowed]
        return int(allowed[int(np.argmax(gains))])

    while (count < rule.need).any():
        u = int(np.flatnonzero(count < rule.need)[0])
        picked = pick(rule.member.indices[rule.member.indptr[u] : rule.member.indptr[u + 1]])
        if picked is None:
            break
        j = picked
        chosen.append(j)
        count[u] += 1
        covered[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] = True
    free = np.flatnonzero((unit_of < 0) | (count[np.maximum(unit_of, 0)] < rule.room[np.maximum(unit_of, 0)]))
    while k is None or len(chosen) < k:
        if not len(free):
            break
        more, gains, _ = greedy_coverage(model, 1, weights=np.where(covered, 0.0, model.w),
                                         allowed=np.setdiff1d(free, chosen), cost=cost)  # fmt: skip
        if not more or gains[0] <= 0:
            break
        j = more[0]
        chosen.append(j)
        covered[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] = True
        if unit_of[j] >= 0:
            count[unit_of[j]] += 1
            if count[unit_of[j]] >= rule.room[unit_of[j]]:
                free = free[unit_of[free] != unit_of[j]]
    return chosen


def unit_dominance_rows(rule: UnitRule | None, a: sparse.csr_matrix) -> sparse.csr_matrix:
    """``a`` with rows appended so that dominance stays exact under the rule: one row per unit
    (a column dominates only columns of its own unit), and one row per column of a unit that
    needs two or more new sites (such a column is never dropped: the unit may need it even
    next to the column that dominates it)."""
    if rule is None:
        return a
    many = np.flatnonzero(rule.need >= 2)
    cols = np.unique(rule.member[many].indices) if len(many) else np.zeros(0, np.int64)
    marks = sparse.csr_matrix(
        (np.ones(len(cols)), (np.arange(len(cols)), cols)), shape=(len(cols), a.shape[1])
    )
    return sparse.vstack([a, rule.member, marks], format="csr")
