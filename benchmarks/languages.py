"""Per-language quality of the packaged models, with and without per-language mean-centring.

    PYTHONPATH=. .venv/bin/python benchmarks/languages.py [--sample 1000] [--seeds 42,7] \
        [--models minilm,use-multilingual,e5-small] [--full-models use-multilingual]

One run measures, on this machine, for each packaged model:
  speed         documents/s embedding the title+abstract of 150 sampled patents, two rounds,
                the models taking turns (median), and the ratio to use-multilingual;
  translations  top-1: each source sentence embedded as a query, the target language's sentences
                as documents, the nearest must be its translation. en<->zh on the 30 invented
                sentences of tests/data/translations.jsonl plus the 12 of
                tests/data/translations_vi_th.jsonl (42 candidates), ja/ko/de/fr/es/ru -> en on
                the 10 rows that have them; vi/th <-> en/zh on the 12 invented rows of
                translations_vi_th.jsonl (against 42 en or zh candidates, 12 vi or th ones), and
                its short 2-6 word phrases as queries (the "short" rows);
  neighbours    on a sample of the dev corpus (every k-th patent: English and Chinese in the
                corpus's proportions; vectors of title+abstract, no passages, for every model
                alike because e5-small is slow): the share of a patent's 10 nearest neighbours
                with its first IPC subclass, per language, and the share of English patents
                among a Chinese patent's 10 nearest neighbours;
  map           `build_map` per seed on the same space: IPC-subclass NMI of each language's
                clustered documents, topics mixing languages, landscape F1 (the benchmarks'
                measure: mean F1 over the 5 labelled landscapes of the dev corpus's US part);
every figure of "neighbours", "map" and "translations" twice: on the raw vectors, and centred
as patscape centres them (`patscape embed --centre`: each language's mean frozen over the space,
a query centred by its language; patscape.store.centring). ``--full-models`` repeats the
neighbours and maps on the whole dev corpus (6,146 patents) for the fast models.
Writes benchmarks/results/languages.json and prints the table of docs/models.md.
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
from patscape.spaces import freeze_centring  # noqa: E402
from patscape.store import Centring, Store  # noqa: E402

DATA = Path("/work/shared/data/patents-dev.jsonl")
TRANSLATIONS = REPO / "tests" / "data" / "translations.jsonl"
INVENTED = REPO / "tests" / "data" / "translations_vi_th.jsonl"
FIELDS = ("title", "abstract")


def first_ipc(doc) -> str:  # type: ignore[no-untyped-def]
    return (subclass(doc.ipc[0]) or "") if doc.ipc else ""


def bench_speed(models: dict, texts: list[str], rounds: int = 2) -> dict:
    rates: dict[str, list[float]] = {name: [] for name in models}
    for model in models.values():
        model.embed(texts[:8])  # warm-up
    for _ in range(rounds):
        for name, model in models.items():
            started = time.perf_counter()
            model.embed(texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))
    median = {name: statistics.median(r) for name, r in rates.items()}
    base = median.get("use-multilingual") or next(iter(median.values()))
    return {name: {"docs_per_s": round(v, 2), "ratio_to_use": round(v / base, 3), "runs": [round(x, 2) for x in rates[name]]}
            for name, v in median.items()}


def translation_figures(model, centring: Centring | None) -> dict:  # type: ignore[no-untyped-def]
    """Top-1 per language pair, raw and (with ``centring``) centred by each side's language."""
    base = [json.loads(line) for line in TRANSLATIONS.open(encoding="utf-8")]
    invented = [json.loads(line) for line in INVENTED.open(encoding="utf-8")]
    cache: dict[tuple[str, str], np.ndarray] = {}

    def vectors(texts: list[str], task: str) -> np.ndarray:
        missing = [t for t in texts if (t, task) not in cache]
        if missing:
            for t, v in zip(missing, model.embed(missing, task).vectors):  # type: ignore[arg-type]
                cache[(t, task)] = v
        return np.stack([cache[(t, task)] for t in texts])

    def top1(src: list[str], src_lang: str, tgt: list[str], tgt_lang: str, centred: bool) -> float:
        """``src[i]``'s translation is ``tgt[i]``; ``tgt`` may hold more candidates after them."""
        q, d = vectors(src, "query"), vectors(tgt, "document")
        if centred:
            assert centring is not None
            q = centring.apply(q, [src_lang] * len(src))
            d = centring.apply(d, [tgt_lang] * len(tgt))
        return round(float(np.mean(np.argmax(q @ d.T, axis=1) == np.arange(len(src)))), 3)

    pairs: dict[str, tuple[list[str], str, list[str], str]] = {}
    both = invented + base  # the 12 invented rows first: their targets are rows 0..11
    pairs["en->zh"] = ([r["en"] for r in both], "en", [r["zh"] for r in both], "zh")
    pairs["zh->en"] = ([r["zh"] for r in both], "zh", [r["en"] for r in both], "en")
    full = [r for r in base if "ja" in r]
    for lang in ("ja", "ko", "de", "fr", "es", "ru"):
        pairs[f"{lang}->en"] = ([r[lang] for r in full], lang, [r["en"] for r in full], "en")
    for lang in ("vi", "th"):
        for other in ("en", "zh"):
            pairs[f"{lang}->{other}"] = ([r[lang] for r in invented], lang, [r[other] for r in both], other)
            pairs[f"{other}->{lang}"] = ([r[other] for r in invented], other, [r[lang] for r in invented], lang)
    pairs["vi->th"] = ([r["vi"] for r in invented], "vi", [r["th"] for r in invented], "th")
    pairs["th->vi"] = ([r["th"] for r in invented], "th", [r["vi"] for r in invented], "vi")
    for lang in ("en", "zh", "vi", "th"):
        for other in ("en", "zh"):
            pairs[f"short {lang}->{other}"] = ([r["short"][lang] for r in invented], lang, [r[other] for r in both], other)
    out: dict = {"raw": {}, "centred": {}}
    for name, (src, sl, tgt, tl) in pairs.items():
        out["raw"][name] = top1(src, sl, tgt, tl, False)
        if centring is not None:
            out["centred"][name] = top1(src, sl, tgt, tl, True)
    return out


def neighbour_figures(vectors: np.ndarray, docs: list, k: int = 10) -> dict:
    langs = np.asarray([d.lang for d in docs])
    codes = np.asarray([first_ipc(d) for d in docs])
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    nearest = np.argpartition(-sims, k, axis=1)[:, :k]
    same = (codes[nearest] == codes[:, None]).mean(axis=1)
    english = (langs[nearest] == "en").mean(axis=1)
    out = {f"ipc_agreement_{lang}": round(float(same[langs == lang].mean()), 3) for lang in sorted(set(langs.tolist()))}
    out["english_share_of_zh_neighbours"] = round(float(english[langs == "zh"].mean()), 3)
    return out


def map_figures(store: Store, space: str, seeds: list[int]) -> dict:
    rows = []
    for seed in seeds:
        started = time.perf_counter()
        run = store.get_run(build_map(store, space, seed=seed, align_to=False))
        m = run.metrics
        row = {"seed": seed, "seconds": round(time.perf_counter() - started, 1), "topics": m["topics"],
               "outliers": m["outlier_share"], "mixed_topics": m["language_mix"]["mixed_topics"],
               "landscape_f1": m.get("landscape_f1_mean"),
               "nmi_ipc_all": m["code_agreement"]["ipc_subclass"]["clustered"]["nmi"]}
        for lang, entry in m.get("code_agreement_by_language", {}).items():
            row[f"nmi_ipc_{lang}"] = (entry.get("ipc_subclass") or {}).get("clustered", {}).get("nmi")
        rows.append(row)
        print(space, json.dumps(row), flush=True)
    mean = {key: round(float(np.mean([r[key] for r in rows if r.get(key) is not None])), 3)
            for key in rows[0] if key != "seed" and all(r.get(key) is not None for r in rows)}
    return {"mean": mean, "seeds": rows}


def measure_space(store: Store, model, seeds: list[int], with_maps: bool = True) -> dict:  # type: ignore[no-untyped-def]
    """Embed the store (title+abstract, no passages), measure raw, then turn centring on and measure again."""
    entry: dict = {}
    started = time.perf_counter()
    report = embed(store, model, EmbedOptions(fields=FIELDS, passages=None, centre=False))
    entry["embed_s"] = round(time.perf_counter() - started, 1)
    entry["documents"] = report.embedded + report.already
    key = report.space.key
    ids, raw = store.load_vectors(key, raw=True)
    docs = list(store.iter_documents(ids))
    entry["languages"] = {lang: sum(d.lang == lang for d in docs) for lang in sorted({d.lang for d in docs})}
    entry["raw"] = {"neighbours": neighbour_figures(raw, docs)}
    print(model.name, "raw", json.dumps(entry["raw"]["neighbours"]), flush=True)
    if with_maps:
        entry["raw"]["map"] = map_figures(store, key, seeds)
    store.set_space_centring(key, True)
    freeze_centring(store, store.get_space(key))
    _, centred = store.load_vectors(key)
    entry["centred"] = {"neighbours": neighbour_figures(centred, docs)}
    print(model.name, "centred", json.dumps(entry["centred"]["neighbours"]), flush=True)
    if with_maps:
        entry["centred"]["map"] = map_figures(store, key, seeds)
    entry["space"] = key
    return entry


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line if line.endswith("\n") else line + "\n" for line in lines), encoding="utf-8")
    return path


def table(result: dict) -> str:
    """The per-language table of docs/models.md: one column per model, each cell raw / centred."""
    names = list(result["per_model"])

    def cell(name: str, pick) -> str:  # type: ignore[no-untyped-def]
        entry = result["per_model"][name]
        try:
            raw, centred = pick(entry, "raw"), pick(entry, "centred")
        except (KeyError, TypeError):
            return "–"
        if raw is None:
            return "–"
        return f"{raw} / {centred}" if centred is not None and centred != raw else f"{raw}"

    def neighbours(part: str, key: str):  # type: ignore[no-untyped-def]
        return lambda e, side: e[part][side]["neighbours"].get(key)

    def mapped(part: str, key: str):  # type: ignore[no-untyped-def]
        return lambda e, side: e[part][side]["map"]["mean"].get(key)

    def translated(pair: str):  # type: ignore[no-untyped-def]
        return lambda e, side: e["translations"][side].get(pair)

    rows: list[tuple[str, object]] = [
        ("languages read", lambda n: str(result["languages"][n])),
        ("speed, title+abstract (x use-multilingual)", lambda n: str(result["speed"][n]["ratio_to_use"])),
    ]
    parts = [("sample", "sample")] + ([("full_corpus", "whole corpus")] if any("full_corpus" in e for e in result["per_model"].values()) else [])
    for part, said in parts:
        for key, label in (("ipc_agreement_en", "10 NN sharing the IPC subclass, en"),
                           ("ipc_agreement_zh", "10 NN sharing the IPC subclass, zh"),
                           ("english_share_of_zh_neighbours", "English share of a zh patent's 10 NN")):
            rows.append((f"{label} ({said})", lambda n, p=part, k=key: cell(n, neighbours(p, k))))
        for key, label in (("nmi_ipc_en", "map: IPC NMI of en topics"), ("nmi_ipc_zh", "map: IPC NMI of zh topics"),
                           ("mixed_topics", "map: topics mixing languages"), ("landscape_f1", "map: landscape F1 (en)")):
            rows.append((f"{label} ({said})", lambda n, p=part, k=key: cell(n, mapped(p, k))))
    pairs = list(next(iter(result["per_model"].values()))["translations"]["raw"])
    for pair in pairs:
        rows.append((f"translation top-1 {pair}", lambda n, q=pair: cell(n, translated(q))))
    out = ["| figure (raw / centred) | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, fn in rows:
        out.append(f"| {label} | " + " | ".join(fn(n) for n in names) + " |")  # type: ignore[operator]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="minilm,use-multilingual,e5-small")
    parser.add_argument("--full-models", default="use-multilingual", help="also measured on the whole dev corpus")
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--speed-docs", type=int, default=150)
    parser.add_argument("--seeds", default="42,7")
    parser.add_argument("--table", action="store_true", help="print the table of the saved results and stop")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads((REPO / "benchmarks" / "results" / "languages.json").read_text(encoding="utf-8"))))
        return
    names = args.models.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    models = {name: load_embedder(name) for name in names}
    lines = DATA.read_text(encoding="utf-8").splitlines()
    step = max(1, len(lines) // args.sample)
    picked = lines[::step][: args.sample]
    result: dict = {
        "date": time.strftime("%Y-%m-%d"), "models": names, "seeds": seeds,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "sample": f"every {step}th patent of {DATA.name}: {len(picked)} patents; vectors of {'+'.join(FIELDS)}, no passages",
        "languages": {name: len(m.profile.languages) if "many" not in m.profile.languages else "many" for name, m in models.items()},
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with Store(work / "sample") as store:
            ingest(store, [write(work / "sample.jsonl", picked)])
            docs = list(store.iter_documents())
            speed_docs = docs[:: max(1, len(docs) // args.speed_docs)][: args.speed_docs]
            texts = ["\n".join(t for t in (d.title, d.abstract) if t) for d in speed_docs]
            result["speed"] = bench_speed(models, texts)
            result["speed_texts"] = f"{len(texts)} title+abstract texts of the sample, 2 rounds, median"
            print(json.dumps(result["speed"]), flush=True)
            for name, model in models.items():
                entry = result.setdefault("per_model", {}).setdefault(name, {})
                entry["sample"] = measure_space(store, model, seeds)
                entry["translations"] = translation_figures(model, store.space_centring(entry["sample"]["space"]))
                print(name, json.dumps(entry["translations"], ensure_ascii=False), flush=True)
                out = REPO / "benchmarks" / "results" / "languages.json"
                out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
        full_names = [n for n in args.full_models.split(",") if n in models]
        if full_names:
            with Store(work / "full") as store:
                ingest(store, [DATA])
                for name in full_names:
                    result["per_model"][name]["full_corpus"] = measure_space(store, models[name], seeds)
    out = REPO / "benchmarks" / "results" / "languages.json"
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    print(table(result))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
