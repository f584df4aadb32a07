import numpy as np
import pandas as pd
import pytest
from conftest import REPO, TINY, UTM

import planner as pl
from planner.coverage import check_options
from planner.network import _points_xy
from planner.scale import _pad, plan_tiles
from planner.scale_osm import ComponentIndex, osm_components, read_tile_network

CITY = REPO / "data" / "las_palmas" / "network_walk.osm.bz2"
FILES = [TINY / "network.osm.bz2", CITY]


@pytest.fixture(scope="module")
def city():
    """data/las_palmas as `planner run` reads it, with its OSM file's components."""
    from planner.cli import build_parser, load_inputs

    args = build_parser().parse_args(["run", str(REPO / "data/las_palmas/study.toml"), "--out", "unused"])
    study, net, pop, fac, _districts = load_inputs(args)
    return study, net, pop, fac, osm_components(CITY, max_edge_m=net.params["max_edge_m"])


# ---------------------------------------------------------------- components
@pytest.mark.parametrize("path", FILES, ids=["tiny", "city"])
@pytest.mark.parametrize(("max_edge_m", "share"), [(50.0, 0.01), (20.0, 0.002), (None, 0.001)])
def test_snappable_matches_from_osm_file(path, max_edge_m, share):
    net = pl.WalkNetwork.from_osm_file(path, crs=UTM, max_edge_m=max_edge_m, min_component_share=share,
                                       use_cache=False)  # fmt: skip
    idx = osm_components(path, max_edge_m=max_edge_m, min_component_share=share)
    assert isinstance(idx, ComponentIndex)
    osm = net.node_id >= 0
    np.testing.assert_array_equal(idx.node_id, net.node_id[osm])  # the same nodes, sorted by id
    np.testing.assert_array_equal(idx.snappable(net.node_id[osm]), net.snappable[osm])
    assert idx.n_nodes == net.n_nodes  # inserted split nodes are counted
    sizes = np.bincount(net.component)
    np.testing.assert_array_equal(np.sort(idx.size)[::-1], np.sort(sizes)[::-1])
    assert (~net.snappable).any()  # fragments exist, so the decision is tested
    assert idx.nbytes <= 13 * len(idx.node_id) + 13 * len(idx.size)
    assert not idx.snappable([-5, 10**15]).any()


def test_several_snappable_components():
    share = 0.002
    net = pl.WalkNetwork.from_osm_file(CITY, crs=UTM, min_component_share=share, use_cache=False)
    idx = osm_components(CITY, min_component_share=share)
    assert idx.snappable_component.sum() >= 2 or len(np.unique(net.component[net.snappable])) == 1
    np.testing.assert_array_equal(idx.snappable(net.node_id[net.node_id >= 0]),
                                  net.snappable[net.node_id >= 0])  # fmt: skip


# ---------------------------------------------------------------- one tile
def _in(xy, box):
    return (xy[:, 0] >= box[0]) & (xy[:, 0] <= box[2]) & (xy[:, 1] >= box[1]) & (xy[:, 1] <= box[3])


def _rows(net, mask):
    """Nodes under mask as (x, y, osm id, snappable), sorted: comparable across networks."""
    return pd.DataFrame({"x": net.node_xy[mask, 0], "y": net.node_xy[mask, 1], "id": net.node_id[mask],
                         "snap": net.snappable[mask]}).sort_values(["x", "y", "id"]).reset_index(drop=True)  # fmt: skip


@pytest.mark.parametrize("frac", [(0.3, 0.3, 0.6, 0.6), (0.0, 0.0, 0.2, 1.0), (0.45, 0.1, 0.5, 0.15)])
def test_tile_network_equals_whole_inside_box(city, frac):
    _study, net, *_, idx = city
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    box = (*(lo + (hi - lo) * frac[:2]), *(lo + (hi - lo) * frac[2:]))
    tile = read_tile_network(CITY, box, crs=net.crs, components=idx, max_edge_m=net.params["max_edge_m"])
    assert tile.n_nodes < net.n_nodes
    pd.testing.assert_frame_equal(_rows(net, _in(net.node_xy, box)), _rows(tile, _in(tile.node_xy, box)))

    # edges with both ends in the box: same pairs, same lengths (bit for bit)
    def edges(n):
        e = n.edges
        a, b = n.node_xy[e.u.to_numpy()], n.node_xy[e.v.to_numpy()]
        keep = _in(a, box) & _in(b, box)
        a, b = a[keep], b[keep]
        swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
        a, b = np.where(swap[:, None], b, a), np.where(swap[:, None], a, b)
        df = pd.DataFrame({"ax": a[:, 0], "ay": a[:, 1], "bx": b[:, 0], "by": b[:, 1],
                           "length": e.length_m.to_numpy()[keep]})  # fmt: skip
        return df.sort_values(list(df.columns)).reset_index(drop=True)

    pd.testing.assert_frame_equal(edges(net), edges(tile), check_exact=True)
    # every tile node is a node of the whole network (only true pieces outside the box)
    whole = set(map(tuple, net.node_xy.tolist()))
    assert all(tuple(p) in whole for p in tile.node_xy.tolist())


def test_tile_reader_guards(city):
    _study, net, *_, idx = city
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    box = (*(lo + (hi - lo) * 0.4), *(lo + (hi - lo) * 0.6))
    with pytest.raises(pl.NetworkError, match="larger margin_m"):
        read_tile_network(CITY, box, crs=net.crs, components=idx, max_edge_m=50.0, margin_m=0.5)
    with pytest.raises(ValueError, match="max_edge_m"):
        read_tile_network(CITY, box, crs=net.crs, components=idx, max_edge_m=30.0)
    with pytest.raises(ValueError, match="box must be"):
        read_tile_network(CITY, box[2:] + box[:2], crs=net.crs, components=idx, max_edge_m=50.0)
    with pytest.raises(pl.InputError, match="does not exist"):
        osm_components(REPO / "nope.osm.bz2")


def test_pbf_gives_the_same(tmp_path):
    osmium = pytest.importorskip("osmium")
    pbf = tmp_path / "tiny.osm.pbf"
    src = TINY / "network.osm.bz2"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    a, b = osm_components(src), osm_components(pbf)
    np.testing.assert_array_equal(a.node_id, b.node_id)
    np.testing.assert_array_equal(a.label, b.label)
    assert a.max_segment_m == b.max_segment_m
    net = pl.WalkNetwork.from_osm_file(src, crs=UTM, use_cache=False)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    box = (*(lo + (hi - lo) * 0.2), *(lo + (hi - lo) * 0.7))
    ta = read_tile_network(src, box, crs=UTM, components=a)
    tb = read_tile_network(pbf, box, crs=UTM, components=b)
    np.testing.assert_array_equal(ta.node_xy, tb.node_xy)
    pd.testing.assert_frame_equal(ta.edges, tb.edges, check_exact=True)
    np.testing.assert_array_equal(ta.snappable, tb.snappable)


# ---------------------------------------------------------------- tiled coverage, streets per tile
def _ids(df):
    return df.astype(object).where(df.notna(), None)


@pytest.mark.parametrize("tile_m", [1000.0, 2500.0])
def test_tiled_coverage_from_tile_networks_is_exact(city, tile_m):
    study, net, pop, fac, idx = city
    kw = {"kinds": study.kinds, "thresholds_min": study.thresholds_min, "max_snap_m": study.max_snap_m}
    ref = pl.compute_coverage(net, pop, fac, **kw)
    kinds, _, limit_min = check_options(study.kinds, study.thresholds_min, None)
    reach_m = limit_min * max(k.speed_kmh * 1000.0 / 60.0 for k in kinds.values())
    _, cell_xy = _points_xy(pop.to_crs(net.crs), net.crs)
    _, fac_xy = _points_xy(fac.to_crs(net.crs), net.crs)
    plan = plan_tiles(net, cell_xy, reach_m=reach_m, max_snap_m=study.max_snap_m, tile_m=tile_m)
    assert len(plan.tiles) > 1
    n_tile_nodes = []
    for k, tile in enumerate(plan.tiles):
        cells = pop.iloc[np.flatnonzero(plan.cell_tile == k)]
        tnet = read_tile_network(CITY, _pad(tile.bounds, plan.halo_m), crs=net.crs, components=idx,
                                 max_edge_m=net.params["max_edge_m"])  # fmt: skip
        n_tile_nodes.append(tnet.n_nodes)
        fac_in = fac[_in(fac_xy, _pad(tile.bounds, plan.facility_pad_m))]
        got = pl.compute_coverage(tnet, cells, fac_in, **kw)
        pd.testing.assert_frame_equal(ref.minutes.loc[cells.index], got.minutes, check_exact=True)
        # (the dtype of an all-missing column of ids depends on the facilities passed)
        pd.testing.assert_frame_equal(_ids(ref.nearest.loc[cells.index]), _ids(got.nearest))
        # snapping: the same node (OSM id and position), access leg and flags
        rs, gs = ref.cell_snap, got.cell_snap
        pos = pop.index.get_indexer(cells.index)
        np.testing.assert_array_equal(rs.ok[pos], gs.ok)
        ok = gs.ok
        np.testing.assert_array_equal(net.node_id[rs.node[pos][ok]], tnet.node_id[gs.node[ok]])
        np.testing.assert_array_equal(net.node_xy[rs.node[pos][ok]], tnet.node_xy[gs.node[ok]])
        np.testing.assert_array_equal(rs.access_m[pos][ok], gs.access_m[ok])
        np.testing.assert_array_equal(rs.fragment[pos][ok], gs.fragment[ok])
    assert max(n_tile_nodes) < net.n_nodes  # the tiles really hold less than the whole network


def test_from_edges_takes_given_snappable_flags():
    # two pieces: 0-1 (a 120 m edge, split in 3 at max_edge_m=50) and 2-3; only the second is flagged
    xy = [[0, 0], [120, 0], [500, 0], [510, 0]]
    net = pl.WalkNetwork.from_edges(xy, [0, 2], [1, 3], [120.0, 10.0], crs=UTM, max_edge_m=50.0,
                                    snappable=[False, False, True, True])  # fmt: skip
    assert net.n_nodes == 6
    np.testing.assert_array_equal(net.snappable, [False, False, True, True, False, False])
    default = pl.WalkNetwork.from_edges(xy, [0, 2], [1, 3], [120.0, 10.0], crs=UTM, max_edge_m=50.0)
    assert default.snappable[:2].all()  # the largest piece, by the share rule
    with pytest.raises(ValueError, match="one flag per node"):
        pl.WalkNetwork.from_edges(xy, [0], [1], [120.0], crs=UTM, snappable=[True])
