"""patscape at scale: synthetic corpora of 100k and 1M documents (not part of the tests).

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/scale.py --n 100000 --dims 384 --stage generate import map bertopic
    .venv/bin/python benchmarks/scale.py --n 1000000 --dims 384 --stage generate import map

Stages (each can be run on its own; later stages reuse the files of earlier ones in --work):
  generate  seeded synthetic corpus (``benchmarks/synthetic.py``): vectors.npy, ids.txt,
            truth.npy (generating topic per row, -1 = noise) and docs.jsonl (title, abstract,
            date, language, CPC), with calibration figures (random-pair and nearest-neighbour
            cosines) to compare with real sentence embeddings;
  import    ``patscape ingest`` of docs.jsonl, then ``patscape import-vectors`` of the vectors,
            each a fresh process timed with its peak RSS;
  map       ``patscape map`` in a fresh process (wall time and peak RSS through /usr/bin/time),
            then the ARI of the run's topics against the generating topics;
  map-direct  the sampled map computed in a fresh process straight from vectors.npy (read in
            blocks) and docs.jsonl, without a store: the map's own time and peak RSS when a store
            of that size cannot be ingested in the time at hand (store reads and the run's save
            are not included);
  bertopic  BERTopic's default pipeline (UMAP 15 neighbours 5-D + HDBSCAN min_cluster_size 10,
            c-TF-IDF) on the same vectors, precomputed embeddings, UMAP seeded as in
            ``benchmarks/core.py``, in a fresh process: wall time, peak RSS, ARI; and the ratio
            to the map stage of the same invocation;
  bertopic-default  the same with BERTopic exactly as it comes (``BERTopic()``: its UMAP is not
            seeded, so it runs on every core and differs run to run), same figures and ratio;
  bertopic-sample  like for like with the sampled map: BERTopic's pipeline (seeded as in
            ``bertopic``) fitted on the same sample the map draws (``sample_rows`` with the map's
            seed and default sample size), then ``transform`` on every other document; wall time,
            peak RSS, ARI and the ratio to the map stage of the same invocation (the fit and the
            transform are also timed inside the process).
Results are merged into benchmarks/results/scale.json under ``"{n}x{dims}"`` and the stage
name (other stages, e.g. search, add their own keys to the same file).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
RESULTS = REPO / "benchmarks" / "results" / "scale.json"
PY = sys.executable
STAGES = ["generate", "import", "map", "bertopic", "bertopic-default", "bertopic-sample", "map-direct"]


def work_dir(args: argparse.Namespace) -> Path:
    path = Path(args.work) / f"{args.n}x{args.dims}-seed{args.seed}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def timed(cmd: list[str], log: Path) -> dict:
    """Run ``cmd`` in a fresh process under /usr/bin/time: wall seconds and peak RSS (MB)."""
    stats = log.with_suffix(".time")
    env = {**os.environ, "PATSCAPE_NO_PROGRESS": "1"}
    with log.open("w") as out:
        proc = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S", "-o", str(stats), *cmd], stdout=out,
                              stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}); see {log}")
    wall, rss_kb, user, system = stats.read_text().split()[-4:]
    # CPU seconds (user + system) stay comparable when the machine is shared; wall time does not
    return {"wall_s": round(float(wall), 1), "cpu_s": round(float(user) + float(system), 1),
            "peak_rss_mb": round(int(rss_kb) / 1024), "command": " ".join(cmd[1:])}


def save(args: argparse.Namespace, stage: str, result: dict) -> None:
    if args.map_seed != 42 and stage != "generate" and stage != "import":
        stage += f" seed {args.map_seed}"  # runs with other seeds are kept beside the default's
    doc = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    entry = doc.setdefault(f"{args.n}x{args.dims}" + (f" {args.tag}" if args.tag else ""), {})
    entry[stage] = {"date": time.strftime("%Y-%m-%d %H:%M"), **result}
    doc["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.n}x{args.dims} {stage}: {json.dumps(result)}", flush=True)


def stage_generate(args: argparse.Namespace) -> None:
    import synthetic

    work = work_dir(args)
    started = time.perf_counter()
    vectors = np.lib.format.open_memmap(work / "vectors.npy", mode="w+", dtype=np.float32, shape=(args.n, args.dims))
    corpus = synthetic.generate(vectors, seed=args.seed, topics=args.topics)
    vectors.flush()
    np.save(work / "truth.npy", corpus.truth)
    vectors_s = time.perf_counter() - started
    with (work / "docs.jsonl").open("w", encoding="utf-8") as out, (work / "ids.txt").open("w") as ids:
        for record in synthetic.documents(corpus):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            ids.write(record["id"] + "\n")
    sizes = np.bincount(corpus.truth[corpus.truth >= 0])
    save(args, "generate", {
        "seed": args.seed, "topics": args.topics, "noise_share": round(float((corpus.truth < 0).mean()), 4),
        "largest_topic_share": round(float(sizes.max() / args.n), 4), "smallest_topic": int(sizes[sizes > 0].min()),
        "vectors_s": round(vectors_s, 1), "total_s": round(time.perf_counter() - started, 1),
        "calibration": synthetic.stats(np.load(work / "vectors.npy", mmap_mode="r")),
    })


def stage_import(args: argparse.Namespace) -> None:
    work = work_dir(args)
    store = work / "store"
    if store.exists():
        raise SystemExit(f"{store} exists; remove it to import again")
    ingest = timed([PY, "-m", "patscape", "ingest", str(store), str(work / "docs.jsonl")], work / "ingest.log")
    vectors = timed([PY, "-m", "patscape", "import-vectors", str(store), str(work / "vectors.npy"), "--ids",
                     str(work / "ids.txt"), "--model", f"synthetic-{args.dims}"], work / "import.log")
    save(args, "import", {"ingest": ingest, "import_vectors": vectors,
                          "import_vectors_per_s": round(args.n / max(vectors["wall_s"], 1e-9))})


def truth_of(work: Path, ids: list[str]) -> np.ndarray:
    truth = np.load(work / "truth.npy")
    return truth[[int(i.split("-")[1]) for i in ids]]


def quality(truth: np.ndarray, labels: np.ndarray) -> dict:
    """ARI/NMI against the generating topics: all documents (outliers as one class, noise
    documents as one class), and the clustered documents among the non-noise ones."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    mask = (labels >= 0) & (truth >= 0)
    return {
        "ari_all": round(float(adjusted_rand_score(truth, labels)), 4),
        "nmi_all": round(float(normalized_mutual_info_score(truth, labels)), 4),
        "ari_clustered": round(float(adjusted_rand_score(truth[mask], labels[mask])), 4),
        "topics": int(len(set(labels.tolist()) - {-1})),
        "outlier_share": round(float((labels < 0).mean()), 4),
    }


def stage_map(args: argparse.Namespace) -> dict:
    from patscape.store import Store

    work = work_dir(args)
    cmd = [PY, "-m", "patscape", "map", str(work / "store"), "--seed", str(args.map_seed), *args.map_args.split()]
    result = timed(cmd, work / "map.log")
    with Store(work / "store", create=False) as store:
        run = store.newest_run()
        assert run is not None
        points = store.run_points(run.id)
        ids = [p[0] for p in points]
        labels = np.array([p[1] for p in points], dtype=np.int64)
        raw = np.array([p[2] for p in points], dtype=np.int64)
        truth = truth_of(work, ids)
        result.update({
            "run": run.id, "sampling": run.params.get("sampling"), "stage_s": run.metrics.get("timings_s"),
            "quality": quality(truth, labels), "quality_before_reassignment": quality(truth, raw),
        })
    save(args, "map" + (f" {args.map_args}" if args.map_args else ""), result)
    return result


def stage_map_direct(args: argparse.Namespace) -> None:
    work = work_dir(args)
    result = timed([PY, __file__, "--worker", "map-direct", "--n", str(args.n), "--dims", str(args.dims),
                    "--seed", str(args.seed), "--map-seed", str(args.map_seed), "--work", args.work],
                   work / "map-direct.log")
    out = json.loads((work / "map-direct.json").read_text())
    truth = np.load(work / "truth.npy")
    labels = np.load(work / "map-direct-labels.npy")
    result.update({**out, "quality": quality(truth, labels)})
    save(args, "map-direct", result)


def worker_map_direct(args: argparse.Namespace) -> None:
    """``build_sampled_landscape`` on the corpus files, as ``_sampled_map`` runs it on a store."""
    from patscape.landscape import MapParams
    from patscape.landscape.sample import BLOCK, build_sampled_landscape, sample_rows
    from patscape.records import Document

    work = work_dir(args)
    vectors = np.load(work / "vectors.npy", mmap_mode="r")
    n = len(vectors)
    params = MapParams()
    rows = sample_rows(n, params.sample_size, args.map_seed)
    sample = np.asarray(vectors[rows], dtype=np.float32)
    keep = set(rows.tolist())
    docs = []
    with (work / "docs.jsonl").open(encoding="utf-8") as lines:
        for i, line in enumerate(lines):
            r = json.loads(line)
            docs.append(Document(id=r["id"], title=r["title"], abstract=r["abstract"] if i in keep else "",
                                 lang=r["lang"], date=r["date"], cpc=tuple(r["cpc"])))
    ids = [d.id for d in docs]

    def blocks():  # type: ignore[no-untyped-def]
        for start in range(0, n, BLOCK):
            yield start, np.asarray(vectors[start : start + BLOCK], dtype=np.float32)

    started = time.perf_counter()
    result = build_sampled_landscape(ids, rows, sample, blocks, docs, params.resolved(n), args.map_seed,
                                     on_stage=lambda s: print(f"  {s} {time.strftime('%H:%M:%S')}", flush=True))
    np.save(work / "map-direct-labels.npy", result.labels)
    (work / "map-direct.json").write_text(json.dumps({
        "map_s": round(time.perf_counter() - started, 1), "stage_s": result.metrics["timings_s"],
        "sampling": result.sampling, "topics": result.metrics["topics"],
    }))


LABELS = {"bertopic": "bertopic_labels.npy", "bertopic-default": "bertopic_default_labels.npy",
          "bertopic-sample": "bertopic_sample_labels.npy"}


def stage_bertopic(args: argparse.Namespace, ours: dict | None, worker: str = "bertopic") -> None:
    work = work_dir(args)
    result = timed([PY, __file__, "--worker", worker, "--n", str(args.n), "--dims", str(args.dims),
                    "--seed", str(args.seed), "--map-seed", str(args.map_seed), "--work", args.work],
                   work / f"{worker}.log")
    labels = np.load(work / LABELS[worker])
    result["quality"] = quality(np.load(work / "truth.npy"), labels)
    inner = work / f"{worker}.json"
    if inner.exists():
        result["inner_s"] = json.loads(inner.read_text())
    if ours:
        result["patscape_map_wall_s_same_invocation"] = ours["wall_s"]
        result["time_ratio_patscape_over_bertopic"] = round(ours["wall_s"] / result["wall_s"], 3)
        result["rss_ratio_patscape_over_bertopic"] = round(ours["peak_rss_mb"] / result["peak_rss_mb"], 3)
        if ours.get("cpu_s") and result.get("cpu_s"):
            result["cpu_ratio_patscape_over_bertopic"] = round(ours["cpu_s"] / result["cpu_s"], 3)
        result["patscape_quality_same_invocation"] = ours.get("quality")
    save(args, worker, result)


def corpus_texts(work: Path) -> list[str]:
    """Title and abstract of every document of the corpus, the texts BERTopic's keywords read."""
    with (work / "docs.jsonl").open(encoding="utf-8") as lines:
        return [f"{record['title']}. {record['abstract']}" for record in map(json.loads, lines)]


def worker_bertopic(args: argparse.Namespace, seeded: bool = True) -> None:
    """BERTopic's default pipeline on the stored vectors, seeded as in benchmarks/core.py, or
    exactly as it comes (``seeded=False``)."""
    from bertopic import BERTopic
    from umap import UMAP

    work = work_dir(args)
    vectors = np.load(work / "vectors.npy")
    texts = corpus_texts(work)
    if seeded:
        umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=args.map_seed)
        topics, _ = BERTopic(umap_model=umap_model).fit_transform(texts, embeddings=vectors)
    else:
        topics, _ = BERTopic().fit_transform(texts, embeddings=vectors)
    np.save(work / LABELS["bertopic" if seeded else "bertopic-default"], np.asarray(topics, dtype=np.int64))


def worker_bertopic_sample(args: argparse.Namespace) -> None:
    """BERTopic (seeded as ``worker_bertopic``) fitted on the map's sample, then ``transform``
    of the other documents: the like-for-like counterpart of patscape's sampled map."""
    from bertopic import BERTopic
    from umap import UMAP

    from patscape.landscape import MapParams
    from patscape.landscape.sample import sample_rows

    work = work_dir(args)
    vectors = np.load(work / "vectors.npy")
    texts = corpus_texts(work)
    rows = sample_rows(len(vectors), MapParams().sample_size, args.map_seed)
    rest = np.setdiff1d(np.arange(len(vectors)), rows)
    umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=args.map_seed)
    model = BERTopic(umap_model=umap_model)
    started = time.perf_counter()
    fitted, _ = model.fit_transform([texts[i] for i in rows], embeddings=vectors[rows])
    fit_s = time.perf_counter() - started
    placed, _ = model.transform([texts[i] for i in rest], embeddings=vectors[rest])
    transform_s = time.perf_counter() - started - fit_s
    labels = np.empty(len(vectors), dtype=np.int64)
    labels[rows] = np.asarray(fitted, dtype=np.int64)
    labels[rest] = np.asarray(placed, dtype=np.int64)
    np.save(work / LABELS["bertopic-sample"], labels)
    (work / "bertopic-sample.json").write_text(json.dumps({
        "sample": int(len(rows)), "fit_s": round(fit_s, 1), "transform_s": round(transform_s, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--seed", type=int, default=2026, help="seed of the synthetic corpus")
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--map-seed", type=int, default=42)
    parser.add_argument("--tag", default="", help="results go under '{n}x{dims} TAG' in scale.json, beside the "
                        "untagged runs (e.g. 'like-for-like')")
    parser.add_argument("--map-args", default="", help="extra options for `patscape map`, e.g. '--sample-above 0'")
    parser.add_argument("--stage", nargs="+", choices=STAGES, default=["generate", "import", "map"])
    parser.add_argument("--work", default=os.environ.get("PATSCAPE_SCALE_WORK", "/tmp/patscape-scale"),
                        help="where corpora and stores are kept (1M x 1024 needs ~12 GB)")
    parser.add_argument("--worker", choices=["bertopic", "bertopic-default", "bertopic-sample", "map-direct"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker in ("bertopic", "bertopic-default"):
        worker_bertopic(args, seeded=args.worker == "bertopic")
        return
    if args.worker == "bertopic-sample":
        sys.path.insert(0, str(REPO))
        worker_bertopic_sample(args)
        return
    if args.worker == "map-direct":
        sys.path.insert(0, str(REPO))
        worker_map_direct(args)
        return
    ours = None
    for stage in STAGES:
        if stage not in args.stage:
            continue
        if stage == "generate":
            stage_generate(args)
        elif stage == "import":
            stage_import(args)
        elif stage == "map":
            ours = stage_map(args)
        elif stage == "bertopic":
            stage_bertopic(args, ours)
        elif stage in ("bertopic-default", "bertopic-sample"):
            stage_bertopic(args, ours, worker=stage)
        elif stage == "map-direct":
            stage_map_direct(args)


if __name__ == "__main__":
    main()
