"""Similar-patent search over a corpus: vector, keyword (FTS5/BM25) and hybrid (rank fusion)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from .embed import Embedder, load_embedder
from .errors import InputError, NotFoundError
from .records import Hit
from .store import Space, Store

Mode = Literal["vector", "keyword", "hybrid"]
RRF_K = 60
CANDIDATES = 100


def search(
    store: Store,
    query: str | None = None,
    *,
    like: str | None = None,
    k: int = 10,
    lang: str | None = None,
    mode: Mode = "vector",
    space: Space | None = None,
    embedder: Embedder | None = None,
) -> list[Hit]:
    """The ``k`` documents most similar to ``query`` text or to the document ``like``.

    ``lang`` keeps only documents in that language (with a multilingual model, a query in one
    language finds patents in another). Hits carry their topic in the newest run of the space.
    """
    if (query is None) == (like is None):
        raise InputError("give either query text or --like ID")
    if query is not None and not query.strip():
        raise InputError("the query is empty")
    if k < 1:
        raise InputError("k must be at least 1")
    if like is not None:
        doc = store.get_document(like)  # a clear error for an unknown id
        if mode == "keyword":
            query = f"{doc.title} {doc.abstract}"
    allowed = _ids_in_language(store, lang)
    ranked: list[tuple[str, float]] = []
    vector_hits: list[tuple[str, float]] = []
    if mode in ("vector", "hybrid"):
        if space is None:
            from .pipeline import pick_space

            space = pick_space(store)
        vector_hits = _vector_search(store, space, query, like, embedder, allowed)
    keyword_hits: list[tuple[str, float]] = []
    if mode in ("keyword", "hybrid") and query is not None:
        keyword_hits = [
            (doc_id, score) for doc_id, score in store.keyword_search(query, CANDIDATES * 5)
            if (allowed is None or doc_id in allowed) and doc_id != like
        ][:CANDIDATES]
    if mode == "vector":
        ranked = vector_hits
    elif mode == "keyword":
        ranked = keyword_hits
    else:
        ranked = _fuse(vector_hits, keyword_hits)
    ranked = ranked[:k]
    topics = _topics(store, space)
    docs = {d.id: d for d in store.iter_documents([doc_id for doc_id, _ in ranked])}
    hits = []
    for doc_id, score in ranked:
        doc = docs[doc_id]
        cluster, label = topics.get(doc_id, (None, None))
        hits.append(Hit(doc_id, round(float(score), 4), doc.title, doc.lang, doc.date, cluster, label))
    return hits


def _ids_in_language(store: Store, lang: str | None) -> set[str] | None:
    if not lang:
        return None
    rows = store.db.execute("SELECT id FROM documents WHERE lang = ?", (lang.lower(),)).fetchall()
    if not rows:
        raise NotFoundError(f"no documents in language {lang!r} (languages: {', '.join(store.language_counts())})")
    return {row[0] for row in rows}


def _vector_search(
    store: Store, space: Space, query: str | None, like: str | None, embedder: Embedder | None, allowed: set[str] | None
) -> list[tuple[str, float]]:
    ids, matrix = store.load_vectors(space.key)
    if like is not None:
        target = store.get_vector(space.key, like)
    else:
        assert query is not None
        model = embedder or load_embedder(space.model, **space.params.get("loader", {}))
        dims = space.dims if space.dims != model.native_dims else None
        target = model.embed([query], "query", dims).vectors[0]
    scores = matrix @ target
    order = np.argsort(-scores, kind="stable")
    out = []
    for i in order:
        doc_id = ids[i]
        if doc_id == like or (allowed is not None and doc_id not in allowed):
            continue
        out.append((doc_id, float(scores[i])))
        if len(out) == CANDIDATES:
            break
    return out


def _fuse(*rankings: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion: score = sum of 1 / (60 + rank) over the rankings."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, (doc_id, _) in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _topics(store: Store, space: Space | None) -> dict[str, tuple[int, str]]:
    runs = [r for r in store.runs() if space is None or r.space == space.key]
    if not runs:
        return {}
    run = runs[-1]
    labels = {t["cluster"]: t["label"] for t in store.run_topics(run.id)}
    return {doc_id: (c, labels.get(c, "outlier")) for doc_id, c, _, _, _ in store.run_points(run.id)}
