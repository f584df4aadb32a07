"""``planner map``: a self-contained HTML coverage map for officials."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from planner.cli.common import add_study_arguments, cli_lang, echo, study_from_args
from planner.errors import InputError
from planner.i18n import word
from planner.maps.builders import coverage_map, siting_map
from planner.maps.export import save_map
from planner.maps.runtime import TILE_PRESETS
from planner.pipeline import StudyResult, run_study
from planner.places import read_study_streets
from planner.scenario import Scenario, compare, read_added

SHOWCASE_COMMAND = "planner map --study data/las_palmas/study.toml --kinds eldercare,nursery --sites --out maps/showcase.html"


def register(subparsers: Any) -> None:
    """Add ``map`` to the CLI's subparsers.

    Parameters
    ----------
    subparsers
        What ``ArgumentParser.add_subparsers()`` returned.
    """
    p = subparsers.add_parser(
        "map",
        help="an offline HTML map of coverage (for officials)",
        description=(
            "Compute coverage for a study and write one self-contained HTML map: Leaflet is "
            "inlined and nothing is loaded from the internet unless --tiles is given."
        ),
    )
    add_study_arguments(p)
    p.add_argument("--out", type=Path, required=True, help="the HTML file to write, e.g. maps/city.html")
    p.add_argument("--title", help="map title (default: '15-minute walking coverage')")
    p.add_argument("--tiles", help="XYZ tile URL of a basemap, e.g. an intranet server, or 'tianditu' "
                                   "(your key in $TIANDITU_KEY, never written into the map) (default: none)")  # fmt: skip
    p.add_argument("--tiles-attribution", help="credit shown for --tiles (required with it)")
    p.add_argument("--no-service-areas", action="store_true", help="leave out the facilities' walk areas")
    p.add_argument(
        "--sites", nargs="?", const=True, default=None, metavar="FILE",
        help="draw proposed sites: alone, solve the study's [siting] table; with a FILE, draw that siting "
             "output or planned-facility list (kind, name, optional year) in build order",
    )  # fmt: skip
    p.add_argument("--max-vector-cells", type=int,
                   help="above this many cells, draw walking times as an image (default 20000)")  # fmt: skip
    p.set_defaults(func=run_map_command)


def map_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``[map]`` fields given on the command line."""
    given = {"title": args.title, "tiles": args.tiles, "tiles_attribution": args.tiles_attribution,
             "max_vector_cells": args.max_vector_cells, "sites": True if args.sites is True else None,
             "service_areas": False if args.no_service_areas else None}  # fmt: skip
    return {k: v for k, v in given.items() if v is not None}


def run_map_command(args: argparse.Namespace) -> int:
    """Run ``planner map``: read the study, compute coverage (and its sites), write the map.

    Parameters
    ----------
    args
        Parsed arguments of the ``map`` subcommand.

    Returns
    -------
    int
        The exit code (0).
    """
    if args.out.suffix.lower() not in (".html", ".htm"):
        msg = f"--out must be an .html file; got {args.out}."
        raise InputError(msg)
    study = study_from_args(args)
    study = study.override(map=map_overrides(args))
    preset = TILE_PRESETS.get(study.map.tiles or "")
    if preset is not None and not os.environ.get(preset.key_env):  # checked before anything is computed
        msg = (f"--tiles {study.map.tiles} needs your key in the environment variable {preset.key_env} "
               f"(get one at {preset.signup}); it is never written into the map.")  # fmt: skip
        zh = f"--tiles {study.map.tiles} 需要您的天地图密钥，请放在环境变量 {preset.key_env} 中（申请：{preset.signup}）；密钥不会写入地图文件。"
        raise InputError(msg, zh=zh)
    if study.map.sites and study.siting is None:
        msg = "--sites needs a [siting] table in the study file (kind, new, model); see data/las_palmas/study.toml."
        raise InputError(msg)
    result = run_study(study, use_cache=not args.no_cache, siting=study.map.sites,
                       targets=False)  # fmt: skip
    m = study_map(result)
    if isinstance(args.sites, Path | str) and args.sites is not True:
        m = planned_sites_map(m, result, Path(args.sites))
    path = save_map(m, args.out)
    lang = cli_lang(args)
    echo(
        args,
        f"{word('wrote', lang)} {path} ({path.stat().st_size / 1e6:.2f} MB; {_loads(study.map.tiles, path, lang)})",
    )
    return 0


def _loads(tiles: str | None, path: Path, lang: str) -> str:
    """What the page loads when it opens: nothing, a tile server, or a keyed preset (and how to open it)."""
    zh = lang == "zh"
    if not tiles:
        return "离线打开" if zh else "opens offline"
    if tiles not in TILE_PRESETS:
        host = urlsplit(tiles).netloc or ("文件旁的目录" if zh else "a path beside the file")
        return f"打开时从 {host} 加载底图" if zh else f"loads basemap tiles from {host} when opened"
    preset = TILE_PRESETS[tiles]
    # the key only on the user's own terminal, never in a log file or the map
    key = os.environ[preset.key_env] if sys.stdout.isatty() else f"${preset.key_env}"
    link = f"{path.resolve().as_uri()}#{preset.key_param}={key}"
    if zh:
        return f"用您的密钥加载{tiles}底图，密钥不在文件中；请打开 {link}"
    return f"loads {tiles} tiles with your key, which is not in the file: open {link}"


def study_map(result: StudyResult) -> Any:
    """The coverage map of a study run, with its proposed sites when it has them."""
    study, settings = result.study, result.study.map
    try:
        m = coverage_map(
            result.coverage, result.network, districts=result.districts, boundary=result.inputs.boundary,
            lang=study.lang, title=settings.title, tiles=settings.tiles, tiles_attribution=settings.tiles_attribution,
            service_areas=settings.service_areas, max_vector_cells=settings.max_vector_cells,
            place=study.name, data_date=settings.data_date, population_note=settings.population_note,
        )  # fmt: skip
    except ValueError as exc:  # bad tiles URL and the like: a one-line message
        raise InputError(str(exc)) from exc
    if result.siting is not None:
        m = siting_map(
            result.siting, result.network, coverage=result.coverage, lang=study.lang,
            service_areas=settings.service_areas, streets=read_study_streets(study.network_path, result.network.crs),
            m=m,
        )  # fmt: skip
    return m


def planned_sites_map(m: Any, result: StudyResult, path: Path) -> Any:
    """Draw the facilities of a siting output or a planned-facility file on ``m``, in build order."""
    study = result.study
    options = {k: v for k, v in study.facilities_options.items() if k in ("coord_system", "encoding")}
    added = read_added(path, kinds=study.kinds, crs=result.network.crs, **options)
    comparison = compare(result, Scenario(added=added, name=path.stem))
    streets = read_study_streets(study.network_path, result.network.crs)
    planned = "rank" not in added.columns  # a plan, not a planner site output
    for layer in comparison.site_layers():
        m = siting_map(layer, result.network, coverage=result.coverage, lang=study.lang,
                       service_areas=study.map.service_areas, streets=streets, planned=planned, m=m)  # fmt: skip
    return m
