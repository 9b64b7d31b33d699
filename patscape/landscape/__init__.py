"""From vectors to a landscape: reduce, cluster, label, measure, follow over time, link.

:func:`build_landscape` is the whole stage as one plain function; :class:`MapParams` holds
every parameter with its default, and is stored with each run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import CorpusTooSmallError
from ..records import Document
from .cluster import default_min_cluster_size, hdbscan_labels, oversized_topics, reduce_outliers, split_oversized
from .evolution import evolution
from .graph import topic_links
from .label import keyword_matrix, label_texts, label_topics
from .metrics import run_metrics
from .neighbours import EXACT_LIMIT, FAISS_FROM, nearest_neighbours
from .reduce import Pending, SecondProcess, preload_beside, second_process, umap_reduce

MIN_DOCUMENTS = 30
#: Above this many documents the map is fitted on a sample (see :mod:`.sample`); measured in
#: docs/benchmarks.md ("Map at scale").
SAMPLE_ABOVE = 60_000
SAMPLE_SIZE = 30_000


@dataclass(frozen=True, slots=True)
class MapParams:
    """Parameters of a map. ``None`` means "chosen from the corpus size" (recorded as used).

    n_components: dimensions of the UMAP space that is clustered.
    n_neighbors: UMAP neighbourhood size (larger = more global structure).
    min_dist: UMAP ``min_dist`` for the clustering space (0 packs clusters tightly).
    map_min_dist: ``min_dist`` of the 2-D map (a little spread keeps points visible).
    min_cluster_size: smallest topic; default grows with the corpus (10 at 1k docs, 26 at 6k).
    min_samples: HDBSCAN density smoothing; lower = fewer outliers.
    max_cluster_share: a branch of the cluster tree larger than this share of the corpus is split
        into its sub-topics where it has any; a topic still larger is clustered again on its own
        (prevents one-topic-per-language maps).
    reassign: give outliers the topic their nearest neighbours agree on.
    reassign_neighbours / reassign_agreement: how many neighbours vote, and the share needed.
    reassign_passes: rounds of voting at that agreement; outliers placed in one round vote in
        the next.
    max_outlier_share: while more documents than this share are outliers after those rounds,
        further rounds ask for less agreement (2/3, then 1/3 of it, then a plurality), so an
        analyst gets at most this share unassigned unless the neighbours hold no topic at all.
    label_lang: language of the topic labels (ISO 639-1, e.g. "zh") wherever a topic holds a
        document in it; ``None`` labels each topic in its main language.
    sample_above / sample_size: a corpus of more than ``sample_above`` documents is mapped by
        fitting on a seeded random sample of ``sample_size`` and placing the rest by their
        nearest sample documents (:mod:`.sample`); UMAP and HDBSCAN then cost the same at 1M
        documents as at ``sample_size``.
    """

    n_components: int = 5
    n_neighbors: int = 30
    min_dist: float = 0.0
    map_min_dist: float = 0.1
    min_cluster_size: int | None = None
    min_samples: int = 5
    max_cluster_share: float = 0.1
    reassign: bool = True
    reassign_neighbours: int = 15
    reassign_agreement: float = 0.3
    reassign_passes: int = 2
    max_outlier_share: float = 0.15
    label_lang: str | None = None
    sample_above: int = SAMPLE_ABOVE
    sample_size: int = SAMPLE_SIZE

    def resolved(self, n: int) -> MapParams:
        size = self.min_cluster_size or default_min_cluster_size(n)
        return MapParams(**{**asdict(self), "min_cluster_size": size})

    def validate(self) -> None:
        if self.n_components < 2:
            raise ValueError("n_components must be at least 2")
        if self.n_neighbors < 2:
            raise ValueError("n_neighbors must be at least 2")
        if self.min_cluster_size is not None and self.min_cluster_size < 2:
            raise ValueError("min_cluster_size must be at least 2")
        if not 0 < self.max_cluster_share <= 1:
            raise ValueError("max_cluster_share must be in (0, 1]")
        if self.reassign_passes < 1:
            raise ValueError("reassign_passes must be at least 1")
        if not 0 <= self.max_outlier_share <= 1:
            raise ValueError("max_outlier_share must be in [0, 1]")
        if not 0 < self.reassign_agreement <= 1:
            raise ValueError("reassign_agreement must be in (0, 1]")
        if self.sample_size < 2 * MIN_DOCUMENTS or self.sample_above < 0:
            raise ValueError(f"sample_size must be at least {2 * MIN_DOCUMENTS} and sample_above at least 0")
        if self.label_lang is not None and not re.fullmatch(r"[a-z]{2,3}", self.label_lang):
            raise ValueError(f"label_lang must be an ISO 639-1 code such as 'en' or 'zh', got {self.label_lang!r}")


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


def build_landscape(
    ids: Sequence[str],
    vectors: NDArray[np.float32],
    docs: Sequence[Document],
    params: MapParams | None = None,
    seed: int = 42,
    on_stage: Callable[[str], None] | None = None,
    helper: SecondProcess | None = None,
) -> Landscape:
    """Reduce, cluster, label and measure ``vectors`` (n, dims; unit rows) of ``docs``.
    ``helper``: the second process to use (the caller's, already warmed up; one of its own when
    ``None``)."""
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
        labels, raw, xy, _ = fit_topics(vectors, params, seed, stage, helper, then=keywords.submit, graph=graph)
        stage("label")
        named = label_topics(docs, labels, vectors, label_lang=params.label_lang, keywords_of_docs=keywords.result())
    stage("measure")
    metrics = run_metrics(docs, vectors, labels, raw, seed)
    metrics["neighbour_graph"] = graph
    links = topic_links(docs, vectors, labels)
    stage("done")
    return assemble(ids, docs, labels, raw, xy, named, metrics, links, timings, params)


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


def fit_topics(
    vectors: NDArray[np.float32],
    params: MapParams,
    seed: int,
    stage: Callable[[str], None],
    helper: SecondProcess | None = None,
    then: Callable[[], None] | None = None,
    meanwhile: Callable[[tuple[NDArray[np.int64], NDArray[np.float32]]], None] | None = None,
    graph: dict[str, Any] | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32], tuple[NDArray[np.int64], NDArray[np.float32]]]:
    """Topics and map of ``vectors`` (resolved ``params``): final labels, HDBSCAN's labels, the
    2-D layout and the kNN graph. The part of a map whose cost grows faster than the corpus.
    The 2-D layout is computed by ``helper`` (a second process when large; one of its own when
    ``None``) while this process computes the clustering space; ``then()`` is called once the
    layout is queued, to queue more work behind it (not before: the kNN graph computed first
    uses both cores). ``meanwhile(knn)``, when given, is called once the clusters are found,
    while ``helper`` clusters the topics that are too large again on their own (see
    :func:`split_oversized`): work of the caller that does not depend on the topics. ``graph``,
    when given, receives how the kNN graph was found (see :func:`nearest_neighbours`)."""
    n = len(vectors)
    assert params.min_cluster_size is not None
    with second_process(helper, n) as helper:
        stage("neighbours")
        # UMAP is imported while faiss computes the graph (it releases the GIL; NN-descent does not)
        imported = preload_beside() if FAISS_FROM <= n <= EXACT_LIMIT else (lambda: None)
        knn = nearest_neighbours(vectors, max(params.n_neighbors, params.reassign_neighbours) + 1, seed, info=graph)
        imported()
        stage("reduce")
        layout = helper.submit(umap_reduce, vectors, knn, 2, params.n_neighbors, params.map_min_dist, seed)
        if then is not None:
            then()
        reduced = umap_reduce(vectors, knn, params.n_components, params.n_neighbors, params.min_dist, seed)
        stage("cluster")
        raw = hdbscan_labels(reduced, params.min_cluster_size, params.min_samples, params.max_cluster_share)
        max_size = max(int(n * params.max_cluster_share), 3 * params.min_cluster_size)

        def subset_args(members: NDArray[np.int64]) -> tuple[Any, ...]:
            # the corpus's bound on a topic, not a share of this subset (which would cut any
            # topic into pieces of a tenth of it)
            return vectors[members], params, seed, min(1.0, max_size / len(members))

        stage("split")
        queued: dict[bytes, Pending] = {}
        if meanwhile is not None:  # the first round of split_oversized, in the helper
            for members in oversized_topics(raw, max_size):
                queued[members.tobytes()] = helper.submit(cluster_subset, *subset_args(members))
            meanwhile(knn)

        def recluster(members: NDArray[np.int64]) -> NDArray[np.int64]:
            pending = queued.pop(members.tobytes(), None)
            return pending.result() if pending is not None else cluster_subset(*subset_args(members))

        raw = split_oversized(raw, max_size, recluster)
        if not (raw >= 0).any():
            raise CorpusTooSmallError(
                f"no topics found among {n} documents (min cluster size {params.min_cluster_size}); "
                "add documents or lower --min-cluster-size"
            )
        stage("map")
        xy = layout.result()
    labels = raw
    if params.reassign:
        labels = reduce_outliers(
            raw, knn[0][:, : params.reassign_neighbours + 1], params.reassign_agreement,
            params.reassign_passes, params.max_outlier_share,
        )
    return labels, raw, xy, knn


def cluster_subset(
    vectors: NDArray[np.float32], params: MapParams, seed: int, max_cluster_share: float
) -> NDArray[np.int64]:
    """Topics of a subset of a corpus on its own (its own kNN graph, UMAP and HDBSCAN), for
    :func:`split_oversized`: labels of ``vectors``' rows, ``-1`` = outlier."""
    knn = nearest_neighbours(vectors, params.n_neighbors + 1, seed)
    reduced = umap_reduce(vectors, knn, params.n_components, params.n_neighbors, params.min_dist, seed)
    assert params.min_cluster_size is not None
    return hdbscan_labels(reduced, params.min_cluster_size, params.min_samples, max_cluster_share)


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
) -> Landscape:
    """The :class:`Landscape` of computed parts: topic records, evolution, stage timings."""
    growth = evolution(docs, labels)
    names = list(timings)
    metrics["timings_s"] = {a: round(timings[b] - timings[a], 3) for a, b in zip(names, names[1:])}
    titles = {d.id: d.title for d in docs}
    topics = []
    for topic, info in sorted(named.items()):
        topics.append(
            {
                "cluster": topic,
                "label": info.label,
                "label_lang": info.label_lang,
                "size": int((labels == topic).sum()),
                "keywords": info.keywords,
                "codes": info.codes,
                "representatives": [{"id": r, "title": titles.get(r, "")} for r in info.representatives],
                "languages": info.languages,
                "evolution": growth["topics"].get(str(topic), {}),
            }
        )
    data = {
        "years": growth["years"],
        "recent_from": growth.get("recent_from"),
        "recent_to": growth.get("recent_to"),
        "partial_year": growth.get("partial_year"),
        "data_to": growth.get("data_to"),
        "corpus_growth": growth.get("corpus_growth"),
        "outliers": growth["topics"].get("-1"),
        "links": links,
    }
    return Landscape(list(ids), labels, raw, xy, topics, metrics, data, params, sampling)
