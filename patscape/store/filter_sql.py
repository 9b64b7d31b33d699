"""Search filters (:class:`~patscape.filters.SearchFilter`) as SQL: the one place that turns a
filter into a condition on the documents, and the reads that apply it."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..filters import SearchFilter
from .connection import Connection


class FilterRepository(Connection):
    """The fields a search filters on, and the documents (or vector-file slots) that meet a filter."""

    def filter_fields(self, ids: Sequence[str]) -> dict[str, tuple[str | None, str | None, list[str], list[str]]]:
        """``{id: (lang, date, cpc, ipc)}`` of the stored ones among ``ids``: what a search filters
        on, without reading the texts (an export to Milvus reads this per batch of vectors)."""
        found: dict[str, tuple[str | None, str | None, list[str], list[str]]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for doc_id, lang, date, cpc, ipc in self.db.execute(
                f"SELECT id, lang, date, cpc, ipc FROM documents WHERE id IN ({marks})", chunk
            ):
                found[doc_id] = (lang, date, json.loads(cpc), json.loads(ipc))
        return found

    def filter_ids(self, ids: Sequence[str], where: SearchFilter) -> set[str]:
        """Those of ``ids`` whose document meets ``where``."""
        clause, args = _where_sql(where)
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            found.update(row[0] for row in self.db.execute(
                f"SELECT d.id FROM documents d WHERE d.id IN ({marks}) AND {clause}", (*chunk, *args)
            ))
        return found

    def count_matching(self, where: SearchFilter) -> int:
        clause, args = _where_sql(where)
        return int(self.db.execute(f"SELECT COUNT(*) FROM documents d WHERE {clause}", args).fetchone()[0])

    def matching_slots(self, where: SearchFilter, slots_db: Path, table: str) -> NDArray[np.int64]:
        """Rows (``slot``) of ``table`` in the vector-file database ``slots_db`` whose live
        document meets ``where``: one join, so a filter over a million documents costs no
        Python set of ids."""
        if not re.fullmatch(r"(docs|passages)_\d+", table):
            raise ValueError(table)
        clause, args = _where_sql(where)
        self.db.execute("ATTACH DATABASE ? AS vf", (str(slots_db),))
        try:
            rows = self.db.execute(
                f"SELECT s.slot FROM vf.{table} s JOIN documents d ON d.id = s.doc_id WHERE s.live = 1 AND {clause} "
                "ORDER BY s.slot", args,
            ).fetchall()
        finally:
            self.db.execute("DETACH DATABASE vf")
        return np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))


def _where_sql(where: SearchFilter, alias: str = "d") -> tuple[str, tuple[Any, ...]]:
    """An SQL condition on the documents table (as ``alias``) and its parameters."""
    parts, args = ["1"], []
    if where.lang:
        parts.append(f"{alias}.lang = ?")
        args.append(where.lang)
    if where.year_from is not None or where.year_to is not None:
        parts.append(f"{alias}.date IS NOT NULL AND length({alias}.date) >= 4")
        if where.year_from is not None:
            parts.append(f"CAST(substr({alias}.date, 1, 4) AS INTEGER) >= ?")
            args.append(where.year_from)
        if where.year_to is not None:
            parts.append(f"CAST(substr({alias}.date, 1, 4) AS INTEGER) <= ?")
            args.append(where.year_to)
    if where.cpc:
        # codes are stored without spaces (H01M10/052); a prefix matches CPC or IPC codes
        parts.append(
            f"(EXISTS (SELECT 1 FROM json_each({alias}.cpc) WHERE substr(value, 1, ?) = ?) "
            f"OR EXISTS (SELECT 1 FROM json_each({alias}.ipc) WHERE substr(value, 1, ?) = ?))"
        )
        args += [len(where.cpc), where.cpc, len(where.cpc), where.cpc]
    return " AND ".join(parts), tuple(args)
