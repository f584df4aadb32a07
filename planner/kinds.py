"""Facility kinds: who each kind serves, how far they walk, in what unit capacity is counted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from planner._validate import check_in_range

# Column names used across the package, defined once.
POPULATION = "population"
KIND = "kind"
NAME = "name"
CAPACITY = "capacity"
DISTRICT = "district"
AGE_60_PLUS = "age_60_plus"
AGE_0_3 = "age_0_3"
AGE_0_17 = "age_0_17"
AGE_COLUMNS = (AGE_60_PLUS, AGE_0_3, AGE_0_17)
CELL_ID = "cell_id"
FACILITY_ID = "facility_id"
CANDIDATE_ID = "candidate_id"
#: District label of cells and sites outside every district polygon.
NO_DISTRICT = "(outside districts)"
#: Scope label of a whole-area row in per-district tables.
ALL = "(all)"

# Defaults used by several modules, defined once.
DEFAULT_THRESHOLDS_MIN = (5.0, 10.0, 15.0)
#: Longest walk planner searches, in minutes: beyond it "coverage" means nothing for walking.
MAX_MINUTES = 240.0
#: Farthest a cell, facility or candidate may be from a usable street, in metres.
DEFAULT_MAX_SNAP_M = 300.0
#: Longest network piece after splitting, in metres (snapping error is at most half of it).
DEFAULT_MAX_EDGE_M = 50.0
#: Facilities of one kind with matching names this close are one place (OSM node + way + relation).
DEFAULT_MERGE_WITHIN_M = 60.0
#: Spacing of network candidate sites, in metres.
DEFAULT_SPACING_M = 100.0


@dataclass(frozen=True)
class FacilityKind:
    """One kind of facility and the walk its users make.

    Parameters
    ----------
    name
        Identifier used in the ``kind`` column of the facilities, e.g. ``"eldercare"``.
    target_column
        Population column counting the people this kind serves, e.g. ``"age_60_plus"``.
    threshold_min
        The planning threshold in minutes (the "15-minute circle").
    speed_kmh
        Walking speed of the people who walk there, in km/h.
    capacity_unit
        What ``capacity`` counts for this kind (``"beds"``, ``"slots"``…), or None.
    label_en, label_zh
        Human labels for tables and maps.

    Examples
    --------
    >>> k = FacilityKind("eldercare", "age_60_plus", threshold_min=15, speed_kmh=3.6)
    >>> k.reach_m()
    900.0
    """

    name: str
    target_column: str
    threshold_min: float = 15.0
    speed_kmh: float = 4.5
    capacity_unit: str | None = None
    label_en: str = ""
    label_zh: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            msg = f"FacilityKind.name must be a non-empty string; got {self.name!r}."
            raise ValueError(msg)
        if not self.target_column or not isinstance(self.target_column, str):
            msg = f"FacilityKind {self.name!r}: target_column must be a non-empty string."
            raise ValueError(msg)
        check_in_range(self.threshold_min, f"{self.name}.threshold_min", 0.1, MAX_MINUTES)
        check_in_range(self.speed_kmh, f"{self.name}.speed_kmh", 0.5, 30)

    def reach_m(self, minutes: float | None = None) -> float:
        """Metres walked in ``minutes`` (default: the kind's threshold) at the kind's speed."""
        m = self.threshold_min if minutes is None else minutes
        return float(m) * self.speed_kmh * 1000.0 / 60.0

    @property
    def label(self) -> str:
        """English label, falling back to the name."""
        return self.label_en or self.name


# Speeds: elderly ~3.6 km/h is a common planning value; parents walking to a nursery and
# children walking to a children's home use an adult 4.5 km/h.
DEFAULT_KINDS: Mapping[str, FacilityKind] = MappingProxyType(
    {
        "eldercare": FacilityKind(
            "eldercare", AGE_60_PLUS, 15, 3.6, "beds", "Eldercare centre", "养老服务设施"
        ),
        "nursery": FacilityKind("nursery", AGE_0_3, 15, 4.5, "slots", "Nursery", "托育机构"),
        "meal_site": FacilityKind(
            "meal_site", AGE_60_PLUS, 15, 3.6, "seats", "Elderly meal site", "老年助餐点"
        ),
        "childrens_home": FacilityKind(
            "childrens_home", AGE_0_17, 15, 4.5, None, "Children's home", "儿童之家"
        ),
    }
)


def kind_from_dict(name: str, spec: Mapping[str, Any], *, base: FacilityKind | None = None) -> FacilityKind:
    """Build a FacilityKind from a TOML table, starting from ``base`` (a default) if given."""
    allowed = {"target_column", "threshold_min", "speed_kmh", "capacity_unit", "label_en", "label_zh"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        msg = f"kind {name!r} has unknown key(s) {unknown}; allowed: {sorted(allowed)}."
        raise ValueError(msg)
    for key, value in spec.items():
        number = key in ("threshold_min", "speed_kmh")
        if (
            (isinstance(value, bool) or not isinstance(value, int | float))
            if number
            else not isinstance(value, str)
        ):
            msg = f"kind {name!r}: {key} must be {'a number' if number else 'text'}; got {value!r}."
            raise ValueError(msg)
    values: dict[str, Any] = {}
    if base is not None:
        values = {k: getattr(base, k) for k in allowed}
    values.update(spec)
    if "target_column" not in values:
        msg = f"kind {name!r} needs a target_column (e.g. 'age_60_plus' or 'population')."
        raise ValueError(msg)
    return FacilityKind(name=name, **values)
