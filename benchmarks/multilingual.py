"""Choosing the embedded default: speed, languages, maps per language, and passage search.

    .venv/bin/python benchmarks/multilingual.py [--models minilm,use-multilingual] [--seeds 42,7,2026]

Everything is measured in one run, on this machine, for each model:
  speed        docs/s on the same dev-corpus abstracts (English and Chinese), the models taking
               turns (three rounds, median), and the ratio to all-MiniLM-L6-v2;
  translations top-1 translation match on 30 invented EN<->ZH patent sentences
               (tests/data/translations.jsonl), and ja/ko/de/fr/es/ru -> EN on 10 of them;
  neighbours   share of a document's 10 nearest neighbours with its first IPC subclass, for the
               English and the Chinese documents of the dev corpus, and the share of English
               documents among a Chinese document's 10 nearest neighbours (a language island
               gives 0), also after subtracting each language's mean vector (a correction that
               is measured here, not assumed);
  map          `build_map` per seed: IPC-subclass NMI of each language's clustered documents,
               topics mixing languages, landscape F1, outliers;
  passages     on the 104 long full-text patents: for a ~300-character passage from the middle
               of each description, hit@1 / hit@10 of the patent when documents are ranked by
               (a) the title+abstract vector, (b) one vector mean-pooled over the whole text,
               (c) the best of the document vector and its passages (what `search` does), per
               passage window; and which fields make the best document vector (IPC agreement).
Writes benchmarks/results/multilingual.json and a section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
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
from patscape.landscape.label import subclass  # noqa: E402
from patscape.pipeline import EmbedOptions, build_map, embed, ingest  # noqa: E402
from patscape.search import best_passage_per_document  # noqa: E402
from patscape.spaces import PassageParams, document_text  # noqa: E402
from patscape.store import Store  # noqa: E402

DATA = REPO.parent / "shared" / "data"
TRANSLATIONS = REPO / "tests" / "data" / "translations.jsonl"


def first_ipc(doc) -> str | None:  # type: ignore[no-untyped-def]
    return subclass(doc.ipc[0]) if doc.ipc else None


def bench_speed(models: dict, texts: list[str], rounds: int = 3) -> dict:
    rates: dict[str, list[float]] = {name: [] for name in models}
    for name, model in models.items():
        model.embed(texts[:16])  # warm-up
    for _ in range(rounds):
        for name, model in models.items():
            started = time.perf_counter()
            model.embed(texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))
    median = {name: statistics.median(r) for name, r in rates.items()}
    base = median.get("minilm") or next(iter(median.values()))
    return {name: {"docs_per_s": round(v, 1), "ratio_to_minilm": round(v / base, 2), "runs": [round(x, 1) for x in rates[name]]}
            for name, v in median.items()}


def bench_translations(model) -> dict:  # type: ignore[no-untyped-def]
    rows = [json.loads(line) for line in TRANSLATIONS.open(encoding="utf-8")]

    def top1(a: list[str], b: list[str]) -> float:
        va, vb = model.embed(a).vectors, model.embed(b).vectors
        return round(float(np.mean(np.argmax(va @ vb.T, axis=1) == np.arange(len(a)))), 3)

    out = {"en_to_zh": top1([r["en"] for r in rows], [r["zh"] for r in rows]),
           "zh_to_en": top1([r["zh"] for r in rows], [r["en"] for r in rows])}
    full = [r for r in rows if "ja" in r]
    for lang in ("ja", "ko", "de", "fr", "es", "ru"):
        out[f"{lang}_to_en"] = top1([r[lang] for r in full], [r["en"] for r in full])
    return out


def neighbour_figures(vectors: np.ndarray, docs: list, k: int = 10) -> dict:
    langs = np.asarray([d.lang for d in docs])
    codes = np.asarray([first_ipc(d) or "" for d in docs])
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    nearest = np.argpartition(-sims, k, axis=1)[:, :k]
    same = (codes[nearest] == codes[:, None]).mean(axis=1)
    english = (langs[nearest] == "en").mean(axis=1)
    out = {f"ipc_agreement_{lang}": round(float(same[langs == lang].mean()), 3) for lang in ("en", "zh")}
    out["english_share_of_zh_neighbours"] = round(float(english[langs == "zh"].mean()), 3)
    return out


def centred(vectors: np.ndarray, docs: list) -> np.ndarray:
    langs = np.asarray([d.lang for d in docs])
    out = vectors.copy()
    for lang in set(langs.tolist()):
        out[langs == lang] -= out[langs == lang].mean(axis=0)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def map_figures(store: Store, space: str, seeds: list[int]) -> dict:
    rows = []
    for seed in seeds:
        started = time.perf_counter()
        run = store.get_run(build_map(store, space, seed=seed))
        m = run.metrics
        by_lang = {lang: (entry.get("ipc_subclass") or {}).get("clustered", {}).get("nmi")
                   for lang, entry in m.get("code_agreement_by_language", {}).items()}
        rows.append({"seed": seed, "seconds": round(time.perf_counter() - started, 1), "topics": m["topics"],
                     "outliers": m["outlier_share"], "nmi_ipc_en": by_lang.get("en"), "nmi_ipc_zh": by_lang.get("zh"),
                     "nmi_ipc_all": m["code_agreement"]["ipc_subclass"]["clustered"]["nmi"],
                     "mixed_topics": m["language_mix"]["mixed_topics"], "landscape_f1": m.get("landscape_f1_mean")})
        print(json.dumps(rows[-1]), flush=True)
    mean = {key: round(float(np.mean([r[key] for r in rows])), 3) for key in rows[0] if key != "seed"}
    return {"mean": mean, "seeds": rows}


def bench_passages(model, records: list[dict], work: Path, windows: list[int]) -> dict:  # type: ignore[no-untyped-def]
    out: dict = {}
    with Store(work / f"full-{model.name}") as store:
        ingest(store, [write(work / "full.jsonl", records)])
        docs = list(store.iter_documents())
        queries = []
        for doc in docs:
            start = doc.description.index(" ", len(doc.description) // 2) + 1
            queries.append((doc.id, doc.description[start : doc.description.rindex(" ", start, start + 300)]))
        query_vectors = model.embed([q for _, q in queries], "query").vectors
        # (b) one vector over the whole text
        pooled = embed(store, model, EmbedOptions(fields=("title", "abstract", "claims", "description"), passages=None))
        ids, matrix = store.load_vectors(pooled.space.key)
        out["mean_pooled_full_text"] = hits_at(ids, matrix @ query_vectors.T, queries)
        # doc vector fields: IPC agreement of the 5 nearest neighbours
        out["document_fields_ipc_agreement_k5"] = {}
        for fields in (("title", "abstract"), ("title", "abstract", "first_claim"), ("title", "abstract", "claims"),
                       ("title", "abstract", "claims", "description")):
            report = embed(store, model, EmbedOptions(fields=fields, passages=None))
            ids, matrix = store.load_vectors(report.space.key)
            by_id = {d.id: d for d in docs}
            codes = np.asarray([first_ipc(by_id[i]) or "" for i in ids])
            sims = matrix @ matrix.T
            np.fill_diagonal(sims, -np.inf)
            nearest = np.argpartition(-sims, 5, axis=1)[:, :5]
            out["document_fields_ipc_agreement_k5"]["+".join(fields)] = round(float((codes[nearest] == codes[:, None]).mean()), 3)
        for window in windows:
            started = time.perf_counter()
            report = embed(store, model, EmbedOptions(fields=("title", "abstract"), passages=PassageParams(window=window, overlap=window // 8)))
            seconds = time.perf_counter() - started
            ids, matrix = store.load_vectors(report.space.key)
            if "title_abstract_only" not in out:
                out["title_abstract_only"] = hits_at(ids, matrix @ query_vectors.T, queries)
            stored = store.load_passages(report.space.key)
            scores = matrix @ query_vectors.T
            position = {doc_id: i for i, doc_id in enumerate(ids)}
            for q in range(len(queries)):
                for doc_id, (_, score) in best_passage_per_document(stored, query_vectors[q]).items():
                    scores[position[doc_id], q] = max(scores[position[doc_id], q], score)
            stats = store.passage_stats(report.space.key)
            out[f"passages_{window}"] = {
                **hits_at(ids, scores, queries), "passages": stats["passages"], "embed_s": round(seconds, 1),
                "kib_per_document": round((stats["passage_bytes"] + stats["vector_bytes"]) / len(ids) / 1024, 1),
            }
            print(model.name, window, json.dumps(out[f"passages_{window}"]), flush=True)
    return out


def hits_at(ids: list[str], scores: np.ndarray, queries: list[tuple[str, str]]) -> dict:
    """hit@1 and hit@10 of each query's own document, ``scores`` of shape (docs, queries)."""
    ranks = []
    for q, (doc_id, _) in enumerate(queries):
        order = np.argsort(-scores[:, q], kind="stable")
        ranks.append([ids[i] for i in order[:10]].index(doc_id) + 1 if doc_id in [ids[i] for i in order[:10]] else 99)
    ranks_array = np.asarray(ranks)
    return {"hit_at_1": round(float((ranks_array == 1).mean()), 3), "hit_at_10": round(float((ranks_array <= 10).mean()), 3)}


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="minilm,use-multilingual")
    parser.add_argument("--seeds", default="42,7,2026")
    parser.add_argument("--speed-docs", type=int, default=400)
    parser.add_argument("--windows", default="64,128,256", help="passage windows (tokens) to compare")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: speed,translations,map,passages")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    names = args.models.split(",")
    models = {name: load_embedder(name) for name in names}
    seeds = [int(s) for s in args.seeds.split(",")]
    result: dict = {"date": time.strftime("%Y-%m-%d"), "models": names, "seeds": seeds,
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}
    dev = [json.loads(line) for line in (DATA / "patents-dev.jsonl").open(encoding="utf-8")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with Store(work / "dev") as store:
            ingest(store, [write(work / "dev.jsonl", dev)])
            docs_all = list(store.iter_documents())
            if "speed" not in skip:
                sample = docs_all[:: max(1, len(docs_all) // args.speed_docs)][: args.speed_docs]
                result["speed"] = bench_speed(models, [document_text(d) for d in sample])
                print(json.dumps(result["speed"]), flush=True)
            for name, model in models.items():
                entry: dict = result.setdefault("per_model", {}).setdefault(name, {})
                if "translations" not in skip:
                    entry["translations"] = bench_translations(model)
                    print(name, json.dumps(entry["translations"]), flush=True)
                if "map" not in skip:
                    started = time.perf_counter()
                    report = embed(store, model)
                    entry["embed_dev_corpus_s"] = round(time.perf_counter() - started, 1)
                    ids, vectors = store.load_vectors(report.space.key)
                    docs = list(store.iter_documents(ids))
                    entry["neighbours"] = neighbour_figures(vectors, docs)
                    entry["neighbours_language_centred"] = neighbour_figures(centred(vectors, docs), docs)
                    print(name, json.dumps(entry["neighbours"]), json.dumps(entry["neighbours_language_centred"]), flush=True)
                    entry["map"] = map_figures(store, report.space.key, seeds)
        if "passages" not in skip:
            full = [json.loads(line) for line in (DATA / "patents-fulltext-dev.jsonl").open(encoding="utf-8")]
            for name, model in models.items():
                result["per_model"].setdefault(name, {})["passages"] = bench_passages(
                    model, full, work, [int(w) for w in args.windows.split(",")])
    out = REPO / "benchmarks" / "results" / "multilingual.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
