"""The offline HTML report: self-contained, data intact, and inert against hostile patent text."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

from patscape import report
from patscape.report import REPORT_SCRIPTS, REPORT_STYLES, WEB_DIR, read_embedded_data, render_report, write_report

HOSTILE = "<script>alert(1)</script> & <b>bold</b>"
BREAKOUT = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
CHINESE = "一种水下滑翔机的浮力调节装置及其控制方法"

SCRIPT = re.compile(r"<script([^>]*)>(.*?)</script>", re.DOTALL | re.IGNORECASE)
DATA_BLOCK = re.compile(r'<script type="application/json" id="data">(.*?)</script>', re.DOTALL)


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
    # The app only writes data to the DOM as text and escapes what it hands to plotly.
    app = SCRIPT.findall(page)[2][1]
    assert "innerHTML" not in app and "insertAdjacentHTML" not in app and "document.write" not in app
    assert ".replace(/</g, '&lt;')" in app


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


def test_non_finite_numbers_become_null() -> None:
    data = sample_data()
    data["metrics"]["silhouette_cosine"] = float("nan")
    data["points"][5]["x"] = float("inf")
    page = render_report(data)

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} in the embedded JSON")

    embedded = json.loads(DATA_BLOCK.search(page).group(1), parse_constant=no_constants)
    assert embedded["metrics"]["silhouette_cosine"] is None
    assert embedded["points"]["columns"]["x"][5] is None
    assert embedded["points"]["columns"]["x"][6] == data["points"][6]["x"]
    assert not math.isnan(embedded["points"]["columns"]["y"][5])


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


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_app_script_is_valid_javascript(tmp_path, page: str) -> None:
    app = tmp_path / "app.js"
    app.write_text(SCRIPT.findall(page)[2][1], encoding="utf-8")
    result = subprocess.run(["node", "--check", str(app)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_report_runs_the_views_of_the_served_ui(page: str) -> None:
    # one copy of every view: the report inlines patscape/web's files, the served page loads them
    app = SCRIPT.findall(page)[2][1]
    assert app == "\n".join(f"/* {name} */\n" + (WEB_DIR / name).read_text(encoding="utf-8") for name in REPORT_SCRIPTS)
    served = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    shared = [name for name in REPORT_SCRIPTS if name not in ("data-embedded.js", "report-app.js")]
    assert all(f'<script src="/static/{name}"></script>' in served for name in shared)
    assert '<script src="/static/data-served.js"></script>' in served and "P.source = {\n    kind: 'served'" not in app
    for name in REPORT_STYLES:
        assert (WEB_DIR / name).read_text(encoding="utf-8") in page
    # report.py itself holds no JavaScript (nor a page or styles)
    source = Path(report.__file__).read_text(encoding="utf-8")
    assert "function (" not in source and "Plotly." not in source and "<body" not in source and "{ margin" not in source


def test_partial_year_travels_to_the_page() -> None:
    data = sample_data()
    data.update(partial_year=2019, recent_from=2014, recent_to=2018)
    page = render_report(data)
    assert read_embedded_data(page)["partial_year"] == 2019
    assert 'id="evo-note"' in page  # the evolution view writes its note there
