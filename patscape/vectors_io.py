"""Vectors made elsewhere (a GPU cluster, vLLM batch jobs, Ray) imported into a store.

``import_vectors`` streams a Parquet file (an id column and a vector column, as a list or a
fixed-size list of floats) or a ``.npy`` matrix with its ids, checks every row (dimension,
NaN/inf, zero vectors, unknown and repeated ids), normalises rows to unit length and stores
them, batch by batch, as an embedding space of the named model. The space is complete when the
file covers every document. A killed import keeps its committed batches; running it again
stores the rest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .errors import InputError
from .spaces import model_slug
from .store import Space, Store, VectorRow
from .vectors.sync import sync_vector_files

BATCH = 4096


@dataclass(slots=True)
class ImportReport:
    space: Space
    rows: int = 0
    stored: int = 0
    unknown_ids: int = 0
    repeated_ids: int = 0
    not_finite: int = 0
    zero: int = 0
    missing: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    def note(self, kind: str, doc_id: str) -> None:
        shown = self.examples.setdefault(kind, [])
        if len(shown) < 3:
            shown.append(doc_id)


def import_vectors(
    store: Store,
    path: str | Path,
    model: str,
    *,
    id_column: str = "id",
    vector_column: str = "vector",
    ids_path: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> ImportReport:
    """Store the vectors of ``path`` as the space of ``model`` (the name queries will use).

    Rows whose id is not in the store, or that repeat an id, hold NaN/inf, are all zero or have
    another dimension are skipped and counted; the first dimension seen is the space's.
    ``on_notice`` receives one-line notices about the vector files written beside the store.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    batches = _batches(path, id_column, vector_column, ids_path)
    first_ids, first = next(batches, ([], np.zeros((0, 0), dtype=np.float32)))
    if first.ndim != 2 or first.shape[1] < 1:
        raise InputError(f"{path}: no vectors found")
    dims = int(first.shape[1])
    source = hashlib.sha256(f"{model}\n{dims}".encode()).hexdigest()[:10]
    params = {"task": "document", "imported": {"file": str(path.resolve()), "id_column": id_column,
                                               "vector_column": vector_column}, "fields": [], "loader": {}}
    space = Space(f"imported-{model_slug(model)}-{dims}-{source}", model, f"imported:{source}", dims, params)
    store.ensure_space(space)
    report = ImportReport(store.get_space(space.key))
    seen: set[str] = set()

    def chunks() -> Iterator[tuple[list[str], NDArray[np.float32]]]:
        yield first_ids, first
        yield from batches

    for ids, matrix in chunks():
        if matrix.ndim != 2 or matrix.shape[1] != dims:
            raise InputError(f"{path}: vectors of {matrix.shape[-1] if matrix.ndim else 0} dimensions after "
                             f"{report.rows} rows of {dims}; every vector must have the same dimension")
        report.rows += len(ids)
        hashes = store.content_hashes(ids)
        norms = np.linalg.norm(matrix, axis=1)
        finite = np.isfinite(matrix).all(axis=1)
        rows: list[VectorRow] = []
        for i, doc_id in enumerate(ids):
            if doc_id in seen:
                report.repeated_ids += 1
                report.note("repeated", doc_id)
                continue
            seen.add(doc_id)
            if doc_id not in hashes:
                report.unknown_ids += 1
                report.note("unknown", doc_id)
            elif not finite[i]:
                report.not_finite += 1
                report.note("not finite", doc_id)
            elif norms[i] == 0:
                report.zero += 1
                report.note("zero", doc_id)
            else:
                rows.append(VectorRow(doc_id, hashes[doc_id], (matrix[i] / norms[i]).astype(np.float32), 1, 0))
        report.stored += store.put_vectors(space.key, rows)
        if progress:
            progress(len(ids))
    store.mark_complete(space.key)
    sync_vector_files(store, space.key, on_notice)
    report.space = store.get_space(space.key)
    report.missing = store.space_progress(report.space).missing
    return report


def _batches(
    path: Path, id_column: str, vector_column: str, ids_path: str | Path | None
) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
    name = path.name.lower()
    if name.endswith(".parquet"):
        if ids_path is not None:
            raise InputError("--ids is for .npy files; a Parquet file holds its ids in a column (--id-column)")
        yield from _parquet(path, id_column, vector_column)
    elif name.endswith(".npy"):
        if ids_path is None:
            raise InputError("a .npy file needs its ids: --ids FILE (one id per line, or a .npy/.json list)")
        yield from _npy(path, Path(ids_path))
    else:
        raise InputError(f"{path}: import reads .parquet, or .npy with --ids")


def _parquet(path: Path, id_column: str, vector_column: str) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
    names = parquet.schema_arrow.names
    for column, option in ((id_column, "--id-column"), (vector_column, "--vector-column")):
        if column not in names:
            raise InputError(f"{path}: no column {column!r} (columns: {', '.join(names)}); name it with {option}")
    for batch in parquet.iter_batches(batch_size=BATCH, columns=[id_column, vector_column]):
        ids = [str(v) if v is not None else "" for v in batch.column(0).to_pylist()]
        vectors = batch.column(1)
        if not pa.types.is_list(vectors.type) and not pa.types.is_fixed_size_list(vectors.type) \
                and not pa.types.is_large_list(vectors.type):
            raise InputError(f"{path}: column {vector_column!r} holds {vectors.type}, not a list of floats")
        if vectors.null_count:
            raise InputError(f"{path}: column {vector_column!r} has empty (null) vectors")
        lengths = set(pc.list_value_length(vectors).to_numpy().tolist())
        if len(lengths) > 1:
            raise InputError(f"{path}: vectors of different dimensions ({', '.join(map(str, sorted(lengths)[:5]))})")
        width = lengths.pop() if lengths else 0
        values = pc.list_flatten(vectors).to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        yield ids, values.reshape(len(ids), width)


def _npy(path: Path, ids_path: Path) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
    try:
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable .npy file ({exc})") from exc
    if matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.floating):
        raise InputError(f"{path}: want a 2-D float matrix, got shape {matrix.shape} of {matrix.dtype}")
    if not ids_path.is_file():
        raise InputError(f"{ids_path}: no such file")
    if ids_path.suffix == ".npy":
        ids = [str(v) for v in np.load(ids_path, allow_pickle=False).tolist()]
    elif ids_path.suffix == ".json":
        ids = [str(v) for v in json.loads(ids_path.read_text(encoding="utf-8"))]
    else:
        ids = [line.strip() for line in ids_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(ids) != matrix.shape[0]:
        raise InputError(f"{ids_path}: {len(ids)} ids for {matrix.shape[0]} vectors in {path}")
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH], np.asarray(matrix[start : start + BATCH], dtype=np.float32)
