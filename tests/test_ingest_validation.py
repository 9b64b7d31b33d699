"""Field validation at ingest: a bad field is fixed or dropped with a kept problem, positioned,
just before its document; a record is skipped only when no usable id or text remains."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from patscape.ingest import FieldMap, read_path
from patscape.records import Document, Problem

from .conftest import write_jsonl

BASE = {"title": "Underwater glider", "abstract": "A glider with a buoyancy engine.", "lang": "en"}
NEXT_YEAR_LIMIT = datetime.date.today().year + 2


def read(path: Path, fields: FieldMap | None = None) -> list[Document | Problem]:
    return list(read_path(path, fields or FieldMap()))


def outline(items: list[Document | Problem]) -> list[tuple[str, ...]]:
    """Each item as a short tuple: ("kept"|"skipped", position, message) or ("doc", id)."""
    return [
        ("kept" if item.kept else "skipped", item.position, item.message) if isinstance(item, Problem) else ("doc", item.id)
        for item in items
    ]


def documents(items: list[Document | Problem]) -> dict[str, Document]:
    return {item.id: item for item in items if isinstance(item, Document)}


def jsonl(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    return write_jsonl(tmp_path / "a.jsonl", [dict(BASE, **r) for r in records])


def test_landscape_must_be_a_mapping(tmp_path: Path) -> None:
    path = jsonl(tmp_path, [
        {"id": "A", "landscape": "uav"},
        {"id": "B", "extra": {"landscape": ["uav", "radar"]}},
        {"id": "C", "extra": {"landscape": {"uav": True}}},
    ])
    items = read(path)
    reason = "not a mapping of landscape names to true/false; dropped"
    assert outline(items) == [
        ("kept", "line 1", f"field 'landscape' is a string, {reason}"), ("doc", "A"),
        ("kept", "line 2", f"field 'landscape' is a list, {reason}"), ("doc", "B"),
        ("doc", "C"),
    ]
    docs = documents(items)
    assert "landscape" not in docs["A"].extra and "landscape" not in docs["B"].extra
    assert docs["C"].extra["landscape"] == {"uav": True}


def test_landscape_as_a_json_object_in_a_csv_cell(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('id,title,landscape\nA,Glider,"{""uav"": true}"\nB,Radar,uav\n', encoding="utf-8")
    items = read(path)
    assert outline(items) == [
        ("doc", "A"),
        ("kept", "line 3", "field 'landscape' is a string, not a mapping of landscape names to true/false; dropped"),
        ("doc", "B"),
    ]
    assert documents(items)["A"].extra == {"landscape": {"uav": True}}


def test_cites_given_as_text_are_split_into_ids(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('id,title,cites\nA,Glider,"US123; US456"\nB,Radar,"a,b, a"\nC,Gauge,US-9-B1\n', encoding="utf-8")
    items = read(path)
    assert outline(items) == [("doc", "A"), ("doc", "B"), ("doc", "C")]
    docs = documents(items)
    assert [docs[i].extra["cites"] for i in "ABC"] == [["US123", "US456"], ["a", "b"], ["US-9-B1"]]


def test_cites_that_are_not_ids_are_dropped(tmp_path: Path) -> None:
    path = jsonl(tmp_path, [
        {"id": "A", "cites": 5},
        {"id": "B", "extra": {"cites": {"US1": True}}},
        {"id": "C", "extra": {"cites": ["US-1-A", {"id": "US-2"}, None, 7]}},
    ])
    items = read(path)
    assert outline(items) == [
        ("kept", "line 1", "field 'cites' is a number, not a list of ids; dropped"), ("doc", "A"),
        ("kept", "line 2", "field 'cites' is an object, not a list of ids; dropped"), ("doc", "B"),
        ("kept", "line 3", "field 'cites': dropped 1 item that is not an id"), ("doc", "C"),
    ]
    docs = documents(items)
    assert "cites" not in docs["A"].extra and "cites" not in docs["B"].extra
    assert docs["C"].extra["cites"] == ["US-1-A", "7"]


def test_implausible_and_impossible_dates_are_left_empty(tmp_path: Path) -> None:
    too_late = f"{NEXT_YEAR_LIMIT + 1}-01-01"
    dates = ["2999-01-01", "0001", "1789-12-31", too_late, "2021-02-30", "2011-13-01", "2011-04-31", "31.12.2011"]
    path = jsonl(tmp_path, [{"id": f"D{i}", "date": d} for i, d in enumerate(dates)])
    items = read(path)
    years = f"1790-{NEXT_YEAR_LIMIT}"
    assert outline(items) == [
        ("kept", "line 1", f"field 'date': the year of '2999-01-01' is not in {years}; left empty"), ("doc", "D0"),
        ("kept", "line 2", f"field 'date': the year of '0001' is not in {years}; left empty"), ("doc", "D1"),
        ("kept", "line 3", f"field 'date': the year of '1789-12-31' is not in {years}; left empty"), ("doc", "D2"),
        ("kept", "line 4", f"field 'date': the year of '{too_late}' is not in {years}; left empty"), ("doc", "D3"),
        ("kept", "line 5", "field 'date': '2021-02-30' is not a valid date; left empty"), ("doc", "D4"),
        ("kept", "line 6", "field 'date': '2011-13-01' is not a valid date; left empty"), ("doc", "D5"),
        ("kept", "line 7", "field 'date': '2011-04-31' is not a valid date; left empty"), ("doc", "D6"),
        ("kept", "line 8", "field 'date': '31.12.2011' is not a date; left empty"), ("doc", "D7"),
    ]
    assert all(doc.date is None for doc in documents(items).values())
    assert documents(items)["D0"].extra["unparsed_date"] == "2999-01-01"


def test_plausible_dates_in_every_accepted_format_around_implausible_ones(tmp_path: Path) -> None:
    dates = {"A": "2011-08-09", "B": "20110809", "X": "2999-12-31", "C": "2024/3/5", "D": "1999", "E": "1790-01-01",
             "F": f"{NEXT_YEAR_LIMIT}-12-31", "G": "2011-00-00", "H": "2011-05-00", "I": 20200229, "J": "2011-08-09T10:00Z"}
    items = read(jsonl(tmp_path, [{"id": k, "date": v} for k, v in dates.items()]))
    assert [i.position for i in items if isinstance(i, Problem)] == ["line 3"]
    assert {d.id: d.date for d in documents(items).values()} == {
        "A": "2011-08-09", "B": "2011-08-09", "X": None, "C": "2024-03-05", "D": "1999", "E": "1790-01-01",
        "F": f"{NEXT_YEAR_LIMIT}-12-31", "G": "2011", "H": "2011-05", "I": "2020-02-29", "J": "2011-08-09",
    }


def test_classification_codes_keep_symbols_and_drop_junk(tmp_path: Path) -> None:
    path = jsonl(tmp_path, [
        {"id": "A", "cpc": "G06F3/013; hello, 12345 | <script>; H01M 10/052; g06f; H01M10/0525",
         "ipc": ["H01L31107", "G09G/", "B63G8/00 (2006.01)", "B63G 8/00", {"code": "X"}]},
        {"id": "B", "cpc": ["A01B", "A01B1/00", "not a code"]},
    ])
    items = read(path)
    assert outline(items) == [
        ("kept", "line 1", "field 'cpc': dropped 3 values that are not IPC/CPC codes ('hello', '12345', '<script>')"),
        ("kept", "line 1", "field 'ipc': dropped 1 list item that is not text"),
        ("doc", "A"),
        ("kept", "line 2", "field 'cpc': dropped 1 value that is not an IPC/CPC code ('not a code')"),
        ("doc", "B"),
    ]
    docs = documents(items)
    assert docs["A"].cpc == ("G06F3/013", "H01M10/052", "G06F", "H01M10/0525")
    assert docs["A"].ipc == ("H01L31107", "G09G/", "B63G8/00(2006.01)", "B63G8/00")
    assert docs["B"].cpc == ("A01B", "A01B1/00")


def test_non_string_fields_are_converted_or_dropped(tmp_path: Path) -> None:
    path = jsonl(tmp_path, [
        {"id": 12345, "title": 12.5, "assignee": 7},
        {"id": "B", "title": {"en": "Glider"}, "claims": ["1. A glider.", {"n": 2}], "lang": 5},
        {"id": "C", "title": ["Glider", ["nested"], "wing"], "description": True},
        {"id": "D", "title": {"en": "Glider"}, "extra": ["x"]},
    ])
    items = read(path)
    assert outline(items) == [
        ("doc", "12345"),
        ("kept", "line 2", "field 'title' is an object, not text; dropped"),
        ("kept", "line 2", "field 'claims': dropped 1 list item that is not text"),
        ("kept", "line 2", "field 'lang' is a number, not a language code; detected instead"),
        ("doc", "B"),
        ("kept", "line 3", "field 'title': dropped 1 list item that is not text"),
        ("kept", "line 3", "field 'description' is true/false, not text; dropped"),
        ("doc", "C"),
        ("kept", "line 4", "field 'title' is an object, not text; dropped"),
        ("kept", "line 4", "field 'extra' is a list, not an object; dropped"),
        ("doc", "D"),
    ]
    docs = documents(items)
    assert (docs["12345"].title, docs["12345"].assignee) == ("12.5", "7")
    assert (docs["B"].title, docs["B"].claims, docs["B"].lang) == ("", "1. A glider.", "en")
    assert (docs["C"].title, docs["C"].description) == ("Glider\nwing", "")
    assert docs["D"].extra == {}


def test_a_record_without_usable_text_is_skipped_with_the_reason(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": "A", "title": {"en": "Glider"}}, {"id": "B", "title": "Radar"}])
    assert outline(read(path)) == [
        ("skipped", "line 1", ("document A: empty text (fields 'title', 'abstract', 'text', 'claims', 'description' "
                               "are all empty); field 'title' is an object, not text; dropped")),
        ("doc", "B"),
    ]


def test_ids_are_cleaned_and_bounded(tmp_path: Path) -> None:
    path = jsonl(tmp_path, [
        {"id": "US\u0000-1\u0007-B2"},
        {"id": "X" * 513},
        {"id": "Y" * 512},
        {"id": {"number": "1"}},
        {"id": [1, 2]},
        {"id": " \u0000\t "},
        {"id": True},
    ])
    items = read(path)
    assert outline(items) == [
        ("doc", "US-1-B2"),
        ("skipped", "line 2", "id of 513 characters is longer than 512 (field 'id')"),
        ("doc", "Y" * 512),
        ("skipped", "line 4", "id is an object, not text (field 'id')"),
        ("skipped", "line 5", "id is a list, not text (field 'id')"),
        ("skipped", "line 6", "missing id (field 'id')"),
        ("skipped", "line 7", "id is true/false, not text (field 'id')"),
    ]


def test_control_characters_and_lone_surrogates_are_removed_from_text(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    record = {"id": "A", "title": "Gli\u0000der\u0007", "abstract": "caf\ud800e \u0085au\u009flait", "claims": ["1. A\u0000 glider."],
              "extra": {"note\udfff": "x\ud800y", "depth": float("nan")}}
    path.write_text(json.dumps(record) + "\n", encoding="ascii")  # lone surrogates as JSON escapes
    (doc,) = read(path)
    assert isinstance(doc, Document)
    assert (doc.title, doc.abstract, doc.claims) == ("Glider", "cafe aulait", "1. A glider.")
    assert doc.extra == {"note": "xy", "depth": None}
    assert len(doc.content_hash) == 64  # every field encodes as UTF-8
    json.dumps(doc.extra, allow_nan=False, ensure_ascii=False).encode("utf-8")


def test_extra_nested_too_deeply_is_dropped(tmp_path: Path) -> None:
    deep: Any = "leaf"
    for _ in range(150):
        deep = [deep]
    items = read(jsonl(tmp_path, [{"id": "A", "family": "F1", "tree": deep}]))
    assert outline(items) == [("kept", "line 1", "field 'tree' is nested more than 100 levels deep; dropped"), ("doc", "A")]
    assert documents(items)["A"].extra == {"family": "F1"}


def test_id_source_is_set_for_path_ids_only(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Buoyancy engine\nAn engine for a glider.\n")
    (folder / "sub" / "b.md").write_text("# Rain radar\n\nA radar for rain.\n")
    from_folder = documents(read(folder))
    assert {i: d.extra for i, d in from_folder.items()} == {"a": {"id_source": "path"}, "sub/b": {"id_source": "path"}}
    (single,) = read(folder / "sub" / "b.md")
    assert isinstance(single, Document) and (single.id, single.extra) == ("b", {"id_source": "path"})
    data = documents(read(jsonl(tmp_path, [{"id": "A", "extra": {"id_source": "path", "family": "F1"}}])))
    assert data["A"].extra == {"family": "F1"}


def test_uspto_xml_fields_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "grants.xml"
    path.write_text(xml_grant("0000001", "29990101", [("G", "06", "F", "3", "013"), ("X", "1", "?", "", "")])
                    + xml_grant("", "20200101", [])
                    + xml_grant("0000002", "20200230", [("H", "01", "M", "10", "0525")]), encoding="utf-8")
    items = read(path)
    years = f"1790-{NEXT_YEAR_LIMIT}"
    assert outline(items) == [
        ("kept", "document 1 (line 1)",
         f"field 'publication-reference/document-id/date': the year of '29990101' is not in {years}; left empty"),
        ("kept", "document 1 (line 1)", "field 'cpc': dropped 1 value that is not an IPC/CPC code ('X1?')"),
        ("doc", "US-1-B2"),
        ("skipped", "document 2 (line 12)", "no publication number (publication-reference/document-id/doc-number)"),
        ("kept", "document 3 (line 23)",
         "field 'publication-reference/document-id/date': '20200230' is not a valid date; left empty"),
        ("doc", "US-2-B2"),
    ]
    docs = documents(items)
    assert (docs["US-1-B2"].date, docs["US-1-B2"].cpc) == (None, ("G06F3/013",))
    assert (docs["US-2-B2"].date, docs["US-2-B2"].cpc) == (None, ("H01M10/0525",))


def xml_grant(number: str, date: str, codes: list[tuple[str, str, str, str, str]]) -> str:
    """A minimal grant of 11 lines; ``codes`` are (section, class, subclass, main group, subgroup)."""
    cpc = "".join(
        f"<classification-cpc><section>{s}</section><class>{c}</class><subclass>{sc}</subclass>"
        f"<main-group>{g}</main-group><subgroup>{sg}</subgroup></classification-cpc>"
        for s, c, sc, g, sg in codes
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE us-patent-grant SYSTEM "us-patent-grant-v44-2013-05-16.dtd" [ ]>\n'
        '<us-patent-grant lang="EN">\n'
        "<us-bibliographic-data-grant>\n"
        f"<publication-reference><document-id><country>US</country><doc-number>{number}</doc-number>"
        f"<kind>B2</kind><date>{date}</date></document-id></publication-reference>\n"
        f"<classifications-cpc><main-cpc>{cpc}</main-cpc></classifications-cpc>\n"
        "<invention-title>Glider</invention-title>\n"
        "</us-bibliographic-data-grant>\n"
        "<abstract><p>A glider with a buoyancy engine.</p></abstract>\n"
        "</us-patent-grant>\n"
        "\n"
    )


def test_kept_problems_precede_their_document_and_stay_one_line() -> None:
    problem = Problem("a.jsonl", "line 3", "field 'title'\nis an object\r\nnot text\u2028dropped", kept=True)
    assert str(problem) == "a.jsonl: line 3: field 'title' is an object not text dropped"
    assert Problem("a.jsonl", "line 1", "malformed JSON").kept is False
