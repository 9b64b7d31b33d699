"""Patent text never runs: hostile HTML/JS in every field, in the served UI and the offline report.

A store of dev patents plus documents whose title, abstract, claims, description, assignee and
CPC codes carry ``<script>``, ``<img onerror>``, ``<svg onload>``, ``javascript:`` links and
``alert()``; the topics of its newest run get hostile labels, keywords and codes (written with
``Store.save_run``). Both pages are opened in Debian's headless Chromium with their real
Content-Security-Policy; a spy records every CSP violation, so an escaping mistake that the CSP
happened to stop still fails the test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from click.testing import CliRunner

from patscape.api import Settings
from patscape.store import Store

from .api_helpers import LiveServer, chromium, live_server, slice_records

CSP_SPY = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
           "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2;alert(2)">'
LINK = '<a href="javascript:window.__pwned=3">details</a> javascript:window.__pwned=3'
SVG = "<svg onload=window.__pwned=4><script>alert(4)</script></svg>"
QUOTES = "\"'><iframe srcdoc=\"<script>parent.__pwned=5</script>\"></iframe>"
HOSTILE_DOCS = [
    {
        "id": f"XSS-{i}",
        "title": f"{SCRIPT} Phased array antenna {i} {IMG}",
        "abstract": f"A phased array antenna {SCRIPT} with beam steering {LINK} for satellite terminals {QUOTES}.",
        "claims": f"1. An antenna comprising a radome {IMG}.\n2. The antenna of claim 1, wherein {SCRIPT} the feed network.",
        "description": f"Background {SVG} of antennas.\nSummary: {LINK} and a feed network {QUOTES}.",
        "assignee": f'<i onmouseover="window.__pwned=6">Mallory</i> Corp {SCRIPT}',
        "cpc": ["H01Q3/26", "<img src=x onerror=window.__pwned=7>", "javascript:window.__pwned=8"],
        "ipc": ["H01Q3/26"],
        "lang": "en",
        "date": f"201{i}-03-03",
    }
    for i in range(4)
]
#: Topic labels, keywords and codes of the hostile run (cycled over the topics).
HOSTILE_LABELS = [f"{SCRIPT} antenna", f"{IMG} radome", f"{LINK}", f"{SVG} {QUOTES}"]


# -- the store -----------------------------------------------------------------------------------
def hostile_topics(topics: list[dict[str, Any]]) -> list[tuple[int, str, int, dict[str, Any]]]:
    out = []
    for i, topic in enumerate(topics):
        data = {k: v for k, v in topic.items() if k not in ("cluster", "label", "size")}
        bad = HOSTILE_LABELS[i % len(HOSTILE_LABELS)]
        data["keywords"] = {"en": [[bad, 0.9], [SCRIPT, 0.5], ["antenna", 0.4]]}
        data["codes"] = {"cpc": [[IMG, 0.5], ["H01Q", 0.3]], "ipc": [[SCRIPT, 0.4]]}
        data["representatives"] = [{"id": "XSS-0", "title": HOSTILE_DOCS[0]["title"]}, *data.get("representatives", [])[:2]]
        out.append((topic["cluster"], bad, topic["size"], data))
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from patscape.landscape import MapParams
    from patscape.pipeline import build_map, embed, ingest

    root = tmp_path_factory.mktemp("xss")
    source = root / "hostile.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for record in slice_records(80) + HOSTILE_DOCS:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    path = root / "store"
    with Store(path, create=True) as db:
        ingest(db, [source])
        embed(db, "hash:256")
        build_map(db, params=MapParams(min_cluster_size=5), seed=7)
        run = db.get_run()
        topics = db.run_topics(run.id)
        assert topics, "the map has no topics"
        db.save_run(run.space, run.seed, run.params, run.metrics, run.data, db.run_points(run.id), hostile_topics(topics))
    return path


# -- the browser ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


class Watched:
    """A page with its dialogs, script errors and CSP violations recorded."""

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.add_init_script(CSP_SPY)
        self.page.goto(url)

    def wait(self, expression: str, arg: Any = None, timeout: float = 60.0) -> None:
        # page.evaluate, not wait_for_function: Playwright's polling uses the page's eval, which the CSP forbids
        deadline = time.monotonic() + timeout
        while not self.page.evaluate(expression, arg):
            assert time.monotonic() < deadline, f"timed out waiting for {expression}"
            time.sleep(0.05)

    def assert_inert(self) -> None:
        """Nothing ran, nothing was injected, nothing was even tried against the CSP."""
        assert self.page.evaluate("window.__pwned") is None, "patent text ran as a script"
        assert self.page.evaluate("parent.__pwned") is None
        assert self.dialogs == [], self.dialogs
        assert self.page.evaluate("window.__csp") == [], "hostile markup reached the DOM (the CSP stopped it)"
        injected = self.page.evaluate("""() => ({
            scripts: [...document.querySelectorAll('script')].filter(s => s.src === '' && s.type !== 'application/json').length,
            handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => /^on/i.test(a.name))).length,
            links: document.querySelectorAll('a[href^="javascript:" i], [src^="javascript:" i]').length,
            frames: document.querySelectorAll('iframe, object, embed').length,
            images: document.querySelectorAll('body img').length})""")
        inline = 2 if self.page.url.startswith("file:") else 0  # the report's own plotly and app scripts
        assert injected == {"scripts": inline, "handlers": 0, "links": 0, "frames": 0, "images": 0}, injected
        assert not self.errors, self.errors

    def close(self) -> None:
        self.page.close()


def plotly_points(page: Any) -> list[dict[str, Any]]:
    """Every point of the UI map's point traces with its pixel position."""
    return page.evaluate(
        """() => {
          const gd = document.getElementById('map');
          const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
          const out = [];
          gd.data.forEach(t => { if (t.meta !== 'points') return;
            t.customdata.forEach((id, i) => out.push({id: id, hover: t.hovertext[i],
              px: box.left + xa._offset + xa.l2p(t.x[i]), py: box.top + ya._offset + ya.l2p(t.y[i])})); });
          return out;
        }"""
    )


# -- the served UI -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(store: Path) -> Iterator[LiveServer]:
    with live_server(Settings(store=store, model="hash:256")) as live:
        yield live


def test_hostile_patents_stay_text_in_the_ui(browser: Any, server: LiveServer) -> None:
    ui = Watched(browser, server.url + "/")
    page = ui.page
    try:
        ui.wait("document.body.dataset.ready === 'yes'")
        with server.client() as http:
            docs = {d["id"]: http.get(f"/corpus/documents/{d['id']}").json() for d in HOSTILE_DOCS}
            topics = http.get("/corpus/runs/latest/topics").json()["topics"]
        assert {t["label"] for t in topics if t["cluster"] >= 0} <= set(HOSTILE_LABELS)

        # Hover: the title is shown as text in plotly's hover label.
        points = {p["id"]: p for p in plotly_points(page)}
        first = points["XSS-0"]
        assert "<script" not in first["hover"] and "&lt;script&gt;" in first["hover"]
        page.mouse.move(first["px"], first["py"])
        page.wait_for_selector(".hoverlayer .hovertext", timeout=10_000)
        assert SCRIPT in page.text_content(".hoverlayer")

        # Click each hostile point (a real click on the first, plotly's click event for the others).
        page.mouse.click(first["px"], first["py"])
        ui.wait("document.body.dataset.selected !== undefined")
        for doc_id, doc in docs.items():
            if page.get_attribute("body", "data-selected") != doc_id:  # points may overlap: then plotly's event
                page.evaluate("(id) => document.getElementById('map').emit('plotly_click', {points: [{customdata: id}]})",
                              doc_id)
            ui.wait("(id) => document.body.dataset.selected === id", doc_id)
            assert page.text_content("#doc-title") == doc["title"]
            assert page.text_content("#doc-abstract") == doc["abstract"]
            assert page.text_content("#doc-assignee") == doc["assignee"]
            assert page.text_content("#doc-codes") == ", ".join(doc["cpc"][:8])
            claims = page.evaluate("[...document.querySelectorAll('#doc-claims li')].map(li => li.textContent)")
            assert claims == [f"An antenna comprising a radome {IMG}.", f"The antenna of claim 1, wherein {SCRIPT} the feed network."]
            paragraphs = page.evaluate("[...document.querySelectorAll('#doc-description p')].map(p => p.textContent)")
            assert paragraphs == doc["description"].split("\n")
            assert doc["label"] in page.text_content("#doc-topic")
            assert "<script>window.__pwned=1</script>" in page.text_content("#doc")
            assert "&lt;script&gt;" in page.inner_html("#doc-title")
            ui.assert_inert()

        # A search hit opens the panel too; hits show titles as text.
        page.fill("#search-input", "phased array antenna radome")
        page.select_option("#search-mode", "keyword")
        page.click("#search-form button[type=submit]")
        ui.wait("Number(document.body.dataset.hits) > 0")
        hit = page.locator("#result-list button[data-id^='XSS-']").first
        hit_id = hit.get_attribute("data-id")
        assert SCRIPT in hit.text_content()
        hit.click()
        ui.wait("(id) => document.body.dataset.selected === id", hit_id)
        assert page.text_content("#doc-title") == docs[hit_id]["title"]

        # Topic labels, keywords and codes: the table, the map's labels, the evolution and graph views.
        rows = page.evaluate("[...document.querySelectorAll('#topic-table tbody tr')].map(r => r.textContent)")
        assert len(rows) == len(topics)
        for topic in topics:
            if topic["cluster"] >= 0:
                row = next(r for r in rows if r.startswith(str(topic["cluster"])))
                assert topic["label"] in row and f"CPC{IMG} 50%" in row and f"IPC{SCRIPT} 40%" in row, row
        labels = page.evaluate("[...document.querySelectorAll('#map .annotation-text')].map(a => a.textContent)")
        assert labels and all(any(label.rstrip("\u2026") in t["label"] for t in topics) for label in labels), labels
        assert any("<" in label for label in labels)
        page.click(".tabs button[data-view=evolution]")
        ui.wait("(document.getElementById('evolution').data || []).length > 0")
        page.click(".tabs button[data-view=graph]")
        ui.wait("(document.getElementById('graph').data || []).length > 0")
        assert "<script>window.__pwned=" in page.text_content("#graph")  # labels clipped to 24 characters
        ui.assert_inert()
    finally:
        ui.close()


def stored_topics(store: Path) -> list[dict[str, Any]]:
    with Store(store, create=False) as db:
        return [t for t in db.run_topics(db.get_run().id) if t["cluster"] >= 0]


# -- the offline report --------------------------------------------------------------------------
def test_hostile_patents_stay_text_in_the_report(browser: Any, store: Path, tmp_path: Path) -> None:
    from patscape.cli import cli

    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["export", str(store), "--format", "html", "--out", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    html = out.read_text(encoding="utf-8")
    assert SCRIPT not in html and IMG not in html  # escaped inside the data block
    report = Watched(browser, out.as_uri())
    page = report.page
    try:
        report.wait("document.querySelector('#map .main-svg') !== null")
        report.wait("document.querySelectorAll('#topic-table tbody tr').length > 0")
        # labels, keywords, codes and representative titles, all as text
        rows = page.evaluate("[...document.querySelectorAll('#topic-table tbody tr')].map(r => r.textContent)")
        topics = stored_topics(store)
        assert len(rows) == len(topics)
        for topic in topics:
            start = f"{topic['cluster']}\u25ce{topic['label']}"
            row = next(r for r in rows if r.startswith(start))
            assert row.startswith(f"{start}en{topic['label']}, {SCRIPT}, antenna"), row
            assert f"CPC{IMG} 50%" in row and f"IPC{SCRIPT} 40%" in row
            assert f"XSS-0{HOSTILE_DOCS[0]['title']}" in row
        options = page.evaluate("[...document.querySelectorAll('#map-topic option')].map(o => o.textContent).join('|')")
        assert SCRIPT in options
        # hover a hostile point: its title is shown as text
        page.evaluate("document.getElementById('map').scrollIntoView({behavior: 'instant'})")  # the page scrolls smoothly
        position = page.evaluate("""() => {
            const gd = document.getElementById('map'), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            const box = gd.getBoundingClientRect();
            for (const t of gd.data) { const i = (t.hovertext || []).findIndex(h => h.includes('XSS-0'));
              if (i >= 0) return {x: box.left + xa._offset + xa.l2p(t.x[i]), y: box.top + ya._offset + ya.l2p(t.y[i])}; }
            return null; }""")
        assert position is not None
        page.mouse.move(position["x"], position["y"])
        page.wait_for_selector(".hoverlayer .hovertext", timeout=10_000)
        hover = page.text_content(".hoverlayer")
        assert hover.startswith(f"{SCRIPT} Phased array antenna 0 <img src=x") and "XSS-0" in hover, hover
        page.select_option("#map-topic", index=1)  # highlight a (hostile) topic
        report.assert_inert()
    finally:
        report.close()
