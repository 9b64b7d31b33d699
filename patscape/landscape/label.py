"""Topic labels: keywords per language contrasted with a topic's siblings, dominant codes, central patents."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from ..codes import subclass
from ..records import Document, summary_text
from ..text import PHRASE_SEPARATOR, display_phrase, phrases
from ..text.keywords import light_stem
from .counts import CodeCounts, membership

#: Han and kana: a term of these inside another is part of it ("电池" in "锂离子电池"). Not Thai,
#: where a word inside another is often another word (น้ำ, water, in น้ำมัน, oil).
_HAN_KANA = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ASCII = re.compile(r"[a-z-]+")
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


#: A phrase replaces a kept word or shorter phrase it contains when it scores at least this share
#: of it: "underwater glider" for "glider", "锂离子电池" for "电池".
PHRASE_PREFERENCE = 0.5
#: Documents (of a language) a contrast set needs; with fewer, the next one up is used.
MIN_CONTRAST_DOCS = 1
#: How many times more often (smoothed) a node's documents must use a term than its contrast set
#: does for the term to be one of its keywords: a term its siblings use about as much is theirs
#: in common, and goes to the parent.
MIN_ENRICHMENT = 1.5
#: Candidates per topic and language read before folding and merging, per keyword asked for.
_CANDIDATES_PER_KEYWORD = 5


@dataclass(slots=True)
class _Idea:
    """One keyword candidate of a topic: its inflections folded into one key."""

    parts: tuple[str, ...]  # the words of the shown form (PHRASE_SEPARATOR-split)
    key: tuple[str, ...]  # light-stemmed words, hyphenated ones split
    score: float
    df: float  # documents of the topic using the shown form
    unspaced: bool  # Han or kana: containment is by substring

    @property
    def shown(self) -> str:
        return display_phrase(PHRASE_SEPARATOR.join(self.parts))

    def contains(self, other: _Idea) -> bool:
        """``other`` says a part of what this says: "glider" in "underwater glider", "电池" in "锂电池"."""
        if len(other.key) < len(self.key):
            k = len(other.key)
            if any(self.key[i : i + k] == other.key for i in range(len(self.key) - k + 1)):
                return True
        return (self.unspaced or other.unspaced) and other.shown != self.shown and other.shown in self.shown

    def chain(self, other: _Idea) -> tuple[str, ...] | None:
        """The longer term two phrases are pieces of ("unmanned underwater" and "underwater
        vehicle": unmanned underwater vehicle), or None."""
        if len(self.parts) < 2 or len(other.parts) < 2:
            return None
        if light_stem(self.parts[-1]) == light_stem(other.parts[0]):
            return self.parts + other.parts[1:]
        if light_stem(self.parts[0]) == light_stem(other.parts[-1]):
            return other.parts + self.parts[1:]
        return None


#: English words ending in "-ed" that are nouns, not participles, and in "-ly" that are no adverbs.
_ED_NOUNS = frozenset({"infrared", "hundred"})
_LY_NOUNS = frozenset({"assembly", "supply", "family", "anomaly", "monopoly", "butterfly", "reply", "jelly"})


def _no_keyword(term: str) -> bool:
    """A term that says how or what is done, not what the technology is: a lone English past
    participle ("mounted", "coated"), a phrase ending in one ("surface coated") and anything with
    an adverb ("selectively", "quickly discharged"). A participle before a noun stays
    ("integrated circuit", "activated sludge")."""
    words = term.split(PHRASE_SEPARATOR)
    last = words[-1]
    if last.endswith("ed") and last not in _ED_NOUNS and light_stem(last) != last:
        return True
    return any(len(w) > 5 and w.endswith("ly") and w not in _LY_NOUNS and _ASCII.fullmatch(w) for w in words)


def _idea_key(term: str) -> tuple[str, ...]:
    """The light-stemmed words of a term, hyphenated words split ("three-dimensional": three, dimensional)."""
    return tuple(light_stem(word) for part in term.split(PHRASE_SEPARATOR) for word in part.split("-") if word)


def _merge_overlapping(ranked: list[tuple[str, float, float]], limit: int) -> list[tuple[str, float]]:
    """One keyword per idea, from ``(term, score, topic df)`` best first; terms come back in display form.

    Inflections are one idea (:func:`light_stem` of every word: "cosmetic", "cosmetics"), shown in
    the form the topic uses most, with the best score of any of them. Participles and adverbs
    that say what is done are no keywords (:func:`_no_keyword`). A word or phrase that is
    part of a kept phrase is the same idea, and so is, in Chinese and Japanese, a term
    inside a kept term ("电池" in "锂离子电池"); hyphens split words ("dimensional" is part of
    "three-dimensional"). The longer one wins when it scores at least :data:`PHRASE_PREFERENCE`
    (a half) of each shorter one it contains, wherever it ranks: it takes the place of the first
    of them and the others go; otherwise it is dropped. A phrase that joins two kept words
    needs half of the weaker one and a quarter of the stronger ("weather radar" for "radar" and
    "weather" in a topic on weather radars; "battery pack" does not replace "battery" in a
    topic where every patent says "battery" and a few "battery pack").
    Two phrases that chain into a longer term are one idea: shown as that term when the later
    one scores at least :data:`PHRASE_PREFERENCE` of the kept one ("unmanned underwater" and
    "underwater vehicle": "unmanned underwater vehicle"), else the later one is dropped. A
    phrase whose words all belong to kept phrases is dropped ("radar rain" after "weather
    radar" and "rain gauge").
    """
    folded: dict[tuple[str, ...], _Idea] = {}
    for term, score, df in ranked:
        if _no_keyword(term):
            continue
        key = _idea_key(term)
        idea = folded.get(key)
        if idea is None:
            parts = tuple(term.split(PHRASE_SEPARATOR))
            folded[key] = _Idea(parts, key, score, df, _HAN_KANA.search(term) is not None)
        elif df > idea.df:  # same idea, more used form: shown instead, the best score stays
            idea.parts, idea.df = tuple(term.split(PHRASE_SEPARATOR)), df
    kept: list[_Idea] = []
    for idea in folded.values():
        chained = next(((k, joined) for k in kept if (joined := k.chain(idea))), None)
        if chained:
            k, joined = chained
            if len(joined) <= 3 and idea.score >= PHRASE_PREFERENCE * k.score:
                k.parts, k.key = joined, _idea_key(PHRASE_SEPARATOR.join(joined))
                kept = [j for j in kept if j is k or not (k.contains(j) or k.chain(j))]
            continue
        related = [k for k in kept if k.contains(idea) or idea.contains(k)]
        if not related:
            covered = {w for k in kept if len(k.key) > 1 for w in k.key}
            if len(idea.key) > 1 and all(w in covered for w in idea.key):
                continue
            kept.append(idea)
        elif (all(idea.contains(k) for k in related) and idea.score >= PHRASE_PREFERENCE * min(k.score for k in related)
              and idea.score >= PHRASE_PREFERENCE**2 * max(k.score for k in related)):
            slot = kept.index(related[0])
            idea.score = max(idea.score, related[0].score)
            kept[slot] = idea
            kept = [k for k in kept if not any(k is r for r in related[1:])]
        if len(kept) == limit:
            break
    return [(k.shown, k.score) for k in kept[:limit]]


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
    """Label every topic (``labels >= 0``) of ``docs``: :func:`label_levels` with one level.

    Each topic's keywords are contrasted with the rest of the corpus in their language.
    """
    return label_levels(
        docs, [np.asarray(labels, dtype=np.int64)], [{}], vectors, label_lang=label_lang,
        keywords_of_docs=keywords_of_docs, n_keywords=n_keywords, n_representatives=n_representatives,
        min_language_docs=min_language_docs,
    )[0]


@dataclass(slots=True)
class _Counts:
    """Document frequencies of one level: a row per (node, language), ``node_pos * n_langs + lang``."""

    nodes: NDArray[np.int64]  # node ids present, ascending
    pos: dict[int, int]  # node id -> its position in ``nodes``
    of_doc: NDArray[np.int64]  # each document's node position, -1 for none
    df: sparse.csr_matrix  # (nodes * langs) x terms, sorted indices
    docs: NDArray[np.int64]  # documents per row
    first: NDArray[np.int64]  # each row's first document (len(documents) when it has none)


def _counts(nodes_of_doc: NDArray[np.int64], lang_of_doc: NDArray[np.int64], n_langs: int,
            matrix: sparse.csr_matrix) -> _Counts:
    nodes = np.unique(nodes_of_doc[nodes_of_doc >= 0])
    of_doc = np.full(len(nodes_of_doc), -1, dtype=np.int64)
    inside = nodes_of_doc >= 0
    of_doc[inside] = np.searchsorted(nodes, nodes_of_doc[inside])
    rows = np.where(inside, of_doc * n_langs + lang_of_doc, -1)
    n_rows = len(nodes) * n_langs
    df = (membership(rows, n_rows) @ matrix).tocsr()
    df.sort_indices()
    docs = np.bincount(rows[inside], minlength=n_rows).astype(np.int64)
    first = np.full(n_rows, len(rows), dtype=np.int64)
    used, at = np.unique(rows[inside], return_index=True)
    first[used] = np.flatnonzero(inside)[at]
    return _Counts(nodes, {int(t): i for i, t in enumerate(nodes)}, of_doc, df, docs, first)


def _lookup(df: sparse.csr_matrix, row: int, terms: NDArray[np.int64]) -> NDArray[np.float64]:
    """``df[row, terms]`` of a csr matrix with sorted indices, as a dense vector."""
    lo, hi = df.indptr[row], df.indptr[row + 1]
    have, values = df.indices[lo:hi], df.data[lo:hi]
    if not len(have):
        return np.zeros(len(terms))
    at = np.minimum(np.searchsorted(have, terms), len(have) - 1)
    return np.where(have[at] == terms, values[at], 0.0).astype(np.float64)


def label_levels(
    docs: Sequence[Document],
    levels: Sequence[NDArray[np.int64]],
    parents: Sequence[Mapping[int, int]],
    vectors: NDArray[np.float32],
    *,
    label_lang: str | None = None,
    keywords_of_docs: tuple[sparse.csr_matrix, list[str]] | None = None,
    n_keywords: int = 10,
    n_representatives: int = 3,
    min_language_docs: int = 3,
    codes: Mapping[str, CodeCounts] | None = None,
) -> list[dict[int, TopicLabel]]:
    """Label every node of a topic hierarchy; one dict per level, top (coarsest) first.

    ``levels[i][j]`` is the node of document ``j`` at level ``i`` (-1: none), ``parents[i][node]``
    its parent at level ``i - 1`` (``parents[0]`` is empty). A node's documents are expected to lie
    inside its parent's.

    **Keywords, per language.** A node's keywords in a language are the terms
    (:func:`keyword_matrix`: words and two-word phrases) its documents in that language use far
    more than its *contrast set* does: the documents of that language under its parent that are
    not its own, i.e. its siblings (and the parent's documents in no child). A top-level node's
    contrast set is the rest of the corpus. A term scores ``p * log(p' / q)``: ``p`` the share of
    the node's documents using it (2 at least), ``p'`` and ``q`` its smoothed shares in the node
    and in the contrast set (``(df + 0.5) / (n + 1)`` each), and 0 unless ``p' / q`` is at least
    :data:`MIN_ENRICHMENT`. So a term every sibling uses about as much is no keyword of any of
    them ("battery" under a parent of battery topics), and a term frequent here and rare beside
    scores high. Where the contrast set holds no document of the language (an only child), the
    next set up is used (the parent's siblings, ..., the rest of the corpus); where even the
    corpus has none besides the node's own (a language only this node holds), a term scores
    ``p * log(1 + N / df)`` over the ``N`` documents of the
    language. Every language with at least ``min_language_docs`` documents in the node gets its
    keywords, best first, one per idea (:func:`_merge_overlapping`).

    **A parent from its children.** A node with children (every level but the last) scores a term
    by that contrast times how widely its children share it: the children's sizes (documents in
    the language) as weights, each child counting ``min(1, p_child / p)``. A term all children use
    as much as the parent counts in full; a term only one child uses counts as that child's share
    of the parent. So the parent is named by what its children have in common, in proportion to
    their size, and still against its own siblings; "battery" names the parent of "lithium-ion
    battery" and "battery cooling" and no longer either child.

    **Labels.** The label is the top three keywords of ``label_lang`` in every node holding a
    document in that language, else of the node's main language (``TopicLabel.label_lang``).
    Labels are unique within a level: where two nodes would read the same three keywords (in any
    order), the larger node keeps them and the other takes its next keyword not in the label
    as its third; failing that, a numbered suffix (" (2)").

    Codes, representatives (closest to the centroid in ``vectors``) and languages are counted per
    node. Everything is computed from sparse products of a node x document indicator with the
    document x term matrix (``keywords_of_docs``, computed here when ``None``); the only loops
    are over nodes and their candidate terms.
    """
    if len(levels) != len(parents):
        raise ValueError(f"{len(levels)} levels but {len(parents)} parent maps")
    if any(len(level) != len(docs) for level in levels):
        raise ValueError(f"every level needs one node (or -1) per document ({len(docs)})")
    if not levels:
        return []
    matrix, terms = keywords_of_docs or keyword_matrix(*label_texts(docs))
    matrix = sparse.csr_matrix(matrix, dtype=np.float32)
    langs = [d.lang or "?" for d in docs]
    lang_names = sorted(set(langs))
    lang_index = {lang: i for i, lang in enumerate(lang_names)}
    lang_of_doc = np.fromiter((lang_index[lang] for lang in langs), dtype=np.int64, count=len(langs))
    n_langs = max(len(lang_names), 1)
    corpus = _counts(np.zeros(len(docs), dtype=np.int64), lang_of_doc, n_langs, matrix)
    counted = [_counts(np.asarray(level, dtype=np.int64), lang_of_doc, n_langs, matrix) for level in levels]
    children: list[dict[int, list[int]]] = [{} for _ in levels]
    for depth in range(1, len(levels)):
        for child in counted[depth].nodes.tolist():
            parent = parents[depth].get(child)
            if parent is not None and parent in counted[depth - 1].pos:
                children[depth - 1].setdefault(parent, []).append(child)
    if codes is None:
        codes = {kind: CodeCounts.gather(docs, kind, (subclass,))[0] for kind in ("cpc", "ipc")}
    limit = n_keywords * _CANDIDATES_PER_KEYWORD

    Terms = NDArray[np.int64]
    Floats = NDArray[np.float64]

    def contrast(depth: int, node: int, lang: int) -> tuple[Terms, Floats, Floats]:
        """The node's terms (used by 2 of its documents or more), their df and contrast score."""
        level = counted[depth]
        row = level.pos[node] * n_langs + lang
        n = int(level.docs[row])
        lo, hi = level.df.indptr[row], level.df.indptr[row + 1]
        idx, df = level.df.indices[lo:hi].astype(np.int64), level.df.data[lo:hi].astype(np.float64)
        keep = df >= min(2, n)
        idx, df = idx[keep], df[keep]
        p = df / n
        ancestor: int | None = node
        for up in range(depth - 1, -2, -1):  # the parent's level, ..., -1: the corpus
            if up >= 0:
                ancestor = parents[up + 1].get(ancestor) if ancestor is not None else None
                if ancestor is None or ancestor not in counted[up].pos:
                    ancestor = None  # no parent: the corpus is the next contrast set
                    continue
                source, source_row = counted[up], counted[up].pos[ancestor] * n_langs + lang
            else:
                source, source_row = corpus, lang
            rest = int(source.docs[source_row]) - n
            if rest >= MIN_CONTRAST_DOCS:
                q = (np.maximum(_lookup(source.df, source_row, idx) - df, 0.0) + 0.5) / (rest + 1)
                enrichment = (df + 0.5) / (n + 1) / q
                return idx, df, np.where(enrichment >= MIN_ENRICHMENT, p * np.log(enrichment), 0.0)
        total = _lookup(corpus.df, lang, idx)
        return idx, df, p * np.log1p(corpus.docs[lang] / np.maximum(total, 1.0))

    def sharing(depth: int, node: int, lang: int, idx: Terms, p: Floats) -> Floats | None:
        """How widely the node's children share each term: the mean over its children with
        documents in ``lang``, weighted by those documents, of ``min(1, child's share / p)``."""
        if depth + 1 == len(counted) or node not in children[depth]:
            return None
        below = counted[depth + 1]
        rows = [below.pos[kid] * n_langs + lang for kid in children[depth][node]]
        rows = [r for r in rows if below.docs[r]]
        if not rows:
            return None
        shared = np.zeros(len(idx))
        for r in rows:
            size = float(below.docs[r])
            shared += size * np.minimum(_lookup(below.df, r, idx) / size / p, 1.0)
        return shared / float(sum(below.docs[r] for r in rows))

    out: list[dict[int, TopicLabel]] = []
    for depth, level in enumerate(counted):
        named: dict[int, TopicLabel] = {}
        centroid_rows = _central_rows(level.of_doc, len(level.nodes), vectors, n_representatives)
        per_node = {kind: codes[kind].dominant(level.of_doc) for kind in ("cpc", "ipc")}
        for at, node in enumerate(level.nodes.tolist()):
            counts = level.docs[at * n_langs : (at + 1) * n_langs]
            first = level.first[at * n_langs : (at + 1) * n_langs]
            present = sorted((lang for lang in range(n_langs) if counts[lang]), key=lambda lang: first[lang])
            by_count = sorted(present, key=lambda lang: (-counts[lang], first[lang]))
            keywords: dict[str, list[tuple[str, float]]] = {}
            for lang in by_count:
                name = lang_names[lang]
                if counts[lang] < min_language_docs and keywords and name != label_lang:
                    continue
                idx, df, score = contrast(depth, node, lang)
                shared = sharing(depth, node, lang, idx, df / counts[lang])
                if shared is not None:
                    score = score * shared
                best = _best(score, idx, limit)
                ranked = [(terms[idx[j]], round(float(score[j]), 4), float(df[j])) for j in best if score[j] > 0]
                keywords[name] = _merge_overlapping(ranked, n_keywords)
            main_lang = lang_names[by_count[0]]
            shown = label_lang if label_lang and keywords.get(label_lang) else main_lang
            label_terms = [k for k, _ in keywords.get(shown, [])[:3]]
            named[node] = TopicLabel(
                label=" · ".join(label_terms) or f"topic {node}",
                label_lang=shown,
                keywords=keywords,
                codes={kind: per_node[kind].get(at, []) for kind in per_node},
                representatives=[docs[i].id for i in centroid_rows[at]],
                languages={lang_names[lang]: int(counts[lang]) for lang in present},
            )
        sizes = np.bincount(level.of_doc[level.of_doc >= 0], minlength=len(level.nodes))
        out.append(_unique_labels(named, {node: int(sizes[at]) for at, node in enumerate(level.nodes.tolist())}))
    return out


def _best(score: NDArray[np.float64], idx: NDArray[np.int64], limit: int) -> NDArray[np.int64]:
    """Positions of the ``limit`` best scores, best first, ties by term index (as a full sort
    would give them), without sorting every term of a large node."""
    if len(score) > 4 * limit:
        cut = -np.partition(-score, limit - 1)[limit - 1]  # the limit-th best score
        among = np.flatnonzero(score >= cut)
        return among[np.lexsort((idx[among], -score[among]))][:limit]
    return np.lexsort((idx, -score))[:limit]


def _unique_labels(named: dict[int, TopicLabel], sizes: Mapping[int, int]) -> dict[int, TopicLabel]:
    """Labels made unique within a level: the larger node keeps a label two would share, the other
    takes its next keyword not in that label as the third; a numbered suffix as a last resort."""
    taken: dict[frozenset[str], int] = {}
    shown_labels: set[str] = set()
    out = dict(named)
    for node in sorted(named, key=lambda t: (-sizes[t], t)):
        info = named[node]
        keywords = [k for k, _ in info.keywords.get(info.label_lang, [])]
        terms = keywords[:3]
        label = info.label
        if terms and frozenset(terms) in taken:
            clash = taken[frozenset(terms)]
            in_clash = set(named[clash].label.split(" · "))
            for extra in keywords[3:]:
                candidate = terms[:2] + [extra]
                if extra not in in_clash and frozenset(candidate) not in taken:
                    terms, label = candidate, " · ".join(candidate)
                    break
        if label in shown_labels:
            base, k = label, 2
            while f"{base} ({k})" in shown_labels:
                k += 1
            label = f"{base} ({k})"
        if terms:
            taken.setdefault(frozenset(terms), node)
        shown_labels.add(label)
        if label != info.label:
            out[node] = dataclasses.replace(info, label=label)
    return out


def _central_rows(of_doc: NDArray[np.int64], n_nodes: int, vectors: NDArray[np.float32], limit: int,
                  block: int = 65536) -> list[NDArray[np.int64]]:
    """The ``limit`` documents of each node closest to its centroid (ties: document order)."""
    inside = of_doc >= 0
    sums = np.asarray(membership(of_doc, n_nodes) @ vectors, dtype=np.float64)
    sizes = np.bincount(of_doc[inside], minlength=n_nodes)
    centroids = (sums / np.maximum(sizes, 1)[:, None]).astype(np.float32)
    score = np.empty(len(of_doc), dtype=np.float32)
    for lo in range(0, len(of_doc), block):  # contiguous rows: the vectors are read, not copied
        nodes = np.maximum(of_doc[lo : lo + block], 0)
        score[lo : lo + block] = np.einsum("ij,ij->i", vectors[lo : lo + block], centroids[nodes])
    rows = np.flatnonzero(inside)
    order = rows[np.lexsort((rows, -score[rows], of_doc[rows]))]
    bounds = np.searchsorted(of_doc[order], np.arange(n_nodes + 1))
    return [order[bounds[k] : min(bounds[k] + limit, bounds[k + 1])] for k in range(n_nodes)]
