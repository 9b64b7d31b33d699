"""Nearest neighbours in cosine space (unit vectors): exact by blocks, approximate when large."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

EXACT_LIMIT = 60_000


def nearest_neighbours(
    vectors: NDArray[np.float32], k: int, seed: int = 0, block: int = 2048
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Indices and cosine distances of each row's ``k`` nearest rows, itself first.

    Exact (blocked matrix products) up to ``EXACT_LIMIT`` rows, NN-descent above. Shapes
    ``(n, k)``; ties are broken by index so the result is deterministic.
    """
    n = len(vectors)
    k = min(k, n)
    if n > EXACT_LIMIT:
        from pynndescent import NNDescent

        index = NNDescent(vectors, n_neighbors=k, metric="cosine", random_state=seed, n_jobs=1)
        idx, dist = index.neighbor_graph
        return idx.astype(np.int64), dist.astype(np.float32)
    idx = np.zeros((n, k), dtype=np.int64)
    dist = np.zeros((n, k), dtype=np.float32)
    for start in range(0, n, block):
        sims = vectors[start : start + block] @ vectors.T
        rows = np.arange(sims.shape[0])
        sims[rows, start + rows] = np.inf  # itself first
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        part_sims = np.take_along_axis(sims, part, axis=1)
        order = np.lexsort((part, -part_sims), axis=1)
        idx[start : start + block] = np.take_along_axis(part, order, axis=1)
        chosen = np.take_along_axis(part_sims, order, axis=1)
        chosen[:, 0] = 1.0
        dist[start : start + block] = np.clip(1.0 - chosen, 0.0, 2.0)
    return idx, dist
