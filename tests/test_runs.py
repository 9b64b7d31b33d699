"""``patscape runs``: a store's runs listed, named and deleted (with everything of theirs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patscape.cli import main
from patscape.landscape import MapParams
from patscape.pipeline import build_map
from patscape.store import Store

from .test_hierarchy import planted_store


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = planted_store(tmp_path)
    with Store(path) as db:
        for seed in (1, 2, 3):
            build_map(db, params=MapParams(min_cluster_size=10), seed=seed)
        db.rename_topic(2, len(db.run_levels(2)), 0, "Kept name")
    return path


def listed(store: Path, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    assert main(["runs", str(store), "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_runs_are_listed_as_stored(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    got = listed(store, capsys)
    with Store(store) as db:
        runs = db.runs()
        sizes = {r.id: db.run_sizes(r.id) for r in runs}
    assert [r["id"] for r in got] == [1, 2, 3]
    for entry, run in zip(got, runs):
        assert (entry["documents"], entry["topics"]) == sizes[run.id] and entry["seed"] == run.seed
        assert entry["levels"] == run.data["hierarchy"]["counts"]
        assert entry["subtopics"] == run.data["hierarchy"]["subtopics"]["count"]
        assert entry["aligned_to"] == (run.id - 1 if run.id > 1 else None)  # each aligned to the one before
        assert entry["topics_kept"] == (run.data["lineage"]["topics_kept"] if run.id > 1 else None)
    assert main(["runs", str(store)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].startswith("run 1  ") and f"{sizes[1][0]:,} documents, levels " in text[0]
    assert text[2].startswith("           aligned to run 1: ")


def test_name_and_delete_runs(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", str(store), "--name", "2", "  Q3   refresh "]) == 0
    assert capsys.readouterr().out == "run 2: named 'Q3 refresh'\n"
    assert [r["name"] for r in listed(store, capsys)] == [None, "Q3 refresh", None]
    assert main(["runs", str(store), "--name", "2", ""]) == 0
    assert capsys.readouterr().out == "run 2: name cleared\n"
    assert main(["runs", str(store), "--delete", "2"]) == 0
    assert capsys.readouterr().out == "deleted run 2\n"
    with Store(store) as db:
        assert [r.id for r in db.runs()] == [1, 3]
        for table in ("run_points", "topics", "topic_nodes", "topic_names", "lineage"):
            assert db.db.execute(f"SELECT COUNT(*) FROM {table} WHERE run_id = 2").fetchone()[0] == 0
        assert db.db.execute("SELECT COUNT(*) FROM run_points WHERE run_id = 3").fetchone()[0] == 450
        assert db.run_lineage(3)[0]["parent_run"] == 2  # a later run's lineage still says where it came from
    assert main(["runs", str(store), "--keep", "1"]) == 0
    assert capsys.readouterr().out == "deleted run 1\n"
    assert [r["id"] for r in listed(store, capsys)] == [3]


def test_bad_run_requests(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", str(store), "--delete", "9"]) == 2
    assert capsys.readouterr().err == f"patscape: error: no run 9 in {store} (runs: 1, 2, 3)\n"
    assert main(["runs", str(store), "--delete", "1", "--keep", "1"]) == 2
    assert capsys.readouterr().err == "patscape: error: --delete and --keep exclude each other\n"
    assert main(["runs", str(store), "--name", "1", "two\nlines"]) == 2
    assert [r["id"] for r in listed(store, capsys)] == [1, 2, 3]
