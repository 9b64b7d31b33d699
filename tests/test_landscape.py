from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from patscape.errors import CorpusTooSmallError
from patscape.landscape import MapParams, build_landscape
from patscape.landscape.cluster import reassign_outliers
from patscape.landscape.evolution import evolution
from patscape.landscape.label import label_topics
from patscape.landscape.metrics import landscape_f1
from patscape.landscape.neighbours import nearest_neighbours
from patscape.records import Document


def blobs(n_per: int = 60, k: int = 6, dims: int = 384, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded, unit-normalised clusters at a realistic dimension."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dims))
    points = np.concatenate([c + rng.normal(scale=0.6, size=(n_per, dims)) for c in centres])
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32), np.repeat(np.arange(k), n_per)


WORDS = [
    ("underwater glider buoyancy", "水下滑翔机 浮力"),
    ("satellite orbit antenna", "卫星 轨道 天线"),
    ("radar rainfall gauge", "雷达 降雨 测量"),
    ("vehicle headlamp night vision", "车辆 前照灯 夜视"),
    ("offshore platform crane", "海上 平台 起重机"),
    ("battery electrode lithium", "电池 电极 锂"),
]


def make_docs(truth: np.ndarray) -> list[Document]:
    docs = []
    for i, topic in enumerate(truth):
        en, zh = WORDS[topic]
        chinese = i % 5 == 0
        docs.append(
            Document(
                id=f"D{i:04d}",
                title=(f"一种{zh.split()[0]}装置" if chinese else f"{en.title()} system"),
                abstract=(f"本发明公开了一种{zh}的方法，所述{zh.split()[-1]}包括。" if chinese
                          else f"A {en} apparatus comprising a {en.split()[-1]}, wherein the {en.split()[0]} is improved."),
                lang="zh" if chinese else "en",
                date=f"{2000 + (i % 10) + (5 if topic == 0 else 0)}-01-01",
                cpc=(f"B{60 + topic}Q1/00",),
                ipc=(f"B{60 + topic}Q1/00",),
                extra={"landscape": {"gliders": bool(topic == 0)}},
            )
        )
    return docs


def test_build_landscape_recovers_blobs_and_is_reproducible() -> None:
    vectors, truth = blobs()
    docs = make_docs(truth)
    ids = [d.id for d in docs]
    # Each blob is a sixth of the corpus: with the default max_cluster_share (0.1) the bounded
    # excess-of-mass selection may split one where UMAP leaves a seam, so this recovery check
    # allows topics of up to a quarter.
    params = MapParams(min_cluster_size=15, max_cluster_share=0.25)
    first = build_landscape(ids, vectors, docs, params, seed=7)
    second = build_landscape(ids, vectors, docs, params, seed=7)
    assert np.array_equal(first.labels, second.labels)
    assert np.allclose(first.xy, second.xy)
    clustered = first.labels >= 0
    assert adjusted_rand_score(truth[clustered], first.labels[clustered]) > 0.9
    assert first.metrics["topics"] == 6
    assert first.metrics["landscape_f1"]["gliders"]["f1"] > 0.9
    assert first.metrics["code_agreement"]["cpc_subclass"]["clustered"]["ari"] > 0.9
    # the 2-D map keeps the blobs apart: every patent's nearest patent on the map is of its own
    # blob, and every patent is nearer its own blob's centre than any other blob's
    xy = first.xy.astype(np.float64)
    assert xy.shape == (len(ids), 2) and np.isfinite(xy).all()
    gaps = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=-1)
    np.fill_diagonal(gaps, np.inf)
    assert (truth[gaps.argmin(axis=1)] == truth).all()
    centres = np.stack([xy[truth == k].mean(axis=0) for k in range(6)])
    assert (np.linalg.norm(xy[:, None, :] - centres[None], axis=-1).argmin(axis=1) == truth).all()
    # each topic is labelled with the words of the blob it holds most of, one topic per blob
    blob_of = {}
    for topic in first.topics:
        blob = int(np.bincount(truth[first.labels == topic["cluster"]], minlength=6).argmax())
        words = set(topic["label"].replace("·", " ").split())
        assert words and words <= set(WORDS[blob][0].split()), (topic["label"], WORDS[blob][0])
        blob_of[topic["cluster"]] = blob
    assert sorted(blob_of.values()) == list(range(6))


def test_too_small_corpus_is_refused() -> None:
    vectors, truth = blobs(n_per=3, k=3)
    docs = make_docs(truth)
    with pytest.raises(CorpusTooSmallError, match="too few"):
        build_landscape([d.id for d in docs], vectors, docs)


def test_reassignment_needs_agreeing_neighbours() -> None:
    labels = np.array([0, 0, 0, 1, 1, -1, -1])
    knn = np.array([[0, 1, 2], [1, 0, 2], [2, 0, 1], [3, 4, 0], [4, 3, 0], [5, 0, 1], [6, 0, 3]])
    out = reassign_outliers(labels, knn, agreement=0.75)
    assert out.tolist() == [0, 0, 0, 1, 1, 0, -1]


def test_nearest_neighbours_exact_and_self_first() -> None:
    vectors, _ = blobs(n_per=20, k=3, dims=32)
    idx, dist = nearest_neighbours(vectors, 5, block=7)
    assert (idx[:, 0] == np.arange(len(vectors))).all()
    sims = vectors @ vectors.T
    expected = np.sort(sims, axis=1)[:, ::-1][:, 1:5]
    assert np.allclose(1 - dist[:, 1:], expected, atol=1e-5)


def test_labels_are_per_language_without_boilerplate() -> None:
    _, truth = blobs(n_per=20, k=3, dims=8)
    docs = make_docs(truth)
    vectors = np.eye(3, dtype=np.float32)[truth]
    labels = label_topics(docs, truth.astype(np.int64), vectors)
    glider = labels[0]
    assert set(glider.keywords) == {"en", "zh"}
    english = [k for k, _ in glider.keywords["en"]]
    chinese = [k for k, _ in glider.keywords["zh"]]
    assert any("glider" in k for k in english[:3])
    assert any("滑翔机" in k for k in chinese[:3])
    for boilerplate in ("comprising", "wherein", "apparatus", "system"):
        assert all(boilerplate not in k.split() for k in english)
    for boilerplate in ("所述", "一种", "本发明", "包括"):
        assert boilerplate not in chinese
    assert glider.codes["cpc"][0] == ("B60Q", 1.0)
    assert len(glider.representatives) == 3 and glider.languages == {"en": 16, "zh": 4}


def test_landscape_f1_and_evolution_on_known_labels() -> None:
    docs = [
        Document(id=str(i), title="t", date=f"{2010 + i % 4}-01-01", extra={"landscape": {"x": i < 4}})
        for i in range(8)
    ]
    labels = np.array([0, 0, 0, 1, 1, 1, -1, -1])
    f1 = landscape_f1(docs, labels)["x"]
    # best topic 0: precision 3/3, recall 3/4
    assert f1["topic"] == 0 and f1["f1"] == pytest.approx(2 * 1 * 0.75 / 1.75, abs=1e-4)
    evo = evolution(docs, labels, recent_years=2)
    assert evo["years"] == [2010, 2011, 2012, 2013]
    assert evo["topics"]["0"]["per_year"] == {"2010": 1, "2011": 1, "2012": 1}


def test_selection_is_plain_excess_of_mass_when_unbounded_and_splits_big_branches() -> None:
    import hdbscan

    from patscape.landscape.cluster import select_clusters

    rng = np.random.default_rng(3)
    # two far-apart groups (think: two languages), each made of three tight topics
    centres = np.array([[0, 0], [3, 0], [0, 3], [40, 0], [43, 0], [40, 3]], dtype=float)
    points = np.concatenate([c + rng.normal(scale=0.4, size=(80, 2)) for c in centres])
    clusterer = hdbscan.HDBSCAN(min_cluster_size=20, min_samples=5).fit(points)
    tree = clusterer.condensed_tree_.to_numpy()
    unbounded = select_clusters(tree, len(points), len(points))
    assert adjusted_rand_score(clusterer.labels_, unbounded) == 1.0
    bounded = select_clusters(tree, len(points), int(0.25 * len(points)))
    truth = np.repeat(np.arange(6), 80)
    kept = bounded >= 0
    assert len(set(bounded[kept].tolist())) == 6
    assert adjusted_rand_score(truth[kept], bounded[kept]) > 0.95


def test_oversized_topics_are_clustered_again_on_their_own() -> None:
    from patscape.landscape.cluster import split_oversized

    labels = np.array([0] * 10 + [1] * 3)
    calls: list[list[int]] = []

    def cluster_subset(members: np.ndarray) -> np.ndarray:
        calls.append(members.tolist())
        if len(members) == 10:
            return np.array([0, 0, 0, 0, 1, 1, 1, 1, -1, -1])
        return np.zeros(len(members), dtype=np.int64)  # one topic: nothing to split

    out = split_oversized(labels, max_size=5, cluster_subset=cluster_subset)
    assert calls[0] == list(range(10))
    assert len(set(out[:4].tolist())) == 1 and len(set(out[4:8].tolist())) == 1 and out[0] != out[4]
    assert out[8] == out[9] == -1
    assert len(set(out[10:].tolist())) == 1 and out[10] not in (out[0], out[4])


def condensed_tree(rows: list[tuple[int, int, float, int]]) -> np.ndarray:
    dtype = [("parent", np.int64), ("child", np.int64), ("lambda_val", np.float64), ("child_size", np.int64)]
    return np.array(rows, dtype=dtype)


def eroding_or_splitting_tree(split_early: bool) -> np.ndarray:
    """100 points, root 100. Cluster 101 (80 points) either splits at once into 103 and 104 (40
    each, short-lived), or sheds 60 points one by one and only then splits into two cores of 10;
    either way 101 is more stable than its children. Cluster 102 holds the other 20 points."""
    rows = [(100, 101, 0.1, 80), (100, 102, 0.1, 20)]
    rows += [(102, p, 2.0, 1) for p in range(80, 100)]
    if split_early:
        rows += [(101, 103, 0.6, 40), (101, 104, 0.6, 40)]
        rows += [(103, p, 0.7, 1) for p in range(0, 40)] + [(104, p, 0.7, 1) for p in range(40, 80)]
    else:
        rows += [(101, p, 1.0 + p / 60, 1) for p in range(60)]
        rows += [(101, 103, 3.0, 10), (101, 104, 3.0, 10)]
        rows += [(103, p, 4.0, 1) for p in range(60, 70)] + [(104, p, 4.0, 1) for p in range(70, 80)]
    return condensed_tree(rows)


def test_a_big_topic_that_only_erodes_is_kept_whole_and_a_real_split_is_taken() -> None:
    from patscape.landscape.cluster import select_clusters

    # cluster 101 (80 points) is above the bound of 50 in both trees and more stable than its
    # children; where it only sheds points down to two small cores, splitting it would leave 60
    # of its 80 points as outliers: it stays one topic
    eroding = select_clusters(eroding_or_splitting_tree(split_early=False), 100, 50)
    assert len(set(eroding[:80].tolist())) == 1 and eroding[0] >= 0
    assert (eroding >= 0).all() and eroding[80] != eroding[0]
    # where it splits at once into two halves, the bound splits it
    splitting = select_clusters(eroding_or_splitting_tree(split_early=True), 100, 50)
    assert len(set(splitting[:40].tolist())) == 1 and len(set(splitting[40:80].tolist())) == 1
    assert splitting[0] != splitting[40] and (splitting >= 0).all()
    # without the bound both are plain excess of mass: 101 whole
    assert len(set(select_clusters(eroding_or_splitting_tree(split_early=True), 100, 100)[:80].tolist())) == 1


def test_clustering_again_that_leaves_most_of_a_topic_as_outliers_is_refused() -> None:
    from patscape.landscape.cluster import split_oversized

    labels = np.array([0] * 10 + [1] * 3)

    def fragments(members: np.ndarray) -> np.ndarray:  # two small cores, 6 of 10 outliers
        return np.array([0, 0, 1, 1, -1, -1, -1, -1, -1, -1])[: len(members)]

    assert split_oversized(labels, max_size=5, cluster_subset=fragments).tolist() == labels.tolist()


def test_the_map_layout_in_a_second_process_is_the_one_computed_here() -> None:
    from patscape.landscape.reduce import SecondProcess, umap_reduce

    vectors, _ = blobs(n_per=50, k=4, dims=32)
    knn = nearest_neighbours(vectors, 16)
    here = umap_reduce(vectors, knn, 2, 15, 0.1, 3)
    with SecondProcess(background=True) as helper:
        elsewhere = helper.submit(umap_reduce, vectors, knn, 2, 15, 0.1, 3)
        assert elsewhere._future is not None  # it did start a second process
        assert np.array_equal(elsewhere.result(), here)
        # a layout that fails in the other process is computed here, with the same error
        failing = helper.submit(umap_reduce, vectors[:2], (knn[0][:2, :2] % 2, knn[1][:2, :2]), 2, 15, 0.1, 3)
        with pytest.raises(ValueError, match="too few points"):
            failing.result()
        assert helper._pool is not None
        processes = list(helper._pool._processes.values())
        assert len(processes) == 1
    # once its work is done the other process is ended with the helper, not left behind
    assert helper._pool is None and all(not p.is_alive() for p in processes)
    # without a second process the same function is computed here, when asked
    assert np.array_equal(SecondProcess(background=False).submit(umap_reduce, vectors, knn, 2, 15, 0.1, 3).result(), here)


def test_dominant_codes_tied_in_count_come_in_code_order() -> None:
    from patscape.landscape.counts import CodeCounts
    from patscape.landscape.label import subclass

    def _dominant_codes(docs: list[Document], kind: str, limit: int = 5) -> list[tuple[str, float]]:
        (counts,) = CodeCounts.gather(docs, kind, (subclass,))
        return counts.dominant(np.zeros(len(docs), dtype=np.int64), limit)[0]

    docs = [
        Document(id="1", title="a", cpc=("H01L21/02",)),
        Document(id="2", title="b", cpc=("C23C16/44", "H01L21/02")),
        Document(id="3", title="c", cpc=("C23C16/00", "B01J23/00")),
        Document(id="4", title="d", cpc=("Y02P20/00",)),
    ]
    # H01L and C23C in two documents each, B01J and Y02P in one; first seen is not the order
    assert _dominant_codes(docs, "cpc") == [("C23C", 0.5), ("H01L", 0.5), ("B01J", 0.25), ("Y02P", 0.25)]
    assert _dominant_codes(docs, "cpc", limit=3)[-1] == ("B01J", 0.25)


def test_keyword_counts_made_in_a_second_process_give_the_labels_made_here() -> None:
    from patscape.landscape.label import keyword_matrix, label_texts
    from patscape.landscape.reduce import SecondProcess

    docs = [
        Document(id="a", title="Underwater glider buoyancy engine", abstract="A buoyancy engine for an underwater glider.", lang="en"),
        Document(id="b", title="Glider with buoyancy bladder", abstract="An underwater glider changes buoyancy with a bladder.", lang="en"),
        Document(id="c", title="水下滑翔机浮力调节装置", abstract="一种水下滑翔机的浮力调节装置，包括油囊和泵。", lang="zh"),
        Document(id="d", title="水下滑翔机的浮力控制", abstract="水下滑翔机通过油囊调节浮力。", lang="zh"),
        Document(id="e", title="Battery thermal management", abstract="Cooling plates manage the battery temperature.", lang="en"),
        Document(id="f", title="Battery cooling plate", abstract="A cooling plate for battery cells of a vehicle.", lang="en"),
    ]
    labels = np.array([0, 0, 0, 0, 1, 1])
    vectors = np.eye(6, dtype=np.float32)
    with SecondProcess(background=True) as helper:
        pending = helper.submit(keyword_matrix, *label_texts(docs))
        assert pending._future is not None
        counted = pending.result()
    here = label_topics(docs, labels, vectors)
    there = label_topics(docs, labels, vectors, keywords_of_docs=counted)
    assert there == here
    assert here[0].label == "underwater glider · buoyancy" and here[1].label == "battery · cooling"


def test_outlier_ceiling_is_reached_by_further_rounds_of_voting() -> None:
    from patscape.landscape.cluster import reduce_outliers

    # a chain: topic 0 at the start, outliers behind it; each point's neighbours are the points
    # just before it, so agreement weakens along the chain
    n = 12
    labels = np.array([0, 0, 0] + [-1] * (n - 3))
    knn = np.array([[i] + [max(i - j, 0) for j in (1, 2, 3)] + [n - 1] * 2 for i in range(n)])
    strict = reduce_outliers(labels, knn, agreement=0.5, passes=1, max_share=1.0)
    assert (strict < 0).sum() == n - 4  # one round at 50%: only the point next to the topic joins
    capped = reduce_outliers(labels, knn, agreement=0.5, passes=1, max_share=0.2)
    assert (capped < 0).mean() <= 0.2 and set(capped[capped >= 0].tolist()) == {0}
    # with no topic among any neighbour nothing can be placed
    lonely = reduce_outliers(np.array([0, 0, -1, -1]), np.array([[0, 1], [1, 0], [2, 3], [3, 2]]), 0.5, 1, 0.0)
    assert lonely.tolist() == [0, 0, -1, -1]


def test_growth_fits_every_year_and_a_partial_last_year_is_left_out() -> None:
    # topic 0 doubles every year 2015-2019; the export ends in March 2020 (2 patents so far);
    # topic 1 is flat at 4 a year, with one quiet year in the middle.
    docs, labels = [], []
    for year, n0, n1 in [(2015, 1, 4), (2016, 2, 4), (2017, 4, 1), (2018, 8, 4), (2019, 16, 4), (2020, 2, 1)]:
        for i in range(n0 + n1):
            month = "03" if year == 2020 else "06"
            docs.append(Document(id=f"{year}-{i}", title="t", date=f"{year}-{month}-01"))
            labels.append(0 if i < n0 else 1)
    evo = evolution(docs, np.array(labels), recent_years=5)
    assert (evo["recent_from"], evo["recent_to"], evo["partial_year"]) == (2015, 2019, 2020)
    assert evo["topics"]["0"]["growth"] == pytest.approx(1.0, abs=0.01)  # doubling: +100% a year
    # the two end years alone would say 0% for topic 1; the fit sees the whole window
    assert evo["topics"]["1"]["growth"] == pytest.approx(-0.0, abs=0.15)
    corpus_share = (31 + 17) / (31 + 17)  # every complete year is in the window
    assert evo["topics"]["0"]["momentum"] == pytest.approx(1.0 / corpus_share)
    # with the 2020 export running to December, 2020 is a complete year and ends the window
    docs.append(Document(id="dec", title="t", date="2020-12-15"))
    labels.append(1)
    full = evolution(docs, np.array(labels), recent_years=5)
    assert (full["recent_from"], full["recent_to"], full["partial_year"]) == (2016, 2020, None)
    assert full["topics"]["0"]["growth"] < 0.5  # 2020's 2 patents now count as a real drop


def test_a_topic_growing_slower_than_the_corpus_shows_its_evidence_and_the_corpus_growth() -> None:
    # topic 0: 100 old patents (2000) and a few recent ones rising 0, 0, 1, 2, 4 over 2015-2019;
    # topic 1 (another office's export) fills the recent years: 10, 20, 40, 80, 160.
    docs, labels = [], []
    for year, n0, n1 in [(2000, 100, 0), (2015, 0, 10), (2016, 0, 20), (2017, 1, 40), (2018, 2, 80), (2019, 4, 160)]:
        for i in range(n0 + n1):
            docs.append(Document(id=f"{year}-{i}", title="t", date=f"{year}-12-01"))
            labels.append(0 if i < n0 else 1)
    evo = evolution(docs, np.array(labels), recent_years=5)
    old, new = evo["topics"]["0"], evo["topics"]["1"]
    assert (old["recent"], new["recent"]) == (7, 310)
    # its count grows (doubling) and it still fades against the corpus: both are shown
    assert old["growth"] > 0.5 and old["momentum"] < 0.1
    expected = sum(1 for d in docs if d.year >= 2015) / len(docs)
    assert old["momentum"] == pytest.approx(round((7 / 107) / expected, 3))
    corpus = evolution(docs, np.zeros(len(docs), dtype=np.int64), recent_years=5)["topics"]["0"]["growth"]
    assert evo["corpus_growth"] == old["corpus_growth"] == new["corpus_growth"] == corpus
    assert corpus == pytest.approx(1.0, abs=0.02)  # 10, 21, 42, 82, 164: doubling


def test_the_faiss_graph_of_large_inputs_is_the_exact_graph_with_itself_first() -> None:
    from patscape.landscape.neighbours import _exact_self_first

    vectors, _ = blobs(n_per=40, k=3, dims=32)
    vectors = np.concatenate([vectors, vectors[:5]])  # 5 exact duplicates: each ties with its twin
    idx, dist = _exact_self_first(vectors, 6)
    ref_idx, ref_dist = nearest_neighbours(vectors, 6)
    assert (idx[:, 0] == np.arange(len(vectors))).all() and (dist[:, 0] == 0).all()
    assert np.allclose(dist, ref_dist, atol=1e-5)
    # the rows found are the same apart from the order of exact ties
    assert (np.sort(idx, axis=1) == np.sort(ref_idx, axis=1)).mean() > 0.99
    twin = len(vectors) - 5
    assert idx[0, 1] == twin and idx[twin, 1] == 0
