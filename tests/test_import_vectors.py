"""`patscape import-vectors`: vectors made elsewhere, from Parquet or .npy, checked and stored
as a space that search and map use."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import SAMPLE
from tests.crash_helpers import cli, problems, write_jsonl

N = 120


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("import")
    records = [json.loads(line) for line in SAMPLE.open(encoding="utf-8")][:N]
    write_jsonl(root / "patents.jsonl", records)
    return root


def vectors_of(work: Path, store: Path) -> tuple[list[str], np.ndarray]:
    """What a remote job would produce: hash:256 vectors of the same texts, unnormalised."""
    from patscape.embed import load_embedder
    from patscape.spaces import document_text
    from patscape.store import Store

    with Store(store, create=False) as db:
        docs = list(db.iter_documents())
    model = load_embedder("hash:256")
    matrix = model.embed([document_text(d) for d in docs], "document").vectors * 3.0
    return [d.id for d in docs], matrix


def test_parquet_list_column_gives_a_complete_space_that_search_and_map_use(work: Path) -> None:
    store = work / "parquet"
    assert cli(work, "ingest", str(store), "patents.jsonl").returncode == 0
    ids, matrix = vectors_of(work, store)
    pq.write_table(pa.table({"id": ids, "vector": [row.tolist() for row in matrix]}), work / "v.parquet")
    done = cli(work, "import-vectors", str(store), "v.parquet", "--model", "hash:256")
    assert done.returncode == 0, done.stderr
    assert f"imported {N} of {N} vectors (256 dims)" in done.stdout and "(complete)" in done.stdout
    from patscape.store import Store

    with Store(store, create=False) as db:
        (space,) = db.spaces()
        stored_ids, stored = db.load_vectors(space.key)
    assert space.complete and space.model == "hash:256" and space.key.startswith("imported-hash-256-256-")
    order = [ids.index(i) for i in stored_ids]
    np.testing.assert_allclose(stored, matrix[order] / 3.0, atol=1e-6)  # normalised to unit length
    # text search embeds the query with the named model; --like and map need only the vectors
    hits = cli(work, "search", str(store), "underwater glider buoyancy", "--json", "-k", "3")
    assert hits.returncode == 0 and len(hits.stdout.splitlines()) == 3
    like = [json.loads(line) for line in cli(work, "search", str(store), "--like", ids[0], "--json", "-k", "5").stdout.splitlines()]
    sims = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)) @ (matrix[0] / np.linalg.norm(matrix[0]))
    sims[0] = -np.inf
    assert [round(h["score"], 3) for h in like] == [round(float(s), 3) for s in np.sort(sims)[::-1][:5]]
    assert all(round(float(sims[ids.index(h["id"])]), 3) == round(h["score"], 3) for h in like)
    assert cli(work, "map", str(store), "--seed", "3").returncode == 0
    assert problems(store) == {}


def test_npy_with_ids_and_bad_rows_are_counted(work: Path) -> None:
    store = work / "npy"
    assert cli(work, "ingest", str(store), "patents.jsonl").returncode == 0
    ids, matrix = vectors_of(work, store)
    matrix = matrix.astype(np.float32)
    matrix[1] = np.nan
    matrix[2] = 0.0
    rows = np.concatenate([matrix, matrix[:1]])  # the first id again
    all_ids = ids + [ids[0]]
    rows = np.concatenate([rows, matrix[3:4]])
    all_ids.append("NOT-IN-STORE")
    np.save(work / "v.npy", rows)
    (work / "ids.txt").write_text("\n".join(all_ids) + "\n", encoding="utf-8")
    done = cli(work, "import-vectors", str(store), "v.npy", "--ids", "ids.txt", "--model", "hash:256")
    assert done.returncode == 1  # done, some rows skipped
    assert f"imported {N - 2} of {N + 2} vectors (256 dims)" in done.stdout
    assert "(in progress: 2 documents have no vector)" in done.stdout
    assert f"skipped: 1 rows with unknown ids (e.g. NOT-IN-STORE)" in done.stderr
    assert f"skipped: 1 rows with repeated ids (e.g. {ids[0]})" in done.stderr
    assert f"skipped: 1 rows with NaN/inf vectors (e.g. {ids[1]})" in done.stderr
    assert f"skipped: 1 rows with zero vectors (e.g. {ids[2]})" in done.stderr
    # an incomplete imported space is not a default
    assert cli(work, "map", str(store)).returncode == 2


def test_fixed_size_list_and_clear_errors(work: Path) -> None:
    store = work / "fixed"
    assert cli(work, "ingest", str(store), "patents.jsonl").returncode == 0
    ids, matrix = vectors_of(work, store)
    flat = pa.array(matrix.astype(np.float32).ravel())
    pq.write_table(pa.table({"pid": ids, "emb": pa.FixedSizeListArray.from_arrays(flat, 256)}), work / "f.parquet")
    missing = cli(work, "import-vectors", str(store), "f.parquet", "--model", "hash:256")
    assert missing.returncode == 2
    assert missing.stderr.strip() == (f"patscape: error: f.parquet: no column 'id' (columns: pid, emb); "
                                      "name it with --id-column")
    done = cli(work, "import-vectors", str(store), "f.parquet", "--model", "hash:256", "--id-column", "pid",
               "--vector-column", "emb")
    assert done.returncode == 0 and f"imported {N} of {N} vectors" in done.stdout
    pq.write_table(pa.table({"id": ids[:2], "vector": [[1.0, 2.0], [1.0, 2.0, 3.0]]}), work / "ragged.parquet")
    ragged = cli(work, "import-vectors", str(store), "ragged.parquet", "--model", "hash:2")
    assert ragged.returncode == 2 and "vectors of different dimensions (2, 3)" in ragged.stderr
    no_ids = cli(work, "import-vectors", str(store), "v.npy", "--model", "hash:256")
    assert no_ids.returncode == 2 and "a .npy file needs its ids" in no_ids.stderr
