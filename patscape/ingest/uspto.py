"""USPTO full-text XML (grant and application bulk files, ST.36 / v4.x).

A bulk file is many XML documents concatenated, each with its own ``<?xml ...?>`` declaration
and DOCTYPE. The file is read line by line and each document is parsed on its own, so a
malformed document is reported (with its number and line) and the others are still read.
"""

from __future__ import annotations

import gzip
import html.entities
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from ..records import Document, Problem
from ..text import detect_language, normalize
from .fields import normalize_date

_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*(\[[^\]]*\])?\s*>", re.S)
_ROOTS = {"us-patent-grant": "grant", "us-patent-application": "application"}
#: Elements of ``<description>`` that are one paragraph each (a heading counts as one).
_PARAGRAPHS = {"p", "heading"}


def _replace_entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _XML_ENTITIES:
        return match.group(0)
    codepoint = html.entities.name2codepoint.get(name)
    return chr(codepoint) if codepoint else match.group(0)


def _split_documents(path: Path) -> Iterator[tuple[int, bytes]]:
    """(first line number, bytes) of each XML document in a concatenated bulk file."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    buffer: list[bytes] = []
    start = 1
    with opener(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.lstrip().startswith(b"<?xml") and any(chunk.strip() for chunk in buffer):
                yield start, b"".join(buffer)
                buffer = []
                start = number
            elif not buffer:
                start = number
            buffer.append(line)
    if any(chunk.strip() for chunk in buffer):
        yield start, b"".join(buffer)


def _text(element: ET.Element | None) -> str:
    if element is None:
        return ""
    return normalize(" ".join(element.itertext()))


def _paragraphs(element: ET.Element | None) -> Iterator[str]:
    """The text of each paragraph or heading below ``element`` (or of a block outside any), in order."""
    for child in element if element is not None else ():
        if child.tag in _PARAGRAPHS or not any(e.tag in _PARAGRAPHS for e in child.iter()):
            yield _text(child)
        else:
            yield from _paragraphs(child)


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


def publication_id(country: str, number: str, kind: str, is_application: bool) -> str:
    """``US``, ``08611015``, ``B2`` -> ``US-8611015-B2`` (the Google Patents form)."""
    number = number.strip()
    if is_application and len(number) == 11 and number[:4].isdigit() and number[4] == "0":
        number = number[:4] + number[5:]
    else:
        number = number.lstrip("0") or number
    return "-".join(part for part in (country.strip(), number, kind.strip()) if part)


def parse_patent(data: bytes, source: str, position: str = "") -> Document:
    """One ST.36 XML document -> Document; raises ``ValueError`` when it is not a patent."""
    data = _DOCTYPE.sub(b"", data, count=1)
    text = data.decode("utf-8")
    text = _ENTITY.sub(_replace_entity, text)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"malformed XML: {exc}") from exc
    kind = _ROOTS.get(root.tag)
    if kind is None:
        raise ValueError(f"unsupported root element <{root.tag}> (expected us-patent-grant or us-patent-application)")
    biblio = _first(root, "us-bibliographic-data-grant", "us-bibliographic-data-application")
    if biblio is None:
        raise ValueError("no bibliographic data")
    doc_id_el = biblio.find("publication-reference/document-id")
    if doc_id_el is None:
        raise ValueError("no publication-reference")
    doc_id = publication_id(
        doc_id_el.findtext("country") or "US",
        doc_id_el.findtext("doc-number") or "",
        doc_id_el.findtext("kind") or "",
        kind == "application",
    )
    title = _text(biblio.find("invention-title"))
    abstract = _text(root.find("abstract"))
    claims = "\n".join(filter(None, (_text(c) for c in root.findall("claims/claim"))))
    description = "\n".join(filter(None, _paragraphs(root.find("description"))))
    if not (title or abstract or claims or description):
        raise ValueError(f"document {doc_id}: empty text")
    ipc = [c for c in (_code(e) for e in biblio.iterfind("classifications-ipcr/classification-ipcr")) if c]
    cpc_elements = list(biblio.iterfind("classifications-cpc/main-cpc/classification-cpc")) + list(
        biblio.iterfind("classifications-cpc/further-cpc/classification-cpc")
    )
    cpc = [c for c in (_code(e) for e in cpc_elements) if c]
    assignees = [
        _text(e) for e in biblio.iterfind(".//assignees/assignee/addressbook/orgname")
    ] or [_text(e) for e in biblio.iterfind(".//assignees/assignee/orgname")]
    cites = [
        publication_id(
            e.findtext("country") or "", e.findtext("doc-number") or "", e.findtext("kind") or "", False
        )
        for e in biblio.iterfind(".//us-references-cited/us-citation/patcit/document-id")
    ]
    extra: dict[str, object] = {"country": (doc_id_el.findtext("country") or "").strip(), "kind": kind}
    if cites:
        extra["cites"] = cites
    application = biblio.find("application-reference/document-id")
    if application is not None:
        extra["application_number"] = (application.findtext("doc-number") or "").strip()
    return Document(
        id=doc_id,
        title=title,
        abstract=abstract,
        claims=claims,
        description=description,
        lang=(root.get("lang") or "").lower() or detect_language(f"{title} {abstract}"),
        date=normalize_date(doc_id_el.findtext("date")),
        cpc=tuple(dict.fromkeys(cpc)),
        ipc=tuple(dict.fromkeys(ipc)),
        assignee="; ".join(a for a in assignees if a) or None,
        source=source,
        extra=extra,
        origin=(source, position),
    )


def read_uspto_xml(path: Path) -> Iterator[Document | Problem]:
    where = str(path)
    for index, (line, data) in enumerate(_split_documents(path), start=1):
        try:
            yield parse_patent(data, where, f"document {index} (line {line})")
        except UnicodeDecodeError as exc:
            yield Problem(where, f"document {index} (line {line})", f"invalid UTF-8 at byte {exc.start}")
        except ValueError as exc:
            yield Problem(where, f"document {index} (line {line})", str(exc))
