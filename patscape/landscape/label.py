"""Topic labels: class-based TF-IDF keywords per language, dominant codes, central patents."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from ..records import Document, summary_text
from ..text import PHRASE_SEPARATOR, display_phrase, phrases

_SUBCLASS = re.compile(r"^([A-HY])(\d\d)([A-Z])")


def subclass(code: str) -> str | None:
    """``G06F3/013`` -> ``G06F``; None when the code is not IPC/CPC-shaped."""
    match = _SUBCLASS.match(code.strip().upper())
    return "".join(match.groups()) if match else None


def section(code: str) -> str | None:
    sub = subclass(code)
    return sub[0] if sub else None


@dataclass(frozen=True, slots=True)
class TopicLabel:
    label: str
    label_lang: str  # the language of ``label`` ("?" when unknown)
    keywords: dict[str, list[tuple[str, float]]]  # language -> [(keyword, weight)]
    codes: dict[str, list[tuple[str, float]]]  # "cpc"/"ipc" -> [(subclass, share of topic docs)]
    representatives: list[str]  # ids of the most central patents
    languages: dict[str, int]


def keyword_matrix(texts: Sequence[str], langs: Sequence[str | None]) -> tuple[sparse.csr_matrix, list[str]]:
    """Binary document x term matrix (a term counts once per document) and its terms.

    Depends on the texts only, not on the topics, so a map computes it while it clusters
    (:func:`label_texts` gives the arguments for a list of documents).
    """
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, (text, lang) in enumerate(zip(texts, langs)):
        for term in dict.fromkeys(phrases(text, lang)):
            j = vocab.setdefault(term, len(vocab))
            rows.append(i)
            cols.append(j)
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(texts), len(vocab))
    )
    terms = [""] * len(vocab)
    for term, j in vocab.items():
        terms[j] = term
    return matrix, terms


def label_texts(docs: Sequence[Document]) -> tuple[list[str], list[str | None]]:
    """The texts and languages :func:`label_topics` reads keywords from, for :func:`keyword_matrix`."""
    return [summary_text(d) for d in docs], [d.lang for d in docs]


def _merge_overlapping(ranked: list[tuple[str, float]], limit: int) -> list[tuple[str, float]]:
    """Fold words and phrases that say the same thing into the most specific one.

    A word that is part of a kept phrase is dropped; a phrase takes the place of a kept word it
    contains ("augmented" then "augmented reality" gives "augmented reality"); a phrase whose
    words are all covered by kept phrases is dropped. Terms come back in display form.
    """
    kept: list[tuple[str, float]] = []
    for term, weight in ranked:
        parts = term.split(PHRASE_SEPARATOR)
        covered = {p for k, _ in kept for p in k.split(PHRASE_SEPARATOR) if PHRASE_SEPARATOR in k}
        if len(parts) == 1:
            if term in covered:
                continue
            kept.append((term, weight))
        else:
            if all(p in covered for p in parts):
                continue
            slots = [i for i, (k, _) in enumerate(kept) if k in parts]
            if slots:
                kept[slots[0]] = (term, kept[slots[0]][1])
                kept = [entry for i, entry in enumerate(kept) if i not in slots[1:]]
            else:
                kept.append((term, weight))
        if len(kept) == limit:
            break
    return [(display_phrase(k), w) for k, w in kept[:limit]]


def label_topics(
    docs: Sequence[Document],
    labels: NDArray[np.int64],
    vectors: NDArray[np.float32],
    *,
    n_keywords: int = 10,
    n_representatives: int = 3,
    min_language_docs: int = 3,
    label_lang: str | None = None,
    keywords_of_docs: tuple[sparse.csr_matrix, list[str]] | None = None,
) -> dict[int, TopicLabel]:
    """Label every topic (``labels >= 0``) of ``docs``.

    Keywords are scored per language, as the share of the topic's documents in that language
    that use a term, times the term's inverse document frequency among all documents of that
    language: a term that many documents of the topic use and few others do ranks high, and a
    word every document of the language uses ("data", "模型") does not. Every language with at
    least ``min_language_docs`` documents in the topic gets its own keywords.

    The label is the top three keywords of ``label_lang`` (an ISO 639-1 code) in every topic
    that holds a document in that language, and of the topic's main language in the others;
    ``TopicLabel.label_lang`` says which. ``keywords_of_docs`` is :func:`keyword_matrix` of
    ``docs`` when already computed.
    """
    langs = [d.lang or "?" for d in docs]
    matrix, terms = keywords_of_docs or keyword_matrix(*label_texts(docs))
    lang_array = np.asarray(langs)
    idf: dict[str, NDArray[np.float64]] = {}
    for lang in sorted(set(langs)):
        rows = np.flatnonzero(lang_array == lang)
        df = np.asarray(matrix[rows].sum(axis=0)).ravel()
        idf[lang] = np.log1p(len(rows) / np.maximum(df, 1.0))
    topics = sorted(int(t) for t in set(labels.tolist()) if t >= 0)
    out: dict[int, TopicLabel] = {}
    for topic in topics:
        rows = np.flatnonzero(labels == topic)
        lang_counts = Counter(lang_array[rows].tolist())
        keywords: dict[str, list[tuple[str, float]]] = {}
        for lang, count in lang_counts.most_common():
            if count < min_language_docs and keywords and lang != label_lang:
                continue
            sub = rows[lang_array[rows] == lang]
            df = np.asarray(matrix[sub].sum(axis=0)).ravel()
            score = (df / max(len(sub), 1)) * idf[lang]
            score[df < min(2, len(sub))] = 0.0
            best = np.lexsort((np.arange(len(score)), -score))[: n_keywords * 4]
            ranked = [(terms[j], round(float(score[j]), 4)) for j in best if score[j] > 0]
            keywords[lang] = _merge_overlapping(ranked, n_keywords)
        main_lang = lang_counts.most_common(1)[0][0]
        shown = label_lang if label_lang and keywords.get(label_lang) else main_lang
        label_terms = [k for k, _ in keywords.get(shown, [])[:3]]
        out[topic] = TopicLabel(
            label=" · ".join(label_terms) or f"topic {topic}",
            label_lang=shown,
            keywords=keywords,
            codes={kind: _dominant_codes([docs[i] for i in rows], kind) for kind in ("cpc", "ipc")},
            representatives=_central([docs[i].id for i in rows], vectors[rows], n_representatives),
            languages=dict(lang_counts),
        )
    return out


def _dominant_codes(docs: Sequence[Document], kind: str, limit: int = 5) -> list[tuple[str, float]]:
    counts: Counter[str] = Counter()
    with_codes = 0
    for doc in docs:
        subs = {s for s in (subclass(c) for c in getattr(doc, kind)) if s}
        if subs:
            with_codes += 1
            counts.update(subs)
    if not with_codes:
        return []
    # ties by code: the order of a set of strings changes from one process to the next
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [(code, round(n / with_codes, 3)) for code, n in ranked]


def _central(ids: Sequence[str], vectors: NDArray[np.float32], limit: int) -> list[str]:
    centroid = vectors.mean(axis=0)
    order = np.argsort(-(vectors @ centroid), kind="stable")
    return [ids[i] for i in order[:limit]]
