"""Embedding spaces, their document vectors (float32) and passages (int8, see :func:`quantize`).

A vector is stored only if the document still has the text it was computed from, so a document
replaced while an embed runs never keeps a vector of its old text. A space is *in progress*
until one embed has covered every document (:meth:`SpaceRepository.mark_complete`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..errors import NotFoundError
from .connection import Connection
from .rows import PassageRow, Space, SpaceProgress, StoredPassages, VectorRow


class SpaceRepository(Connection):
    """The ``spaces``, ``vectors`` and ``passages`` tables."""

    if TYPE_CHECKING:

        def count_documents(self) -> int: ...

        def space_centring(self, space_key: str) -> Any: ...

    def ensure_space(self, space: Space) -> None:
        with self.transaction("space"):
            self.db.execute(
                "INSERT OR IGNORE INTO spaces (key, model, fingerprint, dims, params, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (space.key, space.model, space.fingerprint, space.dims, json.dumps(space.params, sort_keys=True), time.time()),
            )

    def set_space_centring(self, key: str, on: bool) -> None:
        """Turn per-language centring of a space on or off (``"centring"`` in its params). Off
        also drops its frozen means; on freezes nothing (the next complete embed or map does)."""
        space = self.get_space(key)
        params = {k: v for k, v in space.params.items() if k != "centring"}
        if on:
            params["centring"] = "language"
        with self.transaction("space"):
            self.db.execute("UPDATE spaces SET params = ? WHERE key = ?", (json.dumps(params, sort_keys=True), key))
            if not on:
                self.db.execute("DELETE FROM space_means WHERE space = ?", (key,))
        if not on:
            self.__dict__.get("_centrings", {}).pop(key, None)

    def spaces(self) -> list[Space]:
        """Every space, oldest first."""
        rows = self.db.execute(
            "SELECT key, model, fingerprint, dims, params, completed_at FROM spaces ORDER BY created_at, rowid"
        )
        return [Space(k, m, f, int(d), json.loads(p), c) for k, m, f, d, p, c in rows]

    def get_space(self, key: str) -> Space:
        for space in self.spaces():
            if space.key == key:
                return space
        raise NotFoundError(f"no embedding space {key!r} in {self.path}")

    def space_progress(self, space: Space) -> SpaceProgress:
        embedded = self.db.execute(
            "SELECT COUNT(*) FROM vectors v JOIN documents d ON d.id = v.doc_id WHERE v.space = ?", (space.key,)
        ).fetchone()[0]
        return SpaceProgress(space, self.count_documents(), int(embedded))

    def mark_complete(self, space_key: str) -> bool:
        """Mark the space complete if every document has a vector in it (checked in the same
        transaction); True when it is complete."""
        with self.transaction("space"):
            self.db.execute(
                "UPDATE spaces SET completed_at = ? WHERE key = ? AND completed_at IS NULL AND NOT EXISTS ("
                "SELECT 1 FROM documents d WHERE NOT EXISTS ("
                "SELECT 1 FROM vectors v WHERE v.space = ? AND v.doc_id = d.id))",
                (time.time(), space_key, space_key),
            )
            row = self.db.execute("SELECT completed_at FROM spaces WHERE key = ?", (space_key,)).fetchone()
        return row is not None and row[0] is not None

    def ids_without_vectors(self, space_key: str, among: Sequence[str] | None = None) -> list[str]:
        """Ids (all, or those of ``among`` that are stored) without a vector in the space, in id order."""
        if among is None:
            rows = self.db.execute(
                "SELECT id FROM documents WHERE id NOT IN (SELECT doc_id FROM vectors WHERE space = ?) ORDER BY id",
                (space_key,),
            ).fetchall()
            return [row[0] for row in rows]
        found: list[str] = []
        for start in range(0, len(among), 900):
            chunk = list(among[start : start + 900])
            marks = ",".join("?" * len(chunk))
            found += [row[0] for row in self.db.execute(
                f"SELECT id FROM documents WHERE id IN ({marks}) AND id NOT IN "
                "(SELECT doc_id FROM vectors WHERE space = ?)", (*chunk, space_key),
            )]
        return sorted(set(found))

    def has_vector(self, space_key: str, doc_id: str) -> bool:
        row = self.db.execute("SELECT 1 FROM vectors WHERE space = ? AND doc_id = ?", (space_key, doc_id)).fetchone()
        return row is not None

    def put_vectors(
        self,
        space_key: str,
        rows: Sequence[VectorRow],
        passages: Sequence[PassageRow] | None = None,
    ) -> int:
        """Store document vectors and the passages of those documents in one transaction (a
        document's passages are replaced, never added to) and return how many were stored.

        A row is stored only if its document still has the content ``row.content_hash`` the
        vector was computed from: a document replaced in the meantime keeps no vector and is
        embedded again by the next ``embed``.
        """
        passages = passages or []
        counts: dict[str, int] = {}
        cut: dict[str, dict[str, int]] = {}
        for p in passages:
            counts[p.doc_id] = counts.get(p.doc_id, 0) + 1
            cut.setdefault(p.doc_id, {})[p.field] = p.truncated_tokens
        with self.transaction("embed"):
            current = set()
            for row in rows:
                found = self.db.execute(
                    "SELECT 1 FROM documents WHERE id = ? AND content_hash = ?", (row.doc_id, row.content_hash)
                ).fetchone()
                if found is not None:
                    current.add(row.doc_id)
            kept = [row for row in rows if row.doc_id in current]
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors (space, doc_id, vector, n_chunks, n_tokens, truncated_tokens, "
                "n_passages, passage_tokens_cut, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (space_key, r.doc_id, np.asarray(r.vector, dtype=np.float32).tobytes(), r.n_chunks, r.n_tokens,
                     r.truncated_tokens, counts.get(r.doc_id, 0), sum(cut.get(r.doc_id, {}).values()), r.content_hash)
                    for r in kept
                ],
            )
            self.db.executemany(
                "DELETE FROM passages WHERE space = ? AND doc_id = ?", [(space_key, r.doc_id) for r in kept]
            )
            quantized = [(p, *quantize(p.vector)) for p in passages if p.doc_id in current]
            self.db.executemany(
                "INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(space_key, p.doc_id, p.field, p.start, p.end, q.tobytes(), scale) for p, q, scale in quantized],
            )
        return len(kept)

    def load_passages(self, space_key: str) -> StoredPassages:
        """Every passage of a space (of documents still in the store), ordered by document id."""
        space = self.get_space(space_key)
        rows = self.db.execute(
            "SELECT p.doc_id, p.field, p.char_start, p.char_end, p.vector, p.scale FROM passages p "
            "JOIN documents d ON d.id = p.doc_id WHERE p.space = ? ORDER BY p.doc_id, p.rowid",
            (space_key,),
        ).fetchall()
        return StoredPassages(
            [r[0] for r in rows], [r[1] for r in rows], [(int(r[2]), int(r[3])) for r in rows],
            _stack([r[4] for r in rows], space.dims, np.int8), np.asarray([r[5] for r in rows], dtype=np.float32),
        )

    def passage_stats(self, space_key: str) -> dict[str, int]:
        """Passages of a space: count, documents with passages, tokens cut by the cap, bytes stored."""
        row = self.db.execute(
            "SELECT COALESCE(SUM(n_passages), 0), COALESCE(SUM(n_passages > 0), 0), "
            "COALESCE(SUM(passage_tokens_cut > 0), 0), COALESCE(SUM(passage_tokens_cut), 0), "
            "COALESCE(SUM(LENGTH(vector)), 0) FROM vectors WHERE space = ?",
            (space_key,),
        ).fetchone()
        stored = self.db.execute(
            "SELECT COALESCE(SUM(LENGTH(vector) + 4 + LENGTH(field) + 16), 0) FROM passages WHERE space = ?",
            (space_key,),
        ).fetchone()[0]
        keys = ("passages", "docs_with_passages", "docs_with_passages_cut", "passage_tokens_cut", "vector_bytes")
        return {**{k: int(v) for k, v in zip(keys, row)}, "passage_bytes": int(stored)}

    def load_vectors(self, space_key: str, *, raw: bool = False) -> tuple[list[str], NDArray[np.float32]]:
        """All vectors of a space, ordered by document id: ``(ids, matrix of shape (n, dims))``;
        centred by language when the space has frozen means (:mod:`.centring`), unless ``raw``."""
        space = self.get_space(space_key)
        rows = self.db.execute(
            "SELECT v.doc_id, v.vector, d.lang FROM vectors v JOIN documents d ON d.id = v.doc_id "
            "WHERE v.space = ? ORDER BY v.doc_id",
            (space_key,),
        ).fetchall()
        matrix = _stack([row[1] for row in rows], space.dims, np.float32)
        centring = None if raw else self.space_centring(space_key)
        if centring is not None:
            matrix = centring.apply(matrix, [row[2] for row in rows])
        return [row[0] for row in rows], matrix

    def iter_vector_blocks(
        self, space_key: str, size: int = 65536, *, raw: bool = False
    ) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
        """The vectors of :meth:`load_vectors`, in the same order, ``size`` rows at a time: a
        large space is never held whole (nor twice, as blobs and as a matrix)."""
        space = self.get_space(space_key)
        centring = None if raw else self.space_centring(space_key)
        cursor = self.db.execute(
            "SELECT v.doc_id, v.vector, d.lang FROM vectors v JOIN documents d ON d.id = v.doc_id "
            "WHERE v.space = ? ORDER BY v.doc_id",
            (space_key,),
        )
        while rows := cursor.fetchmany(size):
            matrix = _stack([row[1] for row in rows], space.dims, np.float32)
            if centring is not None:
                matrix = centring.apply(matrix, [row[2] for row in rows])
            yield [row[0] for row in rows], matrix

    def get_vector(self, space_key: str, doc_id: str, *, raw: bool = False) -> NDArray[np.float32]:
        """One document's vector (centred by its language when the space has means, unless ``raw``)."""
        row = self.db.execute(
            "SELECT v.vector, d.lang FROM vectors v LEFT JOIN documents d ON d.id = v.doc_id "
            "WHERE v.space = ? AND v.doc_id = ?", (space_key, doc_id)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"document {doc_id!r} has no vector for {space_key}; run `patscape embed`")
        vector = np.frombuffer(row[0], dtype=np.float32).copy()
        centring = None if raw else self.space_centring(space_key)
        return vector if centring is None else centring.apply_one(vector, row[1])

    def chunk_stats(self, space_key: str) -> dict[str, int]:
        row = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(n_chunks > 1), 0), COALESCE(MAX(n_chunks), 0), "
            "COALESCE(SUM(truncated_tokens > 0), 0), COALESCE(SUM(truncated_tokens), 0), "
            "COALESCE(SUM(n_tokens), 0) FROM vectors WHERE space = ?",
            (space_key,),
        ).fetchone()
        keys = ("vectors", "multi_chunk_docs", "max_chunks", "truncated_docs", "truncated_tokens", "tokens")
        return {k: int(v) for k, v in zip(keys, row)}


def _stack(blobs: Sequence[bytes], dims: int, dtype: type) -> NDArray[Any]:
    """Stored vectors (one blob each) as a matrix ``(len(blobs), dims)`` of ``dtype``."""
    matrix = np.zeros((len(blobs), dims), dtype=dtype)
    for i, blob in enumerate(blobs):
        matrix[i] = np.frombuffer(blob, dtype=dtype)
    return matrix


def quantize(vector: NDArray[np.float32]) -> tuple[NDArray[np.int8], float]:
    """Symmetric int8 quantisation of one vector: ``vector ~= scale * q`` (cosine >= 0.999 for
    unit vectors of a few hundred dimensions)."""
    peak = float(np.abs(vector).max())
    if peak == 0.0:
        return np.zeros(len(vector), dtype=np.int8), 0.0
    scale = peak / 127.0
    return np.clip(np.rint(vector / scale), -127, 127).astype(np.int8), scale
