"""How much slower e5-small is than use-multilingual, here: the seconds per document that
``--model auto`` estimates with (patscape.spaces.SECONDS_PER_DOC).

    PYTHONPATH=. .venv/bin/python benchmarks/e5_speed.py [--docs 100] [--rounds 2] [--data FILE]

Takes every k-th document of the dev corpus (English and Chinese in the corpus's proportions),
ingests them into a temporary store and runs the embed stage as `patscape embed` does (default
options: the title+abstract+claims vector and the passages of the full text) once per model and
round, the models taking turns; the model is loaded before the clock starts. Prints seconds per
document per model (median of the rounds) and their ratio.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PATSCAPE_NO_PROGRESS", "1")

from patscape.embed import load_embedder  # noqa: E402
from patscape.pipeline import EmbedOptions, embed, ingest  # noqa: E402
from patscape.store import Store  # noqa: E402

DATA = Path("/work/shared/data/patents-dev.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--models", default="use-multilingual,e5-small")
    args = parser.parse_args()
    lines = args.data.read_text(encoding="utf-8").splitlines()
    step = max(1, len(lines) // args.docs)
    picked = lines[::step][: args.docs]
    models = {name: load_embedder(name) for name in args.models.split(",")}
    seconds: dict[str, list[float]] = {name: [] for name in models}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "docs.jsonl"
        source.write_text("\n".join(picked) + "\n", encoding="utf-8")
        with Store(Path(tmp) / "store") as db:
            ingest(db, [source])
            langs = db.language_counts()
            for round_ in range(args.rounds):
                for name, embedder in models.items():
                    # a new space each round: a different overlap changes the key, not the work
                    options = EmbedOptions(overlap=32 - round_)
                    start = time.perf_counter()
                    report = embed(db, embedder, options)
                    seconds[name].append((time.perf_counter() - start) / report.embedded)
    per_doc = {name: statistics.median(values) for name, values in seconds.items()}
    names = list(per_doc)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "documents": len(picked), "languages": langs, "rounds": args.rounds,
        "seconds_per_document": {n: round(v, 4) for n, v in per_doc.items()},
        "all_rounds": {n: [round(v, 4) for v in vs] for n, vs in seconds.items()},
    }
    if len(names) == 2:
        result[f"speed of {names[1]} / {names[0]}"] = round(per_doc[names[0]] / per_doc[names[1]], 4)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
