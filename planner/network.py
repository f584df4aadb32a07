"""WalkNetwork: the street network as a scipy CSR matrix in metres, built once; snapping; travel matrices."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pyproj
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from planner._validate import check_metric_crs
from planner.errors import InputError, NetworkError
from planner.io.osm import (
    check_osm_path,
    file_digest,
    parse_osm,
    project_xy,
    read_network_cache,
    utm_crs,
    write_network_cache,
)
from planner.kinds import DEFAULT_MAX_EDGE_M, DEFAULT_MAX_SNAP_M

logger = logging.getLogger(__name__)

# Bump when parsing or filtering changes, so old cache files are not reused.
_CACHE_VERSION = 2

# Sparse travel matrices store at least this, so a 0 m pair is not lost as an implicit zero.
_MIN_M = 1e-6


def default_cache_dir() -> Path:
    """Where built networks are cached: ``$PLANNER_CACHE_DIR`` or ``~/.cache/planner``."""
    env = os.environ.get("PLANNER_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "planner"


class StreetSource(Protocol):
    """Where streets come from, as coverage reports need it: a WalkNetwork or a street store."""

    @property
    def crs(self) -> pyproj.CRS: ...

    @property
    def source(self) -> str: ...

    @property
    def n_nodes(self) -> int: ...

    @property
    def params(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Snapped:
    """Where each input point joins the network.

    Attributes
    ----------
    index
        The input's index, so results line up with the input rows.
    node
        Network node per point (``-1`` where ``ok`` is False).
    access_m
        Straight-line walk from the point to its node, in metres.
    ok
        False where the nearest usable street is farther than ``max_snap_m``.
    fragment
        True where a node of a small disconnected fragment was nearer than the node used.
    max_snap_m
        The limit that was applied.
    """

    index: pd.Index
    node: np.ndarray
    access_m: np.ndarray
    ok: np.ndarray
    fragment: np.ndarray
    max_snap_m: float

    def __len__(self) -> int:
        return len(self.node)

    def __repr__(self) -> str:
        return f"Snapped(points={len(self)}, ok={int(self.ok.sum())}, max_snap_m={self.max_snap_m:g})"

    def to_frame(self) -> pd.DataFrame:
        """The snapping as a table indexed like the input."""
        return pd.DataFrame(
            {"node": self.node, "access_m": self.access_m, "ok": self.ok, "fragment": self.fragment},
            index=self.index,
        )


@dataclass(frozen=True, eq=False)
class WalkNetwork:
    """An undirected walking network in a metric CRS, ready for many searches.

    Build it with one of the ``from_*`` constructors. Edge lengths are metres; long edges
    are split so that no piece is longer than ``max_edge_m``, which bounds the error of
    snapping a point to its nearest node (at most half a piece).

    Attributes
    ----------
    crs
        The metric CRS of ``node_xy``.
    node_xy
        Node coordinates, shape (n, 2), metres.
    node_id
        OSM node id per node (``-1`` for nodes inserted when splitting long edges).
    edges
        Edge table: ``u``, ``v`` (node positions) and ``length_m``, each edge once.
    csr
        Symmetric n × n matrix of edge lengths in metres (both directions stored).
    component
        Connected-component label per node (0 is the largest).
    snappable
        Nodes that points may snap to: components with at least ``min_component_share``
        of the nodes (always the largest).
    source
        Where the network came from.

    Examples
    --------
    >>> net = WalkNetwork.from_edges(
    ...     [[0, 0], [100, 0], [200, 0]], [0, 1], [1, 2], [100.0, 100.0], crs="EPSG:32628"
    ... )
    >>> net
    WalkNetwork(nodes=3, edges=2, components=1, crs='EPSG:32628', source='edges')
    """

    crs: pyproj.CRS
    node_xy: np.ndarray
    node_id: np.ndarray
    edges: pd.DataFrame
    csr: sparse.csr_matrix
    component: np.ndarray
    snappable: np.ndarray
    source: str = "edges"
    params: dict[str, Any] = field(default_factory=dict)
    _trees: dict[str, Any] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edges(
        cls,
        node_xy: Any,
        u: Any,
        v: Any,
        length_m: Any,
        *,
        crs: Any,
        node_id: Any = None,
        max_edge_m: float | None = None,
        min_component_share: float = 0.01,
        source: str = "edges",
        snappable: Any = None,
    ) -> WalkNetwork:
        """Build from node coordinates (metres) and an edge list.

        Parameters
        ----------
        node_xy
            (n, 2) coordinates in ``crs``.
        u, v
            Edge end positions (0-based rows of ``node_xy``).
        length_m
            Edge lengths in metres; repeated edges keep the shortest.
        crs
            A projected (metric) CRS.
        node_id
            Optional external ids per node (e.g. OSM ids).
        max_edge_m
            Split longer edges into equal straight pieces (None: do not split).
        min_component_share
            Components with at least this share of all nodes accept snapped points;
            smaller fragments are reported instead of used.
        source
            A label recorded on the network.
        snappable
            Optional boolean per row of ``node_xy``: which nodes points may snap to, decided
            elsewhere (e.g. over a whole file, for a tile); nodes inserted by splitting take
            their edge's flag, and ``min_component_share`` is then not used.

        Returns
        -------
        WalkNetwork
        """
        crs = pyproj.CRS.from_user_input(crs)
        check_metric_crs(crs, "WalkNetwork")
        xy = np.asarray(node_xy, dtype=float).reshape(-1, 2)
        u = np.asarray(u, dtype=np.int64)
        v = np.asarray(v, dtype=np.int64)
        length = np.asarray(length_m, dtype=float)
        n = len(xy)
        if not (len(u) == len(v) == len(length)):
            msg = "u, v and length_m must have the same length."
            raise ValueError(msg)
        if n == 0 or len(u) == 0:
            msg = f"the network from {source} has no walkable streets."
            raise NetworkError(msg)
        if u.min() < 0 or v.min() < 0 or max(u.max(), v.max()) >= n:
            msg = "edge ends must be row positions of node_xy."
            raise ValueError(msg)
        if not np.all(np.isfinite(length)) or (length < 0).any():
            msg = "edge lengths must be finite and non-negative."
            raise ValueError(msg)
        ids = np.full(n, -1, dtype=np.int64) if node_id is None else np.asarray(node_id, np.int64)
        given = None if snappable is None else np.asarray(snappable, dtype=bool).ravel()
        if given is not None and len(given) != n:
            msg = f"snappable must have one flag per node ({n}); got {len(given)}."
            raise ValueError(msg)

        keep = u != v  # self-loops never shorten a path
        u, v, length = u[keep], v[keep], length[keep]
        if max_edge_m is not None:
            xy, ids, u, v, length = split_long_edges(xy, ids, u, v, length, max_edge_m)
        u, v, length = _dedupe_undirected(u, v, length)

        n = len(xy)
        csr = sparse.csr_matrix(
            (np.concatenate([length, length]), (np.concatenate([u, v]), np.concatenate([v, u]))),
            shape=(n, n),
        )
        csr.sort_indices()  # explicit zeros (coincident OSM nodes) stay edges: never eliminate_zeros
        n_comp, labels = csgraph.connected_components(csr, directed=False)
        # relabel so that 0 is the largest component
        sizes = np.bincount(labels, minlength=n_comp)
        order = np.argsort(-sizes, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(n_comp)
        labels = rank[labels]
        sizes = sizes[order]
        big = sizes >= max(1.0, min_component_share * n)
        big[0] = True
        if given is None:
            snappable = big[labels]
        else:  # a component is snappable if any of its original nodes is (inserted ones follow)
            flag = np.zeros(n_comp, bool)
            flag[labels[: len(given)][given]] = True
            snappable = flag[labels]
        logger.info(
            "network %s: %d nodes, %d edges, %d components (largest %.1f%% of nodes); "
            "%d nodes in small fragments are not used for snapping",
            source, n, len(u), n_comp, 100.0 * sizes[0] / n, int((~snappable).sum()),
        )  # fmt: skip
        edges = pd.DataFrame({"u": u, "v": v, "length_m": length})
        params = {"max_edge_m": max_edge_m, "min_component_share": min_component_share}
        net = cls(crs, xy, ids, edges, csr, labels, snappable, source, params)
        net._tree("snap")  # the snapping index is part of a built network
        return net

    @classmethod
    def from_osm_file(
        cls,
        path: str | os.PathLike[str],
        *,
        crs: Any = None,
        max_edge_m: float | None = DEFAULT_MAX_EDGE_M,
        min_component_share: float = 0.01,
        cache_dir: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
    ) -> WalkNetwork:
        """Build from a local OSM file: ``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf`` or ``.graphml``.

        Ways are kept if they are walkable (osmnx's walk filter: no motorways, no
        ``foot=no``, no private access). Segments whose nodes are missing from a clipped
        extract are skipped and counted. The built network is cached as ``.npz`` (no pickle)
        keyed by the file's content, so the second load skips XML parsing.

        Parameters
        ----------
        path
            The OSM XML, PBF (needs pyosmium) or GraphML file.
        crs
            Metric CRS for the network; default: the UTM zone of the data.
        max_edge_m
            Split longer street segments so snapping error stays under half of this.
        min_component_share
            See :meth:`from_edges`.
        cache_dir
            Cache folder (default :func:`default_cache_dir`).
        use_cache
            Read and write the cache.

        Returns
        -------
        WalkNetwork

        Examples
        --------
        >>> from pathlib import Path
        >>> net = WalkNetwork.from_osm_file(Path("tests/data/west_oakland.osm.bz2"), use_cache=False)
        >>> net.crs.to_string()
        'EPSG:32610'
        """
        path = Path(path)
        if path.name.lower().endswith(".graphml") and path.exists():
            return cls._from_graphml(path, crs=crs, max_edge_m=max_edge_m,
                                     min_component_share=min_component_share)  # fmt: skip
        path = check_osm_path(path)

        crs_key = "auto" if crs is None else pyproj.CRS.from_user_input(crs).to_string()
        cache_file = None
        if use_cache:
            digest = file_digest(path)
            key = hashlib.sha256(f"{digest}|{crs_key}|{_CACHE_VERSION}".encode()).hexdigest()
            cache_file = Path(cache_dir or default_cache_dir()) / f"{path.name}-{key[:16]}.npz"
            if cache_file.exists():
                try:
                    t0 = time.perf_counter()
                    xy, ids, u, v, length, crs_loaded = read_network_cache(cache_file)
                    logger.info("loaded network cache %s in %.2f s", cache_file, time.perf_counter() - t0)
                    return cls.from_edges(
                        xy, u, v, length, crs=crs_loaded, node_id=ids, max_edge_m=max_edge_m,
                        min_component_share=min_component_share, source=str(path),
                    )  # fmt: skip
                except (OSError, ValueError, KeyError) as exc:  # a broken cache is rebuilt
                    logger.warning("ignoring unreadable network cache %s: %s", cache_file, exc)

        t0 = time.perf_counter()
        lonlat, ids, u, v, length = parse_osm(path)
        target = pyproj.CRS.from_user_input(crs) if crs is not None else utm_crs(lonlat)
        xy = project_xy(lonlat, target)
        logger.info("parsed %s in %.2f s", path, time.perf_counter() - t0)
        if cache_file is not None:
            try:
                write_network_cache(cache_file, xy, ids, u, v, length, target)
            except OSError as exc:  # a read-only cache folder must not stop the analysis
                logger.warning("could not write network cache %s: %s", cache_file, exc)
        return cls.from_edges(
            xy, u, v, length, crs=target, node_id=ids, max_edge_m=max_edge_m,
            min_component_share=min_component_share, source=str(path),
        )  # fmt: skip

    @classmethod
    def from_graph(
        cls,
        graph: Any,
        *,
        crs: Any = None,
        max_edge_m: float | None = DEFAULT_MAX_EDGE_M,
        min_component_share: float = 0.01,
        source: str = "graph",
    ) -> WalkNetwork:
        """Build from an osmnx/networkx graph with node ``x``/``y`` and edge ``length``.

        Direction is ignored (people walk both ways). Edges with a ``geometry`` are
        followed along their shape, with the edge's ``length`` shared out in proportion.

        Parameters
        ----------
        graph
            A networkx (Multi)(Di)Graph, e.g. from osmnx; geographic or projected
            (its ``graph["crs"]``, default EPSG:4326).
        crs
            Metric CRS (default: the graph's own if projected, else its UTM zone).
        max_edge_m, min_component_share
            See :meth:`from_edges`.
        source
            A label recorded on the network.

        Returns
        -------
        WalkNetwork
        """
        import shapely

        graph_crs = pyproj.CRS.from_user_input(graph.graph.get("crs", "EPSG:4326"))
        nodes = list(graph.nodes)
        pos = {n: i for i, n in enumerate(nodes)}
        node_xy = np.array([[graph.nodes[n]["x"], graph.nodes[n]["y"]] for n in nodes], float)
        if crs is not None:
            target = pyproj.CRS.from_user_input(crs)
        elif graph_crs.is_projected:
            target = graph_crs
        else:
            target = utm_crs(node_xy)
        xy = project_xy(node_xy, target, from_crs=graph_crs)
        ids = np.array([n if isinstance(n, int | np.integer) else -1 for n in nodes], np.int64)

        extra_xy: list[np.ndarray] = []
        us: list[int] = []
        vs: list[int] = []
        ls: list[float] = []
        n_next = len(nodes)
        # one edge per node pair (the shortest): a two-way street is stored in both directions,
        # and expanding both geometries would lay the street twice
        best: dict[tuple[Any, Any], tuple[float, Any, Any, dict[str, Any]]] = {}
        for a, b, data in _iter_edges(graph):
            key = (a, b) if pos[a] <= pos[b] else (b, a)
            length = float(data.get("length", math.inf))
            if key not in best or length < best[key][0]:
                best[key] = (length, a, b, data)
        for _, a, b, data in best.values():
            length = float(data.get("length", math.nan))
            geom = data.get("geometry")
            if geom is None:
                if not math.isfinite(length):
                    length = float(np.hypot(*(xy[pos[a]] - xy[pos[b]])))
                us.append(pos[a])
                vs.append(pos[b])
                ls.append(length)
                continue
            coords = project_xy(shapely.get_coordinates(geom), target, from_crs=graph_crs)
            inner = coords[1:-1]
            chain = [pos[a], *range(n_next, n_next + len(inner)), pos[b]]
            n_next += len(inner)
            extra_xy.append(inner)
            seg = np.hypot(*np.diff(np.vstack([xy[pos[a]], inner, xy[pos[b]]]), axis=0).T)
            scale = length / seg.sum() if math.isfinite(length) and seg.sum() > 0 else 1.0
            us.extend(chain[:-1])
            vs.extend(chain[1:])
            ls.extend((seg * scale).tolist())
        if extra_xy:
            xy = np.vstack([xy, *extra_xy])
            ids = np.concatenate([ids, np.full(len(xy) - len(ids), -1, np.int64)])
        return cls.from_edges(
            xy, us, vs, ls, crs=target, node_id=ids, max_edge_m=max_edge_m,
            min_component_share=min_component_share, source=source,
        )  # fmt: skip

    @classmethod
    def _from_graphml(cls, path: Path, **kwargs: Any) -> WalkNetwork:
        import osmnx as ox

        try:
            graph = ox.load_graphml(path)
        except Exception as exc:  # osmnx raises many types for a bad file
            msg = f"{path}: not a readable GraphML network ({exc})."
            raise InputError(msg) from exc
        return cls.from_graph(graph, source=str(path), **kwargs)

    @classmethod
    def from_place(
        cls,
        place: str,
        *,
        crs: Any = None,
        max_edge_m: float | None = DEFAULT_MAX_EDGE_M,
        cache_dir: str | os.PathLike[str] | None = None,
        timeout_s: float = 5.0,
    ) -> WalkNetwork:
        """Download the walk network of a named place through osmnx (needs internet).

        osmnx's HTTP cache goes to ``cache_dir/osmnx``. Without internet this fails within
        ``timeout_s`` with a clear message instead of hanging.

        Parameters
        ----------
        place
            A place name osmnx can geocode, e.g. ``"Gusu District, Suzhou, China"``.
        crs, max_edge_m
            See :meth:`from_osm_file`.
        cache_dir
            Cache folder (default :func:`default_cache_dir`).
        timeout_s
            How long to wait for the first connection.

        Returns
        -------
        WalkNetwork
        """
        import osmnx as ox

        host = urlparse(ox.settings.overpass_url).hostname or ""
        try:
            socket.create_connection((host, 443), timeout=timeout_s).close()
        except OSError as exc:
            msg = (
                f"cannot reach the OpenStreetMap server ({exc}); this machine seems to have no "
                "internet. Download an .osm file elsewhere and use WalkNetwork.from_osm_file."
            )
            raise NetworkError(msg) from exc
        old = (ox.settings.cache_folder, ox.settings.requests_timeout)
        ox.settings.cache_folder = str(Path(cache_dir or default_cache_dir()) / "osmnx")
        ox.settings.requests_timeout = 60
        try:
            graph = ox.graph_from_place(place, network_type="walk", retain_all=True)
        finally:
            ox.settings.cache_folder, ox.settings.requests_timeout = old
        return cls.from_graph(graph, crs=crs, max_edge_m=max_edge_m, source=f"place:{place}")

    # ------------------------------------------------------------------ queries
    def __repr__(self) -> str:
        n_comp = int(self.component.max()) + 1 if len(self.component) else 0
        return (
            f"WalkNetwork(nodes={self.n_nodes}, edges={len(self.edges)}, "
            f"components={n_comp}, crs={self.crs.to_string()!r}, source={self.source!r})"
        )

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_xy)

    def _tree(self, which: str) -> tuple[cKDTree, np.ndarray]:
        # built on first use, then kept: the dataclass is frozen but the cache dict is not
        if which not in self._trees:
            nodes = np.flatnonzero(self.snappable) if which == "snap" else np.arange(self.n_nodes)
            self._trees[which] = (cKDTree(self.node_xy[nodes]), nodes)
        return self._trees[which]

    def snap(self, points: Any, *, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> Snapped:
        """Join points to their nearest usable node.

        Parameters
        ----------
        points
            A GeoSeries/GeoDataFrame of points in the network's CRS (other geometries use
            their representative point), or an (n, 2) array of coordinates.
        max_snap_m
            Points farther than this from every usable node are flagged ``ok=False``.

        Returns
        -------
        Snapped
            Indexed like ``points``.

        Examples
        --------
        >>> net = WalkNetwork.from_edges([[0, 0], [100, 0]], [0], [1], [100.0], crs="EPSG:32628")
        >>> s = net.snap([[10, 5], [90, 2000]], max_snap_m=300)
        >>> s.node.tolist(), s.ok.tolist()
        ([0, -1], [True, False])
        """
        index, xy = points_xy(points, self.crs)
        if max_snap_m <= 0:
            msg = f"max_snap_m must be positive; got {max_snap_m!r}."
            raise ValueError(msg)
        tree, nodes = self._tree("snap")
        if len(xy) == 0:
            empty = np.zeros(0)
            return Snapped(index, empty.astype(np.int64), empty, empty.astype(bool),
                           empty.astype(bool), float(max_snap_m))  # fmt: skip
        finite = np.isfinite(xy).all(axis=1)
        dist = np.full(len(xy), np.inf)
        pos = np.zeros(len(xy), np.int64)
        dist[finite], pos[finite] = nearest_first(tree, xy[finite])
        ok = finite & (dist <= max_snap_m)
        node = np.where(ok, nodes[np.minimum(pos, len(nodes) - 1)], -1)
        fragment = np.zeros(len(xy), bool)
        if not self.snappable.all() and finite.any():
            d_all = np.full(len(xy), np.inf)
            d_all[finite] = self._tree("all")[0].query(xy[finite], k=1, workers=-1)[0]
            fragment = finite & (d_all < dist - 1e-9)
        return Snapped(index, node.astype(np.int64), dist, ok,
                       fragment, float(max_snap_m))  # fmt: skip

    def distances_m(
        self,
        nodes: Any,
        offsets_m: Any = None,
        *,
        limit_m: float = np.inf,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Distance from every node to the nearest of several sources, in one search.

        Each source ``i`` starts at node ``nodes[i]`` having already walked ``offsets_m[i]``
        (its access leg): a virtual node per source joins the network with that weight, so
        one bounded Dijkstra is exact.

        Parameters
        ----------
        nodes
            Source nodes.
        offsets_m
            Metres already walked at each source (default 0).
        limit_m
            Stop the search at this distance; farther nodes get ``inf``.

        Returns
        -------
        distance_m, source
            Per node: the distance, and the position in ``nodes`` of the nearest source
            (``-1`` where unreached).
        """
        src = np.asarray(nodes, dtype=np.int64)
        n = self.n_nodes
        if len(src) == 0:
            return np.full(n, np.inf), np.full(n, -1, np.int64)
        off = np.zeros(len(src)) if offsets_m is None else np.asarray(offsets_m, float)
        if len(off) != len(src) or (off < 0).any() or not np.isfinite(off).all():
            msg = "offsets_m must be finite, non-negative and one per source node."
            raise ValueError(msg)
        m = len(src)
        g = self.csr
        # virtual source rows appended after the real nodes: v_i -> nodes[i] with the offset
        indptr = np.concatenate([g.indptr, g.indptr[-1] + np.arange(1, m + 1)])
        aug = sparse.csr_matrix(
            (np.concatenate([g.data, off]),
             np.concatenate([g.indices, src]), indptr),
            shape=(n + m, n + m),
        )  # fmt: skip
        dist, _, origin = csgraph.dijkstra(
            aug, directed=True, indices=np.arange(n, n + m), limit=limit_m,
            min_only=True, return_predecessors=True,
        )  # fmt: skip
        origin = np.where(origin[:n] >= 0, origin[:n] - n, -1)
        return dist[:n], origin.astype(np.int64)

    def to_graph(self) -> Any:
        """A networkx Graph of this network (for drawing and tests, never hot paths)."""
        import networkx as nx

        g = nx.Graph(crs=self.crs)
        for i, (x, y) in enumerate(self.node_xy):
            g.add_node(i, x=float(x), y=float(y))
        g.add_weighted_edges_from(
            zip(self.edges.u.tolist(), self.edges.v.tolist(), self.edges.length_m.tolist(), strict=True),
            weight="length",
        )
        return g

    def edges_geodataframe(self) -> Any:
        """Edges as a GeoDataFrame of straight LineStrings (for maps)."""
        import geopandas as gpd
        import shapely

        a = self.node_xy[self.edges.u.to_numpy()]
        b = self.node_xy[self.edges.v.to_numpy()]
        lines = shapely.linestrings(np.stack([a, b], axis=1))
        return gpd.GeoDataFrame(self.edges.copy(), geometry=lines, crs=self.crs)


# ---------------------------------------------------------------------- helpers
def nearest_first(tree: cKDTree, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest tree point per row; among points at exactly the same distance, the first.

    The KD-tree alone breaks exact ties by its own layout, which differs between a whole
    network and a tile of it; taking the smallest position instead makes snapping the same
    in both (a tile keeps the whole network's node order).
    """
    if tree.n < 2 or len(xy) == 0:
        d, i = tree.query(xy, k=1, workers=-1)
        return np.asarray(d, float), np.asarray(i, np.int64)
    d, i = tree.query(xy, k=2, workers=-1)
    dist, pos = d[:, 0].copy(), i[:, 0].astype(np.int64)
    tied = np.flatnonzero(d[:, 1] == d[:, 0])
    k = 2
    while len(tied):
        k = min(2 * k, tree.n)
        dk, ik = tree.query(xy[tied], k=k, workers=-1)
        same = dk == dk[:, :1]
        pos[tied] = np.where(same, ik, tree.n).min(axis=1)
        # rows whose k-th neighbour is still tied may hide a smaller position further out
        tied = tied[same[:, -1]] if k < tree.n else tied[:0]
    return dist, pos


def points_xy(points: Any, crs: pyproj.CRS) -> tuple[pd.Index, np.ndarray]:
    import geopandas as gpd
    import shapely

    if isinstance(points, gpd.GeoDataFrame | gpd.GeoSeries):
        if points.crs is None or not pyproj.CRS.from_user_input(points.crs).equals(crs):
            have = None if points.crs is None else points.crs.to_string()
            msg = f"points are in CRS {have}, the network in {crs.to_string()}; reproject first."
            raise InputError(msg)
        geoms = points.geometry.to_numpy()
        not_point = shapely.get_type_id(geoms) != 0
        if not_point.any():  # polygons (grid cells) join the network at a point inside them
            geoms = geoms.copy()
            geoms[not_point] = shapely.point_on_surface(geoms[not_point])
        # get_x/get_y keep one row per geometry (NaN for empty ones), unlike get_coordinates
        xy = np.column_stack([shapely.get_x(geoms), shapely.get_y(geoms)]) if len(geoms) else np.zeros((0, 2))
        return points.index, np.asarray(xy, float)
    xy = np.asarray(points, dtype=float).reshape(-1, 2)
    return pd.RangeIndex(len(xy)), xy


def _iter_edges(graph: Any) -> Iterator[tuple[Any, Any, dict[str, Any]]]:
    if graph.is_multigraph():
        for a, b, _, data in graph.edges(keys=True, data=True):
            yield a, b, data
    else:
        yield from graph.edges(data=True)


def split_long_edges(
    xy: np.ndarray, ids: np.ndarray, u: np.ndarray, v: np.ndarray, length: np.ndarray,
    max_edge_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Cut each edge into ceil(length / max_edge_m) equal straight pieces (vectorised)."""
    if max_edge_m <= 0:
        msg = f"max_edge_m must be positive; got {max_edge_m!r}."
        raise ValueError(msg)
    n, m = len(xy), len(u)
    k = edge_pieces(length, max_edge_m)
    new = k - 1
    if new.sum() == 0:
        return xy, ids, u, v, length
    offset = np.cumsum(new) - new  # first new node of each edge, relative to n
    seg = np.repeat(np.arange(m), k)
    j = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
    start = np.where(j == 0, u[seg], n + offset[seg] + j - 1)
    end = np.where(j == k[seg] - 1, v[seg], n + offset[seg] + j)
    seg_new = np.repeat(np.arange(m), new)
    jn = np.arange(new.sum()) - np.repeat(offset, new) + 1
    frac = (jn / k[seg_new])[:, None]
    xy_new = xy[u[seg_new]] + (xy[v[seg_new]] - xy[u[seg_new]]) * frac
    return (
        np.vstack([xy, xy_new]),
        np.concatenate([ids, np.full(len(xy_new), -1, np.int64)]),
        start,
        end,
        length[seg] / k[seg],
    )


def edge_pieces(length_m: np.ndarray, max_edge_m: float) -> np.ndarray:
    """Pieces each edge is cut into: ``ceil(length / max_edge_m)``, at least 1.

    The one rule for splitting; the street store counts and places inserted nodes with it,
    so tiles and the whole network must never compute it apart.
    """
    return np.maximum(1, np.ceil(length_m / max_edge_m).astype(np.int64))


def _dedupe_undirected(
    u: np.ndarray, v: np.ndarray, length: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One edge per node pair, the shortest (a CSR built from COO would sum repeats)."""
    a, b = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((length, b, a))
    a, b, length = a[order], b[order], length[order]
    first = np.ones(len(a), bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return a[first], b[first], length[first]


# ====================================================================== travel matrix
def max_stretch(xy_a: np.ndarray, xy_b: np.ndarray, length_m: np.ndarray) -> float:
    """Largest ratio of straight end-to-end distance to length over edges (>= 1).

    A walk of network length ``d`` never ends farther than ``stretch * d`` in a straight line.
    ``inf`` where an edge of length 0 joins distinct points; ends closer than a micrometre
    count as one point.
    """
    straight = np.hypot(*(xy_a - xy_b).T)
    pos = straight > 1e-6
    if not pos.any():
        return 1.0
    with np.errstate(divide="ignore"):
        return max(1.0, float(np.max(straight[pos] / length_m[pos])))


def _min_length_ratio(network: WalkNetwork) -> float:
    """Smallest ratio of an edge's length to the straight distance between its ends (<= 1).

    A path of length L then never leaves the disc of radius L / ratio around its start.
    """
    u, v = network.edges["u"].to_numpy(), network.edges["v"].to_numpy()
    return 1.0 / max_stretch(network.node_xy[u], network.node_xy[v], network.edges["length_m"].to_numpy())


def _subgraph(csr: sparse.csr_matrix, nodes: np.ndarray, g2l: np.ndarray) -> sparse.csr_matrix:
    """The network restricted to ``nodes`` (sorted, unique); ``g2l`` maps them to 0..k-1."""
    k = len(nodes)
    starts = csr.indptr[nodes]
    counts = csr.indptr[nodes + 1] - starts
    total = int(counts.sum())
    first = np.cumsum(counts) - counts
    pos = np.repeat(starts - first, counts) + np.arange(total)
    cols = g2l[csr.indices[pos]]
    keep = cols >= 0
    rows = np.repeat(np.arange(k), counts)[keep]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=k))])
    # explicit zeros (coincident nodes) are kept: csgraph reads them as edges of length 0
    return sparse.csr_matrix((csr.data[pos][keep], cols[keep], indptr), shape=(k, k))


def travel_matrix_m(
    network: WalkNetwork,
    from_nodes: Any,
    to_nodes: Any,
    *,
    limit_m: float,
    from_offsets_m: Any = None,
    to_offsets_m: Any = None,
    tile_m: float | None = None,
    progress: bool = False,
) -> sparse.csr_matrix:
    """Walking metres between two sets of network points, keeping only pairs within a limit.

    The result is sparse: no dense origins × destinations matrix is ever built. Origins
    are grouped in square tiles; for each tile one bounded Dijkstra (scipy) runs on the
    piece of network within reach of the tile. A path of length L never leaves the disc of
    radius L / r around its start, where r ≤ 1 is the smallest length-to-straight-line
    ratio of any edge, so the distances are exact. Each pair's total is
    ``from_offset + network + to_offset`` (the access legs at both ends).

    Parameters
    ----------
    network
        The walk network.
    from_nodes, to_nodes
        Network nodes of the origins and destinations; ``-1`` marks a point that could not
        be snapped (it gets no entries).
    limit_m
        Keep pairs whose total is at most this many metres.
    from_offsets_m, to_offsets_m
        Metres already walked to reach each origin's / destination's node (default 0).
    tile_m
        Side of the origin tiles (default: ``limit_m``, at least 250 m).
    progress
        Show a progress bar over tiles.

    Returns
    -------
    scipy.sparse.csr_matrix
        Origins × destinations; stored entries are the pairs within ``limit_m``, in metres
        (at least 1e-6, so that a pair at distance 0 is still a stored entry).

    Examples
    --------
    >>> net = WalkNetwork.from_edges([[0, 0], [100, 0], [200, 0]], [0, 1], [1, 2],
    ...                              [100.0, 100.0], crs="EPSG:32628")
    >>> m = travel_matrix_m(net, [0], [1, 2], limit_m=150, from_offsets_m=[10])
    >>> m.toarray().round(3).tolist()
    [[110.0, 0.0]]
    """
    t0 = time.perf_counter()
    src = np.asarray(from_nodes, dtype=np.int64).ravel()
    dst = np.asarray(to_nodes, dtype=np.int64).ravel()
    so = np.zeros(len(src)) if from_offsets_m is None else np.asarray(from_offsets_m, float).ravel()
    to = np.zeros(len(dst)) if to_offsets_m is None else np.asarray(to_offsets_m, float).ravel()
    if len(so) != len(src) or len(to) != len(dst):
        msg = "from_offsets_m / to_offsets_m must have one value per node."
        raise ValueError(msg)
    if not limit_m > 0:
        msg = f"limit_m must be positive; got {limit_m!r}."
        raise ValueError(msg)
    n = network.n_nodes
    if (src >= n).any() or (dst >= n).any():
        msg = "from_nodes / to_nodes must be node positions of the network (or -1)."
        raise ValueError(msg)
    shape = (len(src), len(dst))
    src_ok = np.flatnonzero((src >= 0) & np.isfinite(so) & (so <= limit_m))
    dst_ok = np.flatnonzero((dst >= 0) & np.isfinite(to) & (to <= limit_m))
    if len(src_ok) == 0 or len(dst_ok) == 0:
        return sparse.csr_matrix(shape)

    # destinations grouped by node: the unique nodes, and where each one's destinations are
    dst_order = dst_ok[np.argsort(dst[dst_ok], kind="stable")]
    d_nodes, d_start, d_count = np.unique(dst[dst_order], return_index=True, return_counts=True)
    d_tree = cKDTree(network.node_xy[d_nodes])
    all_tree = cKDTree(network.node_xy)

    pad = limit_m / _min_length_ratio(network) + 1.0
    finite = bool(np.isfinite(pad))
    tile = float(tile_m) if tile_m is not None else max(float(limit_m), 250.0)
    sxy = network.node_xy[src[src_ok]]
    if finite:
        key = np.floor((sxy - sxy.min(axis=0)) / tile).astype(np.int64)
        tile_id = np.unique(key, axis=0, return_inverse=True)[1].ravel()
    else:
        tile_id = np.zeros(len(src_ok), np.int64)
    order = np.argsort(tile_id, kind="stable")
    groups = np.split(src_ok[order], np.flatnonzero(np.diff(tile_id[order])) + 1)

    g2l = np.full(n, -1, np.int64)
    rows_out: list[np.ndarray] = []
    cols_out: list[np.ndarray] = []
    vals_out: list[np.ndarray] = []
    iterator: Any = groups
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(
            groups, desc="travel matrix", unit="tile", leave=False, delay=1.0
        )  # no bar for short runs
    for members in iterator:
        mxy = network.node_xy[src[members]]
        lo, hi = mxy.min(axis=0), mxy.max(axis=0)
        centre = (lo + hi) / 2.0
        half = float((hi - lo).max()) / 2.0 + pad
        if finite:
            sub_nodes = np.sort(np.asarray(all_tree.query_ball_point(centre, half, p=np.inf), np.int64))
            near = np.asarray(d_tree.query_ball_point(centre, half, p=np.inf), np.int64)
        else:
            sub_nodes = np.arange(n, dtype=np.int64)
            near = np.arange(len(d_nodes), dtype=np.int64)
        if len(near) == 0:
            continue
        g2l[sub_nodes] = np.arange(len(sub_nodes))
        sub = _subgraph(network.csr, sub_nodes, g2l)
        u_src, inv = np.unique(src[members], return_inverse=True)
        dist = csgraph.dijkstra(sub, directed=True, indices=g2l[u_src], limit=limit_m)
        counts = d_count[near]
        first = np.cumsum(counts) - counts
        pos = np.repeat(d_start[near] - first, counts) + np.arange(int(counts.sum()))
        targets = dst_order[pos]
        local = g2l[dst[targets]]
        g2l[sub_nodes] = -1
        total = dist[inv.ravel()][:, local] + so[members][:, None] + to[targets][None, :]
        r, c = np.nonzero(total <= limit_m)
        if len(r):
            rows_out.append(members[r])
            cols_out.append(targets[c])
            vals_out.append(total[r, c])
    if rows_out:
        rows, cols, vals = (np.concatenate(x) for x in (rows_out, cols_out, vals_out))
    else:
        rows = cols = np.zeros(0, np.int64)
        vals = np.zeros(0)
    out = sparse.csr_matrix((np.maximum(vals, _MIN_M), (rows, cols)), shape=shape)
    logger.info(
        "travel matrix %d × %d within %.0f m: %d pairs, %d tiles, %.2f s",
        shape[0], shape[1], limit_m, out.nnz, len(groups), time.perf_counter() - t0,
    )  # fmt: skip
    return out


# ====================================================================== candidates
