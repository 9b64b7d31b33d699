"""Quality figures stored with every run: honest, and computed the same way for every corpus."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..records import Document
from ..codes import section, subclass

SILHOUETTE_SAMPLE = 5000


def sklearn_metrics():  # type: ignore[no-untyped-def]
    """scikit-learn's metrics module, imported when a run is measured: it takes 1-2 s to import,
    which every command that imports the pipeline (``patscape ingest``, ``embed``) would pay."""
    from sklearn import metrics

    return metrics


def first_code_labels(docs: Sequence[Document], kind: str, level: str) -> list[str | None]:
    """The section or subclass of each document's first listed code (None without codes)."""
    pick = subclass if level == "subclass" else section
    out: list[str | None] = []
    for doc in docs:
        codes = getattr(doc, kind)
        out.append(pick(codes[0]) if codes else None)
    return out


def agreement(labels: NDArray[np.int64], reference: Sequence[str | None]) -> dict[str, float] | None:
    """ARI and NMI between clusters and reference classes, on clustered docs that have a class."""
    ref = np.asarray(reference, dtype=object)
    mask = (labels >= 0) & np.array([r is not None for r in reference])
    if mask.sum() < 2 or len(set(ref[mask])) < 2:
        return None
    truth = ref[mask].astype(str)
    metrics = sklearn_metrics()
    return {
        "ari": round(float(metrics.adjusted_rand_score(truth, labels[mask])), 4),
        "nmi": round(float(metrics.normalized_mutual_info_score(truth, labels[mask])), 4),
        "docs": int(mask.sum()),
        "classes": int(len(set(truth))),
    }


def code_agreement_by_language(
    docs: Sequence[Document], labels: NDArray[np.int64], raw_labels: NDArray[np.int64], min_docs: int = 30
) -> dict[str, dict[str, Any]]:
    """Subclass agreement (ARI/NMI) of each language's documents on their own, for corpora with
    more than one language: does each language sit in technology topics or in an island?"""
    langs = np.asarray([d.lang or "?" for d in docs])
    present = [lang for lang, n in Counter(langs.tolist()).most_common() if n >= min_docs]
    if len(present) < 2:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for lang in present:
        rows = np.flatnonzero(langs == lang)
        subset = [docs[i] for i in rows]
        entry = {}
        for kind in ("cpc", "ipc"):
            reference = first_code_labels(subset, kind, "subclass")
            clustered = agreement(raw_labels[rows], reference)
            if clustered:
                entry[f"{kind}_subclass"] = {"clustered": clustered, "after_reassignment": agreement(labels[rows], reference)}
        out[lang] = entry
    return out


def landscape_f1(docs: Sequence[Document], labels: NDArray[np.int64]) -> dict[str, dict[str, Any]]:
    """For each landscape in ``extra.landscape``, the F1 of the best-matching topic.

    Members are the documents flagged ``True`` for the landscape; outliers belong to no topic.
    """
    names = sorted({k for d in docs for k in (d.extra.get("landscape") or {})})
    out: dict[str, dict[str, Any]] = {}
    topics = sorted(int(t) for t in set(labels.tolist()) if t >= 0)
    for name in names:
        members = np.array([bool((d.extra.get("landscape") or {}).get(name)) for d in docs])
        if not members.any():
            continue
        best = (0.0, -1, 0.0, 0.0)
        for topic in topics:
            in_topic = labels == topic
            tp = float((in_topic & members).sum())
            if tp == 0:
                continue
            precision, recall = tp / in_topic.sum(), tp / members.sum()
            f1 = 2 * precision * recall / (precision + recall)
            if f1 > best[0]:
                best = (f1, topic, precision, recall)
        out[name] = {
            "f1": round(best[0], 4), "topic": best[1], "precision": round(best[2], 4),
            "recall": round(best[3], 4), "members": int(members.sum()),
        }
    return out


def language_mix(docs: Sequence[Document], labels: NDArray[np.int64]) -> dict[str, Any]:
    """How mixed each topic is by language: majority share and entropy (bits)."""
    langs = np.asarray([d.lang or "?" for d in docs])
    per_topic: dict[str, Any] = {}
    mixed = 0
    for topic in sorted(int(t) for t in set(labels.tolist()) if t >= 0):
        counts = Counter(langs[labels == topic].tolist())
        total = sum(counts.values())
        majority = max(counts.values()) / total
        entropy = -sum((n / total) * math.log2(n / total) for n in counts.values())
        if majority < 0.9:
            mixed += 1
        per_topic[str(topic)] = {"languages": dict(counts), "majority_share": round(majority, 3), "entropy": round(entropy, 3)}
    corpus = Counter(langs.tolist())
    return {
        "corpus_languages": dict(corpus),
        "mixed_topics": mixed,
        "topics": per_topic,
    }


def silhouette_cosine(vectors: NDArray[np.float32], labels: NDArray[np.int64], seed: int) -> float | None:
    """Silhouette in the original embedding space (cosine), on clustered docs (sampled)."""
    mask = labels >= 0
    if len(set(labels[mask].tolist())) < 2:
        return None
    idx = np.flatnonzero(mask)
    if len(idx) > SILHOUETTE_SAMPLE:
        idx = np.random.default_rng(seed).choice(idx, SILHOUETTE_SAMPLE, replace=False)
    return round(float(sklearn_metrics().silhouette_score(vectors[idx], labels[idx], metric="cosine")), 4)


def run_metrics(
    docs: Sequence[Document],
    vectors: NDArray[np.float32] | None,
    labels: NDArray[np.int64],
    raw_labels: NDArray[np.int64],
    seed: int,
    silhouette: float | None = None,
) -> dict[str, Any]:
    """All quality figures of a run (see the docs for their meaning). A sampled map passes
    ``vectors=None`` and the ``silhouette`` of its sample (the silhouette is sampled anyway)."""
    sizes = Counter(int(t) for t in labels.tolist() if t >= 0)
    n = len(labels)
    metrics: dict[str, Any] = {
        "documents": n,
        "topics": len(sizes),
        "topic_sizes": dict(sorted(((str(k), v) for k, v in sizes.items()), key=lambda kv: -kv[1])),
        "outlier_share": round(float((labels < 0).mean()), 4),
        "outlier_share_before_reassignment": round(float((raw_labels < 0).mean()), 4),
        "silhouette_cosine": silhouette_cosine(vectors, labels, seed) if vectors is not None else silhouette,
    }
    codes: dict[str, Any] = {}
    for kind in ("cpc", "ipc"):
        for level in ("section", "subclass"):
            reference = first_code_labels(docs, kind, level)
            codes[f"{kind}_{level}"] = {
                "clustered": agreement(raw_labels, reference),
                "after_reassignment": agreement(labels, reference),
            }
    metrics["code_agreement"] = codes
    by_language = code_agreement_by_language(docs, labels, raw_labels)
    if by_language:
        metrics["code_agreement_by_language"] = by_language
    landscapes = landscape_f1(docs, labels)
    if landscapes:
        metrics["landscape_f1"] = landscapes
        metrics["landscape_f1_mean"] = round(float(np.mean([v["f1"] for v in landscapes.values()])), 4)
    metrics["language_mix"] = language_mix(docs, labels)
    return metrics


def level_metrics(
    docs: Sequence[Document],
    doc_levels: Sequence[NDArray[np.int64]],
    parents: Sequence[dict[int, int]],
    dominant: Sequence[dict[int, str | None]],
) -> list[dict[str, Any]]:
    """Quality figures of each level of a hierarchy, top first: nodes, landscape F1 (each
    landscape's best-matching node of the level), IPC/CPC section and subclass agreement, and
    the share of a level's nodes whose dominant subclass (``dominant[level][node]``) is their
    parent's."""
    # each reference's classes read once (a pass over the documents per reference, not per level)
    references: dict[str, tuple[NDArray[np.bool_], NDArray[np.int64]]] = {}
    for kind in ("ipc", "cpc"):
        for depth in ("section", "subclass"):
            reference = first_code_labels(docs, kind, depth)
            known = np.array([r is not None for r in reference], dtype=bool)
            if known.sum() < 2:
                continue
            classes, truth = np.unique(np.asarray([r for r in reference if r is not None], dtype=object).astype(str),
                                       return_inverse=True)
            if len(classes) >= 2:
                references[f"{kind}_{depth}"] = (known, truth)
    with_landscapes = any(d.extra.get("landscape") for d in docs)
    ari = sklearn_metrics().adjusted_rand_score
    out: list[dict[str, Any]] = []
    for level, labels in enumerate(doc_levels):
        entry: dict[str, Any] = {"level": level, "nodes": int(len(set(labels[labels >= 0].tolist())))}
        landscapes = landscape_f1(docs, labels) if with_landscapes else {}
        if landscapes:
            entry["landscape_f1"] = {name: v["f1"] for name, v in landscapes.items()}
            entry["landscape_f1_mean"] = round(float(np.mean([v["f1"] for v in landscapes.values()])), 4)
        for name, (known, truth) in references.items():
            ours = labels[known]
            clustered = ours >= 0
            if clustered.sum() >= 2 and len(np.unique(truth[clustered])) >= 2:
                entry[f"{name}_ari"] = round(float(ari(truth[clustered], ours[clustered])), 4)
        if level > 0:
            pairs = [(dominant[level].get(c), dominant[level - 1].get(p)) for c, p in parents[level - 1].items()]
            known = [(c, p) for c, p in pairs if c and p]
            if known:
                entry["shares_parent_subclass"] = round(sum(c == p for c, p in known) / len(known), 4)
        out.append(entry)
    return out
