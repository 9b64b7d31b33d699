"""The alluvial (Sankey) views of a landscape's lineage: where each topic's documents went from
one run to the next, and, within one run, which earlier topic each period's patents build on.

Both views have the same shape: columns (runs, or time windows), each with its nodes (the topics,
or the nodes of a level above them, counted from the top: ``level`` 0; None for the topics) and
two places, ``-1`` and ``-2`` (what they hold is said per view in ``places``), and the flows
between consecutive columns (``before``, ``after``: their keys), ``{source, target, documents}``,
largest first.

**Across runs** (:func:`flows`). A run's chain is the run and the runs it was updated from or
aligned to, oldest first (each run records its parent). A flow joins a node of the earlier run
to a node of the later one, its width the documents they share; ``-1`` holds a run's outliers,
``-2`` the documents it did not map (not yet embedded, or deleted since), so every document of
either run flows somewhere and new and deleted documents show as such.

**Across time windows of one run** (:func:`window_flows`). The run's patents are cut into
windows of ``years`` years by their date (priority, else filing, else publication date, as the
bursts read them), the last window ending with the last year, the earliest holding everything
before (at most :data:`MAX_WINDOWS`); a window without patents is left out (said in ``empty``). A patent of a window flows *from* the topic its nearest
patents of the window before are in *to* its own topic: the similarity-weighted vote of its
``reassign_neighbours`` nearest there (the run's own placement rule, as ``map --update`` places
a new patent), a neighbour farther than that window's 1% nearest-neighbour floor not voting. So
a topic of 2016-2020 drawing on two topics of 2011-2015 shows as two flows into it, a topic
whose successors spread over several topics as a split, and a patent with no earlier patent
near it flows from ``-2`` ("nothing near before"). ``-1`` holds outliers on either side. Each
window's patents are at most :data:`WINDOW_SAMPLE` (a seeded sample above; the counts are then
the sample's, and the view says so).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from .errors import InputError, NotFoundError
from .store import RunInfo, Store

OUTLIERS = -1
ABSENT = -2
#: Runs a chain shows by default (the run and the three before it).
CHAIN = 4
MAX_CHAIN = 12
#: Documents listed for one flow by default.
FLOW_DOCUMENTS = 200
#: Windows of one run, at most (the earliest holds every year before the others).
MAX_WINDOWS = 8
#: Patents of one window looked at, at most (a seeded sample above).
WINDOW_SAMPLE = 20000


def parent_of(run: RunInfo) -> int | None:
    """The run ``run`` was updated from or aligned to (None: numbered afresh)."""
    parent = run.params.get("updated_from") or run.params.get("aligned_to")
    return int(parent) if parent is not None else None


def chain(store: Store, run_id: int, runs: int = CHAIN) -> list[RunInfo]:
    """``run_id`` and up to ``runs - 1`` of its ancestors (parents still stored), oldest first."""
    if not 1 <= runs <= MAX_CHAIN:
        raise InputError(f"runs must be 1 to {MAX_CHAIN}")
    found = [store.get_run(run_id)]
    while len(found) < runs:
        parent = parent_of(found[-1])
        if parent is None or parent in {r.id for r in found}:
            break
        try:
            found.append(store.get_run(parent))
        except NotFoundError:  # the parent was deleted: the chain ends there
            break
    return found[::-1]


def _level_of(store: Store, run: RunInfo, level: int | None) -> tuple[int, dict[str, int], dict[int, dict[str, Any]]]:
    """The level shown for ``run`` (from the top; its topics' where it has fewer levels), each
    mapped document's node there (outliers -1), and the nodes' label and size."""
    if level is not None and level < 0:
        raise InputError("level counts from 0 (the top)")
    memberships = store.run_memberships(run.id)
    topics_level = len(memberships) - 1
    shown = topics_level if level is None else min(level, topics_level)
    nodes: dict[int, dict[str, Any]] = {}
    if shown == topics_level:
        for t in store.run_topics(run.id):
            nodes[int(t["cluster"])] = {"label": t["label"], "size": int(t["size"])}
    else:
        for n in store.run_levels(run.id)[shown]:
            nodes[int(n["node"])] = {"label": n["label"], "size": int(n["size"])}
    members = memberships[shown]
    placed = {doc_id: members.get(doc_id, OUTLIERS) for doc_id, _, _, _, _ in store.run_points(run.id)}
    return shown, placed, nodes


def node_labels(store: Store, run: RunInfo, level: int) -> dict[int, str]:
    """The labels (names where given) of a run's nodes at ``level`` (its topics' at the last)."""
    levels = store.run_levels(run.id)
    if level >= len(levels):
        return {int(t["cluster"]): t["label"] for t in store.run_topics(run.id)}
    return {int(n["node"]): n["label"] for n in levels[level]}


def _pair(keys: tuple[int, int], pairs: Iterable[tuple[str, int, int]], min_documents: int, members: int | None) -> dict[str, Any]:
    """One pair of columns: its flows (``(document, source, target)`` each), largest first,
    those under ``min_documents`` counted apart; ``members``: document ids listed per flow (None:
    all of them, 0: none)."""
    counts: Counter[tuple[int, int]] = Counter()
    listed: dict[tuple[int, int], list[str]] = {}
    for doc_id, source, target in sorted(pairs):
        key = (source, target)
        counts[key] += 1
        if members is None or counts[key] <= members:
            listed.setdefault(key, []).append(doc_id)
    shown = sorted(((s, t, n) for (s, t), n in counts.items() if n >= min_documents), key=lambda f: (-f[2], f[0], f[1]))
    return {
        "before": keys[0], "after": keys[1],
        "flows": [{"source": s, "target": t, "documents": n, **({"ids": listed[(s, t)]} if members != 0 else {})}
                  for s, t, n in shown],
        "left_out": {"flows": len(counts) - len(shown), "documents": sum(n for n in counts.values() if n < min_documents)},
        "kept": sum(n for (s, t), n in counts.items() if s == t and s >= 0),
    }


def _check(min_documents: int) -> None:
    if min_documents < 1:
        raise InputError("min_documents must be at least 1")


def flows(
    store: Store, run_id: int, runs: int = CHAIN, level: int | None = None, min_documents: int = 1, members: int = 0,
) -> dict[str, Any]:
    """The alluvial view of ``run_id``'s chain of runs (oldest first) at ``level``: the flows
    between consecutive runs of ``min_documents`` and more (the flows left out counted per pair);
    ``members``: each flow lists up to that many of its documents (by id)."""
    _check(min_documents)
    runs_shown = chain(store, run_id, runs)
    columns, placements = [], []
    for run in runs_shown:
        shown, placed, nodes = _level_of(store, run, level)
        placements.append(placed)
        columns.append({
            "key": run.id, "title": f"run {run.id}" + (f" · {run.data['name']}" if run.data.get("name") else ""),
            "run": run.id, "name": run.data.get("name"), "created_at": run.created_at, "level": shown,
            "nodes": [{"node": n, "label": rec["label"], "size": rec["size"]} for n, rec in sorted(nodes.items())],
            "outliers": sum(1 for v in placed.values() if v == OUTLIERS), "documents": len(placed),
        })
    pairs = []
    for i in range(len(runs_shown) - 1):
        a, b = placements[i], placements[i + 1]
        moves = ((d, a.get(d, ABSENT), b.get(d, ABSENT)) for d in set(a) | set(b))
        pairs.append(_pair((runs_shown[i].id, runs_shown[i + 1].id), moves, min_documents, members))
    return {"kind": "runs", "run": run_id, "level": level, "columns": columns, "pairs": pairs,
            "min_documents": min_documents,
            "places": {str(OUTLIERS): "outliers", str(ABSENT): "not in this run"}}


def flow_documents(
    store: Store, from_run: int, to_run: int, source: int, target: int, level: int | None = None,
    limit: int = FLOW_DOCUMENTS,
) -> dict[str, Any]:
    """The documents of one flow between runs: in node ``source`` of ``from_run`` and node
    ``target`` of ``to_run`` (``-1`` outliers, ``-2`` not in that run), the first ``limit`` by id
    with their titles, and how many there are."""
    if from_run == to_run:
        raise InputError("a flow joins two different runs")
    _, a, _ = _level_of(store, store.get_run(from_run), level)
    _, b, _ = _level_of(store, store.get_run(to_run), level)
    ids = sorted(d for d in set(a) | set(b) if a.get(d, ABSENT) == source and b.get(d, ABSENT) == target)
    return _listed(store, ids, limit, {"before": from_run, "after": to_run, "source": source, "target": target})


def _listed(store: Store, ids: list[str], limit: int, head: dict[str, Any]) -> dict[str, Any]:
    if limit < 1:
        raise InputError("limit must be at least 1")
    shown = ids[:limit]
    titles = store.titles(shown)
    return {**head, "count": len(ids), "documents": [{"id": d, "title": titles.get(d, "")} for d in shown]}


# -- across time windows of one run ------------------------------------------------------------
def windows_of(years_of: dict[str, int], years: int) -> list[tuple[int, int]]:
    """``(first, last)`` year of each window of ``years`` years, oldest first: the last ends with
    the last year, the earliest starts with the first year (and holds every year before the
    others when there would be more than :data:`MAX_WINDOWS`)."""
    if years < 1:
        raise InputError("a window is at least one year")
    first, last = min(years_of.values()), max(years_of.values())
    bounds = []
    end = last
    while end >= first:
        bounds.append((max(first, end - years + 1), end))
        end -= years
    bounds = bounds[::-1]
    if len(bounds) > MAX_WINDOWS:
        kept = bounds[-MAX_WINDOWS:]
        bounds = [(first, kept[0][1]), *kept[1:]]
    return bounds


def window_flows(
    store: Store, run_id: int, years: int = 5, level: int | None = None, min_documents: int = 1,
    members: int | None = 0, seed: int = 42,
) -> dict[str, Any]:
    """The alluvial view of run ``run_id`` across time windows of ``years`` years (see the
    module's text): per window, its patents' nodes at ``level``, and per pair of consecutive
    windows, each later patent's flow from the node its nearest earlier patents are in to its
    own. ``members``: document ids listed per flow (None: all)."""
    from .emerging import date_of

    _check(min_documents)
    run = store.get_run(run_id)
    shown, placed, nodes = _level_of(store, run, level)
    dated: dict[str, int] = {}
    sources: Counter[str] = Counter()
    for doc in store.iter_documents(list(placed), texts=False):
        value, source = date_of(doc)
        sources[source] += 1
        if value is not None:
            dated[doc.id] = int(value[:4])
    if not dated:
        raise InputError(f"no patent of run {run.id} has a date (priority, filing or publication): "
                         "time windows need dated patents; ingest records with a date field")
    bounds = windows_of(dated, years)
    # a window without patents is left out: the next one is compared with the one before it
    held = {next(i for i, (lo, hi) in enumerate(bounds) if y <= hi) for y in set(dated.values())}
    empty = [f"{lo}–{hi}" if lo != hi else str(lo) for i, (lo, hi) in enumerate(bounds) if i not in held]
    first_bound = bounds[0]
    bounds = [b for i, b in enumerate(bounds) if i in held]
    window_of = {d: next(i for i, (lo, hi) in enumerate(bounds) if y <= hi) for d, y in dated.items()}
    rng = np.random.default_rng(seed)
    members_of: list[list[str]] = [[] for _ in bounds]
    for d in sorted(window_of):
        members_of[window_of[d]].append(d)
    sampled = []
    for i, ids in enumerate(members_of):
        if len(ids) > WINDOW_SAMPLE:
            members_of[i] = sorted(rng.choice(ids, WINDOW_SAMPLE, replace=False).tolist())
            sampled.append(i)
    wanted = {d: (i, j) for i, ids in enumerate(members_of) for j, d in enumerate(ids)}
    space = store.get_space(run.space)
    vectors = [np.zeros((len(ids), space.dims), dtype=np.float32) for ids in members_of]
    found = [np.zeros(len(ids), dtype=bool) for ids in members_of]
    for ids, block in store.iter_vector_blocks(run.space):
        for row, d in enumerate(ids):
            where = wanted.get(d)
            if where is not None:
                vectors[where[0]][where[1]] = block[row]
                found[where[0]][where[1]] = True
    params = run.params.get("map") or {}
    k_near = int(params.get("reassign_neighbours") or 15)
    columns = []
    for i, ids in enumerate(members_of):
        per_node = Counter(placed[d] for d in ids)
        title = f"{bounds[i][0]}–{bounds[i][1]}" if bounds[i][0] != bounds[i][1] else str(bounds[i][0])
        if i == 0 and bounds[0] == first_bound and first_bound[1] - first_bound[0] + 1 > years:
            title = f"to {bounds[0][1]}"
        columns.append({
            "key": i, "title": title, "first": bounds[i][0], "last": bounds[i][1], "level": shown,
            "nodes": [{"node": n, "label": nodes[n]["label"], "size": c} for n, c in sorted(per_node.items()) if n >= 0],
            "outliers": per_node.get(OUTLIERS, 0), "documents": len(ids), "sampled": i in sampled,
        })
    pairs = []
    for i in range(len(members_of) - 1):
        earlier = [j for j in range(len(members_of[i])) if found[i][j]]
        later = [j for j in range(len(members_of[i + 1])) if found[i + 1][j]]
        before = np.asarray([placed[members_of[i][j]] for j in earlier], dtype=np.int64)
        source = descend(vectors[i][earlier], before, vectors[i + 1][later], k_near, seed)
        moves = ((members_of[i + 1][j], int(s), placed[members_of[i + 1][j]]) for j, s in zip(later, source.tolist()))
        pairs.append(_pair((i, i + 1), moves, min_documents, members))
    return {
        "kind": "windows", "run": run.id, "level": level, "years": years, "columns": columns, "pairs": pairs,
        "min_documents": min_documents, "dates": dict(sources), "sampled": [columns[i]["title"] for i in sampled],
        "empty": empty,
        "neighbours": k_near,
        "places": {str(OUTLIERS): "outliers", str(ABSENT): "nothing near before"},
    }


def descend(
    earlier: np.ndarray, earlier_nodes: np.ndarray, later: np.ndarray, k: int, seed: int = 42,
) -> np.ndarray:
    """Where each of the ``later`` (unit) vectors comes from among the ``earlier`` ones, whose
    nodes are ``earlier_nodes`` (-1 outliers): the node with the largest summed cosine among its
    ``k`` nearest earlier vectors (ties: the smaller), a neighbour less similar than the earlier
    vectors' own 1% nearest-neighbour floor not voting; ``-2`` where none is that near."""
    from .landscape.sample import SampleIndex, vote
    from .landscape.update import fit_floor

    source = np.full(len(later), ABSENT, dtype=np.int64)
    k = min(k, len(earlier))
    if not k or not len(later):
        return source
    index = SampleIndex(earlier, seed)
    floor = fit_floor(index, earlier, seed) if len(earlier) > 1 else -1.0
    idx, sims = index.search(later, k)
    near = sims >= floor
    weights = np.where(near, np.maximum(sims, 1e-6), 0.0).astype(np.float32)
    voted = vote(earlier_nodes[idx], weights)
    return np.where(near.any(axis=1), voted, ABSENT)


def window_flow_documents(
    store: Store, run_id: int, years: int, window: int, source: int, target: int, level: int | None = None,
    limit: int = FLOW_DOCUMENTS, view: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The patents of window ``window`` (its index, from 1: the first has no window before)
    flowing from node ``source`` of the window before to ``target``; ``view``: the windows' view
    made with every member listed (``members=None``), else computed here."""
    view = view or window_flows(store, run_id, years, level, members=None)
    pair = next((p for p in view["pairs"] if p["after"] == window), None)
    if pair is None:
        raise NotFoundError(f"no window {window} after another: windows 1 to {len(view['columns']) - 1} have one before")
    ids = next((f["ids"] for f in pair["flows"] if f["source"] == source and f["target"] == target), [])
    return _listed(store, list(ids), limit, {"before": window - 1, "after": window, "source": source, "target": target})

