"""The records of a hierarchy's coarser levels (what a run stores and shows of each node), made
the same way for a whole-corpus map and a sampled one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..records import Document
from .counts import CodeCounts, code_counts, code_summary
from .hierarchy import Hierarchy, build_hierarchy, topic_centroids
from .label import TopicLabel, label_levels
from .metrics import level_metrics
from .params import MapParams
from .subtopics import SubTopics, find_subtopics, finest_partition


#: The smallest core of a sub-topic.
SUBTOPIC_MIN_SIZE = 5


def hierarchy_of(
    labels: NDArray[np.int64],
    params: MapParams,
    vectors: NDArray[np.float32] | None = None,
    centroids: dict[int, NDArray[np.float32]] | None = None,
) -> Hierarchy:
    """The hierarchy above ``labels``' topics, from the documents' ``vectors`` or the topics'
    ``centroids`` (a sampled map has the latter, summed over every document)."""
    if centroids is None:
        assert vectors is not None
        centroids = topic_centroids(labels, vectors)
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    sizes = dict(zip(ids.tolist(), counts.tolist()))
    return build_hierarchy(centroids, sizes, params.levels, params.top_topics)


def subtopics_of(
    labels: NDArray[np.int64], reduced: NDArray[np.float32], vectors: NDArray[np.float32], params: MapParams
) -> SubTopics:
    """The sub-topics of ``labels``' topics (:mod:`.subtopics`; none when ``params.subtopics``
    is off): cores of at least half the map's minimum cluster size (5 at least)."""
    assert params.min_cluster_size is not None
    size = max(SUBTOPIC_MIN_SIZE, params.min_cluster_size // 2)
    if not params.subtopics:
        return SubTopics(np.full(len(labels), -1, dtype=np.int64), {}, size)
    return find_subtopics(labels, reduced, vectors, size, params.min_samples)


def with_subtopics(
    levels: list[NDArray[np.int64]], parents: list[dict[int, int]], sub: SubTopics
) -> tuple[list[NDArray[np.int64]], list[dict[int, int]]]:
    """The levels and parent maps to label: those given, and the sub-topics below them where
    there are any (a level without a node has nothing to label)."""
    return ([*levels, sub.labels], [*parents, sub.parents]) if sub.parents else (levels, parents)


def label_hierarchy(
    docs: Sequence[Document],
    tree: Hierarchy,
    labels: NDArray[np.int64],
    sub: SubTopics,
    vectors: NDArray[np.float32],
    **options: Any,
) -> list[dict[int, TopicLabel]]:
    """:func:`~.label.label_levels` of every level of a map: those above its topics (top first),
    the topics (``labels``), and their sub-topics where there are any; ``options`` are
    label_levels's (``label_lang``, ``keywords_of_docs``, ``codes``)."""
    return label_levels(docs, *with_subtopics(tree.document_levels(labels), [{}, *tree.parents], sub), vectors,
                        **options)


def level_records(
    tree: Hierarchy,
    docs: Sequence[Document],
    labels: NDArray[np.int64],
    named: Sequence[Mapping[int, TopicLabel]],
    codes: Mapping[str, CodeCounts] | None = None,
    sub: SubTopics | None = None,
) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]], dict[int, dict[str, list[Any]]], list[dict[str, Any]]]:
    """The node records of every level above the topics (top first), each level's quality
    figures (the topics' level last), the topics' codes (:func:`code_summary`) and the node
    records of the sub-topics (level ``tree.levels``, parent: the topic; empty without). ``named``
    holds the labels of every level (:func:`label_hierarchy`: keywords and representatives, from a
    sampled map's sample); sizes, codes and languages count every document of ``docs``
    (``codes``: their :func:`~.counts.code_counts` when already made). With ``sub`` (the topics'
    sub-topics), the figures end with those of the finest partition."""
    doc_levels = tree.document_levels(labels)
    codes = codes if codes is not None else code_counts(docs)
    langs = _LanguageCounts(docs)
    dominant: list[dict[int, str | None]] = []
    records: list[list[dict[str, Any]]] = []
    topic_codes: dict[int, dict[str, list[Any]]] = {}
    for level, level_labels in enumerate(doc_levels):
        by_node = code_summary(codes, level_labels)
        dominant.append(_dominant(by_node))
        if level == tree.levels - 1:
            topic_codes = by_node
            break
        children = tree.children(level)
        parents = tree.parents[level - 1] if level > 0 else {}
        records.append(_node_records(level, level_labels, named[level], by_node, parents, children, langs))
    figures = level_metrics(docs, doc_levels, tree.parents, dominant)
    subtopics: list[dict[str, Any]] = []
    if sub is not None and sub.parents:
        # the finest partition (a sub-topic where its topic has them, else the topic) measured as
        # one level more; shares_parent_subclass over the sub-topics only
        by_sub = code_summary(codes, sub.labels)
        finest = finest_partition(labels, sub.labels)
        extra = level_metrics(docs, [labels, finest], [sub.parents], [dominant[-1], _dominant(by_sub)])[1]
        figures.append({**extra, "level": tree.levels, "partition": "sub-topics where a topic has them, else the topic"})
        subtopics = _node_records(tree.levels, sub.labels, named[tree.levels], by_sub, sub.parents, {}, langs)
    return records, figures, topic_codes, subtopics


class _LanguageCounts:
    """The documents' languages, counted per node of a level."""

    def __init__(self, docs: Sequence[Document]) -> None:
        langs = np.asarray([d.lang or "?" for d in docs])
        self.names, self.ids = np.unique(langs, return_inverse=True)

    def per_node(self, level_labels: NDArray[np.int64]) -> NDArray[np.int64]:
        clustered = level_labels >= 0
        out = np.zeros((int(level_labels.max()) + 1 if clustered.any() else 0, len(self.names)), dtype=np.int64)
        np.add.at(out, (level_labels[clustered], self.ids[clustered]), 1)
        return out


def _dominant(by_node: Mapping[int, dict[str, list[Any]]]) -> dict[int, str | None]:
    return {node: next((c[0][0] for c in (entry["ipc"], entry["cpc"]) if c), None) for node, entry in by_node.items()}


def _node_records(
    level: int,
    level_labels: NDArray[np.int64],
    named: Mapping[int, TopicLabel],
    by_node: Mapping[int, dict[str, list[Any]]],
    parents: Mapping[int, int],
    children: Mapping[int, list[int]],
    langs: _LanguageCounts,
) -> list[dict[str, Any]]:
    per_lang = langs.per_node(level_labels)
    sizes = per_lang.sum(axis=1)
    nodes = []
    for node, info in sorted(named.items()):
        languages = {str(langs.names[j]): int(per_lang[node, j]) for j in np.flatnonzero(per_lang[node])}
        nodes.append({
            "level": level,
            "node": node,
            "parent": parents[node] if level > 0 else None,
            "children": children.get(node, []),
            "label": info.label,
            "label_lang": info.label_lang,
            "size": int(sizes[node]),
            "keywords": info.keywords,
            "codes": by_node.get(node, {}),
            "representatives": info.representatives,
            "languages": dict(sorted(languages.items(), key=lambda kv: -kv[1])),
        })
    return nodes


def best_levels(figures: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Each landscape's best level and its F1 there (a hierarchy's answer to "where is this
    technology?"), and their mean; None without landscapes."""
    best: dict[str, dict[str, Any]] = {}
    for entry in figures:
        for name, f1 in (entry.get("landscape_f1") or {}).items():
            if name not in best or f1 > best[name]["f1"]:
                best[name] = {"level": entry["level"], "f1": f1}
    if not best:
        return None
    return {"landscapes": best, "mean": round(float(np.mean([b["f1"] for b in best.values()])), 4)}
