import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import REPO, TINY

import planner as pl


def test_facilities_from_geojson_with_kind_map_and_merge(caplog):
    caplog.set_level("INFO")
    f = pl.read_facilities(
        REPO / "data/las_palmas/facilities.geojson",
        kind_column="category",
        kind_map={"eldercare": "eldercare", "nursery": "nursery"},
    )
    # the care home mapped 4 times (node, 2 ways, relation) becomes one row: 10 -> 7
    assert f["kind"].value_counts().to_dict() == {"nursery": 20, "eldercare": 7}
    assert "merged 4 facility rows" in caplog.text
    assert "{'social_facility_other': 6, 'community_centre': 4}" in caplog.text
    assert f.index.name == "facility_id"
    assert f.index.is_unique
    assert f["capacity"].isna().all()


def test_merge_needs_similar_names_and_distance():
    pts = gpd.GeoDataFrame(
        {
            "kind": ["n", "n", "n", "n"],
            "name": ["Escuela Infantil Bambi", "Bambi", "Guardería Sol", "Escuela Infantil Bambi"],
            "capacity": [np.nan, 30.0, np.nan, np.nan],
        },
        geometry=gpd.points_from_xy([0, 20, 10, 500], [0, 0, 0, 0]),
        crs="EPSG:32628",
    )
    out = pl.merge_duplicate_facilities(pts, within_m=60)
    assert len(out) == 3  # Bambi twice nearby merged; far twin and other name kept
    assert out["capacity"].iloc[0] == 30.0  # the one known capacity
    assert out["merged_ids"].iloc[0] == "1"


def test_same_name_with_different_capacities_is_two_places(caplog):
    """Two "Escuela Infantil Municipal" of 60 and 40 places 30 m apart are two nurseries, not one of 60."""
    pts = gpd.GeoDataFrame(
        {"kind": ["n", "n", "n"], "name": ["Escuela Infantil Municipal"] * 3, "capacity": [60.0, 40.0, 60.0]},
        geometry=gpd.points_from_xy([0, 30, 45], [0, 0, 0]),
        crs="EPSG:32628",
    )
    with caplog.at_level("WARNING"):
        out = pl.merge_duplicate_facilities(pts, within_m=60)
    assert out["capacity"].tolist() == [60.0, 40.0]  # 0 and 2 agree (60): one place; 1 stays
    assert out["capacity"].sum() == 100.0
    assert "merged 2 facility rows into 1 place" in caplog.text


def test_merging_is_bounded_in_memory_and_refuses_a_flood(tmp_path):
    """10^5 points in one spot: refused quickly with a clear message, never 10^10 pairs."""
    n = 100_000
    pts = gpd.GeoDataFrame({"kind": ["n"] * n, "name": ["X"] * n, "capacity": np.nan},
                           geometry=gpd.points_from_xy(np.zeros(n), np.zeros(n)), crs="EPSG:32628")  # fmt: skip
    with pytest.raises(pl.InputError, match=r"100,000 points in one 100 m square"):
        pl.merge_duplicate_facilities(pts, within_m=60)
    # 1,000 in a square is still a facility list: merged with at most 16 neighbours each
    m = 1_000
    few = gpd.GeoDataFrame({"kind": ["n"] * m, "name": ["X"] * m, "capacity": np.nan},
                           geometry=gpd.points_from_xy(np.arange(m) * 0.05, np.zeros(m)), crs="EPSG:32628")  # fmt: skip
    assert len(pl.merge_duplicate_facilities(few, within_m=60)) == 1


def test_csv_facilities(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text(
        "kind,name,capacity,lon,lat\nnursery,A,40,-15.43,28.12\neldercare,B,,-15.42,28.13\n", encoding="utf-8"
    )
    f = pl.read_facilities(p)
    assert f.crs.to_epsg() == 4326
    assert f["capacity"].tolist()[0] == 40.0
    assert np.isnan(f["capacity"].tolist()[1])


def test_csv_swapped_columns_is_named(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("kind,name,lon,lat\nnursery,A,28.12,120.6\n", encoding="utf-8")
    with pytest.raises(pl.InputError, match=r"rows \[2\].*swapped"):
        pl.read_facilities(p)


def test_capacity_with_text_is_named(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("kind,name,capacity,lon,lat\nnursery,A,forty,-15.43,28.12\n", encoding="utf-8")
    with pytest.raises(pl.InputError, match=r"capacity.*non-numeric"):
        pl.read_facilities(p)


def test_empty_file(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("kind,name,lon,lat\n", encoding="utf-8")
    with pytest.raises(pl.InputError, match="no rows"):
        pl.read_facilities(p)


def test_missing_crs_needs_assume_crs(tmp_path):
    p = tmp_path / "pop.gpkg"
    with pytest.warns(UserWarning, match="crs"):  # writing a CRS-less file is the point here
        gpd.GeoDataFrame({"population": [1.0]}, geometry=gpd.points_from_xy([457000], [3110000])).to_file(p)
    with pytest.raises(pl.InputError, match=r"no CRS.*--assume-crs"):
        pl.read_population(p)
    pop = pl.read_population(p, assume_crs="EPSG:32628")
    assert pop.crs.to_epsg() == 32628


def test_population_missing_column(tmp_path):
    p = tmp_path / "pop.gpkg"
    gpd.GeoDataFrame({"people": [1.0]}, geometry=gpd.points_from_xy([0], [0]), crs=32628).to_file(p)
    with pytest.raises(pl.InputError, match=r"missing column\(s\) \['population'\]; it has \['people'\]"):
        pl.read_population(p)
    assert pl.read_population(p, population_column="people")["population"].iloc[0] == 1.0


@pytest.mark.parametrize(("value", "match"), [("-3", "negative"), ("", "empty"), ("many", "non-numeric")])
def test_population_bad_values(tmp_path, value, match):
    p = tmp_path / "pop.csv"
    p.write_text(
        f"cell_id,population,lon,lat\na,10,-15.43,28.12\nb,{value},-15.43,28.121\n", encoding="utf-8"
    )
    with pytest.raises(pl.InputError, match=match):
        pl.read_population(p)


def test_population_csv_points_match_the_grid():
    pts = pl.read_population(TINY / "population_points.csv")
    grid = pl.read_population(TINY / "population_grid_100m.gpkg")
    assert pts["population"].sum() == pytest.approx(grid["population"].sum())
    assert set(pts.index) == set(grid.index)


def test_age_shares_and_census():
    pop = pl.read_population(TINY / "population_grid_100m.gpkg")
    census = REPO / "tests/data/county_census_2020_policy_cities.csv"
    shares = pl.age_shares_from_census(census, 320508)  # Gusu, Suzhou
    assert shares["age_60_plus"] == pytest.approx(232_592 / 924_083, abs=1e-4)
    out = pl.apply_age_shares(pop, shares, source="Gusu 2020")
    assert out["age_60_plus"].sum() == pytest.approx(pop["population"].sum() * shares["age_60_plus"])
    assert "Gusu 2020" in out.attrs["age_source"]
    with pytest.raises(pl.InputError, match="no row with CODE 1"):
        pl.age_shares_from_census(census, 1)


def test_unknown_file_type(tmp_path):
    p = tmp_path / "f.xlsx2"
    p.write_text("x")
    with pytest.raises(pl.InputError, match="unknown type"):
        pl.read_facilities(p)


def test_missing_file():
    with pytest.raises(pl.InputError, match="does not exist"):
        pl.read_population("no/such/file.gpkg")


def test_empty_geometries_dropped_and_counted(tmp_path, caplog):
    from shapely.geometry import Point

    p = tmp_path / "f.gpkg"
    gpd.GeoDataFrame(
        {"kind": ["n", "n"], "name": ["a", "b"]}, geometry=[Point(0, 0), None], crs=32628
    ).to_file(p)
    f = pl.read_facilities(p)
    assert len(f) == 1
    assert "dropped 1 rows with empty geometry" in caplog.text


def test_study_from_toml_and_errors(tmp_path):
    s = pl.StudyArea.from_toml(REPO / "data/las_palmas/study.toml")
    assert s.crs.to_epsg() == 32628
    assert s.kinds["nursery"].target_column == "age_0_3"
    bad = tmp_path / "s.toml"
    bad.write_text(
        '[network]\npath = "x"\n[population]\npath="p"\n[facilities]\npath="f"\n[kinds.eldercare]\nspeed = 3\n'
    )
    with pytest.raises(pl.InputError, match=r"\[kinds.eldercare\].*unknown key"):
        pl.StudyArea.from_toml(bad)
    bad.write_text('[network]\npath = "x"\n')
    with pytest.raises(pl.InputError, match=r"\[population\] needs a path"):
        pl.StudyArea.from_toml(bad)
    bad.write_text("not = toml = really")
    with pytest.raises(pl.InputError, match="not valid TOML"):
        pl.StudyArea.from_toml(bad)


def test_kind_validation():
    with pytest.raises(ValueError, match="speed_kmh"):
        pl.FacilityKind("x", "population", speed_kmh=0)
    assert pl.DEFAULT_KINDS["eldercare"].reach_m() == pytest.approx(900.0)


def test_facilities_keep_other_columns(tmp_path):
    p = tmp_path / "f.csv"
    pd.DataFrame(
        {"kind": ["nursery"], "name": ["A"], "district_code": ["320508"], "lon": [-15.4], "lat": [28.1]}
    ).to_csv(p, index=False)
    assert pl.read_facilities(p)["district_code"].iloc[0] in ("320508", 320508)


def test_geoparquet_population_roundtrip(tmp_path):
    grid = pl.read_population(TINY / "population_grid_100m.gpkg")
    grid.reset_index().to_parquet(tmp_path / "grid.parquet")
    back = pl.read_population(tmp_path / "grid.parquet")
    assert back.index.equals(grid.index)
    assert back["population"].sum() == pytest.approx(grid["population"].sum())


def test_graphml_network_matches_osm_file(tmp_path):
    ox = pytest.importorskip("osmnx")
    g = ox.graph_from_xml(TINY.parent / "west_oakland.osm.bz2", simplify=True)
    ox.save_graphml(g, tmp_path / "wo.graphml")
    net = pl.WalkNetwork.from_osm_file(tmp_path / "wo.graphml", max_edge_m=None)
    assert net.crs.to_epsg() == 32610
    # walking uses each street once: the shortest edge per node pair, in both directions
    shortest = {}
    for a, b, d in g.edges(data=True):
        key = (min(a, b), max(a, b))
        shortest[key] = min(shortest.get(key, np.inf), d["length"])
    assert net.edges["length_m"].sum() == pytest.approx(sum(shortest.values()), rel=1e-6)
    (tmp_path / "bad.graphml").write_text("<graphml>")
    with pytest.raises(pl.InputError, match="not a readable GraphML"):
        pl.WalkNetwork.from_osm_file(tmp_path / "bad.graphml")
