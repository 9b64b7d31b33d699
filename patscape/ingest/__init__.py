"""Readers that turn patent files into :class:`~patscape.records.Document` streams.

Each reader yields ``Document`` or :class:`~patscape.records.Problem` items, one at a time, so
memory does not grow with the size of a file. :func:`read_path` picks the reader by file type.
A problem with ``kept`` set comes just before the document it concerns (a field was fixed or
dropped); any other problem is a record that was skipped. :class:`ReadLimits` bounds what a
reader holds and reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..records import Document, Problem
from .fields import FieldMap
from .folder import TEXT_SUFFIXES, read_folder, read_text_file
from .limits import DEFAULT_LIMITS, ReadLimits
from .streams import display_path
from .tabular import read_csv, read_jsonl
from .uspto import read_uspto_xml

__all__ = ["SUPPORTED", "FieldMap", "ReadLimits", "read_path"]

SUPPORTED = ".jsonl .ndjson .jsonl.gz .csv .tsv .csv.gz .xml .txt .md .pdf, or a folder of .txt/.md/.pdf"


def read_path(path: str | Path, fields: FieldMap, limits: ReadLimits = DEFAULT_LIMITS) -> Iterator[Document | Problem]:
    """Documents and problems from one file or folder, in file order.

    Raises :class:`InputError` at once for a missing file or an unsupported type; a file-wide
    problem found while reading (a mapped field missing from a file) raises it on iteration.
    """
    path = Path(path)
    where = display_path(path)
    if not path.exists():
        raise InputError(f"{where}: no such file or folder")
    if path.is_dir():
        return read_folder(path, limits)
    if not path.is_file():
        raise InputError(f"{where}: not a regular file")
    name = path.name.lower()
    if name.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".json")):
        return read_jsonl(path, fields, limits)
    if name.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz")):
        return read_csv(path, fields, limits)
    if name.endswith((".xml", ".xml.gz")):
        return read_uspto_xml(path, limits)
    if path.suffix.lower() in TEXT_SUFFIXES:
        return read_text_file(path, path.parent, limits)
    raise InputError(f"{where}: unsupported file type (supported: {SUPPORTED})")
