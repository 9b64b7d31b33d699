"""Benchmark of the embedding backends on one model (not part of the tests).

    .venv/bin/pip install -e '.[gguf,openai]'
    .venv/bin/python benchmarks/backends.py [--corpus ../shared/data/patents-dev.jsonl] [--docs 300]

The same model, all-MiniLM-L6-v2 (the packaged one, and its GGUF conversions built by
tests/backends_fixtures.py), through each backend:

  st            sentence-transformers (torch, CPU)
  gguf f16      llama.cpp in-process, f16 weights
  gguf q8_0     llama.cpp in-process, q8_0 weights
  openai        python -m llama_cpp.server (f16 GGUF) on 127.0.0.1, through the openai: backend,
                windows cut with the model's tokenizer.json
  openai approx the same server, windows cut with the conservative token approximation

For each: docs/s and tokens/s (the abstracts' tokens by MiniLM's own tokenizer, the same count for
every row) of patscape's ``Embedder.embed`` on ~300 English abstracts,
and of the raw library call on the same texts (SentenceTransformer.encode, Llama.embed, or plain
HTTP requests of 32 texts), and the ratio patscape/raw (1.0 = no overhead). The raw calls
truncate at the model's window; patscape splits longer texts instead, so it may embed more
tokens (see ``multi_chunk_docs``). Writes benchmarks/results/backends.json and prints a
markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PATSCAPE_NO_PROGRESS", "1")

import backends_fixtures as bf

from patscape.embed import load_embedder, packaged_minilm_dir

BATCH = 32


def abstracts(corpus: Path, n: int) -> list[str]:
    out = []
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record.get("lang") == "en" and record.get("abstract"):
                out.append(f"{record['title']}. {record['abstract']}")
    return out[:: max(1, len(out) // n)][:n]


def timed(call) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure(label: str, embedder, raw, texts: list[str], reference: np.ndarray | None, tokens: int) -> dict:  # type: ignore[no-untyped-def]
    embedder.embed(texts[:8], batch_size=BATCH)  # warm-up
    raw(texts[:8])
    result = {}

    def ours() -> None:
        result["r"] = embedder.embed(texts, batch_size=BATCH)

    ours_s = timed(ours)
    raw_s = timed(lambda: raw(texts))
    embedded = result["r"]
    row = {
        "backend": label,
        "docs": len(texts),
        "text_tokens": tokens,
        "multi_chunk_docs": int(sum(n > 1 for n in embedded.n_chunks)),
        "patscape_docs_per_s": round(len(texts) / ours_s, 2),
        "patscape_tokens_per_s": round(tokens / ours_s, 1),
        "raw_docs_per_s": round(len(texts) / raw_s, 2),
        "raw_tokens_per_s": round(tokens / raw_s, 1),
        "ratio_patscape_over_raw": round(raw_s / ours_s, 3),
    }
    if reference is not None:
        cos = (embedded.vectors * reference).sum(axis=1)
        row["min_cosine_vs_st"] = round(float(cos.min()), 5)
    print(f"  {label}: {row['patscape_docs_per_s']} docs/s (raw {row['raw_docs_per_s']})", flush=True)
    return row


def post_batches(client, url: str, model: str):  # type: ignore[no-untyped-def]
    def run(texts: list[str]) -> None:
        for start in range(0, len(texts), BATCH):
            response = client.post(url, json={"model": model, "input": texts[start : start + BATCH]})
            response.raise_for_status()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "data" / "patents-dev.jsonl")
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "backends.json")
    args = parser.parse_args()

    import httpx

    fixtures = bf.build()
    load_start = list(os.getloadavg())  # llama.cpp's threads suffer badly from other busy processes
    texts = abstracts(args.corpus, args.docs)
    print(f"{len(texts)} abstracts; threads: {os.cpu_count()}", flush=True)
    rows = []

    st = load_embedder("minilm")
    baseline = st.embed(texts, batch_size=BATCH)
    reference, tokens = baseline.vectors, int(sum(baseline.n_tokens))  # tokens by MiniLM's own tokenizer
    rows.append(measure("st (sentence-transformers)", st,
                        lambda t: st.model.encode(t, batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False),
                        texts, None, tokens))
    for quant, path in (("f16", fixtures.minilm_gguf_f16), ("q8_0", fixtures.minilm_gguf_q8)):
        gguf = load_embedder(f"gguf:{path}")
        rows.append(measure(f"gguf {quant} (llama.cpp, n_ubatch {gguf.max_tokens})", gguf,
                            lambda t, g=gguf: g.llm.embed(t, normalize=True, truncate=True), texts, reference, tokens))
        del gguf
    with tempfile.TemporaryDirectory() as work, bf.llama_server(fixtures.minilm_gguf_f16, 256, Path(work) / "server.log") as url:
        client = httpx.Client(timeout=120)
        raw = post_batches(client, f"{url}/embeddings", "all-minilm")
        exact = load_embedder(f"openai:all-minilm@{url}", tokenizer=str(packaged_minilm_dir()), max_tokens=256, concurrency=1)
        rows.append(measure("openai → llama_cpp.server (tokenizer.json)", exact, raw, texts, reference, tokens))
        approx = load_embedder(f"openai:all-minilm@{url}", max_tokens=256, concurrency=1)
        rows.append(measure("openai → llama_cpp.server (approx. tokens)", approx, raw, texts, reference, tokens))
        client.close()

    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_start": load_start, "load_average_end": list(os.getloadavg())},
        "model": "all-MiniLM-L6-v2 (384 dims, 256-token window)",
        "docs": len(texts),
        "batch_size": BATCH,
        "note": "raw calls truncate at the window; patscape chunks longer texts (multi_chunk_docs) and "
                "normalises; ratio = raw time / patscape time; tokens = the abstracts' MiniLM tokens, same for every "
                "row; llama.cpp's threads slow down a lot when other processes are busy (see load_average)",
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print("| backend | patscape docs/s | patscape tokens/s | raw docs/s | patscape / raw | multi-chunk docs | min cos vs st |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['backend']} | {r['patscape_docs_per_s']} | {r['patscape_tokens_per_s']} | {r['raw_docs_per_s']} | "
              f"{r['ratio_patscape_over_raw']} | {r['multi_chunk_docs']} | {r.get('min_cosine_vs_st', '-')} |")
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
