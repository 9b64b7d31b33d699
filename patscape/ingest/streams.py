"""Bytes of a file for the readers, bounded: gzip is expanded, UTF-16/32 transcoded, lines split.

Nothing here holds more than one chunk and one line (at most ``max_line_bytes``) in memory, so
a gzip bomb, a file without line breaks or a binary file renamed to ``.jsonl`` cannot exhaust it.
"""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import NamedTuple

from .limits import ReadLimits

#: Bytes read at a time.
CHUNK = 1024**2

#: Files that are not text, by their first bytes, and what to tell the user.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive, not a text file; extract it first"),
    (b"PK\x05\x06", "an empty ZIP archive, not a text file"),
    (b"%PDF-", "a PDF file, not a text file; name it .pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office file (.xls/.doc), not a text file; save it as CSV"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive, not a text file; extract it first"),
    (b"\xfd7zXZ\x00", "an xz-compressed file; decompress it first"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file; decompress it first"),
)
#: Byte-order marks and their encodings (UTF-32 before UTF-16: they share a prefix).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class StreamError(Exception):
    """Reading a file stopped: it is broken, not text, or passes a limit (the message is for the user)."""


class Line(NamedTuple):
    """One line: its number, its bytes with the line break (``None`` when longer than the limit), its length."""

    number: int
    data: bytes | None
    length: int


def display_path(path: Path | str) -> str:
    """A path as text that can always be printed and stored (undecodable bytes of a name become U+FFFD)."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def format_bytes(size: int) -> str:
    """``67108864`` -> ``64 MiB``."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            text = f"{value:.1f}".removesuffix(".0") if unit != "bytes" else str(size)
            return f"{text} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _sniff_encoding(head: bytes) -> tuple[str | None, int]:
    """(encoding other than UTF-8, or None; length of a UTF-8 byte-order mark to drop)."""
    if head.startswith(codecs.BOM_UTF8):
        return None, len(codecs.BOM_UTF8)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    # UTF-16 without a byte-order mark: JSON and CSV files start with two ASCII characters.
    if len(head) >= 4 and head[1] == 0 and head[3] == 0 and 0 < head[0] < 0x80 and 0 < head[2] < 0x80:
        return "utf-16-le", 0
    if len(head) >= 4 and head[0] == 0 and head[2] == 0 and 0 < head[1] < 0x80 and 0 < head[3] < 0x80:
        return "utf-16-be", 0
    return None, 0


def _read_error(exc: BaseException, compressed: bool) -> str:
    if isinstance(exc, EOFError):
        return "the gzip data ends early (a truncated file?); the rest is not read"
    if compressed and isinstance(exc, (gzip.BadGzipFile, zlib.error)):
        return f"corrupt gzip data ({exc}); the rest is not read"
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"cannot read the file: {reason}"


def read_chunks(path: Path, limits: ReadLimits, size: int = CHUNK) -> Generator[bytes, None, None]:
    """The bytes of a text file in chunks of about ``size``, as UTF-8 when a byte-order mark (or
    the layout of UTF-16) says it is UTF-16/32; gzip (recognised by its magic bytes) is expanded.

    Raises :class:`StreamError` when the file is not text, is corrupt, or expands past
    ``limits.max_decompressed_bytes``; the chunks before it were valid.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise StreamError(_read_error(exc, False)) from exc
    with handle:
        compressed = handle.peek(2)[:2] == b"\x1f\x8b"
        source: gzip.GzipFile | io.BufferedReader = gzip.GzipFile(fileobj=handle, mode="rb") if compressed else handle
        total = 0
        decoder: codecs.IncrementalDecoder | None = None
        encoding = ""
        first = True
        while True:
            try:
                chunk = source.read1(size)  # one read at a time: a truncated gzip loses little
            except (OSError, EOFError, zlib.error) as exc:
                raise StreamError(_read_error(exc, compressed)) from exc
            if not chunk:
                break
            total += len(chunk)
            if compressed and total > limits.max_decompressed_bytes:
                raise StreamError(
                    f"the gzip data expands to more than {format_bytes(limits.max_decompressed_bytes)}; the rest is not read"
                )
            if first:
                first = False
                for signature, what in _SIGNATURES:
                    if chunk.startswith(signature):
                        raise StreamError(f"this is {what}")
                found, skip = _sniff_encoding(chunk)
                chunk = chunk[skip:]
                if found:
                    encoding = found
                    decoder = codecs.getincrementaldecoder(found)("strict")
            if decoder is not None:
                chunk = yield from _transcode(decoder, chunk, encoding, total - len(chunk), final=False)
            if chunk:
                yield chunk
        if decoder is not None:
            tail = yield from _transcode(decoder, b"", encoding, total, final=True)
            if tail:
                yield tail


def _transcode(
    decoder: codecs.IncrementalDecoder, chunk: bytes, encoding: str, offset: int, final: bool
) -> Generator[bytes, None, bytes]:
    """``chunk`` (at byte ``offset`` of the file) as UTF-8; at invalid data, the text before it is
    yielded and :class:`StreamError` raised."""
    held = decoder.getstate()[0]  # the bytes of a character begun in the previous chunk
    try:
        return decoder.decode(chunk, final).encode("utf-8")
    except UnicodeDecodeError as exc:
        data = held + chunk
        good = data[: exc.start].decode(encoding).encode("utf-8")
        if good:
            yield good
        name = encoding[:6].upper()
        raise StreamError(f"invalid {name} at byte {offset - len(held) + exc.start}; the rest is not read") from exc


def split_lines(chunks: Iterable[bytes], max_line_bytes: int) -> Generator[Line, None, None]:
    """Lines of a byte stream; a line longer than ``max_line_bytes`` (without its line break) comes
    with ``data=None`` and was never held whole in memory."""
    number = 0
    parts: list[bytes] = []
    length = 0  # bytes of the current line so far, held in ``parts`` unless too long
    for chunk in chunks:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                rest = len(chunk) - start
                if rest:
                    if length + rest > max_line_bytes:
                        parts = []
                    else:
                        parts.append(chunk[start:] if start else chunk)
                    length += rest
                break
            number += 1
            length += end - start
            if length > max_line_bytes:
                yield Line(number, None, length)
            else:
                piece = chunk[start : end + 1]
                yield Line(number, b"".join(parts) + piece if parts else piece, length)
            parts = []
            length = 0
            start = end + 1
    if length:
        yield Line(number + 1, None if length > max_line_bytes else b"".join(parts), length)


def too_long(line: Line, limits: ReadLimits) -> str:
    """The problem of a line longer than the limit."""
    return f"line of {format_bytes(line.length)} is longer than {format_bytes(limits.max_line_bytes)}; skipped"


def utf8_problem(data: bytes, exc: UnicodeDecodeError) -> str:
    """``invalid UTF-8 at byte N``, with a hint when the line reads as a single-byte encoding."""
    message = f"invalid UTF-8 at byte {exc.start}"
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return message
    return message + " (Latin-1 or Windows-1252 text? save the file as UTF-8)"
