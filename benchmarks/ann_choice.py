"""Choosing the approximate-nearest-neighbour library for the persistent vector index.

    .venv/bin/pip install usearch faiss-cpu hnswlib      # or: .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/ann_choice.py [--n 100000] [--dims 384 1024] [--queries 1000]
        [--k 10] [--threads 2] [--configs usearch-f32,faiss-hnsw-f32,...] [--out FILE]
        [--real STORE_OR_NPY ...]

Not part of the tests. The candidates, with comparable settings (HNSW M = connectivity = 16,
ef_construction = expansion_add = 128, inner product on unit vectors, i.e. cosine):

  usearch-f32 / -f16 / -i8    usearch ``Index`` (dtype f32, f16, i8)
  faiss-hnsw-f32 / -f16 / -sq8  faiss ``IndexHNSWFlat`` / ``IndexHNSWSQ`` (fp16, 8-bit), behind
                              ``IndexIDMap2`` for document keys
  faiss-ivf-flat              faiss ``IndexIVFFlat`` (nlist = 4 sqrt(n) rounded to a power of 2,
                              nprobe tuned instead of ef)
  faiss-ivf-drift             the same grown the hard way: trained on 20% of n drawn from half of
                              the topics only (nlist sized for 20% of n), then every vector added
                              in batches, as an index created small and never retrained would be
  hnswlib-f32                 hnswlib ``Index`` (float32 only)

The corpus is synthetic and seeded, shaped after real patscape stores (see ``synthetic_corpus``
and the ``calibration`` block of the JSON; ``--real`` prints the same statistics for a real
store or .npy matrix): 200 topics with Zipf sizes, grouped into 40 technical fields so that
sibling topics are close, an anisotropic (power-law) covariance, a shared mean direction, and
8% near-duplicates (patent families). Queries are held-out documents of the same corpus.

Each library runs in its own subprocess (``--worker``) so that peak RSS is its own:
  build     build time, peak RSS increase (VmHWM reset through /proc/self/clear_refs, minus the
            RSS before the build), recall@k against exact search for a grid of ef (nprobe), the
            smallest ef reaching recall 0.95 and 0.99, single-query latency p50/p99 (one thread,
            one query per call, as a search request does) at those two ef, batch throughput,
            size on disk after save, incremental add of 1% more vectors in batches of 32 (with
            recall afterwards), deletion of 1% (and recall afterwards, deleted keys returned),
            unreachable documents (2000 indexed vectors searched with their own vector: share
            whose own key is not in the top k, at the operating ef and at the largest), recall
            counting near-ties as hits (a returned item within 1e-3 of the k-th true score),
            replacement of 100 vectors under their key;
  load      a fresh process loads the saved index: time, RSS increase, recall;
  view      the same through a memory map where the library has one (usearch ``restore(view=True)``,
            faiss ``IO_FLAG_MMAP_IFC``), time to open, RSS, first-batch and single-query latency.
Exact search (numpy float32 and float16 matrices, blocked; usearch's SIMD brute force) is timed on
the same queries at several sizes, for the threshold below which patscape stays exact.
Writes benchmarks/results/ann_choice.json and prints markdown tables.
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
CONFIGS = [
    "usearch-f32", "usearch-f16", "usearch-i8",
    "faiss-hnsw-f32", "faiss-hnsw-f16", "faiss-hnsw-sq8", "faiss-ivf-flat", "faiss-ivf-drift",
    "hnswlib-f32",
]
M = 16
EF_CONSTRUCTION = 128
EF_GRID = [10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512, 768, 1024]
NPROBE_GRID = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256]
TARGETS = (0.95, 0.99)
ADD_BATCH = 32


# ---------------------------------------------------------------------------------------------
# synthetic corpus
# ---------------------------------------------------------------------------------------------
def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def synthetic_corpus(n: int, d: int, seed: int = 2026, topics: int = 200, fields: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors of ``d`` dims shaped like sentence embeddings of patents, and their topics.

    doc = unit(0.48 g + 0.45 field + 0.5 topic + s (0.85 A z + 0.3 U_topic w)), where g is a mean
    direction shared by all documents (embedding models are anisotropic), A a covariance with a
    power-law spectrum cut off exponentially (lambda_i ~ i^-0.4 exp(-2 i / 0.4 d)), field and topic
    centres drawn from the same covariance, U_topic a topic's own 16-dim subspace, s a lognormal
    per-document scale. Topic sizes are Zipf(0.9) over 200 topics (the largest ~8%, the smallest a
    few dozen per 100k); every topic belongs to one of 40 fields, so the ~5 topics of a field are
    close to each other. 8% of documents are near-copies of another (patent families). The
    parameters were fitted to real stores (all-MiniLM-L6-v2 and USE multilingual on the dev
    corpus): see ``calibration`` in the results.
    """
    rng = np.random.default_rng(seed)
    q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    i = np.arange(1, d + 1, dtype=float)
    s = i ** -0.2 * np.exp(-i / (0.4 * d))
    s /= np.sqrt((s**2).sum())  # E|z A|^2 = 1
    a = (q * s).T

    def shaped(m: int) -> np.ndarray:
        return rng.standard_normal((m, d)) @ a

    g = _unit(rng.standard_normal(d))
    field_centres = _unit(shaped(fields))
    field_of = rng.integers(0, fields, topics)
    topic_centres = _unit(shaped(topics))
    weights = rng.permutation(np.arange(1, topics + 1, dtype=float) ** -0.9)
    topic = rng.choice(topics, size=n, p=weights / weights.sum())
    x = np.empty((n, d), np.float32)
    rank = 16
    for t in range(topics):
        idx = np.flatnonzero(topic == t)
        u = np.linalg.qr(rng.standard_normal((d, rank)))[0]
        if not len(idx):
            continue
        scale = rng.lognormal(0.0, 0.2, (len(idx), 1))
        centre = 0.48 * g + 0.45 * field_centres[field_of[t]] + 0.5 * topic_centres[t]
        own = rng.standard_normal((len(idx), rank)) @ u.T / np.sqrt(rank)
        x[idx] = centre + scale * (0.85 * shaped(len(idx)) + 0.3 * own)
    dups = int(0.08 * n)
    src, dst = rng.integers(0, n, dups), rng.integers(0, n, dups)
    x[dst] = x[src] + 0.5 * np.linalg.norm(x[src], axis=1, keepdims=True) * shaped(dups)
    topic[dst] = topic[src]
    return _unit(x).astype(np.float32), topic


def corpus_stats(v: np.ndarray, sample: int = 1000, seed: int = 0) -> dict:
    """Shape statistics used to fit the generator (cosines; LID = MLE over 20 neighbours)."""
    v = _unit(v.astype(np.float32))
    n = len(v)
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, n, 20000), rng.integers(0, n, 20000)
    pair = np.einsum("ij,ij->i", v[a], v[b])
    sims = v[rng.choice(n, min(sample, n), replace=False)] @ v.T
    sims = -np.sort(-sims, axis=1)[:, 1:22]  # drop the document itself
    dist = np.sqrt(np.maximum(2 - 2 * sims, 1e-12))
    lid = -1 / np.mean(np.log(dist[:, :19] / dist[:, 19:20]), axis=1)
    centred = v[: min(n, 5000)] - v.mean(0)
    ev = np.linalg.svd(centred, compute_uv=False) ** 2
    cum = np.cumsum(ev) / ev.sum()
    return {
        "n": n,
        "dims": v.shape[1],
        "mean_vector_norm": round(float(np.linalg.norm(v.mean(0))), 3),
        "random_pair_cosine_mean": round(float(pair.mean()), 3),
        "random_pair_cosine_std": round(float(pair.std()), 3),
        "nn1_cosine_p10_p50_p90": [round(float(np.percentile(sims[:, 0], p)), 3) for p in (10, 50, 90)],
        "nn10_cosine_median": round(float(np.median(sims[:, 9])), 3),
        "lid_median": round(float(np.median(lid)), 1),
        "pca_dims_for_50pct_variance": int(np.searchsorted(cum, 0.5) + 1),
        "pca_dims_for_90pct_variance": int(np.searchsorted(cum, 0.9) + 1),
    }


def real_vectors(path: str) -> list[tuple[str, np.ndarray]]:
    p = Path(path)
    if p.suffix == ".npy":
        return [(p.name, np.load(p))]
    sys.path.insert(0, str(REPO))
    from patscape.store import Store

    out = []
    with Store(p, create=False) as store:
        for space in store.spaces():
            _, v = store.load_vectors(space.key)
            if len(v) > 50:
                out.append((space.key, v))
    return out


# ---------------------------------------------------------------------------------------------
# exact search
# ---------------------------------------------------------------------------------------------
def exact_topk(x: np.ndarray, q: np.ndarray, k: int, block: int = 16384) -> np.ndarray:
    """Top-k rows of ``x`` by inner product for each row of ``q``, blocked over ``x`` (float32)."""
    best_s = np.full((len(q), k), -np.inf, np.float32)
    best_i = np.zeros((len(q), k), np.int64)
    for start in range(0, len(x), block):
        chunk = x[start : start + block]
        s = q @ (chunk.T if chunk.dtype == np.float32 else chunk.astype(np.float32).T)
        kk = min(k, s.shape[1])
        part = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        cand_s = np.concatenate([best_s, np.take_along_axis(s, part, 1)], axis=1)
        cand_i = np.concatenate([best_i, part + start], axis=1)
        top = np.argpartition(-cand_s, k - 1, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(cand_s, top, 1), np.take_along_axis(cand_i, top, 1)
    order = np.argsort(-best_s, axis=1)
    return np.take_along_axis(best_i, order, 1)


def exact_single(x: np.ndarray, q: np.ndarray, k: int, block: int = 16384) -> np.ndarray:
    """One query: a matrix-vector product (float16 matrices converted block by block)."""
    if x.dtype == np.float32:
        s = x @ q
    else:
        s = np.empty(len(x), np.float32)
        for start in range(0, len(x), block):
            s[start : start + block] = x[start : start + block].astype(np.float32) @ q
    top = np.argpartition(-s, k - 1)[:k]
    return top[np.argsort(-s[top])]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    return float(np.mean([len(set(f[:k].tolist()) & set(t.tolist())) / k for f, t in zip(found, truth)]))


def percentiles(times_s: list[float]) -> dict:
    ms = np.asarray(times_s) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "mean_ms": round(float(ms.mean()), 3)}


def bench_exact(x: np.ndarray, q: np.ndarray, truth: np.ndarray, k: int, threads: int, sizes: list[int]) -> dict:
    from threadpoolctl import threadpool_limits
    from usearch.index import search as usearch_search

    out: dict = {"sizes": {}}
    single_q = q[:200]
    x16_full = x.astype(np.float16)
    for n in sizes:
        xs, x16 = x[:n], x16_full[:n]
        row: dict = {}
        with threadpool_limits(1):
            for name, mat in (("numpy_f32", xs), ("numpy_f16", x16)):
                exact_single(mat, single_q[0], k)
                times = []
                for v in single_q:
                    t = time.perf_counter()
                    exact_single(mat, v, k)
                    times.append(time.perf_counter() - t)
                row[f"{name}_single"] = percentiles(times)
            for name, mat in (("usearch_exact_f32", xs), ("usearch_exact_f16", x16)):
                times = []
                for v in single_q:
                    t = time.perf_counter()
                    usearch_search(mat, v, k, "ip", exact=True, threads=1)
                    times.append(time.perf_counter() - t)
                row[f"{name}_single"] = percentiles(times)
        with threadpool_limits(threads):
            for name, mat in (("numpy_f32", xs), ("numpy_f16", x16)):
                t = time.perf_counter()
                found = exact_topk(mat, q, k)
                row[f"{name}_batch_ms_per_query"] = round((time.perf_counter() - t) * 1000 / len(q), 3)
                if n == len(x):
                    row[f"{name}_recall"] = round(recall(found, truth), 4)
            t = time.perf_counter()
            m = usearch_search(x16, q, k, "ip", exact=True, threads=threads)
            row["usearch_exact_f16_batch_ms_per_query"] = round((time.perf_counter() - t) * 1000 / len(q), 3)
            if n == len(x):
                row["usearch_exact_f16_recall"] = round(recall(m.keys, truth), 4)
        row["matrix_mb_f32"] = round(xs.nbytes / 2**20, 1)
        out["sizes"][str(n)] = row
        print(f"  exact n={n}: f32 single p50 {row['numpy_f32_single']['p50_ms']} ms, "
              f"f16 {row['numpy_f16_single']['p50_ms']} ms, usearch-exact f16 {row['usearch_exact_f16_single']['p50_ms']} ms",
              flush=True)
    return out


# ---------------------------------------------------------------------------------------------
# library adapters (imported in the worker only)
# ---------------------------------------------------------------------------------------------
class Adapter:
    knob = "ef"
    grid = EF_GRID
    ext = ".index"

    def __init__(self, d: int, threads: int):
        self.d, self.threads = d, threads

    def set_threads(self, t: int) -> None:  # for libraries with a global thread pool
        pass


class USearch(Adapter):
    ext = ".usearch"

    def __init__(self, d: int, threads: int, dtype: str):
        super().__init__(d, threads)
        from usearch.index import Index

        self.Index, self.dtype = Index, dtype
        # i8 is only meaningful with the cosine metric (usearch scales normalised vectors to 127)
        self.metric = "cos" if dtype == "i8" else "ip"
        self.index = Index(ndim=d, metric=self.metric, dtype=dtype, connectivity=M, expansion_add=EF_CONSTRUCTION)

    def build(self, x: np.ndarray, topics: np.ndarray | None = None) -> None:
        self.index.add(np.arange(len(x), dtype=np.uint64), x, threads=self.threads)

    def search(self, q: np.ndarray, k: int, ef: int, threads: int) -> np.ndarray:
        self.index.expansion_search = ef
        return self.index.search(q, k, threads=threads).keys.astype(np.int64)

    def search_one(self, v: np.ndarray, k: int) -> np.ndarray:
        return self.index.search(v, k, threads=1).keys

    def add(self, keys: np.ndarray, x: np.ndarray) -> None:
        self.index.add(keys.astype(np.uint64), x, threads=self.threads)

    def remove(self, keys: np.ndarray) -> str:
        self.index.remove(keys.astype(np.uint64))
        return "native (remove)"

    def replace(self, keys: np.ndarray, x: np.ndarray) -> str:
        self.index.remove(keys.astype(np.uint64))
        self.index.add(keys.astype(np.uint64), x, threads=self.threads)
        return "remove + add (add of an existing key raises)"

    def save(self, path: str) -> None:
        self.index.save(path)

    def load(self, path: str, view: bool) -> None:
        self.index = self.Index.restore(path, view=view)


class Faiss(Adapter):
    def __init__(self, d: int, threads: int, kind: str, n: int = 0):
        super().__init__(d, threads)
        import faiss

        self.faiss, self.kind = faiss, kind
        faiss.omp_set_num_threads(threads)
        ip = faiss.METRIC_INNER_PRODUCT
        if kind.startswith("ivf"):
            self.knob, self.grid = "nprobe", NPROBE_GRID
            sized_for = n // 5 if kind == "ivf-drift" else n
            self.nlist = int(2 ** round(np.log2(4 * np.sqrt(max(sized_for, 1)))))
            self.index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, self.nlist, ip)
            self.inner = self.index
        else:
            if kind == "hnsw-f32":
                inner = faiss.IndexHNSWFlat(d, M, ip)
            else:
                qt = faiss.ScalarQuantizer.QT_fp16 if kind == "hnsw-f16" else faiss.ScalarQuantizer.QT_8bit
                inner = faiss.IndexHNSWSQ(d, qt, M, ip)
            inner.hnsw.efConstruction = EF_CONSTRUCTION
            self.index = faiss.IndexIDMap2(inner)
            self.inner = inner

    def set_threads(self, t: int) -> None:
        self.faiss.omp_set_num_threads(t)

    def _set_knob(self, value: int) -> None:
        if self.kind.startswith("ivf"):
            self.inner.nprobe = value
        else:
            self.inner.hnsw.efSearch = value

    def build(self, x: np.ndarray, topics: np.ndarray | None = None) -> None:
        if self.kind == "ivf-drift":
            half = np.flatnonzero(topics % 2 == 0)[: len(x) // 5]
            self.index.train(x[half])
            for start in range(0, len(x), 1024):
                self.index.add_with_ids(x[start : start + 1024], np.arange(start, min(start + 1024, len(x)), dtype=np.int64))
            return
        if not self.index.is_trained:
            self.index.train(x)
        self.index.add_with_ids(x, np.arange(len(x), dtype=np.int64))

    def search(self, q: np.ndarray, k: int, ef: int, threads: int) -> np.ndarray:
        self._set_knob(ef)
        self.set_threads(threads)
        return self.index.search(q, k)[1]

    def search_one(self, v: np.ndarray, k: int) -> np.ndarray:
        return self.index.search(v[None, :], k)[1][0]

    def add(self, keys: np.ndarray, x: np.ndarray) -> None:
        self.index.add_with_ids(x, keys.astype(np.int64))

    def remove(self, keys: np.ndarray) -> str:
        self.index.remove_ids(keys.astype(np.int64))  # raises for HNSW
        return "native (remove_ids: compacts the inverted lists)"

    def replace(self, keys: np.ndarray, x: np.ndarray) -> str:
        self.index.remove_ids(keys.astype(np.int64))
        self.index.add_with_ids(x, keys.astype(np.int64))
        return "remove_ids + add_with_ids"

    def save(self, path: str) -> None:
        self.faiss.write_index(self.index, path)

    def load(self, path: str, view: bool) -> None:
        flags = self.faiss.IO_FLAG_MMAP_IFC if view else 0
        if view and self.kind.startswith("ivf"):
            flags = self.faiss.IO_FLAG_MMAP
        self.index = self.faiss.read_index(path, flags)
        self.inner = self.index if self.kind.startswith("ivf") else self.faiss.downcast_index(self.index.index)


class Hnswlib(Adapter):
    ext = ".hnsw"

    def __init__(self, d: int, threads: int):
        super().__init__(d, threads)
        import hnswlib

        self.hnswlib = hnswlib
        self.index = hnswlib.Index(space="ip", dim=d)

    def build(self, x: np.ndarray, topics: np.ndarray | None = None) -> None:
        # sized for the base only: the incremental add has to grow it (resize_index), as in use
        self.index.init_index(max_elements=len(x), M=M, ef_construction=EF_CONSTRUCTION, random_seed=100,
                              allow_replace_deleted=True)
        self.index.add_items(x, np.arange(len(x)), num_threads=self.threads)

    def search(self, q: np.ndarray, k: int, ef: int, threads: int) -> np.ndarray:
        self.index.set_ef(max(ef, k))
        return self.index.knn_query(q, k, num_threads=threads)[0].astype(np.int64)

    def search_one(self, v: np.ndarray, k: int) -> np.ndarray:
        return self.index.knn_query(v, k, num_threads=1)[0][0]

    def add(self, keys: np.ndarray, x: np.ndarray) -> None:
        need = self.index.get_current_count() + len(keys)
        if need > self.index.get_max_elements():
            self.index.resize_index(max(need, int(self.index.get_max_elements() * 1.1)))
        self.index.add_items(x, keys, num_threads=self.threads)

    def remove(self, keys: np.ndarray) -> str:
        for key in keys.tolist():
            self.index.mark_deleted(key)
        return "mark_deleted (tombstones; slots reused by add_items(replace_deleted=True))"

    def replace(self, keys: np.ndarray, x: np.ndarray) -> str:
        self.index.add_items(x, keys, num_threads=self.threads)
        return "native (add_items with an existing label updates the vector and its links)"

    def save(self, path: str) -> None:
        self.index.save_index(path)

    def load(self, path: str, view: bool) -> None:
        if view:
            raise NotImplementedError("hnswlib has no memory-mapped load")
        self.index = self.hnswlib.Index(space="ip", dim=self.d)
        self.index.load_index(path, allow_replace_deleted=True)


def make_adapter(config: str, d: int, threads: int, n: int) -> Adapter:
    lib, _, kind = config.partition("-")
    if lib == "usearch":
        return USearch(d, threads, kind)
    if lib == "faiss":
        return Faiss(d, threads, kind, n)
    if lib == "hnswlib":
        return Hnswlib(d, threads)
    raise SystemExit(f"unknown config {config}")


# ---------------------------------------------------------------------------------------------
# worker (one library, one process)
# ---------------------------------------------------------------------------------------------
def _status(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # MiB
    return float("nan")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _file_size(path: str) -> int:
    p = Path(path)
    return sum(f.stat().st_size for f in p.parent.glob(p.name + "*"))


def _latency(ad: Adapter, q: np.ndarray, k: int, ef: int) -> dict:
    ad.search(q[:1], k, ef, 1)  # sets the knob and thread count
    ad.set_threads(1)
    for v in q[:20]:
        ad.search_one(v, k)
    times = []
    for v in q:
        t = time.perf_counter()
        ad.search_one(v, k)
        times.append(time.perf_counter() - t)
    return percentiles(times)


def worker_build(args: argparse.Namespace) -> dict:
    data = Path(args.data)
    x = np.load(data / "base.npy")
    q = np.load(data / "queries.npy")
    extra = np.load(data / "extra.npy")
    repl = np.load(data / "replace.npy")
    truth = np.load(data / "truth.npy")
    truth_all = np.load(data / "truth_all.npy")
    topics = np.load(data / "topics.npy")
    n, d, k, threads = len(x), x.shape[1], args.k, args.threads
    ad = make_adapter(args.worker_config, d, threads, n)
    out: dict = {"config": args.worker_config, "knob": ad.knob, "load_avg_start": os.getloadavg()[0]}
    if isinstance(ad, USearch):
        out["usearch_hardware_acceleration"] = ad.index.hardware_acceleration
    if isinstance(ad, Faiss) and ad.kind.startswith("ivf"):
        out["nlist"] = ad.nlist

    rss0 = _status("VmRSS")
    out["peak_rss_reset"] = _reset_peak()
    t = time.perf_counter()
    ad.build(x, topics)
    out["build_s"] = round(time.perf_counter() - t, 2)
    out["peak_rss_increase_mb"] = round(_status("VmHWM") - rss0, 1)
    out["rss_increase_after_build_mb"] = round(_status("VmRSS") - rss0, 1)
    print(f"  {args.worker_config}: built in {out['build_s']} s", file=sys.stderr, flush=True)

    sweep, found = [], {}
    for ef in ad.grid:
        if ad.knob == "ef" and ef < k:
            continue
        t = time.perf_counter()
        keys = ad.search(q, k, ef, threads)
        elapsed = time.perf_counter() - t
        r = recall(keys, truth)
        sweep.append({ad.knob: ef, "recall": round(r, 4), "batch_qps": round(len(q) / elapsed, 1)})
        for target in TARGETS:
            if r >= target and target not in found:
                found[target] = ef
        if len(found) == len(TARGETS) and r >= 0.995:
            break
    out["sweep"] = sweep
    out["max_recall"] = max(s["recall"] for s in sweep)
    for target in TARGETS:
        key = f"{int(target * 100)}"
        ef = found.get(target)
        out[f"{ad.knob}_for_recall_{key}"] = ef
        if ef is not None:
            out[f"latency_at_recall_{key}"] = _latency(ad, q, k, ef)
            out[f"batch_qps_at_recall_{key}"] = next(s["batch_qps"] for s in sweep if s[ad.knob] == ef)
    op_ef = found.get(0.99) or found.get(0.95) or ad.grid[-1]
    out["operating_" + ad.knob] = op_ef

    # near-ties: a returned item scoring within 1e-3 of the k-th true score is as good as a hit
    keys = ad.search(q, k, op_ef, threads)
    kth = np.einsum("ij,ij->i", q, x[truth[:, -1]])
    got = np.einsum("qkd,qd->qk", x[np.clip(keys, 0, n - 1)], q)
    out["recall_near_ties_at_operating"] = round(float(np.mean((got >= kth[:, None] - 1e-3) & (keys >= 0))), 4)
    out["recall_at_operating"] = round(recall(keys, truth), 4)
    # documents that search cannot reach: their own vector does not find them
    sample = np.random.default_rng(3).choice(n, min(2000, n), replace=False)
    out["unreachable"] = {}
    for ef in sorted({op_ef, ad.grid[-1]}):
        own = ad.search(x[sample], k, ef, threads)
        out["unreachable"][str(ef)] = round(float(np.mean(~(own == sample[:, None]).any(axis=1))), 4)

    path = str(data / f"{args.worker_config}{ad.ext}")
    t = time.perf_counter()
    ad.save(path)
    out["save_s"] = round(time.perf_counter() - t, 2)
    out["disk_mb"] = round(_file_size(path) / 2**20, 1)
    out["raw_vectors_mb"] = round(x.nbytes / 2**20, 1)

    # incremental add of 1% more, in batches of 32 (what `patscape embed` hands over)
    keys_extra = np.arange(n, n + len(extra))
    try:
        t = time.perf_counter()
        for start in range(0, len(extra), ADD_BATCH):
            ad.add(keys_extra[start : start + ADD_BATCH], extra[start : start + ADD_BATCH])
        el = time.perf_counter() - t
        out["add_1pct"] = {"supported": True, "s": round(el, 2), "ms_per_vector": round(el * 1000 / len(extra), 3),
                           "recall_after": round(recall(ad.search(q, k, op_ef, threads), truth_all), 4)}
    except Exception as exc:  # noqa: BLE001 - reported
        out["add_1pct"] = {"supported": False, "error": str(exc)[:200]}

    # deletion of 1% of the base
    rng = np.random.default_rng(5)
    gone = rng.choice(np.arange(1000, n), size=max(1, n // 100), replace=False)
    all_x = np.concatenate([x, extra]) if out["add_1pct"].get("supported") else x
    try:
        t = time.perf_counter()
        how = ad.remove(gone)
        el = time.perf_counter() - t
        keep = np.ones(len(all_x), bool)
        keep[gone] = False
        kept_ids = np.flatnonzero(keep)
        truth_del = kept_ids[exact_topk(all_x[keep], q, k)]
        keys = ad.search(q, k, op_ef, threads)
        out["delete_1pct"] = {"supported": True, "how": how, "s": round(el, 3),
                              "deleted_keys_returned": int(np.isin(keys, gone).sum()),
                              "recall_after": round(recall(keys, truth_del), 4)}
    except Exception as exc:  # noqa: BLE001
        out["delete_1pct"] = {"supported": False, "error": str(exc)[:160]}

    # replace 100 vectors under their keys (a re-embedded document)
    rkeys = np.arange(len(repl))
    try:
        t = time.perf_counter()
        how = ad.replace(rkeys, repl)
        el = time.perf_counter() - t
        top1 = ad.search(repl, 1, op_ef, threads)[:, 0]
        out["replace_100"] = {"supported": True, "how": how, "s": round(el, 3),
                              "found_under_own_key": round(float(np.mean(top1 == rkeys)), 3)}
    except Exception as exc:  # noqa: BLE001
        out["replace_100"] = {"supported": False, "error": str(exc)[:160]}
    out["load_avg_end"] = os.getloadavg()[0]
    return out


def worker_load(args: argparse.Namespace) -> dict:
    data = Path(args.data)
    q = np.load(data / "queries.npy")
    truth = np.load(data / "truth.npy")
    d, k = q.shape[1], args.k
    ad = make_adapter(args.worker_config, d, args.threads, int(args.n_hint))
    path = str(data / f"{args.worker_config}{ad.ext}")
    view = args.worker == "view"
    out: dict = {"mode": args.worker}
    rss0 = _status("VmRSS")
    _reset_peak()
    t = time.perf_counter()
    try:
        ad.load(path, view)
    except Exception as exc:  # noqa: BLE001
        return {"mode": args.worker, "supported": False, "error": str(exc)[:160]}
    out["supported"] = True
    out["open_s"] = round(time.perf_counter() - t, 3)
    out["rss_increase_after_open_mb"] = round(_status("VmRSS") - rss0, 1)
    ef = int(args.ef)
    t = time.perf_counter()
    keys = ad.search(q, k, ef, args.threads)
    out["first_batch_s"] = round(time.perf_counter() - t, 3)
    out["recall"] = round(recall(keys, truth), 4)
    out["latency"] = _latency(ad, q, k, ef)
    out["rss_increase_after_queries_mb"] = round(_status("VmRSS") - rss0, 1)
    out["peak_rss_increase_mb"] = round(_status("VmHWM") - rss0, 1)
    return out


def run_worker(args: argparse.Namespace, mode: str, config: str, data: Path, extra: list[str] | None = None) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", mode, "--worker-config", config,
           "--data", str(data), "--k", str(args.k), "--threads", str(args.threads), "--M", str(M),
           "--ef-construction", str(EF_CONSTRUCTION), *(extra or [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(data))
    sys.stderr.write(proc.stderr[-2000:] if proc.returncode else "")
    if proc.returncode != 0:
        return {"mode": mode, "supported": False, "error": f"worker exited {proc.returncode}: {proc.stderr[-300:]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def probe_view_mutation(work: Path) -> dict:
    """Adding to a usearch index opened with view=True: a clean error, or a crash? Each case runs in
    its own subprocess: a fresh index, and one saved after a ``remove`` (a free slot)."""
    out = {}
    for case, remove in (("fresh", ""), ("after_remove", "i.remove(7); ")):
        code = (
            "import numpy as np\nfrom usearch.index import Index\n"
            "x = np.random.default_rng(0).standard_normal((1000, 64)).astype(np.float32)\n"
            f"i = Index(ndim=64, metric='ip'); i.add(np.arange(1000), x); {remove}i.save('probe.usearch')\n"
            "v = Index.restore('probe.usearch', view=True)\n"
            "try:\n    v.add(2000, x[0]); print('added')\nexcept Exception as e:\n    print('raised', type(e).__name__, e)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(work))
        out[case] = {"returncode": proc.returncode, "stdout": proc.stdout.strip()[-200:], "crashed": proc.returncode < 0}
    return out


# ---------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------
def run_dims(args: argparse.Namespace, d: int, work: Path, configs: list[str]) -> dict:
    n, nq = args.n, args.queries
    n_extra, n_repl = max(1, n // 100), 100
    t = time.perf_counter()
    allv, topics = synthetic_corpus(n + nq + n_extra + n_repl, d, seed=args.seed)
    perm = np.random.default_rng(args.seed + 1).permutation(len(allv))
    allv, topics = allv[perm], topics[perm]
    x, q = allv[:n], allv[n : n + nq]
    extra, repl = allv[n + nq : n + nq + n_extra], allv[n + nq + n_extra :]
    gen_s = time.perf_counter() - t
    data = work / f"d{d}"
    data.mkdir(parents=True, exist_ok=True)
    truth = exact_topk(x, q, args.k)
    truth_all = exact_topk(np.concatenate([x, extra]), q, args.k)
    for name, arr in (("base", x), ("queries", q), ("extra", extra), ("replace", repl), ("truth", truth),
                      ("truth_all", truth_all), ("topics", topics[:n])):
        np.save(data / f"{name}.npy", arr)
    sims_q = np.take_along_axis(q @ x.T, truth, 1)
    result: dict = {
        "n": n, "dims": d, "M": M, "ef_construction": EF_CONSTRUCTION, "queries": nq, "k": args.k,
        "generate_s": round(gen_s, 1), "threads": args.threads, "load_avg_at_start": os.getloadavg(),
        "corpus": corpus_stats(x),
        "query_neighbour_cosine": {"nn1_median": round(float(np.median(sims_q[:, 0])), 3),
                                   f"nn{args.k}_median": round(float(np.median(sims_q[:, -1])), 3)},
        "libraries": {},
    }
    print(f"dims {d}: corpus in {gen_s:.0f} s, {result['corpus']}", flush=True)
    sizes = sorted({s for s in (10_000, 25_000, 50_000, n) if s <= n})
    if not args.skip_exact:
        result["exact"] = bench_exact(x, q, truth, args.k, args.threads, sizes)
    del allv
    for config in configs:
        print(f"  {config} ...", flush=True)
        res = run_worker(args, "build", config, data)
        if "build_s" in res:
            knob = res["knob"]
            op = res.get("operating_" + knob)
            for mode in ("load", "view"):
                res[mode] = run_worker(args, mode, config, data, ["--ef", str(op), "--n-hint", str(n)])
        result["libraries"][config] = res
        print(f"  {config}: {summary_line(res)}", flush=True)
        yield_partial(args, d, result)
        for f in data.glob(f"{config}.*"):
            f.unlink()
    return result


_PARTIAL: dict = {}


def run_key(d: int) -> str:
    return str(d) if (M, EF_CONSTRUCTION) == (16, 128) else f"{d}-M{M}-efc{EF_CONSTRUCTION}"


def yield_partial(args: argparse.Namespace, d: int, result: dict) -> None:
    _PARTIAL.setdefault("runs", {})[run_key(d)] = result
    Path(args.out).write_text(json.dumps(_PARTIAL, indent=1) + "\n", encoding="utf-8")


def summary_line(r: dict) -> str:
    if "build_s" not in r:
        return r.get("error", "failed")
    k = r["knob"]
    return (f"build {r['build_s']} s, peak +{r['peak_rss_increase_mb']} MiB, disk {r['disk_mb']} MiB, "
            f"{k}@0.95={r.get(f'{k}_for_recall_95')} {k}@0.99={r.get(f'{k}_for_recall_99')} max recall {r['max_recall']}")


def _fmt(v, spec: str = "") -> str:
    if v is None:
        return "–"
    return format(v, spec) if spec else str(v)


def tables(doc: dict) -> str:
    lines = []
    for key, run in doc["runs"].items():
        d = run["dims"]
        hnsw = f", HNSW M={run.get('M', 16)}, ef_construction={run.get('ef_construction', 128)}"
        lines += [f"**{run['n']:,} vectors x {d} dims{hnsw}** ({run['queries']} queries, recall@{run['k']} against exact "
                  f"float32 search; latency = one query per call, one thread):", "",
                  "| index | build s | peak RSS +MiB | disk MiB | ef (nprobe) for 0.95 / 0.99 | max recall | "
                  "p50 / p99 ms at 0.95 | p50 / p99 ms at 0.99 | batch q/s at 0.99 | "
                  "recall / with near-ties, at op. ef | unreachable docs, at op. / largest ef |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, r in run["libraries"].items():
            if "build_s" not in r:
                lines.append(f"| {name} | failed: {r.get('error', '')[:80]} | | | | | | | | | |")
                continue
            k = r["knob"]
            un = r.get("unreachable", {})
            unreach = " / ".join(f"{100 * v:.1f}% ({e})" for e, v in un.items()) if un else "–"
            l95, l99 = r.get("latency_at_recall_95") or {}, r.get("latency_at_recall_99") or {}
            knob = f"{_fmt(r.get(f'{k}_for_recall_95'))} / {_fmt(r.get(f'{k}_for_recall_99'))}"
            if k != "ef":
                knob = f"nprobe {knob}"
            lines.append(
                f"| {name} | {r['build_s']} | {r['peak_rss_increase_mb']:.0f} | {r['disk_mb']:.0f} | {knob} | "
                f"{r['max_recall']:.3f} | {_fmt(l95.get('p50_ms'), '.2f')} / {_fmt(l95.get('p99_ms'), '.2f')} | "
                f"{_fmt(l99.get('p50_ms'), '.2f')} / {_fmt(l99.get('p99_ms'), '.2f')} | {_fmt(r.get('batch_qps_at_recall_99'))} | "
                f"{_fmt(r.get('recall_at_operating'))} / {_fmt(r.get('recall_near_ties_at_operating'))} ({k} {r.get('operating_' + k)}) | "
                f"{unreach} |")
        lines += ["", "| index | load s (RSS +MiB) | memory-mapped open s (RSS +MiB after queries) | "
                  "add 1% s (ms/vector), recall after | delete 1% | replace 100 under own key |",
                  "| --- | ---: | ---: | --- | --- | --- |"]
        for name, r in run["libraries"].items():
            if "build_s" not in r:
                continue
            ld, vw = r.get("load", {}), r.get("view", {})
            load = f"{ld['open_s']} ({ld['rss_increase_after_open_mb']:.0f})" if ld.get("supported") else "failed"
            view = (f"{vw['open_s']} ({vw['rss_increase_after_queries_mb']:.0f})" if vw.get("supported")
                    else "no")
            add = r["add_1pct"]
            add_s = (f"{add['s']} ({add['ms_per_vector']}), {add['recall_after']:.3f}" if add.get("supported")
                     else "no")
            de = r["delete_1pct"]
            de_s = (f"yes, {de['s']} s, recall after {de['recall_after']:.3f}, deleted returned {de['deleted_keys_returned']}"
                    if de.get("supported") else "no (remove_ids not implemented)")
            rp = r["replace_100"]
            rp_s = f"yes ({rp['found_under_own_key']:.2f})" if rp.get("supported") else "no"
            lines.append(f"| {name} | {load} | {view} | {add_s} | {de_s} | {rp_s} |")
        if "exact" not in run:
            continue
        lines += ["", "Exact search, same queries (ms per query; single = one query per call, one thread; "
                  "batch = all queries blocked, " + str(doc["threads"]) + " threads):", "",
                  "| n | numpy f32 single p50 / p99 | numpy f16 single p50 | usearch exact f32 / f16 single p50 | "
                  "numpy f32 batch | numpy f16 batch | usearch exact f16 batch | f32 matrix MiB |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for n, e in run["exact"]["sizes"].items():
            lines.append(
                f"| {int(n):,} | {e['numpy_f32_single']['p50_ms']:.2f} / {e['numpy_f32_single']['p99_ms']:.2f} | "
                f"{e['numpy_f16_single']['p50_ms']:.2f} | {e['usearch_exact_f32_single']['p50_ms']:.2f} / "
                f"{e['usearch_exact_f16_single']['p50_ms']:.2f} | {e['numpy_f32_batch_ms_per_query']:.3f} | "
                f"{e['numpy_f16_batch_ms_per_query']:.3f} | {e['usearch_exact_f16_batch_ms_per_query']:.3f} | "
                f"{e['matrix_mb_f32']:.0f} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    global M, EF_CONSTRUCTION
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dims", type=lambda s: [int(v) for v in s.split(",")], nargs="+", default=None,
                    help="dimensions, repeatable or comma-separated (default 384 1024)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated, from: " + ", ".join(CONFIGS))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "ann_choice.json"))
    ap.add_argument("--workdir", default=None, help="where the corpus and indexes are written (default: a temp dir)")
    ap.add_argument("--real", nargs="*", default=[], help="stores or .npy matrices to compare the generator with")
    ap.add_argument("--table", action="store_true", help="only print the tables of an existing --out")
    ap.add_argument("--M", type=int, default=M, help="HNSW M / connectivity (default 16)")
    ap.add_argument("--ef-construction", type=int, default=EF_CONSTRUCTION, help="default 128")
    ap.add_argument("--skip-exact", action="store_true", help="do not time exact search")
    ap.add_argument("--append", action="store_true",
                    help="add these runs to an existing --out (runs with another M are keyed DIMS-M..-efc..)")
    # internal
    ap.add_argument("--worker", choices=["build", "load", "view"], help=argparse.SUPPRESS)
    ap.add_argument("--worker-config", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--ef", help=argparse.SUPPRESS)
    ap.add_argument("--n-hint", default="0", help=argparse.SUPPRESS)
    args = ap.parse_args()
    M, EF_CONSTRUCTION = args.M, args.ef_construction

    if args.worker:
        res = worker_build(args) if args.worker == "build" else worker_load(args)
        print(json.dumps(res))
        return
    if args.table:
        print(tables(json.loads(Path(args.out).read_text(encoding="utf-8"))))
        return

    dims = [d for group in (args.dims or [[384, 1024]]) for d in group]
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    import faiss
    import hnswlib  # noqa: F401 - fail early when a candidate is missing
    import usearch

    from importlib.metadata import version

    if args.append and Path(args.out).exists():
        _PARTIAL.update(json.loads(Path(args.out).read_text(encoding="utf-8")))
        _PARTIAL.setdefault("appended_commands", []).append(" ".join([Path(sys.executable).name, *sys.argv]))
        with tempfile.TemporaryDirectory(prefix="ann-choice-", dir=args.workdir) as tmp:
            for d in [d for group in (args.dims or [[384, 1024]]) for d in group]:
                run_dims(args, d, Path(tmp), [c.strip() for c in args.configs.split(",") if c.strip()])
        Path(args.out).write_text(json.dumps(_PARTIAL, indent=1) + "\n", encoding="utf-8")
        print(tables(_PARTIAL))
        return
    _PARTIAL.update({
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()},
        "versions": {"usearch": usearch.__version__, "faiss-cpu": faiss.__version__,
                     "hnswlib": version("hnswlib"), "numpy": np.__version__},
        "settings": {"M": M, "ef_construction": EF_CONSTRUCTION, "ef_grid": EF_GRID, "nprobe_grid": NPROBE_GRID,
                     "add_batch": ADD_BATCH, "seed": args.seed},
        "threads": args.threads,
        "calibration": {},
    })
    for d in sorted({384, 512, *dims}):
        _PARTIAL["calibration"][f"synthetic_6145x{d}"] = corpus_stats(synthetic_corpus(6145, d, seed=args.seed)[0])
    for path in args.real:
        for key, v in real_vectors(path):
            _PARTIAL["calibration"][f"real:{key}:{len(v)}x{v.shape[1]}"] = corpus_stats(v)
            synth = f"synthetic_{len(v)}x{v.shape[1]}"
            _PARTIAL["calibration"].setdefault(synth, corpus_stats(synthetic_corpus(len(v), v.shape[1], seed=args.seed)[0]))
    for key, st in _PARTIAL["calibration"].items():
        print(f"calibration {key}: {st}", flush=True)

    with tempfile.TemporaryDirectory(prefix="ann-choice-", dir=args.workdir) as tmp:
        work = Path(tmp)
        _PARTIAL["usearch_view_mutation_probe"] = probe_view_mutation(work)
        for d in dims:
            run_dims(args, d, work, configs)
    _PARTIAL["machine"]["load_avg_at_end"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(_PARTIAL, indent=1) + "\n", encoding="utf-8")
    print(tables(_PARTIAL))


if __name__ == "__main__":
    main()
