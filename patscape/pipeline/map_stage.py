"""The map stage: a landscape of one space's vectors (fitted on a sample for a large corpus),
stored as a new run in one transaction."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from ..errors import InputError, StoreError
from ..landscape import Landscape, MapParams, build_landscape
from ..landscape.lineage import PreviousRun
from ..landscape.reduce import SecondProcess, background_for
from ..landscape.sample import BLOCK, build_sampled_landscape, sample_rows
from ..records import Document
from ..spaces import freeze_centring, pick_space, space_notice
from ..store import Store, crash_point


#: Plausible publication years (older or later dates are treated as unknown by the map).
FIRST_YEAR = 1790


def map_ready(docs: Sequence[Document]) -> tuple[list[Document], list[str]]:
    """Documents as the landscape reads them, with fields it cannot use set aside (a store
    ingested before validation existed may hold them): ``extra.landscape`` that is not a
    mapping, ``extra.cites`` that is not a list of ids, an implausible year. Checked before
    the expensive work so that a map never fails after clustering. Returns notices."""
    import datetime

    last_year = datetime.date.today().year + 2
    fixed: dict[str, int] = {}
    out: list[Document] = []
    for doc in docs:
        extra = doc.extra if isinstance(doc.extra, dict) else {}
        changes: dict[str, Any] = {}
        if "landscape" in extra and not isinstance(extra["landscape"], dict):
            extra = {k: v for k, v in extra.items() if k != "landscape"}
            fixed["extra.landscape is not a mapping"] = fixed.get("extra.landscape is not a mapping", 0) + 1
        cites = extra.get("cites")
        if cites is not None and not (isinstance(cites, list) and all(isinstance(c, str) for c in cites)):
            if isinstance(cites, str):
                extra = {**extra, "cites": [c for c in re.split(r"[;,|\s]+", cites) if c]}
            else:
                extra = {k: v for k, v in extra.items() if k != "cites"}
            fixed["extra.cites is not a list of ids"] = fixed.get("extra.cites is not a list of ids", 0) + 1
        if extra is not doc.extra:
            changes["extra"] = extra
        if doc.year is not None and not FIRST_YEAR <= doc.year <= last_year:
            changes["date"] = None
            fixed["implausible year"] = fixed.get("implausible year", 0) + 1
        out.append(replace(doc, **changes) if changes else doc)
    return out, [f"{n} documents: {what}; set aside for this map" for what, n in fixed.items()]


def build_map(
    store: Store,
    space_key: str | None = None,
    params: MapParams | None = None,
    seed: int = 42,
    on_stage: Callable[[str], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    align_to: int | None | bool = True,
    update: bool = False,
    relayout: bool = False,
) -> int:
    """Build a landscape from the vectors of one space and store it as a new run.

    Without ``space_key`` the newest complete space is used (:func:`pick_space`). The map is
    computed outside any transaction and stored in one: a killed map leaves no trace.
    ``align_to``: the run whose topic ids the new run keeps where its topics continue them
    (:mod:`patscape.landscape.lineage`): ``True`` for the newest run of the same space (if
    any), a run id, or ``False`` for none. ``update``: update the newest run of the space with
    the documents embedded, changed or deleted since (:mod:`patscape.landscape.update`) instead
    of mapping afresh; ``relayout``: with ``update``, draw the 2-D layout afresh.
    """
    if relayout and not update:
        raise InputError("--relayout goes with --update (a full map draws a new layout anyway)")
    space = pick_space(store, space_key)
    coverage, notice = space_notice(store, space)
    if notice and on_notice:
        on_notice(notice)
    freeze_centring(store, space, on_notice)  # a space that centres: its means frozen before the first map reads
    params = params or MapParams()
    head = store.vector_log_head(space.key)  # the next update takes the vectors changed after it
    if update:
        return _update_map(store, space, coverage, params, seed, on_stage, on_notice, head, relayout)
    previous = None
    if align_to is True:
        newest = store.newest_run(space.key)
        previous = store.previous_run(newest.id) if newest is not None else None
    elif align_to is not False and align_to is not None:
        target = store.get_run(int(align_to))
        if target.space != space.key:
            raise InputError(f"run {target.id} maps the space {target.space}, not {space.key}: "
                             "a map aligns to a run of its own space")
        previous = store.previous_run(target.id)
    n = coverage.embedded
    sampled = n > max(params.sample_above, params.sample_size)
    with SecondProcess(background_for(min(n, params.sample_size) if sampled else n)) as helper:
        helper.warm_up()  # the second process imports UMAP while this one reads the corpus
        if sampled:
            result = _sampled_map(store, space.key, n, params, seed, on_stage, on_notice, helper, previous)
        else:
            result = build_landscape(*_whole_corpus(store, space.key, on_notice), params, seed, on_stage, helper,
                                     previous)
    crash_point("map:computed")
    return _save(store, space, coverage, seed, result, head, previous.run_id if previous is not None else None)


def _whole_corpus(
    store: Store, space_key: str, on_notice: Callable[[str], None] | None
) -> tuple[list[str], Any, list[Document]]:
    """Every document of the space with its vector, as the map reads them (:func:`map_ready`)."""
    ids, vectors = store.load_vectors(space_key)
    docs, notices = map_ready(list(store.iter_documents(ids)))
    for line in notices:
        if on_notice:
            on_notice(line)
    return ids, vectors, docs


def _save(
    store: Store, space: Any, coverage: Any, seed: int, result: Landscape, head: int, parent: int | None,
    **more: Any,
) -> int:
    """Store a computed map as a new run (``parent``: the run it was aligned to or updated from;
    ``head``: the vector change log's position its vectors were read at); ``more`` goes into the
    run's params."""
    run_params = {
        "map": asdict(result.params),
        "sampling": result.sampling or {"sampled": False, "documents": len(result.ids)},
        "space": space.key,
        "model": space.model,
        "model_fingerprint": space.fingerprint,
        "embedding": space.params,
        "coverage": {"documents": coverage.documents, "embedded": coverage.embedded, "space_complete": space.complete},
        "aligned_to": parent,
        **more,
    }
    points = [
        (doc_id, int(label), int(raw), float(x), float(y))
        for doc_id, label, raw, (x, y) in zip(result.ids, result.labels, result.raw_labels, result.xy)
    ]
    topics = [
        (t["cluster"], t["label"], t["size"], {k: v for k, v in t.items() if k not in ("cluster", "label", "size")})
        for t in result.topics
    ]
    result.data["vector_seq"] = head
    return store.save_run(space.key, seed, run_params, result.metrics, result.data, points, topics, result.levels,
                          result.subtopics, result.subtopic_labels.tolist() if result.subtopic_labels is not None else None,
                          result.lineage, parent)


def _update_map(
    store: Store, space: Any, coverage: Any, params: MapParams, seed: int,
    on_stage: Callable[[str], None] | None, on_notice: Callable[[str], None] | None, head: int,
    relayout: bool = False,
) -> int:
    """``patscape map --update``: the newest run of ``space`` updated, stored as a new run."""
    from ..landscape.update import UpdateBase, update_landscape

    newest = store.newest_run(space.key)
    if newest is None:
        raise InputError(f"no run of the space {space.key} to update; run `patscape map` first")
    previous = store.previous_run(newest.id)
    points = {d: (c, x, y) for d, c, _, x, y in store.run_points(newest.id)}
    seq = newest.data.get("vector_seq")
    changed: set[str] = set()
    if seq is None:
        if on_notice:
            on_notice(f"run {newest.id} was made before updates existed: documents changed since it are not known "
                      "and keep their topics (new and deleted ones are handled)")
    else:
        changed = set(store.changed_documents(space.key, int(seq))[1])
    subtopics = store.run_subtopics(newest.id)
    min_size = int(((newest.data.get("hierarchy") or {}).get("subtopics") or {}).get("min_size") or 0)
    base = UpdateBase(previous, points, {s["node"]: s["parent"] for s in subtopics}, min_size, changed)
    ids, vectors, docs = _whole_corpus(store, space.key, on_notice)
    map_params = replace(params, **{k: v for k, v in newest.params.get("map", {}).items()
                                    if k in ("n_components", "n_neighbors", "min_samples", "max_cluster_share",
                                             "reassign_neighbours", "reassign_agreement", "label_lang",
                                             "map_min_dist", "sample_above", "sample_size")})
    result, _ = update_landscape(base, ids, vectors, docs, map_params, seed, on_stage, relayout)
    crash_point("map:computed")
    return _save(store, space, coverage, seed, result, head, newest.id, updated_from=newest.id)


def _sampled_map(
    store: Store,
    space_key: str,
    n: int,
    params: MapParams,
    seed: int,
    on_stage: Callable[[str], None] | None,
    on_notice: Callable[[str], None] | None,
    helper: SecondProcess | None = None,
    previous: PreviousRun | None = None,
) -> Landscape:
    """A map of ``n`` documents fitted on a sample (:mod:`patscape.landscape.sample`). Vectors
    are read twice, block by block (the sample, then the rest to place); the text of documents
    outside the sample is not kept (labels read the sample)."""
    changed = StoreError(f"the vectors of {space_key} changed while the map was built; run `patscape map` again")
    rows = sample_rows(n, params.sample_size, seed)
    ids: list[str] = []
    parts = []
    for block_ids, block in store.iter_vector_blocks(space_key, BLOCK):
        start = len(ids)
        ids.extend(block_ids)
        lo, hi = np.searchsorted(rows, [start, len(ids)])
        parts.append(block[rows[lo:hi] - start])
    if len(ids) != n:
        raise changed
    sample = np.concatenate(parts)
    # the texts of the sample only (labels read them); the rest without theirs, not even read
    sample_docs = {d.id: d for d in store.iter_documents([ids[i] for i in rows.tolist()])}
    docs, notices = map_ready([sample_docs.get(d.id, d) for d in store.iter_documents(ids, texts=False)])
    if len(docs) != n:
        raise changed
    for line in notices:
        if on_notice:
            on_notice(line)

    def blocks() -> Iterator[tuple[int, Any]]:
        start = 0
        for block_ids, block in store.iter_vector_blocks(space_key, BLOCK):
            if block_ids != ids[start : start + len(block_ids)]:
                raise changed
            yield start, block
            start += len(block_ids)

    return build_sampled_landscape(ids, rows, sample, blocks, docs, params.resolved(n), seed, on_stage, helper, previous)
