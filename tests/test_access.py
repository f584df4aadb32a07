from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import points

import planner as pl
from planner.access import compute_access, default_step_weights, two_step_fca

# 6 km/h = 100 m/min, so one 100 m lattice block is one minute
KINDS = {
    "nursery": pl.FacilityKind("nursery", "population", threshold_min=3, speed_kmh=6.0, capacity_unit="slots")
}


def _hand_case(lattice, **kw):
    cells = points([[0, 0], [100, 0], [200, 0], [300, 300], [100, 300]], population=[10.0, 20, 40, 50, 5])
    fac = points([[0, 0], [300, 0]], kind=["nursery", "nursery"], capacity=[30.0, 10.0])
    fac.index = pd.Index(["A", "B"], name="facility_id")
    cov = pl.compute_coverage(lattice, cells, fac, kinds=KINDS, thresholds_min=(3,))
    return cov, compute_access(lattice, cov, **kw)


class TestHandComputed:
    def test_2sfca(self, lattice):
        _cov, acc = _hand_case(lattice)
        # A reaches cells 0,1,2 (0,1,2 min): demand 70. B reaches 0,1,2 (3,2,1 min) and 3 (3 min): 120
        ra, rb = 30 / 70, 10 / 120
        expected = [ra + rb, ra + rb, ra + rb, rb, 0.0]
        np.testing.assert_allclose(acc.per_1000["nursery"], np.array(expected) * 1000)
        f = acc.facilities
        assert f.loc["A", "demand"] == pytest.approx(70)
        assert f.loc["B", "demand"] == pytest.approx(120)
        assert f.loc["A", "per_1000"] == pytest.approx(1000 * 30 / 70)
        assert f["oversubscribed"].tolist() == [True, True]
        assert acc.oversubscribed().index.tolist() == ["B", "A"]  # B: 12 people per slot
        assert f["cells"].tolist() == [3, 4]

    def test_split_sums_and_uses_all_capacity(self, lattice):
        _, acc = _hand_case(lattice)
        s = acc.split().iloc[0]
        # every in-reach cell has under one slot per person, so all 40 slots are used
        assert s["served"] == pytest.approx(40.0)
        assert s["out_of_reach"] == pytest.approx(5.0)
        assert s["short_of_capacity"] == pytest.approx(120 - 40)
        assert s["served"] + s["short_of_capacity"] + s["out_of_reach"] == pytest.approx(s["people"])

    def test_e2sfca_steps(self, lattice):
        steps = {1: 1.0, 2: 0.5, 3: 0.25}
        _, acc = _hand_case(lattice, method="e2sfca", step_weights={"nursery": steps})
        # A: cells 0,1 weight 1, cell 2 weight .5 -> 10+20+20 = 50; B: .25*10 + .5*20 + 1*40 + .25*50 = 65
        ra, rb = 30 / 50, 10 / 65
        expected = [ra + 0.25 * rb, ra + 0.5 * rb, 0.5 * ra + rb, 0.25 * rb, 0.0]
        np.testing.assert_allclose(acc.per_1000["nursery"], np.array(expected) * 1000)
        assert acc.facilities["demand"].tolist() == pytest.approx([50, 65])
        assert acc.params["step_weights"] == {"nursery": {1.0: 1.0, 2.0: 0.5, 3.0: 0.25}}

    def test_in_reach_matches_coverage(self, lattice):
        cov, acc = _hand_case(lattice)
        pd.testing.assert_series_equal(
            acc.in_reach["nursery"], cov.minutes["nursery"] <= 3, check_names=False
        )
        assert acc.per_1000.index.equals(cov.population.index)

    def test_costs_table(self, lattice):
        _, acc = _hand_case(lattice)
        c = acc.costs.set_index(["facility", "cell"])["minutes"]
        assert c[("A", 2)] == pytest.approx(2.0)
        assert c[("B", 3)] == pytest.approx(3.0)
        assert ("A", 3) not in c.index


def test_default_step_weights():
    assert default_step_weights(30) == {10.0: 1.0, 20.0: 0.68, 30.0: 0.22}


def test_two_step_fca_zero_demand_facility_gives_nothing():
    costs = pd.DataFrame({"facility": ["a", "b"], "cell": [1, 2], "minutes": [1.0, 1.0]})
    out = two_step_fca(
        costs, pd.Series({1: 10.0, 2: 0.0, 3: 5.0}), pd.Series({"a": 5.0, "b": 9.0}), max_minutes=5
    )
    assert out.tolist() == [0.5, 0.0, 0.0]


def test_missing_capacity_names_facilities(lattice):
    cells = points([[0, 0]], population=[10.0])
    fac = points([[0, 0], [100, 0]], kind=["nursery", "nursery"], capacity=[5.0, np.nan])
    cov = pl.compute_coverage(lattice, cells, fac, kinds=KINDS, thresholds_min=(3,))
    with pytest.raises(
        pl.InputError, match=r"1 facilities have no capacity \(nursery: \[1\]\).*default_capacity"
    ):
        compute_access(lattice, cov)
    acc = compute_access(lattice, cov, default_capacity={"nursery": 15.0})
    assert acc.facilities["capacity"].tolist() == [5.0, 15.0]
    assert acc.facilities["capacity_assumed"].tolist() == [False, True]
    assert acc.per_1000["nursery"].iloc[0] == pytest.approx(2000.0)


def test_bad_options(lattice):
    cov, _ = _hand_case(lattice)
    with pytest.raises(ValueError, match="method must be one of"):
        compute_access(lattice, cov, method="3sfca")
    with pytest.raises(ValueError, match="only apply to method='e2sfca'"):
        compute_access(lattice, cov, step_weights={"nursery": {1: 1.0}})
    with pytest.raises(ValueError, match="unknown kind"):
        compute_access(lattice, cov, kinds=["eldercare"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_invariants_random(lattice, make_population, seed):
    pop = make_population(25, seed)
    rng = np.random.default_rng(seed)
    fac = points(
        rng.uniform(0, 300, (4, 2)), kind=["nursery"] * 4, capacity=rng.integers(1, 60, 4).astype(float)
    )
    cov = pl.compute_coverage(lattice, pop, fac, kinds=KINDS, thresholds_min=(3,))
    acc = compute_access(lattice, cov)
    # Σ_i P_i A_i equals the capacity of facilities someone reaches (2SFCA conserves supply)
    total = float((pop["population"] * acc.per_1000["nursery"] / 1000).sum())
    reached = acc.facilities[acc.facilities["demand"] > 0]["capacity"].sum()
    assert total == pytest.approx(reached)
    s = acc.split().iloc[0]
    assert s["served"] <= acc.facilities["capacity"].sum() + 1e-9
    assert s["served"] + s["short_of_capacity"] + s["out_of_reach"] == pytest.approx(s["people"])
    assert (cov.minutes["nursery"] <= 3).equals(acc.in_reach["nursery"])


@pytest.mark.parametrize("method", ["2sfca", "e2sfca"])
@pytest.mark.parametrize("seed", [3, 4])
def test_agrees_with_pysal_access(lattice, make_population, seed, method):
    fca = pytest.importorskip("access.fca")
    weights = pytest.importorskip("access.weights")
    pop = make_population(30, seed)
    rng = np.random.default_rng(seed)
    fac = points(
        rng.uniform(0, 300, (5, 2)), kind=["nursery"] * 5, capacity=rng.integers(1, 80, 5).astype(float)
    )
    fac.index = pd.Index([f"f{i}" for i in range(5)], name="facility_id")
    cov = pl.compute_coverage(lattice, pop, fac, kinds=KINDS, thresholds_min=(3,))
    acc = compute_access(lattice, cov, method=method)
    cost = acc.costs.rename(columns={"cell": "origin", "facility": "dest", "minutes": "cost"})
    demand_df = pd.DataFrame({"geoid": pop.index, "demand": pop["population"].to_numpy()})
    supply_df = acc.facilities[["capacity"]].rename(columns={"capacity": "supply"})
    supply_df.index.name = "geoid"
    weight_fn = weights.step_fn(default_step_weights(3)) if method == "e2sfca" else None
    with warnings.catch_warnings():  # third-party pandas deprecations are not ours to assert
        warnings.simplefilter("ignore")
        theirs = fca.two_stage_fca(
            demand_df,
            supply_df,
            cost[["origin", "dest", "cost"]],
            max_cost=3,
            demand_index="geoid",
            demand_name="demand",
            supply_name="supply",
            weight_fn=weight_fn,
        )
    theirs = theirs.reindex(pop.index).fillna(0.0)
    np.testing.assert_allclose(acc.per_1000["nursery"].to_numpy() / 1000, theirs.to_numpy(), rtol=1e-12)


def test_tiny_las_palmas(tiny_network, tiny_population, tiny_facilities):
    cov = pl.compute_coverage(
        tiny_network,
        tiny_population,
        tiny_facilities,
        kinds={k: pl.DEFAULT_KINDS[k] for k in ("eldercare", "nursery")},
    )
    acc = compute_access(
        tiny_network, cov, method="e2sfca", default_capacity={"eldercare": 60, "nursery": 40}
    )
    assert set(acc.per_1000.columns) == {"eldercare", "nursery"}
    for k in acc.kinds:
        t = acc.kinds[k].threshold_min
        assert (acc.in_reach[k] == (cov.minutes[k] <= t)).all()
        # the nearest facility's time is the smallest time in the cost table
        c = acc.costs[acc.costs["kind"] == k].groupby("cell")["minutes"].min()
        np.testing.assert_allclose(c, cov.minutes[k].loc[c.index], rtol=1e-9)
    assert "Access(method='e2sfca'" in repr(acc)
