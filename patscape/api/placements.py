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
from ..vectors import VectorSource
from ..vectors.disk import SpaceVectors

NEIGHBOURS = 10


def locate(xy: NDArray[np.float32], clusters: NDArray[np.int64], sims: NDArray[np.float32]) -> tuple[NDArray[np.float32], int]:
    """Where a new point goes given its neighbours (nearest first): the similarity-weighted mean
    of their positions, and the topic their similarity-weighted votes choose. Weights are floored
    at a small positive value so that a point always has a place."""
    weights = np.clip(np.asarray(sims, dtype=np.float64), 1e-6, None)
    position = (weights[:, None] * xy).sum(axis=0) / weights.sum()
    votes: dict[int, float] = defaultdict(float)
    for c, w in zip(clusters, weights):
        votes[int(c)] += float(w)
    # The heaviest vote wins; a tie goes to a topic over outliers, then to the lower id.
    cluster = max(votes.items(), key=lambda kv: (round(kv[1], 9), kv[0] >= 0, -kv[0]))[0]
    return position.astype(np.float32), cluster


def place_unmapped(
    store: Store, run_id: int, k: int = NEIGHBOURS, only: Iterable[str] | None = None, vectors: VectorSource | None = None,
) -> list[Placement]:
    """Place every document with a vector in the run's space that is neither mapped nor placed.

    ``only`` limits the work to those ids (placed again if they were placed before). Neighbours
    are found through ``vectors`` when given (``serve --vector-store`` holding the run's space),
    else the space's vector files (the ANN index on a large corpus), never by loading every
    vector. The placements are stored in one transaction and returned.
    """
    run = store.get_run(run_id)
    space = store.get_space(run.space)
    with store.snapshot():  # vectors and the text they were computed from, as of one instant
        new_ids = store.unplaced_ids(run.id, run.space, list(only) if only is not None else None)
        rows = [r for batch in store.iter_vector_rows(run.space, new_ids) for r in batch]
        hashes = store.content_hashes(new_ids)
    if not rows:
        return []
    files: VectorSource = vectors if vectors is not None else SpaceVectors.open(store, space)
    result = []
    for doc_id, blob in rows:
        vector = np.frombuffer(blob, dtype=np.float32)
        neighbours = _mapped_neighbours(store, files, run.id, vector, k)
        if not neighbours:
            continue
        xy, cluster = locate(
            np.array([(x, y) for _, (_, x, y), _ in neighbours], dtype=np.float32),
            np.array([c for _, (c, _, _), _ in neighbours], dtype=np.int64),
            np.array([s for _, _, s in neighbours], dtype=np.float32),
        )
        result.append(Placement(doc_id, cluster, float(xy[0]), float(xy[1]), tuple(n[0] for n in neighbours)))
    kept = store.save_placements(run.id, result, hashes)
    return [p for p in result if p.doc_id in kept]


def _mapped_neighbours(
    store: Store, files: VectorSource, run_id: int, vector: NDArray[np.float32], k: int
) -> list[tuple[str, tuple[int, float, float], float]]:
    """The ``k`` nearest documents on the run: ``(id, (cluster, x, y), cosine)``, nearest first."""
    wanted = 4 * k
    while True:
        found = files.nearest(vector, wanted)
        points = store.run_points_of(run_id, [doc_id for doc_id, _ in found])
        mapped = [(doc_id, points[doc_id], score) for doc_id, score in found if doc_id in points]
        if len(mapped) >= k or len(found) < wanted:
            return mapped[:k]
        wanted *= 4
