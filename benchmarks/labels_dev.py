"""Labels of a stored run, flat and under a stand-in hierarchy, beside the labels stored with it.

    .venv/bin/python benchmarks/labels_dev.py STORE [GROUPS] [--label-lang LANG]

Loads the newest run of ``STORE`` (documents, topics, vectors), groups its topics into
``GROUPS`` (6) parents by average-linkage clustering of their centroids (cosine), and prints for
each topic the label stored with the run (made by the code that made the run), the label
:func:`label_topics` gives now (a flat map) and the one :func:`label_levels` gives it under its
parent, and each parent's label and keywords. The grouping only stands in for a real topic
hierarchy, to read labels by.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from patscape.landscape.label import keyword_matrix, label_levels, label_texts, label_topics
from patscape.store import Store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("store")
    parser.add_argument("groups", type=int, nargs="?", default=6)
    parser.add_argument("--label-lang", default=None)
    args = parser.parse_args()
    store = Store(args.store, create=False)
    run = store.get_run()
    points = store.run_points(run.id)
    ids = [p[0] for p in points]
    clusters = np.array([p[1] for p in points], dtype=np.int64)
    by_id = {d.id: d for d in store.iter_documents(ids)}
    docs = [by_id[i] for i in ids]
    vector_ids, stored = store.load_vectors(run.space)
    where = {d: k for k, d in enumerate(vector_ids)}
    vectors = stored[[where[i] for i in ids]]
    before = {t["cluster"]: t["label"] for t in store.run_topics(run.id)}
    topics = sorted(before)
    centroids = np.stack([vectors[clusters == t].mean(axis=0) for t in topics])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    group = fcluster(linkage(centroids, method="average", metric="cosine"), t=args.groups, criterion="maxclust") - 1
    parent = {t: int(g) for t, g in zip(topics, group)}
    top = np.array([parent[c] if c >= 0 else -1 for c in clusters], dtype=np.int64)
    start = time.perf_counter()
    counted = keyword_matrix(*label_texts(docs))
    counting = time.perf_counter() - start
    start = time.perf_counter()
    levels = label_levels(docs, [top, clusters], [{}, parent], vectors, keywords_of_docs=counted,
                          label_lang=args.label_lang)
    labelling = time.perf_counter() - start
    flat = label_topics(docs, clusters, vectors, keywords_of_docs=counted, label_lang=args.label_lang)
    print(f"{len(docs)} documents, {len(topics)} topics, {len(levels[0])} parents; "
          f"keyword matrix {counting:.2f} s, label_levels {labelling:.2f} s")
    sizes = np.bincount(clusters[clusters >= 0])
    for g, info in sorted(levels[0].items()):
        print(f"\n== parent {g} ({sum(info.languages.values())} documents, {info.languages}): {info.label}")
        print("   keywords:", {lang: [k for k, _ in words[:6]] for lang, words in info.keywords.items()})
        for t in topics:
            if parent[t] == g:
                print(f"  {t:3d} {sizes[t]:5d}  stored: {before[t]}  |  flat: {flat[t].label}  |  "
                      f"under its parent: {levels[1][t].label}")


if __name__ == "__main__":
    main()
