"""JSON Lines and CSV/TSV readers (optionally gzip-compressed), streamed line by line.

Lines are read in bounded chunks (see :mod:`.streams`): a line longer than the limit is skipped
without being held, a gzip file stops at its expansion limit, a UTF-16/32 file (byte-order mark)
is read as such. A broken line is a positioned problem and reading goes on with the next one.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..records import Document, Problem
from .fields import FieldMap, convert, unmapped
from .limits import DEFAULT_LIMITS, ReadLimits
from .streams import Line, StreamError, display_path, format_bytes, read_chunks, split_lines, too_long, utf8_problem

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
log = logging.getLogger("patscape.ingest")

#: An unmapped field of the first record with this many characters is text the user may want.
LONG_TEXT = 200


def _json_problem(exc: ValueError | RecursionError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"malformed JSON: {exc.msg} (column {exc.colno})"
    if isinstance(exc, RecursionError):
        return "malformed JSON: nested too deeply"
    if "digits" in str(exc):
        return f"malformed JSON: a number with more than {sys.get_int_max_str_digits()} digits"
    return f"malformed JSON: {exc}"


def read_jsonl(path: Path, fields: FieldMap, limits: ReadLimits = DEFAULT_LIMITS) -> Iterator[Document | Problem]:
    """One JSON object per line; blank lines are ignored."""
    where = display_path(path)
    first = True
    number = 0
    with closing(split_lines(read_chunks(path, limits), limits.max_line_bytes)) as lines:
        try:
            for line in lines:
                number, raw = line.number, line.data
                position = f"line {number}"
                if raw is None:
                    yield Problem(where, position, too_long(line, limits))
                    continue
                if not raw.strip():
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield Problem(where, position, utf8_problem(raw, exc))
                    continue
                try:
                    record = json.loads(text)
                except (ValueError, RecursionError) as exc:
                    yield Problem(where, position, _json_problem(exc))
                    continue
                if not isinstance(record, dict):
                    yield Problem(where, position, f"expected a JSON object, got {type(record).__name__}")
                    continue
                if first:
                    _check_mapping(path, fields, record.keys())
                    _notice_unmapped_text(where, fields, record)
                    first = False
                yield from convert(record, fields, where, position)
        except StreamError as exc:
            yield Problem(where, f"line {number + 1}" if number else "file", str(exc))


def _check_mapping(path: Path, fields: FieldMap, columns: Any) -> None:
    """A field the user named (or the id field) must exist in the file."""
    available = set(columns)
    for target, source in fields.explicit().items():
        if source not in available and source.split(".")[0] not in available:
            raise InputError(
                f"{display_path(path)}: field {source!r} given for --{target} is not in the file "
                f"(fields: {_names(available)})"
            )
    if fields.id not in available and fields.id.split(".")[0] not in available:
        raise InputError(f"{display_path(path)}: no {fields.id!r} field for document ids (fields: {_names(available)}); use --id NAME")


def _names(available: set[Any]) -> str:
    """The fields of a file for a message: quoted, one line, at most 30."""
    names = sorted(map(str, available))
    shown = ", ".join(repr(n) if not n.isprintable() or len(n) > 60 else n for n in names[:30])
    return shown + (f", … ({len(names)} in all)" if len(names) > 30 else "")


def _notice_unmapped_text(where: str, fields: FieldMap, record: dict[str, Any]) -> None:
    """Warn (once per file) about long text in a field that no mapping names."""
    for name, value in unmapped(record, fields).items():
        items = value if isinstance(value, list) else [value]
        if sum(len(v) for v in items if isinstance(v, str)) >= LONG_TEXT:
            option = "--claims" if "claim" in name.lower() else "--description"
            log.warning("%s: field %r (text, not mapped) is kept in extra; map it with %s %s", where, name, option, name)


class _RecordTooLong(Exception):
    """A CSV record spans more bytes than one line may hold (an unclosed quote, most likely)."""


class _Lines:
    """Decoded lines for the csv module; remembers the line number, bad lines and the record size."""

    def __init__(self, lines: Iterator[Line], limits: ReadLimits) -> None:
        self.lines = lines
        self.limits = limits
        self.number = 0
        self.record_bytes = 0  # reset by the reader at the start of each record
        self.bad: dict[int, str] = {}  # line number -> problem (invalid UTF-8, too long)

    def __iter__(self) -> Iterator[str]:
        for line in self.lines:
            self.number = line.number
            if line.data is None:
                self.bad[line.number] = too_long(line, self.limits)
                yield "\n"
                continue
            self.record_bytes += line.length
            if self.record_bytes > self.limits.max_line_bytes:
                raise _RecordTooLong
            try:
                text = line.data.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.bad[line.number] = utf8_problem(line.data, exc)
                text = line.data.decode("utf-8", errors="replace")
            yield text


def read_csv(path: Path, fields: FieldMap, limits: ReadLimits = DEFAULT_LIMITS) -> Iterator[Document | Problem]:
    """CSV (or TSV, by suffix) with a header row; fields are mapped by column name."""
    where = display_path(path)
    delimiter = "\t" if ".tsv" in path.name.lower() else ","
    with closing(split_lines(read_chunks(path, limits), limits.max_line_bytes)) as raw_lines:
        lines = _Lines(raw_lines, limits)
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(f"{where}: line 1: cannot read the CSV header: {exc}") from exc
        except _RecordTooLong:
            raise InputError(f"{where}: line 1: the CSV header is longer than {format_bytes(limits.max_line_bytes)}") from None
        except StreamError as exc:
            yield Problem(where, "file", str(exc))
            return
        if lines.bad:
            raise InputError(f"{where}: line 1: cannot read the CSV header: {lines.bad[min(lines.bad)]}")
        header = [h.strip() for h in header]
        _check_mapping(path, fields, header)
        first = True
        while True:
            start = lines.number + 1
            lines.record_bytes = 0
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                lines.bad.clear()
                yield Problem(where, f"line {lines.number}", f"malformed CSV: {exc}")
                continue
            except _RecordTooLong:
                yield Problem(where, f"line {start}", f"a CSV record from here is longer than "
                              f"{format_bytes(limits.max_line_bytes)} (an unclosed quote?); the rest of the file is not read")
                return
            except StreamError as exc:
                yield Problem(where, f"line {lines.number + 1}", str(exc))
                return
            end = lines.number
            position = f"line {start}" if start == end else f"lines {start}-{end}"
            bad = [n for n in range(start, end + 1) if n in lines.bad]
            if bad:
                yield Problem(where, f"line {bad[0]}", lines.bad[bad[0]])
                lines.bad.clear()
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
            yield from convert(record, fields, where, position)
