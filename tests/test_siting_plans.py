"""Siting the way plans are made: phases, per-unit rules, shared centres, sizes, tie-breaks.

Every model is checked against brute force over every choice on tiny instances, and the people
covered by an answer are recomputed with ``compute_coverage`` after adding its sites.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from conftest import TINY, tiny_study_toml
from scipy.optimize import linprog

import planner as pl
from planner import siting as st
from planner.errors import InputError
from planner.siting.mip import SolveProgress
from planner.siting.models import check_model_options, solve_siting
from planner.siting.shared import SharedProblem, solve_shared

pytest.importorskip("highspy")


def cover_value(a, w, need, cols):
    if not len(cols):
        return 0.0
    return float(w[(a[:, list(cols)].sum(axis=1) > 0) & need].sum())


def random_instance(seed, n=12, m=6, density=0.35):
    rng = np.random.default_rng(seed)
    a = (rng.random((n, m)) < density).astype(float)
    if rng.random() < 0.5:
        a[:, rng.integers(m)] = a[:, rng.integers(m)]  # a repeated candidate
    w = rng.integers(1, 50, n).astype(float)
    existing = rng.random(n) < 0.2
    return a, w, existing


# ---------------------------------------------------------------------- phases
def brute_phased(a, w, need, phases, beta):
    """Best Σ_t β_t cov(S_t) over nested S_1 ⊆ … ⊆ S_T with |S_t| ≤ K_t (all orderings)."""
    big_k = np.cumsum(phases)
    best = 0.0
    for perm in itertools.permutations(range(a.shape[1]), int(big_k[-1])):
        val = sum(b * cover_value(a, w, need, perm[: int(kk)]) for b, kk in zip(beta, big_k, strict=True))
        best = max(best, val)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_phased_matches_brute_force(seed):
    a, w, existing = random_instance(seed, n=int(8 + seed), m=5 + seed % 2)
    phases = [2, 1, 1] if seed % 3 == 2 else [1, 1, 1]
    rng = np.random.default_rng(100 + seed)
    beta = [1.0] * len(phases) if seed % 2 == 0 else list(rng.uniform(0.5, 2, len(phases)).round(2))
    p = st.SitingProblem.from_coverage_matrix(a, w, existing_covered=existing)
    r = st.solve_phased(p, phases=phases, phase_weights=None if seed % 2 == 0 else beta)
    best = brute_phased(a, w, ~existing, phases, beta)
    assert r.objective == pytest.approx(best)
    assert r.status == "optimal"
    assert r.bound >= best - 1e-6
    # nested, at most the phase's count new in each phase, the table adds up
    per_phase = r.sites.groupby("phase").size().reindex(range(1, len(phases) + 1), fill_value=0)
    assert (per_phase.to_numpy() <= np.asarray(phases)).all()
    table = r.tables["phases"]
    open_ = [
        [int(c) for c in r.sites.loc[r.sites["phase"] <= t, "candidate_id"]]
        for t in range(1, len(phases) + 1)
    ]
    for t, cols in enumerate(open_):
        assert table["covered"].iloc[t] == pytest.approx(cover_value(a, w, ~existing, cols))
        opt = max(
            cover_value(a, w, ~existing, c) for c in itertools.combinations(range(a.shape[1]), len(cols) or 1)
        )
        kk = int(np.cumsum(phases)[t])
        opt = max(cover_value(a, w, ~existing, c) for c in itertools.combinations(range(a.shape[1]), kk))
        assert table["best_unconstrained"].iloc[t] == pytest.approx(opt)
        assert table["loss"].iloc[t] == pytest.approx(opt - table["covered"].iloc[t])
        assert table["loss"].iloc[t] >= -1e-9


def test_phased_loses_against_the_unconstrained_best_when_it_must():
    # one site: the middle one (60). Two: the outer two (100) beat the middle and any (80).
    # Nested over (1, 1): 60 then 80 (140), or 50 then 100 (150): the plan gives up 10 in year 1.
    a = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1], [0, 0, 1]], float)
    w = np.array([30.0, 20.0, 30.0, 20.0])
    r = st.solve_phased(st.SitingProblem.from_coverage_matrix(a, w), phases={2025: 1, 2026: 1})
    assert r.objective == pytest.approx(150.0)
    assert r.tables["phases"]["best_unconstrained"].tolist() == [60.0, 100.0]
    assert r.tables["phases"]["loss"].tolist() == pytest.approx([10.0, 0.0])
    assert r.sites["year"].tolist() == [2025, 2026]
    assert r.sites["phase"].tolist() == [1, 2]


@pytest.mark.parametrize("seed", range(4))
def test_nested_answer_equals_the_unconstrained_optimum_when_that_is_nested(seed):
    # disjoint candidates: the best k sites are the k heaviest, nested for every k
    rng = np.random.default_rng(seed)
    m = 6
    a = np.kron(np.eye(m), np.ones((2, 1)))
    w = np.repeat(rng.permutation(np.arange(1, m + 1)).astype(float) * 7, 2)  # no two candidates tie
    p = st.SitingProblem.from_coverage_matrix(a, w)
    r = st.solve_phased(p, phases=[1, 1, 2])
    for t, kk in enumerate([1, 2, 4]):
        best = st.solve_mclp(p, kk)
        assert r.tables["phases"]["covered"].iloc[t] == pytest.approx(best.objective)
        assert r.tables["phases"]["loss"].iloc[t] == pytest.approx(0.0)
        assert set(r.sites["candidate_id"].iloc[:kk]) == set(best.sites["candidate_id"])


def tiny_study(tmp_path, siting: str) -> pl.StudyArea:
    path = tmp_path / "study.toml"
    path.write_text(
        tiny_study_toml(f"[siting]\n{siting}\n", kinds=False),
        encoding="utf-8",
    )
    return pl.StudyArea.from_toml(path)


def test_phased_reads_as_a_trajectory_and_recomputes(tmp_path):
    study = tiny_study(
        tmp_path, 'kind = "eldercare"\nspacing_m = 200\nphases = {2026 = 1, 2027 = 1, 2028 = 1}'
    )
    r = pl.run_study(study, use_cache=False, targets=False)
    res = r.siting
    assert res.model == "phased"
    assert res.status == "optimal"
    assert res.sites["year"].tolist() == [2026, 2027, 2028]
    added = res.to_facilities().assign(year=res.sites["year"].to_numpy())
    traj = pl.compare(r, pl.Scenario(added=added)).trajectory
    assert traj is not None
    traj = traj[(traj["kind"] == "eldercare") & (traj["minutes"] == 15)]
    for t, year in enumerate([2026, 2027, 2028]):
        got = float(traj.loc[traj["year"] == year, "covered"].iloc[0])
        assert got == pytest.approx(res.covered_before + res.tables["phases"]["covered"].iloc[t], rel=1e-9)
    written = pl.write_study_result(r, tmp_path / "out")
    assert "siting_phases.csv" in {p.name for p in written}


@pytest.fixture(scope="module")
def tiny_problem(tiny_network, tiny_population, tiny_facilities):
    return st.SitingProblem.from_network(
        tiny_network, tiny_population, tiny_facilities, "eldercare", spacing_m=200
    )


def covered_after_adding(result, network, population, facilities, kind="eldercare"):
    fac = pd.concat(
        [facilities[facilities["kind"] == kind], result.to_facilities(kind).to_crs(facilities.crs)]
    )
    cov = pl.compute_coverage(network, population, fac, kinds={kind: pl.DEFAULT_KINDS[kind]},
                              thresholds_min=(pl.DEFAULT_KINDS[kind].threshold_min,))  # fmt: skip
    target = pl.DEFAULT_KINDS[kind].target_column
    return float(cov.population[target][cov.minutes[kind] <= pl.DEFAULT_KINDS[kind].threshold_min].sum())


# ---------------------------------------------------------------------- per-unit rules
def brute_units(a, w, need, k, unit, lo, hi):
    best = -1.0
    units = sorted(set(unit))
    for size in range(k + 1):
        for s in itertools.combinations(range(a.shape[1]), size):
            count = {u: sum(1 for j in s if unit[j] == u) for u in units}
            if all(lo <= count[u] <= hi for u in units):
                best = max(best, cover_value(a, w, need, s))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_mclp_per_unit_rules_match_brute_force(seed):
    a, w, existing = random_instance(seed, n=12, m=7)
    rng = np.random.default_rng(200 + seed)
    unit = np.array(["east", "west", "north"])[rng.integers(0, 3, a.shape[1])]
    unit[:3] = ["east", "west", "north"]  # every unit has a candidate
    cells = pd.DataFrame({"weight": w})
    p = st.SitingProblem.from_coverage_matrix(a, w, existing_covered=existing)
    p.candidates["street"] = unit
    del cells
    lo, hi = (1, 2) if seed % 2 == 0 else (1, 1)
    k = 4 if hi == 2 else 3
    r = st.solve_mclp(p, k, unit_column="street", min_per_unit=lo, max_per_unit=hi)
    assert r.objective == pytest.approx(brute_units(a, w, ~existing, k, unit, lo, hi))
    assert r.status == "optimal"
    chosen = [int(c) for c in r.sites["candidate_id"]]
    for u in set(unit):
        n_u = sum(1 for j in chosen if unit[j] == u)
        assert lo <= n_u <= hi
    table = r.tables["units"]
    assert table.set_index("unit")["new_sites"].to_dict() == {
        u: sum(1 for j in chosen if unit[j] == u) for u in set(unit)
    }


@pytest.mark.parametrize("seed", range(4))
def test_lscp_per_unit_rules_match_brute_force(seed):
    a, w, _ = random_instance(seed, n=10, m=7, density=0.4)
    a = a[a.sum(axis=1) > 0]
    w = w[: len(a)]
    unit = np.array(["a", "b", "a", "b", "c", "c", "a"])
    p = st.SitingProblem.from_coverage_matrix(a, w)
    p.candidates["community"] = unit
    r = st.solve_lscp(p, unit_column="community", min_per_unit=1)
    best = np.inf
    for size in range(a.shape[1] + 1):
        for s in itertools.combinations(range(a.shape[1]), size):
            if (a[:, list(s)].sum(axis=1) > 0).all() and {unit[j] for j in s} == {"a", "b", "c"}:
                best = min(best, size)
    assert r.objective == best
    assert r.status == "optimal"


def test_per_unit_rules_are_explained():
    p = st.SitingProblem.from_coverage_matrix(np.eye(3), [1, 2, 3])
    p.candidates["street"] = ["A", "A", "B"]
    p.cells["street"] = ["A", "B", "C"]
    p.cells["geometry"] = None
    with pytest.raises(InputError, match=r"model 'mclp'.*no candidate site in street \[C\]"):
        st.solve_mclp(p, 3, unit_column="street", min_per_unit=1)
    q = st.SitingProblem.from_coverage_matrix(np.eye(3), [1, 2, 3])
    q.candidates["street"] = ["A", "B", "C"]
    with pytest.raises(InputError, match=r"model 'mclp': min_per_unit=1 needs 3 new sites.*only 2 asked"):
        st.solve_mclp(q, 2, unit_column="street", min_per_unit=1)
    with pytest.raises(ValueError, match="model 'mclp': min_per_unit / max_per_unit need unit_column"):
        st.solve_mclp(q, 2, min_per_unit=1)
    with pytest.raises(InputError, match="unit_column 'road' is neither"):
        st.solve_mclp(q, 2, unit_column="road", min_per_unit=1)


def test_per_unit_rule_counts_existing_facilities(tiny_network, tiny_population, tiny_facilities):
    pop = tiny_population.assign(
        street=np.where(
            tiny_population.geometry.centroid.x < tiny_population.geometry.centroid.x.median(), "W", "E"
        )
    )
    p = st.SitingProblem.from_network(tiny_network, pop, tiny_facilities, "eldercare", spacing_m=200,
                                      unit_columns=["street"])  # fmt: skip
    r = st.solve_mclp(p, 3, unit_column="street", min_per_unit=1)
    table = r.tables["units"].set_index("unit")
    assert (table["existing"] + table["new_sites"] >= 1).all()
    assert covered_after_adding(r, tiny_network, pop, tiny_facilities) == pytest.approx(
        r.covered_after, rel=1e-9
    )


def test_excluded_areas_remove_candidates(tiny_network, tiny_population, tiny_facilities):
    import shapely

    full = st.SitingProblem.from_network(
        tiny_network, tiny_population, tiny_facilities, "eldercare", spacing_m=200
    )
    xy = shapely.get_coordinates(full.candidates.geometry.to_numpy())
    area = shapely.box(xy[:, 0].min() - 1, xy[:, 1].min() - 1, np.median(xy[:, 0]), xy[:, 1].max() + 1)
    cut = st.SitingProblem.from_network(tiny_network, tiny_population, tiny_facilities, "eldercare", spacing_m=200,
                                        excluded=area)  # fmt: skip
    inside = shapely.intersects_xy(area, xy[:, 0], xy[:, 1])
    assert set(cut.candidates.index) == set(full.candidates.index[~inside])


# ---------------------------------------------------------------------- shared centres
def brute_shared(covers, ws, needs, k, beta, host, kind_cost, site_cost, budget):
    m = covers[0].shape[1]
    q = len(covers)
    best = 0.0
    for size in range(k + 1):
        for s in itertools.combinations(range(m), size):
            for pattern in itertools.product(*[[(j, t) for t in range(q) if host[j, t]] and
                                               list(itertools.chain.from_iterable(
                                                   itertools.combinations([t for t in range(q) if host[j, t]], r)
                                                   for r in range(q + 1))) for j in s]):  # fmt: skip
                spend = site_cost * len(s) + sum(kind_cost[t] for kinds in pattern for t in kinds)
                if budget is not None and spend > budget + 1e-9:
                    continue
                val = 0.0
                for t in range(q):
                    cols = [j for j, kinds in zip(s, pattern, strict=True) if t in kinds]
                    val += beta[t] * cover_value(covers[t], ws[t], needs[t], cols)
                best = max(best, val)
    return best


@pytest.mark.parametrize("seed", range(5))
def test_shared_matches_brute_force(seed):
    rng = np.random.default_rng(300 + seed)
    m = 5
    covers, ws, needs, problems = [], [], [], {}
    for kind in ("eldercare", "nursery"):
        a = (rng.random((8, m)) < 0.35).astype(float)
        w = rng.integers(1, 40, 8).astype(float)
        ex = rng.random(8) < 0.2
        covers.append(a)
        ws.append(w)
        needs.append(~ex)
        problems[kind] = st.SitingProblem.from_coverage_matrix(a, w, existing_covered=ex)
    host = rng.random((m, 2)) < 0.8
    problems["eldercare"].candidates["hosts"] = [";".join(k for k, h in zip(("eldercare", "nursery"), row, strict=True) if h) or "eldercare" for row in host]  # fmt: skip
    host = np.array(
        [[("eldercare" in h), ("nursery" in h)] for h in problems["eldercare"].candidates["hosts"]]
    )
    for p in problems.values():
        p.candidates["hosts"] = problems["eldercare"].candidates["hosts"].to_numpy()
    beta = [1.0, float(rng.choice([1.0, 2.5]))]
    kind_cost = [1.0, 0.5]
    budget = None if seed % 2 == 0 else 4.0
    k = 2
    r = solve_shared(SharedProblem(problems), k, kind_weights={"eldercare": beta[0], "nursery": beta[1]},
                     kind_cost={"eldercare": kind_cost[0], "nursery": kind_cost[1]}, site_cost=1.0, budget=budget)  # fmt: skip
    best = brute_shared(covers, ws, needs, k, beta, host, kind_cost, 1.0, budget)
    assert r.objective == pytest.approx(best)
    assert r.status == "optimal"
    # each kind's coverage recomputed from the hosts column
    for t, kind in enumerate(("eldercare", "nursery")):
        cols = [
            int(c)
            for c, h in zip(r.sites["candidate_id"], r.sites["hosts"], strict=True)
            if kind in h.split(";")
        ]
        assert all(host[j, t] for j in cols)
        row = r.tables["kinds"].set_index("kind").loc[kind]
        assert row["covered_shared"] == pytest.approx(
            float(ws[t][~needs[t]].sum()) + cover_value(covers[t], ws[t], needs[t], cols)
        )
        assert row["sites_hosting"] == len(cols)
        # siting the kind alone with as many sites covers at least as many of its people
        assert row["covered_separate"] >= row["covered_shared"] - 1e-9


def test_shared_through_the_registry_and_its_options():
    a = st.SitingProblem.from_coverage_matrix([[1, 0], [0, 1]], [10, 1])
    b = st.SitingProblem.from_coverage_matrix([[1, 0], [0, 1]], [1, 10])
    r = solve_siting(SharedProblem({"eldercare": a, "nursery": b}), "shared", k=2)
    assert r.objective == pytest.approx(22.0)
    assert sorted(r.sites["hosts"]) == ["eldercare;nursery", "eldercare;nursery"]
    with pytest.raises(ValueError, match=r"model 'shared': kind_weights names \['meal_site'\]"):
        solve_siting(
            SharedProblem({"eldercare": a, "nursery": b}), "shared", k=1, kind_weights={"meal_site": 1.0}
        )
    with pytest.raises(ValueError, match=r"model 'lscp' does not take \['kind_cost'\]"):
        check_model_options("lscp", k=None, options={"kind_cost": {"x": 1}})


# ---------------------------------------------------------------------- capacity, sizes, tie-break
def served_lp(a, w, need, caps):
    """Most people served by sites with capacities ``caps`` (column → people)."""
    cols = list(caps)
    pairs = [(i, j) for i in range(a.shape[0]) for j in cols if a[i, j] and need[i] and w[i] > 0]
    if not pairs:
        return 0.0
    rows, ub = [], []
    for i in sorted({p[0] for p in pairs}):
        rows.append([1.0 if p[0] == i else 0.0 for p in pairs])
        ub.append(w[i])
    for j in cols:
        rows.append([1.0 if p[1] == j else 0.0 for p in pairs])
        ub.append(caps[j])
    res = linprog(
        -np.ones(len(pairs)), A_ub=np.array(rows), b_ub=np.array(ub), bounds=(0, None), method="highs"
    )
    return -res.fun


@pytest.mark.parametrize("seed", range(4))
def test_sizes_match_brute_force(seed):
    a, w, existing = random_instance(seed, n=9, m=5, density=0.45)
    sizes = {20.0: 1.0, 50.0: 2.0}
    p = st.SitingProblem.from_coverage_matrix(a, w, existing_covered=existing)
    budget = 5.0
    r = st.solve_mclp(p, 2, capacitated=True, sizes=sizes, budget=budget)
    best = 0.0
    for size in range(3):
        for s in itertools.combinations(range(a.shape[1]), size):
            for pick in itertools.product(sizes, repeat=size):
                if sum(1.0 + sizes[c] for c in pick) <= budget:  # each site: its own cost (1) and its size's
                    best = max(best, served_lp(a, w, ~existing, dict(zip(s, pick, strict=True))))
    assert r.objective == pytest.approx(best, abs=1e-5)
    assert r.status == "optimal"
    assert set(r.sites["size"]) <= set(sizes)
    assert (r.sites["served"] <= r.sites["size"] + 1e-6).all()
    assert r.sites["cost"].sum() <= budget + 1e-9


def test_capacity_ties_are_broken_by_reach_then_labelled():
    # every candidate can fill its 10 places; candidates 0 and 1 reach the same crowd, 2 another
    a = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], float)
    w = np.array([50.0, 50.0, 40.0])
    p = st.SitingProblem.from_coverage_matrix(a, w, capacity=[10, 10, 10])
    r = st.solve_mclp(p, 2, capacitated=True)
    assert r.objective == pytest.approx(20.0)
    assert sorted(r.sites["candidate_id"])[-1] == "2"  # not the first two ids: they reach the same people
    assert r.sites["within_reach"].sum() == pytest.approx(140.0)
    assert r.covered_after == pytest.approx(140.0)  # within reach, as the table's share
    assert r.sites["share"].iloc[-1] == pytest.approx(1.0)
    assert r.params["tie_break"].startswith("most served, then most within reach")
    assert r.params["served"] == pytest.approx(20.0)


# ---------------------------------------------------------------------- options, notes, progress
def test_new_larger_than_useful_is_reported():
    a = np.zeros((4, 6))
    a[[0, 1, 2, 3], [0, 1, 2, 3]] = 1
    a[[0, 1], 4] = 1
    a[[2, 3], 5] = 1
    r = st.solve_mclp(st.SitingProblem.from_coverage_matrix(a, [5, 6, 7, 8]), 5)
    assert r.params["note"] == "2 sites (the fewest) reach everyone coverable; 5 asked"
    assert len(r.sites) == 2


def test_options_a_model_ignores_are_errors_naming_it():
    p = st.SitingProblem.from_coverage_matrix(np.eye(3), [1, 2, 3])
    with pytest.raises(ValueError, match=r"model 'pmedian' does not take \['min_per_unit', 'unit_column'\]"):
        solve_siting(p, "pmedian", k=1, unit_column="street", min_per_unit=1)
    with pytest.raises(ValueError, match=r"model 'phased' needs \['phases'\]"):
        solve_siting(p, "phased")
    with pytest.raises(ValueError, match=r"model 'phased' does not take k"):
        solve_siting(p, "phased", k=2, phases=[1, 1])
    with pytest.raises(ValueError, match="model 'mclp' does not take sizes"):
        st.solve_mclp(p, 1, sizes={10: 1})
    with pytest.raises(ValueError, match="model 'cmclp': sizes must map places to a cost"):
        st.solve_mclp(p, 1, capacitated=True, sizes={"big": 1})


def test_progress_lines_go_to_stderr_only_when_enabled(capsys):
    on = SolveProgress("lscp", enabled=True, maximize=False, every_s=0.0)
    on.update(12.0, 10.0)
    off = SolveProgress("lscp", enabled=False, maximize=False, every_s=0.0)
    off.update(12.0, 10.0)
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == "planner: lscp: 0 s, best 12, bound 10, gap 16.67 %\n"


def test_a_solve_prints_nothing_by_default(capsys):
    a, w, existing = random_instance(0, n=40, m=12)
    p = st.SitingProblem.from_coverage_matrix(a, w, existing_covered=existing)
    st.solve_mclp(p, 3)
    st.solve_lscp(p)
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == ""


def test_study_settings_for_plans_are_checked(tmp_path):
    with pytest.raises(ValueError, match="new \\(3\\) and phases"):
        pl.StudyArea.from_toml(
            TINY.parent.parent.parent / "data" / "las_palmas" / "study.toml"
        ).siting.__class__(kind="eldercare", new=3, phases=[1, 1])
    s = pl.StudyArea.from_toml(TINY.parent.parent.parent / "data" / "las_palmas" / "study.toml")
    t = s.override(siting={"new": None, "phases": {"2025": 1, "2026": 2}})
    assert t.siting.model_name == "phased"
    assert t.siting.k is None
    assert t.siting.model_options()["phases"] == {2025: 1, 2026: 2}
    with pytest.raises(InputError, match="min_per_unit / max_per_unit need unit_column"):
        s.override(siting={"min_per_unit": 1})
    with pytest.raises(InputError, match="shared_kinds must name two kinds or more"):
        s.override(siting={"shared_kinds": ["eldercare"]})


# ---------------------------------------------------------------------- command line
def cli(argv, tmp_path):
    from planner import cli as planner_cli

    base = [
        "site", "--network", str(TINY / "network.osm.bz2"), "--population", str(TINY / "population_grid_100m.gpkg"),
        "--facilities", str(TINY / "facilities.geojson"), "--kind-column", "category",
        "--age-shares", "age_60_plus=0.25,age_0_3=0.03,age_0_17=0.16", "--kinds", "eldercare,nursery",
        "--spacing-m", "200", "--time-limit", "30", "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    return planner_cli.main([*base, *argv])


def test_cli_phases_by_year(tmp_path, capsys):
    assert cli(["--kind", "eldercare", "--phases", "2026:1,2027:1"], tmp_path) == 0
    printed = capsys.readouterr().out
    assert "phased" in printed
    assert "phases:" in printed
    sites = pd.read_csv(tmp_path / "out" / "sites.csv")
    assert sites["year"].tolist() == [2026, 2027]
    assert sites["phase"].tolist() == [1, 2]
    table = pd.read_csv(tmp_path / "out" / "siting_phases.csv")
    assert {"phase", "year", "covered", "best_unconstrained", "loss"} <= set(table.columns)


def test_cli_capacity_labels_both_measures(tmp_path, capsys):
    assert cli(["--kind", "eldercare", "--new", "2", "--capacity", "20"], tmp_path) == 0
    printed = capsys.readouterr().out
    assert "served (within reach and capacity)" in printed
    assert "within reach:" in printed
    sites = pd.read_csv(tmp_path / "out" / "sites.csv")
    assert {"served", "within_reach"} <= set(sites.columns)
    summary = pd.read_csv(tmp_path / "out" / "siting_summary.csv")
    # the table's last share and the summary's share after are one measure: within reach
    assert sites["share"].iloc[-1] == pytest.approx(summary["share_after"].iloc[0])


def test_cli_plan_options_errors_are_one_line(tmp_path, capsys):
    assert cli(["--kind", "eldercare", "--new", "2", "--min-per-unit", "1"], tmp_path) == 2
    err = capsys.readouterr().err
    assert "min_per_unit / max_per_unit need unit_column" in err
    assert len(err.strip().splitlines()) == 1
    assert cli(["--kind", "eldercare", "--model", "pmedian", "--new", "2", "--sizes", "30:1"], tmp_path) == 2
    err = capsys.readouterr().err
    assert "model 'pmedian' does not take ['sizes']" in err
    assert cli(["--kind", "eldercare", "--phases", "1,x"], tmp_path) == 2
    assert "expected sites per phase" in capsys.readouterr().err


def test_cli_shared_centres(tmp_path, capsys):
    code = cli(["--shared", "eldercare,nursery", "--new", "2", "--from-scratch"], tmp_path)
    assert code == 0
    printed = capsys.readouterr().out
    assert "shared centres for eldercare, nursery" in printed
    kinds = pd.read_csv(tmp_path / "out" / "siting_kinds.csv")
    assert {"covered_shared", "covered_separate", "sites_separate"} <= set(kinds.columns)
    sites = pd.read_csv(tmp_path / "out" / "sites.csv")
    assert sites["hosts"].str.len().gt(0).all()


def test_pmedian_with_more_sites_than_useful_says_so():
    p = st.SitingProblem.from_coverage_matrix(
        [[1, 0, 0], [0, 1, 0]],
        [10, 10],
        threshold_min=15,
        limit_min=20,
        minutes=[[2, np.inf, np.inf], [np.inf, 3, np.inf]],
    )
    r = st.solve_p_median(p, 3)
    assert len(r.sites) == 2
    assert r.params["note"] == "2 sites save every minute new sites can save; 3 asked"
