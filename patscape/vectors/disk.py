"""A space's vectors as memory-mapped files beside the store, with an ANN index above a size.

SQLite stays the source of truth (every vector is written there in one transaction with its
document's content hash); these files are a derived, rebuildable copy laid out for search
(:mod:`patscape.vectors.layout`), with a database of which document each row holds
(:mod:`patscape.store.vector_slots`).

Rows are only appended: a replaced or removed vector leaves a dead row (masked at search) until
the dead rows pass a quarter of the file, when everything is written again under a new
generation. A writer appends rows, flushes them to disk, then commits their slots: a crash leaves
at most an uncommitted tail, cut at the next open. Index files are written whole and renamed
into place; an index covering fewer rows than the file is completed by an exact scan of the
rest, so a search is never wrong for want of an index update. Readers never lock: they map the
committed rows, and documents changed since the files were last brought up to date are read from
the store and scored exactly (``pending``), so every search sees the store as it is.

:class:`SpaceVectors` is the one way in; its parts live beside this module:

``layout``    where the files are and how a generation's rows are named and mapped
``state``     the state of the files one ``SpaceVectors`` answers from, mapped once per process
              and shared by a server's threads (with the lock of its filter-mask cache)
``update``    :meth:`SpaceVectors.sync`: appending, rewriting, building the index
``hnsw``      the faiss HNSW index: when it is used, how it is built, read and walked
``search``    :meth:`SpaceVectors.nearest`
``passages``  :meth:`SpaceVectors.nearest_passages`
``memory``    :meth:`SpaceVectors.memory_advice`
"""

from __future__ import annotations

from collections.abc import Callable

from ..store import Space, Store
from .hnsw import DEFAULT_THRESHOLD, EXACT_FILTERED, HNSW_EF_CONSTRUCTION, HNSW_M, ann_threshold, ef_search, index_m
from .layout import BLOCK, DIR, DTYPES, FORMAT, directory
from .memory import physical_memory
from .passages import PassageHit, PassageSearchMixin
from .update import PENDING_MAX, SyncMixin, SyncReport

__all__ = [
    "BLOCK", "DEFAULT_THRESHOLD", "DIR", "DTYPES", "EXACT_FILTERED", "FORMAT", "HNSW_EF_CONSTRUCTION", "HNSW_M",
    "PENDING_MAX", "PassageHit", "SpaceVectors", "SyncReport", "ann_threshold", "directory", "ef_search", "index_m",
    "physical_memory",
]


class SpaceVectors(SyncMixin, PassageSearchMixin):
    """Search over the vectors of one space (a :class:`patscape.vectors.VectorSource`).

    Open with :meth:`open`; :meth:`sync` brings the files up to date (``embed`` and
    ``import-vectors`` call it when they finish; a search calls it when it finds them behind).
    """

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
            behind = behind or view.meta.get("centring", "") != view._centring_digest()  # means frozen since
            unindexed = view.live >= view.threshold and not int(view.meta.get("docs_index_rows", 0))
            if behind or unindexed:
                if not view.meta.get("built") and on_notice:
                    on_notice(f"writing the vector files of {space.key} beside the store (once; later updates are incremental)")
                pending = 0 if not view.meta.get("built") else len(
                    store.changed_documents(space.key, int(view.meta["applied_seq"]), PENDING_MAX + 1)[1]
                )
                # A reader that finds the files a little behind tries to update them, and if
                # another process is doing so, answers from the store for the changed documents.
                wait = (not view.meta.get("built") or pending > PENDING_MAX or unindexed
                        or view.meta.get("centring", "") != view._centring_digest())
                if view.sync(wait=wait, on_notice=on_notice) is not None:
                    view._load()
        return view
