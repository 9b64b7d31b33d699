"""Uploads of patent files (any format patscape ingests) and the jobs that process them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile

from ...ingest import SUPPORTED
from ..deps import JobsDep
from ..errors import ApiError
from ..jobs import QueueFull, safe_name
from ..schemas.corpus import JobPublic

router = APIRouter(prefix="/corpus", tags=["corpus"])
CHUNK = 1 << 20


@router.post("/uploads", response_model=JobPublic, status_code=202, summary="Upload patent files")
async def upload(files: Annotated[list[UploadFile], File(description=f"Files: {SUPPORTED}")], jobs: JobsDep) -> JobPublic:
    """Files are ingested, embedded and placed on the map in the background; follow the job at
    ``GET /corpus/jobs/{id}``. Placed documents appear on the map until the next ``patscape map``.
    At most ``--max-upload-files`` files per upload; 429 when ``--max-jobs`` jobs are waiting."""
    if not files:
        raise ApiError(400, "no files were uploaded", param="files", code="empty_input")
    if len(files) > jobs.limits.max_files:
        raise ApiError(413, f"{len(files)} files in one upload; at most {jobs.limits.max_files}", param="files",
                       code="too_many_files")
    try:
        job_id, folder = jobs.new_folder()
    except QueueFull as exc:
        raise ApiError(429, str(exc), code="queue_full", headers={"Retry-After": "10"}) from exc
    try:
        used: set[str] = set()
        for i, upload_file in enumerate(files):
            name = safe_name(upload_file.filename, f"upload-{i}.jsonl")
            while name in used:
                name = f"{i}-{name}"
            used.add(name)
            with (folder / name).open("wb") as handle:
                while chunk := await upload_file.read(CHUNK):
                    handle.write(chunk)
            await upload_file.close()
        return jobs.submit(job_id, folder).public()
    except BaseException:
        jobs.discard(folder)  # a failed or cancelled upload leaves no files behind
        raise


@router.get("/jobs", response_model=list[JobPublic], summary="Recent upload jobs")
async def list_jobs(jobs: JobsDep) -> list[JobPublic]:
    return [job.public() for job in jobs.all()]


@router.get("/jobs/{job_id}", response_model=JobPublic, summary="An upload job: stage and progress")
async def get_job(job_id: str, jobs: JobsDep) -> JobPublic:
    job = jobs.get(job_id)
    if job is None:
        raise ApiError(404, f"no job {job_id!r} (the store keeps the newest jobs)", code="not_found")
    return job.public()
