from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from patscape.errors import InputError, StoreError
from patscape.ingest import FieldMap, read_path
from patscape.pipeline import ingest
from patscape.records import Document, Problem
from patscape.store import Store

from .conftest import write_jsonl

DATA = Path(__file__).parent / "data"

RECORDS = [
    {"id": "US-1-B2", "title": "Underwater glider", "abstract": "A glider with a buoyancy engine.", "lang": "en",
     "date": "2011-08-09", "cpc": ["B63G8/00", "B63G8/14"], "ipc": ["B63G8/00"], "extra": {"cites": ["US-2-A"]}},
    {"id": "US-2-A", "title": "Rain gauge radar", "abstract": "Radar estimates the rainfall over an area.", "date": "19990101",
     "cpc": "G01S13/95; G01W1/14", "ipc": "G01S13/95"},
    {"id": "CN-3-B", "title": "一种卫星姿态控制方法", "abstract": "本发明公开了一种卫星姿态控制方法。", "date": "2024/3/5",
     "ipc": ["B64G1/24"], "assignee": "中山大学"},
]


def test_jsonl_fields_are_normalised(tmp_path: Path) -> None:
    items = list(read_path(write_jsonl(tmp_path / "a.jsonl", RECORDS), FieldMap()))
    assert all(isinstance(i, Document) for i in items)
    glider, radar, satellite = items
    assert glider.cpc == ("B63G8/00", "B63G8/14") and glider.extra["cites"] == ["US-2-A"]
    assert radar.cpc == ("G01S13/95", "G01W1/14") and radar.date == "1999-01-01"
    assert radar.lang == "en"  # detected
    assert satellite.lang == "zh" and satellite.date == "2024-03-05" and satellite.assignee == "中山大学"


def test_reingest_adds_nothing_and_changed_document_replaces(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", RECORDS)
    with Store(tmp_path / "store") as store:
        first = ingest(store, [path])
        assert (first.added, first.unchanged) == (3, 0)
        again = ingest(store, [path])
        assert (again.added, again.replaced, again.unchanged) == (0, 0, 3)
        changed = [dict(RECORDS[0], abstract="A glider with a new wing.")] + RECORDS[1:]
        third = ingest(store, [write_jsonl(tmp_path / "b.jsonl", changed)])
        assert (third.added, third.replaced, third.unchanged) == (0, 1, 2)
        assert store.get_document("US-1-B2").abstract == "A glider with a new wing."
        assert store.count_documents() == 3


def test_same_content_under_another_id_is_deduplicated(tmp_path: Path) -> None:
    twin = dict(RECORDS[0], id="US-1-A1")
    with Store(tmp_path / "store") as store:
        report = ingest(store, [write_jsonl(tmp_path / "a.jsonl", [RECORDS[0], twin])])
        assert (report.added, report.duplicates) == (1, 1)


def test_bad_lines_are_reported_with_line_numbers_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    lines = [
        json.dumps(RECORDS[0]).encode(),
        b'{"id": "X-1", "title": "broken',  # malformed JSON, line 2
        b'{"id": "X-2", "title": "caf\xe9"}',  # invalid UTF-8, line 3
        json.dumps({"id": "X-3", "title": "", "abstract": ""}).encode(),  # empty text, line 4
        json.dumps({"title": "no id"}).encode(),  # missing id, line 5
        b"[1, 2]",  # not an object, line 6
        json.dumps(RECORDS[1]).encode(),
        json.dumps(dict(RECORDS[0], title="Other")).encode(),  # duplicate id, line 8
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    seen: list[Problem] = []
    with Store(tmp_path / "store") as store:
        report = ingest(store, [path], on_problem=seen.append)
        assert store.count_documents() == 2
    messages = [str(p) for p in seen]
    assert len(messages) == 6
    assert "line 2: malformed JSON" in messages[0]
    assert "line 3: invalid UTF-8" in messages[1]
    assert "line 4" in messages[2] and "empty text" in messages[2]
    assert "line 5: missing id" in messages[3]
    assert "line 6: expected a JSON object" in messages[4]
    assert "line 8: duplicate id US-1-B2" in messages[5] and "first seen at" in messages[5] and "line 1" in messages[5]
    assert report.added == 2


def test_strict_keeps_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n{oops\n" + json.dumps(RECORDS[1]) + "\n")
    with Store(tmp_path / "store") as store:
        with pytest.raises(InputError, match="line 2"):
            ingest(store, [path], strict=True, batch_size=1)
        assert store.count_documents() == 0


def test_csv_with_field_mapping_and_unknown_columns(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "publication_number,headline,summary,codes,pub_date,family\n"
        'US-9-B1,"Satellite antenna","A deployable, foldable antenna.","H01Q1/28,B64G1/66",2013-02-01,F1\n'
        "US-10-B1,Glider,\"Multi-line\nabstract\",B63G8/00,2012,F2\n",
        encoding="utf-8",
    )
    fields = FieldMap(id="publication_number", title="headline", abstract="summary", cpc="codes", date="pub_date")
    docs = [d for d in read_path(path, fields) if isinstance(d, Document)]
    assert [d.id for d in docs] == ["US-9-B1", "US-10-B1"]
    assert docs[0].cpc == ("H01Q1/28", "B64G1/66") and docs[0].extra == {"family": "F1"}
    assert docs[1].abstract == "Multi-line abstract" and docs[1].date == "2012"
    with pytest.raises(InputError, match="'headline2' given for --title is not in the file"):
        list(read_path(path, FieldMap(id="publication_number", title="headline2")))
    with pytest.raises(InputError, match="no 'id' field"):
        list(read_path(path, FieldMap()))


def test_tsv_with_claims_as_a_json_list_and_a_multi_line_description(tmp_path: Path) -> None:
    claims = json.dumps(["1. A glider comprising a wing.", "2. The glider of claim 1,\n wherein the wing folds."])
    path = tmp_path / "export.tsv"
    path.write_text(
        "id\ttitle\tclaims\tdescription\tipc\n"
        f"US-7-B1\tFolding glider\t{claims}\t\"FIELD\n\n  A glider   with wings.\nMore.\"\tB63G8/00\n",
        encoding="utf-8",
    )
    (doc,) = list(read_path(path, FieldMap()))
    assert isinstance(doc, Document)
    assert doc.claims == "1. A glider comprising a wing.\n2. The glider of claim 1, wherein the wing folds."
    assert doc.description == "FIELD\nA glider with wings.\nMore."
    assert doc.ipc == ("B63G8/00",) and doc.extra == {}


def test_gzip_compressed_jsonl_csv_and_tsv(tmp_path: Path) -> None:
    jsonl = tmp_path / "a.jsonl.gz"
    with gzip.open(jsonl, "wt", encoding="utf-8") as handle:
        for record in RECORDS:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    table = "id,title,abstract,claims\nUS-5-B1,Radar,Rain radar.,\"1. A radar.\n2. The radar of claim 1.\"\n"
    csv_gz, tsv_gz = tmp_path / "b.csv.gz", tmp_path / "c.tsv.gz"
    csv_gz.write_bytes(gzip.compress(table.encode("utf-8")))
    tsv_gz.write_bytes(gzip.compress(table.replace(",", "\t").replace("Rain radar.", "Rain, radar.").encode("utf-8")))
    plain = [d for d in read_path(write_jsonl(tmp_path / "a.jsonl", RECORDS), FieldMap()) if isinstance(d, Document)]
    packed = [d for d in read_path(jsonl, FieldMap()) if isinstance(d, Document)]
    assert [(d.id, d.abstract) for d in packed] == [(r["id"], r["abstract"]) for r in RECORDS]
    assert [d.content_hash for d in packed] == [d.content_hash for d in plain]
    (from_csv,) = list(read_path(csv_gz, FieldMap()))
    (from_tsv,) = list(read_path(tsv_gz, FieldMap()))
    assert isinstance(from_csv, Document) and isinstance(from_tsv, Document)
    assert from_csv.claims == from_tsv.claims == "1. A radar.\n2. The radar of claim 1."
    assert (from_csv.abstract, from_tsv.abstract) == ("Rain radar.", "Rain, radar.")


def test_csv_bad_rows_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id,title\nA,ok\nB,too,many\nC,caf\xe9\nD,fine\n")
    items = list(read_path(path, FieldMap()))
    assert [i.id for i in items if isinstance(i, Document)] == ["A", "D"]
    problems = [str(i) for i in items if isinstance(i, Problem)]
    assert "line 3: expected 2 columns, found 3" in problems[0]
    assert "line 4: invalid UTF-8" in problems[1]


def test_uspto_bulk_xml(tmp_path: Path) -> None:
    items = list(read_path(DATA / "uspto-grants.xml", FieldMap()))
    docs = [i for i in items if isinstance(i, Document)]
    problems = [i for i in items if isinstance(i, Problem)]
    assert [d.id for d in docs] == ["US-8611015-B2", "US-2013012345-A1"]
    grant = docs[0]
    assert grant.title == "Vehicular image sensing system — with “smart” control"
    assert grant.date == "2013-12-17" and grant.lang == "en"
    assert grant.ipc == ("G06K9/00",) and grant.cpc == ("B60Q1/14", "G06K9/00791")
    assert grant.assignee == "Magna Electronics Inc."
    assert grant.claims == (
        "1. A vehicular image sensing system comprising an imaging sensor.\n"
        "2. The system of claim 1, wherein the sensor is a CMOS sensor."
    )
    assert grant.description == "BACKGROUND\nVehicles need to see at night."
    assert grant.text == ""
    assert grant.extra["cites"] == ["US-4249160-A"]
    assert grant.extra["filing_date"] == "2012-08-06" and "priority_date" not in grant.extra
    assert len(problems) == 1 and "document 3" in problems[0].position and "malformed XML" in problems[0].message


def test_uspto_filing_and_priority_dates(tmp_path: Path) -> None:
    """The filing date from application-reference, the earliest claimed priority; a date that is
    no date is said and left out."""
    first = (DATA / "uspto-grants.xml").read_text(encoding="utf-8").split("</us-patent-grant>")[0] + "</us-patent-grant>\n"
    claims = ("<priority-claims><priority-claim sequence='01' kind='national'><country>JP</country>"
              "<doc-number>2011-123</doc-number><date>20110915</date></priority-claim>"
              "<priority-claim sequence='02' kind='national'><country>JP</country>"
              "<doc-number>2011-45</doc-number><date>20110302</date></priority-claim></priority-claims>")
    with_claims = first.replace("</application-reference>", "</application-reference>" + claims)
    bad = first.replace("<date>20120806</date>", "<date>20121399</date>").replace("08611015", "08611016")
    path = tmp_path / "grants.xml"
    path.write_text(with_claims + bad, encoding="utf-8")
    docs = [i for i in read_path(path, FieldMap()) if isinstance(i, Document)]
    assert [(d.extra.get("filing_date"), d.extra.get("priority_date")) for d in docs] == [
        ("2012-08-06", "2011-03-02"), (None, None)]


def test_filing_and_priority_dates_of_tabular_records(tmp_path: Path) -> None:
    path = tmp_path / "records.csv"
    path.write_text("id,title,date,filing_date,priority_date\n"
                    "A,Glider,2015-06-01,20140301,2013\n"
                    "B,Radar,2016-01-01,not a date,2013-02-30\n", encoding="utf-8")
    items = list(read_path(path, FieldMap()))
    docs = {i.id: i for i in items if isinstance(i, Document)}
    assert (docs["A"].extra["filing_date"], docs["A"].extra["priority_date"]) == ("2014-03-01", "2013")
    assert "filing_date" not in docs["B"].extra and "priority_date" not in docs["B"].extra
    assert sorted(i.message for i in items if isinstance(i, Problem)) == [
        "field 'filing_date': 'not a date' is not a date; dropped",
        "field 'priority_date': '2013-02-30' is not a valid date; dropped"]


def test_folder_of_text_markdown_and_pdf(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Buoyancy engine\nAn engine that changes the buoyancy of a glider.\n")
    (folder / "sub" / "b.md").write_text("# Rain radar\n\nA radar for rain.\n")
    (folder / "empty.txt").write_text("\n\n")
    (folder / "bad.txt").write_bytes(b"ok\n\xff\xfe broken")
    (folder / "c.pdf").write_bytes((DATA / "hello.pdf").read_bytes())
    items = list(read_path(folder, FieldMap()))
    docs = {i.id: i for i in items if isinstance(i, Document)}
    assert set(docs) == {"a", "sub/b", "c"}
    assert docs["a"].title == "Buoyancy engine" and docs["a"].text == "An engine that changes the buoyancy of a glider."
    assert docs["sub/b"].title == "Rain radar"
    assert "Satellite" in docs["c"].title + docs["c"].text
    problems = sorted(str(i) for i in items if isinstance(i, Problem))
    assert any("bad.txt: line 2: invalid UTF-8" in p for p in problems)
    assert any("empty.txt: file: empty text" in p for p in problems)


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "x.docx").write_bytes(b"PK")
    with pytest.raises(InputError, match="unsupported file type"):
        read_path(tmp_path / "x.docx", FieldMap())
    with pytest.raises(InputError, match="no such file"):
        read_path(tmp_path / "nope.jsonl", FieldMap())


def test_store_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        Store(target)
    with pytest.raises(StoreError, match="not a patscape store"):
        Store(tmp_path / "missing", create=False)


def test_streaming_reader_is_lazy(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "big.jsonl", [dict(RECORDS[0], id=f"US-{i}") for i in range(2000)])
    reader = iter(read_path(path, FieldMap()))
    first = next(reader)
    assert isinstance(first, Document) and first.id == "US-0"
    # A reader that had read the whole file would still yield all 2000 after the file is emptied;
    # a streaming one yields at most what its read buffer held.
    path.write_bytes(b"")
    rest = sum(1 for item in reader if isinstance(item, Document))
    assert rest < 200
