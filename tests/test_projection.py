"""Target years (cohort projection of census bands) and unit columns from polygons: hand-computed answers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from conftest import REPO, points
from shapely.geometry import box

import planner as pl
from planner.pipeline import study_projection
from planner.population import (
    CENSUS_BANDS,
    DEATH_RATES_PER_1000_CHINA_2000,
    age_shares_from_census,
    census_row,
    project_ages,
    single_ages,
)

HAIDIAN = REPO / "data/examples/haidian_census_2020.csv"
COUNTIES = REPO / "data/examples/county_census_2020_policy_cities.csv"


def only(**bands):
    return dict.fromkeys(CENSUS_BANDS, 0.0) | {f"AGES_{k.replace('_', '-')}": v for k, v in bands.items()}


def test_single_ages_spread_bands_evenly():
    ages = single_ages(only(**{"0": 0.1, "1_4": 0.4, "85P": 0.5}))
    assert ages[0] == pytest.approx(0.1)
    assert ages[1:5] == pytest.approx([0.1] * 4)
    assert ages[85] == pytest.approx(0.5)
    assert ages.sum() == pytest.approx(1.0)


def test_shift_without_deaths_or_births():
    # everyone 55–59 (ages 55..59 at 0.2 each); after 3 years they are 58..62: ages 60, 61, 62 are 60+
    p = project_ages(only(**{"55_59": 1.0}), to_year=2023, death_rates_per_1000=0, birth_rate_per_1000=0)
    assert p.count("age_60_plus") == pytest.approx(0.6)
    assert p.count("population") == pytest.approx(1.0)
    assert p.factor("age_60_plus") != p.factor("age_60_plus")  # no one was 60+ in 2020: NaN


def test_uniform_deaths_compound():
    p = project_ages(only(**{"30_34": 1.0}), to_year=2025, death_rates_per_1000=10, birth_rate_per_1000=0)
    assert p.count("population") == pytest.approx(0.99**5)


def test_births_enter_age_zero():
    # one year, 10 births per 1,000, no deaths: 1.01 people, 0.01 of them aged 0
    p = project_ages(only(**{"40_44": 1.0}), to_year=2021, death_rates_per_1000=0, birth_rate_per_1000=10)
    assert p.count("population") == pytest.approx(1.01)
    assert p.ages_to[0] == pytest.approx(0.01)
    assert p.count("age_0_3") == pytest.approx(0.01)


def test_open_group_keeps_its_survivors():
    # all 85+: a year at 181.40 per 1,000 leaves 1 − 0.18140 of them, still 85+
    p = project_ages(only(**{"85P": 1.0}), to_year=2021, birth_rate_per_1000=0)
    assert p.ages_to[85] == pytest.approx(1 - DEATH_RATES_PER_1000_CHINA_2000["85P"] / 1000)


def test_migration_scales_the_total():
    base = project_ages(only(**{"20_24": 1.0}), to_year=2030)
    more = project_ages(only(**{"20_24": 1.0}), to_year=2030, migration_factor=1.2)
    assert more.count("population") == pytest.approx(1.2 * base.count("population"))
    assert more.share("age_0_3") == pytest.approx(base.share("age_0_3"))


def test_census_year_reproduces_the_census_shares():
    """Projected to its own year, a census row gives the shares age_shares_from_census reads."""
    for code in (110108,):
        p = project_ages(census_row(HAIDIAN), to_year=2020)
        shares = age_shares_from_census(HAIDIAN, code)
        for col, share in shares.items():
            assert p.share(col) == pytest.approx(share, abs=2e-4)  # the table's rounding


def test_default_birth_rate_is_the_share_aged_zero():
    row = census_row(COUNTIES, code=340122)
    assert project_ages(row, to_year=2025).birth_rate_per_1000 == pytest.approx(1000 * row["AGES_0"])


def test_project_population_keeps_each_cells_age_structure():
    cells = points([[0, 0], [100, 0]], population=[100.0, 100.0], age_60_plus=[10.0, 50.0])
    bands = only(**{"55_59": 0.5, "60_64": 0.5})
    out = pl.project_population(
        cells, census=bands, to_year=2025, death_rates_per_1000=0, birth_rate_per_1000=0
    )
    # the 60+ cohort doubles (0.5 → 1.0) in every cell; age_0_3 was absent: population × 0
    assert out["age_60_plus"].tolist() == [20.0, 100.0]
    assert out["population"].tolist() == [100.0, 100.0]
    assert out["age_0_3"].tolist() == [0.0, 0.0]
    assert "2020 → 2025" in out.attrs["projection"]
    assert cells["age_60_plus"].tolist() == [10.0, 50.0]  # the input is untouched


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"to_year": 2019}, ValueError, "before the census year 2020"),
        ({"to_year": 2025, "migration_factor": 0}, ValueError, "migration_factor must be a positive"),
        ({"to_year": 2025, "death_rates_per_1000": {"0-4": 1}}, ValueError, "needs exactly the bands"),
        ({"to_year": 2025, "death_rates_per_1000": 2000}, ValueError, "between 0 and 1,000"),
    ],
)
def test_projection_checks(kwargs, error, match):
    with pytest.raises(error, match=match):
        project_ages(census_row(HAIDIAN), **kwargs)


def test_census_row_needs_a_code_for_a_table_of_many():
    with pytest.raises(pl.InputError, match="has 38 rows; give code"):
        census_row(COUNTIES)
    with pytest.raises(pl.InputError, match="no row with CODE 999"):
        census_row(COUNTIES, code=999)


def test_study_census_serves_target_years(tmp_path):
    study = pl.StudyArea.from_toml(REPO / "data/las_palmas/study.toml")
    assert study_projection(study) is None
    cfg = {**study.config, "population": {"age_shares": {"census": "../examples/haidian_census_2020.csv"}}}
    proj = study_projection(study.override(config=cfg))
    assert proj is not None
    assert proj.census == HAIDIAN.resolve()


class TestAssignUnits:
    def test_cell_centres_take_their_polygon(self):
        units = gpd.GeoDataFrame({"community": ["a", "b"], "street": ["S", "S"]},
                                 geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs="EPSG:32628")  # fmt: skip
        cells = gpd.GeoDataFrame({"population": [1.0, 2.0, 3.0]},
                                 geometry=[box(10, 10, 30, 30), box(120, 10, 180, 60), box(500, 500, 510, 510)],
                                 crs="EPSG:32628")  # fmt: skip
        with pytest.warns(UserWarning, match=r"1 cells \(3 people\) lie outside every unit polygon"):
            out = pl.assign_units(cells, units.to_crs(4326), columns=["community", "street"])
        assert out["community"].tolist()[:2] == ["a", "b"]
        assert out["community"].isna().tolist() == [False, False, True]
        assert out.index.equals(cells.index)

    def test_missing_column(self):
        units = gpd.GeoDataFrame({"x": [1]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:32628")
        with pytest.raises(pl.InputError, match="missing column"):
            pl.assign_units(units, units, columns=["community"])

    def test_bands_sum_to_one_after_scaling(self):
        assert np.isclose(single_ages(census_row(HAIDIAN)).sum(), 1.0)
