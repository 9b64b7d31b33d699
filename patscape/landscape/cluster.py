"""Clustering of the reduced space (HDBSCAN) and reassignment of outliers.

HDBSCAN's excess-of-mass selection tends to pick the few most stable branches near the root of
the cluster tree: on a mixed corpus that means one cluster per language, which is useless for a
landscape. Selection is therefore bounded by ``max_cluster_share``: no topic may hold more than
that share of the corpus, so the selection descends the hierarchy where a branch is too broad
and keeps excess-of-mass everywhere else.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray


def default_min_cluster_size(n: int) -> int:
    """Grows with the corpus: 10 for 1k documents, 26 for 6k, 105 for 100k."""
    return max(10, round(math.sqrt(n) / 3))


def hdbscan_labels(
    reduced: NDArray[np.float32],
    min_cluster_size: int,
    min_samples: int,
    max_cluster_share: float,
    selection: str = "eom",
) -> NDArray[np.int64]:
    """Cluster labels (``-1`` = outlier) of the points in ``reduced`` (n, d)."""
    import hdbscan

    n = len(reduced)
    max_size = max(int(n * max_cluster_share), min_cluster_size + 1) if max_cluster_share < 1 else 0
    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=min(min_cluster_size, max(2, n // 2)),
        min_samples=min(min_samples, max(1, n - 1)),
        cluster_selection_method=selection,
        max_cluster_size=max_size,
        core_dist_n_jobs=1,
    )
    labels = clusterer.fit_predict(reduced.astype(np.float64))
    return _renumber_by_size(np.asarray(labels, dtype=np.int64))


def reassign_outliers(
    labels: NDArray[np.int64],
    knn_index: NDArray[np.int64],
    agreement: float = 0.5,
) -> NDArray[np.int64]:
    """Give an outlier the topic of its nearest neighbours when they agree.

    ``knn_index`` (n, k) holds each point's nearest neighbours in the original space, itself
    first. An outlier joins topic t when at least ``agreement`` of its neighbours (excluding
    itself) belong to t; otherwise it stays an outlier. One pass, so the result does not depend
    on the order of the points.
    """
    out = labels.copy()
    neighbours = labels[knn_index[:, 1:]]
    k = neighbours.shape[1]
    if k == 0:
        return out
    for i in np.flatnonzero(labels < 0):
        row = neighbours[i][neighbours[i] >= 0]
        if len(row) == 0:
            continue
        values, counts = np.unique(row, return_counts=True)
        best = counts.argmax()
        if counts[best] / k >= agreement:
            out[i] = values[best]
    return out


def _renumber_by_size(labels: NDArray[np.int64]) -> NDArray[np.int64]:
    """Topic 0 is the largest; ties by first occurrence. Outliers stay -1."""
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    first = {int(t): int(np.flatnonzero(labels == t)[0]) for t in ids}
    order = sorted(ids.tolist(), key=lambda t: (-counts[ids.tolist().index(t)], first[t]))
    mapping = {old: new for new, old in enumerate(order)}
    return np.array([mapping.get(int(t), -1) for t in labels], dtype=np.int64)
