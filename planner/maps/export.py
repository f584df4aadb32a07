"""Saving maps: one self-contained HTML page (Leaflet inlined, nothing remote), and inline notebook frames."""

from __future__ import annotations

import contextlib
import html as html_lib
import logging
import re
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import folium
from branca.element import Figure

from planner.io.write import atomic_path
from planner.maps.runtime import basemap, inline_assets

logger = logging.getLogger(__name__)

# folium's own CDN assets (leaflet, jquery, bootstrap, awesome-markers and their CSS): offline
# pages leave them out, as planner's layers need only Leaflet, which is inlined.
_FOLIUM_URLS = frozenset(url for _, url in (*folium.Map.default_js, *folium.Map.default_css))
_REMOTE = re.compile(
    r"""<(?:script|link|img|iframe|source|embed|object)\b[^>]*?\b(?:src|href|data)\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//|@import""",
    re.IGNORECASE,
)
_ASSET_TAG = re.compile(
    r"""<script\b[^>]*\bsrc="([^"]+)"[^>]*>\s*</script>|<link\b[^>]*\bhref="([^"]+)"[^>]*>"""
)
_CHARSET = re.compile(r"<meta\b[^>]*charset[^>]*>", re.IGNORECASE)


@contextlib.contextmanager
def _restored(figure: Figure) -> Iterator[None]:
    """Undo what rendering adds to the page, so a map renders the same however often.

    folium's layer control adds a script per shown layer on every render. branca has no public
    way to remove children, so this is the one place where planner touches its ``_children``.
    """
    saved = {part: OrderedDict(getattr(figure, part)._children) for part in ("header", "html", "script")}
    try:
        yield
    finally:
        for part, children in saved.items():
            getattr(figure, part)._children = children


def _offline_page(page: str) -> str:
    """folium's page with its CDN tags removed and Leaflet inlined after the charset ``<meta>``."""

    def drop(mo: re.Match[str]) -> str:
        return "" if (mo.group(1) or mo.group(2)) in _FOLIUM_URLS else mo.group(0)

    page = _ASSET_TAG.sub(drop, page)
    remote = sorted({mo.group(0) for mo in _REMOTE.finditer(page)})
    if remote:
        msg = (
            "these map elements load files from the internet and cannot be saved offline: "
            + "; ".join(remote[:5]) + ". Remove them or save with offline=False."
        )  # fmt: skip
        raise ValueError(msg)
    for needle, what in (("$(", "jQuery (folium Popup, or another folium element)"),
                         ("L.AwesomeMarkers", "awesome-markers (folium Icon)")):  # fmt: skip
        if needle in page:
            msg = (
                f"the map uses {what}, which planner does not inline; use planner's layers, "
                "or save with offline=False."
            )
            raise ValueError(msg)
    style, script = inline_assets()
    # the charset <meta> must stay within the first 1024 bytes, before the inlined assets
    meta = _CHARSET.search(page)
    at = meta.end() if meta else page.index("<head>") + len("<head>")
    return page[:at] + "\n" + style + "\n" + script + "\n" + page[at:]


def map_html(m: folium.Map, *, offline: bool = True) -> str:
    """The whole HTML page of a map, as saved by :func:`save_map`.

    Parameters
    ----------
    m
        The map.
    offline
        Inline Leaflet (vendored in planner) instead of folium's CDN links, so that the page
        loads nothing from the internet. Elements that need other web files (folium plugins,
        folium ``Popup``/``Icon``, which need jQuery or Font Awesome) are an error.

    Returns
    -------
    str
    """
    figure = m.get_root()
    if not isinstance(figure, Figure):
        msg = "the map is not in a Figure; create it with folium.Map(...)."
        raise TypeError(msg)
    with _restored(figure):
        page = figure.render()
    if not offline:
        return page
    tiles = basemap(m)
    if tiles:
        logger.info("offline map keeps the basemap %s (loaded when the map opens)", tiles)
    return _offline_page(page)


def save_map(m: folium.Map, path: str | Path, *, offline: bool = True) -> Path:
    """Write a map as one self-contained HTML file (atomically).

    Parameters
    ----------
    m
        The map, e.g. from :func:`~planner.maps.builders.coverage_map`.
    path
        Target ``.html`` file; folders are created.
    offline
        Inline Leaflet so that the file makes no internet request (see :func:`map_html`).

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    page = map_html(m, offline=offline)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    logger.info("wrote map %s (%.2f MB)", path, path.stat().st_size / 1e6)
    return path


class OfflineMap:
    """A map shown in Jupyter from an inline page (no CDN), as officials will see it."""

    def __init__(self, m: folium.Map, *, height_px: int = 520) -> None:
        self.m = m
        self.height_px = int(height_px)

    def _repr_html_(self) -> str:
        page = map_html(self.m, offline=True)
        # the whole page goes into srcdoc, attribute-escaped; its own content is escaped already.
        # sandbox: the map's scripts run, but in an origin of their own, away from the notebook's page
        return (
            f'<iframe srcdoc="{html_lib.escape(page, quote=True)}" '
            f'style="width:100%;height:{self.height_px}px;border:1px solid #ccc" sandbox="allow-scripts"></iframe>'
        )


def show_map(m: folium.Map, *, height_px: int = 520) -> OfflineMap:
    """Display a map inline in a notebook without loading anything from the internet.

    Parameters
    ----------
    m
        A map from :func:`~planner.maps.builders.coverage_map` or :func:`~planner.maps.builders.siting_map`.
    height_px
        Height of the frame in pixels.

    Returns
    -------
    OfflineMap
        Jupyter renders it as an iframe holding the offline page of :func:`map_html`.
    """
    return OfflineMap(m, height_px=height_px)
