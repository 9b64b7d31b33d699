"""The CLI and the server on one store at the same time; a busy writer; text replaced while it
is embedded. Real processes where users meet them (``patscape serve``, the CLI)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import SAMPLE
from tests.crash_helpers import cli, problems, served, write_jsonl


def records(start: int, n: int) -> list[dict[str, Any]]:
    with SAMPLE.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle][start : start + n]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("concurrency")
    write_jsonl(root / "patents.jsonl", records(0, 150))
    write_jsonl(root / "more.jsonl", records(150, 100))
    store = root / "mapped"
    for args in (("ingest", str(store), "patents.jsonl"), ("embed", str(store), "--model", "hash:256"),
                 ("map", str(store), "--seed", "7")):
        done = cli(root, *args)
        assert done.returncode == 0, done.stderr
    return root


BUSY = "patscape: error: store busy: another patscape process is writing; retry"


def test_a_writer_waits_a_bounded_time_then_says_busy_with_its_own_exit_code(work: Path) -> None:
    store = work / "busy"
    shutil.copytree(work / "mapped", store)
    holder = sqlite3.connect(store / "patscape.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process is in the middle of a write
    try:
        ingest = cli(work, "ingest", str(store), "more.jsonl", PATSCAPE_BUSY_TIMEOUT="1")
        assert (ingest.returncode, ingest.stderr.strip().splitlines()[-1]) == (75, BUSY)
        embed = cli(work, "embed", str(store), "--model", "hash:256", PATSCAPE_BUSY_TIMEOUT="1")
        assert embed.returncode == 75 and embed.stderr.strip().endswith(BUSY)
        # readers never wait for the writer
        info = cli(work, "info", str(store), PATSCAPE_BUSY_TIMEOUT="1")
        assert info.returncode == 0 and "documents  150" in info.stdout
        search = cli(work, "search", str(store), "glider", "-k", "3", PATSCAPE_BUSY_TIMEOUT="1")
        assert search.returncode == 0, search.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # the reader's answer is the one it gives with no writer about: the same three hits
    alone = cli(work, "search", str(store), "glider", "-k", "3")
    assert alone.returncode == 0 and search.stdout == alone.stdout
    hits = [json.loads(line) for line in cli(work, "search", str(store), "glider", "-k", "3", "--json").stdout.splitlines()]
    assert len(hits) == 3 and [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert [line.split()[:3] for line in search.stdout.splitlines()] == [
        [f"{n}.", f"{h['score']:.3f}", h["id"]] for n, h in enumerate(hits, 1)]
    # nothing of the refused ingest was stored; it goes through once the writer is done
    assert cli(work, "info", str(store)).stdout.count("documents  150") == 1
    again = cli(work, "ingest", str(store), "more.jsonl")
    assert again.returncode == 0 and "100 added" in again.stdout


def test_cli_ingest_embed_and_map_while_the_server_answers_on_the_same_store(work: Path) -> None:
    store = work / "shared"
    shutil.copytree(work / "mapped", store)
    statuses: Counter[tuple[str, int]] = Counter()
    stop = threading.Event()
    with served(store, work) as (url, _):
        ids = [p["id"] for p in httpx.get(url + "/corpus/runs/latest/map", timeout=30).json()["points"][:5]]

        def hammer() -> None:
            with httpx.Client(base_url=url, timeout=60) as http:
                i = 0
                while not stop.is_set():
                    i += 1
                    answers = {
                        "search": http.post("/corpus/search", json={"query": "underwater glider buoyancy", "k": 5}),
                        "map": http.get("/corpus/runs/latest/map"),
                        "document": http.get(f"/corpus/documents/{ids[i % len(ids)]}"),
                        "embeddings": http.post("/v1/embeddings", json={"model": "hash:256", "input": ["solar cell"]}),
                        "info": http.get("/corpus"),
                    }
                    for name, response in answers.items():
                        statuses[(name, response.status_code)] += 1

        threads = [threading.Thread(target=hammer) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            steps = [("ingest", str(store), "more.jsonl", "--batch", "20"),
                     ("embed", str(store), "--model", "hash:256", "--batch", "16"),
                     ("map", str(store), "--seed", "7")]
            for args in steps:
                done = cli(work, *args)
                assert done.returncode == 0, (args, done.stderr)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
        runs = httpx.get(url + "/corpus/runs", timeout=30).json()
        newest = httpx.get(url + "/corpus/runs/latest/map", timeout=30).json()
    assert {status for _, status in statuses} == {200}, statuses
    assert sum(statuses.values()) >= 25  # the server kept answering through all three stages
    assert [r["documents"] for r in runs] == [150, 250]
    assert newest["count"] == 250
    assert problems(store) == {}


def test_a_document_replaced_while_it_is_embedded_keeps_no_vector_of_its_old_text(tmp_path: Path) -> None:
    from patscape.embed import load_embedder
    from patscape.pipeline import EmbedOptions, embed, ingest
    from patscape.store import Store

    source = write_jsonl(tmp_path / "a.jsonl", [
        {"id": f"D{i}", "title": f"widget number {i}", "abstract": f"a widget with {i} gears", "lang": "en"}
        for i in range(6)
    ])
    changed = write_jsonl(tmp_path / "b.jsonl", [
        {"id": "D2", "title": "solar cell", "abstract": "a perovskite solar cell with a passivation layer", "lang": "en"}
    ])
    model = load_embedder("hash:256")
    original = type(model).embed_batch
    calls = {"n": 0}

    def embed_batch(self: Any, texts: list[str]) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:  # another process replaces D2 while its first batch is being embedded
            with Store(tmp_path / "store", create=False) as other:
                assert ingest(other, [changed]).replaced == 1
        return original(self, texts)

    with Store(tmp_path / "store") as store:
        ingest(store, [source])
        type(model).embed_batch = embed_batch  # type: ignore[method-assign]
        try:
            report = embed(store, model, EmbedOptions(passages=None))
        finally:
            type(model).embed_batch = original  # type: ignore[method-assign]
        assert (report.embedded, report.stale, report.missing) == (6, 1, 0)
        assert store.check()["vectors_of_old_text"] == 0
        vector = store.get_vector(report.space.key, "D2")
        expected = model.embed(["solar cell\na perovskite solar cell with a passivation layer"], "document").vectors[0]
        assert np.allclose(vector, expected, atol=1e-6)
        assert report.space.complete
