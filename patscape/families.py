"""Families: one invention published several times (in several offices, as application and
grant). Analysts count inventions, not publications.

A patent's family is the one its data gives (``extra.family_id``, e.g. DOCDB, or a ``family``
column, which ingest keeps in ``extra``); where the data gives none, one can be **inferred**
(``patscape families STORE --infer``): publications with the same title and abstract, once case
and whitespace are folded, are one invention (the same text filed in several offices, an A1 and
its B2). Inferred families are stored apart from the documents (their text, and so their
vectors, never change), marked as inferred, and replaced by the next ``--infer``. A patent with
neither is a family of one.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from typing import Any

from .records import Document

#: Fewest characters of title + abstract a text needs to be matched (shorter texts, e.g. a bare
#: title, match too easily by accident).
MIN_TEXT = 40


def given_family(doc: Document) -> str | None:
    """The family the data gives a patent (``extra.family_id`` or ``extra.family``), if any."""
    extra = doc.extra if isinstance(doc.extra, dict) else {}
    for name in ("family_id", "family"):
        value = extra.get(name)
        if value not in (None, ""):
            return str(value)
    return None


def family_key(doc: Document, inferred: dict[str, str] | None = None) -> str:
    """The key of a patent's family: ``family:ID`` as given, else ``inferred:...`` as inferred,
    else ``doc:ID`` (a family of one)."""
    given = given_family(doc)
    if given is not None:
        return f"family:{given}"
    if inferred and doc.id in inferred:
        return f"inferred:{inferred[doc.id]}"
    return f"doc:{doc.id}"


def _text_key(doc: Document) -> str | None:
    text = " ".join(f"{doc.title} {doc.abstract}".casefold().split())
    if len(text) < MIN_TEXT:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def infer_families(docs: Iterable[Document]) -> dict[str, str]:
    """Families of the patents the data gives none: those sharing title and abstract (case and
    whitespace folded; at least :data:`MIN_TEXT` characters), in groups of two or more; each
    patent -> its group's key."""
    groups: dict[str, list[str]] = {}
    for doc in docs:
        if given_family(doc) is not None:
            continue
        key = _text_key(doc)
        if key is not None:
            groups.setdefault(key, []).append(doc.id)
    return {doc_id: key for key, members in groups.items() if len(members) > 1 for doc_id in members}


def family_summary(docs: list[Document], inferred: dict[str, str] | None = None) -> dict[str, Any]:
    """Publications and families: how many, how many with several members, the largest, and
    where the families come from."""
    keys = [family_key(d, inferred) for d in docs]
    sizes = Counter(keys)
    kinds = Counter(k.split(":", 1)[0] for k in sizes)
    several = [n for n in sizes.values() if n > 1]
    return {
        "publications": len(docs), "families": len(sizes), "with_several": len(several),
        "in_families_of_several": sum(several), "largest": max(sizes.values(), default=0),
        "given": kinds.get("family", 0), "inferred": kinds.get("inferred", 0), "single": kinds.get("doc", 0),
        "sizes": dict(sorted(Counter(sizes.values()).items())),
    }
