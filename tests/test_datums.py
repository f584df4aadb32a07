import logging
import re
import warnings

import numpy as np
import pytest

from planner.io.datums import (
    COORD_SYSTEMS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

# WGS-84 (lon, lat) of city centres.
CITIES = {
    "beijing": (116.391, 39.907),
    "shanghai": (121.473, 31.230),
    "suzhou": (120.62, 31.30),
    "hefei": (117.227, 31.820),
    "jiaxing": (120.755, 30.746),
    "xiangyang": (112.122, 32.009),
    "guangzhou": (113.264, 23.129),
    "urumqi": (87.617, 43.826),
    "harbin": (126.535, 45.803),
}
CITY_LON = np.array([c[0] for c in CITIES.values()])
CITY_LAT = np.array([c[1] for c in CITIES.values()])
OUTSIDE = {"las_palmas": (-15.43, 28.12), "london": (-0.1276, 51.5072)}
# China's own extent, a little inside the datum's box (GCJ-02 jumps at the box edge).
CHINA_LON, CHINA_LAT = (73.6, 134.7), (18.2, 53.5)
ONE_CM = 0.01


def metres(lon1, lat1, lon2, lat2):
    """Haversine distance, written here so the tests do not trust the module's."""
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(h))


@pytest.fixture(scope="module")
def prcoords():
    return pytest.importorskip("prcoords")


@pytest.fixture(scope="module")
def china_sample():
    rng = np.random.default_rng(0)
    return rng.uniform(*CHINA_LON, 10_000), rng.uniform(*CHINA_LAT, 10_000)


class TestAgainstPrcoords:
    # prcoords takes and returns (lat, lon).

    @pytest.mark.parametrize(("lon", "lat"), CITIES.values(), ids=CITIES.keys())
    def test_forward_agrees(self, prcoords, lon, lat):
        gcj = wgs84_to_gcj02(lon, lat)
        ref = prcoords.wgs_gcj((lat, lon))
        assert abs(gcj[0] - ref.lon) < 1e-6
        assert abs(gcj[1] - ref.lat) < 1e-6
        bd = wgs84_to_bd09(lon, lat)
        ref = prcoords.wgs_bd((lat, lon))
        assert abs(bd[0] - ref.lon) < 1e-6
        assert abs(bd[1] - ref.lat) < 1e-6
        bd = gcj02_to_bd09(*gcj)
        ref = prcoords.gcj_bd((float(gcj[1]), float(gcj[0])))
        assert abs(bd[0] - ref.lon) < 1e-6
        assert abs(bd[1] - ref.lat) < 1e-6

    @pytest.mark.parametrize(("lon", "lat"), CITIES.values(), ids=CITIES.keys())
    def test_inverse_at_least_as_accurate(self, prcoords, lon, lat):
        gcj = wgs84_to_gcj02(lon, lat)
        ours = metres(*gcj02_to_wgs84(*gcj), lon, lat)
        ref = prcoords.gcj_wgs_bored((float(gcj[1]), float(gcj[0])))
        theirs = metres(ref.lon, ref.lat, lon, lat)
        assert ours <= theirs + 1e-6  # 1 micrometre of float noise

        bd = wgs84_to_bd09(lon, lat)
        ours = metres(*bd09_to_wgs84(*bd), lon, lat)
        ref = prcoords.bd_wgs_bored((float(bd[1]), float(bd[0])))
        theirs = metres(ref.lon, ref.lat, lon, lat)
        assert ours <= theirs + 1e-6


class TestRoundTrip:
    def test_cities(self):
        gcj = wgs84_to_gcj02(CITY_LON, CITY_LAT)
        assert metres(*gcj02_to_wgs84(*gcj), CITY_LON, CITY_LAT).max() < ONE_CM
        bd = wgs84_to_bd09(CITY_LON, CITY_LAT)
        assert metres(*bd09_to_wgs84(*bd), CITY_LON, CITY_LAT).max() < ONE_CM
        assert metres(*bd09_to_gcj02(*bd), *gcj).max() < ONE_CM

    def test_random_sample(self, china_sample):
        lon, lat = china_sample
        assert in_china(lon, lat).all()
        err_gcj = metres(*gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat)), lon, lat)
        err_bd = metres(*bd09_to_wgs84(*wgs84_to_bd09(lon, lat)), lon, lat)
        assert err_gcj.max() < ONE_CM
        assert err_bd.max() < ONE_CM

    def test_tolerance_is_honoured(self, china_sample):
        # A loose tolerance stops early, but never worse than the tolerance itself.
        lon, lat = china_sample
        back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat), tol_deg=1e-4, max_iter=30)
        assert np.abs(back[0] - lon).max() < 1e-4
        assert np.abs(back[1] - lat).max() < 1e-4

    def test_property(self):
        hypothesis = pytest.importorskip("hypothesis")
        st = pytest.importorskip("hypothesis.strategies")

        @hypothesis.settings(deadline=None, max_examples=200)
        @hypothesis.given(lon=st.floats(*CHINA_LON), lat=st.floats(*CHINA_LAT))
        def check(lon, lat):
            assert metres(*gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat)), lon, lat) < ONE_CM
            assert metres(*bd09_to_wgs84(*wgs84_to_bd09(lon, lat)), lon, lat) < ONE_CM

        check()


def test_offset_sizes():
    gcj_m = metres(*wgs84_to_gcj02(CITY_LON, CITY_LAT), CITY_LON, CITY_LAT)
    bd_m = metres(*wgs84_to_bd09(CITY_LON, CITY_LAT), CITY_LON, CITY_LAT)
    assert ((gcj_m > 250) & (gcj_m < 650)).all(), gcj_m
    assert ((bd_m > 800) & (bd_m < 1_400)).all(), bd_m


class TestOutsideChina:
    @pytest.mark.parametrize(("lon", "lat"), OUTSIDE.values(), ids=OUTSIDE.keys())
    def test_gcj_leaves_unchanged(self, lon, lat):
        assert not in_china(lon, lat)
        assert wgs84_to_gcj02(lon, lat) == (lon, lat)
        assert gcj02_to_wgs84(lon, lat) == (lon, lat)

    @pytest.mark.parametrize(("lon", "lat"), OUTSIDE.values(), ids=OUTSIDE.keys())
    def test_bd_still_shifts_and_round_trips(self, lon, lat):
        bd = wgs84_to_bd09(lon, lat)
        assert metres(*bd, lon, lat) > 100
        assert metres(*bd09_to_wgs84(*bd), lon, lat) < ONE_CM

    def test_box_edges_inclusive(self):
        lon = [72.004, 137.8347, 72.0039, 137.8348, 100.0, 100.0, 100.0, 100.0]
        lat = [30.0, 30.0, 30.0, 30.0, 0.8293, 55.8271, 0.8292, 55.8272]
        assert in_china(lon, lat).tolist() == [True, True, False, False, True, True, False, False]

    def test_no_convergence_in_edge_gap_logs_warning(self, caplog):
        # GCJ-02 moves points just inside the west edge ~360 m east, so GCJ
        # longitudes in that strip have no WGS-84 preimage.
        with caplog.at_level(logging.WARNING, logger="planner.io.datums"):
            lon, lat = gcj02_to_wgs84([72.0045, 100.0], [40.0, 30.0])
        assert np.isfinite(lon).all()
        assert np.isfinite(lat).all()
        assert "1 point(s) did not converge" in caplog.text


FUNCS = [
    wgs84_to_gcj02,
    gcj02_to_wgs84,
    gcj02_to_bd09,
    bd09_to_gcj02,
    wgs84_to_bd09,
    bd09_to_wgs84,
]


@pytest.mark.parametrize("func", FUNCS)
class TestArrays:
    def test_non_finite_kept_without_warnings(self, func):
        lon = np.array([np.nan, 120.62, np.inf, 116.391, -np.inf])
        lat = np.array([31.30, np.nan, 31.30, 39.907, np.nan])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out_lon, out_lat = func(lon, lat)
        bad = [0, 1, 2, 4]
        np.testing.assert_array_equal(out_lon[bad], lon[bad])
        np.testing.assert_array_equal(out_lat[bad], lat[bad])
        assert np.isfinite(out_lon[3])
        assert out_lon[3] != lon[3]

    def test_shape_preserved(self, func, china_sample):
        lon = china_sample[0][:12].reshape(3, 4)
        lat = china_sample[1][:12].reshape(3, 4)
        out_lon, out_lat = func(lon, lat)
        assert out_lon.shape == out_lat.shape == (3, 4)
        flat_lon, flat_lat = func(lon.ravel(), lat.ravel())
        np.testing.assert_array_equal(out_lon.ravel(), flat_lon)
        np.testing.assert_array_equal(out_lat.ravel(), flat_lat)

    def test_scalar_in_scalar_shaped_out(self, func):
        out_lon, out_lat = func(120.62, 31.30)
        assert isinstance(out_lon, np.ndarray)
        assert out_lon.shape == out_lat.shape == ()

    def test_broadcasts_and_does_not_mutate(self, func):
        lon = np.array([116.391, 121.473])
        before = lon.copy()
        out_lon, out_lat = func(lon, 35.0)
        assert out_lon.shape == out_lat.shape == (2,)
        np.testing.assert_array_equal(lon, before)


@pytest.mark.parametrize("func", [gcj02_to_wgs84, bd09_to_gcj02, bd09_to_wgs84])
@pytest.mark.parametrize(("kwargs", "match"), [({"tol_deg": 0}, "tol_deg"), ({"max_iter": 0}, "max_iter")])
def test_bad_iteration_options(func, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(120.62, 31.30, **kwargs)


class TestToWgs84:
    def test_dispatch(self):
        gcj = wgs84_to_gcj02(CITY_LON, CITY_LAT)
        bd = wgs84_to_bd09(CITY_LON, CITY_LAT)
        np.testing.assert_array_equal(to_wgs84(*gcj, "gcj02"), gcj02_to_wgs84(*gcj))
        np.testing.assert_array_equal(to_wgs84(*bd, "bd09"), bd09_to_wgs84(*bd))
        for system in ("wgs84", "cgcs2000"):
            np.testing.assert_array_equal(to_wgs84(CITY_LON, CITY_LAT, system), (CITY_LON, CITY_LAT))
        assert set(COORD_SYSTEMS) == {"wgs84", "cgcs2000", "gcj02", "bd09"}

    @pytest.mark.parametrize("system", ["WGS84", "gcj-02", "epsg:4326", "", None])
    def test_unknown_system(self, system):
        with pytest.raises(ValueError, match=r"wgs84.*cgcs2000.*gcj02.*bd09"):
            to_wgs84(120.62, 31.30, system)

    def test_logs_moved_count_and_mean_shift(self, caplog):
        lon, lat = wgs84_to_gcj02([120.62, 116.391, -15.43, np.nan], [31.30, 39.907, 28.12, 30.0])
        with caplog.at_level(logging.INFO, logger="planner.io.datums"):
            to_wgs84(lon, lat, "gcj02")
        [record] = [r for r in caplog.records if r.name == "planner.io.datums"]
        assert record.levelno == logging.INFO
        found = re.search(r"gcj02: 2 of 4 points moved, mean shift ([\d.]+) m", record.getMessage())
        assert found, record.getMessage()
        assert 250 < float(found.group(1)) < 650

    def test_logs_nothing_moved_for_wgs84(self, caplog):
        with caplog.at_level(logging.INFO, logger="planner.io.datums"):
            to_wgs84(CITY_LON, CITY_LAT, "cgcs2000")
        assert "0 of 9 points moved, mean shift 0.0 m" in caplog.text
