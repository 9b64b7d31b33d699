"""A folder of plain-text, Markdown and PDF files, one document per file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ..records import Document, Problem
from ..text import detect_language, normalize
from .fields import normalize_block

TEXT_SUFFIXES = {".txt", ".md", ".pdf"}

#: A line that opens the claims: "What is claimed is:", "Claims", "权利要求书", ... (claims may follow a colon).
_CLAIMS_HEADING = re.compile(
    r"【?(?:what (?:is|i|we) claim(?:ed)?(?: is)?|(?:i|we) claim|the invention claimed is|claims|"
    r"权利要求书|特許請求の範囲|청구범위|patentansprüche|revendications|reivindicaciones)】?"
    r"\s*(?:[:：]\s*(?P<rest>.*))?",
    re.IGNORECASE,
)


def read_folder(folder: Path) -> Iterator[Document | Problem]:
    """Every .txt/.md/.pdf below ``folder`` (sorted); the id is the path relative to it."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES):
        yield from read_text_file(path, folder)


def split_claims(lines: list[str]) -> tuple[str, str, str]:
    """``(text, claims, description)`` of a body: at the first claims heading the claims begin and
    the description ends; a body without one is all ``text``. Lines are kept."""
    for index, line in enumerate(lines):
        match = _CLAIMS_HEADING.fullmatch(line.lstrip("#").strip())
        if match:
            claims = ([match["rest"]] if match["rest"] else []) + lines[index + 1 :]
            return "", "\n".join(claims), "\n".join(lines[:index])
    return "\n".join(lines), "", ""


def read_text_file(path: Path, root: Path) -> Iterator[Document | Problem]:
    where = str(path)
    doc_id = path.relative_to(root).with_suffix("").as_posix()
    if path.suffix.lower() == ".pdf":
        try:
            raw, title = _pdf_text(path)
        except Exception as exc:  # pypdf raises many types for broken files
            yield Problem(where, "file", f"cannot read PDF: {exc}")
            return
        if not raw.strip():
            yield Problem(where, "file", "PDF has no text layer (a scan?); run OCR first")
            return
    else:
        data = path.read_bytes()
        try:
            raw = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            yield Problem(where, f"line {line}", f"invalid UTF-8 at byte {exc.start}")
            return
        title = ""
    lines = normalize_block(raw).splitlines()
    if not lines:
        yield Problem(where, "file", "empty text")
        return
    title = normalize(title)
    if not title:
        title = lines[0].lstrip("#").strip()
        lines = lines[1:]
    text, claims, description = split_claims(lines)
    yield Document(
        id=doc_id,
        title=title,
        text=text,
        claims=claims,
        description=description,
        lang=detect_language(f"{title} {(text or description or claims)[:2000]}"),
        source=where,
        origin=(where, "file"),
    )


def _pdf_text(path: Path) -> tuple[str, str]:
    from pypdf import PdfReader

    reader = PdfReader(path)
    pages = [page.extract_text() or "" for page in reader.pages]
    title = ""
    if reader.metadata is not None and reader.metadata.title:
        title = str(reader.metadata.title)
    return "\n".join(pages), title
