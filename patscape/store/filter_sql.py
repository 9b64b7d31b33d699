"""Search filters (:class:`~patscape.filters.SearchFilter`) as SQL: the one place that turns a
filter into a condition on the documents, and the reads that apply it."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

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
        clause, args = _where_sql(where, codes="probe")  # a few ids: their own codes, not every match
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            found.update(row[0] for row in self.db.execute(
                f"SELECT d.id FROM documents d WHERE d.id IN ({marks}) AND {clause}", (*chunk, *args)
            ))
        return found

    def count_matching(self, where: SearchFilter) -> int:
        """How many documents meet ``where`` (a scan of what they match: not for every search)."""
        clause, args = _where_sql(where)
        return int(self.db.execute(f"SELECT COUNT(*) FROM documents d WHERE {clause}", args).fetchone()[0])

    def any_matching(self, where: SearchFilter) -> bool:
        """Whether any document meets ``where``: stops at the first one (through the indexes on
        language, date and codes), where a count would read every match."""
        if where.cpc:
            # from the code index, stopping at the first document: ``d.id IN (SELECT ...)`` would
            # first list every document with the prefix (17 ms for 8,000 of 100,000 documents)
            clause, args = _where_sql(where, codes="none")
            return self.db.execute(
                f"SELECT 1 FROM doc_codes c JOIN documents d ON d.id = c.doc_id WHERE c.code >= ? AND c.code < ? "
                f"AND {clause} LIMIT 1", (where.cpc, _prefix_end(where.cpc), *args),
            ).fetchone() is not None
        clause, args = _where_sql(where)
        return self.db.execute(f"SELECT 1 FROM documents d WHERE {clause} LIMIT 1", args).fetchone() is not None

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
                f"SELECT s.slot FROM vf.{table} s JOIN documents d ON d.id = s.doc_id WHERE s.live = 1 AND {clause}", args,
            ).fetchall()
        finally:
            self.db.execute("DETACH DATABASE vf")
        return np.sort(np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)))  # sorted here, not by SQLite


def _where_sql(
    where: SearchFilter, alias: str = "d", codes: Literal["list", "probe", "none"] = "list"
) -> tuple[str, tuple[Any, ...]]:
    """An SQL condition on the documents table (as ``alias``) and its parameters.

    What it matches is the rule of :class:`SearchFilter`; how it is written lets SQLite use the
    indexes of migration m006: ``lang = ?`` the language index; a year range, besides the exact
    test on the first four characters of the date, a range of the date itself that every
    matching date lies in (so the date index narrows, the exact test decides); a CPC/IPC prefix
    a range scan of ``doc_codes`` (each code of a document's two lists as a row), which is the
    same as "a code starts with the prefix" since prefixes are ASCII. ``codes``: how the CPC/IPC
    prefix is tested: ``list`` the documents with the prefix listed once (for a filter over the
    corpus), ``probe`` each document's own codes looked up (for a few known ids: no list of every
    match), ``none`` left out (for a caller that joins ``doc_codes`` itself).
    """
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
        low, high = _date_range(where.year_from, where.year_to)
        if low is not None:
            parts.append(f"{alias}.date >= ?")
            args.append(low)
        if high is not None:
            parts.append(f"{alias}.date < ?")
            args.append(high)
    if where.cpc and codes == "list":
        # codes are stored without spaces (H01M10/052); a prefix matches CPC or IPC codes
        parts.append(f"{alias}.id IN (SELECT c.doc_id FROM doc_codes c WHERE c.code >= ? AND c.code < ?)")
        args += [where.cpc, _prefix_end(where.cpc)]
    elif where.cpc and codes == "probe":
        parts.append(f"EXISTS (SELECT 1 FROM doc_codes c WHERE c.doc_id = {alias}.id AND c.code >= ? AND c.code < ?)")
        args += [where.cpc, _prefix_end(where.cpc)]
    return " AND ".join(parts), tuple(args)


def _date_range(year_from: int | None, year_to: int | None) -> tuple[str | None, str | None]:
    """Bounds ``(low, high)`` on the date text implied by the year test, or None where none is.

    ``CAST(substr(date, 1, 4) AS INTEGER)`` reads the leading integer of the first four
    characters; it reaches 1000 only when all four are ASCII digits. So with ``year_from`` of
    four digits a matching date starts with four digits ``>= year_from``, hence ``date >=
    'year_from'`` and (with ``year_to``) ``date < 'year_to + 1'``. Without ``year_from`` no bound
    holds (a date ``'abcd'`` reads as 0 and meets any ``year_to``)."""
    if year_from is None or not 1000 <= year_from <= 9999:
        return None, None
    high = f"{year_to + 1:04d}" if year_to is not None and year_to < 9999 else None
    return f"{year_from:04d}", high


def _prefix_end(prefix: str) -> str:
    """The least string above every string that starts with ``prefix`` (ASCII, as SearchFilter
    checks it): the prefix with its last character raised by one."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
