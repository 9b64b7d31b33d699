"""The cost of aligning a run to another (not part of the tests).

    .venv/bin/python benchmarks/align_time.py /tmp/al6k 4 5

Reads run OLD as a map being aligned reads it (``Store.previous_run``), then aligns run NEW's
memberships (every level and the sub-topics) to it, as ``patscape map`` does at the end of a map,
and prints both times and the events by kind.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from patscape.landscape.lineage import align
from patscape.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store")
    parser.add_argument("old", type=int)
    parser.add_argument("new", type=int)
    args = parser.parse_args()
    with Store(args.store, create=False) as db:
        started = time.perf_counter()
        previous = db.previous_run(args.old)
        loaded = time.perf_counter() - started
        new = db.previous_run(args.new)
    ids = sorted(new.levels[-1])
    levels = [np.array([level.get(d, -1) for d in ids]) for level in new.levels]
    subtopics = np.array([new.subtopics.get(d, -1) for d in ids])
    started = time.perf_counter()
    result = align(previous, ids, levels, subtopics)
    aligned = time.perf_counter() - started
    print(f"read run {args.old}: {loaded:.3f} s; align run {args.new} to it: {aligned:.3f} s; "
          f"topics: {result.summary()['events']}")


if __name__ == "__main__":
    main()
