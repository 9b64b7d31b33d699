"""Families (patscape.families): as the data gives them, inferred from identical texts, counted
on the dev corpus's DOCDB families and the membrane corpus's publications in several offices."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from patscape.cli import main
from patscape.families import family_key, family_summary, infer_families
from patscape.records import Document
from patscape.store import Store

from .conftest import write_jsonl

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ABSTRACT = "A separation membrane with a porous support layer and a polyamide separation functional layer on it."


def doc(doc_id: str, title: str, abstract: str, family: str | None = None) -> Document:
    return Document(id=doc_id, title=title, abstract=abstract, extra={"family_id": family} if family else {})


def test_families_given_inferred_and_single() -> None:
    docs = [
        doc("US-1-A1", "Membrane", ABSTRACT), doc("US-1-B2", "MEMBRANE", "  " + ABSTRACT.upper()),   # one text, two kinds
        doc("JP-1-A", "Membrane", ABSTRACT), doc("CN-9-A", "Membrane", ABSTRACT + " Other."),       # a different text
        doc("EP-5-A1", "Filter", "A filter.", family="77"), doc("EP-5-B1", "Filter", "A filter.", family="77"),
        doc("WO-3-A1", "Filter", "A filter."), doc("WO-4-A1", "Filter", "A filter."),              # too short to match
    ]
    inferred = infer_families(docs)
    assert set(inferred) == {"US-1-A1", "US-1-B2", "JP-1-A"} and len(set(inferred.values())) == 1
    keys = {d.id: family_key(d, inferred) for d in docs}
    assert keys["EP-5-A1"] == keys["EP-5-B1"] == "family:77"
    assert keys["US-1-A1"].startswith("inferred:") and keys["CN-9-A"] == "doc:CN-9-A" and keys["WO-3-A1"] == "doc:WO-3-A1"
    summary = family_summary(docs, inferred)
    assert summary == {"publications": 8, "families": 5, "with_several": 2, "in_families_of_several": 5, "largest": 3,
                       "given": 1, "inferred": 1, "single": 3, "sizes": {1: 3, 2: 1, 3: 1}}


def load(name: str) -> list[dict]:
    path = SHARED / name
    assert path.exists(), f"{path} is missing: the tests need ../shared beside the repository"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_dev_corpus_families() -> None:
    records = load("patents-dev.jsonl")
    docs = [Document(id=r["id"], title=r["title"], abstract=r["abstract"], extra=r.get("extra") or {}) for r in records]
    us = [d for d in docs if d.id.startswith("US-")]
    summary = family_summary(us)
    # the data's own count (../shared/data/README.md): 4,489 DOCDB families over the 4,679 US patents, 148 of several
    assert (summary["publications"], summary["families"], summary["with_several"]) == (4679, 4489, 148)
    assert summary["given"] == 4489 and summary["single"] == 0


def test_the_membrane_corpus_families_are_inferred() -> None:
    records = load("patents-membranes-dev.jsonl")
    docs = [Document(id=r["id"], title=r["title"], abstract=r["abstract"]) for r in records]
    inferred = infer_families(docs)
    # the data's README: 363 groups of 2 or more records share exactly the same title and abstract;
    # each of them is inside one inferred family (folding case and whitespace can only join more)
    exact = Counter((r["title"], r["abstract"]) for r in records)
    groups = [[r["id"] for r in records if (r["title"], r["abstract"]) == key] for key, n in exact.items() if n > 1]
    assert len(groups) == 363 and sum(len(g) for g in groups) == 905
    assert all(len({inferred[d] for d in g}) == 1 for g in groups)
    assert len(set(inferred.values())) >= 363


def test_the_families_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = [{"id": f"P{i}", "title": "Membrane", "abstract": ABSTRACT if i < 3 else f"{ABSTRACT} Variant {i}.",
                "assignee": "Toray Industries, Inc." if i % 2 else "TORAY INDUSTRIES", "date": f"{2018 + i}-01-01", "lang": "en"}
               for i in range(6)]
    store = tmp_path / "store"
    with Store(store) as db:
        from patscape.pipeline import ingest

        ingest(db, [write_jsonl(tmp_path / "r.jsonl", records)])
    assert main(["families", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["families"] == 6
    assert main(["families", str(store), "--infer"]) == 0
    captured = capsys.readouterr()
    assert "1 families of 3 publications inferred" in captured.err
    assert captured.out.startswith("6 publications, 4 families (0 given by the data, 1 inferred, 3 of one)")
    with Store(store) as db:
        assert len(db.inferred_families()) == 3
    assert main(["families", str(store), "--clear", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["families"] == 6
    assert main(["families", str(store), "--infer", "--clear"]) == 2


def test_export_by_family(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import csv

    from .test_owners import owner_store

    store = owner_store(tmp_path)
    out = tmp_path / "families.csv"
    assert main(["export", str(store), "--format", "csv", "--by-family", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    with Store(store) as db:
        docs = {d.id: d for d in db.iter_documents(texts=False)}
        points = {d: c for d, c, *_ in db.run_points(db.get_run().id)}
    families: dict[str, list[str]] = {}
    for d in docs.values():
        families.setdefault(f"family:{d.extra['family_id']}", []).append(d.id)
    assert len(rows) == len(families) == 60
    for row in rows:
        members = sorted(families[row["family"]], key=lambda d: (docs[d].date, d))
        assert row["members"] == ";".join(members) and int(row["family_size"]) == len(members) == 2
        assert row["id"] == members[0] and row["date"] == docs[members[0]].date and int(row["cluster"]) == points[members[0]]
    # sorted by the family's earliest date
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)
    assert main(["export", str(store), "--format", "json", "--by-family", "--out", str(tmp_path / "x.json")]) == 2
    assert "--by-family writes csv or parquet" in capsys.readouterr().err


def test_search_by_family(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from patscape.api import Settings, create_app
    from patscape.search import search

    from .test_owners import owner_store

    store = owner_store(tmp_path)
    with Store(store) as db:
        family = {d.id: d.extra["family_id"] for d in db.iter_documents(texts=False)}
        plain = search(db, "lithium anode cathode electrolyte", k=60)
        grouped = search(db, "lithium anode cathode electrolyte", k=10, by_family=True)
    # ten families, each by its best-ranked publication, the others of its family listed
    assert len(grouped) == 10 and len({family[h.id] for h in grouped}) == 10
    order = [h.id for h in plain]
    expected: list[str] = []
    for doc_id in order:
        if family[doc_id] not in {family[d] for d in expected} and len(expected) < 10:
            expected.append(doc_id)
    assert [h.id for h in grouped] == expected
    for hit in grouped:
        assert list(hit.family_members) == [d for d in order if family[d] == family[hit.id] and d != hit.id]
    assert all(h.family_members == () for h in plain)
    with TestClient(create_app(Settings(store=store, model="hash:256")), base_url="http://127.0.0.1:8000") as http:
        body = http.post("/corpus/search", json={"query": "lithium anode cathode electrolyte", "k": 10, "by_family": True}).json()
        assert [(h["id"], h["family_members"]) for h in body["hits"]] == [(h.id, list(h.family_members)) for h in grouped]
        body = http.post("/corpus/search", json={"query": "lithium anode cathode electrolyte", "k": 3}).json()
        assert all(h["family_members"] is None for h in body["hits"])
