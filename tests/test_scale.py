import importlib.util
import os
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import REPO, UTM, bundled_study

import planner as pl
from planner.io.write import write_partitioned_geoparquet
from planner.kinds import FacilityKind
from planner.scale import compute_coverage_tiled, plan_tiles
from planner.scale.tiles import estimate_tile_bytes, network_stretch

TINY_KINDS = {k: v for k, v in pl.DEFAULT_KINDS.items() if k in ("eldercare", "nursery")}


def assert_same(ref: pl.Coverage, got: pl.Coverage) -> None:
    pd.testing.assert_frame_equal(ref.minutes, got.minutes, check_exact=True)
    pd.testing.assert_frame_equal(ref.nearest, got.nearest, check_exact=True)
    pd.testing.assert_frame_equal(ref.straight_minutes, got.straight_minutes, check_exact=True)
    for name in ("node", "access_m", "ok", "fragment"):
        np.testing.assert_array_equal(
            getattr(ref.cell_snap, name), getattr(got.cell_snap, name), err_msg=name
        )
    pd.testing.assert_frame_equal(ref.to_geodataframe(), got.to_geodataframe(), check_exact=True)
    pd.testing.assert_frame_equal(ref.summary(), got.summary(), check_exact=True)
    pd.testing.assert_frame_equal(ref.facilities, got.facilities, check_exact=True)


# ---------------------------------------------------------------- a synthetic city with traps
def _synthetic_module():
    spec = importlib.util.spec_from_file_location("_synthetic", REPO / "bench" / "_synthetic.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_synthetic", mod)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def synthetic():
    """~12 km town: long edges split at 40 m, small fragments, tied facilities, far cells."""
    city = _synthetic_module().make_synthetic_city(n_nodes=12_000, n_cells=6_400, n_facilities=40, seed=3)
    xy, u, v, length = city.node_xy, city.u, city.v, city.length_m
    n = len(xy)
    # three small fragments (4 nodes each) scattered inside the area: globally tiny, so never
    # snappable, even in a tile where they would be a big share of the nodes
    rng = np.random.default_rng(7)
    frag_xy, fu, fv = [], [], []
    for k, (cx, cy) in enumerate(rng.uniform(xy.min(0) + 2000, xy.max(0) - 2000, size=(3, 2))):
        base = n + 4 * k
        frag_xy += [[cx, cy], [cx + 30, cy], [cx + 30, cy + 30], [cx, cy + 30]]
        fu += [base, base + 1, base + 2]
        fv += [base + 1, base + 2, base + 3]
    xy = np.vstack([xy, frag_xy])
    u = np.concatenate([u, fu])
    v = np.concatenate([v, fv])
    length = np.concatenate([length, [30.0] * len(fu)])
    net = pl.WalkNetwork.from_edges(xy, u, v, length, crs=UTM, max_edge_m=40.0)
    cells = gpd.GeoDataFrame(
        {"population": city.cell_pop}, index=pd.Index(city.cell_id, name="cell_id"),
        geometry=gpd.points_from_xy(*city.cell_xy.T), crs=UTM,
    )  # fmt: skip
    fxy = city.facility_xy
    kind = city.facility_kind.astype(object)
    # ties: two facilities on the same spot, and one of another id at the same node
    fxy = np.vstack([fxy, fxy[:2]])
    kind = np.concatenate([kind, kind[:2]])
    fac = gpd.GeoDataFrame(
        {"kind": kind}, index=pd.Index([f"f{i}" for i in range(len(fxy))], name="facility_id"),
        geometry=gpd.points_from_xy(*fxy.T), crs=UTM,
    )  # fmt: skip
    kinds = {
        "nursery": FacilityKind("nursery", "population", threshold_min=5, speed_kmh=4.0),
        "eldercare": FacilityKind("eldercare", "population", threshold_min=8, speed_kmh=3.0),
        "community_centre": FacilityKind("community_centre", "population", threshold_min=10, speed_kmh=4.5),
    }
    return net, cells, fac, kinds


@pytest.fixture(scope="module")
def synthetic_ref(synthetic):
    net, cells, fac, kinds = synthetic
    return pl.compute_coverage(net, cells, fac, kinds=kinds, thresholds_min=(5, 10), max_snap_m=150)


@pytest.mark.parametrize("tile_m", [700.0, 1500.0, 3000.0, 50_000.0])
def test_tiled_equals_untiled_synthetic(synthetic, synthetic_ref, tile_m):
    net, cells, fac, kinds = synthetic
    got = compute_coverage_tiled(net, cells, fac, kinds=kinds, thresholds_min=(5, 10), max_snap_m=150,
                                 tile_m=tile_m)  # fmt: skip
    assert_same(synthetic_ref, got)
    tiles = got.params["tiles"]
    assert tiles["count"] >= (2 if tile_m < 10_000 else 1)
    # the halo is really a cut: tiles do not all hold the whole network
    if tile_m <= 1500:
        assert max(s["nodes"] for s in got.params["tile_stats"]) < net.n_nodes / 2


def test_synthetic_fixture_has_the_traps(synthetic, synthetic_ref):
    net, _cells, _fac, _ = synthetic
    assert (~net.snappable).sum() >= 12  # fragments exist and are never used
    assert (net.node_id == -1).sum() > net.n_nodes / 3  # many nodes come from split edges
    assert np.isfinite(synthetic_ref.minutes.to_numpy()).any()
    assert np.isinf(synthetic_ref.minutes.to_numpy()).any()  # limits bite


def test_tiled_equals_untiled_with_memory_splits(synthetic, synthetic_ref):
    net, cells, fac, kinds = synthetic
    budget_mb = 3.0
    got = compute_coverage_tiled(net, cells, fac, kinds=kinds, thresholds_min=(5, 10), max_snap_m=150,
                                 tile_m=50_000, memory_budget_mb=budget_mb)  # fmt: skip
    assert_same(synthetic_ref, got)
    assert got.params["tiles"]["count"] > 1  # one tile was over the budget and was cut
    assert all(tid.count("_") >= 2 for tid in got.params["tile_ids"])  # g<i>_<j>_<quadrant>


def test_plan_refuses_when_halo_alone_exceeds_budget(synthetic):
    net, cells, *_ = synthetic
    xy = np.column_stack([cells.geometry.x, cells.geometry.y])
    with pytest.raises(pl.NetworkError, match="raise the memory budget"):
        plan_tiles(net, xy, reach_m=3000, max_snap_m=150, tile_m=1000, memory_budget_mb=0.05)


def test_plan_bounds_every_tile(synthetic):
    net, cells, *_ = synthetic
    xy = np.column_stack([cells.geometry.x, cells.geometry.y])
    plan = plan_tiles(net, xy, reach_m=600, max_snap_m=150, tile_m=100_000, memory_budget_mb=2.0, n_kinds=3)
    assert all(t.est_bytes <= plan.memory_budget_bytes for t in plan.tiles)
    assert (plan.cell_tile >= 0).all()
    assert sum(t.n_cells for t in plan.tiles) == len(cells)
    assert plan.halo_m == pytest.approx(plan.stretch * 600 + 150)
    assert 1.0 <= plan.stretch < 1.001
    assert "TilePlan(tiles=" in repr(plan)
    assert list(plan.to_frame().columns)[:2] == ["tile_id", "xmin"]


def test_estimate_grows_with_size():
    assert estimate_tile_bytes(2000, 3000, 100, 2) > estimate_tile_bytes(1000, 1500, 100, 2) > 0


def test_stretch_of_haversine_network(tiny_network):
    # lengths are haversine metres, coordinates UTM: a walk may end a little farther than its length
    r = network_stretch(tiny_network)
    assert 1.0 <= r < 1.01


# ---------------------------------------------------------------- the bundled city
@pytest.mark.parametrize("tile_m", [150.0, 400.0, 1000.0])
def test_tiled_equals_untiled_tiny_las_palmas(tiny_network, tiny_population, tiny_facilities, tile_m):
    ref = pl.compute_coverage(
        tiny_network, tiny_population, tiny_facilities, kinds=TINY_KINDS, max_snap_m=300
    )
    got = compute_coverage_tiled(tiny_network, tiny_population, tiny_facilities, kinds=TINY_KINDS,
                                 max_snap_m=300, tile_m=tile_m)  # fmt: skip
    assert_same(ref, got)


@pytest.mark.slow
@pytest.mark.parametrize("tiles", ["1000", "2500", "district"])
def test_tiled_equals_untiled_bundled_city(tiles):
    """data/las_palmas (23,711 nodes, 868 cells, 21 districts) as `planner run` reads it."""
    study, net, pop, fac, districts = bundled_study()
    kw = {"kinds": study.kinds, "thresholds_min": study.thresholds_min, "max_snap_m": study.max_snap_m,
              "districts": districts}  # fmt: skip
    ref = pl.compute_coverage(net, pop, fac, **kw)
    mode = "district" if tiles == "district" else "grid"
    got = compute_coverage_tiled(
        net, pop, fac, tiles=mode, tile_m=float(tiles) if mode == "grid" else 1.0, **kw
    )
    assert_same(ref, got)
    pd.testing.assert_frame_equal(ref.summary(by="district"), got.summary(by="district"), check_exact=True)
    assert got.params["tiles"]["count"] > 1


def test_tiled_equals_untiled_short_walks_tiny(tiny_network, tiny_population, tiny_facilities):
    """3-minute walks: the halo (~300 m + snap) is far smaller than the area."""
    kinds = dict(TINY_KINDS.items())
    with pytest.warns(UserWarning, match="3 of 162 rows are farther than 60 m"):
        ref = pl.compute_coverage(tiny_network, tiny_population, tiny_facilities, kinds=kinds,
                                  thresholds_min=(2, 3), max_snap_m=60)  # fmt: skip
    with pytest.warns(UserWarning, match="3 of 162 rows are farther than 60 m"):  # the same warning
        got = compute_coverage_tiled(tiny_network, tiny_population, tiny_facilities, kinds=kinds,
                                     thresholds_min=(2, 3), max_snap_m=60, tile_m=200)  # fmt: skip
    assert_same(ref, got)
    assert max(s["nodes"] for s in got.params["tile_stats"]) < tiny_network.n_nodes


def test_district_tiles(tiny_network, tiny_population, tiny_facilities):
    xy = np.column_stack([tiny_population.geometry.centroid.x, tiny_population.geometry.centroid.y])
    mid = np.median(xy[:, 0])
    x0, y0, x1, y1 = tiny_population.total_bounds
    from shapely.geometry import box

    districts = gpd.GeoDataFrame({"district": ["west", "east"]},
                                 geometry=[box(x0 - 1, y0 - 1, mid, y1 + 1), box(mid, y0 - 1, x1 + 1, y1 + 1)],
                                 crs=tiny_population.crs)  # fmt: skip
    ref = pl.compute_coverage(tiny_network, tiny_population, tiny_facilities, kinds=TINY_KINDS,
                              max_snap_m=300, districts=districts)  # fmt: skip
    got = compute_coverage_tiled(tiny_network, tiny_population, tiny_facilities, kinds=TINY_KINDS,
                                 max_snap_m=300, districts=districts, tiles="district")  # fmt: skip
    assert_same(ref, got)
    pd.testing.assert_frame_equal(ref.summary(by="district"), got.summary(by="district"))
    assert got.params["tiles"]["count"] == got.population["district"].nunique() >= 2


def test_district_tiles_need_districts(tiny_network, tiny_population, tiny_facilities):
    with pytest.raises(pl.InputError, match="needs districts"):
        compute_coverage_tiled(
            tiny_network, tiny_population, tiny_facilities, kinds=TINY_KINDS, tiles="district"
        )


def test_bad_arguments(tiny_network, tiny_population, tiny_facilities):
    with pytest.raises(ValueError, match="tiles must be"):
        compute_coverage_tiled(tiny_network, tiny_population, tiny_facilities, kinds=TINY_KINDS, tiles="hex")
    with pytest.raises(ValueError, match="tile_m"):
        compute_coverage_tiled(tiny_network, tiny_population, tiny_facilities, kinds=TINY_KINDS, tile_m=0)


# ---------------------------------------------------------------- resume and outputs
def test_resume_from_finished_tiles(tiny_network, tiny_population, tiny_facilities, tmp_path):
    kw = {"kinds": TINY_KINDS, "max_snap_m": 300, "tile_m": 300.0, "work_dir": tmp_path / "tiles"}
    first = compute_coverage_tiled(tiny_network, tiny_population, tiny_facilities, **kw)
    files = sorted((tmp_path / "tiles").glob("*.parquet"))
    assert len(files) == first.params["tiles"]["count"] > 2
    files[0].unlink()  # as if the run had stopped before that tile
    again = compute_coverage_tiled(tiny_network, tiny_population, tiny_facilities, **kw)
    assert again.params["tiles"]["resumed"] == len(files) - 1
    assert_same(first, again)
    # other parameters: finished tiles are not reused
    other = compute_coverage_tiled(tiny_network, tiny_population, tiny_facilities,
                                   **{**kw, "max_snap_m": 250})  # fmt: skip
    assert other.params["tiles"]["resumed"] == 0


def test_partitioned_geoparquet_round_trip(tiny_network, tiny_population, tiny_facilities, tmp_path):
    cov = compute_coverage_tiled(tiny_network, tiny_population, tiny_facilities, kinds=TINY_KINDS,
                                 max_snap_m=300, tile_m=400.0)  # fmt: skip
    cells = cov.to_geodataframe()
    ids = cov.params["tile_ids"]
    parts = write_partitioned_geoparquet(cells, [ids[k] for k in cov.params["cell_tile"]], tmp_path / "cells")
    assert len(parts) == len(ids)
    back = gpd.read_parquet(tmp_path / "cells")  # the parts read back as one layer, index kept
    assert back.crs.equals(cells.crs)
    back = back.loc[cells.index]
    np.testing.assert_array_equal(back["minutes_nursery"].fillna(np.inf), cells["minutes_nursery"])
    assert back.geometry.geom_equals(cells.geometry).all()


# ---------------------------------------------------------------- Dask
def test_dask_threads_equals_untiled(synthetic, synthetic_ref):
    pytest.importorskip("dask.distributed")
    net, cells, fac, kinds = synthetic
    got = compute_coverage_tiled(net, cells, fac, kinds=kinds, thresholds_min=(5, 10), max_snap_m=150,
                                 tile_m=2500.0, scheduler="threads", n_workers=2)  # fmt: skip
    assert_same(synthetic_ref, got)
    assert got.params["tiles"]["scheduler"] == "threads"


def test_dask_client_is_accepted_and_left_open(tiny_network, tiny_population, tiny_facilities):
    distributed = pytest.importorskip("dask.distributed")
    ref = pl.compute_coverage(
        tiny_network, tiny_population, tiny_facilities, kinds=TINY_KINDS, max_snap_m=300
    )
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp://", host="127.0.0.1", dashboard_address=None) as cluster, distributed.Client(cluster) as client:  # fmt: skip
        got = compute_coverage_tiled(tiny_network, tiny_population, tiny_facilities, kinds=TINY_KINDS,
                                     max_snap_m=300, tile_m=300.0, scheduler=client)  # fmt: skip
        assert client.status == "running"
    assert_same(ref, got)


# ---------------------------------------------------------------- CLI glue
def test_cli_run_tiled(tmp_path, capsys):
    from planner.cli import main

    tiny = REPO / "tests" / "data" / "las_palmas_tiny"
    args = [
        "coverage", "--network", str(tiny / "network.osm.bz2"), "--population", str(tiny / "population_grid_100m.gpkg"),
        "--facilities", str(tiny / "facilities.geojson"), "--kind-column", "category", "--kinds", "eldercare,nursery",
        "--age-shares", "age_60_plus=0.25,age_0_3=0.03,age_0_17=0.16", "--out", str(tmp_path),
        "--tiles", "400", "--scheduler", "serial",
    ]  # fmt: skip
    assert main(args) == 0
    assert (tmp_path / "summary.csv").exists()
    assert (tmp_path / "run.toml").exists()
    tiles = pd.read_csv(tmp_path / "tiles.csv", encoding="utf-8-sig")
    cells = gpd.read_parquet(tmp_path / "cells")
    assert len(list((tmp_path / "cells").glob("part-*.parquet"))) == len(tiles)
    assert tiles["cells"].sum() == len(cells)
    assert "tiles" in capsys.readouterr().out
    assert main(args) == 0  # second run resumes every tile
    assert f"{len(tiles)} resumed" in capsys.readouterr().out


def test_cli_bad_tiles_value(tmp_path, capsys):
    from planner.cli import main

    tiny = REPO / "tests" / "data" / "las_palmas_tiny"
    args = ["coverage", "--network", str(tiny / "network.osm.bz2"), "--population",
            str(tiny / "population_grid_100m.gpkg"), "--facilities", str(tiny / "facilities.geojson"),
            "--out", str(tmp_path / "out"), "--tiles", "big"]  # fmt: skip
    assert main(args) == 2
    assert "--tiles must be" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_dask_scheduler_address(tiny_network, tiny_population, tiny_facilities):
    """Any running Dask scheduler, given by address (here a loopback cluster of this test)."""
    distributed = pytest.importorskip("dask.distributed")
    ref = pl.compute_coverage(
        tiny_network, tiny_population, tiny_facilities, kinds=TINY_KINDS, max_snap_m=300
    )
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        got = compute_coverage_tiled(
            tiny_network, tiny_population, tiny_facilities, kinds=TINY_KINDS, max_snap_m=300,
            tile_m=300.0, scheduler=cluster.scheduler_address,
        )  # fmt: skip
    assert_same(ref, got)
    assert got.params["tiles"]["scheduler"].startswith("tcp://127.0.0.1:")


@pytest.mark.slow
def test_dask_local_cluster_of_processes(tiny_network, tiny_population, tiny_facilities):
    """The default scheduler: a LocalCluster of worker processes on loopback."""
    pytest.importorskip("dask.distributed")
    ref = pl.compute_coverage(
        tiny_network, tiny_population, tiny_facilities, kinds=TINY_KINDS, max_snap_m=300
    )
    got = compute_coverage_tiled(
        tiny_network, tiny_population, tiny_facilities, kinds=TINY_KINDS, max_snap_m=300,
        tile_m=400.0, scheduler="local", n_workers=1,
    )  # fmt: skip
    assert_same(ref, got)
    assert os.getpid() not in {s["pid"] for s in got.params["tile_stats"]}
