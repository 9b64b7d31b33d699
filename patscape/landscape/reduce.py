"""Dimensionality reduction with UMAP (cosine), seeded: an N-D space for clustering and a 2-D map."""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray


def umap_reduce(
    vectors: NDArray[np.float32],
    knn: tuple[NDArray[np.int64], NDArray[np.float32]],
    n_components: int,
    n_neighbors: int,
    min_dist: float,
    seed: int,
) -> NDArray[np.float32]:
    """UMAP embedding of ``vectors`` (n, dims) into (n, n_components), reusing a precomputed kNN.

    With a fixed ``seed`` UMAP runs single-threaded and gives the same result every time.
    """
    import umap

    n = len(vectors)
    if n <= n_components + 1:
        raise ValueError(f"too few points ({n}) for a {n_components}-D UMAP")
    idx, dist = knn
    k = min(n_neighbors, idx.shape[1], n - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reducer = umap.UMAP(
            n_components=n_components,
            n_neighbors=k,
            min_dist=min_dist,
            metric="cosine",
            random_state=seed,
            init="spectral" if n > n_components + 10 else "random",
            precomputed_knn=(idx[:, :k], dist[:, :k], None),
        )
        out = reducer.fit_transform(vectors)
    return np.asarray(out, dtype=np.float32)
