"""Mapping from a source record (JSON object or CSV row) to a Document."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields as dataclass_fields
from typing import Any

from ..records import Document
from ..text import detect_language, normalize

_CODE_SPLIT = re.compile(r"[;,|\n]+")
_DATE = re.compile(r"^(\d{4})(?:[-/.]?(\d{1,2})(?:[-/.]?(\d{1,2}))?)?")


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Which source field feeds each document field. Defaults match patscape's own schema.

    A name may be a dotted path into nested JSON (``biblio.title``). Fields of a record that no
    mapping names are kept in ``Document.extra``.
    """

    id: str = "id"
    title: str = "title"
    abstract: str = "abstract"
    text: str = "text"
    claims: str = "claims"
    description: str = "description"
    lang: str = "lang"
    date: str = "date"
    cpc: str = "cpc"
    ipc: str = "ipc"
    assignee: str = "assignee"

    def explicit(self) -> dict[str, str]:
        """The mappings that differ from the defaults (the user named them)."""
        default = FieldMap()
        return {
            f.name: getattr(self, f.name)
            for f in dataclass_fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        }

    def sources(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in dataclass_fields(self)}


def lookup(record: Mapping[str, Any], name: str) -> Any:
    if name in record:
        return record[name]
    value: Any = record
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def normalize_block(text: str | None) -> str:
    """Text that keeps its lines: each line normalised, blank lines dropped."""
    if not text:
        return ""
    lines = (normalize(line) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(_as_text(v) for v in value)
    return normalize(str(value))


def _json_list(value: Any) -> Any:
    """A string holding a JSON list (as CSV cells do) -> the list; anything else unchanged."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            pass
    return value


def _as_block(value: Any) -> str:
    """Claims or description: a list gives one line per item, a string keeps its lines."""
    value = _json_list(value)
    if isinstance(value, list):
        value = "\n".join(normalize(str(item)) for item in value if item is not None)
    return normalize_block(None if value is None else str(value))


def _as_codes(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    value = _json_list(value)
    items = value if isinstance(value, list) else _CODE_SPLIT.split(str(value))
    codes = []
    for item in items:
        code = re.sub(r"\s+", "", str(item)).upper()
        if code and code not in codes:
            codes.append(code)
    return tuple(codes)


def normalize_date(value: Any) -> str | None:
    """``2011-08-09``, ``20110809``, ``2011/8/9``, ``2011`` -> ISO date or year prefix."""
    if value is None or value == "":
        return None
    match = _DATE.match(str(value).strip())
    if not match:
        return None
    year, month, day = match.groups()
    if not 1000 <= int(year) <= 2999:
        return None
    if month is None:
        return year
    if not 1 <= int(month) <= 12:
        return year
    if day is None or not 1 <= int(day) <= 31:
        return f"{year}-{int(month):02d}"
    return f"{year}-{int(month):02d}-{int(day):02d}"


def unmapped(record: Mapping[str, Any], fields: FieldMap) -> dict[str, Any]:
    """The non-empty fields of ``record`` that no mapping names; they are kept in ``extra``."""
    used = set(fields.sources().values()) | {"source", "extra"}
    return {k: v for k, v in record.items() if k not in used and v not in (None, "")}


def language_sample(title: str, abstract: str, text: str, claims: str = "", description: str = "") -> str:
    """The text a document's language is detected from (claims and description only when present)."""
    return " ".join([title, abstract, text[:1000]] + [part[:1000] for part in (claims, description) if part])


def to_document(record: Mapping[str, Any], fields: FieldMap, source: str, position: str = "") -> Document:
    """Build a Document; raises ``ValueError`` with a user-facing reason when it cannot."""
    raw_id = lookup(record, fields.id)
    doc_id = normalize(str(raw_id)) if raw_id is not None else ""
    if not doc_id:
        raise ValueError(f"missing id (field {fields.id!r})")
    title = _as_text(lookup(record, fields.title))
    abstract = _as_text(lookup(record, fields.abstract))
    text = _as_text(lookup(record, fields.text))
    claims = _as_block(lookup(record, fields.claims))
    description = _as_block(lookup(record, fields.description))
    if not (title or abstract or text or claims or description):
        names = ", ".join(repr(n) for n in (fields.title, fields.abstract, fields.text, fields.claims, fields.description))
        raise ValueError(f"document {doc_id}: empty text (fields {names} are all empty)")
    lang_value = lookup(record, fields.lang)
    lang = normalize(str(lang_value)).lower() if lang_value else None
    if not lang:
        lang = detect_language(language_sample(title, abstract, text, claims, description))
    raw_date = lookup(record, fields.date)
    date = normalize_date(raw_date)
    assignee = _as_text(lookup(record, fields.assignee)) or None
    extra: dict[str, Any] = {}
    if isinstance(record.get("extra"), Mapping):
        extra.update(record["extra"])
    extra.update(unmapped(record, fields))
    if raw_date not in (None, "") and date is None:
        extra["unparsed_date"] = str(raw_date)
    given_source = record.get("source")
    return Document(
        id=doc_id,
        title=title,
        abstract=abstract,
        text=text,
        claims=claims,
        description=description,
        lang=lang,
        date=date,
        cpc=_as_codes(lookup(record, fields.cpc)),
        ipc=_as_codes(lookup(record, fields.ipc)),
        assignee=assignee,
        source=str(given_source) if given_source else source,
        extra=extra,
        origin=(source, position),
    )
