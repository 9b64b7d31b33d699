"""The files of a space's vectors beside the store (:mod:`patscape.vectors.disk`): where they
are, how each generation names them, how its rows are mapped, and how the store's rows become
theirs.

``STORE/vectors/<space>/``
    ``slots.sqlite``             which document (and passage) each row holds, and whether the row
                                 is live; the change of the store (``vector_log``) applied so far
                                 (:mod:`patscape.vectors.slots`)
    ``docs.<gen>.<dtype>``       document vectors, one row per slot, float32 or float16
    ``passages.<gen>.<dtype>``   passage vectors (de-quantised from the store's int8), one per slot
    ``passages.<gen>.doc``       int32: the document slot of each passage row
    ``docs.<gen>.faiss``         HNSW graph over the document rows (above the threshold), and
    ``passages.<gen>.faiss``     the same over passage rows (:mod:`patscape.vectors.hnsw`)
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..store import Store

FORMAT = 1
DIR = "vectors"
DTYPES = {"float32": np.float32, "float16": np.float16}
BLOCK = 32768


def directory(store: Store, space_key: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", space_key)[:80]
    return store.path / DIR / f"{slug}-{hashlib.sha1(space_key.encode()).hexdigest()[:8]}"


class _Table:
    """Rows of one kind (docs or passages) in one generation, memory-mapped read-only."""

    def __init__(self, folder: Path, name: str, gen: int, dtype: str, dims: int, rows: int) -> None:
        self.name, self.rows, self.dims = name, rows, dims
        self.path = folder / f"{name}.{gen}.{dtype}"
        self.index_path = folder / f"{name}.{gen}.faiss"
        self.doc_path = folder / f"{name}.{gen}.doc"
        self.matrix: NDArray[Any] | None = None
        if rows:
            self.matrix = np.memmap(self.path, dtype=DTYPES[dtype], mode="r", shape=(rows, dims))
        self.doc_slot: NDArray[np.int32] | None = None
        if name == "passages" and rows:
            self.doc_slot = np.memmap(self.doc_path, dtype=np.int32, mode="r", shape=(rows,))
        self.index: Any = None
        self.index_rows = 0


def _matrix(blobs: list[bytes], dims: int, dtype: type) -> NDArray[Any]:
    if not blobs:
        return np.zeros((0, dims), dtype=dtype)
    return np.frombuffer(b"".join(blobs), dtype=dtype).reshape(len(blobs), dims)


def _dequantize(rows: list[Any], dims: int) -> NDArray[np.float32]:
    """Passage rows ``(doc_id, field, start, end, int8 blob, scale)`` as float32 vectors."""
    q = _matrix([r[4] for r in rows], dims, np.int8).astype(np.float32)
    return q * np.asarray([r[5] for r in rows], dtype=np.float32)[:, None]


def _flush(handle: Any) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _truncate(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size > size:
        with open(path, "r+b") as handle:
            handle.truncate(size)
