"""Placements: uploaded documents placed on a run among their neighbours (until the next map)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from .connection import Connection
from .rows import Placement


class PlacementRepository(Connection):
    """The ``serve_placements`` table."""

    def placements(self, run_id: int, doc_id: str | None = None) -> list[Placement]:
        """The documents placed on ``run_id`` (or that one document), in id order."""
        sql = "SELECT doc_id, cluster, x, y, neighbours FROM serve_placements WHERE run_id = ?"
        args: tuple[Any, ...] = (run_id,)
        if doc_id is not None:
            sql, args = sql + " AND doc_id = ?", (run_id, doc_id)
        rows = self.db.execute(sql + " ORDER BY doc_id", args)
        return [Placement(d, int(c), float(x), float(y), tuple(json.loads(n))) for d, c, x, y, n in rows]

    def placed_clusters(self, run_id: int, ids: Sequence[str]) -> dict[str, int]:
        """``{doc_id: cluster}`` of those of ``ids`` placed on ``run_id`` (one query per 500 ids)."""
        found: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            found.update((d, int(c)) for d, c in self.db.execute(
                f"SELECT doc_id, cluster FROM serve_placements WHERE run_id = ? AND doc_id IN ({marks})", (run_id, *chunk)
            ))
        return found

    def placement_version(self, run_id: int) -> tuple[int, float]:
        """Changes whenever a placement of ``run_id`` is added or replaced (for caches)."""
        count, last = self.db.execute(
            "SELECT COUNT(*), COALESCE(MAX(placed_at), 0) FROM serve_placements WHERE run_id = ?", (run_id,)
        ).fetchone()
        return int(count), float(last)

    def save_placements(self, run_id: int, placed: Sequence[Placement], hashes: dict[str, str]) -> set[str]:
        """Store placements in one transaction, only for documents whose content is still the
        one ``hashes`` names (a document replaced meanwhile is not placed); returns their ids."""
        now = time.time()
        with self.transaction("place"):
            kept = [
                p for p in placed
                if self.db.execute("SELECT 1 FROM documents WHERE id = ? AND content_hash = ?",
                                   (p.doc_id, hashes.get(p.doc_id))).fetchone() is not None
            ]
            self.db.executemany(
                "INSERT OR REPLACE INTO serve_placements VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, p.doc_id, p.cluster, p.x, p.y, json.dumps(list(p.neighbours)), now) for p in kept],
            )
        return {p.doc_id for p in kept}
