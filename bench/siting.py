"""Speed benchmark: siting new facilities, planner vs spopt (PuLP/CBC), same instances, one run.

Instances (deterministic, seeded; ``_synthetic.make_synthetic_city``): a perturbed street grid,
a 100 m population grid, existing eldercare facilities drawn where people live, and network
candidate sites thinned to the spacing that gives the wanted number of candidates.

    size     cells      candidates   new sites (k)
    small    ~2,000     ~500         10
    middle   ~20,000    ~2,000       20
    large    ~100,000   ~10,000      50

Eldercare: 15 minutes at 3.6 km/h (900 m). Per size, each model with its own time limit:

  planner  mclp greedy      lazy greedy (with its own upper bound)
           mclp             HiGHS: proven optimum, gap on the newly covered people
           lscp             exact reductions, components, Lagrangian bound, search over pieces
                            of the cover (small exact MILPs), LP (IPM), HiGHS
           pmedian          greedy + swaps, Lagrangian bound and candidate fixing, HiGHS on the rest
           phased           k sites in 5 phases of k/5, nested, coverage summed over the phases
  spopt    MCLP / LSCP /    spopt 0.7 from_cost_matrix (dense) + PuLP/CBC, on the SAME problem:
           PMedian          the cells the existing facilities leave uncovered (p-median: the cells
                            with a walk in reach, the existing facilities as one predefined column);
                            the dense matrix is built from planner's exact network minutes.

Each run is a forked child process (peak memory = the child's max RSS); spopt runs are killed
(by their pid) after ``--spopt-timeout`` seconds and skipped where their dense matrix alone
would not fit in ``--spopt-max-gb``.

Run from the repo root (takes ~8-10 minutes on 2 cores):

    python bench/siting.py
    python bench/siting.py --sizes small,middle --spopt-timeout 60
    python bench/siting.py --json bench/siting.json
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

MODELS = ("mclp", "lscp", "pmedian", "phased")
SPOPT = {"mclp": "MCLP", "lscp": "LSCP", "pmedian": "PMedian"}
SIZES = {
    "small": {"cells": 2_000, "candidates": 500, "k": 10},
    "middle": {"cells": 20_000, "candidates": 2_000, "k": 20},
    "large": {"cells": 100_000, "candidates": 10_000, "k": 50},
}
perf = time.perf_counter


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


# ---------------------------------------------------------------------- instance
def build_instance(size: str, seed: int):
    import geopandas as gpd
    import shapely
    from _synthetic import make_synthetic_city

    import planner as pl
    from planner import siting as st

    spec = SIZES[size]
    n_cells = spec["cells"]
    city = make_synthetic_city(n_nodes=int(1.5 * n_cells), n_cells=n_cells,
                               n_facilities=max(6, n_cells // 125), seed=seed)  # fmt: skip
    net = pl.WalkNetwork.from_edges(
        city.node_xy, city.u, city.v, city.length_m, crs=city.crs, max_edge_m=None
    )
    pop = gpd.GeoDataFrame({"population": city.cell_pop, "age_60_plus": np.round(city.cell_pop * 0.25, 2)},
                           geometry=gpd.points_from_xy(*city.cell_xy.T), crs=city.crs)  # fmt: skip
    is_care = city.facility_kind == "eldercare"
    fac = gpd.GeoDataFrame({"kind": "eldercare"}, index=[f"f{i}" for i in np.flatnonzero(is_care)],
                           geometry=gpd.points_from_xy(*city.facility_xy[is_care].T), crs=city.crs)  # fmt: skip
    x0, y0 = city.cell_xy.min(axis=0) - 50
    x1, y1 = city.cell_xy.max(axis=0) + 50
    spacing = float(np.sqrt((x1 - x0) * (y1 - y0) / spec["candidates"]))
    cands = st.candidate_sites(net, spacing_m=spacing, boundary=shapely.box(x0, y0, x1, y1))
    return net, pop, fac, cands


# ---------------------------------------------------------------------- planner run (child)
def _row(r) -> dict:
    return {"objective": r.objective, "bound": r.bound, "gap": r.gap, "seconds": r.seconds, "status": r.status,
            "solver": r.solver, "sites": len(r.sites)}  # fmt: skip


def run_planner(size: str, seed: int, time_limit_s: float, lscp_time_limit_s: float, instance_path: str,
                models: tuple[str, ...] = MODELS):  # fmt: skip
    from planner import siting as st

    out: dict = {"size": size}
    t = perf()
    net, pop, fac, cands = build_instance(size, seed)
    out["setup_s"] = perf() - t
    out["nodes"] = net.n_nodes
    out["existing"] = len(fac)
    t = perf()
    p = st.SitingProblem.from_network(net, pop, fac, "eldercare", candidates=cands)
    out["problem_s"] = perf() - t
    out["matrix_s"] = p.params["matrix_seconds"]
    out["cells"], out["candidates"], out["pairs"] = p.n_cells, p.n_candidates, int(p.cover.nnz)
    out["share_before"] = p.covered_population / p.total_population
    t = perf()
    model = p.cover_model
    out["merge_s"] = perf() - t
    out["demand_rows"] = int(model.a.shape[0])
    k = SIZES[size]["k"]
    out["k"] = k
    runs = {
        "mclp greedy": lambda: st.solve_mclp(p, k, solver="greedy"),
        "mclp": lambda: st.solve_mclp(p, k, time_limit_s=time_limit_s, seed=seed),
        "lscp": lambda: st.solve_lscp(p, time_limit_s=lscp_time_limit_s, seed=seed),
        "pmedian": lambda: st.solve_p_median(p, k, time_limit_s=time_limit_s, seed=seed),
        "phased": lambda: st.solve_phased(p, phases=[k // 5] * 5, time_limit_s=time_limit_s, seed=seed),
    }
    for name in ("mclp greedy", *models):
        out[name] = _row(runs[name]())
    out["peak_mb"] = peak_mb()
    # the same problem for spopt: uncovered cells with people x candidates, planner's exact minutes
    rows = np.flatnonzero(~p.existing_covered & (p.weights > 0))
    sub = p.minutes[rows].tocsr()
    reach = np.diff(p.cover[rows].tocsr().indptr) > 0
    # p-median: cells some candidate saves minutes for; existing facilities as one predefined column
    fallback = np.minimum(p.existing_min, p.limit_min)
    saves = np.flatnonzero((np.diff(p.minutes.tocsr().indptr) > 0) & (p.weights > 0))
    np.savez(instance_path, data=sub.data, indices=sub.indices, indptr=sub.indptr,
             shape=np.array(sub.shape), weights=p.weights[rows], reach=reach,
             threshold=np.array(p.threshold_min), k=np.array(k), limit=np.array(p.limit_min),
             pm_rows=saves, pm_weights=p.weights[saves], pm_fallback=fallback[saves],
             pm_base=np.array(float((p.weights * fallback).sum())))  # fmt: skip
    pm = p.minutes[saves].tocsr()
    np.savez(instance_path.replace(".npz", "_pm.npz"), data=pm.data, indices=pm.indices, indptr=pm.indptr,
             shape=np.array(pm.shape))  # fmt: skip
    return out


# ---------------------------------------------------------------------- spopt runs (child)
def run_spopt(model: str, instance_path: str, cbc_time_limit_s: float):
    import warnings

    import pulp
    from scipy import sparse
    from spopt.locate import LSCP, MCLP, PMedian

    warnings.simplefilter("ignore")
    z = np.load(instance_path)
    m = sparse.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
    w = z["weights"]
    threshold = float(z["threshold"])
    k = int(z["k"])
    t = perf()
    solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=cbc_time_limit_s)
    if model == "pmedian":
        y = np.load(instance_path.replace(".npz", "_pm.npz"))
        pm = sparse.csr_matrix((y["data"], y["indices"], y["indptr"]), shape=tuple(y["shape"]))
        limit = float(z["limit"])
        cost = np.full((pm.shape[0], pm.shape[1] + 1), limit)
        coo = pm.tocoo()
        cost[coo.row, coo.col] = np.minimum(coo.data, limit)
        cost[:, -1] = z["pm_fallback"]  # the existing facilities, one column, always open
        predefined = np.zeros(cost.shape[1], bool)
        predefined[-1] = True
        inst = PMedian.from_cost_matrix(
            cost, z["pm_weights"], p_facilities=k + 1, predefined_facilities_arr=predefined
        )
    else:
        if model == "lscp":
            m = m[np.flatnonzero(z["reach"])]  # spopt's LSCP is infeasible with unreachable cells
        cost = np.full(m.shape, 1e6)
        coo = m.tocoo()
        cost[coo.row, coo.col] = coo.data
        if model == "mclp":
            inst = MCLP.from_cost_matrix(cost, w, service_radius=threshold, p_facilities=k)
        else:
            inst = LSCP.from_cost_matrix(cost, service_radius=threshold)
    build_s = perf() - t
    t = perf()
    inst = inst.solve(solver)
    solve_s = perf() - t
    prob = inst.problem
    objective = float(pulp.value(prob.objective))
    if model == "pmedian":  # person-minutes after -> saved, as planner counts them
        objective = float(z["pm_weights"] @ z["pm_fallback"]) - objective
    status = {1: "optimal", 2: "time_limit"}.get(prob.sol_status, pulp.LpStatus.get(prob.status, "?"))
    return {"objective": objective, "status": status, "build_s": build_s, "solve_s": solve_s,
            "seconds": build_s + solve_s, "rows": int(m.shape[0]), "peak_mb": peak_mb()}  # fmt: skip


# ---------------------------------------------------------------------- process handling
def _child(conn, fn, args):
    try:
        logging.basicConfig(level=logging.WARNING)
        conn.send(("ok", fn(*args)))
    except BaseException as exc:  # report everything to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"))
    finally:
        conn.close()


def in_child(fn, args, timeout_s: float):
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fn, args))
    t = perf()
    proc.start()
    send.close()
    result = None
    if recv.poll(timeout_s):
        try:
            result = recv.recv()
        except EOFError:
            result = None
    if result is None:
        if proc.is_alive():
            proc.kill()  # our own child, by its pid
            proc.join()
            return "timeout", f"killed after {perf() - t:.0f} s"
        proc.join()
        return "error", f"child ended with exit code {proc.exitcode} (out of memory?)"
    proc.join()
    return result


def spopt_status() -> tuple[bool, str]:
    try:
        import pulp
        import spopt

        if not pulp.PULP_CBC_CMD().available():
            return False, "PuLP's CBC binary is not available"
        return True, f"spopt {spopt.__version__}, PuLP {pulp.__version__} (CBC)"
    except ImportError as exc:
        return False, f"spopt/pulp not installed ({exc}); pip install spopt pulp"


# ---------------------------------------------------------------------- report
def fmt_s(v) -> str:
    return "-" if v is None else (f"{v:.2f}" if v < 100 else f"{v:.0f}")


def fmt_gap(v) -> str:
    if v is None or not np.isfinite(v):
        return "-"
    return f"{100 * v:.3f}%"


def main(argv=None) -> int:  # noqa: C901, PLR0912 -- a benchmark script: options, then one linear report
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="small,middle,large")
    ap.add_argument("--models", default=",".join(MODELS), help=f"planner models, from {list(MODELS)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=60.0, help="planner time limit per model (s)")
    ap.add_argument("--lscp-time-limit", type=float, default=60.0, help="planner LSCP time limit (s)")
    ap.add_argument("--spopt-timeout", type=float, default=120.0, help="hard limit per spopt run (s)")
    ap.add_argument("--no-spopt", action="store_true", help="planner only")
    ap.add_argument(
        "--spopt-max-gb",
        type=float,
        default=8.0,
        help="skip spopt where its dense matrix, copied twice, needs more than this",
    )
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    args = ap.parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    unknown = [s for s in sizes if s not in SIZES] + [m for m in models if m not in MODELS]
    if unknown:
        ap.error(f"unknown size(s) or model(s) {unknown}; choose from {list(SIZES)} and {list(MODELS)}")

    import scipy

    from planner.siting.mip import new_highs

    have_spopt, spopt_note = spopt_status()
    if args.no_spopt:
        have_spopt, spopt_note = False, "spopt not run (--no-spopt)"
    print(f"python {platform.python_version()}, {os.cpu_count()} cores; scipy {scipy.__version__}, "
          f"highspy {new_highs().version()}; {spopt_note}")  # fmt: skip
    print("eldercare, 15 min at 3.6 km/h (900 m); existing facilities fixed")
    results = []
    tmp = Path(tempfile.mkdtemp(prefix="planner-bench-siting-"))
    for size in sizes:
        inst = str(tmp / f"{size}.npz")
        print(f"\n[{size}] planner ...", flush=True)
        status, res = in_child(run_planner, (size, args.seed, args.time_limit, args.lscp_time_limit, inst, models),
                               timeout_s=1800)  # fmt: skip
        if status != "ok":
            print(f"  planner failed: {res}")
            results.append({"size": size, "error": res})
            continue
        row = dict(res)
        print(f"  {row['cells']:,} cells x {row['candidates']:,} candidates, {row['nodes']:,} nodes, "
              f"{row['existing']} existing facilities ({100 * row['share_before']:.1f}% covered); "
              f"{row['pairs']:,} pairs; {row['demand_rows']:,} demand rows after merging")  # fmt: skip
        for model in (m for m in models if m in SPOPT):
            key = f"spopt {model}"
            if not have_spopt:
                row[key] = {"status": "skipped", "note": spopt_note}
                continue
            z = np.load(inst)
            n_rows = {
                "mclp": int(z["shape"][0]),
                "lscp": int(z["reach"].sum()),
                "pmedian": len(z["pm_rows"]),
            }[model]
            need_gb = 2 * n_rows * int(z["shape"][1]) * 8 / 1e9
            if need_gb > args.spopt_max_gb:
                row[key] = {"status": "skipped",
                            "note": f"dense {n_rows:,} x {int(z['shape'][1]):,} matrix copied twice "
                                    f"needs {need_gb:.1f} GB > {args.spopt_max_gb:g} GB"}  # fmt: skip
                print(f"  {key}: skipped, {row[key]['note']}")
                continue
            print(f"  {key} ...", flush=True)
            st_, r = in_child(run_spopt, (model, inst, max(1.0, args.spopt_timeout - 5)),
                              timeout_s=args.spopt_timeout)  # fmt: skip
            row[key] = r if st_ == "ok" else {"status": st_, "note": r}
        results.append(row)
        for f in tmp.glob(f"{size}*.npz"):
            f.unlink()
    tmp.rmdir()

    # ---- table
    print("\n" + "=" * 112)
    print(f"{'size':7} {'cells x cands':>17} {'model':8} {'method':22} {'seconds':>8} {'objective':>13} "
          f"{'bound':>13} {'gap':>9} {'status':>11}")  # fmt: skip
    print("-" * 112)
    for row in results:
        size = row["size"]
        if "error" in row:
            print(f"{size:7} planner failed: {row['error'][:90]}")
            continue
        dims = f"{row['cells']:,} x {row['candidates']:,}"
        for key in ("mclp greedy", *models):
            r = row[key]
            model, method = (key.split()[0], "planner greedy") if " " in key else (key, "planner exact")
            print(f"{size:7} {dims:>17} {model:8} {method:22} {fmt_s(r['seconds']):>8} {r['objective']:>13,.1f} "
                  f"{r['bound']:>13,.1f} {fmt_gap(r['gap']):>9} {r['status']:>11}")  # fmt: skip
        for model in (m for m in models if m in SPOPT):
            r = row.get(f"spopt {model}", {})
            label = f"spopt {SPOPT[model]} (CBC)"
            if r.get("status") in ("optimal", "time_limit") and "objective" in r:
                print(f"{size:7} {dims:>17} {model:8} {label:22} {fmt_s(r['seconds']):>8} {r['objective']:>13,.1f} "
                      f"{'-':>13} {'-':>9} {r['status']:>11}")  # fmt: skip
            else:
                print(
                    f"{size:7} {dims:>17} {model:8} {label:22} {r.get('status', '-')}: {str(r.get('note', ''))[:50]}"
                )
    print("=" * 112)
    print(
        "objective: mclp newly covered people; lscp sites; pmedian person-minutes saved (walks capped at the"
    )
    print(
        "15-min limit); phased newly covered people summed over 5 phases of k/5 sites. seconds: the solve only"
    )
    print(
        "(planner's matrix build is in matrix s of --json; spopt's model build + CBC). gap: on what the new"
    )
    print("sites add. spopt is handed planner's exact minutes as a dense matrix.")
    ok = True
    for row in results:
        for model in ("mclp", "lscp", "pmedian"):
            s_, p_ = row.get(f"spopt {model}", {}), row.get(model, {})
            if s_.get("status") == "optimal" and p_.get("status") == "optimal":
                same = abs(s_["objective"] - p_["objective"]) <= 1e-6 * max(1.0, abs(s_["objective"])) + (
                    0.5 if model == "lscp" else 0.0)  # fmt: skip
                print(f"[{row['size']}] {model} planner {p_['objective']:,.2f} vs spopt {s_['objective']:,.2f}: "
                      f"{'same' if same else 'DIFFERENT'}")  # fmt: skip
                ok &= same
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
