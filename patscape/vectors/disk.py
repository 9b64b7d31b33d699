"""A space's vectors as memory-mapped files beside the store, with an ANN index above a size.

SQLite stays the source of truth (every vector is written there in one transaction with its
document's content hash); these files are a derived, rebuildable copy laid out for search:

``STORE/vectors/<space>/``
    ``slots.sqlite``             which document (and passage) each row holds, and whether the row
                                 is live; the change of the store (``vector_log``) applied so far
    ``docs.<gen>.<dtype>``       document vectors, one row per slot, float32 or float16
    ``passages.<gen>.<dtype>``   passage vectors (de-quantised from the store's int8), one per slot
    ``passages.<gen>.doc``       int32: the document slot of each passage row
    ``docs.<gen>.faiss``         HNSW graph over the document rows (above the threshold), and
    ``passages.<gen>.faiss``     the same over passage rows

Rows are only appended: a replaced or removed vector leaves a dead row (masked at search) until
the dead rows pass a quarter of the file, when everything is written again under a new
generation. A writer appends rows, flushes them to disk, then commits their slots: a crash leaves
at most an uncommitted tail, cut at the next open. Index files are written whole and renamed
into place; an index covering fewer rows than the file is completed by an exact scan of the
rest, so a search is never wrong for want of an index update. Readers never lock: they map the
committed rows, and documents changed since the files were last brought up to date are read from
the store and scored exactly (``pending``), so every search sees the store as it is.

Why faiss HNSW: measured against usearch and hnswlib at 100k x 384/1024 (benchmarks/ann_choice.py,
docs/benchmarks.md): the fastest queries at recall@10 >= 0.95, 2x faster builds than usearch,
native filtered search (an ID bitmap checked during the graph walk), and indexes that open
memory-mapped. It cannot delete, which the append-only rows with a live mask do not need.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from ..filters import SearchFilter
from ..store import Space, Store

FORMAT = 1
DIR = "vectors"
#: Live document vectors from which search uses the ANN index (below: an exact scan).
DEFAULT_THRESHOLD = 50_000
#: A filter letting fewer rows than this through is answered by an exact scan of those rows.
EXACT_FILTERED = 20_000
#: Documents changed since the last update that a reader scores from the store before it
#: brings the files up to date itself.
PENDING_MAX = 20_000
DTYPES = {"float32": np.float32, "float16": np.float16}
BLOCK = 32768


def ann_threshold() -> int:
    value = os.environ.get("PATSCAPE_ANN_THRESHOLD", "")
    return int(value) if value.strip().isdigit() else DEFAULT_THRESHOLD


#: HNSW graph degree (``2 * HNSW_M`` links per vector at the base layer) and construction effort.
#: With ``HNSW_EF_CONSTRUCTION`` below ``2 * HNSW_M`` faiss keeps every candidate a new vector
#: finds as its base-layer links instead of thinning them by its diversity heuristic. Thinned,
#: the graph lost members of large dense topics: at 100k x 1024 (M 32, 128) the search missed
#: the stored document a query was made from (cosine 0.71, the next 0.45) for 8.8% of queries,
#: recall@10 0.969; kept whole (M 48, 90), 0.9% and 0.994, at 384 dimensions 0.0% and 0.995
#: (M 16, 128: 1.8% and 0.977), for a build 1.2x as long (1.37x at 1M) and 384 bytes of links
#: per vector (M 16: 128; docs/benchmarks.md, "Search at scale"). A landscape is such a corpus:
#: one technology, dense.
HNSW_M = 48
HNSW_EF_CONSTRUCTION = 90


def ef_search(k: int, rows: int = 0) -> int:
    """Search effort of the HNSW walk for ``k`` answers in an index of ``rows`` vectors.

    At a fixed effort recall falls as the graph grows: ef 256 found 98% of the true 10 nearest
    at 100k x 384 but 89% at 1M, where ef 512 finds 93% in 3.1 ms (p50; the exact scan takes
    45 ms; docs/benchmarks.md, "Search at scale"). So the effort grows with the square root of
    the index above 250,000 vectors (512 at 1M). ``PATSCAPE_ANN_EF`` sets it outright.
    """
    value = os.environ.get("PATSCAPE_ANN_EF", "")
    if value.strip().isdigit():
        base = int(value)
    else:
        base = round(256 * max(1.0, rows / 250_000) ** 0.5)
    return max(base, 2 * k)


@dataclass
class SyncReport:
    """What bringing the files up to date did."""

    rebuilt: bool = False
    appended: int = 0
    removed: int = 0
    live: int = 0
    passages: int = 0
    indexed: dict[str, int] = field(default_factory=dict)
    index_built: bool = False


@dataclass
class PassageHit:
    doc_id: str
    field: str
    start: int
    end: int
    score: float


def directory(store: Store, space_key: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", space_key)[:80]
    return store.path / DIR / f"{slug}-{hashlib.sha1(space_key.encode()).hexdigest()[:8]}"


class _Table:
    """Rows of one kind (docs or passages) in one generation, memory-mapped read-only."""

    def __init__(self, folder: Path, name: str, gen: int, dtype: str, dims: int, rows: int) -> None:
        self.name, self.rows, self.dims = name, rows, dims
        self.path = folder / f"{name}.{gen}.{dtype}"
        self.index_path = folder / f"{name}.{gen}.faiss"
        self.doc_path = folder / f"{name}.{gen}.doc"
        self.matrix: NDArray[Any] | None = None
        if rows:
            self.matrix = np.memmap(self.path, dtype=DTYPES[dtype], mode="r", shape=(rows, dims))
        self.doc_slot: NDArray[np.int32] | None = None
        if name == "passages" and rows:
            self.doc_slot = np.memmap(self.doc_path, dtype=np.int32, mode="r", shape=(rows,))
        self.index: Any = None
        self.index_rows = 0


class SpaceVectors:
    """Search over the vectors of one space (a :class:`patscape.vectors.VectorSource`).

    Open with :meth:`open`; :meth:`sync` brings the files up to date (``embed`` and
    ``import-vectors`` call it when they finish; a search calls it when it finds them behind).
    """

    def __init__(self, store: Store, space: Space, threshold: int | None = None) -> None:
        self.store, self.space = store, space
        self.folder = directory(store, space.key)
        self.threshold = ann_threshold() if threshold is None else threshold
        self.meta: dict[str, Any] = {}
        self.docs: _Table | None = None
        self.passages: _Table | None = None
        self.dead_docs: NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self.dead_passages: NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self._masks: dict[tuple[str, SearchFilter], NDArray[np.bool_]] = {}

    # -- opening -----------------------------------------------------------------------------------
    @classmethod
    def open(
        cls, store: Store, space: Space, *, sync: bool = True, threshold: int | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> SpaceVectors:
        """The committed files of ``space``; with ``sync``, first brought up to date when they are
        missing or far behind the store (a one-time build is announced through ``on_notice``)."""
        view = cls(store, space, threshold)
        view._load()
        if sync:
            head = store.vector_log_head(space.key)
            behind = not view.meta.get("built") or int(view.meta.get("applied_seq", 0)) < head
            unindexed = view.live >= view.threshold and not int(view.meta.get("docs_index_rows", 0))
            if behind or unindexed:
                if not view.meta.get("built") and on_notice:
                    on_notice(f"writing the vector files of {space.key} beside the store (once; later updates are incremental)")
                pending = 0 if not view.meta.get("built") else len(
                    store.changed_documents(space.key, int(view.meta["applied_seq"]), PENDING_MAX + 1)[1]
                )
                # A reader that finds the files a little behind tries to update them, and if
                # another process is doing so, answers from the store for the changed documents.
                wait = not view.meta.get("built") or pending > PENDING_MAX or unindexed
                if view.sync(wait=wait, on_notice=on_notice) is not None:
                    view._load()
        return view

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.folder / "slots.sqlite", timeout=60, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        return db

    def _table(self, name: str, gen: int | None = None) -> str:
        """The slot table of ``name`` in generation ``gen`` (default: the loaded one). Each
        generation has its own, so that a reader still on the previous one keeps its ids."""
        return f"{name}_{int(self.meta['gen']) if gen is None else gen}"

    def _load(self) -> None:
        if not (self.folder / "slots.sqlite").exists():
            self.meta = {}
            return
        db = self._db()
        try:
            self.meta = {k: _value(v) for k, v in db.execute("SELECT key, value FROM meta")}
            if not self.meta.get("built") or self.meta.get("format") != FORMAT:
                self.meta = {}
                return
            # a server answers many searches from one state of the files: map them once
            signature = (str(self.folder), *(self.meta.get(k) for k in _STATE_KEYS))
            with _opened_lock:
                cached = _opened.get(signature)
            if cached is not None:
                self.docs, self.passages, self.dead_docs, self.dead_passages, self._masks = cached
                return
            gen, dtype, dims = int(self.meta["gen"]), str(self.meta["dtype"]), int(self.meta["dims"])
            self.docs = _Table(self.folder, "docs", gen, dtype, dims, int(self.meta["docs_rows"]))
            self.passages = _Table(self.folder, "passages", gen, dtype, dims, int(self.meta["passages_rows"]))
            self.dead_docs = _mask(db, self._table("docs"), self.docs.rows)
            self.dead_passages = _mask(db, self._table("passages"), self.passages.rows)
        finally:
            db.close()
        for table in (self.docs, self.passages):
            rows = int(self.meta.get(f"{table.name}_index_rows", 0))
            if rows and table.index_path.exists():
                table.index = _read_index(table.index_path)
                table.index_rows = min(rows, table.index.ntotal, table.rows)
        self._masks = {}
        with _opened_lock:
            _opened[signature] = (self.docs, self.passages, self.dead_docs, self.dead_passages, self._masks)
            while len(_opened) > 4:
                _opened.pop(next(iter(_opened)))

    @property
    def dtype(self) -> str:
        return str(self.meta.get("dtype", "float32"))

    @property
    def live(self) -> int:
        return 0 if self.docs is None else int(self.docs.rows - self.dead_docs.sum())

    # -- bringing the files up to date ---------------------------------------------------------------
    @contextmanager
    def _locked(self, wait: bool) -> Iterator[bool]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "lock", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def sync(
        self, *, wait: bool = True, dtype: str | None = None, rebuild: bool = False, build_index: bool | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> SyncReport | None:
        """Apply the store's changes to the files (or write them anew); build or extend the ANN
        index when the space has at least ``threshold`` live vectors. ``None`` when another
        process holds the files and ``wait`` is false."""
        if dtype is not None and dtype not in DTYPES:
            raise InputError(f"--dtype must be one of {', '.join(DTYPES)}")
        with self._locked(wait) as got:
            if not got:
                return None
            self._load()
            report = SyncReport()
            want_dtype = dtype or (self.dtype if self.meta else "float32")
            fresh = rebuild or not self.meta or want_dtype != self.dtype or int(self.meta.get("dims", 0)) != self.space.dims
            if not fresh:
                fresh = self._apply_changes(report)
            if fresh:
                self._write_all(want_dtype, report)
            self._load()
            report.live, report.passages = self.live, 0 if self.passages is None else int(
                self.passages.rows - self.dead_passages.sum())
            self._update_indexes(report, build_index, on_notice)
            advice = self.memory_advice() if report.index_built else None
            if advice and on_notice:
                on_notice(advice)
            return report

    def memory_advice(self) -> str | None:
        """A word when the float32 files and the index take more than a quarter of this
        machine's memory: a search walks the index's pages at random, so it is fast only while
        the page cache holds them beside the store's own pages and everything else. At 1M x 1024
        on a 24 GB machine (8.6 GB) searches took 91-228 ms; as float16, 7 ms at the same recall
        (docs/benchmarks.md, "Search at scale")."""
        memory = physical_memory()
        if self.dtype != "float32" or not memory:
            return None
        paths = [p for t in (self.docs, self.passages) if t is not None for p in (t.path, t.index_path)]
        size = sum(p.stat().st_size for p in paths if p.exists())
        if size <= memory / 4:
            return None
        return (f"the vector files and ANN index of {self.space.key} take {size / 1e9:.1f} GB, more than a "
                f"quarter of this machine's {memory / 1e9:.0f} GB of memory; searches slow down when the page "
                f"cache cannot hold them. `patscape index {self.store.path} --dtype float16` halves them at the "
                "same recall (docs/scale.md)")

    def _write_all(self, dtype: str, report: SyncReport) -> None:
        """Every current vector of the space into a new generation of files."""
        gen = int(self.meta.get("gen", 0)) + 1
        folder, dims = self.folder, self.space.dims
        docs_table, passages_table = self._table("docs", gen), self._table("passages", gen)
        db = self._db()
        try:
            # the new generation's slots are written in one transaction that commits only after
            # its files are on disk; nothing refers to them before
            db.execute("BEGIN IMMEDIATE")
            for table in (docs_table, passages_table):
                db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute(f"CREATE TABLE {docs_table} (slot INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, live INTEGER NOT NULL)")
            db.execute(f"CREATE INDEX {docs_table}_doc ON {docs_table}(doc_id)")
            db.execute(
                f"CREATE TABLE {passages_table} (slot INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, field TEXT NOT NULL, "
                "char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, live INTEGER NOT NULL)"
            )
            db.execute(f"CREATE INDEX {passages_table}_doc ON {passages_table}(doc_id)")
            n_passages = 0
            with self.store.snapshot():
                head = self.store.vector_log_head(self.space.key)
                doc_slot: dict[str, int] = {}
                with open(folder / f"docs.{gen}.{dtype}", "wb") as out:
                    for rows in self.store.iter_vector_rows(self.space.key):
                        out.write(_matrix([r[1] for r in rows], dims, np.float32).astype(DTYPES[dtype]).tobytes())
                        base = len(doc_slot)
                        for i, r in enumerate(rows):
                            doc_slot[r[0]] = base + i
                        db.executemany(f"INSERT INTO {docs_table} VALUES (?, ?, 1)", ((base + i, r[0]) for i, r in enumerate(rows)))
                    _flush(out)
                with open(folder / f"passages.{gen}.{dtype}", "wb") as out, open(folder / f"passages.{gen}.doc", "wb") as docs:
                    for rows in self.store.iter_passage_rows(self.space.key):
                        kept = [r for r in rows if r[0] in doc_slot]
                        if not kept:
                            continue
                        out.write(_dequantize(kept, dims).astype(DTYPES[dtype]).tobytes())
                        docs.write(np.asarray([doc_slot[r[0]] for r in kept], dtype=np.int32).tobytes())
                        db.executemany(
                            f"INSERT INTO {passages_table} VALUES (?, ?, ?, ?, ?, 1)",
                            ((n_passages + i, r[0], r[1], r[2], r[3]) for i, r in enumerate(kept)),
                        )
                        n_passages += len(kept)
                    _flush(out)
                    _flush(docs)
            _set_meta(db, format=FORMAT, built=1, space=self.space.key, dims=dims, dtype=dtype, gen=gen,
                      applied_seq=head, docs_rows=len(doc_slot), passages_rows=n_passages,
                      docs_index_rows=0, passages_index_rows=0)
            # the generation before the previous one has no reader left to need its slots
            if gen > 2:
                for name in ("docs", "passages"):
                    db.execute(f"DROP TABLE IF EXISTS {self._table(name, gen - 2)}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()
        for path in folder.glob("*.*"):
            parts = path.name.split(".")
            if len(parts) >= 3 and parts[1].isdigit() and int(parts[1]) != gen and parts[0] in ("docs", "passages"):
                path.unlink(missing_ok=True)  # readers that mapped them keep their pages
        report.rebuilt = True
        report.appended = len(doc_slot)

    def _apply_changes(self, report: SyncReport) -> bool:
        """Append the vectors of changed documents and retire their old rows; ``True`` when a
        rewrite is better (too many changes or too many dead rows)."""
        assert self.docs is not None and self.passages is not None
        applied = int(self.meta["applied_seq"])
        dims, dtype = self.space.dims, self.dtype
        with self.store.snapshot():
            head, changed = self.store.changed_documents(self.space.key, applied, limit=max(PENDING_MAX, self.live // 4))
            if head == applied:
                return False
            if len(changed) >= max(PENDING_MAX, self.live // 4):
                return True
            vectors = [r for rows in self.store.iter_vector_rows(self.space.key, changed) for r in rows]
            passages = [r for rows in self.store.iter_passage_rows(self.space.key, changed) for r in rows]
        db = self._db()
        try:
            # cut an uncommitted tail a crashed writer may have left, then append
            doc_base, passage_base = self.docs.rows, self.passages.rows
            itemsize = np.dtype(DTYPES[dtype]).itemsize
            _truncate(self.docs.path, doc_base * dims * itemsize)
            _truncate(self.passages.path, passage_base * dims * itemsize)
            _truncate(self.passages.doc_path, passage_base * 4)
            doc_slot = {r[0]: doc_base + i for i, r in enumerate(vectors)}
            kept = [r for r in passages if r[0] in doc_slot]
            with open(self.docs.path, "ab") as out:
                out.write(_matrix([r[1] for r in vectors], dims, np.float32).astype(DTYPES[dtype]).tobytes())
                _flush(out)
            with open(self.passages.path, "ab") as out, open(self.passages.doc_path, "ab") as docs:
                if kept:
                    out.write(_dequantize(kept, dims).astype(DTYPES[dtype]).tobytes())
                    docs.write(np.asarray([doc_slot[r[0]] for r in kept], dtype=np.int32).tobytes())
                _flush(out)
                _flush(docs)
            db.execute("BEGIN IMMEDIATE")
            for start in range(0, len(changed), 500):
                chunk = changed[start : start + 500]
                marks = ",".join("?" * len(chunk))
                report.removed += db.execute(
                    f"UPDATE {self._table('docs')} SET live = 0 WHERE live = 1 AND doc_id IN ({marks})", chunk
                ).rowcount
                db.execute(f"UPDATE {self._table('passages')} SET live = 0 WHERE live = 1 AND doc_id IN ({marks})", chunk)
            db.executemany(f"INSERT INTO {self._table('docs')} VALUES (?, ?, 1)", ((slot, doc_id) for doc_id, slot in doc_slot.items()))
            db.executemany(
                f"INSERT INTO {self._table('passages')} VALUES (?, ?, ?, ?, ?, 1)",
                ((passage_base + i, r[0], r[1], r[2], r[3]) for i, r in enumerate(kept)),
            )
            _set_meta(db, applied_seq=head, docs_rows=doc_base + len(vectors), passages_rows=passage_base + len(kept))
            db.execute("COMMIT")
            dead = int(db.execute(f"SELECT COUNT(*) FROM {self._table('docs')} WHERE live = 0").fetchone()[0])
        finally:
            db.close()
        report.appended = len(vectors)
        total = doc_base + len(vectors)
        return dead > max(1000, total // 4)

    def _update_indexes(self, report: SyncReport, build: bool | None, on_notice: Callable[[str], None] | None) -> None:
        import faiss

        for table, dead in ((self.docs, self.dead_docs), (self.passages, self.dead_passages)):
            assert table is not None
            live = int(table.rows - dead.sum())
            wanted = build if build is not None else live >= self.threshold
            if not wanted or table.rows == 0:
                continue
            have = int(self.meta.get(f"{table.name}_index_rows", 0))
            if have >= table.rows and table.index_path.exists():
                report.indexed[table.name] = have
                continue
            if have and table.index_path.exists():
                index = faiss.read_index(str(table.index_path))
                have = min(have, index.ntotal)
            else:
                if on_notice and table.rows - have > 10000:
                    on_notice(f"building the ANN index over {table.rows:,} {table.name} vectors (once; later updates add to it)")
                index = _new_index(self.space.dims, self.dtype)
                have = 0
            assert table.matrix is not None
            for start in range(have, table.rows, BLOCK):
                index.add(np.ascontiguousarray(table.matrix[start : start + BLOCK], dtype=np.float32))
            temporary = table.index_path.with_suffix(".faiss.tmp")
            faiss.write_index(index, str(temporary))
            with open(temporary, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(temporary, table.index_path)
            db = self._db()
            try:
                db.execute("BEGIN IMMEDIATE")
                _set_meta(db, **{f"{table.name}_index_rows": table.rows})
                db.execute("COMMIT")
            finally:
                db.close()
            report.indexed[table.name] = table.rows
            report.index_built = True
        self._load()

    # -- search ------------------------------------------------------------------------------------------
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
                slots = self.store.matching_slots(where, self.folder / "slots.sqlite", self._table(name))
                cached[slots[slots < table.rows]] = True
                if len(self._masks) >= 16:
                    self._masks.pop(next(iter(self._masks)))
                self._masks[(name, where)] = cached
            mask = cached.copy()
        elif dead.any() or pending:
            mask = ~dead
        else:
            return None
        if pending:
            db = self._db()
            try:
                ids = sorted(pending)
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    for (slot,) in db.execute(f"SELECT slot FROM {self._table(name)} WHERE doc_id IN ({marks})", chunk):
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
        if table.index is not None and table.index_rows and (mask is None or allowed > EXACT_FILTERED):
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
            if mask is not None and allowed <= EXACT_FILTERED and exact_from == 0:
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

    def _doc_ids(self, name: str, slots: list[int]) -> dict[int, tuple[Any, ...]]:
        if not slots:
            return {}
        db = self._db()
        try:
            columns = "slot, doc_id" if name == "docs" else "slot, doc_id, field, char_start, char_end"
            found: dict[int, tuple[Any, ...]] = {}
            for start in range(0, len(slots), 500):
                chunk = slots[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in db.execute(f"SELECT {columns} FROM {self._table(name)} WHERE slot IN ({marks})", chunk):
                    found[int(row[0])] = tuple(row[1:])
            return found
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
        mask = self._allowed("docs", where, pending)
        want = k + (1 if exclude else 0)
        rows = self._top_rows(self.docs, target, want, mask)
        ids = self._doc_ids("docs", [r for r, _ in rows])
        scored = [(ids[r][0], s) for r, s in rows if r in ids]
        scored += self._score_pending(changed, where, target)
        scored = [(d, s) for d, s in scored if d != exclude]
        return sorted(scored, key=lambda kv: (-kv[1], kv[0]))[:k]

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
        if self.passages.index is None or (mask is not None and int(mask.sum()) <= EXACT_FILTERED):
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


# -- helpers -------------------------------------------------------------------------------------------
def physical_memory() -> int | None:
    """Bytes of memory of this machine, ``None`` where the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def _value(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text


def _set_meta(db: sqlite3.Connection, **values: Any) -> None:
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in values.items()])


def _mask(db: sqlite3.Connection, table: str, rows: int) -> NDArray[np.bool_]:
    dead = np.zeros(rows, dtype=bool)
    slots = np.fromiter((r[0] for r in db.execute(f"SELECT slot FROM {table} WHERE live = 0")), dtype=np.int64)
    dead[slots[slots < rows]] = True
    return dead


def _matrix(blobs: list[bytes], dims: int, dtype: type) -> NDArray[Any]:
    if not blobs:
        return np.zeros((0, dims), dtype=dtype)
    return np.frombuffer(b"".join(blobs), dtype=dtype).reshape(len(blobs), dims)


def _dequantize(rows: list[Any], dims: int) -> NDArray[np.float32]:
    """Passage rows ``(doc_id, field, start, end, int8 blob, scale)`` as float32 vectors."""
    q = _matrix([r[4] for r in rows], dims, np.int8).astype(np.float32)
    return q * np.asarray([r[5] for r in rows], dtype=np.float32)[:, None]


def _flush(handle: Any) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _truncate(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size > size:
        with open(path, "r+b") as handle:
            handle.truncate(size)


def _best(rows: NDArray[np.int64], scores: NDArray[np.float32], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        return rows[part], scores[part]
    return rows, scores


def _new_index(dims: int, dtype: str) -> Any:
    import faiss

    if dtype == "float16":
        index = faiss.IndexHNSWSQ(dims, faiss.ScalarQuantizer.QT_fp16, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.train(np.zeros((1, dims), dtype=np.float32))
    else:
        index = faiss.IndexHNSWFlat(dims, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    return index


def index_m(index: Any) -> int | None:
    """The ``M`` an HNSW index was built with (``None`` for another kind of index)."""
    import faiss

    hnsw = getattr(faiss.downcast_index(index), "hnsw", None)
    return None if hnsw is None else int(hnsw.nb_neighbors(0)) // 2


def _read_index(path: Path) -> Any:
    import faiss

    try:  # mapped, not read: a served index costs page cache, not process memory
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    except RuntimeError:
        return faiss.read_index(str(path))


#: Mapped files, masks and filter masks per state of a space's files (see ``_load``).
_STATE_KEYS = ("gen", "applied_seq", "docs_rows", "passages_rows", "docs_index_rows", "passages_index_rows", "dtype")
_opened: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_opened_lock = threading.Lock()
