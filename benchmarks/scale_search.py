"""Search at scale: ANN index build, latency, recall@10 against exact search, and memory.

    .venv/bin/python benchmarks/scale_search.py STORE [--queries 300] [--label 100000x384]

Run on a store made by ``benchmarks/scale.py --stage generate import`` (or any store with a
complete space). Measured, each in a fresh process:
  index    ``patscape index STORE --rebuild --ann``: vector files and HNSW index written anew
           (wall time, peak RSS);
  search   ``SpaceVectors.nearest`` for queries near stored documents (a stored vector plus
           noise): p50/p99 latency and recall@10 against an exact scan of the same vectors,
           unfiltered and with a filter (one language, a year range); the same queries by exact
           scan (the index switched off) for the ratio; the process's anonymous and file-backed
           memory after the queries;
  load     the old way, ``Store.load_vectors`` (every vector read into memory), for comparison.
Results are merged into benchmarks/results/scale.json under the label and ``search``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "scale.json"
PY = sys.executable


def memory() -> dict:
    status = Path("/proc/self/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {k.lower(): round(int(fields[k].split()[0]) / 1024) for k in ("VmHWM", "RssAnon", "RssFile") if k in fields}


def worker_search(store_path: str, queries: int, seed: int) -> None:
    """In a fresh process: queries through the index and by exact scan; prints JSON."""
    sys.path.insert(0, str(REPO))
    from patscape.filters import SearchFilter
    from patscape.spaces import pick_space
    from patscape.store import Store
    from patscape.vectors.disk import SpaceVectors

    started = time.perf_counter()
    store = Store(store_path, create=False)
    space = pick_space(store)
    files = SpaceVectors.open(store, space)
    open_s = time.perf_counter() - started
    after_open = memory()
    assert files.docs is not None and files.docs.matrix is not None
    rng = np.random.default_rng(seed)
    rows = rng.choice(files.docs.rows, size=queries, replace=False)
    targets = np.asarray(files.docs.matrix[np.sort(rows)], dtype=np.float32)
    # noise of norm ~0.98 whatever the dimension (0.05 per component at 384): a query about as
    # near its document (cosine ~0.7) at 1024 dimensions as at 384
    noise = 0.05 * (384 / targets.shape[1]) ** 0.5
    targets += noise * rng.standard_normal(targets.shape).astype(np.float32)
    targets /= np.linalg.norm(targets, axis=1, keepdims=True)
    where = SearchFilter.parse(lang="zh", years="2010-2019")
    result: dict = {"n": files.live, "dims": space.dims, "dtype": files.dtype, "open_s": round(open_s, 3),
                    "indexed_rows": files.docs.index_rows, "memory_after_open_mb": after_open,
                    "filter": where.describe(), "filter_matches": store.count_matching(where)}

    def run(label: str, condition: SearchFilter | None) -> list[list[str]]:
        found, times = [], []
        for target in targets:
            t0 = time.perf_counter()
            hits = files.nearest(target, 10, condition)
            times.append(time.perf_counter() - t0)
            found.append([doc_id for doc_id, _ in hits])
        ms = np.asarray(times) * 1000
        result[label] = {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2)}
        return found

    ann = run("ann", None)
    ann_filtered = run("ann_filtered", where)
    result["memory_after_ann_queries_mb"] = memory()
    index = files.docs.index
    files.docs.index, files.docs.index_rows = None, 0  # the same files, exact scan
    exact = run("exact", None)
    exact_filtered = run("exact_filtered", where)
    files.docs.index, files.docs.index_rows = index, result["indexed_rows"]
    result["recall_at_10"] = round(float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(ann, exact)])), 4)
    result["recall_at_10_filtered"] = round(float(np.mean(
        [len(set(a) & set(e)) / max(1, len(e)) for a, e in zip(ann_filtered, exact_filtered)])), 4)
    result["exact_over_ann_p50"] = round(result["exact"]["p50_ms"] / max(result["ann"]["p50_ms"], 1e-9), 1)
    result["memory_end_mb"] = memory()
    print(json.dumps(result))


def worker_load(store_path: str) -> None:
    sys.path.insert(0, str(REPO))
    from patscape.spaces import pick_space
    from patscape.store import Store

    store = Store(store_path, create=False)
    started = time.perf_counter()
    ids, matrix = store.load_vectors(pick_space(store).key)
    print(json.dumps({"load_vectors_s": round(time.perf_counter() - started, 1), "rows": len(ids), "memory_mb": memory()}))


def timed(cmd: list[str]) -> dict:
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True,
                          env={**os.environ, "PATSCAPE_NO_PROGRESS": "1"})
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    return {"wall_s": round(time.perf_counter() - started, 1), "peak_rss_mb": round(int(proc.stderr.split()[-1]) / 1024),
            "stdout": proc.stdout.strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--label", default=None, help="Key in scale.json (default: NxDIMS of the store).")
    parser.add_argument("--skip-index", action="store_true", help="Keep the index as it is.")
    parser.add_argument("--worker", choices=["search", "load"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "search":
        return worker_search(args.store, args.queries, args.seed)
    if args.worker == "load":
        return worker_load(args.store)
    out: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_avg_start": list(os.getloadavg())}
    if not args.skip_index:
        out["index"] = timed([PY, "-m", "patscape", "index", args.store, "--rebuild", "--ann"])
        out["index"]["stdout"] = out["index"]["stdout"][-400:]
    searched = timed([PY, __file__, args.store, "--worker", "search", "--queries", str(args.queries), "--seed", str(args.seed)])
    out["search"] = json.loads(searched["stdout"].splitlines()[-1])
    out["search"]["process_peak_rss_mb"] = searched["peak_rss_mb"]
    loaded = timed([PY, __file__, args.store, "--worker", "load"])
    out["load_vectors_the_old_way"] = {**json.loads(loaded["stdout"].splitlines()[-1]), "process_peak_rss_mb": loaded["peak_rss_mb"]}
    out["load_avg_end"] = list(os.getloadavg())
    label = args.label or f"{out['search']['n']}x{out['search']['dims']}"
    doc = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    doc.setdefault(label, {})["search"] = out
    RESULTS.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
