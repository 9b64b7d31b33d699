"""The records of a hierarchy's coarser levels (what a run stores and shows of each node), made
the same way for a whole-corpus map and a sampled one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from ..codes import main_group, title
from ..records import Document
from .hierarchy import Hierarchy, build_hierarchy, topic_centroids
from .label import label_topics, subclass
from .metrics import level_metrics
from .params import MapParams


def code_summary(counts: dict[str, CodeCounts], labels: NDArray[np.int64]) -> dict[int, dict[str, list[Any]]]:
    """Each node's dominant codes: ``{"cpc": [(subclass, share)], "ipc": ..., "cpc_main":
    [(main group, share, title)], "ipc_main": ...}`` (title None where none ships)."""
    found = {key: c.dominant(labels) for key, c in counts.items()}
    nodes = sorted(set(labels[labels >= 0].tolist()))
    out: dict[int, dict[str, list[Any]]] = {}
    for node in nodes:
        entry: dict[str, list[Any]] = {}
        for key, by_node in found.items():
            ranked = by_node.get(node, [])
            entry[key] = [(c, s, title(c, references=False)) for c, s in ranked] if key.endswith("_main") else ranked
        out[node] = entry
    return out


def code_counts(docs: Sequence[Document]) -> dict[str, CodeCounts]:
    """The :class:`CodeCounts` of ``docs`` by subclass and main group, CPC and IPC."""
    return {
        **{kind: CodeCounts(docs, kind) for kind in ("cpc", "ipc")},
        **{f"{kind}_main": CodeCounts(docs, kind, main_group) for kind in ("cpc", "ipc")},
    }


class CodeCounts:
    """Each document's IPC/CPC subclasses as a sparse indicator matrix, so that the dominant
    codes of any grouping of the documents are one sparse product (not a loop over documents
    per group)."""

    def __init__(self, docs: Sequence[Document], kind: str, parse: Callable[[str], str | None] = subclass) -> None:
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for i, doc in enumerate(docs):
            for sub in sorted({s for s in (parse(c) for c in getattr(doc, kind)) if s}):
                rows.append(i)
                cols.append(vocab.setdefault(sub, len(vocab)))
        self.codes = sorted(vocab, key=vocab.__getitem__)
        self.matrix = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(docs), len(vocab))
        )
        self.with_codes = np.asarray(self.matrix.sum(axis=1)).ravel() > 0

    def dominant(self, labels: NDArray[np.int64], limit: int = 5) -> dict[int, list[tuple[str, float]]]:
        """``{node: [(subclass, share of the node's documents with codes), ...]}``, as
        :func:`patscape.landscape.label._dominant_codes` ranks them (ties by code)."""
        clustered = np.flatnonzero(labels >= 0)
        if not len(clustered):
            return {}
        top = int(labels.max()) + 1
        members = sparse.csr_matrix(
            (np.ones(len(clustered), dtype=np.float32), (labels[clustered], clustered)), shape=(top, len(labels))
        )
        counts = (members @ self.matrix).toarray()
        with_codes = members @ self.with_codes.astype(np.float32)
        out: dict[int, list[tuple[str, float]]] = {}
        for node in np.flatnonzero(np.bincount(labels[clustered], minlength=top)).tolist():
            if with_codes[node] == 0:
                out[node] = []
                continue
            ranked = sorted(
                ((self.codes[j], int(counts[node, j])) for j in np.flatnonzero(counts[node])),
                key=lambda item: (-item[1], item[0]),
            )[:limit]
            out[node] = [(code, round(n / float(with_codes[node]), 3)) for code, n in ranked]
        return out


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
    label_docs: Sequence[Document],
    label_labels: NDArray[np.int64],
    label_vectors: NDArray[np.float32],
    keywords: Any,
    label_lang: str | None,
) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]], dict[int, dict[str, list[Any]]]]:
    """The node records of every level above the topics (top first), each level's quality
    figures (the topics' level last) and the topics' codes (:func:`code_summary`). Keywords and representatives are read from
    ``label_docs`` (every document, or a sampled map's sample) whose topics are ``label_labels``;
    sizes, codes and languages count every document of ``docs``."""
    doc_levels = tree.document_levels(labels)
    label_levels = tree.document_levels(label_labels)
    codes = code_counts(docs)
    langs = np.asarray([d.lang or "?" for d in docs])
    dominant: list[dict[int, str | None]] = []
    topic_codes: dict[int, dict[str, list[Any]]] = {}
    records: list[list[dict[str, Any]]] = []
    for level, level_labels in enumerate(doc_levels):
        by_node = code_summary(codes, level_labels)
        dominant.append({
            node: next((c[0][0] for c in (entry["ipc"], entry["cpc"]) if c), None) for node, entry in by_node.items()
        })
        if level == tree.levels - 1:
            topic_codes = by_node
            break
        named = label_topics(label_docs, label_levels[level], label_vectors, label_lang=label_lang,
                             keywords_of_docs=keywords)
        children = tree.children(level)
        nodes = []
        seen: dict[str, int] = {}
        for node, info in sorted(named.items()):
            members = level_labels == node
            label = info.label
            seen[label] = seen.get(label, 0) + 1
            if seen[label] > 1:  # unique within a level
                label = f"{label} ({seen[label]})"
            values, counts_ = np.unique(langs[members], return_counts=True)
            nodes.append({
                "level": level,
                "node": node,
                "parent": tree.parents[level - 1][node] if level > 0 else None,
                "children": children.get(node, []),
                "label": label,
                "label_lang": info.label_lang,
                "size": int(members.sum()),
                "keywords": info.keywords,
                "codes": by_node.get(node, {}),
                "representatives": info.representatives,
                "languages": dict(sorted(zip(values.tolist(), counts_.tolist()), key=lambda kv: -kv[1])),
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
