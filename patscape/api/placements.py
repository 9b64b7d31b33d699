"""New documents on an existing map, until the next ``patscape map``.

A document uploaded to a served corpus has a vector but no place on the newest run. It is put
at the similarity-weighted mean of the x/y of its ``k`` nearest mapped neighbours, and given
the topic they vote for (votes weighted by similarity). Placements are stored by the store
(``Store.save_placements``), keyed by run: a new run makes them obsolete, since
``patscape map`` places every document for real.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from ..store import Placement, Store

NEIGHBOURS = 10


def place(
    run_xy: NDArray[np.float32],
    run_clusters: NDArray[np.int64],
    run_vectors: NDArray[np.float32],
    new_vectors: NDArray[np.float32],
    k: int = NEIGHBOURS,
) -> tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.int64]]:
    """Positions, topics and neighbour rows of new points among mapped ones.

    ``run_vectors`` (m, d) and ``new_vectors`` (n, d) are unit rows; ``run_xy`` is (m, 2) and
    ``run_clusters`` (m,). Returns ``xy`` (n, 2), ``clusters`` (n,) and ``neighbours`` (n, k)
    (row indices into the mapped points, nearest first). Weights are the cosine similarities,
    floored at a small positive value so that a point always has a place.
    """
    k = min(k, len(run_vectors))
    sims = new_vectors @ run_vectors.T  # (n, m)
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    part_sims = np.take_along_axis(sims, part, axis=1)
    order = np.lexsort((part, -part_sims), axis=1)
    nearest = np.take_along_axis(part, order, axis=1)
    weights = np.clip(np.take_along_axis(part_sims, order, axis=1), 1e-6, None)
    xy = (weights[:, :, None] * run_xy[nearest]).sum(axis=1) / weights.sum(axis=1, keepdims=True)
    clusters = np.empty(len(new_vectors), dtype=np.int64)
    for i in range(len(new_vectors)):
        votes: dict[int, float] = defaultdict(float)
        for j, w in zip(nearest[i], weights[i]):
            votes[int(run_clusters[j])] += float(w)
        # The heaviest vote wins; a tie goes to a topic over outliers, then to the lower id.
        clusters[i] = max(votes.items(), key=lambda kv: (round(kv[1], 9), kv[0] >= 0, -kv[0]))[0]
    return xy.astype(np.float32), clusters, nearest.astype(np.int64)


def place_unmapped(store: Store, run_id: int, k: int = NEIGHBOURS, only: Iterable[str] | None = None) -> list[Placement]:
    """Place every document with a vector in the run's space that is neither mapped nor placed.

    ``only`` limits the work to those ids (placed again if they were placed before). The placements are stored in one transaction and
    returned.
    """
    run = store.get_run(run_id)
    with store.snapshot():  # vectors and the text they were computed from, as of one instant
        mapped = store.run_points(run.id)
        ids, vectors = store.load_vectors(run.space)
        hashes = store.content_hashes(list(only) if only is not None else ids)
    row = {doc_id: i for i, doc_id in enumerate(ids)}
    mapped = [p for p in mapped if p[0] in row]
    if not mapped:
        return []
    wanted = set(only) if only is not None else None
    placed = {p.doc_id for p in store.placements(run.id)}
    # Asked-for documents are placed again (their content, so their vector, may have changed).
    done = {p[0] for p in mapped} | (placed - wanted if wanted is not None else placed)
    new_ids = [doc_id for doc_id in ids if doc_id not in done and (wanted is None or doc_id in wanted)]
    if not new_ids:
        return []
    run_rows = [row[p[0]] for p in mapped]
    xy, clusters, nearest = place(
        np.array([(p[3], p[4]) for p in mapped], dtype=np.float32),
        np.array([p[1] for p in mapped], dtype=np.int64),
        vectors[run_rows],
        vectors[[row[doc_id] for doc_id in new_ids]],
        k,
    )
    result = [
        Placement(doc_id, int(clusters[i]), float(xy[i, 0]), float(xy[i, 1]), tuple(mapped[j][0] for j in nearest[i]))
        for i, doc_id in enumerate(new_ids)
    ]
    kept = store.save_placements(run.id, result, hashes)
    return [p for p in result if p.doc_id in kept]
