"""Sub-topics (patscape.landscape.subtopics): the level below a map's topics.

The rule is checked on points whose structure is known: a single Gaussian blob in the five
dimensions of a map's clustering space (no sub-structure: HDBSCAN still finds small "cores" in
most draws, which must not split it) and two blobs eight standard deviations apart (two
sub-topics, every point of the topic in one of them). Then through a stored run: the run's
sub-topics partition their topics and every export agrees with the store.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from patscape.cli import main
from patscape.export import export_run
from patscape.landscape import MapParams
from patscape.landscape.cluster import hdbscan_labels
from patscape.landscape.subtopics import MIN_CORE_SHARE, find_subtopics, finest_partition, place_in_subtopics
from patscape.pipeline import build_map
from patscape.store import Store

from .test_hierarchy import planted_store


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def blobs(seed: int, sizes: list[int], gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Points of Gaussian blobs ``gap`` standard deviations apart along the first axis (5-d), and
    the blob of each."""
    rng = np.random.default_rng(seed)
    points = [rng.normal(size=(n, 5)) + np.eye(5)[0] * gap * i for i, n in enumerate(sizes)]
    return np.concatenate(points).astype(np.float32), np.repeat(np.arange(len(sizes)), sizes)


@pytest.mark.parametrize(("n", "core"), [(200, 5), (1000, 5), (1000, 13), (3000, 13)])
def test_a_topic_without_sub_structure_is_not_split(n: int, core: int) -> None:
    splits, spurious = 0, 0
    for seed in range(5):
        reduced, _ = blobs(seed, [n], 0.0)
        vectors = unit(np.random.default_rng(seed + 100).normal(size=(n, 16)))
        found = hdbscan_labels(reduced, core, 5, 1.0)
        spurious += len(set(found[found >= 0].tolist())) >= 2  # the cores HDBSCAN finds in noise
        sub = find_subtopics(np.zeros(n, dtype=np.int64), reduced, vectors, core, 5)
        splits += bool(sub.parents)
        assert (sub.labels == -1).all()
    assert splits == 0
    assert spurious >= 2  # the null model has the fluctuations the share rule is there for


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_separate_groups_in_a_topic_are_its_two_subtopics(seed: int) -> None:
    two, truth = blobs(seed, [600, 400], 8.0)
    one, _ = blobs(seed + 10, [300], 0.0)
    reduced = np.concatenate([two, one + 40.0])  # a second topic, far away and of one piece
    labels = np.repeat([0, 1], [1000, 300]).astype(np.int64)
    labels[[5, 700]] = -1  # outliers of the map have no sub-topic
    # the original vectors: each blob its own direction, so centroids tell them apart
    rng = np.random.default_rng(seed)
    directions = unit(rng.normal(size=(3, 32)))
    vectors = unit(directions[np.concatenate([truth, [2] * 300])] + 0.1 * rng.normal(size=(1300, 32)))
    sub = find_subtopics(labels, reduced, vectors, 13, 5)
    assert sub.parents == {0: 0, 1: 0} and sub.split == [0]  # numbered by size within the topic
    members = np.flatnonzero(labels == 0)
    assert (sub.labels[members] >= 0).all()  # every document of a split topic has a sub-topic
    assert adjusted_rand_score(truth[members], sub.labels[members]) == 1.0
    assert (np.bincount(sub.labels[members]) == [599, 399]).all()
    assert (sub.labels[labels != 0] == -1).all()
    # the finest partition: sub-topics where there are, else the topic numbered after them
    finest = finest_partition(labels, sub.labels)
    assert set(finest[labels == 1].tolist()) == {3} and finest[5] == -1 and finest[700] == -1


def test_documents_outside_a_sample_join_the_nearest_subtopic() -> None:
    rng = np.random.default_rng(3)
    directions = unit(rng.normal(size=(2, 16)))
    reduced, truth = blobs(3, [150, 150], 6.0)
    sample_vectors = unit(directions[truth] + 0.2 * rng.normal(size=(300, 16)))
    sample_labels = np.zeros(300, dtype=np.int64)
    sub = find_subtopics(sample_labels, reduced, sample_vectors, 10, 5)
    assert len(sub.parents) == 2
    # 300 sample rows, then 100 others: 50 near each direction, and 20 of another topic
    others = unit(directions[np.repeat([0, 1], 50)] + 0.2 * rng.normal(size=(100, 16)))
    vectors = np.concatenate([sample_vectors, others, unit(rng.normal(size=(20, 16)))])
    labels = np.concatenate([sample_labels, np.zeros(100, dtype=np.int64), np.ones(20, dtype=np.int64)])
    known = np.zeros(420, dtype=bool)
    known[:300] = True
    start = np.full(420, -1, dtype=np.int64)
    start[:300] = sub.labels
    blocks = [(lo, min(lo + 64, 420), vectors[lo : lo + 64]) for lo in range(0, 420, 64)]
    placed = place_in_subtopics(type(sub)(start, sub.parents, sub.min_size, sub.centroids), labels, blocks, known)
    assert (placed[:300] == sub.labels).all()
    core_of_direction = {d: int(np.bincount(sub.labels[truth == d]).argmax()) for d in (0, 1)}
    assert (placed[300:350] == core_of_direction[0]).all() and (placed[350:400] == core_of_direction[1]).all()
    assert (placed[400:] == -1).all()  # a topic without sub-topics


def test_the_share_rule_is_documented_as_measured() -> None:
    assert MIN_CORE_SHARE == pytest.approx(1 / 3)


# -- a stored run --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = planted_store(tmp_path_factory.mktemp("sub"))
    with Store(path) as db:
        build_map(db, params=MapParams(min_cluster_size=10), seed=1)
        build_map(db, params=MapParams(min_cluster_size=10, subtopics=False), seed=1)
    return path


def test_a_run_stores_subtopics_that_partition_their_topics(stored: Path, tmp_path: Path) -> None:
    with Store(stored) as db:
        run, flat = db.runs()
        subs = db.run_subtopics(run.id)
        sub_of = db.run_point_subtopics(run.id)
        points = db.run_points(run.id)
        topics = {t["cluster"]: t for t in db.run_topics(run.id)}
        depth = len(db.run_levels(run.id))
        csv_path = export_run(db, "csv", tmp_path / "run.csv", run.id)
        flat_csv = export_run(db, "csv", tmp_path / "flat.csv", flat.id)
        assert db.run_subtopics(flat.id) == [] and db.run_point_subtopics(flat.id) == {}
    assert subs and [s["node"] for s in subs] == list(range(len(subs)))
    assert run.data["hierarchy"]["subtopics"]["count"] == len(subs)
    assert flat.data["hierarchy"]["subtopics"]["count"] == 0
    cluster_of = {d: c for d, c, _, _, _ in points}
    for topic, record in topics.items():
        children = [s for s in subs if s["parent"] == topic]
        assert record["children"] == [s["node"] for s in children]
        members = {d for d, c in cluster_of.items() if c == topic}
        if children:
            assert len(children) >= 2 and sum(s["size"] for s in children) == record["size"]
            assert {d for d in members if d in sub_of} == members  # every member in one sub-topic
            for s in children:
                assert s["size"] == sum(1 for d in members if sub_of[d] == s["node"]) and s["level"] == depth + 1
        else:
            assert not members & set(sub_of)
    assert not {d for d, c in cluster_of.items() if c < 0} & set(sub_of)
    # the CSV: topic_l<depth+1> after the topics' own columns; empty where the topic has none
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    column = f"topic_l{depth + 1}"
    labels = {s["node"]: s["label"] for s in subs}
    for row in rows:
        expected = sub_of.get(row["id"])
        if row["cluster"] == "-1":
            assert (row[column], row[column + "_label"]) == ("-1", "outlier")
        elif expected is None:
            assert (row[column], row[column + "_label"]) == ("", "")
        else:
            assert (int(row[column]), row[column + "_label"]) == (expected, labels[expected])
    assert column not in next(csv.DictReader(flat_csv.open(encoding="utf-8")))


def test_the_summary_says_how_many_topics_hold_subtopics(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store(stored) as db:
        run, flat = db.runs()
        subs = db.run_subtopics(run.id)
        depth = len(db.run_levels(run.id)) + 1
        topics = len(db.run_topics(run.id))
    assert main(["info", str(stored)]) == 0
    out = capsys.readouterr().out
    split = len({s["parent"] for s in subs})
    assert (f"L{depth} {len(subs)} sub-topics inside {split} of the {topics} topics (cores of 5+ documents)"
            in out)
    assert "sub-topics not looked for (--no-subtopics)" in out


def test_every_node_has_its_years_and_momentum(stored: Path) -> None:
    """A field, a technology or a sub-topic is read like a topic: its patents per year, growth
    and momentum, counted over its own documents."""
    from collections import Counter

    from patscape.landscape.evolution import evolution

    with Store(stored) as db:
        run = db.runs()[0]
        levels, topics, subs = db.run_levels(run.id), db.run_topics(run.id), db.run_subtopics(run.id)
        sub_of = db.run_point_subtopics(run.id)
        points = db.run_points(run.id)
        docs = {d.id: d for d in db.iter_documents()}
    topic_years = {t["cluster"]: Counter(t["evolution"]["per_year"]) for t in topics}
    for node in levels[-1]:  # the level right above the topics: its children's years summed
        summed = sum((topic_years[c] for c in node["children"]), Counter())
        assert node["evolution"]["per_year"] == dict(summed) and node["evolution"]["momentum"] is not None
    order = [d for d, *_ in points]
    partition = np.asarray([sub_of.get(d, -1) for d in order])
    expected = evolution([docs[d] for d in order], partition)["topics"]
    for sub in subs:
        assert sub["evolution"] == expected[str(sub["node"])]
        members = [docs[d].year for d, s in sub_of.items() if s == sub["node"]]
        assert sum(sub["evolution"]["per_year"].values()) == len(members) == sub["size"]


def test_evolution_counts_as_before() -> None:
    """The evolution of a partition, counted by arrays, is the one counted a topic at a time."""
    from patscape.landscape.evolution import evolution
    from patscape.records import Document

    rng = np.random.default_rng(8)
    docs = [Document(id=f"D{i}", title="t", date=None if i % 17 == 0 else f"{rng.integers(1995, 2024)}-0{1 + i % 9}-01")
            for i in range(900)]
    labels = rng.integers(-1, 12, 900)
    got = evolution(docs, labels)
    years = [d.year for d in docs]
    for topic in range(-1, 12):
        mine = sorted(y for y, t in zip(years, labels.tolist()) if t == topic and y is not None)
        entry = got["topics"][str(topic)]
        assert entry["per_year"] == {str(y): mine.count(y) for y in sorted(set(mine))}
        assert entry["first_year"] == mine[0] and entry["median_year"] == int(np.median(mine))
        counts = Counter(mine)
        assert entry["peak_year"] == max(counts, key=lambda y: (counts[y], y))
        assert entry["recent"] == sum(1 for y in mine if got["recent_from"] <= y <= got["recent_to"])
