"""The topic hierarchy in the served UI and in the report, in headless Chromium (Debian's).

The store is the web tests' mapped slice of the dev corpus (its run has a level of fields above
its topics) with an analyst's hostile names on its largest field and its largest topic; a copy
of it made "before hierarchies" (no topic_nodes, no "hierarchy" in the run's data) must render as
runs always did. A missing Chromium or Playwright fails these tests (tests/api_helpers.py).
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from patscape.api import Settings
from patscape.store import Store

from .api_helpers import (  # noqa: F401  (browser: the shared fixture of the served UI)
    LiveServer,
    Page,
    assert_map_labels,
    browser,
    checked_page,
    copy_store,
    live_server,
    map_labels,
    mapped_store,
    open_page,
    wait_for,
)

HOSTILE_FIELD = '<img src=x onerror="window.__pwned=9">'
HOSTILE_TOPIC = "<script>window.__pwned=10</script> glider"
ANNOTATIONS = "(document.getElementById('map').layout.annotations || []).map(a => ({name: a.name, text: a.text, size: a.font.size}))"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mapped_store(tmp_path_factory.mktemp("serve-store"), "minilm")


@pytest.fixture(scope="module")
def store(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = copy_store(built, tmp_path_factory.mktemp("hierarchy-store"))
    with Store(path, create=False) as db:
        run = db.get_run()
        levels = db.run_levels(run.id)
        assert len(levels) == 1 and len(levels[0]) >= 2  # fields above the topics
        db.rename_topic(run.id, 0, max(levels[0], key=lambda n: n["size"])["node"], HOSTILE_FIELD)
        db.rename_topic(run.id, 1, max(db.run_topics(run.id), key=lambda t: t["size"])["cluster"], HOSTILE_TOPIC)
    return path


@pytest.fixture(scope="module")
def old_store(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store as a run made before hierarchies left it."""
    path = copy_store(built, tmp_path_factory.mktemp("old-store"))
    with Store(path, create=False) as db:
        run = db.get_run()
        db.db.execute("DELETE FROM topic_nodes")
        db.db.execute("UPDATE run_points SET subtopic = NULL")
        data = {k: v for k, v in run.data.items() if k != "hierarchy"}
        db.db.execute("UPDATE runs SET data = ? WHERE id = ?", (json.dumps(data), run.id))
        db.db.commit()
    return path


@pytest.fixture(scope="module")
def server(store: Path) -> Iterator[LiveServer]:
    with live_server(Settings(store=store, model="minilm")) as live:
        yield live


@pytest.fixture(scope="module")
def api(server: LiveServer) -> dict[str, Any]:
    with server.client() as http:
        out = {"topics": http.get("/corpus/runs/latest/topics").json(), "map": http.get("/corpus/runs/latest/map").json()}
    with Store(server.settings.store, create=False) as db:  # (the API gives a document's sub-topic one at a time)
        out["subtopic_of"] = db.run_point_subtopics(db.get_run().id)
    return out


@pytest.fixture
def ui(browser: Any, server: LiveServer) -> Iterator[Page]:
    with checked_page(browser, server.url + "/", "#map img, #topic-table img, #map-key img, #panel img") as page:
        yield page


def clip(text: str, n: int) -> str:
    return text[: n - 1] + "\u2026" if len(text) > n else text


def shown_label(text: str, n: int = 32) -> str:
    """labels.js's cut of a label on the map: after a whole keyword where it can, else clipped."""
    if len(text) <= n:
        return text
    at = text.rfind(" \u00b7 ", 0, n + 2)  # (JavaScript's lastIndexOf(s, n - 1): a start at n - 1 at most)
    return text[:at] if at >= n / 3 else clip(text, n)


def relayout(page: Any, xs: list[float] | None, ys: list[float] | None = None) -> None:
    before = page.evaluate(ANNOTATIONS)
    if xs is None:
        page.evaluate("window.Plotly.relayout('map', {'xaxis.autorange': true, 'yaxis.autorange': true})")
    else:
        page.evaluate("([xs, ys]) => window.Plotly.relayout('map', {'xaxis.range': xs, 'yaxis.range': ys})", [xs, ys])
    deadline = time.monotonic() + 10
    while page.evaluate(ANNOTATIONS) == before and time.monotonic() < deadline:  # the labels follow in 30 ms
        time.sleep(0.05)


def test_labels_switch_from_fields_to_topics_on_zoom_and_by_the_selector(ui: Page, api: dict[str, Any]) -> None:
    page, levels, topics = ui.page, api["topics"]["levels"], api["topics"]["topics"]
    fields = sorted(levels[0], key=lambda n: (-n["size"], n["node"]))
    drawn = page.evaluate(ANNOTATIONS)
    primary = [a for a in drawn if a["size"] == 13]
    # zoomed out: every field's label, largest first, in bold; the topics' in small type where room is left
    assert [a["name"] for a in primary] == [f"level:0:{n['node']}" for n in fields]
    assert primary[0]["text"] == "<b>" + html.escape(shown_label(HOSTILE_FIELD), quote=False) + "</b>"
    assert all(a["name"].startswith("level:1:") and a["size"] == 10 for a in drawn[len(primary):])
    texts = map_labels(page)  # boxes measured in the page: no two intersect, none covers the legend
    assert texts[0] == shown_label(HOSTILE_FIELD)  # a hostile name is shown as text
    # zoomed in on the largest topic: the topics' labels only, that topic's among them
    biggest = max(topics, key=lambda t: t["size"])
    xs = [p["x"] for p in api["map"]["points"] if p["cluster"] == biggest["cluster"]]
    ys = [p["y"] for p in api["map"]["points"] if p["cluster"] == biggest["cluster"]]
    cx, cy = sorted(xs)[len(xs) // 2], sorted(ys)[len(ys) // 2]
    (x0, x1), (y0, y1) = page.evaluate("(() => { const f = document.getElementById('map')._fullLayout; return [f.xaxis.range, f.yaxis.range]; })()")
    wx, wy = abs(x1 - x0) / 10, abs(y1 - y0) / 10
    relayout(page, [cx - wx, cx + wx], [cy - wy, cy + wy])
    drawn = page.evaluate(ANNOTATIONS)
    # zoomed in: the topics' labels, or, where fewer of them are in view, the finest partition's: each
    # split topic by its sub-topics (level 2, in smaller type), each other topic by itself (level 1)
    split = {t["cluster"] for t in topics if t["children"]}
    parent_of = {s["node"]: s["parent"] for s in api["topics"]["subtopics"]}
    names = [a["name"] for a in drawn]
    assert drawn and all((a["name"].startswith("level:1:") and a["size"] == 11) or
                         (a["name"].startswith("level:2:") and a["size"] == 10) for a in drawn)
    if any(n.startswith("level:2:") for n in names):
        assert not {int(n.split(":")[2]) for n in names if n.startswith("level:1:")} & split
    shown = {int(n.split(":")[2]) if n.startswith("level:1:") else parent_of[int(n.split(":")[2])] for n in names}
    assert biggest["cluster"] in shown  # the largest topic, by itself or by its sub-topics
    texts = map_labels(page)
    if f"level:1:{biggest['cluster']}" in names:
        assert shown_label(HOSTILE_TOPIC) in texts
    relayout(page, None)  # zoomed out again: the fields
    assert [a["name"] for a in page.evaluate(ANNOTATIONS) if a["size"] == 13] == [f"level:0:{n['node']}" for n in fields]
    # the selector: one level's labels, or none
    for mode, prefix in (("1", "level:1:"), ("0", "level:0:"), ("off", None), ("auto", "level:0:")):
        page.select_option("#map-labels", mode)
        wait_for(page, "(m) => String(window.patscape.mapView.labelsShown()) === m", arg=mode)
        names = [a["name"] for a in page.evaluate(ANNOTATIONS)]
        if prefix is None:
            assert names == []
            continue
        assert names and names[0].startswith(prefix)
        assert mode == "auto" or all(n.startswith(prefix) for n in names)
        map_labels(page)


def test_zoomed_far_in_the_labels_are_the_subtopics(ui: Page, api: dict[str, Any]) -> None:
    page, subtopics, sub_of = ui.page, api["topics"]["subtopics"], api["subtopic_of"]
    depth = len(api["topics"]["levels"]) + 1  # the sub-topics' level: one below the topics'
    biggest = max(subtopics, key=lambda s: (s["size"], -s["node"]))
    xs = sorted(p["x"] for p in api["map"]["points"] if sub_of.get(p["id"]) == biggest["node"])
    ys = sorted(p["y"] for p in api["map"]["points"] if sub_of.get(p["id"]) == biggest["node"])
    cx, cy = (xs[(len(xs) - 1) // 2] + xs[len(xs) // 2]) / 2, (ys[(len(ys) - 1) // 2] + ys[len(ys) // 2]) / 2
    (x0, x1), (y0, y1) = page.evaluate("(() => { const f = document.getElementById('map')._fullLayout; return [f.xaxis.range, f.yaxis.range]; })()")
    wx, wy = abs(x1 - x0) / 40, abs(y1 - y0) / 40
    relayout(page, [cx - wx, cx + wx], [cy - wy, cy + wy])
    names = [a["name"] for a in page.evaluate(ANNOTATIONS)]
    # the finest level that fits: the finest partition, the largest sub-topic (at the centre of the
    # view) first; a topic without sub-topics is labelled by itself there
    split = {t["cluster"] for t in api["topics"]["topics"] if t["children"]}
    assert names and names[0] == f"level:{depth}:{biggest['node']}"
    assert all(n.startswith(f"level:{depth}:") or (n.startswith(f"level:{depth - 1}:") and int(n.split(":")[2]) not in split)
               for n in names)
    labels = map_labels(page)
    assert labels[0] == shown_label(biggest["label"]) and len(labels) == len(names)
    relayout(page, None)
    # the selector offers the sub-topics' labels too
    options = page.locator("#map-labels option").evaluate_all("os => os.map(o => [o.value, o.textContent])")
    assert [str(depth), "sub-topics"] in options
    page.select_option("#map-labels", str(depth))
    wait_for(page, "(m) => String(window.patscape.mapView.labelsShown()) === m", arg=str(depth))
    names = [a["name"] for a in page.evaluate(ANNOTATIONS)]
    assert any(n.startswith(f"level:{depth}:") for n in names)
    assert all(n.startswith(f"level:{depth}:") or (n.startswith(f"level:{depth - 1}:") and int(n.split(":")[2]) not in split)
               for n in names)
    map_labels(page)


def test_colour_by_a_level(ui: Page, api: dict[str, Any]) -> None:
    page = ui.page
    parent = {t["cluster"]: t["parent"] for t in api["topics"]["topics"]}
    cluster = {p["id"]: p["cluster"] for p in api["map"]["points"]}
    colours = "(n) => Array.from({length: n}, (_, i) => window.patscape.core.topicColour(i))"
    palette = page.evaluate(colours, 200)
    trace = ("() => { const t = document.getElementById('map').data.find(t => t.meta === 'points' && t.name.startsWith('in a topic'));"
             " return {ids: t.customdata, colours: t.marker.color}; }")
    assert page.input_value("#map-colour") == "level:0"
    assert [o for o in page.locator("#map-colour option").evaluate_all("os => os.map(o => o.value)")] == ["level:0", "topic"]
    got = page.evaluate(trace)
    assert got["colours"] == [palette[parent[cluster[i]]] for i in got["ids"]]
    fields = sorted(api["topics"]["levels"][0], key=lambda n: -n["size"])
    assert page.locator("#map-key .key-item").all_text_contents() == [clip(n["label"], 36) for n in fields]
    renders = int(page.get_attribute("body", "data-map-renders"))
    page.select_option("#map-colour", "topic")
    wait_for(page, "(n) => Number(document.body.dataset.mapRenders) > n", arg=renders)
    got = page.evaluate(trace)
    assert got["colours"] == [palette[cluster[i]] for i in got["ids"]]
    assert page.locator("#map-key .key-item").count() == 0


def main_groups(rec: dict[str, Any]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for c in rec["codes"]:
        if c["scheme"].endswith("_main"):
            had = seen.setdefault(c["code"], {"code": c["code"], "share": c["share"], "title": c["title"] or ""})
            had["share"] = max(had["share"], c["share"])
            had["title"] = had["title"] or c["title"] or ""
    return sorted(seen.values(), key=lambda g: -g["share"])[:3]


def test_the_topic_table_is_a_tree(ui: Page, api: dict[str, Any]) -> None:
    page, topics = ui.page, api["topics"]["topics"]
    fields = sorted(api["topics"]["levels"][0], key=lambda n: (-n["size"], n["node"]))
    visible = "() => [...document.querySelectorAll('#topic-table tbody tr:not([hidden])')].map(r => r.dataset.cluster != null ? 'topic:' + r.dataset.cluster : 'field:' + r.dataset.node)"
    assert page.evaluate(visible) == [f"field:{n['node']}" for n in fields]  # the top level first, largest first
    for field in fields:
        row = page.locator(f"#topic-table tr[data-level='0'][data-node='{field['node']}']")
        assert row.locator(".tlabel").text_content() == field["label"]
        groups = main_groups(field)
        assert row.locator(".main-group .code").all_text_contents() == [g["code"] for g in groups]
        assert row.locator(".main-group .code-title").all_text_contents() == [clip(g["title"], 70) for g in groups if g["title"]]
        row.click()  # shows exactly its children, largest first
        children = sorted((t for t in topics if t["parent"] == field["node"]), key=lambda t: (-t["size"], t["cluster"]))
        shown = page.evaluate(visible)
        at = shown.index(f"field:{field['node']}")
        assert shown[at + 1: at + 1 + len(children)] == [f"topic:{t['cluster']}" for t in children]
        assert {s for s in shown if s.startswith("topic:")} == {f"topic:{t['cluster']}" for t in children}
        assert row.get_attribute("aria-expanded") == "true"
        row.click()
        assert page.evaluate(visible) == [f"field:{n['node']}" for n in fields]
    assert page.locator("#topic-table tr[data-level='0'] .tlabel").all_text_contents().count(HOSTILE_FIELD) == 1
    page.click("#topic-expand")
    assert page.locator("#topic-table tbody tr:not([hidden])").count() == len(fields) + len(topics)
    assert page.locator("#topic-table tr[data-cluster] .tlabel").all_text_contents().count(HOSTILE_TOPIC) == 1
    assert page.text_content("#topic-count") == f"{len(fields)} fields \u00b7 {len(topics)} topics"
    page.click("#topic-collapse")
    assert page.locator("#topic-table tbody tr:not([hidden])").count() == len(fields)


def test_a_topic_opens_on_its_subtopics(ui: Page, api: dict[str, Any]) -> None:
    page, topics, subtopics = ui.page, api["topics"]["topics"], api["topics"]["subtopics"]
    split = [t for t in topics if t["children"]]
    assert split and len(subtopics) == sum(len(t["children"]) for t in split)
    page.click("#topic-expand")  # every field open: every topic shows, no sub-topic yet
    assert page.locator("#topic-table tr[data-subtopic]:not([hidden])").count() == 0
    for topic in split:
        row = page.locator(f"#topic-table tr[data-cluster='{topic['cluster']}']")
        assert row.locator(".level-chip").text_content() == f"topic \u00b7 {len(topic['children'])} sub-topics"
        row.locator(".twisty").click()
        own = sorted((s for s in subtopics if s["parent"] == topic["cluster"]), key=lambda s: (-s["size"], s["node"]))
        shown = page.locator("#topic-table tr[data-subtopic]:not([hidden])")
        assert [int(n) for n in shown.evaluate_all("rows => rows.map(r => r.dataset.subtopic)")] == [s["node"] for s in own]
        assert shown.locator(".tlabel").all_text_contents() == [s["label"] for s in own]
        # right below their topic, largest first
        order = page.evaluate("[...document.querySelectorAll('#topic-table tbody tr:not([hidden])')].map(r => r.dataset.subtopic || 'c' + r.dataset.cluster)")
        at = order.index(f"c{topic['cluster']}")
        assert order[at + 1 : at + 1 + len(own)] == [str(s["node"]) for s in own]
        assert row.get_attribute("aria-expanded") == "true"
        row.locator(".twisty").click()
        assert page.locator("#topic-table tr[data-subtopic]:not([hidden])").count() == 0
    # a topic without sub-topics has no triangle
    plain = [t for t in topics if not t["children"]]
    for topic in plain:
        assert page.locator(f"#topic-table tr[data-cluster='{topic['cluster']}'] .twisty").count() == 0


def test_the_document_panel_shows_field_and_topic(ui: Page, api: dict[str, Any]) -> None:
    page, topics = ui.page, api["topics"]["topics"]
    biggest = max(topics, key=lambda t: t["size"])
    field = next(n for n in api["topics"]["levels"][0] if n["node"] == biggest["parent"])
    members = {p["id"] for p in api["map"]["points"] if p["cluster"] == biggest["cluster"]}
    points = ui.points()
    inside = [p for p in points if p["id"] in members]
    target = max(inside, key=lambda p: min((p["px"] - q["px"]) ** 2 + (p["py"] - q["py"]) ** 2 for q in points if q is not p))
    ui.click_point(target["id"])
    # and below the topic, its sub-topic where the topic has them
    subtopic = [s["label"] for s in api["topics"]["subtopics"] if s["node"] == api["subtopic_of"].get(target["id"])]
    assert page.locator("#doc-topic .crumb").all_text_contents() == [field["label"], f"#{biggest['cluster']} {HOSTILE_TOPIC}"] + subtopic
    assert page.text_content("#doc-topic") == " \u203a ".join([field["label"], f"#{biggest['cluster']} {HOSTILE_TOPIC}"] + subtopic)
    # the field's crumb shows the field on the map, and its row in the tree, opened
    page.click("#doc-topic button.crumb")
    wait_for(page, "(n) => (window.patscape.state.activeNode || {}).node === n", arg=field["node"])
    in_field = sorted(p["id"] for p in api["map"]["points"] if p["cluster"] >= 0 and
                      next(t for t in topics if t["cluster"] == p["cluster"])["parent"] == field["node"])
    assert sorted(ui.overlay("highlighted")) == in_field
    row = page.locator(f"#topic-table tr[data-level='0'][data-node='{field['node']}']")
    assert row.get_attribute("aria-expanded") == "true" and "active" in (row.get_attribute("class") or "")


def test_search_hits_are_grouped_by_field(ui: Page, server: LiveServer, api: dict[str, Any]) -> None:
    page = ui.page
    parent = {t["cluster"]: t["parent"] for t in api["topics"]["topics"]}
    label = {n["node"]: n["label"] for n in api["topics"]["levels"][0]}
    page.fill("#search-input", "underwater vehicle buoyancy")
    page.click("#search-form button[type=submit]")
    wait_for(page, "Number(document.body.dataset.hits) > 0")
    with server.client() as http:
        hits = http.post("/corpus/search", json={"query": "underwater vehicle buoyancy", "k": 20}).json()["hits"]
    groups: dict[int, list[str]] = {}
    for hit in hits:  # in the order of each group's best hit
        groups.setdefault(parent.get(hit["cluster"], -1) if hit["cluster"] is not None else -2, []).append(hit["id"])
    got = page.evaluate("""() => [...document.querySelectorAll('#result-list .hit-group')].map(g => ({
        node: Number(g.dataset.node), name: g.querySelector('.group-name').textContent,
        ids: [...g.querySelectorAll('button[data-id]')].map(b => b.dataset.id)}))""")
    names = {-1: "outside any topic", -2: "not on the map"}
    assert got == [{"node": k, "name": label.get(k, names.get(k)), "ids": ids} for k, ids in groups.items()]
    assert page.locator("#result-list button").nth(0).get_attribute("data-id") == hits[0]["id"]


def test_the_report_has_the_same_hierarchy(browser: Any, store: Path, api: dict[str, Any], tmp_path: Path) -> None:
    from patscape.export import run_view
    from patscape.report import write_report

    with Store(store, create=False) as db:
        out = write_report(run_view(db), tmp_path / "report.html")
    page = open_page(browser, out.as_uri(), "document.body.dataset.rendered === 'yes'")
    try:
        fields = sorted(api["topics"]["levels"][0], key=lambda n: (-n["size"], n["node"]))
        drawn = page.page.evaluate(ANNOTATIONS)
        assert [a["name"] for a in drawn if a["size"] == 13] == [f"level:0:{n['node']}" for n in fields]
        assert map_labels(page.page)[0] == shown_label(HOSTILE_FIELD)
        first = page.page.locator(f"#topic-table tr[data-level='0'][data-node='{fields[0]['node']}']")
        first.click()
        shown = page.page.evaluate("[...document.querySelectorAll('#topic-table tr[data-cluster]:not([hidden])')].map(r => Number(r.dataset.cluster))")
        assert sorted(shown) == sorted(t["cluster"] for t in api["topics"]["topics"] if t["parent"] == fields[0]["node"])
        page.page.select_option("#map-labels", "1")
        wait_for(page.page, "window.patscape.mapView.labelsShown() === 1")
        assert shown_label(HOSTILE_TOPIC) in map_labels(page.page)
        # the quality box: a row per level (fields, topics, then the finest partition), the run's own figures
        with Store(store, create=False) as db:
            figures = db.get_run().metrics["levels"]
        rows = page.page.locator(".levels-quality tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
        assert [r[0] for r in rows] == ["L0 fields", "L1 topics", "L2 sub-topics (else the topic)"][: len(figures)]
        assert [int(r[1]) for r in rows] == [f["nodes"] for f in figures]
        assert [r[4] for r in rows] == [f"{f['ipc_subclass_ari']:.3f}" for f in figures]
        # a topic of the report opens on its sub-topics too, with their labels
        split = next(t for t in api["topics"]["topics"] if t["children"])
        page.page.click("#topic-expand")
        page.page.locator(f"#topic-table tr[data-cluster='{split['cluster']}'] .twisty").click()
        own = sorted((s for s in api["topics"]["subtopics"] if s["parent"] == split["cluster"]), key=lambda s: (-s["size"], s["node"]))
        assert page.page.locator("#topic-table tr[data-subtopic]:not([hidden]) .tlabel").all_text_contents() == [s["label"] for s in own]
        assert page.page.evaluate("window.__pwned") is None and not page.errors, page.errors
        assert page.page.locator("img").count() == 0
        assert page.page.text_content("#errors") == ""
    finally:
        page.page.close()


def test_a_run_made_before_hierarchies_renders_as_before(browser: Any, old_store: Path, tmp_path: Path) -> None:
    from patscape.export import run_view
    from patscape.report import write_report

    with live_server(Settings(store=old_store, model="minilm")) as live:
        with live.client() as http:
            body = http.get("/corpus/runs/latest/topics").json()
            view = http.get("/corpus/runs/latest/map").json()
        assert body["levels"] == [] and body["hierarchy"]["levels"] == 1
        topics = body["topics"]
        page = open_page(browser, live.url + "/")
        try:
            p = page.page
            points = [(q["x"], q["y"], q["cluster"], q["placed"]) for q in view["points"]]
            assert_map_labels(p, points, {t["cluster"]: t["label"] for t in topics})  # exactly the rule of before
            assert p.locator("#topic-table tr[data-node]").count() == 0
            assert p.locator("#topic-table tbody tr[data-cluster]:not([hidden])").count() == len(topics)
            assert p.is_hidden("#topic-tree-tools") and p.text_content("#topic-count") == f"{len(topics)} topics"
            assert p.locator("#map-colour option").evaluate_all("os => os.map(o => o.value)") == ["topic"]
            assert p.locator("#map-labels option").evaluate_all("os => os.map(o => o.value)") == ["auto", "off"]
            p.fill("#search-input", "underwater vehicle buoyancy")
            p.click("#search-form button[type=submit]")
            wait_for(p, "Number(document.body.dataset.hits) > 0")
            assert p.locator("#result-list .hit-group").count() == 0 and p.locator("#result-list > li > button").count() == 20
            first = p.locator("#result-list button").nth(0)
            first.click()
            wait_for(p, "(id) => document.body.dataset.selected === id", arg=first.get_attribute("data-id"))
            assert p.locator("#doc-topic .crumb").count() == 0 and p.text_content("#doc-topic").startswith("#")
            assert not page.errors, page.errors
        finally:
            page.page.close()
    with Store(old_store, create=False) as db:
        report = run_view(db)
    out = write_report(report, tmp_path / "old.html")
    page = open_page(browser, out.as_uri(), "document.body.dataset.rendered === 'yes'")
    try:
        points = [(q["x"], q["y"], q["cluster"], False) for q in report["points"]]  # (rounded as the report has them)
        assert_map_labels(page.page, points, {t["cluster"]: t["label"] for t in topics})
        assert page.page.locator("#topic-table tbody tr[data-cluster]:not([hidden])").count() == len(topics)
        assert page.page.text_content("#errors") == "" and not page.errors, page.errors
    finally:
        page.page.close()

