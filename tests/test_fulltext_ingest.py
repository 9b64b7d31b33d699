"""Full-text patents: claims and description from every reader, in the store, the API and the UI."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from patscape.ingest import FieldMap, read_path
from patscape.pipeline import ingest
from patscape.records import Document, Problem
from patscape.store import DB_NAME, MIGRATIONS, Store

from .conftest import DEV_CORPUS, dev_records, write_jsonl

FULLTEXT = DEV_CORPUS.parent / "patents-fulltext-dev.jsonl"
#: Content hashes of dev-corpus documents as computed by the code before claims/description (commit 155c12f).
PINNED_HASHES = {
    "US-7994462-B2": "06aae236993c7745854447092e59ecc10da5410ec6f379f01c0c0e38f18f597c",
    "CN-116510786-B": "d6166ea0055928c27b880d7df0f7bcaa5ba95fbf5543b1a5150e5b35a0dfca67",
}


def fulltext_records() -> list[dict[str, Any]]:
    if not FULLTEXT.exists():
        pytest.fail(f"the full-text development corpus is missing: {FULLTEXT} must be beside the repository",
                    pytrace=False)
    with FULLTEXT.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def old_content_hash(doc: Document) -> str:
    """The content hash as it was computed before documents had claims and description."""
    values = [doc.title, doc.abstract, doc.text, doc.lang, doc.date, list(doc.cpc), list(doc.ipc), doc.assignee]
    return hashlib.sha256(json.dumps(values, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def documents(items: Iterable[Document | Problem]) -> list[Document]:
    items = list(items)
    assert not [i for i in items if isinstance(i, Problem)]
    return [i for i in items if isinstance(i, Document)]


# -- the full-text corpus ------------------------------------------------------------------------
def test_fulltext_corpus_keeps_every_claim_and_the_description(tmp_path: Path) -> None:
    records = {r["id"]: r for r in fulltext_records()}
    with Store(tmp_path / "store") as store:
        first = ingest(store, [FULLTEXT])
        assert (first.added, first.replaced, first.duplicates, first.problems) == (104, 0, 0, [])
        docs = list(store.iter_documents())
        again = ingest(store, [FULLTEXT])
        assert (again.added, again.replaced, again.unchanged, again.problems) == (0, 0, 104, [])
        # The full-text index covers the description: a sentence from the middle finds its patent.
        doc = next(d for d in docs if d.id == "US-20060288462-A1")
        middle = doc.description[len(doc.description) // 2 :].split(". ")[1]
        assert store.keyword_search(middle, 3)[0][0] == doc.id
    assert len(docs) == 104
    for doc in docs:
        record = records[doc.id]
        claims = doc.claims.split("\n")
        assert len(claims) == record["extra"]["n_claims"], doc.id
        assert claims[0].startswith("1.") and claims[-1].startswith(f"{len(claims)}."), doc.id
        assert doc.claims == nfc(record["claims"]), doc.id
        # The source flattened each description to one line; it is kept as it is, not re-split.
        assert doc.description == nfc(record["description"]) and len(doc.description) > 5000, doc.id
        assert doc.text == "" and doc.abstract == nfc(record["abstract"])
        assert "claims" not in doc.extra and "description" not in doc.extra
        assert doc.extra["n_claims"] == record["extra"]["n_claims"]


def test_dev_corpus_content_hashes_are_unchanged() -> None:
    records = dev_records()
    docs = documents(read_path(DEV_CORPUS, FieldMap()))
    assert len(docs) == len(records) == 6146
    assert all(d.claims == "" and d.description == "" for d in docs)
    assert [d.content_hash for d in docs] == [old_content_hash(d) for d in docs]
    by_id = {d.id: d for d in docs}
    assert {i: by_id[i].content_hash for i in PINNED_HASHES} == PINNED_HASHES
    assert by_id["CN-116510786-B"].text == records[[r["id"] for r in records].index("CN-116510786-B")]["text"]


def test_content_hash_covers_claims_and_description_only_when_present() -> None:
    bare = Document(id="a", title="Glider", abstract="A glider.", lang="en")
    assert bare.content_hash == old_content_hash(bare)
    with_claims = Document(id="a", title="Glider", abstract="A glider.", lang="en", claims="1. A glider.")
    with_description = Document(id="a", title="Glider", abstract="A glider.", lang="en", description="1. A glider.")
    assert len({bare.content_hash, with_claims.content_hash, with_description.content_hash}) == 3


# -- JSONL / CSV ----------------------------------------------------------------------------------
def test_jsonl_claims_list_and_description_paragraphs(tmp_path: Path) -> None:
    record = {
        "id": "US-1-B1", "title": "Glider", "text": "Body\n\ntext",
        "claims": ["1. A glider\n  comprising a wing.", "", "2. The glider of claim 1."],
        "description": "FIELD\n\n   The   invention relates to gliders.  \r\nBACKGROUND\n\tGliders glide.\n",
    }
    (doc,) = documents(read_path(write_jsonl(tmp_path / "a.jsonl", [record]), FieldMap()))
    assert doc.claims == "1. A glider comprising a wing.\n2. The glider of claim 1."
    assert doc.description == "FIELD\nThe invention relates to gliders.\nBACKGROUND\nGliders glide."
    assert doc.text == "Body text"  # text of unknown structure is collapsed, as before
    assert doc.lang == "en"


def test_claims_and_description_alone_make_a_document(tmp_path: Path) -> None:
    records = [{"id": "A", "claims": "1. Ein Gleiter mit einem Flügel."}, {"id": "B", "description": "Nur eine Beschreibung."},
               {"id": "C", "claims": "", "description": "  "}]
    items = list(read_path(write_jsonl(tmp_path / "a.jsonl", records), FieldMap()))
    assert [(i.id, i.lang) for i in items if isinstance(i, Document)] == [("A", "de"), ("B", "de")]
    (problem,) = [i for i in items if isinstance(i, Problem)]
    assert problem.position == "line 3" and "document C: empty text" in problem.message
    assert "'claims', 'description'" in problem.message


def test_claims_and_description_fields_can_be_mapped(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text('pn,name,ansprueche,beschreibung\nDE-1-A1,Gleiter,"1. Ein Gleiter.\n2. Der Gleiter.",Absatz eins.\n',
                    encoding="utf-8")
    fields = FieldMap(id="pn", title="name", claims="ansprueche", description="beschreibung")
    (doc,) = documents(read_path(path, fields))
    assert (doc.claims, doc.description, doc.extra) == ("1. Ein Gleiter.\n2. Der Gleiter.", "Absatz eins.", {})


def test_unmapped_long_text_is_noticed_once_per_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    long_text = "The glider changes its buoyancy with an oil bladder. " * 5
    rows = [{"id": f"U-{i}", "title": "Glider", "full_text": long_text, "patent_claims": long_text, "family": "F1"}
            for i in range(3)]
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    with caplog.at_level(logging.WARNING, logger="patscape.ingest"):
        docs = documents(read_path(path, FieldMap()))
    assert len(docs) == 3 and docs[0].extra["full_text"] == long_text
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: field 'full_text' (text, not mapped) is kept in extra; map it with --description full_text",
        f"{path}: field 'patent_claims' (text, not mapped) is kept in extra; map it with --claims patent_claims",
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="patscape.ingest"):
        (doc, *_) = documents(read_path(path, FieldMap(description="full_text", claims="patent_claims")))
    assert caplog.records == []
    assert doc.description == long_text.strip() and doc.extra == {"family": "F1"}


def test_the_notice_is_printed_by_the_cli_and_the_exit_code_stays_0(tmp_path: Path) -> None:
    long_text = "A radar estimates the rainfall over an area from its reflectivity. " * 4
    csv_path = tmp_path / "export.csv"
    csv_path.write_text(f'id,title,full_text\nR-1,Rain radar,"{long_text}"\nR-2,Radar,short\n', encoding="utf-8")
    command = [sys.executable, "-m", "patscape", "ingest", str(tmp_path / "store"), str(csv_path)]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PATSCAPE_NO_PROGRESS": "1"})
    assert done.returncode == 0, done.stderr
    notices = [line for line in done.stderr.splitlines() if "not mapped" in line]
    assert notices == [f"WARNING patscape.ingest: {csv_path}: field 'full_text' (text, not mapped) is kept in extra; "
                       "map it with --description full_text"]
    assert "2 added, 0 replaced, 0 unchanged, 0 duplicates, 0 skipped" in done.stdout
    mapped = subprocess.run(command + ["--description", "full_text"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "PATSCAPE_NO_PROGRESS": "1"})
    assert mapped.returncode == 0 and "not mapped" not in mapped.stderr
    assert "0 added, 2 replaced" in mapped.stdout
    with Store(tmp_path / "store", create=False) as store:
        assert store.get_document("R-1").description == long_text.strip()


# -- USPTO XML --------------------------------------------------------------------------------------
GRANT = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE us-patent-grant SYSTEM "us-patent-grant-v44-2013-05-16.dtd" [ ]>
<us-patent-grant lang="EN">
<us-bibliographic-data-grant>
<publication-reference><document-id><country>US</country><doc-number>07000001</doc-number><kind>B2</kind>
<date>20060214</date></document-id></publication-reference>
<invention-title>Buoyancy engine</invention-title>
</us-bibliographic-data-grant>
<abstract><p>An engine that changes the buoyancy of a glider.</p></abstract>
<description id="description">
<?BRFSUM description="Brief Summary" end="lead"?>
<heading level="1">BACKGROUND OF THE INVENTION</heading>
<p num="0001">Gliders   move
 by changing their buoyancy.</p>
<p num="0002">An oil bladder is pumped &mdash; slowly.</p>
<?BRFSUM description="Brief Summary" end="tail"?>
<description-of-drawings>
<heading level="1">BRIEF DESCRIPTION OF THE DRAWINGS</heading>
<p num="0003"><figref>FIG. 1</figref> shows the glider.</p>
</description-of-drawings>
<tables><table><tgroup cols="1"><tbody><row><entry>Depth 200 m</entry></row></tbody></tgroup></table></tables>
<p num="0004">The pump has <b>two</b> valves.</p>
</description>
<claims id="claims">
<claim num="00001"><claim-text>1. A buoyancy engine comprising:
<claim-text>a bladder; and</claim-text>
<claim-text>a pump.</claim-text></claim-text></claim>
<claim num="00002"><claim-text>2. The engine of claim 1, wherein the pump is a gear pump.</claim-text></claim>
</claims>
</us-patent-grant>
"""


def test_uspto_xml_claims_and_description_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "ipg060214.xml.gz"
    path.write_bytes(gzip.compress(GRANT.encode("utf-8")))
    (doc,) = documents(read_path(path, FieldMap()))
    assert doc.id == "US-7000001-B2" and doc.text == ""
    assert doc.claims.split("\n") == [
        "1. A buoyancy engine comprising: a bladder; and a pump.",
        "2. The engine of claim 1, wherein the pump is a gear pump.",
    ]
    assert doc.description.split("\n") == [
        "BACKGROUND OF THE INVENTION",
        "Gliders move by changing their buoyancy.",
        "An oil bladder is pumped \u2014 slowly.",
        "BRIEF DESCRIPTION OF THE DRAWINGS",
        "FIG. 1 shows the glider.",
        "Depth 200 m",
        "The pump has two valves.",
    ]


# -- folders of text files ----------------------------------------------------------------------------
def test_text_files_split_at_a_claims_heading(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "us.txt").write_text(
        "Buoyancy engine\n\nFIELD\nThe invention relates to gliders.\n\n  An oil   bladder is pumped.\n"
        "What is claimed is:\n1. A buoyancy engine.\n2. The engine of claim 1 with a pump.\n",
        encoding="utf-8",
    )
    (folder / "inline.txt").write_text("Glider\nA glider with wings.\nI claim: 1. A glider.\n2. The glider of claim 1.\n")
    (folder / "ep.md").write_text("# Gleiter\n\nBeschreibung des Gleiters.\n\n## Patentansprüche\n\n1. Ein Gleiter.\n")
    (folder / "cn.txt").write_text("一种水下滑翔机\n本发明涉及水下滑翔机。\n权利要求书\n1.一种水下滑翔机,其特征在于,包括浮力引擎。\n",
                                   encoding="utf-8")
    (folder / "plain.txt").write_text("Rain radar\nClaims 1-5 of the earlier patent cover a gauge.\n\nA radar for rain.\n")
    docs = {d.id: d for d in documents(read_path(folder, FieldMap()))}
    us = docs["us"]
    assert us.title == "Buoyancy engine" and us.text == ""
    assert us.description == "FIELD\nThe invention relates to gliders.\nAn oil bladder is pumped."
    assert us.claims == "1. A buoyancy engine.\n2. The engine of claim 1 with a pump."
    assert (docs["inline"].description, docs["inline"].claims) == ("A glider with wings.", "1. A glider.\n2. The glider of claim 1.")
    assert (docs["ep"].title, docs["ep"].description, docs["ep"].claims) == ("Gleiter", "Beschreibung des Gleiters.", "1. Ein Gleiter.")
    assert docs["cn"].claims == "1.一种水下滑翔机,其特征在于,包括浮力引擎。" and docs["cn"].lang == "zh"
    plain = docs["plain"]  # "Claims 1-5 ..." is a sentence, not a heading
    assert (plain.text, plain.claims, plain.description) == ("Claims 1-5 of the earlier patent cover a gauge.\nA radar for rain.", "", "")


def test_reingest_of_xml_text_files_and_fulltext_jsonl_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "grant.xml").write_text(GRANT, encoding="utf-8")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Glider\nA glider.\nWhat is claimed is:\n1. A glider.\n")
    (folder / "b.txt").write_text("Radar\nA radar\nfor rain.\n")
    records = fulltext_records()[:5]
    jsonl = write_jsonl(tmp_path / "full.jsonl", records)
    paths = [tmp_path / "grant.xml", folder, jsonl]
    with Store(tmp_path / "store") as store:
        first = ingest(store, paths)
        again = ingest(store, paths)
        stored = {d.id: d for d in store.iter_documents()}
    assert (first.added, first.problems) == (8, [])
    assert (again.added, again.replaced, again.unchanged, again.duplicates) == (0, 0, 8, 0)
    assert stored["US-7000001-B2"].claims.count("\n") == 1 and stored["a"].claims == "1. A glider."
    assert stored["b"].text == "A radar\nfor rain."
    assert [stored[r["id"]].claims for r in records] == [nfc(r["claims"]) for r in records]


# -- stores made before claims and description existed ---------------------------------------------
def test_a_store_of_the_old_schema_migrates_in_place(tmp_path: Path) -> None:
    assert MIGRATIONS[0][0] == "m001_initial"
    old = Document(id="US-1-B2", title="Underwater glider", abstract="A glider with a buoyancy engine.", lang="en",
                   date="2011-08-09", cpc=("B63G8/00",), source="old.jsonl")
    path = tmp_path / "store"
    path.mkdir()
    db = sqlite3.connect(path / DB_NAME)
    db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    db.executescript(MIGRATIONS[0][1])
    db.execute("INSERT INTO migrations VALUES ('m001_initial', 0)")
    db.execute(
        "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (old.id, old_content_hash(old), old.title, old.abstract, "", "en", old.date, '["B63G8/00"]', "[]", None,
         old.source, '{"cites": ["US-2-A"]}', 0.0),
    )
    db.execute("INSERT INTO documents_fts (id, body) VALUES (?, ?)", (old.id, "underwater glider a glider with a buoyancy engine."))
    db.commit()
    db.close()

    records = fulltext_records()[:2]
    with Store(path, create=False) as store:
        applied = [row[0] for row in store.db.execute("SELECT name FROM migrations ORDER BY name")]
        kept = store.get_document(old.id)
        assert [hit[0] for hit in store.keyword_search("buoyancy", 5)] == [old.id]
        same = ingest(store, [write_jsonl(tmp_path / "same.jsonl", [
            {"id": old.id, "title": old.title, "abstract": old.abstract, "lang": "en", "date": old.date, "cpc": ["B63G8/00"]},
        ])])
        full = ingest(store, [write_jsonl(tmp_path / "full.jsonl", records)])
        assert store.count_documents() == 3
        found = store.keyword_search(records[0]["claims"].split("\n")[-1], 1)
    assert applied[:2] == ["m001_initial", "m002_document_fields"]
    assert (kept.title, kept.claims, kept.description, kept.extra) == (old.title, "", "", {"cites": ["US-2-A"]})
    assert kept.content_hash == old_content_hash(old)
    assert (same.added, same.replaced, same.unchanged) == (0, 0, 1)
    assert full.added == 2 and found[0][0] == records[0]["id"]
    with Store(path, create=False) as store:  # opening again applies nothing twice
        assert store.db.execute("SELECT COUNT(*) FROM migrations WHERE name = 'm002_document_fields'").fetchone()[0] == 1


# -- the API and the web UI ---------------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"  # Debian's; never `playwright install`
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: A full-text patent whose claims and description try to run scripts in the UI.
HOSTILE_FULLTEXT = {
    "id": "XSS-FT-1",
    "title": "Quokkafeather antenna",
    "abstract": "A quokkafeather antenna for satellite terminals with a radome and a feed network.",
    "claims": ["1. An antenna <script>window.__pwned = 1</script> comprising a radome.",
               "2. The antenna of claim 1, wherein <img src=x onerror=\"window.__pwned = 2\"> the feed is printed.",
               "3) The antenna of claim 2 with <b>bold</b> text."],
    "description": "FIELD\n<script>window.__pwned = 3</script>The invention relates to antennas.\nBACKGROUND\nAntennas & radomes.",
    "lang": "en",
    "date": "2015-03-03",
    "ipc": ["H01Q3/26"],
}


@pytest.fixture(scope="module")
def fulltext_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A mapped store of the full-text corpus plus :data:`HOSTILE_FULLTEXT`, served with hash:256."""
    from patscape.api import Settings
    from patscape.landscape import MapParams
    from patscape.pipeline import build_map, embed

    from .api_helpers import live_server

    root = tmp_path_factory.mktemp("fulltext-serve")
    source = write_jsonl(root / "full.jsonl", fulltext_records() + [HOSTILE_FULLTEXT])
    with Store(root / "store") as store:
        assert ingest(store, [source]).added == 105
        embed(store, "hash:256")
        build_map(store, params=MapParams(min_cluster_size=8), seed=7)
    with live_server(Settings(store=root / "store", model="hash:256")) as server:
        yield server


def test_the_document_endpoint_returns_claims_and_description(fulltext_server: Any) -> None:
    record = fulltext_records()[0]
    with fulltext_server.client() as http:
        doc = http.get(f"/corpus/documents/{record['id']}").json()
        hostile = http.get(f"/corpus/documents/{HOSTILE_FULLTEXT['id']}").json()
    assert (doc["claims"], doc["description"], doc["text"]) == (nfc(record["claims"]), nfc(record["description"]), "")
    assert hostile["claims"].split("\n") == HOSTILE_FULLTEXT["claims"]
    assert hostile["description"].split("\n") == HOSTILE_FULLTEXT["description"].split("\n")


def test_the_document_panel_shows_numbered_claims_and_a_collapsed_description(fulltext_server: Any) -> None:
    from playwright import sync_api

    from .api_helpers import wait_for

    assert shutil.which(CHROMIUM), f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install`)"
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(fulltext_server.url + "/")
            page.wait_for_selector("body[data-ready=yes]", timeout=60_000)
            page.select_option("#search-mode", "keyword")
            page.fill("#search-input", "quokkafeather")
            page.click("#search-form button[type=submit]")
            page.click(f"#result-list button[data-id='{HOSTILE_FULLTEXT['id']}']")
            wait_for(page, "(id) => document.body.dataset.selected === id", arg=HOSTILE_FULLTEXT["id"])
            claims = page.locator("#doc-claims li")
            texts = [claims.nth(i).text_content() for i in range(claims.count())]
            numbers = page.evaluate("() => Array.from(document.querySelectorAll('#doc-claims li'), li => li.value)")
            assert texts == ["An antenna <script>window.__pwned = 1</script> comprising a radome.",
                             "The antenna of claim 1, wherein <img src=x onerror=\"window.__pwned = 2\"> the feed is printed.",
                             "The antenna of claim 2 with <b>bold</b> text."]
            assert numbers == [1, 2, 3] and page.text_content("#doc-claims-count") == "(3)"
            assert page.is_visible("#doc-claims") and not page.is_visible("#doc-description")
            page.click("#doc-description-box summary")
            paragraphs = page.locator("#doc-description p")
            assert [paragraphs.nth(i).text_content() for i in range(paragraphs.count())] == \
                HOSTILE_FULLTEXT["description"].split("\n")
            assert page.text_content("#doc-description-count") == "(4 paragraphs)"
            assert page.locator("#panel script, #panel img, #panel b").count() == 0
            assert page.evaluate("window.__pwned") is None and errors == []
        finally:
            browser.close()
