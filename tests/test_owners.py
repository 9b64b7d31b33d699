"""Owners (patscape.owners): assignee names normalised into organisations, the alias file, and
who holds what (`patscape owners`, GET /corpus/runs/R/owners).

Normalisation on invented variants (what must merge and what must not), one organisation written
five ways in three languages (merged within a language by the rules, across languages by an
alias), and the membrane corpus's real owner names.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patscape.cli import main
from patscape.embed.hashing import HashingEmbedder
from patscape.errors import InputError
from patscape.landscape import MapParams
from patscape.owners import Owners, corpus_owners, owner_key, owner_view, read_aliases, split_owners
from patscape.pipeline import build_map, embed, ingest
from patscape.store import Store

from .api_helpers import browser  # noqa: F401  (the shared fixture of Chromium)
from .conftest import write_jsonl

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.parametrize(("names", "merged"), [
    (["Samsung Electronics Co., Ltd.", "SAMSUNG ELECTRONICS CO LTD", "Samsung Electronics Co Ltd", "samsung electronics"], True),
    (["Samsung Electronics Co., Ltd.", "Samsung SDI Co., Ltd."], False),
    (["Siemens AG", "SIEMENS AKTIENGESELLSCHAFT", "Siemens Aktiengesellschaft"], True),
    (["Robert Bosch GmbH", "ROBERT BOSCH GMBH", "Robert Bosch G.m.b.H."], True),
    (["Toray Industries, Inc.", "TORAY INDUSTRIES", "TORAY IND INC", "Toray Ind. Kabushiki Kaisha"], True),
    (["TORAY INDUSTRIES", "ASEPTORAY LTD"], False),
    (["The Boeing Company", "BOEING CO", "Boeing Co."], True),
    (["Koninklijke Philips N.V.", "KONINKLIJKE PHILIPS NV", "Koninklijke Philips Electronics N.V."], False),
    (["华为技术有限公司", "华为技术有限公司 ", "华为技术股份有限公司"], True),
    (["华为技术有限公司", "华为终端有限公司"], False),
    (["株式会社デンソー", "デンソー株式会社", "株式会社 デンソー"], True),
    (["삼성전자주식회사", "삼성전자 주식회사", "(주)삼성전자"], True),
    (["中山大学", "中山大学附属第一医院"], False),
    (["MIT", "Massachusetts Institute of Technology"], False),
])
def test_normalisation_merges_what_is_one_and_only_that(names: list[str], merged: bool) -> None:
    keys = {owner_key(n) for n in names}
    assert (len(keys) == 1) is merged, {n: owner_key(n) for n in names}
    assert all(keys)


def test_several_owners_in_one_field() -> None:
    assert split_owners("Acme Corp; Beta GmbH；Gamma KK\nDelta Ltd | Acme Corp") == [
        "Acme Corp", "Beta GmbH", "Gamma KK", "Delta Ltd"]
    assert split_owners(None) == [] and split_owners(" ; ") == []


def test_one_organisation_written_five_ways_in_three_languages(tmp_path: Path) -> None:
    fields = ["ACME ROBOTICS CO., LTD.", "Acme Robotics Co Ltd; Beta Corp", "アクメロボティクス株式会社",
              "アクメロボティクス 株式会社", "艾克美机器人有限公司", "Acme Robotics Technology Inc"]
    owners = corpus_owners(fields)
    by_name = {o.name: sorted(o.variants) for o in owners.organisations.values()}
    # within a language the rules merge; across languages (and "Technology") only an analyst can
    assert by_name == {
        "Acme Robotics Co Ltd": ["ACME ROBOTICS CO., LTD.", "Acme Robotics Co Ltd"],  # (as often: the shorter)
        "Beta Corp": ["Beta Corp"],
        "アクメロボティクス株式会社": ["アクメロボティクス 株式会社", "アクメロボティクス株式会社"],
        "艾克美机器人有限公司": ["艾克美机器人有限公司"],
        "Acme Robotics Technology Inc": ["Acme Robotics Technology Inc"],
    }
    aliases_file = tmp_path / "owners.csv"
    aliases_file.write_text("name,organisation\nアクメロボティクス株式会社,Acme Robotics\n艾克美机器人有限公司,Acme Robotics\n"
                            "acme robotics ltd,Acme Robotics\nAcme Robotics Technology Inc,Acme Robotics Technology\n",
                            encoding="utf-8")
    aliases = read_aliases(aliases_file)
    owners = corpus_owners(fields, aliases)
    by_name = {o.name: sorted(o.variants) for o in owners.organisations.values()}
    # an alias by key takes every writing of that key; one by name as written, only that name
    assert by_name == {
        "Acme Robotics": ["ACME ROBOTICS CO., LTD.", "Acme Robotics Co Ltd", "アクメロボティクス 株式会社",
                          "アクメロボティクス株式会社", "艾克美机器人有限公司"],
        "Beta Corp": ["Beta Corp"],
        "Acme Robotics Technology": ["Acme Robotics Technology Inc"],
    }
    assert [o.name for o in owners.of_field("Acme Robotics Co Ltd; Beta Corp; ACME ROBOTICS CO., LTD.")] == [
        "Acme Robotics", "Beta Corp"]


def test_an_alias_merges_a_key_or_splits_it() -> None:
    names = {"Acme Corp": 3, "ACME CORP.": 1, "Acme Corporation": 2}
    merged = Owners(names, {"ACME CORP.": "Acme Holdings"})
    assert sorted((o.name, sorted(o.variants)) for o in merged.organisations.values()) == [
        ("Acme Holdings", ["ACME CORP.", "Acme Corp", "Acme Corporation"])]
    split = Owners(names, {"ACME CORP.": "Acme Holdings", "Acme Corp": "Acme Corp"})
    assert sorted((o.name, sorted(o.variants)) for o in split.organisations.values()) == [
        ("Acme Corp", ["Acme Corp"]), ("Acme Corporation", ["Acme Corporation"]), ("Acme Holdings", ["ACME CORP."])]


def test_bad_alias_files_get_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Acme,Acme Holdings,extra\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 1: want two columns"):
        read_aliases(bad)
    bad.write_text("Acme,One\nAcme,Two\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 2: 'Acme' is given to both 'One' and 'Two'"):
        read_aliases(bad)
    with pytest.raises(InputError, match="cannot read the alias file"):
        read_aliases(tmp_path / "missing.csv")


def test_the_membrane_corpus_owners() -> None:
    path = SHARED / "patents-membranes-dev.jsonl"
    assert path.exists(), f"{path} is missing: the tests need ../shared beside the repository"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    owners = corpus_owners(r.get("assignee") for r in records)
    names = {n for o in owners.organisations.values() for n in o.variants}
    assert len(names) == 50
    toray = next(o for o in owners.organisations.values() if o.name == "TORAY INDUSTRIES")
    assert sorted(toray.variants) == ["TORAY IND CO LTD", "TORAY IND INC", "TORAY IND KK", "TORAY INDUSTRIES"]
    assert owners.of("ASEPTORAY LTD").key != toray.key and owners.of("DOW TORAY CO LTD").key != toray.key
    labs = owners.of("TORAY FIBERS & TEXTILES RES LAB CHINA CO LTD")
    assert sorted(labs.variants) == sorted([
        "TORAY FIBERS & TEXTILES RES LAB CHINA CO LTD", "TORAY FIBERS&TEXTILES RES LABORATORIES CHINA CO LTD",
        "TORAY FIBERS & TEXTILES RES LABORATORIES (CHINA) CO LTD", "TORAY FIBERS & TEXTILES RES LABORATORIES CHINA CO LTD",
        "TORAY FIBERS & TEXTILES RES LAB CHINA LTD", "TORAY FIBERS & TEXTILES RES LABORATORIES(CHINA) CO LTD"])
    assert len(owners.organisations) == 34


# -- who holds what ------------------------------------------------------------------------------
def owner_store(root: Path) -> Path:
    """120 patents of three technologies, 2015-2022, 15 a year: Acme (written three ways) holds a
    few battery patents, then from 2019 every battery and optics patent (Gamma the rest of them);
    Beta and Delta hold half the valves each; a third of the patents have a second owner; pairs
    share a family."""
    words = {"battery": "lithium anode cathode electrolyte separator cell charge",
             "valve": "valve seat spring fluid pressure flow port",
             "optics": "lens mirror beam laser optical focus aperture"}
    records = []
    for t, (tech, text) in enumerate(words.items()):
        for j in range(40):
            year = 2015 + j % 8
            acme = ["ACME CORP", "Acme Corp.", "Acme Corporation"][j % 3]
            if tech == "battery":
                owner = acme if (j < 4 or year >= 2019) else "Gamma Ltd"
            elif tech == "valve":
                owner = "Beta GmbH" if j % 2 else "Delta AG"
            else:
                owner = acme if year >= 2019 else "Gamma Ltd"
            if j % 3 == 0:
                owner += "; Omega KK"
            records.append({"id": f"{tech[0].upper()}{j:03d}", "title": f"{tech} {j}", "abstract": f"{text} {text} item {j % 5}",
                            "lang": "en", "date": f"{year}-05-01", "assignee": owner, "ipc": ["H01M10/00"],
                            "extra": {"family_id": f"F{t}{j // 2}"}})
    path = root / "store"
    with Store(path) as db:
        ingest(db, [write_jsonl(root / "owners.jsonl", records)])
        embed(db, HashingEmbedder(256))
        build_map(db, params=MapParams(min_cluster_size=8), seed=1)
    return path


def acme_patents() -> list[str]:
    """Acme's patents in :func:`owner_store`."""
    return ([f"B{j:03d}" for j in range(40) if j < 4 or 2015 + j % 8 >= 2019]
            + [f"O{j:03d}" for j in range(40) if 2015 + j % 8 >= 2019])


@pytest.fixture(scope="module")
def owned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return owner_store(tmp_path_factory.mktemp("owners"))


def test_who_holds_what(owned: Path) -> None:
    with Store(owned) as db:
        run = db.get_run()
        points = {d: c for d, c, *_ in db.run_points(run.id)}
        view = owner_view(db, top=None)
        battery_topic = max(set(points.values()), key=lambda c: sum(1 for d, t in points.items() if t == c and d.startswith("B")))
        in_topic = owner_view(db, topic=battery_topic, top=None)
        families = owner_view(db, by_family=True, top=None)
    rows = {r["name"]: r for r in view["owners"]}
    acme = rows["ACME CORP"]
    acme_docs = acme_patents()
    assert acme["patents"] == len(acme_docs) and sorted(v["name"] for v in acme["variants"]) == ["ACME CORP", "Acme Corp.", "Acme Corporation"]
    assert acme["families"] == len({(d[0], int(d[1:]) // 2) for d in acme_docs})
    assert rows["Omega KK"]["patents"] == 3 * 14 and rows["Gamma Ltd"]["patents"] == 80 - len(acme_docs)
    assert view["names"] == 7 and view["organisations"] == 5 and view["with_owner"] == 120
    assert acme["share"] == round(len(acme_docs) / 120, 4)
    # Acme gains: more of its patents in the recent years than before (growth positive); Beta flat
    assert acme["growth"] > 0.2 and abs(rows["Beta GmbH"]["growth"]) < 0.2
    assert acme["per_year"] == {str(y): n for y in range(2015, 2023)
                                if (n := sum(1 for d in acme_docs if 2015 + int(d[1:]) % 8 == y))}
    from collections import Counter

    expected_topics = sorted(Counter(points[d] for d in acme_docs if points[d] >= 0).items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(t["node"], t["patents"]) for t in acme["topics"]] == expected_topics[:5]
    # ranked by patents, then by families
    assert [r["patents"] for r in view["owners"]] == sorted((r["patents"] for r in view["owners"]), reverse=True)
    assert [r["families"] for r in families["owners"]] == sorted((r["families"] for r in families["owners"]), reverse=True)
    assert families["counted"] == "families"
    # a topic's owners: their patents there, and shares of the topic's patents
    topic_docs = [d for d, t in points.items() if t == battery_topic]
    assert in_topic["documents"] == len(topic_docs)
    with Store(owned) as db:
        fields = {d.id: d.assignee for d in db.iter_documents(topic_docs, texts=False)}
    def org(name: str) -> str:
        return "ACME CORP" if name.lower().startswith("acme") else name
    held = Counter(o for d in topic_docs for o in {org(n.strip()) for n in fields[d].split(";")})
    assert {r["name"]: (r["patents"], r["share"]) for r in in_topic["owners"]} == {
        name: (n, round(n / len(topic_docs), 4)) for name, n in held.items()}


def test_the_owners_command_and_aliases(owned: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    store = tmp_path / "store"
    shutil.copytree(owned, store)
    assert main(["owners", str(store), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    with Store(store) as db:
        view = owner_view(db, top=None)
    assert lines == [{"run": view["run"], "level": view["level"], "counted": "patents", **r} for r in view["owners"]]
    assert {"name", "variants", "patents", "families", "topics"} <= set(lines[0])
    aliases = tmp_path / "owners.csv"
    aliases.write_text("Gamma Ltd,Acme\nACME CORP,Acme\n", encoding="utf-8")
    assert main(["owners", str(store), "--aliases", str(aliases), "--json"]) == 0
    captured = capsys.readouterr()
    assert "2 aliases kept in the store" in captured.err
    rows = {json.loads(line)["name"]: json.loads(line) for line in captured.out.splitlines()}
    assert rows["Acme"]["patents"] == 80 and "Gamma Ltd" not in rows
    # kept: the next view without --aliases uses them, until cleared
    assert main(["owners", str(store), "--json"]) == 0
    assert "Acme" in {json.loads(line)["name"] for line in capsys.readouterr().out.splitlines()}
    assert main(["owners", str(store), "--clear-aliases", "--json"]) == 0
    assert "Acme" not in {json.loads(line)["name"] for line in capsys.readouterr().out.splitlines()}
    assert main(["owners", str(store), "--topic", "999"]) == 2
    assert "no node 999 at level" in capsys.readouterr().err
    assert main(["owners", str(store), "--level", "9"]) == 2
    assert main(["owners", str(store)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"run {view['run']}: 120 patents (") and "7 owner names -> 5 organisations" in out[0]


def test_the_api_serves_the_owners(owned: Path) -> None:
    from fastapi.testclient import TestClient

    from patscape.api import Settings, create_app

    with Store(owned) as db:
        view = owner_view(db, top=3)
    with TestClient(create_app(Settings(store=owned, model="hash:256")), base_url="http://127.0.0.1:8000") as http:
        body = http.get("/corpus/runs/latest/owners", params={"top": 3}).json()
        assert body == json.loads(json.dumps(view, ensure_ascii=False))
        assert http.get("/corpus/runs/latest/owners", params={"topic": 999}).status_code == 404
        assert http.get("/corpus/runs/99/owners").status_code == 404


def test_bursts_of_organisations_count_every_writing(owned: Path) -> None:
    from patscape.emerging import emerging

    with Store(owned) as db:
        found = emerging(db, None, "assignee")
        dated = {d.id: d.year for d in db.iter_documents(texts=False)}
    acme = [b for b in found["bursts"] if b["item"] == "ACME CORP"]
    # Acme: a few battery patents, then from 2019 every battery and optics patent (three writings, one organisation)
    assert len(acme) == 1 and acme[0]["key"] == "acme" and acme[0]["variants"] == 3
    assert (acme[0]["begin"], acme[0]["end"], acme[0]["running"]) == ("2019", "2022", True)
    acme_docs = acme_patents()
    assert acme[0]["counts"] == [sum(1 for d in acme_docs if dated[d] == y) for y in range(2019, 2023)]
    assert not any(b["item"] in ("Acme Corp.", "Acme Corporation") for b in found["bursts"])


def test_the_owners_views_served_and_in_the_report(owned: Path, browser: object, tmp_path: Path) -> None:
    """The Owners tab and the report's Owners section: the table as the API gives it, a click rings
    the organisation's patents on the map, two ticks put owners side by side; hostile names as text."""
    import shutil

    from patscape.api import Settings
    from patscape.export import export_run

    from .api_helpers import checked_page, live_server, open_page, wait_for
    from .test_rename import HOSTILE_NAME

    store = tmp_path / "store"
    shutil.copytree(owned, store)
    aliases = tmp_path / "owners.csv"
    import csv

    with aliases.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerow(["Delta AG", HOSTILE_NAME])
    assert main(["owners", str(store), "--aliases", str(aliases)]) == 0
    with Store(store) as db:
        view = owner_view(db, top=50, all_topics=True, ids=True)
        report = export_run(db, "html", tmp_path / "report.html")
    names = [r["name"] for r in view["owners"]]
    assert HOSTILE_NAME in names

    def check(page: object) -> None:
        p = page.page  # type: ignore[attr-defined]
        wait_for(p, "() => document.body.dataset.owners !== undefined")
        shown = p.eval_on_selector_all("#owners-table .owner-name", "bs => bs.map(b => b.textContent)")
        assert shown == names[: len(shown)] and len(shown) == min(len(names), 50)
        patents = p.eval_on_selector_all("#owners-table tbody tr td:nth-child(3)", "ts => ts.map(t => t.textContent)")
        assert patents == [f"{r['patents']:,}" for r in view["owners"][: len(shown)]]
        ticks = p.locator("#owners-table input[type=checkbox]")
        ticks.nth(0).check()
        ticks.nth(1).check()
        wait_for(p, "() => document.body.dataset.compared === '2'")
        heads = p.eval_on_selector_all("#owners-compare th", "ts => ts.map(t => t.textContent)")
        assert heads == ["Topic", names[0], names[1]]
        first = view["owners"][0]
        row = p.eval_on_selector_all("#owners-compare tbody tr[data-node]", "rs => rs.map(r => [r.dataset.node, r.children[1].textContent])")
        assert {int(n): c for n, c in row if c != "\u2014"} == {t["node"]: f"{t['patents']:,}" for t in first["topics"]}
        hostile = names.index(HOSTILE_NAME)
        p.locator("#owners-table .owner-name").nth(hostile).click()
        wait_for(p, f"() => document.body.dataset.portfolio === '{len(view['owners'][hostile]['ids'])}'")
        ringed = p.evaluate("() => { const t = document.getElementById('map').data.find(d => d.meta === 'overlay:portfolio');"
                            " return t ? t.x.length : 0; }")
        assert ringed == len(view["owners"][hostile]["ids"])

    with live_server(Settings(store=store, model="hash:256")) as live:
        with checked_page(browser, live.url + "/", "#owners-table img, #owners-compare img, #owners-matrix img") as page:
            page.page.click(".tabs button[data-view=owners]")
            check(page)
    page = open_page(browser, report.as_uri(), "document.body.dataset.rendered === 'yes'")
    try:
        names = names[:30]
        check(page)
        assert page.page.evaluate("window.__pwned") is None and page.page.locator("#sec-owners img").count() == 0
        assert not page.errors and page.page.text_content("#errors") == ""
    finally:
        page.page.close()
