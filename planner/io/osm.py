"""Reading OpenStreetMap files (XML, bz2/gz, PBF) into walkable street segments, streamed.

Nothing here builds a network: :mod:`planner.network` turns the segments into a
:class:`~planner.network.WalkNetwork`, and :mod:`planner.scale.store` streams them to disk.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import itertools
import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj

from planner.errors import InputError, NetworkError
from planner.io.datums import haversine_m
from planner.io.write import atomic_path

logger = logging.getLogger(__name__)

#: File names the OSM readers take.
OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".xml", ".xml.bz2", ".osm.pbf", ".pbf")


def check_osm_path(path: str | os.PathLike[str]) -> Path:
    """The path of an existing OSM file of a known type, or a one-line InputError."""
    path = Path(path)
    if not path.exists():
        msg = f"network file {path} does not exist."
        raise InputError(msg)
    if not path.name.lower().endswith(OSM_SUFFIXES):
        msg = f"{path}: unknown network file type; use .osm, .osm.bz2, .osm.gz, .osm.pbf (or .graphml for a network)."
        raise InputError(msg)
    return path


# The osmnx "walk" filter, applied to raw OSM tags.
_EXCLUDED_HIGHWAYS = frozenset(
    {
        "abandoned", "bus_guideway", "construction", "cycleway", "motorway", "motorway_link",
        "motor", "no", "planned", "platform", "proposed", "raceway", "razed", "disused",
        "services", "rest_area", "elevator",
    }
)  # fmt: skip


_FOOT_YES = frozenset({"yes", "designated", "permissive", "official"})


def is_walkable(tags: dict[str, str]) -> bool:
    """True if an OSM way with these tags can be walked (osmnx's walk filter, on raw tags)."""
    highway = tags.get("highway")
    if highway is None or tags.get("area") == "yes":
        return False
    foot = tags.get("foot", "")
    if foot == "no":
        return False
    if foot in _FOOT_YES:
        return True
    if highway in _EXCLUDED_HIGHWAYS:
        return False
    return tags.get("access") != "private" and tags.get("service") != "private"


def open_osm(path: Path) -> Any:
    name = path.name.lower()
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


def is_pbf(path: Path) -> bool:
    return path.name.lower().endswith(".pbf")


def iter_osm(path: Path, *, nodes: bool = True, ways: bool = True) -> Iterator[tuple[str, Any]]:
    """Stream an OSM file: ``("n", (id, lon, lat))``, ``("w", refs)`` per walkable way and
    ``("h", None)`` per other highway way, in file order (nodes before ways, as OSM files are).

    Nodes are yielded wherever they are in the file (some exports, e.g. Overpass's
    ``out body; >; out skel qt;``, list ways first). ``.pbf`` needs pyosmium.
    """
    if is_pbf(path):
        yield from _iter_pbf(path, nodes=nodes, ways=ways)
        return
    try:
        with open_osm(path) as fh:
            root = None
            for event, elem in ET.iterparse(fh, events=("start", "end")):
                if event == "start":
                    root = elem if root is None else root
                    continue
                tag = elem.tag
                if tag in ("node", "way", "relation") and root is not None:
                    root.clear()  # cleared elements would otherwise stay in the root's list
                if tag == "node":
                    if nodes:
                        yield "n", (int(elem.get("id")), float(elem.get("lon")), float(elem.get("lat")))
                    elem.clear()
                elif tag in ("way", "relation"):
                    if ways and tag == "way":
                        tags = {t.get("k"): t.get("v") for t in elem.iter("tag")}
                        if "highway" in tags:
                            if is_walkable(tags):
                                yield "w", [int(nd.get("ref")) for nd in elem.iter("nd")]
                            else:
                                yield "h", None
                    elem.clear()
    except (ET.ParseError, OSError, EOFError, ValueError, TypeError) as exc:
        msg = f"{path}: not a readable OSM XML file ({exc})."
        raise NetworkError(msg) from exc


def _iter_pbf(path: Path, *, nodes: bool, ways: bool) -> Iterator[tuple[str, Any]]:
    try:
        import osmium
    except ImportError as exc:  # pragma: no cover - depends on the install
        msg = (
            f"{path}: reading .osm.pbf needs pyosmium (pip install 'planner[scale]' or pip install "
            f"osmium), or convert it: osmium cat {path.name} -o walk.osm.bz2."
        )
        raise NetworkError(msg) from exc
    if nodes and ways:
        entities = osmium.osm.NODE | osmium.osm.WAY
    else:
        entities = osmium.osm.NODE if nodes else osmium.osm.WAY
    try:
        obj: Any
        for obj in osmium.FileProcessor(str(path), entities):
            if obj.is_node():
                loc = obj.location
                yield "n", (obj.id, loc.lon, loc.lat)
            elif obj.is_way():
                tags = {t.k: t.v for t in obj.tags}
                if "highway" in tags:
                    if is_walkable(tags):
                        yield "w", [n.ref for n in obj.nodes]
                    else:
                        yield "h", None
    except RuntimeError as exc:
        msg = f"{path}: not a readable OSM PBF file ({exc}); check it with `osmium fileinfo {path.name}`."
        raise NetworkError(msg) from exc


def parse_osm(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Walkable segments of an OSM file: lon/lat per node, ids, u, v, haversine metres.

    Nodes are numbered by sorted OSM id and segments kept in file order; the per-tile reader
    of :mod:`planner.scale.store` relies on both.
    """
    coords: dict[int, tuple[float, float]] = {}
    ways: list[list[int]] = []
    n_ways = 0
    for kind, item in iter_osm(path):
        if kind == "n":
            coords[item[0]] = (item[1], item[2])
        else:
            n_ways += 1
            if kind == "w":
                ways.append(item)
    pairs = [(a, b) for w in ways for a, b in itertools.pairwise(w)]
    missing = sum(1 for a, b in pairs if a not in coords or b not in coords)
    pairs = [(a, b) for a, b in pairs if a in coords and b in coords]
    if not pairs:
        msg = f"{path} has no walkable streets ({n_ways} highway ways, none walkable or complete)."
        raise NetworkError(msg)
    if missing:
        logger.warning(
            "%s: skipped %d street segments whose nodes are not in the file (clipped extract)",
            path, missing,
        )  # fmt: skip
    used = np.unique(np.array(pairs, dtype=np.int64).ravel())
    pos = pd.Index(used)
    pa = np.array(pairs, dtype=np.int64)
    u = pos.get_indexer(pa[:, 0])
    v = pos.get_indexer(pa[:, 1])
    lonlat = np.array([coords[i] for i in used.tolist()], float)
    length = haversine_m(lonlat[u, 0], lonlat[u, 1], lonlat[v, 0], lonlat[v, 1])
    logger.info(
        "%s: %d walkable of %d highway ways, %d nodes, %d segments",
        path, len(ways), n_ways, len(used), len(pa),
    )  # fmt: skip
    return lonlat, used, u, v, length


def utm_crs(lonlat: np.ndarray) -> pyproj.CRS:
    lon, lat = np.nanmean(lonlat[:, 0]), np.nanmean(lonlat[:, 1])
    zone = int((lon + 180) // 6) + 1
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def project_xy(xy: np.ndarray, to_crs: pyproj.CRS, *, from_crs: Any = "EPSG:4326") -> np.ndarray:
    src = pyproj.CRS.from_user_input(from_crs)
    if src.equals(to_crs):
        return np.asarray(xy, float)
    tr = pyproj.Transformer.from_crs(src, to_crs, always_xy=True)
    x, y = tr.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_network_cache(
    cache_file: Path, xy: np.ndarray, ids: np.ndarray, u: np.ndarray, v: np.ndarray,
    length: np.ndarray, crs: pyproj.CRS,
) -> None:  # fmt: skip
    """Write a parsed network as ``.npz`` (no pickle), atomically."""
    with atomic_path(cache_file) as tmp:
        np.savez(tmp, xy=xy, ids=ids, u=u, v=v, length=length, crs=np.array(crs.to_wkt()))


def read_network_cache(cache_file: Path) -> tuple[Any, ...]:
    with np.load(cache_file, allow_pickle=False) as z:
        return (z["xy"], z["ids"], z["u"], z["v"], z["length"],
                pyproj.CRS.from_wkt(str(z["crs"])))  # fmt: skip


def read_street_names(path: str | os.PathLike[str], crs: Any) -> Any:
    """Named streets of an OSM file (XML, bz2/gz): one line per named ``highway`` way.

    The walk network keeps no names; this reads them once, streamed with the same parser,
    for telling where a proposed site is ("nearest named street").

    Parameters
    ----------
    path
        An ``.osm``/``.osm.bz2``/``.osm.gz`` file (``.pbf`` needs pyosmium).
    crs
        The CRS of the result (the study's metric CRS).

    Returns
    -------
    geopandas.GeoDataFrame
        ``name`` (the ``name`` tag, else ``name:zh``/``name:en``), LineString geometry in ``crs``.
    """
    import geopandas as gpd
    import shapely

    path = check_osm_path(path)
    coords: dict[int, tuple[float, float]] = {}
    named: list[tuple[str, list[int]]] = []
    for kind, item in _iter_named(path):
        if kind == "n":
            coords[item[0]] = (item[1], item[2])
        else:
            named.append(item)
    names, lines = [], []
    for name, refs in named:
        pts = [coords[r] for r in refs if r in coords]
        if len(pts) >= 2:
            names.append(name)
            lines.append(shapely.LineString(pts))
    logger.info("%s: %d named streets", path, len(names))
    gdf = gpd.GeoDataFrame({"name": names}, geometry=lines, crs="EPSG:4326")
    return gdf.to_crs(crs)


def _iter_named(path: Path) -> Iterator[tuple[str, Any]]:
    """``("n", (id, lon, lat))`` per node and ``("s", (name, refs))`` per named highway way."""
    if is_pbf(path):
        msg = f"{path}: street names are read from OSM XML (.osm, .osm.bz2); convert with osmium cat."
        raise NetworkError(msg)
    try:
        with open_osm(path) as fh:
            for _event, elem in ET.iterparse(fh, events=("end",)):
                tag = elem.tag
                if tag == "node":
                    yield "n", (int(elem.get("id")), float(elem.get("lon")), float(elem.get("lat")))
                elif tag == "way":
                    tags = {t.get("k"): t.get("v") for t in elem.iter("tag")}
                    name = tags.get("name") or tags.get("name:zh") or tags.get("name:en")
                    if "highway" in tags and name and name.strip():
                        yield "s", (name.strip(), [int(nd.get("ref")) for nd in elem.iter("nd")])
                if tag in ("node", "way", "relation"):
                    elem.clear()
    except (ET.ParseError, OSError, EOFError, ValueError, TypeError) as exc:
        msg = f"{path}: not a readable OSM XML file ({exc})."
        raise NetworkError(msg) from exc
