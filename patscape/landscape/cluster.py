"""Clustering of the reduced space (HDBSCAN) and reassignment of outliers.

HDBSCAN's excess-of-mass selection tends to pick the few most stable branches near the root of
the cluster tree: on a mixed corpus that means one cluster per language, which is useless for a
landscape. Selection is therefore bounded by ``max_cluster_share``: a branch holding more than
that share of the corpus gives way to its sub-topics where it has any, and excess of mass
decides everywhere else (see :func:`select_clusters`). A branch is only made to give way where
its sub-topics keep most of its documents (:data:`MIN_SPLIT_KEPT`): a big topic that merely
erodes into a few dense cores as the density rises is one topic, and splitting it would turn
most of it into outliers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

#: A topic above ``max_cluster_share`` is split (by the cluster tree, or by clustering it again
#: on its own) only where the sub-topics hold at least this share of its documents; below it the
#: "sub-topics" are dense cores of one topic, and the rest of it would become outliers.
MIN_SPLIT_KEPT = 0.5


def default_min_cluster_size(n: int) -> int:
    """Grows with the corpus: 10 for 1k documents, 26 for 6k, 105 for 100k."""
    return max(10, round(math.sqrt(n) / 3))


def hdbscan_labels(
    reduced: NDArray[np.float32],
    min_cluster_size: int,
    min_samples: int,
    max_cluster_share: float,
) -> NDArray[np.int64]:
    """Cluster labels (``-1`` = outlier) of the points in ``reduced`` (n, d).

    HDBSCAN builds the cluster tree; :func:`select_clusters` picks the topics from it.
    """
    import hdbscan

    n = len(reduced)
    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=min(min_cluster_size, max(2, n // 2)),
        min_samples=min(min_samples, max(1, n - 1)),
        core_dist_n_jobs=1,
    )
    clusterer.fit(reduced.astype(np.float64))
    tree = clusterer.condensed_tree_.to_numpy()
    max_size = max(int(n * max_cluster_share), min_cluster_size)
    labels = select_clusters(tree, n, max_size)
    return _renumber_by_size(labels)


def select_clusters(tree: np.ndarray, n: int, max_size: int) -> NDArray[np.int64]:
    """Excess-of-mass selection on a condensed tree, bounded by ``max_size``.

    ``tree`` is HDBSCAN's condensed tree (fields parent, child, lambda_val, child_size; point
    ids are < n, cluster ids >= n, the root is n). Bottom-up, a cluster is selected instead of
    its descendants when its stability exceeds theirs, as in plain excess of mass, except that a
    cluster larger than ``max_size`` gives way to its selected descendants when they hold at
    least :data:`MIN_SPLIT_KEPT` of its points. A cluster that cannot be split so is kept
    whatever its size, so nothing becomes noise for being big. The root is never selected
    unless it has no children (one topic).
    """
    parent = tree["parent"].astype(np.int64)
    child = tree["child"].astype(np.int64)
    lam = tree["lambda_val"].astype(np.float64)
    size = tree["child_size"].astype(np.int64)
    is_cluster = child >= n
    birth = {int(c): float(lv) for c, lv in zip(child[is_cluster], lam[is_cluster])}
    birth[n] = 0.0
    sizes = {int(c): int(s) for c, s in zip(child[is_cluster], size[is_cluster])}
    sizes[n] = n
    children: dict[int, list[int]] = {}
    stability: dict[int, float] = {c: 0.0 for c in birth}
    for p, c, lv, sz, clus in zip(parent, child, lam, size, is_cluster):
        stability[int(p)] += (lv - birth[int(p)]) * sz
        if clus:
            children.setdefault(int(p), []).append(int(c))
    selected: dict[int, list[int]] = {}
    score: dict[int, float] = {}
    for node in sorted(birth, reverse=True):  # children have larger ids than their parents
        kids = children.get(node, [])
        if not kids:
            selected[node], score[node] = [node], stability[node]
            continue
        below = [s for k in kids for s in selected[k]]
        below_score = sum(score[k] for k in kids)
        # a point falling out of ``node`` above the selected branches would become an outlier
        kept = sum(sizes[s] for s in below) / sizes[node]
        bounded = sizes[node] <= max_size or kept < MIN_SPLIT_KEPT
        if node != n and bounded and stability[node] > below_score:
            selected[node], score[node] = [node], stability[node]
        else:
            selected[node], score[node] = below, below_score
    chosen = set(selected[n])
    # each cluster's topic: itself if chosen, else its nearest chosen ancestor
    topic_of: dict[int, int] = {}
    for node in sorted(birth):
        if node in chosen:
            topic_of[node] = node
        else:
            ancestors = parent[child == node]
            topic_of[node] = topic_of.get(int(ancestors[0]), -1) if len(ancestors) else -1
    labels = np.full(n, -1, dtype=np.int64)
    points = ~is_cluster
    for p, c in zip(parent[points], child[points]):
        labels[c] = topic_of.get(int(p), -1)
    return labels


def oversized_topics(labels: NDArray[np.int64], max_size: int) -> list[NDArray[np.int64]]:
    """The members of each topic holding more than ``max_size`` documents, by topic id."""
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    return [np.flatnonzero(labels == topic) for topic in ids[counts > max_size].tolist()]


def split_oversized(
    labels: NDArray[np.int64],
    max_size: int,
    cluster_subset: Callable[[NDArray[np.int64]], NDArray[np.int64]],
    depth: int = 2,
) -> NDArray[np.int64]:
    """Re-cluster, on their own, topics that hold more than ``max_size`` documents.

    A topic the cluster tree could not split (one dense blob in the global UMAP space, such as
    every document of a language the model does not understand) often has clear sub-topics once
    its documents are embedded again without the rest of the corpus. ``cluster_subset(indices)``
    returns labels (``-1`` = outlier) for those documents; a topic is replaced only when that
    gives two or more sub-topics holding at least :data:`MIN_SPLIT_KEPT` of its documents.
    Repeats up to ``depth`` levels.
    """
    out = labels.copy()
    for _ in range(depth):
        changed = False
        next_id = int(out.max()) + 1
        for members in oversized_topics(out, max_size):
            sub = cluster_subset(members)
            found = sorted(int(t) for t in set(sub.tolist()) if t >= 0)
            if len(found) < 2 or (sub >= 0).mean() < MIN_SPLIT_KEPT:
                continue
            changed = True
            out[members[sub < 0]] = -1
            for t in found:
                out[members[sub == t]] = next_id
                next_id += 1
        if not changed:
            break
    return _renumber_by_size(out)


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
    if neighbours.shape[1] == 0:
        return out
    for i in np.flatnonzero(labels < 0):
        out[i] = agreed_topic(neighbours[i], agreement)
    return out


def agreed_topic(neighbours: NDArray[np.int64], agreement: float) -> int:
    """The topic at least ``agreement`` of ``neighbours`` (their topics, ``-1``: none or no
    vote; the share is of all of them) are in, the most frequent one (ties: the smaller id);
    ``-1`` when no topic has that share."""
    votes = neighbours[neighbours >= 0]
    if len(votes) == 0:
        return -1
    values, counts = np.unique(votes, return_counts=True)
    best = int(counts.argmax())
    return int(values[best]) if counts[best] / len(neighbours) >= agreement else -1


def reduce_outliers(
    labels: NDArray[np.int64],
    knn_index: NDArray[np.int64],
    agreement: float,
    passes: int,
    max_share: float,
) -> NDArray[np.int64]:
    """Rounds of :func:`reassign_outliers`: ``passes`` at ``agreement``, then, while more than
    ``max_share`` of the documents are outliers, rounds asking for 2/3 and 1/3 of it and finally
    a plurality (one vote) until nothing changes."""
    k = max(knn_index.shape[1] - 1, 1)
    schedule = [agreement] * passes + [agreement * 2 / 3, agreement / 3] + [1 / k] * k
    out = labels
    for step, needed in enumerate(schedule):
        if step >= passes and (out < 0).mean() <= max_share:
            break
        updated = reassign_outliers(out, knn_index, needed)
        if step >= passes + 2 and np.array_equal(updated, out):
            break
        out = updated
    return out


def _renumber_by_size(labels: NDArray[np.int64]) -> NDArray[np.int64]:
    """Topic 0 is the largest; ties by first occurrence. Outliers stay -1."""
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    first = {int(t): int(np.flatnonzero(labels == t)[0]) for t in ids}
    order = sorted(ids.tolist(), key=lambda t: (-counts[ids.tolist().index(t)], first[t]))
    mapping = {old: new for new, old in enumerate(order)}
    return np.array([mapping.get(int(t), -1) for t in labels], dtype=np.int64)
