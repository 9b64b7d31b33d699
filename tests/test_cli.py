"""The installed ``patscape`` command, driven through a subprocess on real data and the real model."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import write_jsonl

pytestmark = pytest.mark.cli
COMMANDS = ("ingest", "embed", "import-vectors", "map", "search", "export", "info", "models", "demo", "serve")


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PATSCAPE_NO_PROGRESS="1")
    result = subprocess.run(
        [sys.executable, "-m", "patscape", *args], capture_output=True, text=True, env=env, timeout=1800
    )
    if check and result.returncode != 0:
        raise AssertionError(f"patscape {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def one_line_error(result: subprocess.CompletedProcess[str], code: int, fragment: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("patscape: error:")]
    assert len(errors) == 1 and fragment in errors[0], result.stderr


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory, dev_slice: Path) -> Path:
    store = tmp_path_factory.mktemp("cli") / "store"
    run("ingest", str(store), str(dev_slice))
    run("embed", str(store))
    run("map", str(store), "--seed", "3")
    return store


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    out = run(command, "--help").stdout
    assert "Usage: patscape" in out and command in out
    assert "Examples:" in out and f"patscape {command}" in out.split("Examples:")[1]


def test_ingest_again_adds_nothing(mapped: Path, dev_slice: Path) -> None:
    out = run("ingest", str(mapped), str(dev_slice)).stdout
    assert "0 added" in out and "320 unchanged" in out


def test_embed_resumes_with_nothing_left(mapped: Path) -> None:
    out = run("embed", str(mapped)).stdout
    assert out.startswith("embedded 0 documents") and "320 already done" in out


def test_map_is_reproducible_and_reports_metrics(mapped: Path) -> None:
    second = run("map", str(mapped), "--seed", "3").stdout
    assert "topics" in second and "outliers" in second
    info = json.loads(run("info", str(mapped), "--json").stdout)
    first_run, second_run = info["runs"][0], info["runs"][-1]
    assert first_run["metrics"]["topic_sizes"] == second_run["metrics"]["topic_sizes"]
    metrics = second_run["metrics"]
    assert metrics["documents"] == 320 and metrics["topics"] >= 2
    for key in ("outlier_share", "silhouette_cosine", "code_agreement", "landscape_f1", "language_mix"):
        assert key in metrics
    assert metrics["language_mix"]["corpus_languages"] == {"en": 240, "zh": 80}
    assert second_run["params"]["model_fingerprint"] and second_run["seed"] == 3
    a = mapped / "a.csv"
    b = mapped / "b.csv"
    run("export", str(mapped), "--run", str(first_run["id"]), "--format", "csv", "--out", str(a))
    run("export", str(mapped), "--run", str(second_run["id"]), "--format", "csv", "--out", str(b))
    assert a.read_text() == b.read_text()


def test_info_reports_chunks_and_languages(mapped: Path) -> None:
    from patscape.store import Store

    out = run("info", str(mapped)).stdout
    assert "documents  320 (en 240, zh 80)" in out
    assert "ids        320 from the source records" in out
    with Store(mapped, create=False) as db:
        (space,) = db.spaces()
        stats = db.chunk_stats(space.key)
    line = next(line for line in out.splitlines() if line.startswith(f"space      {space.key} [complete]"))
    assert f"{stats['vectors']} vectors of title+abstract+claims" in line and stats["vectors"] == 320
    assert f"{stats['multi_chunk_docs']} multi-chunk docs (max {stats['max_chunks']} chunks)" in line
    assert f"{stats['truncated_docs']} truncated ({stats['truncated_tokens']} tokens left out)" in line


def test_search_by_text_by_id_and_by_language(mapped: Path) -> None:
    hits = [json.loads(line) for line in run("search", str(mapped), "satellite in geostationary orbit", "--json").stdout.splitlines()]
    assert len(hits) == 10
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert sum("atellite" in h["title"] or "rbit" in h["title"] for h in hits[:5]) >= 3
    target = hits[0]["id"]
    like = [json.loads(line) for line in run("search", str(mapped), "--like", target, "-k", "5", "--json").stdout.splitlines()]
    assert len(like) == 5 and target not in [h["id"] for h in like]
    chinese = [json.loads(line) for line in run("search", str(mapped), "催化剂", "--lang", "zh", "--mode", "hybrid", "--json").stdout.splitlines()]
    assert chinese and all(h["lang"] == "zh" for h in chinese)
    keyword = run("search", str(mapped), "催化剂", "--mode", "keyword", "--json").stdout.splitlines()
    assert keyword and all("催化" in json.loads(line)["title"] or json.loads(line)["lang"] == "zh" for line in keyword)


def test_exports(mapped: Path, tmp_path: Path) -> None:
    import networkx as nx
    import pyarrow.parquet as pq

    for fmt in ("csv", "parquet", "json", "graphml", "html"):
        run("export", str(mapped), "--format", fmt, "--out", str(tmp_path / f"out.{fmt}"))
    with (tmp_path / "out.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 320 and list(rows[0])[:5] == ["id", "cluster", "label", "x", "y"]
    assert {int(r["cluster"]) for r in rows} >= {0, 1}
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.num_rows == 320 and table.column_names[:5] == ["id", "cluster", "label", "x", "y"]
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert len(data["points"]) == 320 and data["topics"] and "metrics" in data
    graph = nx.read_graphml(tmp_path / "out.graphml")
    kinds = {d["kind"] for _, d in graph.nodes(data=True)}
    assert kinds == {"topic", "patent"} and graph.number_of_nodes() == 320 + len(data["topics"])
    html = (tmp_path / "out.html").read_text(encoding="utf-8")
    assert "<html" in html.lower() and data["topics"][0]["label"].split(" · ")[0] in html


def test_bad_inputs_get_one_line_errors(tmp_path: Path, mapped: Path) -> None:
    one_line_error(run("embed", str(mapped), "--model", "no-such-model", check=False), 2, "unknown model 'no-such-model'")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    one_line_error(run("ingest", str(a_file), str(a_file), check=False), 2, "is a file")
    one_line_error(run("info", str(tmp_path / "nowhere"), check=False), 2, "not a patscape store")
    one_line_error(run("search", str(mapped), "--like", "US-0-X", check=False), 2, "no document with id 'US-0-X'")
    one_line_error(run("export", str(mapped), "--run", "999", "--format", "csv", "--out", str(tmp_path / "x.csv"), check=False), 2, "no run 999")
    one_line_error(run("embed", str(mapped), "--dims", "128", check=False), 2, "Matryoshka")
    csv_path = tmp_path / "a.csv"
    csv_path.write_text("number,name\n1,x\n")
    one_line_error(run("ingest", str(tmp_path / "s1"), str(csv_path), "--id", "number", "--title", "headline", check=False), 2, "'headline' given for --title")
    one_line_error(run("ingest", str(tmp_path / "s1"), str(tmp_path / "missing.jsonl"), check=False), 2, "no such file")


def test_malformed_records_are_skipped_with_exit_code_1(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"id": "A", "title": "Rain radar", "abstract": "Measures the rain."}\n{broken\n\xff\xfe\n')
    result = run("ingest", str(tmp_path / "store"), str(path), check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"skipped: {path}: line 2: malformed JSON" in result.stderr
    assert f"skipped: {path}: line 3: invalid UTF-8" in result.stderr
    assert "1 added" in result.stdout and "2 skipped" in result.stdout


def test_too_small_corpus(tmp_path: Path) -> None:
    records = [{"id": f"D{i}", "title": f"Patent {i}", "abstract": "A rain radar."} for i in range(5)]
    store = str(tmp_path / "store")
    run("ingest", store, str(write_jsonl(tmp_path / "few.jsonl", records)))
    run("embed", store, "--model", "hash:64")
    one_line_error(run("map", store, check=False), 2, "too few to build a landscape")


def test_demo_on_the_packaged_sample(tmp_path: Path) -> None:
    out = run("demo", "--workdir", str(tmp_path / "demo")).stdout
    report = tmp_path / "demo" / "report.html"
    assert report.exists() and f"file://{report.resolve()}" in out
    rows = list(csv.DictReader((tmp_path / "demo" / "topics.csv").open(encoding="utf-8")))
    assert len(rows) == 1000


def test_embed_resumes_after_kill(tmp_path: Path, dev_slice: Path) -> None:
    import signal
    import sqlite3
    import time

    store = tmp_path / "store"
    run("ingest", str(store), str(dev_slice))
    env = dict(os.environ, HF_HUB_OFFLINE="1", PATSCAPE_NO_PROGRESS="1")
    process = subprocess.Popen([sys.executable, "-m", "patscape", "embed", str(store), "--batch", "8"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    done = 0
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and process.poll() is None:
            with sqlite3.connect(store / "patscape.sqlite") as db:
                done = db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
            if done >= 16:
                break
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert 16 <= done < 320, "the embed finished before it could be killed"
    out = run("embed", str(store)).stdout
    embedded = int(out.split()[1])
    already = int(out.split("; ")[1].split()[0])
    assert already >= done and embedded + already == 320
    info = json.loads(run("info", str(store), "--json").stdout)
    assert info["spaces"][0]["vectors"] == 320


def test_models_lists_backends_and_profiles() -> None:
    out = run("models").stdout
    for name in ("minilm", "st:DIR", "gguf:", "openai:MODEL@URL", "hash:DIMS"):
        assert name in out
    qwen = next(line for line in out.splitlines() if line.strip().startswith("qwen3"))
    assert "last pooling" in qwen and "MRL dims 32+" in qwen and "Instruct: {instruction}\\nQuery:{text}" in qwen
