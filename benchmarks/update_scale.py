"""A refresh at scale: ``patscape map --update`` against a full (aligned) map, on a synthetic
corpus whose newest documents arrive after the first map (not part of the tests).

    .venv/bin/python benchmarks/update_scale.py --n 100000 --new 10000 --dims 384

The corpus of ``benchmarks/synthetic.py`` (``--n`` documents) is cut by date: all but the newest
``--new`` are ingested, their vectors imported and mapped (``patscape map``); then the newest are
ingested and imported, and the store is copied, so that both refreshes start from the same
state: ``patscape map --update`` on one copy, ``patscape map`` (a full map, aligned to the first
run by default) on the other, each in a fresh process timed with its peak RSS, one after the
other. Reported: times, the update's counts, and for each refresh the share of the first run's
documents that keep their topic id, and the topics that keep their ids. Results are merged into
benchmarks/results/update_scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic  # noqa: E402
from scale import timed  # noqa: E402

PY = sys.executable
RESULTS = Path(__file__).resolve().parent / "results" / "update_scale.json"


def write(work: Path, name: str, records: list[dict], vectors: np.ndarray) -> None:
    with (work / f"{name}.jsonl").open("w", encoding="utf-8") as out, (work / f"{name}.ids").open("w") as ids:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            ids.write(record["id"] + "\n")
    np.save(work / f"{name}.npy", vectors)


def points(store: Path, run: int) -> dict[str, int]:
    with sqlite3.connect(store / "patscape.sqlite") as db:
        return dict(db.execute("SELECT doc_id, cluster FROM run_points WHERE run_id = ?", (run,)).fetchall())


def newest_run(store: Path) -> int:
    with sqlite3.connect(store / "patscape.sqlite") as db:
        return int(db.execute("SELECT MAX(id) FROM runs").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--work", default="/tmp/patscape-update-scale")
    args = parser.parse_args()
    work = Path(args.work) / f"{args.n}x{args.dims}-new{args.new}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    vectors = np.zeros((args.n, args.dims), dtype=np.float32)
    corpus = synthetic.generate(vectors, seed=args.seed)
    records = list(synthetic.documents(corpus))
    order = sorted(range(args.n), key=lambda i: (records[i]["date"], records[i]["id"]))
    old, new = order[: args.n - args.new], order[args.n - args.new :]
    write(work, "old", [records[i] for i in old], vectors[old])
    write(work, "new", [records[i] for i in new], vectors[new])
    store = work / "store"
    model = f"synthetic-{args.dims}"
    result: dict = {"n": args.n, "new": args.new, "dims": args.dims, "new_from": records[new[0]]["date"]}
    result["ingest_old"] = timed([PY, "-m", "patscape", "ingest", str(store), str(work / "old.jsonl")], work / "ingest_old.log")
    timed([PY, "-m", "patscape", "import-vectors", str(store), str(work / "old.npy"), "--ids", str(work / "old.ids"),
           "--model", model], work / "import_old.log")
    result["first_map"] = timed([PY, "-m", "patscape", "map", str(store)], work / "map_first.log")
    first = newest_run(store)
    timed([PY, "-m", "patscape", "ingest", str(store), str(work / "new.jsonl")], work / "ingest_new.log")
    timed([PY, "-m", "patscape", "import-vectors", str(store), str(work / "new.npy"), "--ids", str(work / "new.ids"),
           "--model", model], work / "import_new.log")
    full = work / "store-full"
    shutil.copytree(store, full)
    before = points(store, first)
    for name, path, extra in (("update", store, ["--update"]), ("full_map", full, [])):
        result[name] = timed([PY, "-m", "patscape", "map", str(path), *extra], work / f"map_{name}.log")
        run = newest_run(path)
        after = points(path, run)
        kept_ids = {c for c in set(before.values()) if c >= 0} & {c for c in set(after.values()) if c >= 0}
        result[name].update({
            "old_documents_keeping_topic": round(sum(after.get(d) == c for d, c in before.items() if c >= 0)
                                                 / max(1, sum(c >= 0 for c in before.values())), 4),
            "topics_before": len({c for c in before.values() if c >= 0}),
            "topics_after": len({c for c in after.values() if c >= 0}),
            "topic_ids_shared": len(kept_ids),
            "log_tail": (work / f"map_{name}.log").read_text(encoding="utf-8").splitlines()[-6:],
        })
    result["update_over_full"] = round(result["update"]["wall_s"] / result["full_map"]["wall_s"], 3)
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    result["date"] = time.strftime("%Y-%m-%d %H:%M")
    doc = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    doc[f"{args.n}x{args.dims} new {args.new}"] = result
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items()}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
