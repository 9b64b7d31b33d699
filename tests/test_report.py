"""The offline HTML report: self-contained, data intact, and inert against hostile patent text."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from plotly.offline import get_plotlyjs

from patscape import __version__
from patscape.report import REPORT_SCRIPTS, REPORT_STYLES, WEB_DIR, read_embedded_data, render_report, write_report

HOSTILE = "<script>alert(1)</script> & <b>bold</b>"
BREAKOUT = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
CHINESE = "一种水下滑翔机的浮力调节装置及其控制方法"

SCRIPT = re.compile(r"<script([^>]*)>(.*?)</script>", re.DOTALL | re.IGNORECASE)
DATA_BLOCK = re.compile(r'<script type="application/json" id="data">(.*?)</script>', re.DOTALL)
HARNESS = Path(__file__).with_name("report_dom.js")


def sample_data() -> dict:
    """A small landscape: 3 topics, outliers, a hostile and a Chinese title, links and years."""
    points = []
    for i in range(60):
        cluster = i % 4 - 1  # -1 (outlier), 0, 1, 2
        points.append({
            "id": f"US-{100 + i}-B2", "title": f"Glider buoyancy device {i}", "cluster": cluster,
            "x": round(cluster * 3 + i * 0.01, 4), "y": round(-cluster * 2 + i * 0.02, 4),
            "date": f"{2000 + i % 20}-03-0{1 + i % 9}", "lang": "en",
        })
    points[0]["title"] = HOSTILE
    points[1]["title"] = BREAKOUT
    points[2].update(title=CHINESE, lang="zh", id="CN-1-A")
    topics = [
        {
            "cluster": c, "label": label, "size": 15,
            "keywords": {"en": [["underwater glider", 0.31], ["buoyancy", 0.2]], "zh": [["卫星", 0.2]]},
            "codes": {"cpc": [["B63G", 0.62], ["G01C", 0.1]], "ipc": [["B63G", 0.6]]},
            "representatives": [{"id": "US-101-B2", "title": BREAKOUT}, {"id": "CN-1-A", "title": CHINESE}],
            "languages": {"en": 14, "zh": 1},
            "evolution": {"per_year": {"2010": 3, "2011": 5}, "first_year": 2000, "median_year": 2009,
                          "peak_year": 2011, "momentum": 1.3, "growth": 0.12},
        }
        for c, label in enumerate(["underwater glider · buoyancy", "<img src=x onerror=alert(3)>", "卫星 · 轨道"])
    ]
    agreement = {"clustered": {"ari": 0.25, "nmi": 0.5, "docs": 45, "classes": 3}, "after_reassignment": None}
    return {
        "title": "patscape landscape — run 3",
        "run": {"id": 3, "created_at": 1732470000.0, "seed": 42, "space": "minilm-384-abc", "model": "minilm",
                "params": {"min_cluster_size": 5}},
        "metrics": {
            "documents": 60, "topics": 3, "outlier_share": 0.25, "outlier_share_before_reassignment": 0.3,
            "silhouette_cosine": 0.05,
            "code_agreement": {"cpc_subclass": agreement, "cpc_section": agreement, "ipc_subclass": None, "ipc_section": None},
            "landscape_f1": {"orbit_satellite": {"f1": 0.8, "topic": 1, "precision": 0.9, "recall": 0.7, "members": 20}},
            "landscape_f1_mean": 0.8,
            "language_mix": {"corpus_languages": {"en": 59, "zh": 1}, "mixed_topics": 0,
                             "topics": {"0": {"languages": {"en": 15}, "majority_share": 1.0, "entropy": 0.0}}},
        },
        "topics": topics,
        "points": points,
        "links": [{"source": 0, "target": 1, "similarity": 0.71, "citations": 4}],
        "years": list(range(2000, 2020)),
    }


@pytest.fixture(scope="module")
def page() -> str:
    return render_report(sample_data())


# -- the page's own script, run under node on a small DOM (tests/report_dom.js) ---------------------
ELEMENT = re.compile(r'<(\w+)\b([^>]*?)\bid="([^"]+)"([^>]*)>')


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is not installed: the report's script is run with node (apt-get install nodejs)", pytrace=False)
    return path


def run_page(page: str, tmp_path: Path, probe: str | None = None) -> dict[str, Any]:
    """Render ``page`` the way a browser runs it: its app script on the page's own elements (the
    ids of its HTML), reading its data block, with plotly recorded instead of drawn. ``probe`` is
    a JavaScript function of ``window.patscape`` run afterwards; its answer is ``out["probe"]``."""
    markup = SCRIPT.sub(lambda m: m.group(0) if 'id="data"' in m.group(1) else "", page)
    ids: dict[str, dict[str, Any]] = {}
    for m in ELEMENT.finditer(markup):
        tag, attrs, ident = m.group(1), f" {m.group(2)} {m.group(4)}", m.group(3)
        entry: dict[str, Any] = {"tag": tag, "hidden": bool(re.search(r"\shidden\b", attrs)),
                                 "checked": bool(re.search(r"\schecked\b", attrs))}
        if tag == "select":  # a select's value is its first option's
            entry["value"] = re.search(r'<option value="([^"]*)"', markup[m.end():]).group(1)
        ids[ident] = entry
    spec = {"ids": ids, "data": DATA_BLOCK.search(page).group(1), "app": SCRIPT.findall(page)[2][1],
            "title": html.unescape(re.search(r"<title>(.*?)</title>", page).group(1)), "probe": probe}
    spec_path = tmp_path / "page.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    done = subprocess.run([node(), str(HARNESS), str(spec_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def plotly_strings(out: dict[str, Any]) -> list[str]:
    """Every string the page handed to plotly (trace data and layouts)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for call in out["plotly"]:
        walk(call["data"])
        walk(call["layout"])
    return found


def last_draw(out: dict[str, Any], div: str) -> dict[str, Any]:
    return [c for c in out["plotly"] if c["div"] == div and c["fn"] in ("react", "newPlot")][-1]


def esc(text: str) -> str:
    """What plotly must be given for plain text: ``&``, ``<`` and ``>`` as entities."""
    return html.escape(text, quote=False)


def test_no_external_loads(page: str) -> None:
    # No element may load a resource: no script src, no stylesheet links, no remote media or frames.
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link\b", page, re.IGNORECASE)
    assert not re.search(r"<(?:img|iframe|object|embed|audio|video|source)\b[^>]*\b(?:src|href|data)\s*=\s*[\"']?\s*(?:https?:)?//",
                         page, re.IGNORECASE)
    outside_scripts = SCRIPT.sub("", page)
    assert not re.search(r"https?://", outside_scripts)
    assert "@import" not in outside_scripts
    # The page forbids network access itself.
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert csp and "default-src 'none'" in csp.group(1) and "connect-src 'none'" in csp.group(1)


def test_plotly_bundle_is_inlined(page: str) -> None:
    bundle = get_plotlyjs()
    assert len(bundle) > 1_000_000
    assert bundle in page
    assert any(body == bundle for _, body in SCRIPT.findall(page))


def test_only_the_pages_own_scripts_exist_and_the_csp_pins_them(page: str) -> None:
    scripts = SCRIPT.findall(page)
    # data block, plotly.js, the app; hostile titles add no <script> element of their own
    assert len(scripts) == 3
    assert page.lower().count("<script") == 3 and page.lower().count("</script") == 3
    assert scripts[0][0].strip() == 'type="application/json" id="data"'
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1)
    for attrs, body in scripts[1:]:
        assert attrs == ""
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]


def test_hostile_titles_do_not_appear_raw(page: str) -> None:
    assert "</script><script>alert(1)" not in page
    assert HOSTILE not in page
    assert "<img src=x" not in page
    block = DATA_BLOCK.search(page).group(1)
    assert not set("<>&") & set(block)
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in block


def test_the_views_show_hostile_text_as_text_and_hand_it_to_plotly_escaped(page: str, tmp_path: Path) -> None:
    """The page's script, run: text reaches the page only as text nodes, and every string given to
    plotly (which reads a little HTML) has hostile markup as entities."""
    out = run_page(page, tmp_path, probe="async (P) => { await P.panel.show('US-101-B2'); return P.source.kind; }")
    assert out["misuse"] == []  # no innerHTML, outerHTML, insertAdjacentHTML, document.write
    assert out["text"]["errors"] == "" and out["body"]["data-rendered"] == "yes"
    assert out["probe"] == "embedded"  # the report's own data layer, not the served one
    labels = [t["label"] for t in sample_data()["topics"]]
    # as text in the page: the topic table (labels, representative titles), the map's topic menu,
    # the document panel
    for label in labels:
        assert label in out["text"]["topic-table"]
    assert BREAKOUT in out["text"]["topic-table"] and CHINESE in out["text"]["topic-table"]
    assert out["text"]["map-topic"] == "".join(f"#{c} {label} (15)" for c, label in enumerate(labels))
    assert out["text"]["doc-title"] == BREAKOUT and out["text"]["doc-id"] == "US-101-B2"
    assert out["text"]["title"] == "patscape landscape — run 3"
    # to plotly: only the page's own tags (<b>, <br>, <i>); everything else escaped
    strings = plotly_strings(out)
    for text in strings:
        assert "<" not in re.sub(r"</?b>|<br>|</?i>", "", text), text
    for raw in (HOSTILE, BREAKOUT, labels[1]):
        assert not any(raw in text for text in strings)
    points = [t for t in last_draw(out, "map")["data"] if t.get("meta") == "points"]
    hover = {i: h for t in points for i, h in zip(t["customdata"], t["hovertext"])}
    assert hover["US-100-B2"] == f"<b>{esc(HOSTILE)}</b><br>US-100-B2 · 2000-03-01 · en<br>outlier (no topic)"
    assert hover["US-101-B2"] == f"<b>{esc(BREAKOUT)}</b><br>US-101-B2 · 2001-03-02 · en<br>#0 {esc(labels[0])}"
    annotations = [c for c in out["plotly"] if c["div"] == "map" and c["fn"] == "relayout"][-1]["layout"]["annotations"]
    assert sorted(a["text"] for a in annotations) == sorted(esc(label) for label in labels)
    names = [t["name"] for t in last_draw(out, "evolution")["data"]]
    assert names == [esc(f"#{c} {label}") for c, label in enumerate(labels)]


def test_title_is_escaped_in_head() -> None:
    data = sample_data()
    data["title"] = "run </title><script>alert(1)</script>"
    page = render_report(data)
    assert "<title>run &lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>" in page


def test_data_block_parses_back_to_the_input(page: str) -> None:
    data = sample_data()
    assert read_embedded_data(page) == data
    embedded = json.loads(DATA_BLOCK.search(page).group(1))
    # points travel column-wise: one array per field
    assert embedded["points"]["count"] == 60
    assert embedded["points"]["columns"]["title"][:3] == [HOSTILE, BREAKOUT, CHINESE]
    assert embedded["points"]["columns"]["cluster"] == [p["cluster"] for p in data["points"]]
    assert CHINESE in page  # non-ASCII text is kept as is (UTF-8), not \u-escaped


def test_points_may_be_given_as_columns(page: str) -> None:
    data = sample_data()
    rows = data["points"]
    data["points"] = {k: [p[k] for p in rows] for k in rows[0]}
    assert render_report(data) == page


def test_non_finite_numbers_become_null(tmp_path: Path) -> None:
    data = sample_data()
    data["metrics"]["silhouette_cosine"] = float("nan")
    data["points"][5]["x"] = float("inf")
    page = render_report(data)

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} in the embedded JSON")

    embedded = json.loads(DATA_BLOCK.search(page).group(1), parse_constant=no_constants)
    assert embedded["metrics"]["silhouette_cosine"] is None
    columns = embedded["points"]["columns"]
    assert columns["x"][5] is None
    # only the non-finite number is dropped: the point keeps its y and everything else
    assert {k: v[5] for k, v in columns.items() if k != "x"} == {k: v for k, v in data["points"][5].items() if k != "x"}
    assert columns["x"][:5] + columns["x"][6:] == [p["x"] for p in data["points"][:5] + data["points"][6:]]

    # the page: the point has no position, so it is not drawn, not in its topic's centre on the
    # graph, and no patent's neighbour on the map (nor has it neighbours)
    probe = """async (P) => {
      const pts = await P.source.map(), graph = await P.source.graph();
      return { count: pts.count, xIsNaN: Number.isNaN(pts.x[5]), y: pts.y[5], nodes: graph.nodes,
               alone: (await P.source.document('US-105-B2')).neighbours.map(h => h.id),
               near: (await P.source.document('US-109-B2')).neighbours.map(h => h.id) };
    }"""
    out = run_page(page, tmp_path, probe)
    assert out["misuse"] == [] and out["text"]["errors"] == ""
    got, points = out["probe"], data["points"]
    assert got["count"] == 60 and got["xIsNaN"] is True and got["y"] == points[5]["y"]
    drawn = [i for t in last_draw(out, "map")["data"] if t.get("meta") == "points" for i in t["customdata"]]
    assert sorted(drawn) == sorted(p["id"] for i, p in enumerate(points) if i != 5)
    assert out["body"]["data-map-drawn"] == "59"

    def centre(cluster: int) -> list[float]:
        sx = sy = 0.0
        n = 0
        for i, p in enumerate(points):  # in order, as the page sums them
            if p["cluster"] == cluster and i != 5:
                sx += p["x"]
                sy += p["y"]
                n += 1
        return [sx / n, sy / n]

    assert points[5]["cluster"] == 0
    assert {n["id"]: [n["x"], n["y"]] for n in got["nodes"]} == {c: centre(c) for c in (0, 1, 2)}
    assert got["alone"] == []
    x0, y0 = points[9]["x"], points[9]["y"]
    by_distance = sorted((((p["x"] - x0) * (p["x"] - x0) + (p["y"] - y0) * (p["y"] - y0)), j)
                         for j, p in enumerate(points) if j not in (5, 9))
    assert got["near"] == [points[j]["id"] for _, j in by_distance[:10]]
    assert "US-105-B2" not in got["near"]


def test_sparse_data_still_renders() -> None:
    page = render_report({})
    assert get_plotlyjs() in page
    assert read_embedded_data(page) == {"points": []}
    assert "<title>patscape landscape</title>" in page


def test_write_report_writes_utf8(tmp_path, page: str) -> None:
    target = tmp_path / "out" / "report.html"
    written = write_report(sample_data(), target)
    assert written == target and written.is_file()
    raw = written.read_bytes()
    assert raw.decode("utf-8") == page
    assert CHINESE.encode("utf-8") in raw
    assert read_embedded_data(written.read_text(encoding="utf-8")) == sample_data()


def test_app_script_is_valid_javascript(tmp_path, page: str) -> None:
    app = tmp_path / "app.js"
    app.write_text(SCRIPT.findall(page)[2][1], encoding="utf-8")
    result = subprocess.run([node(), "--check", str(app)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_report_runs_the_views_of_the_served_ui(page: str) -> None:
    # one copy of every view: the report inlines patscape/web's files, the served page loads them
    app = SCRIPT.findall(page)[2][1]
    assert app == "\n".join(f"/* {name} */\n" + (WEB_DIR / name).read_text(encoding="utf-8") for name in REPORT_SCRIPTS)
    served = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    shared = [name for name in REPORT_SCRIPTS if name not in ("data-embedded.js", "report-app.js")]
    assert all(f'<script src="/static/{name}"></script>' in served for name in shared)
    assert '<script src="/static/data-served.js"></script>' in served and "data-served.js" not in REPORT_SCRIPTS
    # the page is web/report.html with its slots filled: nothing else of report.py's own (no
    # script, page or styles) is in it
    template = (WEB_DIR / "report.html").read_text(encoding="utf-8")
    pieces = re.split(r"@@([A-Z]+)@@", template)
    slots = pieces[1::2]
    pattern = "".join(re.escape(piece) if i % 2 == 0 else "(.*?)" for i, piece in enumerate(pieces))
    filled = re.fullmatch(pattern, page, re.DOTALL)
    assert filled is not None
    expected = {
        "VERSION": html.escape(__version__), "TITLE": html.escape(sample_data()["title"]),
        "CSS": "\n".join((WEB_DIR / name).read_text(encoding="utf-8") for name in REPORT_STYLES),
        "DATA": DATA_BLOCK.search(page).group(1), "PLOTLY": get_plotlyjs(), "APP": app,
    }
    for slot, value in zip(slots, filled.groups()):
        if slot in expected:
            assert value == expected[slot], slot
    assert sorted(set(slots) - set(expected)) == ["CSP", "PLOTLYVERSION"]  # the policy is checked above


def test_partial_year_travels_to_the_page(tmp_path: Path) -> None:
    data = sample_data()
    data.update(partial_year=2019, recent_from=2014, recent_to=2018)
    page = render_report(data)
    assert read_embedded_data(page)["partial_year"] == 2019
    # the evolution view names the partial year, its newest date and the years growth uses, and
    # shades it in the chart
    out = run_page(page, tmp_path)
    newest = max(p["date"] for p in data["points"] if p["date"].startswith("2019"))
    assert newest == "2019-03-06"
    assert out["text"]["evo-note"] == (f"2019 is partial (data to {newest}): it is shaded in the chart and left out of "
                                       "growth and momentum, which use 2014\u20132018.")
    assert out["hidden"]["evo-note"] is False and out["body"]["data-partial-year"] == "2019"
    layout = last_draw(out, "evolution")["layout"]
    assert [(s["x0"], s["x1"]) for s in layout["shapes"]] == [(2018.5, 2019)]
    assert [a["text"] for a in layout["annotations"]] == ["2019 partial"]


def test_a_report_without_a_partial_year_has_no_note(page: str, tmp_path: Path) -> None:
    out = run_page(page, tmp_path)
    assert out["text"]["evo-note"] == "" and out["hidden"]["evo-note"] is True
    assert out["body"]["data-partial-year"] == ""
    assert last_draw(out, "evolution")["layout"]["shapes"] == []


def test_a_report_with_levels_shows_them_and_hands_names_to_plotly_escaped(tmp_path: Path) -> None:
    """Fields above the topics: the map's labels start with the fields' (zoomed out), the colour
    menu offers the level, the tree's rows carry the fields, points are coloured by field; a
    hostile field name reaches plotly only escaped."""
    data = sample_data()
    field = "<img src=x onerror=alert(7)> field"
    for t in data["topics"]:
        t["parent"] = 0 if t["cluster"] < 2 else 1
    node = {"keywords": {"en": [["glider", 0.3]]}, "codes": {"cpc_main": [["B63G 8/00", 0.5, "Underwater vessels"]]},
            "representatives": [{"id": "US-101-B2", "title": BREAKOUT}], "languages": {"en": 30}}
    data["levels"] = [[{"level": 0, "node": 0, "parent": None, "children": [0, 1], "label": field, "size": 30, **node},
                       {"level": 0, "node": 1, "parent": None, "children": [2], "label": "satellites", "size": 15, **node}]]
    data["hierarchy"] = {"levels": 2, "counts": [2, 3], "depth": 2}
    out = run_page(render_report(data), tmp_path, probe="async (P) => ({ path: P.hierarchy.path(2), top: P.hierarchy.top(), "
                   "colour: P.mapView.colouring(), labels: P.mapView.labelsShown() })")
    assert out["misuse"] == [] and out["text"]["errors"] == "" and out["body"]["data-rendered"] == "yes"
    assert out["probe"] == {"path": [1], "top": 1, "colour": "level:0", "labels": "auto"}
    assert out["text"]["map-colour"] == "field (2)topiclanguage"
    assert out["text"]["map-labels"] == "by zoomfieldstopicsnone"
    assert field in out["text"]["topic-table"] and "Underwater vessels" in out["text"]["topic-table"]
    assert out["text"]["topic-count"] == "2 fields \u00b7 3 topics"
    annotations = [c for c in out["plotly"] if c["div"] == "map" and c["fn"] == "relayout"][-1]["layout"]["annotations"]
    assert [a["name"] for a in annotations if a["font"]["size"] == 13] == ["level:0:0", "level:0:1"]
    assert annotations[0]["text"] == "<b>" + esc(field[:31] + "\u2026") + "</b>"  # cut to 32 characters
    for text in plotly_strings(out):
        assert "<" not in re.sub(r"</?b>|<br>|</?i>", "", text), text
    points = [t for t in last_draw(out, "map")["data"] if t.get("meta") == "points" and t["name"].startswith("in a topic")][0]
    by_id = {p["id"]: p["cluster"] for p in data["points"]}
    colours = {}
    for pid, c in zip(points["customdata"], points["marker"]["color"]):
        colours.setdefault(0 if by_id[pid] < 2 else 1, set()).add(c)
    assert len(colours[0]) == len(colours[1]) == 1 and colours[0] != colours[1]  # one colour per field
    hover = {i: h for i, h in zip(points["customdata"], points["hovertext"])}
    assert hover["US-105-B2"].endswith(f"<br>{esc(field)}<br>#0 {esc(data['topics'][0]['label'])}")
