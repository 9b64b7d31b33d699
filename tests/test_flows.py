"""The alluvial views (patscape.flows): documents flowing between runs, and between the time
windows of one run; `patscape lineage --flows`, the API, the served UI's run chooser and Lineage
tab, and the report's Lineage section in Chromium.

Runs: the planted corpus mapped (run 1), 70 patents added and the run updated (run 2), then
mapped afresh with another seed, aligned (run 3). Every flow is checked against a count made here
from the runs' own points. Windows: a small corpus written so that the answer is known: two
technologies in 2000-2004; in 2005-2009 the first goes on, a third grows out of the second's
words, and a fourth shares no word with anything before.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from patscape.cli import main
from patscape.embed.hashing import HashingEmbedder
from patscape.errors import InputError
from patscape.flows import ABSENT, descend, flow_documents, flows, window_flow_documents, window_flows, windows_of
from patscape.landscape import MapParams
from patscape.pipeline import build_map, embed, ingest
from patscape.store import Store

from .api_helpers import (  # noqa: F401  (browser: the shared fixture of Chromium)
    browser,
    checked_page,
    live_server,
    open_page,
    wait_for,
)
from .conftest import write_jsonl
from .test_hierarchy import planted_store
from .test_rename import HOSTILE_NAME as HOSTILE
from .test_update import like_topic, unseen


@pytest.fixture(scope="module")
def chain_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("flows")
    path = planted_store(root)
    params = MapParams(min_cluster_size=10)
    with Store(path) as db:
        build_map(db, params=params, seed=1)
        ingest(db, [write_jsonl(root / "more.jsonl", like_topic(5, 30, 7) + unseen(40, 8))])
        embed(db, HashingEmbedder(512))
        build_map(db, params=params, seed=1, update=True)
        build_map(db, params=params, seed=2)
    return path


def expected_flows(db: Store, before: int, after: int, level: int | None = None) -> Counter[tuple[int, int]]:
    """Documents per (node in ``before``, node in ``after``), counted from the runs' points and
    their levels' parents: -1 outliers, -2 not in the run."""
    def nodes(run: int) -> dict[str, int]:
        points = {d: c for d, c, *_ in db.run_points(run)}
        if level is None:
            return points
        levels = db.run_levels(run)
        parent = {t["cluster"]: t["parent"] for t in db.run_topics(run)}
        out = {}
        for d, c in points.items():
            node = c
            if c >= 0:
                node = parent[c]
                for above in range(len(levels) - 1, level, -1):
                    node = {n["node"]: n["parent"] for n in levels[above]}[node]
            out[d] = node
        return out

    a, b = nodes(before), nodes(after)
    return Counter((a.get(d, ABSENT), b.get(d, ABSENT)) for d in set(a) | set(b))


def test_flows_between_runs_are_the_documents_they_share(chain_store: Path) -> None:
    with Store(chain_store) as db:
        first, updated, fresh = db.runs()
        view = flows(db, fresh.id, runs=4)
        expected = [expected_flows(db, first.id, updated.id), expected_flows(db, updated.id, fresh.id)]
        top = flows(db, fresh.id, runs=2, level=0)
        expected_top = expected_flows(db, updated.id, fresh.id, level=0)
        few = flows(db, fresh.id, runs=2, min_documents=10)
    # the chain: run 3 aligned to run 2, itself updated from run 1; oldest first
    assert [c["key"] for c in view["columns"]] == [first.id, updated.id, fresh.id]
    assert [(p["before"], p["after"]) for p in view["pairs"]] == [(first.id, updated.id), (updated.id, fresh.id)]
    for pair, counts in zip(view["pairs"], expected):
        got = Counter({(f["source"], f["target"]): f["documents"] for f in pair["flows"]})
        assert got == counts
        assert [f["documents"] for f in pair["flows"]] == sorted(got.values(), reverse=True)
        assert pair["kept"] == sum(n for (s, t), n in counts.items() if s == t and s >= 0)
    # the 70 patents added before the update come from "not in this run"
    assert sum(n for (s, _), n in expected[0].items() if s == ABSENT) == 70
    assert view["places"] == {"-1": "outliers", "-2": "not in this run"}
    # the update keeps every old patent's topic: its flows from run 1 are all same-id ones, but for outliers
    assert all(s == t or s < 0 for (s, t), n in expected[0].items())
    # a level above the topics, and flows under a minimum counted apart
    assert Counter({(f["source"], f["target"]): f["documents"] for f in top["pairs"][0]["flows"]}) == expected_top
    assert top["columns"][0]["level"] == 0
    small = {k: n for k, n in expected[1].items() if n < 10}
    assert few["pairs"][0]["left_out"] == {"flows": len(small), "documents": sum(small.values())}
    assert all(f["documents"] >= 10 for f in few["pairs"][0]["flows"])
    assert few["pairs"][0]["kept"] == view["pairs"][1]["kept"]


def test_a_flows_documents_and_bad_asks(chain_store: Path) -> None:
    with Store(chain_store) as db:
        _, updated, fresh = db.runs()
        pair = flows(db, fresh.id, runs=2)["pairs"][0]
        moved = next(f for f in pair["flows"] if f["source"] != f["target"] and f["source"] >= 0 and f["target"] >= 0)
        got = flow_documents(db, updated.id, fresh.id, moved["source"], moved["target"], limit=3)
        a = {d: c for d, c, *_ in db.run_points(updated.id)}
        b = {d: c for d, c, *_ in db.run_points(fresh.id)}
        ids = sorted(d for d in a if a[d] == moved["source"] and b.get(d) == moved["target"])
        assert got["count"] == moved["documents"] == len(ids)
        assert got["documents"] == [{"id": d, "title": t} for d, t in zip(ids[:3], [db.titles([d])[d] for d in ids[:3]])]
        with pytest.raises(InputError, match="runs must be 1 to 12"):
            flows(db, fresh.id, runs=13)
        with pytest.raises(InputError, match="min_documents"):
            flows(db, fresh.id, min_documents=0)
        with pytest.raises(InputError, match="two different runs"):
            flow_documents(db, fresh.id, fresh.id, 0, 0)


def test_a_run_without_parent_has_one_column(chain_store: Path) -> None:
    with Store(chain_store) as db:
        first = db.runs()[0]
        view = flows(db, first.id)
    assert [c["key"] for c in view["columns"]] == [first.id] and view["pairs"] == []


def test_windows_are_cut_from_the_last_year() -> None:
    years = {f"d{y}": y for y in range(1990, 2013)}
    assert windows_of(years, 5) == [(1990, 1992), (1993, 1997), (1998, 2002), (2003, 2007), (2008, 2012)]
    assert windows_of({"a": 2000, "b": 2000}, 3) == [(2000, 2000)]
    # more than eight windows: the earliest holds every year before the other seven
    many = windows_of({f"d{y}": y for y in range(1950, 2021)}, 2)
    assert len(many) == 8 and many[0] == (1950, 2006) and many[1] == (2007, 2008) and many[-1] == (2019, 2020)
    with pytest.raises(InputError, match="at least one year"):
        windows_of(years, 0)


def test_a_later_patent_descends_from_the_topic_of_its_nearest_earlier_ones() -> None:
    """Designed vectors: earlier topics 0 (around e0) and 1 (around e1, spread), a few earlier
    outliers; later patents near topic 0, near single patents of topic 1, between both (nearer
    1), and orthogonal to everything."""
    rng = np.random.default_rng(0)
    dims = 32

    def unit(v: np.ndarray) -> np.ndarray:
        return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)

    e = np.eye(dims, dtype=np.float32)
    zero = unit(e[0] + 0.15 * rng.standard_normal((40, dims)))
    one = unit(e[1] + 0.3 * rng.standard_normal((40, dims)))
    outliers = unit(e[5] + e[6] + 0.15 * rng.standard_normal((6, dims)))
    earlier = np.vstack([zero, one, outliers])
    nodes = np.array([0] * 40 + [1] * 40 + [-1] * 6, dtype=np.int64)
    later = np.vstack([
        unit(e[0] + 0.15 * rng.standard_normal((10, dims))),          # like topic 0
        unit(one[:10] + 0.05 * rng.standard_normal((10, dims))),      # each next to a patent of topic 1
        unit(0.3 * e[0] + e[1] + 0.1 * rng.standard_normal((10, dims))),  # between, nearer topic 1
        unit(e[20] + e[21] + 0.05 * rng.standard_normal((10, dims))),  # like nothing before
        unit(e[5] + e[6] + 0.15 * rng.standard_normal((5, dims))),     # like the earlier outliers
    ])
    got = descend(earlier, nodes, later, k=15).tolist()
    assert got == [0] * 10 + [1] * 10 + [1] * 10 + [ABSENT] * 10 + [-1] * 5
    # with fewer earlier patents than k, all of them vote; with none, nothing is near
    assert descend(earlier[:3], nodes[:3], later[:2], k=15).tolist() == [0, 0]
    assert descend(earlier[:0], nodes[:0], later[:2], k=15).tolist() == [ABSENT, ABSENT]


def windows_corpus(path: Path) -> Path:
    """2000-2004: technologies A and B (30 patents each); 2005-2009: A again (30), C (30: mostly B's
    words, some of its own) and D (30: words no other patent has); no patent in 2010-2014; 2015-2019: A (20)."""
    rng = np.random.default_rng(3)

    def words(base: int, n: int) -> list[str]:
        return [f"{base}x{k}" for k in rng.integers(0, 30, n)]

    records = []
    plan = [("A", 2000, lambda: words(1, 16)), ("B", 2000, lambda: words(2, 16)), ("A", 2005, lambda: words(1, 16)),
            ("C", 2005, lambda: words(2, 12) + words(3, 4)), ("D", 2005, lambda: words(4, 16)), ("A", 2015, lambda: words(1, 16))]
    for tech, start, make in plan:
        for j in range(20 if start == 2015 else 30):
            text = make()
            records.append({"id": f"{tech}{start}-{j:02d}", "title": " ".join(text[:5]), "abstract": " ".join(text),
                            "lang": "en", "date": f"{start + j % 5}-03-01"})
    with Store(path) as db:
        ingest(db, [write_jsonl(path.parent / "windows.jsonl", records)])
        embed(db, HashingEmbedder(256))
        build_map(db, params=MapParams(min_cluster_size=8), seed=1)
    return path


def test_across_windows_a_patent_flows_from_what_its_earlier_neighbours_are_in(tmp_path: Path) -> None:
    path = windows_corpus(tmp_path / "store")
    with Store(path) as db:
        run = db.get_run()
        topic = {d: c for d, c, *_ in db.run_points(run.id)}
        view = window_flows(db, run.id, 5, members=None)
        ids, vectors = db.load_vectors(run.space)
        some_d = next(d for d in sorted(topic) if d.startswith("D"))
        docs = window_flow_documents(db, run.id, 5, 1, ABSENT, topic[some_d], view=view, limit=500)
    assert [c["title"] for c in view["columns"]] == ["2000–2004", "2005–2009", "2015–2019"]
    assert view["empty"] == ["2010–2014"] and view["dates"] == {"publication_date": 170}
    assert [c["documents"] for c in view["columns"]] == [60, 90, 20]
    assert [sum(n["size"] for n in c["nodes"]) + c["outliers"] for c in view["columns"]] == [60, 90, 20]
    # 2005-2009: each patent from where its nearest patents of 2000-2004 are (descend, on the run's vectors)
    row = {d: i for i, d in enumerate(ids)}
    early = [d for d in sorted(topic) if "2000" in d]
    late = [d for d in sorted(topic) if "2005" in d]
    expected = descend(vectors[[row[d] for d in early]], np.array([topic[d] for d in early]),
                       vectors[[row[d] for d in late]], run.params["map"]["reassign_neighbours"])
    source = {d: f["source"] for f in view["pairs"][0]["flows"] for d in f["ids"]}
    target = {d: f["target"] for f in view["pairs"][0]["flows"] for d in f["ids"]}
    assert source == dict(zip(late, expected.tolist())) and target == {d: topic[d] for d in late}
    a_topics = {topic[d] for d in early if d.startswith("A")} - {-1}
    b_topics = {topic[d] for d in early if d.startswith("B")} - {-1}
    assert a_topics and b_topics and not a_topics & b_topics
    # (a patent less like its nearest earlier one than 99% of those are like theirs comes from nothing near)
    from_a = Counter("A" if source[d] in a_topics else "B" if source[d] in b_topics else source[d] for d in late if d.startswith("A"))
    from_c = Counter("A" if source[d] in a_topics else "B" if source[d] in b_topics else source[d] for d in late if d.startswith("C"))
    # (and one whose nearest earlier patents are outliers of the map comes from the outliers)
    assert set(from_a) <= {"A", -1, ABSENT} and from_a["A"] >= 20, from_a
    assert set(from_c) <= {"B", -1, ABSENT} and from_c["B"] >= 20, from_c    # C grew out of B
    assert [source[d] for d in late if d.startswith("D")] == [ABSENT] * 30  # nothing near before
    # after the empty window, 2015-2019 is compared with 2005-2009 (A's patents of then)
    a_late = {topic[d] for d in late if d.startswith("A")} - {-1}
    assert view["pairs"][1]["before"] == 1 and {f["source"] for f in view["pairs"][1]["flows"]} <= a_late | {-1}
    assert view["pairs"][0]["kept"] == sum(1 for d in late if source[d] == target[d] and source[d] >= 0)
    # a flow's documents
    d_ids = sorted(d for d in late if source[d] == ABSENT and target[d] == topic[some_d])
    assert docs["count"] == len(d_ids) and [x["id"] for x in docs["documents"]] == d_ids
    with Store(path) as db, pytest.raises(InputError, match="at least one year"):
        window_flows(db, run.id, 0)


def test_the_lineage_command_prints_the_flows(chain_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store(chain_store) as db:
        fresh = db.runs()[-1]
        view = flows(db, fresh.id, runs=2, min_documents=3)
    assert main(["lineage", str(chain_store), "--flows", "--runs", "2", "--min", "3", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [{"kind": "runs", "before": p["before"], "after": p["after"], **f} for p in view["pairs"] for f in p["flows"]]
    assert main(["lineage", str(chain_store), "--flows", "--runs", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    total = sum(f["documents"] for f in view["pairs"][0]["flows"]) + view["pairs"][0]["left_out"]["documents"]
    assert out[0].startswith(f"run {view['pairs'][0]['before']} -> run {fresh.id}: {view['pairs'][0]['kept']:,} of {total:,} documents")
    assert main(["lineage", str(chain_store), "--windows", "5"]) == 2
    assert "--windows goes with --flows" in capsys.readouterr().err
    path = windows_corpus(tmp_path / "w")
    assert main(["lineage", str(path), "--flows", "--windows", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("run 1 in windows of 5 years") and out[0].endswith("no patents in 2010–2014")
    assert any(line.startswith("2000–2004 -> 2005–2009: ") for line in out)


def test_the_api_serves_flows_a_run_chooser_needs(chain_store: Path) -> None:
    from fastapi.testclient import TestClient

    from patscape.api import Settings, create_app

    with Store(chain_store) as db:
        first, updated, fresh = db.runs()
        view = flows(db, fresh.id, runs=3, min_documents=2)
        labels_first = {t["cluster"]: t["label"] for t in db.run_topics(first.id)}
        moved = next(f for f in flows(db, fresh.id, runs=2)["pairs"][0]["flows"] if f["source"] != f["target"])
        docs = flow_documents(db, updated.id, fresh.id, moved["source"], moved["target"])
    with TestClient(create_app(Settings(store=chain_store, model="hash:512")), base_url="http://127.0.0.1:8000") as http:
        body = http.get(f"/corpus/runs/{fresh.id}/flows", params={"runs": 3, "min_documents": 2}).json()
        assert body["kind"] == "runs" and body["pairs"] == view["pairs"]
        assert [c["key"] for c in body["columns"]] == [first.id, updated.id, fresh.id]
        got = http.get(f"/corpus/runs/{fresh.id}/flows/documents",
                       params={"before": updated.id, "source": moved["source"], "target": moved["target"]}).json()
        assert got == docs
        assert http.get(f"/corpus/runs/{fresh.id}/flows", params={"runs": 13}).status_code == 422
        assert http.get("/corpus/runs/99/flows").status_code == 404
        # the runs say their parent and whether they were updated
        runs = {r["id"]: r for r in http.get("/corpus/runs").json()}
        assert [(runs[r.id]["parent"], runs[r.id]["updated"]) for r in (first, updated, fresh)] == [
            (None, False), (first.id, True), (updated.id, False)]
        # search and a document answer from the run asked for
        hits = http.post("/corpus/search", json={"query": "w5 w45 w820", "k": 5, "run": first.id}).json()
        assert hits["run"] == first.id
        assert all(h["label"] == labels_first.get(h["cluster"], "outlier") for h in hits["hits"] if h["cluster"] is not None)
        doc = http.get("/corpus/documents/P0000", params={"run": first.id}).json()
        point = next(c for d, c, *_ in Store(chain_store).run_points(first.id) if d == "P0000")
        assert doc["run"] == first.id and doc["cluster"] == point
        assert http.get("/corpus/documents/P0000", params={"run": "x"}).status_code == 422
        assert http.post("/corpus/search", json={"query": "w5", "run": 99}).status_code == 404


def test_the_lineage_view_served_and_in_the_report(chain_store: Path, browser: object, tmp_path: Path) -> None:
    from patscape.api import Settings
    from patscape.export import export_run

    store = tmp_path / "store"
    import shutil

    shutil.copytree(chain_store, store)
    with Store(store) as db:
        first, updated, fresh = db.runs()
        depth = len(db.run_levels(fresh.id))
        hostile = next(t["cluster"] for t in db.run_topics(updated.id))
        db.rename_topic(updated.id, len(db.run_levels(updated.id)), hostile, HOSTILE)
        db.name_run(first.id, HOSTILE)
        view = flows(db, fresh.id, runs=4, min_documents=5)
        report = export_run(db, "html", tmp_path / "report.html", fresh.id)
        report_view = flows(db, fresh.id, runs=3, members=50)
    drawn = [f for p in view["pairs"] for f in p["flows"]]
    assert drawn and depth >= 1
    with live_server(Settings(store=store, model="hash:512")) as live:
        with checked_page(browser, live.url + "/", "#lineage img, #flow-docs img, .run-choice img") as page:
            p = page.page
            options = p.eval_on_selector_all("#run-choice option", "os => os.map(o => [o.value, o.textContent, o.selected])")
            assert [o[0] for o in options] == [str(fresh.id), str(updated.id), str(first.id)]
            assert options[0][2] and options[0][1].startswith(f"run {fresh.id} (newest)")
            assert options[2][1].startswith(f"run {first.id} \u00b7 {HOSTILE[:39]}")
            p.click(".tabs button[data-view=lineage]")
            wait_for(p, "() => document.body.dataset.flows !== undefined")
            assert int(p.evaluate("document.body.dataset.flows")) == len(drawn)
            trace = p.evaluate("() => { const t = document.getElementById('lineage').data[0]; "
                               "return {values: t.link.value, n: t.node.label.length}; }")
            assert trace["values"] == [f["documents"] for f in drawn]
            # a click on a flow lists its documents, as the API gives them
            at = next(i for i, f in enumerate(drawn) if f["source"] != f["target"])
            pair = next(pp for pp in view["pairs"] if drawn[at] in pp["flows"])
            p.evaluate("(i) => document.getElementById('lineage').emit('plotly_click', {points: [{index: i}]})", at)
            wait_for(p, "() => document.body.dataset.flowDocs !== undefined")
            with Store(store) as db:
                listed = flow_documents(db, pair["before"], pair["after"], drawn[at]["source"], drawn[at]["target"])
            ids = p.eval_on_selector_all("#flow-docs a", "as => as.map(a => a.dataset.id)")
            assert ids == [d["id"] for d in listed["documents"]]
            # the time windows of the run
            p.evaluate("document.body.removeAttribute('data-flows')")
            p.select_option("#lineage-across", "windows")
            wait_for(p, "() => document.body.dataset.flows !== undefined")
            with Store(store) as db:
                windows = window_flows(db, fresh.id, 5, min_documents=5)
            assert int(p.evaluate("document.body.dataset.flows")) == sum(len(pp["flows"]) for pp in windows["pairs"])
            # another run: the map, its note and the address follow
            p.select_option("#run-choice", str(updated.id))
            wait_for(p, f"() => document.body.dataset.run === '{updated.id}' && document.body.dataset.ready === 'yes'")
            assert p.text_content("#map-note").startswith(f"run {updated.id} (not the newest: run {fresh.id} is)")
            assert p.url.endswith(f"?run={updated.id}")
            p.click(".tabs button[data-view=map]")
            p.fill("#search-input", "w5 w45 w820")
            p.press("#search-input", "Enter")
            wait_for(p, "() => Number(document.body.dataset.hits) > 0")
            import httpx

            asked = httpx.post(live.url + "/corpus/search", json={"query": "w5 w45 w820", "k": 20, "run": updated.id}).json()
            first_hit = asked["hits"][0]
            assert first_hit["label"] in p.text_content("#result-list")
        # a page opened with ?run=N shows that run
        with checked_page(browser, live.url + f"/?run={first.id}", "#lineage img") as page:
            assert page.page.evaluate("document.body.dataset.run") == str(first.id)
    page = open_page(browser, report.as_uri(), "document.body.dataset.rendered === 'yes'")
    try:
        p = page.page
        drawn = [f for pp in report_view["pairs"] for f in pp["flows"] if f["documents"] >= 5]
        assert int(p.evaluate("document.body.dataset.flows")) == len(drawn)
        facts = p.text_content("#facts")
        assert "(this is the newest)" in facts and f"run #{updated.id}" in facts
        at = next(i for i, f in enumerate(drawn) if f["source"] != f["target"] and f["target"] >= 0)
        p.evaluate("(i) => document.getElementById('lineage').emit('plotly_click', {points: [{index: i}]})", at)
        wait_for(p, "() => document.body.dataset.flowDocs !== undefined")
        ids = p.eval_on_selector_all("#flow-docs a", "as => as.map(a => a.dataset.id)")
        assert ids == drawn[at]["ids"]
        assert p.locator("#lineage img, #flow-docs img").count() == 0 and p.evaluate("window.__pwned") is None
        assert not page.errors and p.text_content("#errors") == ""
    finally:
        page.page.close()


def test_a_first_run_shows_its_windows_and_a_message_never_stays_under_a_chart(chain_store: Path, browser: object,
                                                                              tmp_path: Path) -> None:
    from patscape.export import export_run

    with Store(chain_store) as db:
        first = db.runs()[0]
        report = export_run(db, "html", tmp_path / "first.html", first.id)
    page = open_page(browser, report.as_uri(), "document.body.dataset.rendered === 'yes'")
    try:
        p = page.page
        # no run before the first: its time windows are drawn at once
        assert p.input_value("#lineage-across") == "windows"
        assert p.locator("#lineage p.empty").count() == 0 and p.locator("#lineage .sankey").count() == 1
        p.select_option("#lineage-across", "runs")
        wait_for(p, "() => document.querySelectorAll('#lineage p.empty').length === 1")
        assert "No run before this one is stored" in p.text_content("#lineage p.empty")
        assert p.locator("#lineage .sankey").count() == 0
        p.select_option("#lineage-across", "windows")
        wait_for(p, "() => document.querySelectorAll('#lineage .sankey').length === 1")
        assert p.locator("#lineage p.empty").count() == 0
        assert not page.errors and p.text_content("#errors") == ""
    finally:
        page.page.close()
