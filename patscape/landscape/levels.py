"""The records of a hierarchy's coarser levels (what a run stores and shows of each node), made
the same way for a whole-corpus map and a sampled one."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from ..codes import main_group, title
from ..records import Document
from .hierarchy import Hierarchy, build_hierarchy, topic_centroids
from .label import TopicLabel, subclass
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
    """The :class:`CodeCounts` of ``docs`` by subclass and main group, CPC and IPC (one pass per
    scheme; each distinct code is parsed once)."""
    out: dict[str, CodeCounts] = {}
    for kind in ("cpc", "ipc"):
        sub, main = CodeCounts.gather(docs, kind, (subclass, main_group))
        out[kind], out[f"{kind}_main"] = sub, main
    return out


class CodeCounts:
    """Each document's IPC/CPC codes (read by one parse, e.g. their subclasses) as a sparse
    indicator matrix, so that the dominant codes of any grouping of the documents are one
    sparse product (not a loop over documents per group)."""

    def __init__(self, codes: list[str], rows: list[int], cols: list[int], n_docs: int) -> None:
        self.codes = codes
        self.matrix = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_docs, len(codes))
        )
        self.matrix.sum_duplicates()
        self.matrix.data[:] = 1.0  # a document counts once per code
        self.with_codes = np.asarray(self.matrix.sum(axis=1)).ravel() > 0

    @classmethod
    def gather(
        cls, docs: Sequence[Document], kind: str, parses: Sequence[Callable[[str], str | None]]
    ) -> list[CodeCounts]:
        """One :class:`CodeCounts` per parse, from one pass over ``docs``' ``kind`` codes."""
        vocabs: list[dict[str, int]] = [{} for _ in parses]
        seen: dict[str, tuple[int, ...]] = {}  # raw code -> its column under each parse (-1: none)
        rows: list[list[int]] = [[] for _ in parses]
        cols: list[list[int]] = [[] for _ in parses]
        for i, doc in enumerate(docs):
            for raw in getattr(doc, kind):
                columns = seen.get(raw)
                if columns is None:
                    parsed = [parse(raw) for parse in parses]
                    columns = tuple(-1 if p is None else vocab.setdefault(p, len(vocab)) for p, vocab in zip(parsed, vocabs))
                    seen[raw] = columns
                for k, j in enumerate(columns):
                    if j >= 0:
                        rows[k].append(i)
                        cols[k].append(j)
        return [cls(sorted(v, key=v.__getitem__), r, c, len(docs)) for v, r, c in zip(vocabs, rows, cols)]

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
    named: Sequence[Mapping[int, TopicLabel]],
) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]], dict[int, dict[str, list[Any]]]]:
    """The node records of every level above the topics (top first), each level's quality
    figures (the topics' level last) and the topics' codes (:func:`code_summary`). ``named``
    holds the labels of the levels above the topics (:func:`~.label.label_levels`: keywords and
    representatives, from a sampled map's sample); sizes, codes and languages count every
    document of ``docs``."""
    doc_levels = tree.document_levels(labels)
    codes = code_counts(docs)
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
