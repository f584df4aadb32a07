"""Scenarios: before and after for added, planned (by year) and closed facilities."""

import tomllib

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import REPO, TINY, lattice_network, points, tiny_study_toml

import planner as pl
from planner.cli import main
from planner.pipeline import StudyInputs

TINY_STUDY = tiny_study_toml(
    """[siting]
kind = "eldercare"
new = 2
spacing_m = 200
"""
)


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_study")
    (folder / "study.toml").write_text(TINY_STUDY, encoding="utf-8")
    return pl.StudyArea.from_toml(folder / "study.toml")


@pytest.fixture(scope="module")
def tiny_run(tiny_study):
    return pl.run_study(tiny_study, use_cache=False)


# ---------------------------------------------------------------------- consistency with siting
def test_adding_the_proposed_sites_gives_what_siting_reported(tiny_run, tmp_path):
    """Same snapping, same rule: the covered people after adding the sites equal the siting's, to the person."""
    siting = tiny_run.siting
    assert len(siting.sites) == 2
    written = pl.write_study_result(tiny_run, tmp_path / "run")
    for name in ("sites.csv", "sites.gpkg"):
        added = pl.read_added(tmp_path / "run" / name, kinds=tiny_run.study.kinds, crs=tiny_run.network.crs)
        c = pl.compare(tiny_run, pl.Scenario(added=added))
        row = c.table[(c.table.kind == "eldercare") & (c.table.minutes == 15.0)].iloc[0]
        assert abs(row.covered_after - siting.covered_after) < 1e-6, name
        assert abs(row.covered_before - siting.covered_before) < 1e-6
        np.testing.assert_allclose(c.sites["gain"], siting.sites["gain"], rtol=0, atol=1e-6)
        assert c.sites["district"].notna().all()
        assert c.sites["facility_id"].tolist() == [f"new-{x}" for x in siting.sites["candidate_id"]]
    assert any(p.name == "sites.csv" for p in written)


def test_sites_added_one_by_one_sum_to_the_after_coverage(tiny_run):
    sites = tiny_run.siting.to_facilities()
    c = pl.compare(tiny_run, pl.Scenario(added=sites))
    last = c.sites.iloc[-1]
    row = c.table[(c.table.kind == "eldercare") & (c.table.minutes == 15.0)].iloc[0]
    assert last["covered"] == pytest.approx(row.covered_after, abs=1e-6)
    assert last["cumulative"] == pytest.approx(row.delta_covered, abs=1e-6)
    newly = c.newly_covered("eldercare")
    assert newly["people"].sum() == pytest.approx(row.delta_covered, abs=1e-6)
    assert c.newly_lost("eldercare").empty


# ---------------------------------------------------------------------- invariants (lattice)
def lattice_result(facilities, cells, kinds):
    net = lattice_network(5, 100.0)
    study = pl.StudyArea(name="lattice", network_path=TINY, population_path=TINY, facilities_path=TINY,
                         kinds=kinds, thresholds_min=(2.0, 5.0), max_edge_m=None)  # fmt: skip
    inputs = StudyInputs(net, cells, facilities)
    return pl.run_study(study, inputs=inputs, siting=False, targets=False)


@pytest.mark.parametrize("seed", range(4))
def test_adding_never_lowers_and_removing_never_raises_coverage(seed):
    rng = np.random.default_rng(seed)
    kinds = {"n": pl.FacilityKind("n", "population", threshold_min=5, speed_kmh=3.6)}  # 300 m
    cells = points(rng.uniform(0, 400, (30, 2)), population=rng.integers(1, 50, 30).astype(float))
    fac = points(rng.uniform(0, 400, (3, 2)), kind=["n"] * 3, name=["a", "b", "c"])
    fac.index = pd.Index(["f0", "f1", "f2"], name="facility_id")
    before = lattice_result(fac, cells, kinds)
    new = points(rng.uniform(0, 400, (2, 2)), kind=["n", "n"], name=["x", "y"])
    new.index = pd.Index(["new0", "new1"], name="facility_id")
    added = pl.compare(before, pl.Scenario(added=new))
    assert (added.cells["n_after"] <= added.cells["n_before"]).all()
    assert (added.table["delta_covered"] >= 0).all()
    removed = pl.compare(before, pl.Scenario(removed=("f1",)))
    assert (removed.cells["n_after"] >= removed.cells["n_before"]).all()
    assert (removed.table["delta_covered"] <= 0).all()
    lost = removed.newly_lost("n")
    assert lost["people"].sum() == pytest.approx(-removed.table.query("minutes == 5").delta_covered.iloc[0])


def test_hand_computed_gain_on_the_lattice():
    """Nodes 100 m apart; 5 min at 3.6 km/h = 300 m. A facility at (0,0) reaches (0..300, 0); one
    added at (400, 400) reaches the cell at (400, 100) (300 m) but not (0, 400) (800 m)."""
    kinds = {"n": pl.FacilityKind("n", "population", threshold_min=5, speed_kmh=3.6)}
    cells = points([[0, 0], [300, 0], [400, 100], [0, 400]], population=[10.0, 20.0, 30.0, 40.0])
    fac = points([[0, 0]], kind=["n"], name=["old"])
    before = lattice_result(fac, cells, kinds)
    new = points([[400, 400]], kind=["n"], name=["new"])
    new.index = pd.Index(["n1"], name="facility_id")
    c = pl.compare(before, pl.Scenario(added=new))
    row = c.table.query("minutes == 5").iloc[0]
    assert (row.covered_before, row.covered_after) == (30.0, 60.0)
    assert c.sites["gain"].tolist() == [30.0]
    assert c.sites["covered"].tolist() == [60.0]
    assert c.newly_covered("n")["people"].tolist() == [30.0]


# ---------------------------------------------------------------------- years
def test_trajectory_by_year_is_cumulative(tiny_run):
    sites = tiny_run.siting.to_facilities().assign(year=[2025, 2024])
    c = pl.compare(tiny_run, pl.Scenario(added=sites))
    t = c.trajectory[(c.trajectory.kind == "eldercare") & (c.trajectory.minutes == 15.0)]
    assert t["year"].tolist() == ["now", 2024, 2025]
    covered = t["covered"].to_numpy(float)
    assert (np.diff(covered) >= -1e-9).all()
    assert covered[-1] == pytest.approx(tiny_run.siting.covered_after, abs=1e-6)
    assert c.sites["year"].tolist() == [2024, 2025]  # build order follows the years
    assert c.sites["rank"].tolist() == [1, 2]


# ---------------------------------------------------------------------- files and bad input
def write_plan(path, rows, **kw):
    df = pd.DataFrame(rows)
    df.to_csv(path, index=False, **kw)
    return path


def plan_rows(run):
    ll = run.siting.sites.geometry.to_crs(4326)
    return [{"kind": "eldercare", "name": f"Centro {i}", "lon": p.x, "lat": p.y, "year": 2024 + i}
            for i, p in enumerate(ll)]  # fmt: skip


def test_a_planned_facility_list_with_years(tiny_run, tmp_path):
    path = write_plan(tmp_path / "plan.csv", plan_rows(tiny_run))
    added = pl.read_added(path, kinds=tiny_run.study.kinds, crs=tiny_run.network.crs)
    assert added["year"].tolist() == [2024, 2025]
    c = pl.compare(tiny_run, pl.Scenario(added=added))
    assert c.trajectory is not None
    assert c.sites["name"].tolist() == ["Centro 0", "Centro 1"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda r: [{**r[0], "kind": "hospital"}, r[1]], r"unknown kind\(s\) \['hospital'\] in rows \[2\]"),
        (
            lambda r: [r[0], {**r[1], "name": "Centro 0"}],
            r"'Centro 0' appears more than once \(column 'name', rows \[2, 3\]",
        ),
        (lambda r: [r[0], {**r[1], "year": "soon"}], r"column 'year' must hold whole numbers .* rows \[3\]"),
        (lambda r: [{**x, "lon": x["lon"] + 0.5} for x in r], r"farther than 300 m from any street"),
    ],
)
def test_bad_plans_are_refused_by_row(tiny_run, tmp_path, change, match):
    path = write_plan(tmp_path / "plan.csv", change(plan_rows(tiny_run)))

    def add_plan():
        added = pl.read_added(path, kinds=tiny_run.study.kinds, crs=tiny_run.network.crs)
        return pl.compare(tiny_run, pl.Scenario(added=added))

    with pytest.raises(pl.InputError, match=match):
        add_plan()


def test_remove_by_id_name_or_file_and_unknown_names(tiny_run, tmp_path):
    fac = tiny_run.inputs.facilities
    first = fac.index[0]
    assert pl.read_removed(first, fac) == (first,)
    named = fac[fac["name"].astype(str) != ""].iloc[0]
    assert named.name in pl.read_removed([named["name"]], fac)
    pd.DataFrame({"id": [first]}).to_csv(tmp_path / "closing.csv", index=False)
    assert pl.read_removed(tmp_path / "closing.csv", fac) == (first,)
    with pytest.raises(pl.InputError, match="no facility has the id or name 'Nowhere'"):
        pl.read_removed("Nowhere", fac)


# ---------------------------------------------------------------------- command line
def absolute_paths(record):
    """Every string of a parsed run record that is an absolute path."""
    if isinstance(record, dict):
        return [p for v in record.values() for p in absolute_paths(v)]
    if isinstance(record, list):
        return [p for v in record for p in absolute_paths(v)]
    return [record] if isinstance(record, str) and (record.startswith("/") or record[1:3] == ":\\") else []


def test_cli_compare_writes_both_sides(tiny_study, tiny_run, tmp_path, capsys):
    pl.write_study_result(tiny_run, tmp_path / "site")
    out = tmp_path / "cmp"
    code = main(["compare", "--study", str(tiny_study.path), "--add", str(tmp_path / "site" / "sites.csv"),
                 "--out", str(out), "--no-cache"])  # fmt: skip
    assert code == 0
    table = pd.read_csv(out / "compare.csv")
    assert {"kind", "minutes", "covered_before", "covered_after", "share_before", "share_after",
            "delta_share"} <= set(table.columns)  # fmt: skip
    sites = pd.read_csv(out / "sites_added.csv")
    assert "district" in sites.columns
    record = tomllib.loads((out / "run.toml").read_text(encoding="utf-8"))
    assert {"before", "after", "scenario", "manifest"} <= set(record)
    assert not absolute_paths(record), "no machine paths in run.toml"
    assert record["before"]["study"]["file"].endswith("study.toml")
    printed = capsys.readouterr().out
    assert "→" in printed
    assert "%" in printed


def test_cli_compare_bad_input_writes_nothing(tiny_study, tmp_path, capsys):
    out = tmp_path / "cmp"
    empty = tmp_path / "empty.csv"
    empty.write_text("kind,name,lon,lat\n", encoding="utf-8")
    assert main(["compare", "--study", str(tiny_study.path), "--add", str(empty), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "has no rows" in err
    assert "Traceback" not in err
    assert not out.exists()
    assert main(["compare", "--study", str(tiny_study.path), "--remove", "Nowhere", "--out", str(out)]) == 2
    assert "no facility has the id or name 'Nowhere'" in capsys.readouterr().err
    assert not out.exists()


def test_sites_from_another_crs_land_nowhere(tiny_run, tmp_path):
    sites = pd.DataFrame(tiny_run.siting.sites.drop(columns="geometry"))
    sites[["x", "y"]] += 2_000_000  # another CRS's numbers
    sites.to_csv(tmp_path / "sites.csv", index=False)
    added = pl.read_added(tmp_path / "sites.csv", kinds=tiny_run.study.kinds, crs=tiny_run.network.crs)
    with pytest.raises(pl.InputError, match="farther than 300 m from any street"):
        pl.compare(tiny_run, pl.Scenario(added=added))


@pytest.mark.slow
def test_bundled_five_sites_to_the_person(tmp_path):
    """The README's figures: five eldercare sites take 37,396 to 67,139 people aged 60+ (50.6 % → 90.9 %)."""
    run = pl.run_study(pl.StudyArea.from_toml(REPO / "data/las_palmas/study.toml"))
    pl.write_study_result(run, tmp_path / "run")
    added = pl.read_added(tmp_path / "run" / "sites.gpkg", kinds=run.study.kinds, crs=run.network.crs)
    c = pl.compare(run, pl.Scenario(added=added))
    row = c.table[(c.table.kind == "eldercare") & (c.table.minutes == 15.0)].iloc[0]
    assert round(row.covered_before) == 37_396
    assert round(row.covered_after) == round(run.siting.covered_after) == 67_139
    assert abs(row.covered_after - run.siting.covered_after) < 1e-6
    assert gpd.read_file(tmp_path / "run" / "sites.gpkg")["district"].notna().all()
