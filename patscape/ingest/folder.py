"""A folder of plain-text, Markdown and PDF files, one document per file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..records import Document, Problem
from ..text import detect_language, normalize

TEXT_SUFFIXES = {".txt", ".md", ".pdf"}


def read_folder(folder: Path) -> Iterator[Document | Problem]:
    """Every .txt/.md/.pdf below ``folder`` (sorted); the id is the path relative to it."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES):
        yield from read_text_file(path, folder)


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
    lines = [line.strip() for line in raw.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        yield Problem(where, "file", "empty text")
        return
    if not title:
        title = lines[0].lstrip("#").strip()
        lines = lines[1:]
    body = normalize("\n".join(lines))
    title = normalize(title)
    yield Document(
        id=doc_id,
        title=title,
        text=body,
        lang=detect_language(f"{title} {body[:2000]}"),
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
