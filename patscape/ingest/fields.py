"""Mapping from a source record (JSON object or CSV row) to a Document."""

from __future__ import annotations

import calendar
import datetime
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields as dataclass_fields
from typing import Any

from ..records import Document, Problem
from ..text import detect_language, normalize

_CODE_SPLIT = re.compile(r"[;,|\n]+")
_DATE = re.compile(r"^(\d{4})(?:[-/.]?(\d{1,2})(?:[-/.]?(\d{1,2}))?)?")
#: An IPC/CPC symbol once spaces are removed: subclass ``G06F``, group ``G06F3/013`` (``G06F3``,
#: ``G06F3/``, ``G06F/``, ``H01L31107`` as some exports write them), with an IPC version such as ``(2006.01)``.
_CODE = re.compile(r"[A-HY]\d\d[A-Z](?:\d{1,10}|\d{1,4}/\d{0,6}|/)?(?:\(\d{4}\.\d\d\))?")
#: Control characters (but tab and line breaks), C1 controls but NEL, and lone surrogates.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
#: Longer ids are not ids.
MAX_ID_LENGTH = 512
#: The first plausible publication year.
FIRST_YEAR = 1790
#: ``extra`` values nested deeper are dropped.
_MAX_EXTRA_DEPTH = 100


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


def clean(text: str) -> str:
    """``text`` without control characters and lone surrogates (tab and line breaks stay)."""
    return _UNPRINTABLE.sub("", text)


def normalize_block(text: str | None) -> str:
    """Text that keeps its lines: each line normalised, blank lines dropped."""
    if not text:
        return ""
    lines = (normalize(line) for line in clean(text).splitlines())
    return "\n".join(line for line in lines if line)


def kind(value: Any) -> str:
    """What a value is, for a message: ``an object``, ``a list``, ``a number``, ..."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN/infinity"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def shown(text: str, limit: int = 40) -> str:
    """A value quoted for a one-line message, cut at ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _dropped_items(name: str, count: int) -> str:
    return f"field {name!r}: dropped {count} list {'item that is' if count == 1 else 'items that are'} not text"


def _plain_text(text: str) -> str:
    """A short value (an id, a date) cleaned and normalised; printable ASCII is only stripped."""
    return text.strip() if text.isascii() and text.isprintable() else normalize(clean(text))


def _scalar(value: Any) -> str | None:
    """A string, or a finite number as text; ``None`` for anything else (structures, booleans)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or isinstance(value, float) and math.isfinite(value):
        return str(value)
    return None


def _as_text(value: Any, name: str, notes: list[str]) -> str:
    """A text field: a string or number; a list gives one line per item; structures are dropped."""
    if value is None:
        return ""
    if isinstance(value, list):
        parts = [None if item is None else _scalar(item) for item in value]
        dropped = sum(1 for item, part in zip(value, parts) if item is not None and part is None)
        if dropped:
            notes.append(_dropped_items(name, dropped))
        return "\n".join(normalize(clean(part or "")) for item, part in zip(value, parts) if item is None or part is not None)
    text = _scalar(value)
    if text is None:
        notes.append(f"field {name!r} is {kind(value)}, not text; dropped")
        return ""
    return normalize(clean(text))


def _json_list(value: Any) -> Any:
    """A string holding a JSON list (as CSV cells do) -> the list; anything else unchanged."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            pass
    return value


def _as_block(value: Any, name: str, notes: list[str]) -> str:
    """Claims or description: a list gives one line per item, a string keeps its lines."""
    value = _json_list(value)
    if value is None:
        return ""
    if isinstance(value, list):
        parts = [_scalar(item) for item in value if item is not None]
        dropped = parts.count(None)
        if dropped:
            notes.append(_dropped_items(name, dropped))
        return normalize_block("\n".join(normalize(clean(part)) for part in parts if part is not None))
    text = _scalar(value)
    if text is None:
        notes.append(f"field {name!r} is {kind(value)}, not text; dropped")
        return ""
    return normalize_block(text)


def valid_codes(items: list[str], name: str, notes: list[str]) -> tuple[str, ...]:
    """Classification symbols without spaces, upper case, once each; what is not one is dropped (one note)."""
    codes: dict[str, None] = {}
    dropped: list[str] = []
    for item in items:
        code = item if _CODE.fullmatch(item) else re.sub(r"\s+", "", clean(item)).strip("[]'\"").upper()
        if not code:
            continue
        if _CODE.fullmatch(code):
            codes[code] = None
        else:
            dropped.append(normalize(clean(item)))
    if dropped:
        examples = ", ".join(shown(d) for d in dropped[:3]) + (", …" if len(dropped) > 3 else "")
        what = "value that is not an IPC/CPC code" if len(dropped) == 1 else "values that are not IPC/CPC codes"
        notes.append(f"field {name!r}: dropped {len(dropped)} {what} ({examples})")
    return tuple(codes)


def _as_codes(value: Any, name: str, notes: list[str]) -> tuple[str, ...]:
    """``G06F 3/013; h04l`` or a list of codes -> ``("G06F3/013", "H04L")``."""
    if value is None or value == "":
        return ()
    value = _json_list(value)
    items: list[str] = []
    structures = 0
    for item in value if isinstance(value, list) else [value]:
        text = _scalar(item)
        if text is None:
            structures += item is not None
        else:
            items.extend(_CODE_SPLIT.split(text))
    if structures and isinstance(value, list):
        notes.append(_dropped_items(name, structures))
    elif structures:
        notes.append(f"field {name!r} is {kind(value)}, not codes; dropped")
    return valid_codes(items, name, notes)


def check_date(value: Any, name: str = "date") -> tuple[str | None, str | None]:
    """(ISO date or year/month prefix or ``None``, the problem when a given date is not usable).

    ``2011-08-09``, ``20110809``, ``2011/8/9``, ``2011``; a zero month or day means unknown
    (``2011-00-00`` is ``2011``). A year before 1790 or more than 2 years ahead, or a month or
    day that does not exist, leaves the date empty with a problem.
    """
    if value is None or value == "":
        return None, None
    text = _scalar(value)
    if text is None:
        return None, f"field {name!r} is {kind(value)}, not a date; left empty"
    text = _plain_text(text)
    match = _DATE.match(text)
    if not match:
        return (None, f"field {name!r}: {shown(text)} is not a date; left empty") if text else (None, None)
    year, month, day = (int(g) if g else 0 for g in match.groups())
    last = datetime.date.today().year + 2
    if not FIRST_YEAR <= year <= last:
        return None, f"field {name!r}: the year of {shown(text)} is not in {FIRST_YEAR}-{last}; left empty"
    if month > 12 or month and day > calendar.monthrange(year, month)[1] or not month and day:
        return None, f"field {name!r}: {shown(text)} is not a valid date; left empty"
    if not month:
        return f"{year:04d}", None
    if not day:
        return f"{year:04d}-{month:02d}", None
    return f"{year:04d}-{month:02d}-{day:02d}", None


def normalize_date(value: Any) -> str | None:
    """``2011-08-09``, ``20110809``, ``2011/8/9``, ``2011`` -> ISO date or year prefix (see :func:`check_date`)."""
    return check_date(value)[0]


def check_id(value: Any, name: str = "id") -> str:
    """A document id as given (a string or a number), cleaned; raises ``ValueError`` when there is none."""
    text = None if value is None else _scalar(value)
    if value is not None and text is None:
        raise ValueError(f"id is {kind(value)}, not text (field {name!r})")
    doc_id = normalize(clean(text or ""))
    if not doc_id:
        raise ValueError(f"missing id (field {name!r})")
    if len(doc_id) > MAX_ID_LENGTH:
        raise ValueError(f"id of {len(doc_id)} characters is longer than {MAX_ID_LENGTH} (field {name!r})")
    return doc_id


def _as_lang(value: Any, name: str, notes: list[str]) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        notes.append(f"field {name!r} is {kind(value)}, not a language code; detected instead")
        return None
    lang = normalize(clean(value)).lower()
    if len(lang) > 35:
        notes.append(f"field {name!r}: {shown(lang)} is not a language code; detected instead")
        return None
    return lang or None


def unmapped(record: Mapping[str, Any], fields: FieldMap) -> dict[str, Any]:
    """The non-empty fields of ``record`` that no mapping names; they are kept in ``extra``."""
    used = set(fields.sources().values()) | {"source", "extra"}
    return {k: v for k, v in record.items() if k not in used and v not in (None, "")}


#: The dates of a patent besides its publication date, kept in ``extra`` (bursts read the
#: priority date, else the filing date, else the publication date: patscape.emerging).
EXTRA_DATES = ("filing_date", "priority_date")


def _check_extra(extra: dict[str, Any], notes: list[str]) -> None:
    """``landscape`` must be a mapping (name -> member), ``cites`` a list of ids, the
    :data:`EXTRA_DATES` dates (ISO, as :func:`check_date` writes them; else dropped, said)."""
    for name in EXTRA_DATES:
        if name in extra:
            value, problem = check_date(extra[name], name)
            if problem:
                notes.append(problem.replace("left empty", "dropped"))
            if value is None:
                del extra[name]
            else:
                extra[name] = value
    landscape = extra.get("landscape")
    if isinstance(landscape, str) and landscape.strip().startswith("{"):
        try:
            landscape = extra["landscape"] = json.loads(landscape)
        except (ValueError, RecursionError):
            pass
    if landscape is None:
        extra.pop("landscape", None)
    elif not isinstance(landscape, Mapping):
        notes.append(f"field 'landscape' is {kind(landscape)}, not a mapping of landscape names to true/false; dropped")
        del extra["landscape"]
    if "cites" not in extra:
        return
    cites = _json_list(extra["cites"])
    if cites is None:
        del extra["cites"]
        return
    if isinstance(cites, str):
        cites = _CODE_SPLIT.split(cites)
    if not isinstance(cites, list):
        notes.append(f"field 'cites' is {kind(cites)}, not a list of ids; dropped")
        del extra["cites"]
        return
    ids: dict[str, None] = {}
    dropped = 0
    for item in cites:
        text = None if item is None else _scalar(item)
        if text is None:
            dropped += item is not None
        elif text := _plain_text(text):
            ids[text] = None
    if dropped:
        notes.append(f"field 'cites': dropped {dropped} {'item that is' if dropped == 1 else 'items that are'} not an id")
    extra["cites"] = list(ids)


class _TooDeep(Exception):
    pass


def _plain(value: Any, depth: int) -> Any:
    """A JSON value that any JSON writer accepts: no lone surrogates, ``None`` for NaN/infinity."""
    if isinstance(value, str):
        return value if value.isascii() else _SURROGATE.sub("", value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (Mapping, list, tuple)):
        if depth >= _MAX_EXTRA_DEPTH:
            raise _TooDeep
        if isinstance(value, Mapping):
            return {_SURROGATE.sub("", str(k)): _plain(v, depth + 1) for k, v in value.items()}
        return [v if type(v) is str and v.isascii() else _plain(v, depth + 1) for v in value]
    return value


def _plain_extra(extra: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in extra.items():
        try:
            out[_SURROGATE.sub("", str(key))] = _plain(value, 1)
        except _TooDeep:
            notes.append(f"field {key!r} is nested more than {_MAX_EXTRA_DEPTH} levels deep; dropped")
    return out


def language_sample(title: str, abstract: str, text: str, claims: str = "", description: str = "") -> str:
    """The text a document's language is detected from (claims and description only when present)."""
    return " ".join([title, abstract, text[:1000]] + [part[:1000] for part in (claims, description) if part])


def to_document(
    record: Mapping[str, Any], fields: FieldMap, source: str, position: str = "", notes: list[str] | None = None
) -> Document:
    """Build a Document; raises ``ValueError`` with a user-facing reason when it cannot.

    A field that is fixed or dropped (the document is still usable) adds a line to ``notes``.
    """
    notes = [] if notes is None else notes
    doc_id = check_id(lookup(record, fields.id), fields.id)
    title = _as_text(lookup(record, fields.title), fields.title, notes)
    abstract = _as_text(lookup(record, fields.abstract), fields.abstract, notes)
    text = _as_text(lookup(record, fields.text), fields.text, notes)
    claims = _as_block(lookup(record, fields.claims), fields.claims, notes)
    description = _as_block(lookup(record, fields.description), fields.description, notes)
    if not (title or abstract or text or claims or description):
        names = ", ".join(repr(n) for n in (fields.title, fields.abstract, fields.text, fields.claims, fields.description))
        raise ValueError("; ".join([f"document {doc_id}: empty text (fields {names} are all empty)", *notes]))
    lang = _as_lang(lookup(record, fields.lang), fields.lang, notes)
    if not lang:
        lang = detect_language(language_sample(title, abstract, text, claims, description))
    raw_date = lookup(record, fields.date)
    date, date_problem = check_date(raw_date, fields.date)
    if date_problem:
        notes.append(date_problem)
    assignee = _as_text(lookup(record, fields.assignee), fields.assignee, notes) or None
    extra: dict[str, Any] = {}
    given_extra = record.get("extra")
    if isinstance(given_extra, Mapping):
        extra.update(given_extra)
    elif given_extra not in (None, ""):
        notes.append(f"field 'extra' is {kind(given_extra)}, not an object; dropped")
    extra.update(unmapped(record, fields))
    if date is None and _scalar(raw_date):
        extra["unparsed_date"] = str(raw_date)
    extra.pop("id_source", None)  # set by readers that make ids, never taken from data
    _check_extra(extra, notes)
    given_source = record.get("source")
    source_text = normalize(clean(given_source)) if isinstance(given_source, str) else ""
    if given_source not in (None, "") and not isinstance(given_source, str):
        notes.append(f"field 'source' is {kind(given_source)}, not text; the file name is used")
    return Document(
        id=doc_id,
        title=title,
        abstract=abstract,
        text=text,
        claims=claims,
        description=description,
        lang=lang,
        date=date,
        cpc=_as_codes(lookup(record, fields.cpc), fields.cpc, notes),
        ipc=_as_codes(lookup(record, fields.ipc), fields.ipc, notes),
        assignee=assignee,
        source=source_text or source,
        extra=_plain_extra(extra, notes),
        origin=(source, position),
    )


def convert(record: Mapping[str, Any], fields: FieldMap, where: str, position: str) -> Iterator[Document | Problem]:
    """The document of one record after a kept problem for each field fixed or dropped, or the
    problem that skips the record."""
    notes: list[str] = []
    try:
        doc = to_document(record, fields, where, position, notes)
    except ValueError as exc:
        yield Problem(where, position, str(exc))
        return
    for note in notes:
        yield Problem(where, position, note, kept=True)
    yield doc
