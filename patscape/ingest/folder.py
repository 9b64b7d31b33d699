"""A folder of plain-text, Markdown and PDF files, one document per file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..records import Document, Problem
from ..text import detect_language, normalize
from .fields import MAX_ID_LENGTH, clean, normalize_block
from .limits import DEFAULT_LIMITS, ReadLimits
from .streams import StreamError, display_path, format_bytes, read_chunks, utf8_problem

TEXT_SUFFIXES = {".txt", ".md", ".pdf"}

#: A line that opens the claims: "What is claimed is:", "Claims", "权利要求书", ... (claims may follow a colon).
_CLAIMS_HEADING = re.compile(
    r"【?(?:what (?:is|i|we) claim(?:ed)?(?: is)?|(?:i|we) claim|the invention claimed is|claims|"
    r"权利要求书|特許請求の範囲|청구범위|patentansprüche|revendications|reivindicaciones)】?"
    r"\s*(?:[:：]\s*(?P<rest>.*))?",
    re.IGNORECASE,
)


def read_folder(folder: Path, limits: ReadLimits = DEFAULT_LIMITS) -> Iterator[Document | Problem]:
    """Every .txt/.md/.pdf below ``folder`` (sorted); the id is the path relative to it."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES):
        yield from read_text_file(path, folder, limits)


def split_claims(lines: list[str]) -> tuple[str, str, str]:
    """``(text, claims, description)`` of a body: at the first claims heading the claims begin and
    the description ends; a body without one is all ``text``. Lines are kept."""
    for index, line in enumerate(lines):
        match = _CLAIMS_HEADING.fullmatch(line.lstrip("#").strip())
        if match:
            claims = ([match["rest"]] if match["rest"] else []) + lines[index + 1 :]
            return "", "\n".join(claims), "\n".join(lines[:index])
    return "\n".join(lines), "", ""


def read_text_file(path: Path, root: Path, limits: ReadLimits = DEFAULT_LIMITS) -> Iterator[Document | Problem]:
    """One document; its id is the path relative to ``root`` without the suffix (``extra.id_source`` is ``path``)."""
    where = display_path(path)
    doc_id = normalize(clean(display_path(path.relative_to(root).with_suffix("").as_posix())))
    if not doc_id:
        yield Problem(where, "file", "no id: the file name is empty once control characters are removed")
        return
    if len(doc_id) > MAX_ID_LENGTH:
        yield Problem(where, "file", f"id of {len(doc_id)} characters (the path) is longer than {MAX_ID_LENGTH}")
        return
    notes: list[str] = []
    is_pdf = path.suffix.lower() == ".pdf"
    limit = limits.max_pdf_bytes if is_pdf else limits.max_file_bytes
    try:
        size = path.stat().st_size
    except OSError as exc:
        yield Problem(where, "file", f"cannot read the file: {exc.strerror or exc}")
        return
    if size > limit:
        yield Problem(where, "file", f"file of {format_bytes(size)} is larger than {format_bytes(limit)}; skipped")
        return
    if is_pdf:
        try:
            raw, title = _pdf_text(path, limits, notes)
        except Exception as exc:  # pypdf raises many types for broken files
            yield Problem(where, "file", f"cannot read PDF: {_reason(exc)}")
            return
        if not raw.strip():
            yield Problem(where, "file", "PDF has no text layer (a scan?); run OCR first")
            return
    else:
        try:
            data = _read_text_bytes(path, limits)
        except StreamError as exc:
            yield Problem(where, "file", str(exc))
            return
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            yield Problem(where, f"line {line}", utf8_problem(data, exc))
            return
        title = ""
    lines = normalize_block(raw).splitlines()
    if not lines:
        yield Problem(where, "file", "empty text")
        return
    title = normalize(clean(title))
    if not title:
        title = lines[0].lstrip("#").strip()
        lines = lines[1:]
        if not (title or lines):
            yield Problem(where, "file", "empty text")
            return
    text, claims, description = split_claims(lines)
    for note in notes:
        yield Problem(where, "file", note, kept=True)
    yield Document(
        id=doc_id,
        title=title,
        text=text,
        claims=claims,
        description=description,
        lang=detect_language(f"{title} {(text or description or claims)[:2000]}"),
        source=where,
        extra={"id_source": "path"},
        origin=(where, "file"),
    )


def _read_text_bytes(path: Path, limits: ReadLimits) -> bytes:
    """The file as UTF-8 bytes (gzip expanded, UTF-16/32 transcoded), at most ``max_file_bytes``."""
    chunks: list[bytes] = []
    total = 0
    for chunk in read_chunks(path, limits):
        total += len(chunk)
        if total > limits.max_file_bytes:
            raise StreamError(f"text of more than {format_bytes(limits.max_file_bytes)}; skipped")
        chunks.append(chunk)
    return b"".join(chunks)


def _reason(exc: BaseException) -> str:
    """An exception as one short line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "…"


def _pdf_text(path: Path, limits: ReadLimits, notes: list[str]) -> tuple[str, str]:
    """The text of the first ``max_pdf_pages`` pages (at most ``max_file_bytes`` characters) and the
    title of the metadata; a page that cannot be read, or the pages cut, add a line to ``notes``."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    count = len(reader.pages)
    pages: list[str] = []
    total = 0
    unreadable: list[int] = []
    reason = ""
    for number in range(1, min(count, limits.max_pdf_pages) + 1):
        try:
            page = reader.pages[number - 1].extract_text() or ""
        except Exception as exc:  # one broken page does not lose the others
            unreadable.append(number)
            reason = reason or _reason(exc)
            continue
        total += len(page)
        if total > limits.max_file_bytes:
            notes.append(f"PDF text passes {format_bytes(limits.max_file_bytes)} at page {number}; the rest is cut")
            break
        pages.append(page)
    if len(unreadable) == 1:
        notes.append(f"PDF page {unreadable[0]} cannot be read ({reason}); skipped")
    elif unreadable:
        notes.append(f"{len(unreadable)} PDF pages cannot be read (first: page {unreadable[0]}, {reason}); skipped")
    if count > limits.max_pdf_pages:
        notes.append(f"PDF has {count} pages; only the first {limits.max_pdf_pages} are read")
    title = ""
    try:
        metadata: Any = reader.metadata
        if metadata is not None and metadata.title:
            title = str(metadata.title)
    except Exception:  # broken metadata: the title comes from the text
        title = ""
    return "\n".join(pages), title
