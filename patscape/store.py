"""The corpus store: one directory holding a SQLite database (WAL mode).

This is the only module that speaks SQL. Documents, vectors (float32 blobs, one per document and
embedding space), runs (maps) and their topics live here. Every write batch is one transaction,
so a killed process loses at most the batch in flight and a re-run resumes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import NotFoundError, StoreError
from .records import Document
from .text import index_text

DB_NAME = "patscape.sqlite"

# Append-only: never edit a migration that has shipped, add a new one.
MIGRATIONS: list[tuple[str, str]] = [
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
]

#: The columns of a stored document, in the order :func:`_row_to_document` reads them.
_DOCUMENT_COLUMNS = (
    "id, content_hash, title, abstract, text, claims, description, lang, date, cpc, ipc, assignee, source, "
    "extra, ingested_at"
)


@dataclass(frozen=True, slots=True)
class Space:
    """An embedding space: one model used with one set of options that change the vectors."""

    key: str
    model: str
    fingerprint: str
    dims: int
    params: dict[str, Any]


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
            self.db = sqlite3.connect(db, timeout=30.0, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
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
            with self.transaction():
                for statement in sql.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))

    class _Transaction:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> None:
            self.db.execute("BEGIN IMMEDIATE")

        def __exit__(self, exc_type: object, *rest: object) -> None:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")

    def transaction(self) -> Store._Transaction:
        """One atomic write: ``with store.transaction(): ...``."""
        return Store._Transaction(self.db)

    # -- documents ------------------------------------------------------------------------------
    def upsert_documents(self, docs: Iterable[Document]) -> UpsertResult:
        """Add new documents and replace changed ones; the caller wraps this in a transaction.

        A document whose id is stored with the same content is unchanged. A new id whose content
        equals another stored document's is a duplicate and is not stored a second time.
        """
        added = replaced = unchanged = duplicates = 0
        now = time.time()
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
                f"INSERT OR REPLACE INTO documents ({_DOCUMENT_COLUMNS}) VALUES ({','.join('?' * len(values))})", values
            )
            if row is not None:
                # Content changed: its vectors describe the old version.
                self.db.execute("DELETE FROM vectors WHERE doc_id = ?", (doc.id,))
                self.db.execute("DELETE FROM passages WHERE doc_id = ?", (doc.id,))
                self.db.execute("DELETE FROM documents_fts WHERE id = ?", (doc.id,))
                replaced += 1
            else:
                added += 1
            body = index_text(" ".join((doc.title, doc.abstract, doc.text, doc.claims, doc.description)), doc.lang)
            self.db.execute("INSERT INTO documents_fts (id, body) VALUES (?, ?)", (doc.id, body))
        return UpsertResult(added, replaced, unchanged, duplicates)

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

    def iter_documents(self, ids: Sequence[str] | None = None, batch_size: int = 500) -> Iterator[Document]:
        """All documents in id order, or the given ids in the given order (missing ones skipped)."""
        if ids is None:
            cursor = self.db.execute(f"SELECT {_DOCUMENT_COLUMNS} FROM documents ORDER BY id")
            while rows := cursor.fetchmany(batch_size):
                yield from (_row_to_document(row) for row in rows)
            return
        for start in range(0, len(ids), batch_size):
            chunk = list(ids[start : start + batch_size])
            marks = ",".join("?" * len(chunk))
            found = {
                row[0]: _row_to_document(row)
                for row in self.db.execute(f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE id IN ({marks})", chunk)
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
        self.db.execute(
            "INSERT OR IGNORE INTO spaces VALUES (?, ?, ?, ?, ?, ?)",
            (space.key, space.model, space.fingerprint, space.dims, json.dumps(space.params, sort_keys=True), time.time()),
        )

    def spaces(self) -> list[Space]:
        rows = self.db.execute("SELECT key, model, fingerprint, dims, params FROM spaces ORDER BY created_at")
        return [Space(k, m, f, int(d), json.loads(p)) for k, m, f, d, p in rows]

    def get_space(self, key: str) -> Space:
        for space in self.spaces():
            if space.key == key:
                return space
        raise NotFoundError(f"no embedding space {key!r} in {self.path}")

    def ids_without_vectors(self, space_key: str) -> list[str]:
        rows = self.db.execute(
            "SELECT id FROM documents WHERE id NOT IN (SELECT doc_id FROM vectors WHERE space = ?) ORDER BY id",
            (space_key,),
        )
        return [row[0] for row in rows]

    def put_vectors(
        self,
        space_key: str,
        rows: Sequence[tuple[str, NDArray[np.float32], int, int, int]],
        passages: Sequence[PassageRow] | None = None,
    ) -> None:
        """Store ``(doc_id, vector, n_chunks, n_tokens, truncated_tokens)`` rows and the passages of
        those documents in one transaction (a document's passages are replaced, never added to)."""
        passages = passages or []
        counts: dict[str, int] = {}
        cut: dict[str, dict[str, int]] = {}
        for p in passages:
            counts[p.doc_id] = counts.get(p.doc_id, 0) + 1
            cut.setdefault(p.doc_id, {})[p.field] = p.truncated_tokens
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors (space, doc_id, vector, n_chunks, n_tokens, truncated_tokens, "
                "n_passages, passage_tokens_cut) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (space_key, doc_id, np.asarray(vec, dtype=np.float32).tobytes(), n_chunks, n_tokens, truncated,
                     counts.get(doc_id, 0), sum(cut.get(doc_id, {}).values()))
                    for doc_id, vec, n_chunks, n_tokens, truncated in rows
                ],
            )
            self.db.executemany(
                "DELETE FROM passages WHERE space = ? AND doc_id = ?", [(space_key, row[0]) for row in rows]
            )
            quantized = [(p, *quantize(p.vector)) for p in passages]
            self.db.executemany(
                "INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(space_key, p.doc_id, p.field, p.start, p.end, q.tobytes(), scale) for p, q, scale in quantized],
            )

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
        with self.transaction():
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

    def get_run(self, run_id: int | None = None) -> RunInfo:
        """The run with this id, or the newest run when ``run_id`` is None."""
        runs = self.runs()
        if not runs:
            raise NotFoundError(f"{self.path} has no runs yet; run `patscape map` first")
        if run_id is None:
            return runs[-1]
        for run in runs:
            if run.id == run_id:
                return run
        raise NotFoundError(f"no run {run_id} in {self.path} (runs: {', '.join(str(r.id) for r in runs)})")

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
