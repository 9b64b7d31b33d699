"""Nearest documents in a space's vector files (:mod:`patscape.vectors.disk`): an exact scan of
the mapped rows below the threshold or for a narrow filter, the HNSW index above it (completed
by a scan of the rows it does not cover yet), and the documents changed since the files were
last brought up to date read from the store and scored exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..filters import SearchFilter
from ..store import vector_slots as slots
from . import hnsw
from .hnsw import ef_search
from .layout import BLOCK, _matrix, _Table
from .state import FilesState

#: The best rows (unfiltered) among which a filtered search looks first, before it computes the
#: filter's mask (at least 16 per answer wanted).
PREFILTER = 2048


class SearchMixin(FilesState):
    """:meth:`nearest` of :class:`~patscape.vectors.disk.SpaceVectors`, and what passage search shares with it."""

    def _pending(self) -> tuple[list[str], set[str]]:
        """Documents changed since the files were updated: ``(ids, ids)`` (sorted list, set)."""
        if not self.meta:
            return [], set()
        head, changed = self.store.changed_documents(self.space.key, int(self.meta["applied_seq"]))
        return changed, set(changed)

    def _allowed(self, name: str, where: SearchFilter | None, pending: set[str]) -> NDArray[np.bool_] | None:
        """Rows of table ``name`` that may be returned: live, not pending, meeting ``where``
        (``None``: every row)."""
        table = self.docs if name == "docs" else self.passages
        dead = self.dead_docs if name == "docs" else self.dead_passages
        assert table is not None
        if where is not None and not where.empty:
            cached = self._masks.get((name, where))
            if cached is None:
                cached = np.zeros(table.rows, dtype=bool)
                meeting = self.store.matching_slots(where, slots.path(self.folder), self._table(name))
                cached[meeting[meeting < table.rows]] = True
                self._masks.put((name, where), cached)
            mask = cached.copy()
        elif dead.any() or pending:
            mask = ~dead
        else:
            return None
        if pending:
            db = self._db()
            try:
                for slot in slots.slots_of(db, self._table(name), sorted(pending)):
                    if slot < table.rows:
                        mask[slot] = False
            finally:
                db.close()
        return mask

    def _top_rows(self, table: _Table, target: NDArray[np.float32], k: int, mask: NDArray[np.bool_] | None) -> list[tuple[int, float]]:
        """``(row, score)`` of the best ``k`` rows of ``table`` allowed by ``mask``."""
        if table.rows == 0 or k <= 0:
            return []
        allowed = table.rows if mask is None else int(mask.sum())
        if allowed == 0:
            return []
        found: list[tuple[NDArray[np.int64], NDArray[np.float32]]] = []
        exact_from = 0
        if table.index is not None and table.index_rows and (mask is None or allowed > hnsw.EXACT_FILTERED):
            import faiss

            params = None
            share = 1.0
            if mask is not None:
                bits = np.packbits(mask[: table.index_rows], bitorder="little")
                selector = faiss.IDSelectorBitmap(table.index_rows, faiss.swig_ptr(bits))
                share = max(allowed / table.rows, 1e-3)
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=min(4096, int(ef_search(k, table.index_rows) / share ** 0.5)))
            else:
                params = faiss.SearchParametersHNSW(efSearch=ef_search(k, table.index_rows))
            scores, rows = table.index.search(np.asarray(target, dtype=np.float32)[None, :], k, params=params)
            keep = rows[0] >= 0
            found.append((rows[0][keep].astype(np.int64), scores[0][keep]))
            exact_from = table.index_rows
        if exact_from < table.rows:
            assert table.matrix is not None
            if mask is not None and allowed <= hnsw.EXACT_FILTERED and exact_from == 0:
                rows_wanted = np.flatnonzero(mask)
                for start in range(0, len(rows_wanted), BLOCK):
                    chunk = rows_wanted[start : start + BLOCK]
                    scores = np.asarray(table.matrix[chunk], dtype=np.float32) @ target
                    found.append(_best(chunk, scores, k))
            else:
                for start in range(exact_from, table.rows, BLOCK):
                    end = min(start + BLOCK, table.rows)
                    scores = np.asarray(table.matrix[start:end], dtype=np.float32) @ target
                    chunk = np.arange(start, end)
                    if mask is not None:
                        keep = mask[start:end]
                        chunk, scores = chunk[keep], scores[keep]
                    found.append(_best(chunk, scores, k))
        if not found:
            return []
        rows = np.concatenate([f[0] for f in found])
        scores = np.concatenate([f[1] for f in found])
        order = np.argsort(-scores, kind="stable")[: 4 * k]
        return [(int(rows[i]), float(scores[i])) for i in order]

    def _doc_ids(self, name: str, wanted: list[int]) -> dict[int, tuple[Any, ...]]:
        if not wanted:
            return {}
        db = self._db()
        try:
            return slots.rows_at(db, name, self._table(name), wanted)
        finally:
            db.close()

    def nearest(
        self, target: NDArray[np.float32], k: int, where: SearchFilter | None = None, exclude: str | None = None
    ) -> list[tuple[str, float]]:
        """Up to ``k`` (doc_id, cosine), best first (ties by id), meeting ``where``."""
        if self.docs is None:
            return []
        target = np.asarray(target, dtype=np.float32)
        changed, pending = self._pending()
        want = k + (1 if exclude else 0)
        rows = None
        if where is not None and not where.empty and self._masks.first_ask(("docs", where)):
            rows = self._prefiltered(target, want, where, pending)
        if rows is None:
            mask = self._allowed("docs", where, pending)
            rows = self._top_rows(self.docs, target, want, mask)
        ids = self._doc_ids("docs", [r for r, _ in rows])
        scored = [(ids[r][0], s) for r, s in rows if r in ids]
        scored += self._score_pending(changed, where, target)
        scored = [(d, s) for d, s in scored if d != exclude]
        return sorted(scored, key=lambda kv: (-kv[1], kv[0]))[:k]

    def _prefiltered(
        self, target: NDArray[np.float32], want: int, where: SearchFilter, pending: set[str]
    ) -> list[tuple[int, float]] | None:
        """The rows meeting ``where`` among the best ``PREFILTER`` rows of an unfiltered search,
        best first, when at least ``want`` of them meet it: then no row meeting it ranks above
        them in that search (it would be among those rows). Else None, and the caller computes
        the filter's mask.

        The mask is a join over every document that meets the filter (0.4-0.7 s for 90,000
        documents of one language at 100k, on a busy machine; it grows with the matches): too
        much for the one search of a ``patscape search`` process, when a few thousand candidates
        and their filter fields (read by id) answer it."""
        assert self.docs is not None
        n = max(PREFILTER, 16 * want)
        if n >= self.live:  # a small table: its mask is cheap
            return None
        rows = self._top_rows(self.docs, target, n, self._allowed("docs", None, pending))
        ids = self._doc_ids("docs", [r for r, _ in rows])
        meeting = self.store.filter_ids([ids[r][0] for r, _ in rows if r in ids], where)
        kept = [(r, s) for r, s in rows if r in ids and ids[r][0] in meeting]
        return kept if len(kept) >= want else None

    def _score_pending(self, changed: list[str], where: SearchFilter | None, target: NDArray[np.float32]) -> list[tuple[str, float]]:
        if not changed:
            return []
        if where is not None and not where.empty:
            changed = sorted(self.store.filter_ids(changed, where))
        rows = [r for batch in self.store.iter_vector_rows(self.space.key, changed) for r in batch]
        if not rows:
            return []
        scores = _matrix([r[1] for r in rows], self.space.dims, np.float32) @ target
        return [(r[0], float(s)) for r, s in zip(rows, scores)]


def _best(rows: NDArray[np.int64], scores: NDArray[np.float32], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        return rows[part], scores[part]
    return rows, scores
