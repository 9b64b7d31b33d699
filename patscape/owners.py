"""Owners: assignee names normalised into organisations, and who holds what.

A patent's assignee field may hold several owners (``;``, ``；`` or one per line, as the
sources write their lists). Each name is reduced to a **key**: Unicode NFKC, case folded, the
punctuation and the whitespace collapsed, common abbreviations of patent registers written out
(``res`` research, ``lab``/``labs`` laboratory, ``univ`` university, ``tech``/``technol``
technology, ``ind``/``inds`` industries, ``mfg`` manufacturing, ``intl`` international, ...) and
the legal forms removed wherever they end (or, for the CJK ones, start) the name: Inc., Corp.,
Co., Ltd., LLC, GmbH, AG, S.A., N.V., B.V., K.K., PLC, S.p.A., Oy, AB, Pty, Pte, 株式会社,
有限会社, 有限公司, 股份有限公司, 有限责任公司, 주식회사, (주) and the like, repeatedly ("Co.,
Ltd."). Names with the same key are one organisation, shown by its most frequent way of
writing ("variants" lists them all). Nothing else is merged: "Samsung Electronics" and
"Samsung SDI" stay two organisations, as do a company and its subsidiary, because only an
analyst knows which of those are one player.

An **alias file** (``patscape owners STORE --aliases owners.csv``: a CSV with the columns
``name`` and ``organisation``, header optional) says so, and is kept in the store for every
later view. Each name is given to the organisation named, and so is every other writing of the
same key: one row per organisation is enough to merge all its writings (several rows naming one
organisation merge several keys). Rows whose names share a key but name different organisations
split that key: each of those names goes where its row says, and the writings no row names stay
as the rules put them.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError

#: What separates several owners in one assignee field.
_SEPARATORS = re.compile(r"\s*(?:;|；|\n|\|)\s*")
#: Legal forms, as tokens after punctuation is removed, longest first (matched at the end of a name).
_LEGAL_TAILS = sorted((tuple(form.split()) for form in (
    "incorporated", "inc", "corporation", "corp", "company", "co", "limited", "ltd", "llc", "l l c", "lp", "llp",
    "plc", "gmbh", "mbh", "ag", "kg", "kgaa", "co kg", "gmbh co kg", "se", "sa", "s a", "sas", "s a s", "sarl",
    "s a r l", "srl", "s r l", "spa", "s p a", "nv", "n v", "bv", "b v", "kk", "k k", "kabushiki kaisha", "kaisha",
    "oy", "oyj", "ab", "as", "a s", "aps", "asa", "pty", "pte", "bhd", "sdn bhd", "ltda", "sl", "s l", "sro",
    "s r o", "zrt", "kft", "doo", "d o o", "ooo", "ao", "pjsc", "jsc", "llc ltd",
    "aktiengesellschaft", "kommanditgesellschaft", "gesellschaft mit beschrankter haftung",
    "gesellschaft mit beschränkter haftung", "societe anonyme", "société anonyme", "sociedad anonima",
    "sociedad anónima", "societa per azioni", "società per azioni", "naamloze vennootschap",
    "besloten vennootschap", "public limited company", "limited liability company", "kabushiki gaisha",
    "yugen kaisha", "godo kaisha",
)), key=len, reverse=True)
#: CJK legal forms, at either end of a name.
_CJK_FORMS = ("股份有限公司", "有限责任公司", "有限責任公司", "有限公司", "株式会社", "有限会社", "合同会社", "合资会社",
              "주식회사", "유한회사", "(주)", "㈜", "公司")
#: Abbreviations of patent registers, written out (a token as a whole).
_ABBREVIATIONS = {
    "res": "research", "rsch": "research", "lab": "laboratory", "labs": "laboratory", "laboratories": "laboratory",
    "lab.": "laboratory", "univ": "university", "tech": "technology", "techn": "technology", "technol": "technology",
    "technologies": "technology", "ind": "industries", "inds": "industries", "industry": "industries",
    "industrial": "industries", "mfg": "manufacturing", "intl": "international", "int": "international",
    "natl": "national", "nat": "national", "chem": "chemical", "chemicals": "chemical", "eng": "engineering",
    "sys": "systems", "system": "systems", "elec": "electric", "electr": "electronics", "electronic": "electronics",
    "inst": "institute", "ctr": "center", "centre": "center", "assoc": "association", "dev": "development",
    "&": "and", "mat": "materials", "mats": "materials", "material": "materials",
}
_DOTTED = re.compile(r"(?<![a-z0-9])(?:[a-z]\.){2,}(?:[a-z](?![a-z0-9]))?")
_PUNCT = re.compile(r"[\s\.,'\"`´’()\[\]{}!?:/\\\-–—_+*#@~^=<>]+")


def split_owners(assignee: str | None) -> list[str]:
    """The owners of one assignee field, as written (empty parts dropped, repeats once)."""
    if not assignee:
        return []
    seen: dict[str, None] = {}
    for part in _SEPARATORS.split(assignee):
        part = " ".join(part.split())
        if part:
            seen.setdefault(part, None)
    return list(seen)


def owner_key(name: str) -> str:
    """The key organisations are merged by (see the module's text); empty for a name that is a
    legal form only."""
    text = unicodedata.normalize("NFKC", name).casefold().strip()
    text = text.replace("(주)", " ").replace("㈜", " ")
    for form in _CJK_FORMS:  # at either end, repeatedly
        changed = True
        while changed:
            changed = False
            stripped = text.strip()
            if stripped.endswith(form) and len(stripped) > len(form):
                text, changed = stripped[: -len(form)], True
            elif stripped.startswith(form) and len(stripped) > len(form):
                text, changed = stripped[len(form) :], True
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)  # "g.m.b.h." -> "gmbh", "n.v." -> "nv"
    text = text.replace("&", " & ")
    tokens = [t for t in _PUNCT.sub(" ", text).split() if t]
    tokens = [_ABBREVIATIONS.get(t, t) for t in tokens]
    if tokens and tokens[0] == "the":
        tokens = tokens[1:]
    changed = True
    while changed and tokens:
        changed = False
        for form in _LEGAL_TAILS:
            if len(tokens) > len(form) and tuple(tokens[-len(form) :]) == form:
                tokens = tokens[: -len(form)]
                changed = True
                break
        while tokens and tokens[-1] == "and":  # "Foo & Co." -> "foo"
            tokens = tokens[:-1]
            changed = True
    return " ".join(tokens)


@dataclass(slots=True)
class Organisation:
    """One organisation: its key, the name it is shown by and the ways it is written."""

    key: str
    name: str
    variants: Counter[str] = field(default_factory=Counter)


class Owners:
    """Every owner name of a corpus resolved to its organisation (:func:`owner_key` and the
    aliases)."""

    def __init__(self, names: Mapping[str, int], aliases: Mapping[str, str] | None = None) -> None:
        """``names``: each owner name as written, with the patents it is on; ``aliases``: name
        (as written, or any name of that key) -> organisation."""
        aliases = dict(aliases or {})
        # an alias also takes the other writings of its name's key, unless rows of that key
        # disagree (a split: then each name goes where its own row says, the rest stay)
        targets: dict[str, set[str]] = {}
        for n, org in aliases.items():
            if owner_key(n):
                targets.setdefault(owner_key(n), set()).add(org)
        by_key_alias = {k: next(iter(orgs)) for k, orgs in targets.items() if len(orgs) == 1}
        self._of: dict[str, str] = {}
        self.organisations: dict[str, Organisation] = {}
        for name, count in names.items():
            if name in aliases:
                key, fixed = "alias:" + owner_key(aliases[name]), aliases[name]
            else:
                k = owner_key(name) or name.casefold()
                if k in by_key_alias:
                    key, fixed = "alias:" + owner_key(by_key_alias[k]), by_key_alias[k]
                else:
                    key, fixed = k, None
            org = self.organisations.setdefault(key, Organisation(key, fixed or name))
            org.variants[name] += count
            self._of[name] = key
        for org in self.organisations.values():
            if not org.key.startswith("alias:"):  # shown by its most frequent writing (ties: the shortest, then A-Z)
                org.name = min(org.variants, key=lambda v: (-org.variants[v], len(v), v))

    def of(self, name: str) -> Organisation:
        """The organisation of an owner name as written (one of the names given)."""
        return self.organisations[self._of[name]]

    def of_field(self, assignee: str | None) -> list[Organisation]:
        """The organisations of one assignee field, each once."""
        seen: dict[str, Organisation] = {}
        for name in split_owners(assignee):
            org = self.of(name) if name in self._of else self._single(name)
            seen.setdefault(org.key, org)
        return list(seen.values())

    def _single(self, name: str) -> Organisation:
        key = owner_key(name) or name.casefold()
        return self.organisations.get(key) or Organisation(key, name, Counter({name: 0}))


def corpus_owners(assignees: Iterable[str | None], aliases: Mapping[str, str] | None = None) -> Owners:
    """The :class:`Owners` of a corpus's assignee fields."""
    names: Counter[str] = Counter()
    for assignee in assignees:
        names.update(split_owners(assignee))
    return Owners(names, aliases)


def read_aliases(path: str | Path) -> dict[str, str]:
    """An alias file: CSV rows ``name,organisation`` (a header row ``name,organisation`` is
    skipped); a clear error for anything else."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read the alias file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"the alias file {path} is not UTF-8 text") from exc
    aliases: dict[str, str] = {}
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if number == 1 and [c.strip().casefold() for c in row[:2]] == ["name", "organisation"]:
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise InputError(f"{path}, line {number}: want two columns, name,organisation (got {len(row)}: {row!r})")
        name, organisation = " ".join(row[0].split()), " ".join(row[1].split())
        if name in aliases and aliases[name] != organisation:
            raise InputError(f"{path}, line {number}: {name!r} is given to both {aliases[name]!r} and {organisation!r}")
        aliases[name] = organisation
    return aliases


def summary(owners: Owners) -> dict[str, Any]:
    """Distinct names and organisations (how much the normalisation merged)."""
    return {"names": sum(len(o.variants) for o in owners.organisations.values()),
            "organisations": len(owners.organisations)}


# -- who holds what ------------------------------------------------------------------------------
#: Topics listed per organisation.
TOPICS_PER_OWNER = 5


def owner_view(
    store: Any, run_id: int | None = None, topic: int | None = None, level: int | None = None,
    top: int | None = 20, by_family: bool = False, all_topics: bool = False, ids: bool = False,
) -> dict[str, Any]:
    """The organisations of a run's patents (of node ``topic`` at ``level`` when given; the
    level counts from 0 at the top, the topics' by default), most patents first (most families
    with ``by_family``), each with its variants, patents, families, share, years, growth (the
    fit of the topics' growth over the same recent years) and topics at ``level`` (its first
    :data:`TOPICS_PER_OWNER`; every one with ``all_topics``); ``ids``: with its patents' ids."""
    from .families import family_key
    from .flows import node_labels
    from .landscape.evolution import Calendar, _growth

    run = store.get_run(run_id)
    memberships = store.run_memberships(run.id)
    depth = len(memberships) - 1
    shown = depth if level is None else level
    if not 0 <= shown <= depth:
        raise InputError(f"run {run.id} has levels 0 to {depth} (the topics are level {depth})")
    members = memberships[shown]
    labels = node_labels(store, run, shown)
    if topic is not None and topic not in labels:
        raise InputError(f"no node {topic} at level {shown} of run {run.id}")
    ids = [d for d, *_ in store.run_points(run.id)]
    docs = list(store.iter_documents(ids, texts=False))
    inferred = store.inferred_families()

    def family_of(doc: Any) -> str:
        return family_key(doc, inferred)

    owners = corpus_owners((d.assignee for d in docs), store.owner_aliases())
    scope = [d for d in docs if topic is None or members.get(d.id) == topic]
    calendar = Calendar(scope) if scope else None
    held: dict[str, list[Any]] = {}
    for doc in scope:
        for org in owners.of_field(doc.assignee):
            held.setdefault(org.key, []).append(doc)
    with_owner = sum(1 for d in scope if split_owners(d.assignee))
    families_in_scope = len({family_of(d) for d in scope})
    rows = []
    for key, own in held.items():
        org = owners.organisations[key]
        years = Counter(d.year for d in own if d.year is not None)
        window = [years.get(y, 0) for y in calendar.window] if calendar is not None and not calendar.empty else []
        topics = Counter(members[d.id] for d in own if d.id in members)
        families = len({family_of(d) for d in own})
        rows.append({
            "name": org.name, "key": org.key,
            "variants": [{"name": v, "patents": n} for v, n in sorted(org.variants.items(), key=lambda kv: (-kv[1], kv[0]))],
            "patents": len(own), "families": families,
            "share": round(len(own) / max(len(scope), 1), 4),
            "family_share": round(families / max(families_in_scope, 1), 4),
            "first_year": min(years) if years else None, "last_year": max(years) if years else None,
            "per_year": {str(y): n for y, n in sorted(years.items())},
            "growth": _growth(window) if window else None, "recent": sum(window),
            "topics": [{"node": n, "label": labels.get(n, ""), "patents": c}
                       for n, c in sorted(topics.items(), key=lambda kv: (-kv[1], kv[0]))[: None if all_topics else TOPICS_PER_OWNER]],
            **({"ids": sorted(d.id for d in own)} if ids else {}),
        })
    rows.sort(key=lambda r: (-(r["families"] if by_family else r["patents"]), -r["patents"], r["name"]))
    return {
        "run": run.id, "level": shown, "topic": topic, "topic_label": labels.get(topic) if topic is not None else None,
        "counted": "families" if by_family else "patents",
        "documents": len(scope), "families": families_in_scope, "with_owner": with_owner,
        "recent_years": [calendar.first_recent, calendar.end] if calendar is not None and not calendar.empty else None,
        "names": len({n for d in scope for n in split_owners(d.assignee)}), "organisations": len(held),
        "aliases": len(store.owner_aliases()),
        "owners": rows[:top] if top else rows,
    }
