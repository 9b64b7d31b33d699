"""Label time on a synthetic document x term matrix: a flat map and a three-level hierarchy.

    .venv/bin/python benchmarks/labels.py --n 1000000 [--levels 3] [--vocab 2000000]

``n`` documents (80% "en", 20% "zh"), each with 55 terms: half from a Zipf-distributed shared
vocabulary, half from its topic's own (the keyword matrix of real summaries has about 55 terms
per document). 200 topics, grouped into 30 and 6 parents at random, 5% outliers, one CPC code
per document, 384-dim vectors. ``--levels 1`` times :func:`label_topics` on the 200 topics,
``--levels 3`` :func:`label_levels` on all three levels. The matrix is made outside the timing:
a map counts it in its second process while it clusters. Run it with ``PYTHONPATH`` at another
checkout to time that checkout's labels on the same matrix (same seed, same data).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from scipy import sparse

from patscape.records import Document


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--levels", type=int, choices=(1, 3), default=3)
    parser.add_argument("--vocab", type=int, default=2_000_000)
    parser.add_argument("--dims", type=int, default=384)
    args = parser.parse_args()
    n, vocab = args.n, args.vocab
    rng = np.random.default_rng(7)
    per_doc, fine, mid, top = 55, 200, 30, 6
    start = time.perf_counter()
    topic = rng.integers(0, fine, n)
    mid_of = rng.integers(0, mid, fine)
    mid_of[:mid] = np.arange(mid)
    top_of = rng.integers(0, top, mid)
    top_of[:top] = np.arange(top)
    half = per_doc // 2
    shared = np.minimum(rng.zipf(1.3, (n, half)) - 1, vocab // 2 - 1)
    own = vocab // 2 + (topic[:, None] * 5000 + np.minimum(rng.zipf(1.5, (n, per_doc - half)) - 1, 4999)) % (vocab // 2)
    cols = np.concatenate([shared, own], axis=1).ravel()
    rows = np.repeat(np.arange(n), per_doc)
    matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, vocab))
    matrix.data[:] = 1.0  # a term counts once per document
    terms = [f"t{j}" for j in range(vocab)]
    langs = np.where(rng.random(n) < 0.8, "en", "zh")
    codes = [f"G{k:02d}F1/00" for k in range(60)]
    code_of = rng.integers(0, 60, n)
    docs = [Document(id=f"D{i}", lang=str(langs[i]), cpc=(codes[code_of[i]],), ipc=(codes[code_of[i]],)) for i in range(n)]
    vectors = rng.standard_normal((n, args.dims), dtype=np.float32)
    outlier = rng.random(n) < 0.05
    fine_nodes = np.where(outlier, -1, topic)
    mid_nodes = np.where(outlier, -1, mid_of[topic])
    top_nodes = np.where(outlier, -1, top_of[mid_of[topic]])
    print(f"{n} documents, {matrix.nnz} nonzeros, made in {time.perf_counter() - start:.1f} s", flush=True)
    start = time.perf_counter()
    if args.levels == 1:
        from patscape.landscape.label import label_topics

        label_topics(docs, fine_nodes, vectors, keywords_of_docs=(matrix, terms))
    else:
        from patscape.landscape.label import label_levels

        parents = [{}, {k: int(top_of[k]) for k in range(mid)}, {k: int(mid_of[k]) for k in range(fine)}]
        label_levels(docs, [top_nodes, mid_nodes, fine_nodes], parents, vectors, keywords_of_docs=(matrix, terms))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"labels, {args.levels} level(s): {seconds:.1f} s; peak RSS {peak:.1f} GB", flush=True)


if __name__ == "__main__":
    main()
