"""A run updated with the documents embedded since it was made (``patscape map --update``),
keeping its topics and their ids.

Nothing of the previous run is refitted: its documents keep their topic and their place on the
map. Documents that are new, or whose text (and so vector) changed since, are placed by the rule
a map uses for its outliers (:func:`~.cluster.reassign_outliers`): a document joins topic ``t``
when at least ``reassign_agreement`` of its ``reassign_neighbours`` nearest documents of the
previous run are in ``t``, and is left out otherwise; a neighbour farther from it than 99% of the
previous documents are from their own nearest (:func:`fit_floor`) does not vote, so a document
unlike anything mapped is not put into a topic by the accident of which far documents are
nearest; it is drawn at the similarity-weighted mean
position of those of its neighbours in its topic. Documents deleted since leave their topics.

What fits no topic is clustered on its own (its own neighbours graph, UMAP and HDBSCAN with the
map's minimum cluster size, as a map clusters a topic that is too large again): dense groups
become new topics with new ids, the rest stay outliers. A topic that grew past the map's own size
bound is split the same way, its parts taking new ids (recorded as a split in the lineage); a
topic already past the previous run's bound (one its map could not split) is not tried again.

The levels above the topics are built again from the topics' centroids and aligned to the
previous run's levels (:mod:`.lineage`); sub-topics stay where their topic continues (new members
join the nearest sub-topic centroid), and a new or split topic has none until the next full map.
Labels, codes, figures and the evolution are computed again over every document.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..chunking import normalize_rows
from ..records import Document
from .build import Landscape, assemble
from .cluster import MIN_SPLIT_KEPT, agreed_topic
from .counts import code_counts
from .graph import topic_links
from .levels import best_levels, hierarchy_of, label_hierarchy, level_records
from .lineage import Alignment, PreviousRun, carried, match_level, relabel_hierarchy
from .metrics import run_metrics
from .params import MapParams
from .sample import SampleIndex
from .subtopics import SubTopics, place_in_subtopics
from .topics import cluster_subset

METHOD = ("new and changed documents placed by the outliers' rule among the previous run's documents; "
          "what fits no topic clustered on its own; topics past the size bound split")
METHOD_RELAYOUT = "; the 2-D layout drawn afresh (UMAP of every document, or of a sample and the rest placed)"


@dataclass(slots=True)
class UpdateBase:
    """What an update starts from: the previous run's documents with their topic and position,
    its memberships (for the lineage) and its sub-topics."""

    previous: PreviousRun
    points: dict[str, tuple[int, float, float]]  # doc -> (cluster, x, y)
    subtopic_parents: dict[int, int] = field(default_factory=dict)
    subtopic_min_size: int = 0
    changed: set[str] = field(default_factory=set)  # documents whose vector changed since


def update_landscape(
    base: UpdateBase,
    ids: Sequence[str],
    vectors: NDArray[np.float32],
    docs: Sequence[Document],
    params: MapParams,
    seed: int = 42,
    on_stage: Callable[[str], None] | None = None,
    relayout: bool = False,
) -> tuple[Landscape, dict[str, Any]]:
    """The previous run updated with ``ids``' documents (every document of the space now, unit
    ``vectors``, ``docs``); returns the landscape and what the update did (counts). ``relayout``:
    a new 2-D layout of every document (:func:`new_layout`) instead of the previous one with the
    new documents placed into it; topics and ids are the same either way."""
    params = params.resolved(len(ids))
    assert params.min_cluster_size is not None
    timings: dict[str, float] = {}

    def stage(name: str) -> None:
        timings[name] = time.perf_counter()
        if on_stage:
            on_stage(name)

    n = len(ids)
    stage("place")
    labels = np.full(n, -1, dtype=np.int64)
    xy = np.zeros((n, 2), dtype=np.float32)
    kept = np.array([d in base.points and d not in base.changed for d in ids], dtype=bool)
    old_rows = np.flatnonzero(kept)
    for i in old_rows.tolist():
        labels[i], xy[i, 0], xy[i, 1] = base.points[ids[i]]
    new_rows = np.flatnonzero(~kept)
    k = min(params.reassign_neighbours, len(old_rows))
    floor = -1.0
    if len(new_rows) and k:
        index = SampleIndex(vectors[old_rows], seed)
        floor = fit_floor(index, vectors[old_rows], seed)
        for lo in range(0, len(new_rows), 4096):
            rows = new_rows[lo : lo + 4096]
            idx, sims = index.search(vectors[rows], k)
            voters = np.where(sims >= floor, labels[old_rows[idx]], -1)  # too far to vote: abstains
            for j, row in enumerate(rows.tolist()):
                labels[row] = agreed_topic(voters[j], params.reassign_agreement)
                same = voters[j] == labels[row]
                weights = np.maximum(sims[j], 1e-6) * (same if same.any() else 1.0)
                xy[row] = (weights[:, None] * xy[old_rows[idx[j]]]).sum(axis=0) / weights.sum()
    placed = int((labels[new_rows] >= 0).sum())
    stage("new topics")
    next_id = max(base.previous.next_ids.get("topics", 0), int(labels.max(initial=-1)) + 1,
                  max((c for c, _, _ in base.points.values()), default=-1) + 1)
    born: list[int] = []
    left = new_rows[labels[new_rows] < 0]
    if len(left) >= 2 * params.min_cluster_size:
        found = cluster_subset(vectors[left], params, seed, 1.0)
        for t in sorted(set(found[found >= 0].tolist())):
            labels[left[found == t]] = next_id
            born.append(next_id)
            next_id += 1
    stage("split")
    # a topic that grew past the size bound (it was within the previous run's bound; a topic the
    # previous map could not split is not tried again)
    max_size = max(int(n * params.max_cluster_share), 3 * params.min_cluster_size)
    old_n = len(base.points)
    old_bound = max(int(old_n * params.max_cluster_share), 3 * params.min_cluster_size)
    old_sizes = np.bincount([c for c, _, _ in base.points.values() if c >= 0] or [0])
    splits: dict[int, list[int]] = {}
    for topic in sorted(set(labels[labels >= 0].tolist())):
        members = np.flatnonzero(labels == topic)
        was = int(old_sizes[topic]) if topic < len(old_sizes) else 0
        if len(members) <= max_size or was > old_bound or len(members) <= was:
            continue
        found = cluster_subset(vectors[members], params, seed, min(1.0, max_size / len(members)))
        parts = sorted(set(found[found >= 0].tolist()))
        if len(parts) < 2 or (found >= 0).mean() < MIN_SPLIT_KEPT:
            continue
        labels[members[found < 0]] = -1
        splits[topic] = []
        for part in parts:
            labels[members[found == part]] = next_id
            splits[topic].append(next_id)
            next_id += 1
    if relayout:
        stage("layout")
        xy = new_layout(vectors, labels, params, seed)
    stage("hierarchy")
    tree = hierarchy_of(labels, params, vectors)
    doc_levels = tree.document_levels(labels)
    # the levels above the topics are new: aligned to the previous run's; the topics keep their ids
    matchings = [match_level(base.previous.levels[i] if i < len(base.previous.levels) - 1 else {},
                             {d: int(t) for d, t in zip(ids, level.tolist()) if t >= 0},
                             base.previous.next_ids.get(f"L{i}", 0))
                 for i, level in enumerate(doc_levels[:-1])]
    topic_matching = carried(base.previous.levels[-1], {d: int(t) for d, t in zip(ids, labels.tolist()) if t >= 0},
                             next_id)
    alignment = Alignment({t: t for t in tree.topics}, [m.ids for m in matchings], {}, [*matchings, topic_matching],
                          None, base.previous.run_id)
    tree = relabel_hierarchy(tree, alignment)
    sub = _subtopics(base, ids, vectors, labels, splits)
    stage("label")
    codes = code_counts(docs)
    named_levels = label_hierarchy(docs, tree, labels, sub, vectors, label_lang=params.label_lang, codes=codes)
    named = named_levels[tree.levels - 1]
    levels, level_figures, topic_codes, subtopics = level_records(tree, docs, labels, named_levels, codes, sub)
    stage("measure")
    metrics = run_metrics(docs, vectors, labels, labels, seed)
    metrics["levels"] = level_figures
    metrics["landscape_f1_best_level"] = best_levels(level_figures)
    links = topic_links(docs, vectors, labels)
    stage("done")
    done = {
        "updated_from": base.previous.run_id,
        "method": METHOD + (METHOD_RELAYOUT if relayout else ""),
        "kept": int(kept.sum()),
        "changed": int(sum(1 for d in ids if d in base.changed and d in base.points)),
        "new": int(sum(1 for d in ids if d not in base.points)),
        "deleted": len(set(base.points) - set(ids)),
        "placed_in_topics": placed,
        "fit_floor": round(float(floor), 6),
        "new_topics": born,
        "split": {str(k): v for k, v in splits.items()},
        "outliers": int((labels < 0).sum()),
        "relayout": relayout,
    }
    landscape = assemble(ids, docs, labels, labels.copy(), xy, named, metrics, links, timings, params,
                         sampling=None, tree=tree, levels=levels, topic_codes=topic_codes, sub=sub,
                         subtopics=subtopics, alignment=alignment)
    landscape.data["update"] = done
    return landscape, done


#: Nearest sample documents that place a document outside the sample of a new layout.
LAYOUT_NEIGHBOURS = 15


def new_layout(vectors: NDArray[np.float32], labels: NDArray[np.int64], params: MapParams, seed: int) -> NDArray[np.float32]:
    """A 2-D layout of every document drawn afresh (``map --update --relayout``), as a map draws
    one: UMAP of the kNN graph with the map's ``map_min_dist``; above ``sample_above`` documents
    on a seeded sample of ``sample_size``, each other document at the similarity-weighted mean
    position of its :data:`LAYOUT_NEIGHBOURS` nearest sample documents of its own topic (of all
    of them where none is)."""
    from .neighbours import nearest_neighbours
    from .reduce import umap_reduce
    from .sample import sample_rows

    n = len(vectors)
    rows = sample_rows(n, params.sample_size, seed) if n > max(params.sample_above, params.sample_size) else np.arange(n)
    sample = vectors[rows]
    knn = nearest_neighbours(sample, params.n_neighbors + 1, seed)
    xy = np.zeros((n, 2), dtype=np.float32)
    xy[rows] = umap_reduce(sample, knn, 2, params.n_neighbors, params.map_min_dist, seed)
    rest = np.setdiff1d(np.arange(n), rows)
    if len(rest):
        index = SampleIndex(sample, seed)
        k = min(LAYOUT_NEIGHBOURS, len(rows))
        for lo in range(0, len(rest), 4096):
            at = rest[lo : lo + 4096]
            idx, sims = index.search(vectors[at], k)
            same = labels[rows][idx] == labels[at][:, None]
            same[~same.any(axis=1)] = True
            weights = np.where(same, np.maximum(sims, 1e-6), 0.0)
            xy[at] = (weights[:, :, None] * xy[rows][idx]).sum(axis=1) / weights.sum(axis=1, keepdims=True)
    return xy


#: The share of the previous run's documents that are farther than the floor from their nearest
#: other document: a new document's neighbour farther than that does not vote.
FLOOR_QUANTILE = 0.01
FLOOR_SAMPLE = 2000


def fit_floor(index: SampleIndex, old: NDArray[np.float32], seed: int) -> float:
    """The cosine below which a previous document is too far to vote for a new one: the
    :data:`FLOOR_QUANTILE` quantile of the previous documents' cosine to their nearest other
    document (on a seeded sample of :data:`FLOOR_SAMPLE`). A new document with no neighbour that
    near fits no topic, whatever topic its (far) nearest documents are in."""
    if len(old) < 2:
        return -1.0
    rows = np.random.default_rng(seed).choice(len(old), min(FLOOR_SAMPLE, len(old)), replace=False)
    idx, sims = index.search(old[rows], 2)
    nearest = np.where(idx[:, 0] == rows, sims[:, 1], sims[:, 0])  # itself first, but for ties
    return float(np.quantile(nearest, FLOOR_QUANTILE))


def _subtopics(
    base: UpdateBase, ids: Sequence[str], vectors: NDArray[np.float32], labels: NDArray[np.int64],
    splits: dict[int, list[int]],
) -> SubTopics:
    """The previous run's sub-topics where their topic continues (unsplit); a new member joins
    the nearest sub-topic centroid (of its members kept from the previous run)."""
    out = np.full(len(ids), -1, dtype=np.int64)
    parents = {s: t for s, t in base.subtopic_parents.items() if t not in splits}
    if not parents:
        return SubTopics(out, {}, base.subtopic_min_size)
    old = base.previous.subtopics
    for i, d in enumerate(ids):
        s = old.get(d)
        if s is not None and s in parents and labels[i] == parents[s] and d not in base.changed:
            out[i] = s
    centroids: dict[int, NDArray[np.float32]] = {}
    for s in list(parents):
        rows = np.flatnonzero(out == s)
        if len(rows):
            centroids[s] = normalize_rows(vectors[rows].mean(axis=0, keepdims=True))[0]
        else:
            del parents[s]
    for t in set(parents.values()):
        subs = [s for s, of in parents.items() if of == t]
        if len(subs) < 2:  # a topic left with one sub-topic has none
            out[out == subs[0]] = -1
            del parents[subs[0]], centroids[subs[0]]
    kept = SubTopics(out, parents, base.subtopic_min_size, centroids,
                     "the previous run's sub-topics; new members to the nearest centroid")
    return dataclasses.replace(kept, labels=place_in_subtopics(kept, labels, [(0, len(ids), vectors)], out >= 0))

