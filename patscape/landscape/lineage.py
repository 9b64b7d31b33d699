"""Topic identity across runs: a new map's topics take the ids of the previous run's topics they
continue, and every change between the two runs is recorded as a lineage event.

**Ids.** A new topic Y keeps the id of an old topic X when each is the other's best match by
Jaccard similarity of their documents (``|X ∩ Y| / |X ∪ Y|``, over the documents of either
run) and that similarity is at least :data:`KEEP_ID_JACCARD`. Every other new topic gets a new
id, above every id the space's runs have used (an id that disappeared is never given to another
topic), the largest first. Alignment changes ids only, never the partition: the map is built as
it would be without it and relabelled at the end, so a map stays reproducible from its inputs
and seed. The same is done at every level of the hierarchy (level ``L`` of the new run against
level ``L`` of the old, counted from the top) and for the sub-topics.

**Events** follow MONIC (Spiliopoulou, Ntoutsi, Theodoridis, Schult: "MONIC - Modeling and
Monitoring Cluster Transitions", KDD 2006), with the overlap of an old topic X with a new topic
Y being the share of X's documents that Y holds (``|X ∩ Y| / |X|``; a document deleted since
counts in X and in no Y):

* **survival** (here *continued*, or *grown* / *shrank* when its size changed by more than
  :data:`SIZE_CHANGE`): Y holds at least :data:`TAU` of X and no other old topic has as much
  of itself in Y;
* **absorption** (*merged*): two or more old topics each have at least :data:`TAU` of
  themselves in the same Y;
* **split**: no new topic holds :data:`TAU` of X, but the new topics holding at least
  :data:`TAU_SPLIT` of it each hold :data:`TAU` of it together;
* **disappearance** (*faded*): none of the above;
* **emergence** (*born*): a new topic no old topic survives in, is absorbed by or splits into.

Every event carries the counts behind it: the topics' sizes and the documents they share.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: MONIC's survival threshold: the share of an old topic a new topic must hold to continue it.
TAU = 0.5
#: The smallest share of an old topic a part of its split must hold.
TAU_SPLIT = 0.2
#: The Jaccard similarity at which a new topic takes an old topic's id (mutual best matches).
KEEP_ID_JACCARD = 0.5
#: A continued topic *grew* (or *shrank*) when its size changed by more than this share.
SIZE_CHANGE = 0.2
#: A namer's name stays with a continued topic whose membership changed less than this
#: (Jaccard at least this); an analyst's name always stays.
KEEP_NAME_JACCARD = 0.7

THRESHOLDS = {"tau": TAU, "tau_split": TAU_SPLIT, "keep_id_jaccard": KEEP_ID_JACCARD,
              "size_change": SIZE_CHANGE, "keep_name_jaccard": KEEP_NAME_JACCARD}


@dataclass(frozen=True, slots=True)
class Event:
    """One lineage event between an old run's nodes and a new run's, at one level."""

    kind: str  # continued, grown, shrank, merged, split, faded, born
    old: list[int]
    new: list[int]
    counts: dict[str, Any]

    def record(self, level: int) -> dict[str, Any]:
        return {"level": level, "event": self.kind, "old": self.old, "new": self.new, "counts": self.counts}


@dataclass(frozen=True, slots=True)
class Matching:
    """How one level's new nodes (by the ids the map gave them) relate to the old run's."""

    ids: dict[int, int]  # the map's id -> the id kept or given
    kept: dict[int, float]  # final id -> Jaccard with the old node of the same id (ids kept only)
    events: list[Event]
    next_id: int  # the smallest id never used at this level


def match_level(
    old: Mapping[str, int], new: Mapping[str, int], old_next: int = 0
) -> Matching:
    """Match the new nodes (``new``: document -> node, members only) to the old (``old``,
    the same for the old run; ``old_next``: the smallest id the old runs never used)."""
    old_size, new_size, shared = _overlap(old, new)
    jaccard = {(x, y): n / (old_size[x] + new_size[y] - n) for (x, y), n in shared.items()}
    best_new: dict[int, tuple[float, int]] = {}
    best_old: dict[int, tuple[float, int]] = {}
    for (x, y), j in sorted(jaccard.items()):  # ties: the smaller id
        if j > best_new.get(x, (-1.0, 0))[0]:
            best_new[x] = (j, y)
        if j > best_old.get(y, (-1.0, 0))[0]:
            best_old[y] = (j, x)
    ids: dict[int, int] = {}
    kept: dict[int, float] = {}
    for y, (j, x) in best_old.items():
        if j >= KEEP_ID_JACCARD and best_new.get(x, (0.0, -1))[1] == y:
            ids[y], kept[x] = x, round(j, 4)
    next_id = max([old_next, *(x + 1 for x in old_size)])
    for y in sorted((y for y in new_size if y not in ids), key=lambda y: (-new_size[y], y)):
        ids[y] = next_id
        next_id += 1
    return Matching(ids, kept, monic(old_size, new_size, shared, ids), next_id)


def carried(old: Mapping[str, int], new: Mapping[str, int], next_id: int) -> Matching:
    """The events between an old run's nodes and new nodes that kept their ids by construction
    (``patscape map --update``: the topics carried forward); ``next_id``: the smallest id never
    used, the new topics' included."""
    old_size, new_size, shared = _overlap(old, new)
    ids = {y: y for y in new_size}
    kept = {y: round(shared[(y, y)] / (old_size[y] + new_size[y] - shared[(y, y)]), 4) for y in new_size if y in old_size}
    return Matching(ids, kept, monic(old_size, new_size, shared, ids), next_id)


def _overlap(
    old: Mapping[str, int], new: Mapping[str, int]
) -> tuple[Counter[int], Counter[int], Counter[tuple[int, int]]]:
    """The old nodes' sizes, the new ones' and the documents each pair shares."""
    shared: Counter[tuple[int, int]] = Counter((x, new[d]) for d, x in old.items() if d in new)
    return Counter(old.values()), Counter(new.values()), shared


def monic(
    old_size: Mapping[int, int], new_size: Mapping[int, int], shared: Mapping[tuple[int, int], int],
    ids: Mapping[int, int],
) -> list[Event]:
    """The MONIC events between old nodes and new ones (by their final ``ids``); see the module."""
    share = {(x, y): n / old_size[x] for (x, y), n in shared.items()}
    holders: dict[int, list[int]] = {}  # new node -> the old nodes with TAU of themselves in it
    for (x, y), s in share.items():
        if s >= TAU:
            holders.setdefault(y, []).append(x)
    events: list[Event] = []
    reached: set[int] = set()
    for x in sorted(old_size):
        survivor = next((y for (a, y), s in share.items() if a == x and s >= TAU), None)
        if survivor is not None:
            reached.add(survivor)
            n = shared[(x, survivor)]
            counts = {"old_size": old_size[x], "new_size": new_size[survivor], "shared": n,
                      "overlap": round(share[(x, survivor)], 4),
                      "jaccard": round(n / (old_size[x] + new_size[survivor] - n), 4)}
            if len(holders[survivor]) > 1:
                continue  # absorption: one event per new node, below
            change = new_size[survivor] / old_size[x] - 1
            kind = "grown" if change > SIZE_CHANGE else "shrank" if change < -SIZE_CHANGE else "continued"
            events.append(Event(kind, [x], [ids[survivor]], counts))
            continue
        parts = sorted(y for (a, y), s in share.items() if a == x and s >= TAU_SPLIT)
        if len(parts) >= 2 and sum(share[(x, y)] for y in parts) >= TAU:
            reached.update(parts)
            events.append(Event("split", [x], sorted(ids[y] for y in parts), {
                "old_size": old_size[x], "parts": {str(ids[y]): shared[(x, y)] for y in parts},
                "overlap": round(sum(share[(x, y)] for y in parts), 4)}))
        else:
            events.append(Event("faded", [x], [], {
                "old_size": old_size[x], "largest_share": round(max((s for (a, _), s in share.items() if a == x), default=0.0), 4)}))
    for y, xs in sorted(holders.items()):
        if len(xs) > 1:
            events.append(Event("merged", sorted(xs), [ids[y]], {
                "new_size": new_size[y], "parts": {str(x): shared[(x, y)] for x in sorted(xs)}}))
    for y in sorted(new_size):
        if y not in reached:
            events.append(Event("born", [], [ids[y]], {"new_size": new_size[y],
                                                       "from_old": sum(n for (_, b), n in shared.items() if b == y)}))
    order = {"continued": 0, "grown": 1, "shrank": 2, "split": 3, "merged": 4, "faded": 5, "born": 6}
    return sorted(events, key=lambda e: (order[e.kind], e.old, e.new))


@dataclass(slots=True)
class PreviousRun:
    """What a new map is aligned to: the previous run's memberships at every level.

    ``levels[i]`` is document -> node of level ``i`` (top first, the topics last), members only;
    ``subtopics`` document -> sub-topic; ``next_ids`` the smallest id never used per level
    (:meth:`Alignment.next_ids`), carried from run to run."""

    run_id: int
    levels: list[dict[str, int]]
    subtopics: dict[str, int] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Alignment:
    """The new run's ids per level (the topics' last) and sub-topic ids, the events, and what
    the run records of it."""

    topic_ids: dict[int, int]
    level_ids: list[dict[int, int]]
    subtopic_ids: dict[int, int]
    matchings: list[Matching]
    sub_matching: Matching | None
    previous: int

    def summary(self) -> dict[str, Any]:
        topics = self.matchings[-1]
        counts = Counter(e.kind for e in topics.events)
        return {"aligned_to": self.previous, "thresholds": THRESHOLDS, "topics_kept": len(topics.kept),
                "events": dict(sorted(counts.items())),
                "next_ids": self.next_ids()}

    def next_ids(self) -> dict[str, int]:
        """The smallest id never used, per level (``L0``, ... above the topics, ``topics``,
        ``subtopics``): the next run's alignment starts its new ids there."""
        out = {f"L{i}": m.next_id for i, m in enumerate(self.matchings[:-1])}
        out["topics"] = self.matchings[-1].next_id
        if self.sub_matching is not None:
            out["subtopics"] = self.sub_matching.next_id
        return out

    def events(self) -> list[dict[str, Any]]:
        """Every event, level by level (the topics' level is ``len(levels) - 1``; the
        sub-topics' one more)."""
        out = [e.record(level) for level, m in enumerate(self.matchings) for e in m.events]
        if self.sub_matching is not None:
            out += [e.record(len(self.matchings)) for e in self.sub_matching.events]
        return out


def align(
    previous: PreviousRun,
    ids: Sequence[str],
    doc_levels: Sequence[NDArray[np.int64]],
    subtopics: NDArray[np.int64] | None = None,
) -> Alignment:
    """Match a new map (``doc_levels``: each document's node per level, top first, the topics
    last, aligned with ``ids``; ``subtopics``: each document's sub-topic, -1 for none) to
    ``previous``. Levels are matched from the top; a level the previous run lacks gets new ids
    from 0."""
    depth_old = len(previous.levels)
    depth_new = len(doc_levels)
    matchings: list[Matching] = []
    for i, labels in enumerate(doc_levels):
        # the topics match the old topics; a level above them the old level of the same index
        # from the top, where there is one above the old topics too
        topics = i == depth_new - 1
        old_index = depth_old - 1 if topics else i if i < depth_old - 1 else None
        old = previous.levels[old_index] if old_index is not None else {}
        key = "topics" if topics else f"L{i}"
        matchings.append(match_level(old, _members(ids, labels), previous.next_ids.get(key, 0)))
    sub_matching = None
    sub_ids: dict[int, int] = {}
    if subtopics is not None:
        sub_matching = match_level(previous.subtopics, _members(ids, subtopics), previous.next_ids.get("subtopics", 0))
        sub_ids = sub_matching.ids
    return Alignment(matchings[-1].ids, [m.ids for m in matchings[:-1]], sub_ids, matchings, sub_matching,
                     previous.run_id)


def align_map(
    previous: PreviousRun, ids: Sequence[str], labels: NDArray[np.int64], raw: NDArray[np.int64], tree: Any, sub: Any
) -> tuple[Alignment, NDArray[np.int64], NDArray[np.int64], Any, Any]:
    """A finished map's topics (``labels`` and HDBSCAN's ``raw`` labels of ``ids``), hierarchy
    and sub-topics with the ids of ``previous`` where they continue it: the alignment and the
    relabelled parts (ids only)."""
    alignment = align(previous, ids, tree.document_levels(labels), sub.labels if sub.parents else None)
    return (alignment, relabel(labels, alignment.topic_ids), relabel(raw, alignment.topic_ids),
            relabel_hierarchy(tree, alignment), relabel_subtopics(sub, alignment))


def _members(ids: Sequence[str], labels: NDArray[np.int64]) -> dict[str, int]:
    return {d: int(t) for d, t in zip(ids, labels.tolist()) if t >= 0}


def relabel(labels: NDArray[np.int64], mapping: Mapping[int, int]) -> NDArray[np.int64]:
    """``labels`` with each id replaced by ``mapping``'s (``-1`` stays)."""
    if not mapping:
        return labels.copy()
    lookup = np.full(max(max(mapping), int(labels.max(initial=-1))) + 2, -1, dtype=np.int64)
    for old, new in mapping.items():
        lookup[old] = new
    return lookup[labels]


def relabel_hierarchy(tree: Any, alignment: Alignment) -> Any:
    """``tree`` (a :class:`~.hierarchy.Hierarchy`) with the aligned ids at every level."""
    import dataclasses

    maps = [*alignment.level_ids, alignment.topic_ids]
    parents = [{maps[i + 1][child]: maps[i][parent] for child, parent in level.items()}
               for i, level in enumerate(tree.parents)]
    return dataclasses.replace(tree, parents=parents, topics=sorted(maps[-1][t] for t in tree.topics))


def relabel_subtopics(sub: Any, alignment: Alignment, labels: NDArray[np.int64] | None = None) -> Any:
    """``sub`` (:class:`~.subtopics.SubTopics`) with the aligned sub-topic and topic ids; its
    ``labels`` replaced by ``labels`` first when given (a sampled map's sample)."""
    import dataclasses

    ids, topics = alignment.subtopic_ids, alignment.topic_ids
    return dataclasses.replace(
        sub, labels=relabel(sub.labels if labels is None else labels, ids),
        parents={ids[s]: topics[t] for s, t in sub.parents.items()},
        centroids={ids[s]: c for s, c in sub.centroids.items()})
