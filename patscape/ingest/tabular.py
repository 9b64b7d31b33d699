"""JSON Lines and CSV/TSV readers (optionally gzip-compressed), streamed line by line."""

from __future__ import annotations

import csv
import gzip
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import InputError
from ..records import Document, Problem
from .fields import FieldMap, to_document, unmapped

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
log = logging.getLogger("patscape.ingest")

#: An unmapped field of the first record with this many characters is text the user may want.
LONG_TEXT = 200


def _open_binary(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


def read_jsonl(path: Path, fields: FieldMap) -> Iterator[Document | Problem]:
    """One JSON object per line; blank lines are ignored."""
    where = str(path)
    first = True
    with _open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            position = f"line {number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Problem(where, position, f"invalid UTF-8 at byte {exc.start}")
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Problem(where, position, f"malformed JSON: {exc.msg} (column {exc.colno})")
                continue
            if not isinstance(record, dict):
                yield Problem(where, position, f"expected a JSON object, got {type(record).__name__}")
                continue
            if first:
                _check_mapping(path, fields, record.keys())
                _notice_unmapped_text(where, fields, record)
                first = False
            yield _convert(record, fields, where, position)


def _check_mapping(path: Path, fields: FieldMap, columns: Any) -> None:
    """A field the user named (or the id field) must exist in the file."""
    available = set(columns)
    for target, source in fields.explicit().items():
        if source not in available and source.split(".")[0] not in available:
            raise InputError(
                f"{path}: field {source!r} given for --{target} is not in the file "
                f"(fields: {', '.join(sorted(map(str, available)))})"
            )
    if fields.id not in available and fields.id.split(".")[0] not in available:
        raise InputError(
            f"{path}: no {fields.id!r} field for document ids (fields: {', '.join(sorted(map(str, available)))}); use --id NAME"
        )


def _notice_unmapped_text(where: str, fields: FieldMap, record: dict[str, Any]) -> None:
    """Warn (once per file) about long text in a field that no mapping names."""
    for name, value in unmapped(record, fields).items():
        items = value if isinstance(value, list) else [value]
        if sum(len(v) for v in items if isinstance(v, str)) >= LONG_TEXT:
            option = "--claims" if "claim" in name.lower() else "--description"
            log.warning("%s: field %r (text, not mapped) is kept in extra; map it with %s %s", where, name, option, name)


def _convert(record: dict[str, Any], fields: FieldMap, where: str, position: str) -> Document | Problem:
    try:
        return to_document(record, fields, where, position)
    except ValueError as exc:
        return Problem(where, position, str(exc))


class _Lines:
    """Decoded lines of a binary file; remembers the current line number and bad lines."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.number = 0
        self.bad: dict[int, int] = {}  # line number -> byte offset of the first invalid byte

    def __iter__(self) -> Iterator[str]:
        for raw in self.handle:
            self.number += 1
            try:
                text = raw.decode("utf-8-sig" if self.number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                self.bad[self.number] = exc.start
                text = raw.decode("utf-8", errors="replace")
            yield text


def read_csv(path: Path, fields: FieldMap) -> Iterator[Document | Problem]:
    """CSV (or TSV, by suffix) with a header row; fields are mapped by column name."""
    where = str(path)
    delimiter = "\t" if ".tsv" in path.name.lower() else ","
    with _open_binary(path) as handle:
        lines = _Lines(handle)
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(f"{path}: line 1: cannot read the CSV header: {exc}") from exc
        header = [h.strip() for h in header]
        _check_mapping(path, fields, header)
        first = True
        while True:
            start = lines.number + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield Problem(where, f"line {lines.number}", f"malformed CSV: {exc}")
                continue
            end = lines.number
            position = f"line {start}" if start == end else f"lines {start}-{end}"
            bad = [n for n in range(start, end + 1) if n in lines.bad]
            if bad:
                yield Problem(where, f"line {bad[0]}", f"invalid UTF-8 at byte {lines.bad[bad[0]]}")
                continue
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield Problem(where, position, f"expected {len(header)} columns, found {len(row)}")
                continue
            record = dict(zip(header, row))
            if first:
                _notice_unmapped_text(where, fields, record)
                first = False
            yield _convert(record, fields, where, position)
