"""The one escape function family for every string that reaches generated HTML, JavaScript or a spreadsheet cell."""

from __future__ import annotations

import json
import math
from typing import Any

# ``&`` first, so that the entities added afterwards are not escaped twice.
_HTML = (
    ("&", "&amp;"),
    ("<", "&lt;"),
    (">", "&gt;"),
    ('"', "&quot;"),
    ("'", "&#x27;"),
    # folium (and anything else that builds JS template literals) would run `${...}` and could
    # be broken out of with a backtick; a backslash could escape the closing quote.
    ("`", "&#96;"),
    ("$", "&#36;"),
    ("\\", "&#92;"),
    # line and paragraph separators end a line in older JS engines
    ("\u2028", "&#8232;"),
    ("\u2029", "&#8233;"),
)


def escape_html(value: Any) -> str:
    """Text → HTML that displays exactly that text, safe in HTML, attributes and JS strings.

    HTML-escapes ``& < > " '`` and also encodes backtick, ``$`` and backslash as entities, so
    the result cannot end a JS template literal or run ``${...}`` when a library pastes it
    into one (folium's popups and tooltips do). ``None`` and NaN give ``""``.

    Parameters
    ----------
    value
        Anything; it is converted with ``str()``.

    Returns
    -------
    str

    Examples
    --------
    >>> escape_html("<img src=x onerror=alert(1)> ${x} `")
    '&lt;img src=x onerror=alert(1)&gt; &#36;{x} &#96;'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value)
    for raw, entity in _HTML:
        text = text.replace(raw, entity)
    return text


def script_json(value: Any) -> str:
    """JSON for a ``<script>`` block: ``<``, ``>``, ``&`` and line separators as ``\\u`` escapes.

    This is the transport of already-escaped strings into the page's script; it keeps
    ``</script>`` and ``<!--`` from ever appearing in the JS text.

    Parameters
    ----------
    value
        A JSON-serialisable value (no NaN or infinity).

    Returns
    -------
    str
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return script_safe(text)


def script_safe(json_text: str) -> str:
    """Make JSON text (already valid JSON) safe to paste into a ``<script>`` block."""
    return (
        json_text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


# A spreadsheet reads a cell that starts with one of these as a formula (or a DDE call).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def escape_cell(value: Any) -> Any:
    """A value for a spreadsheet or CSV cell: text that a spreadsheet would run as a formula is
    made inert by a leading apostrophe; numbers, booleans and None pass unchanged.

    The same family as :func:`escape_html`: every text cell planner writes to ``.xlsx`` or a
    report's CSV goes through it (formula injection, OWASP "CSV injection").

    Parameters
    ----------
    value
        A cell value.

    Returns
    -------
    Any
        ``value``, or ``"'" + value`` for text starting with ``= + - @``, tab, CR or LF.

    Examples
    --------
    >>> escape_cell("=HYPERLINK(\\"http://x\\")"), escape_cell("Schamann"), escape_cell(-5)
    ('\\'=HYPERLINK("http://x")', 'Schamann', -5)
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
