"""The ANN index beside a space's vector files (:mod:`patscape.vectors.disk`): when search uses
it, how it is built and read, and how hard a search walks it.

Why faiss HNSW: measured against usearch and hnswlib at 100k x 384/1024 (benchmarks/ann_choice.py,
docs/benchmarks.md): the fastest queries at recall@10 >= 0.95, 2x faster builds than usearch,
native filtered search (an ID bitmap checked during the graph walk), and indexes that open
memory-mapped. It cannot delete, which the append-only rows with a live mask do not need.

faiss is imported where it is used, not with this module: every command of the command line
imports this module, and only those that search or index should pay for faiss (0.4 s).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

#: Live document vectors from which search uses the ANN index (below: an exact scan).
DEFAULT_THRESHOLD = 50_000
#: A filter letting fewer rows than this through is answered by an exact scan of those rows.
EXACT_FILTERED = 20_000


def ann_threshold() -> int:
    value = os.environ.get("PATSCAPE_ANN_THRESHOLD", "")
    return int(value) if value.strip().isdigit() else DEFAULT_THRESHOLD


#: HNSW graph degree (``2 * HNSW_M`` links per vector at the base layer) and construction effort.
#: With ``HNSW_EF_CONSTRUCTION`` below ``2 * HNSW_M`` faiss keeps every candidate a new vector
#: finds as its base-layer links instead of thinning them by its diversity heuristic. Thinned,
#: the graph lost members of large dense topics: at 100k x 1024 (M 32, 128) the search missed
#: the stored document a query was made from (cosine 0.71, the next 0.45) for 8.8% of queries,
#: recall@10 0.969; kept whole (M 48, 90), 0.9% and 0.994, at 384 dimensions 0.0% and 0.995
#: (M 16, 128: 1.8% and 0.977), for a build 1.2x as long (1.37x at 1M) and 384 bytes of links
#: per vector (M 16: 128; docs/benchmarks.md, "Search at scale"). A landscape is such a corpus:
#: one technology, dense.
HNSW_M = 48
HNSW_EF_CONSTRUCTION = 90


def ef_search(k: int, rows: int = 0) -> int:
    """Search effort of the HNSW walk for ``k`` answers in an index of ``rows`` vectors.

    At a fixed effort recall falls as the graph grows: ef 256 found 98% of the true 10 nearest
    at 100k x 384 but 89% at 1M, where ef 512 finds 93% in 3.1 ms (p50; the exact scan takes
    45 ms; docs/benchmarks.md, "Search at scale"). So the effort grows with the square root of
    the index above 250,000 vectors (512 at 1M). ``PATSCAPE_ANN_EF`` sets it outright.
    """
    value = os.environ.get("PATSCAPE_ANN_EF", "")
    if value.strip().isdigit():
        base = int(value)
    else:
        base = round(256 * max(1.0, rows / 250_000) ** 0.5)
    return max(base, 2 * k)


def _new_index(dims: int, dtype: str) -> Any:
    import faiss

    if dtype == "float16":
        index = faiss.IndexHNSWSQ(dims, faiss.ScalarQuantizer.QT_fp16, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.train(np.zeros((1, dims), dtype=np.float32))
    else:
        index = faiss.IndexHNSWFlat(dims, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    return index


def index_m(index: Any) -> int | None:
    """The ``M`` an HNSW index was built with (``None`` for another kind of index)."""
    import faiss

    hnsw = getattr(faiss.downcast_index(index), "hnsw", None)
    return None if hnsw is None else int(hnsw.nb_neighbors(0)) // 2


def _read_index(path: Path) -> Any:
    import faiss

    try:  # mapped, not read: a served index costs page cache, not process memory
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    except RuntimeError:
        return faiss.read_index(str(path))
