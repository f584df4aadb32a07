"""What every subcommand shares: the study arguments, the study built from them, progress, printing."""

from __future__ import annotations

import argparse
import logging
import sys
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from planner.errors import PlannerError
from planner.i18n import word
from planner.kinds import MAX_MINUTES
from planner.study import StudyArea

logger = logging.getLogger("planner")


def floats(text: str) -> tuple[float, ...]:
    """``5,10,15`` → ``(5.0, 10.0, 15.0)`` for argparse (positive, finite numbers only)."""
    try:
        values = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        msg = f"expected comma-separated numbers like 5,10,15; got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not values or not all(0 < v <= MAX_MINUTES for v in values):
        msg = f"expected minutes in (0, {MAX_MINUTES:g}]; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return values


def positive(text: str) -> float:
    """A positive, finite number for argparse (``nan``, ``inf``, 0 and negatives refused)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        msg = f"expected a positive number; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def shares(text: str) -> dict[str, float]:
    """``age_60_plus=0.25,age_0_3=0.03`` → a dict of shares in 0..1, for argparse."""
    out = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        try:
            share = float(value)
        except ValueError:
            msg = f"expected column=share pairs like age_60_plus=0.25,age_0_3=0.03; got {text!r}"
            raise argparse.ArgumentTypeError(msg) from None
        if not 0 <= share <= 1:
            msg = f"a share must be between 0 and 1; got {key.strip()}={value}"
            raise argparse.ArgumentTypeError(msg)
        out[key.strip()] = share
    return out


class Steps:
    """A progress bar over pipeline steps, on a terminal only."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="step", leave=False, delay=1.0)

    def step(self, text: str) -> None:
        """Start the next step."""
        logger.info(text)
        if self.bar is not None:
            self.bar.set_description(text)
            self.bar.update(1)

    def close(self) -> None:
        """Remove the bar."""
        if self.bar is not None:
            self.bar.close()


def add_study_arguments(p: argparse.ArgumentParser, *, study_required: bool = False) -> None:
    """Inputs shared by the commands that load a study: --study or the three files, and overrides."""
    if study_required:
        p.add_argument("study", type=Path, help="study.toml describing the analysis")
    else:
        p.add_argument("--study", type=Path, help="study.toml giving kinds, shares and defaults")
    p.add_argument(
        "--network", type=Path, help="walk network: .osm, .osm.bz2, .osm.pbf (needs pyosmium) or .graphml"
    )
    p.add_argument("--population", type=Path, help="population grid (gpkg/geojson/parquet/csv)")
    p.add_argument("--facilities", type=Path, help="facilities (csv lon/lat, geojson, gpkg, parquet)")
    p.add_argument("--minutes", type=floats, help="thresholds in minutes, e.g. 5,10,15")
    p.add_argument("--speed-kmh", type=positive, help="walking speed for every kind (km/h)")
    p.add_argument("--kinds", help="comma-separated kinds to measure (default: all)")
    p.add_argument("--kind-column", help="facilities column holding the kind (default 'kind')")
    p.add_argument("--age-shares", type=shares, help="e.g. age_60_plus=0.25,age_0_3=0.03,age_0_17=0.16")
    p.add_argument("--max-snap-m", type=positive, help="farthest a point may be from a street (m)")
    p.add_argument("--assume-crs", help="CRS for input files that declare none, e.g. EPSG:4326")
    datums = "wgs84, cgcs2000, gcj02 (Amap/Tencent), bd09 (Baidu) or an EPSG code"
    p.add_argument("--facilities-coord-system", help=f"datum of the facilities' coordinates: {datums}")
    p.add_argument("--population-coord-system", help=f"datum of a lon/lat population table: {datums}")
    p.add_argument(
        "--coord-system",
        dest="facilities_coord_system",
        help="the same as --facilities-coord-system (a datum belongs to one layer, never to all)",
    )
    p.add_argument(
        "--encoding",
        help="text encoding of CSV/shapefile inputs, e.g. gbk "
        "(default: UTF-8, else GBK; shapefiles honour .cpg)",
    )
    p.add_argument("--lon-col", help="longitude column of CSV/Excel inputs (e.g. 经度)")
    p.add_argument("--lat-col", help="latitude column of CSV/Excel inputs (e.g. 纬度)")
    p.add_argument("--name-col", help="facilities column holding the name (e.g. 名称)")
    p.add_argument(
        "--lang", choices=("en", "zh"), help="language of tables and maps (default: the study's, else en)"
    )
    p.add_argument("--cache-dir", type=Path, help="network cache folder")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the network cache")


def base_study(args: argparse.Namespace) -> StudyArea:
    """The study of ``--study``, or one made of ``--network/--population/--facilities``."""
    study_path = getattr(args, "study", None)
    if study_path is not None:
        return StudyArea.from_toml(study_path)
    missing = [f"--{n}" for n in ("network", "population", "facilities") if getattr(args, n, None) is None]
    if missing:
        msg = f"give --study study.toml, or all of --network, --population, --facilities (missing {', '.join(missing)})."
        raise PlannerError(msg)
    return StudyArea(name="planner", network_path=args.network, population_path=args.population,
                     facilities_path=args.facilities)  # fmt: skip


def study_from_args(args: argparse.Namespace, *, siting: bool = True) -> StudyArea:
    """The study with every command-line override applied (the CLI's only study logic).

    ``siting=False``: the study's ``[siting]`` table is left out (a command that does not site).
    """
    study = base_study(args)
    if not siting:
        study = study.override(siting=None)
    changes: dict[str, Any] = {}
    for name in ("network", "population", "facilities"):
        if getattr(args, name, None) is not None:
            changes[f"{name}_path"] = getattr(args, name)
    if getattr(args, "minutes", None):
        changes["thresholds_min"] = tuple(args.minutes)
    if getattr(args, "max_snap_m", None) is not None:
        changes["max_snap_m"] = args.max_snap_m
    if getattr(args, "cache_dir", None) is not None:
        changes["cache_dir"] = args.cache_dir
    if getattr(args, "lang", None):
        changes["lang"] = args.lang
    if getattr(args, "age_shares", None):
        changes["age_shares"] = {**(study.age_shares or {}), **args.age_shares}
        changes["age_source"] = "--age-shares"
    changes["facilities_options"], changes["population_options"] = _reader_options(args, study, changes)
    study = study.override(**changes)
    args.lang_used = study.lang  # the language of this command's messages
    if getattr(args, "kinds", None):
        study = study.select_kinds([k.strip() for k in args.kinds.split(",") if k.strip()])
    if getattr(args, "speed_kmh", None) is not None:
        study = study.override(
            kinds={k: replace(v, speed_kmh=args.speed_kmh) for k, v in study.kinds.items()}
        )
    return study


def _reader_options(
    args: argparse.Namespace, study: StudyArea, changes: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Facility and population reader options from the command line over the study's."""
    fac, pop = dict(study.facilities_options), dict(study.population_options)
    if getattr(args, "kind_column", None):
        fac["kind_column"] = args.kind_column
    if getattr(args, "assume_crs", None):
        fac["assume_crs"] = pop["assume_crs"] = args.assume_crs
    # the datum belongs to each layer: never implied from one layer to another
    if getattr(args, "facilities_coord_system", None):
        fac["coord_system"] = args.facilities_coord_system
    if getattr(args, "population_coord_system", None):
        pop["coord_system"] = args.population_coord_system
    if getattr(args, "encoding", None):
        fac["encoding"] = pop["encoding"] = args.encoding
    if getattr(args, "lon_col", None):
        fac["lon_column"] = pop["lon_column"] = args.lon_col
    if getattr(args, "lat_col", None):
        fac["lat_column"] = pop["lat_column"] = args.lat_col
    if getattr(args, "name_col", None):
        fac["name_column"] = args.name_col
    return fac, pop


def quiet(args: argparse.Namespace) -> bool:
    """Whether ``-q`` was given."""
    return bool(getattr(args, "quiet", False))


def echo(args: argparse.Namespace, text: str) -> None:
    """Print to stdout unless ``-q``."""
    if not quiet(args):
        print(text)


def wrote(args: argparse.Namespace, paths: list[Path]) -> None:
    """Print the files written, unless ``-q``."""
    echo(args, word("wrote", cli_lang(args)) + " " + ", ".join(str(p) for p in paths))


def cli_lang(args: argparse.Namespace) -> str:
    """The language of the command's messages: ``--lang``, else the study's ``lang``, else English.

    The study file is peeked at (its ``lang`` only) when the study itself could not be read, so
    that an error in a Chinese study is reported in Chinese.
    """
    lang = getattr(args, "lang", None) or getattr(args, "lang_used", None)
    if lang:
        return str(lang)
    path = getattr(args, "study", None)
    try:
        peeked = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("lang") if path else None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        peeked = None
    return peeked if peeked in ("en", "zh") else "en"
