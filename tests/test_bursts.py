"""Burst detection (patscape.landscape.bursts) and what is emerging (patscape.emerging).

The state path is checked against an independent computation: every state sequence of short
series enumerated and costed with scipy's binomial log-probability, the cheapest kept. Bursts are
recovered on planted series; then ``patscape emerging`` on a small store whose owners, codes and
dates are written so that one of each bursts in known years.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom

from patscape.cli import main
from patscape.embed.hashing import HashingEmbedder
from patscape.landscape import MapParams
from patscape.landscape.bursts import bursts, state_costs, viterbi
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


def brute_force(relevant: list[int], totals: list[int], s: float, gamma: float, states: int) -> tuple[list[int], float]:
    """The cheapest state sequence by enumeration, costed independently of the module."""
    base = sum(relevant) / sum(totals)
    rates = [min(base * s**i, 1 - 1e-9) for i in range(states)]
    n = len(relevant)
    best: tuple[float, list[int]] = (math.inf, [])
    for path in itertools.product(range(states), repeat=n):
        cost, previous = 0.0, 0
        for t, state in enumerate(path):
            cost += max(state - previous, 0) * gamma * math.log(n)
            cost -= float(binom.logpmf(relevant[t], totals[t], rates[state]))
            previous = state
        if cost < best[0] - 1e-9:
            best = (cost, list(path))
    return best[1], best[0]


@pytest.mark.parametrize("seed", range(12))
def test_the_path_is_the_cheapest_of_all(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 10))
    totals = rng.integers(20, 200, n).tolist()
    rate = rng.uniform(0.02, 0.2, n) * (1 + 2 * (rng.random(n) < 0.3))
    relevant = [int(min(t, rng.binomial(t, min(r, 0.9)))) for t, r in zip(totals, rate)]
    if sum(relevant) == 0:
        relevant[0] = 1
    states, s, gamma = (2, 2.0, 1.0) if seed % 2 else (3, 1.5, 0.5)
    expected, cost = brute_force(relevant, totals, s, gamma, states)
    costs = state_costs(relevant, totals, s, states)
    path = viterbi(costs, gamma)
    ups = sum(max(b - a, 0) for a, b in zip([0, *path], path))
    assert path == expected
    assert sum(costs[t, state] for t, state in enumerate(path)) + ups * gamma * math.log(n) == pytest.approx(cost)


def test_a_planted_burst_is_found_with_its_strength() -> None:
    totals = [100] * 12
    relevant = [5, 4, 6, 5, 5, 20, 22, 19, 21, 5, 4, 6]  # a share of 5%, then 20% in years 5-8
    found = bursts(relevant, totals)
    assert [(b.begin, b.end, b.level) for b in found] == [(5, 8, 1)]
    base = sum(relevant) / sum(totals)
    strength = sum(float(binom.logpmf(relevant[t], 100, 2 * base) - binom.logpmf(relevant[t], 100, base)) for t in range(5, 9))
    assert found[0].strength == pytest.approx(strength, abs=1e-3)
    assert found[0].counts == [20, 22, 19, 21] and found[0].totals == [100] * 4
    # a steady share has none; neither has an item in no batch or in every document
    assert bursts([5, 6, 4, 5, 5, 6, 4, 5], [100] * 8) == []
    assert bursts([0] * 5, [10] * 5) == [] and bursts([10] * 5, [10] * 5) == []
    # a higher gamma asks more of a burst: a two-year bump passes at 1 and not at 8
    bump = [5, 5, 5, 5, 12, 12, 5, 5, 5, 5]
    assert [(b.begin, b.end) for b in bursts(bump, [100] * 10, gamma=1.0)] == [(4, 5)]
    assert bursts(bump, [100] * 10, gamma=8.0) == []


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="0 <= relevant <= total"):
        bursts([5, 11], [10, 10])
    with pytest.raises(ValueError, match="2 counts for 3 batches"):
        bursts([1, 2], [10, 10, 10])


# -- patscape emerging -----------------------------------------------------------------------------
def planted_store(path: Path, records_path: Path) -> Path:
    """300 patents 2010-2019, 30 a year; "Acme" owns 3 a year until 2015, then 15 a year; battery
    patents (code H01M 10/0525, a text of their own: a topic) 2 a year, then 20 a year in
    2018-2019; half the patents carry a filing date one year before publication."""
    records = []
    for year in range(2010, 2020):
        for j in range(30):
            acme = j < (15 if year >= 2016 else 3)
            battery = j < (20 if year >= 2018 else 2)
            text = (f"lithium battery cell {j} with an anode, a cathode, an electrolyte and a separator of grade {j % 3}"
                    if battery else f"a device of kind {j % 7} with part {j % 5} and a housing")
            record = {"id": f"P{year}{j:02d}", "title": f"battery cell {j % 3}" if battery else f"device {j % 7} part {j % 5}",
                      "abstract": text,
                      "lang": "en", "date": f"{year}-06-01", "assignee": "Acme Corp" if acme else f"Owner {j % 9}",
                      "ipc": ["H01M10/0525" if battery else "G06F3/01"]}
            if j % 2:
                record["extra"] = {"filing_date": f"{year - 1}-06-01"}
            records.append(record)
    with Store(path) as db:
        ingest(db, [write_jsonl(records_path, records)])
        embed(db, HashingEmbedder(256))
        build_map(db, params=MapParams(min_cluster_size=10), seed=1)
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bursts")
    return planted_store(root / "store", root / "records.jsonl")


def test_emerging_owners_and_codes(planted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emerging", str(planted), "--by", "assignee", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    acme = [b for b in lines if b["item"] == "Acme Corp"]
    # Acme's share: 26% over the years; 9 of 30 in 2015 (half the patents dated by their filing date,
    # a year before publication) is nearer that than twice it; 15 of 30 from 2016 on is a burst
    assert len(acme) == 1 and (acme[0]["begin"], acme[0]["end"], acme[0]["running"]) == ("2016", "2019", True)
    assert acme[0]["by"] == "assignee" and acme[0]["strength"] > 0
    dated = [(year - 1 if j % 2 else year) for year in range(2010, 2020) for j in range(30) if j < (15 if year >= 2016 else 3)]
    assert acme[0]["counts"] == [dated.count(y) for y in range(2016, 2020)] == [15, 15, 15, 8]
    assert acme[0]["totals"] == [30, 30, 30, 15]  # 2019: the patents published then, less those filed in 2018
    assert main(["emerging", str(planted), "--by", "code", "--json"]) == 0
    codes = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    battery = [b for b in codes if b["item"] == "H01M 10/00"]
    assert [(b["scheme"], b["begin"], b["end"]) for b in battery] == [("ipc", "2017", "2019")]
    assert main(["emerging", str(planted), "--by", "code", "--since", "2030", "--json"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["emerging", str(planted), "--by", "assignee"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("run 1: ") and "dates: 150 filing date, 150 publication date" in out[0]
    assert "Acme Corp" in out[1] and "(running)" in out[1]


def test_a_corpus_without_dates_gets_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = [{"id": f"N{i}", "title": f"thing {i % 4}", "abstract": f"a thing of kind {i % 4} and {i % 3}, number {i}", "lang": "en"}
               for i in range(60)]
    with Store(tmp_path / "store") as db:
        ingest(db, [write_jsonl(tmp_path / "records.jsonl", records)])
        embed(db, HashingEmbedder(256))
        build_map(db, params=MapParams(min_cluster_size=5), seed=1)
    assert main(["emerging", str(tmp_path / "store")]) == 2
    assert capsys.readouterr().err == ("patscape: error: no patent of this run has a date (priority, filing or publication): "
                                       "bursts need dated patents; ingest records with a date field\n")


def test_the_api_serves_the_same_bursts(planted: Path) -> None:
    from fastapi.testclient import TestClient

    from patscape.api import Settings, create_app
    from patscape.emerging import emerging

    with Store(planted) as db:
        expected = {by: emerging(db, None, by) for by in ("topic", "code", "assignee")}
    with TestClient(create_app(Settings(store=planted, model="hash:256")), base_url="http://127.0.0.1:8000") as http:
        for by, result in expected.items():
            body = http.get(f"/corpus/runs/latest/emerging?by={by}").json()
            assert body == json.loads(json.dumps(result))
        assert http.get("/corpus/runs/latest/emerging?by=colour").status_code == 422
        assert http.get("/corpus/runs/latest/emerging?since=20").status_code == 422


def test_a_term_is_counted_among_the_patents_of_its_language(tmp_path: Path) -> None:
    """English patents 2010-2019; Chinese ones only in 2018-2019, every one about batteries. Among
    all patents "电池" would burst in 2018-2019; among the Chinese ones its share never changes."""
    records = [{"id": f"E{year}{j:02d}", "title": f"sensor device {j % 6}", "lang": "en", "date": f"{year}-03-01",
                "abstract": f"a sensor device with a probe of type {j % 6} and a housing of size {j % 4}, unit {year}{j}"}
               for year in range(2010, 2020) for j in range(20)]
    records += [{"id": f"C{year}{j:02d}", "title": f"电池 电极 {j}", "lang": "zh", "date": f"{year}-03-01",
                 "abstract": f"一种 电池 电极 材料 及其 制备 方法 编号 {year}{j}"} for year in (2018, 2019) for j in range(20)]
    with Store(tmp_path / "store") as db:
        ingest(db, [write_jsonl(tmp_path / "records.jsonl", records)])
        embed(db, HashingEmbedder(256))
        build_map(db, params=MapParams(min_cluster_size=10), seed=1)
        from patscape.emerging import emerging

        result = emerging(db, None, "term")
        chinese_topics = [t for t in db.run_topics(db.get_run().id) if "zh" in (t.get("keywords") or {})]
    terms = [w[0] for t in chinese_topics for w in t["keywords"]["zh"]]
    assert terms  # the Chinese patents' topic has Chinese label keyphrases, each in all 40 of them
    assert [b for b in result["bursts"] if b["lang"] == "zh"] == []
    # counted among all patents, the same series would burst: 0 a year, then 20 of 40 in 2018-2019
    assert [(b.begin, b.end) for b in bursts([0] * 8 + [20, 20], [20] * 8 + [40, 40])] == [(8, 9)]
    # while the topic of those patents, counted among all patents, does burst in 2018-2019
    with Store(tmp_path / "store") as db:
        topics = emerging(db, None, "topic")["bursts"]
    assert any((b["begin"], b["end"]) == ("2018", "2019") for b in topics)


# -- the timeline in the UI and the report ---------------------------------------------------------
def label_of(b: dict, by: str) -> str:
    """emerging.js's row label of a burst (names shorter than its clip here)."""
    if by == "topic":
        return f"L{b['level']} #{b['item']} {b['label']}"
    if by == "code":
        return f"{b['scheme'].upper()} {b['item']}"
    return str(b["item"])


def timeline(page: object) -> dict:
    return page.evaluate("(() => { const d = document.getElementById('emerging').data;"  # type: ignore[attr-defined]
                         " return {y: d[1].y, base: d[1].base, x: d[1].x, colour: d[1].marker.color}; })()")


def check_timeline(page: object, results: dict, kinds: tuple[str, ...]) -> None:
    import html

    for by in kinds:
        page.select_option("#emerging-by", by)  # type: ignore[attr-defined]
        top = results[by]["bursts"][:25]
        assert top, f"the planted store has bursts of {by}"
        rows = [html.escape(label_of(b, by), quote=False) for b in reversed(top)]
        # drawn: a row per burst, the strongest at the top
        wait_for(page, "(rows) => { const d = document.getElementById('emerging').data;"
                       " return !!d && d.length === 2 && JSON.stringify(d[1].y) === JSON.stringify(rows); }", arg=rows)
        assert page.evaluate("document.body.dataset.bursts") == str(len(top))  # type: ignore[attr-defined]
        drawn = timeline(page)
        # its segment from its first year to its last
        assert drawn["base"] == [int(b["begin"]) for b in reversed(top)]
        assert drawn["x"] == [int(b["end"]) + 1 - int(b["begin"]) for b in reversed(top)]
        assert drawn["colour"] == ["#b3261e" if b["running"] else "#e0736a" for b in reversed(top)]
        note = page.text_content("#emerging-note")  # type: ignore[attr-defined]
        assert note.startswith(f"The {len(top)} strongest bursts of {len(results[by]['bursts'])} (2009\u20132019;")


def test_the_emerging_timeline_served_and_in_the_report(planted: Path, browser: object, tmp_path: Path) -> None:
    from patscape.api import Settings
    from patscape.emerging import emerging
    from patscape.export import export_run

    with Store(planted) as db:
        results = {by: json.loads(json.dumps(emerging(db, None, by))) for by in ("topic", "code", "assignee")}
        report = export_run(db, "html", tmp_path / "report.html")
    with live_server(Settings(store=planted, model="hash:256")) as live:
        with checked_page(browser, live.url + "/", "#emerging img") as page:
            page.page.click(".tabs button[data-view=emerging]")
            check_timeline(page.page, results, ("code", "assignee", "topic"))
            # a click on a topic's bar shows it on the map
            top = list(reversed(results["topic"]["bursts"][:25]))
            with Store(planted) as db:
                depth = len(db.run_levels(db.get_run().id))
            at = next(i for i, b in enumerate(top) if b["level"] == depth)
            page.page.evaluate("(i) => document.getElementById('emerging').emit('plotly_click', {points: [{pointNumber: i}]})", at)
            wait_for(page.page, "(c) => window.patscape.state.activeTopic === c", arg=top[at]["item"])
            assert page.page.is_visible("#view-map")
    page = open_page(browser, report.as_uri(), "document.body.dataset.rendered === 'yes'")
    try:
        check_timeline(page.page, results, ("code", "assignee", "topic"))
        assert not page.errors and page.page.text_content("#errors") == ""
    finally:
        page.page.close()
