"""USPTO full-text XML (grant and application bulk files, ST.36 / v4.x).

A bulk file is many XML documents concatenated, each with its own ``<?xml ...?>`` declaration
and DOCTYPE. The file is read line by line and each document is parsed on its own, so a
malformed document is reported (with its number and line) and the others are still read.

Documents are read safely: the DOCTYPE is removed and a document that declares its own entities
is refused (no entity expansion, nothing external is ever resolved), nesting deeper than
``ReadLimits.max_xml_depth`` is refused, and the size of a line and of a document is bounded.
"""

from __future__ import annotations

import html.entities
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import NamedTuple, cast

from ..records import Document, Problem
from ..text import detect_language, normalize
from .fields import MAX_ID_LENGTH, check_date, clean, valid_codes
from .limits import DEFAULT_LIMITS, ReadLimits
from .streams import StreamError, display_path, format_bytes, read_chunks, split_lines

_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*(\[[^\]]*\])?\s*>", re.S)
#: What may declare entities: left after the DOCTYPE is removed, the document is refused.
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)")
#: Characters fed to the parser at a time (the nesting depth is checked in between).
_FEED = 1 << 16
_ROOTS = {"us-patent-grant": "grant", "us-patent-application": "application"}
#: Elements of ``<description>`` that are one paragraph each (a heading counts as one).
_PARAGRAPHS = {"p", "heading"}


def _replace_entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _XML_ENTITIES:
        return match.group(0)
    codepoint = html.entities.name2codepoint.get(name)
    return chr(codepoint) if codepoint else match.group(0)


class _Part(NamedTuple):
    """A document of a bulk file (``data``) or why it cannot be read (``problem``); ``document``
    is false for a problem that stops the file."""

    line: int
    data: bytes | None
    problem: str | None = None
    document: bool = True


def _split_documents(path: Path, limits: ReadLimits) -> Iterator[_Part]:
    """Each XML document of a concatenated bulk file, with its first line number."""
    buffer: list[bytes] = []
    size = 0
    start = 1
    problem: str | None = None
    filled = False  # the current document has a non-blank line (or a problem)
    number = 0
    with closing(split_lines(read_chunks(path, limits), limits.max_line_bytes)) as lines:
        try:
            for line in lines:
                number = line.number
                if line.data is not None and line.data.lstrip().startswith(b"<?xml") and filled:
                    yield _Part(start, None if problem else b"".join(buffer), problem)
                    buffer, size, problem, filled = [], 0, None, False
                if not filled:
                    start = number
                if problem:
                    continue
                if line.data is None:
                    problem = (f"line {number} of {format_bytes(line.length)} is longer than "
                               f"{format_bytes(limits.max_line_bytes)}; document skipped")
                    buffer, filled = [], True
                    continue
                size += len(line.data)
                if size > limits.max_xml_document_bytes:
                    problem = f"document is larger than {format_bytes(limits.max_xml_document_bytes)}; skipped"
                    buffer = []
                    continue
                buffer.append(line.data)
                filled = filled or bool(line.data.strip())
        except StreamError as exc:
            if filled:  # what was read of the current document (it may still be whole)
                yield _Part(start, None if problem else b"".join(buffer), problem)
            yield _Part(number + 1 if number else 0, None, str(exc), document=False)
            return
    if filled:
        yield _Part(start, None if problem else b"".join(buffer), problem)


def _text(element: ET.Element | None) -> str:
    if element is None:
        return ""
    return normalize(clean(" ".join(element.itertext())))


def _paragraphs(element: ET.Element | None) -> Iterator[str]:
    """The text of each paragraph or heading below ``element`` (or of a block outside any), in order."""
    if element is None:
        return
    parents = {child: parent for parent in element.iter() for child in parent}
    holders: set[ET.Element] = set()  # elements with a paragraph at or below them
    for node in element.iter():
        if node.tag in _PARAGRAPHS:
            above: ET.Element | None = node
            while above is not None and above not in holders:
                holders.add(above)
                above = parents.get(above)
    stack = list(reversed(element))
    while stack:
        child = stack.pop()
        if child.tag in _PARAGRAPHS or child not in holders:
            yield _text(child)
        else:
            stack.extend(reversed(child))


def _first(root: ET.Element, *paths: str) -> ET.Element | None:
    for path in paths:
        found = root.find(path)
        if found is not None:
            return found
    return None


def _code(element: ET.Element) -> str | None:
    parts = [(element.findtext(tag) or "").strip() for tag in ("section", "class", "subclass", "main-group", "subgroup")]
    if not all(parts[:3]):
        return None
    code = "".join(parts[:3])
    if parts[3]:
        code += f"{parts[3]}/{parts[4] or '00'}"
    return code


def _parse(text: str, max_depth: int) -> ET.Element:
    """The root element; raises ``ValueError`` when the XML is malformed or nested too deeply."""
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    root: ET.Element | None = None
    depth = 0
    try:
        for offset in [*range(0, len(text), _FEED), -1]:
            if offset >= 0:
                parser.feed(text[offset : offset + _FEED])
            else:
                parser.close()
            for event, element in cast("Iterator[tuple[str, ET.Element]]", parser.read_events()):
                if event == "end":
                    depth -= 1
                    continue
                root = element if root is None else root
                depth += 1
                if depth > max_depth:
                    raise ValueError(f"XML nested deeper than {max_depth} levels")
    except ET.ParseError as exc:
        raise ValueError(f"malformed XML: {exc}") from exc
    if root is None:
        raise ValueError("malformed XML: no element found")
    return root


def publication_id(country: str, number: str, kind: str, is_application: bool) -> str:
    """``US``, ``08611015``, ``B2`` -> ``US-8611015-B2`` (the Google Patents form)."""
    number = number.strip()
    if is_application and len(number) == 11 and number[:4].isdigit() and number[4] == "0":
        number = number[:4] + number[5:]
    else:
        number = number.lstrip("0") or number
    return "-".join(part for part in (country.strip(), number, kind.strip()) if part)


def parse_patent(
    data: bytes, source: str, position: str = "", notes: list[str] | None = None, limits: ReadLimits = DEFAULT_LIMITS
) -> Document:
    """One ST.36 XML document -> Document; raises ``ValueError`` when it is not a patent.

    A field that is dropped (the document is still usable) adds a line to ``notes``.
    """
    notes = [] if notes is None else notes
    data = _DOCTYPE.sub(b"", data, count=1)
    if _DTD.search(data):
        raise ValueError("the XML declares entities (a DTD); not read, for safety")
    text = data.decode("utf-8")
    text = _ENTITY.sub(_replace_entity, text)
    root = _parse(text, limits.max_xml_depth)
    kind = _ROOTS.get(root.tag)
    if kind is None:
        raise ValueError(
            f"unsupported root element <{clean(root.tag)[:80]}> (expected us-patent-grant or us-patent-application)"
        )
    biblio = _first(root, "us-bibliographic-data-grant", "us-bibliographic-data-application")
    if biblio is None:
        raise ValueError("no bibliographic data")
    doc_id_el = biblio.find("publication-reference/document-id")
    if doc_id_el is None:
        raise ValueError("no publication-reference")
    number = normalize(clean(doc_id_el.findtext("doc-number") or ""))
    if not number:
        raise ValueError("no publication number (publication-reference/document-id/doc-number)")
    doc_id = normalize(clean(publication_id(
        doc_id_el.findtext("country") or "US",
        number,
        doc_id_el.findtext("kind") or "",
        kind == "application",
    )))
    if len(doc_id) > MAX_ID_LENGTH:
        raise ValueError(f"id of {len(doc_id)} characters is longer than {MAX_ID_LENGTH}")
    title = _text(biblio.find("invention-title"))
    abstract = _text(root.find("abstract"))
    claims = "\n".join(filter(None, (_text(c) for c in root.findall("claims/claim"))))
    description = "\n".join(filter(None, _paragraphs(root.find("description"))))
    if not (title or abstract or claims or description):
        raise ValueError(f"document {doc_id}: empty text")
    date, date_problem = check_date(doc_id_el.findtext("date"), "publication-reference/document-id/date")
    if date_problem:
        notes.append(date_problem)
    ipc = [c for c in (_code(e) for e in biblio.iterfind("classifications-ipcr/classification-ipcr")) if c]
    cpc_elements = list(biblio.iterfind("classifications-cpc/main-cpc/classification-cpc")) + list(
        biblio.iterfind("classifications-cpc/further-cpc/classification-cpc")
    )
    cpc = [c for c in (_code(e) for e in cpc_elements) if c]
    assignees = [
        _text(e) for e in biblio.iterfind(".//assignees/assignee/addressbook/orgname")
    ] or [_text(e) for e in biblio.iterfind(".//assignees/assignee/orgname")]
    cites = [
        normalize(clean(publication_id(
            e.findtext("country") or "", e.findtext("doc-number") or "", e.findtext("kind") or "", False
        )))
        for e in biblio.iterfind(".//us-references-cited/us-citation/patcit/document-id")
    ]
    extra: dict[str, object] = {"country": normalize(clean(doc_id_el.findtext("country") or "")), "kind": kind}
    if any(cites):
        extra["cites"] = list(dict.fromkeys(c for c in cites if c))
    application = biblio.find("application-reference/document-id")
    if application is not None:
        extra["application_number"] = normalize(clean(application.findtext("doc-number") or ""))
        filed, problem = check_date(application.findtext("date"), "application-reference/document-id/date")
        if problem:
            notes.append(problem)
        if filed:
            extra["filing_date"] = filed
    # the earliest priority claimed (a US patent claims foreign and domestic priorities here)
    priorities = []
    for claim in biblio.iterfind("priority-claims/priority-claim"):
        claimed, problem = check_date(claim.findtext("date"), "priority-claims/priority-claim/date")
        if problem:
            notes.append(problem)
        if claimed:
            priorities.append(claimed)
    if priorities:
        extra["priority_date"] = min(priorities)
    lang = normalize(clean(root.get("lang") or "")).lower()
    return Document(
        id=doc_id,
        title=title,
        abstract=abstract,
        claims=claims,
        description=description,
        lang=lang if 0 < len(lang) <= 35 else detect_language(f"{title} {abstract}"),
        date=date,
        cpc=valid_codes(cpc, "cpc", notes),
        ipc=valid_codes(ipc, "ipc", notes),
        assignee="; ".join(a for a in assignees if a) or None,
        source=source,
        extra=extra,
        origin=(source, position),
    )


def read_uspto_xml(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> Iterator[Document | Problem]:
    where = display_path(path)
    index = 0
    for part in _split_documents(path, limits):
        if not part.document:
            yield Problem(where, f"line {part.line}" if part.line else "file", part.problem or "")
            return
        index += 1
        position = f"document {index} (line {part.line})"
        if part.data is None:
            yield Problem(where, position, part.problem or "")
            continue
        notes: list[str] = []
        try:
            doc = parse_patent(part.data, where, position, notes, limits)
        except UnicodeDecodeError as exc:
            yield Problem(where, position, f"invalid UTF-8 at byte {exc.start}")
            continue
        except ValueError as exc:
            yield Problem(where, position, str(exc))
            continue
        for note in notes:
            yield Problem(where, position, note, kept=True)
        yield doc
