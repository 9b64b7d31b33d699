"""Server uploads: the store's space and options, only their own documents, persistent jobs,
a bounded queue, limits, names that do not collide, and no files left behind."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from patscape.api.jobs import Jobs, UploadLimits
from patscape.api.settings import Settings
from tests.api_helpers import assert_openai_error, live_server
from tests.conftest import SAMPLE
from tests.crash_helpers import wait_until


def records(start: int, n: int) -> list[dict[str, Any]]:
    with SAMPLE.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle][start : start + n]


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    """150 patents embedded with non-default options (64-token windows, no passages) and
    mapped, plus a backlog of 20 ingested but not embedded."""
    from patscape.landscape import MapParams
    from patscape.pipeline import EmbedOptions, build_map, embed, ingest
    from patscape.store import Store

    path = tmp_path / "store"
    (tmp_path / "a.jsonl").write_bytes(jsonl(records(0, 150)))
    (tmp_path / "backlog.jsonl").write_bytes(jsonl(records(150, 20)))
    with Store(path) as db:
        ingest(db, [tmp_path / "a.jsonl"])
        embed(db, "hash:256", EmbedOptions(passages=None, fields=("title", "abstract")), loader={"max_tokens": 64})
        build_map(db, params=MapParams(min_cluster_size=8), seed=7)
        ingest(db, [tmp_path / "backlog.jsonl"])
    return path


@pytest.fixture()
def server(store: Path) -> Iterator[Any]:
    with live_server(Settings(store=store, model="hash:256")) as running:
        yield running


def wait_job(http: httpx.Client, job_id: str) -> dict[str, Any]:
    box: dict[str, Any] = {}

    def ended() -> bool:
        box["job"] = http.get(f"/corpus/jobs/{job_id}").json()
        return box["job"]["state"] in ("done", "failed")

    wait_until(ended, 120, f"job {job_id}")
    return box["job"]


def upload(http: httpx.Client, *files: tuple[str, bytes]) -> httpx.Response:
    return http.post("/corpus/uploads", files=[("files", (name, data)) for name, data in files])


def test_an_upload_embeds_only_its_own_documents_in_the_store_space_with_its_options(server: Any, store: Path) -> None:
    from patscape.store import Store

    with Store(store, create=False) as db:
        (space,) = db.spaces()
        backlog = set(db.ids_without_vectors(space.key))
    assert len(backlog) == 20 and space.params["loader"] == {"max_tokens": 64}
    new = records(170, 5)
    with server.client() as http:
        answer = upload(http, ("new.jsonl", jsonl(new)))
        assert answer.status_code == 202
        job = wait_job(http, answer.json()["id"])
    assert job["state"] == "done", job
    assert (job["added"], job["embedded"], job["placed"]) == (5, 5, 5)
    assert sorted(job["documents"]) == sorted(r["id"] for r in new)
    with Store(store, create=False) as db:
        assert [s.key for s in db.spaces()] == [space.key]  # no second space
        assert set(db.ids_without_vectors(space.key)) == backlog  # the backlog was left alone
        assert {p.doc_id for p in db.placements(db.newest_run().id)} == {r["id"] for r in new}
        folder = db.uploads_dir()
    # the job's files go right after its end is recorded (a crash in between keeps the result)
    deadline = time.monotonic() + 30
    while any(folder.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(folder.iterdir()) == []


def test_the_queue_is_bounded_and_answers_429(store: Path) -> None:
    with live_server(Settings(store=store, model="hash:256", max_jobs=1)) as server:
        _queue_is_bounded(server)


def _queue_is_bounded(server: Any) -> None:
    jobs: Jobs = server.app.state.jobs
    assert jobs.limits == UploadLimits(max_queued=1)
    gate = threading.Event()
    run = jobs._run

    def held(job: Any) -> None:
        gate.wait(60)
        run(job)

    jobs._run = held  # type: ignore[method-assign]
    with server.client() as http:
        first = upload(http, ("one.jsonl", jsonl(records(170, 2))))
        assert first.status_code == 202
        second = upload(http, ("two.jsonl", jsonl(records(172, 2))))
        error = assert_openai_error(second, 429, "queue_full")
        assert second.headers["retry-after"] == "10"
        assert error["message"] == "1 upload jobs are waiting (at most 1); retry when one has finished"
        gate.set()
        assert wait_job(http, first.json()["id"])["state"] == "done"
        third = upload(http, ("two.jsonl", jsonl(records(172, 2))))
        assert third.status_code == 202
        assert wait_job(http, third.json()["id"])["state"] == "done"


def test_too_many_files_are_refused_and_leave_nothing(store: Path) -> None:
    with live_server(Settings(store=store, model="hash:256", max_upload_files=2)) as server, server.client() as http:
        answer = upload(http, *[(f"f{i}.txt", b"title\nbody") for i in range(3)])
    assert_openai_error(answer, 413, "too_many_files")
    assert not (store / "uploads").exists() or list((store / "uploads").iterdir()) == []


def test_same_file_name_in_two_uploads_gives_two_documents(server: Any, store: Path) -> None:
    from patscape.store import Store

    with server.client() as http:
        first = wait_job(http, upload(http, ("report.txt", "Glider hull\nA hull for an underwater glider.".encode())).json()["id"])
        second = wait_job(http, upload(http, ("report.txt", "Solar cell\nA perovskite solar cell.".encode())).json()["id"])
    assert first["documents"] == ["report"]
    (renamed,) = second["documents"]
    assert renamed.startswith("report~") and len(renamed) == len("report~") + 10
    assert second["problems"] == [f"report.txt: file: id report belongs to upload {first['id']}: report.txt; "
                                  f"this file is stored as {renamed}"]
    with Store(store, create=False) as db:
        assert db.get_document("report").title == "Glider hull"
        assert db.get_document(renamed).title == "Solar cell"
        assert db.get_document(renamed).source == f"upload {second['id']}: report.txt"
        assert db.id_sources() == {"data": 170, "path": 1, "content": 1}


def test_jobs_survive_a_restart_with_their_state_and_message(store: Path) -> None:
    with live_server(Settings(store=store, model="hash:256")) as running, running.client() as http:
        failed = wait_job(http, upload(http, ("bad.zip", b"PK\x03\x04 not really")).json()["id"])
        done = wait_job(http, upload(http, ("ok.jsonl", jsonl(records(170, 1)))).json()["id"])
    assert failed["state"] == "failed" and failed["message"].endswith("unsupported file type (supported: "
                                                                       ".jsonl .ndjson .jsonl.gz .csv .tsv .csv.gz .xml .txt .md .pdf, "
                                                                       "or a folder of .txt/.md/.pdf)")
    with live_server(Settings(store=store, model="hash:256")) as running, running.client() as http:
        listed = {j["id"]: j for j in http.get("/corpus/jobs").json()}
        one = http.get(f"/corpus/jobs/{failed['id']}").json()
    assert listed[failed["id"]]["state"] == "failed" and listed[done["id"]]["state"] == "done"
    assert one["message"] == failed["message"] and one["finished_at"] == pytest.approx(failed["finished_at"])
    assert listed[done["id"]]["documents"] == [records(170, 1)[0]["id"]]


def test_an_unfinished_job_without_its_files_fails_clearly_at_start(store: Path) -> None:
    from patscape.store import Store

    with Store(store, create=False) as db:
        db.save_job("lost", "running", time.time(), None, {"folder": str(store / "uploads" / "lost"), "stage": "embed"})
        (store / "uploads" / "stray").mkdir(parents=True)  # a folder no job owns
    with live_server(Settings(store=store, model="hash:256")) as running, running.client() as http:
        job = http.get("/corpus/jobs/lost").json()
    assert job["state"] == "failed"
    assert job["message"] == "the server stopped before this job finished and its files are gone; upload them again"
    assert list((store / "uploads").iterdir()) == []
