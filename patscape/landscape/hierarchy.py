"""The topic hierarchy of a map: coarser levels (fields, technologies) above its topics.

Each coarser level is made from the level below it by agglomerating that level's nodes: their
centroids (the mean unit vector of their documents, normalised) are clustered by Ward's method
(on unit vectors, Euclidean distance is a monotone function of the cosine), the dendrogram is cut
near the level's planned number of groups where it has its widest gap, and a group that would hold a single node is joined to the
group whose centroid is nearest. So every node of a coarser level has at least two children,
every topic has exactly one parent at each level above it, the levels nest, and a map's topics
(the ``cluster`` column) are unchanged: the hierarchy is drawn above them.

Why centroids rather than the HDBSCAN condensed tree: a map's topics are selected from the
tree at mixed depths, topics too large are clustered again on their own (their sub-trees are
another tree), and a sampled map's tree covers the sample only; the centroids exist for every
kind of map, cost O(topics^2) whatever the corpus size, and in the measurements of
docs/benchmarks.md ("Topic hierarchy") their upper levels find the dev corpus's landscapes
better than its flat topics do.

How many levels and nodes (:func:`plan_levels`): the top level holds ``top`` nodes (default:
the square root of the number of topics, between 2 and 12) and each level about the same
factor more than the one above it, at most 4 children per node on average (a table of contents
an analyst reads), one to three levels. A level needs at least twice as many nodes below it as
it holds, so a request that cannot be met is reduced, ``top`` winning over ``levels``, and the
plan says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .counts import membership

#: Most coarser levels above the topics, and the average number of children per node the
#: default number of levels aims below.
MAX_LEVELS = 3
BRANCHING = 4
#: The default top level's bounds (its default size is the square root of the topics).
MIN_TOP, MAX_TOP = 2, 12
#: A level's number of nodes may differ from the plan's by this factor, to cut the dendrogram
#: where it has a natural break (:func:`natural_cut`).
CUT_SPREAD = 1.5


@dataclass(frozen=True, slots=True)
class LevelPlan:
    """Node counts of the coarser levels, top first (empty: no level above the topics), and
    a sentence when the request could not be met as asked."""

    counts: list[int]
    notice: str | None = None


def plan_levels(topics: int, levels: int | None = None, top: int | None = None) -> LevelPlan:
    """How many coarser levels above ``topics`` topics, and how many nodes each holds."""
    if levels is not None and not 0 <= levels <= MAX_LEVELS:
        raise ValueError(f"levels must be between 0 and {MAX_LEVELS}, got {levels}")
    if top is not None and top < 2:
        raise ValueError(f"top topics must be at least 2, got {top}")
    if levels == 0:
        return LevelPlan([])
    if topics < 4:
        note = f"{topics} topics are too few for a level above them" if levels or top else None
        return LevelPlan([], note)
    notice = None
    if top is None:
        top = min(MAX_TOP, max(MIN_TOP, round(math.sqrt(topics))))
        top = min(top, topics // 2 ** (levels or 1))
    elif top > topics // 2:
        return LevelPlan([], f"--top-topics {top} leaves no level above the map's {topics} topics (a level needs at least twice as many nodes below it)")
    possible = max(1, int(math.floor(math.log2(topics / top))))  # each level at most half the one below
    if levels is None:
        levels = min(MAX_LEVELS, possible, max(1, math.ceil(math.log(topics / top) / math.log(BRANCHING))))
    elif levels > possible:
        notice = (f"{levels} levels above {topics} topics with {top} at the top would leave a node with a single "
                  f"child; made {possible} (--top-topics wins over --levels)")
        levels = possible
    ratio = (topics / top) ** (1 / levels)
    counts = [max(top, round(top * ratio**i)) for i in range(levels)]
    for i in range(levels - 1, -1, -1):  # at most half the level below
        below = topics if i == levels - 1 else counts[i + 1]
        counts[i] = min(counts[i], below // 2)
    counts[0] = top
    return LevelPlan(counts, notice)


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """Coarser levels above a map's topics.

    ``parents[i]`` maps each node of level ``i + 1`` to its parent at level ``i`` (level 0 is the
    top; the last level is the topics themselves, by their ``cluster`` ids), so
    ``len(parents) == levels - 1``.
    """

    parents: list[dict[int, int]]
    topics: list[int]
    notice: str | None = None
    method: str = "ward agglomeration of node centroids, single-child groups joined to the nearest"
    counts: list[int] = field(default_factory=list)

    @property
    def levels(self) -> int:
        """Levels including the topics (1: no level above them)."""
        return len(self.parents) + 1

    def path(self, topic: int) -> list[int]:
        """Nodes of ``topic`` from the top level down to itself."""
        out = [topic]
        for parents in reversed(self.parents):
            out.append(parents[out[-1]])
        return out[::-1]

    def document_levels(self, labels: NDArray[np.int64]) -> list[NDArray[np.int64]]:
        """Each document's node at every level, top first (``-1`` for outliers at every level)."""
        if not self.topics:
            return [labels.copy() for _ in range(self.levels)]
        lookup = np.full(max(self.topics) + 2, -1, dtype=np.int64)  # index -1 -> last slot (-1)
        out = [labels.copy()]
        current = {t: t for t in self.topics}
        for parents in reversed(self.parents):
            current = {t: parents[node] for t, node in current.items()}
            lookup[:] = -1
            for t, node in current.items():
                lookup[t] = node
            out.append(lookup[labels])
        return out[::-1]

    def children(self, level: int) -> dict[int, list[int]]:
        """Children (nodes of ``level + 1``) of each node of ``level``."""
        out: dict[int, list[int]] = {}
        for child, parent in sorted(self.parents[level].items()):
            out.setdefault(parent, []).append(child)
        return out


def topic_centroids(labels: NDArray[np.int64], vectors: NDArray[np.float32]) -> dict[int, NDArray[np.float32]]:
    """The normalised mean vector of each topic's documents."""
    clustered = np.flatnonzero(labels >= 0)
    if not len(clustered):
        return {}
    top = int(labels.max()) + 1
    sums = np.asarray(membership(labels, top) @ vectors, dtype=np.float64)
    present = np.flatnonzero(np.bincount(labels[clustered], minlength=top))
    return {int(t): _unit(sums[t]) for t in present}


def build_hierarchy(
    centroids: Mapping[int, NDArray[np.floating]],
    sizes: Mapping[int, int],
    levels: int | None = None,
    top: int | None = None,
) -> Hierarchy:
    """Coarser levels above the topics whose ``centroids`` (unit vectors) and ``sizes``
    (documents) are given; see the module's docstring. Deterministic."""
    topics = sorted(int(t) for t in centroids)
    plan = plan_levels(len(topics), levels, top)
    parents: list[dict[int, int]] = []
    nodes = {t: np.asarray(centroids[t], dtype=np.float64) for t in topics}
    weight = {t: float(sizes[t]) for t in topics}
    for i in range(len(plan.counts) - 1, -1, -1):
        fixed = i == 0 and top is not None  # the analyst's number of top nodes is kept exactly
        groups = _agglomerate(nodes, weight, plan.counts[i], exact=fixed)
        if len(groups) < 2:  # one node over everything tells nothing: no level, nor above it
            break
        # ids by size, largest first; ties by the smallest member id
        order = sorted(groups, key=lambda g: (-sum(weight[m] for m in g), min(g)))
        parent_of = {member: new for new, group in enumerate(order) for member in group}
        parents.insert(0, parent_of)
        nodes = {
            new: _unit(sum(weight[m] * nodes[m] for m in group)) for new, group in enumerate(order)
        }
        weight = {new: sum(weight[m] for m in group) for new, group in enumerate(order)}
    counts = [len(set(p.values())) for p in parents]
    return Hierarchy(parents, topics, plan.notice, counts=counts)


def natural_cut(heights: NDArray[np.float64], count: int, spread: float = CUT_SPREAD) -> int:
    """The number of groups near ``count`` at which the dendrogram has its widest gap.

    ``heights`` are the merge heights of a dendrogram of ``len(heights) + 1`` leaves (ascending,
    as scipy gives them). Cut into ``k`` groups, the last merge made is ``heights[n - k - 1]``
    and the next one ``heights[n - k]``; the wider the gap between them relative to the next,
    the more the ``k`` groups stand apart. Looked for between ``count / spread`` and ``count *
    spread`` (and at most half the leaves), so the plan's shape holds while a level follows
    the data's own breaks rather than a fixed number."""
    n = len(heights) + 1
    low = max(2, math.ceil(count / spread))
    high = min(n // 2, math.floor(count * spread))
    if high <= low:
        return max(1, min(count, n // 2))
    best, best_gap = count, -1.0
    for k in range(low, high + 1):
        gap = (heights[n - k] - heights[n - k - 1]) / max(heights[n - k], 1e-12)
        if gap > best_gap + 1e-12 or (abs(gap - best_gap) <= 1e-12 and abs(k - count) < abs(best - count)):
            best, best_gap = k, gap
    return best


def _agglomerate(
    nodes: Mapping[int, NDArray[np.float64]], weight: Mapping[int, float], count: int, exact: bool = False
) -> list[list[int]]:
    """Groups of ``nodes`` (``count`` when ``exact``, else the natural cut near it; each of at
    least two nodes)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    ids = sorted(nodes)
    if count <= 1 or len(ids) <= 2:
        return [ids]
    matrix = np.stack([nodes[i] for i in ids])
    tree = linkage(matrix, method="ward")
    if not exact:
        count = natural_cut(tree[:, 2], count)
    # a group of one node joins its nearest group; cut finer until ``count`` groups remain
    for cut_at in range(count, len(ids) // 2 + 1):
        merged = _without_singles(ids, fcluster(tree, t=cut_at, criterion="maxclust"), nodes, weight)
        if len(merged) >= count:
            break
    return merged


def _without_singles(
    ids: list[int], cut: NDArray[np.int32], nodes: Mapping[int, NDArray[np.float64]], weight: Mapping[int, float]
) -> list[list[int]]:
    groups: dict[int, list[int]] = {}
    for node, group in zip(ids, cut.tolist()):
        groups.setdefault(group, []).append(node)
    merged = sorted(groups.values(), key=min)
    while len(merged) > 1:
        single = next((g for g in merged if len(g) == 1), None)
        if single is None:
            break
        rest = [g for g in merged if g is not single]
        centres = [_unit(sum(weight[m] * nodes[m] for m in g)) for g in rest]
        nearest = int(np.argmax([float(c @ nodes[single[0]]) for c in centres]))
        rest[nearest] = sorted(rest[nearest] + single)
        merged = rest
    return merged


def _unit(vector: NDArray[np.floating]) -> NDArray[np.float64]:
    vector = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def check_hierarchy(hierarchy: Hierarchy, topics: Sequence[int]) -> None:
    """Raise ``AssertionError`` unless every topic has one parent at each level, the levels nest
    and no node has a single child (used by the tests and by a run's consistency check)."""
    expected = set(topics)
    for level in range(len(hierarchy.parents) - 1, -1, -1):
        parents = hierarchy.parents[level]
        assert set(parents) == expected, f"level {level + 1}: nodes {sorted(expected ^ set(parents))} lack a parent"
        kids: dict[int, int] = {}
        for parent in parents.values():
            kids[parent] = kids.get(parent, 0) + 1
        if len(kids) > 1:
            lonely = sorted(p for p, k in kids.items() if k < 2)
            assert not lonely, f"level {level}: nodes {lonely} have a single child"
        expected = set(kids)
