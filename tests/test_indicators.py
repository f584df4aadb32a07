"""The plan indicators on a lattice town whose every answer is worked out by hand in the comments."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, points

import planner as pl
from planner.indicators import INDICATORS, Target, ceil_needed
from planner.population import CENSUS_BANDS, Projection, project_ages
from planner.targets import ALL, TargetSet, check_nested, evaluate_targets, read_targets

KINDS = {
    "eldercare": pl.FacilityKind(
        "eldercare", "population", threshold_min=2, speed_kmh=6.0, capacity_unit="beds"
    )
}


@pytest.fixture(scope="module")
def town(lattice):
    """Five cells on the 100 m lattice, one block = one minute; eldercare at (0,0) and (300,0).

    cell  xy         people  community street district urban  minutes to the nearest centre
    c0    (0,0)        100   a         X      N        yes    0
    c1    (100,100)    100   a         X      N        yes    2
    c2    (300,0)      200   b         X      N        yes    0
    c3    (0,300)       50   c         Y      S        no     3
    c4    (300,300)     50   d         Y      S        no     3
    """
    cells = points(
        [[0, 0], [100, 100], [300, 0], [0, 300], [300, 300]],
        population=[100.0, 100, 200, 50, 50],
        age_60_plus=[20.0, 20, 40, 10, 10],
        district=["N", "N", "N", "S", "S"],
        community=["a", "a", "b", "c", "d"],
        street=["X", "X", "X", "Y", "Y"],
        urban=[True, True, True, False, False],
    )
    fac = points(
        [[0, 0], [300, 0]],
        kind=["eldercare", "eldercare"],
        capacity=[3.0, 5.0],
        nursing_beds=[1.0, 4.0],
        doctors=[2.0, 1.0],
        area_m2=[30.0, 10.0],
    )
    return pl.compute_coverage(lattice, cells, fac, kinds=KINDS, thresholds_min=(1, 2, 3))


def measure(cov, *targets, by=None, **kw):
    return evaluate_targets(cov, TargetSet(tuple(targets), by=by, **kw)).table


def test_town_minutes_are_as_drawn(town):
    assert town.minutes["eldercare"].tolist() == pytest.approx([0, 2, 0, 3, 3])


class TestCapacityIndicators:
    def test_total_capacity_whole_area_only(self, town):
        t = measure(town, Target("eldercare", "total_capacity", 10), by="district")
        # 3 + 5 beds against 10: two beds short; a district has no share of a county-wide total
        assert t["scope"].tolist() == [ALL]
        assert (t["current"].iloc[0], t["needed"].iloc[0], t["met"].iloc[0]) == (8.0, 2.0, False)
        assert (t["unit"].iloc[0], t["needed_unit"].iloc[0]) == ("beds", "beds")

    def test_total_of_another_column(self, town):
        t = measure(town, Target("eldercare", "total_capacity", 3, capacity_column="doctors"))
        assert (t["current"].iloc[0], t["met"].iloc[0], t["needed_unit"].iloc[0]) == (3.0, True, "doctors")

    def test_capacity_share(self, town):
        # nursing beds 1 + 4 = 5 of 3 + 5 = 8 beds: 62.5 %; 70 % needs ⌈0.7·8 − 5⌉ = 1 bed converted
        t = measure(town, Target("eldercare", "capacity_share", 70, unit="%", capacity_column="nursing_beds"))
        r = t.iloc[0]
        assert (r["current"], r["target"], r["met"], r["needed"]) == (0.625, pytest.approx(0.7), False, 1.0)
        assert (r["unit"], r["needed_unit"]) == ("share", "nursing_beds")
        assert measure(town, Target("eldercare", "capacity_share", 0.6, capacity_column="nursing_beds"))[
            "met"
        ].iloc[0]

    def test_capacity_share_district_without_beds_is_said(self, town):
        t = measure(
            town, Target("eldercare", "capacity_share", 0.6, capacity_column="nursing_beds"), by="district"
        )
        s = t[t["scope"] == "S"].iloc[0]
        assert np.isnan(s["current"])
        assert "no capacity in scope" in s["note"]

    def test_per_1000_any_columns(self, town):
        # doctors 2 + 1 = 3 per 500 residents = 6.0 per 1,000; 6.5 needs ⌈3.25 − 3⌉ = 1 doctor
        tgt = Target("eldercare", "per_1000", 6.5, capacity_column="doctors", population_column="population")
        t = measure(town, tgt, by="district")
        assert t["current"].tolist() == pytest.approx([6.0, 7.5, 0.0])  # N: 3 per 400; S: none
        assert t["needed"].tolist() == [1.0, 0.0, 1.0]
        assert t["unit"].iloc[0] == "doctors per 1,000 population"

    def test_per_1000_of_target_people_equals_per_1000_target(self, town):
        a = measure(town, Target("eldercare", "per_1000", 10.0), by="district")
        b = measure(town, Target("eldercare", "per_1000_target", 10.0), by="district")
        for col in ("current", "needed", "met", "target_people"):
            assert a[col].tolist() == b[col].tolist()

    def test_per_capita(self, town):
        # 30 + 10 m² over 500 people = 0.08 m² each; 0.1 m² needs 50 − 40 = 10 m²
        tgt = Target("eldercare", "per_capita", 0.1, capacity_column="area_m2", population_column="population",
                     capacity_unit="m²")  # fmt: skip
        r = measure(town, tgt).iloc[0]
        assert (r["current"], r["needed"], r["needed_unit"], r["unit"]) == (
            pytest.approx(0.08),
            10.0,
            "m²",
            "m² per person",
        )


class TestUnits:
    def test_at_least_one(self, town):
        # f1 lies in community a, f2 in b; c and d have none
        t = measure(town, Target("eldercare", "units_with_at_least", 1.0, units="community"))
        assert (t["current"].iloc[0], t["needed"].iloc[0], t["needed_unit"].iloc[0]) == (
            0.5,
            2.0,
            "facilities",
        )

    def test_same_as_units_with_facility(self, town):
        a = measure(town, Target("eldercare", "units_with_at_least", 1.0, units="community"), by="district")
        b = measure(town, Target("eldercare", "units_with_facility", 1.0, unit="community"), by="district")
        for col in ("current", "needed", "met"):
            assert a[col].tolist() == b[col].tolist()

    @pytest.mark.parametrize(("value", "needed"), [(1.0, 6.0), (0.5, 2.0), (0.0, 0.0)])
    def test_n_per_unit_cheapest_units_first(self, town, value, needed):
        # two per community: a and b are one short, c and d two short; half the units → 1 + 1
        r = measure(town, Target("eldercare", "units_with_at_least", value, units="community", n=2)).iloc[0]
        assert (r["current"], r["needed"]) == (0.0, needed)

    def test_max_per_unit(self, town):
        # street X holds 2 (> max 1), Y none: no street conforms; adding one to Y is all that helps
        r = measure(town, Target("eldercare", "units_with_at_least", 1.0, units="street", n=1, max_n=1)).iloc[
            0
        ]
        assert (r["current"], r["needed"]) == (0.0, 1.0)
        assert "1 units hold more than 1" in r["note"]

    def test_subset_of_units(self, town):
        # rural cells only: communities c and d, no facility located there
        tgt = Target("eldercare", "units_with_at_least", 1.0, units="community", where={"urban": False})
        r = measure(town, tgt).iloc[0]
        assert (r["current"], r["needed"]) == (0.0, 2.0)
        rep = evaluate_targets(town, TargetSet((tgt,)))
        assert sorted(rep.blank_zones["zone"]) == ["c", "d"]
        assert rep.blank_zones["facilities"].tolist() == [0.0, 0.0]

    @pytest.mark.parametrize(
        ("minutes", "reach_share", "where", "current"),
        [
            (1, None, None, 0.5),  # a: 100 of 200 within 1 min = half → reached; b reached; c, d not
            (1, 1.0, None, 0.25),  # every person: a is not
            (3, 1.0, None, 1.0),
            (1, None, {"urban": True}, 1.0),  # urban units a and b only
        ],
    )
    def test_units_reached(self, town, minutes, reach_share, where, current):
        tgt = Target("eldercare", "units_reached", 1.0, units="community", minutes=minutes,
                     reach_share=reach_share, where=where)  # fmt: skip
        r = measure(town, tgt).iloc[0]
        assert r["current"] == pytest.approx(current)
        n_units = 2 if where else 4
        assert r["needed"] == round(n_units * (1 - current))
        assert r["needed_unit"] == "units"

    def test_units_reached_brute_force(self, town):
        """Every unit, minutes and share checked against a direct loop over the cells."""
        pop, mins = town.population, town.minutes["eldercare"]
        for col in ("community", "street", "district"):
            for minutes in (1, 2, 3):
                for share in (0.25, 0.5, 0.75, 1.0):
                    reached = [
                        mins[pop[col] == u].le(minutes).mul(pop.loc[pop[col] == u, "population"]).sum()
                        >= share * pop.loc[pop[col] == u, "population"].sum()
                        for u in pop[col].unique()
                    ]
                    tgt = Target(
                        "eldercare", "units_reached", 1.0, units=col, minutes=minutes, reach_share=share
                    )
                    assert measure(town, tgt)["current"].iloc[0] == pytest.approx(np.mean(reached))


def test_percent_and_baseline(town):
    # 400 of 500 within 2 min; 50 % given as a percentage is the share 0.5
    r = measure(town, Target("eldercare", "population_share_within", 50, unit="%", baseline=60)).iloc[0]
    assert (r["target"], r["baseline"], r["current"], r["met"]) == (0.5, 0.6, 0.8, True)
    assert measure(town, Target("eldercare", "population_share_within", 1.0))["needed"].iloc[0] == 100.0


def test_targets_with_a_year_use_the_projected_people(town):
    # cohort: half 55–59, half 60–64; no deaths, no births → by 2025 all are 60+, twice as many
    bands = dict.fromkeys(CENSUS_BANDS, 0.0) | {"AGES_55-59": 0.5, "AGES_60-64": 0.5}
    proj = Projection(census=bands, death_rates_per_1000=0, birth_rate_per_1000=0)
    kinds = {"eldercare": pl.FacilityKind("eldercare", "age_60_plus", threshold_min=2, speed_kmh=6.0)}
    cov = pl.compute_coverage(pl.WalkNetwork.from_edges([[0, 0], [100, 0]], [0], [1], [100.0], crs="EPSG:32628"),
                              points([[0, 0]], population=[100.0], age_60_plus=[40.0]),
                              points([[0, 0]], kind=["eldercare"], capacity=[2.0]), kinds=kinds,
                              thresholds_min=(2,))  # fmt: skip
    tgt = Target("eldercare", "per_1000_target", 40, year=2025, baseline=30)
    r = evaluate_targets(cov, TargetSet((tgt,), projection=proj)).table.iloc[0]
    # now 2 beds per 40 elderly = 50 ‰; in 2025 80 elderly → 25 ‰, so 40 ‰ needs ⌈3.2 − 2⌉ = 2 beds
    assert (r["current"], r["projected"], r["year"], r["baseline"]) == (50.0, 25.0, 2025, 30.0)
    assert (r["met"], r["needed"], r["target_people"]) == (False, 2.0, 80.0)
    assert TargetSet((tgt,), projection=proj).projection is proj


def test_a_year_on_a_real_census(tmp_path, town):
    """Haidian's 2020 bands: the projected value equals today's over the group's own cohort factor."""
    census = (REPO / "data/examples/haidian_census_2020.csv").as_posix()
    path = write(tmp_path, f"""\
        [projection]
        census = "{census}"
        [[target]]
        kind = "eldercare"
        indicator = "per_1000"
        population_column = "age_60_plus"
        value = 100
        year = 2030
        """)  # fmt: skip
    ts = read_targets(path)
    r = evaluate_targets(town, ts).table.iloc[0]
    bands = pd.read_csv(REPO / "data/examples/haidian_census_2020.csv").iloc[0]
    f = project_ages(bands.to_dict(), to_year=2030).factor("age_60_plus")
    assert f > 1  # Haidian ages: more people over 60 in 2030 than in 2020
    assert r["projected"] * f == pytest.approx(r["current"])
    assert r["needed"] == ceil_needed(100 * 100 * f / 1000 - 8)


class TestNesting:
    def test_nested(self, town):
        assert check_nested(town.population, ["community", "street", "district"]) is None

    def test_not_nested_names_both_columns_and_a_unit(self, town):
        problem = check_nested(town.population, ["street", "community"])
        assert problem.startswith("units are not nested: street 'X' lies in community ['a', 'b']")

    def test_from_the_file(self, town, tmp_path):
        path = write(tmp_path, """\
            [units]
            levels = ["street", "community"]
            [[target]]
            kind = "eldercare"
            indicator = "units_with_at_least"
            units = "community"
            value = 1.0
            """)  # fmt: skip
        with pytest.raises(pl.InputError, match=r"targets.toml line 1: units are not nested: street 'X'"):
            evaluate_targets(town, read_targets(path))


def test_units_from_a_boundary_file(town, tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    polys = gpd.GeoDataFrame({"quarter": ["W", "E"], "ward": ["one", "one"]},
                             geometry=[box(-50, -50, 150, 350), box(150, -50, 350, 350)], crs="EPSG:32628")  # fmt: skip
    polys.to_file(tmp_path / "quarters.geojson")
    path = write(tmp_path, """\
        [units]
        path = "quarters.geojson"
        levels = ["quarter", "ward"]
        [[target]]
        kind = "eldercare"
        indicator = "units_with_at_least"
        units = "quarter"
        n = 2
        value = 1.0
        """)  # fmt: skip
    # W holds f1 only, E holds f2 only: neither has two
    r = evaluate_targets(town, read_targets(path)).table.iloc[0]
    assert (r["current"], r["needed"]) == (0.0, 2.0)


def write(tmp_path, text, name="targets.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


BASE = """\
[[target]]
kind = "eldercare"
indicator = "capacity_share"
capacity_column = "nursing_beds"
value = 60
unit = "%"
label = "护理型床位占比"
"""


class TestBadInput:
    @pytest.mark.parametrize(
        ("old", "new", "match"),
        [
            ("value = 60", "value = 160",
             r"targets.toml line 5: capacity_share is a share: value must be between 0 and 100 \(unit = '%'\); got 160 \(target 1: 护理型床位占比\)"),
            ('unit = "%"', 'unit = "%"\nn = 2',
             r"line 7: capacity_share does not take \['n'\]; it takes \[.*\] \(target 1: 护理型床位占比\)"),
            ('capacity_column = "nursing_beds"\n', "",
             r"line 1: capacity_share needs capacity_column = \"nursing_beds\""),
            ('indicator = "capacity_share"', 'indicator = "total_capacity"',
             r"line 6: total_capacity does not take \['unit'\].*shares only"),
            ('unit = "%"', 'unit = "%"\nyear = 2015',
             r"line 7: year = 2015 is before the census year 2020; give a year from 2020 on"),
            ('unit = "%"', 'unit = "%"\nwhere = "urban"', r"line 7: where must be a table of column = value"),
        ],
    )  # fmt: skip
    def test_read(self, tmp_path, old, new, match):
        with pytest.raises(pl.InputError, match=match):
            read_targets(write(tmp_path, BASE.replace(old, new)))

    @pytest.mark.parametrize(
        ("old", "new", "match"),
        [
            ('"nursing_beds"', '"nurses"', r"line 1: facility column 'nurses' does not exist; the facilities have"),
            ('unit = "%"', 'unit = "%"\nwhere = {rural = true}', r"line 1: where column 'rural' is not a population column"),
            ('unit = "%"', 'unit = "%"\nwhere = {district = "W"}', r"line 1: where = \{'district': 'W'\} matches no cell"),
            ('unit = "%"', 'unit = "%"\nyear = 2025', r"line 1: year = 2025 needs a census to project from; add \[projection\]"),
            ('indicator = "capacity_share"\ncapacity_column = "nursing_beds"', 'indicator = "units_reached"\nunits = "street2"',
             r"line 1: unit 'street2' is not a population column; .*pl.assign_units"),
        ],
    )  # fmt: skip
    def test_evaluate(self, town, tmp_path, old, new, match):
        with pytest.raises(pl.InputError, match=match + r".*\(target 1: 护理型床位占比\)"):
            evaluate_targets(town, read_targets(write(tmp_path, BASE.replace(old, new))))

    def test_non_numeric_capacity_column(self, town, tmp_path):
        fac = town.facilities.copy()
        fac["nursing_beds"] = ["1", None]
        cov = pl.Coverage(**{**town.__dict__, "facilities": fac})
        with pytest.raises(
            pl.InputError, match=r"line 1: facility column 'nursing_beds' is not a number ≥ 0 for 1 eldercare"
        ):
            evaluate_targets(cov, read_targets(write(tmp_path, BASE)))

    def test_nothing_written_on_bad_targets(self, tmp_path, capsys):
        from planner.cli import main

        bad = write(tmp_path, BASE.replace('"nursing_beds"', '"nurses"'))
        out = tmp_path / "out"
        tiny = REPO / "tests/data/las_palmas_tiny"
        code = main(["targets", "--targets", str(bad), "--network", str(tiny / "network.osm.bz2"),
                     "--population", str(tiny / "population_grid_100m.gpkg"),
                     "--facilities", str(tiny / "facilities.geojson"), "--kind-column", "category",
                     "--kinds", "eldercare,nursery", "--age-shares", "age_60_plus=0.25,age_0_3=0.03,age_0_17=0.16",
                     "--no-cache", "--out", str(out)])  # fmt: skip
        assert code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1
        assert "targets.toml line 1: facility column 'nurses'" in err[0]
        assert not out.exists()


def test_every_indicator_is_documented():
    doc = (REPO / "docs/indicators.md").read_text(encoding="utf-8")
    for name in INDICATORS:
        assert f"### `{name}`" in doc, name
