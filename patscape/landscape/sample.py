"""Maps of large corpora: fit on a sample, place the rest by their nearest sample documents.

UMAP and HDBSCAN grow faster than the corpus (and UMAP's layout is single-threaded when seeded),
so above ``MapParams.sample_above`` documents the topics and the 2-D layout are fitted on a
seeded uniform random sample of ``MapParams.sample_size`` documents with the full method, and
every other document is placed by ``PLACE_NEIGHBOURS`` of its nearest sample documents (found
through an IVF index of the sample, exact below ``INDEX_FROM``, and corrected for hubness):
its topic is their similarity-weighted vote, its 2-D position the similarity-weighted mean of
those neighbours in that topic. The nearest sample documents do not depend on the topics: they
are searched while a second process clusters the too-large topics again, and on every core once
it is done. Vectors are read block by block, so only the sample, a few blocks and each placed
document's voters (40 bytes) are in memory; labels are computed on the sample's texts, sizes,
codes, languages, evolution, centroids and metrics on every document.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from ..chunking import normalize_rows
from ..errors import CorpusTooSmallError
from ..records import Document
from .build import KeywordCounts, Landscape, assemble
from .graph import topic_links
from .counts import code_counts, membership
from .levels import best_levels, hierarchy_of, label_hierarchy, level_records, subtopics_of
from .lineage import PreviousRun, align_map, relabel_subtopics
from .subtopics import place_in_subtopics
from .metrics import run_metrics, silhouette_cosine
from .neighbours import PROJECT_FROM, PROJECTED_DIMS, exact_knn, principal_basis
from .params import MIN_DOCUMENTS, MapParams
from .reduce import SecondProcess, second_process
from .topics import fit_topics

BLOCK = 8192
#: A document outside the sample takes the topic of the similarity-weighted vote of this many
#: sample documents, and is placed at the weighted mean of those of them in that topic (more
#: blur clusters and let a large topic's many members outvote the nearest ones; fewer make
#: duplicates of sample positions).
PLACE_NEIGHBOURS = 5
#: The voters are the best ``PLACE_NEIGHBOURS`` of the ``PLACE_CANDIDATES`` most similar sample
#: documents by cross-domain similarity local scaling (CSLS): ``2 cos(d, s) - hub(s)``, where
#: ``hub(s)`` is the mean cosine of ``s`` to its ``HUB_NEIGHBOURS`` nearest sample documents.
#: Members of large dense topics are near everything (hubs); without the correction they
#: outvote a document's own neighbourhood. On the 100k benchmark the placed documents agreed
#: with the generating topics at ARI 0.908 with 15 plain voters, 0.919 with 5, 0.932 with CSLS.
PLACE_CANDIDATES = 30
HUB_NEIGHBOURS = 10


def sample_rows(n: int, size: int, seed: int) -> NDArray[np.int64]:
    """Sorted row numbers of a seeded uniform random sample of ``size`` among ``n``."""
    rng = np.random.default_rng([seed, n, size])
    return np.sort(rng.choice(n, size=min(size, n), replace=False)).astype(np.int64)


def sample_min_cluster_size(params_min: int, n: int, size: int) -> int:
    """The sample's min cluster size for the corpus's: a topic of ``params_min`` documents
    among ``n`` holds ``params_min * size / n`` of the sample (at least 5 for HDBSCAN)."""
    return max(5, round(params_min * size / n))


#: From this many sample documents the rest are placed through an inverted-file index of the
#: sample (``IVF_LISTS`` k-means cells trained by faiss, seeded by the map's seed, the
#: ``IVF_PROBES`` cells nearest to a document searched exactly): at 30,000 x 384 it found 98.3%
#: of the exact 5 nearest (the nearest one for 98.8%) in 4.9 s instead of 12.7 s for 70,000
#: documents, and the topics of the 100k benchmark agreed with the truth as well (ARI 0.9212
#: against 0.9210 exact); at 30,000 x 1024, 99.7% (the nearest for 99.8%). Searching 8 cells
#: found 94.5% at 384 dimensions for the same topics (ARI within 0.001), not kept: real
#: corpora are less clustered than the benchmark's, and the time is hidden behind the second
#: process (``docs/benchmarks.md``, map at scale). Below it, exact.
INDEX_FROM = 10_000
IVF_LISTS = 256
IVF_PROBES = 16


class SampleIndex:
    """Nearest sample documents of any vector: an inverted-file index of the sample, or exact
    search.

    The index is faiss's IVF-flat, searched cell by cell rather than document by document: the
    documents of a block that probe a cell are compared with all its members in one matrix
    product (BLAS), and each document keeps the best of its cells. The same candidates as
    faiss's own search (which scans each document's cells with vector kernels), 2.3x faster at
    1024 dimensions (16,384 queries against 30,000: 1.66 s against 3.8 s), as fast at 384.
    """

    def __init__(self, sample: NDArray[np.float32], seed: int) -> None:
        self.sample = np.ascontiguousarray(sample, dtype=np.float32)
        self.index = None
        self.basis: NDArray[np.float32] | None = None
        if len(sample) >= INDEX_FROM:
            import faiss

            # the cells are found in the sample's principal directions when it has many
            # dimensions (k-means at 30,000 x 1024: 2.2 s, in 256 directions 1.1 s, finding
            # as many of the exact nearest); the search within cells is exact in all dimensions
            space = self.sample
            if sample.shape[1] >= PROJECT_FROM:
                self.basis, _ = principal_basis(self.sample, PROJECTED_DIMS)
                space = np.ascontiguousarray(self.sample @ self.basis)
            quantizer = faiss.IndexFlatIP(space.shape[1])
            index = faiss.IndexIVFFlat(quantizer, space.shape[1], IVF_LISTS, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = seed
            index.train(space)
            self._quantizer = quantizer  # kept: the index refers to it
            self.index = index
            # the members of each cell, contiguous: what ``index.add`` would put in its lists
            cell = quantizer.search(space, 1)[1][:, 0]
            self._order = np.argsort(cell, kind="stable")
            self._bounds = np.searchsorted(cell[self._order], np.arange(IVF_LISTS + 1))
            self._by_cell = self.sample[self._order]

    @staticmethod
    def method_for(size: int, dims: int) -> str:
        """How the index of a sample of ``size`` documents of ``dims`` dimensions searches."""
        if size < INDEX_FROM:
            return "exact cosine, faiss brute force"
        where = "" if dims < PROJECT_FROM else f" in its {PROJECTED_DIMS} principal directions"
        return (f"cosine, IVF-flat index of the sample (faiss k-means{where}), {IVF_LISTS} cells, "
                f"{IVF_PROBES} searched exactly")

    @property
    def method(self) -> str:
        return self.method_for(*self.sample.shape)

    def search(self, block: NDArray[np.float32], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Indices into the sample and cosine similarities of the ``k`` nearest, best first."""
        block = np.ascontiguousarray(block, dtype=np.float32)
        if self.index is None:
            return exact_knn(block, self.sample, k)
        n = len(block)
        probes = self._quantizer.search(block if self.basis is None else block @ self.basis, IVF_PROBES)[1]
        best = np.full((n, IVF_PROBES * k), -np.inf, dtype=np.float32)
        where = np.full((n, IVF_PROBES * k), -1, dtype=np.int64)
        flat = probes.ravel()
        by_cell = np.argsort(flat, kind="stable")
        cut = np.searchsorted(flat[by_cell], np.arange(IVF_LISTS + 1))
        for c in range(IVF_LISTS):
            lo, hi = self._bounds[c], self._bounds[c + 1]
            asking = by_cell[cut[c] : cut[c + 1]]
            if hi == lo or not len(asking):
                continue
            row, slot = np.divmod(asking, IVF_PROBES)
            sims = block[row] @ self._by_cell[lo:hi].T
            kept = min(k, hi - lo)
            top = np.argpartition(-sims, kept - 1, axis=1)[:, :kept] if hi - lo > kept else np.arange(kept)[None, :]
            cols = slot[:, None] * k + np.arange(kept)
            best[row[:, None], cols] = np.take_along_axis(sims, np.broadcast_to(top, (len(row), kept)), axis=1)
            where[row[:, None], cols] = self._order[lo + top]
        top = np.argpartition(-best, k - 1, axis=1)[:, :k]
        sims, idx = np.take_along_axis(best, top, axis=1), np.take_along_axis(where, top, axis=1)
        ranked = np.lexsort((idx, -sims), axis=1)  # best first, ties by sample row
        idx, sims = np.take_along_axis(idx, ranked, axis=1), np.take_along_axis(sims, ranked, axis=1)
        # cells too sparse to hold k candidates leave gaps: exact search for those rows
        short = (idx < 0).any(axis=1)
        if short.any():
            idx[short], sims[short] = exact_knn(block[short], self.sample, k)
        return idx, sims


def vote(labels: NDArray[np.int64], weights: NDArray[np.float32]) -> NDArray[np.int64]:
    """Per row, the label (``-1`` included) with the largest summed weight; ties to the smaller."""
    shifted = labels + 1
    width = int(shifted.max()) + 1 if shifted.size else 1
    totals = np.zeros((len(labels), width), dtype=np.float64)
    np.add.at(totals, (np.repeat(np.arange(len(labels)), labels.shape[1]), shifted.ravel()), weights.ravel())
    return totals.argmax(axis=1).astype(np.int64) - 1


def choose_voters(
    idx: NDArray[np.int64], sims: NDArray[np.float32], hub: NDArray[np.float32], k: int
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """The ``k`` candidates (``idx``, ``sims``: nearest sample rows, best first) with the best
    CSLS score ``2 sims - hub[idx]``, best first (ties: the more similar), with their cosines."""
    score = 2.0 * sims - hub[idx]
    order = np.lexsort((-sims, -score), axis=1)[:, :k]
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(sims, order, axis=1)


def hubness(knn_dist: NDArray[np.float32]) -> NDArray[np.float32]:
    """Mean cosine of each sample document to its ``HUB_NEIGHBOURS`` nearest others, from the
    sample's kNN graph (cosine distances, itself first)."""
    near = knn_dist[:, 1 : HUB_NEIGHBOURS + 1]
    return (1.0 - near).mean(axis=1).astype(np.float32)


def place(
    idx: NDArray[np.int64], sims: NDArray[np.float32], sample_labels: NDArray[np.int64],
    sample_raw: NDArray[np.int64], sample_xy: NDArray[np.float32],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:
    """Topic, HDBSCAN-level topic and 2-D position from the nearest sample rows ``idx``."""
    weights = np.maximum(sims, 1e-6).astype(np.float32)
    labels = vote(sample_labels[idx], weights)
    raw = vote(sample_raw[idx], weights)
    same = sample_labels[idx] == labels[:, None]
    same[:, 0] |= ~same.any(axis=1)  # no neighbour in the topic: the nearest one
    w = np.where(same, weights, 0.0)
    xy = (w[:, :, None] * sample_xy[idx]).sum(axis=1) / w.sum(axis=1, keepdims=True)
    return labels, raw, xy.astype(np.float32)


def available_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def search_voters(
    index: SampleIndex,
    hub: NDArray[np.float32],
    blocks: Iterable[tuple[int, int, NDArray[np.float32]]],
    rest: NDArray[np.int64],
    candidates: int,
    out: tuple[NDArray[np.int32], NDArray[np.float32]],
    helper: SecondProcess,
    threads: int | None = None,
) -> None:
    """Fill ``out`` (voters, their cosines) for the documents ``rest`` (sorted row numbers)
    from ``blocks`` (``(start, stop, vectors)`` in row order), one block per task.

    While ``helper``'s process is busy on a core, the search leaves that core to it; once the
    process is idle, the search takes every core (``threads``, all by default). Each block is
    searched on one thread with one thread of BLAS and OpenMP, so the voters are the same
    however many threads ran and whenever the other process finished.
    """
    voters, similarities = out
    k = voters.shape[1]
    threads = threads or available_cores()
    gate = threading.Semaphore(max(1, threads - 1))
    helper.when_idle(gate.release)  # its core is free: one task more at a time

    def task(lo: int, hi: int, rows: NDArray[np.float32]) -> None:
        with gate:
            voters[lo:hi], similarities[lo:hi] = choose_voters(*index.search(rows, candidates), hub, k)

    def one_openmp_thread() -> None:  # OpenMP's limit is per thread, BLAS's for the process
        threadpool_limits(limits=1, user_api="openmp")

    with threadpool_limits(limits=1, user_api="blas"), \
            ThreadPoolExecutor(max_workers=threads, initializer=one_openmp_thread) as pool:
        queued: deque[Future[None]] = deque()
        for start, stop, block in blocks:
            lo, hi = np.searchsorted(rest, [start, stop])
            if hi > lo:
                queued.append(pool.submit(task, int(lo), int(hi), block[rest[lo:hi] - start]))
            while len(queued) > 2 * threads:  # a few blocks read ahead, not the corpus
                queued.popleft().result()
        for future in queued:
            future.result()


def _checked(
    blocks: Callable[[], Iterable[tuple[int, NDArray[np.float32]]]], n: int
) -> Iterator[tuple[int, int, NDArray[np.float32]]]:
    """``(start, stop, vectors)`` of every block of ``blocks()``, refusing gaps and overlaps."""
    seen = 0
    for start, block in blocks():
        stop = start + len(block)
        if start != seen or stop > n:
            raise RuntimeError(f"vector blocks out of order: rows {start}-{stop} after {seen} of {n}")
        seen = stop
        yield start, stop, block
    if seen != n:
        raise RuntimeError(f"vector blocks ended after {seen} of {n} rows")


def build_sampled_landscape(
    ids: Sequence[str],
    rows: NDArray[np.int64],
    sample: NDArray[np.float32],
    blocks: Callable[[], Iterable[tuple[int, NDArray[np.float32]]]],
    docs: Sequence[Document],
    params: MapParams,
    seed: int = 42,
    on_stage: Callable[[str], None] | None = None,
    helper: SecondProcess | None = None,
    previous: PreviousRun | None = None,
) -> Landscape:
    """The landscape of ``len(ids)`` documents fitted on ``sample`` (the vectors of ``rows``).

    ``blocks()`` yields ``(first row, vectors)`` for every row in order; ``params`` is a
    :class:`MapParams` resolved for the whole corpus; ``helper`` the second process to use (the
    caller's, already warmed up; one of its own when ``None``).
    """
    params.validate()
    n = len(ids)
    size = len(rows)
    timings: dict[str, float] = {}

    def stage(name: str) -> None:
        timings[name] = time.perf_counter()
        if on_stage:
            on_stage(name)

    fit_params = dataclasses.replace(
        params, min_cluster_size=sample_min_cluster_size(params.min_cluster_size, n, size)
    )
    if size < max(MIN_DOCUMENTS, 2 * fit_params.min_cluster_size):
        raise CorpusTooSmallError(f"a sample of {size} documents is too small to build a landscape")
    sample_docs = [docs[i] for i in rows]
    in_sample = np.zeros(n, dtype=bool)
    in_sample[rows] = True
    rest = np.flatnonzero(~in_sample)
    k = min(PLACE_NEIGHBOURS, size)
    candidates = min(PLACE_CANDIDATES, size)
    # the voters of every document outside the sample (40 bytes each): they do not depend on
    # the topics, so they are searched while the second process clusters large topics again
    voters = np.empty((len(rest), k), dtype=np.int32)
    similarities = np.empty((len(rest), k), dtype=np.float32)

    def search(knn: tuple[NDArray[np.int64], NDArray[np.float32]]) -> None:
        # one thread of BLAS and OpenMP (faiss) per search: pools of 2 threads spinning against
        # the second process's busy core made the search of 32,768 documents against a
        # 30,000 x 1024 sample take 6.1 s instead of 3.5 s (3.2 s alone, 3.0 s with 2 threads).
        # Threaded products also round differently in the last bit, which changes a tie now and
        # then: one thread per block gives the same voters on any machine.
        with threadpool_limits(limits=1):
            index = SampleIndex(sample, seed)
            search_voters(index, hubness(knn[1]), _checked(blocks, n), rest, candidates,
                          (voters, similarities), helper)

    with second_process(helper, size) as helper:
        # the labels' keyword counts depend on the texts only: counted while this process clusters
        keywords = KeywordCounts(helper, sample_docs)
        graph: dict[str, Any] = {}
        sample_labels, sample_raw, sample_xy, _, reduced = fit_topics(sample, fit_params, seed, stage, helper,
                                                                      then=keywords.submit, meanwhile=search, graph=graph)
        sample_keywords = keywords.result()
    stage("assign")
    labels = np.full(n, -1, dtype=np.int64)
    raw = np.full(n, -1, dtype=np.int64)
    xy = np.zeros((n, 2), dtype=np.float32)
    labels[rows], raw[rows], xy[rows] = sample_labels, sample_raw, sample_xy
    for lo in range(0, len(rest), BLOCK):
        at = rest[lo : lo + BLOCK]
        labels[at], raw[at], xy[at] = place(voters[lo : lo + BLOCK], similarities[lo : lo + BLOCK],
                                            sample_labels, sample_raw, sample_xy)
    topics = int(sample_labels.max()) + 1
    sums = np.zeros((max(topics, 1), sample.shape[1]), dtype=np.float64)
    # sub-topics found in the sample (the topics' cores there), the other documents placed below
    sample_sub = subtopics_of(sample_labels, reduced, sample, fit_params)
    sub_of_sample = np.full(n, -1, dtype=np.int64)
    sub_of_sample[rows] = sample_sub.labels

    def summed() -> Iterator[tuple[int, int, NDArray[np.float32]]]:
        nonlocal sums
        for start, stop, block in _checked(blocks, n):
            sums += membership(labels[start:stop], len(sums)) @ block  # each topic's sum (20x faster than np.add.at)
            yield start, stop, block

    sub = dataclasses.replace(sample_sub, labels=sub_of_sample)
    sub = dataclasses.replace(sub, labels=place_in_subtopics(sub, labels, summed(), in_sample))
    stage("hierarchy")
    present = sorted(int(t) for t in set(labels.tolist()) if t >= 0)
    centroids = dict(zip(present, normalize_rows(sums[present].astype(np.float32))))
    tree = hierarchy_of(labels, params, centroids=centroids)
    alignment = None
    if previous is not None:  # the previous run's ids where its topics continue (ids only)
        alignment, labels, raw, tree, sub = align_map(previous, ids, labels, raw, tree, sub)
        sample_labels = labels[rows]
        centroids = {alignment.topic_ids[t]: c for t, c in centroids.items()}
        sample_sub = relabel_subtopics(sample_sub, alignment)
    stage("label")
    # keywords and representatives from the sample's texts, at every level
    named_levels = label_hierarchy(sample_docs, tree, sample_labels, sample_sub, sample, label_lang=params.label_lang,
                                   keywords_of_docs=sample_keywords)
    named = named_levels[tree.levels - 1]
    # languages of every document (codes too, below: :func:`level_records`), not the sample's
    langs = np.asarray([d.lang or "?" for d in docs])
    names, lang_ids = np.unique(langs, return_inverse=True)
    clustered = labels >= 0
    per_topic = np.zeros((int(labels.max()) + 1, len(names)), dtype=np.int64)
    np.add.at(per_topic, (labels[clustered], lang_ids[clustered]), 1)
    for topic in list(named):
        counts = {str(names[j]): int(per_topic[topic, j]) for j in np.flatnonzero(per_topic[topic])}
        named[topic] = dataclasses.replace(named[topic], languages=dict(sorted(counts.items(), key=lambda kv: -kv[1])))
    stage("measure")
    metrics = run_metrics(docs, None, labels, raw, seed, silhouette=silhouette_cosine(sample, sample_labels, seed))
    metrics["neighbour_graph"] = graph
    links = topic_links(docs, None, labels, centroids=centroids)
    codes = code_counts(docs)
    levels, level_figures, topic_codes, subtopics = level_records(tree, docs, labels, named_levels, codes, sub)
    metrics["levels"] = level_figures
    metrics["landscape_f1_best_level"] = best_levels(level_figures)
    stage("done")
    sampling = {
        "sampled": True,
        "documents": n,
        "sample_size": size,
        "seed": seed,
        "method": "uniform random sample without replacement (numpy default_rng([seed, n, size]))",
        "fit_min_cluster_size": fit_params.min_cluster_size,
        "assigned": int(n - size),
        "assignment": (f"topic: similarity-weighted vote of the {k} best of the {candidates} nearest sample "
                       f"documents ({SampleIndex.method_for(size, sample.shape[1])}) by CSLS (2 cos - the sample document's mean cosine to its "
                       f"{HUB_NEIGHBOURS} nearest); "
                       "2-D position: similarity-weighted mean of those of them in that topic"),
        "labels_from": "sample texts; sizes, codes, languages, centroids and metrics from every document",
    }
    metrics["sampling"] = sampling
    return assemble(ids, docs, labels, raw, xy, named, metrics, links, timings, params, sampling, tree, levels,
                    topic_codes, sub, subtopics, alignment)
