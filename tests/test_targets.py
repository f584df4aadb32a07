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
    assert len(ts.targets) == 9
    assert ts.default_capacity == {"eldercare": 60.0, "nursery": 40.0}
    # the example uses the new indicators, and every new-style row says which plan wording it stands for
    assert {"per_1000", "total_capacity", "units_with_at_least", "units_reached"} <= {
        t.indicator for t in ts.targets
    }
    assert all(
        t.plan for t in ts.targets if t.indicator not in ("population_share_within", "per_1000_target")
    )


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


class TestFormat:
    """The terminal table: units in every value, whole counts, 100 columns, Chinese aligned."""

    @staticmethod
    def width(text):
        import unicodedata

        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    def report(self, lattice):
        cells = points(
            [[0, 0], [100, 0], [300, 0], [0, 300], [300, 300]],
            population=[100.0, 100, 200, 50, 50],
            district=["五道口街道", "五道口街道", "五道口街道", "Arenales", "Arenales"],
            community=["a", "a", "b", "c", "d"],
        )
        fac = points([[0, 0]], kind=["eldercare"], capacity=[3.0])
        cov = pl.compute_coverage(lattice, cells, fac, kinds=KINDS, thresholds_min=(2,))
        long = "每个街道至少建有1个综合养老服务中心，每个社区建有1个养老服务站，形成三级养老服务网络" * 2
        ts = TargetSet(
            (
                Target("eldercare", "population_share_within", 52.3, unit="%", plan=long),
                Target("eldercare", "per_1000_target", 10, label="每千名老人床位"),
                Target("eldercare", "units_with_facility", 0.5, unit="community"),
                Target("eldercare", "units_with_facility", 1.0, unit="community"),
                Target("eldercare", "total_capacity", 4670, label="托位总数"),
            ),
            by="district",
        )
        return evaluate_targets(cov, ts)

    def test_values_carry_units_and_counts_are_whole(self, lattice):
        from planner.cli.format import format_targets

        out = format_targets(self.report(lattice).table)
        assert "target 52.3 %" in out
        assert "target 10.0 beds/1,000" in out
        assert "6.0 beds/1,000" in out
        assert "2 beds" in out  # ⌈10·500/1000 − 3⌉
        # half of 4 units holds a facility already needs ⌈0.5·4⌉ − 1 = 1; all of them, 3
        assert "1 facility" in out
        assert "3 facilities" in out
        assert "target 4,670 beds" in out
        assert "4,667 beds" in out
        assert "3 beds" in out

    def test_fits_100_columns_and_aligns_chinese(self, lattice):
        from planner.cli.format import format_targets

        lines = format_targets(self.report(lattice).table).splitlines()
        assert max(self.width(ln) for ln in lines) <= 100
        assert any(ln.endswith("…") for ln in lines)  # the long plan wording was cut, not wrapped
        # in each block, the value column ends at the same display column on every scope row
        block = lines[lines.index(next(ln for ln in lines if "每千名老人床位" in ln)) :][:6]
        rows = [ln for ln in block if "beds/1,000" in ln and "target" not in ln]
        assert len(rows) == 3
        ends = {self.width(ln[: ln.index("beds/1,000") + len("beds/1,000")]) for ln in rows}
        assert len(ends) == 1, rows

    def test_year_column_and_baseline(self):
        import pandas as pd

        from planner.cli.format import format_targets

        table = pd.DataFrame([{
            "scope": ALL, "kind": "eldercare", "indicator": "per_1000", "label": "beds", "plan": "",
            "year": 2025, "unit": "beds per 1,000 age_60_plus", "minutes": np.nan, "basis": "",
            "baseline": 38.2, "target": 50.0, "current": 41.04, "projected": 39.8, "met": False,
            "needed": 1234.2, "needed_unit": "beds", "note": "", "target_no": 1,
        }, {
            "scope": ALL, "kind": "nursery", "indicator": "total_capacity", "label": "托位", "plan": "",
            "year": np.nan, "unit": "slots", "minutes": np.nan, "basis": "", "baseline": np.nan,
            "target": 4670.0, "current": 4670.0, "projected": np.nan, "met": True, "needed": 0.0,
            "needed_unit": "slots", "note": "", "target_no": 2,
        }])  # fmt: skip
        out = format_targets(table)
        assert "target 50.0 beds/1,000 by 2025 · baseline 38.2 beds/1,000" in out
        assert "2025" in out.splitlines()[2]
        assert "41.0 beds/1,000  39.8 beds/1,000" in out
        assert "1,235 beds" in out  # a needed count is rounded up
        block = out.split("\n\n")[1].splitlines()
        assert block[1] == "    nursery · total_capacity · target 4,670 slots"
        assert block[-1].split() == ["(all)", "4,670", "slots", "yes"]  # no year column, nothing needed
