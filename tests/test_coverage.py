import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import REPO, TINY, UTM, lattice_network, networkx_minutes, osmnx_tiny_graph, points

import planner as pl

WALK = {"n": pl.FacilityKind("n", "population", threshold_min=10, speed_kmh=3.6)}  # 60 m/min


def test_hand_computed_minutes_on_the_lattice(lattice):
    cells = points([[300, 300], [130, 20], [0, 0]], population=[10.0, 20.0, 30.0])
    fac = points([[0, -30]], kind=["n"])
    cov = pl.compute_coverage(lattice, cells, fac, kinds=WALK, thresholds_min=(5, 10, 15))
    leg = math.hypot(30, 20)  # cell (130, 20) snaps to node (100, 0)
    expected = [(30 + 600) / 60, (30 + 100 + leg) / 60, (30 + 0) / 60]
    np.testing.assert_allclose(cov.minutes["n"], expected, atol=1e-9)
    assert cov.nearest["n"].tolist() == [0, 0, 0]
    # within 5 and 10 min: the two near cells (50 of 60 people); (300,300) needs 10.5 min
    s = cov.summary().set_index("minutes")
    assert s.loc[5.0, "covered"] == pytest.approx(50.0)
    assert s.loc[10.0, "share"] == pytest.approx(50 / 60)
    assert s.loc[15.0, "share"] == pytest.approx(1.0)
    assert cov.share("n") == pytest.approx(50 / 60)


def test_path_graph_and_nearest_of_two(tmp_path):
    net = pl.WalkNetwork.from_edges(
        [[i * 100.0, 0] for i in range(5)], range(4), range(1, 5), [100.0] * 4, crs=UTM
    )
    cells = points([[i * 100.0, 0] for i in range(5)], population=[1.0] * 5)
    fac = points([[0, 0], [400, 0]], kind=["n", "n"])
    fac.index = pd.Index(["west", "east"], name="facility_id")
    cov = pl.compute_coverage(net, cells, fac, kinds=WALK, thresholds_min=(5,))
    np.testing.assert_allclose(cov.minutes["n"], [0, 100 / 60, 200 / 60, 100 / 60, 0], atol=1e-6)
    assert cov.nearest["n"].tolist()[:2] == ["west", "west"]
    assert cov.nearest["n"].tolist()[3:] == ["east", "east"]


def test_other_component_is_unreachable():
    xy = [[0, 0], [100, 0], [200, 0], [5000, 0], [5100, 0], [5200, 0]]
    net = pl.WalkNetwork.from_edges(
        xy, [0, 1, 3, 4], [1, 2, 4, 5], [100.0] * 4, crs=UTM, min_component_share=0.0
    )
    cells = points([[200, 0], [5200, 0]], population=[5.0, 7.0])
    fac = points([[0, 0]], kind=["n"])
    cov = pl.compute_coverage(net, cells, fac, kinds=WALK, thresholds_min=(60,))
    assert cov.minutes["n"].iloc[0] == pytest.approx(200 / 60)
    assert np.isinf(cov.minutes["n"].iloc[1])
    assert cov.nearest["n"].iloc[1] is None
    assert cov.summary()["share"].iloc[0] == pytest.approx(5 / 12)


def test_beyond_the_largest_threshold_is_inf(lattice):
    cells = points([[300, 300]], population=[1.0])
    fac = points([[0, 0]], kind=["n"])
    cov = pl.compute_coverage(lattice, cells, fac, kinds=WALK, thresholds_min=(5,))
    assert np.isinf(cov.minutes["n"].iloc[0])  # 10 min > 5 min search limit
    cov = pl.compute_coverage(lattice, cells, fac, kinds=WALK, thresholds_min=(5,), max_minutes=20)
    assert cov.minutes["n"].iloc[0] == pytest.approx(10.0)


@pytest.mark.parametrize("seed", range(5))
def test_coverage_grows_with_threshold_and_with_facilities(make_population, seed):
    net = lattice_network(6)
    rng = np.random.default_rng(seed)
    cells = make_population(60, seed, box=(0, 0, 500, 500))
    fac = points(rng.uniform(0, 500, (3, 2)), kind=["n"] * 3)
    kinds = {"n": pl.FacilityKind("n", "population", speed_kmh=3.6)}
    cov = pl.compute_coverage(net, cells, fac, kinds=kinds, thresholds_min=(2, 4, 6, 8, 10))
    shares = cov.summary()["share"].to_numpy()
    assert (np.diff(shares) >= -1e-12).all()
    more = pd.concat([fac, points(rng.uniform(0, 500, (1, 2)), kind=["n"])], ignore_index=True)
    cov2 = pl.compute_coverage(net, cells, more, kinds=kinds, thresholds_min=(2, 4, 6, 8, 10))
    assert (cov2.minutes["n"] <= cov.minutes["n"] + 1e-9).all()
    assert (cov2.summary()["covered"].to_numpy() >= cov.summary()["covered"].to_numpy() - 1e-9).all()


@pytest.mark.parametrize(("kind", "speed"), [("nursery", 4.5), ("eldercare", 3.6)])
def test_minutes_agree_with_networkx_on_real_fixture(tiny_population, tiny_facilities, kind, speed):
    net = pl.WalkNetwork.from_osm_file(TINY / "network.osm.bz2", crs=UTM, max_edge_m=None, use_cache=False)
    kinds = {kind: pl.FacilityKind(kind, "population", speed_kmh=speed)}
    fac = tiny_facilities[tiny_facilities["kind"] == kind].to_crs(UTM)
    cov = pl.compute_coverage(net, tiny_population, fac, kinds=kinds, thresholds_min=(5, 10, 15))
    expected = networkx_minutes(osmnx_tiny_graph(), tiny_population, fac, speed_kmh=speed, limit_min=15.0)
    got = cov.minutes[kind].to_numpy()
    assert np.array_equal(np.isinf(got), np.isinf(expected))
    finite = np.isfinite(got)
    assert finite.sum() > 100  # the comparison is not vacuous
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-9, atol=1e-6)


def test_tiny_fixture_shares_are_sane(tiny_network, tiny_population, tiny_facilities):
    cov = pl.compute_coverage(
        tiny_network,
        tiny_population,
        tiny_facilities,
        kinds={k: pl.DEFAULT_KINDS[k] for k in ("eldercare", "nursery")},
    )
    s = cov.summary().set_index(["kind", "minutes"])
    assert 0 < s.loc[("eldercare", 15.0), "share"] < 1
    assert s.loc[("nursery", 15.0), "share"] > s.loc[("nursery", 5.0), "share"]
    # every output is indexed like the population
    for frame in (cov.minutes, cov.nearest, cov.straight_minutes, cov.to_geodataframe()):
        assert frame.index.equals(tiny_population.index)
    gaps = cov.gaps("eldercare")
    assert (gaps["minutes"] > 15).all()
    assert gaps["uncovered"].sum() == pytest.approx(
        s.loc[("eldercare", 15.0), "total"] - s.loc[("eldercare", 15.0), "covered"]
    )


def test_network_time_is_never_shorter_than_straight_line(tiny_network, tiny_population, tiny_facilities):
    cov = pl.compute_coverage(
        tiny_network,
        tiny_population,
        tiny_facilities,
        kinds={k: pl.DEFAULT_KINDS[k] for k in ("eldercare", "nursery")},
    )
    for k in ("eldercare", "nursery"):
        net, line = cov.minutes[k], cov.straight_minutes[k]
        assert (net >= line - 1e-9).all()


def test_las_palmas_reference_result():
    """SOURCES.md's sanity check: 1,200 m over the undirected walk graph -> ~67% eldercare, ~91% nursery."""
    study = pl.StudyArea.from_toml(REPO / "data/las_palmas/study.toml")
    net = pl.WalkNetwork.from_osm_file(study.network_path, crs=study.crs)
    kinds = {
        k: pl.FacilityKind(k, "population", threshold_min=15, speed_kmh=4.8) for k in ("eldercare", "nursery")
    }
    cov = pl.compute_coverage(
        net, study.read_population(), study.read_facilities(), kinds=kinds, thresholds_min=(15,)
    )
    assert cov.share("eldercare") == pytest.approx(0.672, abs=0.05)
    assert cov.share("nursery") == pytest.approx(0.913, abs=0.03)
    assert cov.params["cells_unsnapped"] == 0


def test_districts_summary_adds_up(lattice, make_population):
    import geopandas as gpd
    from shapely.geometry import box

    cells = make_population(40, 1, box=(0, 0, 300, 300))
    districts = gpd.GeoDataFrame(
        {"district": ["west", "east"]}, geometry=[box(-10, -10, 150, 310), box(150, -10, 310, 310)], crs=UTM
    )
    fac = points([[0, 0]], kind=["n"])
    cov = pl.compute_coverage(lattice, cells, fac, kinds=WALK, thresholds_min=(5, 10), districts=districts)
    by = cov.summary(by="district")
    total = cov.summary()
    for t in (5.0, 10.0):
        assert by[by.minutes == t]["covered"].sum() == pytest.approx(
            total[total.minutes == t]["covered"].iloc[0]
        )
    west = by[(by.district == "west") & (by.minutes == 10.0)]["share"].iloc[0]
    east = by[(by.district == "east") & (by.minutes == 10.0)]["share"].iloc[0]
    assert west > east  # the only facility is in the west


# ---------------------------------------------------------------------- bad input
def test_unknown_kind_is_named(lattice):
    fac = points([[0, 0]], kind=["hospital"])
    with pytest.raises(pl.InputError, match=r"unknown kind\(s\) \['hospital'\]"):
        pl.compute_coverage(lattice, points([[0, 0]], population=[1.0]), fac, kinds=WALK)


def test_missing_target_column_says_how_to_fix(lattice):
    cells = points([[0, 0]], population=[1.0])
    fac = points([[0, 0]], kind=["eldercare"])
    with pytest.raises(pl.InputError, match=r"age_60_plus.*age shares"):
        pl.compute_coverage(lattice, cells, fac, kinds={"eldercare": pl.DEFAULT_KINDS["eldercare"]})


@pytest.mark.parametrize("value", [-1.0, np.nan])
def test_bad_population_values(lattice, value):
    cells = points([[0, 0], [100, 0]], population=[1.0, value])
    with pytest.raises(pl.InputError, match=r"rows \[1\]"):
        pl.compute_coverage(lattice, cells, points([[0, 0]], kind=["n"]), kinds=WALK)


def test_missing_crs(lattice):
    cells = points([[0, 0]], population=[1.0]).set_crs(None, allow_override=True)
    with pytest.raises(pl.InputError, match="no CRS"):
        pl.compute_coverage(lattice, cells, points([[0, 0]], kind=["n"]), kinds=WALK)


def test_far_points_warn_and_count_as_uncovered(lattice):
    # inside the network's extent (padded by the snap limit) but 141 m from every street
    cells = points([[0, 0], [-100, -100]], population=[1.0, 1.0])
    with pytest.warns(UserWarning, match=r"1 of 2 rows are farther than 100 m"):
        cov = pl.compute_coverage(lattice, cells, points([[0, 0]], kind=["n"]), kinds=WALK, max_snap_m=100)
    assert np.isinf(cov.minutes["n"].iloc[1])
    assert cov.params["cells_unsnapped"] == 1


def test_cells_beyond_the_network_are_refused_not_counted(lattice):
    """A cell 9 km beyond the streets is another place (or a wrong CRS): counting it as uncovered
    would lower the share silently, so it is an error naming the row."""
    cells = points([[0, 0], [9000, 9000]], population=[1.0, 1.0])
    with pytest.raises(
        pl.InputError, match=r"1 of 2 rows lie outside the study area / network extent: \[1\]"
    ):
        pl.compute_coverage(lattice, cells, points([[0, 0]], kind=["n"]), kinds=WALK)


def test_swapped_lat_lon_is_diagnosed(tiny_network, tiny_population, tiny_facilities):
    wgs = tiny_facilities.to_crs(4326)
    swapped = wgs.set_geometry(gpd.points_from_xy(wgs.geometry.y, wgs.geometry.x), crs=4326)
    with pytest.raises(pl.InputError, match="swapped"):
        pl.compute_coverage(
            tiny_network,
            tiny_population,
            swapped,
            kinds={k: pl.DEFAULT_KINDS[k] for k in ("eldercare", "nursery")},
        )


def test_thresholds_validated(lattice):
    with pytest.raises(ValueError, match="positive"):
        pl.compute_coverage(
            lattice,
            points([[0, 0]], population=[1.0]),
            points([[0, 0]], kind=["n"]),
            kinds=WALK,
            thresholds_min=(0,),
        )
