"""Speed benchmark: walking coverage, planner vs reference approaches, same input, one run.

For every population cell and every facility kind: network distance to the nearest
facility of that kind, cut off at the threshold (default 1,200 m = 15 min at 4.8 km/h).

Methods (all on the SAME case in one run; see ``_references.py``):

  ego_graph     osmnx tutorial recipe: nx.ego_graph per facility, union (covered yes/no)
  ego_graph_md  the same on a MultiDiGraph (both directions), the graph type osmnx returns
  nx_multi      networkx multi_source_dijkstra_path_length(cutoff=L)
  pandana       pandana Network + precompute(L) | set_pois + nearest_pois
  scipy         bare scipy.sparse.csgraph.dijkstra(indices=..., min_only=True, limit=L)
  scipy_snap    the same, with the cKDTree snapping of cells/facilities inside the timing
                (end-to-end, comparable with planner, which snaps inside compute_coverage)
  planner       planner.WalkNetwork + planner.compute_coverage   (see run_planner below)

Cases: ``las_palmas`` (real OSM walk network, 868 cells) and ``synthetic``
(~300k nodes, ~100k cells, 300 facilities; ``_synthetic.py``).

All reference methods share one snapping (cKDTree, nearest node of the largest connected
component; ``--snap all`` for any node) and must agree on who is covered: the check lines
compare them (pandana's rounded CH weights: ties within 0.5 m of the cutoff tolerated)
and, for Las Palmas, the population shares with SOURCES.md (91.3 / 67.2 / 48.2 %).
planner snaps to street segments and adds access legs, so its figures are reported, not
required to match.

Each method runs in a forked child process (hard ``--timeout``; the child is killed by
its pid if it overruns, the last progress message says where it was) and is repeated
``--repeat`` times (fewer once its runs took ``--repeat-budget`` s); the table shows the
best setup and the best query time, each over all kinds of the case. The ego_graph
variants run once with a cooperative budget (``--slow-budget``) after which their time is
extrapolated (shown with ``~``). pandana is limited to 1 OpenMP thread by default, like
every other method (``--pandana-threads 0`` for all cores).

Times: setup = building the method's structure from the shared edge list; query = the
searches for all kinds + per-cell lookup. Case preparation (osmnx parsing, synthetic
generation, snapping) is timed separately in the "loading" section.

Run from the repo root:

    python bench/coverage.py                       # both cases, all methods
    python bench/coverage.py --case las_palmas
    python bench/coverage.py --case synthetic --skip-slow
    python bench/coverage.py --methods scipy,pandana --repeat 5 --json bench/out.json

pandana's Network() (contraction hierarchy) grows fast with the grid size (measured on
this 2-core box: 20k nodes 4.7 s, 50k 23 s, 100k 78 s, 300k ~560 s), so on the default
synthetic case it hits the 150 s --timeout; to get its number anyway use
``--case synthetic --methods pandana,scipy --repeat 1 --timeout 900`` (or --n-nodes 100000).

Exit status: 0 if every pair of references agrees on who is covered, 1 otherwise.
Data: OpenStreetMap contributors (ODbL) for the Las Palmas case.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
if str(HERE.parent) not in sys.path:  # the repo's planner when it is not pip-installed
    sys.path.append(str(HERE.parent))

from _cases import LAS_PALMAS_EXPECTED_SHARE, Case, load_las_palmas, make_synthetic_case, resolve_data_dir  # noqa: E402
from _references import (  # noqa: E402
    MethodUnavailable,
    Run,
    pandana_status,
    run_ego_graph,
    run_ego_graph_md,
    run_nx_multisource,
    run_pandana,
    run_scipy,
    run_scipy_snap,
)

perf = time.perf_counter
THRESHOLDS_MIN = (5, 10, 15)


# =======================================================================================
# PLANNER — fill in / adjust once the planner API lands.
# Written against the intended API (DESIGN.md); everything else in this file is harness.
# Contract: one timed run over all case.kinds; return a Run with setup_s (network build)
# and query_s (coverage), plus per-cell distances in metres (dist) if they can be read,
# so the harness can compare planner with the references. Raise MethodUnavailable to
# have the row printed as "not importable yet".
# =======================================================================================
def run_planner(case: Case) -> Run:
    try:
        import planner as pl
    except ImportError as e:
        msg = f"not importable yet ({e})"
        raise MethodUnavailable(msg) from None

    # inputs as a user has them; building them is not timed
    population_gdf = case.population_gdf()
    facilities_gdf = case.facilities_gdf()
    kinds = {
        k: pl.FacilityKind(k, "population", threshold_min=case.threshold_min, speed_kmh=case.speed_kmh)
        for k in case.kinds
    }

    t0 = perf()
    net = pl.WalkNetwork.from_edges(case.node_xy, case.u, case.v, case.length_m, crs=case.crs)
    # or, for the real case: net = pl.WalkNetwork.from_osm_file(case.osm_path)
    t1 = perf()
    cov = pl.compute_coverage(net, population_gdf, facilities_gdf, kinds=kinds, thresholds_min=THRESHOLDS_MIN)
    t2 = perf()
    dist = _planner_distances_m(cov, case)
    return Run(
        t1 - t0,
        t2 - t1,
        dist=dist,
        note=(
            "distances include access legs"
            if dist is not None
            else "distances not read back (adjust _planner_distances_m)"
        ),
    )


def _planner_distances_m(cov, case: Case) -> dict | None:
    """Best effort: per-kind distance (m) per cell, in case.cell_id order, or None.

    Expects something like a cell x kind table of minutes (``cov.minutes``) indexed by
    cell_id or in input order; adjust to the real Coverage object.
    """
    try:
        import pandas as pd

        minutes = getattr(cov, "minutes", None)
        if callable(minutes):
            minutes = minutes()
        if not isinstance(minutes, pd.DataFrame):
            return None
        if minutes.index.dtype == object and set(case.cell_id[:5]) <= set(minutes.index):
            minutes = minutes.reindex(case.cell_id)
        m_per_min = case.speed_kmh * 1000.0 / 60.0
        out = {}
        for k in case.kinds:
            d = minutes[k].to_numpy(dtype=np.float64) * m_per_min
            out[k] = np.where(d <= case.threshold_m + 1e-6, d, np.inf)
        return out
    except Exception:
        return None


def time_planner_loading(case: Case) -> dict | None:
    """planner's network build from the OSM file: cold (empty cache) and from its cache.

    Uses a throw-away cache folder so the user's cache is neither read nor written.
    Returns None when planner is not importable or the case has no OSM file.
    """
    if case.osm_path is None:
        return None
    try:
        import planner as pl
    except ImportError:
        return None
    import tempfile

    out = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-planner-cache-") as tmp:
            t = perf()
            net = pl.WalkNetwork.from_osm_file(case.osm_path, cache_dir=tmp)
            out["planner WalkNetwork.from_osm_file (cold, builds cache)"] = perf() - t
            t = perf()
            pl.WalkNetwork.from_osm_file(case.osm_path, cache_dir=tmp)
            out["planner WalkNetwork.from_osm_file (from cache)"] = perf() - t
            out["  planner network size"] = f"{net.n_nodes:,} nodes (osmnx: {case.n_nodes:,})"
    except Exception as e:  # API not there yet / changed
        out["planner load"] = f"failed ({type(e).__name__}: {e})"
    return out


# =======================================================================================


METHODS = {
    # name: (function, slow?)
    "ego_graph": (run_ego_graph, True),
    "ego_graph_md": (run_ego_graph_md, True),
    "nx_multi": (run_nx_multisource, False),
    "pandana": (run_pandana, False),
    "scipy": (run_scipy, False),
    "scipy_snap": (run_scipy_snap, False),
    "planner": (run_planner, False),
}
LABELS = {
    "ego_graph": "osmnx recipe: nx.ego_graph per facility (nx.Graph)",
    "ego_graph_md": "same on a MultiDiGraph (osmnx's graph type)",
    "nx_multi": "networkx multi_source_dijkstra",
    "pandana": "pandana CH precompute+nearest_pois",
    "scipy": "bare scipy csgraph.dijkstra",
    "scipy_snap": "bare scipy + cKDTree snapping in the timing",
    "planner": "planner.compute_coverage",
}
REFERENCES = ("ego_graph", "ego_graph_md", "nx_multi", "pandana", "scipy", "scipy_snap")
#: --skip-slow skips slow methods only on cases with at least this many nodes
SLOW_SKIP_MIN_NODES = 50_000


# ---------------------------------------------------------------------------------------
# running one method: repeats in a forked child with a hard timeout
# ---------------------------------------------------------------------------------------
def _call(name: str, case: Case, slow_budget: float | None) -> Run:
    fn, _slow = METHODS[name]
    return fn(case, budget_s=slow_budget) if name.startswith("ego_graph") else fn(case)


def _repeat(
    name: str, case: Case, repeat: int, slow_budget: float | None, repeat_budget: float | None = None
) -> list[Run]:
    """Up to ``repeat`` runs; stop early once the runs so far took ``repeat_budget`` s."""
    runs = []
    t = perf()
    for i in range(repeat):
        r = _call(name, case, slow_budget)
        last = i == repeat - 1 or r.partial or (repeat_budget is not None and perf() - t > repeat_budget)
        if not last:  # only the last run ships its arrays back
            r = Run(r.setup_s, r.query_s, partial=r.partial, note=r.note, extra=r.extra)
        runs.append(r)
        if last:
            break
    return runs


def _child(conn, name, case, repeat, slow_budget, repeat_budget):
    import _references

    t0 = perf()
    _references.PROGRESS = lambda msg: conn.send(("progress", f"{msg} (at {perf() - t0:.1f} s)"))
    try:
        conn.send(("ok", _repeat(name, case, repeat, slow_budget, repeat_budget)))
    except MethodUnavailable as e:
        conn.send(("unavailable", str(e)))
    except BaseException as e:
        conn.send(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"))
    finally:
        conn.close()


def run_method(
    name: str,
    case: Case,
    repeat: int,
    timeout: float | None,
    slow_budget: float | None,
    repeat_budget: float | None = None,
    isolate: bool = True,
) -> tuple[str, object, float]:
    """Return (status, payload, wall_s); status in ok | unavailable | error | timeout."""
    t = perf()
    if not isolate:
        try:
            return "ok", _repeat(name, case, repeat, slow_budget, repeat_budget), perf() - t
        except MethodUnavailable as e:
            return "unavailable", str(e), perf() - t
        except Exception as e:
            return "error", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}", perf() - t
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child, args=(child, name, case, repeat, slow_budget, repeat_budget), daemon=True
    )
    proc.start()
    child.close()
    last_progress = None
    status, payload = "error", "no answer"
    try:
        while True:
            remaining = None if timeout is None else t + timeout - perf()
            if remaining is not None and remaining <= 0:
                status = "timeout"
                payload = f"killed after {timeout:g} s" + (
                    f"; last: {last_progress}" if last_progress else ""
                )
                break
            if not parent.poll(remaining):
                continue
            try:
                msg = parent.recv()
            except EOFError:
                status, payload = "error", f"child died (exit code {proc.exitcode}); last: {last_progress}"
                break
            if msg[0] == "progress":
                last_progress = msg[1]
                continue
            status, payload = msg
            break
    finally:
        proc.join(5 if status != "timeout" else 0)
        if proc.is_alive():
            proc.terminate()  # our own child, by its pid
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        parent.close()
    if status == "ok" and not payload:
        status, payload = "error", "no runs"
    return status, payload, perf() - t


# ---------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------
class Row:
    def __init__(self, method, case, status, payload=None, wall_s=0.0):
        self.method, self.case, self.status, self.wall_s = method, case, status, wall_s
        self.message = payload if status != "ok" else ""
        self.runs: list[Run] = payload if status == "ok" else []
        self.last: Run | None = self.runs[-1] if self.runs else None

    @property
    def ok(self):
        return self.status == "ok"

    @property
    def partial(self):
        return bool(self.last and self.last.partial)

    @property
    def setup_s(self):
        return min(r.setup_s for r in self.runs) if self.runs else float("nan")

    @property
    def query_s(self):
        return min(r.query_s for r in self.runs) if self.runs else float("nan")

    def phases(self) -> str:
        """Best time of each sub-phase a method reports in ``Run.extra`` (keys ending in _s)."""
        keys = [
            k
            for k in (self.runs[0].extra if self.runs else {})
            if k.endswith("_s") and all(k in r.extra for r in self.runs)
        ]
        return ", ".join(f"{k[:-2]} {_fmt_s(min(r.extra[k] for r in self.runs))} s" for k in keys)

    @property
    def total_s(self):
        return self.setup_s + self.query_s


def _fmt_s(x, approx=False):
    if x is None or not np.isfinite(x):
        return "-"
    s = f"{x:.4f}" if x < 0.1 else f"{x:.3f}" if x < 10 else f"{x:.1f}"
    return ("~" + s) if approx else s


def _fmt_ratio(x, approx=False):
    if x is None or not np.isfinite(x):
        return "-"
    s = f"{x:.2f}x" if x < 10 else f"{x:.0f}x"
    return ("~" + s) if approx else s


def print_table(rows: list[Row], file=sys.stdout):
    head = ["method", "case", "setup s", "query s", "total s", "ratio vs bare scipy", "query ratio", "runs"]
    body = []
    scipy_by_case = {r.case: r for r in rows if r.method == "scipy" and r.ok}
    for r in rows:
        label = f"{r.method:<12} {LABELS[r.method]}"
        if not r.ok:
            msg = {"unavailable": r.message, "timeout": f"TIMEOUT ({r.message})"}.get(
                r.status, f"{r.status.upper()}: {str(r.message).splitlines()[0] if r.message else ''}"
            )
            body.append([label, r.case, "-", "-", "-", "-", "-", msg])
            continue
        ref = scipy_by_case.get(r.case)
        ratio = r.total_s / ref.total_s if ref else float("nan")
        qratio = r.query_s / ref.query_s if ref else float("nan")
        body.append(
            [
                label,
                r.case,
                _fmt_s(r.setup_s),
                _fmt_s(r.query_s, r.partial),
                _fmt_s(r.total_s, r.partial),
                _fmt_ratio(ratio, r.partial),
                _fmt_ratio(qratio, r.partial),
                f"best of {len(r.runs)}" + (" (extrapolated)" if r.partial else ""),
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=False)]
    line = " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=False))
    print(line, file=file)
    print("-+-".join("-" * w for w in widths), file=file)
    for b in body:
        cells = [
            str(x).ljust(w) if i < 2 or i == len(b) - 1 else str(x).rjust(w)
            for i, (x, w) in enumerate(zip(b, widths, strict=False))
        ]
        print(" | ".join(cells).rstrip(), file=file)


#: distances may differ this much between exact engines and pandana, whose contraction
#: hierarchy works on rounded edge weights (observed: <= ~0.02 m on Las Palmas)
DIST_TOL_M = 0.5


def check_agreement(case: Case, rows: list[Row]) -> tuple[bool, list[str]]:
    """References must agree on who is covered (ties within DIST_TOL_M of the cutoff
    excepted) and on distances (within DIST_TOL_M). Planner differences are reported but
    do not fail the check (planner adds access legs)."""
    lines, ok = [], True
    L = case.threshold_m
    refs = [
        r
        for r in rows
        if r.case == case.name
        and r.ok
        and not r.partial
        and r.last is not None
        and r.last.covered_by_kind(L) is not None
    ]
    if len(refs) < 2:
        return True, [f"check {case.name}: fewer than two references finished - nothing to compare"]
    base = next((r for r in refs if r.method == "scipy"), refs[0])
    base_cov = base.last.covered_by_kind(L)
    total_pop = case.cell_pop.sum()
    for kind in case.kinds:
        counts, diffs, ddiff = [], [], []
        for r in refs:
            is_ref = r.method in REFERENCES
            cov = r.last.covered_by_kind(L)[kind]
            counts.append(f"{r.method}={int(cov.sum())}")
            mism = cov != base_cov[kind]
            if mism.any():
                near = np.zeros_like(mism)
                for run in (r.last, base.last) if is_ref else ():
                    if run.dist is not None:
                        near |= np.abs(run.dist[kind] - L) <= DIST_TOL_M
                hard, tie = int((mism & ~near).sum()), int((mism & near).sum())
                if hard:
                    diffs.append(
                        f"{r.method} differs from {base.method} on {hard} cells"
                        + ("" if is_ref else " - expected: planner adds access legs")
                    )
                    ok &= not is_ref
                if tie:
                    diffs.append(f"{r.method}: {tie} cells tie at the cutoff (+-{DIST_TOL_M:g} m)")
            if r.last.dist is not None and base.last.dist is not None and r is not base:
                a, b = r.last.dist[kind], base.last.dist[kind]
                both = np.isfinite(a) & np.isfinite(b)
                if both.any():
                    err = float(np.max(np.abs(a[both] - b[both])))
                    ddiff.append(f"{r.method} {err:.2g} m" + ("" if is_ref else " (access legs)"))
                    if is_ref and err > DIST_TOL_M:
                        ok = False
                        diffs.append(f"{r.method} distances differ by up to {err:.3g} m")
        ref_diffs = [d for d in diffs if not d.startswith("planner")]
        info = [d for d in diffs if d.startswith("planner")]
        hard_fail = any("differs" in d or "distances differ" in d for d in ref_diffs)
        share = case.cell_pop[base_cov[kind]].sum() / total_pop
        exp = LAS_PALMAS_EXPECTED_SHARE.get(kind) if case.name == "las_palmas" else None
        exp_s = f" (SOURCES.md: {exp:.1%})" if exp is not None else ""
        verdict = (
            "references MISMATCH: " if hard_fail else "references OK" + ("; " if ref_diffs else "")
        ) + "; ".join(ref_diffs)
        if info:
            verdict += " (info: " + "; ".join(info) + ")"
        lines.append(
            f"check {case.name} {kind:<16} covered cells @{L:g} m: {', '.join(counts)}"
            f" -> {verdict}"
            f" | population covered {share:.1%}{exp_s}"
            + (f" | max |d - d_{base.method}|: {', '.join(ddiff)}" if ddiff else "")
        )
    return ok, lines


# ---------------------------------------------------------------------------------------
def build_cases(args) -> list[Case]:
    names = ["las_palmas", "synthetic"] if args.case == "all" else [args.case]
    cases = []
    for n in names:
        t = perf()
        if n == "las_palmas":
            d = resolve_data_dir(args.data)
            c = load_las_palmas(d, threshold_m=args.threshold_m, speed_kmh=args.speed_kmh, snap=args.snap)
        else:
            c = make_synthetic_case(
                args.n_nodes,
                args.n_cells,
                args.n_facilities,
                args.seed,
                threshold_m=args.threshold_m,
                speed_kmh=args.speed_kmh,
                snap=args.snap,
            )
        print(f"[case] {c.summary()}  ({perf() - t:.1f} s to prepare)", flush=True)
        cases.append(c)
    return cases


def main(argv=None) -> int:  # noqa: C901, PLR0912 -- a benchmark script: options, then one linear report
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--case", choices=["las_palmas", "synthetic", "all"], default="all")
    p.add_argument(
        "--data",
        default=None,
        help="Las Palmas data dir (default <repo>/data/las_palmas, else /work/shared/data/las_palmas)",
    )
    p.add_argument(
        "--methods", default=",".join(METHODS), help=f"comma list from {','.join(METHODS)} (default all)"
    )
    p.add_argument(
        "--skip-slow",
        action="store_true",
        help=f"skip slow methods (ego_graph) on cases with >= {SLOW_SKIP_MIN_NODES:,} nodes",
    )
    p.add_argument("--repeat", type=int, default=3, help="runs per fast method; best is reported (default 3)")
    p.add_argument(
        "--repeat-budget",
        type=float,
        default=20.0,
        help="stop repeating a method once its runs took this many seconds (default 20; 0 = off)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=150.0,
        help="hard limit per method and case, all repeats, seconds (default 150; 0 = none)",
    )
    p.add_argument(
        "--slow-budget",
        type=float,
        default=120.0,
        help="ego_graph stops after this many query seconds and extrapolates (default 120)",
    )
    p.add_argument("--threshold-m", type=float, default=1200.0, help="cutoff in metres (default 1200)")
    p.add_argument("--speed-kmh", type=float, default=4.8, help="walking speed for minutes (default 4.8)")
    p.add_argument(
        "--snap",
        choices=["lcc", "all"],
        default="lcc",
        help="snap cells/facilities to the largest connected component (default) or any node",
    )
    p.add_argument("--n-nodes", type=int, default=300_000)
    p.add_argument("--n-cells", type=int, default=100_000)
    p.add_argument("--n-facilities", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--pandana-threads",
        type=int,
        default=1,
        help="OpenMP threads for pandana (default 1, like the other methods; 0 = OpenMP default)",
    )
    p.add_argument(
        "--no-isolate",
        action="store_true",
        help="run methods in this process (no hard timeout; for profiling/debugging)",
    )
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = p.parse_args(argv)

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad:
        p.error(f"unknown method(s): {bad}")
    timeout = args.timeout if args.timeout > 0 else None

    import _references

    _references.PANDANA_THREADS = args.pandana_threads or None

    t_start = perf()
    import networkx
    import scipy

    pd_ok, pd_ver = pandana_status()
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"networkx {networkx.__version__}, pandana {pd_ver if pd_ok else 'not installed'}; "
        f"{os.cpu_count()} CPUs; repeat={args.repeat}, timeout={args.timeout:g} s",
        flush=True,
    )
    if not pd_ok and "pandana" in methods:
        print(f"pandana: not installed ({pd_ver})", flush=True)

    cases = build_cases(args)
    rows: list[Row] = []
    for case in cases:
        for m in methods:
            slow = METHODS[m][1]
            if slow and args.skip_slow and case.n_nodes >= SLOW_SKIP_MIN_NODES:
                print(f"[{case.name}] {m}: skipped (--skip-slow)", flush=True)
                continue
            rep = 1 if slow else args.repeat
            status, payload, wall = run_method(
                m,
                case,
                rep,
                timeout,
                args.slow_budget,
                repeat_budget=args.repeat_budget or None,
                isolate=not args.no_isolate,
            )
            row = Row(m, case.name, status, payload, wall)
            rows.append(row)
            if row.ok:
                extra = f"  [{row.last.note}]" if row.last.note else ""
                if row.phases() and not row.partial:
                    extra += f"  [best phases: {row.phases()}]"
                print(
                    f"[{case.name}] {m}: setup {_fmt_s(row.setup_s)} s, query "
                    f"{_fmt_s(row.query_s, row.partial)} s (best of {len(row.runs)}; "
                    f"wall {wall:.1f} s){extra}",
                    flush=True,
                )
            elif status == "unavailable":
                print(f"[{case.name}] {m}: {payload}", flush=True)
            else:
                print(f"[{case.name}] {m}: {status.upper()}: {payload}", flush=True)

    # ---- report -------------------------------------------------------------------
    print()
    print("== loading (one run each; not part of the method times) ==")
    for case in cases:
        lt = dict(case.load_timings)
        lt.update(time_planner_loading(case) or {})
        for k, v in lt.items():
            val = f"{_fmt_s(v):>8} s" if isinstance(v, (int, float)) else str(v)
            print(f"  {case.name:<11} {k:<56} {val}")
        if case.osm_path is not None and not any(k.startswith("planner") for k in lt):
            print(
                f"  {case.name:<11} {'planner WalkNetwork.from_osm_file':<56} n/a (planner not importable yet)"
            )
    print()
    print(
        f"== coverage: distance to the nearest facility of each kind, every cell, cutoff "
        f"{args.threshold_m:g} m; times in seconds, all kinds of the case together =="
    )
    print_table(rows)
    print()
    all_ok, compared = True, False
    for case in cases:
        ok, lines = check_agreement(case, rows)
        all_ok &= ok
        compared |= not lines[0].endswith("nothing to compare")
        for ln in lines:
            print(ln)
    print(
        "check: references "
        + ("DISAGREE" if not all_ok else "AGREE" if compared else "not compared (fewer than two finished)")
    )
    notes = [
        f"{r.method}@{r.case}: {r.last.note}"
        + (f" (best phases: {r.phases()})" if r.phases() and not r.partial else "")
        for r in rows
        if r.ok and r.last.note
    ]
    if notes:
        print("notes: " + "; ".join(notes))
    print(
        "setup = build the method's structure from the shared edge list (nx.Graph / CSR / "
        "pandana CH + precompute); query = all kinds' searches + per-cell lookup. "
        "Snapping (cKDTree, shared) is excluded except for scipy_snap and planner. All methods single-threaded except pandana with --pandana-threads != 1."
    )
    print(f"total bench wall time {perf() - t_start:.0f} s")

    if args.json:
        out = {
            "args": vars(args),
            "cases": [
                {
                    "name": c.name,
                    "n_nodes": c.n_nodes,
                    "n_edges": c.n_edges,
                    "n_cells": c.n_cells,
                    "kinds": {k: c.n_facilities(k) for k in c.kinds},
                    "load_timings": c.load_timings,
                    "info": {k: v for k, v in c.info.items() if k != "params"} | c.info.get("params", {}),
                }
                for c in cases
            ],
            "rows": [
                {
                    "method": r.method,
                    "case": r.case,
                    "status": r.status,
                    "message": str(r.message) if not r.ok else "",
                    "setup_s": r.setup_s if r.ok else None,
                    "query_s": r.query_s if r.ok else None,
                    "runs": [{"setup_s": x.setup_s, "query_s": x.query_s} for x in r.runs],
                    "partial": r.partial,
                    "note": r.last.note if r.last else "",
                }
                for r in rows
            ],
            "references_agree": all_ok,
        }
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
        print(f"wrote {args.json}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
