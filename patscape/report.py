"""Self-contained, offline HTML report of a landscape run.

:func:`render_report` turns the report data of a run (run facts, metrics, topics, map points,
topic links, years) into one HTML document that opens in any browser without a network: the
plotly.js bundle is inlined, and no URL is ever loaded.

The report has no views of its own: its page (``web/report.html``), styles and scripts are the
files of the served UI in ``patscape/web`` -- the same map, topic table, evolution, graph and
document panel -- inlined with the data layer that reads the page's data block
(``web/data-embedded.js``) in place of the one that calls the API. What only a server can do
(search, uploads) is simply not there.

Patent text is untrusted. The data travels as JSON inside ``<script type="application/json">``
with ``<``, ``>`` and ``&`` written as ``\\u003c``, ``\\u003e`` and ``\\u0026`` (so nothing in it
can close the element), the page parses it with ``JSON.parse`` and puts text into the DOM only
through ``textContent``; text handed to plotly (hover, labels, legend) is entity-escaped first.
A Content-Security-Policy allows only the page's own two scripts (pinned by SHA-256), no
``eval`` and no network access at all, so even a missed escape could neither run a script nor
load anything.

Without ``eval``, plotly.js can draw WebGL only in its "strict" build (its WebGL code is
precompiled there), which patscape ships as ``patscape/web/plotly-strict.min.js``. A map of up to
:data:`WEBGL_POINTS` points is drawn as SVG with the bundle of the installed ``plotly`` package; a
larger one, where SVG gets slow, is drawn with WebGL and inlines the strict build instead; above
the map view's draw budget it shows a density layer and a sample until one zooms in.

Map points are embedded column-wise (one array per field) to keep 200k points compact;
:func:`read_embedded_data` turns an HTML report back into the data it was made from.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import __version__

__all__ = ["render_report", "write_report", "read_embedded_data"]

#: Maps with more points than this are drawn with WebGL (and plotly's strict build); ``web/map.js``
#: has the same number.
WEBGL_POINTS = 20_000
WEB_DIR = Path(__file__).resolve().parent / "web"
#: plotly.js's strict build (WebGL without ``eval``), shipped with patscape; MIT licensed.
STRICT_PLOTLY = WEB_DIR / "plotly-strict.min.js"
#: The views' scripts in the order the page runs them (one inline script; each file is a closure).
REPORT_SCRIPTS = ("core.js", "hierarchy.js", "data-embedded.js", "labels.js", "map.js", "topics.js", "evolution.js",
                  "emerging.js", "lineage.js", "owners.js", "graph.js", "document.js", "report-app.js")
REPORT_STYLES = ("style.css", "report.css")

#: Point fields in the order they are embedded (others follow in order of first appearance).
POINT_FIELDS = ("id", "title", "cluster", "x", "y", "date", "lang")

_DATA_BLOCK = re.compile(r'<script type="application/json" id="data">(.*?)</script>', re.DOTALL)


# --------------------------------------------------------------------------------------------
# Python side: data -> safe JSON -> page
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _plotly_js() -> str:
    """The plotly.js bundle shipped with the installed ``plotly`` package (newlines normalised)."""
    from plotly.offline import get_plotlyjs

    return _inlinable(get_plotlyjs())


@functools.lru_cache(maxsize=1)
def _plotly_strict_js() -> str:
    """plotly.js's strict build shipped with patscape: WebGL traces without ``eval``."""
    return _inlinable(STRICT_PLOTLY.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _app_js() -> str:
    """The views of ``patscape/web`` with the report's data layer, as one script."""
    return _inlinable("\n".join(f"/* {name} */\n" + (WEB_DIR / name).read_text(encoding="utf-8") for name in REPORT_SCRIPTS))


@functools.lru_cache(maxsize=1)
def _css() -> str:
    css = "\n".join((WEB_DIR / name).read_text(encoding="utf-8") for name in REPORT_STYLES)
    if "</style" in css.lower():  # pragma: no cover - guard
        raise RuntimeError("the report's styles cannot be inlined safely")
    return css


@functools.lru_cache(maxsize=1)
def _page() -> str:
    return (WEB_DIR / "report.html").read_text(encoding="utf-8")


def _inlinable(source: str) -> str:
    # The HTML parser turns CR LF and lone CR into LF before a script runs; normalising here keeps
    # the CSP hash equal to what the browser hashes.
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    if "</script" in source.lower() or "<!--" in source:  # pragma: no cover - guard, never seen
        raise RuntimeError("a script cannot be inlined safely")
    return source


def _plotly_version(source: str | None = None) -> str:
    match = re.search(r"plotly\.js (?:\([^)]*\) )?v([0-9][0-9A-Za-z.\-]*)", (source or _plotly_js())[:400])
    return match.group(1) if match else "unknown"


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays, sets and tuples as plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _finite(value: Any) -> Any:
    """A copy of ``value`` with NaN and infinities as ``None`` (JSON has no such numbers)."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {(k if isinstance(k, str) else str(k)): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _point_columns(points: Any) -> dict[str, Any]:
    """Points (a list of dicts, or already a dict of equal-length columns) as columns."""
    if points is None:
        return {"count": 0, "columns": {}}
    if isinstance(points, Mapping):  # already column-wise
        columns = {str(k): list(v) for k, v in points.items()}
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"point columns have different lengths: {sorted(lengths)}")
        return {"count": lengths.pop() if lengths else 0, "columns": columns}
    points = list(points)
    present: dict[str, None] = {}  # every field, in order of first appearance
    for p in points:
        for k in p:
            present.setdefault(k)
    keys = [k for k in POINT_FIELDS if k in present] + [k for k in present if k not in POINT_FIELDS]
    return {"count": len(points), "columns": {k: [p.get(k) for p in points] for k in keys}}


def _embed_json(obj: Any) -> str:
    """JSON that cannot end (or otherwise affect) the ``<script>`` element it sits in."""
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, default=_json_default, separators=(",", ":"))
    except ValueError:  # NaN or infinity somewhere: replace with null
        text = json.dumps(_finite(obj), ensure_ascii=False, allow_nan=False, default=_json_default,
                          separators=(",", ":"))
    # These characters only ever occur inside JSON strings, where the escapes mean the same.
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _csp_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


def render_report(data: dict) -> str:
    """Return one HTML document (str) that works offline: plotly.js inlined from the installed `plotly` package.

    ``data`` holds ``title``, ``run``, ``metrics``, ``topics``, ``points``, ``links``, ``years``
    and, when the corpus's last year is partial, ``partial_year`` (with ``recent_from``,
    ``recent_to`` and ``data_to``, the newest date) (any may be missing). ``points`` is a list of ``{"id", "title", "cluster", "x",
    "y", "date", "lang"}`` dicts (cluster -1 is an outlier), or the same as a dict of columns.
    NaN and infinite numbers are written as null.
    """

    if not isinstance(data, Mapping):
        raise TypeError("report data must be a dict")
    payload = dict(data)
    payload["points"] = _point_columns(data.get("points"))
    title = str(data.get("title") or "patscape landscape")
    plotly_js = _plotly_strict_js() if payload["points"]["count"] > WEBGL_POINTS else _plotly_js()
    app_js = _app_js()
    csp = "; ".join([
        "default-src 'none'",
        f"script-src {_csp_hash(plotly_js)} {_csp_hash(app_js)}",  # no eval: SVG needs none, the strict build neither
        "style-src 'unsafe-inline'",
        "img-src data: blob:",
        "font-src data:",
        "connect-src 'none'",
        "form-action 'none'",
        "base-uri 'none'",
    ])
    parts = {
        "CSP": html.escape(csp, quote=False),  # sits in a double-quoted attribute; has no "
        "VERSION": html.escape(__version__),
        "PLOTLYVERSION": html.escape(_plotly_version(plotly_js)),
        "TITLE": html.escape(title),
        "CSS": _css(),
        "DATA": _embed_json(payload),
        "PLOTLY": plotly_js,
        "APP": app_js,
    }
    # One pass over the template: substituted text (data, bundles) is never scanned again.
    return re.sub(r"@@([A-Z]+)@@", lambda m: parts[m.group(1)], _page())


def write_report(data: dict, path) -> Path:
    """Render ``data`` (see :func:`render_report`) to ``path`` as UTF-8; returns the path.

    Missing parent folders are created.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_report(data), encoding="utf-8", newline="\n")
    return target


def read_embedded_data(document: str) -> dict:
    """The data a report was rendered from, read back from its HTML (points as a list of dicts).

    Point fields that some points lacked come back as ``None``; NaN and infinities as ``None``.
    """
    match = _DATA_BLOCK.search(document)
    if match is None:
        raise ValueError("no patscape report data block in this document")
    data = json.loads(match.group(1))
    block = data.get("points") or {"count": 0, "columns": {}}
    columns, count = block.get("columns") or {}, int(block.get("count") or 0)
    data["points"] = [{k: v[i] for k, v in columns.items()} for i in range(count)]
    return data
