"""Emerging technologies: the bursts (:mod:`patscape.landscape.bursts`) of a run's topics at every
level, of IPC/CPC main groups, of owners (organisations: :mod:`patscape.owners`) and of the run's
label keyphrases, over the years (or months) of the patents' dates, ranked by strength, with the counts behind them.

A patent is dated by its priority date where the data has one (``extra.priority_date``), else
its filing date (``extra.filing_date``), else its publication date (``date``); the result says
how many of each were used. Batches are the years (or, with ``by_month``, the months) from the
first dated patent to the last, empty ones included; an item is counted at most once per patent
and needs :data:`MIN_DOCUMENTS` dated patents to be looked at. A burst still running in the last
batch is marked ``running`` (the last year may be partial: its share, not its count, is read, so
a half-counted year does not read as a fall).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .codes import main_group
from .errors import InputError
from .landscape.bursts import GAMMA, STATES, S, bursts
from .records import Document
from .store import Store

#: Fewest dated patents an item needs for its bursts to be looked for.
MIN_DOCUMENTS = 5
KINDS = ("topic", "code", "assignee", "term")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?")


@dataclass(frozen=True, slots=True)
class Stream:
    """The batches of a corpus: their names, every document's batch, the documents per batch."""

    names: list[str]
    batch_of: dict[str, int]
    totals: list[int]
    date_sources: dict[str, int]


def date_of(doc: Document) -> tuple[str | None, str]:
    """A patent's date for bursts and the field it came from."""
    extra = doc.extra if isinstance(doc.extra, dict) else {}
    for field in ("priority_date", "filing_date"):
        value = extra.get(field)
        if isinstance(value, str) and _DATE.match(value):
            return value, field
    return (doc.date, "publication_date") if doc.date and _DATE.match(doc.date) else (None, "none")


def stream(docs: Iterable[Document], by_month: bool = False) -> Stream:
    """The batches (years, or months) of ``docs``' dates."""
    keys: dict[str, tuple[int, int]] = {}
    sources: Counter[str] = Counter()
    for doc in docs:
        value, source = date_of(doc)
        sources[source] += 1
        if value is None:
            continue
        match = _DATE.match(value)
        assert match is not None
        year, month = int(match.group(1)), int(match.group(2) or 0)
        if by_month and not 1 <= month <= 12:
            sources["no_month"] += 1
            continue
        keys[doc.id] = (year, month if by_month else 0)
    if not keys:
        raise InputError("no patent of this run has a date (priority, filing or publication): "
                         "bursts need dated patents; ingest records with a date field")
    first, last = min(keys.values()), max(keys.values())
    if by_month:
        names = []
        year, month = first
        while (year, month) <= last:
            names.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        index = {name: i for i, name in enumerate(names)}
        batch_of = {d: index[f"{y:04d}-{m:02d}"] for d, (y, m) in keys.items()}
    else:
        names = [str(y) for y in range(first[0], last[0] + 1)]
        batch_of = {d: y - first[0] for d, (y, _) in keys.items()}
    totals = [0] * len(names)
    for b in batch_of.values():
        totals[b] += 1
    return Stream(names, batch_of, totals, dict(sources))


def item_bursts(
    s: Stream, members: Iterable[tuple[str, Any]], describe: dict[Any, dict[str, Any]] | None = None,
    sensitivity: float = S, gamma: float = GAMMA, states: int = STATES,
    totals_of: Callable[[Any], list[int]] | None = None,
) -> list[dict[str, Any]]:
    """The bursts of the items of ``members`` (``(document, item)`` pairs; an item counts once per
    document) over stream ``s``; ``describe[item]`` is merged into each burst's record;
    ``totals_of(item)``: the documents per batch the item is counted among (default: all)."""
    per_item: dict[Any, list[int]] = {}
    seen: set[tuple[str, Any]] = set()
    for doc_id, item in members:
        batch = s.batch_of.get(doc_id)
        if batch is None or (doc_id, item) in seen:
            continue
        seen.add((doc_id, item))
        per_item.setdefault(item, [0] * len(s.names))[batch] += 1
    out = []
    last = len(s.names) - 1
    for item, counts in per_item.items():
        if sum(counts) < MIN_DOCUMENTS:
            continue
        totals = totals_of(item) if totals_of is not None else s.totals
        for b in bursts(counts, totals, sensitivity, gamma, states):
            out.append({
                "item": item, **(describe or {}).get(item, {}),
                "begin": s.names[b.begin], "end": s.names[b.end], "strength": b.strength, "level_reached": b.level,
                "running": b.end == last, "counts": b.counts, "totals": b.totals,
                "item_documents": sum(counts),
            })
    return out


def emerging(
    store: Store, run_id: int | None = None, by: str = "topic", since: int | None = None, by_month: bool = False,
    sensitivity: float = S, gamma: float = GAMMA,
) -> dict[str, Any]:
    """The bursts of run ``run_id``'s (the newest by default) items of kind ``by``, strongest
    first; ``since``: only bursts still running at or after that year."""
    if by not in KINDS:
        raise InputError(f"unknown kind {by!r}; choose from {', '.join(KINDS)}")
    run = store.get_run(run_id)
    points = store.run_points(run.id)
    ids = [p[0] for p in points]
    docs = list(store.iter_documents(ids, texts=by == "term"))
    s = stream(docs, by_month)
    describe: dict[Any, dict[str, Any]] = {}
    members: list[tuple[str, Any]] = []
    if by == "topic":
        levels = store.run_levels(run.id)
        depth = len(levels)
        for level, records in enumerate(levels):
            for n in records:
                describe[(level, n["node"])] = {"level": level, "label": n["label"]}
        for t in store.run_topics(run.id):
            describe[(depth, t["cluster"])] = {"level": depth, "label": t["label"]}
        for sub in store.run_subtopics(run.id):
            describe[(depth + 1, sub["node"])] = {"level": depth + 1, "label": sub["label"]}
        partitions = [*store.run_memberships(run.id), store.run_point_subtopics(run.id)]
        members = [(d, (level, node)) for level, partition in enumerate(partitions) for d, node in partition.items()]
    elif by == "code":
        for doc in docs:
            for scheme, codes in (("cpc", doc.cpc), ("ipc", doc.ipc)):
                for code in codes:
                    group = main_group(code)
                    if group:
                        members.append((doc.id, (scheme, group)))
                        describe[(scheme, group)] = {"scheme": scheme}
    elif by == "assignee":  # organisations (patscape.owners: normalised names and the store's aliases)
        from .owners import corpus_owners

        owners = corpus_owners((doc.assignee for doc in docs), store.owner_aliases())
        for doc in docs:
            for org in owners.of_field(doc.assignee):
                members.append((doc.id, org.key))
                describe[org.key] = {"name": org.name, "variants": len(org.variants)}
    totals_of: Callable[[Any], list[int]] | None = None
    if by == "term":
        # a term is counted among the patents of its own language: in a corpus whose languages
        # cover different years, a word of one of them would otherwise "burst" with it
        members, describe = _term_members(store, run.id, docs)
        by_lang: dict[str, list[int]] = {}
        for doc in docs:
            batch = s.batch_of.get(doc.id)
            if batch is not None:
                by_lang.setdefault(doc.lang or "?", [0] * len(s.names))[batch] += 1

        def of_its_language(item: Any) -> list[int]:
            return by_lang[item[0]]

        totals_of = of_its_language

    found = item_bursts(s, members, describe, sensitivity, gamma, totals_of=totals_of)
    for entry in found:
        if by == "assignee":  # an organisation is shown by its name; its key stays beside it
            entry["key"], entry["item"] = entry["item"], entry.pop("name")
        if isinstance(entry["item"], tuple):  # (level, node), (scheme, group), (language, term)
            entry["item"] = entry["item"][1]
    if since is not None:
        found = [e for e in found if int(e["end"][:4]) >= since]
    found.sort(key=lambda e: (-e["strength"], str(e["item"])))
    return {"run": run.id, "by": by, "batches": "month" if by_month else "year", "first": s.names[0],
            "last": s.names[-1], "dates": s.date_sources, "parameters": {"s": sensitivity, "gamma": gamma, "states": STATES,
                                                                           "min_documents": MIN_DOCUMENTS},
            "bursts": found}


def _term_members(store: Store, run_id: int, docs: Sequence[Document]) -> tuple[list[tuple[str, Any]], dict[Any, dict[str, Any]]]:
    """Each patent's label keyphrases, as ``(language, term)`` items: the keywords of the run's
    topics (every language), found in the patent's text as the labels read it."""
    from .landscape.label import keyword_matrix, label_texts
    from .text import display_phrase

    wanted: set[str] = set()
    for topic in store.run_topics(run_id):
        for words in (topic.get("keywords") or {}).values():
            wanted.update(str(w[0] if isinstance(w, (list, tuple)) else w) for w in words[:10])
    matrix, terms = keyword_matrix(*label_texts(docs))
    columns = {j: display_phrase(t) for j, t in enumerate(terms) if display_phrase(t) in wanted}
    matrix = matrix.tocsc()
    members = []
    describe: dict[Any, dict[str, Any]] = {}
    for j, term in columns.items():
        for i in matrix.indices[matrix.indptr[j] : matrix.indptr[j + 1]].tolist():
            key = (docs[i].lang or "?", term)
            members.append((docs[i].id, key))
            describe[key] = {"lang": key[0]}
    return members, describe
