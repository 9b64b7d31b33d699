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
from .label import TopicLabel
from .metrics import level_metrics
from .params import MapParams


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


def level_records(
    tree: Hierarchy,
    docs: Sequence[Document],
    labels: NDArray[np.int64],
    named: Sequence[Mapping[int, TopicLabel]],
    codes: Mapping[str, CodeCounts] | None = None,
) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]], dict[int, dict[str, list[Any]]]]:
    """The node records of every level above the topics (top first), each level's quality
    figures (the topics' level last) and the topics' codes (:func:`code_summary`). ``named``
    holds the labels of the levels above the topics (:func:`~.label.label_levels`: keywords and
    representatives, from a sampled map's sample); sizes, codes and languages count every
    document of ``docs`` (``codes``: their :func:`~.counts.code_counts` when already made)."""
    doc_levels = tree.document_levels(labels)
    codes = codes if codes is not None else code_counts(docs)
    langs = np.asarray([d.lang or "?" for d in docs])
    lang_names, lang_ids = np.unique(langs, return_inverse=True)
    dominant: list[dict[int, str | None]] = []
    records: list[list[dict[str, Any]]] = []
    topic_codes: dict[int, dict[str, list[Any]]] = {}
    for level, level_labels in enumerate(doc_levels):
        by_node = code_summary(codes, level_labels)
        dominant.append({
            node: next((c[0][0] for c in (entry["ipc"], entry["cpc"]) if c), None) for node, entry in by_node.items()
        })
        if level == tree.levels - 1:
            topic_codes = by_node
            break
        children = tree.children(level)
        clustered = level_labels >= 0
        sizes = np.bincount(level_labels[clustered], minlength=int(level_labels.max()) + 1)
        per_lang = np.zeros((len(sizes), len(lang_names)), dtype=np.int64)
        np.add.at(per_lang, (level_labels[clustered], lang_ids[clustered]), 1)
        nodes = []
        for node, info in sorted(named[level].items()):
            languages = {str(lang_names[j]): int(per_lang[node, j]) for j in np.flatnonzero(per_lang[node])}
            nodes.append({
                "level": level,
                "node": node,
                "parent": tree.parents[level - 1][node] if level > 0 else None,
                "children": children.get(node, []),
                "label": info.label,
                "label_lang": info.label_lang,
                "size": int(sizes[node]),
                "keywords": info.keywords,
                "codes": by_node.get(node, {}),
                "representatives": info.representatives,
                "languages": dict(sorted(languages.items(), key=lambda kv: -kv[1])),
            })
        records.append(nodes)
    figures = level_metrics(docs, doc_levels, tree.parents, dominant)
    return records, figures, topic_codes


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
