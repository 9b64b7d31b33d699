"""The stages in-process, with the deterministic feature-hashing embedder (fast)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from patscape.embed.hashing import HashingEmbedder
from patscape.errors import NotFoundError
from patscape.export import export_run, run_view
from patscape.pipeline import EmbedOptions, build_map, embed, ingest
from patscape.records import Document
from patscape.search import search
from patscape.spaces import document_text
from patscape.store import Store

from .conftest import write_jsonl


@pytest.fixture()
def store(tmp_path: Path, dev_slice: Path) -> Store:
    with Store(tmp_path / "store") as db:
        ingest(db, [dev_slice])
        yield db


def test_embed_only_what_is_missing_and_re_embed_changed_documents(store: Store, tmp_path: Path) -> None:
    model = HashingEmbedder(128)
    first = embed(store, model)
    assert (first.embedded, first.already) == (320, 0)
    assert embed(store, model).embedded == 0
    doc = next(store.iter_documents())
    changed = {"id": doc.id, "title": doc.title + " revised", "abstract": doc.abstract, "lang": doc.lang,
               "date": doc.date, "cpc": list(doc.cpc), "ipc": list(doc.ipc)}
    report = ingest(store, [write_jsonl(tmp_path / "changed.jsonl", [changed])])
    assert report.replaced == 1
    again = embed(store, model)
    assert again.embedded == 1 and again.space.key == first.space.key
    # another field selection is another space, embedded from scratch
    assert embed(store, model, EmbedOptions(fields=("title",))).embedded == 320
    assert len(store.spaces()) == 2


def test_multilingual_warning_for_an_english_only_model(store: Store) -> None:
    from patscape.embed.profiles import MINILM

    model = HashingEmbedder(64)
    model.profile = MINILM  # pretend to be English-only
    report = embed(store, model)
    # one warning: the count per language, and the packaged model that reads them all, with its time
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("80 Chinese documents (zh): hash:64 does not read Chinese; `patscape embed")
    assert f"`patscape embed {store.path} --model use-multilingual` reads them, about 5 seconds here" in report.warnings[0]
    # the hashing baseline reads any language: no warning
    assert embed(store, HashingEmbedder(64)).warnings == []


def test_document_text_falls_back_to_the_body() -> None:
    assert document_text(Document(id="a", title="T", abstract="A")) == "T\nA"
    assert document_text(Document(id="b", title="T", text="Body")) == "T\nBody"


def test_map_search_and_view(store: Store) -> None:
    embed(store, HashingEmbedder(256))
    run_id = build_map(store, seed=1)
    view = run_view(store, run_id)
    assert len(view["points"]) == 320
    assert view["run"]["params"]["map"]["min_cluster_size"] == 10  # chosen from the corpus size
    # one topic per cluster on the map, numbered from 0, each as large as its points and at least
    # the smallest topic; the rest are outliers
    counted = Counter(p["cluster"] for p in view["points"])
    outliers = counted.pop(-1, 0)
    sizes = {t["cluster"]: t["size"] for t in view["topics"]}
    assert sizes == dict(counted) and sorted(sizes) == list(range(len(sizes)))
    assert len(sizes) == view["metrics"]["topics"] >= 2 and min(sizes.values()) >= 10
    assert sum(sizes.values()) + outliers == 320 and view["metrics"]["outlier_share"] == round(outliers / 320, 4)
    assert all(p["label"] == ({t["cluster"]: t["label"] for t in view["topics"]}.get(p["cluster"], "outlier"))
               for p in view["points"])
    assert all(t["label"] for t in view["topics"]) and len({t["label"] for t in view["topics"]}) == len(sizes)
    target = view["points"][0]["id"]
    hits = search(store, like=target, k=5)
    assert len(hits) == 5 and target not in [h.id for h in hits]
    assert all(h.cluster is not None for h in hits)
    keyword = search(store, "satellite", mode="keyword", k=5)
    holding = [d.id for d in store.iter_documents() if "satellite" in f"{d.title} {d.abstract}".lower()]
    assert len(holding) >= 5 and len(keyword) == 5
    for hit in keyword:
        doc = store.get_document(hit.id)
        assert "satellite" in f"{doc.title} {doc.abstract}".lower()
    with pytest.raises(NotFoundError):
        search(store, "x", lang="fr")
    # the run carries the evolution window, and a partial last year, to the UI and the report
    dates = sorted(d.date for d in store.iter_documents() if d.date)
    last = int(dates[-1][:4])
    partial = int(dates[-1][5:7]) < 12
    run = view["run"]
    assert view["data_to"] == dates[-1] and view.get("partial_year") == (last if partial else None)
    assert view["recent_to"] == (last - 1 if partial else last) and view["recent_from"] == view["recent_to"] - 4
    assert store.get_run(run["id"]).data["data_to"] == dates[-1]


def test_export_json_roundtrip(store: Store, tmp_path: Path) -> None:
    embed(store, HashingEmbedder(256))
    build_map(store, seed=1)
    path = export_run(store, "json", tmp_path / "run.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert {p["id"] for p in data["points"]} == {d.id for d in store.iter_documents()}
    xy = np.array([[p["x"], p["y"]] for p in data["points"]])
    assert np.isfinite(xy).all()


def test_a_filtered_search_counts_nothing_and_reads_topics_in_one_query(store: Store) -> None:
    """A filtered search checks that something matches without counting every match, and
    reads the topics of its hits in one query, not one per hit."""
    from patscape.filters import SearchFilter

    model = HashingEmbedder(256)
    embed(store, model)
    run_id = build_map(store, seed=1)
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    try:
        hits = search(store, "battery electrode", k=20, embedder=model, where=SearchFilter.parse(years="2000-", cpc="H"))
    finally:
        store.db.set_trace_callback(None)
    assert len(hits) == 20 and all(h.cluster is not None for h in hits)
    assert not [s for s in statements if "count(" in s.lower()], statements
    assert len([s for s in statements if "from run_points" in s.lower()]) == 1
    points = store.run_points_of(run_id, [h.id for h in hits])
    assert all(points[h.id][0] == h.cluster for h in hits)
    # the newest run's id only, not its params, metrics and data; the hits' labels only, not
    # every topic's data: JSON decoded on every search
    run_reads = [s for s in statements if "from runs" in s.lower()]
    assert run_reads and not [s for s in run_reads if "data" in s.lower() or "metrics" in s.lower()], run_reads
    topic_reads = [s for s in statements if "from topics" in s.lower()]
    assert len(topic_reads) == 1 and "data" not in topic_reads[0].lower(), topic_reads
    labels = {t["cluster"]: t["label"] for t in store.run_topics(run_id)}
    assert all(h.label == labels.get(h.cluster, "outlier") for h in hits)
    assert store.run_topic_labels(run_id) == labels
    assert store.run_topic_labels(run_id, [h.cluster for h in hits] + [10**6]) == {h.cluster: labels[h.cluster] for h in hits if h.cluster in labels}
    # the existence check walks the code index and stops: it does not list every document with the prefix first
    exists = [s for s in statements if "limit 1" in s.lower() and "doc_codes" in s.lower()]
    assert len(exists) == 1, statements
    plan = " | ".join(row[-1] for row in store.db.execute(f"EXPLAIN QUERY PLAN {exists[0]}"))
    assert "LIST SUBQUERY" not in plan and "doc_codes_code" in plan, plan
