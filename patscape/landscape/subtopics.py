"""Sub-topics: the finer topics inside a map's topics, where a topic is large enough to hold them.

A topic is a branch of the HDBSCAN cluster tree that excess of mass preferred to its sub-branches;
those sub-branches are its sub-topics. They are found the same way for every kind of map (a
topic selected from the tree, one split again on its own, one of a sampled map): the topic's
documents are clustered again by HDBSCAN in the map's own clustering space (the UMAP space the
topics were found in), and the sub-tree's branches are selected by excess of mass with the topic
itself never selected (:func:`~.cluster.select_clusters` on the topic's own tree).

The branches are the dense cores of the sub-topics. A topic is split where two or more cores hold
at least :data:`MIN_CORE_SHARE` of its documents together. Below that, the cores are what density
fluctuations give inside a topic without sub-structure: on a single Gaussian blob in five
dimensions (200-3,000 points, cores of 5-13, 50 draws) HDBSCAN finds two to four "cores" in most
draws, holding 2-24% of the points, while two blobs five standard deviations apart give cores
holding 43-82% (:mod:`tests.test_subtopics` keeps both). A map splitting a topic that is too large
asks for half (:data:`~.cluster.MIN_SPLIT_KEPT`) because the rest would become outliers; here
every document of a split topic outside the cores joins the core whose centroid (mean unit
vector) is nearest: a split topic's sub-topics partition it, and a
document outside the sample of a sampled map joins its topic's nearest sub-topic the same way. A
document of a topic without sub-topics has none (``-1`` here, empty in exports); an outlier has
none either.

Sub-topic ids are unique in the run: numbered by topic, then by size within the topic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .cluster import hdbscan_labels

#: The share of a topic its sub-topics' cores must hold together for the topic to be split.
MIN_CORE_SHARE = 1 / 3

METHOD = ("HDBSCAN on each topic's documents in the map's clustering space, its sub-branches by excess of mass "
          "(the topic itself never selected) as cores; a topic whose cores (two or more) hold a third of it is "
          "split, its other documents joining the core with the nearest centroid")


@dataclass(frozen=True, slots=True)
class SubTopics:
    """Each document's sub-topic (``-1``: none) and each sub-topic's topic."""

    labels: NDArray[np.int64]
    parents: dict[int, int]
    min_size: int
    centroids: dict[int, NDArray[np.float32]] = field(default_factory=dict)
    method: str = METHOD

    @property
    def split(self) -> list[int]:
        """The topics that have sub-topics."""
        return sorted(set(self.parents.values()))

    def of_topic(self, topic: int) -> list[int]:
        return sorted(s for s, t in self.parents.items() if t == topic)


def find_subtopics(
    labels: NDArray[np.int64],
    reduced: NDArray[np.float32],
    vectors: NDArray[np.float32],
    min_cluster_size: int,
    min_samples: int,
    min_core_share: float = MIN_CORE_SHARE,
) -> SubTopics:
    """The sub-topics of ``labels``' topics from the documents' clustering-space coordinates
    ``reduced`` and unit ``vectors`` (rows aligned with ``labels``), cores of at least
    ``min_cluster_size`` documents; see the module's docstring."""
    out = np.full(len(labels), -1, dtype=np.int64)
    parents: dict[int, int] = {}
    centroids: dict[int, NDArray[np.float32]] = {}
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    for topic, size in zip(ids.tolist(), counts.tolist()):
        if size < 2 * min_cluster_size:
            continue
        members = np.flatnonzero(labels == topic)
        sub = hdbscan_labels(reduced[members], min_cluster_size, min_samples, 1.0)
        found = sorted(int(s) for s in set(sub.tolist()) if s >= 0)
        if len(found) < 2 or (sub >= 0).mean() < min_core_share:
            continue
        means = np.stack([_unit(vectors[members[sub == s]].mean(axis=0)) for s in found])
        rest = sub < 0
        if rest.any():
            sub[rest] = np.asarray(found)[np.argmax(vectors[members[rest]] @ means.T, axis=1)]
        # numbered by size within the topic (HDBSCAN's labels are), after the topics before it
        first = len(parents)
        for k, s in enumerate(found):
            parents[first + k] = topic
            centroids[first + k] = means[k]
        out[members] = first + np.searchsorted(np.asarray(found), sub)
    return SubTopics(out, parents, min_cluster_size, centroids)


def place_in_subtopics(
    subtopics: SubTopics,
    labels: NDArray[np.int64],
    blocks: Iterable[tuple[int, int, NDArray[np.float32]]],
    known: NDArray[np.bool_],
) -> NDArray[np.int64]:
    """Every document's sub-topic, for a map whose sub-topics were found on a sample: the
    sample's (``known`` rows, whose sub-topics ``subtopics.labels`` holds at those rows) are
    kept, every other document of a split topic joins its nearest sub-topic centroid.
    ``blocks`` yields ``(start, stop, vectors)`` of every row in order."""
    out = subtopics.labels.copy()
    by_topic = {t: subtopics.of_topic(t) for t in subtopics.split}
    matrices = {t: np.stack([subtopics.centroids[s] for s in subs]) for t, subs in by_topic.items()}
    for start, stop, block in blocks:
        here = labels[start:stop]
        todo = ~known[start:stop]
        for topic, subs in by_topic.items():
            rows = np.flatnonzero(todo & (here == topic))
            if len(rows):
                best = np.argmax(block[rows] @ matrices[topic].T, axis=1)
                out[start + rows] = np.asarray(subs)[best]
    return out


def finest_partition(labels: NDArray[np.int64], sub: NDArray[np.int64]) -> NDArray[np.int64]:
    """Each document's sub-topic where its topic has them, else its topic (numbered after the
    sub-topics), ``-1`` for outliers: the finest partition a run holds, for its quality figures."""
    offset = int(sub.max()) + 1 if len(sub) and sub.max() >= 0 else 0
    return np.where(sub >= 0, sub, np.where(labels >= 0, labels + offset, -1)).astype(np.int64)


def _unit(vector: NDArray[np.floating]) -> NDArray[np.float32]:
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 else vector).astype(np.float32)
