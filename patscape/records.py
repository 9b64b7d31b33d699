"""Frozen records that flow between the stages."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

#: Fields whose content defines a document; a change in any of them is a new version.
CONTENT_FIELDS = ("title", "abstract", "text", "lang", "date", "cpc", "ipc", "assignee")
#: Content fields added later: hashed only when non-empty, so older documents keep their hash.
OPTIONAL_CONTENT_FIELDS = ("claims", "description")


@dataclass(frozen=True, slots=True)
class Document:
    """One patent (or any long technical document) as stored.

    ``claims`` holds one claim per line and ``description`` one paragraph per line; ``text`` is
    body text of unknown structure (a plain-text file, or only the main claim of a source).
    ``cpc``/``ipc`` hold classification codes in the order of the source, e.g. ``G06F3/013``.
    ``date`` is an ISO date ``YYYY-MM-DD`` (or a prefix of one) or ``None``.
    """

    id: str
    title: str = ""
    abstract: str = ""
    text: str = ""
    claims: str = ""
    description: str = ""
    lang: str | None = None
    date: str | None = None
    cpc: tuple[str, ...] = ()
    ipc: tuple[str, ...] = ()
    assignee: str | None = None
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    #: Where the record was read: (file, position such as "line 12"); not stored.
    origin: tuple[str, str] | None = field(default=None, compare=False, hash=False)

    @property
    def content_hash(self) -> str:
        """SHA-256 over the content fields; identical patents hash alike whatever their source."""
        values: list[Any] = [getattr(self, name) for name in CONTENT_FIELDS]
        values += [[name, getattr(self, name)] for name in OPTIONAL_CONTENT_FIELDS if getattr(self, name)]
        payload = json.dumps(values, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    @property
    def year(self) -> int | None:
        if self.date and len(self.date) >= 4 and self.date[:4].isdigit():
            return int(self.date[:4])
        return None


_LINE_BREAK = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


@dataclass(frozen=True, slots=True)
class Problem:
    """A record that could not be ingested: where it is and why.

    With ``kept`` the record was still read: a bad field was fixed or dropped, and the reader
    yields this problem just before the document it concerns.
    """

    path: str
    position: str  # "line 12", "record 3 (line 40)", "document 7 (byte 12345)"
    message: str
    kept: bool = False

    def __str__(self) -> str:
        """One line, whatever the parts hold."""
        return _LINE_BREAK.sub(" ", f"{self.path}: {self.position}: {self.message}")


@dataclass(frozen=True, slots=True)
class Evidence:
    """The passage of a patent that matched a query best: ``field[start:end]`` of the document."""

    field: str
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result; ``passage`` is the evidence when passages decided the rank; by family,
    the best-ranked publication of a family stands for it, the others are ``family_members``."""

    id: str
    score: float
    title: str
    lang: str | None = None
    date: str | None = None
    cluster: int | None = None
    label: str | None = None
    passage: Evidence | None = None
    #: with ``search --by-family``: the other publications of its family among the results (ids)
    family_members: tuple[str, ...] = ()


#: The body fields of a document, in reading order.
BODY_FIELDS = ("abstract", "text", "description", "claims")


def searchable_text(doc: Document) -> str:
    """Everything a keyword search reads in a document: the title and every body field."""
    return " ".join(part for part in (doc.title, doc.abstract, doc.text, doc.claims, doc.description) if part)


def summary_text(doc: Document, limit: int = 3000) -> str:
    """A document in short, for topic keywords and ``--like`` keyword queries: the title and the
    abstract, or, without an abstract, the title and the start of the first body field."""
    body = doc.abstract or next((getattr(doc, name) for name in BODY_FIELDS[1:] if getattr(doc, name)), "")
    return f"{doc.title}. {body[:limit]}" if body else doc.title
