"""Drop your idea on the map (patscape.locate, `patscape locate`, POST /corpus/locate).

A dev patent's own abstract lands in its topic with that patent first (the real embedded model
on a slice of the dev corpus); the crowding percentile follows a constructed dense and sparse
region; the text is neither stored nor logged.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from patscape.cli import main
from patscape.embed.hashing import HashingEmbedder
from patscape.errors import InputError
from patscape.landscape import MapParams
from patscape.locate import DENSITY_K, crowding, locate, run_density
from patscape.pipeline import build_map, embed, ingest
from patscape.store import Store

from .api_helpers import browser, mapped_store  # noqa: F401  (browser: the shared fixture of Chromium)
from .conftest import write_jsonl


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mapped_store(tmp_path_factory.getbasetemp(), "minilm", 200)


def test_a_patents_own_abstract_lands_in_its_topic_with_it_first(dev: Path) -> None:
    with Store(dev) as db:
        run = db.get_run()
        points = {d: c for d, c, *_ in db.run_points(run.id)}
        chosen = [d for d in sorted(points) if points[d] >= 0][::37][:4]
        docs = {d.id: d for d in db.iter_documents(chosen)}
        for doc_id in chosen:
            for as_document in (False, True):
                found = locate(db, docs[doc_id].abstract, k=5, as_document=as_document)
                assert found["patents"][0]["id"] == doc_id, (doc_id, as_document, found["patents"][:2])
                assert found["topic"]["cluster"] == points[doc_id], (doc_id, found["topic"])
                assert found["topics"][0]["cluster"] == points[doc_id]
                assert found["as"] == ("document" if as_document else "query")
            # where it lands on the map: among its topic's patents
            xs = [x for d, c, _, x, _ in db.run_points(run.id) if c == points[doc_id]]
            assert min(xs) - 1e-6 <= found["x"] <= max(xs) + 1e-6
        count = db.count_documents()
    with Store(dev) as db:
        assert db.count_documents() == count  # nothing stored


def crowded_store(root: Path) -> Path:
    """60 patents written with the words of one small vocabulary (a crowded area) and 60 written
    with words drawn from a large one (sparse), 2015-2020."""
    rng = np.random.default_rng(4)
    dense = [f"d{k}" for k in range(12)]
    sparse = [f"s{k}" for k in range(3000)]
    records = []
    for j in range(60):
        words = [dense[k] for k in rng.integers(0, len(dense), 20)]
        records.append({"id": f"D{j:02d}", "title": " ".join(words[:4]), "abstract": " ".join(words), "lang": "en",
                        "date": f"{2015 + j % 6}-01-01"})
        words = [sparse[k] for k in rng.integers(0, len(sparse), 20)]
        records.append({"id": f"S{j:02d}", "title": " ".join(words[:4]), "abstract": " ".join(words), "lang": "en",
                        "date": f"{2015 + j % 6}-01-01"})
    path = root / "store"
    with Store(path) as db:
        ingest(db, [write_jsonl(root / "crowded.jsonl", records)])
        embed(db, HashingEmbedder(512))
        build_map(db, params=MapParams(min_cluster_size=8), seed=1)
    return path


def test_crowding_follows_a_dense_and_a_sparse_region(tmp_path: Path) -> None:
    path = crowded_store(tmp_path)
    with Store(path) as db:
        reference = run_density(db, db.get_run().id)
        ids, vectors = db.load_vectors(db.spaces()[0].key)
        dense = locate(db, "d1 d2 d3 d4 d5 d6 d7 d8 d9 d10 d0 d11", k=3)
        sparse = locate(db, "s17 s250 s999 s1500 s2001 s2750 s42 s1234", k=3)
        middle = locate(db, "d1 d2 d3 s17 s250 s999 s1500", k=3)
        again = run_density(db, db.get_run().id)
    assert np.array_equal(reference, again)  # computed once, kept with the run
    assert len(reference) == 120 and np.all(np.diff(reference) >= 0)
    # the reference: each patent's ten nearest others, how alike they are, recomputed here by brute
    # force (which of several equally near patents is taken may differ: compared in distribution)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    near = np.argsort(-sims, axis=1, kind="stable")[:, :DENSITY_K]
    by_hand = np.sort(crowding(unit[near]))
    crowded = sum(1 for d in ids if d.startswith("D"))
    assert abs(float(np.median(by_hand)) - float(np.median(reference))) < 0.01
    assert abs(float(by_hand[-crowded:].mean()) - float(reference[-crowded:].mean())) < 0.01
    assert dense["density_percentile"] > 45 and sparse["density_percentile"] < 55
    assert dense["density_percentile"] > middle["density_percentile"] >= sparse["density_percentile"]
    assert all(p["id"].startswith("D") for p in dense["patents"])
    # the percentile is the share of the landscape's neighbourhoods less crowded than the text's
    share = 100 * float(np.mean(reference <= dense["density"]["crowding"]))
    assert dense["density_percentile"] == pytest.approx(share, abs=0.1)


def test_the_locate_command_and_the_api(dev: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        caplog: pytest.LogCaptureFixture) -> None:
    from fastapi.testclient import TestClient

    from patscape.api import Settings, create_app

    secret = "a secret invention: a buoyancy engine pumping oil into an external bladder of an underwater glider"
    draft = tmp_path / "draft.txt"
    draft.write_text(secret, encoding="utf-8")
    assert main(["locate", str(dev), "--file", str(draft), "--as", "document", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    with Store(dev) as db:
        expected = locate(db, secret, k=10, as_document=True)
    assert found == json.loads(json.dumps(expected, ensure_ascii=False))
    assert {"topics", "patents", "density_percentile"} <= set(found) and found["patents"][0]["id"]
    assert main(["locate", str(dev), secret, "-k", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"run {found['run']}, embedded as a query: lands in ")
    assert any(line.startswith("crowding: denser than ") for line in out)
    assert main(["locate", str(dev)]) == 2
    assert main(["locate", str(dev), "  "]) == 2
    assert "the text is empty" in capsys.readouterr().err
    with caplog.at_level(logging.DEBUG), TestClient(create_app(Settings(store=dev, model="minilm")),
                                                    base_url="http://127.0.0.1:8000") as http:
        import time

        deadline = time.monotonic() + 120
        while http.get("/health").status_code != 200:  # the served model loads in the background
            assert time.monotonic() < deadline, "the model did not load"
            time.sleep(0.05)
        body = http.post("/corpus/locate", json={"text": secret, "as": "document"}).json()
        assert body == json.loads(json.dumps(expected, ensure_ascii=False))
        assert http.post("/corpus/locate", json={"text": ""}).status_code == 422
        assert http.post("/corpus/locate", json={"text": secret, "run": 99}).status_code == 404
    assert secret not in caplog.text and "buoyancy engine pumping" not in caplog.text


def test_bad_asks_get_clear_errors(dev: Path) -> None:
    with Store(dev) as db:
        with pytest.raises(InputError, match="the text is empty"):
            locate(db, " \n ")
        with pytest.raises(InputError, match="at most 200,000"):
            locate(db, "x" * 200_001)


def test_the_idea_panel_and_the_crowding_contours_in_chromium(dev: Path, browser: object, tmp_path: Path) -> None:
    from patscape.api import Settings
    from patscape.export import export_run

    from .api_helpers import checked_page, live_server, open_page, wait_for

    with Store(dev) as db:
        doc_id = next(d for d, c, *_ in db.run_points(db.get_run().id) if c >= 0)
        text = db.get_document(doc_id).abstract
        expected = locate(db, text, k=10)
        report = export_run(db, "html", tmp_path / "report.html")
    with live_server(Settings(store=dev, model="minilm")) as live:
        with checked_page(browser, live.url + "/", "#idea-result img") as page:
            p = page.page
            p.click("#idea summary")
            p.fill("#idea-text", text)
            p.click("#idea-form button[type=submit]")
            wait_for(p, "() => document.body.dataset.idea === 'done'")
            assert p.text_content("#idea-where") == f"Lands in topic #{expected['topic']['cluster']} {expected['topic']['label']}."
            ids = p.eval_on_selector_all("#idea-patents button[data-id]", "es => es.map(e => e.dataset.id)")
            assert ids[0] == doc_id == expected["patents"][0]["id"]
            star = p.evaluate("() => { const t = document.getElementById('map').data.find(d => d.meta === 'overlay:idea');"
                              " return t ? [t.x[0], t.y[0]] : null; }")
            assert star == pytest.approx([expected["x"], expected["y"]], abs=1e-6)
            crowding = p.text_content("#idea-crowding")
            assert f"more crowded than {round(expected['density_percentile'])}%" in crowding
            p.check("#map-density")
            wait_for(p, "() => document.getElementById('map').data.some(d => d.meta === 'crowding')")
    page = open_page(browser, report.as_uri(), "document.body.dataset.rendered === 'yes'")
    try:
        page.page.check("#map-density")
        wait_for(page.page, "() => document.getElementById('map').data.some(d => d.meta === 'crowding')")
        assert not page.errors and page.page.text_content("#errors") == ""
    finally:
        page.page.close()
