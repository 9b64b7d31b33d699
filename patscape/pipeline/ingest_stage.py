"""The ingest stage: read files into the store, batch by batch, with resume."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import InputError
from ..ingest import FieldMap, read_path
from ..ingest.limits import ReadLimits
from ..records import Document, Problem
from ..store import Store
from .progress import Progress


@dataclass(slots=True)
class IngestReport:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    duplicates: int = 0
    #: Records skipped, with where and why.
    problems: list[Problem] = field(default_factory=list)
    #: Records kept after a field was fixed or dropped, or whose id was changed (where and why).
    warnings: list[Problem] = field(default_factory=list)
    #: Ids stored or confirmed by this call (only with ``collect_ids``).
    ids: list[str] = field(default_factory=list)

    @property
    def read(self) -> int:
        return self.added + self.replaced + self.unchanged + self.duplicates


def ingest(
    store: Store,
    paths: Sequence[str | Path],
    fields: FieldMap | None = None,
    *,
    strict: bool = False,
    batch_size: int = 500,
    on_problem: Callable[[Problem], None] | None = None,
    progress: Progress | None = None,
    limits: ReadLimits | None = None,
    collect_ids: bool = False,
    source_label: Callable[[str], str] | None = None,
) -> IngestReport:
    """Read every path into the store.

    Files are parsed outside any write transaction; each batch of ``batch_size`` documents is
    written in one short transaction, so a killed ingest keeps every committed batch and a re-run
    adds the rest. Records with problems are reported through ``on_problem`` and skipped (a
    problem with ``kept`` set is a warning: the record was stored with the field fixed); with
    ``strict`` the files are checked first and the first problem raises :class:`InputError`
    before anything is stored. A record whose id appeared earlier in this call with the same
    content is a repeat (counted as a duplicate); with different content it is a problem (the
    first one is kept). A file whose id comes from its path (``extra.id_source == "path"``)
    and is taken by a different file gets an id made from its content instead (``name~hash``).
    ``source_label`` rewrites the ``source`` kept with each document (uploads name the job).
    """
    fields = fields or FieldMap()
    limits = limits or ReadLimits()
    for p in paths:  # fails early on missing files / bad types
        read_path(p, fields, limits=limits)
    if strict:
        _ingest_pass(store, paths, fields, limits, IngestReport(), strict=True, write=False, batch_size=batch_size)
    report = IngestReport()
    _ingest_pass(store, paths, fields, limits, report, strict=strict, write=True, batch_size=batch_size,
                 on_problem=on_problem, progress=progress, collect_ids=collect_ids, source_label=source_label)
    return report


def _ingest_pass(
    store: Store,
    paths: Sequence[str | Path],
    fields: FieldMap,
    limits: ReadLimits,
    report: IngestReport,
    *,
    strict: bool,
    write: bool,
    batch_size: int,
    on_problem: Callable[[Problem], None] | None = None,
    progress: Progress | None = None,
    collect_ids: bool = False,
    source_label: Callable[[str], str] | None = None,
) -> None:
    store.start_ingest_log()

    def problem(item: Problem) -> None:
        if strict:
            raise InputError(f"{item} (--strict: nothing was ingested)")
        (report.warnings if getattr(item, "kept", False) else report.problems).append(item)
        if on_problem:
            on_problem(item)

    def flush(batch: list[Document]) -> None:
        if write:
            result = store.write_documents(batch)
            report.added += result.added
            report.replaced += result.replaced
            report.unchanged += result.unchanged
            report.duplicates += result.duplicates
            if collect_ids:
                report.ids.extend(d.id for d in batch)
            if progress:
                progress(len(batch))
        batch.clear()

    batch: list[Document] = []
    for path_ in paths:
        for item in read_path(path_, fields, limits=limits):
            if isinstance(item, Problem):
                problem(item)
                continue
            if source_label is not None and item.source:
                item = replace(item, source=source_label(item.source))
            digest = item.content_hash
            path, position = item.origin or (item.source or "?", "record")
            if item.extra.get("id_source") == "path":
                item = _unique_path_id(store, item, digest, path, problem)
            seen = store.log_ingested(item.id, digest, f"{path}: {position}")
            if seen is not None:
                if seen[0] == digest:
                    report.duplicates += 1
                else:
                    problem(Problem(path, position, f"duplicate id {item.id} with different content (first seen at {seen[1]}); skipped"))
                continue
            batch.append(item)
            if len(batch) >= batch_size:
                flush(batch)
    if batch:
        flush(batch)


def _unique_path_id(
    store: Store, doc: Document, digest: str, path: str, problem: Callable[[Problem], None]
) -> Document:
    """``doc`` as is, or with an id made from its content when another file already has its
    path-derived id (same name in another folder or upload); the change is reported."""
    earlier = store.ingested_before(doc.id)
    stored = store.stored_version(doc.id)
    if earlier is not None:
        taken_by = earlier[1] if earlier[0] != digest else None
    else:
        taken_by = stored[1] if stored is not None and stored[0] != digest and stored[1] != doc.source else None
    if taken_by is None:
        return doc
    new_id = f"{doc.id}~{digest[:10]}"
    problem(Problem(path, "file", f"id {doc.id} belongs to {taken_by}; this file is stored as {new_id}", kept=True))
    return replace(doc, id=new_id, extra={**doc.extra, "id_source": "content"})
