"""A killed stage loses at most the batch in flight; running it again gives the store an
uninterrupted run gives. Every stage (ingest, embed, map, server uploads) is SIGKILLed at several
points in a real process, then resumed and compared with an uninterrupted run.
"""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SAMPLE
from tests.crash_helpers import KILLED, cli, env, picture, problems, served, wait_until, write_jsonl

N_DOCS = 150
BATCH = 40  # ingest: 4 commits of 40, 40, 40, 30
EMBED_BATCH = 32  # embed: 5 commits


def records(start: int = 0, n: int = N_DOCS) -> list[dict[str, Any]]:
    with SAMPLE.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle][start : start + n]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash")
    write_jsonl(root / "patents.jsonl", records())
    write_jsonl(root / "more.jsonl", records(N_DOCS, 60))
    return root


@pytest.fixture(scope="module")
def embedded(work: Path) -> Path:
    """An uninterrupted ingest + embed (hash:256): the reference."""
    store = work / "embedded"
    assert cli(work, "ingest", str(store), "patents.jsonl", "--batch", str(BATCH)).returncode == 0
    done = cli(work, "embed", str(store), "--model", "hash:256", "--batch", str(EMBED_BATCH))
    assert done.returncode == 0, done.stderr
    return store


@pytest.fixture(scope="module")
def mapped(work: Path, embedded: Path) -> Path:
    store = work / "mapped"
    shutil.copytree(embedded, store)
    done = cli(work, "map", str(store), "--seed", "7")
    assert done.returncode == 0, done.stderr
    return store


def run_points(store: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(store / "patscape.sqlite")
    try:
        return db.execute("SELECT doc_id, cluster, raw_cluster, x, y FROM run_points ORDER BY run_id, doc_id").fetchall()
    finally:
        db.close()


def count(store: Path, table: str) -> int:
    db = sqlite3.connect(store / "patscape.sqlite")
    try:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        db.close()


@pytest.mark.parametrize("batches", [1, 2, 3])
def test_ingest_killed_after_n_batches_keeps_them_and_resumes(work: Path, embedded: Path, batches: int) -> None:
    store = work / f"ingest-killed-{batches}"
    killed = cli(work, "ingest", str(store), "patents.jsonl", "--batch", str(BATCH), crash=f"ingest:{batches}")
    assert killed.returncode == KILLED
    assert count(store, "documents") == batches * BATCH  # every committed batch, nothing of the next
    assert problems(store) == {}
    again = cli(work, "ingest", str(store), "patents.jsonl", "--batch", str(BATCH))
    assert again.returncode == 0, again.stderr
    assert f"{N_DOCS - batches * BATCH} added" in again.stdout and f"{batches * BATCH} unchanged" in again.stdout
    got, want = picture(store), picture(embedded)
    assert got["documents"] == want["documents"]
    assert got["index"] == want["index"]  # one keyword-index row per document, no duplicates
    assert problems(store) == {}


#: ``patscape ingest`` whose reader hands over a record only when the test has written one byte
#: to its stdin: the test decides how far the ingest can get, so it is certainly still running
#: (blocked or mid-batch) when the test kills it, whatever the speed of the machine.
GATED_INGEST = """
import sys
import patscape.pipeline.ingest_stage as stage
from patscape.cli import main

gate = open(0, "rb", buffering=0)
read_path = stage.read_path

def gated(path, *args, **kwargs):
    items = read_path(path, *args, **kwargs)  # raises at once for a missing file, as the real one does

    def granted():
        for item in items:
            if gate.read(1) != b"+":  # end of stdin: the test is gone, read no further
                return
            yield item

    return granted()

stage.read_path = gated
sys.exit(main(sys.argv[1:]))
"""


def test_ingest_killed_from_outside_at_any_instant_loses_at_most_one_batch(work: Path, embedded: Path) -> None:
    """Killed by the test while it watches the store (not at a chosen point): the store holds
    whole batches only, and a re-run completes it. The test grants 95 of the 150 records, so the
    ingest (batches of 10) can commit at most 90 of them and cannot finish before it is killed;
    it is killed as soon as the test sees 30 stored, wherever it then is (between commits,
    inside one, or waiting for the next record)."""
    store = work / "ingest-sigkill"
    granted = 95
    log = (work / "ingest-sigkill.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-c", GATED_INGEST, "ingest", str(store), "patents.jsonl", "--batch", "10"],
        cwd=work, env=env(), stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(b"+" * granted)
        process.stdin.flush()

        def some_committed() -> bool:
            if process.poll() is not None:
                return True
            try:
                return count(store, "documents") >= 30
            except sqlite3.Error:
                return False

        wait_until(some_committed, 120, "the first batches to be committed", every=0.01)
        assert process.poll() is None, (work / "ingest-sigkill.log").read_text()  # still running when killed
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdin.close()  # type: ignore[union-attr]
        log.close()
    assert process.returncode == KILLED
    stored = count(store, "documents")
    assert stored % 10 == 0 and 30 <= stored <= granted // 10 * 10  # whole batches, and not the whole file
    assert problems(store) == {}
    again = cli(work, "ingest", str(store), "patents.jsonl", "--batch", "10")
    assert again.returncode == 0, again.stderr
    assert f"{N_DOCS - stored} added" in again.stdout and f"{stored} unchanged" in again.stdout
    assert picture(store)["documents"] == picture(embedded)["documents"]


@pytest.mark.parametrize("batches", [1, 3])
def test_embed_killed_leaves_an_incomplete_space_the_defaults_refuse_then_resumes(
    work: Path, embedded: Path, batches: int
) -> None:
    store = work / f"embed-killed-{batches}"
    assert cli(work, "ingest", str(store), "patents.jsonl").returncode == 0
    killed = cli(work, "embed", str(store), "--model", "hash:256", "--batch", str(EMBED_BATCH), crash=f"embed:{batches}")
    assert killed.returncode == KILLED
    state = picture(store)
    (space,) = state["spaces"]
    assert state["spaces"][space] is False  # in progress
    assert len(state["vectors"]) == batches * EMBED_BATCH
    assert problems(store) == {}
    missing = N_DOCS - batches * EMBED_BATCH

    # the defaults never use a half-filled space: map and search refuse, naming what is missing
    refused = cli(work, "map", str(store))
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"patscape: error: the embedding space {space} is incomplete: {missing} of {N_DOCS} documents have no "
        f"vector yet; run `patscape embed {store}` to finish it, or pass --space {space} to use it as it is"
    )
    assert cli(work, "search", str(store), "glider").returncode == 2
    info = cli(work, "info", str(store))
    assert f"[IN PROGRESS: {batches * EMBED_BATCH} of {N_DOCS} documents, {missing} missing]" in info.stdout
    # named explicitly, it is used as it is, and the command says so
    explicit = cli(work, "search", str(store), "glider", "--space", space, "-k", "3")
    assert explicit.returncode == 0
    assert f"note: using the incomplete space {space} as asked: {missing} of {N_DOCS} documents" in explicit.stderr

    again = cli(work, "embed", str(store), "--model", "hash:256", "--batch", str(EMBED_BATCH))
    assert again.returncode == 0, again.stderr
    assert f"embedded {missing} documents" in again.stdout and "(complete)" in again.stdout
    got, want = picture(store), picture(embedded)
    assert got["vectors"] == want["vectors"]  # byte for byte
    assert got["passages"] == want["passages"]
    assert got["spaces"] == want["spaces"] == {space: True}
    assert problems(store) == {}


def test_embed_of_long_full_texts_killed_after_its_first_commit_keeps_that_batch_and_resumes(tmp_path: Path) -> None:
    """Long full texts: the first committed batch is bounded by model windows (chunks + passages,
    --batch-windows, default 512), not only by --batch documents (256, which held all of them
    before): a kill after it keeps exactly its documents, and a rerun finishes the same store."""
    from patscape.pipeline import BATCH_WINDOWS
    from tests.test_passages import fulltext_records

    source = write_jsonl(tmp_path / "full.jsonl", fulltext_records(12))
    reference, store = tmp_path / "reference", tmp_path / "killed"
    for path in (reference, store):
        assert cli(tmp_path, "ingest", str(path), str(source)).returncode == 0
    done = cli(tmp_path, "embed", str(reference), "--model", "hash:256")
    assert done.returncode == 0, done.stderr
    killed = cli(tmp_path, "embed", str(store), "--model", "hash:256", crash="embed:1")
    assert killed.returncode == KILLED

    db = sqlite3.connect(reference / "patscape.sqlite")
    windows = dict(db.execute("SELECT doc_id, n_chunks FROM vectors"))
    for doc, n in db.execute("SELECT doc_id, count(*) FROM passages GROUP BY doc_id"):
        windows[doc] += n
    db.close()
    order = sorted(windows)  # embed takes the documents in id order
    first: list[str] = []
    for doc in order:  # the first batch: documents while they fit the window budget
        if first and sum(windows[d] for d in first) + windows[doc] > BATCH_WINDOWS:
            break
        first.append(doc)
    assert 1 < len(first) < len(order)
    state = picture(store)
    assert sorted(d for _, d in state["vectors"]) == first
    assert sorted(d for _, d in state["passages"]) == [d for d in first if windows[d] > 1]
    want = picture(reference)
    assert {k: v for k, v in state["vectors"].items() if k[1] in first} == {k: v for k, v in want["vectors"].items() if k[1] in first}
    assert problems(store) == {}

    again = cli(tmp_path, "embed", str(store), "--model", "hash:256")
    assert again.returncode == 0, again.stderr
    assert f"embedded {len(order) - len(first)} documents" in again.stdout and "(complete)" in again.stdout
    got = picture(store)
    assert got["vectors"] == want["vectors"] and got["passages"] == want["passages"]  # byte for byte
    assert got["spaces"] == want["spaces"] and all(want["spaces"].values())
    assert problems(store) == {}


def test_map_killed_before_its_commit_leaves_nothing_and_reruns_to_the_same_map(
    work: Path, embedded: Path, mapped: Path
) -> None:
    store = work / "map-killed"
    shutil.copytree(embedded, store)
    killed = cli(work, "map", str(store), "--seed", "7", crash="map:computed")
    assert killed.returncode == KILLED
    assert count(store, "runs") == count(store, "run_points") == count(store, "topics") == 0
    again = cli(work, "map", str(store), "--seed", "7")
    assert again.returncode == 0, again.stderr
    assert run_points(store) == run_points(mapped)
    assert problems(store) == {}


def test_map_killed_right_after_its_commit_keeps_the_whole_run(work: Path, embedded: Path, mapped: Path) -> None:
    store = work / "map-killed-after"
    shutil.copytree(embedded, store)
    killed = cli(work, "map", str(store), "--seed", "7", crash="map:1")
    assert killed.returncode == KILLED
    assert count(store, "runs") == 1
    assert run_points(store) == run_points(mapped)
    assert problems(store) == {}


def _upload(url: str, path: Path, *, may_die: bool = False) -> dict[str, Any] | None:
    """POST the file; a server that dies before it answers (``may_die``) gives None."""
    try:
        with path.open("rb") as handle:
            response = httpx.post(url + "/corpus/uploads", files={"files": (path.name, handle, "application/jsonl")},
                                  timeout=60)
    except httpx.TransportError:
        if may_die:
            return None
        raise
    assert response.status_code == 202, response.text
    return response.json()


def job_ids(store: Path) -> list[str]:
    db = sqlite3.connect(store / "patscape.sqlite")
    try:
        return [row[0] for row in db.execute("SELECT id FROM jobs ORDER BY created_at")]
    finally:
        db.close()


def _job_done(url: str, job_id: str) -> dict[str, Any]:
    box: dict[str, Any] = {}

    def finished() -> bool:
        box["job"] = httpx.get(f"{url}/corpus/jobs/{job_id}", timeout=10).json()
        return box["job"]["state"] in ("done", "failed")

    wait_until(finished, 180, f"job {job_id}", every=0.2)
    return box["job"]


@pytest.fixture(scope="module")
def uploaded(work: Path, mapped: Path) -> tuple[Path, dict[str, Any]]:
    """The reference: the same upload, never interrupted."""
    store = work / "uploaded"
    shutil.copytree(mapped, store)
    with served(store, work) as (url, _):
        answer = _upload(url, work / "more.jsonl")
        assert answer is not None
        job = _job_done(url, answer["id"])
    assert job["state"] == "done", json.dumps(job)[:2000]
    return store, job


def placements(store: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(store / "patscape.sqlite")
    try:
        return db.execute("SELECT run_id, doc_id, cluster, x, y, neighbours FROM serve_placements ORDER BY doc_id").fetchall()
    finally:
        db.close()


@pytest.mark.parametrize("point", ["job:1", "ingest:1", "embed:1", "place:1"])
def test_server_killed_during_an_upload_resumes_the_job_after_a_restart(
    work: Path, mapped: Path, uploaded: tuple[Path, dict[str, Any]], point: str
) -> None:
    reference, reference_job = uploaded
    store = work / f"upload-killed-{point.replace(':', '-')}"
    shutil.copytree(mapped, store)
    with served(store, work, crash=point) as (url, process):
        _upload(url, work / "more.jsonl", may_die=True)
        process.wait(timeout=180)
        assert process.returncode == KILLED
    (job_id,) = job_ids(store)
    folder = store / "uploads" / job_id
    assert folder.is_dir()  # the files wait in the store for the restarted server
    with served(store, work) as (url, _):
        job = _job_done(url, job_id)
        listed = httpx.get(url + "/corpus/jobs", timeout=10).json()
    assert job["state"] == "done", json.dumps(job)[:2000]
    assert job["message"] == "resumed after a server restart"
    assert sorted(job["documents"]) == sorted(reference_job["documents"]) and len(job["documents"]) == 60
    assert job_id in [j["id"] for j in listed]
    assert not folder.exists() and list((store / "uploads").iterdir()) == []
    got, want = picture(store), picture(reference)
    assert got["documents"] == want["documents"]
    assert got["vectors"] == want["vectors"]
    assert got["index"] == want["index"]
    assert placements(store) != [] and [p[1:5] for p in placements(store)] == [p[1:5] for p in placements(reference)]
    assert problems(store) == {}
