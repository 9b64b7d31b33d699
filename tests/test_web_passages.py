"""Passage-level search in the browser: the evidence under each hit, and the passage highlighted
in the patent's full text. Headless Chromium (Debian's), a store of long full-text patents
embedded with the multilingual default."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from patscape.api import Settings
from patscape.landscape import MapParams
from patscape.pipeline import build_map, embed, ingest
from patscape.store import Store

from .api_helpers import (  # noqa: F401  (browser, ui: the shared fixtures of the served UI, on this module's server)
    LiveServer,
    Page,
    browser,
    live_server,
    slice_records,
    ui,
    wait_for,
)
from .test_passages import fulltext_records, middle_passage

pytestmark = pytest.mark.model
SCRIPT = "<script>window.__pwned = 4</script>"
#: A document with a body of unknown structure only (as from a plain-text file), about three things.
GEARS = ("The rear hub holds eleven sprockets and a derailleur moves the chain between them, "
         "so that a rider shifts gears while pedalling uphill on a bicycle.")
BODY_ONLY = {
    "id": "TXT-1", "title": "Workshop notes", "lang": "en",
    "text": " ".join([
        "A heat pipe carries heat from the processor to the fins by evaporating a working fluid at the hot end "
        "and condensing it at the cold end, the wick returning the liquid by capillary action. " * 3,
        GEARS * 2,
        "Green coffee beans are roasted in a rotating drum with hot air until the first crack, then cooled "
        "quickly on a tray so that the aroma is kept. " * 3,
    ]),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("passages-web")
    full = fulltext_records(10)
    # a passage that tries to run a script, deep inside one description
    paragraphs = full[0]["description"].split("\n")
    paragraphs.insert(len(paragraphs) // 2, f"The sealing ring {SCRIPT} is pressed into the groove of the housing.")
    full[0]["description"] = "\n".join(paragraphs)
    source = root / "corpus.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in slice_records(60) + full + [BODY_ONLY]),
                      encoding="utf-8")
    path = root / "store"
    with Store(path) as db:
        ingest(db, [source])
        embed(db, "use-multilingual")
        build_map(db, params=MapParams(min_cluster_size=5), seed=7)
    return path


@pytest.fixture(scope="module")
def server(store: Path) -> Iterator[LiveServer]:
    with live_server(Settings(store=store, model="use-multilingual")) as live:
        yield live


def test_a_paragraph_finds_its_patent_and_is_shown_as_the_evidence(ui: Page, server: LiveServer, store: Path) -> None:
    with Store(store, create=False) as db:
        doc = db.get_document(fulltext_records(3)[2]["id"])
    start, passage = middle_passage(doc.description)
    ui.page.fill("#search-input", passage)
    ui.page.click("#search-form button[type=submit]")
    wait_for(ui.page, "Number(document.body.dataset.hits) > 0")
    first = ui.page.locator("#result-list button").nth(0)
    assert first.get_attribute("data-id") == doc.id
    with server.client() as http:
        hit = http.post("/corpus/search", json={"query": passage, "k": 20}).json()["hits"][0]
    evidence = hit["passage"]
    assert hit["id"] == doc.id and evidence["field"] == "description"
    assert evidence["text"] == doc.description[evidence["start"] : evidence["end"]]
    assert evidence["start"] < start + len(passage) and start < evidence["end"]
    shown = first.locator(".evidence mark").text_content()
    assert shown.rstrip("\u2026") and evidence["text"].startswith(shown.rstrip("\u2026"))
    # opening the hit shows the description open at the passage, highlighted
    first.click()
    wait_for(ui.page, "(id) => document.body.dataset.selected === id", arg=doc.id)
    wait_for(ui.page, "document.body.dataset.evidence === 'description'")
    assert ui.page.evaluate("document.getElementById('doc-description-box').open") is True
    marked = " ".join(ui.page.locator("#doc-description mark.passage").all_text_contents())
    squash = lambda text: re.sub(r"\s+", " ", text).strip()  # noqa: E731
    assert squash(marked) == squash(evidence["text"].replace("\n", " "))
    box = ui.page.locator("#doc-description mark.passage").first.bounding_box()
    panel = ui.page.locator("#panel").bounding_box()
    assert box is not None and panel is not None and panel["y"] <= box["y"] <= panel["y"] + panel["height"]


def test_a_hostile_passage_is_shown_as_text(ui: Page, store: Path) -> None:
    query = "sealing ring pressed into the groove of the housing"
    ui.page.fill("#search-input", query)
    ui.page.click("#search-form button[type=submit]")
    wait_for(ui.page, "Number(document.body.dataset.hits) > 0")
    evidences = ui.page.locator("#result-list .evidence mark").all_text_contents()
    assert any(SCRIPT in text for text in evidences)
    assert ui.page.locator("#result-list script").count() == 0


def test_a_body_text_passage_is_highlighted_in_the_text_box(ui: Page) -> None:
    ui.page.fill("#search-input", GEARS)
    ui.page.click("#search-form button[type=submit]")
    wait_for(ui.page, "Number(document.body.dataset.hits) > 0")
    first = ui.page.locator("#result-list button").nth(0)
    assert first.get_attribute("data-id") == "TXT-1"
    assert first.locator(".evidence-field").text_content().startswith("text")
    first.click()
    wait_for(ui.page, "document.body.dataset.evidence === 'text'")
    assert ui.page.is_visible("#doc-text-box") and not ui.page.is_visible("#doc-abstract")
    assert "sprockets" in " ".join(ui.page.locator("#doc-text mark.passage").all_text_contents())
