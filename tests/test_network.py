import numpy as np
import pytest
from conftest import TINY, UTM, lattice_network, osmnx_tiny_graph
from scipy.sparse import csgraph

import planner as pl
from planner.io.osm import is_walkable


def test_lattice_distances_by_hand(lattice):
    dist, src = lattice.distances_m([0], [0.0])
    # node i*4+j is (j + i) blocks of 100 m from the corner
    expected = np.array([100.0 * (i + j) for i in range(4) for j in range(4)])
    np.testing.assert_allclose(dist, expected, atol=1e-6)
    assert (src == 0).all()


def test_offsets_are_access_legs_and_pick_the_nearest_source(lattice):
    # source 0 at corner with a 250 m access leg, source 1 at node 15 with none
    dist, src = lattice.distances_m([0, 15], [250.0, 0.0])
    assert dist[0] == pytest.approx(250.0)  # own node: 250 beats 600 from the far corner
    assert dist[3] == pytest.approx(300.0)  # 3 blocks from node 15, 550 from source 0
    assert src[3] == 1
    assert src[0] == 0


def test_limit_gives_inf_beyond(lattice):
    dist, src = lattice.distances_m([0], limit_m=150.0)
    assert np.isinf(dist[5])  # 200 m away
    assert src[5] == -1
    assert dist[1] == pytest.approx(100.0)


def test_split_edges_keep_distances_and_bound_snap_error():
    net = pl.WalkNetwork.from_edges([[0, 0], [1000, 0]], [0], [1], [1000.0], crs=UTM, max_edge_m=50)
    assert net.n_nodes == 21  # 20 pieces of 50 m
    dist, _ = net.distances_m([0])
    assert dist.max() == pytest.approx(1000.0)
    snap = net.snap([[512, 10]])
    assert snap.access_m[0] == pytest.approx(np.hypot(12, 10))


def test_repeated_edges_keep_the_shortest():
    net = pl.WalkNetwork.from_edges([[0, 0], [100, 0]], [0, 1, 0], [1, 0, 1], [300.0, 120.0, 150.0], crs=UTM)
    assert len(net.edges) == 1
    assert net.edges.length_m.iloc[0] == pytest.approx(120.0)


def test_two_components_and_fragment_flag():
    # main street of 10 nodes, a 2-node fragment right next to the point
    xy = [[i * 100.0, 0.0] for i in range(10)] + [[500.0, 200.0], [520.0, 200.0]]
    u = [*range(9), 10]
    v = [*range(1, 10), 11]
    net = pl.WalkNetwork.from_edges(xy, u, v, [100.0] * 9 + [20.0], crs=UTM, min_component_share=0.5)
    assert net.snappable.sum() == 10
    snap = net.snap([[505.0, 190.0]], max_snap_m=300)
    assert snap.node[0] == 5  # joined the main street, not the fragment
    assert snap.fragment[0]
    assert snap.access_m[0] == pytest.approx(np.hypot(5, 190))


def test_snap_refuses_far_points(lattice):
    snap = lattice.snap([[150, 150], [5000, 5000], [np.nan, 0]], max_snap_m=300)
    assert snap.ok.tolist() == [True, False, False]
    assert snap.node[1] == -1
    assert "ok=1" in repr(snap)


def test_snap_checks_crs(lattice):
    import geopandas as gpd

    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy([0], [0]), crs="EPSG:4326")
    with pytest.raises(pl.InputError, match="reproject"):
        lattice.snap(pts)


def test_geographic_crs_refused():
    with pytest.raises(pl.InputError, match="metric CRS"):
        pl.WalkNetwork.from_edges([[0, 0], [1, 0]], [0], [1], [1.0], crs="EPSG:4326")


def test_walk_filter():
    assert is_walkable({"highway": "residential"})
    assert is_walkable({"highway": "footway"})
    assert not is_walkable({"highway": "motorway"})
    assert not is_walkable({"highway": "residential", "foot": "no"})
    assert not is_walkable({"highway": "service", "access": "private"})
    assert is_walkable({"highway": "cycleway", "foot": "designated"})
    assert not is_walkable({"highway": "pedestrian", "area": "yes"})
    assert not is_walkable({"building": "yes"})


def test_osm_file_matches_osmnx_graph():
    """Our XML parser gives the same street graph as osmnx on the same file."""
    net = pl.WalkNetwork.from_osm_file(TINY / "network.osm.bz2", crs=UTM, max_edge_m=None, use_cache=False)
    g = osmnx_tiny_graph()
    keep = [
        (a, b)
        for a, b, d in g.edges(data=True)
        if is_walkable({k: (v if isinstance(v, str) else str(v)) for k, v in d.items()})
    ]
    pairs = {(min(a, b), max(a, b)) for a, b in keep if a != b}
    ids = net.node_id
    ours = {(min(ids[a], ids[b]), max(ids[a], ids[b])) for a, b in zip(net.edges.u, net.edges.v, strict=True)}
    assert ours == pairs
    length = {(min(a, b), max(a, b)): d["length"] for a, b, d in g.edges(data=True)}
    got = np.array(
        [
            length[(min(ids[a], ids[b]), max(ids[a], ids[b]))]
            for a, b in zip(net.edges.u, net.edges.v, strict=True)
        ]
    )
    np.testing.assert_allclose(net.edges.length_m.to_numpy(), got, rtol=1e-6)


def test_cache_roundtrip_gives_the_same_network(tmp_path):
    a = pl.WalkNetwork.from_osm_file(TINY / "network.osm.bz2", cache_dir=tmp_path)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1
    b = pl.WalkNetwork.from_osm_file(TINY / "network.osm.bz2", cache_dir=tmp_path)
    np.testing.assert_array_equal(a.node_xy, b.node_xy)
    assert (a.csr != b.csr).nnz == 0
    # a corrupt cache is ignored and rebuilt, not fatal
    files[0].write_bytes(b"not a zip")
    c = pl.WalkNetwork.from_osm_file(TINY / "network.osm.bz2", cache_dir=tmp_path)
    assert c.n_nodes == a.n_nodes


def test_components_are_labelled_largest_first(tiny_network):
    n, _labels = csgraph.connected_components(tiny_network.csr, directed=False)
    assert int(tiny_network.component.max()) + 1 == n
    sizes = np.bincount(tiny_network.component)
    assert sizes[0] == sizes.max()
    assert tiny_network.snappable[tiny_network.component == 0].all()


def test_pbf_gets_a_conversion_hint(tmp_path):
    f = tmp_path / "city.osm.pbf"
    f.write_bytes(b"\x00")
    with pytest.raises(pl.NetworkError, match="osmium"):
        pl.WalkNetwork.from_osm_file(f)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"<osm><node id='1' lat='0' lon='0'/></osm>", "no walkable streets"),
        (b"<osm><node", "not a readable OSM XML"),
    ],
)
def test_bad_osm_files(tmp_path, content, match):
    f = tmp_path / "bad.osm"
    f.write_bytes(content)
    with pytest.raises(pl.NetworkError, match=match):
        pl.WalkNetwork.from_osm_file(f, use_cache=False)


def test_missing_network_file(tmp_path):
    with pytest.raises(pl.InputError, match="does not exist"):
        pl.WalkNetwork.from_osm_file(tmp_path / "nope.osm")


def test_from_place_fails_fast_offline():
    import time

    t0 = time.perf_counter()
    with pytest.raises(pl.NetworkError, match="internet"):
        pl.WalkNetwork.from_place("Gusu District, Suzhou", timeout_s=2)
    assert time.perf_counter() - t0 < 5


def test_from_graph_follows_edge_geometry():
    import networkx as nx
    from shapely.geometry import LineString

    g = nx.MultiDiGraph(crs=UTM)
    g.add_node(1, x=0.0, y=0.0)
    g.add_node(2, x=200.0, y=0.0)
    g.add_edge(1, 2, length=400.0, geometry=LineString([(0, 0), (100, 100), (200, 0)]))
    net = pl.WalkNetwork.from_graph(g, max_edge_m=None)
    assert net.n_nodes == 3  # the bend became a node
    dist, _ = net.distances_m([0])
    assert dist[1] == pytest.approx(400.0)


def test_west_oakland_builds_in_its_utm_zone():
    net = pl.WalkNetwork.from_osm_file(TINY.parent / "west_oakland.osm.bz2", use_cache=False)
    assert net.crs.to_epsg() == 32610
    assert net.n_nodes > 40


def test_lattice_helper_shape():
    net = lattice_network(3)
    assert net.n_nodes == 9
    assert len(net.edges) == 12


def test_zero_length_edges_still_connect():
    net = pl.WalkNetwork.from_edges([[0, 0], [0, 0], [100, 0]], [0, 1], [1, 2], [0.0, 100.0], crs=UTM)
    dist, _ = net.distances_m([0])
    np.testing.assert_allclose(dist, [0.0, 0.0, 100.0])
