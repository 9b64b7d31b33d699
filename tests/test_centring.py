"""Per-language mean-centring (patscape.store.centring): means frozen once per space, used alike
by maps, ``map --update``, search, the vector files and queries; spaces without means unchanged.

A constructed case with the hashing embedder: 4 topics written in two "languages" that share
their topic words (as technical terms and formulae are shared) but each adds many words of its
own to every patent (its grammar words): the language words dominate the vectors, so every
patent's nearest neighbours are in its own language (two islands). Subtracting each language's
mean removes what all patents of a language share, and the topics meet across languages.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from patscape.cli import cli
from patscape.embed.hashing import HashingEmbedder
from patscape.landscape import MapParams
from patscape.pipeline import EmbedOptions, build_map, embed, ingest
from patscape.search import query_language, search
from patscape.store import DB_NAME, Store
from patscape.vectors.disk import SpaceVectors

from .conftest import write_jsonl

TOPICS = {
    "glider": ("G05D", "glider buoyancy bladder ballast hydrofoil pitch saltwater descent ascent waypoint".split()),
    "radar": ("G01S", "radar reflectivity precipitation raingauge doppler polarimetric echo rainfall calibration".split()),
    "battery": ("H01M", "lithium electrolyte sulfide cathode anode separator ionic dendrite electrode".split()),
    "satellite": ("B64G", "satellite geostationary transponder orbit antenna thruster payload apogee station".split()),
}
# every patent of a language carries all of its language's words: the island
LANGUAGE_WORDS = {
    "en": "the of and with which is wherein said comprising a an to in for by that this from at".split(),
    "de": "der die das und mit welche ist wobei genannt umfassend ein eine zu im für durch dass diese von bei".split(),
}
PER_TOPIC = 15
DIMS = 1024


def patents(lang: str, per_topic: int = PER_TOPIC, seed: int = 0, prefix: str = "") -> list[dict]:
    rng = np.random.default_rng(seed + (0 if lang == "en" else 1000))
    out = []
    for topic, (ipc, words) in TOPICS.items():
        for i in range(per_topic):
            chosen = [words[k] for k in rng.choice(len(words), 4, replace=False)]
            grammar = " ".join(LANGUAGE_WORDS[lang])
            out.append({"id": f"{prefix}{lang}-{topic}-{i:02d}", "title": " ".join(chosen[:2]),
                        "abstract": f"{grammar} {' '.join(chosen)} {grammar}", "lang": lang, "date": "2020-01-01",
                        "ipc": [f"{ipc}1/00"]})
    return out


def topic_of(doc_id: str) -> str:
    return doc_id.split("-")[-2]


def lang_of(doc_id: str) -> str:
    return doc_id.split("-")[-3]


@pytest.fixture()
def two_languages(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    with Store(path) as db:
        ingest(db, [write_jsonl(tmp_path / "docs.jsonl", patents("en") + patents("de"))])
    return path


def neighbours(db: Store, space, doc_id: str, k: int = 10) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.id for h in search(db, like=doc_id, k=k, space=space)]


def cross_and_topic(db: Store, space) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Share of other-language patents and of same-topic patents among every patent's 10 nearest."""
    cross, same = [], []
    for doc in db.iter_documents():
        found = neighbours(db, space, doc.id)
        cross.append(np.mean([lang_of(d) != doc.lang for d in found]))
        same.append(np.mean([topic_of(d) == topic_of(doc.id) for d in found]))
    return float(np.mean(cross)), float(np.mean(same))


def test_raw_vectors_form_islands_and_centring_joins_them(two_languages: Path) -> None:
    with Store(two_languages) as db:
        raw = embed(db, HashingEmbedder(DIMS), EmbedOptions(passages=None)).space
        assert "centring" not in raw.params and db.space_centring(raw.key) is None  # hash: off by default
        cross, same = cross_and_topic(db, raw)
        assert cross == 0.0  # two islands: no neighbour in the other language
        assert same == pytest.approx(1.0)
        centred = embed(db, HashingEmbedder(DIMS), EmbedOptions(passages=None, centre=True)).space
        assert centred.key == raw.key  # centring changes no stored vector, so not the key
        assert centred.params["centring"] == "language"
        means = db.space_centring(centred.key)
        assert means is not None and means.docs == {"*": 120, "en": 60, "de": 60}
        cross, same = cross_and_topic(db, centred)
        assert cross >= 0.4  # the topics meet across languages
        assert same == pytest.approx(1.0)  # and stay topics
        # the stored vectors are the model's, untouched
        ids, stored = db.load_vectors(centred.key, raw=True)
        docs = list(db.iter_documents(ids))
        model = HashingEmbedder(DIMS)
        again = model.embed([f"{d.title}\n{d.abstract}" for d in docs[:3]]).vectors
        assert np.allclose(stored[:3], again, atol=1e-6)


def test_means_are_frozen_once_and_reused_by_map_update_and_search(two_languages: Path, tmp_path: Path) -> None:
    params = MapParams(min_cluster_size=5)
    with Store(two_languages) as db:
        space = embed(db, HashingEmbedder(DIMS), EmbedOptions(passages=None, centre=True)).space
        frozen = db.space_centring(space.key)
        assert frozen is not None
        first = build_map(db, space.key, params=params, seed=1)
        # the map read the centred vectors: topics mix the languages
        assert db.get_run(first).metrics["language_mix"]["mixed_topics"] >= 3
        # 30 more German patents of one topic would move the German mean: it stays frozen
        ingest(db, [write_jsonl(tmp_path / "more.jsonl", [r for r in patents("de", 30, seed=5, prefix="n") if topic_of(r["id"]) == "radar"])])
        embed(db, HashingEmbedder(DIMS), EmbedOptions(passages=None))
        assert db.get_space(space.key).complete
        with Store(two_languages) as other:  # a new connection reads the same frozen means
            again = other.space_centring(space.key)
        assert again is not None and again.docs == {"*": 120, "en": 60, "de": 60}
        for lang in ("*", "en", "de"):
            assert np.array_equal(again.means[lang], frozen.means[lang])
        updated = build_map(db, space.key, params=params, seed=1, update=True)
        assert db.get_run(updated).metrics["language_mix"]["mixed_topics"] >= 3
        # every reader centres with those means: what the map, search and the files read
        ids, used = db.load_vectors(space.key)
        _, raw = db.load_vectors(space.key, raw=True)
        langs = [d.lang for d in db.iter_documents(ids)]
        assert np.allclose(used, frozen.apply(raw, langs), atol=1e-6)
        assert np.allclose(np.linalg.norm(used, axis=1), 1.0, atol=1e-5)
        blocks = np.concatenate([b for _, b in db.iter_vector_blocks(space.key, 50)])
        assert np.allclose(blocks, used, atol=1e-6)
        row = ids.index("nde-radar-00")
        assert np.allclose(db.get_vector(space.key, "nde-radar-00"), used[row], atol=1e-6)
        # the new German radar patents find English radar patents
        found = neighbours(db, space, "nde-radar-00")
        assert any(lang_of(d) == "en" for d in found)
        assert all(topic_of(d) == "radar" for d in found)


def test_a_query_is_centred_by_its_detected_language(two_languages: Path) -> None:
    with Store(two_languages) as db:
        space = embed(db, HashingEmbedder(DIMS), EmbedOptions(passages=None, centre=True)).space
        centring = db.space_centring(space.key)
        assert centring is not None
        query = "der die das und mit welche ist wobei umfassend glider buoyancy ballast hydrofoil"
        assert query_language(query) == "de"
        hits = search(db, query, k=10, space=space, embedder=HashingEmbedder(DIMS))
        # the ranking is that of the query centred by the German mean against the centred documents
        ids, matrix = db.load_vectors(space.key)
        target = centring.apply_one(HashingEmbedder(DIMS).embed([query], "query").vectors[0], "de")
        scores = matrix @ target
        expected = [ids[i] for i in np.lexsort((np.asarray(ids), -scores))[:10]]
        assert [h.id for h in hits] == expected
        assert [h.score for h in hits] == pytest.approx([round(float(scores[ids.index(h.id)]), 4) for h in hits], abs=1e-4)
        assert all(topic_of(h.id) == "glider" for h in hits)
        assert sum(lang_of(h.id) == "en" for h in hits) >= 3  # a German query finds English patents
        # centred by the English mean instead, the same text ranks differently: the language counts
        wrong = centring.apply_one(HashingEmbedder(DIMS).embed([query], "query").vectors[0], "en")
        assert not np.allclose(wrong, target)
        # a language without a mean of its own (or none detected) is centred by the mean of all
        assert np.array_equal(centring.mean_for("fr"), centring.means["*"])
        assert np.array_equal(centring.mean_for(None), centring.means["*"])
        assert np.array_equal(centring.mean_for("de-AT"), centring.means["de"])
        # uncentred, the same query would find only German patents
        _, raw = db.load_vectors(space.key, raw=True)
        raw_scores = raw @ HashingEmbedder(DIMS).embed([query], "query").vectors[0]
        assert all(lang_of(ids[i]) == "de" for i in np.argsort(-raw_scores)[:10])


def test_vector_files_hold_centred_rows_and_follow_the_means(two_languages: Path) -> None:
    with Store(two_languages) as db:
        space = embed(db, HashingEmbedder(DIMS), EmbedOptions(passages=None)).space
        raw_files = SpaceVectors.open(db, space, threshold=40)  # an HNSW index above 40 vectors
        assert raw_files.meta.get("centring", "") == ""
        target = db.get_vector(space.key, "de-glider-00")
        assert all(lang_of(d) == "de" for d, _ in raw_files.nearest(target, 10, exclude="de-glider-00"))
        gen = int(raw_files.meta["gen"])
        # centring turned on for this space: the next open writes the files anew, centred
        db.set_space_centring(space.key, True)
        embed(db, HashingEmbedder(DIMS), EmbedOptions(passages=None))  # complete already: freezes the means
        centring = db.space_centring(space.key)
        assert centring is not None
        files = SpaceVectors.open(db, space, threshold=40)
        assert files.meta["centring"] == centring.digest and int(files.meta["gen"]) > gen
        assert int(files.meta.get("docs_index_rows", 0)) == 120  # searched through HNSW
        target = db.get_vector(space.key, "de-glider-00")
        found = files.nearest(target, 10, exclude="de-glider-00")
        ids, matrix = db.load_vectors(space.key)
        exact = sorted(((i, float(s)) for i, s in zip(ids, matrix @ target) if i != "de-glider-00"), key=lambda x: -x[1])[:10]
        assert {d for d, _ in found} == {d for d, _ in exact}
        assert any(lang_of(d) == "en" for d, _ in found)
        # off again: means dropped, files raw again
        db.set_space_centring(space.key, False)
        assert db.space_centring(space.key) is None
        assert SpaceVectors.open(db, space, threshold=40).meta.get("centring", "") == ""


def test_passages_are_centred_by_their_documents_language(tmp_path: Path) -> None:
    records = [dict(r, claims=f"{r['abstract']}\n{r['abstract']}") for r in patents("en", 5) + patents("de", 5)]
    with Store(tmp_path / "s") as db:
        ingest(db, [write_jsonl(tmp_path / "p.jsonl", records)])
        space = embed(db, HashingEmbedder(DIMS), EmbedOptions(centre=True)).space
        centring = db.space_centring(space.key)
        assert centring is not None
        raw = [r for b in db.iter_passage_rows(space.key, raw=True) for r in b]
        used = [r for b in db.iter_passage_rows(space.key) for r in b]
        assert [r[:4] for r in raw] == [r[:4] for r in used] and raw
        for r, u in zip(raw, used):
            vector = np.frombuffer(r[4], dtype=np.int8).astype(np.float32) * r[5]
            want = centring.apply_one(vector, lang_of(r[0]))
            got = np.frombuffer(u[4], dtype=np.int8).astype(np.float32) * u[5]
            assert float(want @ got / np.linalg.norm(got)) > 0.999


def test_a_space_without_means_reads_as_before(two_languages: Path) -> None:
    with Store(two_languages) as db:
        space = embed(db, HashingEmbedder(DIMS), EmbedOptions(passages=None)).space
        assert db.space_centring(space.key) is None
        ids, used = db.load_vectors(space.key)
        _, raw = db.load_vectors(space.key, raw=True)
        assert np.array_equal(used, raw)  # bit for bit
        assert [r for b in db.iter_vector_rows(space.key) for r in b] == [r for b in db.iter_vector_rows(space.key, raw=True) for r in b]
        query = "der die das glider buoyancy"
        hits = search(db, query, k=5, space=space, embedder=HashingEmbedder(DIMS))
        target = HashingEmbedder(DIMS).embed([query], "query").vectors[0]
        scores = raw @ target
        assert [h.id for h in hits] == [ids[i] for i in np.lexsort((np.asarray(ids), -scores))[:5]]
        # a map of it does not freeze means
        run = build_map(db, space.key, params=MapParams(min_cluster_size=5), seed=1)
        assert db.get_run(run).metrics["language_mix"]["mixed_topics"] == 0  # the islands, as before
        assert db.space_centring(space.key) is None


def test_cli_embed_centre_and_info(two_languages: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["embed", str(two_languages), "--model", f"hash:{DIMS}", "--no-passages", "--centre"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["info", str(two_languages)])
    assert result.exit_code == 0, result.output
    assert "centred by language: means frozen over 120 documents (de 60, en 60; others: the mean of all)" in result.output
    result = runner.invoke(cli, ["info", str(two_languages), "--json"])
    space = json.loads(result.output)["spaces"][0]
    assert space["centring"] == {"frozen": True, "docs": {"*": 120, "de": 60, "en": 60}}


def test_a_vector_store_holds_the_centred_vectors_and_refuses_other_means(two_languages: Path, tmp_path: Path) -> None:
    from patscape.errors import SpaceMismatchError
    from patscape.vectors.milvus import MilvusVectors, export_to_milvus

    with Store(two_languages) as db:
        space = embed(db, HashingEmbedder(DIMS), EmbedOptions(passages=None, centre=True)).space
        centring = db.space_centring(space.key)
        assert centring is not None
        uri = f"milvus:{tmp_path / 'v.db'}"
        export_to_milvus(db, space, uri)
        with MilvusVectors(uri) as vectors:
            vectors.check_space(space, centring.digest)
            target = db.get_vector(space.key, "de-glider-00")
            found = vectors.nearest(target, 10, exclude="de-glider-00")
            ids, matrix = db.load_vectors(space.key)
            exact = sorted(((i, float(s)) for i, s in zip(ids, matrix @ target) if i != "de-glider-00"),
                           key=lambda x: (-x[1], x[0]))[:10]
            assert [d for d, _ in found] == [d for d, _ in exact]  # centred in the collection as in the store
            assert any(lang_of(d) == "en" for d, _ in found)
            db.set_space_centring(space.key, False)
            with pytest.raises(SpaceMismatchError, match="no longer centres them: export it again with --replace"):
                vectors.check_space(space, "")


def test_packaged_models_centre_as_measured() -> None:
    from patscape.embed import load_embedder
    from patscape.spaces import CENTRED_MODELS, space_for, wants_centring

    assert CENTRED_MODELS == {"e5-small": True, "use-multilingual": False, "minilm": False}
    e5 = space_for(load_embedder("e5-small"), "document", None, ("title", "abstract"), 32, None)
    use = space_for(load_embedder("use-multilingual"), "document", None, ("title", "abstract"), 32, None)
    assert wants_centring(e5) and e5.params["centring"] == "language"
    assert not wants_centring(use) and "centring" not in use.params
    forced = space_for(load_embedder("use-multilingual"), "document", None, ("title", "abstract"), 32, None, centre=True)
    assert wants_centring(forced) and forced.key == use.key  # the flag is outside the key


def test_a_store_from_before_centring_opens_and_reads_as_before(two_languages: Path) -> None:
    import sqlite3

    with Store(two_languages) as db:
        space = embed(db, HashingEmbedder(DIMS), EmbedOptions(passages=None)).space
        ids, before = db.load_vectors(space.key)
    # the store as an earlier version left it: no space_means table, no record of its migration
    con = sqlite3.connect(two_languages / DB_NAME)
    con.execute("DROP TABLE space_means")
    con.execute("DELETE FROM migrations WHERE name = 'm011_space_means'")
    con.commit()
    con.close()
    with Store(two_languages) as db:
        assert db.space_centring(space.key) is None
        again_ids, again = db.load_vectors(space.key)
        assert again_ids == ids and np.array_equal(again, before)
        hits = search(db, like="de-glider-00", k=10, space=db.get_space(space.key))
        assert all(lang_of(h.id) == "de" for h in hits)


def test_the_server_embeds_raw_and_searches_centred(two_languages: Path) -> None:
    from patscape.api import Settings

    from .api_helpers import live_server

    with Store(two_languages) as db:
        space = embed(db, HashingEmbedder(DIMS), EmbedOptions(passages=None, centre=True)).space
        centring = db.space_centring(space.key)
        assert centring is not None
        ids, matrix = db.load_vectors(space.key)
    query = "der die das und mit welche ist wobei umfassend glider buoyancy ballast hydrofoil"
    raw_query = HashingEmbedder(DIMS).embed([query], "query").vectors[0]
    with live_server(Settings(store=two_languages, model=f"hash:{DIMS}")) as server, server.client() as http:
        answer = http.post("/v1/embeddings", json={"model": f"hash:{DIMS}:query", "input": query})
        assert answer.status_code == 200, answer.text
        served = np.asarray(answer.json()["data"][0]["embedding"], dtype=np.float32)
        assert np.allclose(served, raw_query, atol=1e-6)  # the model's own vector, not centred
        found = http.post("/corpus/search", json={"query": query, "k": 10}).json()
    target = centring.apply_one(raw_query, "de")
    scores = matrix @ target
    assert [h["id"] for h in found["hits"]] == [ids[i] for i in np.lexsort((np.asarray(ids), -scores))[:10]]
    assert sum(lang_of(h["id"]) == "en" for h in found["hits"]) >= 3


def test_a_short_latin_query_misread_by_the_detector_is_centred_by_a_language_of_the_space() -> None:
    # the detector alone reads these short English queries as other languages
    assert query_language("underwater glider") == "de"
    assert query_language("satellite") == "fi"
    # in a space with English and Chinese means they are centred as English
    assert query_language("underwater glider", ["en", "zh"]) == "en"
    assert query_language("satellite", ["en", "zh"]) == "en"
    # languages named by their script or letters are kept, with a mean or not
    assert query_language("水下滑翔机", ["en", "zh"]) == "zh"
    assert query_language("máy sấy lúa", ["en", "zh"]) == "vi"
    # a space with a German mean: a query read as German stays German (a limit of short queries)
    assert query_language("underwater glider", ["en", "de", "zh"]) == "de"


def test_locate_centres_the_text_as_a_query_is(two_languages: Path) -> None:
    """In a centred space a dropped text is centred by its language, as a search's query is: its
    nearest patents are the search's, and they cross languages."""
    from patscape.landscape import MapParams
    from patscape.locate import locate
    from patscape.pipeline import build_map

    with Store(two_languages) as db:
        space = embed(db, HashingEmbedder(DIMS), EmbedOptions(passages=None, centre=True)).space
        build_map(db, space.key, MapParams(min_cluster_size=8), seed=1)
        query = "der die das und mit welche ist wobei umfassend glider buoyancy ballast hydrofoil"
        found = locate(db, query, k=10, embedder=HashingEmbedder(DIMS))
        hits = search(db, query, k=10, space=space, embedder=HashingEmbedder(DIMS))
    assert [p["id"] for p in found["patents"]] == [h.id for h in hits]
    assert sum(lang_of(p["id"]) == "en" for p in found["patents"]) >= 3
