"""GraphML export: neighbour edges go to each patent's own nearest neighbours, also when a
mapped document has lost its vector since the map (it was replaced)."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np

from tests.conftest import SAMPLE


def test_graphml_neighbour_edges_are_the_true_neighbours_when_a_vector_is_gone(tmp_path: Path) -> None:
    from patscape.export import export_run
    from patscape.landscape import MapParams
    from patscape.pipeline import EmbedOptions, build_map, embed, ingest
    from patscape.store import Store

    rows = [json.loads(line) for line in SAMPLE.open(encoding="utf-8")][:120]
    source = tmp_path / "a.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    changed = tmp_path / "b.jsonl"
    first = sorted(r["id"] for r in rows)[0]  # the first point in id order: every later row would shift
    base = next(r for r in rows if r["id"] == first)
    changed.write_text(json.dumps({**base, "abstract": base["abstract"] + " Revised."}) + "\n", encoding="utf-8")
    with Store(tmp_path / "store") as store:
        ingest(store, [source])
        space = embed(store, "hash:256", EmbedOptions(passages=None)).space
        run = build_map(store, params=MapParams(min_cluster_size=8), seed=3)
        assert ingest(store, [changed]).replaced == 1  # its vector is gone until the next embed
        ids, vectors = store.load_vectors(space.key)
        out = export_run(store, "graphml", tmp_path / "g.graphml", run)
    assert first not in ids
    graph = nx.read_graphml(out)
    sims = vectors.astype(np.float64) @ vectors.astype(np.float64).T
    np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")
    ranked = np.take_along_axis(sims, order, axis=1)
    # no two candidates for the 5th place are within rounding of each other, so the 5 nearest
    # are the same whatever the order of the sums (no tie to break)
    assert (ranked[:, 4] - ranked[:, 5] > 1e-6).all()
    best = {doc_id: {ids[j] for j in order[i, :5]} for i, doc_id in enumerate(ids)}
    for doc_id in ids:
        if graph.is_directed():  # a patent's edges go to its own 5 nearest
            edges = {v for _, v, d in graph.out_edges(doc_id, data=True) if d.get("kind") == "neighbour"}
            expected = best[doc_id]
        else:  # ... and, undirected, come from the patents that have it among theirs
            edges = {v for v in graph.neighbors(doc_id) if graph.edges[doc_id, v].get("kind") == "neighbour"}
            expected = best[doc_id] | {other for other in ids if doc_id in best[other]}
        assert edges == expected, (doc_id, edges ^ expected)
    assert len(ids) == 119
    assert not any(d.get("kind") == "neighbour" for _, _, d in graph.edges(first, data=True))


def test_map_sets_aside_fields_it_cannot_use_before_clustering(tmp_path: Path) -> None:
    """A store written before ingest validated fields (or by another tool) may hold a string
    where ``extra.landscape`` must be a mapping, an int for ``cites``, a year 2999: the map
    says so and finishes, instead of failing after UMAP and HDBSCAN."""
    from patscape.landscape import MapParams
    from patscape.pipeline import EmbedOptions, build_map, embed
    from patscape.records import Document
    from patscape.store import Store

    rows = [json.loads(line) for line in SAMPLE.open(encoding="utf-8")][:120]
    docs = [Document(id=r["id"], title=r["title"], abstract=r["abstract"], lang="en", date=r.get("date"),
                     extra={"cites": "US-1; US-2"} if i % 2 else {"landscape": "robots", "cites": 7})
            for i, r in enumerate(rows)]
    docs[0] = Document(id=docs[0].id, title=docs[0].title, abstract=docs[0].abstract, lang="en", date="2999-01-01")
    notices: list[str] = []
    with Store(tmp_path / "store") as store:
        store.write_documents(docs)
        embed(store, "hash:256", EmbedOptions(passages=None))
        run_id = build_map(store, params=MapParams(min_cluster_size=8), seed=3, on_notice=notices.append)
        run = store.get_run(run_id)
    assert sorted(notices) == [
        "1 documents: implausible year; set aside for this map",
        "119 documents: extra.cites is not a list of ids; set aside for this map",
        "59 documents: extra.landscape is not a mapping; set aside for this map",
    ]
    assert 2999 not in run.data.get("years", [])
