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


#: Longest run of bytes with no ``>`` in an OSM XML file: a tag or text this long is not OSM (a
#: bomb of whitespace, or one huge attribute that expat 2.5 would re-parse quadratically).
MAX_TOKEN_BYTES = 1 << 20
#: A compressed OSM file may expand to this many times its size (XML compresses 10-25 times) …
MAX_EXPANSION = 100
#: … or to this many bytes, whichever is more.
MIN_EXPANDED_BYTES = 64 << 20
#: Longest walkable segment: a node thousands of km off makes a street longer than this.
MAX_SEGMENT_M = 50_000.0


class _Guarded:
    """A binary stream that stops a decompression bomb or a giant token with a clear error."""

    def __init__(self, raw: Any, path: Path, *, limit_bytes: float) -> None:
        self.raw, self.path, self.limit = raw, path, limit_bytes
        self.total = 0
        self.since_gt = 0

    def read(self, n: int = -1) -> bytes:
        chunk = self.raw.read(n if n and n > 0 else 1 << 16)
        self.total += len(chunk)
        if self.total > self.limit:
            msg = (
                f"{self.path}: expands to more than {self.limit / 2**20:,.0f} MB ({MAX_EXPANSION}× the "
                "compressed file): not an OSM extract (a decompression bomb?). Check the file."
            )
            raise NetworkError(msg)
        gt = chunk.rfind(b">")
        self.since_gt = len(chunk) - gt - 1 if gt >= 0 else self.since_gt + len(chunk)
        if self.since_gt > MAX_TOKEN_BYTES:
            msg = (
                f"{self.path}: more than {MAX_TOKEN_BYTES >> 20} MB without an XML tag ending (a huge "
                "attribute, text or whitespace): not an OSM file. Check the file."
            )
            raise NetworkError(msg)
        return bytes(chunk)

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> _Guarded:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_osm(path: Path) -> Any:
    """A binary stream of an OSM XML file (``.bz2``/``.gz`` decompressed), bounded in size and token length."""
    name = path.name.lower()
    size = path.stat().st_size
    # the streams are closed by the _Guarded context manager the caller opens
    if name.endswith(".bz2"):
        raw: Any = bz2.open(path, "rb")  # noqa: SIM115
    elif name.endswith(".gz"):
        raw = gzip.open(path, "rb")  # noqa: SIM115
    else:
        return _Guarded(path.open("rb"), path, limit_bytes=float("inf"))
    return _Guarded(raw, path, limit_bytes=max(MAX_EXPANSION * size, MIN_EXPANDED_BYTES))


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
                        yield "n", _node(elem, path)
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


def _node(elem: Any, path: Path) -> tuple[int, float, float]:
    """``(id, lon, lat)`` of a node element; coordinates outside lon ±180 / lat ±90 are an error."""
    node_id, lon, lat = int(elem.get("id")), float(elem.get("lon")), float(elem.get("lat"))
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):  # also false for NaN
        msg = f"{path}: node {node_id} has lon={lon!r}, lat={lat!r}, outside lon -180..180 / lat -90..90."
        raise NetworkError(msg)
    return node_id, lon, lat


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
                if not loc.valid():
                    msg = f"{path}: node {obj.id} has no valid location."
                    raise NetworkError(msg)
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
    check_segments(path, length, used[u], used[v])
    logger.info(
        "%s: %d walkable of %d highway ways, %d nodes, %d segments",
        path, len(ways), n_ways, len(used), len(pa),
    )  # fmt: skip
    return lonlat, used, u, v, length


def check_segments(path: Path, length_m: np.ndarray, a_id: np.ndarray, b_id: np.ndarray) -> None:
    """A walkable segment longer than :data:`MAX_SEGMENT_M` means a node with wrong coordinates."""
    long = np.flatnonzero(length_m > MAX_SEGMENT_M)
    if len(long):
        i = long[np.argmax(length_m[long])]
        msg = (
            f"{path}: the street segment from node {a_id[i]} to node {b_id[i]} is {length_m[i] / 1000:,.0f} km "
            f"long ({len(long)} segments over {MAX_SEGMENT_M / 1000:g} km): a node has wrong coordinates. "
            "Fix or remove it."
        )
        raise NetworkError(msg)


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
