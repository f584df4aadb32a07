"""Reference approaches for "distance from every cell to the nearest facility of a kind".

Each ``run_*(case)`` does ONE timed run over all ``case.kinds`` and returns a ``Run``:

* ``setup_s`` — building the method's data structure from the case's edge list
  (networkx graph, CSR matrix, pandana contraction hierarchy + ``precompute``);
* ``query_s`` — everything per kind: the shortest-path search(es) from the kind's
  facility nodes, cut off at ``case.threshold_m``, and reading the answer off for every
  cell (``dist[kind]``: metres, ``inf`` beyond the cutoff) or, for ``ego_graph``, only a
  covered flag (``covered[kind]``).

All references use the same snapping (``case.cell_node`` / ``case.facility_node``), so
they differ only in the shortest-path engine and must agree exactly on who is covered.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from _synthetic import to_csr, to_networkx

__all__ = [
    "MethodUnavailable",
    "Run",
    "pandana_status",
    "run_ego_graph",
    "run_ego_graph_md",
    "run_nx_multisource",
    "run_pandana",
    "run_scipy",
    "run_scipy_snap",
]

perf = time.perf_counter

#: set by the harness (in the child process) to receive progress messages; the last one
#: is shown if the method is killed by the timeout, so we know where it was stuck
PROGRESS = None


def progress(msg: str) -> None:
    if PROGRESS is not None:
        PROGRESS(msg)


class MethodUnavailable(Exception):
    """The method cannot run here (package missing, API not there yet...)."""


@dataclass
class Run:
    setup_s: float
    query_s: float
    dist: dict | None = None  # kind -> (n_cells,) float metres, inf beyond cutoff
    covered: dict | None = None  # kind -> (n_cells,) bool (if no distances)
    partial: bool = False  # stopped early by the slow-method budget
    note: str = ""
    extra: dict = field(default_factory=dict)

    def covered_by_kind(self, threshold_m: float) -> dict | None:
        if self.covered is not None:
            return self.covered
        if self.dist is not None:
            return {k: d <= threshold_m for k, d in self.dist.items()}
        return None


# ---------------------------------------------------------------------------------------
# 1. osmnx tutorial recipe: one ego_graph per facility, union of the reached nodes
# ---------------------------------------------------------------------------------------
def run_ego_graph(case, budget_s: float | None = None, graph_type: str = "graph") -> Run:
    """``nx.ego_graph(G, f, radius=L, distance="length")`` for each facility node.

    ``graph_type``: ``"graph"`` - a plain ``nx.Graph`` (the fastest networkx can do);
    ``"multidigraph"`` - an ``nx.MultiDiGraph`` with both directions of every edge, the
    type osmnx hands its users (same distances, ~5x slower ego_graph calls). NB: calling
    ``ego_graph(..., undirected=True)`` on an osmnx graph instead copies the whole graph
    per call (``G.to_undirected()``): ~7 s per facility at 300k nodes - not benchmarked.

    ``budget_s``: cooperative time guard. When the query phase passes it, the loop stops
    and the full query time is extrapolated from the facilities done (``partial=True``).
    """
    import networkx as nx

    progress(f"ego_graph: building the {graph_type}")
    t0 = perf()
    G = to_networkx(case.n_nodes, case.u, case.v, case.length_m)
    if graph_type == "multidigraph":
        G = nx.MultiDiGraph(G)
    t1 = perf()
    L = case.threshold_m
    total = sum(len(case.sources(k)) for k in case.kinds)
    done = 0
    covered = {}
    stopped = False
    for kind in case.kinds:
        reached = np.zeros(case.n_nodes, dtype=bool)
        for f in case.sources(kind).tolist():
            sub = nx.ego_graph(G, f, radius=L, distance="length")
            reached[np.fromiter(sub.nodes, dtype=np.int64, count=sub.number_of_nodes())] = True
            done += 1
            if done % 25 == 0:
                progress(f"ego_graph: {done}/{total} facilities done")
            if budget_s is not None and perf() - t1 > budget_s and done < total:
                stopped = True
                break
        covered[kind] = reached[case.cell_node]
        if stopped:
            break
    t2 = perf()
    if stopped:
        est = (t2 - t1) * total / done
        return Run(
            t1 - t0,
            est,
            covered=None,
            partial=True,
            note=f"stopped after {t2 - t1:.1f} s at {done}/{total} facilities; query time extrapolated",
            extra={"done": done, "total": total, "elapsed_query_s": t2 - t1},
        )
    return Run(t1 - t0, t2 - t1, covered=covered, note=f"{total} ego_graph calls")


def run_ego_graph_md(case, budget_s: float | None = None) -> Run:
    """``run_ego_graph`` on an osmnx-style ``MultiDiGraph`` (both directions per edge)."""
    return run_ego_graph(case, budget_s=budget_s, graph_type="multidigraph")


# ---------------------------------------------------------------------------------------
# 2. networkx multi-source Dijkstra
# ---------------------------------------------------------------------------------------
def run_nx_multisource(case) -> Run:
    import networkx as nx

    progress("nx_multi: building nx.Graph")
    t0 = perf()
    G = to_networkx(case.n_nodes, case.u, case.v, case.length_m)
    t1 = perf()
    progress("nx_multi: querying")
    dist = {}
    for kind in case.kinds:
        src = case.sources(kind).tolist()
        d = nx.multi_source_dijkstra_path_length(G, src, cutoff=case.threshold_m, weight="length")
        node_d = np.full(case.n_nodes, np.inf)
        node_d[np.fromiter(d.keys(), dtype=np.int64, count=len(d))] = np.fromiter(
            d.values(), dtype=np.float64, count=len(d)
        )
        dist[kind] = node_d[case.cell_node]
    t2 = perf()
    return Run(t1 - t0, t2 - t1, dist=dist)


# ---------------------------------------------------------------------------------------
# 3. pandana: contraction hierarchy, precompute(L), set_pois, nearest_pois
# ---------------------------------------------------------------------------------------
def pandana_status() -> tuple[bool, str]:
    try:
        import pandana
    except Exception as e:  # ImportError, or a broken binary extension
        return False, f"{type(e).__name__}: {e}"
    return True, getattr(pandana, "__version__", "?")


@contextlib.contextmanager
def _quiet_c_stdout():
    """pandana's C++ core prints progress to fd 1; silence it (and flush C stdio)."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        libc = None
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        if libc is not None:
            libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


#: OpenMP threads for pandana (None = OpenMP default, i.e. all cores). The harness sets 1
#: by default: every other method is single-threaded, and on a shared 2-core machine
#: OpenMP's busy-waiting makes 2 threads several times SLOWER than 1 (Las Palmas
#: Network(): 3.0 s with 2 threads vs 0.38 s with 1 while another job was running).
PANDANA_THREADS: int | None = 1


def _openmp_threads(n: int | None):
    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="openmp")


def run_pandana(case) -> Run:
    ok, why = pandana_status()
    if not ok:
        msg = f"not installed ({why})"
        raise MethodUnavailable(msg)
    import pandana
    import pandas as pd

    L = case.threshold_m
    threads = "OpenMP default threads" if PANDANA_THREADS is None else f"{PANDANA_THREADS} OpenMP thread(s)"
    with _quiet_c_stdout(), _openmp_threads(PANDANA_THREADS):
        progress("pandana: Network() - building the contraction hierarchy")
        t0 = perf()
        ids = pd.RangeIndex(case.n_nodes)
        net = pandana.Network(
            pd.Series(case.node_xy[:, 0], index=ids),
            pd.Series(case.node_xy[:, 1], index=ids),
            pd.Series(case.u),
            pd.Series(case.v),
            pd.DataFrame({"length": case.length_m}),
            twoway=True,
        )
        t_net = perf()
        progress(f"pandana: Network() took {t_net - t0:.1f} s; precompute({L:g})")
        net.precompute(L)
        t1 = perf()
        progress(f"pandana: precompute took {t1 - t_net:.1f} s; set_pois/nearest_pois")
        dist = {}
        for kind in case.kinds:
            src = case.sources(kind)
            # POIs at the exact coordinates of their snapped node -> pandana maps them to it
            net.set_pois(
                category=kind,
                maxdist=L,
                maxitems=1,
                x_col=pd.Series(case.node_xy[src, 0]),
                y_col=pd.Series(case.node_xy[src, 1]),
            )
            res = net.nearest_pois(distance=L, category=kind, num_pois=1, max_distance=np.inf)
            dist[kind] = res[1].to_numpy(dtype=np.float64)[case.cell_node]
        t2 = perf()
    return Run(
        t1 - t0,
        t2 - t1,
        dist=dist,
        note=f"setup = Network() (contraction hierarchy) + precompute(L); {threads}",
        extra={"network_s": t_net - t0, "precompute_s": t1 - t_net},
    )


# ---------------------------------------------------------------------------------------
# 4. bare scipy: one multi-source Dijkstra per kind on a CSR matrix
# ---------------------------------------------------------------------------------------
def run_scipy(case) -> Run:
    from scipy.sparse.csgraph import dijkstra

    t0 = perf()
    csr = to_csr(case.n_nodes, case.u, case.v, case.length_m)
    t1 = perf()
    dist = {}
    for kind in case.kinds:
        d = dijkstra(csr, directed=False, indices=case.sources(kind), min_only=True, limit=case.threshold_m)
        dist[kind] = d[case.cell_node]
    t2 = perf()
    return Run(t1 - t0, t2 - t1, dist=dist)


def run_scipy_snap(case) -> Run:
    """Bare scipy end to end: also snaps cells and facilities (cKDTree over the nodes of
    the largest connected component) inside the timed phases - comparable with planner,
    whose ``compute_coverage`` snaps too. Same answers as ``run_scipy``."""
    from scipy.sparse.csgraph import connected_components, dijkstra
    from scipy.spatial import cKDTree

    t0 = perf()
    csr = to_csr(case.n_nodes, case.u, case.v, case.length_m)
    if case.info.get("snap_mode", "lcc") == "lcc":
        _, label = connected_components(csr, directed=False)
        idx = np.flatnonzero(label == np.bincount(label).argmax())
    else:
        idx = np.arange(case.n_nodes)
    tree = cKDTree(case.node_xy[idx])
    t1 = perf()
    cell_node = idx[tree.query(case.cell_xy)[1]]
    fac_node = idx[tree.query(case.facility_xy)[1]]
    dist = {}
    for kind in case.kinds:
        src = np.unique(fac_node[case.facility_kind == kind])
        d = dijkstra(csr, directed=False, indices=src, min_only=True, limit=case.threshold_m)
        dist[kind] = d[cell_node]
    t2 = perf()
    return Run(
        t1 - t0, t2 - t1, dist=dist, note="setup = CSR + components + KD-tree; query includes snapping"
    )
