"""Documents: one with its text and nearest neighbours; new ones as JSON records."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from ..deps import CorpusDep, JobsDep
from ..errors import ApiError
from ..jobs import QueueFull
from ..schemas.corpus import DocumentPublic, JobPublic, RecordsCreate

router = APIRouter(prefix="/corpus/documents", tags=["corpus"])


@router.get("/{doc_id:path}", response_model=DocumentPublic, summary="A document and its 10 nearest neighbours")
async def document(
    doc_id: str,
    corpus: CorpusDep,
    run: Annotated[str | None, Query(pattern=r"^(?:\d+|latest|newest)$",
                                     description="The run whose topic and map position the document is given in (default: the newest).")] = None,
) -> DocumentPublic:
    return await run_in_threadpool(corpus.document, doc_id, run)


@router.post("", response_model=JobPublic, status_code=202, summary="Add documents given as JSON records")
async def add_documents(body: RecordsCreate, jobs: JobsDep) -> JobPublic:
    """The records are ingested, embedded and placed on the map in the background; follow the job
    at ``GET /corpus/jobs/{id}``."""
    try:
        job_id, folder = jobs.new_folder()
    except QueueFull as exc:
        raise ApiError(429, str(exc), code="queue_full", headers={"Retry-After": "10"}) from exc
    try:
        with (folder / "records.jsonl").open("w", encoding="utf-8") as handle:
            for record in body.records:
                handle.write(json.dumps(record.model_dump(), ensure_ascii=False) + "\n")
        return jobs.submit(job_id, folder).public()
    except BaseException:
        jobs.discard(folder)
        raise
