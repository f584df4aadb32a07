"""Hostile and careless inputs: each ends in a correct answer (with a warning where something was
dropped or guessed) or in exit 2 with one line naming the file, key/column/row and what to do —
no traceback, nothing left in --out, an earlier run's folder intact. Bombs are made here, not shipped."""

import bz2
import os
import tomllib

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import TINY, tiny_study_toml

import planner as pl
from planner.cli import main
from planner.io import osm

TINY_ARGS = ["--network", str(TINY / "network.osm.bz2"), "--population", str(TINY / "population_grid_100m.gpkg"),
             "--facilities", str(TINY / "facilities.geojson"), "--kind-column", "category",
             "--kinds", "eldercare,nursery", "--age-shares", "age_60_plus=0.25,age_0_3=0.03,age_0_17=0.16"]  # fmt: skip


def run_cli(argv, capsys):
    """Exit code and stderr of one CLI call."""
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


def refused(argv, capsys, match, out):
    """The command exits 2 with one line containing ``match``, no traceback, and writes nothing."""
    code, err = run_cli(argv, capsys)
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("planner")]
    assert len(lines) == 1, err
    assert match in lines[0], err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir()), f"{out} was written"
    return lines[0]


def study_file(tmp_path, extra="", **sections):
    """A study.toml over the tiny fixture, with extra lines or replaced sections."""
    text = tiny_study_toml(extra)
    for old, new in sections.items():
        text = text.replace(old, new)
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------- 1. bombs
def test_whitespace_bomb_in_a_bz2_is_refused_quickly(tmp_path, capsys):
    comp = bz2.BZ2Compressor(9)
    parts = [comp.compress(b"<?xml version='1.0'?><osm>")]
    parts += [comp.compress(b" " * (1 << 20)) for _ in range(20)]  # 20 MB of whitespace in ~100 bytes
    bomb = tmp_path / "bomb.osm.bz2"
    bomb.write_bytes(b"".join(parts) + comp.flush())
    assert bomb.stat().st_size < 1000
    out = tmp_path / "out"
    argv = ["coverage", *TINY_ARGS, "--out", str(out), "--no-cache"]
    argv[argv.index("--network") + 1] = str(bomb)
    refused(argv, capsys, "without an XML tag ending", out)


def test_one_giant_attribute_is_refused(tmp_path):
    path = tmp_path / "attr.osm"
    path.write_bytes(b"<osm><node id='1' lat='1' lon='1' x='" + b"A" * (3 << 20) + b"'/></osm>")
    with pytest.raises(pl.NetworkError, match="without an XML tag ending"):
        pl.WalkNetwork.from_osm_file(path, use_cache=False)


def test_decompression_ratio_is_bounded(tmp_path, monkeypatch):
    """Valid XML that expands far beyond its compressed size: stopped at the ratio limit."""
    node = b"<node id='1' lat='28.1' lon='-15.4'/>\n"
    path = tmp_path / "many.osm.bz2"
    path.write_bytes(bz2.compress(b"<osm>" + node * 200_000 + b"</osm>"))
    monkeypatch.setattr(osm, "MIN_EXPANDED_BYTES", 1 << 20)  # the floor, lowered to keep the test small
    assert 200_000 * len(node) > osm.MAX_EXPANSION * path.stat().st_size
    with pytest.raises(pl.NetworkError, match=r"expands to more than .* the compressed file"):
        pl.WalkNetwork.from_osm_file(path, use_cache=False)


def test_a_flood_of_facilities_is_refused(tmp_path, capsys):
    n = 100_000
    pd.DataFrame({"kind": ["nursery"] * n, "name": ["X"] * n, "lon": -15.43, "lat": 28.12}).to_csv(
        tmp_path / "flood.csv", index=False
    )
    out = tmp_path / "out"
    argv = ["coverage", *TINY_ARGS, "--out", str(out)]
    argv[argv.index("--facilities") + 1] = str(tmp_path / "flood.csv")
    argv[argv.index("--kind-column") + 1] = "kind"
    refused(argv, capsys, "100,000 points in one 100 m square", out)


# ---------------------------------------------------------------------- 2. datums per layer
def test_a_datum_flag_belongs_to_the_facilities_only(tmp_path):
    from planner.cli import build_parser
    from planner.cli.common import study_from_args

    pts = tmp_path / "pop.csv"
    pop = pl.read_population(TINY / "population_grid_100m.gpkg")
    centres = pop.geometry.centroid.to_crs(4326)
    pd.DataFrame({"lon": centres.x, "lat": centres.y, "population": pop["population"]}).to_csv(
        pts, index=False
    )
    args = build_parser().parse_args(
        ["coverage", *TINY_ARGS, "--coord-system", "gcj02", "--out", str(tmp_path)]
    )
    args.population = pts
    study = study_from_args(args)
    assert study.facilities_options["coord_system"] == "gcj02"
    assert "coord_system" not in study.population_options  # never implied across layers
    args = build_parser().parse_args(
        ["coverage", *TINY_ARGS, "--population-coord-system", "bd09", "--out", str(tmp_path)]
    )
    assert study_from_args(args).population_options["coord_system"] == "bd09"


# ---------------------------------------------------------------------- 3. units
@pytest.mark.parametrize(
    ("crs", "match"),
    [("EPSG:2227", "not metres"), ("EPSG:3857", "world Mercator"), ("EPSG:4326", "geographic")],
)
def test_only_local_metric_crs(tmp_path, capsys, crs, match):
    study = study_file(tmp_path, **{'crs = "EPSG:32628"': f'crs = "{crs}"'})
    out = tmp_path / "out"
    line = refused(["run", str(study), "--out", str(out)], capsys, match, out)
    assert "line 2" in line


@pytest.mark.parametrize("minutes", ["nan", "inf", "1e9", "0", "-5"])
def test_minutes_must_be_a_real_walk(tmp_path, capsys, minutes):
    out = tmp_path / "out"
    refused(["coverage", *TINY_ARGS, "--minutes", minutes, "--out", str(out)], capsys, "--minutes", out)


def population_with(tmp_path, change):
    pop = pl.read_population(TINY / "population_grid_100m.gpkg").reset_index()
    pop = change(pop)
    path = tmp_path / "pop.gpkg"
    pop.to_file(path, layer="pop")
    return path


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda p: p.assign(population=np.where(p.index == 3, np.inf, p["population"])), "infinite or over"),
        (lambda p: p.assign(population=np.where(p.index == 3, 1e308, p["population"])), "infinite or over"),
        (lambda p: p.assign(population=0.0), "has nobody"),
        (lambda p: p.assign(age_60_plus=p["population"] * 2), "'age_60_plus' exceeds 'population'"),
        (
            lambda p: p.assign(geometry=p.geometry.translate(22_000, 0).where(p.index % 2 == 0, p.geometry)),
            "lie outside the study area / network extent",
        ),
    ],
    ids=["inf", "1e308", "nobody", "age-over-total", "22-km-away"],
)
def test_impossible_populations(tmp_path, capsys, change, match):
    out = tmp_path / "out"
    argv = ["coverage", *TINY_ARGS, "--out", str(out)]
    argv[argv.index("--population") + 1] = str(population_with(tmp_path, change))
    refused(argv, capsys, match, out)


def test_repeated_point_cells(tmp_path):
    df = pd.DataFrame(
        {"lon": [-15.43, -15.43, -15.42], "lat": [28.12, 28.12, 28.12], "population": [5, 5, 5]}
    )
    df.to_csv(tmp_path / "pts.csv", index=False)
    with pytest.raises(pl.InputError, match=r"cells at the same place \(rows \[0, 1\]\)"):
        pl.read_population(tmp_path / "pts.csv")


# ---------------------------------------------------------------------- 4. study.toml read strictly
@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ("[coverage]\nthreshold_min = [15]\n", "unknown key (did you mean 'thresholds_min'?)"),
        ('[coverage]\nthresholds_min = "15"\n', "must be a list of numbers"),
        ('[siting]\nkind = "eldercare"\nnew = 2.9\n', "[siting] new: must be int; got 2.9"),
        ('[siting]\nkind = "eldercare"\nnew = 2\nfrom_scratch = "false"\n', "from_scratch: must be bool"),
        ('[maps]\ntitle = "x"\n', "unknown key (did you mean 'map'?)"),
        ('[siting]\nkind = "eldercare"\nnew = 2\n[siting.extra]\n', "unknown key"),
    ],
    ids=["typo", "string-thresholds", "float-new", "string-bool", "unknown-table", "unknown-subtable"],
)
def test_study_files_are_read_against_a_schema(tmp_path, capsys, extra, match):
    study = study_file(tmp_path, extra=extra)
    out = tmp_path / "out"
    line = refused(["run", str(study), "--out", str(out)], capsys, match, out)
    assert str(study) in line


def test_cache_dir_stays_in_the_study_folder(tmp_path, capsys):
    study = study_file(
        tmp_path, **{'crs = "EPSG:32628"': 'crs = "EPSG:32628"\ncache_dir = "../../elsewhere"'}
    )
    out = tmp_path / "out"
    refused(["run", str(study), "--out", str(out)], capsys, "leads outside the study's folder", out)


def test_kind_values_are_typed(tmp_path, capsys):
    study = study_file(
        tmp_path, **{'target_column = "age_0_3"': 'target_column = "age_0_3"\nspeed_kmh = true'}
    )
    out = tmp_path / "out"
    refused(["run", str(study), "--out", str(out)], capsys, "speed_kmh must be a number; got True", out)


def test_reader_options_are_typed(tmp_path, capsys):
    study = study_file(
        tmp_path, **{'kind_column = "category"': 'kind_column = "category"\nmerge_within_m = "60"'}
    )
    out = tmp_path / "out"
    refused(["run", str(study), "--out", str(out)], capsys, "merge_within_m: must be float | None", out)


def test_a_bom_and_a_control_character_in_the_name(tmp_path, capsys):
    study = study_file(tmp_path, **{'name = "tiny"': 'name = "tiny\\u0001town"'})
    study.write_bytes(b"\xef\xbb\xbf" + study.read_bytes())
    out = tmp_path / "out"
    assert main(["run", str(study), "--out", str(out), "--no-siting"]) == 0
    record = tomllib.loads((out / "run.toml").read_text(encoding="utf-8"))
    assert record["study"]["name"] == "tiny\x01town"


# ---------------------------------------------------------------------- 5. one line, never a traceback
@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--speed-kmh", "0"),
        ("--speed-kmh", "-3"),
        ("--speed-kmh", "nan"),
        ("--max-snap-m", "0"),
        ("--age-shares", "age_60_plus=1.5"),
    ],
)
def test_bad_options_are_one_line(tmp_path, capsys, flag, value):
    out = tmp_path / "out"
    refused(["coverage", *TINY_ARGS, flag, value, "--out", str(out)], capsys, flag, out)


@pytest.mark.parametrize(("lat", "match"), [("nan", "node 1 has lon"), ("95.0", "outside lon -180..180")])
def test_impossible_node_coordinates(tmp_path, capsys, lat, match):
    path = tmp_path / "bad.osm"
    path.write_text(
        f"<osm><node id='1' lat='{lat}' lon='-15.43'/><node id='2' lat='28.12' lon='-15.43'/>"
        "<way id='3'><nd ref='1'/><nd ref='2'/><tag k='highway' v='footway'/></way></osm>"
    )
    out = tmp_path / "out"
    argv = ["coverage", *TINY_ARGS, "--out", str(out), "--no-cache"]
    argv[argv.index("--network") + 1] = str(path)
    refused(argv, capsys, match, out)


def test_a_street_node_moved_3000_km(tmp_path):
    path = tmp_path / "far.osm"
    path.write_text(
        "<osm><node id='1' lat='28.1' lon='-15.4'/><node id='2' lat='28.1' lon='-15.401'/>"
        "<node id='3' lat='55' lon='-15.4'/><way id='4'><nd ref='1'/><nd ref='2'/><nd ref='3'/>"
        "<tag k='highway' v='footway'/></way></osm>"
    )
    with pytest.raises(pl.NetworkError, match=r"from node 2 to node 3 is 2,991 km long"):
        pl.WalkNetwork.from_osm_file(path, use_cache=False)


def test_demand_cell_size_and_out_that_is_a_file(tmp_path, capsys):
    code, err = run_cli(
        ["demand", "--units", "u", "--buildings", "b", "--cell-m", "0", "--out", "x.gpkg"], capsys
    )
    assert code == 2
    assert "--cell-m" in err
    a_file = tmp_path / "taken"
    a_file.write_text("mine")
    line = refused(["coverage", *TINY_ARGS, "--out", str(a_file)], capsys, "is a file", tmp_path / "nothing")
    assert "give a folder" in line
    assert a_file.read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    code, err = run_cli(["coverage", *TINY_ARGS, "--out", str(folder / "out")], capsys)
    assert code == 2
    assert "cannot write" in err


def test_scheduler_and_workers(tmp_path, capsys):
    out = tmp_path / "out"
    refused(["coverage", *TINY_ARGS, "--tiles", "500", "--scheduler", "bogus", "--out", str(out)], capsys,
            "--scheduler must be serial, threads, local or a Dask address", out)  # fmt: skip
    refused(["coverage", *TINY_ARGS, "--tiles", "500", "--workers", "0", "--out", str(out)], capsys,
            "--workers", out)  # fmt: skip


@pytest.mark.slow
def test_an_unreachable_scheduler_fails_in_seconds(tmp_path, capsys):
    pytest.importorskip("distributed")
    out = tmp_path / "out"
    refused(["coverage", *TINY_ARGS, "--tiles", "500", "--scheduler", "tcp://127.0.0.1:9", "--out", str(out)],
            capsys, "cannot reach the Dask scheduler", out)  # fmt: skip


# ---------------------------------------------------------------------- 6. output folders that tell the truth
def test_settings_are_checked_before_anything_is_written(tmp_path, capsys):
    study = study_file(tmp_path, extra='[siting]\nkind = "eldercare"\nnew = 2\n')
    out = tmp_path / "out"
    refused(["run", str(study), "--kinds", "nursery", "--out", str(out)], capsys,
            "[siting] kind 'eldercare' is not a kind of the study", out)  # fmt: skip


def test_a_rerun_replaces_the_folder_whole(tmp_path, capsys):
    study = study_file(tmp_path, extra='[siting]\nkind = "eldercare"\nnew = 2\nspacing_m = 200\n')
    out = tmp_path / "out"
    assert main(["run", str(study), "--out", str(out)]) == 0
    assert (out / "sites.csv").exists()
    assert main(["run", str(study), "--out", str(out), "--no-siting"]) == 0
    assert not (out / "sites.csv").exists(), "a previous run's sites must not survive a rerun"
    manifest = tomllib.loads((out / "run.toml").read_text(encoding="utf-8"))["manifest"]
    assert sorted(manifest) == sorted(p.name for p in out.iterdir() if p.name != "run.toml")
    # planner site into that folder: the folder becomes a site run, whole
    assert main(["site", "--study", str(study), "--out", str(out)]) == 0
    assert not (out / "cells.gpkg").exists()
    assert "replacing the earlier run" in capsys.readouterr().err
    assert not list(tmp_path.glob(".out.*")), "no staging folder left behind"


def test_a_folder_of_other_files_is_refused(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, err = run_cli(["coverage", *TINY_ARGS, "--out", str(out)], capsys)
    assert code == 2
    assert "holds files that are not a planner run" in err
    assert (out / "notes.txt").read_text() == "keep me"


def test_a_failed_run_leaves_the_earlier_folder_intact(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert main(["coverage", *TINY_ARGS, "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full_disk(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    code, err = run_cli(["coverage", *TINY_ARGS, "--out", str(out)], capsys)
    assert code == 2
    assert "No space left on device" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not list(tmp_path.glob(".out.*"))


# ---------------------------------------------------------------------- 7. quiet data changes made visible
def test_utf8_read_as_gbk_is_refused(tmp_path, capsys):
    path = tmp_path / "fac.csv"
    pd.DataFrame({"kind": ["nursery"], "名称": ["阳光托育"], "lon": [-15.43], "lat": [28.12]}).to_csv(
        path, index=False, encoding="utf-8"
    )
    with pytest.raises(pl.InputError, match="is UTF-8"):
        pl.read_facilities(path, encoding="gbk")
    f = pl.read_facilities(path)  # left to itself, it is read right
    assert f["name"].iloc[0] == "阳光托育"


def test_gbk_mojibake_is_named(tmp_path):
    path = tmp_path / "fac.csv"
    text = "kind,name,lon,lat\nnursery,阳光托育,-15.43,28.12\n".encode().decode("gbk")  # read wrongly once
    path.write_text(text, encoding="utf-8")
    with pytest.warns(UserWarning, match="looks mis-decoded"):
        pl.read_facilities(path)


def test_facilities_left_out_are_counted(tiny_network, tiny_population):
    fac = gpd.GeoDataFrame({"kind": ["nursery", "nursery"], "name": ["near", "far"]},
                           geometry=gpd.points_from_xy([457290.0, 457290.0], [3111860.0, 3000000.0]),
                           crs="EPSG:32628")  # fmt: skip
    kinds = {"nursery": pl.DEFAULT_KINDS["nursery"]}
    with pytest.warns(UserWarning, match="1 of 2 rows are farther than 300 m"):
        cov = pl.compute_coverage(tiny_network, tiny_population, fac, kinds=kinds)
    row = cov.summary().iloc[-1]
    assert (row["facilities"], row["facilities_left_out"]) == (1, 1)


def test_chinese_headers_with_full_width_spaces_and_brackets(tmp_path):
    """Headers as Excel users type them: an ideographic space, full-width brackets, a leading space."""
    path = tmp_path / "list.csv"
    path.write_text("类型　,名称（全称）, 经度,纬度\n托育,阳光托育,-15.43,28.12\n", encoding="utf-8")
    f = pl.read_facilities(path, kind_column="类型", kind_map={"托育": "nursery"}, name_column="名称(全称)",
                           lon_column="经度", lat_column="纬度")  # fmt: skip
    assert f["name"].tolist() == ["阳光托育"]
    assert f["kind"].tolist() == ["nursery"]
    clash = tmp_path / "clash.csv"
    clash.write_text("名称,名称　,lon,lat,kind\na,b,-15.43,28.12,nursery\n", encoding="utf-8")
    with pytest.raises(pl.InputError, match="are both '名称' once full-width"):
        pl.read_facilities(clash)
