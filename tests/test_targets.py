from __future__ import annotations

import textwrap

import numpy as np
import pytest
from conftest import REPO, points

import planner as pl
from planner.access import compute_access
from planner.targets import ALL, Target, TargetSet, evaluate_targets, read_targets

KINDS = {
    "eldercare": pl.FacilityKind(
        "eldercare", "population", threshold_min=2, speed_kmh=6.0, capacity_unit="beds"
    )
}

TOY = """\
by = "district"

[[target]]
kind = "eldercare"
indicator = "population_share_within"
minutes = 2
value = 0.5

[[target]]
kind = "eldercare"
indicator = "per_1000_target"
value = 10

[[target]]
kind = "eldercare"
indicator = "units_with_facility"
unit = "community"
value = 1.0
"""


def write(tmp_path, text, name="targets.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


@pytest.fixture
def toy(lattice):
    # one lattice block is one minute; the facility sits on cell c0
    cells = points(
        [[0, 0], [100, 0], [300, 0], [0, 300], [300, 300]],
        population=[100.0, 100, 200, 50, 50],
        district=["N", "N", "N", "S", "S"],
        community=["a", "a", "b", "c", "d"],
    )
    fac = points([[0, 0]], kind=["eldercare"], capacity=[3.0])
    return pl.compute_coverage(lattice, cells, fac, kinds=KINDS, thresholds_min=(2,))


def row(report, scope, indicator):
    t = report.table
    return t[(t["scope"] == scope) & (t["indicator"] == indicator)].iloc[0]


def test_indicator_table_known_answers(toy, tmp_path):
    report = evaluate_targets(toy, read_targets(write(tmp_path, TOY), kinds=list(KINDS)))
    assert report.table["scope"].tolist() == [ALL, "N", "S"] * 3
    share = [row(report, s, "population_share_within") for s in (ALL, "N", "S")]
    assert [r["current"] for r in share] == pytest.approx([0.4, 0.5, 0.0])
    assert [r["met"] for r in share] == [False, True, False]
    assert [r["gap"] for r in share] == pytest.approx([0.1, 0.0, 0.5])
    assert [r["needed"] for r in share] == [50.0, 0.0, 50.0]
    cap = [row(report, s, "per_1000_target") for s in (ALL, "N", "S")]
    assert [r["current"] for r in cap] == pytest.approx([6.0, 7.5, 0.0])
    assert [r["needed"] for r in cap] == pytest.approx([2.0, 1.0, 1.0])
    assert cap[0]["needed_unit"] == "beds"
    units = [row(report, s, "units_with_facility") for s in (ALL, "N", "S")]
    assert [r["current"] for r in units] == pytest.approx([0.25, 0.5, 0.0])
    assert [r["needed"] for r in units] == [3.0, 1.0, 2.0]
    assert units[0]["line"] == 14
    blank = report.blank_zones
    assert sorted(blank.loc[blank["zone_column"] == "community", "zone"]) == ["b", "c", "d"]
    assert set(blank.loc[blank["zone_column"] == "district", "indicator"]) == {
        "population_share_within",
        "per_1000_target",
    }
    assert set(blank.loc[blank["zone_column"] == "district", "zone"]) == {"S"}
    assert "TargetReport(rows=9, met=1" in repr(report)


def test_reachable_basis_uses_access(toy, lattice):
    acc = compute_access(lattice, toy)
    ts = TargetSet((Target("eldercare", "per_1000_target", 10, basis="reachable"),))
    r = evaluate_targets(toy, ts, access=acc).table.iloc[0]
    # all 3 beds reach cells c0, c1 (200 people): Σ P·A = 3 beds over 500 people
    assert r["current"] == pytest.approx(6.0)
    with pytest.raises(ValueError, match="needs access="):
        evaluate_targets(toy, ts)


def test_whole_area_only_without_by(toy):
    ts = TargetSet((Target("eldercare", "population_share_within", 1.0),))
    t = evaluate_targets(toy, ts).table
    assert t["scope"].tolist() == [ALL]
    assert t["current"].iloc[0] == pytest.approx(0.4)
    assert np.isnan(t["line"].iloc[0])


def test_missing_capacity_uses_file_default(lattice, tmp_path):
    cells = points([[0, 0]], population=[1000.0])
    fac = points([[0, 0]], kind=["eldercare"])
    cov = pl.compute_coverage(lattice, cells, fac, kinds=KINDS, thresholds_min=(2,))
    ts = TargetSet((Target("eldercare", "per_1000_target", 40),))
    with pytest.raises(pl.InputError, match="no capacity"):
        evaluate_targets(cov, ts)
    path = write(
        tmp_path,
        """\
        [default_capacity]
        eldercare = 25
        [[target]]
        kind = "eldercare"
        indicator = "per_1000_target"
        value = 40
        """,
    )
    t = evaluate_targets(cov, read_targets(path)).table.iloc[0]
    assert (t["current"], t["needed"]) == (25.0, 15.0)


class TestBadFiles:
    def test_unknown_indicator_names_line(self, tmp_path):
        p = write(tmp_path, TOY.replace('indicator = "per_1000_target"', 'indicator = "beds_per_head"'))
        with pytest.raises(pl.InputError, match=r"targets.toml line 11: unknown indicator 'beds_per_head'"):
            read_targets(p)

    def test_unknown_kind_names_line(self, tmp_path):
        p = write(
            tmp_path,
            TOY.replace('kind = "eldercare"\nindicator = "units', 'kind = "hospital"\nindicator = "units'),
        )
        with pytest.raises(
            pl.InputError,
            match=r"line 15: target 3 has unknown kind 'hospital'; known kinds are \['eldercare'\]",
        ):
            read_targets(p, kinds=list(KINDS))

    def test_unknown_kind_at_evaluation(self, toy, tmp_path):
        p = write(
            tmp_path,
            TOY.replace('kind = "eldercare"\nindicator = "units', 'kind = "hospital"\nindicator = "units'),
        )
        with pytest.raises(pl.InputError, match=r"line 14: unknown kind 'hospital'"):
            evaluate_targets(toy, read_targets(p))

    def test_missing_district_column_names_line(self, toy, tmp_path):
        p = write(tmp_path, TOY.replace('by = "district"', 'by = "barrio"'))
        with pytest.raises(pl.InputError, match=r"line 1: by = 'barrio' is not a population column; it has"):
            evaluate_targets(toy, read_targets(p))

    def test_missing_unit_column_names_line(self, toy, tmp_path):
        p = write(tmp_path, TOY.replace('unit = "community"', 'unit = "village"'))
        with pytest.raises(pl.InputError, match=r"line 14: unit 'village' is not a population column"):
            evaluate_targets(toy, read_targets(p))

    @pytest.mark.parametrize(
        ("old", "new", "match"),
        [
            ("value = 0.5", "value = 50", r"line 7: population_share_within is a share"),
            ("value = 0.5", 'value = "half"', r"line 7: target value must be a number"),
            ("minutes = 2\n", "minute = 2\n", r"line 6: target 1 has unknown key\(s\) \['minute'\]"),
            ('unit = "community"\n', "", r"line 14: units_with_facility needs unit"),
            ("value = 10\n", "", r"line 9: target 2 is missing \['value'\]"),
            ('by = "district"', "by = ", r"is not valid TOML"),
        ],
    )
    def test_bad_entries(self, tmp_path, old, new, match):
        with pytest.raises(pl.InputError, match=match):
            read_targets(write(tmp_path, TOY.replace(old, new)))

    def test_no_targets(self, tmp_path):
        with pytest.raises(pl.InputError, match=r"no \[\[target\]\] entries"):
            read_targets(write(tmp_path, 'by = "district"\n'))

    def test_missing_file(self, tmp_path):
        with pytest.raises(pl.InputError, match="does not exist"):
            read_targets(tmp_path / "nope.toml")


def test_bundled_targets_file_reads():
    study = pl.StudyArea.from_toml(REPO / "data/las_palmas/study.toml")
    ts = read_targets(REPO / "data/las_palmas/targets.toml", kinds=list(study.kinds))
    assert len(ts.targets) == 4
    assert ts.default_capacity == {"eldercare": 60.0, "nursery": 40.0}


def test_cli_targets_on_tiny(tmp_path, capsys):
    from planner.cli import build_parser
    from planner.cli.targets import run_targets_command

    parser = build_parser()
    tiny = REPO / "tests/data/las_palmas_tiny"
    path = write(
        tmp_path,
        """\
        [default_capacity]
        eldercare = 60
        nursery = 40
        [[target]]
        kind = "eldercare"
        indicator = "population_share_within"
        value = 1.0
        [[target]]
        kind = "nursery"
        indicator = "per_1000_target"
        basis = "reachable"
        value = 4.5
        """,
    )
    args = parser.parse_args(
        [
            "targets",
            "--targets",
            str(path),
            "--network",
            str(tiny / "network.osm.bz2"),
            "--population",
            str(tiny / "population_grid_100m.gpkg"),
            "--facilities",
            str(tiny / "facilities.geojson"),
            "--kind-column",
            "category",
            "--kinds",
            "eldercare,nursery",
            "--age-shares",
            "age_60_plus=0.25,age_0_3=0.03,age_0_17=0.16",
            "--no-cache",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert run_targets_command(args) == 0
    out = capsys.readouterr().out
    assert "eldercare: share of target people within 15 min" in out
    written = (tmp_path / "out" / "targets.csv").read_text(encoding="utf-8-sig")
    assert written.splitlines()[0].startswith("scope,kind,indicator")
    assert (tmp_path / "out" / "blank_zones.csv").exists()
    assert (tmp_path / "out" / "run.toml").exists()
