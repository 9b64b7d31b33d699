"""Passage vectors of the full text and passage-level search, with the fast hashing embedder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from patscape.embed.hashing import HashingEmbedder
from patscape.pipeline import EmbedOptions, embed, ingest
from patscape.search import _fuse, search
from patscape.spaces import PassageParams
from patscape.store import Store, quantize

from .conftest import REPO, write_jsonl

FULLTEXT = REPO.parent / "shared" / "data" / "patents-fulltext-dev.jsonl"


def fulltext_records(n: int) -> list[dict]:
    if not FULLTEXT.exists():
        pytest.fail(f"the full-text corpus is not beside the repository ({FULLTEXT}); CI needs ../shared")
    with FULLTEXT.open(encoding="utf-8") as handle:
        return [json.loads(line) for _, line in zip(range(n), handle)]


@pytest.fixture()
def fulltext_store(tmp_path: Path) -> Store:
    with Store(tmp_path / "store") as db:
        ingest(db, [write_jsonl(tmp_path / "full.jsonl", fulltext_records(12))])
        yield db


def middle_passage(text: str, length: int = 300) -> tuple[int, str]:
    """A passage of about ``length`` characters from the middle of ``text``, cut at spaces."""
    start = text.index(" ", len(text) // 2) + 1
    end = text.rindex(" ", start, start + length)
    return start, text[start:end]


def test_passages_cover_claims_and_description_and_are_stored_compactly(fulltext_store: Store) -> None:
    model = HashingEmbedder(256, max_tokens=512)
    report = embed(fulltext_store, model, EmbedOptions(passages=PassageParams(window=64, overlap=8)))
    assert report.embedded == 12
    key = report.space.key
    stored = fulltext_store.load_passages(key)
    stats = fulltext_store.passage_stats(key)
    assert stats["passages"] == len(stored.doc_ids) and stats["docs_with_passages"] == 12
    assert stats["docs_with_passages_cut"] == 0 and stats["passage_tokens_cut"] == 0
    assert stored.vectors.dtype == np.int8 and stored.vectors.shape == (len(stored.doc_ids), 256)
    # int8 rows: 256 bytes + scale + field + offsets, a quarter of float32
    assert stats["passage_bytes"] < len(stored.doc_ids) * (256 + 40)
    for doc in fulltext_store.iter_documents():
        rows = [i for i, d in enumerate(stored.doc_ids) if d == doc.id]
        fields = {stored.fields[i] for i in rows}
        assert fields == {"claims", "description"}
        for field in fields:
            spans = sorted(stored.spans[i] for i in rows if stored.fields[i] == field)
            words = model.token_spans(getattr(doc, field))
            # consecutive passages overlap, and together reach from the first to the last word
            assert spans[0][0] == words[0][0] and spans[-1][1] == words[-1][1]
            assert all(b[0] < a[1] for a, b in zip(spans, spans[1:]))
            assert len(spans) == -(-(len(words) - 8) // (64 - 8))  # ceil((tokens - overlap) / step)


def test_a_passage_from_the_middle_of_a_description_finds_its_patent(fulltext_store: Store) -> None:
    model = HashingEmbedder(512, max_tokens=512)
    embed(fulltext_store, model, EmbedOptions(passages=PassageParams(window=64, overlap=8)))
    for doc in fulltext_store.iter_documents():
        start, passage = middle_passage(doc.description)
        hits = search(fulltext_store, passage, k=3, embedder=model)
        assert hits[0].id == doc.id
        evidence = hits[0].passage
        assert evidence is not None and evidence.field == "description"
        assert evidence.text == doc.description[evidence.start : evidence.end]
        # the evidence is the stretch the query came from
        assert evidence.start < start + len(passage) and start < evidence.end
        assert hits[0].score == evidence.score


def test_without_passages_the_document_vector_ranks_and_no_evidence_is_given(fulltext_store: Store) -> None:
    model = HashingEmbedder(512, max_tokens=512)
    report = embed(fulltext_store, model, EmbedOptions(passages=None))
    assert "passages" not in report.space.params
    assert fulltext_store.passage_stats(report.space.key)["passages"] == 0
    doc = next(fulltext_store.iter_documents())
    hits = search(fulltext_store, doc.title, k=3, embedder=model)
    assert all(h.passage is None for h in hits)


def test_the_passage_cap_is_counted(fulltext_store: Store) -> None:
    model = HashingEmbedder(128, max_tokens=512)
    report = embed(fulltext_store, model, EmbedOptions(passages=PassageParams(window=32, overlap=4, max_per_field=3)))
    stats = fulltext_store.passage_stats(report.space.key)
    assert stats["passages"] == 12 * 2 * 3  # every description and claim set is longer than 3 windows
    assert stats["docs_with_passages_cut"] == 12
    expected_cut = 0
    for doc in fulltext_store.iter_documents():
        for field in ("claims", "description"):
            tokens = len(model.token_spans(getattr(doc, field)))
            expected_cut += tokens - (2 * (32 - 4) + 32)  # three windows of 32 with a step of 28
    assert stats["passage_tokens_cut"] == expected_cut


def test_a_changed_document_loses_its_old_passages(fulltext_store: Store, tmp_path: Path) -> None:
    model = HashingEmbedder(128, max_tokens=512)
    key = embed(fulltext_store, model, EmbedOptions(passages=PassageParams(window=64, overlap=8))).space.key
    record = fulltext_records(1)[0]
    before = fulltext_store.load_passages(key).doc_ids.count(record["id"])
    record["description"] = "A short new description of the same invention."
    ingest(fulltext_store, [write_jsonl(tmp_path / "changed.jsonl", [record])])
    assert record["id"] not in fulltext_store.load_passages(key).doc_ids
    assert embed(fulltext_store, model, EmbedOptions(passages=PassageParams(window=64, overlap=8))).embedded == 1
    after = fulltext_store.load_passages(key).doc_ids.count(record["id"])
    assert 0 < after < before


def test_int8_passages_keep_the_cosine() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for v in vectors:
        q, scale = quantize(v)
        restored = q.astype(np.float32) * scale
        assert float(restored @ v / np.linalg.norm(restored)) > 0.999
    assert quantize(np.zeros(4, dtype=np.float32))[1] == 0.0


@pytest.fixture()
def slice_store(tmp_path: Path, dev_slice: Path) -> Store:
    with Store(tmp_path / "store") as db:
        ingest(db, [dev_slice])
        embed(db, HashingEmbedder(256))
        yield db


def test_search_returns_more_than_one_hundred_hits_when_asked(slice_store: Store) -> None:
    doc = next(slice_store.iter_documents())
    hits = search(slice_store, like=doc.id, k=250)
    assert len(hits) == 250 and len({h.id for h in hits}) == 250
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_like_in_hybrid_mode_fuses_the_keyword_ranking(slice_store: Store) -> None:
    doc = next(d for d in slice_store.iter_documents() if d.lang == "en")
    vector = [(h.id, h.score) for h in search(slice_store, like=doc.id, k=100, mode="vector")]
    keyword = [(h.id, h.score) for h in search(slice_store, like=doc.id, k=100, mode="keyword")]
    hybrid = search(slice_store, like=doc.id, k=10, mode="hybrid")
    expected = _fuse(vector, keyword)[:10]
    assert [h.id for h in hybrid] == [doc_id for doc_id, _ in expected]
    assert [h.id for h in hybrid] != [doc_id for doc_id, _ in vector[:10]]


def test_evidence_only_where_a_passage_ranks_the_patent(fulltext_store: Store) -> None:
    from patscape.spaces import document_text

    model = HashingEmbedder(512, max_tokens=4096)
    embed(fulltext_store, model, EmbedOptions(passages=PassageParams(window=64, overlap=8)))
    doc = next(fulltext_store.iter_documents())
    # the document's own vector text: its document vector matches exactly, no passage beats it
    hit = search(fulltext_store, document_text(doc), k=1, embedder=model)[0]
    assert hit.id == doc.id and hit.score == 1.0 and hit.passage is None


# -- committed batches of long full texts ----------------------------------------------------------
def embed_recording_commits(db: Store, monkeypatch: pytest.MonkeyPatch, **options: object) -> list[tuple[list[str], int]]:
    """``embed`` with hash:64, and every committed batch: its document ids and its model windows
    (chunks of the document vectors + passages, as stored: the forward passes of the model)."""
    commits: list[tuple[list[str], int]] = []
    put = db.put_vectors

    def recording(space, rows, passages=None):  # type: ignore[no-untyped-def]
        commits.append(([r.doc_id for r in rows], sum(r.n_chunks for r in rows) + len(passages or [])))
        return put(space, rows, passages)

    monkeypatch.setattr(db, "put_vectors", recording)
    embed(db, HashingEmbedder(64), EmbedOptions(**options))  # type: ignore[arg-type]
    return commits


@pytest.mark.parametrize("budget", [None, 60])
def test_a_committed_batch_of_long_full_texts_holds_at_most_the_window_budget(
    fulltext_store: Store, monkeypatch: pytest.MonkeyPatch, budget: int | None
) -> None:
    """A kill loses at most the batch in flight: on long full texts that batch is bounded by model
    windows (default BATCH_WINDOWS), not only by documents; a longer document goes alone, whole."""
    from patscape.pipeline import BATCH_WINDOWS

    limit = budget or BATCH_WINDOWS
    commits = embed_recording_commits(fulltext_store, monkeypatch, **({"batch_windows": budget} if budget else {}))
    ids = [i for batch, _ in commits for i in batch]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 12  # every document once: none split across commits
    assert len(commits) > 1
    for batch, windows in commits:
        assert windows <= limit or len(batch) == 1, (len(batch), windows)
    assert any(len(batch) > 1 for batch, _ in commits)  # documents are still grouped
    # a batch closes only when its next document would take it past the budget
    per_doc = dict(fulltext_store.db.execute("SELECT doc_id, n_chunks FROM vectors"))
    for doc, n in fulltext_store.db.execute("SELECT doc_id, count(*) FROM passages GROUP BY doc_id"):
        per_doc[doc] += n
    for (_, windows), (following, _) in zip(commits, commits[1:]):
        assert windows + per_doc[following[0]] > limit
    if budget:
        assert any(len(batch) == 1 and windows > limit for batch, windows in commits)  # an oversize document, alone


def test_the_stored_vectors_and_passages_do_not_depend_on_the_batching(tmp_path: Path) -> None:
    from tests.crash_helpers import picture

    source = write_jsonl(tmp_path / "full.jsonl", fulltext_records(12))
    pictures = []
    for n, (docs, windows) in enumerate([(256, 1), (256, 60), (5, 10**6), (256, 10**6)]):
        with Store(tmp_path / f"store-{n}") as db:
            ingest(db, [source])
            embed(db, HashingEmbedder(64), EmbedOptions(batch_docs=docs, batch_windows=windows))
        pictures.append(picture(tmp_path / f"store-{n}"))
    assert len(pictures[0]["vectors"]) == 12 and pictures[0]["passages"]
    for other in pictures[1:]:
        assert other == pictures[0]  # byte for byte: vectors, passages, the space and its state
