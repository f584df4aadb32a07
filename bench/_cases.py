"""Benchmark inputs: one ``Case`` = one network + cells + facilities, shared by all methods.

Every method in ``bench/coverage.py`` gets the *same* ``Case``:

* an undirected, de-duplicated edge list ``(u, v, length_m)`` over nodes ``0..n-1``
  (parallel edges collapsed to the shortest, self loops dropped, lengths clamped to
  >= ``MIN_LENGTH_M`` so that no method sees a zero-weight edge);
* cell points (centroids) with population, facility points with a ``kind``;
* the nearest network node of every cell and facility (scipy cKDTree; by default only
  nodes of the largest connected component), used by all the reference methods, so they
  differ only in the shortest-path engine.

Building a case is timed (``case.load_timings``) but not part of any method's time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "LAS_PALMAS_EXPECTED_SHARE",
    "LAS_PALMAS_FALLBACK",
    "LAS_PALMAS_KINDS",
    "Case",
    "load_las_palmas",
    "make_synthetic_case",
    "resolve_data_dir",
]

REPO = Path(__file__).resolve().parents[1]
LAS_PALMAS_DEFAULT = REPO / "data" / "las_palmas"
LAS_PALMAS_FALLBACK = Path("/work/shared/data/las_palmas")
LAS_PALMAS_FILES = ("network_walk.osm.bz2", "population_grid_100m.gpkg", "facilities.geojson")
#: kinds evaluated on Las Palmas (the categories of the SOURCES.md reference result)
LAS_PALMAS_KINDS = ("nursery", "eldercare", "community_centre")
#: SOURCES.md §1 "Reference result": population share covered at 1,200 m (nearest-node snapping)
LAS_PALMAS_EXPECTED_SHARE = {"nursery": 0.913, "eldercare": 0.672, "community_centre": 0.482}
UTM = "EPSG:32628"
MIN_LENGTH_M = 0.01


@dataclass
class Case:
    name: str
    crs: str
    node_xy: np.ndarray  # (n, 2) metres
    u: np.ndarray  # (m,) int64, u < v
    v: np.ndarray  # (m,) int64
    length_m: np.ndarray  # (m,) float64 > 0
    cell_xy: np.ndarray  # (c, 2)
    cell_pop: np.ndarray  # (c,)
    cell_id: np.ndarray  # (c,)
    facility_xy: np.ndarray  # (f, 2)
    facility_kind: np.ndarray  # (f,) str
    facility_name: np.ndarray  # (f,) str
    kinds: tuple[str, ...]
    threshold_m: float
    speed_kmh: float
    osm_path: Path | None = None
    node_osmid: np.ndarray | None = None
    nx_graph_osmnx: object = None  # projected osmnx MultiDiGraph (Las Palmas only; not used by methods)
    load_timings: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    # filled by snap()
    cell_node: np.ndarray | None = None
    cell_snap_m: np.ndarray | None = None
    facility_node: np.ndarray | None = None
    facility_snap_m: np.ndarray | None = None

    # ---- derived ---------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return int(self.node_xy.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.u.shape[0])

    @property
    def n_cells(self) -> int:
        return int(self.cell_xy.shape[0])

    @property
    def threshold_min(self) -> float:
        return self.threshold_m / (self.speed_kmh * 1000.0 / 60.0)

    def sources(self, kind: str) -> np.ndarray:
        """Unique nearest-node indices of the facilities of ``kind``."""
        return np.unique(self.facility_node[self.facility_kind == kind])

    def n_facilities(self, kind: str) -> int:
        return int((self.facility_kind == kind).sum())

    def snap(self, mode: str = "lcc") -> None:
        """Nearest node of every cell and facility (scipy cKDTree).

        ``mode="lcc"`` (default) snaps only to nodes of the largest connected component,
        like DESIGN.md's WalkNetwork and the SOURCES.md reference result; ``"all"`` snaps
        to any node, so points can land on small disconnected fragments (Las Palmas with
        ``retain_all=True`` has hundreds of them) and count as uncovered.
        """
        from _synthetic import to_csr
        from scipy.sparse.csgraph import connected_components
        from scipy.spatial import cKDTree

        t = time.perf_counter()
        n_comp, label = connected_components(
            to_csr(self.n_nodes, self.u, self.v, self.length_m), directed=False
        )
        lcc = label == np.bincount(label).argmax()
        self.info.update(components=int(n_comp), lcc_nodes=int(lcc.sum()), snap_mode=mode)
        self.load_timings["connected components"] = time.perf_counter() - t

        t = time.perf_counter()
        idx = np.flatnonzero(lcc) if mode == "lcc" else np.arange(self.n_nodes)
        tree = cKDTree(self.node_xy[idx])
        self.cell_snap_m, i = tree.query(self.cell_xy)
        self.cell_node = idx[i]
        self.facility_snap_m, i = tree.query(self.facility_xy)
        self.facility_node = idx[i]
        self.load_timings[f"snap cells+facilities (cKDTree, {mode})"] = time.perf_counter() - t
        self.info.update(
            cells_off_lcc=int((~lcc[self.cell_node]).sum()),
            facilities_off_lcc=int((~lcc[self.facility_node]).sum()),
        )

    # ---- GeoDataFrames for the planner (built on demand, never timed) -----------
    def population_gdf(self):
        import geopandas as gpd

        return gpd.GeoDataFrame(
            {"cell_id": self.cell_id, "population": self.cell_pop},
            geometry=gpd.points_from_xy(self.cell_xy[:, 0], self.cell_xy[:, 1]),
            crs=self.crs,
        )

    def facilities_gdf(self):
        import geopandas as gpd

        return gpd.GeoDataFrame(
            {"kind": self.facility_kind, "name": self.facility_name},
            geometry=gpd.points_from_xy(self.facility_xy[:, 0], self.facility_xy[:, 1]),
            crs=self.crs,
        )

    def summary(self) -> str:
        fac = ", ".join(f"{k} {self.n_facilities(k)}" for k in self.kinds)
        return (
            f"{self.name}: {self.n_nodes:,} nodes, {self.n_edges:,} undirected edges, "
            f"{self.n_cells:,} cells (population {self.cell_pop.sum():,.0f}), facilities: {fac}; "
            f"cutoff {self.threshold_m:g} m (= {self.threshold_min:g} min at {self.speed_kmh:g} km/h); "
            f"{self.info.get('components', '?')} components (largest {self.info.get('lcc_nodes', 0):,} nodes), "
            f"snap to {self.info.get('snap_mode')}: off-LCC cells {self.info.get('cells_off_lcc')}, "
            f"facilities {self.info.get('facilities_off_lcc')}; "
            f"snap median/max: cells {np.median(self.cell_snap_m):.0f}/{self.cell_snap_m.max():.0f} m, "
            f"facilities {np.median(self.facility_snap_m):.0f}/{self.facility_snap_m.max():.0f} m"
        )


def canonical_edges(u, v, w, min_length=MIN_LENGTH_M):
    """Undirected, de-duplicated (shortest parallel edge kept), no self loops."""
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    w = np.asarray(w, dtype=np.float64)
    a, b = np.minimum(u, v), np.maximum(u, v)
    keep = a != b
    a, b, w = a[keep], b[keep], w[keep]
    order = np.lexsort((w, b, a))  # by (a, b), shortest first
    a, b, w = a[order], b[order], w[order]
    first = np.ones(a.shape[0], dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, w = a[first], b[first], w[first]
    n_clamped = int((w < min_length).sum())
    return a, b, np.maximum(w, min_length), n_clamped


def resolve_data_dir(data: str | Path | None) -> Path:
    """``--data`` if given, else ``<repo>/data/las_palmas``, else the shared copy."""
    if data is not None:
        return Path(data)
    for d in (LAS_PALMAS_DEFAULT, LAS_PALMAS_FALLBACK):
        if all((d / f).exists() for f in LAS_PALMAS_FILES):
            return d
    return LAS_PALMAS_DEFAULT


def load_las_palmas(
    data_dir: Path,
    threshold_m: float = 1200.0,
    speed_kmh: float = 4.8,
    kinds=LAS_PALMAS_KINDS,
    snap: str = "lcc",
) -> Case:
    import warnings

    import geopandas as gpd
    import osmnx as ox

    data_dir = Path(data_dir)
    osm = data_dir / "network_walk.osm.bz2"
    timings: dict[str, float] = {}

    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        G = ox.graph_from_xml(osm, simplify=True, retain_all=True)
    timings["osmnx graph_from_xml (simplify, retain_all)"] = time.perf_counter() - t

    t = time.perf_counter()
    Gp = ox.project_graph(G, to_crs=UTM)
    timings["osmnx project_graph -> EPSG:32628"] = time.perf_counter() - t

    t = time.perf_counter()
    osmids = np.fromiter(Gp.nodes, dtype=np.int64, count=Gp.number_of_nodes())
    node_xy = np.array([(d["x"], d["y"]) for _, d in Gp.nodes(data=True)], dtype=np.float64)
    pos = {n: i for i, n in enumerate(osmids.tolist())}
    edges = [(pos[a], pos[b], w) for a, b, w in Gp.edges(data="length")]
    eu, ev, ew = (np.array(x) for x in zip(*edges, strict=True))
    u, v, w, n_clamped = canonical_edges(eu, ev, ew)
    timings["graph -> undirected edge arrays"] = time.perf_counter() - t

    t = time.perf_counter()
    pop = gpd.read_file(data_dir / "population_grid_100m.gpkg")
    if pop.crs is None or pop.crs.to_string() != UTM:
        pop = pop.to_crs(UTM)
    cent = pop.geometry.centroid
    fac = gpd.read_file(data_dir / "facilities.geojson").to_crs(UTM)
    fac = fac[fac["category"].isin(kinds)].reset_index(drop=True)
    timings["read population + facilities"] = time.perf_counter() - t

    case = Case(
        name="las_palmas",
        crs=UTM,
        node_xy=node_xy,
        u=u,
        v=v,
        length_m=w,
        cell_xy=np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()]),
        cell_pop=pop["population"].to_numpy(dtype=np.float64),
        cell_id=pop["cell_id"].astype(str).to_numpy(),
        facility_xy=np.column_stack([fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy()]),
        facility_kind=fac["category"].astype(str).to_numpy(),
        facility_name=fac["name"].fillna("").astype(str).to_numpy(),
        kinds=tuple(k for k in kinds if (fac["category"] == k).any()),
        threshold_m=threshold_m,
        speed_kmh=speed_kmh,
        osm_path=osm,
        node_osmid=osmids,
        nx_graph_osmnx=Gp,
        load_timings=timings,
        info={
            "data_dir": str(data_dir),
            "osmnx_nodes": G.number_of_nodes(),
            "osmnx_directed_edges": G.number_of_edges(),
            "lengths_clamped": n_clamped,
        },
    )
    case.snap(snap)
    return case


def make_synthetic_case(
    n_nodes=300_000,
    n_cells=100_000,
    n_facilities=300,
    seed=0,
    threshold_m: float = 1200.0,
    speed_kmh: float = 4.8,
    snap: str = "lcc",
) -> Case:
    from _synthetic import make_synthetic_city

    t = time.perf_counter()
    city = make_synthetic_city(n_nodes=n_nodes, n_cells=n_cells, n_facilities=n_facilities, seed=seed)
    dt = time.perf_counter() - t
    u, v, w, n_clamped = canonical_edges(city.u, city.v, city.length_m)
    kinds = tuple(
        dict.fromkeys(
            k
            for k in ("nursery", "eldercare", "community_centre", *city.facility_kind.tolist())
            if (city.facility_kind == k).any()
        )
    )
    case = Case(
        name="synthetic",
        crs=city.crs,
        node_xy=city.node_xy,
        u=u,
        v=v,
        length_m=w,
        cell_xy=city.cell_xy,
        cell_pop=city.cell_pop,
        cell_id=city.cell_id,
        facility_xy=city.facility_xy,
        facility_kind=city.facility_kind,
        facility_name=np.array([f"{k} #{i}" for i, k in enumerate(city.facility_kind.tolist())]),
        kinds=kinds,
        threshold_m=threshold_m,
        speed_kmh=speed_kmh,
        load_timings={"make_synthetic_city": dt},
        info={"params": city.params, "lengths_clamped": n_clamped},
    )
    case.snap(snap)
    return case
