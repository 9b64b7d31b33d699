"""Benchmark of the core pipeline on this machine (not part of the tests).

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/core.py [--corpus ../shared/data/patents-dev.jsonl] [--embed-docs 1000]

Measures
  (a) embedding throughput of `patscape embed` against plain SentenceTransformer.encode on the
      same texts and model (ratio = patscape docs/s / raw docs/s);
  (b) `patscape map` wall time (a fresh process, as a user runs it) and quality on the corpus,
      against BERTopic's default pipeline on the same embeddings and seed.
Writes benchmarks/results/core.json and the table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PATSCAPE_NO_PROGRESS", "1")

from patscape.embed import load_embedder  # noqa: E402
from patscape.landscape.metrics import run_metrics  # noqa: E402
from patscape.pipeline import build_map, document_text, embed, ingest  # noqa: E402
from patscape.store import Store  # noqa: E402


def cli(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "patscape", *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def bench_embedding(corpus: Path, n_docs: int, work: Path) -> dict:
    lines = corpus.read_text(encoding="utf-8").splitlines()[:n_docs]
    sliced = work / "slice.jsonl"
    sliced.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with Store(work / "embed-store") as store:
        ingest(store, [sliced])
        docs = list(store.iter_documents())
        texts = [document_text(d) for d in docs]
        model = load_embedder("minilm")
        model.model.encode(texts[:64], batch_size=32)  # warm-up
        started = time.perf_counter()
        model.model.encode(texts, batch_size=32, normalize_embeddings=True)
        raw_s = time.perf_counter() - started
        started = time.perf_counter()
        embed(store, model)
        ours_s = time.perf_counter() - started
        stats = store.chunk_stats(store.spaces()[0].key)
    return {
        "docs": len(texts),
        "raw_sentence_transformers_docs_per_s": round(len(texts) / raw_s, 2),
        "patscape_embed_docs_per_s": round(len(texts) / ours_s, 2),
        "ratio": round(raw_s / ours_s, 3),
        "multi_chunk_docs": stats["multi_chunk_docs"],
        "note": "raw encode truncates at 256 tokens; patscape chunks long texts instead, so it embeds more tokens",
    }


def bertopic_labels(vectors: np.ndarray, texts: list[str], seed: int) -> np.ndarray:
    from bertopic import BERTopic
    from umap import UMAP

    # BERTopic's defaults, with the seed fixed in its UMAP so the run is reproducible.
    umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    topic_model = BERTopic(umap_model=umap_model)
    topics, _ = topic_model.fit_transform(texts, embeddings=vectors)
    return np.asarray(topics, dtype=np.int64)


def summary(metrics: dict) -> dict:
    code = metrics["code_agreement"]
    return {
        "topics": metrics["topics"],
        "outlier_share": metrics["outlier_share"],
        "outlier_share_before_reassignment": metrics["outlier_share_before_reassignment"],
        "ari_cpc_subclass_clustered": (code["cpc_subclass"]["clustered"] or {}).get("ari"),
        "nmi_cpc_subclass_clustered": (code["cpc_subclass"]["clustered"] or {}).get("nmi"),
        "ari_cpc_subclass_after_reassignment": (code["cpc_subclass"]["after_reassignment"] or {}).get("ari"),
        "ari_ipc_subclass_clustered": (code["ipc_subclass"]["clustered"] or {}).get("ari"),
        "silhouette_cosine": metrics["silhouette_cosine"],
        "landscape_f1": {k: v["f1"] for k, v in metrics.get("landscape_f1", {}).items()},
        "landscape_f1_mean": metrics.get("landscape_f1_mean"),
        "mixed_language_topics": metrics["language_mix"]["mixed_topics"],
    }


def bench_map(corpus: Path, work: Path, seed: int) -> dict:
    store_dir = work / "map-store"
    cli("ingest", str(store_dir), str(corpus))
    embed_s = cli("embed", str(store_dir))
    map_s = cli("map", str(store_dir), "--seed", str(seed))
    with Store(store_dir) as store:
        run = store.get_run()
        ours = summary(run.metrics)
        ids, vectors = store.load_vectors(run.space)
        docs = list(store.iter_documents(ids))
        started = time.perf_counter()
        build_map(store, run.space, seed=seed)
        warm_s = time.perf_counter() - started
        texts = [document_text(d) for d in docs]
        started = time.perf_counter()
        labels = bertopic_labels(vectors, texts, seed)
        bertopic_s = time.perf_counter() - started
        theirs = summary(run_metrics(docs, vectors, labels, labels, seed))
    return {
        "documents": len(ids),
        "embed_cli_s": round(embed_s, 1),
        "map_cli_s": round(map_s, 1),
        "map_in_process_s": round(warm_s, 1),
        "map_stage_s": run.metrics.get("timings_s"),
        "bertopic_s": round(bertopic_s, 1),
        "patscape": ours,
        "bertopic_default": theirs,
    }


def write_markdown(result: dict, path: Path) -> None:
    e, m = result["embedding"], result["map"]
    p, b = m["patscape"], m["bertopic_default"]

    def row(name: str, key: str, fmt: str = "{:.3f}") -> str:
        def show(v: object) -> str:
            return "–" if v is None else (fmt.format(v) if isinstance(v, float) else str(v))

        return f"| {name} | {show(p.get(key))} | {show(b.get(key))} |"

    lands = sorted(p["landscape_f1"])
    text = f"""<!-- core:start -->
## Core pipeline (`benchmarks/core.py`)

Machine: {result['machine']}. Corpus: `{result['corpus']}` ({m['documents']} documents), model
all-MiniLM-L6-v2 (the default), seed {result['seed']}. Command:
`.venv/bin/python benchmarks/core.py` ({result['date']}).

**Embedding** ({e['docs']} documents, title + abstract):

| | docs/s |
| --- | ---: |
| `SentenceTransformer.encode` (batch 32, truncates at 256 tokens) | {e['raw_sentence_transformers_docs_per_s']} |
| `patscape embed` (chunks long texts, writes to the store) | {e['patscape_embed_docs_per_s']} |
| ratio patscape / raw | {e['ratio']} |

**Map** (`patscape map` in a fresh process: {m['map_cli_s']} s, of which numba compilation and
imports are the rest after the in-process {m['map_in_process_s']} s; BERTopic default pipeline on
the same vectors: {m['bertopic_s']} s):

| figure | patscape | BERTopic default |
| --- | ---: | ---: |
{row('topics', 'topics', '{}')}
{row('outlier share (final)', 'outlier_share')}
{row('outlier share before reassignment', 'outlier_share_before_reassignment')}
{row('ARI vs CPC subclass, clustered docs', 'ari_cpc_subclass_clustered')}
{row('NMI vs CPC subclass, clustered docs', 'nmi_cpc_subclass_clustered')}
{row('ARI vs CPC subclass, all docs after reassignment', 'ari_cpc_subclass_after_reassignment')}
{row('ARI vs IPC subclass, clustered docs', 'ari_ipc_subclass_clustered')}
{row('silhouette (cosine, original space)', 'silhouette_cosine')}
{row('landscape F1, mean of 5', 'landscape_f1_mean')}
{row('topics mixing languages', 'mixed_language_topics', '{}')}
""" + "\n".join(
        f"| F1 {name} | {p['landscape_f1'][name]:.3f} | {b['landscape_f1'].get(name, 0):.3f} |" for name in lands
    ) + "\n<!-- core:end -->\n"
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\nMeasured on this project's machine; each section says how to reproduce it.\n\n"
    if "<!-- core:start -->" in old:
        head, rest = old.split("<!-- core:start -->", 1)
        old = head + rest.split("<!-- core:end -->\n", 1)[1]
    path.write_text(old.rstrip() + "\n\n" + text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "data" / "patents-dev.jsonl")
    parser.add_argument("--embed-docs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result = {
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "corpus": str(args.corpus.name),
            "seed": args.seed,
            "embedding": bench_embedding(args.corpus, args.embed_docs, work),
        }
        print(json.dumps(result["embedding"], indent=1), flush=True)
        result["map"] = bench_map(args.corpus, work, args.seed)
        print(json.dumps(result["map"], indent=1), flush=True)
    out = REPO / "benchmarks" / "results" / "core.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    write_markdown(result, REPO / "docs" / "benchmarks.md")
    print(f"wrote {out} and docs/benchmarks.md")


if __name__ == "__main__":
    main()
