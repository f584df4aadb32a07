"""The ``planner map`` subcommand: a self-contained HTML coverage map for officials."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SHOWCASE_COMMAND = (
    "planner map --study data/las_palmas/study.toml --kinds eldercare,nursery --sites --out maps/showcase.html"
)


def add_map_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``planner map`` on the CLI's subparsers.

    Parameters
    ----------
    subparsers
        What ``ArgumentParser.add_subparsers()`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The ``map`` subparser (its ``func`` default is :func:`run_map_command`).
    """
    from planner.cli import add_study_arguments

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
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="label language (default en)")
    p.add_argument("--title", help="map title (default: '15-minute walking coverage')")
    p.add_argument("--tiles", help="XYZ tile URL of a basemap, e.g. an intranet server (default: none)")
    p.add_argument("--tiles-attribution", help="credit shown for --tiles (required with it)")
    p.add_argument("--no-service-areas", action="store_true", help="leave out the facilities' walk areas")
    p.add_argument("--sites", action="store_true",
                   help="also solve the study's [siting] table and draw the proposed sites (rank, gain)")
    p.add_argument(
        "--max-vector-cells", type=int, default=20_000,
        help="above this many cells, draw walking times as an image (default 20000)",
    )  # fmt: skip
    p.set_defaults(func=run_map_command)
    return p


def run_map_command(args: argparse.Namespace) -> int:
    """Run ``planner map``: read the study, compute coverage, write the map.

    Parameters
    ----------
    args
        Parsed arguments of the ``map`` subcommand.

    Returns
    -------
    int
        The exit code (0).
    """
    from planner.cli import load_inputs
    from planner.coverage import compute_coverage
    from planner.errors import InputError
    from planner.maps import coverage_map, save_map

    if args.tiles and not args.tiles_attribution:
        msg = "--tiles needs --tiles-attribution (the basemap's credit, shown on the map)."
        raise InputError(msg)
    if args.out.suffix.lower() not in (".html", ".htm"):
        msg = f"--out must be an .html file; got {args.out}."
        raise InputError(msg)
    study, network, population, facilities, districts = load_inputs(args)
    coverage = compute_coverage(
        network, population, facilities, kinds=study.kinds, thresholds_min=study.thresholds_min,
        max_snap_m=study.max_snap_m, districts=districts,
    )  # fmt: skip
    try:
        m = coverage_map(
            coverage, network, districts=districts, boundary=study.read_boundary(), lang=args.lang,
            title=args.title or None, tiles=args.tiles, tiles_attribution=args.tiles_attribution,
            service_areas=not args.no_service_areas, max_vector_cells=args.max_vector_cells,
        )  # fmt: skip
    except ValueError as exc:  # bad tiles URL and the like: a one-line message
        raise InputError(str(exc)) from exc
    if args.sites:
        m = _add_proposed_sites(m, args, study, network, population, facilities, districts)
    path = save_map(m, args.out)
    if not getattr(args, "quiet", False):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB; opens offline)")
    return 0


def _add_proposed_sites(m: Any, args: argparse.Namespace, study: Any, network: Any, population: Any,
                        facilities: Any, districts: Any) -> Any:  # fmt: skip
    """Solve the study's ``[siting]`` table and draw its proposals on ``m``."""
    from pathlib import Path

    from planner._cli_site import _settings, site_from_settings
    from planner.errors import InputError
    from planner.maps import siting_map

    if "siting" not in (study.config or {}):
        msg = "--sites needs a [siting] table in the study file (kind, new, model); see data/las_palmas/study.toml."
        raise InputError(msg)
    base = Path(args.study).resolve().parent if getattr(args, "study", None) else Path.cwd()
    settings = _settings(argparse.Namespace(), study.config, base)
    _, result = site_from_settings(settings, study=study, network=network, population=population,
                                   facilities=facilities, districts=districts)  # fmt: skip
    return siting_map(result, network, lang=args.lang, service_areas=not args.no_service_areas, m=m)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m planner._cli_map ...``: the map command on its own (same options)."""
    from planner.errors import PlannerError

    parser = argparse.ArgumentParser(prog="planner")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    add_map_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["map", *(argv if argv is not None else sys.argv[1:])])
    try:
        return int(args.func(args))
    except PlannerError as exc:
        print(f"planner: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
