"""Runs (maps): their parameters and metrics, the points of their documents, and their topics."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any

from ..errors import NotFoundError
from .connection import Connection
from .rows import RunInfo


_NODE_COLUMNS = ("level", "node", "parent", "label", "size")


def _named(record: dict[str, Any], name: tuple[str, str] | None) -> None:
    """Make ``name`` (name, source) the record's label, keeping its keyword label beside it."""
    record["keyword_label"] = record["label"]
    if name is not None:
        record["label"], record["name_source"] = name


@dataclass(frozen=True, slots=True)
class NodeRef:
    """A node of a run's hierarchy as found by :meth:`RunRepository.find_node`: its record, and
    whether it is a ``level`` node above the topics, a ``topic`` or a ``subtopic``."""

    kind: str
    record: dict[str, Any]


class RunRepository(Connection):
    """The ``runs``, ``run_points``, ``topics`` and ``topic_nodes`` tables."""

    def save_run(
        self,
        space_key: str,
        seed: int,
        params: dict[str, Any],
        metrics: dict[str, Any],
        data: dict[str, Any],
        points: Sequence[tuple[str, int, int, float, float]],
        topics: Sequence[tuple[int, str, int, dict[str, Any]]],
        levels: Sequence[Sequence[dict[str, Any]]] = (),
        subtopics: Sequence[dict[str, Any]] = (),
        point_subtopics: Sequence[int] | None = None,
        lineage: Sequence[dict[str, Any]] = (),
        parent_run: int | None = None,
    ) -> int:
        """Store a finished map in one transaction and return its run id.

        ``points`` are ``(doc_id, cluster, raw_cluster, x, y)``; ``topics`` are
        ``(cluster, label, size, data)``; ``levels`` the node records of the hierarchy's levels
        above the topics, top first (``level``, ``node``, ``parent``, ``label``, ``size`` and
        the rest as data); ``subtopics`` the node records of the level below the topics and
        ``point_subtopics`` each point's sub-topic (aligned with ``points``; ``-1``: none);
        ``lineage`` the events against ``parent_run``, the run it was aligned to
        (:mod:`patscape.landscape.lineage`), whose names of continued topics it keeps
        (:meth:`carry_names`).
        """
        with self.transaction("map"):
            cursor = self.db.execute(
                "INSERT INTO runs (space, created_at, seed, params, metrics, data) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    space_key, time.time(), seed, json.dumps(params, sort_keys=True),
                    json.dumps(metrics, ensure_ascii=False), json.dumps(data, ensure_ascii=False),
                ),
            )
            run_id = int(cursor.lastrowid or 0)
            subs = point_subtopics if point_subtopics is not None else [-1] * len(points)
            if len(subs) != len(points):
                raise ValueError(f"{len(subs)} sub-topics for {len(points)} points")
            self.db.executemany(
                "INSERT INTO run_points (run_id, doc_id, cluster, raw_cluster, x, y, subtopic) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, d, int(c), int(r), float(x), float(y), int(s) if s >= 0 else None)
                 for (d, c, r, x, y), s in zip(points, subs)],
            )
            self.db.executemany(
                "INSERT INTO topics VALUES (?, ?, ?, ?, ?)",
                [(run_id, int(c), label, int(size), json.dumps(data, ensure_ascii=False)) for c, label, size, data in topics],
            )
            self.db.executemany(
                "INSERT INTO topic_nodes (run_id, level, node, parent, label, size, data, below) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (run_id, int(node["level"]), int(node["node"]), node["parent"], node["label"], int(node["size"]),
                     json.dumps({k: v for k, v in node.items() if k not in _NODE_COLUMNS}, ensure_ascii=False), below)
                    for below, group in ((0, [n for level in levels for n in level]), (1, list(subtopics)))
                    for node in group
                ],
            )
            if parent_run is not None:
                self.db.executemany(
                    "INSERT INTO lineage VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(run_id, parent_run, int(e["level"]), e["event"], json.dumps(e["old"]), json.dumps(e["new"]),
                      json.dumps(e["counts"])) for e in lineage],
                )
                self._carry_names(parent_run, run_id, len(levels), bool(subtopics), lineage)
        return run_id

    def _carry_names(self, old_run: int, new_run: int, depth: int, has_subtopics: bool,
                     lineage: Sequence[dict[str, Any]]) -> None:
        """Give a new run's continued topics and nodes the names the run it was aligned to had:
        an analyst's always, a namer's (or its fallback) while the membership changed little
        (Jaccard at least :data:`~patscape.landscape.lineage.KEEP_NAME_JACCARD`; else the node is
        named again by the next ``patscape name``). Levels are matched as the alignment matched
        them: from the top, the topics with the topics, the sub-topics with the sub-topics."""
        from ..landscape.lineage import KEEP_NAME_JACCARD

        old_depth = self._topic_level(old_run)
        old_has_sub = self.db.execute("SELECT 1 FROM topic_nodes WHERE run_id = ? AND below = 1 LIMIT 1",
                                      (old_run,)).fetchone() is not None
        kept: dict[tuple[int, int], float] = {}
        for e in lineage:
            if e["event"] in ("continued", "grown", "shrank") and e["old"] == e["new"]:
                kept[(int(e["level"]), int(e["new"][0]))] = float(e["counts"].get("jaccard", 0.0))

        def old_level(level: int) -> int | None:
            if level == depth:
                return old_depth
            if level == depth + 1:
                return old_depth + 1 if has_subtopics and old_has_sub else None
            return level if level < old_depth else None

        rows = {(int(lv), int(node)): (name, source, reason, model, version) for lv, node, name, source, reason, model, version
                in self.db.execute("SELECT level, node, name, source, reason, model, prompt_version FROM topic_names "
                                   "WHERE run_id = ?", (old_run,))}
        carried = []
        for (level, node), jaccard in kept.items():
            source_level = old_level(level)
            row = rows.get((source_level, node)) if source_level is not None else None
            if row is None or (row[1] != "analyst" and jaccard < KEEP_NAME_JACCARD):
                continue
            carried.append((new_run, level, node, *row))
        self.db.executemany("INSERT OR REPLACE INTO topic_names (run_id, level, node, name, source, reason, model, "
                            "prompt_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", carried)

    def delete_runs(self, run_ids: Sequence[int]) -> list[int]:
        """Delete runs (their points, topics, levels, names, lineage and the uploads placed on
        them) in one transaction; returns the ids deleted. An unknown id deletes nothing."""
        wanted = sorted(set(int(r) for r in run_ids))
        known = {run.id for run in self.runs()}
        missing = [r for r in wanted if r not in known]
        if missing:
            raise NotFoundError(f"no run {', '.join(map(str, missing))} in {self.path} (runs: {', '.join(map(str, sorted(known))) or 'none'})")
        with self.transaction("delete runs"):
            for run_id in wanted:
                self.db.execute("DELETE FROM serve_placements WHERE run_id = ?", (run_id,))
                self.db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        return wanted

    def set_run_density(self, run_id: int, density: dict[str, Any]) -> None:
        """Keep the run's density reference (:func:`patscape.locate.run_density`) in its data."""
        with self.transaction("run density"):
            self.db.execute("UPDATE runs SET data = json_set(data, '$.density', json(?)) WHERE id = ?",
                            (json.dumps(density), run_id))

    def name_run(self, run_id: int, name: str | None) -> str | None:
        """Set (or with None, clear) a run's name, by the rules of a topic's name; returns it."""
        from .names import clean_name

        cleaned = clean_name(name) if name is not None else None
        with self.transaction("name run"):
            if self.db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise NotFoundError(f"no run {run_id} in {self.path}")
            if cleaned is None:
                self.db.execute("UPDATE runs SET data = json_remove(data, '$.name') WHERE id = ?", (run_id,))
            else:
                self.db.execute("UPDATE runs SET data = json_set(data, '$.name', ?) WHERE id = ?", (cleaned, run_id))
        return cleaned

    def run_lineage(self, run_id: int) -> list[dict[str, Any]]:
        """The lineage events of a run against the run it was aligned to (empty: not aligned)."""
        return [{"parent_run": int(p), "level": int(level), "event": event, "old": json.loads(old), "new": json.loads(new),
                 "counts": json.loads(counts)}
                for p, level, event, old, new, counts in self.db.execute(
                    "SELECT parent_run, level, event, old, new, counts FROM lineage WHERE run_id = ? ORDER BY rowid",
                    (run_id,))]

    def previous_run(self, run_id: int) -> Any:
        """What a new map aligns to (:class:`~patscape.landscape.lineage.PreviousRun`): run
        ``run_id``'s memberships at every level, its sub-topics and the ids it has used."""
        from ..landscape.lineage import PreviousRun

        run = self.get_run(run_id)
        next_ids = dict((run.data.get("lineage") or {}).get("next_ids") or {})
        return PreviousRun(run_id, self.run_memberships(run_id), self.run_point_subtopics(run_id), next_ids)

    def run_memberships(self, run_id: int) -> list[dict[str, int]]:
        """Each document's node at every level of a run, top first, the topics last (documents
        in a topic only; a run made before hierarchies has the topics' level alone)."""
        levels = self.run_levels(run_id)
        topics = self.run_topics(run_id)
        parent_of = [{n["node"]: n["parent"] for n in level} for level in levels]
        topic_parent = {t["cluster"]: t.get("parent") for t in topics}
        depth = len(levels)
        per_level: list[dict[str, int]] = [{} for _ in range(depth + 1)]
        for doc_id, cluster, _, _, _ in self.run_points(run_id):
            if cluster < 0:
                continue
            per_level[depth][doc_id] = cluster
            node = topic_parent.get(cluster)
            for level in range(depth - 1, -1, -1):
                if node is None:
                    break
                per_level[level][doc_id] = node
                node = parent_of[level].get(node)
        return per_level

    def runs(self) -> list[RunInfo]:
        rows = self.db.execute("SELECT id, space, created_at, seed, params, metrics, data FROM runs ORDER BY id")
        return [
            RunInfo(int(i), s, float(t), int(seed), json.loads(p), json.loads(m), json.loads(d))
            for i, s, t, seed, p, m, d in rows
        ]

    def newest_run(self, space_key: str | None = None) -> RunInfo | None:
        """The newest run (of ``space_key`` when given), or None: the one definition of "the
        current map" used by search, the server and uploads."""
        if space_key is None:
            row = self.db.execute("SELECT id, space, created_at, seed, params, metrics, data FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        else:
            row = self.db.execute(
                "SELECT id, space, created_at, seed, params, metrics, data FROM runs WHERE space = ? ORDER BY id DESC LIMIT 1",
                (space_key,),
            ).fetchone()
        if row is None:
            return None
        i, sp, t, seed, params, metrics, data = row
        return RunInfo(int(i), sp, float(t), int(seed), json.loads(params), json.loads(metrics), json.loads(data))

    def newest_run_head(self, space_key: str | None = None) -> tuple[int, str] | None:
        """``(id, space)`` of :meth:`newest_run`, without decoding its params, metrics and data
        (tens of kilobytes of JSON: a few milliseconds, on every search)."""
        if space_key is None:
            row = self.db.execute("SELECT id, space FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        else:
            row = self.db.execute("SELECT id, space FROM runs WHERE space = ? ORDER BY id DESC LIMIT 1", (space_key,)).fetchone()
        return (int(row[0]), str(row[1])) if row is not None else None

    def get_run(self, run_id: int | None = None) -> RunInfo:
        """The run with this id, or the newest run when ``run_id`` is None."""
        if run_id is None:
            newest = self.newest_run()
            if newest is None:
                raise NotFoundError(f"{self.path} has no runs yet; run `patscape map` first")
            return newest
        runs = self.runs()
        for run in runs:
            if run.id == run_id:
                return run
        if not runs:
            raise NotFoundError(f"{self.path} has no runs yet; run `patscape map` first")
        raise NotFoundError(f"no run {run_id} in {self.path} (runs: {', '.join(str(r.id) for r in runs)})")

    def run_sizes(self, run_id: int) -> tuple[int, int]:
        """``(documents, topics)`` of a run."""
        documents = self.db.execute("SELECT COUNT(*) FROM run_points WHERE run_id = ?", (run_id,)).fetchone()[0]
        topics = self.db.execute("SELECT COUNT(*) FROM topics WHERE run_id = ?", (run_id,)).fetchone()[0]
        return int(documents), int(topics)

    def run_point(self, run_id: int, doc_id: str) -> tuple[int, float, float] | None:
        """``(cluster, x, y)`` of a document on a run, or None."""
        row = self.db.execute(
            "SELECT cluster, x, y FROM run_points WHERE run_id = ? AND doc_id = ?", (run_id, doc_id)
        ).fetchone()
        return (int(row[0]), float(row[1]), float(row[2])) if row is not None else None

    def run_points_of(self, run_id: int, ids: Sequence[str]) -> dict[str, tuple[int, float, float]]:
        """``{doc_id: (cluster, x, y)}`` of those of ``ids`` that are on the run."""
        found: dict[str, tuple[int, float, float]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for doc_id, c, x, y in self.db.execute(
                f"SELECT doc_id, cluster, x, y FROM run_points WHERE run_id = ? AND doc_id IN ({marks})", (run_id, *chunk)
            ):
                found[doc_id] = (int(c), float(x), float(y))
        return found

    def unplaced_ids(self, run_id: int, space_key: str, only: Sequence[str] | None = None) -> list[str]:
        """Documents with a vector in the space that are not on the run: without ``only``, those
        not placed yet either; with ``only``, those of ``only`` (placed before or not)."""
        sql = (
            "SELECT v.doc_id FROM vectors v JOIN documents d ON d.id = v.doc_id WHERE v.space = ? AND NOT EXISTS "
            "(SELECT 1 FROM run_points r WHERE r.run_id = ? AND r.doc_id = v.doc_id)"
        )
        if only is None:
            sql += " AND NOT EXISTS (SELECT 1 FROM serve_placements p WHERE p.run_id = ? AND p.doc_id = v.doc_id)"
            return [row[0] for row in self.db.execute(sql + " ORDER BY v.doc_id", (space_key, run_id, run_id))]
        found: list[str] = []
        wanted = sorted(set(only))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found += [row[0] for row in self.db.execute(f"{sql} AND v.doc_id IN ({marks})", (space_key, run_id, *chunk))]
        return sorted(found)

    def run_points(self, run_id: int) -> list[tuple[str, int, int, float, float]]:
        rows = self.db.execute(
            "SELECT doc_id, cluster, raw_cluster, x, y FROM run_points WHERE run_id = ? ORDER BY doc_id", (run_id,)
        )
        return [(d, int(c), int(r), float(x), float(y)) for d, c, r, x, y in rows]

    def run_levels(self, run_id: int) -> list[list[dict[str, Any]]]:
        """The node records of a run's levels above its topics, top first (empty for a run
        made before hierarchies, or with none)."""
        levels: list[list[dict[str, Any]]] = []
        for level, node, parent, label, size, data in self.db.execute(
            "SELECT level, node, parent, label, size, data FROM topic_nodes WHERE run_id = ? AND below = 0 "
            "ORDER BY level, node", (run_id,)
        ):
            while len(levels) <= level:
                levels.append([])
            levels[level].append({"level": int(level), "node": int(node), "parent": parent, "label": label,
                                  "size": int(size), **json.loads(data)})
        names = self._names(run_id)
        for records in levels:
            for record in records:
                _named(record, names.get((record["level"], record["node"])))
        return levels

    def run_subtopics(self, run_id: int) -> list[dict[str, Any]]:
        """The node records of a run's sub-topics (the level below its topics; ``parent``: the
        topic), a name where there is one as their label; empty for a run without."""
        out = []
        names = self._names(run_id)
        for level, node, parent, label, size, data in self.db.execute(
            "SELECT level, node, parent, label, size, data FROM topic_nodes WHERE run_id = ? AND below = 1 ORDER BY node",
            (run_id,),
        ):
            record = {"level": int(level), "node": int(node), "parent": parent, "label": label, "size": int(size),
                      **json.loads(data)}
            _named(record, names.get((record["level"], record["node"])))
            out.append(record)
        return out

    def run_point_subtopics(self, run_id: int, ids: Sequence[str] | None = None) -> dict[str, int]:
        """``{doc_id: sub-topic}`` of a run's documents that have one (of ``ids`` when given)."""
        sql = "SELECT doc_id, subtopic FROM run_points WHERE run_id = ? AND subtopic IS NOT NULL"
        if ids is None:
            return {d: int(s) for d, s in self.db.execute(sql, (run_id,))}
        found: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            found.update((d, int(s)) for d, s in self.db.execute(f"{sql} AND doc_id IN ({marks})", (run_id, *chunk)))
        return found

    def find_node(self, run_id: int, level: int, node: int) -> NodeRef:
        """The node ``node`` of ``level`` (0 the top; the topics at the level numbered by the
        levels above them, by cluster; their sub-topics one below), or :class:`NotFoundError`
        saying which levels and nodes exist."""
        levels = self.run_levels(run_id)
        depth = len(levels)
        subtopics = self.run_subtopics(run_id)
        deepest = depth + (1 if subtopics else 0)
        if not 0 <= level <= deepest:
            where = f"the topics are level {depth}" + (f", their sub-topics level {deepest}" if subtopics else "")
            raise NotFoundError(f"run {run_id} has no level {level}: its levels are 0-{deepest} ({where})")
        kind = "level" if level < depth else "topic" if level == depth else "subtopic"
        records = levels[level] if kind == "level" else self.run_topics(run_id) if kind == "topic" else subtopics
        key = "cluster" if kind == "topic" else "node"
        found = next((r for r in records if r[key] == node), None)
        if found is None:
            there = ", ".join(str(r[key]) for r in records[:20]) + (" ..." if len(records) > 20 else "")
            raise NotFoundError(f"run {run_id} has no node {node} at level {level} (there: {there})")
        return NodeRef(kind, found)

    def _names(self, run_id: int) -> dict[tuple[int, int], tuple[str, str]]:
        """``{(level, node): (name, source)}`` of a run's named topics and nodes."""
        rows = self.db.execute("SELECT level, node, name, source FROM topic_names WHERE run_id = ?", (run_id,))
        return {(int(level), int(node)): (name, source) for level, node, name, source in rows}

    def run_topic_labels(self, run_id: int, clusters: Sequence[int] | None = None) -> dict[int, str]:
        """``{cluster: label}`` of a run's topics (of ``clusters`` when given; a name where the
        topic has one): without the topics' data, which a search would otherwise decode for
        every topic on every call."""
        depth = self._topic_level(run_id)
        # a topic's name where it has one: only the hits' names are read, in the same query
        sql = ("SELECT t.cluster, COALESCE(n.name, t.label) FROM topics t LEFT JOIN topic_names n "
               "ON n.run_id = t.run_id AND n.level = ? AND n.node = t.cluster WHERE t.run_id = ?")
        if clusters is None:
            return {int(c): label for c, label in self.db.execute(sql, (depth, run_id))}
        wanted = sorted(set(int(c) for c in clusters))
        found: dict[int, str] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update((int(c), label) for c, label in
                         self.db.execute(f"{sql} AND t.cluster IN ({marks})", (depth, run_id, *chunk)))
        return found

    def _topic_level(self, run_id: int) -> int:
        """The level of a run's topics (the number of levels above them)."""
        deepest = self.db.execute("SELECT MAX(level) FROM topic_nodes WHERE run_id = ? AND below = 0", (run_id,)).fetchone()[0]
        return 0 if deepest is None else int(deepest) + 1

    def run_topics(self, run_id: int) -> list[dict[str, Any]]:
        """A run's topics; a topic named by a namer or an analyst has its name as ``label``, its
        keyword label as ``keyword_label`` and ``name_source`` ("namer", "fallback", "analyst")."""
        rows = self.db.execute(
            "SELECT cluster, label, size, data FROM topics WHERE run_id = ? ORDER BY cluster", (run_id,)
        )
        topics = [{"cluster": int(c), "label": label, "size": int(n), **json.loads(data)} for c, label, n, data in rows]
        names = self._names(run_id)
        depth = self._topic_level(run_id)
        for topic in topics:
            _named(topic, names.get((depth, topic["cluster"])))
        return topics
