"""Naming a stored run's hierarchy with a chat model (:mod:`patscape.naming`). The store then
gives a name, where there is one, as the label of its topic or node wherever a label is shown or
exported, with the keyword label beside it (:meth:`patscape.store.Store.run_topics`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from ..naming import NamingSummary, StoreNameCache, TopicToName, name_tree
from ..naming.prompts import PROMPT_VERSION
from ..store import Store


def _members_hash(ids: list[str]) -> str:
    digest = hashlib.sha256()
    for doc_id in sorted(ids):
        digest.update(doc_id.encode("utf-8") + b"\0")
    return digest.hexdigest()


def _evidence(record: dict[str, Any], level: int, node: int, parent: int | None, members: list[str]) -> TopicToName:
    codes = record.get("codes") or {}
    main = codes.get("ipc_main") or codes.get("cpc_main") or []
    return TopicToName(
        level=level, node=node, parent=parent,
        keyphrases={lang: [str(k[0] if isinstance(k, (list, tuple)) else k) for k in words[:8]]
                    for lang, words in (record.get("keywords") or {}).items()},
        codes=[(str(c[0]), c[2] if len(c) > 2 else None, float(c[1])) for c in main[:3]],
        titles=[r.get("title", "") for r in record.get("representatives") or [] if r.get("title")][:5],
        members_hash=_members_hash(members),
        label=str(record.get("keyword_label") or record["label"]),
    )


def run_topics_to_name(store: Store, run_id: int) -> list[TopicToName]:
    """The evidence of every node of a run's hierarchy: the levels above its topics, the topics
    and their sub-topics (the level below them, named first)."""
    levels = store.run_levels(run_id)
    depth = len(levels)
    # each node's documents, level by level (top first), then the sub-topics'
    members: list[dict[int, list[str]]] = []
    for partition in [*store.run_memberships(run_id), store.run_point_subtopics(run_id)]:
        by_node: dict[int, list[str]] = {}
        for doc_id, node in partition.items():
            by_node.setdefault(node, []).append(doc_id)
        members.append(by_node)
    out = [_evidence(t, depth, t["cluster"], t.get("parent") if depth else None, members[depth].get(t["cluster"], []))
           for t in store.run_topics(run_id)]
    out += [_evidence(s, depth + 1, s["node"], s["parent"], members[depth + 1].get(s["node"], []))
            for s in store.run_subtopics(run_id)]
    for level in range(depth - 1, -1, -1):
        out += [_evidence(n, level, n["node"], n.get("parent"), members[level].get(n["node"], [])) for n in levels[level]]
    return out


def name_run(
    store: Store, run_id: int, namer: str, language: str | None = None, notice: Callable[[str], None] | None = None
) -> NamingSummary:
    """Name run ``run_id``'s topics and levels with ``namer`` (``openai:MODEL@URL``) and store
    the names (an analyst's rename is kept). Cached: naming the same run again sends nothing."""
    result = name_tree(run_topics_to_name(store, run_id), namer, language=language, cache=StoreNameCache(store),
                       notice=notice)
    store.save_topic_names(run_id, result.rows(), result.summary.model, result.summary.prompt_version)
    return result.summary


__all__ = ["PROMPT_VERSION", "name_run", "run_topics_to_name"]
