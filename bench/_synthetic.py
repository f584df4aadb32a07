"""Deterministic synthetic city for the speed benchmarks.

``make_synthetic_city`` builds, with numpy only (~1-2 s for 300k nodes):

* a street network: a perturbed grid whose block sides vary between 80 and 120 m
  (each grid row / column gets its own spacing, so blocks are not all equal), node
  positions jittered by a few metres, ~8 % of the grid edges removed (dead ends,
  superblocks), ~3 % of the blocks crossed by a diagonal street, and edge lengths equal
  to the Euclidean length times a detour factor in [1.00, 1.12] (curving streets);
  ~6 % of the nodes are dead-end spurs (cul-de-sacs, service roads) hanging off a grid
  node; nodes left without any edge are dropped, so every node has degree >= 1;
* population cells: a regular 100 m grid (cell centroids) over the central part of the
  network, population per cell = lognormal noise x a density that decays away from one
  main and a few secondary centres, some cells empty-ish; all seeded;
* facilities: points drawn from the cells with probability proportional to population,
  jittered by up to 60 m, split into kinds.

Coordinates are metres in an EPSG:32628-like frame (origin near Las Palmas' UTM
coordinates) so the numbers look like real projected data.

The generator returns plain numpy arrays (``SyntheticCity``); ``to_networkx`` and
``to_csr`` build the graph objects the reference methods need.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SyntheticCity", "make_synthetic_city", "to_csr", "to_networkx"]

#: origin of the synthetic frame (roughly Las Palmas in EPSG:32628), metres
ORIGIN_XY = (440_000.0, 3_090_000.0)

#: default split of facilities by kind (shares of ``n_facilities``)
DEFAULT_KIND_SHARES = {"nursery": 0.5, "eldercare": 1.0 / 3.0, "community_centre": 1.0 / 6.0}


@dataclass
class SyntheticCity:
    node_xy: np.ndarray  # (n, 2) float64, metres
    u: np.ndarray  # (m,) int64, u < v, no duplicates, no self loops
    v: np.ndarray  # (m,) int64
    length_m: np.ndarray  # (m,) float64, >= Euclidean distance
    cell_xy: np.ndarray  # (c, 2) float64, cell centroids
    cell_pop: np.ndarray  # (c,) float64
    cell_id: np.ndarray  # (c,) str  "E{x}N{y}"
    facility_xy: np.ndarray  # (f, 2) float64
    facility_kind: np.ndarray  # (f,) str
    crs: str = "EPSG:32628"
    params: dict = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return int(self.node_xy.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.u.shape[0])


def _axis_positions(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    """Cumulative positions of ``n`` grid lines with spacings uniform in [lo, hi]."""
    steps = rng.uniform(lo, hi, size=n - 1)
    return np.concatenate([[0.0], np.cumsum(steps)])


def make_synthetic_city(
    n_nodes: int = 300_000,
    n_cells: int = 100_000,
    n_facilities: int = 300,
    seed: int = 0,
    *,
    block_m: tuple[float, float] = (80.0, 120.0),
    jitter_m: float = 6.0,
    remove_frac: float = 0.08,
    diagonal_frac: float = 0.03,
    spur_frac: float = 0.06,
    detour: tuple[float, float] = (1.0, 1.12),
    cell_size_m: float = 100.0,
    kind_shares: dict[str, float] | None = None,
) -> SyntheticCity:
    """Generate a deterministic synthetic city (see module docstring).

    ``n_nodes`` and ``n_cells`` are targets: the grid is ``rows x cols`` with
    ``rows * cols ~= n_nodes`` before isolated nodes are dropped (a few per cent), and the
    cell grid is the ``k x k`` square with ``k = round(sqrt(n_cells))``.
    """
    rng = np.random.default_rng(seed)
    kind_shares = dict(kind_shares or DEFAULT_KIND_SHARES)

    # ---- street grid -------------------------------------------------------------
    n_spur = round(spur_frac * n_nodes)
    n_gridded = max(4, n_nodes - n_spur)
    rows = max(2, round(np.sqrt(n_gridded)))
    cols = max(2, round(n_gridded / rows))
    ys = _axis_positions(rng, rows, *block_m)
    xs = _axis_positions(rng, cols, *block_m)
    gx, gy = np.meshgrid(xs, ys)  # (rows, cols)
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    xy += rng.normal(0.0, jitter_m, size=xy.shape)
    n_grid = rows * cols
    idx = np.arange(n_grid, dtype=np.int64).reshape(rows, cols)

    # horizontal then vertical grid edges
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    keep = rng.random(u.shape[0]) >= remove_frac
    u, v = u[keep], v[keep]

    # diagonals across a few blocks (either direction)
    n_blocks = (rows - 1) * (cols - 1)
    n_diag = round(diagonal_frac * n_blocks)
    blk = rng.choice(n_blocks, size=n_diag, replace=False)
    br, bc = np.divmod(blk, cols - 1)
    flip = rng.random(n_diag) < 0.5
    d_u = np.where(flip, idx[br, bc + 1], idx[br, bc])
    d_v = np.where(flip, idx[br + 1, bc], idx[br + 1, bc + 1])
    u = np.concatenate([u, d_u])
    v = np.concatenate([v, d_v])

    # cul-de-sacs / service spurs: a dead-end node 25-90 m away from a grid node
    anchor = rng.choice(n_grid, size=n_spur, replace=False)
    ang = rng.uniform(0.0, 2.0 * np.pi, size=n_spur)
    dist = rng.uniform(25.0, 90.0, size=n_spur)
    spur_xy = xy[anchor] + np.column_stack([np.cos(ang), np.sin(ang)]) * dist[:, None]
    xy = np.vstack([xy, spur_xy])
    u = np.concatenate([u, anchor])
    v = np.concatenate([v, n_grid + np.arange(n_spur, dtype=np.int64)])
    n_grid += n_spur

    # drop isolated nodes, renumber
    used = np.zeros(n_grid, dtype=bool)
    used[u] = True
    used[v] = True
    new_id = np.full(n_grid, -1, dtype=np.int64)
    new_id[used] = np.arange(int(used.sum()), dtype=np.int64)
    node_xy = xy[used]
    u, v = new_id[u], new_id[v]
    a, b = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((b, a))
    u, v = a[order], b[order]

    eucl = np.hypot(*(node_xy[u] - node_xy[v]).T)
    length_m = eucl * rng.uniform(detour[0], detour[1], size=eucl.shape[0])
    node_xy = node_xy + np.asarray(ORIGIN_XY)

    # ---- population cells: 100 m grid centred in the network extent ------------
    k = max(1, round(np.sqrt(n_cells)))
    (x0, y0), (x1, y1) = node_xy.min(axis=0), node_xy.max(axis=0)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    half = k * cell_size_m / 2.0
    # align to the cell grid like the real 100 m grid (xmin multiple of cell size)
    gx0 = np.floor((cx - half) / cell_size_m) * cell_size_m
    gy0 = np.floor((cy - half) / cell_size_m) * cell_size_m
    ci, cj = np.meshgrid(np.arange(k), np.arange(k))
    cell_min = np.column_stack([gx0 + ci.ravel() * cell_size_m, gy0 + cj.ravel() * cell_size_m])
    cell_xy = cell_min + cell_size_m / 2.0
    cell_id = np.char.add(
        np.char.add("E", cell_min[:, 0].astype(np.int64).astype(str)),
        np.char.add("N", cell_min[:, 1].astype(np.int64).astype(str)),
    )
    # density: main centre + 4 secondary centres, exponential decay, lognormal noise
    centres = np.vstack([[cx, cy], rng.uniform([cx - half, cy - half], [cx + half, cy + half], size=(4, 2))])
    weights = np.array([1.0, 0.5, 0.4, 0.35, 0.3])
    scales = np.array([0.35, 0.12, 0.1, 0.1, 0.08]) * 2 * half
    dens = np.zeros(cell_xy.shape[0])
    for (ccx, ccy), w, s in zip(centres, weights, scales, strict=False):
        dens += w * np.exp(-np.hypot(cell_xy[:, 0] - ccx, cell_xy[:, 1] - ccy) / s)
    noise = rng.lognormal(mean=0.0, sigma=0.6, size=dens.shape[0])
    cell_pop = np.round(100.0 * dens * noise, 1)
    cell_pop[rng.random(cell_pop.shape[0]) < 0.05] = 0.0  # parks, water, industry

    # ---- facilities -----------------------------------------------------------------
    p = cell_pop / cell_pop.sum()
    pick = rng.choice(cell_xy.shape[0], size=n_facilities, replace=True, p=p)
    facility_xy = cell_xy[pick] + rng.uniform(-60.0, 60.0, size=(n_facilities, 2))
    names = list(kind_shares)
    shares = np.array([kind_shares[n] for n in names], dtype=float)
    counts = np.floor(shares / shares.sum() * n_facilities).astype(int)
    counts[0] += n_facilities - counts.sum()
    facility_kind = np.repeat(np.array(names, dtype=object), counts).astype(str)
    facility_kind = facility_kind[rng.permutation(n_facilities)]

    return SyntheticCity(
        node_xy=node_xy,
        u=u,
        v=v,
        length_m=length_m,
        cell_xy=cell_xy,
        cell_pop=cell_pop,
        cell_id=cell_id,
        facility_xy=facility_xy,
        facility_kind=facility_kind,
        params={
            "n_nodes": n_nodes,
            "n_cells": n_cells,
            "n_facilities": n_facilities,
            "seed": seed,
            "rows": rows,
            "cols": cols,
            "block_m": block_m,
            "remove_frac": remove_frac,
            "diagonal_frac": diagonal_frac,
            "spur_frac": spur_frac,
            "detour": detour,
        },
    )


def to_networkx(n_nodes: int, u: np.ndarray, v: np.ndarray, length_m: np.ndarray, node_xy=None):
    """Undirected ``nx.Graph`` with nodes ``0..n-1`` and edge attribute ``length``."""
    import networkx as nx

    G = nx.Graph()
    if node_xy is None:
        G.add_nodes_from(range(n_nodes))
    else:
        G.add_nodes_from((i, {"x": float(x), "y": float(y)}) for i, (x, y) in enumerate(node_xy.tolist()))
    G.add_edges_from(
        (a, b, {"length": w}) for a, b, w in zip(u.tolist(), v.tolist(), length_m.tolist(), strict=False)
    )
    return G


def to_csr(n_nodes: int, u: np.ndarray, v: np.ndarray, length_m: np.ndarray):
    """Upper-triangular CSR of edge lengths; use with ``dijkstra(..., directed=False)``.

    The edge list must be de-duplicated (``coo -> csr`` sums duplicates) and lengths > 0
    (an explicit 0 would read as "no edge" in some csgraph paths).
    """
    from scipy.sparse import coo_matrix

    return coo_matrix((length_m, (u, v)), shape=(n_nodes, n_nodes)).tocsr()


if __name__ == "__main__":  # quick look: python bench/_synthetic.py
    import time

    t = time.perf_counter()
    c = make_synthetic_city()
    dt = time.perf_counter() - t
    deg = np.bincount(np.concatenate([c.u, c.v]), minlength=c.n_nodes)
    print(
        f"generated in {dt:.2f} s: {c.n_nodes:,} nodes, {c.n_edges:,} edges "
        f"(mean degree {deg.mean():.2f}, dead ends {(deg == 1).mean():.1%}), "
        f"{len(c.cell_xy):,} cells (pop {c.cell_pop.sum():,.0f}), "
        f"{len(c.facility_xy)} facilities "
        f"{dict(zip(*(a.tolist() for a in np.unique(c.facility_kind, return_counts=True)), strict=False))}"
    )
    print(
        f"edge length m: min {c.length_m.min():.1f} median {np.median(c.length_m):.1f} "
        f"max {c.length_m.max():.1f}; extent {np.ptp(c.node_xy, axis=0).round(0)} m"
    )
