"""Tiled coverage with streets streamed per tile from an OSM file: equal to the in-memory run."""

import importlib.util
import logging
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
from conftest import REPO, TINY, UTM, bundled_study

import planner as pl
from planner.kinds import FacilityKind
from planner.network import nearest_first
from planner.scale import compute_coverage_tiled
from planner.scale.store import OsmStore, prepare_osm

CITY_STUDY = REPO / "data" / "las_palmas" / "study.toml"


def assert_same_streamed(ref: pl.Coverage, got: pl.Coverage) -> None:
    """Every per-cell and per-facility figure equal; ``cell_snap.node`` is -1 when streamed."""
    pd.testing.assert_frame_equal(ref.minutes, got.minutes, check_exact=True)
    pd.testing.assert_frame_equal(ref.nearest, got.nearest, check_exact=True)
    pd.testing.assert_frame_equal(ref.straight_minutes, got.straight_minutes, check_exact=True)
    for name in ("access_m", "ok", "fragment"):
        np.testing.assert_array_equal(
            getattr(ref.cell_snap, name), getattr(got.cell_snap, name), err_msg=name
        )
    assert (got.cell_snap.node == -1).all()
    pd.testing.assert_frame_equal(ref.to_geodataframe(), got.to_geodataframe(), check_exact=True)
    pd.testing.assert_frame_equal(ref.summary(), got.summary(), check_exact=True)
    pd.testing.assert_frame_equal(ref.facilities, got.facilities, check_exact=True)


# ---------------------------------------------------------------- snapping ties
def test_nearest_breaks_exact_ties_by_smallest_position():
    """Integer lattice, integer and half-integer queries: many exact ties; brute force agrees."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(5)
    g = np.array([(x, y) for x in range(12) for y in range(12)], float)
    pts = rng.permutation(g)  # tree positions are not in lattice order
    pts = np.vstack([pts, pts[:10]])  # and some points twice (coincident nodes)
    q = rng.integers(-2, 26, size=(3000, 2)) / 2.0
    dist, pos = nearest_first(cKDTree(pts), q)
    d_all = np.hypot(*(q[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    best = d_all.min(axis=1)
    first = np.argmax(np.isclose(d_all, best[:, None], rtol=0, atol=1e-12), axis=1)
    np.testing.assert_allclose(dist, best, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(pos, first)
    assert (np.isclose(d_all, best[:, None], rtol=0, atol=1e-12).sum(axis=1) > 1).mean() > 0.3


def test_snap_ties_are_the_same_on_a_sub_network():
    """A sub-network in the same relative order snaps tied points to the same node."""
    n = 15
    xy = np.array([(x * 50.0, y * 50.0) for y in range(n) for x in range(n)])
    u = [i for i in range(n * n) if i % n < n - 1] + list(range(n * (n - 1)))
    v = [i + 1 for i in range(n * n) if i % n < n - 1] + list(range(n, n * n))
    whole = pl.WalkNetwork.from_edges(xy, u, v, [50.0] * len(u), crs=UTM)
    q = np.array([(x * 25.0 + 0.0, y * 25.0) for x in range(10, 20) for y in range(10, 20)])
    keep = np.flatnonzero((xy[:, 0] >= 150) & (xy[:, 1] >= 150))  # sorted: relative order kept
    g2l = np.full(n * n, -1)
    g2l[keep] = np.arange(len(keep))
    uu, vv = np.array(u), np.array(v)
    inside = (g2l[uu] >= 0) & (g2l[vv] >= 0)
    part = pl.WalkNetwork.from_edges(
        xy[keep], g2l[uu[inside]], g2l[vv[inside]], [50.0] * inside.sum(), crs=UTM
    )
    a, b = whole.snap(q, max_snap_m=100), part.snap(q, max_snap_m=100)
    np.testing.assert_array_equal(a.node, keep[b.node])
    np.testing.assert_array_equal(a.access_m, b.access_m)


# ---------------------------------------------------------------- the store
@pytest.fixture(scope="module")
def city():
    study, net, pop, fac, districts = bundled_study(CITY_STUDY)
    kw = {"kinds": study.kinds, "thresholds_min": study.thresholds_min, "max_snap_m": study.max_snap_m,
          "districts": districts}  # fmt: skip
    return study, net, pop, fac, kw, pl.compute_coverage(net, pop, fac, **kw)


@pytest.mark.slow
def test_store_snap_equals_network_snap(city, tmp_path):
    study, net, *_ = city
    store = prepare_osm(study.network_path, tmp_path, crs=net.crs)
    assert store.crs.equals(net.crs)
    assert store.n_nodes == net.n_nodes
    rng = np.random.default_rng(1)
    lo, hi = net.node_xy.min(axis=0) - 800, net.node_xy.max(axis=0) + 800
    pts = np.vstack([rng.uniform(lo, hi, size=(4000, 2)), net.node_xy[(net.node_id < 0)][:200]])
    a, b = net.snap(pts, max_snap_m=120), store.snap(pts, max_snap_m=120, chunk=5000)
    for name in ("access_m", "ok", "fragment"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (~a.ok).any()
    assert a.ok.any()
    assert a.fragment.any()


@pytest.mark.slow
def test_store_rebuilds_the_whole_network(city, tmp_path):
    study, net, *_ = city
    store = prepare_osm(study.network_path, tmp_path, crs=net.crs)
    t = store.tile_arrays(np.arange(store.n_segments))
    again = pl.WalkNetwork.from_edges(t["node_xy"], t["u"], t["v"], t["length_m"], crs=store.crs,
                                      node_id=t["node_id"], max_edge_m=50.0, snappable=t["snappable"])  # fmt: skip
    np.testing.assert_array_equal(again.node_xy, net.node_xy)
    np.testing.assert_array_equal(again.snappable, net.snappable)
    assert (again.csr != net.csr).nnz == 0
    # the density grid counts every node once, and the halo's stretch bounds the network's
    assert int(store.density["nodes"].sum()) == net.n_nodes
    from planner.scale.tiles import network_stretch

    assert network_stretch(net) <= store.stretch <= network_stretch(net) * (1 + 1e-5)


def test_store_is_reused_and_refreshed(tmp_path, caplog):
    src = TINY / "network.osm.bz2"
    a = prepare_osm(src, tmp_path, crs=UTM)
    stamp = (tmp_path / "seg.npy").stat().st_mtime_ns
    with caplog.at_level(logging.INFO, logger="planner.scale.store"):
        b = prepare_osm(src, tmp_path, crs=UTM)
    assert "reusing" in caplog.text
    assert (tmp_path / "seg.npy").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(a.components.node_id, b.components.node_id)
    c = prepare_osm(src, tmp_path, crs=UTM, max_edge_m=20.0)  # other options: built again
    assert c.n_nodes > a.n_nodes


# ---------------------------------------------------------------- streamed == in memory
@pytest.mark.slow
@pytest.mark.parametrize("tiles", ["800", "2500", "district"])
def test_streamed_equals_untiled_bundled_city(city, tiles):
    study, net, pop, fac, kw, ref = city
    mode = "district" if tiles == "district" else "grid"
    got = compute_coverage_tiled(study.network_path, pop, fac, tiles=mode, crs=net.crs,
                                 tile_m=float(tiles) if mode == "grid" else 1.0, **kw)  # fmt: skip
    assert_same_streamed(ref, got)
    pd.testing.assert_frame_equal(ref.summary(by="district"), got.summary(by="district"), check_exact=True)
    assert got.params["tiles"]["count"] > 1
    assert "streamed" in got.params["method"]
    assert got.params["network_nodes"] == net.n_nodes
    if tiles == "800":  # tiles really hold a part of the streets
        assert max(s["nodes"] for s in got.params["tile_stats"]) < 0.7 * net.n_nodes


def _synthetic_city():
    spec = importlib.util.spec_from_file_location("_synthetic", REPO / "bench" / "_synthetic.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_synthetic", mod)
    spec.loader.exec_module(mod)
    return mod.make_synthetic_city(n_nodes=9_000, n_cells=4_900, n_facilities=30, seed=11)


def _write_osm(path: Path, lonlat: np.ndarray, ways: list[list[int]], highway: list[str]) -> None:
    """OSM XML with node ids 1..n (7 decimals, as OSM stores them)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n')
        for i, (lon, lat) in enumerate(lonlat, start=1):
            fh.write(f'<node id="{i}" lat="{lat:.7f}" lon="{lon:.7f}"/>\n')
        for k, (refs, hw) in enumerate(zip(ways, highway, strict=True), start=1):
            nds = "".join(f'<nd ref="{r}"/>' for r in refs)
            fh.write(f'<way id="{k}">{nds}<tag k="highway" v="{hw}"/></way>\n')
        fh.write("</osm>\n")


@pytest.fixture(scope="module")
def synthetic_osm(tmp_path_factory):
    """A synthetic town as an OSM file, with traps: long segments split at 40 m, tiny fragments,
    twin nodes at one spot (exact snapping ties), a motorway (not walkable), tied facilities."""
    city = _synthetic_city()
    to_ll = pyproj.Transformer.from_crs(city.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(city.node_xy[:, 0], city.node_xy[:, 1])
    lonlat = np.round(np.column_stack([lon, lat]), 7)
    n = len(lonlat)
    ways = [[int(a) + 1, int(b) + 1] for a, b in zip(city.u, city.v, strict=True)]
    highway = ["residential"] * len(ways)
    rng = np.random.default_rng(2)
    extra = []
    for a, b in zip(city.u[:300:3], city.v[:300:3], strict=True):  # twins: a copy of a joined to b
        extra.append(lonlat[a])
        ways.append([n + len(extra), int(b) + 1])
        highway.append("footway")
    for cx, cy in rng.uniform(city.node_xy.min(0) + 1500, city.node_xy.max(0) - 1500, size=(3, 2)):
        sq = np.array([[cx, cy], [cx + 30, cy], [cx + 30, cy + 30]])
        flon, flat = to_ll.transform(sq[:, 0], sq[:, 1])
        first = n + len(extra) + 1
        extra += list(np.round(np.column_stack([flon, flat]), 7))
        ways.append([first, first + 1, first + 2])
        highway.append("path")
    ways.append([1, 2, 3])
    highway.append("motorway")
    path = tmp_path_factory.mktemp("synthetic") / "town.osm"
    _write_osm(path, np.vstack([lonlat, extra]), ways, highway)
    crs = pyproj.CRS.from_user_input(city.crs)
    cells = gpd.GeoDataFrame({"population": city.cell_pop}, index=pd.Index(city.cell_id, name="cell_id"),
                             geometry=gpd.points_from_xy(*city.cell_xy.T), crs=crs)  # fmt: skip
    # cells exactly on twin spots: their two nearest nodes are at the same distance
    twins = gpd.GeoDataFrame(
        {"population": 1.0}, index=pd.Index([f"t{i}" for i in range(len(extra[:100]))], name="cell_id"),
        geometry=gpd.points_from_xy(*city.node_xy[city.u[:300:3]].T + 7.0), crs=crs,
    )  # fmt: skip
    cells = pd.concat([cells, twins])
    fxy = np.vstack([city.facility_xy, city.facility_xy[:2]])
    kind = np.concatenate([city.facility_kind, city.facility_kind[:2]]).astype(object)
    fac = gpd.GeoDataFrame({"kind": kind}, index=pd.Index([f"f{i}" for i in range(len(fxy))], name="facility_id"),
                           geometry=gpd.points_from_xy(*fxy.T), crs=crs)  # fmt: skip
    kinds = {
        "nursery": FacilityKind("nursery", "population", threshold_min=5, speed_kmh=4.0),
        "eldercare": FacilityKind("eldercare", "population", threshold_min=8, speed_kmh=3.0),
        "community_centre": FacilityKind("community_centre", "population", threshold_min=10, speed_kmh=4.5),
    }
    kw = {"kinds": kinds, "thresholds_min": (5, 10), "max_snap_m": 150.0}
    net = pl.WalkNetwork.from_osm_file(path, crs=crs, max_edge_m=40.0, use_cache=False)
    ref = pl.compute_coverage(net, cells, fac, **kw)
    return path, crs, net, cells, fac, kw, ref


def test_synthetic_osm_has_the_traps(synthetic_osm):
    _path, _crs, net, cells, _fac, _kw, ref = synthetic_osm
    assert (~net.snappable).sum() >= 9  # fragments
    assert (net.node_id == -1).sum() > net.n_nodes / 4  # split long segments
    twins = cells.index.str.startswith("t")
    xy = np.column_stack([cells.geometry.x, cells.geometry.y])[twins]
    d = np.hypot(*(xy[:, None, :] - net.node_xy[None, :, :]).transpose(2, 0, 1))
    assert ((d == d.min(axis=1, keepdims=True)).sum(axis=1) >= 2).all()  # every twin cell is a tie
    assert np.isfinite(ref.minutes.to_numpy()).any()
    assert np.isinf(ref.minutes.to_numpy()).any()


@pytest.mark.parametrize("tile_m", [600.0, 1500.0, 50_000.0])
def test_streamed_equals_untiled_synthetic(synthetic_osm, tile_m, tmp_path):
    path, crs, net, cells, fac, kw, ref = synthetic_osm
    got = compute_coverage_tiled(
        path, cells, fac, crs=crs, max_edge_m=40.0, tile_m=tile_m, work_dir=tmp_path, **kw
    )
    assert_same_streamed(ref, got)
    if tile_m <= 600:
        assert max(s["nodes"] for s in got.params["tile_stats"]) < net.n_nodes / 3


def test_streamed_memory_splits_and_resume(synthetic_osm, tmp_path):
    path, crs, _net, cells, fac, kw, ref = synthetic_osm
    run = {"crs": crs, "max_edge_m": 40.0, "tile_m": 50_000, "memory_budget_mb": 2.0, "work_dir": tmp_path}
    first = compute_coverage_tiled(path, cells, fac, **run, **kw)
    assert first.params["tiles"]["count"] > 1  # split by the estimate from the density grid
    assert max(s["nodes"] for s in first.params["tile_stats"]) < _net.n_nodes
    (tmp_path / f"{first.params['tile_ids'][0]}.parquet").unlink()  # as if interrupted
    again = compute_coverage_tiled(path, cells, fac, **run, **kw)
    assert again.params["tiles"]["resumed"] == first.params["tiles"]["count"] - 1
    assert_same_streamed(ref, again)


@pytest.mark.slow
def test_streamed_from_pbf_and_on_dask_threads(city, tmp_path):
    osmium = pytest.importorskip("osmium")
    pytest.importorskip("distributed")
    study, net, pop, fac, kw, ref = city
    pbf = tmp_path / "city.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(study.network_path)):
            writer.add(obj)
    store = prepare_osm(pbf, tmp_path / "store", crs=net.crs)
    assert isinstance(store, OsmStore)
    got = compute_coverage_tiled(store, pop, fac, tile_m=2000, scheduler="threads", **kw)
    assert_same_streamed(ref, got)
    assert got.params["network"] == str(pbf)


def test_streamed_bad_input(city, tmp_path):
    study, net, pop, fac, kw, _ref = city
    with pytest.raises(pl.InputError, match="does not exist"):
        compute_coverage_tiled(tmp_path / "nope.osm.pbf", pop, fac, **kw)
    with pytest.raises(ValueError, match="crs applies to a network read from a file"):
        compute_coverage_tiled(net, pop, fac, crs="EPSG:3857", **kw)
    # population with x and y swapped: refused before any tile runs, with a hint
    swapped = pop.set_geometry(
        gpd.points_from_xy(pop.geometry.centroid.y, pop.geometry.centroid.x), crs=pop.crs
    )
    with pytest.raises(pl.InputError, match="population cells"):
        compute_coverage_tiled(study.network_path, swapped, fac, crs=net.crs, work_dir=tmp_path, **kw)
    assert not list(tmp_path.glob("*.parquet"))


@pytest.mark.slow
def test_cli_run_tiles_streams_the_streets(city, tmp_path, capsys, monkeypatch):
    from planner.cli import main
    from planner.network import WalkNetwork

    _study, _net, _pop, _fac, _kw, ref = city

    def refuse(*_a, **_k):
        msg = "the whole network was built"
        raise AssertionError(msg)

    monkeypatch.setattr(WalkNetwork, "from_osm_file", classmethod(refuse))
    out = tmp_path / "out"
    assert main(["run", str(CITY_STUDY), "--out", str(out), "--tiles", "2000", "--scheduler", "serial"]) == 0
    text = capsys.readouterr().out
    assert "streamed per tile" in text
    got = pd.read_csv(out / "summary.csv")
    np.testing.assert_allclose(got["share"].to_numpy(), ref.summary()["share"].to_numpy(), rtol=0, atol=1e-12)
    cells = gpd.read_parquet(out / "cells")
    assert len(cells) == len(ref.population)


@pytest.mark.slow
def test_streamed_coverage_feeds_access(city):
    """Access needs cell nodes, which a streamed coverage lacks: they are snapped again, same answer."""
    study, net, pop, fac, kw, ref = city
    got = compute_coverage_tiled(study.network_path, pop, fac, crs=net.crs, tile_m=2500, **kw)
    a = pl.compute_access(net, ref, kinds=["nursery"], default_capacity=10.0)
    b = pl.compute_access(net, got, kinds=["nursery"], default_capacity=10.0)
    pd.testing.assert_frame_equal(a.per_1000, b.per_1000, check_exact=True)
    assert (a.per_1000["nursery"] > 0).any()


# ---------------------------------------------------------------- found in review
def test_ways_before_nodes(tmp_path, synthetic_osm):
    """Overpass-style files list ways first: the store reads them as from_osm_file does."""
    path, crs, net, cells, fac, kw, ref = synthetic_osm
    text = path.read_text(encoding="utf-8").splitlines()
    nodes = [line for line in text if line.startswith("<node")]
    ways = [line for line in text if line.startswith("<way")]
    flipped = tmp_path / "ways_first.osm"
    flipped.write_text(
        "\n".join([*text[:2], *ways[: len(ways) // 2], *nodes, *ways[len(ways) // 2 :], "</osm>"])
    )
    again = pl.WalkNetwork.from_osm_file(flipped, crs=crs, max_edge_m=40.0, use_cache=False)
    assert again.n_nodes == net.n_nodes
    got = compute_coverage_tiled(flipped, cells, fac, crs=crs, max_edge_m=40.0, tile_m=1500, **kw)
    assert_same_streamed(ref, got)


def test_interrupted_store_rebuild_is_not_reused(tmp_path, monkeypatch):
    a_path, b_path = TINY / "network.osm.bz2", REPO / "tests" / "data" / "west_oakland.osm.bz2"
    a = prepare_osm(a_path, tmp_path, crs=UTM)
    xy_a = np.load(tmp_path / "node_xy.npy")
    real_save = np.save

    def save_then_fail(file, arr, *args, **kwargs):
        real_save(file, arr, *args, **kwargs)
        msg = "disk full"
        raise OSError(msg)

    monkeypatch.setattr(np, "save", save_then_fail)
    with pytest.raises(OSError, match="disk full"):
        prepare_osm(b_path, tmp_path, crs=UTM)  # node_xy.npy of B written, then stopped
    monkeypatch.setattr(np, "save", real_save)
    again = prepare_osm(a_path, tmp_path, crs=UTM)
    np.testing.assert_array_equal(np.load(tmp_path / "node_xy.npy"), xy_a)
    assert again.n_nodes == a.n_nodes


@pytest.mark.slow
def test_streamed_odd_inputs_match_untiled(city):
    """A polygon facility, one with no geometry, and cells far from every street: the same answer."""
    study, net, pop, fac, kw, _ref = city
    odd = fac.copy()
    odd.geometry = odd.geometry.astype(object)
    odd.iloc[0, odd.columns.get_loc("geometry")] = odd.geometry.iloc[0].buffer(40)  # a building
    odd.iloc[1, odd.columns.get_loc("geometry")] = None  # no location
    odd = gpd.GeoDataFrame(odd, geometry="geometry", crs=fac.crs)
    with pytest.warns(UserWarning, match="farther than"):
        ref = pl.compute_coverage(net, pop, odd, **kw)
    for network in (net, study.network_path):
        with pytest.warns(UserWarning, match="farther than"):
            got = compute_coverage_tiled(network, pop, odd, crs=net.crs, tile_m=2500, **kw)
        pd.testing.assert_frame_equal(ref.minutes, got.minutes, check_exact=True)
        pd.testing.assert_frame_equal(ref.nearest, got.nearest, check_exact=True)
        pd.testing.assert_frame_equal(ref.straight_minutes, got.straight_minutes, check_exact=True)
        np.testing.assert_array_equal(ref.cell_snap.access_m, got.cell_snap.access_m)
    assert np.isfinite(ref.minutes.to_numpy()).any()


@pytest.mark.slow
def test_cells_beyond_the_streets_are_refused_tiled_or_not(city):
    """Mostly far cells (50 km east; the streamed sample may hold none that snaps): refused the same way."""
    study, net, pop, fac, kw, _ref = city
    far = pop.copy()
    far.geometry = far.geometry.translate(50_000, 0)
    cells = pd.concat([far.iloc[20:], pop.iloc[:20]])  # 20 of 868 cells on the streets
    with pytest.raises(pl.InputError, match="848 of 868 rows lie outside the study area / network extent"):
        pl.compute_coverage(net, cells, fac, **kw)
    for network in (net, study.network_path):
        with pytest.raises(
            pl.InputError, match="848 of 868 rows lie outside the study area / network extent"
        ):
            compute_coverage_tiled(network, cells, fac, crs=net.crs, tile_m=2500, **kw)


def test_store_options_must_match(city, tmp_path):
    _study, _net, pop, fac, kw, _ref = city
    store = prepare_osm(TINY / "network.osm.bz2", tmp_path, crs=UTM)
    with pytest.raises(ValueError, match="prepare_osm it again"):
        compute_coverage_tiled(store, pop, fac, max_edge_m=20.0, **kw)
