"""A map of a whole corpus (:func:`build_landscape`), and the parts every map shares with the
sampled one (:mod:`.sample`): the labels' keyword counts and the :class:`Landscape` assembled
from computed parts."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import CorpusTooSmallError
from ..records import Document
from .evolution import Calendar, evolution
from .graph import topic_links
from .counts import code_counts
from .hierarchy import Hierarchy
from .lineage import Alignment, PreviousRun, align_map
from .subtopics import SubTopics
from .label import keyword_matrix, label_texts
from .levels import best_levels, hierarchy_of, label_hierarchy, level_records, subtopics_of
from .metrics import run_metrics
from .params import MIN_DOCUMENTS, MapParams
from .reduce import Pending, SecondProcess, second_process
from .topics import fit_topics


@dataclass(frozen=True, slots=True)
class Landscape:
    """A built map. Arrays are aligned with ``ids``."""

    ids: list[str]
    labels: NDArray[np.int64]  # final topic per document, -1 = outlier
    raw_labels: NDArray[np.int64]  # HDBSCAN's labels before reassignment
    xy: NDArray[np.float32]  # (n, 2) map coordinates
    topics: list[dict[str, Any]]
    metrics: dict[str, Any]
    data: dict[str, Any]  # evolution years, topic links, document neighbours
    params: MapParams
    sampling: dict[str, Any] | None = None  # how a sampled map was made (None: fitted on all)
    levels: list[list[dict[str, Any]]] = field(default_factory=list)  # nodes of the levels above the topics, top first
    subtopic_labels: NDArray[np.int64] | None = None  # each document's sub-topic (-1: none)
    subtopics: list[dict[str, Any]] = field(default_factory=list)  # nodes of the level below the topics
    lineage: list[dict[str, Any]] = field(default_factory=list)  # events against the run aligned to


def build_landscape(
    ids: Sequence[str],
    vectors: NDArray[np.float32],
    docs: Sequence[Document],
    params: MapParams | None = None,
    seed: int = 42,
    on_stage: Callable[[str], None] | None = None,
    helper: SecondProcess | None = None,
    previous: PreviousRun | None = None,
) -> Landscape:
    """Reduce, cluster, label and measure ``vectors`` (n, dims; unit rows) of ``docs``.
    ``helper``: the second process to use (the caller's, already warmed up; one of its own when
    ``None``); ``previous``: the run whose ids the topics keep where they continue it
    (:mod:`.lineage`)."""
    params = (params or MapParams()).resolved(len(ids))
    params.validate()
    n = len(ids)
    assert params.min_cluster_size is not None
    needed = max(MIN_DOCUMENTS, 2 * params.min_cluster_size)
    if n < needed:
        raise CorpusTooSmallError(f"{n} embedded documents are too few to build a landscape (need at least {needed})")
    timings: dict[str, float] = {}

    def stage(name: str) -> None:
        timings[name] = time.perf_counter()
        if on_stage:
            on_stage(name)

    with second_process(helper, n) as helper:
        # the labels' keyword counts depend on the texts only: counted while this process clusters
        keywords = KeywordCounts(helper, docs)
        graph: dict[str, Any] = {}
        labels, raw, xy, _, reduced = fit_topics(vectors, params, seed, stage, helper, then=keywords.submit, graph=graph)
        stage("hierarchy")
        tree = hierarchy_of(labels, params, vectors)
        sub = subtopics_of(labels, reduced, vectors, params)
        alignment = None
        if previous is not None:  # the previous run's ids where its topics continue (ids only)
            alignment, labels, raw, tree, sub = align_map(previous, ids, labels, raw, tree, sub)
        stage("label")
        codes = code_counts(docs)  # the documents' codes, counted once for the labels and the levels
        named_levels = label_hierarchy(docs, tree, labels, sub, vectors, label_lang=params.label_lang,
                                       keywords_of_docs=keywords.result(), codes=codes)
        named = named_levels[tree.levels - 1]
    levels, level_figures, topic_codes, subtopics = level_records(tree, docs, labels, named_levels, codes, sub)
    stage("measure")
    metrics = run_metrics(docs, vectors, labels, raw, seed)
    metrics["neighbour_graph"] = graph
    metrics["levels"] = level_figures
    metrics["landscape_f1_best_level"] = best_levels(level_figures)
    links = topic_links(docs, vectors, labels)
    stage("done")
    return assemble(ids, docs, labels, raw, xy, named, metrics, links, timings, params, tree=tree, levels=levels,
                    topic_codes=topic_codes, sub=sub, subtopics=subtopics, alignment=alignment)


class KeywordCounts:
    """:func:`keyword_matrix` of ``docs``' label texts, counted by ``helper`` once :meth:`submit`
    is called (or here, when :meth:`result` is asked first)."""

    def __init__(self, helper: SecondProcess, docs: Sequence[Document]) -> None:
        self._helper, self._docs = helper, docs
        self._pending: Pending | None = None

    def submit(self) -> None:
        self._pending = self._helper.submit(keyword_matrix, *label_texts(self._docs))

    def result(self) -> Any:
        return (self._pending or Pending(None, keyword_matrix, label_texts(self._docs))).result()


def assemble(
    ids: Sequence[str],
    docs: Sequence[Document],
    labels: NDArray[np.int64],
    raw: NDArray[np.int64],
    xy: NDArray[np.float32],
    named: dict[int, Any],
    metrics: dict[str, Any],
    links: list[dict[str, Any]],
    timings: dict[str, float],
    params: MapParams,
    sampling: dict[str, Any] | None = None,
    tree: Hierarchy | None = None,
    levels: list[list[dict[str, Any]]] | None = None,
    topic_codes: dict[int, dict[str, list[Any]]] | None = None,
    sub: SubTopics | None = None,
    subtopics: list[dict[str, Any]] | None = None,
    alignment: Alignment | None = None,
) -> Landscape:
    """The :class:`Landscape` of computed parts: topic records (with their parent in ``tree``),
    the levels above them (``levels``, whose representatives get titles), evolution, timings."""
    calendar = Calendar(docs)
    growth = evolution(docs, labels, calendar=calendar)
    names = list(timings)
    metrics["timings_s"] = {a: round(timings[b] - timings[a], 3) for a, b in zip(names, names[1:])}
    titles = {d.id: d.title for d in docs}
    children: dict[int, list[int]] = {}
    for node in subtopics or []:
        children.setdefault(node["parent"], []).append(node["node"])
    topics = []
    for topic, info in sorted(named.items()):
        topics.append(
            {
                "cluster": topic,
                "label": info.label,
                "label_lang": info.label_lang,
                "size": int((labels == topic).sum()),
                "keywords": info.keywords,
                "codes": (topic_codes or {}).get(topic) or info.codes,
                "representatives": [{"id": r, "title": titles.get(r, "")} for r in info.representatives],
                "languages": info.languages,
                "evolution": growth["topics"].get(str(topic), {}),
                "parent": tree.parents[-1].get(topic) if tree is not None and tree.parents else None,
                "children": children.get(topic, []),
            }
        )
    # every node's years and momentum, as a topic's: by the documents of each level, and of the sub-topics
    def finished(node: dict[str, Any], years: dict[str, Any]) -> dict[str, Any]:
        return {**node, "representatives": [{"id": r, "title": titles.get(r, "")} for r in node["representatives"]],
                "evolution": years.get(str(node["node"]), {})}

    def years_of(partition: NDArray[np.int64]) -> dict[str, Any]:
        return {} if calendar.empty else calendar.by_node(partition)

    by_level = tree.document_levels(labels)[:-1] if tree is not None and levels else []
    levels = [[finished(n, years) for n in level] for level, years in zip(levels or [], map(years_of, by_level))]
    sub_years = years_of(sub.labels) if sub is not None and subtopics else {}
    subtopics = [finished(n, sub_years) for n in subtopics or []]
    data = {
        "years": growth["years"],
        "recent_from": growth.get("recent_from"),
        "recent_to": growth.get("recent_to"),
        "partial_year": growth.get("partial_year"),
        "data_to": growth.get("data_to"),
        "corpus_growth": growth.get("corpus_growth"),
        "outliers": growth["topics"].get("-1"),
        "links": links,
        "hierarchy": {
            "levels": (tree.levels if tree is not None else 1),
            "counts": [len(level) for level in levels] + [len(topics)],
            "method": tree.method if tree is not None else None,
            "notice": tree.notice if tree is not None else None,
            "subtopics": {
                "looked_for": params.subtopics,
                "count": len(subtopics),
                "topics_split": len(children),
                "min_size": sub.min_size if sub is not None else None,
                "method": sub.method if sub is not None else None,
            },
        },
    }
    if alignment is not None:
        data["lineage"] = alignment.summary()
    return Landscape(list(ids), labels, raw, xy, topics, metrics, data, params, sampling, levels,
                     sub.labels if sub is not None else None, subtopics,
                     alignment.events() if alignment is not None else [])
