"""Topic identity across runs and the lineage events between them (patscape.landscape.lineage).

The events are checked on constructed memberships where the answer is known (a topic continued,
grown, split, two merged, one faded, one born); then through the store: a map made with another
seed and aligned to the first keeps the first's ids where its topics are the same, has exactly
the partition of the same map unaligned, records its events, and keeps an analyst's names.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from patscape.cli import main
from patscape.landscape import MapParams
from patscape.landscape.lineage import KEEP_ID_JACCARD, PreviousRun, align, match_level, relabel
from patscape.pipeline import build_map
from patscape.store import Store

from .test_hierarchy import planted_store


def members(groups: dict[int, range]) -> dict[str, int]:
    return {f"d{i}": topic for topic, docs in groups.items() for i in docs}


def test_each_kind_of_event_on_a_constructed_case() -> None:
    old = members({0: range(0, 100), 1: range(100, 200), 2: range(200, 260), 3: range(260, 300),
                   4: range(300, 400), 5: range(400, 440)})
    new = members({
        7: range(0, 95),                                       # old 0 continued (95 of its 100)
        0: range(200, 220), 1: range(220, 240), 2: range(240, 260),  # old 2 split in three
        6: range(600, 650),                                    # born from new documents
    })
    new.update(members({3: range(100, 200)}), **members({3: range(500, 560)}))  # old 1 grew by 60 new documents
    new.update(members({4: range(260, 390)}))  # old 3 (all of it) and old 4 (90%) merged; old 5 faded
    got = match_level(old, new, old_next=12)
    # ids: mutual best matches at Jaccard 0.5 or more keep theirs (old 0: 0.95, old 1: 100/160,
    # old 4: 90/140); the others get ids from 12 on, the largest first
    assert got.kept == {0: 0.95, 1: 0.625, 4: 0.6429}
    assert got.ids == {7: 0, 3: 1, 4: 4, 6: 12, 0: 13, 1: 14, 2: 15} and got.next_id == 16
    assert [(e.kind, e.old, e.new) for e in got.events] == [
        ("continued", [0], [0]), ("grown", [1], [1]), ("split", [2], [13, 14, 15]), ("merged", [3, 4], [4]),
        ("faded", [5], []), ("born", [], [12])]
    events = {e.kind: e.counts for e in got.events}
    assert events["continued"] == {"old_size": 100, "new_size": 95, "shared": 95, "overlap": 0.95, "jaccard": 0.95}
    assert events["grown"] == {"old_size": 100, "new_size": 160, "shared": 100, "overlap": 1.0, "jaccard": 0.625}
    assert events["split"] == {"old_size": 60, "parts": {"13": 20, "14": 20, "15": 20}, "overlap": 1.0}
    assert events["merged"] == {"new_size": 130, "parts": {"3": 40, "4": 90}}
    assert events["faded"] == {"old_size": 40, "largest_share": 0.0}
    assert events["born"] == {"new_size": 50, "from_old": 0}


def test_a_small_part_is_no_split_and_an_id_is_never_given_twice() -> None:
    old = members({0: range(0, 100), 1: range(100, 200)})
    # old 0 keeps 15% in a new topic, 10% in another, the rest gone: faded, not split
    new = members({5: range(0, 15), 6: range(15, 25), 7: range(100, 200)})
    got = match_level(old, new, old_next=30)
    assert [(e.kind, e.old, e.new) for e in got.events] == [
        ("continued", [1], [1]), ("faded", [0], []), ("born", [], [30]), ("born", [], [31])]
    # the next run, aligned to this one: the faded topic's id 0 is not given again
    again = match_level({d: got.ids[t] for d, t in new.items()}, members({0: range(300, 400)}), got.next_id)
    assert again.ids == {0: 32}


def test_mutual_best_matches_only_keep_ids() -> None:
    old = members({0: range(0, 100)})
    new = members({0: range(0, 50), 1: range(50, 100)})  # halves: Jaccard 0.5 each, one keeps the id
    got = match_level(old, new)
    assert KEEP_ID_JACCARD == 0.5 and got.ids == {0: 0, 1: 1}
    # MONIC: a half is still "survival" (TAU 0.5), so the other half is new, not a part of a split
    assert [(e.kind, e.new) for e in got.events] == [("shrank", [0]), ("born", [1])]
    new = members({0: range(0, 40), 1: range(40, 80), 2: range(80, 100)})  # none holds half
    got = match_level(old, new)
    assert got.kept == {} and sorted(got.ids.values()) == [1, 2, 3]


def test_relabel_keeps_the_partition() -> None:
    labels = np.array([3, 3, -1, 0, 7, 0], dtype=np.int64)
    assert relabel(labels, {3: 10, 0: 2, 7: 0}).tolist() == [10, 10, -1, 2, 0, 2]


def test_levels_are_matched_from_the_top_and_the_topics_with_the_topics() -> None:
    ids = [f"d{i}" for i in range(8)]
    previous = PreviousRun(1, [members({0: range(0, 4), 1: range(4, 8)}), members({5: range(0, 2), 6: range(2, 4),
                                                                                      7: range(4, 8)})])
    top = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    topics = np.array([0, 0, 1, 1, 2, 2, 2, 2])
    got = align(previous, ids, [top, topics])
    assert got.level_ids == [{1: 0, 0: 1}] and got.topic_ids == {0: 5, 1: 6, 2: 7}
    assert got.summary()["topics_kept"] == 3 and got.next_ids() == {"L0": 2, "topics": 8}


# -- through the store ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run 1 (seed 1), run 2 (seed 2, aligned to run 1), run 3 (seed 2, not aligned)."""
    path = planted_store(tmp_path_factory.mktemp("lineage"))
    params = MapParams(min_cluster_size=10)
    with Store(path) as db:
        first = build_map(db, params=params, seed=1)
        depth = len(db.run_levels(first))
        for topic in db.run_topics(first):  # an analyst's name on every topic, a namer's on every field
            db.rename_topic(first, depth, topic["cluster"], f"Analyst {topic['cluster']}")
        db.save_topic_names(first, [(0, n["node"], f"Namer {n['node']}", "namer", None) for n in db.run_levels(first)[0]],
                            "tiny", "v1")
        build_map(db, params=params, seed=2)
        build_map(db, params=params, seed=2, align_to=False)
    return path


def test_an_aligned_map_keeps_ids_and_changes_nothing_else(runs: Path) -> None:
    with Store(runs) as db:
        first, aligned, fresh = db.runs()
        points = {r.id: {d: c for d, c, *_ in db.run_points(r.id)} for r in (first, aligned, fresh)}
        topics = {r.id: {t["cluster"]: t for t in db.run_topics(r.id)} for r in (first, aligned, fresh)}
        events = db.run_lineage(aligned.id)
        assert db.run_lineage(fresh.id) == [] and db.run_lineage(first.id) == []
    order = sorted(points[first.id])
    # the partition is the unaligned map's: ids only
    a = [points[aligned.id][d] for d in order]
    f = [points[fresh.id][d] for d in order]
    assert adjusted_rand_score(a, f) == 1.0 and len(set(a)) == len(set(f)) and a != f
    assert fresh.params["aligned_to"] is None and aligned.params["aligned_to"] == first.id
    # a topic keeps its id exactly when it is the mutual best match of the old one, at Jaccard 0.5
    old_members: dict[int, set[str]] = {}
    for d, c in points[first.id].items():
        if c >= 0:
            old_members.setdefault(c, set()).add(d)
    new_members: dict[int, set[str]] = {}
    for d, c in points[aligned.id].items():
        if c >= 0:
            new_members.setdefault(c, set()).add(d)

    def jaccard(x: set[str], y: set[str]) -> float:
        return len(x & y) / len(x | y)

    for y, docs in new_members.items():
        best_x = max(old_members, key=lambda x: (jaccard(old_members[x], docs), -x))
        best_y = max(new_members, key=lambda z: (jaccard(old_members[best_x], new_members[z]), -z))
        if jaccard(old_members[best_x], docs) >= 0.5 and best_y == y:
            assert y == best_x  # kept
        else:
            assert y not in old_members  # a new id, never one the old run used
    kept = [y for y in new_members if y in old_members]
    assert kept and aligned.data["lineage"]["topics_kept"] == len(kept)
    # the events: every old topic once as the old side of one event, every new topic once on the new side
    depth = len(aligned.data["hierarchy"]["counts"]) - 1
    at_topics = [e for e in events if e["level"] == depth]
    olds = sorted(x for e in at_topics for x in e["old"])
    assert olds == sorted(old_members)
    # (a new topic is on the new side of one event, or of several when parts of old topics split into it)
    assert {y for e in at_topics for y in e["new"]} == set(new_members)
    for e in at_topics:
        if e["event"] in ("continued", "grown", "shrank"):
            (x,), (y,) = e["old"], e["new"]
            shared = len(old_members[x] & new_members[y])
            assert e["counts"] == {"old_size": len(old_members[x]), "new_size": len(new_members[y]), "shared": shared,
                                   "overlap": round(shared / len(old_members[x]), 4),
                                   "jaccard": round(jaccard(old_members[x], new_members[y]), 4)}
    # an analyst's name goes with its topic wherever the topic kept its id, and nowhere else
    assert {c: (t["label"], t.get("name_source")) for c, t in topics[aligned.id].items()} == {
        c: (f"Analyst {c}", "analyst") if c in old_members else (t["keyword_label"], None)
        for c, t in topics[aligned.id].items()}
    # a namer's name where the node kept its id and its membership changed little (Jaccard >= 0.7)
    kept_fields = {e["new"][0]: e["counts"]["jaccard"] for e in events if e["level"] == 0 and e["old"] == e["new"]}
    with Store(runs) as db:
        fields = {n["node"]: n for n in db.run_levels(aligned.id)[0]}
    assert kept_fields and {n: f.get("name_source") for n, f in fields.items()} == {
        n: "namer" if kept_fields.get(n, 0) >= 0.7 else None for n in fields}


def test_lineage_command(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Store(runs) as db:
        first, aligned, fresh = db.runs()
        events = db.run_lineage(aligned.id)
    assert main(["lineage", str(runs), "--run", str(aligned.id), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [{"run": aligned.id, **e} for e in events]
    assert main(["lineage", str(runs), "--run", str(fresh.id)]) == 0
    assert capsys.readouterr().out == f"run {fresh.id} was not aligned to an earlier run (its topics are numbered afresh)\n"
    assert main(["lineage", str(runs), "--run", str(aligned.id)]) == 0
    out = capsys.readouterr().out.splitlines()
    kept = aligned.data["lineage"]["topics_kept"]
    assert out[0].startswith(f"lineage    aligned to run {first.id}: {kept} of {aligned.metrics['topics']} topics kept their ids")
    assert len(out) == 1 + len(events)


def test_align_to_a_run_of_another_space_is_refused(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["map", str(runs), "--align-to", "1", "--no-align"]) == 2
    assert capsys.readouterr().err == "patscape: error: --align-to and --no-align exclude each other\n"
    assert main(["map", str(runs), "--align-to", "99"]) == 2
    assert "no run 99" in capsys.readouterr().err


def test_the_api_serves_a_runs_lineage(runs: Path) -> None:
    from fastapi.testclient import TestClient

    from patscape.api import Settings, create_app

    with Store(runs) as db:
        first, aligned, fresh = db.runs()
        events = db.run_lineage(aligned.id)
    with TestClient(create_app(Settings(store=runs, model="hash:512")), base_url="http://127.0.0.1:8000") as http:
        body = http.get(f"/corpus/runs/{aligned.id}/lineage").json()
        assert body == {"run": aligned.id, "aligned_to": first.id, "topics_kept": aligned.data["lineage"]["topics_kept"],
                        "thresholds": aligned.data["lineage"]["thresholds"],
                        "events": [{k: v for k, v in e.items() if k != "parent_run"} for e in events]}
        assert http.get(f"/corpus/runs/{fresh.id}/lineage").json() == {
            "run": fresh.id, "aligned_to": None, "topics_kept": None, "thresholds": None, "events": []}
        assert http.get("/corpus/runs/99/lineage").status_code == 404


def test_a_sampled_map_is_aligned_the_same_way(tmp_path: Path) -> None:
    """Above sample_above, a map is fitted on a sample and the rest placed: aligned or not, the
    same partition, and the aligned one keeps the earlier run's ids where its topics continue."""
    params = MapParams(min_cluster_size=10, sample_above=200, sample_size=300)
    with Store(planted_store(tmp_path)) as db:
        first = build_map(db, params=params, seed=1)
        aligned = build_map(db, params=params, seed=2)
        fresh = build_map(db, params=params, seed=2, align_to=False)
        runs = {r.id: r for r in db.runs()}
        points = {r: {d: c for d, c, *_ in db.run_points(r)} for r in (first, aligned, fresh)}
        subs = {r: db.run_point_subtopics(r) for r in (aligned, fresh)}
        assert db.run_lineage(aligned)
    assert runs[aligned].params["sampling"]["sampled"] and runs[aligned].params["aligned_to"] == first
    order = sorted(points[first])
    assert adjusted_rand_score([points[aligned][d] for d in order], [points[fresh][d] for d in order]) == 1.0
    assert adjusted_rand_score([subs[aligned].get(d, -1) for d in order], [subs[fresh].get(d, -1) for d in order]) == 1.0
    kept = runs[aligned].data["lineage"]["topics_kept"]
    shared_ids = set(points[first].values()) & set(points[aligned].values()) - {-1}
    assert kept == len(shared_ids) and kept > 0
