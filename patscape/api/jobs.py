"""Upload jobs: ingest files, embed them in the map's space, place them on the map.

Jobs run one at a time on a worker thread of their own (one writer for the store), report
their stage and progress, and are kept in memory (the newest :data:`KEEP` of them) for
``GET /corpus/jobs/{id}``.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PatscapeError
from ..pipeline import embed as run_embed
from ..pipeline import ingest as run_ingest
from ..pipeline import pick_space
from ..records import Problem
from ..store import Space, Store
from . import placements as placing
from .corpus import Corpus
from .schemas.corpus import JobPublic, JobState

log = logging.getLogger(__name__)

KEEP = 100
MAX_PROBLEMS = 50
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


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


def safe_name(name: str | None, fallback: str) -> str:
    """A file name without folders or odd characters that keeps its suffix (readers go by it)."""
    base = Path((name or "").replace("\\", "/")).name
    cleaned = _UNSAFE.sub("_", base).strip("._")
    return cleaned[:120] or fallback


class Jobs:
    """Runs upload jobs against one corpus, one at a time."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="patscape-upload")

    def new_folder(self) -> tuple[str, Path]:
        job_id = uuid.uuid4().hex[:16]
        return job_id, Path(tempfile.mkdtemp(prefix=f"patscape-upload-{job_id}-"))

    def submit(self, job_id: str, folder: Path) -> Job:
        """Queue the files in ``folder`` for ingestion; the folder is removed when the job ends."""
        job = Job(job_id, folder)
        with self._lock:
            self._jobs[job_id] = job
            while len(self._jobs) > KEEP:
                self._jobs.popitem(last=False)
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- the work ------------------------------------------------------------------------------
    def _run(self, job: Job) -> None:
        job.state = "running"
        try:
            with self.corpus.store() as store:
                self._ingest(store, job)
                self._embed_and_place(store, job)
            job.state = "done"
            job.stage = "done"
        except PatscapeError as exc:
            job.state, job.message = "failed", str(exc)
        except Exception as exc:  # the job must end in a state, whatever went wrong
            log.exception("upload job %s failed", job.id)
            job.state, job.message = "failed", f"internal error: {type(exc).__name__}: {exc}"
        finally:
            job.finished_at = time.time()
            shutil.rmtree(job.folder, ignore_errors=True)

    def _ingest(self, store: Store, job: Job) -> None:
        job.stage, job.done, job.total = "ingest", 0, 0
        files = sorted(p for p in job.folder.iterdir() if p.is_file())

        def problem(item: Problem) -> None:
            job.skipped += 1
            if len(job.problems) < MAX_PROBLEMS:
                job.problems.append(f"{Path(item.path).name}: {item.position}: {item.message}")

        def progress(n: int) -> None:
            job.done += n

        report = run_ingest(store, files, on_problem=problem, progress=progress)
        job.added, job.unchanged, job.duplicates = report.added + report.replaced, report.unchanged, report.duplicates

    def _embed_and_place(self, store: Store, job: Job) -> None:
        runs = store.runs()
        run = runs[-1] if runs else None
        if run is not None:
            space: Space | None = store.get_space(run.space)
        elif store.spaces():
            space = pick_space(store)
        else:
            space = None
        embedder = self.corpus.engine.require() if space is None else self.corpus.embedder_for(space)
        todo_before = set(store.ids_without_vectors(space.key)) if space is not None else {
            row[0] for row in store.db.execute("SELECT id FROM documents")
        }
        job.stage, job.done, job.total = "embed", 0, len(todo_before)

        def start(total: int) -> None:
            job.total = total

        def progress(n: int) -> None:
            job.done += n

        params = space.params if space is not None else {}
        dims = space.dims if space is not None and space.dims != embedder.native_dims else None
        report = run_embed(
            store, embedder, task=params.get("task", "document"), dims=dims,
            fields=tuple(params.get("fields", ("title", "abstract"))), overlap=int(params.get("overlap", 32)),
            max_chunks=params.get("max_chunks"), on_start=start, progress=progress,
        )
        job.embedded = report.embedded
        job.documents = sorted(todo_before)
        if space is not None and report.space.key != space.key:
            raise PatscapeError(
                f"the served model gives a different embedding space ({report.space.key}) than the map's ({space.key}); "
                "the documents were stored and embedded but cannot be placed on this map"
            )
        if run is None:
            job.message = "the store has no map yet; run `patscape map` to place these documents"
            return
        job.stage, job.done, job.total = "place", 0, len(todo_before)
        placed = placing.place_unmapped(store, run.id, only=todo_before)
        job.placed, job.done, job.run = len(placed), len(placed), run.id
