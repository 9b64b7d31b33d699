"""Graphs of a landscape: topics linked by similarity and citations; patents by neighbours."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from ..chunking import normalize_rows
from ..records import Document


def topic_centroids(vectors: NDArray[np.float32], labels: NDArray[np.int64]) -> dict[int, NDArray[np.float32]]:
    topics = sorted(int(t) for t in set(labels.tolist()) if t >= 0)
    if not topics:
        return {}
    matrix = normalize_rows(np.stack([vectors[labels == t].mean(axis=0) for t in topics]))
    return dict(zip(topics, matrix))


def topic_links(
    docs: Sequence[Document],
    vectors: NDArray[np.float32] | None,
    labels: NDArray[np.int64],
    neighbours: int = 3,
    centroids: dict[int, NDArray[np.float32]] | None = None,
) -> list[dict[str, Any]]:
    """Edges between topics: each topic to its ``neighbours`` most similar topics (centroid
    cosine), plus every pair connected by citations between their patents. ``centroids``
    (unit, per topic) replace ``vectors`` when the caller accumulated them block by block."""
    if centroids is None:
        assert vectors is not None
        centroids = topic_centroids(vectors, labels)
    topics = list(centroids)
    edges: dict[tuple[int, int], dict[str, Any]] = {}
    if len(topics) > 1:
        matrix = np.stack([centroids[t] for t in topics])
        sims = matrix @ matrix.T
        np.fill_diagonal(sims, -np.inf)
        for i, topic in enumerate(topics):
            for j in np.argsort(-sims[i])[:neighbours]:
                key = (min(topic, topics[j]), max(topic, topics[j]))
                edges.setdefault(key, {"similarity": round(float(sims[i, j]), 4), "citations": 0})
    topic_of = {d.id: int(t) for d, t in zip(docs, labels.tolist())}
    cites: Counter[tuple[int, int]] = Counter()
    for doc, topic in zip(docs, labels.tolist()):
        for target in doc.extra.get("cites") or []:
            other = topic_of.get(target)
            if other is not None and other >= 0 and topic >= 0 and other != topic:
                cites[(min(topic, other), max(topic, other))] += 1
    for key, count in cites.items():
        entry = edges.setdefault(key, {"similarity": None, "citations": 0})
        entry["citations"] = count
    if len(topics) > 1:
        for key, entry in edges.items():
            if entry["similarity"] is None:
                entry["similarity"] = round(float(centroids[key[0]] @ centroids[key[1]]), 4)
    return [{"source": a, "target": b, **data} for (a, b), data in sorted(edges.items())]


def landscape_graph(
    docs: Sequence[Document],
    labels: NDArray[np.int64],
    topics: Sequence[dict[str, Any]],
    links: Sequence[dict[str, Any]],
    neighbours: dict[str, list[str]],
    levels: Sequence[Sequence[dict[str, Any]]] = (),
    subtopics: Sequence[dict[str, Any]] = (),
    subtopic_of: dict[str, int] | None = None,
) -> nx.Graph:
    """Topics and patents as one graph: membership, topic links, patent neighbours, citations,
    and the hierarchy: a node ``level:L:N`` per node of each level above the topics (``level``
    0 the top) and ``subtopic:N`` per sub-topic below them, with an edge of kind ``parent`` from
    each node, topic or sub-topic to its parent; a patent of a sub-topic (``subtopic_of``) is a
    ``member`` of it as of its topic."""
    graph = nx.Graph()
    depth = len(levels)
    for level in levels:
        for node in level:
            graph.add_node(f"level:{node['level']}:{node['node']}", kind="level", level=int(node["level"]),
                           label=node["label"], size=int(node["size"]))
            if node.get("parent") is not None:
                graph.add_edge(f"level:{node['level']}:{node['node']}", f"level:{node['level'] - 1}:{node['parent']}",
                               kind="parent")
    for topic in topics:
        graph.add_node(f"topic:{topic['cluster']}", kind="topic", level=depth, label=topic["label"], size=topic["size"])
        if depth and topic.get("parent") is not None:
            graph.add_edge(f"topic:{topic['cluster']}", f"level:{depth - 1}:{topic['parent']}", kind="parent")
    for node in subtopics:
        graph.add_node(f"subtopic:{node['node']}", kind="subtopic", level=depth + 1, label=node["label"],
                       size=int(node["size"]))
        graph.add_edge(f"subtopic:{node['node']}", f"topic:{node['parent']}", kind="parent")
    for link in links:
        graph.add_edge(
            f"topic:{link['source']}", f"topic:{link['target']}", kind="topic-link",
            similarity=float(link["similarity"] or 0.0), citations=int(link["citations"]),
        )
    ids = {d.id for d in docs}
    for doc, topic in zip(docs, labels.tolist()):
        graph.add_node(doc.id, kind="patent", label=doc.title, date=doc.date or "", lang=doc.lang or "", topic=int(topic))
        if topic >= 0:
            graph.add_edge(doc.id, f"topic:{topic}", kind="member")
        sub = (subtopic_of or {}).get(doc.id)
        if sub is not None:
            graph.nodes[doc.id]["subtopic"] = int(sub)
            graph.add_edge(doc.id, f"subtopic:{sub}", kind="member")
    for doc in docs:
        for other in neighbours.get(doc.id, []):
            if not graph.has_edge(doc.id, other):
                graph.add_edge(doc.id, other, kind="neighbour")
        for target in doc.extra.get("cites") or []:
            if target in ids:
                graph.add_edge(doc.id, target, kind="citation")
    return graph
