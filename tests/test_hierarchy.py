"""The topic hierarchy: its plan, its construction, what a run stores and every place that
shows it (exports, GraphML, API, CLI), names from a chat model and an analyst's rename."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from patscape.cli import cli, main
from patscape.embed.hashing import HashingEmbedder
from patscape.export import export_run, run_view
from patscape.landscape import MapParams
from patscape.landscape.hierarchy import build_hierarchy, check_hierarchy, plan_levels, topic_centroids
from patscape.pipeline import build_map, embed, ingest
from patscape.search import search
from patscape.store import Store

from .conftest import write_jsonl
from .test_naming import FakeChat, user_text


# -- plan ----------------------------------------------------------------------------------------
def test_plan_defaults_grow_with_the_topics() -> None:
    assert plan_levels(3).counts == []  # too few for a level above them
    assert plan_levels(8).counts == [3]
    assert plan_levels(45).counts == [7, 18]
    assert plan_levels(200).counts == [12, 31, 78]
    assert plan_levels(45, levels=0).counts == []


def test_top_topics_wins_over_levels_and_says_so() -> None:
    plan = plan_levels(20, levels=3, top=6)
    assert plan.counts == [6]  # 20 / 6 leaves room for one halving only
    assert plan.notice and "made 1" in plan.notice and "--top-topics wins" in plan.notice
    assert plan_levels(20, levels=1, top=6) .counts == [6]
    refused = plan_levels(20, top=11)
    assert refused.counts == [] and "leaves no level" in (refused.notice or "")
    with pytest.raises(ValueError):
        plan_levels(20, levels=4)
    with pytest.raises(ValueError):
        plan_levels(20, top=1)


# -- construction --------------------------------------------------------------------------------
def planted(seed: int = 0) -> tuple[dict[int, np.ndarray], dict[int, int], dict[int, tuple[int, int]]]:
    """36 topics: 3 fields x 3 technologies x 4 topics, each level a tighter spread."""
    rng = np.random.default_rng(seed)
    centroids, sizes, truth = {}, {}, {}
    topic = 0
    for field in range(3):
        f = rng.normal(size=64) * 10
        for tech in range(3):
            t = f + rng.normal(size=64) * 3
            for _ in range(4):
                v = t + rng.normal(size=64)
                centroids[topic] = v / np.linalg.norm(v)
                sizes[topic] = int(rng.integers(20, 200))
                truth[topic] = (field, field * 3 + tech)
                topic += 1
    return centroids, sizes, truth


def same_partition(a: dict[int, int], b: dict[int, int]) -> bool:
    pairs = {(a[k], b[k]) for k in a}
    return len(pairs) == len(set(a.values())) == len(set(b.values()))


def test_the_planted_tree_is_found_and_every_rule_holds() -> None:
    centroids, sizes, truth = planted()
    tree = build_hierarchy(centroids, sizes, levels=2, top=3)
    assert tree.levels == 3 and tree.counts == [3, 9]
    check_hierarchy(tree, sorted(centroids))
    # topics under their technology, technologies under their field, exactly as planted
    tech_of = tree.parents[1]
    field_of = {t: tree.parents[0][tech_of[t]] for t in centroids}
    assert same_partition(tech_of, {t: truth[t][1] for t in centroids})
    assert same_partition(field_of, {t: truth[t][0] for t in centroids})
    # ids by size: node 0 of the top level holds the most documents
    weight = {}
    for t, f in field_of.items():
        weight[f] = weight.get(f, 0) + sizes[t]
    assert sorted(weight, key=lambda f: -weight[f]) == [0, 1, 2]


def test_a_lone_topic_joins_its_nearest_group_rather_than_being_a_single_child() -> None:
    centroids, sizes, _ = planted(1)
    lone = np.zeros(64)
    lone[0] = 1.0  # far from everything
    centroids[99], sizes[99] = lone, 50
    tree = build_hierarchy(centroids, sizes, levels=1, top=4)
    check_hierarchy(tree, sorted(centroids))
    kids = tree.children(0)
    assert all(len(k) >= 2 for k in kids.values())
    assert any(99 in k for k in kids.values())


def test_document_levels_follow_the_tree_and_outliers_stay_minus_one() -> None:
    centroids, sizes, _ = planted(2)
    tree = build_hierarchy(centroids, sizes, levels=2, top=3)
    labels = np.array([0, 5, -1, 35, 12], dtype=np.int64)
    top, middle, topics = tree.document_levels(labels)
    assert topics.tolist() == labels.tolist()
    assert middle.tolist() == [tree.parents[1][0], tree.parents[1][5], -1, tree.parents[1][35], tree.parents[1][12]]
    assert top.tolist() == [tree.parents[0][m] if m >= 0 else -1 for m in middle.tolist()]
    assert tree.path(35) == [top[3], middle[3], 35]


def test_topic_centroids_are_normalised_means() -> None:
    vectors = np.array([[1, 0], [0, 1], [1, 1], [5, 5]], dtype=np.float32)
    labels = np.array([0, 0, 2, -1], dtype=np.int64)
    got = topic_centroids(labels, vectors)
    assert sorted(got) == [0, 2]
    np.testing.assert_allclose(got[0], [2 ** -0.5, 2 ** -0.5], rtol=1e-6)
    np.testing.assert_allclose(got[2], [2 ** -0.5, 2 ** -0.5], rtol=1e-6)


# -- a run ---------------------------------------------------------------------------------------
def planted_corpus(path: Path) -> Path:
    """450 patents of 18 topics: 3 fields x 3 technologies x 2 topics, each patent using words of
    its field, its technology and its topic (and a few of everything), with IPC codes per field."""
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(2000)]
    records = []
    for topic in range(18):
        field, tech = topic // 6, topic // 2
        for j in range(25):
            own = ([words[field * 40 + k] for k in rng.integers(0, 40, 6)]
                   + [words[200 + tech * 40 + k] for k in rng.integers(0, 40, 6)]
                   + [words[800 + topic * 40 + k] for k in rng.integers(0, 40, 8)]
                   + [words[k] for k in rng.integers(1600, 2000, 4)])
            records.append({"id": f"P{topic:02d}{j:02d}", "title": " ".join(own[:6]), "abstract": " ".join(own),
                            "lang": "en", "date": f"{2010 + j % 10}-01-01",
                            "ipc": [f"{'ABC'[field]}01{'BCD'[tech % 3]}{1 + topic % 2}/00"]})
    return write_jsonl(path, records)


def planted_store(root: Path) -> Path:
    """``root/store``: the planted corpus (written to ``root/planted.jsonl``) ingested and
    embedded with the hashing model; no run yet."""
    path = root / "store"
    with Store(path) as db:
        ingest(db, [planted_corpus(root / "planted.jsonl")])
        embed(db, HashingEmbedder(512))
    return path


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = planted_store(tmp_path_factory.mktemp("hier"))
    with Store(path) as db:
        build_map(db, params=MapParams(min_cluster_size=10), seed=1)
    return path


def test_a_run_stores_its_levels_and_every_export_carries_them(mapped: Path, tmp_path: Path) -> None:
    with Store(mapped) as db:
        run = db.get_run()
        levels = db.run_levels(run.id)
        topics = db.run_topics(run.id)
        view = run_view(db, run.id)
        csv_path = export_run(db, "csv", tmp_path / "run.csv", run.id)
        graph_path = export_run(db, "graphml", tmp_path / "run.graphml", run.id)
    counts = run.data["hierarchy"]["counts"]
    assert len(levels) >= 1 and counts == [len(level) for level in levels] + [len(topics)]
    # one entry per level, and one for the finest partition when the topics have sub-topics
    subtopics = run.data["hierarchy"]["subtopics"]["count"]
    assert len(run.metrics["levels"]) == len(counts) + (1 if subtopics else 0)
    at_topics = run.metrics["levels"][len(counts) - 1]
    assert at_topics["nodes"] == len(topics)
    # the topics' level agrees with the run's own figures; each level's ARI is its own labels'
    assert at_topics["ipc_subclass_ari"] == run.metrics["code_agreement"]["ipc_subclass"]["after_reassignment"]["ari"]
    from sklearn.metrics import adjusted_rand_score

    with Store(mapped) as db:
        docs = {d.id: d for d in db.iter_documents()}
        points = db.run_points(run.id)
    path_of = {t["cluster"]: t["parent"] for t in topics}
    top_of = {t: path_of[t] for t in path_of}
    for level in range(len(levels) - 2, -1, -1):
        parent = {n["node"]: n["parent"] for n in levels[level + 1]}
        top_of = {t: parent[node] for t, node in top_of.items()}
    pairs = [(docs[d].ipc[0][:4], top_of[c]) for d, c, _, _, _ in points if c >= 0 and docs[d].ipc]
    assert run.metrics["levels"][0]["ipc_subclass_ari"] == round(adjusted_rand_score(*zip(*pairs)), 4)
    depth = len(levels)
    # parents and children agree; every node at least two children
    for level, records in enumerate(levels):
        for node in records:
            assert len(node["children"]) >= 2
            below = levels[level + 1] if level + 1 < depth else topics
            key = "node" if level + 1 < depth else "cluster"
            assert sorted(r[key] for r in below if r["parent"] == node["node"]) == node["children"]
            assert node["size"] == sum(r["size"] for r in below if r["parent"] == node["node"])
    for level, records in enumerate(levels):
        assert len({r["label"] for r in records}) == len(records)  # unique within a level
    # the CSV: topic_l0..topic_lN beside cluster/label, the finest level equal to cluster
    with csv_path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = [f"topic_l{i}" for i in range(depth + 1)]
    assert list(rows[0])[:3 + 2 * (depth + 1)] == ["id", "cluster", "label"] + [
        n for i in range(depth + 1) for n in (f"topic_l{i}", f"topic_l{i}_label")]
    node_label = [{r["node"]: r["label"] for r in level} for level in levels]
    parent_of = [{r["node"]: r["parent"] for r in level} for level in levels]
    topic_parent = {t["cluster"]: t["parent"] for t in topics}
    for row in rows:
        assert row[names[-1]] == row["cluster"] and row[f"topic_l{depth}_label"] == row["label"]
        if row["cluster"] == "-1":
            assert all(row[n] == "-1" for n in names)
            continue
        node = topic_parent[int(row["cluster"])]
        for level in range(depth - 1, -1, -1):
            assert int(row[f"topic_l{level}"]) == node
            assert row[f"topic_l{level}_label"] == node_label[level][node]
            node = parent_of[level][node]
    assert view["hierarchy"]["depth"] == depth + 1 + (1 if subtopics else 0) and view["levels"] == levels
    graph = graph_path.read_text(encoding="utf-8")
    parent_edges = graph.count(">parent<")
    assert parent_edges == len(topics) + sum(len(level) for level in levels[1:]) + subtopics


def test_a_run_made_before_hierarchies_shows_one_level(mapped: Path, tmp_path: Path) -> None:
    copy = tmp_path / "old"
    import shutil

    shutil.copytree(mapped, copy)
    with Store(copy) as db:
        run = db.get_run()
        db.db.execute("DELETE FROM topic_nodes")
        data = {k: v for k, v in run.data.items() if k != "hierarchy"}
        db.db.execute("UPDATE runs SET data = ? WHERE id = ?", (json.dumps(data), run.id))
        db.db.commit()
        path = export_run(db, "csv", tmp_path / "old.csv", run.id)
        view = run_view(db, run.id)
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:5] == ["id", "cluster", "label", "topic_l0", "topic_l0_label"] and "topic_l1" not in header
    assert view["hierarchy"]["levels"] == 1 and "before topic hierarchies" in view["hierarchy"]["notice"]
    result = CliRunner().invoke(cli, ["info", str(copy)])
    assert result.exit_code == 0 and "levels     1 (a run made before topic hierarchies" in result.output


def test_cli_map_levels_and_top_topics(tmp_path: Path) -> None:
    path = planted_store(tmp_path)
    result = CliRunner().invoke(cli, ["map", str(path), "--seed", "1", "--min-cluster-size", "10", "--levels", "1",
                                      "--top-topics", "3"])
    assert result.exit_code == 0, result.output
    with Store(path) as db:
        run = db.get_run()
        levels = db.run_levels(run.id)
    assert [len(level) for level in levels] == [3]
    assert "levels     2: L0 3" in result.output
    bad = CliRunner().invoke(cli, ["map", str(path), "--levels", "4"])
    assert bad.exit_code == 2 and "--levels" in bad.output


# -- names ---------------------------------------------------------------------------------------
def test_name_command_names_every_level_and_a_rename_survives(mapped: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    copy = tmp_path / "named"
    shutil.copytree(mapped, copy)

    def respond(body: dict) -> tuple:
        text = user_text(body)
        if "sibling technology topics" in text:
            return ("names", [])
        # a name from the request's own evidence, so that each topic gets its own
        return ("name", f"Technology {hashlib.sha256(text.encode()).hexdigest()[:8]}")

    runner = CliRunner()
    with FakeChat(respond) as chat:
        first = runner.invoke(cli, ["name", str(copy), "--namer", f"openai:tiny@{chat.url}"])
        assert first.exit_code == 0, first.output
        sent = len(chat.requests)
        again = runner.invoke(cli, ["name", str(copy), "--namer", f"openai:tiny@{chat.url}"])
        assert again.exit_code == 0, again.output
        assert len(chat.requests) == sent  # cached by membership: nothing sent
    with Store(copy) as db:
        run = db.get_run()
        topics = db.run_topics(run.id)
        levels = db.run_levels(run.id)
        subtopics = db.run_subtopics(run.id)
    assert subtopics  # the sub-topics are named too (the leaves, first)
    named = [r for r in topics + [n for level in levels for n in level] + subtopics if r.get("name_source") == "namer"]
    assert len(named) == len(topics) + sum(len(level) for level in levels) + len(subtopics)
    assert all(r["label"].startswith("Technology ") and r["keyword_label"] != r["label"] for r in named)
    assert "0 from the cache" in first.output and f"{len(named)} from the cache" in again.output
    renamed = runner.invoke(cli, ["topic", str(copy), "0", "--level", "0", "--rename", "Energy  storage"])
    assert renamed.exit_code == 0 and "named 'Energy storage'" in renamed.output
    with FakeChat(respond) as chat:
        assert runner.invoke(cli, ["name", str(copy), "--namer", f"openai:tiny@{chat.url}"]).exit_code == 0
    with Store(copy) as db:
        top = db.run_levels(db.get_run().id)[0]
        csv_path = export_run(db, "csv", tmp_path / "named.csv")
    assert top[0]["label"] == "Energy storage" and top[0]["name_source"] == "analyst"
    # a search's hits carry their topic's name
    with Store(copy) as db:
        names = {t["cluster"]: t["label"] for t in db.run_topics(db.get_run().id)}
        hits = search(db, like="P0000", k=5)
    placed = [h for h in hits if h.cluster is not None and h.cluster >= 0]
    assert placed and all(h.label == names[h.cluster] and h.label.startswith("Technology ") for h in placed)
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert {r["topic_l0_label"] for r in rows if r["topic_l0"] == "0"} == {"Energy storage"}
    shown = runner.invoke(cli, ["topic", str(copy), "0", "--level", "0"])
    assert "Energy storage  [analyst; keywords:" in shown.output
    assert main(["topic", str(copy), "999"]) == 2
    clusters = ", ".join(str(t["cluster"]) for t in topics)
    assert capsys.readouterr().err == f"patscape: error: run 1 has no node 999 at level 1 (there: {clusters})\n"
    # the sub-topics are the level below the topics: shown and renamed there, and no level below them
    sub = subtopics[0]
    assert main(["topic", str(copy), str(sub["node"]), "--level", "2", "--rename", "Cell chemistry"]) == 0
    with Store(copy) as db:
        renamed = db.find_node(1, 2, sub["node"]).record
    assert (renamed["label"], renamed["name_source"]) == ("Cell chemistry", "analyst")
    capsys.readouterr()
    assert main(["topic", str(copy), "0", "--level", "3"]) == 2
    assert capsys.readouterr().err == ("patscape: error: run 1 has no level 3: its levels are 0-2 "
                                       "(the topics are level 1, their sub-topics level 2)\n")
