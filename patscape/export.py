"""Exports of a run: CSV, Parquet, JSON, GraphML and the self-contained HTML report."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .errors import InputError
from .landscape.graph import landscape_graph
from .landscape.neighbours import nearest_neighbours
from .report import write_report
from .store import Store

Format = Literal["csv", "parquet", "json", "graphml", "html"]
FORMATS: tuple[str, ...] = ("csv", "parquet", "json", "graphml", "html")
TABLE_COLUMNS = ("id", "cluster", "label", "x", "y", "raw_cluster", "title", "date", "lang", "cpc", "ipc")


def topic_paths(topics: list[dict[str, Any]], levels: list[list[dict[str, Any]]]) -> dict[int, list[tuple[int, str]]]:
    """Each topic's ``(node, label)`` at every level, top first, ending with the topic itself;
    outliers (``-1``) are ``(-1, "outlier")`` at every level."""
    nodes = [{n["node"]: n for n in level} for level in levels]
    paths: dict[int, list[tuple[int, str]]] = {}
    for topic in topics:
        path = [(int(topic["cluster"]), str(topic["label"]))]
        parent = topic.get("parent")
        for level in range(len(levels) - 1, -1, -1):
            node = nodes[level].get(parent) if parent is not None else None
            if node is None:
                break
            path.append((int(node["node"]), str(node["label"])))
            parent = node["parent"]
        paths[int(topic["cluster"])] = path[::-1] if len(path) == len(levels) + 1 else path[:1]
    paths[-1] = [(-1, "outlier")] * (len(levels) + 1 if all(len(p) == len(levels) + 1 for p in paths.values()) else 1)
    return paths


def level_columns(count: int) -> tuple[str, ...]:
    """``topic_l0``, ``topic_l0_label``, ... for ``count`` levels (l0 the top)."""
    return tuple(name for i in range(count) for name in (f"topic_l{i}", f"topic_l{i}_label"))


#: Runs the report's alluvial view shows (the run and those before it), the years of its time
#: windows, and the documents listed per flow.
REPORT_CHAIN = 3
REPORT_WINDOW_YEARS = 5
#: Organisations the report lists.
REPORT_OWNERS = 30
FLOW_MEMBERS = 50


def run_view(store: Store, run_id: int | None = None, bursts: bool = True) -> dict[str, Any]:
    """Everything about a run in one JSON-ready dict (the report's and the JSON export's data);
    ``bursts``: with the bursts of its topics, codes and owners (``emerging``; None without)."""
    run = store.get_run(run_id)
    topics = store.run_topics(run.id)
    levels = store.run_levels(run.id)
    labels = {t["cluster"]: t["label"] for t in topics}
    paths = topic_paths(topics, levels)
    subtopics = store.run_subtopics(run.id)
    sub_of = store.run_point_subtopics(run.id) if subtopics else {}
    sub_labels = {s["node"]: s["label"] for s in subtopics}
    depth = len(paths[-1])  # levels down to the topics
    points_raw = store.run_points(run.id)
    docs = {d.id: d for d in store.iter_documents([p[0] for p in points_raw])}
    points = []
    for doc_id, cluster, raw, x, y in points_raw:
        doc = docs[doc_id]
        points.append({
            "id": doc_id, "title": doc.title, "cluster": cluster, "raw_cluster": raw,
            "label": labels.get(cluster, "outlier"), "x": round(x, 4), "y": round(y, 4),
            "date": doc.date, "lang": doc.lang, "cpc": list(doc.cpc[:5]), "ipc": list(doc.ipc[:5]),
            **{key: value for i, (node, label) in enumerate(paths.get(cluster, paths[-1]))
               for key, value in ((f"topic_l{i}", node), (f"topic_l{i}_label", label))},
            # the sub-topic (the level below the topics): empty where the topic has none, -1 for outliers
            **({f"topic_l{depth}": sub_of.get(doc_id, -1 if cluster < 0 else None),
                f"topic_l{depth}_label": sub_labels.get(sub_of.get(doc_id, -2), "outlier" if cluster < 0 else None)}
               if subtopics else {}),
        })
    from .flows import flows, parent_of
    from .owners import owner_view

    stored = store.runs()
    return {
        "title": f"patscape landscape — {store.path.name}, run {run.id}" + (f" ({run.data['name']})" if run.data.get("name") else ""),
        "run": {
            "id": run.id, "name": run.data.get("name"), "created_at": run.created_at, "seed": run.seed, "space": run.space,
            "model": run.params.get("model"), "params": run.params, "parent": parent_of(run),
            "updated": run.params.get("updated_from") is not None,
        },
        # every run of the store, to say which one this report shows
        "runs": [{"id": r.id, "name": r.data.get("name"), "created_at": r.created_at, "topics": r.metrics.get("topics")}
                 for r in stored],
        "metrics": run.metrics,
        "hierarchy": {**run.hierarchy(len(topics)), "depth": depth + (1 if subtopics else 0)},
        "levels": levels,
        "subtopics": subtopics,
        "topics": topics,
        "points": points,
        "links": run.data.get("links", []),
        "emerging": _emerging(store, run.id) if bursts else None,
        # the alluvial views: the run and up to two before it, and its time windows; a few documents of each flow
        "flows": flows(store, run.id, REPORT_CHAIN, members=FLOW_MEMBERS) if bursts else None,
        "windows": _windows(store, run.id) if bursts else None,
        # who holds what: the largest organisations, every topic of each, their patents
        "owners": owner_view(store, run.id, top=REPORT_OWNERS, all_topics=True, ids=True) if bursts else None,
        "years": run.data.get("years", []),
        **{key: run.data.get(key) for key in ("recent_from", "recent_to", "partial_year", "data_to") if run.data.get(key) is not None},
    }


def _windows(store: Store, run_id: int) -> dict[str, Any] | None:
    """The run's time windows (the report's second alluvial view), or None without dates."""
    from .flows import window_flows

    try:
        return window_flows(store, run_id, REPORT_WINDOW_YEARS, members=FLOW_MEMBERS)
    except InputError:
        return None


def _emerging(store: Store, run_id: int) -> dict[str, Any] | None:
    """The bursts of the run's topics, codes and owners (the report's timeline), or None when
    its patents have no dates."""
    from .emerging import emerging

    try:
        return {by: emerging(store, run_id, by) for by in ("topic", "code", "assignee")}
    except InputError:
        return None


def export_run(store: Store, fmt: str, out: str | Path, run_id: int | None = None, by_family: bool = False) -> Path:
    """Write one run in ``fmt`` to ``out``; returns the path written. ``by_family`` (csv, parquet):
    one row per family (:mod:`patscape.families`) instead of one per patent."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if by_family and fmt not in ("csv", "parquet"):
        raise InputError("--by-family writes csv or parquet (one row per family)")
    out = Path(out)
    if out.is_dir():
        raise InputError(f"{out} is a directory; give a file path")
    out.parent.mkdir(parents=True, exist_ok=True)
    view = run_view(store, run_id, bursts=fmt in ("json", "html"))  # (the tables and the graph have no bursts)
    names, rows = (_family_table(store, view) if by_family
                   else (_columns(view), _table_rows(view)))
    if fmt == "csv":
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            for row in rows:
                writer.writerow(row)
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = list(rows)
        columns = {name: [r[i] for r in rows] for i, name in enumerate(names)}
        pq.write_table(pa.table(columns), out)
    elif fmt == "json":
        out.write_text(json.dumps(view, ensure_ascii=False, indent=1), encoding="utf-8")
    elif fmt == "graphml":
        _write_graphml(store, view, out)
    else:
        write_report(view, out)
    return out


def _columns(view: dict[str, Any]) -> tuple[str, ...]:
    return TABLE_COLUMNS[:3] + level_columns(view["hierarchy"]["depth"]) + TABLE_COLUMNS[3:]


def _table_rows(view: dict[str, Any]):  # type: ignore[no-untyped-def]
    levels = level_columns(view["hierarchy"]["depth"])
    for p in view["points"]:
        yield (
            p["id"], p["cluster"], p["label"], *(p[name] for name in levels), p["x"], p["y"], p["raw_cluster"],
            p["title"], p["date"] or "", p["lang"] or "", ";".join(p["cpc"]), ";".join(p["ipc"]),
        )


def _family_table(store: Store, view: dict[str, Any]) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """One row per family of the run's patents: ``family`` (``family:ID`` as the data gives it,
    ``inferred:...`` as inferred, ``doc:ID`` for a patent of its own), ``family_size``,
    ``members`` (``;``), then the row of its earliest member (by date, then id), with ``date``
    the earliest and ``lang`` every language of the family."""
    from .families import family_key

    inferred = store.inferred_families()
    points = {p["id"]: row for p, row in zip(view["points"], _table_rows(view))}
    keys = {d.id: family_key(d, inferred) for d in store.iter_documents(list(points), texts=False)}
    by_date = {p["id"]: (p["date"] or "9999", p["id"]) for p in view["points"]}
    members: dict[str, list[str]] = {}
    for doc_id in points:
        members.setdefault(keys.get(doc_id, f"doc:{doc_id}"), []).append(doc_id)
    names = _columns(view)
    date_at, lang_at = names.index("date"), names.index("lang")
    rows = []
    for key, ids in sorted(members.items(), key=lambda kv: min(by_date[d] for d in kv[1])):
        ids.sort(key=lambda d: by_date[d])
        first = list(points[ids[0]])
        langs = sorted({points[d][lang_at] for d in ids if points[d][lang_at]})
        first[lang_at] = ";".join(langs)
        first[date_at] = min((points[d][date_at] for d in ids if points[d][date_at]), default="")
        rows.append((key, len(ids), ";".join(ids), *first))
    return ("family", "family_size", "members", *names), rows


def _write_graphml(store: Store, view: dict[str, Any], out: Path, neighbours: int = 5) -> None:
    import networkx as nx

    space = view["run"]["space"]
    ids, vectors = store.load_vectors(space)
    point_ids = [p["id"] for p in view["points"]]
    position = {doc_id: i for i, doc_id in enumerate(ids)}
    # Points whose document has no vector any more (replaced since the map) get no neighbour
    # edges; the others are indexed by their own row, never by their position among all points.
    with_vector = [doc_id for doc_id in point_ids if doc_id in position]
    knn, _ = nearest_neighbours(vectors[[position[doc_id] for doc_id in with_vector]], neighbours + 1)
    neighbour_ids = {doc_id: [with_vector[j] for j in knn[i] if j != i][:neighbours] for i, doc_id in enumerate(with_vector)}
    docs = list(store.iter_documents(point_ids))
    labels = np.array([p["cluster"] for p in view["points"]], dtype=np.int64)
    sub_of = {p["id"]: p[f"topic_l{len(view['levels']) + 1}"] for p in view["points"]} if view["subtopics"] else {}
    graph = landscape_graph(docs, labels, view["topics"], view["links"], neighbour_ids, view["levels"],
                            view["subtopics"], {d: s for d, s in sub_of.items() if s is not None and s >= 0})
    nx.write_graphml(graph, out)
