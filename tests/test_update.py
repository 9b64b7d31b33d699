"""``patscape map --update`` (patscape.landscape.update): a run updated with the documents
embedded or changed since, keeping its topics, ids and positions.

A constructed case: the planted corpus of 18 topics is mapped; then 30 patents written from one
planted topic's words are added (they must join that topic), 40 patents of words no topic uses
(a new topic), and 10 patents of another topic re-ingested with that topic's words (placed again,
in it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from patscape.cli import main
from patscape.embed.hashing import HashingEmbedder
from patscape.landscape import MapParams
from patscape.pipeline import build_map, embed, ingest
from patscape.store import Store

from .conftest import write_jsonl
from .test_hierarchy import planted_store

WORDS = [f"w{i}" for i in range(2000)]


def like_topic(topic: int, count: int, seed: int) -> list[dict]:
    """Patents written like planted topic ``topic`` (test_hierarchy.planted_corpus's recipe)."""
    rng = np.random.default_rng(seed)
    field, tech = topic // 6, topic // 2
    out = []
    for j in range(count):
        own = ([WORDS[field * 40 + k] for k in rng.integers(0, 40, 6)] + [WORDS[200 + tech * 40 + k] for k in rng.integers(0, 40, 6)]
               + [WORDS[800 + topic * 40 + k] for k in rng.integers(0, 40, 8)] + [WORDS[k] for k in rng.integers(1600, 2000, 4)])
        out.append({"id": f"N{topic:02d}{j:02d}", "title": " ".join(own[:6]), "abstract": " ".join(own), "lang": "en",
                    "date": f"{2020 + j % 4}-01-01", "ipc": ["A01B1/00"]})
    return out


def unseen(count: int, seed: int) -> list[dict]:
    """Patents of words no planted topic uses (w1500-w1599): a new topic."""
    rng = np.random.default_rng(seed)
    return [{"id": f"X{j:03d}", "title": " ".join(WORDS[1500 + k] for k in rng.integers(0, 100, 6)),
             "abstract": " ".join(WORDS[1500 + k] for k in rng.integers(0, 100, 20)), "lang": "en", "date": "2024-01-01"}
            for j in range(count)]


@pytest.fixture(scope="module")
def updated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("update")
    path = planted_store(root)
    params = MapParams(min_cluster_size=10)
    with Store(path) as db:
        build_map(db, params=params, seed=1)
        # 10 patents of planted topic 0 rewritten with topic 5's words; 30 more of topic 5; 40 unseen
        records = [json.loads(line) for line in (root / "planted.jsonl").read_text(encoding="utf-8").splitlines()]
        changed = [dict(r, title=new["title"], abstract=new["abstract"])
                   for i, r in enumerate(records[:10]) for new in like_topic(5, 1, 90 + i)]
        ingest(db, [write_jsonl(root / "more.jsonl", like_topic(5, 30, 7) + unseen(40, 8) + changed)])
        embed(db, HashingEmbedder(512))
        build_map(db, params=params, seed=1, update=True)
    return path


def test_an_update_keeps_topics_ids_and_places(updated: Path) -> None:
    with Store(updated) as db:
        old, new = db.runs()
        before = {d: (c, x, y) for d, c, _, x, y in db.run_points(old.id)}
        after = {d: (c, x, y) for d, c, _, x, y in db.run_points(new.id)}
        events = db.run_lineage(new.id)
    changed = {f"P00{j:02d}" for j in range(10)}
    # every old patent not changed keeps its topic and its place on the map, exactly
    moved = [(d, before[d], after[d]) for d in before if d not in changed and after[d] != before[d]]
    assert not moved, moved[:5]
    assert new.params["updated_from"] == old.id and new.data["update"]["kept"] == 440
    assert (new.data["update"]["new"], new.data["update"]["changed"], new.data["update"]["deleted"]) == (70, 10, 0)
    # the new and the rewritten ones are placed by the outliers' rule: the topic of at least 30% of
    # their 15 nearest kept patents of the previous run (exact cosine here), else none (then they
    # may form a new topic); a neighbour farther than the previous run's floor does not vote
    params = new.params["map"]
    with Store(updated) as db:
        ids, vectors = db.load_vectors(db.spaces()[0].key)
    row = {d: i for i, d in enumerate(ids)}
    kept = [d for d in ids if d in before and d not in changed]
    kept_vectors = vectors[[row[d] for d in kept]]
    k = params["reassign_neighbours"]
    born = new.data["update"]["new_topics"]
    floor = new.data["update"]["fit_floor"]  # (a neighbour this far does not vote)
    placed = 0
    for d in [d for d in ids if d not in before] + sorted(changed):
        sims = kept_vectors @ vectors[row[d]]
        near = np.lexsort((np.arange(len(kept)), -sims))[:k]
        votes = [before[kept[j]][0] for j in near if before[kept[j]][0] >= 0 and sims[j] >= floor]
        best = max(set(votes), key=lambda t: (votes.count(t), -t)) if votes else None
        expected = best if best is not None and votes.count(best) / k >= params["reassign_agreement"] else -1
        got = after[d][0]
        assert got == expected or (expected == -1 and got in born + [-1]), (d, got, expected)
        placed += expected >= 0
    assert placed == new.data["update"]["placed_in_topics"] and placed > 0
    # the unseen ones form a new topic, with an id no run used, recorded as born
    born = new.data["update"]["new_topics"]
    unseen_topics = {after[f"X{j:03d}"][0] for j in range(40)}
    assert len(unseen_topics) == 1 and unseen_topics <= set(born)
    assert min(born) > max(c for c, _, _ in before.values())
    depth = len(new.data["hierarchy"]["counts"]) - 1
    recorded = [{k: e[k] for k in ("event", "old", "new")} for e in events if e["level"] == depth]
    assert all({"event": "born", "old": [], "new": [t]} in recorded for t in born)
    # a new patent placed in a topic is drawn inside that topic's extent on the map
    for d in (d for d in ids if d not in before and after[d][0] >= 0 and after[d][0] not in born):
        xs = [x for c, x, _ in before.values() if c == after[d][0]]
        assert min(xs) - 1e-6 <= after[d][1] <= max(xs) + 1e-6


def test_an_update_is_refused_without_a_run_and_with_align_options(tmp_path: Path, updated: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["map", str(updated), "--update", "--no-align"]) == 2
    assert capsys.readouterr().err == ("patscape: error: --update keeps the newest run's ids: it takes neither "
                                       "--align-to nor --no-align\n")
    empty = planted_store(tmp_path)
    with Store(empty) as db:
        space = db.spaces()[0].key
    assert main(["map", str(empty), "--update"]) == 2
    assert capsys.readouterr().err == f"patscape: error: no run of the space {space} to update; run `patscape map` first\n"


def test_deleted_documents_leave_their_topics(updated: Path) -> None:
    """A document on the previous run that the space no longer holds is on no topic of the update."""
    from patscape.landscape.update import UpdateBase, update_landscape
    from patscape.pipeline.map_stage import map_ready

    with Store(updated) as db:
        run = db.runs()[-1]
        previous = db.previous_run(run.id)
        points = {d: (c, x, y) for d, c, _, x, y in db.run_points(run.id)}
        space = db.spaces()[0].key
        ids, vectors = db.load_vectors(space)
        keep = [i for i, d in enumerate(ids) if not d.startswith("P01")]  # planted topic 1 "deleted"
        docs, _ = map_ready(list(db.iter_documents([ids[i] for i in keep])))
    result, done = update_landscape(UpdateBase(previous, points), [ids[i] for i in keep], vectors[keep], docs,
                                    MapParams(min_cluster_size=10), seed=1)
    assert done["deleted"] == 25 and done["new"] == 0 and done["kept"] == len(keep)
    assert set(result.ids) == {ids[i] for i in keep}
    sizes = {t["cluster"]: t["size"] for t in result.topics}
    for topic, size in sizes.items():
        assert size == sum(1 for i in keep if points[ids[i]][0] == topic)


@pytest.mark.parametrize("sampled", [False, True])
def test_relayout_draws_the_map_afresh_and_keeps_the_topics(updated: Path, sampled: bool) -> None:
    """``--relayout``: the same topics and ids as the update without it, every document drawn anew
    (a sample's by UMAP, the rest beside their nearest sample documents of their own topic)."""
    from sklearn.metrics import silhouette_score

    from patscape.landscape.update import UpdateBase, update_landscape
    from patscape.pipeline.map_stage import map_ready

    with Store(updated) as db:
        old = db.runs()[0]
        previous = db.previous_run(old.id)
        points = {d: (c, x, y) for d, c, _, x, y in db.run_points(old.id)}
        ids, vectors = db.load_vectors(db.spaces()[0].key)
        docs, _ = map_ready(list(db.iter_documents(ids)))
    params = MapParams(min_cluster_size=10, **({"sample_above": 200, "sample_size": 300} if sampled else {}))
    kept, _ = update_landscape(UpdateBase(previous, points), ids, vectors, docs, params, seed=1)
    drawn, done = update_landscape(UpdateBase(previous, points), ids, vectors, docs, params, seed=1, relayout=True)
    assert done["relayout"] is True and "drawn afresh" in drawn.data["update"]["method"]
    assert np.array_equal(drawn.labels, kept.labels) and drawn.ids == kept.ids
    old_rows = [i for i, d in enumerate(ids) if d in points]
    # without it, old documents keep their place; with it, every one moves
    assert np.array_equal(kept.xy[old_rows], np.array([points[ids[i]][1:] for i in old_rows], dtype=np.float32))
    assert not np.isclose(drawn.xy[old_rows], kept.xy[old_rows]).all(axis=1).any()
    assert np.isfinite(drawn.xy).all()
    # the new layout draws the topics apart about as well as the layout it replaces (a random
    # layout of the same topics: far less)
    topical = drawn.labels >= 0
    fresh, before = (silhouette_score(run.xy[topical], run.labels[topical]) for run in (drawn, kept))
    shuffled = silhouette_score(drawn.xy[topical], np.random.default_rng(0).permutation(drawn.labels[topical]))
    assert fresh > 0.6 * before and fresh > shuffled + 0.2, (fresh, before, shuffled)


def test_relayout_goes_with_update(updated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["map", str(updated), "--relayout"]) == 2
    assert capsys.readouterr().err == "patscape: error: --relayout goes with --update (a full map draws a new layout anyway)\n"
