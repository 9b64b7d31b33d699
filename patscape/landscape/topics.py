"""Topics and map of a set of vectors: kNN graph, UMAP, HDBSCAN, the splitting of topics too large
and the reassignment of outliers (the part of a map whose cost grows faster than the corpus)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import CorpusTooSmallError
from .cluster import hdbscan_labels, oversized_topics, reduce_outliers, split_oversized
from .neighbours import EXACT_LIMIT, FAISS_FROM, nearest_neighbours
from .params import MapParams
from .reduce import Pending, SecondProcess, preload_beside, second_process, umap_reduce


def fit_topics(
    vectors: NDArray[np.float32],
    params: MapParams,
    seed: int,
    stage: Callable[[str], None],
    helper: SecondProcess | None = None,
    then: Callable[[], None] | None = None,
    meanwhile: Callable[[tuple[NDArray[np.int64], NDArray[np.float32]]], None] | None = None,
    graph: dict[str, Any] | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32], tuple[NDArray[np.int64], NDArray[np.float32]],
           NDArray[np.float32]]:
    """Topics and map of ``vectors`` (resolved ``params``): final labels, HDBSCAN's labels, the
    2-D layout, the kNN graph and the clustering space (where sub-topics are looked for). The part of a map whose cost grows faster than the corpus.
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
    return labels, raw, xy, knn, reduced


def cluster_subset(
    vectors: NDArray[np.float32], params: MapParams, seed: int, max_cluster_share: float
) -> NDArray[np.int64]:
    """Topics of a subset of a corpus on its own (its own kNN graph, UMAP and HDBSCAN), for
    :func:`split_oversized`: labels of ``vectors``' rows, ``-1`` = outlier."""
    knn = nearest_neighbours(vectors, params.n_neighbors + 1, seed)
    reduced = umap_reduce(vectors, knn, params.n_components, params.n_neighbors, params.min_dist, seed)
    assert params.min_cluster_size is not None
    return hdbscan_labels(reduced, params.min_cluster_size, params.min_samples, max_cluster_share)
