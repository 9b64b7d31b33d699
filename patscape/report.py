"""Self-contained, offline HTML report of a landscape run.

:func:`render_report` turns the report data of a run (run facts, metrics, topics, map points,
topic links, years) into one HTML document that opens in any browser without a network: the
plotly.js bundle of the installed ``plotly`` package is inlined, and no URL is ever loaded.

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
larger one, where SVG gets slow, is drawn with WebGL and inlines the strict build instead.

Map points are embedded column-wise (one array per field) to keep 100k points compact;
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

__all__ = ["render_report", "write_report", "read_embedded_data"]

#: Maps with more points than this are drawn with WebGL (and plotly's strict build); the app
#: script below has the same number.
WEBGL_POINTS = 20_000
#: plotly.js's strict build (WebGL without ``eval``), shipped with patscape; MIT licensed.
STRICT_PLOTLY = Path(__file__).resolve().parent / "web" / "plotly-strict.min.js"

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


def _inlinable(source: str) -> str:
    # The HTML parser turns CR LF and lone CR into LF before a script runs; normalising here keeps
    # the CSP hash equal to what the browser hashes.
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    if "</script" in source.lower() or "<!--" in source:  # pragma: no cover - guard, never seen
        raise RuntimeError("the plotly.js bundle cannot be inlined safely")
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

    ``data`` holds ``title``, ``run``, ``metrics``, ``topics``, ``points``, ``links`` and
    ``years`` (any may be missing). ``points`` is a list of ``{"id", "title", "cluster", "x",
    "y", "date", "lang"}`` dicts (cluster -1 is an outlier), or the same as a dict of columns.
    NaN and infinite numbers are written as null.
    """
    from . import __version__

    if not isinstance(data, Mapping):
        raise TypeError("report data must be a dict")
    payload = dict(data)
    payload["points"] = _point_columns(data.get("points"))
    title = str(data.get("title") or "patscape landscape")
    plotly_js = _plotly_strict_js() if payload["points"]["count"] > WEBGL_POINTS else _plotly_js()
    csp = "; ".join([
        "default-src 'none'",
        f"script-src {_csp_hash(plotly_js)} {_csp_hash(_APP_JS)}",  # no eval: SVG needs none, the strict build neither
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
        "CSS": _CSS,
        "DATA": _embed_json(payload),
        "PLOTLY": plotly_js,
        "APP": _APP_JS,
    }
    # One pass over the template: substituted text (data, bundles) is never scanned again.
    return re.sub(r"@@([A-Z]+)@@", lambda m: parts[m.group(1)], _PAGE)


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


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="@@CSP@@">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="patscape @@VERSION@@">
<title>@@TITLE@@</title>
<style>@@CSS@@</style>
</head>
<body>
<div id="errors" class="errors" role="alert" hidden></div>
<header class="top">
  <div class="wrap">
    <p class="kicker">patscape landscape report</p>
    <h1 id="title"></h1>
    <div id="facts" class="facts"></div>
    <nav class="toc">
      <a href="#sec-quality">Quality</a>
      <a href="#sec-map">Map</a>
      <a href="#sec-topics">Topics</a>
      <a href="#sec-evolution">Evolution</a>
      <a href="#sec-links">Topic links</a>
    </nav>
  </div>
</header>
<main class="wrap">
  <section id="sec-quality" class="card">
    <h2>Quality of this run</h2>
    <div id="quality" class="quality"></div>
  </section>
  <section id="sec-map" class="card">
    <h2>Map</h2>
    <p class="hint">Each dot is a patent, placed so that similar texts lie close together; colour
    shows its topic, small grey dots are outliers. Hover for the title; drag to zoom into a box,
    double-click to zoom out; the toolbar (top right) switches to panning.</p>
    <div class="controls">
      <label>Highlight topic <select id="map-topic"><option value="">all topics</option></select></label>
      <label>Colour by <select id="map-colour"><option value="topic">topic</option><option value="lang">language</option></select></label>
      <label class="check"><input type="checkbox" id="map-labels" checked> topic labels</label>
      <span id="map-key" class="key"></span>
    </div>
    <div id="map" class="plot plot-map"></div>
    <p id="map-note" class="note" hidden></p>
  </section>
  <section id="sec-topics" class="card">
    <h2>Topics</h2>
    <div class="controls">
      <label>Filter <input type="search" id="topic-filter" placeholder="label, keyword, code or id"></label>
      <span id="topic-count" class="muted"></span>
      <span class="muted">Click a column header to sort; &#x25CE; shows the topic on the map.</span>
    </div>
    <div class="table-wrap"><table id="topic-table" class="topics"></table></div>
  </section>
  <section id="sec-evolution" class="card">
    <h2>Evolution</h2>
    <p class="hint">Patents per publication year for the largest topics; the smaller ones are summed
    as &#8220;other&#8221;. Outliers are not counted. Click a legend entry to hide it.</p>
    <div class="controls">
      <label>Show <select id="evo-mode">
        <option value="stack">stacked counts</option>
        <option value="share">share of each year</option>
        <option value="lines">lines</option>
      </select></label>
    </div>
    <div id="evolution" class="plot plot-evo"></div>
  </section>
  <section id="sec-links" class="card">
    <h2>Topic links</h2>
    <p class="hint">Topics at their place on the map (circle size: number of patents), joined when
    their texts are similar; thicker lines mean more similar, orange lines mean patents of one
    topic cite patents of the other. Hover a line's middle for the figures.</p>
    <div id="graph" class="plot plot-graph"></div>
  </section>
</main>
<footer class="wrap foot">
  Made by patscape @@VERSION@@ with plotly.js @@PLOTLYVERSION@@, embedded in this file; the report
  loads nothing from the network.
</footer>
<script type="application/json" id="data">@@DATA@@</script>
<script>@@PLOTLY@@</script>
<script>@@APP@@</script>
</body>
</html>
"""

_CSS = """
:root {
  --ink: #1d2330; --muted: #5d6576; --line: #dde1e8; --soft: #f4f6f9; --card: #ffffff;
  --accent: #2c5fa8; --good: #1e7a46; --warn: #a6461c; --bg: #eceff3;
}
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
        "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif;
}
.wrap { max-width: 1320px; margin: 0 auto; padding: 0 20px; }
header.top { background: #1f2a3c; color: #f3f5f8; padding: 18px 0 0; margin-bottom: 18px; }
.kicker { margin: 0; font-size: 12px; letter-spacing: .08em; text-transform: uppercase; color: #a9b6ca; }
h1 { margin: 2px 0 14px; font-size: 24px; font-weight: 600; overflow-wrap: anywhere; }
h2 { margin: 0 0 8px; font-size: 18px; font-weight: 600; }
h3 { margin: 14px 0 6px; font-size: 14px; font-weight: 600; color: var(--ink); }
.facts { display: flex; flex-wrap: wrap; gap: 10px; }
.fact { background: rgba(255,255,255,.08); border: 1px solid rgba(255,255,255,.14); border-radius: 6px;
        padding: 6px 12px; min-width: 110px; }
.fact .v { display: block; font-size: 18px; font-weight: 600; white-space: nowrap; }
.fact .k { display: block; font-size: 11px; color: #b9c4d4; text-transform: uppercase; letter-spacing: .05em; }
.fact.small .v { font-size: 14px; font-weight: 500; padding-top: 3px; }
.toc { display: flex; gap: 4px; margin-top: 14px; }
.toc a { color: #dfe6f1; text-decoration: none; padding: 8px 12px; border-radius: 6px 6px 0 0; }
.toc a:hover { background: rgba(255,255,255,.1); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px 18px;
        margin-bottom: 18px; box-shadow: 0 1px 2px rgba(20,30,50,.04); }
.hint { margin: 0 0 10px; color: var(--muted); max-width: 900px; }
.note { margin: 8px 0 0; color: var(--warn); }
.muted { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; padding: 20px 0; }
.controls { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 18px; margin-bottom: 8px; }
.controls label { color: var(--muted); font-size: 13px; }
.controls select, .controls input[type=search] {
  margin-left: 6px; font: inherit; font-size: 13px; padding: 4px 6px; border: 1px solid #c6ccd6;
  border-radius: 5px; background: #fff; color: var(--ink); max-width: 420px;
}
.controls input[type=search] { width: 260px; }
.controls .check input { vertical-align: -2px; margin-right: 4px; }
.key { display: inline-flex; flex-wrap: wrap; gap: 4px 12px; font-size: 12px; color: var(--muted); }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 4px; vertical-align: -1px; }
.plot { width: 100%; }
.plot-map { height: 680px; }
.plot-evo { height: 470px; }
.plot-graph { height: 580px; }
.quality { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 6px 28px; }
.quality .block { min-width: 0; }
.kv { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; margin: 0; }
.kv dt { color: var(--muted); }
.kv dd { margin: 0; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); background: var(--soft); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.small { width: auto; min-width: 60%; }
table.small td:first-child { white-space: nowrap; }
.glossary { margin: 14px 0 0; padding: 10px 14px; background: var(--soft); border-radius: 6px;
            color: var(--muted); font-size: 13px; grid-column: 1 / -1; }
.glossary p { margin: 3px 0; }
.glossary b { color: var(--ink); font-weight: 600; }
details.params summary { cursor: pointer; color: var(--muted); }
details.params pre { background: var(--soft); padding: 8px 10px; border-radius: 6px; overflow: auto;
                     max-height: 260px; font-size: 12px; }
.table-wrap { max-height: 78vh; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
table.topics th { position: sticky; top: 0; z-index: 1; white-space: nowrap; border-bottom: 1px solid #c9ced8; }
table.topics th.sortable { cursor: pointer; user-select: none; }
table.topics th.sortable:hover { color: var(--ink); }
table.topics th .arrow { display: inline-block; width: 1em; color: var(--accent); }
table.topics tr:nth-child(even) td { background: #fafbfc; }
table.topics tr.active td { background: #fff7e0; }
table.topics td.label { min-width: 210px; max-width: 360px; }
.tlabel { font-weight: 600; overflow-wrap: anywhere; }
.tid { display: flex; align-items: center; gap: 6px; white-space: nowrap; }
.dot { display: inline-block; width: 11px; height: 11px; border-radius: 50%; flex: none; }
.mapbtn { border: 1px solid #c6ccd6; background: #fff; border-radius: 4px; cursor: pointer; font-size: 12px;
          padding: 0 5px; color: var(--accent); line-height: 18px; }
.mapbtn:hover { background: var(--soft); }
.kw { margin-top: 3px; color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
.lang { display: inline-block; min-width: 22px; font-size: 10px; font-weight: 600; text-transform: uppercase;
        color: #fff; background: #7b8496; border-radius: 3px; padding: 0 3px; margin-right: 5px; text-align: center; }
.bar { height: 4px; background: var(--soft); border-radius: 2px; margin-top: 4px; min-width: 50px; }
.bar span { display: block; height: 4px; background: var(--accent); border-radius: 2px; }
.codes div { white-space: nowrap; }
.codes .scheme { color: var(--muted); font-size: 11px; margin-right: 4px; }
.reps { min-width: 220px; max-width: 340px; font-size: 12px; }
.reps div { margin-bottom: 2px; overflow-wrap: anywhere; }
.reps .pid { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--accent); margin-right: 4px; }
.reps details summary { cursor: pointer; color: var(--muted); }
.up { color: var(--good); font-weight: 600; }
.down { color: var(--warn); }
.errors { background: #fde8e4; color: #7a1f0c; border-bottom: 1px solid #e9b4a8; padding: 8px 20px; }
.foot { color: var(--muted); font-size: 12px; padding-bottom: 30px; }
@media (max-width: 760px) {
  .plot-map { height: 480px; }
  .quality { grid-template-columns: 1fr; }
}
"""

_APP_JS = r"""
(function () {
  'use strict';

  // ---------- helpers (every data string reaches the DOM through text nodes) ----------
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'class') e.className = attrs[k];
        else if (k === 'title') e.title = attrs[k];
        else e.setAttribute(k, attrs[k]);
      });
    }
    add(e, children);
    return e;
  }
  function add(parent, children) {
    if (children == null) return parent;
    (Array.isArray(children) ? children : [children]).forEach(function (c) {
      if (c == null || c === false) return;
      parent.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    });
    return parent;
  }
  function showError(message) {
    var box = $('errors');
    if (!box) return;
    box.hidden = false;
    box.appendChild(el('div', null, String(message)));
  }
  window.addEventListener('error', function (e) { showError('Report script error: ' + (e && e.message ? e.message : e)); });

  var DATA;
  try {
    DATA = JSON.parse($('data').textContent);
  } catch (err) {
    showError('The embedded report data cannot be read: ' + err);
    return;
  }
  var HAS_PLOTLY = typeof window.Plotly === 'object' && window.Plotly !== null;
  if (!HAS_PLOTLY) showError('plotly.js did not load; charts are missing.');

  function isNum(v) { return typeof v === 'number' && isFinite(v); }
  function obj(v) { return v && typeof v === 'object' && !Array.isArray(v) ? v : {}; }
  function arr(v) { return Array.isArray(v) ? v : []; }
  function str(v) { return v == null ? '' : String(v); }
  function fmtInt(v) { return isNum(v) ? Math.round(v).toLocaleString('en-US') : '\u2014'; }
  function fmtNum(v, d) { return isNum(v) ? v.toFixed(d == null ? 2 : d) : '\u2014'; }
  function fmtPct(v, d) { return isNum(v) ? (v * 100).toFixed(d == null ? 1 : d) + '%' : '\u2014'; }
  function clip(s, n) { s = str(s); return s.length > n ? s.slice(0, n - 1) + '\u2026' : s; }
  // For plotly, which reads <br>, <b>, &amp; ... in text: make data text inert.
  function esc(s) { return str(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'); }
  // Wrap plain text into lines of about `width` characters, escape each line, join with <br>.
  function wrapEsc(s, width, maxLen) {
    s = clip(str(s).replace(/\s+/g, ' ').trim(), maxLen);
    var lines = [], line = '';
    s.split(' ').forEach(function (word) {
      while (word.length > width) {             // long words and unspaced scripts (CJK)
        var room = width - line.length - (line ? 1 : 0);
        if (room < 8) { lines.push(line); line = ''; room = width; }
        line = (line ? line + ' ' : '') + word.slice(0, room);
        word = word.slice(room);
        lines.push(line); line = '';
      }
      if (!word) return;
      if (line && line.length + 1 + word.length > width) { lines.push(line); line = word; }
      else line = line ? line + ' ' + word : word;
    });
    if (line) lines.push(line);
    return lines.map(esc).join('<br>');
  }
  function median(values) {
    if (!values.length) return null;
    values.sort(function (a, b) { return a - b; });
    var m = values.length >> 1;
    return values.length % 2 ? values[m] : (values[m - 1] + values[m]) / 2;
  }
  function hex2(v) { var h = Math.round(Math.max(0, Math.min(255, v))).toString(16); return h.length < 2 ? '0' + h : h; }
  function hsl2hex(h, s, l) {
    s /= 100; l /= 100;
    var a = s * Math.min(l, 1 - l);
    function f(n) { var k = (n + h / 30) % 12; return 255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))); }
    return '#' + hex2(f(0)) + hex2(f(8)) + hex2(f(4));
  }
  var GREY = '#c3c7cf';
  var colourCache = {};
  function topicColour(c) {
    if (!isNum(c) || c < 0) return GREY;
    if (colourCache[c]) return colourCache[c];
    var hue = (c * 137.508 + 210) % 360;                 // golden angle: neighbours differ
    var light = [44, 56, 36][c % 3], sat = [70, 62, 78][Math.floor(c / 3) % 3];
    return (colourCache[c] = hsl2hex(hue, sat, light));
  }
  var LANG_COLOURS = ['#2f6db5', '#d2691e', '#2e9a5b', '#8a4fb8', '#c23b4a', '#b08a12', '#1c9aa6', '#6b6f7a'];
  var LANG_NAMES = { en: 'English', zh: 'Chinese', ja: 'Japanese', ko: 'Korean', de: 'German', fr: 'French',
                     es: 'Spanish', ru: 'Russian', it: 'Italian', pt: 'Portuguese', nl: 'Dutch', '?': 'unknown' };
  function langName(code) { var n = LANG_NAMES[code]; return n ? n + ' (' + code + ')' : str(code); }
  var plotConfig = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ['lasso2d', 'select2d'] };
  var FONT = { family: 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif', size: 12, color: '#1d2330' };

  function webglWorks() {
    try {
      var canvas = document.createElement('canvas');
      return !!(window.WebGLRenderingContext && (canvas.getContext('webgl') || canvas.getContext('experimental-webgl')));
    } catch (e) { return false; }
  }

  // ---------- the data ----------
  var run = obj(DATA.run), metrics = obj(DATA.metrics);
  var topics = arr(DATA.topics).filter(function (t) { return t && typeof t === 'object' && isNum(t.cluster); });
  var topicById = {};
  topics.forEach(function (t) { topicById[t.cluster] = t; });
  function topicLabel(c) {
    if (!isNum(c) || c < 0) return 'outliers';
    var t = topicById[c];
    return t && t.label ? str(t.label) : 'topic ' + c;
  }
  function topicSize(t) { return isNum(t.size) ? t.size : 0; }

  var pointBlock = obj(DATA.points), PC = obj(pointBlock.columns);
  var N = isNum(pointBlock.count) ? pointBlock.count : 0;
  function column(name) { var a = PC[name]; return Array.isArray(a) && a.length === N ? a : null; }
  var X = column('x'), Y = column('y'), CL = column('cluster'), TI = column('title'), ID = column('id'),
      DT = column('date'), LG = column('lang');
  if (!X || !Y) N = 0;
  function clusterOf(i) { return CL && isNum(CL[i]) ? CL[i] : -1; }

  var members = {};          // cluster -> indices of its points (with finite positions)
  var placed = [];           // all indices with finite positions
  for (var i = 0; i < N; i++) {
    if (!isNum(X[i]) || !isNum(Y[i])) continue;
    placed.push(i);
    var c = clusterOf(i);
    (members[c] || (members[c] = [])).push(i);
  }
  var centre = {};           // cluster -> [median x, median y]
  Object.keys(members).forEach(function (k) {
    var idx = members[k];
    if (+k < 0) return;
    centre[k] = [median(idx.map(function (j) { return X[j]; })), median(idx.map(function (j) { return Y[j]; }))];
  });

  // ---------- header ----------
  function renderHeader() {
    $('title').textContent = str(DATA.title || 'patscape landscape');
    var langs = obj(obj(metrics.language_mix).corpus_languages);
    var created = isNum(run.created_at) ? new Date(run.created_at * 1000).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : null;
    var facts = [
      ['Documents', fmtInt(isNum(metrics.documents) ? metrics.documents : N)],
      ['Topics', fmtInt(isNum(metrics.topics) ? metrics.topics : topics.length)],
      ['Outliers', fmtPct(metrics.outlier_share)],
      ['Languages', Object.keys(langs).length ? String(Object.keys(langs).length) : null],
      ['Model', run.model, true],
      ['Seed', run.seed != null ? str(run.seed) : null, true],
      ['Run', run.id != null ? '#' + str(run.id) : null, true],
      ['Created', created, true],
      ['Embedding space', run.space, true]
    ];
    var box = $('facts');
    facts.forEach(function (f) {
      if (f[1] == null || f[1] === '') return;
      box.appendChild(el('div', { class: 'fact' + (f[2] ? ' small' : '') }, [el('span', { class: 'v' }, str(f[1])), el('span', { class: 'k' }, f[0])]));
    });
    if (DATA.title) document.title = str(DATA.title);
  }

  // ---------- quality ----------
  function kv(rows) {
    var dl = el('dl', { class: 'kv' });
    rows.forEach(function (r) { if (r) { dl.appendChild(el('dt', null, r[0])); dl.appendChild(el('dd', null, r[1])); } });
    return dl;
  }
  function table(head, rows, numeric) {
    var t = el('table', { class: 'small' }), tr = el('tr');
    head.forEach(function (h, j) { tr.appendChild(el('th', numeric[j] ? { class: 'num' } : null, h)); });
    t.appendChild(el('thead', null, tr));
    var body = el('tbody');
    rows.forEach(function (r) {
      var row = el('tr');
      r.forEach(function (v, j) { row.appendChild(el('td', numeric[j] ? { class: 'num' } : null, v)); });
      body.appendChild(row);
    });
    t.appendChild(body);
    return t;
  }
  function renderQuality() {
    var box = $('quality');
    var left = el('div', { class: 'block' });
    left.appendChild(el('h3', null, 'Clustering'));
    var lm = obj(metrics.language_mix);
    left.appendChild(kv([
      ['Documents', fmtInt(isNum(metrics.documents) ? metrics.documents : N)],
      ['Topics', fmtInt(isNum(metrics.topics) ? metrics.topics : topics.length)],
      ['Outlier share', fmtPct(metrics.outlier_share) +
        (isNum(metrics.outlier_share_before_reassignment) ? '  (before reassignment: ' + fmtPct(metrics.outlier_share_before_reassignment) + ')' : '')],
      ['Silhouette (cosine)', fmtNum(metrics.silhouette_cosine, 3)],
      isNum(metrics.landscape_f1_mean) ? ['Mean landscape F1', fmtNum(metrics.landscape_f1_mean, 3)] : null
    ]));
    var langs = obj(lm.corpus_languages), total = 0;
    Object.keys(langs).forEach(function (k) { if (isNum(langs[k])) total += langs[k]; });
    if (total) {
      left.appendChild(el('h3', null, 'Languages'));
      var lrows = Object.keys(langs).sort(function (a, b) { return langs[b] - langs[a]; }).map(function (k) {
        return [langName(k), fmtInt(langs[k]), fmtPct(langs[k] / total)];
      });
      left.appendChild(table(['Language', 'Documents', 'Share'], lrows, [false, true, true]));
      if (isNum(lm.mixed_topics)) {
        left.appendChild(el('p', { class: 'muted' }, fmtInt(lm.mixed_topics) + ' of ' + fmtInt(topics.length || metrics.topics) +
          ' topics are language-mixed (no language holds 90% of their patents).'));
      }
    }
    box.appendChild(left);

    var right = el('div', { class: 'block' });
    var agree = obj(metrics.code_agreement), names = Object.keys(agree);
    if (names.length) {
      right.appendChild(el('h3', null, 'Agreement of topics with patent classes'));
      var rows = names.map(function (name) {
        var v = obj(agree[name]), a = obj(v.clustered), b = obj(v.after_reassignment);
        var parts = name.split('_');
        return [(parts[0] || '').toUpperCase() + ' ' + parts.slice(1).join(' '), fmtNum(a.ari, 3), fmtNum(a.nmi, 3),
                fmtNum(b.ari, 3), fmtNum(b.nmi, 3), fmtInt(isNum(b.docs) ? b.docs : a.docs), fmtInt(isNum(b.classes) ? b.classes : a.classes)];
      });
      right.appendChild(table(['Scheme', 'ARI', 'NMI', 'ARI after', 'NMI after', 'Docs', 'Classes'], rows,
                              [false, true, true, true, true, true, true]));
      right.appendChild(el('p', { class: 'muted' }, 'First columns: before outliers were reassigned; \u201cafter\u201d: after reassignment. A dash means the corpus has no such codes.'));
    }
    var f1 = obj(metrics.landscape_f1), f1names = Object.keys(f1);
    if (f1names.length) {
      right.appendChild(el('h3', null, 'Known landscapes found'));
      var frows = f1names.map(function (name) {
        var v = obj(f1[name]);
        var topic = isNum(v.topic) && v.topic >= 0 ? '#' + v.topic + ' ' + clip(topicLabel(v.topic), 40) : 'none';
        return [name, fmtNum(v.f1, 3), fmtNum(v.precision, 3), fmtNum(v.recall, 3), fmtInt(v.members), topic];
      });
      right.appendChild(table(['Landscape', 'F1', 'Precision', 'Recall', 'Patents', 'Best topic'], frows,
                              [false, true, true, true, true, false]));
    }
    box.appendChild(right);

    var g = el('div', { class: 'glossary' });
    [
      ['Outliers', 'patents the clustering did not place in any topic (cluster \u22121); reassignment then gives those close enough to a topic to that topic, and the rest stay small grey dots on the map.'],
      ['ARI', 'the adjusted Rand index measures how well the topics group the same patents together as their CPC/IPC classes do: 1 is identical grouping, 0 is what chance gives.'],
      ['NMI', 'normalised mutual information, 0 to 1, is how much knowing a patent\u2019s topic tells about its class.'],
      ['Landscape F1', 'for each hand-labelled set of patents, the F1 score (harmonic mean of precision and recall) of the one topic matching it best; 1 means a single topic holds exactly that set.'],
      ['Silhouette', 'how much closer patents are to their own topic than to the next one in the embedding space, from \u22121 to 1; text clusters typically score near 0.'],
      ['Momentum', 'the share of a topic\u2019s patents published in the last few years divided by that share for the whole corpus; above 1 the topic grows faster than the corpus. Growth is its compound yearly growth over those years.']
    ].forEach(function (d) { g.appendChild(el('p', null, [el('b', null, d[0] + ': '), d[1]])); });
    box.appendChild(g);

    if (run.params && typeof run.params === 'object') {
      var det = el('details', { class: 'params' }, el('summary', null, 'Run parameters'));
      det.appendChild(el('pre', null, JSON.stringify(run.params, null, 2)));
      box.appendChild(det);
    }
  }

  // ---------- map ----------
  var mapDiv = $('map'), mapReady = false, mapAnnotations = [], inIdx = [], outIdx = [], hover = null, markerSize = 5;
  var langOrder = [];
  function pick(source, idx) { var r = new Array(idx.length); for (var j = 0; j < idx.length; j++) r[j] = source[idx[j]]; return r; }
  function hoverText(i) {
    var c = clusterOf(i);
    var meta = esc(ID ? ID[i] : '') + (DT && DT[i] ? ' \u00b7 ' + esc(DT[i]) : '') + (LG && LG[i] ? ' \u00b7 ' + esc(LG[i]) : '');
    var topic = c < 0 ? 'outlier (no topic)' : '#' + c + ' ' + esc(clip(topicLabel(c), 70));
    return '<b>' + wrapEsc(TI ? TI[i] : '', 70, 220) + '</b><br>' + meta + '<br>' + topic;
  }
  function langColourOf(code) {
    var k = langOrder.indexOf(code);
    return k < 0 ? GREY : LANG_COLOURS[Math.min(k, LANG_COLOURS.length - 1)];
  }
  function renderMap() {
    if (!N || !placed.length) { mapDiv.appendChild(el('p', { class: 'empty' }, 'This run has no map positions.')); return; }
    // Above 20000 points SVG gets slow: the page then carries plotly's strict build, which draws
    // WebGL without eval (the page's CSP forbids eval). Keep in step with WEBGL_POINTS.
    var gl = N > 20000 && webglWorks();
    if (!gl && N > 20000) {
      var note = $('map-note');
      note.hidden = false;
      note.textContent = 'WebGL is not available in this browser, so the map is drawn without it' +
        (placed.length > 20000 ? '; with this many patents it will be slow.' : '.');
    }
    var type = gl ? 'scattergl' : 'scatter';
    var n = placed.length;
    markerSize = n > 50000 ? 3 : n > 15000 ? 4 : n > 3000 ? 5 : 6.5;
    hover = new Array(N);
    for (var j = 0; j < n; j++) hover[placed[j]] = hoverText(placed[j]);
    outIdx = members[-1] || [];
    placed.forEach(function (p) { if (clusterOf(p) >= 0) inIdx.push(p); });
    var langCount = {};
    if (LG) placed.forEach(function (p) { var l = str(LG[p]) || '?'; langCount[l] = (langCount[l] || 0) + 1; });
    langOrder = Object.keys(langCount).sort(function (a, b) { return langCount[b] - langCount[a]; });

    var traces = [
      { type: type, mode: 'markers', name: 'outliers (' + fmtInt(outIdx.length) + ')', x: pick(X, outIdx), y: pick(Y, outIdx),
        hovertext: pick(hover, outIdx), hoverinfo: 'text', marker: { size: markerSize * 0.7, color: GREY, opacity: 0.6 } },
      { type: type, mode: 'markers', name: 'in a topic (' + fmtInt(inIdx.length) + ')', x: pick(X, inIdx), y: pick(Y, inIdx),
        hovertext: pick(hover, inIdx), hoverinfo: 'text',
        marker: { size: markerSize, color: inIdx.map(function (p) { return topicColour(clusterOf(p)); }), opacity: 0.8 } },
      { type: type, mode: 'markers', name: 'highlighted', x: [], y: [], hovertext: [], hoverinfo: 'text', showlegend: false,
        marker: { size: markerSize * 1.7, color: '#000', opacity: 1, line: { width: 0.6, color: '#ffffff' } } }
    ];
    mapAnnotations = Object.keys(centre).map(function (k) {
      return { x: centre[k][0], y: centre[k][1], text: esc(clip(topicLabel(+k), 34)), showarrow: false,
               font: { size: 11, color: '#1d2330' }, bgcolor: 'rgba(255,255,255,0.78)', bordercolor: topicColour(+k),
               borderwidth: 1, borderpad: 2, opacity: 0.95, hovertext: esc('#' + k + ' ' + topicLabel(+k)) };
    });
    var layout = {
      height: mapDiv.clientHeight || 680, font: FONT, margin: { l: 8, r: 8, t: 8, b: 8 }, hovermode: 'closest', dragmode: 'zoom',
      plot_bgcolor: '#fbfcfd', paper_bgcolor: '#ffffff',
      xaxis: { showgrid: false, zeroline: false, showticklabels: false, ticks: '' },
      yaxis: { showgrid: false, zeroline: false, showticklabels: false, ticks: '' },
      legend: { orientation: 'h', x: 0, y: 1, xanchor: 'left', yanchor: 'top', bgcolor: 'rgba(255,255,255,0.85)', itemsizing: 'constant' },
      hoverlabel: { align: 'left', bgcolor: '#ffffff', bordercolor: '#8892a3', font: { size: 12, color: '#1d2330' } },
      annotations: $('map-labels').checked ? mapAnnotations : []
    };
    return window.Plotly.newPlot(mapDiv, traces, layout, plotConfig).then(function () { mapReady = true; });
  }
  function highlight(value) {
    if (!mapReady) return;
    var idx = value === '' ? [] : (members[+value] || []);
    window.Plotly.restyle(mapDiv, { x: [pick(X, idx)], y: [pick(Y, idx)], hovertext: [pick(hover, idx)],
                                    'marker.color': [value === '' ? '#000' : topicColour(+value)] }, [2]);
    window.Plotly.restyle(mapDiv, { 'marker.opacity': value === '' ? 0.8 : 0.18 }, [1]);
    window.Plotly.restyle(mapDiv, { 'marker.opacity': value === '' ? 0.6 : 0.25 }, [0]);
    var rows = document.querySelectorAll('#topic-table tbody tr');
    for (var r = 0; r < rows.length; r++) rows[r].classList.toggle('active', rows[r].getAttribute('data-cluster') === value);
  }
  function colourBy(mode) {
    var key = $('map-key');
    key.textContent = '';
    if (!mapReady) return;
    if (mode === 'lang' && LG) {
      window.Plotly.restyle(mapDiv, { 'marker.color': [outIdx.map(function (p) { return langColourOf(str(LG[p]) || '?'); })] }, [0]);
      window.Plotly.restyle(mapDiv, { 'marker.color': [inIdx.map(function (p) { return langColourOf(str(LG[p]) || '?'); })] }, [1]);
      langOrder.forEach(function (code) {
        var sw = el('span', { class: 'swatch' });
        sw.style.background = langColourOf(code);
        key.appendChild(el('span', null, [sw, langName(code)]));
      });
    } else {
      window.Plotly.restyle(mapDiv, { 'marker.color': [GREY] }, [0]);
      window.Plotly.restyle(mapDiv, { 'marker.color': [inIdx.map(function (p) { return topicColour(clusterOf(p)); })] }, [1]);
    }
  }
  function wireMap() {
    var select = $('map-topic');
    topics.slice().sort(function (a, b) { return a.cluster - b.cluster; }).forEach(function (t) {
      select.appendChild(el('option', { value: String(t.cluster) }, '#' + t.cluster + ' ' + clip(topicLabel(t.cluster), 60) + ' (' + fmtInt(t.size) + ')'));
    });
    select.addEventListener('change', function () { highlight(select.value); });
    $('map-colour').addEventListener('change', function () { colourBy($('map-colour').value); });
    if (!LG) $('map-colour').disabled = true;
    $('map-labels').addEventListener('change', function () {
      if (mapReady) window.Plotly.relayout(mapDiv, { annotations: $('map-labels').checked ? mapAnnotations : [] });
    });
  }
  function showOnMap(cluster) {
    var select = $('map-topic');
    select.value = String(cluster);
    highlight(select.value);
    $('sec-map').scrollIntoView();
  }

  // ---------- topic table ----------
  function termsOf(list) {
    return arr(list).map(function (k) { return Array.isArray(k) ? k[0] : (k && typeof k === 'object' ? k.term : k); })
      .filter(function (k) { return k != null && k !== ''; }).map(str);
  }
  function keywordsOf(t) {
    var kw = t.keywords;
    if (Array.isArray(kw)) return [['', termsOf(kw)]];
    kw = obj(kw);
    return Object.keys(kw).map(function (lang) { return [lang, termsOf(kw[lang])]; }).filter(function (p) { return p[1].length; });
  }
  function codesOf(list) {
    return arr(list).map(function (c) {
      if (Array.isArray(c)) return isNum(c[1]) ? str(c[0]) + ' ' + Math.round(c[1] * 100) + '%' : str(c[0]);
      return str(c);
    });
  }
  function repsOf(t) {
    return arr(t.representatives).map(function (r) {
      return r && typeof r === 'object' ? [str(r.id), str(r.title)] : [str(r), ''];
    });
  }
  function evo(t) { return obj(t.evolution); }
  function langsOf(t) {
    var l = obj(t.languages);
    if (!Object.keys(l).length) l = obj(obj(obj(obj(metrics.language_mix).topics)[String(t.cluster)]).languages);
    return Object.keys(l).sort(function (a, b) { return l[b] - l[a]; }).map(function (k) { return [k, l[k]]; });
  }
  var COLUMNS = [
    { key: 'cluster', title: '#', num: true, sort: function (t) { return t.cluster; } },
    { key: 'label', title: 'Topic and keywords', sort: function (t) { return str(t.label).toLowerCase(); } },
    { key: 'size', title: 'Patents', num: true, sort: topicSize },
    { key: 'codes', title: 'Main codes' },
    { key: 'momentum', title: 'Momentum', num: true, sort: function (t) { return evo(t).momentum; },
      tip: 'Share of the topic\u2019s patents from the last few years, relative to the corpus (above 1: growing faster).' },
    { key: 'growth', title: 'Growth/yr', num: true, sort: function (t) { return evo(t).growth; },
      tip: 'Compound annual growth of yearly counts over the last few years.' },
    { key: 'years', title: 'Years', num: true, sort: function (t) { return evo(t).median_year; },
      tip: 'first year \u2013 peak year; median year below' },
    { key: 'langs', title: 'Languages' },
    { key: 'reps', title: 'Representative patents' }
  ];
  var tableRows = [], sortState = { key: 'size', dir: -1 };
  function renderTopicRow(t, maxSize) {
    var tr = el('tr', { 'data-cluster': String(t.cluster) });
    var dot = el('span', { class: 'dot' });
    dot.style.background = topicColour(t.cluster);
    var btn = el('button', { class: 'mapbtn', type: 'button', title: 'show on map' }, '\u25ce');
    btn.addEventListener('click', function () { showOnMap(t.cluster); });
    tr.appendChild(el('td', { class: 'num' }, el('span', { class: 'tid' }, [dot, String(t.cluster), N ? btn : null])));

    var label = el('td', { class: 'label' }, el('div', { class: 'tlabel' }, topicLabel(t.cluster)));
    keywordsOf(t).forEach(function (p) {
      label.appendChild(el('div', { class: 'kw' }, [p[0] ? el('span', { class: 'lang' }, p[0]) : null, p[1].slice(0, 8).join(', ')]));
    });
    tr.appendChild(label);

    var bar = el('div', { class: 'bar' }, el('span'));
    bar.firstChild.style.width = (maxSize ? Math.max(2, 100 * topicSize(t) / maxSize) : 0) + '%';
    tr.appendChild(el('td', { class: 'num' }, [fmtInt(t.size), bar]));

    var codes = obj(t.codes), codeCell = el('td', { class: 'codes' });
    Object.keys(codes).forEach(function (scheme) {
      var list = codesOf(codes[scheme]).slice(0, 3);
      if (list.length) codeCell.appendChild(el('div', null, [el('span', { class: 'scheme' }, scheme.toUpperCase()), list.join(' \u00b7 ')]));
    });
    tr.appendChild(codeCell);

    var e = evo(t);
    var mom = el('td', { class: 'num' }, fmtNum(e.momentum, 2));
    if (isNum(e.momentum)) mom.className += e.momentum >= 1.2 ? ' up' : e.momentum <= 0.8 ? ' down' : '';
    tr.appendChild(mom);
    tr.appendChild(el('td', { class: 'num' }, isNum(e.growth) ? (e.growth > 0 ? '+' : '') + fmtPct(e.growth, 0) : '\u2014'));
    var span = (e.first_year != null ? str(e.first_year) : '?') + '\u2013' + (e.peak_year != null ? str(e.peak_year) : '?');
    tr.appendChild(el('td', { class: 'num' }, e.first_year == null && e.peak_year == null ? '\u2014' :
      [span, el('div', { class: 'muted' }, e.median_year != null ? 'median ' + str(e.median_year) : '')]));

    var langs = langsOf(t), total = 0;
    langs.forEach(function (p) { if (isNum(p[1])) total += p[1]; });
    tr.appendChild(el('td', null, langs.map(function (p) {
      return el('div', null, [el('span', { class: 'lang' }, p[0]), total ? fmtPct(p[1] / total, 0) : fmtInt(p[1])]);
    })));

    var reps = repsOf(t), repCell = el('td', { class: 'reps' });
    function rep(r) { return el('div', null, [el('span', { class: 'pid' }, r[0]), clip(r[1], 140)]); }
    reps.slice(0, 3).forEach(function (r) { repCell.appendChild(rep(r)); });
    if (reps.length > 3) {
      var more = el('details', null, el('summary', null, (reps.length - 3) + ' more'));
      reps.slice(3).forEach(function (r) { more.appendChild(rep(r)); });
      repCell.appendChild(more);
    }
    tr.appendChild(repCell);
    var haystack = [topicLabel(t.cluster), '#' + t.cluster].concat(
      keywordsOf(t).map(function (p) { return p[1].join(' '); }),
      Object.keys(codes).map(function (s) { return codesOf(codes[s]).join(' '); }),
      reps.map(function (r) { return r[0] + ' ' + r[1]; })).join(' ').toLowerCase();
    return { topic: t, tr: tr, text: haystack };
  }
  function sortTable() {
    var col = COLUMNS.filter(function (c) { return c.key === sortState.key; })[0];
    var dir = sortState.dir;
    tableRows.sort(function (a, b) {
      var va = col.sort(a.topic), vb = col.sort(b.topic);
      var na = va == null || (typeof va === 'number' && !isFinite(va)), nb = vb == null || (typeof vb === 'number' && !isFinite(vb));
      if (na || nb) return na === nb ? a.topic.cluster - b.topic.cluster : na ? 1 : -1;   // blanks last
      if (va < vb) return -dir;
      if (va > vb) return dir;
      return a.topic.cluster - b.topic.cluster;
    });
    var body = $('topic-table').tBodies[0];
    tableRows.forEach(function (r) { body.appendChild(r.tr); });
    var ths = $('topic-table').tHead.rows[0].cells;
    COLUMNS.forEach(function (c, j) {
      var arrow = ths[j].querySelector('.arrow');
      if (!arrow) return;
      arrow.textContent = c.key === sortState.key ? (dir > 0 ? '\u25b2' : '\u25bc') : '';
      ths[j].setAttribute('aria-sort', c.key === sortState.key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
    });
  }
  function renderTopics() {
    var tableEl = $('topic-table');
    if (!topics.length) {
      tableEl.parentNode.replaceChild(el('p', { class: 'empty' }, 'This run has no topics.'), tableEl);
      return;
    }
    var head = el('tr');
    COLUMNS.forEach(function (c) {
      var th = el('th', { class: (c.num ? 'num' : '') + (c.sort ? ' sortable' : '') }, c.title);
      if (c.tip) th.title = c.tip;
      if (c.sort) {
        th.appendChild(el('span', { class: 'arrow' }));
        th.setAttribute('tabindex', '0');
        var go = function () {
          sortState = { key: c.key, dir: sortState.key === c.key ? -sortState.dir : (c.key === 'label' || c.key === 'cluster' ? 1 : -1) };
          sortTable();
        };
        th.addEventListener('click', go);
        th.addEventListener('keydown', function (ev) { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); go(); } });
      }
      head.appendChild(th);
    });
    tableEl.appendChild(el('thead', null, head));
    tableEl.appendChild(el('tbody'));
    var maxSize = Math.max.apply(null, topics.map(topicSize).concat([0]));
    tableRows = topics.map(function (t) { return renderTopicRow(t, maxSize); });
    sortTable();
    var count = $('topic-count');
    function filter() {
      var q = $('topic-filter').value.trim().toLowerCase(), shown = 0;
      tableRows.forEach(function (r) { var ok = !q || r.text.indexOf(q) >= 0; r.tr.hidden = !ok; if (ok) shown++; });
      count.textContent = shown === tableRows.length ? tableRows.length + ' topics' : shown + ' of ' + tableRows.length + ' topics';
    }
    $('topic-filter').addEventListener('input', filter);
    filter();
  }

  // ---------- evolution ----------
  var evoDiv = $('evolution'), evoSeries = null;
  function evolutionSeries() {
    var withYears = topics.filter(function (t) { return Object.keys(obj(evo(t).per_year)).length; });
    if (!withYears.length) return null;
    var years = arr(DATA.years).filter(isNum);
    if (!years.length) {
      var all = {};
      withYears.forEach(function (t) { Object.keys(obj(evo(t).per_year)).forEach(function (y) { if (isFinite(+y)) all[+y] = true; }); });
      var keys = Object.keys(all).map(Number);
      var lo = Math.min.apply(null, keys), hi = Math.max.apply(null, keys);
      for (var y = lo; y <= hi; y++) years.push(y);
    }
    var sorted = withYears.slice().sort(function (a, b) { return topicSize(b) - topicSize(a) || a.cluster - b.cluster; });
    var top = sorted.slice(0, 12), rest = sorted.slice(12);
    function counts(t) { var py = obj(evo(t).per_year); return years.map(function (yr) { var v = py[String(yr)]; return isNum(v) ? v : 0; }); }
    var series = top.map(function (t) {
      return { name: esc('#' + t.cluster + ' ' + clip(topicLabel(t.cluster), 38)), colour: topicColour(t.cluster), y: counts(t) };
    });
    if (rest.length) {
      var other = years.map(function () { return 0; });
      rest.forEach(function (t) { counts(t).forEach(function (v, j) { other[j] += v; }); });
      series.push({ name: 'other (' + rest.length + ' topics)', colour: '#b7bcc6', y: other });
    }
    return { years: years, series: series };
  }
  function renderEvolution(mode) {
    if (!evoSeries) {
      evoSeries = evolutionSeries();
      if (!evoSeries) { evoDiv.appendChild(el('p', { class: 'empty' }, 'No publication years are known for this run.')); $('evo-mode').disabled = true; return; }
    }
    var stacked = mode !== 'lines';
    var traces = evoSeries.series.map(function (s, j) {
      var t = { type: 'scatter', mode: 'lines', name: s.name, x: evoSeries.years, y: s.y,
                line: { color: s.colour, width: stacked ? 0.6 : 2, shape: stacked ? 'linear' : 'spline', smoothing: 0.4 },
                hovertemplate: '%{y}' };
      if (stacked) { t.stackgroup = 'all'; t.fillcolor = s.colour; }
      if (mode === 'share') { t.hovertemplate = '%{y:.1f}%'; if (j === 0) t.groupnorm = 'percent'; }
      return t;
    });
    var layout = {
      height: evoDiv.clientHeight || 470, font: FONT, margin: { l: 56, r: 16, t: 34, b: 44 }, hovermode: 'x unified',
      xaxis: { title: { text: 'publication year' }, showgrid: false, zeroline: false },
      yaxis: { title: { text: mode === 'share' ? 'share of the year\u2019s patents in topics (%)' : 'patents' },
               gridcolor: '#eef0f4', zeroline: false, rangemode: 'tozero' },
      legend: { font: { size: 11 } }, plot_bgcolor: '#ffffff'
    };
    return window.Plotly.react(evoDiv, traces, layout, plotConfig);
  }

  // ---------- topic links ----------
  function renderGraph() {
    var div = $('graph');
    var links = arr(DATA.links).filter(function (l) { return l && isNum(l.source) && isNum(l.target) && l.source !== l.target; });
    if (!topics.length || !links.length) {
      div.className = 'plot';
      div.appendChild(el('p', { class: 'empty' }, 'This run has no links between topics.'));
      return;
    }
    var pos = {}, missing = topics.filter(function (t) { return !centre[t.cluster]; });
    topics.forEach(function (t) { if (centre[t.cluster]) pos[t.cluster] = centre[t.cluster]; });
    if (missing.length) {   // no map positions: a circle
      topics.forEach(function (t, j) { var a = 2 * Math.PI * j / topics.length; pos[t.cluster] = [Math.cos(a), Math.sin(a)]; });
    }
    links = links.filter(function (l) { return pos[l.source] && pos[l.target]; })
      .sort(function (a, b) { return (b.similarity || 0) - (a.similarity || 0); }).slice(0, 400);
    var sims = links.map(function (l) { return isNum(l.similarity) ? l.similarity : 0; });
    var lo = Math.min.apply(null, sims), hi = Math.max.apply(null, sims);
    var groups = {};
    var mid = { x: [], y: [], text: [] };
    links.forEach(function (l, j) {
      var level = hi > lo ? Math.min(2, Math.floor(3 * (sims[j] - lo) / (hi - lo))) : 1;
      var cites = isNum(l.citations) && l.citations > 0;
      var key = level + (cites ? 'c' : 's');
      var g = groups[key] || (groups[key] = { level: level, cites: cites, x: [], y: [] });
      var a = pos[l.source], b = pos[l.target];
      g.x.push(a[0], b[0], null); g.y.push(a[1], b[1], null);
      mid.x.push((a[0] + b[0]) / 2); mid.y.push((a[1] + b[1]) / 2);
      mid.text.push(esc('#' + l.source + ' ' + clip(topicLabel(l.source), 40)) + '<br>\u2194 ' + esc('#' + l.target + ' ' + clip(topicLabel(l.target), 40)) +
                    '<br>similarity ' + fmtNum(l.similarity, 2) + (isNum(l.citations) ? ' \u00b7 citations ' + fmtInt(l.citations) : ''));
    });
    var traces = Object.keys(groups).sort().map(function (k) {
      var g = groups[k];
      return { type: 'scatter', mode: 'lines', x: g.x, y: g.y, hoverinfo: 'skip', showlegend: false,
               line: { width: [1, 2.4, 4.2][g.level], color: g.cites ? 'rgba(210,105,30,0.55)' : 'rgba(70,84,110,0.35)' } };
    });
    traces.push({ type: 'scatter', mode: 'markers', x: mid.x, y: mid.y, hovertext: mid.text, hoverinfo: 'text', showlegend: false,
                  marker: { size: 9, color: 'rgba(0,0,0,0)' } });
    var maxSize = Math.max.apply(null, topics.map(topicSize).concat([1]));
    var shown = topics.filter(function (t) { return pos[t.cluster]; });
    traces.push({
      type: 'scatter', mode: 'markers+text', showlegend: false,
      x: shown.map(function (t) { return pos[t.cluster][0]; }), y: shown.map(function (t) { return pos[t.cluster][1]; }),
      text: shown.map(function (t) { return esc(clip(topicLabel(t.cluster), 24)); }), textposition: 'top center',
      textfont: { size: 10, color: '#3a4252' },
      hovertext: shown.map(function (t) {
        var kw = keywordsOf(t).map(function (p) { return (p[0] ? p[0] + ': ' : '') + p[1].slice(0, 5).join(', '); }).join('<br>');
        return '<b>' + esc('#' + t.cluster + ' ' + clip(topicLabel(t.cluster), 70)) + '</b><br>' + fmtInt(t.size) + ' patents' + (kw ? '<br>' + wrapEsc(kw.replace(/<br>/g, ' | '), 70, 300) : '');
      }),
      hoverinfo: 'text',
      marker: { size: shown.map(function (t) { return 8 + 34 * Math.sqrt(topicSize(t) / maxSize); }),
                color: shown.map(function (t) { return topicColour(t.cluster); }), opacity: 0.9, line: { width: 1, color: '#ffffff' } }
    });
    var layout = {
      height: div.clientHeight || 580, font: FONT, margin: { l: 8, r: 8, t: 8, b: 8 }, hovermode: 'closest',
      xaxis: { showgrid: false, zeroline: false, showticklabels: false },
      yaxis: { showgrid: false, zeroline: false, showticklabels: false },
      plot_bgcolor: '#fbfcfd', hoverlabel: { align: 'left', bgcolor: '#ffffff', font: { size: 12, color: '#1d2330' } }
    };
    return window.Plotly.newPlot(div, traces, layout, plotConfig);
  }

  // ---------- go ----------
  function step(name, fn) {
    try { return fn(); } catch (err) { showError(name + ' could not be drawn: ' + (err && err.message ? err.message : err)); return null; }
  }
  step('The header', renderHeader);
  step('The quality box', renderQuality);
  step('The topic table', renderTopics);
  var pending = [];
  if (HAS_PLOTLY) {
    step('The map controls', wireMap);
    pending.push(step('The map', renderMap));
    pending.push(step('The evolution chart', function () { return renderEvolution($('evo-mode').value); }));
    $('evo-mode').addEventListener('change', function () { step('The evolution chart', function () { renderEvolution($('evo-mode').value); }); });
    pending.push(step('The topic links', renderGraph));
  }
  Promise.all(pending.map(function (p) { return Promise.resolve(p).catch(function (err) { showError(String(err)); }); }))
    .then(function () { document.body.setAttribute('data-rendered', 'yes'); });
})();
"""
