"""The map at 200,000 points, in the served UI and the offline report (headless Chromium, Debian's).

The store is written directly with the Store API: documents and one saved run of synthetic points
(Gaussian topics of very different sizes, outliers spread over the map), no embedding. Zoomed out,
the map draws a density layer and a bounded sample; zoomed into a small box it draws every point
of that box (checked against the points counted here in Python); a click opens the patent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from patscape.api import Settings
from patscape.records import Document
from patscape.store import Space, Store

from .api_helpers import LiveServer, assert_map_labels, chromium, live_server, map_labels, wait_for

N = 200_000
TOPICS = 60
PARTIAL_YEAR, DATA_TO = 2024, "2024-06-30"
WORDS = ["buoyancy", "glider", "antenna", "battery", "electrode", "sensor", "turbine", "valve", "lidar", "catalyst",
         "polymer", "gearbox", "inverter", "camera", "lens", "pump", "rotor", "membrane", "circuit", "vehicle"]


# -- the store -----------------------------------------------------------------------------------
def synthetic_points(n: int = N, topics: int = TOPICS, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) positions and clusters: Zipf-sized Gaussian topics, 7% outliers spread widely."""
    rng = np.random.default_rng(seed)
    outliers = int(n * 0.07)
    sizes = 1.0 / np.arange(1, topics + 1) ** 0.9
    counts = np.maximum(np.floor(sizes / sizes.sum() * (n - outliers)).astype(int), 30)
    counts[0] += n - outliers - counts.sum()
    centres = rng.uniform(-40, 40, size=(topics, 2))
    spreads = rng.uniform(0.6, 3.0, size=topics)
    xy = [rng.normal(centres[t], spreads[t], size=(counts[t], 2)) for t in range(topics)]
    xy.append(rng.uniform(-48, 48, size=(outliers, 2)))
    clusters = np.concatenate([np.full(counts[t], t) for t in range(topics)] + [np.full(outliers, -1)])
    order = rng.permutation(n)
    return np.round(np.concatenate(xy)[order], 4), clusters[order].astype(np.int64)


def topic_label(t: int) -> str:
    return f"{WORDS[t % len(WORDS)]} \u00b7 {WORDS[(t * 3 + 1) % len(WORDS)]} {t}"


def build_store(path: Path, n: int = N) -> Path:
    """A store of ``n`` documents and one run placing them (with topics, years and links)."""
    xy, clusters = synthetic_points(n)
    rng = np.random.default_rng(11)
    years = rng.integers(2005, PARTIAL_YEAR + 1, size=n)
    with Store(path, create=True) as store:
        space = Space(key="synthetic-2d", model="hash:256", fingerprint="synthetic", dims=256, params={})
        store.ensure_space(space)
        docs = []
        for i in range(n):
            c = int(clusters[i])
            words = WORDS[c % len(WORDS)], WORDS[(c * 7 + i) % len(WORDS)]
            month = 1 + i % (6 if years[i] == PARTIAL_YEAR else 12)
            docs.append(Document(id=f"SYN-{i:06d}", title=f"{words[0].capitalize()} {words[1]} assembly no. {i}",
                                 lang="en", date=f"{years[i]}-{month:02d}-15", cpc=(f"H0{c % 9 + 1}M{c}/00",)))
            if len(docs) == 20_000:
                store.write_documents(docs)
                docs = []
        if docs:
            store.write_documents(docs)
        topics = []
        for t in range(TOPICS):
            members = clusters == t
            per_year = {str(y): int(k) for y, k in zip(*np.unique(years[members], return_counts=True))}
            first = np.flatnonzero(members)[:4]
            topics.append((t, topic_label(t), int(members.sum()), {
                "keywords": {"en": [[WORDS[t % len(WORDS)], 0.3], [WORDS[(t * 3 + 1) % len(WORDS)], 0.2]]},
                "codes": {"cpc": [[f"H0{t % 9 + 1}M", 0.6]]},
                "representatives": [{"id": f"SYN-{i:06d}", "title": ""} for i in first],
                "languages": {"en": int(members.sum())},
                "evolution": {"per_year": per_year, "first_year": 2005, "peak_year": 2020, "median_year": 2015,
                              "momentum": 1.0, "growth": 0.05},
            }))
        links = [{"source": t, "target": (t + 1) % TOPICS, "similarity": 0.5 + (t % 5) / 10, "citations": t % 3}
                 for t in range(TOPICS)]
        data = {"years": list(range(2005, PARTIAL_YEAR + 1)), "recent_from": 2019, "recent_to": 2023,
                "partial_year": PARTIAL_YEAR, "data_to": DATA_TO, "links": links}
        points = [(f"SYN-{i:06d}", int(clusters[i]), int(clusters[i]), float(xy[i, 0]), float(xy[i, 1])) for i in range(n)]
        store.save_run(space.key, 7, {"model": "hash:256"}, {"documents": n, "topics": TOPICS}, data, points, topics)
    return path


def zoom_box(xy: np.ndarray, clusters: np.ndarray) -> tuple[list[float], list[float], np.ndarray]:
    """A box around the middle of a small topic holding a few hundred points; the indices inside."""
    small = TOPICS - 3
    centre = np.median(xy[clusters == small], axis=0)
    half = 0.8
    while True:
        inside = np.flatnonzero((np.abs(xy[:, 0] - centre[0]) <= half) & (np.abs(xy[:, 1] - centre[1]) <= half))
        if len(inside) >= 150 or half > 10:
            break
        half *= 1.5
    return [float(centre[0] - half), float(centre[0] + half)], [float(centre[1] - half), float(centre[1] + half)], inside


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("scale") / "store")


@pytest.fixture(scope="module")
def server(store: Path) -> Iterator[LiveServer]:
    with live_server(Settings(store=store, model="hash:256")) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


# -- what the page drew --------------------------------------------------------------------------
DRAWN = """() => {
  const gd = document.getElementById('map');
  const out = {ids: [], x: [], y: [], density: 0, types: []};
  gd.data.forEach(t => {
    out.types.push(t.type);
    if (t.meta === 'density') out.density += 1;
    if (t.meta !== 'points') return;
    t.customdata.forEach((id, i) => { out.ids.push(id); out.x.push(t.x[i]); out.y.push(t.y[i]); });
  });
  return out;
}"""
PIXEL = """(id) => {
  const gd = document.getElementById('map'), xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const box = gd.getBoundingClientRect();
  for (const t of gd.data) { if (t.meta !== 'points') continue; const i = t.customdata.indexOf(id);
    if (i >= 0) return {x: box.left + xa._offset + xa.l2p(t.x[i]), y: box.top + ya._offset + ya.l2p(t.y[i])}; }
  return null; }"""


def open_map(page: Any, url: str, ready: str) -> float:
    start = time.monotonic()
    page.goto(url)
    wait_for(page, ready, timeout=240_000)
    return time.monotonic() - start


def check_levels_of_detail(page: Any, store: Path) -> None:
    """Zoomed out: a density layer and a bounded sample; zoomed in: every point of the box; a click opens it."""
    stats = page.evaluate("window.patscape.mapView.stats()")
    budget = page.evaluate("window.patscape.mapView.DRAW_BUDGET")
    assert stats["total"] == N and stats["mode"] == "sample" and stats["gl"] is True
    drawn = page.evaluate(DRAWN)
    assert 0 < len(drawn["ids"]) == stats["drawn"] <= budget < N
    assert drawn["density"] == 1 and "scattergl" in drawn["types"]
    map_labels(page)

    xy, clusters = synthetic_points()
    xs, ys, inside = zoom_box(xy, clusters)
    expected = {f"SYN-{i:06d}" for i in inside}
    renders = int(page.get_attribute("body", "data-map-renders"))
    page.evaluate("([xs, ys]) => window.Plotly.relayout('map', {'xaxis.range': xs, 'yaxis.range': ys})", [xs, ys])
    wait_for(page, "(n) => Number(document.body.dataset.mapRenders) > n", arg=renders, timeout=60_000)
    assert page.get_attribute("body", "data-map-mode") == "all"
    drawn = page.evaluate(DRAWN)
    shown = {i for i, x, y in zip(drawn["ids"], drawn["x"], drawn["y"]) if xs[0] <= x <= xs[1] and ys[0] <= y <= ys[1]}
    assert shown == expected and len(expected) >= 150
    assert drawn["density"] == 0
    assert topic_label(TOPICS - 3) in map_labels(page)  # the small topic zoomed into

    # click the point of the box farthest from its neighbours: the panel shows that patent
    pixels = {i: page.evaluate(PIXEL, i) for i in sorted(expected)[:60]}
    def gap(i: str) -> float:
        return min((pixels[i]["x"] - pixels[j]["x"]) ** 2 + (pixels[i]["y"] - pixels[j]["y"]) ** 2 for j in pixels if j != i)
    target = max(pixels, key=gap)
    page.mouse.move(pixels[target]["x"], pixels[target]["y"])
    page.mouse.click(pixels[target]["x"], pixels[target]["y"])
    wait_for(page, "(id) => document.body.dataset.selected === id", arg=target, timeout=60_000)
    with Store(store, create=False) as db:
        title = db.get_document(target).title
    assert page.text_content("#doc-title") == title
    assert page.get_attribute("#doc", "data-id") == target

    # zoomed out again: a sample once more
    renders = int(page.get_attribute("body", "data-map-renders"))
    page.evaluate("window.Plotly.relayout('map', {'xaxis.autorange': true, 'yaxis.autorange': true})")
    wait_for(page, "(n) => Number(document.body.dataset.mapRenders) > n", arg=renders, timeout=60_000)
    assert page.get_attribute("body", "data-map-mode") == "sample"


# -- the tests -----------------------------------------------------------------------------------
def test_the_ui_draws_200k_points_with_levels_of_detail(browser: Any, server: LiveServer, store: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        open_map(page, server.url + "/", "document.body.dataset.ready === 'yes'")
        assert page.get_attribute("body", "data-points") == str(N)
        assert "sample" in page.text_content("#map-lod")
        check_levels_of_detail(page, store)
        # the evolution view says that the last year is partial, and shades it
        page.click(".tabs button[data-view=evolution]")
        wait_for(page, "(document.getElementById('evolution').data || []).length > 0")
        note = page.text_content("#evo-note")
        assert note.startswith(f"{PARTIAL_YEAR} is partial (data to {DATA_TO})") and "left out of growth" in note
        shapes = page.evaluate("document.getElementById('evolution').layout.shapes.map(s => [s.x0, s.x1])")
        assert shapes == [[PARTIAL_YEAR - 0.5, PARTIAL_YEAR]]
        assert not errors, errors
    finally:
        page.close()


def test_the_map_api_sends_columns(server: LiveServer, store: Path) -> None:
    with server.client() as http:
        view = http.get("/corpus/runs/latest/map", params={"format": "columns"}).json()
        evolution = http.get("/corpus/runs/latest/evolution").json()
        titles = http.get("/corpus/runs/latest/map", params={"format": "columns", "fields": "title,id"}).json()
        bad = http.get("/corpus/runs/latest/map", params={"format": "columns", "fields": "id,abstract"})
    assert bad.status_code == 422
    assert list(titles["columns"]) == ["id", "title"] and titles["columns"]["title"][:1] == view["columns"]["title"][:1]
    columns = view["columns"]
    assert view["count"] == N and view["points"] is None and set(columns) == {"id", "title", "cluster", "x", "y", "placed",
                                                                              "subtopic"}
    assert set(columns["subtopic"]) == {-1}  # a run stored without sub-topics: none anywhere
    assert all(len(v) == N for v in columns.values())
    xy, clusters = synthetic_points()
    row = {d: i for i, d in enumerate(columns["id"])}
    for i in (0, 1234, N - 1):
        j = row[f"SYN-{i:06d}"]
        assert columns["cluster"][j] == clusters[i] and abs(columns["x"][j] - xy[i, 0]) < 1e-4
    assert not any(columns["placed"])
    assert evolution["partial_year"] == PARTIAL_YEAR and evolution["data_to"] == DATA_TO and evolution["recent_to"] == 2023


def test_the_report_draws_200k_points_with_levels_of_detail(browser: Any, store: Path, tmp_path: Path) -> None:
    from patscape.export import run_view
    from patscape.report import write_report

    with Store(store, create=False) as db:
        view = run_view(db)
    # the run's evolution window travels with the export into the report
    assert (view["partial_year"], view["data_to"], view["recent_to"]) == (PARTIAL_YEAR, DATA_TO, 2023)
    out = write_report(view, tmp_path / "report.html")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        open_map(page, out.as_uri(), "document.body.dataset.rendered === 'yes'")
        page.evaluate("document.getElementById('map').scrollIntoView({behavior: 'instant'})")
        check_levels_of_detail(page, store)
        similar = page.locator("#doc-similar button")
        assert similar.count() == 10 and page.text_content("#doc-similar-title") == "Nearest patents on the map"
        note = page.text_content("#evo-note")
        assert note.startswith(f"{PARTIAL_YEAR} is partial (data to {DATA_TO})"), note
        assert not errors, errors
    finally:
        page.close()


def test_the_labels_of_a_crowded_map_never_cover_each_other(browser: Any, tmp_path: Path) -> None:
    """60 topics on 15,000 points (drawn at once, zoomed by plotly itself) in a window of 1000 x
    800: the labels that would cover larger topics' labels are left out, and appear as one zooms
    in on their topic."""
    from patscape.export import run_view
    from patscape.report import write_report

    n = 15_000
    with Store(build_store(tmp_path / "store", n), create=False) as db:
        view = run_view(db)
    out = write_report(view, tmp_path / "report.html")
    points = [(p["x"], p["y"], p["cluster"], False) for p in view["points"]]
    labels = {t["cluster"]: t["label"] for t in view["topics"]}
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        open_map(page, out.as_uri(), "document.body.dataset.rendered === 'yes'")
        assert page.evaluate("window.patscape.mapView.stats().lod") is False
        shown = assert_map_labels(page, points, labels)  # exactly those the placement rule keeps
        hidden = [t for t in range(TOPICS) if topic_label(t) not in shown]
        assert len(shown) <= 30 and hidden and hidden[0] < 30  # some of the 30 largest did not fit
        topic = hidden[0]
        xy, clusters = synthetic_points(n)
        cx, cy = np.median(xy[clusters == topic], axis=0)
        page.evaluate("([xs, ys]) => window.Plotly.relayout('map', {'xaxis.range': xs, 'yaxis.range': ys})",
                      [[float(cx - 6), float(cx + 6)], [float(cy - 6), float(cy + 6)]])
        wait_for(page, "(label) => Array.from(document.querySelectorAll('#map g.annotation'))"
                       ".some(g => g.textContent === label)", arg=topic_label(topic), timeout=30_000)
        assert topic_label(topic) in assert_map_labels(page, points, labels)
        assert not errors, errors
    finally:
        page.close()
