"""The corpus store: one directory holding a SQLite database (WAL mode).

This is the only module that speaks SQL. Documents, vectors (float32 blobs, one per document and
embedding space), passages, runs (maps) and their topics, upload placements and upload jobs live
here, and every transaction is opened here.

Guarantees (see "What patscape guarantees" in docs/usage.md):

- Every write batch is one short ``BEGIN IMMEDIATE`` transaction, so a killed process loses at
  most the batch in flight and a re-run resumes. Nothing slow (parsing, embedding, clustering)
  happens while a write transaction is open.
- Readers never wait for writers (WAL). A writer waits for another process's write at most
  :data:`BUSY_TIMEOUT` seconds (``PATSCAPE_BUSY_TIMEOUT``), then raises :class:`StoreBusyError`.
- A vector is stored only if the document still has the text it was computed from, so a
  document replaced while an embed runs never keeps a vector of its old text.
- An embedding space is *in progress* until one embed has covered every document; the
  defaults only use *complete* spaces.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import NotFoundError, StoreBusyError, StoreError
from .filters import SearchFilter
from .records import Document, searchable_text
from .text import index_text

DB_NAME = "patscape.sqlite"
#: Seconds a writer waits for another process's write transaction before giving up.
BUSY_TIMEOUT = float(os.environ.get("PATSCAPE_BUSY_TIMEOUT", "30"))
#: Folder of the store that holds the files of server uploads until their job ends.
UPLOADS_DIR = "uploads"

# Append-only: never edit a migration that has shipped, add a new one.
MIGRATIONS: list[tuple[str, str | tuple[str, ...]]] = [
    (
        "m001_initial",
        """
        CREATE TABLE documents (
            id TEXT PRIMARY KEY,
            content_hash TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            abstract TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL DEFAULT '',
            lang TEXT,
            date TEXT,
            cpc TEXT NOT NULL DEFAULT '[]',
            ipc TEXT NOT NULL DEFAULT '[]',
            assignee TEXT,
            source TEXT,
            extra TEXT NOT NULL DEFAULT '{}',
            ingested_at REAL NOT NULL
        );
        CREATE INDEX documents_content_hash ON documents(content_hash);
        CREATE VIRTUAL TABLE documents_fts USING fts5(id UNINDEXED, body, tokenize='unicode61');
        CREATE TABLE spaces (
            key TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            dims INTEGER NOT NULL,
            params TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE vectors (
            space TEXT NOT NULL REFERENCES spaces(key),
            doc_id TEXT NOT NULL,
            vector BLOB NOT NULL,
            n_chunks INTEGER NOT NULL,
            n_tokens INTEGER NOT NULL,
            truncated_tokens INTEGER NOT NULL,
            PRIMARY KEY (space, doc_id)
        );
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            space TEXT NOT NULL REFERENCES spaces(key),
            created_at REAL NOT NULL,
            seed INTEGER NOT NULL,
            params TEXT NOT NULL,
            metrics TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE run_points (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            doc_id TEXT NOT NULL,
            cluster INTEGER NOT NULL,
            raw_cluster INTEGER NOT NULL,
            x REAL NOT NULL,
            y REAL NOT NULL,
            PRIMARY KEY (run_id, doc_id)
        );
        CREATE TABLE topics (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            cluster INTEGER NOT NULL,
            label TEXT NOT NULL,
            size INTEGER NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (run_id, cluster)
        );
        """,
    ),
    (
        "m002_document_fields",
        """
        ALTER TABLE documents ADD COLUMN claims TEXT NOT NULL DEFAULT '';
        ALTER TABLE documents ADD COLUMN description TEXT NOT NULL DEFAULT ''
        """,
    ),
    (
        "m003_passages",
        """
        CREATE TABLE passages (
            space TEXT NOT NULL REFERENCES spaces(key),
            doc_id TEXT NOT NULL,
            field TEXT NOT NULL,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            vector BLOB NOT NULL,
            scale REAL NOT NULL
        );
        CREATE INDEX passages_doc ON passages(space, doc_id);
        ALTER TABLE vectors ADD COLUMN n_passages INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE vectors ADD COLUMN passage_tokens_cut INTEGER NOT NULL DEFAULT 0
        """,
    ),
    (
        "m004_integrity",
        """
        ALTER TABLE spaces ADD COLUMN completed_at REAL;
        UPDATE spaces SET completed_at = created_at WHERE NOT EXISTS (
            SELECT 1 FROM documents d WHERE NOT EXISTS (
                SELECT 1 FROM vectors v WHERE v.space = spaces.key AND v.doc_id = d.id));
        ALTER TABLE vectors ADD COLUMN content_hash TEXT;
        UPDATE vectors SET content_hash = (SELECT d.content_hash FROM documents d WHERE d.id = vectors.doc_id);
        CREATE TABLE IF NOT EXISTS serve_placements (
            run_id INTEGER NOT NULL,
            doc_id TEXT NOT NULL,
            cluster INTEGER NOT NULL,
            x REAL NOT NULL,
            y REAL NOT NULL,
            neighbours TEXT NOT NULL,
            placed_at REAL NOT NULL,
            PRIMARY KEY (run_id, doc_id)
        );
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            created_at REAL NOT NULL,
            finished_at REAL,
            data TEXT NOT NULL
        )
        """,
    ),
    (
        # Every change to a space's vectors (and so to its passages, written with them) leaves a
        # row here, in the same transaction: the memory-mapped vector files and the ANN index
        # beside the store (patscape.vectors.disk) catch up from it. Triggers, so that no write
        # path can forget; statements given one by one because a trigger body holds semicolons.
        "m005_vector_log",
        (
            "CREATE TABLE vector_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, space TEXT NOT NULL, doc_id TEXT NOT NULL)",
            "CREATE INDEX vector_log_space ON vector_log(space, seq)",
            "CREATE TRIGGER vector_log_insert AFTER INSERT ON vectors BEGIN "
            "INSERT INTO vector_log (space, doc_id) VALUES (NEW.space, NEW.doc_id); END",
            "CREATE TRIGGER vector_log_update AFTER UPDATE ON vectors BEGIN "
            "INSERT INTO vector_log (space, doc_id) VALUES (NEW.space, NEW.doc_id); END",
            "CREATE TRIGGER vector_log_delete AFTER DELETE ON vectors BEGIN "
            "INSERT INTO vector_log (space, doc_id) VALUES (OLD.space, OLD.doc_id); END",
        ),
    ),
]

#: The columns of a stored document, in the order :func:`_row_to_document` reads them.
_DOCUMENT_COLUMNS = (
    "id, content_hash, title, abstract, text, claims, description, lang, date, cpc, ipc, assignee, source, "
    "extra, ingested_at"
)
#: The same columns with the long texts left out (empty): what a map needs of most documents.
_DOCUMENT_METADATA_COLUMNS = _DOCUMENT_COLUMNS.replace("abstract, text, claims, description", "'', '', '', ''")


@dataclass(frozen=True, slots=True)
class Space:
    """An embedding space: one model used with one set of options that change the vectors."""

    key: str
    model: str
    fingerprint: str
    dims: int
    params: dict[str, Any]
    #: When an embed first covered every document (None: in progress, never used by default).
    completed_at: float | None = None

    @property
    def complete(self) -> bool:
        return self.completed_at is not None


@dataclass(frozen=True, slots=True)
class SpaceProgress:
    """How much of the corpus a space covers: ``embedded`` current vectors of ``documents``."""

    space: Space
    documents: int
    embedded: int

    @property
    def missing(self) -> int:
        return self.documents - self.embedded


@dataclass(frozen=True, slots=True)
class VectorRow:
    """One document vector to store, with the content hash of the text it was computed from."""

    doc_id: str
    content_hash: str
    vector: NDArray[np.float32]
    n_chunks: int
    n_tokens: int
    truncated_tokens: int = 0


@dataclass(frozen=True, slots=True)
class PassageRow:
    """One passage to store: ``field[start:end]`` of a document, its unit vector, and the tokens
    of that field left out by the per-field passage cap (the same on every row of the field)."""

    doc_id: str
    field: str
    start: int
    end: int
    vector: NDArray[np.float32]
    truncated_tokens: int = 0


@dataclass(frozen=True, slots=True)
class StoredPassages:
    """Every passage of a space: ``vectors`` int8 ``(n, dims)``, row ``i`` is ``scales[i] * vectors[i]``."""

    doc_ids: list[str]
    fields: list[str]
    spans: list[tuple[int, int]]
    vectors: NDArray[np.int8]
    scales: NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    space: str
    created_at: float
    seed: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UpsertResult:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    duplicates: int = 0


class Store:
    """A corpus on disk. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"store path {self.path} is a file, not a directory")
        db = self.path / DB_NAME
        if not db.exists():
            if not create:
                raise StoreError(f"{self.path} is not a patscape store (no {DB_NAME}); run `patscape ingest` first")
            if self.path.exists() and any(self.path.iterdir()):
                raise StoreError(f"{self.path} exists and is not empty, but holds no patscape store")
            self.path.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(db, timeout=BUSY_TIMEOUT, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise StoreBusyError() from exc
            raise StoreError(f"{db} cannot be opened as a patscape store: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{db} cannot be opened as a patscape store: {exc}") from exc

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL)")
        done = {row[0] for row in self.db.execute("SELECT name FROM migrations")}
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            with self.transaction("migrate"):
                if self.db.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                    continue  # another process applied it while this one waited
                for statement in sql.split(";") if isinstance(sql, str) else sql:
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))

    class _Transaction:
        def __init__(self, db: sqlite3.Connection, kind: str) -> None:
            self.db = db
            self.kind = kind

        def __enter__(self) -> None:
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise StoreBusyError() from exc
                raise

        def __exit__(self, exc_type: object, *rest: object) -> None:
            if exc_type is not None:
                self.db.execute("ROLLBACK")
                return
            try:
                self.db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self.db.execute("ROLLBACK")
                if _is_busy(exc):
                    raise StoreBusyError() from exc
                raise
            crash_point(self.kind)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads that see one consistent state of the store (a read transaction; writers of
        other processes go on meanwhile)."""
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    def transaction(self, kind: str = "write") -> Store._Transaction:
        """One atomic write: ``with store.transaction("embed"): ...``. ``kind`` names the stage
        for the crash tests (see :func:`crash_point`)."""
        return Store._Transaction(self.db, kind)

    # -- documents ------------------------------------------------------------------------------
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

    # -- spaces and vectors ---------------------------------------------------------------------
    def ensure_space(self, space: Space) -> None:
        with self.transaction("space"):
            self.db.execute(
                "INSERT OR IGNORE INTO spaces (key, model, fingerprint, dims, params, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (space.key, space.model, space.fingerprint, space.dims, json.dumps(space.params, sort_keys=True), time.time()),
            )

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

    def load_vectors(self, space_key: str) -> tuple[list[str], NDArray[np.float32]]:
        """All vectors of a space, ordered by document id: ``(ids, matrix of shape (n, dims))``."""
        space = self.get_space(space_key)
        rows = self.db.execute(
            "SELECT v.doc_id, v.vector FROM vectors v JOIN documents d ON d.id = v.doc_id "
            "WHERE v.space = ? ORDER BY v.doc_id",
            (space_key,),
        ).fetchall()
        return [row[0] for row in rows], _stack([row[1] for row in rows], space.dims, np.float32)

    def iter_vector_blocks(self, space_key: str, size: int = 65536) -> Iterator[tuple[list[str], NDArray[np.float32]]]:
        """The vectors of :meth:`load_vectors`, in the same order, ``size`` rows at a time: a
        large space is never held whole (nor twice, as blobs and as a matrix)."""
        space = self.get_space(space_key)
        cursor = self.db.execute(
            "SELECT v.doc_id, v.vector FROM vectors v JOIN documents d ON d.id = v.doc_id "
            "WHERE v.space = ? ORDER BY v.doc_id",
            (space_key,),
        )
        while rows := cursor.fetchmany(size):
            yield [row[0] for row in rows], _stack([row[1] for row in rows], space.dims, np.float32)

    def get_vector(self, space_key: str, doc_id: str) -> NDArray[np.float32]:
        row = self.db.execute(
            "SELECT vector FROM vectors WHERE space = ? AND doc_id = ?", (space_key, doc_id)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"document {doc_id!r} has no vector for {space_key}; run `patscape embed`")
        return np.frombuffer(row[0], dtype=np.float32).copy()

    def chunk_stats(self, space_key: str) -> dict[str, int]:
        row = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(n_chunks > 1), 0), COALESCE(MAX(n_chunks), 0), "
            "COALESCE(SUM(truncated_tokens > 0), 0), COALESCE(SUM(truncated_tokens), 0), "
            "COALESCE(SUM(n_tokens), 0) FROM vectors WHERE space = ?",
            (space_key,),
        ).fetchone()
        keys = ("vectors", "multi_chunk_docs", "max_chunks", "truncated_docs", "truncated_tokens", "tokens")
        return {k: int(v) for k, v in zip(keys, row)}

    # -- for the vector files beside the store (patscape.vectors.disk) ----------------------------
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
        self, space_key: str, ids: Sequence[str] | None = None, batch: int = 4096
    ) -> Iterator[list[tuple[str, bytes]]]:
        """``(doc_id, float32 blob)`` of the space's current vectors in batches, by document id;
        every one, or those of ``ids``. Run inside :meth:`snapshot` for one consistent state."""
        sql = "SELECT v.doc_id, v.vector FROM vectors v JOIN documents d ON d.id = v.doc_id WHERE v.space = ?"
        yield from self._batched(sql, "v.doc_id", space_key, ids, batch)

    def iter_passage_rows(
        self, space_key: str, ids: Sequence[str] | None = None, batch: int = 16384
    ) -> Iterator[list[tuple[str, str, int, int, bytes, float]]]:
        """``(doc_id, field, start, end, int8 blob, scale)`` of the space's passages in batches,
        a document's passages together and in their stored order."""
        sql = (
            "SELECT p.doc_id, p.field, p.char_start, p.char_end, p.vector, p.scale FROM passages p "
            "JOIN documents d ON d.id = p.doc_id WHERE p.space = ?"
        )
        yield from self._batched(sql, "p.doc_id", space_key, ids, batch, order="p.doc_id, p.rowid")

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

    # -- runs ----------------------------------------------------------------------------------
    def save_run(
        self,
        space_key: str,
        seed: int,
        params: dict[str, Any],
        metrics: dict[str, Any],
        data: dict[str, Any],
        points: Sequence[tuple[str, int, int, float, float]],
        topics: Sequence[tuple[int, str, int, dict[str, Any]]],
    ) -> int:
        """Store a finished map in one transaction and return its run id.

        ``points`` are ``(doc_id, cluster, raw_cluster, x, y)``; ``topics`` are
        ``(cluster, label, size, data)``.
        """
        with self.transaction("map"):
            cursor = self.db.execute(
                "INSERT INTO runs (space, created_at, seed, params, metrics, data) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    space_key, time.time(), seed, json.dumps(params, sort_keys=True),
                    json.dumps(metrics, ensure_ascii=False), json.dumps(data, ensure_ascii=False),
                ),
            )
            run_id = int(cursor.lastrowid or 0)
            self.db.executemany(
                "INSERT INTO run_points VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, d, int(c), int(r), float(x), float(y)) for d, c, r, x, y in points],
            )
            self.db.executemany(
                "INSERT INTO topics VALUES (?, ?, ?, ?, ?)",
                [(run_id, int(c), label, int(size), json.dumps(data, ensure_ascii=False)) for c, label, size, data in topics],
            )
        return run_id

    def runs(self) -> list[RunInfo]:
        rows = self.db.execute("SELECT id, space, created_at, seed, params, metrics, data FROM runs ORDER BY id")
        return [
            RunInfo(int(i), s, float(t), int(seed), json.loads(p), json.loads(m), json.loads(d))
            for i, s, t, seed, p, m, d in rows
        ]

    def newest_run(self, space_key: str | None = None) -> RunInfo | None:
        """The newest run (of ``space_key`` when given), or None: the one definition of "the
        current map" used by search, the server and uploads."""
        if space_key is None:
            row = self.db.execute("SELECT id, space, created_at, seed, params, metrics, data FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        else:
            row = self.db.execute(
                "SELECT id, space, created_at, seed, params, metrics, data FROM runs WHERE space = ? ORDER BY id DESC LIMIT 1",
                (space_key,),
            ).fetchone()
        if row is None:
            return None
        i, sp, t, seed, params, metrics, data = row
        return RunInfo(int(i), sp, float(t), int(seed), json.loads(params), json.loads(metrics), json.loads(data))

    def get_run(self, run_id: int | None = None) -> RunInfo:
        """The run with this id, or the newest run when ``run_id`` is None."""
        if run_id is None:
            newest = self.newest_run()
            if newest is None:
                raise NotFoundError(f"{self.path} has no runs yet; run `patscape map` first")
            return newest
        runs = self.runs()
        for run in runs:
            if run.id == run_id:
                return run
        if not runs:
            raise NotFoundError(f"{self.path} has no runs yet; run `patscape map` first")
        raise NotFoundError(f"no run {run_id} in {self.path} (runs: {', '.join(str(r.id) for r in runs)})")

    def run_sizes(self, run_id: int) -> tuple[int, int]:
        """``(documents, topics)`` of a run."""
        documents = self.db.execute("SELECT COUNT(*) FROM run_points WHERE run_id = ?", (run_id,)).fetchone()[0]
        topics = self.db.execute("SELECT COUNT(*) FROM topics WHERE run_id = ?", (run_id,)).fetchone()[0]
        return int(documents), int(topics)

    def run_point(self, run_id: int, doc_id: str) -> tuple[int, float, float] | None:
        """``(cluster, x, y)`` of a document on a run, or None."""
        row = self.db.execute(
            "SELECT cluster, x, y FROM run_points WHERE run_id = ? AND doc_id = ?", (run_id, doc_id)
        ).fetchone()
        return (int(row[0]), float(row[1]), float(row[2])) if row is not None else None

    def run_points_of(self, run_id: int, ids: Sequence[str]) -> dict[str, tuple[int, float, float]]:
        """``{doc_id: (cluster, x, y)}`` of those of ``ids`` that are on the run."""
        found: dict[str, tuple[int, float, float]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for doc_id, c, x, y in self.db.execute(
                f"SELECT doc_id, cluster, x, y FROM run_points WHERE run_id = ? AND doc_id IN ({marks})", (run_id, *chunk)
            ):
                found[doc_id] = (int(c), float(x), float(y))
        return found

    def unplaced_ids(self, run_id: int, space_key: str, only: Sequence[str] | None = None) -> list[str]:
        """Documents with a vector in the space that are not on the run: without ``only``, those
        not placed yet either; with ``only``, those of ``only`` (placed before or not)."""
        sql = (
            "SELECT v.doc_id FROM vectors v JOIN documents d ON d.id = v.doc_id WHERE v.space = ? AND NOT EXISTS "
            "(SELECT 1 FROM run_points r WHERE r.run_id = ? AND r.doc_id = v.doc_id)"
        )
        if only is None:
            sql += " AND NOT EXISTS (SELECT 1 FROM serve_placements p WHERE p.run_id = ? AND p.doc_id = v.doc_id)"
            return [row[0] for row in self.db.execute(sql + " ORDER BY v.doc_id", (space_key, run_id, run_id))]
        found: list[str] = []
        wanted = sorted(set(only))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found += [row[0] for row in self.db.execute(f"{sql} AND v.doc_id IN ({marks})", (space_key, run_id, *chunk))]
        return sorted(found)

    def run_points(self, run_id: int) -> list[tuple[str, int, int, float, float]]:
        rows = self.db.execute(
            "SELECT doc_id, cluster, raw_cluster, x, y FROM run_points WHERE run_id = ? ORDER BY doc_id", (run_id,)
        )
        return [(d, int(c), int(r), float(x), float(y)) for d, c, r, x, y in rows]

    def run_topics(self, run_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT cluster, label, size, data FROM topics WHERE run_id = ? ORDER BY cluster", (run_id,)
        )
        return [{"cluster": int(c), "label": label, "size": int(n), **json.loads(data)} for c, label, n, data in rows]

    # -- placements of uploads on a run (until the next map) ---------------------------------------
    def placements(self, run_id: int, doc_id: str | None = None) -> list[Placement]:
        """The documents placed on ``run_id`` (or that one document), in id order."""
        sql = "SELECT doc_id, cluster, x, y, neighbours FROM serve_placements WHERE run_id = ?"
        args: tuple[Any, ...] = (run_id,)
        if doc_id is not None:
            sql, args = sql + " AND doc_id = ?", (run_id, doc_id)
        rows = self.db.execute(sql + " ORDER BY doc_id", args)
        return [Placement(d, int(c), float(x), float(y), tuple(json.loads(n))) for d, c, x, y, n in rows]

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

    # -- upload jobs -------------------------------------------------------------------------------
    def uploads_dir(self) -> Path:
        """Where upload files wait for their job (inside the store, so a restart can resume)."""
        return self.path / UPLOADS_DIR

    def save_job(self, job_id: str, state: str, created_at: float, finished_at: float | None, data: dict[str, Any]) -> None:
        with self.transaction("job"):
            self.db.execute(
                "INSERT OR REPLACE INTO jobs (id, state, created_at, finished_at, data) VALUES (?, ?, ?, ?, ?)",
                (job_id, state, created_at, finished_at, json.dumps(data, ensure_ascii=False)),
            )

    def jobs(self, limit: int = 100, states: Sequence[str] | None = None) -> list[tuple[str, str, float, float | None, dict[str, Any]]]:
        """``(id, state, created_at, finished_at, data)`` of the newest ``limit`` jobs, oldest first."""
        sql = "SELECT id, state, created_at, finished_at, data FROM jobs"
        args: list[Any] = []
        if states:
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
            args += list(states)
        rows = self.db.execute(sql + " ORDER BY created_at DESC, rowid DESC LIMIT ?", (*args, limit)).fetchall()
        return [(i, st, float(c), f, json.loads(d)) for i, st, c, f, d in reversed(rows)]

    def prune_jobs(self, keep: int) -> None:
        with self.transaction("job-prune"):
            self.db.execute(
                "DELETE FROM jobs WHERE state IN ('done', 'failed') AND id NOT IN "
                "(SELECT id FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?)", (keep,),
            )

    # -- consistency -------------------------------------------------------------------------------
    def check(self) -> dict[str, int]:
        """Counts of rows that should not exist (all zero in a healthy store): vectors, passages,
        index rows and placements without their document or space, documents missing from the
        keyword index, vectors of an older text, and run points of a missing run."""
        queries = {
            "vectors_without_document": "SELECT COUNT(*) FROM vectors WHERE doc_id NOT IN (SELECT id FROM documents)",
            "vectors_of_old_text": "SELECT COUNT(*) FROM vectors v JOIN documents d ON d.id = v.doc_id "
                                   "WHERE v.content_hash IS NOT d.content_hash",
            "passages_without_vector": "SELECT COUNT(*) FROM passages p WHERE NOT EXISTS "
                                       "(SELECT 1 FROM vectors v WHERE v.space = p.space AND v.doc_id = p.doc_id)",
            "index_rows_without_document": "SELECT COUNT(*) FROM documents_fts WHERE id NOT IN (SELECT id FROM documents)",
            "documents_without_index_row": "SELECT COUNT(*) FROM documents WHERE id NOT IN (SELECT id FROM documents_fts)",
            "duplicate_index_rows": "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM documents_fts GROUP BY id)",
            "run_points_without_run": "SELECT COUNT(*) FROM run_points WHERE run_id NOT IN (SELECT id FROM runs)",
            "topics_without_run": "SELECT COUNT(*) FROM topics WHERE run_id NOT IN (SELECT id FROM runs)",
            "placements_without_document": "SELECT COUNT(*) FROM serve_placements WHERE doc_id NOT IN (SELECT id FROM documents)",
            "placements_without_run": "SELECT COUNT(*) FROM serve_placements WHERE run_id NOT IN (SELECT id FROM runs)",
            "runs_without_points": "SELECT COUNT(*) FROM runs WHERE id NOT IN (SELECT run_id FROM run_points)",
        }
        found = {name: int(self.db.execute(sql).fetchone()[0]) for name, sql in queries.items()}
        folder = self.uploads_dir()
        active = {row[0] for row in self.db.execute("SELECT id FROM jobs WHERE state IN ('queued', 'running')")}
        found["upload_folders_without_job"] = (
            sum(1 for p in folder.iterdir() if p.name not in active) if folder.is_dir() else 0
        )
        return found


@dataclass(frozen=True, slots=True)
class Placement:
    """An uploaded document placed on a run among its ``neighbours`` (mapped document ids)."""

    doc_id: str
    cluster: int
    x: float
    y: float
    neighbours: tuple[str, ...]


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


_crash_counts: dict[str, int] = {}


def crash_point(name: str) -> None:
    """A point where the crash tests kill the process: with ``PATSCAPE_CRASH_AFTER=name:N`` the
    process SIGKILLs itself the N-th time it passes ``name`` (stages: ingest, embed, map, place,
    job, space, and the named points of the pipeline). Does nothing otherwise."""
    wanted = os.environ.get("PATSCAPE_CRASH_AFTER")
    if not wanted:
        return
    target, _, count = wanted.rpartition(":")
    if not count.isdigit():  # "map:computed" means "map:computed:1"
        target, count = wanted, "1"
    if target != name:
        return
    _crash_counts[name] = _crash_counts.get(name, 0) + 1
    if _crash_counts[name] >= int(count):
        os.kill(os.getpid(), signal.SIGKILL)


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


def _row_to_document(row: Sequence[Any]) -> Document:
    (doc_id, _hash, title, abstract, text, claims, description, lang, date, cpc, ipc, assignee, source, extra, _at) = row
    return Document(
        id=doc_id, title=title, abstract=abstract, text=text, claims=claims, description=description, lang=lang, date=date,
        cpc=tuple(json.loads(cpc)), ipc=tuple(json.loads(ipc)), assignee=assignee, source=source,
        extra=json.loads(extra),
    )
