"""The street store's component decisions (which nodes points may snap to) against the whole network."""

import numpy as np
import pytest
from conftest import REPO, TINY, UTM

import planner as pl
from planner.scale.store import ComponentIndex, prepare_osm

CITY = REPO / "data" / "las_palmas" / "network_walk.osm.bz2"
FILES = [TINY / "network.osm.bz2", pytest.param(CITY, marks=pytest.mark.slow)]


def osm_components(path, tmp_path, **kw):
    """The component index of a street store prepared from ``path``."""
    return prepare_osm(path, tmp_path / "store", crs=UTM, **kw).components


# ---------------------------------------------------------------- components
@pytest.mark.parametrize("path", FILES, ids=["tiny", "city"])
@pytest.mark.parametrize(("max_edge_m", "share"), [(50.0, 0.01), (20.0, 0.002), (None, 0.001)])
def test_snappable_matches_from_osm_file(path, max_edge_m, share, tmp_path):
    net = pl.WalkNetwork.from_osm_file(path, crs=UTM, max_edge_m=max_edge_m, min_component_share=share,
                                       use_cache=False)  # fmt: skip
    idx = osm_components(path, tmp_path, max_edge_m=max_edge_m, min_component_share=share)
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


@pytest.mark.slow
def test_several_snappable_components(tmp_path):
    share = 0.002
    net = pl.WalkNetwork.from_osm_file(CITY, crs=UTM, min_component_share=share, use_cache=False)
    idx = osm_components(CITY, tmp_path, min_component_share=share)
    assert idx.snappable_component.sum() >= 2 or len(np.unique(net.component[net.snappable])) == 1
    np.testing.assert_array_equal(idx.snappable(net.node_id[net.node_id >= 0]),
                                  net.snappable[net.node_id >= 0])  # fmt: skip


def test_store_guards_and_pbf(tmp_path):
    with pytest.raises(pl.InputError, match="does not exist"):
        prepare_osm(REPO / "nope.osm.bz2", tmp_path / "x")
    osmium = pytest.importorskip("osmium")
    pbf = tmp_path / "tiny.osm.pbf"
    src = TINY / "network.osm.bz2"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    a, b = osm_components(src, tmp_path / "a"), osm_components(pbf, tmp_path / "b")
    np.testing.assert_array_equal(a.node_id, b.node_id)
    np.testing.assert_array_equal(a.label, b.label)
    assert a.max_segment_m == b.max_segment_m


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
