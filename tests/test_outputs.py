import tomllib

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from planner.io.write import atomic_path, to_toml, write_layer, write_table


def test_atomic_path_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "t.csv"
    target.write_text("old")

    def fail():
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail()
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_write_table_utf8_for_excel(tmp_path):
    p = write_table(pd.DataFrame({"district": ["姑苏区"], "share": [0.5]}), tmp_path / "s.csv")
    assert p.read_bytes().startswith(b"\xef\xbb\xbf")
    assert pd.read_csv(p, encoding="utf-8-sig")["district"].iloc[0] == "姑苏区"


def test_write_layer_replaces_inf(tmp_path):
    gdf = gpd.GeoDataFrame({"minutes": [1.0, np.inf]}, geometry=gpd.points_from_xy([0, 1], [0, 1]), crs=32628)
    p = write_layer(gdf, tmp_path / "c.gpkg")
    back = gpd.read_file(p)
    assert back["minutes"].iloc[0] == 1.0
    assert np.isnan(back["minutes"].iloc[1])


def test_toml_roundtrip():
    data = {"a": 1, "b": [1.5, 2.0], "name": 'x "q" \\ y', "t": {"speed": {"eldercare": 3.6}, "ok": True}}
    back = tomllib.loads(to_toml(data))
    assert back == data
