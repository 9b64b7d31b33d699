"""Renaming a topic, or a node of a level above the topics, from the API and the served UI.

``PUT /corpus/runs/{run}/levels/{level}/nodes/{node}/name`` sets an analyst's name (as
``patscape topic --rename``): the API is checked through FastAPI's TestClient on a copy of the
web tests' mapped store (a level of fields above its topics); the UI in headless Chromium (a
missing Chromium or Playwright fails the test: tests/api_helpers.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from patscape.api import Settings, create_app
from patscape.store import Store

from .api_helpers import (  # noqa: F401  (browser: the shared fixture of Chromium)
    LiveServer,
    Page,
    assert_openai_error,
    browser,
    checked_page,
    copy_store,
    live_server,
    map_labels,
    mapped_store,
    wait_for,
)

HOSTILE_NAME = '<img src=x onerror="window.__pwned=11"> Energy & <b>storage</b>'
ANNOTATIONS = "(document.getElementById('map').layout.annotations || []).map(a => ({name: a.name, text: a.text}))"


def name_url(level: int | str, node: int | str, run: int | str = "latest") -> str:
    return f"/corpus/runs/{run}/levels/{level}/nodes/{node}/name"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mapped_store(tmp_path_factory.mktemp("serve-store"), "minilm")


@pytest.fixture(scope="module")
def store(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_store(built, tmp_path_factory.mktemp("rename-store"))


@pytest.fixture(scope="module")
def http(store: Path) -> Iterator[TestClient]:
    """The API as `patscape serve` runs it on loopback, without a key (no model needed here)."""
    with TestClient(create_app(Settings(store=store, model="hash:256")), base_url="http://127.0.0.1:8000",
                    raise_server_exceptions=False) as client:
        yield client


def topics(http: TestClient) -> dict[str, Any]:
    response = http.get("/corpus/runs/latest/topics")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_rename_a_field_and_a_topic(http: TestClient, store: Path) -> None:
    before = topics(http)
    assert len(before["levels"]) == 1 and before["hierarchy"]["levels"] == 2  # fields above the topics
    field = max(before["levels"][0], key=lambda n: n["size"])
    topic = max(before["topics"], key=lambda t: t["size"])
    assert field["name_source"] is None and field["keyword_label"] == field["label"]

    # a field (level 0): whitespace collapsed, the node's name, keyword label and source returned
    response = http.put(name_url(0, field["node"]), json={"name": "  Energy \t storage  "},
                        headers={"sec-fetch-site": "same-origin", "origin": "http://127.0.0.1:8000"})
    assert response.status_code == 200, response.text
    run = before["run"]
    assert response.json() == {"run": run, "level": 0, "node": field["node"], "topic": False, "subtopic": False, "label": "Energy storage",
                               "keyword_label": field["keyword_label"], "name_source": "analyst"}
    # a topic (the last level, 1), by the run's id; a hostile name is kept as given
    response = http.put(name_url(1, topic["cluster"], run), json={"name": HOSTILE_NAME})
    assert response.status_code == 200, response.text
    assert response.json() == {"run": run, "level": 1, "node": topic["cluster"], "topic": True, "subtopic": False, "label": HOSTILE_NAME,
                               "keyword_label": topic["keyword_label"], "name_source": "analyst"}

    after = topics(http)
    got_field = next(n for n in after["levels"][0] if n["node"] == field["node"])
    got_topic = next(t for t in after["topics"] if t["cluster"] == topic["cluster"])
    assert (got_field["label"], got_field["name_source"], got_field["keyword_label"]) == \
        ("Energy storage", "analyst", field["keyword_label"])
    assert (got_topic["label"], got_topic["name_source"], got_topic["keyword_label"]) == \
        (HOSTILE_NAME, "analyst", topic["keyword_label"])
    # nothing else changed
    assert [n for n in after["levels"][0] if n["node"] != field["node"]] == \
        [n for n in before["levels"][0] if n["node"] != field["node"]]
    assert [t for t in after["topics"] if t["cluster"] != topic["cluster"]] == \
        [t for t in before["topics"] if t["cluster"] != topic["cluster"]]
    # the other views give the name too (the map's cached views carry clusters, never labels)
    graph = http.get("/corpus/runs/latest/graph").json()
    assert next(n for n in graph["nodes"] if n["id"] == topic["cluster"])["label"] == HOSTILE_NAME
    evolution = http.get("/corpus/runs/latest/evolution").json()
    assert next(t for t in evolution["topics"] if t["cluster"] == topic["cluster"])["label"] == HOSTILE_NAME
    assert b"Energy storage" not in http.get("/corpus/runs/latest/map?format=columns").content
    # the store holds it as the analyst's name, which the CLI shows too
    with Store(store, create=False) as db:
        names = {(r.level, r.node): (r.name, r.source) for r in db.topic_names(run)}
    assert names[(0, field["node"])] == ("Energy storage", "analyst")
    assert names[(1, topic["cluster"])] == (HOSTILE_NAME, "analyst")
    # renamed again: the newest name wins
    response = http.put(name_url(0, field["node"]), json={"name": "Batteries"})
    assert response.status_code == 200 and response.json()["label"] == "Batteries"
    assert next(n for n in topics(http)["levels"][0] if n["node"] == field["node"])["label"] == "Batteries"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"name": ""}, 400, "invalid_input"),
    ({"name": " \t "}, 400, "invalid_input"),
    ({"name": "two\nlines"}, 400, "invalid_input"),
    ({"name": "two\u2028lines"}, 400, "invalid_input"),
    ({"name": "bell\x07"}, 400, "invalid_input"),
    ({"name": "x" * 201}, 400, "invalid_input"),
    ({"name": "x" * 3000}, 422, None),
    ({"name": 12}, 422, None),
    ({"name": None}, 422, None),
    ({}, 422, None),
    ({"name": "ok", "source": "namer"}, 422, None),
])
def test_bad_names_are_refused(http: TestClient, body: dict[str, Any], status: int, code: str | None) -> None:
    field = topics(http)["levels"][0][0]
    error = assert_openai_error(http.put(name_url(0, field["node"]), json=body), status, code)
    assert error["message"]
    assert next(n for n in topics(http)["levels"][0] if n["node"] == field["node"])["label"] == field["label"]


def test_rename_a_subtopic_and_read_it_back(http: TestClient) -> None:
    """A sub-topic (the level below the topics) is renamed like any node; the topic list, the
    document view of its patents and the CSV export give the name."""
    before = topics(http)
    assert before["subtopics"], "the web tests' store has sub-topics"
    sub = max(before["subtopics"], key=lambda s: s["size"])
    topic = next(t for t in before["topics"] if t["cluster"] == sub["parent"])
    assert sub["node"] in topic["children"] and sub["level"] == 2
    response = http.put(name_url(2, sub["node"]), json={"name": "Sealed cell housings"})
    assert response.status_code == 200, response.text
    assert response.json() == {"run": before["run"], "level": 2, "node": sub["node"], "topic": False, "subtopic": True,
                               "label": "Sealed cell housings", "keyword_label": sub["keyword_label"],
                               "name_source": "analyst"}
    after = next(s for s in topics(http)["subtopics"] if s["node"] == sub["node"])
    assert (after["label"], after["name_source"], after["size"]) == ("Sealed cell housings", "analyst", sub["size"])
    member = sub["representatives"][0]["id"]
    doc = http.get(f"/corpus/documents/{member}").json()
    assert (doc["cluster"], doc["subtopic"], doc["subtopic_label"]) == (topic["cluster"], sub["node"], "Sealed cell housings")


def test_a_name_of_200_characters_passes(http: TestClient) -> None:
    topic = topics(http)["topics"][-1]
    name = "y" * 199 + "\u00e9"
    response = http.put(name_url(1, topic["cluster"]), json={"name": name})
    assert response.status_code == 200 and response.json()["label"] == name


@pytest.mark.parametrize(("path", "what"), [
    (name_url(0, 0, run=999), "no run 999"),
    (name_url(0, 0, run="nope"), "no run 'nope'"),
    (name_url(3, 0), "has no level 3"),
    (name_url(2, 9999), "has no node 9999 at level 2"),  # level 2: the topics' sub-topics
    (name_url(-1, 0), "has no level -1"),
    (name_url(0, 9999), "has no node 9999 at level 0"),
    (name_url(1, 9999), "has no node 9999 at level 1"),
    (name_url(1, -1), "has no node -1 at level 1"),  # the outliers are no topic
])
def test_unknown_runs_levels_and_nodes_are_404(http: TestClient, path: str, what: str) -> None:
    error = assert_openai_error(http.put(path, json={"name": "Anything"}), 404, "not_found")
    assert what in error["message"]


def test_a_level_or_node_that_is_no_number_is_422(http: TestClient) -> None:
    assert_openai_error(http.put(name_url("top", 0), json={"name": "Anything"}), 422)
    assert_openai_error(http.put(name_url(0, "x"), json={"name": "Anything"}), 422)


@pytest.mark.parametrize("headers", [
    {"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
    {"sec-fetch-site": "same-site", "origin": "http://localhost:3000"},
    {"origin": "https://evil.example"},  # browsers without Sec-Fetch
    {"origin": "null"},
])
def test_a_cross_site_rename_is_refused(http: TestClient, headers: dict[str, str]) -> None:
    field = topics(http)["levels"][0][0]
    error = assert_openai_error(http.put(name_url(0, field["node"]), json={"name": "Pwned"}, headers=headers),
                                403, "cross_site_request")
    assert "web pages of other sites may not change this server" in error["message"]
    assert next(n for n in topics(http)["levels"][0] if n["node"] == field["node"])["label"] == field["label"]


def test_a_rebound_host_cannot_rename(http: TestClient) -> None:
    field = topics(http)["levels"][0][0]
    response = http.put(name_url(0, field["node"]), json={"name": "Pwned"},
                        headers={"host": "evil.example:8000", "sec-fetch-site": "same-origin"})
    assert_openai_error(response, 403, "host_not_allowed")


def test_renaming_wants_the_api_key(store: Path) -> None:
    settings = Settings(store=store, model="hash:256", api_key="k-secret")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000", raise_server_exceptions=False) as keyed:
        field = keyed.get("/corpus/runs/latest/topics", headers={"authorization": "Bearer k-secret"}).json()["levels"][0][0]
        assert_openai_error(keyed.put(name_url(0, field["node"]), json={"name": "Keyless"}), 401, "invalid_api_key")
        assert_openai_error(keyed.put(name_url(0, field["node"]), json={"name": "Keyless"},
                                      headers={"authorization": "Bearer wrong"}), 401, "invalid_api_key")
        response = keyed.put(name_url(0, field["node"]), json={"name": "With the key"},
                             headers={"authorization": "Bearer k-secret"})
        assert response.status_code == 200 and response.json()["label"] == "With the key"


# -- the served UI ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ui_store(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_store(built, tmp_path_factory.mktemp("rename-ui-store"))


@pytest.fixture(scope="module")
def server(ui_store: Path) -> Iterator[LiveServer]:
    with live_server(Settings(store=ui_store, model="hash:256")) as live:
        yield live


@pytest.fixture
def ui(browser: Any, server: LiveServer) -> Iterator[Page]:
    with checked_page(browser, server.url + "/", "#map img, #topic-table img, #map-key img") as page:
        yield page


def field_row(page: Any, node: int) -> Any:
    return page.locator(f"#topic-table tr[data-level='0'][data-node='{node}']")


def test_rename_a_field_in_the_ui(ui: Page, server: LiveServer) -> None:
    page = ui.page
    with server.client() as http:
        fields = http.get("/corpus/runs/latest/topics").json()["levels"][0]
    field = max(fields, key=lambda n: n["size"])
    row = field_row(page, field["node"])
    assert row.locator(".tlabel").text_content() == field["label"]
    # Escape cancels: nothing is sent, the label is back
    row.locator(".renamebtn").click()
    box = row.locator("input.rename-input")
    assert box.input_value() == field["label"] and row.locator(".tlabel").is_hidden()
    box.fill("Not this one")
    box.press("Escape")
    assert row.locator("input.rename-input").count() == 0 and row.locator(".tlabel").text_content() == field["label"]
    assert row.get_attribute("aria-expanded") == "false"  # the clicks did not open the row
    # a bad name: the API's message beside the input, which stays open
    row.locator(".renamebtn").click()
    row.locator("input.rename-input").fill("   ")
    row.locator("input.rename-input").press("Enter")
    wait_for(page, "(n) => (document.querySelector(`#topic-table tr[data-node='${n}'] .rename-note`) || {}).textContent"
                   " .startsWith('Not renamed: a name must have 1 to 200 characters')", arg=field["node"])
    row.locator("input.rename-input").press("Escape")
    assert ui.errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    ui.errors.clear()  # the refused name's answer, as expected
    # Enter saves: a hostile name, shown as text in the table, on the map and in its key
    row.locator(".renamebtn").click()
    row.locator("input.rename-input").fill(HOSTILE_NAME)
    row.locator("input.rename-input").press("Enter")
    wait_for(page, "document.body.dataset.renamed === '1'")
    row = field_row(page, field["node"])
    assert row.locator(".tlabel").text_content() == HOSTILE_NAME
    assert row.locator("input.rename-input").count() == 0
    assert page.locator("#topic-table tr[data-level='0'] .tlabel").all_text_contents().count(HOSTILE_NAME) == 1
    key = page.locator("#map-key .key-item").all_text_contents()
    assert key[0] == HOSTILE_NAME[:35] + "\u2026"  # the largest field first, clipped to 36 characters
    assert page.get_attribute("#map-key .key-item >> nth=0", "title") == HOSTILE_NAME
    names = {a["name"]: a["text"] for a in page.evaluate(ANNOTATIONS)}
    shown = names[f"level:0:{field['node']}"]
    assert shown.startswith("<b>&lt;img src=x") and "<img" not in shown  # escaped for plotly
    assert map_labels(page)[0].startswith("<img src=x")  # the largest field's label, drawn as text
    with server.client() as http:
        got = next(n for n in http.get("/corpus/runs/latest/topics").json()["levels"][0] if n["node"] == field["node"])
    assert (got["label"], got["name_source"]) == (HOSTILE_NAME, "analyst")


def test_rename_a_topic_in_the_ui(ui: Page, server: LiveServer) -> None:
    page = ui.page
    with server.client() as http:
        listed = http.get("/corpus/runs/latest/topics").json()
    topic = max(listed["topics"], key=lambda t: t["size"])
    page.click("#topic-expand")
    row = page.locator(f"#topic-table tr[data-cluster='{topic['cluster']}']")
    row.locator(".renamebtn").click()
    row.locator("input.rename-input").fill("  Underwater   gliders ")
    row.locator("input.rename-input").press("Enter")
    wait_for(page, "Number(document.body.dataset.renamed) >= 1")
    row = page.locator(f"#topic-table tr[data-cluster='{topic['cluster']}']")
    assert row.locator(".tlabel").text_content() == "Underwater gliders"
    assert not row.is_hidden()  # the tree stays open
    assert page.evaluate("(c) => window.patscape.core.topicLabel(c)", topic["cluster"]) == "Underwater gliders"
    page.select_option("#map-labels", "1")  # the topics' labels on the map
    wait_for(page, "window.patscape.mapView.labelsShown() === 1")
    names = {a["name"]: a["text"] for a in page.evaluate(ANNOTATIONS)}
    assert "Underwater gliders" in names[f"level:1:{topic['cluster']}"]
