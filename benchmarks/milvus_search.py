"""Milvus Lite as the vector store at 100k x 384: export throughput and search latency.

Builds a patscape store of ``--n`` synthetic documents (clustered unit vectors; language, date
and one CPC code each; 5% without a date), exports its space with ``export_to_milvus`` (the
path ``patscape export --format milvus`` takes) and times ``MilvusVectors.nearest`` for
``--queries`` queries, unfiltered and with each filter, checking every answer against an exact
numpy search (recall@k). Prints one JSON object and writes it to ``--out``.

    .venv/bin/python benchmarks/milvus_search.py --n 100000 --dims 384 --work /tmp/milvus-bench
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

# this file's name would shadow the milvus_lite package that pymilvus imports for a local file
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

from patscape.filters import SearchFilter  # noqa: E402
from patscape.records import Document  # noqa: E402
from patscape.store import Space, Store, VectorRow  # noqa: E402
from patscape.vectors.milvus import MilvusVectors, date_year, export_to_milvus  # noqa: E402

SUBCLASSES = ["A61K", "B60L", "C08L", "F16H", "G01N", "G06F", "G06N", "H01L", "H01M", "H04L", "H04W", "Y02E"]
LANGS = ["en", "en", "en", "zh", "ja", "de"]


def build_store(path: Path, n: int, dims: int, seed: int) -> tuple[Store, Space, np.ndarray, list[Document]]:
    """``n`` documents in 200 clusters; returns the store, its space, the vectors and the documents."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((200, dims)).astype(np.float32)
    cluster = rng.integers(0, 200, n)
    vectors = centres[cluster] + 1.5 * rng.standard_normal((n, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    years = rng.integers(1995, 2025, n)
    docs = []
    for i in range(n):
        sub = SUBCLASSES[(cluster[i] + (rng.random() < 0.2) * rng.integers(1, 12)) % len(SUBCLASSES)]
        docs.append(Document(
            id=f"BENCH-{i:08d}", title=f"document {i} of cluster {cluster[i]}", abstract=f"cluster {cluster[i]} words {i % 97}",
            lang=LANGS[i % len(LANGS)], date=None if i % 20 == 7 else f"{years[i]}-0{1 + i % 9}-1{i % 9}",
            cpc=(f"{sub}{1 + i % 40}/{i % 100:02d}",), ipc=(),
        ))
    store = Store(path)
    for start in range(0, n, 5000):
        store.write_documents(docs[start : start + 5000])
    space = Space(f"bench-{dims}", "hash:bench", f"bench-{seed}", dims, {}, None)
    store.ensure_space(space)
    for start in range(0, n, 5000):
        part = docs[start : start + 5000]
        store.put_vectors(space.key, [VectorRow(d.id, d.content_hash, vectors[start + j], 1, 10) for j, d in enumerate(part)])
    store.mark_complete(space.key)
    return store, store.get_space(space.key), vectors, docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--index", default="auto", help="auto (FLAT on Lite), FLAT, HNSW or IVF_FLAT")
    parser.add_argument("--work", type=Path, default=Path("/tmp/patscape-milvus-bench"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "milvus_lite.json")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)

    started = time.perf_counter()
    store, space, vectors, docs = build_store(args.work / "store", args.n, args.dims, args.seed)
    build_seconds = time.perf_counter() - started
    uri = str(args.work / "bench.db")
    report = export_to_milvus(store, space, uri, index=args.index)
    assert report.rows == args.n, report

    rng = np.random.default_rng(args.seed + 1)
    rows = rng.choice(args.n, args.queries, replace=False)
    queries = vectors[rows] + 0.3 * rng.standard_normal((args.queries, args.dims)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    langs = np.array([d.lang for d in docs])
    years = np.array([date_year(d.date) for d in docs])
    cpc = np.array([d.cpc[0] for d in docs])
    filters = {
        "none": (None, np.ones(args.n, dtype=bool)),
        "lang=zh": (SearchFilter(lang="zh"), langs == "zh"),
        "years=2018-2020": (SearchFilter(year_from=2018, year_to=2020), (years >= 2018) & (years <= 2020)),
        "cpc=H01M": (SearchFilter(cpc="H01M"), np.char.startswith(cpc, "H01M")),
        "cpc=H01M1": (SearchFilter(cpc="H01M1"), np.char.startswith(cpc, "H01M1")),
        "lang=en,years=2010-,cpc=G06": (SearchFilter(lang="en", year_from=2010, cpc="G06"),
                                        (langs == "en") & (years >= 2010) & np.char.startswith(cpc, "G06")),
    }
    results = {}
    with MilvusVectors(f"milvus:{uri}") as milvus:
        milvus.nearest(queries[0], args.k)  # first search loads the segments
        for name, (where, mask) in filters.items():
            latencies, recalls = [], []
            for q in queries:
                t = time.perf_counter()
                found = milvus.nearest(q, args.k, where=where)
                latencies.append(time.perf_counter() - t)
                scores = np.where(mask, vectors @ q, -np.inf)
                truth = set(np.argsort(-scores)[: args.k].tolist())
                recalls.append(len(truth & {int(doc_id[6:]) for doc_id, _ in found}) / args.k)
            latencies.sort()
            results[name] = {
                "passing_share": round(float(mask.mean()), 4),
                "p50_ms": round(1000 * statistics.median(latencies), 1),
                "p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 1),
                "recall_at_k": round(float(np.mean(recalls)), 4),
            }
    out = {
        "n": args.n, "dims": args.dims, "k": args.k, "queries": args.queries, "index": report.index,
        "store_build_seconds": round(build_seconds, 1),
        "export_seconds": round(report.seconds, 1), "export_vectors_per_second": round(report.vectors / report.seconds),
        "milvus_lite_bytes": sum(p.stat().st_size for p in Path(uri).rglob("*") if p.is_file()),
        "search": results, "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=1))
    store.close()


if __name__ == "__main__":
    main()
