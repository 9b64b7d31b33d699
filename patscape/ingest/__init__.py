"""Readers that turn patent files into :class:`~patscape.records.Document` streams.

Each reader yields ``Document`` or :class:`~patscape.records.Problem` items, one at a time, so
memory does not grow with the size of a file. :func:`read_path` picks the reader by file type.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..records import Document, Problem
from .fields import FieldMap
from .folder import TEXT_SUFFIXES, read_folder, read_text_file
from .tabular import read_csv, read_jsonl
from .uspto import read_uspto_xml

__all__ = ["FieldMap", "read_path", "SUPPORTED"]

SUPPORTED = ".jsonl .ndjson .jsonl.gz .csv .tsv .csv.gz .xml .txt .md .pdf, or a folder of .txt/.md/.pdf"


def read_path(path: str | Path, fields: FieldMap) -> Iterator[Document | Problem]:
    """Documents and problems from one file or folder, in file order."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        return read_folder(path)
    name = path.name.lower()
    if name.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".json")):
        return read_jsonl(path, fields)
    if name.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz")):
        return read_csv(path, fields)
    if name.endswith((".xml", ".xml.gz")):
        return read_uspto_xml(path)
    if path.suffix.lower() in TEXT_SUFFIXES:
        return read_text_file(path, path.parent)
    raise InputError(f"{path}: unsupported file type (supported: {SUPPORTED})")
