"""What a store holds, in one dict: its documents (by language and by where their ids came
from), its embedding spaces (progress, chunking and truncation, passages, vector files), its
runs with their metrics, and its recent upload jobs. ``patscape info`` prints it."""

from __future__ import annotations

from typing import Any

from .store import Space, Store
from .vectors.disk import SpaceVectors


def store_overview(db: Store) -> dict[str, Any]:
    """Everything ``patscape info`` reports about ``db`` (``--json`` prints this dict)."""
    spaces = []
    for s in db.spaces():
        progress = db.space_progress(s)
        spaces.append({
            "key": s.key, "model": s.model, "dims": s.dims, "fingerprint": s.fingerprint, "params": s.params,
            "state": "complete" if s.complete else "in progress", "completed_at": s.completed_at,
            "embedded": progress.embedded, "missing": progress.missing,
            **db.chunk_stats(s.key), **db.passage_stats(s.key), "vector_files": vector_files(db, s),
            "centring": centring_of(db, s),
        })
    runs = [{"id": r.id, "space": r.space, "seed": r.seed, "created_at": r.created_at, "metrics": r.metrics,
             "params": r.params, "hierarchy": r.data.get("hierarchy"), "levels": db.run_levels(r.id),
             "lineage": r.data.get("lineage")} for r in db.runs()]
    jobs = [{"id": i, "state": st, "created_at": c, "finished_at": f, "message": d.get("message")}
            for i, st, c, f, d in db.jobs(limit=20)]
    return {"store": str(db.path.resolve()), "documents": db.count_documents(),
            "languages": db.language_counts(), "ids": db.id_sources(), "spaces": spaces, "runs": runs,
            "upload_jobs": jobs}


def centring_of(db: Store, space: Space) -> dict[str, Any] | None:
    """Per-language centring of a space: None when it has none; else whether its means are frozen
    and the documents each mean was taken over (``*``: all, for every other language)."""
    if space.params.get("centring") != "language":
        return None
    frozen = db.space_centring(space.key)
    return {"frozen": frozen is not None, "docs": dict(frozen.docs) if frozen is not None else {}}


def vector_files(db: Store, space: Space) -> dict[str, Any] | None:
    """The state of a space's vector files, read without writing them (None: not written yet)."""
    files = SpaceVectors.open(db, space, sync=False)
    if not files.meta or files.docs is None:
        return None
    head = db.vector_log_head(space.key)
    return {"rows": files.docs.rows, "live": files.live, "dtype": files.dtype, "indexed": files.docs.index_rows,
            "behind": len(db.changed_documents(space.key, int(files.meta["applied_seq"]))[1]) if head > int(files.meta["applied_seq"]) else 0}
