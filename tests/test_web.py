"""The web UI in headless Chromium (Debian's), driven through Playwright's Python API.

The server serves the real default model over a mapped slice of the development corpus; one
of its patents has a title and abstract that try to run scripts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from patscape.api import Settings
from patscape.store import Store

from .api_helpers import (  # noqa: F401  (browser, ui: the shared fixtures of the served UI)
    HOSTILE,
    LiveServer,
    Page,
    browser,
    copy_store,
    live_server,
    map_labels,
    mapped_store,
    ui,
    wait_for,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = mapped_store(tmp_path_factory.mktemp("serve-store"), "minilm")
    return copy_store(built, tmp_path_factory.mktemp("web-store"))


@pytest.fixture(scope="module")
def server(store: Path) -> Iterator[LiveServer]:
    with live_server(Settings(store=store, model="minilm")) as live:
        yield live


def mapped_ids(store: Path) -> set[str]:
    with Store(store, create=False) as db:
        ids = {p[0] for p in db.run_points(db.get_run().id)}
    return ids


def isolated(points: list[dict[str, Any]]) -> dict[str, Any]:
    """The point farthest (in pixels) from any other: a click there can only mean it."""
    def gap(p: dict[str, Any]) -> float:
        return min((p["px"] - q["px"]) ** 2 + (p["py"] - q["py"]) ** 2 for q in points if q is not p)

    return max(points, key=gap)


def test_the_map_shows_one_point_per_patent(ui: Page, server: LiveServer, store: Path) -> None:
    points = ui.points()
    ids = [p["id"] for p in points]
    with server.client() as http:
        view = http.get("/corpus/runs/latest/map").json()
        topics = http.get("/corpus/runs/latest/topics").json()["topics"]
    assert len(ids) == len(set(ids)) == view["count"]
    assert set(ids) == {p["id"] for p in view["points"]} >= mapped_ids(store)
    assert ui.page.get_attribute("body", "data-points") == str(len(ids))
    with server.client() as http:
        levels = http.get("/corpus/runs/latest/topics").json()["levels"]
    assert levels  # the test store's run has a level above its topics: zoomed out, its labels show first
    names = ui.page.evaluate("document.getElementById('map').layout.annotations.map(a => a.name)")
    assert names[:len(levels[0])] == [f"level:0:{n['node']}" for n in sorted(levels[0], key=lambda n: (-n["size"], n["node"]))]
    map_labels(ui.page)  # none covers another or the legend
    assert ui.page.locator("#topic-table tbody tr[data-cluster]").count() == len(topics)
    assert ui.page.locator("#topic-table tbody tr[data-node]").count() == sum(len(level) for level in levels)
    hostile = next(p for p in points if p["id"] == HOSTILE["id"])
    assert "<script" not in hostile["hover"] and "&lt;script&gt;" in hostile["hover"]
    # Hovering shows the title as text.
    ui.page.mouse.move(hostile["px"], hostile["py"])
    ui.page.wait_for_selector(".hoverlayer .hovertext", timeout=10_000)
    assert "<script>window.__pwned = 1</script>" in ui.page.text_content(".hoverlayer")


@pytest.fixture
def small_ui(browser: Any, server: LiveServer) -> Iterator[Page]:
    """The UI in a small window (half a laptop's screen)."""
    page = Page(browser.new_page())
    page.page.set_viewport_size({"width": 760, "height": 640})
    page.page.goto(server.url + "/")
    page.page.wait_for_selector("body[data-ready=yes]", timeout=60_000)
    yield page
    try:
        assert not page.errors, page.errors
    finally:
        page.page.close()


def test_in_a_small_window_topic_labels_cover_neither_each_other_nor_the_legend(small_ui: Page, server: LiveServer) -> None:
    # (the placement rule of a run without levels, exactly: tests/test_web_hierarchy.py)
    page = small_ui.page
    with server.client() as http:
        body = http.get("/corpus/runs/latest/topics").json()
    topics = [t for t in body["topics"] if t["cluster"] >= 0]
    for mode in ("auto", "0", "1"):  # by zoom, the fields', the topics'
        page.select_option("#map-labels", mode)
        wait_for(page, "(m) => window.patscape.mapView.labelsShown() === (m === 'auto' ? 'auto' : Number(m))", arg=mode)
        labels = map_labels(page)  # none covering another or the legend
        if mode == "1":
            # topics' labels (cut after a whole keyword, or clipped, to fit)
            assert len(labels) >= 3 and all(any(t["label"].startswith(label.rstrip("\u2026")) for t in topics) for label in labels)
    biggest = max(body["levels"][0], key=lambda n: n["size"])["label"]
    page.select_option("#map-labels", "auto")
    wait_for(page, "window.patscape.mapView.labelsShown() === 'auto'")
    assert map_labels(page)[0] == biggest  # the largest field's first
    # every topic, its label drawn on the map or not, is in the topic table
    assert sorted(page.locator("#topic-table tbody tr[data-cluster] .tlabel").all_text_contents()) == sorted(t["label"] for t in topics)


def test_clicking_a_point_opens_the_panel_with_similar_patents(ui: Page, server: LiveServer) -> None:
    target = isolated(ui.points())
    ui.click_point(target["id"])
    assert ui.page.get_attribute("#doc", "data-id") == target["id"]
    with server.client() as http:
        doc = http.get(f"/corpus/documents/{target['id']}").json()
    assert ui.page.text_content("#doc-title") == (doc["title"] or "(no title)")
    assert ui.page.text_content("#doc-date") == (doc["date"] or "\u2014")
    assert doc["label"] in ui.page.text_content("#doc-topic")
    similar = ui.page.locator("#doc-similar button")
    assert similar.count() == 10
    assert [similar.nth(i).get_attribute("data-id") for i in range(10)] == [n["id"] for n in doc["neighbours"]]
    assert ui.overlay("selected") == [target["id"]]
    # A similar patent is clickable and becomes the shown one.
    first = doc["neighbours"][0]["id"]
    similar.nth(0).click()
    wait_for(ui.page, "(id) => document.body.dataset.selected === id", arg=first)
    assert ui.page.get_attribute("#doc", "data-id") == first
    assert ui.overlay("selected") == [first]


def test_search_highlights_hits_on_the_map(ui: Page, server: LiveServer) -> None:
    ui.page.fill("#search-input", "underwater vehicle buoyancy")
    ui.page.click("#search-form button[type=submit]")
    wait_for(ui.page, "Number(document.body.dataset.hits) > 0")
    with server.client() as http:
        hits = http.post("/corpus/search", json={"query": "underwater vehicle buoyancy", "k": 20}).json()["hits"]
    assert ui.overlay("search hits") == [h["id"] for h in hits]
    items = ui.page.locator("#result-list button")
    assert items.count() == 20 and items.nth(0).get_attribute("data-id") == hits[0]["id"]
    # A patent id searches for similar patents.
    ui.page.fill("#search-input", HOSTILE["id"])
    ui.page.click("#search-form button[type=submit]")
    wait_for(ui.page, "document.getElementById('results-count').textContent.includes('like')")
    highlighted = ui.overlay("search hits")
    assert len(highlighted) == 20 and HOSTILE["id"] not in highlighted
    ui.page.click("#search-clear")
    wait_for(ui.page, "document.body.dataset.hits === '0'")
    assert ui.overlay("search hits") == []


def test_a_hostile_patent_is_shown_as_text(ui: Page) -> None:
    ui.click_point(HOSTILE["id"])
    assert ui.page.text_content("#doc-title") == HOSTILE["title"]
    assert ui.page.text_content("#doc-abstract") == HOSTILE["abstract"]
    assert ui.page.text_content("#doc-assignee") == HOSTILE["assignee"]
    assert ui.page.locator("#panel script, #panel img, #panel b, #panel i").count() == 0
    assert "&lt;script&gt;" in ui.page.inner_html("#doc-title")
    assert ui.page.evaluate("window.__pwned") is None


def test_an_upload_appears_on_the_map(ui: Page, tmp_path: Path) -> None:
    before = {p["id"] for p in ui.points()}
    record = {"id": "UI-UPLOAD-1", "title": "<script>window.__pwned = 7</script>Autonomous underwater glider with wings",
              "abstract": "An underwater glider changes its buoyancy with an oil bladder and glides on wings.",
              "date": "2018-06-01", "lang": "en", "cpc": ["B63G8/00"]}
    upload = tmp_path / "new-patents.jsonl"
    upload.write_text(json.dumps(record) + "\n", encoding="utf-8")
    ui.page.click("#upload summary")
    ui.page.set_input_files("#upload-files", str(upload))
    ui.page.click("#upload-form button[type=submit]")
    wait_for(ui.page, "['done', 'failed'].includes(document.body.dataset.upload)", timeout=240_000)
    assert ui.page.get_attribute("body", "data-upload") == "done", ui.page.text_content("#upload-message")
    assert "1 placed on the map" in ui.page.text_content("#upload-message")
    points = ui.points()
    added = [p for p in points if p["id"] not in before]
    assert [p["id"] for p in added] == ["UI-UPLOAD-1"] and added[0]["trace"] == "added since the map"
    assert ui.overlay("added") == ["UI-UPLOAD-1"]
    ui.page.click("#upload summary")  # close the form, then open the new point
    ui.click_point("UI-UPLOAD-1")
    assert ui.page.text_content("#doc-title") == record["title"]
    assert "added since the map was built" in ui.page.text_content("#doc-id")
    assert ui.page.locator("#doc-similar button").count() == 10


def test_topics_evolution_and_graph_views(ui: Page, server: LiveServer) -> None:
    with server.client() as http:
        topics = http.get("/corpus/runs/latest/topics").json()["topics"]
    biggest = max(topics, key=lambda t: t["size"])
    ui.page.click(f"#topic-table tr[data-level='0'][data-node='{biggest['parent']}']")  # its field's row shows it
    row = ui.page.locator(f"#topic-table tr[data-cluster='{biggest['cluster']}']")
    assert biggest["label"] in row.text_content() and str(biggest["size"]) in row.text_content()
    # growth is shown above the topic's patents in the window, the corpus's own rate in its tooltip
    growth = row.locator("td:nth-child(6)")
    assert growth.locator(".muted").text_content() == f"{biggest['recent']:,} recent"
    title = growth.get_attribute("title") or ""
    for t in topics:  # green: the topic's count grows, and faster than the corpus's
        cell = ui.page.locator(f"#topic-table tr[data-cluster='{t['cluster']}'] td:nth-child(6)")
        rate, corpus = t["growth"], t["corpus_growth"]
        rises = rate is not None and rate > 0.05 and (corpus is None or rate >= corpus)
        assert ("up" in (cell.get_attribute("class") or "").split()) == rises
    assert title.startswith(f"{biggest['recent']:,} patent")
    if biggest["corpus_growth"] is not None:
        rate = biggest["corpus_growth"]
        assert f"the whole corpus: {'+' if rate > 0 else ''}{math.floor(rate * 100 + 0.5)}% a year" in title  # JS rounding
    row.click()
    ui.page.wait_for_selector(f"#topic-table tr.active[data-cluster='{biggest['cluster']}']")
    wait_for(ui.page, "(c) => window.patscape.state.activeTopic === c", arg=biggest["cluster"])
    opacities = ui.page.evaluate(
        "() => document.getElementById('map').data.filter(t => t.meta === 'points').map(t => t.marker.opacity)"
    )
    assert opacities and all(opacity < 0.5 for opacity in opacities)  # every point dimmed ...
    with server.client() as http:
        view = http.get("/corpus/runs/latest/map").json()
    members = sorted(p["id"] for p in view["points"] if p["cluster"] == biggest["cluster"])
    assert sorted(ui.overlay("highlighted")) == members  # ... but the chosen topic's, drawn on top
    # the topic table sorts by a column and filters by text
    ui.page.click("#topic-table th:nth-child(2)")  # siblings sort: the fields, and the topics of each
    labels = ui.page.locator("#topic-table tbody tr[data-level='0'] .tlabel").all_text_contents()
    assert labels == sorted(labels, key=str.lower)
    shown = ui.page.locator("#topic-table tbody tr[data-cluster]:not([hidden]) .tlabel").all_text_contents()
    assert shown == sorted(shown, key=str.lower) and biggest["label"] in shown
    ui.page.fill("#topic-filter", biggest["label"])
    assert ui.page.locator("#topic-table tbody tr[data-cluster]:not([hidden])").count() >= 1
    assert all(biggest["label"].lower() in r.lower()
               for r in ui.page.locator("#topic-table tbody tr[data-cluster]:not([hidden])").all_text_contents())
    ui.page.fill("#topic-filter", "")
    ui.page.click(".tabs button[data-view=evolution]")
    wait_for(ui.page, "(document.getElementById('evolution').data || []).length > 0")
    with server.client() as http:
        evolution = http.get("/corpus/runs/latest/evolution").json()
    assert ui.page.get_attribute("body", "data-partial-year") == str(evolution["partial_year"] or "")
    assert ui.page.is_visible("#evo-note") == (evolution["partial_year"] is not None)
    ui.page.click(".tabs button[data-view=graph]")
    wait_for(ui.page, "(document.getElementById('graph').data || []).length > 0")
    nodes = ui.page.evaluate("document.getElementById('graph').data.find(t => t.mode === 'markers+text').customdata")
    assert sorted(nodes) == sorted(t["cluster"] for t in topics)


def test_the_page_is_locked_down(server: LiveServer) -> None:
    with server.client() as http:
        page = http.get("/")
        plotly = http.get("/static/plotly.min.js")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "default-src 'self'" in policy
    assert plotly.status_code == 200 and b"plotly" in plotly.content[:2000].lower()
    assert "http://" not in page.text and "https://" not in page.text
