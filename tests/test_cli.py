import pandas as pd
import pytest
from conftest import REPO, TINY

from planner.cli import main


def tiny_args(out):
    return [
        "coverage",
        "--network",
        str(TINY / "network.osm.bz2"),
        "--population",
        str(TINY / "population_grid_100m.gpkg"),
        "--facilities",
        str(TINY / "facilities.geojson"),
        "--kind-column",
        "category",
        "--kinds",
        "eldercare,nursery",
        "--age-shares",
        "age_60_plus=0.25,age_0_3=0.03",
        "--out",
        str(out),
    ]


def test_coverage_command_writes_outputs(tmp_path, capsys):
    out = tmp_path / "out"
    # the tiny file has only eldercare/nursery categories, so no kind_map is needed
    assert main(tiny_args(out)) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert {"kind", "minutes", "target_column", "covered", "total", "share"} <= set(summary.columns)
    assert sorted(summary["kind"].unique()) == ["eldercare", "nursery"]
    assert (out / "cells.gpkg").exists()
    assert "planner_version" in (out / "run.toml").read_text()
    printed = capsys.readouterr().out
    assert "≤15 min" in printed
    assert "eldercare" in printed


def test_run_bundled_study(tmp_path, capsys):
    assert main(["run", str(REPO / "data/las_palmas/study.toml"), "--out", str(tmp_path)]) == 0
    import geopandas as gpd

    cells = gpd.read_file(tmp_path / "cells.gpkg")
    assert len(cells) == 868
    assert {"minutes_eldercare", "minutes_nursery", "nearest_eldercare"} <= set(cells.columns)
    summary = pd.read_csv(tmp_path / "summary.csv")
    s = summary.set_index(["kind", "minutes"])["share"]
    assert 0.3 < s[("eldercare", 15.0)] < 0.8
    assert s[("meal_site", 15.0)] == 0.0  # no meal sites mapped: a blank zone, honestly reported
    by = pd.read_csv(tmp_path / "summary_by_district.csv")
    assert by["district"].nunique() == 22  # the bundled neighbourhood zones
    eld = by[(by.kind == "eldercare") & (by.minutes == 15.0)]
    assert eld["covered"].sum() == pytest.approx(
        summary.set_index(["kind", "minutes"]).loc[("eldercare", 15.0), "covered"]
    )
    assert eld["facilities"].sum() == 7  # every eldercare centre lies in one zone
    assert "per district" in capsys.readouterr().out


def test_speed_override_lowers_coverage(tmp_path):
    main([*tiny_args(tmp_path / "a")[:-2], "--speed-kmh", "3", "--out", str(tmp_path / "a")])
    main([*tiny_args(tmp_path / "b")[:-2], "--speed-kmh", "6", "--out", str(tmp_path / "b")])
    a = pd.read_csv(tmp_path / "a/summary.csv")["share"]
    b = pd.read_csv(tmp_path / "b/summary.csv")["share"]
    assert (b >= a).all()
    assert (b > a).any()


def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    args = tiny_args(out)
    args[args.index("--kinds") + 1] = "eldercare"
    args[args.index("--kind-column") + 1] = "name"  # names are not kinds
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("planner: error:")
    assert "unknown kind" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_failed_run_leaves_earlier_outputs_intact(tmp_path):
    out = tmp_path / "out"
    assert main(tiny_args(out)) == 0
    before = (out / "summary.csv").read_bytes()
    bad = tiny_args(out)
    bad[bad.index("--population") + 1] = str(tmp_path / "missing.gpkg")
    assert main(bad) == 2
    assert (out / "summary.csv").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (("--network", "city.osm.pbf"), "osmium"),
        (("--population", "empty.csv"), "no rows"),
        (("--facilities", "nope.geojson"), "does not exist"),
    ],
)
def test_cli_bad_files(tmp_path, capsys, change, match):
    (tmp_path / "city.osm.pbf").write_bytes(b"\x00")
    (tmp_path / "empty.csv").write_text("population,lon,lat\n")
    args = tiny_args(tmp_path / "out")
    args[args.index(change[0]) + 1] = str(tmp_path / change[1])
    assert main(args) == 2
    assert match in capsys.readouterr().err


def test_missing_inputs_message(tmp_path, capsys):
    assert main(["coverage", "--out", str(tmp_path)]) == 2
    assert "--network" in capsys.readouterr().err


def test_targets_command_through_main(tmp_path, capsys):
    code = main(
        [
            "targets",
            "--study",
            str(REPO / "data/las_palmas/study.toml"),
            "--targets",
            str(REPO / "data/las_palmas/targets.toml"),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    table = pd.read_csv(tmp_path / "targets.csv")
    assert {"indicator", "current", "target", "gap", "met"} <= set(table.columns)
    assert "plan targets" in capsys.readouterr().out


def test_coord_system_flag_moves_gcj_points(tmp_path, capsys):
    """A GCJ-02 list read as WGS-84 lands ~0 m off outside China; the flag is accepted and logged."""
    args = tiny_args(tmp_path / "out")
    assert main([*args[:-2], "--coord-system", "gcj02", "--out", str(tmp_path / "out")]) == 0
    # Las Palmas is outside China's box, so GCJ-02 leaves it unchanged: same result as WGS-84
    same = pd.read_csv(tmp_path / "out/summary.csv")
    assert main(args) == 0
    assert same["share"].tolist() == pd.read_csv(tmp_path / "out/summary.csv")["share"].tolist()


@pytest.mark.slow
def test_map_with_proposed_sites(tmp_path, capsys):
    out = tmp_path / "m.html"
    assert (
        main(
            [
                "map",
                "--study",
                str(REPO / "data/las_palmas/study.toml"),
                "--kinds",
                "eldercare",
                "--sites",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    html = out.read_text(encoding="utf-8")
    assert "proposed sites (5)" in html
    assert "© OpenStreetMap contributors" in html
    assert '<script src="http' not in html


def test_map_sites_needs_a_siting_table(tmp_path, capsys):
    args = tiny_args(tmp_path / "x")
    args[0] = "map"
    args[-1] = str(tmp_path / "m.html")
    assert main([*args, "--sites"]) == 2
    assert "[siting]" in capsys.readouterr().err


def test_site_by_district(tmp_path, capsys):
    code = main(
        [
            "site",
            "--study",
            str(REPO / "data/las_palmas/study.toml"),
            "--kind",
            "eldercare",
            "--new",
            "3",
            "--by-district",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    alloc = pd.read_csv(tmp_path / "allocation_by_district.csv")
    assert alloc["k"].sum() == 3
    sites = pd.read_csv(tmp_path / "sites.csv")
    assert len(sites) == 3
    assert sites["gain"].sum() == pytest.approx(alloc["objective"].sum())
    assert "split across 22 districts" in capsys.readouterr().out
