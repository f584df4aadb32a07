import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import REPO, UTM, points

import planner as pl
from planner.errors import InputError
from planner.scale.siting import (
    DistrictSitingResult,
    _best_allocation,
    _best_allocation_value,
    _split_budget,
    solve_mclp_by_district,
)
from planner.siting import SitingProblem, solve_mclp

# 100 m/min, 150 m threshold: a site reaches its own node's neighbours only
KIND = pl.FacilityKind("eldercare", "age_60_plus", threshold_min=1.5, speed_kmh=6.0)
GAP_M = 5000.0  # the two lattices are 5 km apart: a site in one cannot reach the other


def two_lattices(n=4, block_m=100.0):
    """Two n × n lattices, the second shifted GAP_M east, joined by one long street."""
    xy, u, v = [], [], []
    for off in (0.0, GAP_M):
        base = len(xy)
        xy += [[off + j * block_m, i * block_m] for i in range(n) for j in range(n)]
        for i in range(n):
            for j in range(n):
                a = base + i * n + j
                if j + 1 < n:
                    u.append(a)
                    v.append(a + 1)
                if i + 1 < n:
                    u.append(a)
                    v.append(a + n)
    u.append(n - 1)
    v.append(n * n)
    lengths = [block_m] * (len(u) - 1) + [GAP_M - (n - 1) * block_m]
    return pl.WalkNetwork.from_edges(np.array(xy, float), u, v, lengths, crs=UTM)


def toy(seed, n_cells=40):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 300, n_cells) + np.where(np.arange(n_cells) % 2, GAP_M, 0.0)
    y = rng.uniform(0, 300, n_cells)
    old = rng.integers(0, 100, n_cells).astype(float)
    pop = points(np.column_stack([x, y]), population=4 * old, age_60_plus=old)
    fac = points(np.array([[0.0, 0.0]]), kind=["eldercare"])
    boxes = [shapely.box(-200, -200, 1000, 600), shapely.box(GAP_M - 200, -200, GAP_M + 1000, 600)]
    districts = gpd.GeoDataFrame({"name": ["west", "east"]}, geometry=boxes, crs=UTM)
    return two_lattices(), pop, fac, districts


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 3, 6])
@pytest.mark.parametrize("split", ["greedy", "exact"])
def test_independent_districts_match_the_whole_area(seed, k, split):
    net, pop, fac, districts = toy(seed)
    r = solve_mclp_by_district(net, pop, fac, KIND, k, districts=districts, district_column="name",
                               spacing_m=1.0, split=split)  # fmt: skip
    whole = solve_mclp(SitingProblem.from_network(net, pop, fac, KIND, spacing_m=1.0), k)
    assert isinstance(r, DistrictSitingResult)
    assert int(r.allocation["k"].sum()) == k
    assert r.objective <= whole.objective + 1e-6
    assert r.bound >= r.objective - 1e-9
    assert r.bound >= whole.objective - 1e-6  # independent: the whole area is the decomposed problem
    if split == "exact":  # dynamic programme on proven district optima: the decomposed optimum
        assert r.objective == pytest.approx(whole.objective)
        assert r.status == "optimal"
    if r.status == "optimal":  # the bound certifies the split: then it is the whole-area optimum
        assert r.objective == pytest.approx(whole.objective)
    # the greedy split is exact for concave curves only; the bound brackets the loss either way
    assert whole.objective - r.objective <= r.bound - r.objective + 1e-6
    assert len(r.sites) <= k
    assert r.sites["gain"].sum() == pytest.approx(r.objective)
    assert r.covered_after == pytest.approx(r.covered_before + r.objective)
    assert set(r.sites["district"]) <= {"west", "east"}
    assert (r.curves.groupby("district")["upper"].diff().dropna() >= -1e-9).all()
    assert (r.curves["upper"] >= r.curves["greedy"] - 1e-9).all()


def test_independent_districts_usually_certified():
    status = []
    for seed in range(4):
        net, pop, fac, districts = toy(seed)
        r = solve_mclp_by_district(net, pop, fac, KIND, 2, districts=districts, district_column="name",
                                   spacing_m=1.0)  # fmt: skip
        whole = solve_mclp(SitingProblem.from_network(net, pop, fac, KIND, spacing_m=1.0), 2)
        assert r.objective == pytest.approx(whole.objective)
        status.append(r.status)
    assert "optimal" in status


def test_split_budget_is_greedy_on_marginal_gains():
    gains = {"a": [10.0, 9.0, 1.0], "b": [8.0, 7.0], "c": []}
    assert _split_budget(gains, {"a": 3, "b": 2, "c": 0}, 3) == {"a": 2, "b": 1, "c": 0}
    assert _split_budget(gains, {"a": 3, "b": 2, "c": 0}, 5) == {"a": 3, "b": 2, "c": 0}


def test_bound_programme_handles_non_concave_curves():
    u = [np.array([0.0, 1.0, 10.0]), np.array([0.0, 4.0, 5.0])]
    assert _best_allocation_value(u, 2) == 10.0
    assert _best_allocation_value(u, 1) == 4.0
    assert _best_allocation(u, 2) == (10.0, [2, 0])
    assert _best_allocation([np.array([0.0, 1.0]), np.array([0.0, 4.0, 5.0])], 3) == (6.0, [1, 2])


def test_bad_arguments():
    net, pop, fac, districts = toy(0)
    with pytest.raises(InputError, match="no column"):
        solve_mclp_by_district(net, pop, fac, KIND, 1, districts=districts)
    with pytest.raises(InputError, match="candidate sites"):
        solve_mclp_by_district(net, pop, fac, KIND, 10_000, districts=districts, district_column="name")
    with pytest.raises(ValueError, match="positive integer"):
        solve_mclp_by_district(net, pop, fac, KIND, 0, districts=districts, district_column="name")
    with pytest.raises(ValueError, match="split"):
        solve_mclp_by_district(net, pop, fac, KIND, 1, districts=districts, district_column="name",
                               split="best")  # fmt: skip
    with pytest.raises(TypeError, match="demand_candidates"):
        solve_mclp_by_district(net, pop, fac, KIND, 1, districts=districts, district_column="name",
                               demand_candidates=3)  # fmt: skip


@pytest.fixture(scope="module")
def las_palmas():
    study = pl.StudyArea.from_toml(REPO / "data" / "las_palmas" / "study.toml")
    net = pl.WalkNetwork.from_osm_file(study.network_path, crs=study.crs, use_cache=False)
    return net, study.read_population(), study.read_facilities(), study.read_districts()


@pytest.mark.slow
def test_las_palmas_eldercare_k5_against_the_whole_area(las_palmas):
    net, pop, fac, districts = las_palmas
    r = solve_mclp_by_district(net, pop, fac, "eldercare", 5, districts=districts, seed=0)
    whole = solve_mclp(SitingProblem.from_network(net, pop, fac, "eldercare"), 5, seed=0)
    assert int(r.allocation["k"].sum()) == 5
    assert r.bound >= r.objective
    assert whole.status == "optimal"
    assert r.objective <= whole.objective + 1e-6
    ratio = r.objective / whole.objective
    print(f"\nLas Palmas eldercare k=5: by district {r.objective:,.0f} (bound {r.bound:,.0f}), "
          f"whole area {whole.objective:,.0f}, ratio {ratio:.3f}")  # fmt: skip
    assert 0.5 < ratio <= 1.0
    exact = solve_mclp_by_district(net, pop, fac, "eldercare", 5, districts=districts, seed=0, split="exact")
    assert r.objective <= exact.objective + 1e-6 <= exact.bound + 2e-6
    assert exact.bound <= r.bound + 1e-6
    assert exact.objective <= whole.objective + 1e-6


def test_dask_threads_equals_serial():
    pytest.importorskip("dask.distributed")
    net, pop, fac, districts = toy(1)
    kw = {"districts": districts, "district_column": "name", "spacing_m": 1.0}
    serial = solve_mclp_by_district(net, pop, fac, KIND, 3, **kw)
    dask = solve_mclp_by_district(net, pop, fac, KIND, 3, scheduler="threads", n_workers=1, **kw)
    assert dask.objective == serial.objective
    assert dask.bound == serial.bound
    assert dask.sites["candidate_id"].tolist() == serial.sites["candidate_id"].tolist()
