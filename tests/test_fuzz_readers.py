"""Property-based fuzzing of every reader (Hypothesis, derandomized for reproducible CI).

Property: iterating ``read_path`` yields only ``Document`` and ``Problem`` items; the only
exception is ``InputError`` (a missing or unsupported file, raised by ``read_path`` itself, or a
file-wide mapping error: the file has no id field/column, or no readable CSV header). Every
problem prints as one line with a position; every kept problem comes just before the document it
concerns; every document has a non-empty id and text fields that are strings that encode as UTF-8.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patscape.errors import InputError
from patscape.ingest import FieldMap, ReadLimits, read_path
from patscape.records import Document, Problem

from .test_hostile_files import grant, json_line, pdf

DATA = Path(__file__).parent / "data"

#: Small limits, so that the limit paths are fuzzed too.
SMALL = ReadLimits(max_line_bytes=700, max_decompressed_bytes=6000, max_file_bytes=3000, max_pdf_bytes=6000,
                   max_pdf_pages=2, max_xml_document_bytes=3000, max_xml_depth=12)
LIMITS = st.sampled_from([ReadLimits(), SMALL])

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: More examples for the cheap tests.
FUZZ_MORE = settings(FUZZ, max_examples=150)

_POSITION = re.compile(r"line \d+|lines \d+-\d+|file|document \d+ \(line \d+\)")
_FILE_WIDE = re.compile(r"no '[^']*' field for document ids|given for --\w+ is not in the file|line 1: (cannot read the CSV header|the CSV header is longer)")
_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
TEXT_FIELDS = ("id", "title", "abstract", "text", "claims", "description")


def check(path: Path, limits: ReadLimits | None = None) -> list[Document | Problem]:
    """Read ``path`` and assert the property; the items read."""
    try:
        reader = read_path(path, FieldMap(), limits=limits or ReadLimits())
    except InputError as exc:
        assert "\n" not in str(exc)
        return []
    items: list[Document | Problem] = []
    try:
        items.extend(reader)
    except InputError as exc:  # file-wide, found on reading the header or first record
        assert "\n" not in str(exc) and _FILE_WIDE.search(str(exc)), str(exc)
    pending: list[Problem] = []
    for item in items:
        if isinstance(item, Problem):
            assert isinstance(item.path, str) and isinstance(item.message, str) and item.message
            assert _POSITION.fullmatch(item.position), item.position
            text = str(item)
            assert len(text.splitlines()) == 1 and f": {item.position}: " in text
            text.encode("utf-8")
            if item.kept:
                pending.append(item)
            else:
                assert not pending, f"kept problems before a skipped record: {pending}"
            continue
        assert isinstance(item, Document), type(item)
        check_document(item)
        assert all(p.position == item.origin[1] for p in pending) if item.origin else not pending  # type: ignore[index]
        pending = []
    assert not pending, f"kept problems without their document: {pending}"
    return items


def check_document(doc: Document) -> None:
    assert isinstance(doc.id, str) and doc.id and doc.id == doc.id.strip() and len(doc.id) <= 512
    for name in TEXT_FIELDS:
        value = getattr(doc, name)
        assert isinstance(value, str), name
        assert not re.search(r"[\x00-\x08\x0e-\x1f\x7f\ud800-\udfff]", value), (name, value)
    assert doc.title or doc.abstract or doc.text or doc.claims or doc.description
    assert doc.lang is None or isinstance(doc.lang, str) and doc.lang
    assert doc.date is None or _DATE.fullmatch(doc.date), doc.date
    assert doc.assignee is None or isinstance(doc.assignee, str)
    assert isinstance(doc.source, str)
    for codes in (doc.cpc, doc.ipc):
        assert isinstance(codes, tuple) and all(isinstance(c, str) and c for c in codes)
    assert isinstance(doc.extra, dict)
    if "landscape" in doc.extra:
        assert isinstance(doc.extra["landscape"], dict)
    if "cites" in doc.extra:
        assert isinstance(doc.extra["cites"], list) and all(isinstance(c, str) and c for c in doc.extra["cites"])
    assert len(doc.content_hash) == 64  # every content field encodes as UTF-8
    json.dumps(doc.extra, ensure_ascii=False, allow_nan=False).encode("utf-8")


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- strategies ----------------------------------------------------------------------------------

#: Fragments that matter to one reader or another, inserted by the mutations.
INTERESTING = [
    b"\x00", b"\n", b"\r\n", b"\r", b'"', b",", b"\t", b"\\", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"\xe9", b"\xc3",
    b"\x1f\x8b", b"PK\x03\x04", b"<?xml", b"<!DOCTYPE a [<!ENTITY x 'y'>]>", b"&amp;", b"&x;", b"&mdash;", b"<p>",
    b"</p>", b"<description>", b"[", b"]", b"{", b"}", b"\\u0000", b"\\ud800", b"9" * 40, b"NaN", b"null", b"true",
    b"obj", b"endobj", b"stream", b"endstream", b" 0 R", b"/Kids [2 0 R]", b"/Count 99999", b"/Prev 9", b"xref",
    b"trailer", b"%%EOF", b"<<", b">>", b"/Length 999999",
]


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` after a few random edits: byte changes, insertions, deletions, duplications, truncation."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["set", "insert", "insert", "delete", "duplicate", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from(INTERESTING) | st.binary(min_size=1, max_size=12))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 40))]
        elif op == "duplicate":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 200))] * draw(st.integers(1, 4))
        else:
            del data[pos:]
    return bytes(data)


FIELD_NAMES = ["id", "title", "abstract", "text", "claims", "description", "lang", "date", "cpc", "ipc", "assignee",
               "source", "extra", "landscape", "cites", "family"]
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=30)  # with lone surrogates and controls
SHORT_TEXT = st.text(max_size=30) | ANY_TEXT | st.sampled_from(
    ["G06F3/013", "H01M 10/052", "hello", "2011-08-09", "20110809", "2999-01-01", "0001", "2021-02-30", "US1; US2", "en", ""]
)
SCALARS = st.none() | st.booleans() | st.integers() | st.integers(-(10**30), 10**30) | st.floats() | SHORT_TEXT
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SHORT_TEXT, inner, max_size=4), max_leaves=12
)
RECORDS = st.dictionaries(st.sampled_from(FIELD_NAMES) | SHORT_TEXT, JSON_VALUES, max_size=9)


def valid_jsonl() -> bytes:
    return b"".join([
        json_line("A", cpc=["G06F3/013"], date="2011-08-09", extra={"cites": ["B"], "landscape": {"uav": True}}),
        json_line("B", claims=["1. A glider.", "2. The glider of claim 1."], description="One.\nTwo."),
        json_line("C", title="滑翔机", lang="zh"),
    ])


VALID_CSV = (
    b'id,title,abstract,cpc,date,lang\nA,Glider,"A glider, with\na wing.","G06F3/013; H04L",2011-08-09,en\n'
    b"B,Radar,Rain radar.,G01S13/95,1999,en\n"
)
VALID_XML = (DATA / "uspto-grants.xml").read_bytes() + grant("7")


# -- JSON Lines, CSV, TSV ---------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".jsonl", ".csv", ".tsv", ".jsonl.gz", ".csv.gz", ".xml", ".txt", ".md", ".pdf"]),
       limits=LIMITS)
def test_random_bytes(tmp_path: Path, data: bytes, suffix: str, limits: ReadLimits) -> None:
    check(write(tmp_path, "random" + suffix, data), limits)


@FUZZ
@given(records=st.lists(RECORDS | st.builds(lambda r: {"id": "X", "title": "Glider", **r}, RECORDS), max_size=6),
       limits=LIMITS, compress=st.booleans())
def test_random_json_records(tmp_path: Path, records: list[dict[str, Any]], limits: ReadLimits, compress: bool) -> None:
    data = b"".join(json.dumps(r, ensure_ascii=True).encode() + b"\n" for r in records)
    items = check(write(tmp_path, "records.jsonl" + (".gz" if compress else ""), gzip.compress(data) if compress else data), limits)
    if limits == ReadLimits():  # nothing is dropped without a word: one document or one skip per record
        # ... unless the first record has no id field: the whole file is refused (InputError)
        refused = bool(records) and "id" not in records[0]
        assert len([i for i in items if not (isinstance(i, Problem) and i.kept)]) == (0 if refused else len(records))


@FUZZ_MORE
@given(data=mutated(valid_jsonl()), limits=LIMITS, compress=st.sampled_from(["no", "before", "after"]))
def test_mutated_jsonl(tmp_path: Path, data: bytes, limits: ReadLimits, compress: str) -> None:
    if compress == "before":  # a valid gzip of broken lines
        data = gzip.compress(data)
    elif compress == "after":  # broken gzip data
        data = gzip.compress(valid_jsonl())[:12] + data
    check(write(tmp_path, "mutated.jsonl.gz" if compress != "no" else "mutated.jsonl", data), limits)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, str]:
    """A CSV or TSV file of random cells under a header that has an id column."""
    delimiter = draw(st.sampled_from([",", "\t"]))
    columns = ["id"] + draw(st.lists(st.sampled_from(FIELD_NAMES[1:]) | SHORT_TEXT, max_size=5, unique=True))
    cells = ANY_TEXT | SHORT_TEXT | st.sampled_from(['"', '""', "\n", "\r\n", "a,b", "[1, [2]]", '{"uav": true}', "[" * 50])
    rows = draw(st.lists(st.lists(cells, min_size=len(columns) - 1, max_size=len(columns) + 1), max_size=6))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(columns)
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8", "surrogatepass")  # lone surrogates: invalid UTF-8
    return data, ".tsv" if delimiter == "\t" else ".csv"


@FUZZ
@given(table=csv_files(), limits=LIMITS, compress=st.booleans(), encoding=st.sampled_from(["utf-8", "utf-16", "utf-32"]))
def test_random_csv_and_tsv(tmp_path: Path, table: tuple[bytes, str], limits: ReadLimits, compress: bool, encoding: str) -> None:
    data, suffix = table
    if encoding != "utf-8":
        data = data.decode("utf-8", "surrogatepass").encode(encoding, "surrogatepass")
    check(write(tmp_path, "table" + suffix + (".gz" if compress else ""), gzip.compress(data) if compress else data), limits)


@FUZZ_MORE
@given(data=mutated(VALID_CSV), suffix=st.sampled_from([".csv", ".tsv", ".csv.gz"]), limits=LIMITS)
def test_mutated_csv(tmp_path: Path, data: bytes, suffix: str, limits: ReadLimits) -> None:
    if suffix == ".tsv":
        data = data.replace(b",", b"\t")
    check(write(tmp_path, "mutated" + suffix, gzip.compress(data) if suffix.endswith(".gz") else data), limits)


# -- USPTO XML --------------------------------------------------------------------------------------

TAGS = ["p", "heading", "claim", "claim-text", "b", "i", "sub", "description", "abstract", "invention-title", "div"]
XML_TEXT = st.text(st.characters(exclude_characters="<&", exclude_categories=("Cs",)), max_size=20) | st.sampled_from(["&amp;", "&mdash;", "&lol;", "&#1;", "&#x1F600;"])
ELEMENTS = st.recursive(
    XML_TEXT,
    lambda inner: st.builds(lambda tag, children: f"<{tag}>{''.join(children)}</{tag}>", st.sampled_from(TAGS), st.lists(inner, max_size=4)),
    max_leaves=25,
)


@FUZZ_MORE
@given(data=mutated(VALID_XML), limits=LIMITS, compress=st.booleans())
def test_mutated_uspto_xml(tmp_path: Path, data: bytes, limits: ReadLimits, compress: bool) -> None:
    check(write(tmp_path, "grants.xml" + (".gz" if compress else ""), gzip.compress(data) if compress else data), limits)


@FUZZ
@given(bodies=st.lists(st.lists(ELEMENTS, max_size=4).map("".join), min_size=1, max_size=3), limits=LIMITS,
       deep=st.integers(0, 3000))
def test_random_uspto_description_trees(tmp_path: Path, bodies: list[str], limits: ReadLimits, deep: int) -> None:
    bodies[0] = "<div>" * deep + bodies[0] + "</div>" * deep
    data = b"".join(grant(str(i + 1), body) for i, body in enumerate(bodies))
    items = check(write(tmp_path, "trees.xml", data), limits)
    assert len([i for i in items if not (isinstance(i, Problem) and i.kept)]) == len(bodies)


# -- folders of text, Markdown and PDF ------------------------------------------------------------

NAMES = st.text(st.characters(exclude_characters="/\x00", exclude_categories=("Cs",)), min_size=1, max_size=12).filter(
    lambda n: n not in (".", "..") and len(n.encode()) < 200
)


@FUZZ
@given(files=st.dictionaries(
    st.tuples(NAMES, st.sampled_from([".txt", ".md", ".TXT", ".pdf", ".dat"]), st.booleans()),
    st.binary(max_size=400) | mutated(b"# Glider\n\nA glider with a wing.\nWhat is claimed is:\n1. A glider.\n") | mutated(pdf(pages=2)),
    max_size=5,
), limits=LIMITS)
def test_random_folders(tmp_path: Path, files: dict[tuple[str, str, bool], bytes], limits: ReadLimits) -> None:
    folder = tmp_path / "folder"
    if folder.exists():
        for path in sorted(folder.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
    (folder / "sub").mkdir(parents=True)
    for (name, suffix, nested), data in files.items():
        (folder / "sub" if nested else folder).joinpath(name + suffix).write_bytes(data)
    items = check(folder, limits)
    for item in items:
        if isinstance(item, Document):
            assert item.extra == {"id_source": "path"}


@FUZZ_MORE
@given(data=mutated(pdf(pages=3)), limits=LIMITS)
def test_mutated_pdf(tmp_path: Path, data: bytes, limits: ReadLimits) -> None:
    check(write(tmp_path, "mutated.pdf", data), limits)
