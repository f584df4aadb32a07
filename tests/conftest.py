"""Shared fixtures: a hand-made lattice, the tiny real Las Palmas piece, offline guard."""

from __future__ import annotations

import socket
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

import planner as pl

DATA = Path(__file__).parent / "data"
TINY = DATA / "las_palmas_tiny"
REPO = Path(__file__).resolve().parents[1]
UTM = "EPSG:32628"


@pytest.fixture(autouse=True)
def _offline(monkeypatch, request):
    """Tests run offline: any connection to a non-loopback address fails at once."""
    if request.node.get_closest_marker("web"):
        return
    real = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1")):
            return real(self, address)
        if not isinstance(host, str) or self.family == socket.AF_UNIX:
            return real(self, address)
        msg = f"test tried to reach {address!r} with no internet"
        raise OSError(msg)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    # the network cache apart from tmp_path, which tests use as an output folder
    monkeypatch.setenv("PLANNER_CACHE_DIR", str(request.getfixturevalue("tmp_path_factory").mktemp("cache")))


def tiny_study_toml(extra: str = "", *, kinds: bool = True, boundary: bool = False) -> str:
    """The text of a study.toml over the tiny Las Palmas fixture (eldercare and nursery), plus ``extra``.

    ``kinds``: declare the two kinds (else the four defaults apply); ``boundary``: the fixture's area.
    """
    text = (
        f'name = "tiny"\ncrs = "EPSG:32628"\n'
        f'[network]\npath = "{(TINY / "network.osm.bz2").as_posix()}"\n'
        f'[population]\npath = "{(TINY / "population_grid_100m.gpkg").as_posix()}"\n'
        "[population.age_shares]\nage_60_plus = 0.25\nage_0_3 = 0.03\nage_0_17 = 0.16\n"
        f'[facilities]\npath = "{(TINY / "facilities.geojson").as_posix()}"\nkind_column = "category"\n'
        '[facilities.kind_map]\neldercare = "eldercare"\nnursery = "nursery"\n'
    )
    if boundary:
        text += f'[boundary]\npath = "{(TINY / "study_area.geojson").as_posix()}"\n'
    if kinds:
        text += (
            '[kinds.eldercare]\ntarget_column = "age_60_plus"\n[kinds.nursery]\ntarget_column = "age_0_3"\n'
        )
    return text + extra


def lattice_network(n: int = 4, block_m: float = 100.0) -> pl.WalkNetwork:
    """An n × n grid of nodes `block_m` apart; node i*n + j sits at (j*block_m, i*block_m)."""
    xy = np.array([[j * block_m, i * block_m] for i in range(n) for j in range(n)], float)
    u, v = [], []
    for i in range(n):
        for j in range(n):
            a = i * n + j
            if j + 1 < n:
                u.append(a)
                v.append(a + 1)
            if i + 1 < n:
                u.append(a)
                v.append(a + n)
    return pl.WalkNetwork.from_edges(xy, u, v, [block_m] * len(u), crs=UTM)


@pytest.fixture(scope="session")
def lattice() -> pl.WalkNetwork:
    return lattice_network()


def distances(a_xy, b_xy) -> np.ndarray:
    """Straight-line distances, len(a_xy) × len(b_xy) (random geometric covers in the siting tests)."""
    a_xy, b_xy = np.asarray(a_xy, float), np.asarray(b_xy, float)
    return np.hypot(*(a_xy[:, None, :] - b_xy[None, :, :]).transpose(2, 0, 1))


def points(xy, crs=UTM, **columns) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, float).reshape(-1, 2)
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)


@pytest.fixture(scope="session")
def tiny_network(tmp_path_factory) -> pl.WalkNetwork:
    return pl.WalkNetwork.from_osm_file(TINY / "network.osm.bz2", crs=UTM, use_cache=False)


@pytest.fixture(scope="session")
def tiny_population() -> gpd.GeoDataFrame:
    pop = pl.read_population(TINY / "population_grid_100m.gpkg")
    return pl.apply_age_shares(pop, {"age_60_plus": 0.25, "age_0_3": 0.03, "age_0_17": 0.16})


@pytest.fixture(scope="session")
def tiny_facilities() -> gpd.GeoDataFrame:
    return pl.read_facilities(
        TINY / "facilities.geojson",
        kind_column="category",
        kind_map={"eldercare": "eldercare", "nursery": "nursery"},
    )


@pytest.fixture
def make_population():
    """Factory: n random cells with population inside a box, seeded."""

    def make(n: int, seed: int, *, box=(0.0, 0.0, 300.0, 300.0)) -> gpd.GeoDataFrame:
        rng = np.random.default_rng(seed)
        x = rng.uniform(box[0], box[2], n)
        y = rng.uniform(box[1], box[3], n)
        pop = rng.integers(0, 500, n).astype(float)
        return points(np.column_stack([x, y]), population=pop)

    return make


def osmnx_graph(path: Path):
    """An OSM file read by osmnx itself (with the `foot` tag kept), for independent checks."""
    ox = pytest.importorskip("osmnx")
    old = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = [*old, "foot"]
    try:
        return ox.graph_from_xml(path, simplify=False, retain_all=True, bidirectional=True)
    finally:
        ox.settings.useful_tags_way = old


def osmnx_tiny_graph():
    """The tiny fixture read by osmnx itself."""
    return osmnx_graph(TINY / "network.osm.bz2")


def networkx_minutes(graph, population, facilities, *, speed_kmh, limit_min, crs=UTM):
    """Independent reference: an osmnx graph + networkx Dijkstra per facility + KD-tree snapping.

    Walkable edges by planner's tag rule; components of at least 1 % of the nodes (and the
    largest) are usable, as planner keeps them. Minutes beyond ``limit_min`` are inf.
    """
    import networkx as nx
    import osmnx as ox
    from scipy.spatial import cKDTree

    from planner.io.osm import is_walkable

    g = ox.project_graph(graph, to_crs=crs)
    und = nx.Graph()
    for a, b, d in g.edges(data=True):
        if a == b or not is_walkable({k: str(v) for k, v in d.items()}):
            continue
        if not und.has_edge(a, b) or und[a][b]["length"] > d["length"]:
            und.add_edge(a, b, length=d["length"])
    comps = sorted(nx.connected_components(und), key=len, reverse=True)
    n_total = und.number_of_nodes()
    usable = [n for c in comps if len(c) >= max(1.0, 0.01 * n_total) or c is comps[0] for n in c]
    tree = cKDTree(np.array([[g.nodes[n]["x"], g.nodes[n]["y"]] for n in usable]))
    f_acc, f_pos = tree.query(np.column_stack([facilities.geometry.x, facilities.geometry.y]))
    rep = population.geometry.representative_point()
    c_acc, c_pos = tree.query(np.column_stack([rep.x, rep.y]))
    best = np.full(len(c_pos), np.inf)
    for acc, pos in zip(f_acc, f_pos, strict=True):
        lengths = nx.single_source_dijkstra_path_length(und, usable[pos], weight="length")
        d = np.array([lengths.get(usable[p], np.inf) for p in c_pos])
        best = np.minimum(best, acc + d + c_acc)
    minutes = best / (speed_kmh * 1000 / 60)
    minutes[minutes > limit_min] = np.inf
    return minutes


def bundled_study(path=None):
    """The bundled Las Palmas study and its layers, read as `planner run` reads them."""
    study = pl.StudyArea.from_toml(path or REPO / "data/las_palmas/study.toml")
    inputs = pl.load_inputs(study)
    return study, inputs.network, inputs.population, inputs.facilities, inputs.districts
