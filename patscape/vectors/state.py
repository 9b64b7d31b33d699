"""The committed state of a space's vector files as one :class:`~patscape.vectors.disk.SpaceVectors`
sees it: the meta of its slots database, its mapped tables and indexes, its dead rows and its
filter masks. A server answers many searches from one state of the files, so a state is mapped
once per process and shared by every ``SpaceVectors`` that opens it (``_opened``): by every
thread of the server, each with its own store connection and its own ``SpaceVectors``.

What they share is read-only once loaded (the tables and indexes are mapped in ``_load``, never
on first use; dead-row masks are never changed), except the filter masks, a cache filled by
searches: :class:`MaskCache` holds its lock for every use of it.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..filters import SearchFilter
from ..store import Space, Store
from ..store import vector_slots as slots
from .hnsw import _read_index, ann_threshold
from .layout import FORMAT, _Table, directory


class MaskCache:
    """Filter masks of one state of the files: per ``(table name, filter)``, the rows whose live
    document meets the filter; the latest ``SIZE`` of them.

    Shared by the threads searching that state, so every read and change of ``masks`` holds
    ``lock``. A mask is computed outside it (a join over the store, which may take a while) and
    never changed once put in: readers copy it. Two threads missing the same mask at once both
    compute it, the same rows."""

    SIZE = 16

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.masks: dict[tuple[str, SearchFilter], NDArray[np.bool_]] = {}
        self.asked: set[tuple[str, SearchFilter]] = set()

    def first_ask(self, key: tuple[str, SearchFilter]) -> bool:
        """Whether this is the first search of ``key`` in this state of the files (no mask, never
        asked for): a one-off search (``patscape search``) answers without computing the mask if it
        can; asked again (a server), the mask is computed and kept."""
        with self.lock:
            if key in self.masks or key in self.asked:
                return False
            if len(self.asked) >= 64 * self.SIZE:
                self.asked.clear()
            self.asked.add(key)
            return True

    def get(self, key: tuple[str, SearchFilter]) -> NDArray[np.bool_] | None:
        with self.lock:
            return self.masks.get(key)

    def put(self, key: tuple[str, SearchFilter], mask: NDArray[np.bool_]) -> None:
        with self.lock:
            if key not in self.masks and len(self.masks) >= self.SIZE:
                self.masks.pop(next(iter(self.masks)))
            self.masks[key] = mask


class FilesState:
    """What :class:`~patscape.vectors.disk.SpaceVectors` is made of: the space, its folder and
    the state of its files loaded by :meth:`_load`. The search, sync and memory mixins extend it."""

    def __init__(self, store: Store, space: Space, threshold: int | None = None) -> None:
        self.store, self.space = store, space
        self.folder = directory(store, space.key)
        self.threshold = ann_threshold() if threshold is None else threshold
        self.meta: dict[str, Any] = {}
        self.docs: _Table | None = None
        self.passages: _Table | None = None
        self.dead_docs: NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self.dead_passages: NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self._masks = MaskCache()

    def _db(self) -> sqlite3.Connection:
        return slots.connect(self.folder)

    def _table(self, name: str, gen: int | None = None) -> str:
        """The slot table of ``name`` in generation ``gen`` (default: the loaded one). Each
        generation has its own, so that a reader still on the previous one keeps its ids."""
        return slots.table(name, int(self.meta["gen"]) if gen is None else gen)

    def _load(self) -> None:
        if not slots.path(self.folder).exists():
            self.meta = {}
            return
        db = self._db()
        try:
            self.meta = slots.read_meta(db)
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
            self.dead_docs = slots._mask(db, self._table("docs"), self.docs.rows)
            self.dead_passages = slots._mask(db, self._table("passages"), self.passages.rows)
        finally:
            db.close()
        for table in (self.docs, self.passages):
            rows = int(self.meta.get(f"{table.name}_index_rows", 0))
            if rows and table.index_path.exists():
                table.index = _read_index(table.index_path)
                table.index_rows = min(rows, table.index.ntotal, table.rows)
        self._masks = MaskCache()
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


#: Mapped files, masks and filter masks per state of a space's files (see ``_load``).
_STATE_KEYS = ("gen", "applied_seq", "docs_rows", "passages_rows", "docs_index_rows", "passages_index_rows", "dtype")
_opened: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_opened_lock = threading.Lock()
