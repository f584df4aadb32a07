"""Chinese map datums (GCJ-02, BD-09) to and from WGS-84, vectorised."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

logger = logging.getLogger(__name__)

COORD_SYSTEMS = ("wgs84", "cgcs2000", "gcj02", "bd09")
#: How each datum is written for people.
DATUM_NAMES = {"wgs84": "WGS-84", "cgcs2000": "CGCS2000", "gcj02": "GCJ-02", "bd09": "BD-09"}

# GCJ-02 is defined on the Krasovsky 1940 ellipsoid.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
# BD-09's fixed offsets and the rate of its small wobble (pi * 3000 / 180).
_BD_DLON = 0.0065
_BD_DLAT = 0.006
_BD_X_PI = np.pi * 3000.0 / 180.0
# The rough bounding box that GCJ-02 implementations use for "inside China".
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)
#: Mean earth radius as osmnx uses it for edge lengths (so network lengths match osmnx).
EARTH_RADIUS_M = 6_371_009.0


def _as_float(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    # Copies, so callers' arrays are never changed in place.
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return lon_a.copy(), lat_a.copy()


def in_china(lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """Tell which points fall inside the rough China box that GCJ-02 uses.

    The rule is the one shared by GCJ-02 implementations:
    ``72.004 <= lon <= 137.8347`` and ``0.8293 <= lat <= 55.8271`` (degrees).
    It is a rectangle, so it includes parts of neighbouring countries and
    excludes nothing inside China. Non-finite points are outside.

    Parameters
    ----------
    lon, lat
        Longitude and latitude in degrees.

    Returns
    -------
    inside
        Boolean array with the broadcast shape of ``lon`` and ``lat``.

    Examples
    --------
    >>> in_china([116.39, -15.43], [39.91, 28.12])
    array([ True, False])
    """
    lon_a, lat_a = _as_float(lon, lat)
    return (
        (lon_a >= _CHINA_LON[0])
        & (lon_a <= _CHINA_LON[1])
        & (lat_a >= _CHINA_LAT[0])
        & (lat_a <= _CHINA_LAT[1])
    )


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 coordinates to GCJ-02 (Amap, Tencent, Google China).

    Points outside :func:`in_china`'s box are returned unchanged, as the datum
    defines; so are points with a NaN or infinite coordinate.

    Parameters
    ----------
    lon, lat
        WGS-84 longitude and latitude in degrees (arrays or scalars).

    Returns
    -------
    lon, lat
        GCJ-02 ``(lon, lat)`` with the broadcast shape of the inputs.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(120.62, 31.30)  # Suzhou
    >>> print(f"{lon:.6f} {lat:.6f}")
    120.624177 31.297823
    """
    lon_a, lat_a = _as_float(lon, lat)
    inside = in_china(lon_a, lat_a)
    x, y = lon_a[inside] - 105.0, lat_a[inside] - 35.0
    # The datum's published distortion terms, in metres along each axis.
    d_lat_m = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * np.pi * x) + 20.0 * np.sin(2.0 * np.pi * x)) * 2.0 / 3.0
        + (20.0 * np.sin(np.pi * y) + 40.0 * np.sin(np.pi * y / 3.0)) * 2.0 / 3.0
        + (160.0 * np.sin(np.pi * y / 12.0) + 320.0 * np.sin(np.pi * y / 30.0)) * 2.0 / 3.0
    )
    d_lon_m = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * np.pi * x) + 20.0 * np.sin(2.0 * np.pi * x)) * 2.0 / 3.0
        + (20.0 * np.sin(np.pi * x) + 40.0 * np.sin(np.pi * x / 3.0)) * 2.0 / 3.0
        + (150.0 * np.sin(np.pi * x / 12.0) + 300.0 * np.sin(np.pi * x / 30.0)) * 2.0 / 3.0
    )
    # Metres to degrees on the Krasovsky ellipsoid (meridian and parallel radii).
    rad_lat = np.radians(lat_a[inside])
    magic = 1.0 - _GCJ_EE * np.sin(rad_lat) ** 2
    lat_deg_m = np.radians(_GCJ_A * (1.0 - _GCJ_EE) / magic**1.5)
    lon_deg_m = np.radians(_GCJ_A * np.cos(rad_lat) / np.sqrt(magic))
    lon_a[inside] += d_lon_m / lon_deg_m
    lat_a[inside] += d_lat_m / lat_deg_m
    return lon_a, lat_a


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 coordinates to BD-09 (Baidu).

    BD-09 applies everywhere, with no China box. Points with a NaN or infinite
    coordinate are returned unchanged.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees.

    Returns
    -------
    lon, lat
        BD-09 ``(lon, lat)`` with the broadcast shape of the inputs.

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09(120.624177, 31.297823)
    >>> print(f"{lon:.6f} {lat:.6f}")
    120.630631 31.303927
    """
    lon_a, lat_a = _as_float(lon, lat)
    ok = np.isfinite(lon_a) & np.isfinite(lat_a)
    x, y = lon_a[ok], lat_a[ok]
    r = np.hypot(x, y) + 2e-5 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 3e-6 * np.cos(x * _BD_X_PI)
    lon_a[ok] = r * np.cos(theta) + _BD_DLON
    lat_a[ok] = r * np.sin(theta) + _BD_DLAT
    return lon_a, lat_a


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    lon: ArrayLike,
    lat: ArrayLike,
    tol_deg: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(x) = target`` by fixed-point iteration.

    Both datums are the identity plus a small shift that changes by at most a
    few centimetres per metre moved, so ``x -= forward(x) - target`` contracts
    fast; its first step is the usual one-step inverse (0.3-2.4 m off).
    """
    if not tol_deg > 0:
        msg = f"tol_deg must be > 0; got {tol_deg!r}."
        raise ValueError(msg)
    if max_iter < 1:
        msg = f"max_iter must be >= 1; got {max_iter!r}."
        raise ValueError(msg)
    target_lon, target_lat = _as_float(lon, lat)
    x_lon, x_lat = target_lon.copy(), target_lat.copy()
    for _ in range(max_iter):
        f_lon, f_lat = forward(x_lon, x_lat)
        # inf - inf is NaN without a RuntimeWarning; NaN residuals count as done.
        with np.errstate(invalid="ignore"):
            d_lon, d_lat = f_lon - target_lon, f_lat - target_lat
            # In place, so 0-d inputs stay 0-d arrays rather than numpy scalars.
            x_lon -= d_lon
            x_lat -= d_lat
            todo = (np.abs(d_lon) > tol_deg) | (np.abs(d_lat) > tol_deg)
        if not todo.any():
            break
    else:
        # Only happens within ~1 km of the China box edge, where GCJ-02 jumps.
        logger.warning(
            "%s: %d point(s) did not converge to %g deg in %d iterations",
            forward.__name__,
            int(todo.sum()),
            tol_deg,
            max_iter,
        )
    # Non-finite inputs come back exactly as given, not as inf - inf = NaN.
    bad = ~(np.isfinite(target_lon) & np.isfinite(target_lat))
    x_lon[bad] = target_lon[bad]
    x_lat[bad] = target_lat[bad]
    return x_lon, x_lat


def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, *, tol_deg: float = 1e-7, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 coordinates to WGS-84 with an iterative inverse.

    The iteration stops when the forward conversion of the estimate is within
    ``tol_deg`` of the input on both axes; with the default 1e-7 degrees the
    result is well under 1 cm from the exact inverse (the common one-step
    inverse errs by 0.3-2.4 m). Points outside :func:`in_china`'s box, and
    points with a NaN or infinite coordinate, are returned unchanged.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees.
    tol_deg
        Convergence tolerance on the forward residual, in degrees.
    max_iter
        Maximum number of iterations; points still not converged are logged at
        WARNING (only possible next to the edge of the China box).

    Returns
    -------
    lon, lat
        WGS-84 ``(lon, lat)`` with the broadcast shape of the inputs.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(116.391, 39.907))  # Beijing
    >>> print(f"{lon:.9f} {lat:.9f}")
    116.391000000 39.907000000
    """
    return _invert(wgs84_to_gcj02, lon, lat, tol_deg, max_iter)


def bd09_to_gcj02(
    lon: ArrayLike, lat: ArrayLike, *, tol_deg: float = 1e-7, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 coordinates to GCJ-02 with an iterative inverse.

    The usual closed-form inverse is off by up to about 0.2 m, so this one
    iterates like :func:`gcj02_to_wgs84`. Points with a NaN or infinite
    coordinate are returned unchanged.

    Parameters
    ----------
    lon, lat
        BD-09 longitude and latitude in degrees.
    tol_deg
        Convergence tolerance on the forward residual, in degrees.
    max_iter
        Maximum number of iterations.

    Returns
    -------
    lon, lat
        GCJ-02 ``(lon, lat)`` with the broadcast shape of the inputs.

    Examples
    --------
    >>> lon, lat = bd09_to_gcj02(*gcj02_to_bd09(120.624177, 31.297823))
    >>> print(f"{lon:.9f} {lat:.9f}")
    120.624177000 31.297823000
    """
    return _invert(gcj02_to_bd09, lon, lat, tol_deg, max_iter)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 coordinates to BD-09 (Baidu), through GCJ-02.

    Outside :func:`in_china`'s box only the BD-09 step applies: BD-09 itself
    has no box, and other implementations do the same.

    Parameters
    ----------
    lon, lat
        WGS-84 longitude and latitude in degrees.

    Returns
    -------
    lon, lat
        BD-09 ``(lon, lat)`` with the broadcast shape of the inputs.

    Examples
    --------
    >>> lon, lat = wgs84_to_bd09(120.62, 31.30)  # Suzhou
    >>> print(f"{lon:.6f} {lat:.6f}")
    120.630631 31.303927
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, *, tol_deg: float = 1e-7, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 coordinates to WGS-84, through GCJ-02, iteratively.

    Parameters
    ----------
    lon, lat
        BD-09 longitude and latitude in degrees.
    tol_deg
        Convergence tolerance of each of the two inverse steps, in degrees.
    max_iter
        Maximum number of iterations of each step.

    Returns
    -------
    lon, lat
        WGS-84 ``(lon, lat)`` with the broadcast shape of the inputs.

    Examples
    --------
    >>> lon, lat = bd09_to_wgs84(*wgs84_to_bd09(120.62, 31.30))  # Suzhou
    >>> print(f"{lon:.9f} {lat:.9f}")
    120.620000000 31.300000000
    """
    gcj = bd09_to_gcj02(lon, lat, tol_deg=tol_deg, max_iter=max_iter)
    return gcj02_to_wgs84(*gcj, tol_deg=tol_deg, max_iter=max_iter)


def haversine_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> np.ndarray:
    """Great-circle metres between points given in degrees (osmnx's sphere and formula).

    The one distance on the sphere in planner: OSM street lengths and datum shifts.

    Parameters
    ----------
    lon1, lat1, lon2, lat2
        Longitudes and latitudes in degrees (broadcast together).

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> round(float(haversine_m(0, 0, 0, 1)))
    111195
    """
    lam1, phi1, lam2, phi2 = (np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2))
    h = np.sin((phi2 - phi1) / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin((lam2 - lam1) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0, 1))))


def to_wgs84(lon: ArrayLike, lat: ArrayLike, coord_system: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates in one of :data:`COORD_SYSTEMS` to WGS-84.

    ``"wgs84"`` and ``"cgcs2000"`` are returned as given: CGCS2000 is treated
    as identical to WGS-84, as the two differ by under a metre, far below the
    precision of facility data. ``"gcj02"`` and ``"bd09"`` are inverted
    iteratively (under 1 cm), and points outside :func:`in_china`'s box get no
    GCJ-02 correction. Left unconverted, such data would misplace facilities by
    250-1,400 m, 25-140 % of a 15-minute walking radius. Logs at INFO how many
    points moved and their mean shift in metres.

    Parameters
    ----------
    lon, lat
        Longitude and latitude in degrees, in ``coord_system``.
    coord_system
        One of ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"`` or ``"bd09"``.

    Returns
    -------
    lon, lat
        WGS-84 ``(lon, lat)`` with the broadcast shape of the inputs.

    Raises
    ------
    ValueError
        If ``coord_system`` is not one of :data:`COORD_SYSTEMS`.

    Examples
    --------
    >>> lon, lat = to_wgs84([120.624177], [31.297823], "gcj02")  # Suzhou, Amap
    >>> print(f"{lon[0]:.6f} {lat[0]:.6f}")
    120.620000 31.300000
    """
    if coord_system not in COORD_SYSTEMS:
        msg = f"coord_system must be one of {list(COORD_SYSTEMS)}; got {coord_system!r}."
        raise ValueError(msg)
    lon_in, lat_in = _as_float(lon, lat)
    if coord_system == "gcj02":
        lon_out, lat_out = gcj02_to_wgs84(lon_in, lat_in)
    elif coord_system == "bd09":
        lon_out, lat_out = bd09_to_wgs84(lon_in, lat_in)
    else:
        lon_out, lat_out = lon_in.copy(), lat_in.copy()
    with np.errstate(invalid="ignore"):
        shift_m = haversine_m(lon_in, lat_in, lon_out, lat_out)
    moved = np.isfinite(shift_m) & (shift_m > 0)
    mean_m = float(shift_m[moved].mean()) if moved.any() else 0.0
    logger.info(
        "to_wgs84 from %s: %d of %d points moved, mean shift %.1f m",
        coord_system,
        int(moved.sum()),
        moved.size,
        mean_m,
    )
    return lon_out, lat_out


# the datum a file's coordinates may really be in, and how to read them as each from WGS-84 positions
_FROM_WGS84: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}


def datum_readings(lon: ArrayLike, lat: ArrayLike, declared: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """WGS-84 positions of points read as in each datum, given their reading as ``declared``.

    The raw numbers of the file are recovered from the declared reading, then read as WGS-84,
    GCJ-02 and BD-09 in turn; a caller snaps each reading and compares (see
    :func:`planner.pipeline.datum_hint`).

    Parameters
    ----------
    lon, lat
        The points as read (already in WGS-84 by the ``declared`` datum).
    declared
        ``"wgs84"`` (or ``"cgcs2000"``, the same here), ``"gcj02"`` or ``"bd09"``.

    Returns
    -------
    dict
        Datum → (lon, lat) in WGS-84.
    """
    lon_a, lat_a = _as_float(lon, lat)
    raw = (lon_a, lat_a) if declared in ("wgs84", "cgcs2000") else _FROM_WGS84[declared](lon_a, lat_a)
    return {"wgs84": raw, "gcj02": gcj02_to_wgs84(*raw), "bd09": bd09_to_wgs84(*raw)}
