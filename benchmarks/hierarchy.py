"""The topic hierarchy measured on an embedded store (not part of the tests).

    .venv/bin/patscape ingest /tmp/dev ../shared/data/patents-dev.jsonl
    .venv/bin/patscape embed /tmp/dev
    .venv/bin/python benchmarks/hierarchy.py /tmp/dev --seeds 42 7 2026

For each seed, one map of the store's newest complete space with the default parameters (what
``patscape map STORE --seed S`` builds, not stored): nodes per level, the landscape F1 of each
level (each landscape's best-matching node there) and at each landscape's best level, IPC/CPC
section and subclass agreement (ARI) per level, the share of nodes whose dominant subclass is
their parent's, the sub-topics below the topics, and the hierarchy stage's seconds (levels and
sub-topics) against the whole map's. Then the keyword labels of ten topics with their parents'
labels, and of the largest split topics with their sub-topics'. Results are merged into
benchmarks/results/hierarchy.json under the store's name.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from patscape.landscape import MapParams, build_landscape
from patscape.pipeline.map_stage import map_ready
from patscape.spaces import pick_space
from patscape.store import Store

RESULTS = Path(__file__).parent / "results" / "hierarchy.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 2026])
    parser.add_argument("--levels", type=int, default=None)
    parser.add_argument("--top-topics", type=int, default=None)
    args = parser.parse_args()
    with Store(args.store, create=False) as db:
        space = pick_space(db, None)
        ids, vectors = db.load_vectors(space.key)
        docs, _ = map_ready(list(db.iter_documents(ids)))
    out: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "store": args.store, "space": space.key, "documents": len(ids),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}",
        "seeds": {},
    }
    for seed in args.seeds:
        result = build_landscape(ids, vectors, docs, MapParams(levels=args.levels, top_topics=args.top_topics), seed)
        timings = result.metrics["timings_s"]
        entry = {
            "counts": result.data["hierarchy"]["counts"],
            "levels": result.metrics["levels"],
            "best_level": result.metrics.get("landscape_f1_best_level"),
            "hierarchy_s": timings.get("hierarchy"),
            "map_s": round(sum(timings.values()), 3),
            "subtopics": result.data["hierarchy"]["subtopics"],
        }
        sub = result.subtopic_labels
        if sub is not None and (sub >= 0).any():
            sizes = [t["size"] for t in result.topics if t["children"]]
            entry["subtopics"] = {**entry["subtopics"], "split_topic_sizes": sizes,
                                  "unsplit_topic_sizes": [t["size"] for t in result.topics if not t["children"]]}
            print(f"  sub-topics: {len(result.subtopics)} in {len(sizes)} of {len(result.topics)} topics "
                  f"(split topics' sizes: median {int(np.median(sizes))})")
        out["seeds"][str(seed)] = entry  # type: ignore[index]
        print(f"seed {seed}: levels {entry['counts']}, hierarchy {entry['hierarchy_s']} s of {entry['map_s']} s")
        for level in result.metrics["levels"]:
            print("  L{level}: {nodes} nodes, F1 {f1}, ipc subclass ARI {ari}, shares parent's subclass {share}".format(
                level=level["level"], nodes=level["nodes"], f1=level.get("landscape_f1_mean"),
                ari=level.get("ipc_subclass_ari"), share=level.get("shares_parent_subclass")))
        if entry["best_level"]:
            print(f"  best level per landscape: mean F1 {entry['best_level']['mean']}: {entry['best_level']['landscapes']}")
        if seed == args.seeds[0]:
            parents = {n["node"]: n for n in (result.levels[-1] if result.levels else [])}
            top = {n["node"]: n for n in (result.levels[0] if result.levels else [])}
            rows = []
            for topic in sorted(result.topics, key=lambda t: -t["size"])[:10]:
                parent = parents.get(topic.get("parent"))
                above = parent
                while above is not None and above.get("parent") is not None:
                    above = top.get(above["parent"]) if above["level"] == 1 else None
                rows.append({"topic": topic["cluster"], "size": topic["size"], "label": topic["label"],
                             "parent": parent["label"] if parent else None,
                             "top": above["label"] if above else None,
                             "main_group": (topic["codes"].get("ipc_main") or topic["codes"].get("cpc_main") or [None])[0]})
                print(f"  topic {topic['cluster']:>3} ({topic['size']}): {topic['label']}  <  "
                      f"{rows[-1]['parent']}  <  {rows[-1]['top']}  [{rows[-1]['main_group']}]")
            out["labels"] = rows
            subs = []
            for topic in sorted((t for t in result.topics if t["children"]), key=lambda t: -t["size"])[:8]:
                own = [n for n in result.subtopics if n["parent"] == topic["cluster"]]
                subs.append({"topic": topic["cluster"], "size": topic["size"], "label": topic["label"],
                             "subtopics": [(n["label"], n["size"]) for n in own]})
                print(f"  topic {topic['cluster']:>3} ({topic['size']}) {topic['label']}: "
                      + " | ".join(f"{n['label']} ({n['size']})" for n in own))
            out["subtopic_labels"] = subs
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    saved = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    saved[Path(args.store).name] = out
    RESULTS.write_text(json.dumps(saved, ensure_ascii=False, indent=1, default=_plain), encoding="utf-8")


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value))


if __name__ == "__main__":
    main()
