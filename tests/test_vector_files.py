"""The memory-mapped vector files and the ANN index beside the store (patscape.vectors.disk):
every answer is checked against a brute-force search over the store's own vectors, with and
without filters, through the index, after updates, after a crashed writer, and while another
process holds the files."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from patscape.filters import SearchFilter
from patscape.records import Document
from patscape.store import Store, VectorRow
from patscape.vectors import hnsw, memory
from patscape.vectors.disk import SpaceVectors
from patscape.vectors.state import MaskCache
from patscape.vectors_io import import_vectors

N, DIMS, TOPICS = 3000, 48, 25
LANGS = ("en", "zh", "ja")
CODES = ("H01M10/052", "H01M4/13", "G06F16/33", "G06N3/08", "A61K39/395", "B60L58/12")
FILTERS = [
    SearchFilter(lang="zh"),
    SearchFilter.parse(years="2015-2017"),
    SearchFilter(cpc="H01M"),
    SearchFilter(cpc="G06N3/08"),
    SearchFilter.parse(lang="en", years="2012-", cpc="G06"),
]


def clustered(n: int, dims: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((TOPICS, dims))
    matrix = centres[rng.integers(TOPICS, size=n)] + 0.6 * rng.standard_normal((n, dims))
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def build(root: Path, n: int = N) -> tuple[Store, str]:
    """A store of ``n`` documents (three languages, dates 2010-2023 with some missing, CPC and
    IPC codes) with clustered vectors imported as a complete space."""
    docs = []
    for i in range(n):
        year = 2010 + i % 14
        docs.append(Document(
            id=f"D{i:05d}", title=f"document {i}", abstract="a test abstract", lang=LANGS[i % 3],
            date=None if i % 17 == 0 else f"{year}-0{1 + i % 9}-15",
            cpc=(CODES[i % len(CODES)],), ipc=(CODES[(i * 7) % len(CODES)][:4],) if i % 5 == 0 else (),
        ))
    store = Store(root / "store")
    store.write_documents(docs)
    matrix = clustered(n, DIMS, 1)
    np.save(root / "v.npy", matrix)
    (root / "ids.txt").write_text("\n".join(d.id for d in docs) + "\n", encoding="utf-8")
    report = import_vectors(store, root / "v.npy", "hash:48", ids_path=root / "ids.txt")
    assert report.stored == n and report.space.complete
    return store, report.space.key


def brute(store: Store, key: str, target: np.ndarray, k: int, where: SearchFilter | None = None,
          exclude: str | None = None) -> list[tuple[str, float]]:
    ids, matrix = store.load_vectors(key)
    allowed = store.filter_ids(ids, where) if where is not None else set(ids)
    scores = matrix @ target
    return sorted(((i, float(s)) for i, s in zip(ids, scores) if i in allowed and i != exclude),
                  key=lambda kv: (-kv[1], kv[0]))[:k]


def queries(count: int, seed: int = 3) -> np.ndarray:
    return clustered(count, DIMS, seed)


def same(found: list[tuple[str, float]], truth: list[tuple[str, float]]) -> bool:
    """The same ids in the same order, scores equal to float32 precision."""
    return [i for i, _ in found] == [i for i, _ in truth] and np.allclose([s for _, s in found], [s for _, s in truth], atol=1e-6)


def recall(found: list[tuple[str, float]], truth: list[tuple[str, float]]) -> float:
    return len({i for i, _ in found} & {i for i, _ in truth}) / max(1, len(truth))


@pytest.fixture()
def built(tmp_path: Path) -> tuple[Store, str]:
    store, key = build(tmp_path)
    yield store, key
    store.close()


def test_exact_search_equals_brute_force_with_every_filter(built: tuple[Store, str]) -> None:
    store, key = built
    files = SpaceVectors.open(store, store.get_space(key))
    assert files.meta["docs_rows"] == N and files.meta["applied_seq"] == store.vector_log_head(key) > 0
    assert files.docs is not None and files.docs.index is None  # 3,000 vectors: below the threshold
    for target in queries(8):
        for where in [None, *FILTERS]:
            found = files.nearest(target, 10, where)
            truth = brute(store, key, target, 10, where)
            assert [i for i, _ in found] == [i for i, _ in truth], where
            np.testing.assert_allclose([s for _, s in found], [s for _, s in truth], atol=1e-6)
    # exclude (a --like search) never returns the document itself
    doc_id = "D00042"
    target = store.get_vector(key, doc_id)
    found = files.nearest(target, 5, exclude=doc_id)
    assert doc_id not in [i for i, _ in found] and found == brute(store, key, target, 5, exclude=doc_id)


def test_filters_select_what_they_say(built: tuple[Store, str]) -> None:
    store, key = built
    files = SpaceVectors.open(store, store.get_space(key))
    docs = {d.id: d for d in store.iter_documents()}
    target = queries(1)[0]
    checks = {
        FILTERS[0]: lambda d: d.lang == "zh",
        FILTERS[1]: lambda d: d.date is not None and 2015 <= int(d.date[:4]) <= 2017,
        FILTERS[2]: lambda d: any(c.startswith("H01M") for c in d.cpc + d.ipc),
        FILTERS[4]: lambda d: d.lang == "en" and d.date is not None and int(d.date[:4]) >= 2012
        and any(c.startswith("G06") for c in d.cpc + d.ipc),
    }
    for where, meets in checks.items():
        found = files.nearest(target, 200, where)
        expected = sum(1 for d in docs.values() if meets(d))
        assert len(found) == min(200, expected) and all(meets(docs[i]) for i, _ in found), where
        assert store.count_matching(where) == expected


def test_ann_index_finds_the_exact_neighbours_with_and_without_filters(built: tuple[Store, str], monkeypatch: pytest.MonkeyPatch) -> None:
    store, key = built
    files = SpaceVectors.open(store, store.get_space(key), threshold=1000)
    assert files.docs is not None and files.docs.index is not None and files.docs.index_rows == N
    exact_recall, filtered_recall = [], []
    # filters letting more than this through walk the graph with a bitmap instead of a scan
    monkeypatch.setattr(hnsw, "EXACT_FILTERED", 100)
    for target in queries(40):
        exact_recall.append(recall(files.nearest(target, 10), brute(store, key, target, 10)))
        for where in (FILTERS[0], FILTERS[2]):
            found = files.nearest(target, 10, where)
            allowed = store.filter_ids([i for i, _ in found], where)
            assert len(found) == 10 and allowed == {i for i, _ in found}
            filtered_recall.append(recall(found, brute(store, key, target, 10, where)))
    assert np.mean(exact_recall) >= 0.97, np.mean(exact_recall)
    assert np.mean(filtered_recall) >= 0.95, np.mean(filtered_recall)


def test_ann_index_finds_a_document_of_a_dense_one_technology_corpus(tmp_path: Path) -> None:
    """A landscape is one technology: every document close to every other (cosine ~0.6). A
    query made from a stored document (cosine ~0.7 to it, ~0.45 to the rest) must find that
    document through the index. Graph pruning by faiss's diversity heuristic (M 16, ef
    construction 128) lost it for 12% of such queries at 256 dimensions."""
    n, dims = 20_000, 256
    rng = np.random.default_rng(7)
    centre = rng.standard_normal(dims)
    spread = rng.standard_normal((n, dims))
    matrix = 0.6 ** 0.5 * centre / np.linalg.norm(centre) + 0.4 ** 0.5 * spread / np.linalg.norm(spread, axis=1, keepdims=True)
    matrix = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)
    store = Store(tmp_path / "store")
    ids = [f"P{i:05d}" for i in range(n)]
    store.write_documents([Document(id=i, title=f"battery cell {i}", abstract=f"an electrode, variant {i}", lang="en") for i in ids])
    np.save(tmp_path / "v.npy", matrix)
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n", encoding="utf-8")
    key = import_vectors(store, tmp_path / "v.npy", "hash:256", ids_path=tmp_path / "ids.txt").space.key
    files = SpaceVectors.open(store, store.get_space(key), threshold=1000)
    assert files.docs is not None and files.docs.index is not None and files.docs.index_rows == n
    rows = rng.choice(n, 300, replace=False)
    targets = matrix[rows] + 0.06 * rng.standard_normal((300, dims)).astype(np.float32)
    targets /= np.linalg.norm(targets, axis=1, keepdims=True)
    assert 0.65 < float(np.median(np.sum(targets * matrix[rows], axis=1))) < 0.75
    found = [files.nearest(t, 10)[0][0] for t in targets]
    assert np.mean([f == ids[r] for f, r in zip(found, rows)]) >= 0.99
    store.close()


def replace_vectors(store: Store, key: str, ids: list[str], seed: int) -> np.ndarray:
    vectors = clustered(len(ids), DIMS, seed)
    hashes = store.content_hashes(ids)
    assert store.put_vectors(key, [VectorRow(i, hashes[i], v, 1, 0) for i, v in zip(ids, vectors)]) == len(ids)
    return vectors


def test_updates_are_appended_and_old_rows_retired(built: tuple[Store, str]) -> None:
    store, key = built
    space = store.get_space(key)
    files = SpaceVectors.open(store, space, threshold=1000)
    changed = [f"D{i:05d}" for i in range(0, 300, 10)]
    new = replace_vectors(store, key, changed, seed=11)
    # before the files catch up, a search already answers from the new vectors
    stale = SpaceVectors(store, space, threshold=1000)
    stale._load()
    assert int(stale.meta["applied_seq"]) < store.vector_log_head(key)
    for target in list(new[:5]) + list(queries(5)):
        truth = brute(store, key, target, 10)
        assert recall(stale.nearest(target, 10), truth) >= 0.9
    assert stale.nearest(new[0], 1)[0][0] == changed[0]
    report = files.sync()
    assert report is not None and not report.rebuilt and report.appended == len(changed) == report.removed
    assert report.indexed == {"docs": N + len(changed)}
    fresh = SpaceVectors.open(store, space, threshold=1000)
    assert fresh.docs.rows == N + len(changed) and int(fresh.dead_docs.sum()) == len(changed)
    assert fresh.docs.index_rows == N + len(changed)
    for target in new[:10]:
        assert fresh.nearest(target, 1)[0][0] == changed[list(map(tuple, new)).index(tuple(target))]
    assert np.mean([recall(fresh.nearest(t, 10), brute(store, key, t, 10)) for t in queries(20)]) >= 0.97


def test_a_crashed_writers_tail_is_cut(built: tuple[Store, str]) -> None:
    store, key = built
    space = store.get_space(key)
    files = SpaceVectors.open(store, space)
    path = files.docs.path
    with open(path, "ab") as handle:  # a writer killed after writing rows it never committed
        handle.write(b"\x7f" * (DIMS * 4 * 3 + 5))
    changed = ["D00001", "D00002"]
    replace_vectors(store, key, changed, seed=5)
    files.sync()
    fresh = SpaceVectors.open(store, space)
    assert path.stat().st_size == (N + 2) * DIMS * 4
    for target in queries(5):
        assert same(fresh.nearest(target, 10), brute(store, key, target, 10))


def test_many_changes_write_a_new_generation(built: tuple[Store, str]) -> None:
    store, key = built
    space = store.get_space(key)
    files = SpaceVectors.open(store, space)
    old = files.docs.path
    replace_vectors(store, key, [f"D{i:05d}" for i in range(0, N, 2)], seed=9)  # half the corpus
    report = files.sync()
    assert report is not None and report.rebuilt
    fresh = SpaceVectors.open(store, space)
    assert fresh.meta["gen"] == 2 and fresh.docs.rows == N and not fresh.dead_docs.any()
    assert not old.exists() and fresh.docs.path.exists()
    for target in queries(5):
        assert same(fresh.nearest(target, 10), brute(store, key, target, 10))


def test_a_reader_answers_while_another_process_holds_the_files(built: tuple[Store, str], tmp_path: Path) -> None:
    store, key = built
    space = store.get_space(key)
    files = SpaceVectors.open(store, space)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time\nh = open(sys.argv[1], 'a+b')\nfcntl.flock(h, fcntl.LOCK_EX)\n"
         "print('held', flush=True)\ntime.sleep(120)", str(files.folder / "lock")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        changed = [f"D{i:05d}" for i in range(100, 130)]
        new = replace_vectors(store, key, changed, seed=13)
        from patscape.vectors.sync import sync_vector_files

        sync_vector_files(store, key)  # skipped: the files are held
        reader = SpaceVectors.open(store, space)
        assert int(reader.meta["applied_seq"]) < store.vector_log_head(key)
        for target in list(new[:5]) + list(queries(5)):
            assert same(reader.nearest(target, 10), brute(store, key, target, 10))
        for where in FILTERS:
            target = new[0]
            assert same(reader.nearest(target, 10, where), brute(store, key, target, 10, where))
    finally:
        holder.kill()
        holder.wait()
    with open(files.folder / "lock", "a+b") as handle:  # released with the process
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_float16_files_halve_the_disk_and_keep_the_ranking(built: tuple[Store, str]) -> None:
    store, key = built
    space = store.get_space(key)
    files = SpaceVectors.open(store, space)
    size32 = files.docs.path.stat().st_size
    report = files.sync(dtype="float16")
    assert report is not None and report.rebuilt
    half = SpaceVectors.open(store, space)
    assert half.dtype == "float16" and half.docs.path.stat().st_size * 2 == size32
    overlap = []
    for target in queries(20):
        found, truth = half.nearest(target, 10), brute(store, key, target, 10)
        overlap.append(recall(found, truth))
        np.testing.assert_allclose([s for _, s in found[:3]], [s for _, s in truth[:3]], atol=2e-3)
    assert np.mean(overlap) >= 0.97


def patscape(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The command line, in this process: (exit code, stdout, stderr)."""
    from patscape.cli import main

    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_search_command_filters_and_refuses_bad_filters(built: tuple[Store, str], capsys: pytest.CaptureFixture[str]) -> None:
    store, key = built
    run = ["search", str(store.path), "--like", "D00010", "-k", "20", "--json"]
    code, out, err = patscape(capsys, *run, "--years", "2015-2016", "--cpc", "H01M", "--lang", "zh")
    assert code == 0, err
    hits = [json.loads(line) for line in out.splitlines()]
    docs = {d.id: d for d in store.iter_documents([h["id"] for h in hits])}
    expected = store.count_matching(SearchFilter.parse(lang="zh", years="2015-2016", cpc="H01M"))
    assert 0 < len(hits) == min(20, expected)
    assert all(docs[h["id"]].lang == "zh" and docs[h["id"]].date[:4] in ("2015", "2016")
               and any(c.startswith("H01M") for c in docs[h["id"]].cpc + docs[h["id"]].ipc) for h in hits)
    code, _, err = patscape(capsys, *run, "--years", "twenty")
    assert code == 2 and "--years 'twenty'" in err
    code, _, err = patscape(capsys, *run, "--cpc", "H01M%")
    assert code == 2 and "not a CPC/IPC prefix" in err
    code, _, err = patscape(capsys, *run, "--cpc", "C07D")
    assert code != 0 and "no documents match the filter (CPC/IPC C07D*)" in err


def test_index_command_builds_the_index_and_search_uses_it(built: tuple[Store, str], capsys: pytest.CaptureFixture[str]) -> None:
    store, key = built
    code, out, err = patscape(capsys, "index", str(store.path), "--threshold", "1000")
    assert code == 0, err
    assert f"{N:,} document vectors" in out and f"ANN index: docs {N:,} rows" in out
    files = SpaceVectors.open(store, store.get_space(key))
    assert files.docs.index is not None and files.docs.index_rows == N
    code, out, err = patscape(capsys, "search", str(store.path), "--like", "D00003", "--json", "-k", "10")
    found = [json.loads(line)["id"] for line in out.splitlines()]
    truth = brute(store, key, store.get_vector(key, "D00003"), 10, exclude="D00003")
    assert recall([(i, 0.0) for i in found], truth) >= 0.9


def test_files_that_outgrow_a_quarter_of_the_memory_bring_a_word_about_float16(
    built: tuple[Store, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store, key = built
    files = SpaceVectors.open(store, store.get_space(key), sync=False)
    size = files.docs.path.stat().st_size  # float32 files, no index yet (below the threshold)
    assert files.dtype == "float32" and not files.docs.index_path.exists()
    monkeypatch.setattr(memory, "physical_memory", lambda: 4 * size)
    assert files.memory_advice() is None  # exactly a quarter: no word
    monkeypatch.setattr(memory, "physical_memory", lambda: 4 * size - 4)
    advice = files.memory_advice()
    assert advice is not None and f"patscape index {store.path} --dtype float16" in advice

    # the index makes the files larger: said when it is built, by `index` and by `import-vectors`
    monkeypatch.setattr(memory, "physical_memory", lambda: 8 * size)
    code, _, err = patscape(capsys, "index", str(store.path), "--threshold", "1000")
    assert code == 0, err
    files = SpaceVectors.open(store, store.get_space(key), sync=False)
    total = sum(p.stat().st_size for p in (files.docs.path, files.docs.index_path))
    assert total > 2 * size
    assert f"note: the vector files and ANN index of {key} take {total / 1e9:.1f} GB" in err
    assert "--dtype float16" in err
    code, _, err = patscape(capsys, "index", str(store.path), "--dtype", "float16", "--threshold", "1000")
    files = SpaceVectors.open(store, store.get_space(key), sync=False)
    assert code == 0 and files.dtype == "float16" and files.docs.index_rows == N
    assert "--dtype float16" not in err  # float16 already: no word
    monkeypatch.setattr(memory, "physical_memory", lambda: None)  # the system does not say
    code, _, err = patscape(capsys, "index", str(store.path), "--rebuild", "--ann", "--dtype", "float32")
    assert code == 0 and "--dtype float16" not in err

    monkeypatch.setattr(memory, "physical_memory", lambda: 8 * size)
    monkeypatch.setenv("PATSCAPE_ANN_THRESHOLD", "1000")
    np.save(tmp_path / "again.npy", clustered(N, DIMS, 7))
    code, _, err = patscape(capsys, "import-vectors", str(store.path), str(tmp_path / "again.npy"),
                            "--ids", str(tmp_path / "ids.txt"), "--model", "elsewhere:48")
    assert code == 0, err
    assert "note: the vector files and ANN index of" in err and "--dtype float16" in err


def test_an_index_of_an_earlier_version_is_named_and_rebuilt_on_request(
    built: tuple[Store, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, key = built
    monkeypatch.setattr(hnsw, "HNSW_M", 16)  # the settings of an earlier version
    monkeypatch.setattr(hnsw, "HNSW_EF_CONSTRUCTION", 128)
    code, _, err = patscape(capsys, "index", str(store.path), "--threshold", "1000")
    assert code == 0 and "note: the ANN index" not in err  # built with today's settings: nothing to say
    monkeypatch.undo()
    assert hnsw.index_m(SpaceVectors.open(store, store.get_space(key)).docs.index) == 16
    code, _, err = patscape(capsys, "index", str(store.path), "--threshold", "1000")
    assert code == 0 and "built by an earlier version (M 16)" in err and "--rebuild --ann" in err
    code, out, err = patscape(capsys, "index", str(store.path), "--rebuild", "--ann")
    assert code == 0 and "rewritten" in out and "note: the ANN index" not in err
    files = SpaceVectors.open(store, store.get_space(key))
    assert hnsw.index_m(files.docs.index) == hnsw.HNSW_M == 48 and files.docs.index_rows == N


def test_search_effort_grows_with_the_index_and_the_environment_overrides_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATSCAPE_ANN_EF", raising=False)
    assert hnsw.ef_search(10, 50_000) == 256 and hnsw.ef_search(10, 250_000) == 256
    assert hnsw.ef_search(10, 1_000_000) == 512 and hnsw.ef_search(10, 4_000_000) == 1024
    assert hnsw.ef_search(400, 100_000) == 800  # never below twice the answers asked for
    monkeypatch.setenv("PATSCAPE_ANN_EF", "64")
    assert hnsw.ef_search(10, 1_000_000) == 64


def test_threads_sharing_one_state_never_drop_the_same_filter_mask_twice(built: tuple[Store, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A server's threads each open their own SpaceVectors (on their own store connection), and
    share the state of the files they map, filter masks included. When two threads missed a
    filter on a full mask cache at once, both could pick the same oldest mask to drop, and the
    one dropping it second failed (KeyError). Here the first thread waits inside the cache, with its oldest mask
    picked, until the second has either searched (then it dropped that same mask) or found the
    cache's lock taken; both must then answer as a brute-force search does."""
    from patscape.vectors import search as vector_search

    monkeypatch.setattr(vector_search, "PREFILTER", 10**9)  # every filtered search computes its mask
    store, key = built
    files = SpaceVectors.open(store, store.get_space(key))
    target = queries(1)[0]
    wheres = [SearchFilter.parse(years=f"{year}-") for year in range(2006, 2008 + MaskCache.SIZE)]  # two more than it holds
    for where in wheres[: MaskCache.SIZE]:  # a full cache
        files.nearest(target, 10, where)
    cache = files._masks
    assert len(cache.masks) == MaskCache.SIZE
    picked, go = threading.Event(), threading.Event()

    class Masks(dict[tuple[str, SearchFilter], np.ndarray]):
        first = True

        def __iter__(self) -> Iterator[tuple[str, SearchFilter]]:
            keys = list(super().__iter__())  # the oldest mask is picked here, then dropped
            if Masks.first:
                Masks.first = False
                picked.set()
                go.wait()
            return iter(keys)

    class Lock:
        """The cache's lock, setting ``go`` when a thread finds it taken."""

        def __init__(self) -> None:
            self.lock = threading.Lock()

        def __enter__(self) -> None:
            if not self.lock.acquire(blocking=False):
                go.set()
                self.lock.acquire()

        def __exit__(self, *exc: object) -> None:
            self.lock.release()

    monkeypatch.setattr(cache, "masks", Masks(cache.masks))
    monkeypatch.setattr(cache, "lock", Lock())
    found: dict[SearchFilter, list[tuple[str, float]]] = {}
    errors: list[BaseException] = []

    def search(where: SearchFilter, first: bool) -> None:
        try:
            if not first:
                picked.wait()
            with Store(store.path) as own:
                mine = SpaceVectors.open(own, own.get_space(key), sync=False)
                assert mine._masks is cache  # the same state of the files, the same masks
                found[where] = mine.nearest(target, 10, where)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            (picked if first else go).set()  # never leave the other thread waiting

    threads = [threading.Thread(target=search, args=(wheres[-2], True)), threading.Thread(target=search, args=(wheres[-1], False))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(found) == 2 and all(same(answer, brute(store, key, target, 10, where)) for where, answer in found.items())
    assert len(cache.masks) == MaskCache.SIZE and set(wheres[-2:]) <= {where for _, where in cache.masks}


def test_a_first_filtered_search_answers_from_unfiltered_candidates_without_a_mask(built: tuple[Store, str]) -> None:
    """The one search of a ``patscape search`` process: a filter's mask is a join over every
    document that meets it, so the first search of a filter looks among the best PREFILTER rows
    of an unfiltered search first, and computes the mask only when fewer than it needs meet the
    filter there, or when the filter is asked for again (a server). Every answer is the exact one."""
    from patscape.vectors.search import PREFILTER

    store, key = built
    assert PREFILTER < N
    files = SpaceVectors.open(store, store.get_space(key))
    targets = queries(3, seed=11)
    wide = [SearchFilter(lang="zh"), SearchFilter(cpc="G06N3/08"), SearchFilter.parse(lang="en", years="2012-", cpc="G06")]
    for where in wide:
        for n, target in enumerate(targets):
            found = files.nearest(target, 10, where)
            assert same(found, brute(store, key, target, 10, where)), where
            assert (("docs", where) in files._masks.masks) == (n > 0), where  # the mask from the second search on
        doc_id = brute(store, key, targets[0], 1, where)[0][0]  # --like: the document itself left out
        assert same(files.nearest(targets[0], 5, where, exclude=doc_id), brute(store, key, targets[0], 5, where, exclude=doc_id))
    # fewer documents meet it than the search wants: the mask at once, and still the exact answer
    rare = SearchFilter.parse(years="2010", cpc="A61K")
    matches = store.count_matching(rare)
    assert 0 < matches < 100
    found = files.nearest(targets[0], 100, rare)
    assert ("docs", rare) in files._masks.masks and len(found) == matches
    assert same(found, brute(store, key, targets[0], 100, rare))


def test_threads_searching_with_many_filters_while_another_brings_the_files_up_to_date(built: tuple[Store, str]) -> None:
    """Requests of a server: threads searching with more filters than the mask cache holds, each
    on its own store connection, while another thread brings the files up to date with vectors
    already in the store. Every answer is the one a single thread gets."""
    store, key = built
    space = store.get_space(key)
    changed = [f"D{i:05d}" for i in range(0, 600, 20)]
    new = replace_vectors(store, key, changed, seed=17)  # the files are behind until the sync
    wheres = [SearchFilter.parse(years=f"{year}-") for year in range(2008, 2009 + MaskCache.SIZE)] + FILTERS
    targets = [new[0], queries(1)[0]]
    single = SpaceVectors.open(store, space, sync=False)
    expected = {(t, w): single.nearest(targets[t], 10, wheres[w]) for t in range(len(targets)) for w in range(len(wheres))}
    assert all(same(answer, brute(store, key, targets[t], 10, wheres[w])) for (t, w), answer in expected.items())
    wrong: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def search(shift: int) -> None:
        try:
            with Store(store.path) as own:
                cases = list(expected)
                for t, w in cases[shift:] + cases[:shift]:
                    answer = SpaceVectors.open(own, own.get_space(key)).nearest(targets[t], 10, wheres[w])
                    if not same(answer, expected[t, w]):
                        wrong.append((t, w))
        except BaseException as exc:  # reported below
            errors.append(exc)

    def sync() -> None:
        try:
            with Store(store.path) as own:
                SpaceVectors(own, own.get_space(key)).sync()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=search, args=(shift,)) for shift in (0, 17, 34)] + [threading.Thread(target=sync)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and not wrong, (errors, wrong)
    assert int(SpaceVectors.open(store, space, sync=False).meta["applied_seq"]) == store.vector_log_head(key)


def _old_where_sql(where: SearchFilter) -> tuple[str, tuple]:
    """The filter SQL before migration m006 (json_each row by row, no index): the rule the new
    SQL must keep."""
    parts, args = ["1"], []
    if where.lang:
        parts.append("d.lang = ?")
        args.append(where.lang)
    if where.year_from is not None or where.year_to is not None:
        parts.append("d.date IS NOT NULL AND length(d.date) >= 4")
        if where.year_from is not None:
            parts.append("CAST(substr(d.date, 1, 4) AS INTEGER) >= ?")
            args.append(where.year_from)
        if where.year_to is not None:
            parts.append("CAST(substr(d.date, 1, 4) AS INTEGER) <= ?")
            args.append(where.year_to)
    if where.cpc:
        parts.append("(EXISTS (SELECT 1 FROM json_each(d.cpc) WHERE substr(value, 1, ?) = ?) "
                     "OR EXISTS (SELECT 1 FROM json_each(d.ipc) WHERE substr(value, 1, ?) = ?))")
        args += [len(where.cpc), where.cpc, len(where.cpc), where.cpc]
    return " AND ".join(parts), tuple(args)


#: Section, class, subclass, group and subgroup prefixes, IPC-only codes, years open on either
#: side, a language, and combinations.
DEV_FILTERS = [
    SearchFilter(cpc="G"), SearchFilter(cpc="H01"), SearchFilter(cpc="G06F"), SearchFilter(cpc="H01M"),
    SearchFilter(cpc="G06F16"), SearchFilter(cpc="G06F16/"), SearchFilter(cpc="H04W72/04"), SearchFilter(cpc="Y02E"),
    SearchFilter(cpc="A61K"), SearchFilter(cpc="G06F1"), SearchFilter(cpc="B"),
    SearchFilter.parse(years="2010-2015"), SearchFilter.parse(years="2018-"), SearchFilter.parse(years="-2012"),
    SearchFilter.parse(years="2016"), SearchFilter(lang="zh"), SearchFilter(lang="en"),
    SearchFilter.parse(lang="zh", years="2015-2020", cpc="H04"), SearchFilter.parse(lang="en", years="2012-", cpc="G06"),
]


def _ids(store: Store, clause: str, args: tuple) -> set[str]:
    return {row[0] for row in store.db.execute(f"SELECT d.id FROM documents d WHERE {clause}", args)}


def test_indexed_filter_sql_matches_the_json_each_rules_on_the_dev_slice(tmp_path: Path, dev_slice: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same documents as the old SQL for every filter: in a store made before migration
    m006 (the codes backfilled when it opens), and after documents are replaced and added."""
    from patscape.pipeline import ingest
    from patscape.store import migrations
    from patscape.store.filter_sql import _where_sql

    records = [json.loads(line) for line in dev_slice.read_text(encoding="utf-8").splitlines()]
    half = tmp_path / "half.jsonl"
    half.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[::2]), encoding="utf-8")
    with monkeypatch.context() as patch:  # a store of the version before m006
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:5])
        with Store(tmp_path / "store") as old:
            ingest(old, [half])
            assert not old.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'doc_codes'").fetchone()

    def check(store: Store) -> None:
        for where in DEV_FILTERS:
            expected = _ids(store, *_old_where_sql(where))
            assert _ids(store, *_where_sql(where)) == expected, where
            assert store.count_matching(where) == len(expected) and store.any_matching(where) == bool(expected), where
        ids = [row[0] for row in store.db.execute("SELECT id FROM documents")]
        assert store.filter_ids(ids, DEV_FILTERS[3]) == _ids(store, *_old_where_sql(DEV_FILTERS[3]))

    with Store(tmp_path / "store") as store:
        assert store.db.execute("SELECT COUNT(*) FROM doc_codes").fetchone()[0] > 0  # backfilled
        assert sum(bool(_ids(store, *_old_where_sql(w))) for w in DEV_FILTERS) >= len(DEV_FILTERS) - 2
        check(store)
        # the other half added, and some documents replaced with other codes (INSERT OR REPLACE)
        changed = [{**r, "cpc": ["G06F16/33"], "ipc": ["H01M4/13"], "title": r["title"] + " (v2)"} for r in records[:40:2]]
        rest = tmp_path / "rest.jsonl"
        rest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[1::2] + changed), encoding="utf-8")
        assert ingest(store, [rest]).replaced == len(changed)
        check(store)
        # a code that no document has any more matches none
        store.db.execute("UPDATE documents SET cpc = '[]', ipc = '[\"Y99Z\"]' WHERE id = ?", (records[0]["id"],))
        assert store.filter_ids([records[0]["id"]], SearchFilter(cpc="G06F16")) == set()
        assert store.filter_ids([records[0]["id"]], SearchFilter(cpc="Y99")) == {records[0]["id"]}
        check(store)
        store.db.execute("DELETE FROM documents WHERE id = ?", (records[0]["id"],))
        assert not store.db.execute("SELECT 1 FROM doc_codes WHERE doc_id = ?", (records[0]["id"],)).fetchone()


def test_the_filter_sql_uses_the_indexes(built: tuple[Store, str]) -> None:
    from patscape.store.filter_sql import _where_sql

    store, _ = built
    for where, index in [(SearchFilter(lang="zh"), "documents_lang"), (SearchFilter.parse(years="2015-2017"), "documents_date"),
                         (SearchFilter(cpc="H01M"), "doc_codes_code")]:
        clause, args = _where_sql(where)
        plan = " | ".join(row[-1] for row in store.db.execute(f"EXPLAIN QUERY PLAN SELECT d.id FROM documents d WHERE {clause}", args))
        assert f"USING COVERING INDEX {index}" in plan, (where, plan)  # reads no document row
        assert "json_each" not in clause
