"""Similar-patent search over a corpus: vector, keyword (FTS5/BM25) and hybrid (rank fusion)."""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from .embed import Embedder, load_embedder
from .errors import InputError, NotFoundError
from .records import Evidence, Hit, summary_text
from .filters import SearchFilter
from .spaces import pick_space
from .store import Space, Store, StoredPassages
from .vectors import VectorSource
from .vectors.disk import PassageHit, SpaceVectors

Mode = Literal["vector", "keyword", "hybrid"]
RRF_K = 60
#: Hits each ranking contributes before fusion (at least k).
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
    where: SearchFilter | None = None,
    vectors: VectorSource | None = None,
    run: int | None = None,
    by_family: bool = False,
    vector: NDArray[np.float32] | None = None,
) -> list[Hit]:
    """The ``k`` documents most similar to ``query`` text or to the document ``like``.

    ``where`` keeps only documents of a language, a range of years and a CPC/IPC prefix
    (``lang`` is a shorthand for its language; with a multilingual model, a query in one
    language finds patents in another). Where the space has passage vectors, a query ranks each
    patent by its best-matching passage or its document vector, whichever is closer; where the
    passage is, the hit carries it as the evidence. ``--like`` compares document vectors; in keyword and
    hybrid mode the liked document's summary (title and abstract) is the keyword query. Hits carry their
    topic in ``run`` (whose space is searched when ``space`` is not given), else in the newest run of the space.
    ``by_family``: ``k`` families, each as its best-ranked publication with the others of the
    family found among the candidates in ``family_members`` (:mod:`patscape.families`).

    Document vectors are searched through ``vectors`` when given (e.g. Milvus), otherwise
    through the space's memory-mapped files beside the store: an exact scan below the ANN
    threshold, the HNSW index above it (:mod:`patscape.vectors.disk`). In a space centred by
    language (:mod:`patscape.store.centring`) a text query is centred by its detected language
    with the space's frozen means, as the documents are (and the vector files hold them centred).
    A vector store holds
    document vectors only: a text query of a space with passages is refused with it
    (:class:`InputError`), never answered half from the local files.
    """
    if sum(x is not None for x in (query, like, vector)) != 1:
        raise InputError("give either query text or --like ID")
    if vector is not None and mode != "vector":
        raise InputError("a vector is searched in vector mode only")
    if query is not None and not query.strip():
        raise InputError("the query is empty")
    if k < 1:
        raise InputError("k must be at least 1")
    keywords = query
    if like is not None:
        doc = store.get_document(like)  # a clear error for an unknown id
        keywords = summary_text(doc)
    where = _filter(store, where, lang)
    if run is not None and space is None and mode != "keyword":
        space = store.get_space(store.get_run(run).space)
    candidates = max(CANDIDATES, 3 * k if by_family else k)
    vector_hits: list[tuple[str, float]] = []
    evidence: dict[str, Evidence] = {}
    if mode in ("vector", "hybrid"):
        if space is None:
            space = pick_space(store)
        vector_hits, evidence = _vector_search(store, space, query, like, embedder, where, candidates, vectors, vector)
    keyword_hits: list[tuple[str, float]] = []
    if mode in ("keyword", "hybrid") and keywords:
        found = [(doc_id, score) for doc_id, score in store.keyword_search(keywords, candidates * 5) if doc_id != like]
        if where is not None:
            allowed = store.filter_ids([doc_id for doc_id, _ in found], where)
            found = [(doc_id, score) for doc_id, score in found if doc_id in allowed]
        keyword_hits = found[:candidates]
    if mode == "vector":
        ranked = vector_hits
    elif mode == "keyword":
        ranked = keyword_hits
    else:
        ranked = _fuse(vector_hits, keyword_hits)
    members: dict[str, list[str]] = {}
    if by_family:
        ranked, members = _by_family(store, ranked, k)
    ranked = ranked[:k]
    topics = _topics(store, space, [doc_id for doc_id, _ in ranked], run)
    docs = {d.id: d for d in store.iter_documents([doc_id for doc_id, _ in ranked])}
    hits = []
    for doc_id, score in ranked:
        doc = docs[doc_id]
        cluster, label = topics.get(doc_id, (None, None))
        hits.append(Hit(doc_id, round(float(score), 4), doc.title, doc.lang, doc.date, cluster, label, evidence.get(doc_id),
                        tuple(members.get(doc_id, ()))))
    return hits


def _by_family(store: Store, ranked: list[tuple[str, float]], k: int) -> tuple[list[tuple[str, float]], dict[str, list[str]]]:
    """The first ``k`` families of ``ranked``, each by its best-ranked publication, and the
    other publications of each among ``ranked``."""
    from .families import family_key

    inferred = store.inferred_families()
    key_of = {d.id: family_key(d, inferred) for d in store.iter_documents([doc_id for doc_id, _ in ranked], texts=False)}
    first: dict[str, str] = {}
    kept: list[tuple[str, float]] = []
    members: dict[str, list[str]] = {}
    for doc_id, score in ranked:
        key = key_of.get(doc_id, f"doc:{doc_id}")
        if key in first:
            members[first[key]].append(doc_id)
        elif len(kept) < k:
            first[key] = doc_id
            members[doc_id] = []
            kept.append((doc_id, score))
    return kept, members


def _filter(store: Store, where: SearchFilter | None, lang: str | None) -> SearchFilter | None:
    """The search filter (``lang`` folded in), or ``None``; a filter nothing meets is an error."""
    if lang:
        where = dataclasses.replace(where or SearchFilter(), lang=lang)
    if where is None or where.empty:
        return None
    # existence, not a count: a count reads every matching row on every filtered search
    if not store.any_matching(where):
        if where.lang and not store.any_matching(SearchFilter(lang=where.lang)):
            raise NotFoundError(
                f"no documents in language {where.lang!r} (languages: {', '.join(store.language_counts())})"
            )
        raise NotFoundError(f"no documents match the filter ({where.describe()})")
    return where


def _vector_search(
    store: Store,
    space: Space,
    query: str | None,
    like: str | None,
    embedder: Embedder | None,
    where: SearchFilter | None,
    candidates: int,
    vectors: VectorSource | None = None,
    given: NDArray[np.float32] | None = None,
) -> tuple[list[tuple[str, float]], dict[str, Evidence]]:
    """Ranked (id, score) by cosine, and the best passage of each document that has passages
    (``given``: a vector already embedded in the space, searched as a query is)."""
    if vectors is not None and like is None and space.params.get("passages"):
        raise InputError(passages_refused(space))
    if given is not None:
        target = np.asarray(given, dtype=np.float32)
    elif like is not None:
        target = store.get_vector(space.key, like)  # SQLite holds every vector of the space
    else:
        assert query is not None
        model = embedder or load_embedder(space.model, **space.params.get("loader", {}))
        dims = space.dims if space.dims != model.native_dims else None
        target = model.embed([query], "query", dims).vectors[0]
        centring = store.space_centring(space.key)
        if centring is not None:  # centred by its language, as the space's documents are by theirs
            target = centring.apply_one(target, query_language(query, [k for k in centring.means if k != "*"]))
    local = SpaceVectors.open(store, space) if vectors is None else None
    source: VectorSource = vectors if vectors is not None else local  # type: ignore[assignment]
    scores = dict(source.nearest(target, candidates, where, exclude=like))
    best_passages: dict[str, PassageHit] = {}
    if like is None and space.params.get("passages") and local is not None:
        found = local.nearest_passages(target, candidates, where)
        # a document found by a passage only: its own vector's score, to compare
        missing = [doc_id for doc_id in found if doc_id not in scores]
        for batch in store.iter_vector_rows(space.key, missing):
            for doc_id, blob in batch:
                scores[doc_id] = float(np.frombuffer(blob, dtype=np.float32) @ target)
        # a passage is the evidence only where it ranks the patent (beats its document vector)
        best_passages = {doc_id: hit for doc_id, hit in found.items() if doc_id in scores and hit.score >= scores[doc_id]}
        for doc_id, hit in best_passages.items():
            scores[doc_id] = hit.score
    ranked = sorted(((doc_id, score) for doc_id, score in scores.items() if doc_id != like),
                    key=lambda kv: (-kv[1], kv[0]))[:candidates]
    evidence: dict[str, Evidence] = {}
    wanted = [doc_id for doc_id, _ in ranked if doc_id in best_passages]
    for doc in store.iter_documents(wanted):
        hit = best_passages[doc.id]
        evidence[doc.id] = Evidence(hit.field, hit.start, hit.end, str(getattr(doc, hit.field, ""))[hit.start:hit.end],
                                    round(hit.score, 4))
    return ranked, evidence


#: Languages detect_language names by their script or letters (Vietnamese by its own vowels),
#: not by langdetect's guess.
_SURE = frozenset("zh ja ko th el he hi ru uk bg mk sr ar fa ur vi".split())


def query_language(query: str, known: tuple[str, ...] | list[str] = ()) -> str | None:
    """The language a query is centred by: detected as at ingest (None: the space's overall mean).

    ``known``: the languages the space has a mean of its own for. A short Latin-script query
    fools the detector ("underwater glider" reads as German, "satellite" as Finnish): when it
    names a language without a mean of its own, the guess is taken again among the space's
    Latin-script languages (``en`` in an English/Chinese corpus)."""
    from .text.language import _langdetect, detect_language

    lang = detect_language(query)
    if lang is None or not known or lang in known or lang in _SURE:
        return lang
    latin = tuple(code for code in known if code not in _SURE and code != "*")
    return _langdetect(query, latin) if latin else lang


def passages_refused(space: Space) -> str:
    """Why a text query of a space with passages is refused with a vector store."""
    return (
        f"the vector store holds document vectors only, and a text query of the space {space.key} also ranks "
        "its passage vectors, which are not there: to search passages, serve (or search) without "
        "--vector-store; --like ID and keyword searches work with it"
    )


def best_passage_per_document(stored: StoredPassages, target: NDArray[np.float32], block: int = 65536) -> dict[str, tuple[int, float]]:
    """For every document with passages: (row of its best passage, cosine to ``target``)."""
    scores = np.empty(len(stored.doc_ids), dtype=np.float32)
    for start in range(0, len(scores), block):
        part = stored.vectors[start : start + block].astype(np.float32)
        scores[start : start + block] = (part @ target) * stored.scales[start : start + block]
    doc_index = np.unique(np.asarray(stored.doc_ids), return_inverse=True)[1]
    order = np.lexsort((-scores, doc_index))  # by document, best passage first
    first = order[np.r_[True, doc_index[order][1:] != doc_index[order][:-1]]]
    return {stored.doc_ids[i]: (int(i), float(scores[i])) for i in first}


def _fuse(*rankings: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion: score = sum of 1 / (60 + rank) over the rankings."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, (doc_id, _) in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _topics(store: Store, space: Space | None, ids: list[str], run_id: int | None = None) -> dict[str, tuple[int, str]]:
    """Topic (cluster, label) of ``ids`` in run ``run_id``, else in the newest run of the space."""
    if run_id is None:
        head = store.newest_run_head(space.key if space is not None else None)
        if head is None:
            return {}
        run_id = head[0]
    points = store.run_points_of(run_id, ids)  # one query for all hits
    labels = store.run_topic_labels(run_id, [point[0] for point in points.values()])  # the hits' topics only
    return {doc_id: (points[doc_id][0], labels.get(points[doc_id][0], "outlier")) for doc_id in ids if doc_id in points}
