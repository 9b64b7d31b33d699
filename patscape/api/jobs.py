"""Upload jobs: ingest files, embed them in the store's space, place them on the map.

Jobs run one at a time on a worker thread of their own (one writer for the store per server)
and are kept in the store (``Store.save_job``), so a restarted server lists finished and failed
jobs and resumes the unfinished ones. The uploaded files wait in the store's ``uploads/``
folder until their job ends, whatever way it ends. The queue is bounded (:class:`QueueFull`).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import IncompleteSpaceError, NotFoundError, PatscapeError
from ..ingest.limits import ReadLimits
from ..pipeline import embed as run_embed
from ..pipeline import embed_into
from ..pipeline import ingest as run_ingest
from ..records import Problem
from ..spaces import pick_space
from ..store import Space, Store
from . import placements as placing
from .corpus import Corpus
from .errors import ApiError
from .schemas.corpus import JobPublic, JobState

log = logging.getLogger(__name__)

KEEP = 100
MAX_PROBLEMS = 50
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """What one upload may hold and how many may wait.

    max_files: files per upload; max_queued: jobs waiting or running (more: 429);
    max_decompressed_bytes: bytes a compressed upload file may expand to;
    max_pdf_pages: pages read from one PDF (the rest is cut, with a problem).
    """

    max_files: int = 1000
    max_queued: int = 8
    max_decompressed_bytes: int = 2 * 1024**3
    max_pdf_pages: int = 500

    def read_limits(self) -> ReadLimits:
        # A parsed XML document takes 10-50 times its size in memory: uploads get a smaller cap.
        return dataclasses.replace(
            ReadLimits(), max_decompressed_bytes=self.max_decompressed_bytes, max_pdf_pages=self.max_pdf_pages,
            max_xml_document_bytes=32 * 1024**2,
        )


class QueueFull(PatscapeError):
    """Too many upload jobs are waiting; the client should retry later."""


@dataclass(slots=True)
class Job:
    id: str
    folder: Path
    state: JobState = "queued"
    stage: str = "queued"
    done: int = 0
    total: int = 0
    added: int = 0
    unchanged: int = 0
    duplicates: int = 0
    skipped: int = 0
    embedded: int = 0
    placed: int = 0
    run: int | None = None
    documents: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    message: str | None = None
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def public(self) -> JobPublic:
        return JobPublic(
            id=self.id, state=self.state, stage=self.stage, done=self.done, total=self.total, added=self.added,
            unchanged=self.unchanged, duplicates=self.duplicates, skipped=self.skipped, embedded=self.embedded,
            placed=self.placed, run=self.run, documents=list(self.documents[:1000]), problems=list(self.problems),
            message=self.message, created_at=self.created_at, finished_at=self.finished_at,
        )

    def data(self) -> dict[str, Any]:
        """What the store keeps of the job (all but id, state and times)."""
        return {k: (str(v) if k == "folder" else v) for k, v in dataclasses.asdict(self).items()
                if k not in ("id", "state", "created_at", "finished_at")}

    @classmethod
    def from_row(cls, job_id: str, state: str, created_at: float, finished_at: float | None, data: dict[str, Any]) -> Job:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known and k not in ("id", "state", "created_at", "finished_at")}
        values["folder"] = Path(values.get("folder", ""))
        return cls(id=job_id, state=state, created_at=created_at, finished_at=finished_at, **values)  # type: ignore[arg-type]


def safe_name(name: str | None, fallback: str) -> str:
    """A file name without folders or odd characters that keeps its suffix (readers go by it)."""
    base = Path((name or "").replace("\\", "/")).name
    cleaned = _UNSAFE.sub("_", base).strip("._")
    return cleaned[:120] or fallback


class Jobs:
    """Runs upload jobs against one corpus, one at a time; the store remembers them."""

    def __init__(self, corpus: Corpus, limits: UploadLimits | None = None) -> None:
        self.corpus = corpus
        self.limits = limits or UploadLimits()
        self._active: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="patscape-upload")
        self._recover()

    # -- the queue -----------------------------------------------------------------------------
    def new_folder(self) -> tuple[str, Path]:
        """A job id and the folder its files go to; :class:`QueueFull` when the queue is full."""
        with self._lock:
            waiting = sum(1 for job in self._active.values() if job.state in ("queued", "running"))
        if waiting >= self.limits.max_queued:
            raise QueueFull(f"{waiting} upload jobs are waiting (at most {self.limits.max_queued}); retry when one has finished")
        job_id = uuid.uuid4().hex[:16]
        with self.corpus.store() as store:
            folder = store.uploads_dir() / job_id
        folder.mkdir(parents=True)
        return job_id, folder

    def discard(self, folder: Path) -> None:
        """Remove the folder of an upload that never became a job."""
        shutil.rmtree(folder, ignore_errors=True)

    def submit(self, job_id: str, folder: Path) -> Job:
        """Queue the files in ``folder``; the folder is removed when the job ends."""
        job = Job(job_id, folder)
        self._save(job)
        with self._lock:
            self._active[job_id] = job
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._active.get(job_id)
        if job is not None:
            return job
        with self.corpus.store() as store:
            rows = [row for row in store.jobs(limit=KEEP) if row[0] == job_id]
        return Job.from_row(*rows[0]) if rows else None

    def all(self) -> list[Job]:
        """The newest jobs, oldest first (running ones with their live progress)."""
        with self.corpus.store() as store:
            rows = store.jobs(limit=KEEP)
        with self._lock:
            return [self._active.get(row[0]) or Job.from_row(*row) for row in rows]

    def shutdown(self) -> None:
        """Stop taking jobs; queued ones stay queued in the store and resume at the next start."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _save(self, job: Job) -> None:
        with self.corpus.store() as store:
            store.save_job(job.id, job.state, job.created_at, job.finished_at, job.data())

    def _recover(self) -> None:
        """Resume the jobs a stopped server left unfinished; fail those whose files are gone;
        remove upload folders that belong to no unfinished job."""
        with self.corpus.store() as store:
            unfinished = [Job.from_row(*row) for row in store.jobs(limit=10_000, states=("queued", "running"))]
            folder = store.uploads_dir()
            store.prune_jobs(KEEP)
        keep = set()
        for job in unfinished:
            if job.folder.is_dir() and job.folder.parent == folder:
                job.state, job.stage, job.message = "queued", "queued", "resumed after a server restart"
                keep.add(job.folder.name)
                self._save(job)
                with self._lock:
                    self._active[job.id] = job
                self._pool.submit(self._run, job)
            else:
                job.state, job.finished_at = "failed", time.time()
                job.message = "the server stopped before this job finished and its files are gone; upload them again"
                self._save(job)
        if folder.is_dir():
            for leftover in folder.iterdir():
                if leftover.name not in keep:
                    shutil.rmtree(leftover, ignore_errors=True)

    # -- the work ------------------------------------------------------------------------------
    def _run(self, job: Job) -> None:
        job.state = "running"
        try:
            self._save(job)
            with self.corpus.store() as store:
                self._ingest(store, job)
                self._save(job)
                self._embed_and_place(store, job)
            job.stage = "done"
            job.state = "done"
        except PatscapeError as exc:
            job.state, job.message = "failed", str(exc)
        except ApiError as exc:  # the model could not be loaded
            job.state, job.message = "failed", exc.message
        except Exception as exc:  # the job must end in a state, whatever went wrong
            log.exception("upload job %s failed", job.id)
            job.state, job.message = "failed", f"internal error: {type(exc).__name__}: {exc}"
        finally:
            job.finished_at = time.time()
            try:
                self._save(job)
            except PatscapeError:
                log.exception("upload job %s: its end could not be recorded", job.id)
            shutil.rmtree(job.folder, ignore_errors=True)
            with self._lock:
                self._active.pop(job.id, None)

    def _ingest(self, store: Store, job: Job) -> None:
        job.stage, job.done, job.total = "ingest", 0, 0
        files = sorted(p for p in job.folder.iterdir() if p.is_file())
        job.problems, job.skipped = [], 0

        def problem(item: Problem) -> None:
            if not getattr(item, "kept", False):
                job.skipped += 1
            if len(job.problems) < MAX_PROBLEMS:
                job.problems.append(f"{Path(item.path).name}: {item.position}: {item.message}")

        def progress(n: int) -> None:
            job.done += n

        report = run_ingest(
            store, files, on_problem=problem, progress=progress, limits=self.limits.read_limits(), collect_ids=True,
            source_label=lambda source: f"upload {job.id}: {Path(source).name}",
        )
        job.added, job.unchanged, job.duplicates = report.added + report.replaced, report.unchanged, report.duplicates
        job.documents = sorted(set(report.ids))

    def _space(self, store: Store) -> tuple[Space | None, int | None]:
        """The space uploads go to (the current map's, else the newest complete one) and the map's run."""
        run = store.newest_run()
        if run is not None:
            return store.get_space(run.space), run.id
        try:
            return pick_space(store), None
        except NotFoundError:
            return None, None

    def _embed_and_place(self, store: Store, job: Job) -> None:
        job.stage = "embed"
        served = self.corpus.engine.require_blocking()  # a job resumed at start-up waits for the model
        try:
            space, run_id = self._space(store)
        except IncompleteSpaceError as exc:
            job.message = f"the documents were stored but not embedded: {exc}"
            return
        job.stage, job.done, job.total = "embed", 0, len(job.documents)

        def start(total: int) -> None:
            job.total = total

        def progress(n: int) -> None:
            job.done += n

        if space is None:
            # No space yet: the served model, with its default options, makes the first one.
            report = run_embed(store, served, ids=job.documents, on_start=start, progress=progress)
        else:
            report = embed_into(store, space, self.corpus.embedder_for(space), ids=job.documents,
                                on_start=start, progress=progress)
        job.embedded = report.embedded
        self._save(job)
        # serve --vector-store: the collection holds the space's document vectors; it places the
        # documents and gets theirs, so that /corpus/search finds them
        vectors = self.corpus.vectors_of(space, store) if space is not None else None
        if run_id is None:
            job.message = "the store has no map yet; run `patscape map` to place these documents"
        else:
            job.stage, job.done, job.total, job.run = "place", 0, len(job.documents), run_id
            placed = placing.place_unmapped(store, run_id, only=job.documents, vectors=vectors)
            job.placed = job.done = len(placed)
        if vectors is not None:
            job.stage = "vector store"
            vectors.add(store, job.documents)
        elif self.corpus.vectors is not None:
            note = (f"not added to the vector store: {self.corpus.vectors.describe()} holds the space "
                    f"{self.corpus.vectors.space_key}, these documents went to {space.key if space else 'a new space'}")
            job.message = f"{job.message}; {note}" if job.message else note
