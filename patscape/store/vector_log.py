"""The change log of the vectors, and batched reads of vectors and passages, for the vector
files beside the store (``patscape.vectors.disk``).

Every change to a space's vectors leaves a row in ``vector_log`` (triggers of migration
``m005_vector_log``, in the same transaction), so the files catch up from the last change they saw.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .connection import Connection
from .spaces import quantize


class VectorLogRepository(Connection):
    """The ``vector_log`` table, and the current vectors and passages of a space read in batches."""

    if TYPE_CHECKING:

        def space_centring(self, space_key: str) -> Any: ...

    def vector_log_head(self, space_key: str) -> int:
        """The sequence number of the newest change to the space's vectors (0: none logged)."""
        row = self.db.execute("SELECT MAX(seq) FROM vector_log WHERE space = ?", (space_key,)).fetchone()
        return int(row[0] or 0)

    def changed_documents(self, space_key: str, after: int, limit: int | None = None) -> tuple[int, list[str]]:
        """``(head, ids)``: documents whose vector changed (stored, replaced or removed) after
        change ``after``, and the newest change. With ``limit``, at most that many ids (then the
        caller should rebuild instead)."""
        head = self.vector_log_head(space_key)
        sql = "SELECT DISTINCT doc_id FROM vector_log WHERE space = ? AND seq > ? AND seq <= ?"
        args: tuple[Any, ...] = (space_key, after, head)
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        return head, sorted(row[0] for row in self.db.execute(sql, args))

    def count_vectors(self, space_key: str) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM vectors v JOIN documents d ON d.id = v.doc_id WHERE v.space = ?", (space_key,)
        ).fetchone()
        return int(row[0])

    def iter_vector_rows(
        self, space_key: str, ids: Sequence[str] | None = None, batch: int = 4096, *, raw: bool = False
    ) -> Iterator[list[tuple[str, bytes]]]:
        """``(doc_id, float32 blob)`` of the space's current vectors in batches, by document id;
        every one, or those of ``ids``. Run inside :meth:`snapshot` for one consistent state.
        Centred by language when the space has frozen means (:mod:`.centring`), unless ``raw``."""
        sql = "SELECT v.doc_id, v.vector, d.lang FROM vectors v JOIN documents d ON d.id = v.doc_id WHERE v.space = ?"
        centring = None if raw else self.space_centring(space_key)
        for rows in self._batched(sql, "v.doc_id", space_key, ids, batch):
            if centring is None:
                yield [(r[0], r[1]) for r in rows]
                continue
            matrix = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
            centred = centring.apply(matrix, [r[2] for r in rows])
            yield [(r[0], vec.tobytes()) for r, vec in zip(rows, centred)]

    def iter_passage_rows(
        self, space_key: str, ids: Sequence[str] | None = None, batch: int = 16384, *, raw: bool = False
    ) -> Iterator[list[tuple[str, str, int, int, bytes, float]]]:
        """``(doc_id, field, start, end, int8 blob, scale)`` of the space's passages in batches,
        a document's passages together and in their stored order. Centred by their document's
        language (and quantised again) when the space has frozen means, unless ``raw``."""
        sql = (
            "SELECT p.doc_id, p.field, p.char_start, p.char_end, p.vector, p.scale, d.lang FROM passages p "
            "JOIN documents d ON d.id = p.doc_id WHERE p.space = ?"
        )
        centring = None if raw else self.space_centring(space_key)
        for rows in self._batched(sql, "p.doc_id", space_key, ids, batch, order="p.doc_id, p.rowid"):
            if centring is None:
                yield [tuple(r[:6]) for r in rows]
                continue
            matrix = np.stack([np.frombuffer(r[4], dtype=np.int8).astype(np.float32) * float(r[5]) for r in rows])
            centred = centring.apply(matrix, [r[6] for r in rows])
            out = []
            for r, vec in zip(rows, centred):
                q, scale = quantize(vec)
                out.append((r[0], r[1], r[2], r[3], q.tobytes(), scale))
            yield out

    def _batched(
        self, sql: str, id_column: str, space_key: str, ids: Sequence[str] | None, batch: int, order: str | None = None
    ) -> Iterator[list[Any]]:
        order = order or id_column
        if ids is None:
            cursor = self.db.execute(f"{sql} ORDER BY {order}", (space_key,))
            while rows := cursor.fetchmany(batch):
                yield rows
            return
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"{sql} AND {id_column} IN ({marks}) ORDER BY {order}", (space_key, *chunk)).fetchall()
            if rows:
                yield rows
