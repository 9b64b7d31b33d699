"""Drop your idea on the map (``patscape locate``): where a text (a draft claim, an invention
disclosure) lands in a landscape, what is near it, who is active there, and how crowded it is.

The text is embedded with the run's space (its model and settings). Its nearest patents are
searched with it embedded as a **query** by default (the model's query instruction, as a
search does) or as a **document** (``as_document``); passages where the space has them, the
best-matching passage as evidence (:func:`patscape.search.search`). Where it lands is read with
it embedded as a document, as the corpus's patents were (and as an uploaded patent is placed):

- its place: the topic of the run's placement rule (at least ``reassign_agreement`` of its
  ``reassign_neighbours`` nearest patents of the run in one topic, else none) and a position on
  the 2-D map at the similarity-weighted mean of those neighbours in that topic (of its nearest
  one, when in none). (No similarity floor here, unlike ``map --update``: a sentence is less
  like a patent than patents are like one another, so a floor measured on patents would refuse
  every short idea; how alone the text is shows in its crowding instead);
- its nearest topics: the topics of its :data:`NEIGHBOURHOOD` nearest patents of the run, by the
  share of their summed similarity;
- the owners active there: the organisations (:mod:`patscape.owners`) of those patents;
- how crowded its neighbourhood is: how close its :data:`DENSITY_K` nearest patents are to one
  another (their mean pairwise cosine), against the same figure for the neighbourhood of each of
  the run's own patents (its :data:`DENSITY_K` nearest others; a seeded sample of
  :data:`DENSITY_SAMPLE` above that), as a percentile: "denser than 80% of the landscape". Only
  patents' vectors enter it, so a short query and a long draft, embedded as a query or as a
  document, are measured alike: the text only chooses the neighbourhood. The corpus's figures are
  computed once per run and kept in the store.

The text is neither stored nor logged.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from .errors import InputError
from .store import Store

#: Nearest patents whose topics and owners describe the neighbourhood.
NEIGHBOURHOOD = 50
#: Nearest patents the density is measured on.
DENSITY_K = 10
#: The run's patents whose own density makes the reference (a seeded sample above).
DENSITY_SAMPLE = 5000
#: Longest text accepted (characters): a whole specification, not a corpus.
MAX_TEXT = 200_000


def crowding(vectors: np.ndarray) -> np.ndarray:
    """Mean pairwise cosine (the diagonal left out) of each ``(m, k, dims)`` group of unit vectors."""
    gram = np.einsum("mkd,mjd->mkj", vectors, vectors)
    k = vectors.shape[1]
    return ((gram.sum(axis=(1, 2)) - np.trace(gram, axis1=1, axis2=2)) / (k * (k - 1))).astype(np.float32)


def run_density(store: Store, run_id: int, seed: int = 42) -> np.ndarray:
    """The run's reference: for each (sampled) patent, the :func:`crowding` of its
    :data:`DENSITY_K` nearest other patents of the run, sorted; computed once and kept with the run."""
    from .landscape.sample import SampleIndex, sample_rows

    run = store.get_run(run_id)
    kept = (run.data.get("density") or {}).get("sorted")
    if kept:
        return np.asarray(kept, dtype=np.float32)
    mapped = {d for d, *_ in store.run_points(run.id)}
    ids, vectors = store.load_vectors(run.space)
    rows = np.array([i for i, d in enumerate(ids) if d in mapped], dtype=np.int64)
    if len(rows) <= DENSITY_K:
        raise InputError(f"run {run.id} has too few patents with vectors ({len(rows)}) to measure density")
    mine = vectors[rows]
    probes = sample_rows(len(rows), DENSITY_SAMPLE, seed)
    index = SampleIndex(mine, seed)
    idx, _ = index.search(mine[probes], DENSITY_K + 1)
    others = np.array([[j for j in row if j != p][:DENSITY_K] for p, row in zip(probes.tolist(), idx.tolist())])
    density = np.round(np.sort(crowding(mine[others])), 5).astype(np.float32)  # as kept: the same answer next time
    store.set_run_density(run.id, {"k": DENSITY_K, "sample": int(len(probes)), "sorted": [float(v) for v in density]})
    return density


def locate(
    store: Store, text: str, run_id: int | None = None, k: int = 10, as_document: bool = False,
    embedder: Any = None,
) -> dict[str, Any]:
    """Where ``text`` lands in run ``run_id`` (the newest by default): see the module's text."""
    from .embed import load_embedder
    from .landscape.cluster import agreed_topic
    from .owners import corpus_owners
    from .search import query_language, search

    if not text or not text.strip():
        raise InputError("the text is empty: give the idea, a draft claim or a file with it")
    if len(text) > MAX_TEXT:
        raise InputError(f"the text has {len(text):,} characters; locate takes at most {MAX_TEXT:,}")
    if k < 1:
        raise InputError("k must be at least 1")
    run = store.get_run(run_id)
    space = store.get_space(run.space)
    model = embedder or load_embedder(space.model, **space.params.get("loader", {}))
    dims = space.dims if space.dims != model.native_dims else None
    task = "document" if as_document else "query"
    placed = model.embed([text], "document", dims).vectors[0]
    asked = placed if as_document else model.embed([text], "query", dims).vectors[0]
    centring = store.space_centring(space.key)
    if centring is not None:  # centred by its language, as the space's patents are by theirs (a query is so)
        lang = query_language(text, [k for k in centring.means if k != "*"])
        placed, asked = centring.apply_one(placed, lang), centring.apply_one(asked, lang)
    points = {d: (c, x, y) for d, c, _, x, y in store.run_points(run.id)}
    near = [h for h in search(store, k=max(k, NEIGHBOURHOOD), space=space, run=run.id, vector=placed) if h.id in points]
    # as a document, the patents found are the neighbourhood's first: one search serves both
    found = near[:k] if as_document else [h for h in search(store, k=k, space=space, run=run.id, vector=asked)
                                          if h.id in points]
    params = run.params.get("map") or {}
    voters = near[: int(params.get("reassign_neighbours") or 15)]
    votes = np.array([points[h.id][0] for h in voters], dtype=np.int64)
    topic = agreed_topic(votes, float(params.get("reassign_agreement") or 0.3)) if voters else -1
    same = [h for h in voters if points[h.id][0] == topic] or voters[:1]
    weights = np.array([max(h.score, 1e-6) for h in same])
    xy = (np.array([points[h.id][1:] for h in same]) * weights[:, None]).sum(axis=0) / weights.sum() if same else None
    labels = store.run_topic_labels(run.id)
    pull: Counter[int] = Counter()
    count: Counter[int] = Counter()
    for h in near[:NEIGHBOURHOOD]:
        c = points[h.id][0]
        if c >= 0:
            pull[c] += max(h.score, 0.0)
            count[c] += 1
    total = sum(pull.values()) or 1.0
    docs = {d.id: d for d in store.iter_documents([h.id for h in near[:NEIGHBOURHOOD]], texts=False)}
    owners = corpus_owners((d.assignee for d in docs.values()), store.owner_aliases())
    held: Counter[str] = Counter()
    names: dict[str, str] = {}
    for d in docs.values():
        for org in owners.of_field(d.assignee):
            held[org.key] += 1
            names[org.key] = org.name
    reference = run_density(store, run.id)
    mine = None
    if len(near) >= DENSITY_K:
        around = np.stack([store.get_vector(space.key, h.id) for h in near[:DENSITY_K]])
        mine = float(crowding(around[None])[0])
    percentile = (round(100.0 * float(np.searchsorted(reference, mine, side="right")) / len(reference), 1)
                  if mine is not None else None)
    return {
        "run": run.id, "space": space.key, "as": task, "k": k,
        "topic": {"cluster": int(topic), "label": labels.get(int(topic), "outlier") if topic >= 0 else "outlier"},
        "x": round(float(xy[0]), 4) if xy is not None else None, "y": round(float(xy[1]), 4) if xy is not None else None,
        "density_percentile": percentile,
        "nearest_cosine": round(near[0].score, 4) if near else None,
        "density": {"k": DENSITY_K, "crowding": round(mine, 4) if mine is not None else None,
                    "corpus_median": round(float(np.median(reference)), 4), "reference_patents": int(len(reference))},
        "topics": [{"cluster": c, "label": labels.get(c, ""), "share": round(pull[c] / total, 4), "patents": count[c]}
                   for c, _ in sorted(pull.items(), key=lambda kv: (-kv[1], kv[0]))],
        "patents": [{"id": h.id, "title": h.title, "score": h.score, "date": h.date, "lang": h.lang, "cluster": h.cluster,
                     "label": h.label, "passage": None if h.passage is None else {
                         "field": h.passage.field, "start": h.passage.start, "end": h.passage.end,
                         "text": h.passage.text, "score": h.passage.score}}
                    for h in found[:k]],
        "owners": [{"name": names[key], "patents": n} for key, n in sorted(held.items(), key=lambda kv: (-kv[1], names[kv[0]]))],
        "neighbourhood": NEIGHBOURHOOD,
    }
