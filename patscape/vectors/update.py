"""Bringing a space's vector files up to date with the store (:mod:`patscape.vectors.disk`):
appending the vectors of changed documents and retiring their old rows, writing everything
anew under a new generation when that is better, and building or extending the ANN index. One
writer at a time, across processes (a lock file beside the files); readers never wait for it."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..store import vector_slots as slots
from .hnsw import _new_index
from .layout import BLOCK, DTYPES, FORMAT, _dequantize, _flush, _matrix, _truncate
from .memory import MemoryMixin

#: Documents changed since the last update that a reader scores from the store before it
#: brings the files up to date itself.
PENDING_MAX = 20_000


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


class SyncMixin(MemoryMixin):
    """:meth:`sync` of :class:`~patscape.vectors.disk.SpaceVectors`."""

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
            # rows centred with other means (or none) than the space's now: written anew
            fresh = fresh or self.meta.get("centring", "") != self._centring_digest()
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

    def _centring_digest(self) -> str:
        """Which means the rows are centred with ('' for raw): the store's rows are read centred."""
        centring = self.store.space_centring(self.space.key)
        return "" if centring is None else centring.digest

    def _write_all(self, dtype: str, report: SyncReport) -> None:
        """Every current vector of the space into a new generation of files."""
        gen = int(self.meta.get("gen", 0)) + 1
        folder, dims = self.folder, self.space.dims
        docs_table, passages_table = self._table("docs", gen), self._table("passages", gen)
        db = self._db()
        try:
            # the new generation's slots are written in one transaction that commits only after
            # its files are on disk; nothing refers to them before
            with slots.transaction(db):
                slots.new_generation(db, docs_table, passages_table)
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
                            slots.add_docs(db, docs_table, ((base + i, r[0]) for i, r in enumerate(rows)))
                        _flush(out)
                    with open(folder / f"passages.{gen}.{dtype}", "wb") as out, open(folder / f"passages.{gen}.doc", "wb") as docs:
                        for rows in self.store.iter_passage_rows(self.space.key):
                            kept = [r for r in rows if r[0] in doc_slot]
                            if not kept:
                                continue
                            out.write(_dequantize(kept, dims).astype(DTYPES[dtype]).tobytes())
                            docs.write(np.asarray([doc_slot[r[0]] for r in kept], dtype=np.int32).tobytes())
                            slots.add_passages(
                                db, passages_table,
                                ((n_passages + i, r[0], r[1], r[2], r[3]) for i, r in enumerate(kept)),
                            )
                            n_passages += len(kept)
                        _flush(out)
                        _flush(docs)
                slots._set_meta(db, format=FORMAT, built=1, space=self.space.key, dims=dims, dtype=dtype, gen=gen,
                                applied_seq=head, docs_rows=len(doc_slot), passages_rows=n_passages,
                                docs_index_rows=0, passages_index_rows=0, centring=self._centring_digest())
                # the generation before the previous one has no reader left to need its slots
                if gen > 2:
                    slots.drop(db, *(self._table(name, gen - 2) for name in ("docs", "passages")))
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
            with slots.transaction(db):
                report.removed += slots.retire(db, self._table("docs"), self._table("passages"), changed)
                slots.add_docs(db, self._table("docs"), ((slot, doc_id) for doc_id, slot in doc_slot.items()))
                slots.add_passages(
                    db, self._table("passages"), ((passage_base + i, r[0], r[1], r[2], r[3]) for i, r in enumerate(kept))
                )
                slots._set_meta(db, applied_seq=head, docs_rows=doc_base + len(vectors), passages_rows=passage_base + len(kept))
            dead = slots.count_dead(db, self._table("docs"))
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
                with slots.transaction(db):
                    slots._set_meta(db, **{f"{table.name}_index_rows": table.rows})
            finally:
                db.close()
            report.indexed[table.name] = table.rows
            report.index_built = True
        self._load()
