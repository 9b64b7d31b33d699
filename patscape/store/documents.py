"""Documents: writing and reading them, the full-text index (FTS5) and the ingest log.

A document is written with its keyword-index row in one transaction; a replaced document loses
its vectors, passages and placements (they describe the old text). The ingest log is a temporary
table of the ids one ingest has read (never part of the store's write lock).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import NotFoundError
from ..records import Document, searchable_text
from ..text import index_text
from .connection import Connection
from .rows import UpsertResult

#: The columns of a stored document, in the order :func:`_row_to_document` reads them.
_DOCUMENT_COLUMNS = (
    "id, content_hash, title, abstract, text, claims, description, lang, date, cpc, ipc, assignee, source, "
    "extra, ingested_at"
)
#: The same columns with the long texts left out (empty): what a map needs of most documents.
_DOCUMENT_METADATA_COLUMNS = _DOCUMENT_COLUMNS.replace("abstract, text, claims, description", "'', '', '', ''")


class DocumentRepository(Connection):
    """The ``documents`` and ``documents_fts`` tables, and the ingest log."""

    def write_documents(self, docs: Sequence[Document]) -> UpsertResult:
        """Add new documents and replace changed ones, in one transaction.

        A document whose id is stored with the same content is unchanged. A new id whose content
        equals another stored document's is a duplicate and is not stored a second time. A
        replaced document loses its vectors, passages and placements (they describe the old text).
        """
        added = replaced = unchanged = duplicates = 0
        now = time.time()
        with self.transaction("ingest"):
            for doc in docs:
                digest = doc.content_hash
                row = self.db.execute("SELECT content_hash FROM documents WHERE id = ?", (doc.id,)).fetchone()
                if row is not None and row[0] == digest:
                    unchanged += 1
                    continue
                if row is None:
                    twin = self.db.execute(
                        "SELECT id FROM documents WHERE content_hash = ? LIMIT 1", (digest,)
                    ).fetchone()
                    if twin is not None:
                        duplicates += 1
                        continue
                values = (
                    doc.id, digest, doc.title, doc.abstract, doc.text, doc.claims, doc.description, doc.lang,
                    doc.date, json.dumps(list(doc.cpc)), json.dumps(list(doc.ipc)), doc.assignee, doc.source,
                    json.dumps(doc.extra, ensure_ascii=False), now,
                )
                self.db.execute(
                    f"INSERT OR REPLACE INTO documents ({_DOCUMENT_COLUMNS}) VALUES ({','.join('?' * len(values))})",
                    values,
                )
                if row is not None:
                    for table, column in (("vectors", "doc_id"), ("passages", "doc_id"), ("documents_fts", "id"),
                                          ("serve_placements", "doc_id")):
                        self.db.execute(f"DELETE FROM {table} WHERE {column} = ?", (doc.id,))
                    replaced += 1
                else:
                    added += 1
                self.db.execute(
                    "INSERT INTO documents_fts (id, body) VALUES (?, ?)", (doc.id, index_text(searchable_text(doc), doc.lang))
                )
        return UpsertResult(added, replaced, unchanged, duplicates)

    def stored_version(self, doc_id: str) -> tuple[str, str | None] | None:
        """``(content_hash, source)`` of a stored document, or None."""
        row = self.db.execute("SELECT content_hash, source FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return (row[0], row[1]) if row is not None else None

    def start_ingest_log(self) -> None:
        """Forget the ids seen by an earlier ingest on this connection (a temporary table:
        it is never part of the store's write lock)."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS ingest_seen (id TEXT PRIMARY KEY, hash TEXT, position TEXT)")
        self.db.execute("DELETE FROM ingest_seen")

    def ingested_before(self, doc_id: str) -> tuple[str, str] | None:
        """``(hash, position)`` of ``doc_id`` if this ingest read it already."""
        seen = self.db.execute("SELECT hash, position FROM ingest_seen WHERE id = ?", (doc_id,)).fetchone()
        return (seen[0], seen[1]) if seen is not None else None

    def log_ingested(self, doc_id: str, digest: str, position: str) -> tuple[str, str] | None:
        """Record that this ingest read ``doc_id``; return ``(hash, position)`` of an earlier read."""
        seen = self.db.execute("SELECT hash, position FROM ingest_seen WHERE id = ?", (doc_id,)).fetchone()
        if seen is not None:
            return seen[0], seen[1]
        self.db.execute("INSERT INTO ingest_seen VALUES (?, ?, ?)", (doc_id, digest, position))
        return None

    def id_sources(self) -> dict[str, int]:
        """How the stored ids were made: from the source data, a file path, or the content."""
        rows = self.db.execute(
            "SELECT COALESCE(json_extract(extra, '$.id_source'), 'data'), COUNT(*) FROM documents GROUP BY 1 ORDER BY 2 DESC"
        )
        return {str(k): int(n) for k, n in rows}

    def ids_in_language(self, lang: str) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT id FROM documents WHERE lang = ?", (lang,))}

    def titles(self, ids: Sequence[str]) -> dict[str, str]:
        return self._column_by_id("title", ids)

    def content_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        return self._column_by_id("content_hash", ids)

    def _column_by_id(self, column: str, ids: Sequence[str]) -> dict[str, Any]:
        """``{id: documents.column}`` of the stored ones among ``ids`` (in chunks of SQLite's parameter limit)."""
        found: dict[str, Any] = {}
        for start in range(0, len(ids), 900):
            chunk = list(ids[start : start + 900])
            marks = ",".join("?" * len(chunk))
            found.update(self.db.execute(f"SELECT id, {column} FROM documents WHERE id IN ({marks})", chunk).fetchall())
        return found

    def count_documents(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def language_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT COALESCE(lang, '?'), COUNT(*) FROM documents GROUP BY 1 ORDER BY 2 DESC")
        return {lang: int(n) for lang, n in rows}

    def get_document(self, doc_id: str) -> Document:
        row = self.db.execute(f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no document with id {doc_id!r} in {self.path}")
        return _row_to_document(row)

    def iter_documents(
        self, ids: Sequence[str] | None = None, batch_size: int = 500, texts: bool = True
    ) -> Iterator[Document]:
        """All documents in id order, or the given ids in the given order (missing ones skipped).
        With ``texts`` false, abstract, text, claims and description are left empty (not read)."""
        columns = _DOCUMENT_COLUMNS if texts else _DOCUMENT_METADATA_COLUMNS
        if ids is None:
            cursor = self.db.execute(f"SELECT {columns} FROM documents ORDER BY id")
            while rows := cursor.fetchmany(batch_size):
                yield from (_row_to_document(row) for row in rows)
            return
        for start in range(0, len(ids), batch_size):
            chunk = list(ids[start : start + batch_size])
            marks = ",".join("?" * len(chunk))
            found = {
                row[0]: _row_to_document(row)
                for row in self.db.execute(f"SELECT {columns} FROM documents WHERE id IN ({marks})", chunk)
            }
            yield from (found[i] for i in chunk if i in found)

    def keyword_search(self, query: str, limit: int) -> list[tuple[str, float]]:
        """Full-text search (FTS5, BM25); returns (id, score) with higher scores better."""
        terms = [t for t in index_text(query, None).split() if t]
        if not terms:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        rows = self.db.execute(
            "SELECT id, bm25(documents_fts) FROM documents_fts WHERE documents_fts MATCH ? "
            "ORDER BY bm25(documents_fts) LIMIT ?",
            (match, limit),
        )
        return [(doc_id, -float(score)) for doc_id, score in rows]


def _row_to_document(row: Sequence[Any]) -> Document:
    (doc_id, _hash, title, abstract, text, claims, description, lang, date, cpc, ipc, assignee, source, extra, _at) = row
    return Document(
        id=doc_id, title=title, abstract=abstract, text=text, claims=claims, description=description, lang=lang, date=date,
        cpc=tuple(json.loads(cpc)), ipc=tuple(json.loads(ipc)), assignee=assignee, source=source,
        extra=json.loads(extra),
    )
