"""Maps of large corpora: fitted on a sample, the rest placed by their nearest sample documents."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import adjusted_rand_score

from patscape.cli import cli, main
from patscape.landscape import MapParams, build_landscape
from patscape.landscape.sample import build_sampled_landscape, place, sample_min_cluster_size, sample_rows, vote
from patscape.records import Document
from patscape.store import Store

# the benchmark's generator, loaded by path: putting benchmarks/ on sys.path would let its
# scripts shadow installed packages for every later test
_spec = importlib.util.spec_from_file_location(
    "patscape_bench_synthetic", Path(__file__).resolve().parents[1] / "benchmarks" / "synthetic.py"
)
assert _spec is not None and _spec.loader is not None
synthetic = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = synthetic  # dataclasses resolve their module through sys.modules
_spec.loader.exec_module(synthetic)


def corpus(n: int, dims: int = 96, topics: int = 24, seed: int = 5) -> tuple[np.ndarray, np.ndarray, list[Document]]:
    vectors = np.empty((n, dims), dtype=np.float32)
    made = synthetic.generate(vectors, seed=seed, topics=topics, fields=8)
    docs = [
        Document(id=r["id"], title=r["title"], abstract=r["abstract"], lang=r["lang"], date=r["date"], cpc=tuple(r["cpc"]))
        for r in synthetic.documents(made)
    ]
    return vectors, made.truth, docs


def blocks_of(vectors: np.ndarray, size: int = 1000):  # type: ignore[no-untyped-def]
    return lambda: ((start, vectors[start : start + size]) for start in range(0, len(vectors), size))


def test_vote_weighs_neighbours_and_counts_outliers() -> None:
    labels = np.array([[2, 2, 1, -1], [-1, -1, 3, 3], [0, 1, 1, 0]])
    weights = np.array([[0.5, 0.4, 0.8, 0.1], [0.9, 0.9, 0.5, 0.5], [0.9, 0.2, 0.3, 0.1]], dtype=np.float32)
    assert vote(labels, weights).tolist() == [2, -1, 0]


def test_place_puts_a_document_among_its_topic_neighbours() -> None:
    sample_labels = np.array([0, 0, 1, 1])
    sample_xy = np.array([[0, 0], [2, 0], [10, 10], [12, 10]], dtype=np.float32)
    idx = np.array([[2, 0, 1, 3]])  # nearest is in topic 1, but topic 0 has the larger vote
    sims = np.array([[0.9, 0.8, 0.8, 0.1]], dtype=np.float32)
    labels, raw, xy = place(idx, sims, sample_labels, sample_labels, sample_xy)
    assert labels.tolist() == [0] and raw.tolist() == [0]
    assert np.allclose(xy, [[1.0, 0.0]])  # the mean of its two topic-0 neighbours, not the topic-1 one


def test_exact_knn_is_the_exact_nearest_by_cosine() -> None:
    from patscape.landscape.neighbours import exact_knn

    rng = np.random.default_rng(8)
    sample = rng.normal(size=(500, 32)).astype(np.float32)
    sample /= np.linalg.norm(sample, axis=1, keepdims=True)
    block = rng.normal(size=(300, 32)).astype(np.float32)
    block /= np.linalg.norm(block, axis=1, keepdims=True)
    idx, sims = exact_knn(block, sample, 5)
    full = block @ sample.T
    expected = np.argsort(-full, axis=1)[:, :5]
    assert np.array_equal(idx, expected)
    assert np.allclose(sims, np.take_along_axis(full, expected, axis=1), atol=1e-5)


def test_voters_are_chosen_by_similarity_corrected_for_hubness() -> None:
    from patscape.landscape.sample import choose_voters, hubness

    # sample row 0 is a hub (close to all its neighbours), rows 1-3 are not
    knn_dist = np.array([[0.0] + [0.1] * 10, [0.0] + [0.5] * 10, [0.0] + [0.5] * 10, [0.0] + [0.6] * 10],
                        dtype=np.float32)
    hub = hubness(knn_dist)
    assert np.allclose(hub, [0.9, 0.5, 0.5, 0.4])
    idx = np.array([[0, 1, 2, 3]])
    sims = np.array([[0.80, 0.70, 0.70, 0.55]], dtype=np.float32)
    # CSLS: 0.70, 0.90, 0.90, 0.70: the two non-hubs first (tie: the same cosine, kept in order),
    # then the hub and row 3 tie and the more similar (the hub) goes first
    chosen, chosen_sims = choose_voters(idx, sims, hub, 3)
    assert chosen.tolist() == [[1, 2, 0]] and np.allclose(chosen_sims, [[0.70, 0.70, 0.80]])


def test_sample_rows_are_seeded_sorted_and_distinct() -> None:
    rows = sample_rows(10_000, 500, seed=3)
    assert len(set(rows.tolist())) == 500 and np.all(np.diff(rows) > 0)
    assert np.array_equal(rows, sample_rows(10_000, 500, seed=3))
    assert not np.array_equal(rows, sample_rows(10_000, 500, seed=4))
    assert sample_min_cluster_size(333, 1_000_000, 30_000) == 10
    assert sample_min_cluster_size(26, 6000, 600) == 5


def test_sampled_map_recovers_the_generating_topics_about_as_well_as_the_full_map() -> None:
    vectors, truth, docs = corpus(4000)
    ids = [d.id for d in docs]
    params = MapParams()
    # at this size one seed's map differs a lot from another's (full 0.44-0.64 over the seeds
    # below), so the two methods are compared over three seeds
    full_ari, sampled_ari = [], []
    for seed in (42, 7, 2026):
        full = build_landscape(ids, vectors, docs, params, seed=seed)
        rows = sample_rows(len(ids), 1500, seed)
        sampled = build_sampled_landscape(ids, rows, vectors[rows], blocks_of(vectors), docs,
                                          params.resolved(len(ids)), seed)
        full_ari.append(adjusted_rand_score(truth, full.labels))
        sampled_ari.append(adjusted_rand_score(truth, sampled.labels))
        # the documents placed (not in the sample) agree with the truth as well as the sample does
        placed = np.setdiff1d(np.arange(len(ids)), rows)
        assert (adjusted_rand_score(truth[placed], sampled.labels[placed])
                >= adjusted_rand_score(truth[rows], sampled.labels[rows]) - 0.05)
        assert np.isfinite(sampled.xy).all() and sampled.xy.shape == (len(ids), 2)
        assert sum(t["size"] for t in sampled.topics) == int((sampled.labels >= 0).sum())
        assert sampled.sampling is not None and sampled.sampling["sample_size"] == 1500
        assert sampled.metrics["silhouette_cosine"] is not None and sampled.metrics["topics"] == len(sampled.topics)
    # Measured on two machines (the same code; UMAP's numerics differ between CPUs): full 0.54,
    # 0.64, 0.44 and sampled 0.49, 0.54, 0.75; then full 0.72, 0.54, 0.51 and sampled 0.42, 0.40,
    # 0.59 (seeds 1 and 3 there: full 0.56, sampled 0.50). A sample of 1,500 (min cluster size 8)
    # is far below the sizes where patscape samples (30,000 of 60,000 and more), and there the
    # sampled map is up to 0.12 below the full one on the mean of three seeds; at 100k the
    # benchmark measures them equal (ARI 0.929 against 0.9305, docs/benchmarks.md). The bound
    # holds the sampled map within that measured gap.
    assert min(full_ari) > 0.4 and min(sampled_ari) > 0.35
    assert np.mean(sampled_ari) >= np.mean(full_ari) - 0.15


@pytest.fixture
def submitted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions submitted to second processes, which every map uses here,
    however small (``BACKGROUND_FROM`` 0)."""
    import patscape.landscape.reduce as reduce

    calls: list[str] = []
    real = reduce.SecondProcess.submit

    def spy(self, fn, *args):  # type: ignore[no-untyped-def]
        calls.append(fn.__name__)
        return real(self, fn, *args)

    monkeypatch.setattr(reduce.SecondProcess, "submit", spy)
    monkeypatch.setattr(reduce, "BACKGROUND_FROM", 0)
    return calls


def test_a_sampled_map_made_with_a_second_process_is_the_one_made_in_one(
    submitted: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors, _, docs = corpus(2000, topics=12)
    ids = [d.id for d in docs]
    params = MapParams().resolved(len(ids))
    rows = sample_rows(len(ids), 800, 3)
    calls = submitted
    there = build_sampled_landscape(ids, rows, vectors[rows], blocks_of(vectors), docs, params, 3)
    # the 2-D layout, then the keyword counts, then the too-large topics clustered again
    assert calls[:2] == ["umap_reduce", "keyword_matrix"] and "cluster_subset" in calls[2:]
    monkeypatch.setenv("PATSCAPE_MAP_PROCESSES", "1")
    here = build_sampled_landscape(ids, rows, vectors[rows], blocks_of(vectors), docs, params, 3)
    assert np.array_equal(there.labels, here.labels) and np.array_equal(there.raw_labels, here.raw_labels)
    assert np.array_equal(there.xy, here.xy)
    assert there.topics == here.topics and there.sampling == here.sampling


def test_blocks_out_of_order_are_refused() -> None:
    vectors, _, docs = corpus(600, topics=6)
    ids = [d.id for d in docs]
    rows = sample_rows(len(ids), 300, 1)
    params = MapParams(min_cluster_size=10).resolved(len(ids))

    def skipping():  # type: ignore[no-untyped-def]
        yield 0, vectors[:200]
        yield 400, vectors[400:]

    with pytest.raises(RuntimeError, match="out of order"):
        build_sampled_landscape(ids, rows, vectors[rows], skipping, docs, params, 1)


def make_store(path: Path, n: int) -> Path:
    vectors, _, docs = corpus(n, topics=12)
    with Store(path) as store:
        store.write_documents(docs)
    np.save(path.parent / "vectors.npy", vectors)
    (path.parent / "ids.txt").write_text("\n".join(d.id for d in docs) + "\n")
    result = CliRunner().invoke(cli, ["import-vectors", str(path), str(path.parent / "vectors.npy"), "--ids",
                                      str(path.parent / "ids.txt"), "--model", "synthetic"])
    assert result.exit_code == 0, result.output
    return path


def test_iter_vector_blocks_matches_load_vectors(tmp_path: Path) -> None:
    store_path = make_store(tmp_path / "store", 700)
    with Store(store_path) as store:
        key = store.spaces()[0].key
        ids, matrix = store.load_vectors(key)
        blocks = list(store.iter_vector_blocks(key, 256))
    assert [len(b[0]) for b in blocks] == [256, 256, 188]
    assert sum((b[0] for b in blocks), []) == ids
    assert np.array_equal(np.concatenate([b[1] for b in blocks]), matrix)


def test_documents_read_without_their_texts_keep_every_other_field(tmp_path: Path) -> None:
    doc = Document(id="US-1", title="Glider", abstract="An underwater glider.", text="Full text.", claims="1. A glider.",
                   description="The glider dives.", lang="en", date="2020-01-02", cpc=("B63G8/00",), ipc=("B63G",),
                   assignee="Acme", extra={"cites": ["US-0"]})
    with Store(tmp_path / "store") as store:
        store.write_documents([doc, replace(doc, id="US-2", title="Other")])
        full = list(store.iter_documents(["US-2", "US-1"]))
        light = list(store.iter_documents(["US-2", "US-1"], texts=False))
        every = list(store.iter_documents(texts=False))
    assert [d.id for d in light] == ["US-2", "US-1"] and [d.id for d in every] == ["US-1", "US-2"]
    assert full[1].claims == "1. A glider." and full[1].description == "The glider dives."
    for with_text, without in zip(full, light):
        assert (without.abstract, without.text, without.claims, without.description) == ("", "", "", "")
        assert without == replace(with_text, abstract="", text="", claims="", description="")


def test_patscape_map_above_the_threshold_samples_and_records_it(tmp_path: Path) -> None:
    store_path = make_store(tmp_path / "store", 1500)
    runner = CliRunner()
    result = runner.invoke(cli, ["map", str(store_path), "--seed", "9", "--sample-above", "1000", "--sample-size", "600"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["map", str(store_path), "--seed", "9"])  # below the default threshold
    assert result.exit_code == 0, result.output
    with Store(store_path) as store:
        sampled, full = store.get_run(1), store.get_run(2)
        points = store.run_points(1)
    s = sampled.params["sampling"]
    assert s["sampled"] is True and s["sample_size"] == 600 and s["documents"] == 1500 and s["seed"] == 9
    assert s["assigned"] == 900 and "nearest sample documents" in s["assignment"]
    assert sampled.params["map"]["sample_above"] == 1000 and sampled.params["map"]["sample_size"] == 600
    assert sampled.metrics["sampling"] == s
    assert full.params["sampling"] == {"sampled": False, "documents": 1500}
    assert len(points) == 1500 and all(np.isfinite([p[3], p[4]]).all() for p in points)
    assert sampled.metrics["topics"] >= 5 and sampled.metrics["outlier_share"] <= 0.2
    json.dumps(sampled.params)  # stored as JSON


def test_patscape_map_warms_its_second_process_up_while_it_reads_the_corpus(
    tmp_path: Path, submitted: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store_path = make_store(tmp_path / "store", 1500)
    calls = submitted
    # (--no-align: each map numbered afresh, so that two maps of the same inputs compare equal)
    sampled = ["map", str(store_path), "--seed", "9", "--no-align", "--sample-above", "1000", "--sample-size", "600"]
    assert CliRunner().invoke(cli, sampled).exit_code == 0
    # one process, started before the corpus is read, imports UMAP first, then takes the map's jobs
    assert calls[:3] == ["preload", "umap_reduce", "keyword_matrix"]
    calls.clear()
    assert CliRunner().invoke(cli, ["map", str(store_path), "--seed", "9", "--no-align"]).exit_code == 0  # a full map alike
    assert calls[:3] == ["preload", "umap_reduce", "keyword_matrix"]
    monkeypatch.setenv("PATSCAPE_MAP_PROCESSES", "1")
    assert CliRunner().invoke(cli, sampled).exit_code == 0
    assert CliRunner().invoke(cli, ["map", str(store_path), "--seed", "9", "--no-align"]).exit_code == 0
    with Store(store_path) as store:
        assert store.run_points(1) == store.run_points(3) and store.run_points(2) == store.run_points(4)
        assert store.run_topics(1) == store.run_topics(3) and store.run_topics(2) == store.run_topics(4)


def test_a_warmed_up_second_process_has_umap_imported_before_its_first_job() -> None:
    from patscape.landscape.reduce import SecondProcess

    imported = "'umap' in __import__('sys').modules"
    with SecondProcess(background=True) as cold:
        assert cold.submit(eval, imported).result() is False
    with SecondProcess(background=True) as warm:
        warm.warm_up()
        assert warm.submit(eval, imported).result() is True
    with SecondProcess(background=False) as none:
        none.warm_up()  # nothing to warm: computed here when asked, as before
        assert none.submit(eval, "1 + 1").result() == 2


def test_a_second_process_reports_when_its_jobs_are_done() -> None:
    import threading
    import time

    from patscape.landscape.reduce import SecondProcess

    with SecondProcess(background=True) as busy:
        job = busy.submit(time.sleep, 1.0)
        idle = threading.Event()
        busy.when_idle(idle.set)
        assert not idle.is_set()  # the process is still starting, then sleeping
        job.result()
        assert idle.wait(10)
        again = threading.Event()
        busy.when_idle(again.set)  # nothing pending: at once
        assert again.is_set()
    with SecondProcess(background=False) as none:
        none.submit(time.sleep, 0.1)  # computed here on demand: nothing runs elsewhere
        now = threading.Event()
        none.when_idle(now.set)
        assert now.is_set()


class _Helper:
    """A second process that is busy until :meth:`finish` is called."""

    def __init__(self) -> None:
        self.callbacks: list = []  # type: ignore[type-arg]

    def when_idle(self, callback) -> None:  # type: ignore[no-untyped-def]
        self.callbacks.append(callback)

    def finish(self) -> None:
        for callback in self.callbacks:
            callback()


def _voters_search(threads: int, helper, spy=None):  # type: ignore[no-untyped-def]
    from patscape.landscape.sample import (
        INDEX_FROM,
        SampleIndex,
        _checked,
        search_voters,
    )

    vectors, _, _ = corpus(INDEX_FROM + 12_000, dims=48, topics=30)
    rows = sample_rows(len(vectors), INDEX_FROM, 2)
    rest = np.setdiff1d(np.arange(len(vectors)), rows)
    index = SampleIndex(vectors[rows], seed=2)
    if spy is not None:
        index.search = spy(index.search)  # type: ignore[method-assign]
    hub = np.linspace(0.2, 0.4, len(rows), dtype=np.float32)
    out = (np.zeros((len(rest), 5), dtype=np.int32), np.zeros((len(rest), 5), dtype=np.float32))
    search_voters(index, hub, _checked(blocks_of(vectors, 1500), len(vectors)), rest, 30, out, helper, threads)
    return out


def test_the_voters_are_the_same_on_one_thread_or_several() -> None:
    from patscape.landscape.reduce import SecondProcess

    with SecondProcess(background=False) as here:
        one = _voters_search(1, here)
        three = _voters_search(3, here)
    helper = _Helper()
    busy_throughout = _voters_search(2, helper)  # the other process never reported idle
    assert len(helper.callbacks) == 1
    assert (one[0] >= 0).all() and (one[1] > 0).all()
    for other in (three, busy_throughout):
        assert np.array_equal(one[0], other[0]) and np.array_equal(one[1], other[1])


def test_the_voters_search_takes_the_other_core_once_the_second_process_is_idle() -> None:
    import threading
    import time

    helper = _Helper()
    lock = threading.Lock()
    active = [0]
    calls: list[int] = []  # how many searches ran at once, at the start of each
    both = threading.Event()

    def spy(search):  # type: ignore[no-untyped-def]
        def counted(block, k):  # type: ignore[no-untyped-def]
            with lock:
                active[0] += 1
                calls.append(active[0])
                call = len(calls)
                if active[0] > 1:
                    both.set()
            try:
                if call <= 3:
                    time.sleep(0.05)  # time for a second search to start, were it let in
                elif call == 4:
                    helper.finish()  # the other process is done: a second search may start
                    both.wait(10)
                return search(block, k)
            finally:
                with lock:
                    active[0] -= 1
        return counted

    _voters_search(2, helper, spy)
    assert calls[:4] == [1, 1, 1, 1]  # one at a time while the other process was busy
    assert both.is_set() and max(calls[4:]) == 2


def test_a_sample_too_small_is_a_one_line_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["map", str(tmp_path / "missing"), "--sample-size", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert "sample_size must be at least 60" in err and "\n" not in err


def test_the_sample_index_finds_nearly_every_exact_neighbour_and_is_seeded() -> None:
    from patscape.landscape.neighbours import exact_knn
    from patscape.landscape.sample import INDEX_FROM, IVF_PROBES, SampleIndex

    vectors = np.empty((INDEX_FROM + 3000, 64), dtype=np.float32)
    synthetic.generate(vectors, seed=4, topics=40, fields=8)
    sample, queries = vectors[:INDEX_FROM], vectors[INDEX_FROM:]
    index = SampleIndex(sample, seed=1)
    assert index.index is not None and "IVF" in index.method
    idx, sims = index.search(queries, 5)
    exact, exact_sims = exact_knn(queries, sample, 5)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(idx.tolist(), exact.tolist())])
    assert recall > 0.9 and (idx[:, 0] == exact[:, 0]).mean() > 0.9  # measured 0.94-0.95 here, 0.98 at 30k x 384
    # the similarities are the true ones of the rows returned, best first
    assert np.allclose(sims, np.einsum("ij,ikj->ik", queries, sample[idx]), atol=1e-5)
    assert (np.diff(sims, axis=1) <= 1e-6).all()
    again, _ = SampleIndex(sample, seed=1).search(queries, 5)
    assert np.array_equal(idx, again)
    # searched cell by cell, it finds what faiss's own search of the same index finds, also
    # when k exceeds what some cells hold
    faiss_index = index.index
    faiss_index.add(sample)
    faiss_index.nprobe = IVF_PROBES
    for k in (5, 60):
        own, own_sims = index.search(queries, k)
        theirs_sims, theirs = faiss_index.search(queries, k)
        assert np.mean([set(a) == set(b) for a, b in zip(own.tolist(), theirs.tolist())]) > 0.999
        assert np.allclose(own_sims, theirs_sims, atol=1e-5)
    assert SampleIndex(sample[: INDEX_FROM - 1], seed=1).index is None  # small samples: exact


def test_a_graph_of_many_dimensions_is_found_through_principal_directions_and_checked() -> None:
    from patscape.landscape.neighbours import (
        FAISS_FROM,
        MIN_RECALL,
        PROJECT_FROM,
        _exact_self_first,
        nearest_neighbours,
    )

    n = FAISS_FROM + 500
    clustered = np.empty((n, PROJECT_FROM), dtype=np.float32)
    synthetic.generate(clustered, seed=6, topics=60, fields=10)
    info: dict = {}
    idx, dist = nearest_neighbours(clustered, 16, seed=3, info=info)
    exact_idx, exact_dist = _exact_self_first(clustered, 16)
    assert "principal directions" in info["method"] and info["checked_rows"] == 1000
    same = np.mean([len(set(a) & set(b)) / 16 for a, b in zip(idx.tolist(), exact_idx.tolist())])
    assert info["recall"] >= MIN_RECALL and same >= MIN_RECALL
    assert (idx[:, 0] == np.arange(n)).all() and (dist[:, 0] == 0).all()
    # the distances are the exact ones of the rows found, nearest first
    assert np.allclose(1 - dist[:, 1:], np.einsum("ij,ikj->ik", clustered, clustered[idx[:, 1:]]), atol=1e-5)
    assert (np.diff(dist, axis=1) >= -1e-6).all()
    again, _ = nearest_neighbours(clustered, 16, seed=3)
    assert np.array_equal(idx, again)
    # vectors spread evenly over every direction: the candidates miss too many, checked and
    # computed exactly instead
    flat = np.random.default_rng(0).standard_normal((n, PROJECT_FROM)).astype(np.float32)
    flat /= np.linalg.norm(flat, axis=1, keepdims=True)
    info = {}
    idx, dist = nearest_neighbours(flat, 16, seed=3, info=info)
    assert info["recall"] < MIN_RECALL and info["method"].startswith("exact cosine (faiss); candidates")
    exact_idx, exact_dist = _exact_self_first(flat, 16)
    assert np.array_equal(idx, exact_idx) and np.array_equal(dist, exact_dist)
    # below PROJECT_FROM dimensions: exact as before
    info = {}
    nearest_neighbours(clustered[:, : PROJECT_FROM // 2] / np.linalg.norm(clustered[:, : PROJECT_FROM // 2], axis=1,
                                                                         keepdims=True), 8, info=info)
    assert info == {"method": "exact cosine (faiss)"}


def test_the_sample_index_of_many_dimensions_finds_its_cells_in_principal_directions() -> None:
    from patscape.landscape.neighbours import PROJECT_FROM, exact_knn
    from patscape.landscape.sample import INDEX_FROM, SampleIndex

    vectors = np.empty((INDEX_FROM + 2000, PROJECT_FROM), dtype=np.float32)
    synthetic.generate(vectors, seed=4, topics=40, fields=8)
    sample, queries = vectors[:INDEX_FROM], vectors[INDEX_FROM:]
    index = SampleIndex(sample, seed=1)
    assert index.basis is not None and index.basis.shape == (PROJECT_FROM, 256)
    assert "principal directions" in index.method
    idx, sims = index.search(queries, 5)
    exact, _ = exact_knn(queries, sample, 5)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(idx.tolist(), exact.tolist())])
    assert recall > 0.9 and (idx[:, 0] == exact[:, 0]).mean() > 0.9
    # exact similarities in all dimensions, best first
    assert np.allclose(sims, np.einsum("ij,ikj->ik", queries, sample[idx]), atol=1e-5)
    assert (np.diff(sims, axis=1) <= 1e-6).all()
    assert np.array_equal(idx, SampleIndex(sample, seed=1).search(queries, 5)[0])


def test_umap_and_the_voters_search_run_on_one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes share the cores during a map: pools of several threads spinning against
    a busy core made the spectral start 3x slower and the search 2x; one thread also gives the
    same numbers on any machine."""
    import umap
    from threadpoolctl import threadpool_info, threadpool_limits

    import patscape.landscape.sample as sample_module
    from patscape.landscape.reduce import umap_reduce

    seen: list[tuple[str, int]] = []

    def record() -> None:
        seen.extend((p["user_api"], p["num_threads"]) for p in threadpool_info() if p["user_api"] == "blas")

    def fit_transform(self, x):  # type: ignore[no-untyped-def]
        record()
        return np.zeros((len(x), self.n_components), dtype=np.float32)

    monkeypatch.setattr(umap.UMAP, "fit_transform", fit_transform)
    vectors, _, _ = corpus(300)
    knn = (np.tile(np.arange(10), (300, 1)), np.zeros((300, 10), dtype=np.float32))
    with threadpool_limits(limits=2):
        umap_reduce(vectors, knn, 5, 10, 0.0, 1)
    assert seen and all(threads == 1 for _, threads in seen)

    seen.clear()
    monkeypatch.undo()  # the real UMAP for the map below
    real_search = sample_module.SampleIndex.search

    def search(self, block, k):  # type: ignore[no-untyped-def]
        record()  # BLAS's limit is the process's; OpenMP's is per thread, and blocks run on several
        seen.extend((p["user_api"], p["num_threads"]) for p in threadpool_info() if p["user_api"] == "openmp")
        return real_search(self, block, k)

    monkeypatch.setattr(sample_module.SampleIndex, "search", search)
    vectors, _, docs = corpus(1200, topics=8)
    ids = [d.id for d in docs]
    rows = sample_rows(len(ids), 600, 3)
    with threadpool_limits(limits=2):
        build_sampled_landscape(ids, rows, vectors[rows], blocks_of(vectors), docs, MapParams().resolved(len(ids)), 3)
    assert ("openmp", 1) in seen and all(threads == 1 for _, threads in seen)
