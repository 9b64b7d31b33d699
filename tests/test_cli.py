"""The installed ``patscape`` command, driven through a subprocess on real data and the real model."""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

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


def stored_run(store: Path, run_id: int | None = None) -> dict[str, Any]:
    """A run as the store holds it, read with SQL: its points, topics and documents."""
    db = sqlite3.connect(store / "patscape.sqlite")
    try:
        if run_id is None:
            (run_id,) = db.execute("SELECT MAX(id) FROM runs").fetchone()
        points = db.execute(
            "SELECT doc_id, cluster, raw_cluster, x, y FROM run_points WHERE run_id = ? ORDER BY doc_id", (run_id,)
        ).fetchall()
        topics = {c: (label, size) for c, label, size in db.execute(
            "SELECT cluster, label, size FROM topics WHERE run_id = ? ORDER BY cluster", (run_id,))}
        docs = {d: {"lang": lang, "cpc": json.loads(cpc), "title": title} for d, lang, cpc, title in db.execute(
            "SELECT id, lang, cpc, title FROM documents")}
        metrics, data = db.execute("SELECT metrics, data FROM runs WHERE id = ?", (run_id,)).fetchone()
    finally:
        db.close()
    return {"id": run_id, "points": points, "topics": topics, "docs": docs, "metrics": json.loads(metrics),
            "hierarchy": json.loads(data).get("hierarchy")}


def expected_rows(run: dict[str, Any]) -> list[tuple[str, int, str, float, float]]:
    """(id, cluster, label, x, y) of every point, as the exports write them (x, y to 4 places)."""
    labels = {c: label for c, (label, _) in run["topics"].items()}
    return [(d, c, labels.get(c, "outlier"), round(x, 4), round(y, 4)) for d, c, _, x, y in run["points"]]


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
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from patscape.embed import load_embedder
    from patscape.landscape.label import subclass

    second = run("map", str(mapped), "--seed", "3").stdout
    info = json.loads(run("info", str(mapped), "--json").stdout)
    first_run, second_run = info["runs"][0], info["runs"][-1]
    assert first_run["metrics"]["topic_sizes"] == second_run["metrics"]["topic_sizes"]
    metrics = second_run["metrics"]
    stored = stored_run(mapped, second_run["id"])
    assert metrics == stored["metrics"]

    # the metrics are the stored run's points, counted again
    clusters = Counter(c for _, c, _, _, _ in stored["points"])
    outliers = clusters.pop(-1, 0)
    raw_outliers = sum(raw < 0 for _, _, raw, _, _ in stored["points"])
    assert metrics["documents"] == len(stored["points"]) == 320
    assert metrics["topics"] == len(metrics["topic_sizes"]) == len(stored["topics"]) == len(clusters) >= 2
    assert metrics["topic_sizes"] == {str(c): n for c, n in clusters.items()}
    assert {str(c): size for c, (_, size) in stored["topics"].items()} == metrics["topic_sizes"]
    assert sum(metrics["topic_sizes"].values()) == metrics["documents"] - outliers
    assert metrics["outlier_share"] == round(outliers / 320, 4)
    assert metrics["outlier_share_before_reassignment"] == round(raw_outliers / 320, 4)
    assert metrics["language_mix"]["corpus_languages"] == {"en": 240, "zh": 80}
    per_topic = {}
    for doc_id, c, _, _, _ in stored["points"]:
        if c >= 0:
            per_topic.setdefault(str(c), Counter())[stored["docs"][doc_id]["lang"]] += 1
    assert {t: v["languages"] for t, v in metrics["language_mix"]["topics"].items()} == per_topic
    assert metrics["language_mix"]["mixed_topics"] == sum(max(n.values()) / sum(n.values()) < 0.9 for n in per_topic.values())
    f1 = metrics["landscape_f1"]
    assert f1 and metrics["landscape_f1_mean"] == round(sum(v["f1"] for v in f1.values()) / len(f1), 4)
    reference = {d: subclass(v["cpc"][0]) if v["cpc"] else None for d, v in stored["docs"].items()}
    for kind, column in (("clustered", 2), ("after_reassignment", 1)):
        pairs = [(reference[p[0]], p[column]) for p in stored["points"] if p[column] >= 0 and reference[p[0]]]
        truth, labels = [t for t, _ in pairs], [c for _, c in pairs]
        assert metrics["code_agreement"]["cpc_subclass"][kind] == {
            "ari": round(adjusted_rand_score(truth, labels), 4), "nmi": round(normalized_mutual_info_score(truth, labels), 4),
            "docs": len(pairs), "classes": len(set(truth))}
    assert -1 < metrics["silhouette_cosine"] < 1

    # the summary printed is the stored run's figures
    built, summary, levels_line, *_ = second.splitlines()
    counts = second_run["hierarchy"]["counts"]
    assert levels_line.startswith(f"levels     {len(counts)}: ")
    assert counts[-1] == metrics["topics"] and levels_line.count("L") >= len(counts)
    assert re.fullmatch(rf"run {second_run['id']} built in \d+\.\ds", built)
    agreement = metrics["code_agreement"]
    assert summary.split("; ") == [
        f"{metrics['topics']} topics",
        f"{outliers / 320:.1%} outliers (before reassignment {raw_outliers / 320:.1%})",
        f"silhouette {metrics['silhouette_cosine']:.3f}",
        *(f"ARI {key.replace('_', ' ')} {agreement[key]['clustered']['ari']:.3f} "
          f"(after reassignment {agreement[key]['after_reassignment']['ari']:.3f})" for key in ("cpc_subclass", "ipc_subclass")),
        f"landscape F1 {metrics['landscape_f1_mean']:.3f}",
        f"{metrics['language_mix']['mixed_topics']} topics mix languages",
        "NMI ipc subclass by language: " + ", ".join(
            f"{lang} {entry['ipc_subclass']['clustered']['nmi']:.2f}" for lang, entry in metrics["code_agreement_by_language"].items()),
    ]

    # the run names the model that made its space, by that model's own fingerprint
    (space,) = info["spaces"]
    params = second_run["params"]
    assert second_run["seed"] == 3 and second_run["space"] == space["key"] == params["space"]
    assert params["model"] == space["model"] == "use-multilingual"  # auto: the corpus is multilingual
    assert params["model_fingerprint"] == space["fingerprint"] == load_embedder(params["model"]).fingerprint()
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
    # the languages the space's model reads, and none of the corpus's it does not
    assert "           languages: 16: ar de en es fr it ja ko nl pl pt ru th tr zh zh-TW\n" in out


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
    # keyword: the patents holding the word itself come first, then those holding only parts of it
    # (the query is 催化剂 and its parts: 催化, 化剂, 催, 化, 剂)
    from patscape.store import Store
    from patscape.records import searchable_text

    with Store(mapped, create=False) as db:
        texts = {d.id: searchable_text(d) for d in db.iter_documents()}
    holding = {doc_id for doc_id, text in texts.items() if "催化剂" in text}
    assert len(holding) == 7
    keyword = [json.loads(line)["id"] for line in run("search", str(mapped), "催化剂", "--mode", "keyword", "--json").stdout.splitlines()]
    assert len(keyword) == 10 and set(keyword[:7]) == holding
    assert all("催化剂" not in texts[doc_id] and set("催化剂") & set(texts[doc_id]) for doc_id in keyword[7:])


def test_exports(mapped: Path, tmp_path: Path) -> None:
    import networkx as nx
    import pyarrow.parquet as pq

    from patscape.report import read_embedded_data

    for fmt in ("csv", "parquet", "json", "graphml", "html"):
        run("export", str(mapped), "--format", fmt, "--out", str(tmp_path / f"out.{fmt}"))
    stored = stored_run(mapped)  # the newest run, which export writes by default
    rows = expected_rows(stored)
    assert len(rows) == 320 and {c for _, c, _, _, _ in rows} >= {0, 1}
    with (tmp_path / "out.csv").open(encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    # the levels down to the topics, then the sub-topics' level where the run has sub-topics
    depth = len(stored["hierarchy"]["counts"]) + (1 if stored["hierarchy"]["subtopics"]["count"] else 0)
    levels = [name for i in range(depth) for name in (f"topic_l{i}", f"topic_l{i}_label")]
    assert list(table[0])[:5 + 2 * depth] == ["id", "cluster", "label", *levels, "x", "y"]
    assert [(r["id"], int(r["cluster"]), r["label"], float(r["x"]), float(r["y"])) for r in table] == rows
    # the topics' level is the topic itself
    at = len(stored["hierarchy"]["counts"]) - 1
    assert all((r[f"topic_l{at}"], r[f"topic_l{at}_label"]) == (r["cluster"], r["label"]) for r in table)
    parquet = pq.read_table(tmp_path / "out.parquet")
    assert parquet.column_names[:5 + 2 * depth] == ["id", "cluster", "label", *levels, "x", "y"]
    assert list(zip(*(parquet.column(name).to_pylist() for name in ("id", "cluster", "label", "x", "y")))) == rows
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert data["run"]["id"] == stored["id"] and data["metrics"] == stored["metrics"]
    assert [(p["id"], p["cluster"], p["label"], p["x"], p["y"]) for p in data["points"]] == rows
    assert [p["raw_cluster"] for p in data["points"]] == [raw for _, _, raw, _, _ in stored["points"]]
    assert [p["title"] for p in data["points"]] == [stored["docs"][d]["title"] for d, *_ in stored["points"]]
    assert {t["cluster"]: (t["label"], t["size"]) for t in data["topics"]} == stored["topics"]
    graph = nx.read_graphml(tmp_path / "out.graphml")
    kinds = Counter(d["kind"] for _, d in graph.nodes(data=True))
    nodes_above = sum(stored["hierarchy"]["counts"][:-1])
    subtopics = stored["hierarchy"]["subtopics"]["count"]
    assert subtopics == len(data["subtopics"])
    assert kinds == {"topic": len(stored["topics"]), "patent": 320, **({"level": nodes_above} if nodes_above else {}),
                     **({"subtopic": subtopics} if subtopics else {})}
    assert nodes_above == sum(len(level) for level in data["levels"])
    parents = Counter(d["kind"] for _, _, d in graph.edges(data=True))["parent"]
    assert parents == (len(stored["topics"]) + sum(len(level) for level in data["levels"][1:]) if nodes_above else 0) + subtopics
    # the report carries the same run: every point, topic label and figure, and says how many patents
    html = (tmp_path / "out.html").read_text(encoding="utf-8")
    assert read_embedded_data(html) == data
    labels = [label for label, _ in stored["topics"].values()]
    assert len(set(labels)) == len(labels) and all(label in html for label in labels)
    assert stored["metrics"]["documents"] == 320 and f"landscape — {mapped.name}, run {stored['id']}</title>" in html


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
    from patscape.report import read_embedded_data

    from .conftest import SAMPLE

    out = run("demo", "--workdir", str(tmp_path / "demo")).stdout
    report = tmp_path / "demo" / "report.html"
    assert f"file://{report.resolve()}" in out
    stored = stored_run(tmp_path / "demo" / "store")
    with SAMPLE.open(encoding="utf-8") as handle:
        sample_ids = sorted(json.loads(line)["id"] for line in handle)
    assert [p[0] for p in stored["points"]] == sample_ids and len(sample_ids) == 1000
    rows = expected_rows(stored)
    with (tmp_path / "demo" / "topics.csv").open(encoding="utf-8") as handle:
        table = [(r["id"], int(r["cluster"]), r["label"], float(r["x"]), float(r["y"])) for r in csv.DictReader(handle)]
    assert table == rows
    data = read_embedded_data(report.read_text(encoding="utf-8"))
    assert [(p["id"], p["cluster"], p["label"], p["x"], p["y"]) for p in data["points"]] == rows
    assert {t["cluster"]: (t["label"], t["size"]) for t in data["topics"]} == stored["topics"]
    assert data["metrics"] == stored["metrics"] and data["metrics"]["documents"] == 1000
    metrics = stored["metrics"]
    assert f"    {metrics['topics']} topics; {metrics['outlier_share']:.1%} outliers" in out
    counts = stored["hierarchy"]["counts"]
    assert f"levels     {len(counts)}: L0 {counts[0]}" in out and counts[-1] == metrics["topics"]


#: ``patscape embed`` that stops after each committed batch of vectors (the store's ``embed``
#: transaction, past its commit): it writes the number of such commits, one line each, to the file
#: descriptor ``GATE_FD``, then goes on only when the test has written one byte ``+`` to its stdin
#: (at the end of stdin it exits: the test is gone). The test knows what is stored when it kills the
#: embed, and that the embed is still running, whatever the speed of the machine.
GATED_EMBED = """
import os
import sys
import patscape.store.connection as connection
from patscape.cli import main

gate = open(0, "rb", buffering=0)
told = os.fdopen(int(os.environ["GATE_FD"]), "wb", buffering=0)
crash_point = connection.crash_point
commits = 0

def gated(kind):
    global commits
    crash_point(kind)
    if kind == "embed":
        commits += 1
        told.write(b"%d\\n" % commits)
        if gate.read(1) != b"+":
            os._exit(3)

connection.crash_point = gated
sys.exit(main(sys.argv[1:]))
"""


def test_embed_resumes_after_kill(tmp_path: Path, dev_slice: Path) -> None:
    """``embed`` killed (SIGKILL, from outside) while it runs, after two committed batches: run
    again, it embeds exactly the documents the killed run had not stored, and keeps the others."""
    store = tmp_path / "store"
    run("ingest", str(store), str(dev_slice))
    read_end, write_end = os.pipe()
    env = dict(os.environ, HF_HUB_OFFLINE="1", PATSCAPE_NO_PROGRESS="1", GATE_FD=str(write_end))
    log = (tmp_path / "embed.log").open("w")
    process = subprocess.Popen([sys.executable, "-c", GATED_EMBED, "embed", str(store), "--batch", "8"], env=env,
                               stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, pass_fds=(write_end,))
    os.close(write_end)  # the child holds the only write end: its exit ends the reads below
    try:
        assert process.stdin is not None
        process.stdin.write(b"+")  # the first batch may go on, the second may not
        process.stdin.flush()
        with os.fdopen(read_end, "rb") as told:
            commits = [told.readline() for _ in range(2)]  # blocks until the child says so (or exits)
            assert commits == [b"1\n", b"2\n"], (commits, (tmp_path / "embed.log").read_text())
            assert process.poll() is None  # waiting at the gate after its second batch: mid-embed
            process.kill()
            process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdin.close()  # type: ignore[union-attr]
        log.close()
    assert process.returncode == -9
    with sqlite3.connect(store / "patscape.sqlite") as db:
        done = db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    assert 2 <= done <= 16  # two batches of at most 8 documents, committed
    out = run("embed", str(store), "--batch", "8").stdout
    embedded = int(out.split()[1])
    already = int(out.split("; ")[1].split()[0])
    assert (embedded, already) == (320 - done, done), out  # the stored ones kept, the others embedded once
    info = json.loads(run("info", str(store), "--json").stdout)
    assert info["spaces"][0]["vectors"] == 320 and info["spaces"][0]["state"] == "complete", info["spaces"][0]


def test_models_lists_backends_and_profiles() -> None:
    out = run("models").stdout
    for name in ("minilm", "st:DIR", "gguf:", "openai:MODEL@URL", "hash:DIMS"):
        assert name in out
    assert "  e5-small          93: af am ar" in out and "  minilm            en\n" in out
    qwen = next(line for line in out.splitlines() if line.strip().startswith("qwen3"))
    assert "last pooling" in qwen and "MRL dims 32+" in qwen and "Instruct: {instruction}\\nQuery:{text}" in qwen
