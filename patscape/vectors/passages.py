"""Passage search in a space's vector files (:mod:`patscape.vectors.disk`): the best passage of
each of the documents whose passages come closest to a query."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..filters import SearchFilter
from . import hnsw
from .layout import BLOCK, _dequantize
from .search import SearchMixin


@dataclass
class PassageHit:
    doc_id: str
    field: str
    start: int
    end: int
    score: float


class PassageSearchMixin(SearchMixin):
    """:meth:`nearest_passages` of :class:`~patscape.vectors.disk.SpaceVectors`."""

    def nearest_passages(
        self, target: NDArray[np.float32], k: int, where: SearchFilter | None = None
    ) -> dict[str, PassageHit]:
        """The best passage of each of up to ``k`` documents whose passages come closest to ``target``."""
        if self.passages is None:
            return {}
        target = np.asarray(target, dtype=np.float32)
        changed, pending = self._pending()
        mask = self._allowed("passages", where, pending)
        best: dict[str, PassageHit] = {}
        if self.passages.index is None or (mask is not None and int(mask.sum()) <= hnsw.EXACT_FILTERED):
            # exact: the best passage of every document, by blocks (memory bounded by the block)
            best_rows = self._best_passage_rows(target, mask)
            rows = sorted(best_rows.values(), key=lambda rs: -rs[1])[: 4 * k]
        else:
            rows = []
            seen: set[int] = set()
            assert self.passages.doc_slot is not None
            for r, s in self._top_rows(self.passages, target, 8 * k, mask):
                doc = int(self.passages.doc_slot[r])
                if doc not in seen:
                    seen.add(doc)
                    rows.append((r, s))
        info = self._doc_ids("passages", [r for r, _ in rows])
        for r, s in rows:
            if r in info:
                doc_id, fld, begin, end = info[r]
                if doc_id not in best or s > best[doc_id].score:
                    best[doc_id] = PassageHit(doc_id, fld, int(begin), int(end), s)
        if changed:
            ids = sorted(self.store.filter_ids(changed, where)) if where is not None and not where.empty else changed
            for batch in self.store.iter_passage_rows(self.space.key, ids):
                scores = _dequantize(batch, self.space.dims) @ target
                for r, s in zip(batch, scores):
                    if r[0] not in best or float(s) > best[r[0]].score:
                        best[r[0]] = PassageHit(r[0], r[1], int(r[2]), int(r[3]), float(s))
        return dict(sorted(best.items(), key=lambda kv: (-kv[1].score, kv[0]))[:k])

    def _best_passage_rows(self, target: NDArray[np.float32], mask: NDArray[np.bool_] | None) -> dict[int, tuple[int, float]]:
        """Per document slot: (row of its best passage, score), by an exact scan."""
        table = self.passages
        assert table is not None
        if table.rows == 0:
            return {}
        assert table.matrix is not None and table.doc_slot is not None
        n_docs = self.docs.rows if self.docs is not None else 0
        best_score = np.full(n_docs, -np.inf, dtype=np.float32)
        best_row = np.full(n_docs, -1, dtype=np.int64)
        for start in range(0, table.rows, BLOCK):
            end = min(start + BLOCK, table.rows)
            scores = np.asarray(table.matrix[start:end], dtype=np.float32) @ target
            docs = np.asarray(table.doc_slot[start:end], dtype=np.int64)
            if mask is not None:
                scores = np.where(mask[start:end], scores, -np.inf)
            # best row per document inside the block, then merged with what came before
            order = np.lexsort((-scores, docs))
            first = order[np.r_[True, docs[order][1:] != docs[order][:-1]]]
            better = scores[first] > best_score[docs[first]]
            best_score[docs[first][better]] = scores[first][better]
            best_row[docs[first][better]] = start + first[better]
        found = np.flatnonzero(best_row >= 0)
        return {int(d): (int(best_row[d]), float(best_score[d])) for d in found}
