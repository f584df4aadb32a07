"""Siting: candidates, the sparse coverage matrix, MCLP / LSCP / p-median against brute force."""

from __future__ import annotations

import argparse
import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import TINY, UTM, distances, lattice_network, points, tiny_study_toml
from scipy.optimize import linprog
from scipy.sparse import csgraph

import planner as pl
from planner import siting as st
from planner.errors import InputError, SolverError
from planner.siting.lscp import lp_dive

SOLVERS = ["highs", "scipy"]


# ---------------------------------------------------------------------- helpers
def random_instance(seed, n_cells=14, n_cand=8, density=0.3, covered_share=0.2):
    rng = np.random.default_rng(seed)
    a = (rng.random((n_cells, n_cand)) < density).astype(float)
    w = rng.integers(0, 100, n_cells).astype(float)
    existing = rng.random(n_cells) < covered_share
    return a, w, existing


def brute_mclp(a, w, existing, k):
    need = ~existing
    best = 0.0
    for s in itertools.combinations(range(a.shape[1]), k):
        hit = a[:, list(s)].sum(axis=1) > 0
        best = max(best, float(w[hit & need].sum()))
    return best


def geo_instance(seed, n_cells=300, n_cand=60, radius=180.0):
    """Cells and candidates in a 1 km square; a candidate covers cells within ``radius``."""
    rng = np.random.default_rng(seed)
    cells = rng.uniform(0, 1000, (n_cells, 2))
    cand = rng.uniform(0, 1000, (n_cand, 2))
    d = distances(cells, cand)
    w = rng.lognormal(3, 1, n_cells).round(1)
    existing = np.hypot(cells[:, 0] - 500, cells[:, 1] - 500) < 150
    return (d <= radius).astype(float), w, existing, d


# ---------------------------------------------------------------------- travel matrix
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shrink", [1.0, 0.8])
def test_travel_matrix_matches_brute_force(seed, shrink):
    """Tiled bounded searches give exactly the full Dijkstra's pairs within the limit."""
    rng = np.random.default_rng(seed)
    n = 12
    base = lattice_network(n, 80.0)
    # detours >= 1, or (shrink < 1) edges shorter than the straight line, which must widen the tiles
    length = base.edges["length_m"].to_numpy() * rng.uniform(1.0, 1.3, len(base.edges)) * shrink
    net = pl.WalkNetwork.from_edges(base.node_xy, base.edges["u"], base.edges["v"], length, crs=UTM)
    src = rng.integers(-1, net.n_nodes, 25)
    dst = rng.integers(-1, net.n_nodes, 60)
    so = rng.uniform(0, 40, len(src))
    to = rng.uniform(0, 40, len(dst))
    limit = 330.0
    got = pl.travel_matrix_m(net, src, dst, limit_m=limit, from_offsets_m=so, to_offsets_m=to, tile_m=150)
    full = csgraph.dijkstra(net.csr, directed=True)
    want = np.full((len(src), len(dst)), np.inf)
    ok = (src[:, None] >= 0) & (dst[None, :] >= 0)
    d = full[np.maximum(src, 0)][:, np.maximum(dst, 0)] + so[:, None] + to[None, :]
    want[ok] = d[ok]
    want[want > limit] = np.inf
    dense = np.full(want.shape, np.inf)
    coo = got.tocoo()
    dense[coo.row, coo.col] = coo.data
    np.testing.assert_allclose(dense, want, rtol=0, atol=1e-6)


def test_travel_matrix_keeps_zero_distance_pairs(lattice):
    m = pl.travel_matrix_m(lattice, [0, 5], [0, 5, 15], limit_m=150)
    assert m.shape == (2, 3)
    assert m[0, 0] > 0
    assert m[0, 0] < 1e-3
    assert m[1, 1] < 1e-3
    assert m[0, 2] == 0  # 600 m away: not stored


# ---------------------------------------------------------------------- exact models vs brute force
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("solver", SOLVERS)
def test_mclp_matches_brute_force(seed, solver):
    a, w, existing = random_instance(seed)
    p = st.SitingProblem.from_coverage_matrix(a, w, existing_covered=existing)
    for k in (1, 2, 3):
        r = st.solve_mclp(p, k, solver=solver)
        assert r.objective == pytest.approx(brute_mclp(a, w, existing, k))
        assert r.status == "optimal"
        assert r.gap <= 1e-9
        assert len(r.sites) <= k


def test_mclp_by_hand():
    # cells: 10 | 10 | 10 | 25 ; site 0 covers cells 0-1, site 1 covers 1-2, site 2 covers 2-3
    a = [[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]]
    p = st.SitingProblem.from_coverage_matrix(a, [10, 10, 10, 25])
    r1 = st.solve_mclp(p, 1)
    assert r1.sites["candidate_id"].tolist() == ["2"]
    assert r1.objective == 35
    r2 = st.solve_mclp(p, 2)
    assert sorted(r2.sites["candidate_id"]) == ["0", "2"]
    assert r2.objective == 55
    assert r2.sites["gain"].tolist() == [35, 20]
    assert r2.sites["cumulative"].tolist() == [35, 55]
    # cell 3 covered already: site 1 (cells 1, 2) is then as good as site 2
    p2 = st.SitingProblem.from_coverage_matrix(a, [10, 10, 10, 25], existing_covered=[0, 0, 0, 1])
    r = st.solve_mclp(p2, 1)
    assert r.objective == 20
    assert r.covered_before == 25
    assert r.covered_after == 45


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("solver", SOLVERS)
def test_lscp_matches_brute_force(seed, solver):
    a, w, existing = random_instance(seed, n_cells=12, n_cand=7, density=0.35)
    w = w + 1  # everybody counts
    p = st.SitingProblem.from_coverage_matrix(a, w, existing_covered=existing)
    coverable = (~existing) & (a.sum(axis=1) > 0)
    best = None
    for size in range(0, a.shape[1] + 1):
        for s in itertools.combinations(range(a.shape[1]), size):
            if (a[:, list(s)].sum(axis=1)[coverable] > 0).all():
                best = size
                break
        if best is not None:
            break
    r = st.solve_lscp(p, solver=solver)
    assert r.objective == best
    assert len(r.sites) == best
    assert r.status == "optimal"
    chosen = [int(c) for c in r.sites["candidate_id"]]
    assert (a[:, chosen].sum(axis=1)[coverable] > 0).all()
    assert r.cells["covered_after"][coverable].all()


@pytest.mark.parametrize("seed", range(4))
def test_lscp_share_matches_brute_force(seed):
    a, w, existing = random_instance(seed, n_cells=12, n_cand=7, density=0.35)
    p = st.SitingProblem.from_coverage_matrix(a, w, existing_covered=existing)
    best_share = (w[existing | (a.sum(axis=1) > 0)].sum()) / w.sum()
    share = float(w[existing].sum() / w.sum() + 0.7 * (best_share - w[existing].sum() / w.sum()))
    need = share * w.sum()
    best = next(
        size for size in range(a.shape[1] + 1)
        if any(w[existing | (a[:, list(s)].sum(axis=1) > 0)].sum() >= need - 1e-9
               for s in itertools.combinations(range(a.shape[1]), size))
    )  # fmt: skip
    r = st.solve_lscp(p, share=share)
    assert r.objective == best
    assert r.covered_after >= need - 1e-6


def test_lscp_costs_choose_the_cheaper_cover():
    a = [[1, 1, 0], [1, 0, 1]]
    p = st.SitingProblem.from_coverage_matrix(a, [1, 1], cost=[10, 1, 1])
    r = st.solve_lscp(p)
    assert sorted(r.sites["candidate_id"]) == ["1", "2"]
    assert r.objective == 2


def brute_pmedian(minutes, w, fallback, k):
    best = 0.0
    for s in itertools.combinations(range(minutes.shape[1]), k):
        now = np.minimum(fallback, minutes[:, list(s)].min(axis=1))
        best = max(best, float((w * (fallback - now)).sum()))
    return best


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("solver", SOLVERS)
def test_pmedian_matches_brute_force(seed, solver):
    rng = np.random.default_rng(seed)
    n, m, limit = 15, 7, 20.0
    minutes = rng.uniform(0, 30, (n, m))
    minutes[minutes > limit] = np.inf
    existing_min = np.where(rng.random(n) < 0.3, rng.uniform(0, 20, n), np.inf)
    w = rng.integers(1, 50, n).astype(float)
    p = st.SitingProblem.from_coverage_matrix(minutes <= 15, w, minutes=minutes, existing_min=existing_min,
                                              threshold_min=15, limit_min=limit)  # fmt: skip
    fallback = np.minimum(existing_min, limit)
    for k in (1, 2, 3):
        r = st.solve_p_median(p, k, solver=solver)
        assert r.objective == pytest.approx(brute_pmedian(minutes, w, fallback, k))
        assert r.status == "optimal"
        before = r.params["mean_minutes_before"] * w.sum()
        assert before - r.params["mean_minutes_after"] * w.sum() == pytest.approx(r.objective)


def brute_cmclp(a, w, existing, cap, k):
    need = np.where(existing, 0.0, w)
    best = 0.0
    for s in itertools.combinations(range(a.shape[1]), k):
        s = list(s)
        pairs = [(i, j) for i in range(a.shape[0]) for j in s if a[i, j] and need[i] > 0]
        if not pairs:
            continue
        n = len(pairs)
        rows = []
        ub = []
        for i in sorted({p[0] for p in pairs}):
            rows.append([1.0 if p[0] == i else 0.0 for p in pairs])
            ub.append(need[i])
        for j in s:
            rows.append([1.0 if p[1] == j else 0.0 for p in pairs])
            ub.append(cap[j])
        res = linprog(-np.ones(n), A_ub=np.array(rows), b_ub=np.array(ub), bounds=(0, None), method="highs")
        best = max(best, -res.fun)
    return best


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("solver", SOLVERS)
def test_capacitated_matches_brute_force(seed, solver):
    a, w, existing = random_instance(seed, n_cells=10, n_cand=6, density=0.4)
    cap = np.random.default_rng(seed + 100).integers(20, 120, a.shape[1]).astype(float)
    p = st.SitingProblem.from_coverage_matrix(a, w, existing_covered=existing, capacity=cap)
    for k in (1, 2):
        r = st.solve_mclp(p, k, capacitated=True, solver=solver)
        assert r.objective == pytest.approx(brute_cmclp(a, w, existing, cap, k), abs=1e-6)
        assert (r.sites["served"] <= r.sites["capacity"] + 1e-6).all()
        # capacity never helps: the uncapacitated optimum is an upper bound
        assert r.objective <= st.solve_mclp(p, k).objective + 1e-6


def test_capacity_in_native_units():
    # one site covers 100 people but has 10 beds; a bed serves 4 people
    p = st.SitingProblem.from_coverage_matrix([[1], [1]], [60, 40], capacity=[10])
    assert st.solve_mclp(p, 1, capacitated=True).objective == pytest.approx(10)
    assert st.solve_mclp(p, 1, capacitated=True, people_per_unit=4).objective == pytest.approx(40)


# ---------------------------------------------------------------------- invariants over seeds
@pytest.mark.parametrize("seed", range(5))
def test_greedy_le_exact_le_bound(seed):
    a, w, existing, _ = geo_instance(seed)
    p = st.SitingProblem.from_coverage_matrix(a, w, existing_covered=existing)
    for k in (3, 8):
        g = st.solve_mclp(p, k, solver="greedy")
        exact = st.solve_mclp(p, k, seed=seed)
        other = st.solve_mclp(p, k, solver="scipy")
        assert exact.status == "optimal"
        assert g.objective <= exact.objective + 1e-6
        assert exact.objective <= exact.bound + 1e-6
        assert exact.objective <= g.bound + 1e-6  # the greedy's own bound is a true bound
        assert other.objective == pytest.approx(exact.objective)
        assert exact.greedy_objective == pytest.approx(g.objective)
        # the table adds up to what was covered, in build order
        s = exact.sites
        np.testing.assert_allclose(s["cumulative"], np.cumsum(s["gain"]))
        assert s["covered"].iloc[-1] == pytest.approx(exact.covered_after)
        assert (np.diff(s["gain"]) <= 1e-9).all()
        assert exact.covered_after - exact.covered_before == pytest.approx(exact.objective)


@pytest.mark.parametrize("seed", range(3))
def test_lscp_exact_le_greedy_and_covers(seed):
    a, w, existing, _ = geo_instance(seed, n_cells=200, n_cand=80)
    p = st.SitingProblem.from_coverage_matrix(a, w, existing_covered=existing)
    g = st.solve_lscp(p, solver="greedy")
    r = st.solve_lscp(p, seed=seed)
    assert r.objective <= g.objective
    assert r.bound <= r.objective
    coverable = (~existing) & (a.sum(axis=1) > 0) & (w > 0)
    assert r.cells["covered_after"][coverable].all()
    assert g.cells["covered_after"][coverable].all()


def test_time_limit_reports_bound_and_gap():
    a, w, existing, _ = geo_instance(7, n_cells=400, n_cand=150, radius=150)
    p = st.SitingProblem.from_coverage_matrix(a, w, existing_covered=existing)
    r = st.solve_lscp(p, time_limit_s=0.01)
    assert r.status in ("optimal", "time_limit")
    assert r.bound <= r.objective + 1e-9
    assert np.isfinite(r.gap) or np.isnan(r.bound)


def test_identical_rows_are_merged():
    a = np.array([[1, 0, 1], [1, 0, 1], [0, 1, 0], [1, 0, 1], [0, 0, 0]])
    p = st.SitingProblem.from_coverage_matrix(a, [1, 2, 3, 4, 5])
    model = p.cover_model
    assert model.a.shape[0] == 2
    assert sorted(model.w.tolist()) == [3.0, 7.0]
    assert model.group[4] == -1  # out of reach: not in the model
    assert p.coverable_population == 10


# ---------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def tiny_problem(tiny_network, tiny_population, tiny_facilities):
    return st.SitingProblem.from_network(tiny_network, tiny_population, tiny_facilities, "eldercare",
                                         spacing_m=150)  # fmt: skip


def recomputed_covered(network, population, facilities, result, kind="eldercare"):
    new = result.to_facilities(kind).to_crs(facilities.crs)
    both = pd.concat([facilities[facilities["kind"] == kind], new])
    k = pl.DEFAULT_KINDS[kind]
    cov = pl.compute_coverage(network, population, both, kinds={kind: k}, thresholds_min=(k.threshold_min,))
    w = cov.population[k.target_column]
    return float(w[cov.minutes[kind] <= k.threshold_min].sum())


@pytest.mark.parametrize("model", ["mclp", "lscp", "pmedian"])
def test_covered_equals_recomputed_coverage(
    tiny_problem, tiny_network, tiny_population, tiny_facilities, model
):
    if model == "lscp":
        r = st.solve_lscp(tiny_problem)
    elif model == "pmedian":
        r = st.solve_p_median(tiny_problem, 2)
    else:
        r = st.solve_mclp(tiny_problem, 3)
    assert r.status == "optimal"
    again = recomputed_covered(tiny_network, tiny_population, tiny_facilities, r)
    assert again == pytest.approx(r.covered_after, rel=1e-9)
    before = tiny_problem.coverage
    k = pl.DEFAULT_KINDS["eldercare"]
    w = before.population[k.target_column]
    assert r.covered_before == pytest.approx(float(w[before.minutes["eldercare"] <= 15].sum()))
    total = r.coverage_after.set_index("district").loc["(all)"]
    assert total["covered_after"] == pytest.approx(r.covered_after)


def test_lscp_covers_every_coverable_cell(tiny_problem, tiny_network, tiny_population, tiny_facilities):
    r = st.solve_lscp(tiny_problem)
    reach = np.diff(tiny_problem.cover.indptr) > 0
    coverable = reach & (tiny_problem.weights > 0)
    assert r.cells["covered_after"].to_numpy()[coverable].all()
    # and no smaller set exists: one site fewer cannot cover everyone
    assert r.bound == r.objective


def test_sites_table_columns_and_coordinates(tiny_problem):
    r = st.solve_mclp(tiny_problem, 3)
    s = r.sites
    for col in ("rank", "candidate_id", "gain", "cumulative", "covered", "share", "x", "y", "lon", "lat"):
        assert col in s.columns
    assert s["rank"].tolist() == list(range(1, len(s) + 1))
    assert s.crs == tiny_problem.candidates.crs
    assert s["lon"].between(-15.5, -15.3).all()
    assert s["lat"].between(28.0, 28.2).all()
    summary = r.summary()
    assert {"objective", "bound", "gap", "status", "seconds"} <= set(summary.columns)
    assert "SitingResult(model='mclp'" in repr(r)


def test_existing_people_not_counted_again(tiny_problem):
    r = st.solve_mclp(tiny_problem, 1)
    new = r.cells["covered_after"] & ~r.cells["covered_before"]
    assert r.objective == pytest.approx(float(tiny_problem.weights[new.to_numpy()].sum()))


def test_candidates_from_file_demand_and_districts(tmp_path, tiny_network, tiny_population, tiny_facilities):
    pts = points([[457290.0, 3111860.0], [457950.0, 3110536.0], [457060.0, 3111058.0]], crs=UTM)
    pts["cost"] = [1.0, 2.0, 1.5]
    pts["capacity"] = [40, 60, None]
    path = tmp_path / "cand.geojson"
    pts.to_crs(4326).to_file(path, driver="GeoJSON")
    cand = st.read_candidates(path)
    assert cand["cost"].tolist() == [1.0, 2.0, 1.5]
    assert np.isnan(cand["capacity"].iloc[2])
    x0, y0, x1, y1 = tiny_population.to_crs(UTM).total_bounds
    mid = (x0 + x1) / 2
    districts = gpd.GeoDataFrame({"district": ["west", "east"]}, crs=UTM, geometry=[
        __import__("shapely").box(x0 - 500, y0 - 500, mid, y1 + 500),
        __import__("shapely").box(mid, y0 - 500, x1 + 500, y1 + 500)])  # fmt: skip
    p = st.SitingProblem.from_network(tiny_network, tiny_population, tiny_facilities, "eldercare",
                                      candidates=cand, demand_candidates=4, seed=1, capacity=30,
                                      districts=districts)  # fmt: skip
    assert (p.candidates["source"] == "file").sum() == 3
    assert 1 <= (p.candidates["source"] == "demand").sum() <= 4
    assert p.candidates["capacity"].tolist()[:3] == [40, 60, 30]
    r = st.solve_mclp(p, 2, budget=2.5)
    assert r.sites["cost"].sum() <= 2.5
    by = r.coverage_after.set_index("district")
    assert {"west", "east", "(all)"} <= set(by.index)
    assert by.loc[["west", "east"], "covered_after"].sum() == pytest.approx(by.loc["(all)", "covered_after"])
    rc = st.solve_mclp(p, 2, capacitated=True)
    assert (rc.sites["served"] <= rc.sites["capacity"] + 1e-6).all()


def test_candidate_sites_spacing_and_boundary(tiny_network):
    c = st.candidate_sites(tiny_network, spacing_m=200)
    xy = np.column_stack([c.geometry.x, c.geometry.y])
    cells = np.floor(xy / 200)
    assert len(np.unique(cells, axis=0)) == len(c)  # one per square
    assert tiny_network.snappable[c["node"]].all()
    x0, y0, x1, y1 = c.total_bounds
    import shapely

    box = shapely.box(x0, y0, (x0 + x1) / 2, (y0 + y1) / 2)
    inside = st.candidate_sites(tiny_network, spacing_m=200, boundary=box)
    assert 0 < len(inside) < len(c)
    assert shapely.contains_xy(box, inside.geometry.x, inside.geometry.y).all()


def test_demand_candidates_are_seeded(tiny_problem, tiny_network):
    cov = tiny_problem.coverage
    a = st.demand_candidates(cov, "eldercare", 5, seed=3, network=tiny_network)
    b = st.demand_candidates(cov, "eldercare", 5, seed=3, network=tiny_network)
    assert a.geometry.equals(b.geometry)
    assert 1 <= len(a) <= 5
    nodes = tiny_network.snap(a, max_snap_m=1.0)
    assert nodes.ok.all()  # centres sit on network nodes


# ---------------------------------------------------------------------- bad inputs
def test_k_larger_than_candidates():
    p = st.SitingProblem.from_coverage_matrix([[1, 0], [0, 1]], [1, 1])
    with pytest.raises(InputError, match="only 2 candidate sites"):
        st.solve_mclp(p, 3)
    with pytest.raises(ValueError, match="k must be"):
        st.solve_mclp(p, 0)


def test_no_candidates(tiny_network, tiny_population, tiny_facilities):
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=UTM), crs=UTM)
    with pytest.raises(InputError, match="no candidate sites"):
        st.SitingProblem.from_network(tiny_network, tiny_population, tiny_facilities, "eldercare",
                                      candidates=empty)  # fmt: skip
    import shapely

    with pytest.raises(InputError, match="no candidate sites"):
        st.candidate_sites(tiny_network, boundary=shapely.box(0, 0, 1, 1))


def test_kind_without_facilities(tiny_network, tiny_population, tiny_facilities):
    with pytest.raises(InputError, match="no existing facilities of kind 'meal_site'"):
        st.SitingProblem.from_network(tiny_network, tiny_population, tiny_facilities, "meal_site")
    p = st.SitingProblem.from_network(tiny_network, tiny_population, tiny_facilities, "meal_site",
                                      require_existing=False, spacing_m=300)  # fmt: skip
    assert p.covered_population == 0
    assert st.solve_mclp(p, 2).objective > 0
    with pytest.raises(ValueError, match="kind must be"):
        st.SitingProblem.from_network(tiny_network, tiny_population, tiny_facilities, "no_such_kind")


def test_capacity_column_with_text(tmp_path):
    path = tmp_path / "cand.csv"
    path.write_text("lon,lat,capacity\n-15.43,28.13,40\n-15.42,28.12,forty beds\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"capacity.*non-numeric.*forty beds"):
        st.read_candidates(path)
    path.write_text("lon,lat,cost\n-15.43,28.13,0\n", encoding="utf-8")
    with pytest.raises(InputError, match="cost"):
        st.read_candidates(path)


def test_capacitated_needs_capacities():
    p = st.SitingProblem.from_coverage_matrix([[1, 0], [0, 1]], [1, 1], capacity=[5, np.nan])
    with pytest.raises(InputError, match="needs a capacity for every candidate"):
        st.solve_mclp(p, 1, capacitated=True)


def test_unreachable_share_and_bad_options():
    p = st.SitingProblem.from_coverage_matrix([[1, 0], [0, 0]], [1, 1])
    with pytest.raises(SolverError, match="cannot be reached"):
        st.solve_lscp(p, share=0.9)
    with pytest.raises(ValueError, match="solver must be one of"):
        st.solve_mclp(p, 1, solver="cplex")
    with pytest.raises(ValueError, match="p-median needs walking minutes"):
        st.solve_p_median(p, 1)
    with pytest.raises(ValueError, match="model must be one of"):
        st.solve_siting(p, "pcenter", k=1)


def test_nothing_to_cover_is_optimal_with_no_sites():
    p = st.SitingProblem.from_coverage_matrix([[1, 0], [0, 1]], [1, 1], existing_covered=[True, True])
    r = st.solve_mclp(p, 1)
    assert len(r.sites) == 0
    assert r.objective == 0
    assert r.status == "optimal"
    assert st.solve_lscp(p).objective == 0


# ---------------------------------------------------------------------- command line
def site_main(argv):
    from planner.cli import site

    parser = argparse.ArgumentParser(prog="planner")
    parser.add_argument("-q", "--quiet", action="store_true")
    site.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_site_writes_outputs(tmp_path, capsys):
    out = tmp_path / "out"
    code = site_main([
        "site", "--network", str(TINY / "network.osm.bz2"),
        "--population", str(TINY / "population_grid_100m.gpkg"),
        "--facilities", str(TINY / "facilities.geojson"), "--kind-column", "category",
        "--age-shares", "age_60_plus=0.25,age_0_3=0.03,age_0_17=0.16", "--kinds", "eldercare,nursery",
        "--kind", "eldercare", "--new", "2", "--spacing-m", "200", "--time-limit", "30", "--out", str(out),
    ])  # fmt: skip
    assert code == 0
    for name in ("sites.gpkg", "sites.csv", "siting_summary.csv", "siting_by_district.csv", "run.toml"):
        assert (out / name).exists(), name
    sites = pd.read_csv(out / "sites.csv")
    assert {"rank", "x", "y", "lon", "lat", "gain", "cumulative"} <= set(sites.columns)
    assert len(sites) == 2
    summary = pd.read_csv(out / "siting_summary.csv")
    assert {"objective", "bound", "gap", "status", "seconds"} <= set(summary.columns)
    assert summary["status"].iloc[0] == "optimal"
    assert len(gpd.read_file(out / "sites.gpkg")) == 2
    printed = capsys.readouterr().out
    assert "mclp" in printed
    assert "gap" in printed
    assert "rank" in printed


def test_cli_site_reads_study_table(tmp_path, capsys):
    study = tmp_path / "study.toml"
    study.write_text(
        tiny_study_toml(
            '[siting]\nkind = "eldercare"\nmodel = "lscp"\nspacing_m = 200\ntime_limit_s = 30\n', kinds=False
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert site_main(["site", "--study", str(study), "--out", str(out)]) == 0
    summary = pd.read_csv(out / "siting_summary.csv")
    assert summary["model"].iloc[0] == "lscp"
    with pytest.raises(InputError, match="needs the number of new sites"):
        site_main(["site", "--study", str(study), "--model", "mclp", "--out", str(out)])


def test_study_siting_table_runs_in_the_pipeline(tmp_path):
    cand = points([[457290.0, 3111860.0], [457950.0, 3110536.0], [457060.0, 3111058.0]], crs=UTM)
    cand.to_crs(4326).to_file(tmp_path / "cand.geojson", driver="GeoJSON")
    study_path = tmp_path / "study.toml"
    study_path.write_text(
        tiny_study_toml('[siting]\nkind = "eldercare"\nnew = 1\ncandidates = "cand.geojson"\n', kinds=False),
        encoding="utf-8",
    )
    study = pl.StudyArea.from_toml(study_path)
    result = pl.run_study(study, use_cache=False)
    written = pl.write_study_result(result, tmp_path / "out")
    assert {p.name for p in written} >= {"sites.csv", "siting_summary.csv", "run.toml"}
    sites = pd.read_csv(tmp_path / "out" / "sites.csv")
    assert sites["candidate_id"].str.startswith("cand-").all()
    assert len(sites) == 1
    bad = study_path.read_text(encoding="utf-8").replace("new = 1", "new = 1\nwhatever = 2")
    study_path.write_text(bad, encoding="utf-8")
    line = bad.splitlines().index("whatever = 2") + 1
    with pytest.raises(InputError, match=rf"line {line}: \[siting\] whatever: unknown key"):
        pl.StudyArea.from_toml(study_path)


def test_cli_main_reports_bad_input_in_one_line(tmp_path, capsys):
    from planner import cli

    code = cli.main([
        "site", "--network", str(TINY / "network.osm.bz2"),
        "--population", str(TINY / "population_grid_100m.gpkg"),
        "--facilities", str(TINY / "facilities.geojson"), "--kind-column", "category",
        "--age-shares", "age_60_plus=0.25,age_0_3=0.03,age_0_17=0.16", "--kinds", "eldercare,nursery",
        "--kind", "eldercare", "--new", "100000", "--out", str(tmp_path),
    ])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "k=100000 new sites asked for" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("seed", range(3))
def test_lp_dive_returns_a_cover_without_redundant_sites(seed):
    a, w, existing, _ = geo_instance(seed, n_cells=300, n_cand=120, radius=160)
    p = st.SitingProblem.from_coverage_matrix(a, w, existing_covered=existing)
    model = p.cover_model
    cost = np.ones(a.shape[1])
    x0 = np.full(a.shape[1], 0.5)
    for deadline in (np.inf, 0.0):  # a full dive, and one that must finish greedily at once
        sites = lp_dive(model, cost, x0, deadline=deadline)
        hits = np.asarray(model.a[:, sites].sum(axis=1)).ravel()
        assert (hits > 0).all()
        for j in sites:  # every site covers some row alone
            rows = model.a[:, [j]].nonzero()[0]
            assert (hits[rows] == 1).any()
        assert len(sites) >= st.solve_lscp(p).objective
