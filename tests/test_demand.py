import geopandas as gpd
import numpy as np
import pytest
from conftest import TINY
from shapely.geometry import Point, box

import planner as pl


def test_hand_computed_spread_with_unit_shares():
    units = gpd.GeoDataFrame(
        {"name": ["A", "B"], "population": [300.0, 50.0], "s60": [0.2, 0.5]},
        geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)],
        crs=32650,
    )
    homes = gpd.GeoDataFrame(
        {"floor_m2": [100.0, 200.0, 10.0, 0.0, 99.0]},
        geometry=[Point(10, 10), Point(50, 50), Point(150, 50), Point(160, 50), Point(500, 500)],
        crs=32650,
    )
    out = pl.spread_population(
        units, homes, weight_column="floor_m2", shares={"age_60_plus": "s60", "age_0_3": 0.03}
    )
    np.testing.assert_allclose(out["population"], [100, 200, 50, 0, 0])
    np.testing.assert_allclose(out["age_60_plus"], [20, 40, 25, 0, 0])
    np.testing.assert_allclose(out["age_0_3"], [3, 6, 1.5, 0, 0])
    assert out["unit"].tolist()[:4] == ["A", "A", "B", "B"]
    assert out["unit"].isna().tolist() == [False] * 4 + [True]


def test_unit_without_buildings_warns_with_its_name():
    units = gpd.GeoDataFrame(
        {"name": ["A", "Empty"], "population": [10.0, 99.0]},
        geometry=[box(0, 0, 10, 10), box(20, 0, 30, 10)],
        crs=32650,
    )
    homes = gpd.GeoDataFrame(geometry=[box(1, 1, 2, 2)], crs=32650)
    with pytest.warns(UserWarning, match=r"\[Empty\]; their 99 people"):
        out = pl.spread_population(units, homes)
    assert out["population"].sum() == pytest.approx(10.0)


def test_bad_shares_and_points_without_weight():
    units = gpd.GeoDataFrame({"name": ["A"], "population": [1.0]}, geometry=[box(0, 0, 10, 10)], crs=32650)
    homes = gpd.GeoDataFrame(geometry=[Point(1, 1)], crs=32650)
    with pytest.raises(pl.InputError, match="weight_column"):
        pl.spread_population(units, homes)
    homes["w"] = 1.0
    with pytest.raises(pl.InputError, match="between 0 and 1"):
        pl.spread_population(units, homes, weight_column="w", shares={"age_60_plus": 1.5})


def test_reproduces_the_bundled_dasymetric_grid():
    """SOURCES.md's model: people ∝ footprint × levels over residential buildings, binned to 100 m."""
    grid = pl.read_population(TINY / "population_grid_100m.gpkg")
    buildings = gpd.read_file(TINY / "buildings_points.gpkg")
    res = buildings[buildings["res_eligible"]].copy()
    res["floor_m2"] = res["area_m2"] * res["levels_used"]
    area = gpd.GeoDataFrame(
        {"name": ["tiny"], "population": [grid["population"].sum()]},
        geometry=[box(*grid.total_bounds)],
        crs=grid.crs,
    )
    spread = pl.spread_population(area, res, weight_column="floor_m2", shares={"age_60_plus": 0.25})
    np.testing.assert_allclose(spread["population"], res["pop_est"], rtol=1e-3, atol=0.02)
    cells = pl.grid_from_points(spread.to_crs(grid.crs), cell_m=100)
    assert cells["population"].sum() == pytest.approx(grid["population"].sum())
    # the stored building points were re-derived in lon/lat, so a few near cell edges bin
    # to the neighbour cell; the rest must match the bundled grid
    same = np.isclose(cells["population"].reindex(grid.index).fillna(0), grid["population"], atol=0.05)
    assert same.mean() > 0.95
    assert cells["age_60_plus"].sum() == pytest.approx(0.25 * grid["population"].sum())
    # the cells are real 100 m squares aligned like the bundled grid
    assert np.allclose(cells.geometry.area, 10_000)
    common = cells.index.intersection(grid.index)
    assert cells.geometry[common].geom_equals_exact(grid.geometry[common], tolerance=1e-6).all()


def test_demand_command_with_census_codes(tmp_path, capsys):
    from conftest import DATA

    from planner.cli import main

    units = gpd.GeoDataFrame(
        {"name": ["Gusu", "Feidong"], "code": [320508, 340122], "population": [1000.0, 500.0]},
        geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)],
        crs=32650,
    )
    homes = gpd.GeoDataFrame(
        geometry=[box(10, 10, 60, 60), box(500, 500, 520, 520), box(1500, 10, 1600, 60)], crs=32650
    )
    units.to_file(tmp_path / "units.gpkg")
    homes.to_file(tmp_path / "homes.gpkg")
    out = tmp_path / "grid.gpkg"
    code = main(
        [
            "demand",
            "--units",
            str(tmp_path / "units.gpkg"),
            "--buildings",
            str(tmp_path / "homes.gpkg"),
            "--census",
            str(DATA / "county_census_2020_policy_cities.csv"),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    grid = gpd.read_file(out)
    assert grid["population"].sum() == pytest.approx(1500.0)
    gusu = pl.age_shares_from_census(DATA / "county_census_2020_policy_cities.csv", 320508)
    feidong = pl.age_shares_from_census(DATA / "county_census_2020_policy_cities.csv", 340122)
    assert grid["age_60_plus"].sum() == pytest.approx(
        1000 * gusu["age_60_plus"] + 500 * feidong["age_60_plus"]
    )
    assert "spread 1,500 people" in capsys.readouterr().out


def test_named_index_and_missing_crs_messages():
    units = gpd.GeoDataFrame({"name": ["A"], "population": [10.0]}, geometry=[box(0, 0, 10, 10)], crs=32650)
    homes = gpd.GeoDataFrame({"w": [1.0, 3.0]}, geometry=[Point(1, 1), Point(2, 2)], crs=32650)
    out = pl.spread_population(units.rename_axis("code"), homes.rename_axis("bid"), weight_column="w")
    np.testing.assert_allclose(out["population"], [2.5, 7.5])
    assert out.index.name == "bid"
    with pytest.raises(pl.InputError, match=r"units \(units\) have no CRS; set one"):
        pl.spread_population(units.set_crs(None, allow_override=True), homes, weight_column="w")
