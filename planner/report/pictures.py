"""Static map pictures for the report: walking-time classes, facilities and sites, drawn by matplotlib.

A picture is a PNG made by matplotlib's Agg backend (no browser, no tiles, nothing remote), so
the report has its maps whether or not Chromium is installed, and the PDF prints them sharp.
Text in a picture is planner's own (legend, scale); names from the data are not drawn, so no
user text reaches matplotlib's parser.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np

from planner.coverage import Coverage
from planner.kinds import KIND
from planner.maps.style import BLANK_COLOUR, DISTRICT_COLOUR, SITE_COLOUR, kind_colour, time_colours

logger = logging.getLogger(__name__)

#: Fonts tried in order, so that Chinese legends render (Debian: fonts-wqy-microhei).
CJK_FONTS = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "SimHei",
             "PingFang SC", "DejaVu Sans"]  # fmt: skip

_LEGEND = {
    "en": {"first": "0–{b} min", "mid": "{a}–{b} min", "last": "over {a} min: blank zone",
           "facilities": "facilities", "sites": "{what} (build order)", "districts": "districts", "km": "km"},
    "zh": {"first": "0–{b} 分钟", "mid": "{a}–{b} 分钟", "last": "超过 {a} 分钟：服务空白",
           "facilities": "现有设施", "sites": "{what}（建设顺序）", "districts": "街道/片区", "km": "公里"},
}  # fmt: skip


def _plain(text: str) -> str:
    """Text that matplotlib shows as it is (``$`` would start mathtext)."""
    return text.replace("\\", "\\\\").replace("$", r"\$")


def map_picture(
    coverage: Coverage,
    kind: str,
    *,
    districts: gpd.GeoDataFrame | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    sites: gpd.GeoDataFrame | None = None,
    sites_label: str = "",
    title: str = "",
    lang: str = "en",
    size_in: tuple[float, float] = (7.5, 5.4),
    dpi: int = 160,
) -> bytes:
    """A PNG of one kind's walking-time classes, its facilities, districts and (numbered) sites.

    Parameters
    ----------
    coverage
        The coverage to draw (today's, or the one after the sites).
    kind
        The kind.
    districts, boundary
        Outlines.
    sites
        Sites to draw as numbered diamonds (``rank``).
    sites_label
        The legend's words for the sites ("proposed sites").
    title
        A heading in the picture (planner's own words).
    lang
        ``"en"`` or ``"zh"`` (legend).
    size_in, dpi
        Size in inches and resolution.

    Returns
    -------
    bytes
        The PNG.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    k = coverage.kinds[kind]
    edges = [float(t) for t in coverage.thresholds_min if t <= k.threshold_min] or [k.threshold_min]
    colours = time_colours(len(edges) + 1)
    minutes = coverage.minutes[kind].to_numpy(float)
    cls = (minutes[:, None] > np.array(edges)[None, :]).sum(axis=1)
    words = _LEGEND[lang]
    with warnings.catch_warnings(), matplotlib.rc_context({"font.sans-serif": CJK_FONTS, "font.family": "sans-serif",
                                                            "axes.unicode_minus": False}):  # fmt: skip
        warnings.simplefilter("ignore")  # a missing CJK glyph is a warning, not a failure
        fonts_log = logging.getLogger("matplotlib.font_manager")
        level = fonts_log.level
        fonts_log.setLevel(logging.ERROR)  # "findfont: … weight bold" for a one-weight CJK font
        fig, ax = plt.subplots(figsize=size_in, dpi=dpi)
        try:
            pop = coverage.population
            pop.plot(ax=ax, color=[colours[c] for c in cls], alpha=0.8, linewidth=0)
            if districts is not None and len(districts):
                districts.to_crs(pop.crs).boundary.plot(ax=ax, color=DISTRICT_COLOUR, linewidth=0.6)
            if boundary is not None and len(boundary):
                boundary.to_crs(pop.crs).boundary.plot(ax=ax, color="#212121", linewidth=1.0, linestyle="--")
            fac = coverage.facilities
            fac = fac[fac[KIND] == kind].to_crs(pop.crs) if len(fac) else fac
            colour = kind_colour(kind, list(coverage.kinds).index(kind))
            if len(fac):
                ax.scatter(
                    fac.geometry.x,
                    fac.geometry.y,
                    s=30,
                    c=colour,
                    edgecolors="white",
                    linewidths=1.0,
                    zorder=5,
                )
            if sites is not None and len(sites):
                s = sites.to_crs(pop.crs)
                ax.scatter(s.geometry.x, s.geometry.y, s=150, marker="D", c=SITE_COLOUR, edgecolors="#111111",
                           linewidths=1.2, zorder=6)  # fmt: skip
                for x, y, r in zip(s.geometry.x, s.geometry.y, s["rank"], strict=True):
                    ax.text(
                        x,
                        y,
                        _plain(str(int(r))),
                        ha="center",
                        va="center",
                        fontsize=7,
                        fontweight="bold",
                        zorder=7,
                    )
            handles: list[Any] = [Patch(color=colours[0], label=words["first"].format(b=f"{edges[0]:g}"))]
            handles += [Patch(color=colours[i], label=words["mid"].format(a=f"{edges[i - 1]:g}", b=f"{edges[i]:g}"))
                        for i in range(1, len(edges))]  # fmt: skip
            handles.append(Patch(color=BLANK_COLOUR, label=words["last"].format(a=f"{edges[-1]:g}")))
            handles.append(Line2D([], [], marker="o", ls="", color=colour, markeredgecolor="white",
                                  label=_plain(words["facilities"])))  # fmt: skip
            if sites is not None and len(sites):
                handles.append(Line2D([], [], marker="D", ls="", color=SITE_COLOUR, markeredgecolor="#111111",
                                      label=_plain(words["sites"].format(what=sites_label))))  # fmt: skip
            ax.legend(
                handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False
            )
            _scale_bar(ax, words["km"])
            if title:
                ax.set_title(_plain(title), fontsize=10)
            ax.set_axis_off()
            ax.set_aspect("equal")
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=dpi)
        finally:
            plt.close(fig)
            fonts_log.setLevel(level)
    return buf.getvalue()


def _scale_bar(ax: Any, km: str) -> None:
    """A 1 km (or 500 m) bar below the map's lower right corner (the axes are in metres)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    ax.set_ylim(y0 - (y1 - y0) * 0.08, y1)  # a margin below the map for the bar
    length = 1000.0 if (x1 - x0) > 3000 else 500.0
    x, y = x1 - length, y0 - (y1 - y0) * 0.06
    ax.plot([x, x + length], [y, y], color="#111111", linewidth=2.5)
    label = f"{length / 1000:g} {km}"
    ax.text(x + length / 2, y + (y1 - y0) * 0.015, label, ha="center", va="bottom", fontsize=7)


def kind_pictures(
    before: Coverage,
    kinds: Sequence[str],
    *,
    after: Coverage | None = None,
    sites: gpd.GeoDataFrame | None = None,
    districts: gpd.GeoDataFrame | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    titles: dict[str, tuple[str, str]],
    sites_label: str = "",
    lang: str = "en",
) -> list[tuple[str, bytes]]:
    """Per kind: today's picture, and the one after its sites when it has any.

    Parameters
    ----------
    before, after
        Coverage today and after the sites.
    kinds
        Kinds to draw.
    sites
        The added sites (``kind``, ``rank``).
    districts, boundary
        Outlines.
    titles
        Per kind, the (today, after) headings.
    sites_label
        Legend words for the sites.
    lang
        ``"en"`` or ``"zh"``.

    Returns
    -------
    list of (caption, PNG bytes)
    """
    out = []
    for kind in kinds:
        today, later = titles[kind]
        out.append(
            (today, map_picture(before, kind, districts=districts, boundary=boundary, title=today, lang=lang))
        )
        mine = sites[sites[KIND] == kind] if sites is not None and len(sites) else None
        if after is not None and mine is not None and len(mine):
            out.append((later, map_picture(after, kind, districts=districts, boundary=boundary, sites=mine,
                                           sites_label=sites_label, title=later, lang=lang)))  # fmt: skip
    return out
