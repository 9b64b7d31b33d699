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
from patscape.pipeline import build_map, embed, ingest  # noqa: E402
from patscape.spaces import document_text  # noqa: E402
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


def bench_map(corpus: Path, work: Path, seeds: list[int], store_dir: Path | None) -> dict:
    timings: dict[str, float] = {}
    if store_dir is None:
        store_dir = work / "map-store"
        cli("ingest", str(store_dir), str(corpus))
        timings["embed_cli_s"] = round(cli("embed", str(store_dir)), 1)
    timings["map_cli_s"] = round(cli("map", str(store_dir), "--seed", str(seeds[0])), 1)
    per_seed = []
    with Store(store_dir) as store:
        space = store.get_run().space
        ids, vectors = store.load_vectors(space)
        docs = list(store.iter_documents(ids))
        texts = [document_text(d) for d in docs]
        for seed in seeds:
            started = time.perf_counter()
            run_id = build_map(store, space, seed=seed)
            ours_s = time.perf_counter() - started
            started = time.perf_counter()
            labels = bertopic_labels(vectors, texts, seed)
            theirs_s = time.perf_counter() - started
            per_seed.append({
                "seed": seed,
                "patscape_s": round(ours_s, 1),
                "bertopic_s": round(theirs_s, 1),
                "patscape": summary(store.get_run(run_id).metrics),
                "bertopic_default": summary(run_metrics(docs, vectors, labels, labels, seed)),
                "map_stage_s": store.get_run(run_id).metrics.get("timings_s"),
            })
            print(json.dumps(per_seed[-1]), flush=True)
    return {"documents": len(ids), **timings, "seeds": per_seed,
            "patscape": mean_summary([r["patscape"] for r in per_seed]),
            "bertopic_default": mean_summary([r["bertopic_default"] for r in per_seed]),
            "map_in_process_s": round(float(np.mean([r["patscape_s"] for r in per_seed])), 1),
            "bertopic_s": round(float(np.mean([r["bertopic_s"] for r in per_seed])), 1)}


def mean_summary(rows: list[dict]) -> dict:
    """Mean over seeds; also the min and max of every figure, as ``KEY_range``."""
    out: dict = {}
    for key, value in rows[0].items():
        if isinstance(value, dict):
            out[key] = {k: round(float(np.mean([r[key][k] for r in rows])), 4) for k in value}
        elif isinstance(value, (int, float)):
            values = [r[key] for r in rows if r[key] is not None]
            out[key] = round(float(np.mean(values)), 4) if values else None
            out[f"{key}_range"] = [round(min(values), 4), round(max(values), 4)] if values else None
    return out


def write_markdown(result: dict, path: Path) -> None:
    e, m = result["embedding"], result["map"]
    p, b = m["patscape"], m["bertopic_default"]

    def row(name: str, key: str, fmt: str = "{:.3f}") -> str:
        def show(d: dict) -> str:
            v, r = d.get(key), d.get(f"{key}_range")
            if v is None:
                return "–"
            text = fmt.format(v)
            return f"{text} ({fmt.format(r[0])}–{fmt.format(r[1])})" if r and r[0] != r[1] else text

        return f"| {name} | {show(p)} | {show(b)} |"

    lands = sorted(p["landscape_f1"])
    text = f"""<!-- core:start -->
## Core pipeline (`benchmarks/core.py`)

Machine: {result['machine']}. Corpus: `{result['corpus']}` ({m['documents']} documents), model
all-MiniLM-L6-v2 (the default), seeds {result['seeds']} (map figures are the mean over the seeds,
with the range in brackets). Command: `.venv/bin/python benchmarks/core.py` ({result['date']}).

**Embedding** ({e['docs']} documents, title + abstract):

| | docs/s |
| --- | ---: |
| `SentenceTransformer.encode` (batch 32, truncates at 256 tokens) | {e['raw_sentence_transformers_docs_per_s']} |
| `patscape embed` (chunks long texts, writes to the store) | {e['patscape_embed_docs_per_s']} |
| ratio patscape / raw | {e['ratio']} |

**Map** (`patscape map` in a fresh process: {m['map_cli_s']} s, imports and numba start-up
included; in-process {m['map_in_process_s']} s; BERTopic's default pipeline on the same vectors:
{m['bertopic_s']} s):

| figure | patscape | BERTopic default |
| --- | ---: | ---: |
{row('topics', 'topics', '{:.0f}')}
{row('outlier share (final)', 'outlier_share')}
{row('outlier share before reassignment', 'outlier_share_before_reassignment')}
{row('ARI vs CPC subclass, clustered docs', 'ari_cpc_subclass_clustered')}
{row('NMI vs CPC subclass, clustered docs', 'nmi_cpc_subclass_clustered')}
{row('ARI vs CPC subclass, all docs after reassignment', 'ari_cpc_subclass_after_reassignment')}
{row('ARI vs IPC subclass, clustered docs', 'ari_ipc_subclass_clustered')}
{row('silhouette (cosine, original space)', 'silhouette_cosine')}
{row('landscape F1, mean of 5', 'landscape_f1_mean')}
{row('topics mixing languages', 'mixed_language_topics', '{:.0f}')}
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
    parser.add_argument("--seeds", default="42,7,2026", help="comma-separated seeds for the map comparison")
    parser.add_argument("--store", type=Path, default=None,
                        help="reuse a store already embedded with the default model (skips ingest/embed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result = {
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "corpus": str(args.corpus.name),
            "seeds": args.seeds,
            "embedding": bench_embedding(args.corpus, args.embed_docs, work),
        }
        print(json.dumps(result["embedding"], indent=1), flush=True)
        result["map"] = bench_map(args.corpus, work, [int(x) for x in args.seeds.split(",")], args.store)
        print(json.dumps(result["map"], indent=1), flush=True)
    out = REPO / "benchmarks" / "results" / "core.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    write_markdown(result, REPO / "docs" / "benchmarks.md")
    print(f"wrote {out} and docs/benchmarks.md")


if __name__ == "__main__":
    main()
