"""Hostile and broken files, built in tmp_path: every reader stops or skips with a positioned
problem, keeps the valid records around it, and holds bounded memory (measured with tracemalloc).

Time is bounded by construction (limits that stop reading early), never asserted."""

from __future__ import annotations

import gzip
import io
import json
import os
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from patscape.errors import InputError
from patscape.ingest import FieldMap, ReadLimits, read_path
from patscape.records import Document, Problem

MiB = 1024**2
GiB = 1024**3


def record(doc_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": doc_id, "title": "Underwater glider", "abstract": "A glider with a buoyancy engine.", "lang": "en", **fields}


def json_line(doc_id: str, **fields: Any) -> bytes:
    return json.dumps(record(doc_id, **fields)).encode() + b"\n"


def grant(number: str, body: str = "<p>A glider with a buoyancy engine.</p>") -> bytes:
    """A small USPTO grant of 8 lines with ``body`` as its description."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE us-patent-grant SYSTEM "us-patent-grant-v44-2013-05-16.dtd" [ ]>\n'
        '<us-patent-grant lang="EN"><us-bibliographic-data-grant>\n'
        f"<publication-reference><document-id><country>US</country><doc-number>{number}</doc-number>"
        "<kind>B2</kind><date>20131217</date></document-id></publication-reference>\n"
        "<invention-title>Underwater glider</invention-title></us-bibliographic-data-grant>\n"
        f"<description>{body}</description>\n"
        "</us-patent-grant>\n"
        "\n"
    ).encode()


def pdf(pages: int = 1, kids: bytes | None = None, xref_loop: bool = False, text: bytes = b"Satellite antenna") -> bytes:
    """A minimal PDF written by hand: ``pages`` pages showing ``text``; ``kids`` replaces the page
    tree's /Kids (e.g. to loop), ``xref_loop`` makes the trailer's /Prev point at its own xref."""
    content = b"BT /F1 12 Tf 72 720 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids or b" ".join(b"%d 0 R" % (5 + i) for i in range(pages)), pages),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ] + [
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R /Resources << /Font << /F1 4 0 R >> >> >>"
    ] * pages
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    prev = b" /Prev %d" % xref if xref_loop else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, prev, xref)
    return bytes(out)


def outline(items: list[Document | Problem]) -> list[tuple[str, ...]]:
    return [
        ("kept" if item.kept else "skipped", item.position, item.message) if isinstance(item, Problem) else ("doc", item.id)
        for item in items
    ]


def read_measured(path: Path, limits: ReadLimits | None = None) -> tuple[list[Document | Problem], int]:
    """The items of a file and the peak of memory allocated while reading it."""
    tracemalloc.start()
    try:
        items = list(read_path(path, FieldMap(), limits=limits or ReadLimits()))
        return items, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def zeros(total: int, chunk: int = MiB) -> Iterator[bytes]:
    """``total`` zero bytes as gzip members of ``chunk`` bytes each: a 1 GiB expansion costs 1 MB."""
    member = gzip.compress(bytes(chunk))
    for _ in range(total // chunk):
        yield member


# -- gzip bombs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("bomb.jsonl.gz", json_line("A") + json_line("B"), [("doc", "A"), ("doc", "B")]),
        ("bomb.csv.gz", b"id,title,lang\nA,Glider,en\nB,Radar,en\n", [("doc", "A"), ("doc", "B")]),
        ("bomb.xml.gz", grant("1") + grant("2"), [("doc", "US-1-B2"), ("doc", "US-2-B2")]),
    ],
)
def test_gzip_bomb_stops_at_the_expansion_limit(tmp_path: Path, name: str, head: bytes, expected: list[Any]) -> None:
    path = tmp_path / name
    with path.open("wb") as handle:
        handle.write(gzip.compress(head))
        handle.writelines(zeros(GiB))  # 1 GiB of zeros, no line break
    assert path.stat().st_size < 2 * MiB
    limits = ReadLimits(max_decompressed_bytes=10 * MiB)
    items, peak = read_measured(path, limits)
    line = head.count(b"\n") + 1
    assert outline(items) == expected + [
        ("skipped", f"line {line}", "the gzip data expands to more than 10 MiB; the rest is not read")
    ]
    assert peak < 10 * MiB + 8 * MiB


def test_truncated_and_corrupt_gzip_keep_what_came_before(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(json_line(f"D{i}") for i in range(2000)))
    truncated = tmp_path / "truncated.jsonl.gz"
    truncated.write_bytes(data[: len(data) * 3 // 4])
    items = list(read_path(truncated, FieldMap()))
    docs = [i for i in items if isinstance(i, Document)]
    assert [d.id for d in docs] == [f"D{i}" for i in range(len(docs))] and len(docs) > 1000
    problem = items[-1]
    assert isinstance(problem, Problem) and not problem.kept
    assert (problem.position, problem.message) == (
        f"line {len(docs) + 1}", "the gzip data ends early (a truncated file?); the rest is not read"
    )
    garbage = tmp_path / "garbage.jsonl.gz"
    garbage.write_bytes(gzip.compress(json_line("A")) + b"\x1f\x8bnot gzip at all")
    (doc, problem) = list(read_path(garbage, FieldMap()))
    assert isinstance(doc, Document) and isinstance(problem, Problem)
    assert problem.position == "line 2" and problem.message.startswith("corrupt gzip data (")


# -- long lines --------------------------------------------------------------------------------


def test_a_2_gib_line_is_skipped_without_being_held(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    first = json_line("A")
    with path.open("wb") as handle:  # sparse: the 2 GiB line costs no disk
        handle.write(first)
        handle.truncate(2 * GiB)
        handle.seek(2 * GiB)
        handle.write(b"\n" + json_line("B"))
    limits = ReadLimits(max_line_bytes=8 * MiB)
    items, peak = read_measured(path, limits)
    assert outline(items) == [
        ("doc", "A"),
        ("skipped", "line 2", "line of 2 GiB is longer than 8 MiB; skipped"),
        ("doc", "B"),
    ]
    assert peak < limits.max_line_bytes + 4 * MiB


@pytest.mark.parametrize(
    ("name", "head", "tail", "expected"),
    [
        ("long.csv", b"id,title,lang\nA,Glider,en\n", b"B,Radar,en\n",
         [("doc", "A"), ("skipped", "line 3", "line of 40 MiB is longer than 1 MiB; skipped"), ("doc", "B")]),
        # the long line is inside the description of document 2
        ("long.xml", grant("1") + grant("2").split(b"<description>")[0] + b"<description>",
         b"</description>\n</us-patent-grant>\n" + grant("3"),
         [("doc", "US-1-B2"),
          ("skipped", "document 2 (line 9)", "line 14 of 40 MiB is longer than 1 MiB; document skipped"),
          ("doc", "US-3-B2")]),
    ],
)
def test_long_lines_in_csv_and_xml(tmp_path: Path, name: str, head: bytes, tail: bytes, expected: list[Any]) -> None:
    path = tmp_path / name
    with path.open("wb") as handle:  # sparse: a line of 40 MiB of zeros
        handle.write(head)
        handle.truncate(len(head) + 40 * MiB)
        handle.seek(len(head) + 40 * MiB)
        handle.write(b"\n" + tail)
    items, peak = read_measured(path, ReadLimits(max_line_bytes=MiB))
    assert outline(items) == expected
    assert peak < 4 * MiB


def test_unclosed_csv_quote_stops_at_the_line_limit(tmp_path: Path) -> None:
    path = tmp_path / "unclosed.csv"
    with path.open("wb") as handle:
        handle.write(b'id,title,lang\nA,Glider,en\nB,"Radar\n')
        handle.writelines(b"more text of a field that never ends\n" for _ in range(100_000))
    items, peak = read_measured(path, ReadLimits(max_line_bytes=MiB))
    assert outline(items) == [
        ("doc", "A"),
        ("skipped", "line 3",
         "a CSV record from here is longer than 1 MiB (an unclosed quote?); the rest of the file is not read"),
    ]
    assert peak < 12 * MiB  # the csv module holds a field as 4-byte characters in a doubling buffer


def test_xml_document_over_the_size_limit_is_skipped(tmp_path: Path) -> None:
    big = grant("2", "<p>" + "glider " * 200_000 + "</p>")
    path = tmp_path / "big.xml"
    path.write_bytes(grant("1") + big + grant("3"))
    items = list(read_path(path, FieldMap(), limits=ReadLimits(max_xml_document_bytes=MiB)))
    assert outline(items) == [
        ("doc", "US-1-B2"),
        ("skipped", "document 2 (line 9)", "document is larger than 1 MiB; skipped"),
        ("doc", "US-3-B2"),
    ]


# -- XML entities and nesting --------------------------------------------------------------------

LAUGHS = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))


@pytest.mark.parametrize(
    ("doctype", "message"),
    [
        # the usual billion laughs: the DOCTYPE is removed, the entities are unknown
        (f'<!DOCTYPE us-patent-grant [<!ENTITY lol0 "lol">{LAUGHS}]>',
         "malformed XML: undefined entity: line 3, column 34"),
        # a "]" inside the DTD keeps it from being removed: refused before parsing
        (f'<!DOCTYPE us-patent-grant [<!ENTITY x "]"><!ENTITY lol0 "lol">{LAUGHS}]>',
         "the XML declares entities (a DTD); not read, for safety"),
        # an external entity is never resolved
        ('<!DOCTYPE us-patent-grant [<!ENTITY lol9 SYSTEM "file:///etc/passwd">]>',
         "malformed XML: undefined entity: line 3, column 34"),
        ('<!DOCTYPE us-patent-grant [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>',
         "malformed XML: undefined entity: line 3, column 34"),
    ],
)
def test_entity_expansion_and_external_entities(tmp_path: Path, doctype: str, message: str) -> None:
    hostile = (
        f'<?xml version="1.0"?>\n{doctype}\n'
        "<us-patent-grant><invention-title>&lol9;</invention-title></us-patent-grant>\n"
    ).encode()
    path = tmp_path / "laughs.xml"
    path.write_bytes(grant("1") + hostile + grant("2"))
    items, peak = read_measured(path)
    assert outline(items) == [("doc", "US-1-B2"), ("skipped", "document 2 (line 9)", message), ("doc", "US-2-B2")]
    assert peak < 16 * MiB


def test_deeply_nested_xml(tmp_path: Path) -> None:
    body = "<div>" * 100_000 + "<p>A deep paragraph.</p>" + "</div>" * 100_000
    path = tmp_path / "deep.xml"
    path.write_bytes(grant("1") + grant("2", body) + grant("3"))
    assert outline(list(read_path(path, FieldMap()))) == [
        ("doc", "US-1-B2"),
        ("skipped", "document 2 (line 9)", "XML nested deeper than 1000 levels"),
        ("doc", "US-3-B2"),
    ]
    # allowed that deep, the paragraphs are still found (without recursion)
    items = list(read_path(path, FieldMap(), limits=ReadLimits(max_xml_depth=200_000)))
    deep = [i for i in items if isinstance(i, Document) and i.id == "US-2-B2"]
    assert len(items) == 3 and deep[0].description == "A deep paragraph."


# -- NUL bytes and encodings ---------------------------------------------------------------------


def test_nul_bytes_and_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "nul.jsonl"
    path.write_bytes(
        json_line("A", title="Gli\u0000der")
        + b'{"id": "B", "title": "raw\x00nul"}\n'
        + b"\x00" * 1000 + b"\n"
        + json_line("C")
    )
    items = list(read_path(path, FieldMap()))
    assert outline(items) == [
        ("doc", "A"),
        ("skipped", "line 2", "malformed JSON: Invalid control character at (column 26)"),
        ("skipped", "line 3", "malformed JSON: Expecting value (column 1)"),
        ("doc", "C"),
    ]
    assert items[0].title == "Glider"  # type: ignore[union-attr]
    table = tmp_path / "nul.csv"
    table.write_bytes(b"id,title\nA\x00,Gli\x00der\x01\nB,Radar\n")
    assert [(d.id, d.title) for d in read_path(table, FieldMap()) if isinstance(d, Document)] == [("A", "Glider"), ("B", "Radar")]
    text = tmp_path / "nul.txt"
    text.write_bytes(b"Glider\x00 title\nA body\x00 with\x07 nul bytes.\n")
    (doc,) = list(read_path(text, FieldMap()))
    assert isinstance(doc, Document) and (doc.title, doc.text) == ("Glider title", "A body with nul bytes.")


def test_utf16_and_utf32_files_are_decoded(tmp_path: Path) -> None:
    table = "id\ttitle\nA\tGlïder 滑翔机\nB\tRadar\n"
    for name, data in [
        ("bom16.tsv", table.encode("utf-16")),  # Excel "Unicode text": UTF-16LE with a byte-order mark
        ("be16.tsv", b"\xfe\xff" + table.encode("utf-16-be")),
        ("nobom16.tsv", table.encode("utf-16-le")),
        ("bom32.tsv", table.encode("utf-32")),
        ("bom8.tsv", b"\xef\xbb\xbf" + table.encode("utf-8")),
    ]:
        (tmp_path / name).write_bytes(data)
        items = list(read_path(tmp_path / name, FieldMap()))
        assert [(d.id, d.title) for d in items if isinstance(d, Document)] == [("A", "Glïder 滑翔机"), ("B", "Radar")], name
        assert len(items) == 2, name
    lines = tmp_path / "bom8.jsonl"  # a UTF-8 byte-order mark before the first JSON object
    lines.write_bytes(b"\xef\xbb\xbf" + json_line("A"))
    assert outline(list(read_path(lines, FieldMap()))) == [("doc", "A")]
    broken = tmp_path / "broken16.jsonl"
    good = json_line("A").decode().encode("utf-16")
    broken.write_bytes(good + "\udc00 lone low surrogate".encode("utf-16-le", "surrogatepass"))
    assert outline(list(read_path(broken, FieldMap()))) == [
        ("doc", "A"), ("skipped", "line 2", f"invalid UTF-16 at byte {len(good)}; the rest is not read"),
    ]


def test_latin1_and_invalid_utf8_lines_are_positioned_problems(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,title\nA,Glider\nB,Planeur à hélice\nC,Radar\n".encode("latin-1"))
    assert outline(list(read_path(path, FieldMap()))) == [
        ("doc", "A"),
        ("skipped", "line 3", "invalid UTF-8 at byte 10 (Latin-1 or Windows-1252 text? save the file as UTF-8)"),
        ("doc", "C"),
    ]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(json_line("A") + b'{"id": "B", "title": "\x81\x8d"}\n' + json_line("C"))
    assert outline(list(read_path(mixed, FieldMap()))) == [
        ("doc", "A"), ("skipped", "line 2", "invalid UTF-8 at byte 22"), ("doc", "C"),
    ]


def test_json_nested_too_deeply_or_with_huge_numbers(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_bytes(json_line("A") + b"[" * 100_000 + b"\n" + b'{"id": ' + b"9" * 5000 + b"}\n" + json_line("B"))
    assert outline(list(read_path(path, FieldMap()))) == [
        ("doc", "A"),
        ("skipped", "line 2", "malformed JSON: nested too deeply"),
        ("skipped", "line 3", "malformed JSON: a number with more than 4300 digits"),
        ("doc", "B"),
    ]


# -- archives and other files that are not text --------------------------------------------------


def test_archives_and_binary_files(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("export.jsonl", json_line("A") * 100)
    for name in ("export.jsonl", "export.csv", "export.xml", "export.txt"):
        (tmp_path / name).write_bytes(buffer.getvalue())
        assert outline(list(read_path(tmp_path / name, FieldMap()))) == [
            ("skipped", "file", "this is a ZIP archive, not a text file; extract it first")
        ], name
    (tmp_path / "export.zip").write_bytes(buffer.getvalue())
    with pytest.raises(InputError, match=r"export\.zip: unsupported file type"):
        read_path(tmp_path / "export.zip", FieldMap())
    os.mkfifo(tmp_path / "pipe.jsonl")  # would block forever on reading
    with pytest.raises(InputError, match=r"pipe\.jsonl: not a regular file"):
        read_path(tmp_path / "pipe.jsonl", FieldMap())
    # gzip without .gz in the name is recognised by its magic bytes
    (tmp_path / "packed.jsonl").write_bytes(gzip.compress(json_line("A")))
    assert outline(list(read_path(tmp_path / "packed.jsonl", FieldMap()))) == [("doc", "A")]
    (tmp_path / "pdf.jsonl").write_bytes(pdf())
    assert outline(list(read_path(tmp_path / "pdf.jsonl", FieldMap()))) == [
        ("skipped", "file", "this is a PDF file, not a text file; name it .pdf")
    ]


def test_text_files_over_the_size_limit(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"Glider\n" + b"text " * 500_000)
    (tmp_path / "big.pdf").write_bytes(pdf(text=b"x" * 3 * MiB))
    (tmp_path / "small.txt").write_bytes(b"Radar\nA radar.\n")
    items = list(read_path(tmp_path, FieldMap(), limits=ReadLimits(max_file_bytes=MiB, max_pdf_bytes=2 * MiB)))
    assert outline(items) == [
        ("skipped", "file", "file of 3 MiB is larger than 2 MiB; skipped"),
        ("skipped", "file", "file of 2.4 MiB is larger than 1 MiB; skipped"),
        ("doc", "small"),
    ]


# -- PDF -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: pdf(kids=b"5 0 R 2 0 R"), [("skipped", "file", "cannot read PDF: Detected cyclic page references.")]),
        (lambda: pdf(kids=b"2 0 R"), [("skipped", "file", "cannot read PDF: Detected cyclic page references.")]),
        (lambda: pdf(xref_loop=True), [("doc", "looping")]),
        (lambda: pdf()[:200], [("skipped", "file", "cannot read PDF: Stream has ended unexpectedly")]),
        (lambda: pdf(pages=5), [("kept", "file", "PDF has 5 pages; only the first 3 are read"), ("doc", "looping")]),
    ],
)
def test_looping_broken_and_long_pdfs(tmp_path: Path, build: Callable[[], bytes], expected: list[Any]) -> None:
    path = tmp_path / "looping.pdf"
    path.write_bytes(build())
    items = list(read_path(path, FieldMap(), limits=ReadLimits(max_pdf_pages=3)))
    assert outline(items) == expected
    for doc in items:
        if isinstance(doc, Document):
            assert doc.title == "Satellite antenna" and doc.extra == {"id_source": "path"}


def test_pdf_with_unreadable_pages_keeps_the_others(tmp_path: Path) -> None:
    data = pdf(pages=3).replace(b"/Contents 3 0 R", b"/Contents 99 0 R", 1)  # page 1 points at nothing
    path = tmp_path / "holes.pdf"
    path.write_bytes(data)
    items = list(read_path(path, FieldMap()))
    assert outline(items) == [("doc", "holes")]
    assert items[0].title == "Satellite antenna" and items[0].text == "Satellite antenna"  # type: ignore[union-attr]
