"""Milvus as the vector store: a real Milvus Lite file, checked against an exact numpy search.

A slice of the dev corpus (English and Chinese, some dates removed) is embedded with the hashing
model and exported; every search through Milvus must return what a brute-force cosine over the
store's vectors returns once the same filter is applied in Python.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from patscape import pipeline
from patscape.embed import load_embedder
from patscape.errors import InputError, NotFoundError, SpaceMismatchError, StoreError
from patscape.filters import SearchFilter
from patscape.store import Space, Store
from patscape.vectors.milvus import (
    MilvusVectors,
    _create,
    collection_name,
    export_to_milvus,
    open_vector_store,
    parse_target,
)
from patscape.vectors.milvus_fields import _literal, code_prefixes, date_year, milvus_filter

from .conftest import dev_records, write_jsonl

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """240 patents, 160 English and 80 Chinese; every seventh has its date removed."""
    records = dev_records()
    english = [r for r in records if r["lang"] == "en"][::29][:160]
    chinese = [r for r in records if r["lang"] == "zh"][::23][:80]
    chosen = english + chinese
    for i, record in enumerate(chosen):
        if i % 7 == 3:
            record["date"] = None
    return write_jsonl(tmp_path_factory.mktemp("milvus") / "slice.jsonl", chosen)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, corpus: Path):  # type: ignore[no-untyped-def]
    work = tmp_path_factory.mktemp("milvus-store")
    store = Store(work / "store")
    pipeline.ingest(store, [corpus])
    pipeline.embed(store, "hash:64", pipeline.EmbedOptions(passages=None))
    space = store.spaces()[0]
    uri = str(work / "landscape.db")
    report = export_to_milvus(store, space, uri, batch=50)  # several batches
    vectors = MilvusVectors(f"milvus:{uri}")
    yield store, space, report, uri, vectors
    vectors.close()
    store.close()


def exact(store: Store, space: Space, target: np.ndarray, k: int, where: SearchFilter | None = None,
          exclude: str | None = None) -> list[tuple[str, float]]:
    """Brute-force cosine over the store's vectors, filtered in Python."""
    ids, matrix = store.load_vectors(space.key)
    docs = {d.id: d for d in store.iter_documents(ids)}

    def keep(doc_id: str) -> bool:
        doc = docs[doc_id]
        if doc_id == exclude:
            return False
        if where is None:
            return True
        if where.lang and doc.lang != where.lang:
            return False
        if where.year_from is not None or where.year_to is not None:
            if not doc.date or not doc.date[:4].isdigit():
                return False
            year = int(doc.date[:4])
            if where.year_from is not None and year < where.year_from:
                return False
            if where.year_to is not None and year > where.year_to:
                return False
        if where.cpc and not any(code.startswith(where.cpc) for code in (*doc.cpc, *doc.ipc)):
            return False
        return True

    scores = matrix @ target
    ranked = sorted(((i, float(s)) for i, s in zip(ids, scores) if keep(i)), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:k]


def assert_same(found: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    """Same length, the same score at every rank, and the same ids except among exact ties."""
    assert len(found) == len(expected)
    for (_, got), (_, want) in zip(found, expected):
        assert abs(got - want) < TOLERANCE
    if expected:
        cut = expected[-1][1]
        sure = {doc_id for doc_id, score in expected if score > cut + TOLERANCE}
        assert sure <= {doc_id for doc_id, _ in found}
        truth = dict(expected)
        for doc_id, score in found:
            if doc_id in truth:
                assert abs(truth[doc_id] - score) < TOLERANCE


def common_prefixes(store: Store) -> tuple[str, str]:
    """The most frequent CPC subclass and the most frequent main group with a slash (e.g. G06F3/)."""
    subclasses: Counter[str] = Counter()
    groups: Counter[str] = Counter()
    for doc in store.iter_documents():
        codes = {*doc.cpc, *doc.ipc}
        subclasses.update({c[:4] for c in codes if len(c) >= 4})
        groups.update({c.split("/")[0] + "/" for c in codes if "/" in c})
    return subclasses.most_common(1)[0][0], groups.most_common(1)[0][0]


def test_export_report_and_collection(exported) -> None:  # type: ignore[no-untyped-def]
    store, space, report, uri, vectors = exported
    assert report.vectors == report.rows == store.count_vectors(space.key) == store.count_documents() > 200
    assert report.collection == collection_name(space.key) == vectors.collection
    assert (report.index, report.dims, report.model, report.replaced) == ("FLAT", 64, "hash:64", False)
    assert (vectors.space_key, vectors.model, vectors.dims, vectors.count()) == (space.key, "hash:64", 64, report.vectors)
    vectors.check_space(space)  # the space it came from
    index = vectors.client.describe_index(vectors.collection, "vector")
    assert (index["index_type"], index["metric_type"], index["indexed_rows"]) == ("FLAT", "IP", report.vectors)


def test_nearest_equals_exact_search(exported) -> None:  # type: ignore[no-untyped-def]
    store, space, _, _, vectors = exported
    ids, matrix = store.load_vectors(space.key)
    for row in (0, 17, 101, 200, len(ids) - 1):
        target = matrix[row]
        assert_same(vectors.nearest(target, 10), exact(store, space, target, 10))
        found = vectors.nearest(target, 10, exclude=ids[row])
        assert ids[row] not in {doc_id for doc_id, _ in found}
        assert_same(found, exact(store, space, target, 10, exclude=ids[row]))
    query = load_embedder("hash:64").embed(["lithium battery electrode"], "query").vectors[0]
    assert_same(vectors.nearest(query, 25), exact(store, space, query, 25))
    assert len(vectors.nearest(query, 7)) == 7
    assert len(vectors.nearest(query, 1000)) == len(ids)


@pytest.mark.parametrize("spec", [
    {"lang": "zh"}, {"lang": "en"}, {"years": "2015-2018"}, {"years": "-2012"}, {"years": "2019-"},
    {"years": "2012"}, {"years": "0000-9999"}, {"cpc": "subclass"}, {"cpc": "group"}, {"cpc": "Y"},
    {"lang": "en", "years": "2010-2020", "cpc": "subclass"}, {"lang": "zh", "cpc": "group"},
])
def test_filters_equal_exact_search_filtered_in_python(exported, spec: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    store, space, _, _, vectors = exported
    subclass, group = common_prefixes(store)
    spec = {key: {"subclass": subclass, "group": group}.get(value, value) for key, value in spec.items()}
    where = SearchFilter.parse(**spec)
    ids, matrix = store.load_vectors(space.key)
    everything = exact(store, space, matrix[0], 1000, where)
    assert everything, f"the filter {spec} lets nothing through: the test would prove nothing"
    # the Python reference agrees with the store's own SQL filter
    assert {doc_id for doc_id, _ in everything} == store.filter_ids(ids, where)
    assert_same(vectors.nearest(matrix[0], 1000, where=where), everything)
    if where.cpc:  # the server's expression (array_contains) selects what Lite's (like) selects
        assert vectors.cpc_match == "like"
        vectors.cpc_match = "array"
        try:
            assert_same(vectors.nearest(matrix[0], 1000, where=where), everything)
        finally:
            vectors.cpc_match = "like"
    for row in (3, 150):
        assert_same(vectors.nearest(matrix[row], 5, where=where, exclude=ids[row]),
                    exact(store, space, matrix[row], 5, where, exclude=ids[row]))


def test_documents_without_a_date_fail_every_year_filter(exported) -> None:  # type: ignore[no-untyped-def]
    store, space, _, _, vectors = exported
    ids, matrix = store.load_vectors(space.key)
    undated = {d.id for d in store.iter_documents() if not d.date}
    assert len(undated) >= 20
    for years in ("0000-9999", "-2030", "1900-"):
        found = {doc_id for doc_id, _ in vectors.nearest(matrix[0], 1000, where=SearchFilter.parse(years=years))}
        assert found and not found & undated
    assert undated <= {doc_id for doc_id, _ in vectors.nearest(matrix[0], 1000)}


def test_hostile_filter_values_are_refused_or_quoted(exported) -> None:  # type: ignore[no-untyped-def]
    store, space, _, _, vectors = exported
    ids, matrix = store.load_vectors(space.key)
    for lang in ('zh" or 1==1 or lang == "', "zh' or lang != '", 'en\\" || year >= 0', "z\th", "zh) or (1==1"):
        with pytest.raises(InputError, match="not a language code|control characters"):
            vectors.nearest(matrix[0], 10, where=SearchFilter(lang=lang))
    for cpc in ('H01" or 1==1', "H01M') or ('1'=='1", 'H"'):
        with pytest.raises(InputError, match="not a CPC/IPC prefix"):
            SearchFilter.parse(cpc=cpc)
    # quoting, checked by Milvus's own parser: a hostile value matches nothing, a plain one what it should
    client, name = vectors.client, vectors.collection
    for hostile in ('zh" or 1==1 or lang == "', 'zh\\" or 1==1 or lang == \\"', "zh' or '1'=='1"):
        assert client.query(name, filter=f"lang == {_literal(hostile)}", output_fields=["id"]) == []
    zh = client.query(name, filter=f"lang == {_literal('zh')}", output_fields=["id"])
    assert {row["id"] for row in zh} == store.ids_in_language("zh")
    # an id is never written into the expression: a hostile exclude just excludes nothing
    assert_same(vectors.nearest(matrix[5], 10, exclude='x" or 1==1 or id != "'), exact(store, space, matrix[5], 10))
    assert milvus_filter(SearchFilter.parse(lang="ZH", years="2018-", cpc="h01m10/05")) == (
        'lang == "zh" and year > 0 and year >= 2018 and array_contains(cpc_prefixes, "H01M10/05")'
    )
    assert milvus_filter(SearchFilter.parse(cpc="G06F3/"), "like") == 'cpc_text like "%|G06F3/|%"'


def test_errors_are_clear(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, space, _, uri, vectors = exported
    with pytest.raises(StoreError, match="no Milvus Lite file"):
        MilvusVectors(f"milvus:{tmp_path / 'missing.db'}")
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(NotFoundError, match=f"no collection 'nope'.*{space.key.replace('-', '_')}"):
        MilvusVectors(f"milvus:{uri}?collection=nope")
    other = Space("hash-32-x", "hash:32", "fp", 32, {}, 1.0)
    with pytest.raises(SpaceMismatchError, match="holds 64-dim vectors; the space hash-32-x has 32"):
        vectors.check_space(other)
    with pytest.raises(SpaceMismatchError, match="search with --space"):
        vectors.check_space(Space("hash-64-other", "hash:64", "fp", 64, {}, 1.0))
    with pytest.raises(InputError, match="the query vector has 32 dims"):
        vectors.nearest(np.ones(32, dtype=np.float32), 5)
    with pytest.raises(InputError, match="not a Milvus URI|--vector-store"):
        open_vector_store("http://localhost:19530")
    with pytest.raises(InputError, match="ends in .db"):
        parse_target("milvus:landscape.sqlite")
    with pytest.raises(InputError, match="no credentials"):
        parse_target("milvus://user:secret@milvus.internal:19530")
    with pytest.raises(InputError, match="unknown URI parameter"):
        parse_target("milvus:x.db?colection=a")


def test_uri_forms() -> None:
    assert parse_target("milvus://milvus.internal?collection=c").client_uri == "http://milvus.internal:19530"
    server = parse_target("milvus://10.0.0.5:1234?collection=c")
    assert (server.client_uri, server.lite, server.collection) == ("http://10.0.0.5:1234", False, "c")
    assert parse_target("milvus+https://m.example.org").client_uri == "https://m.example.org:19530"
    assert parse_target("http://localhost:19530").client_uri == "http://localhost:19530"
    lite = parse_target("milvus:///tmp/x/landscape.db?collection=c")
    assert (lite.client_uri, lite.lite, lite.collection) == ("/tmp/x/landscape.db", True, "c")
    assert parse_target("milvus:out/landscape.db").client_uri == str(Path("out/landscape.db").absolute())
    assert parse_target("landscape.db").lite
    assert collection_name("minilm-384-ab12cd") == "patscape_minilm_384_ab12cd"
    assert date_year("2011-08-09") == 2011 and date_year(None) == 0 and date_year("08/09/2011") == 0
    assert code_prefixes(["H01M10/0525", "H01M4/13"]) == [
        "H", "H01", "H01M", "H01M1", "H01M4", "H01M10", "H01M4/", "H01M10/", "H01M4/1", "H01M10/0",
        "H01M4/13", "H01M10/05", "H01M10/052", "H01M10/0525",
    ]


def test_export_refuses_to_overwrite_and_replaces_idempotently(exported) -> None:  # type: ignore[no-untyped-def]
    store, space, report, uri, vectors = exported
    with pytest.raises(InputError, match="already exists.*--replace"):
        export_to_milvus(store, space, uri)
    with pytest.raises(InputError, match="not valid in Milvus"):
        export_to_milvus(store, space, uri, collection="bad-name")
    ids, matrix = store.load_vectors(space.key)
    before = vectors.nearest(matrix[9], 20)
    again = export_to_milvus(store, space, uri, replace=True, batch=1000)
    assert again.replaced and again.vectors == again.rows == report.vectors
    with MilvusVectors(f"milvus:{uri}?collection={again.collection}") as reopened:
        assert reopened.count() == report.vectors
        assert reopened.nearest(matrix[9], 20) == before
    # a second collection in the same file: the URI must then name one
    extra = export_to_milvus(store, space, uri, collection="patscape_copy")
    assert extra.vectors == report.vectors
    with pytest.raises(InputError, match="holds [2-9] patscape collections"):
        MilvusVectors(f"milvus:{uri}")


def test_failed_or_killed_exports_leave_nothing_usable(exported) -> None:  # type: ignore[no-untyped-def]
    store, space, _, uri, vectors = exported

    def fail(_: int) -> None:
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        export_to_milvus(store, space, uri, collection="patscape_failed", batch=50, progress=fail)
    assert not vectors.client.has_collection("patscape_failed")
    # a killed export: the collection exists without the finished mark
    _create(vectors.client, parse_target(uri), "patscape_killed", space, "FLAT")
    with pytest.raises(StoreError, match="'patscape_killed'.* is incomplete .*--replace"):
        MilvusVectors(f"milvus:{uri}?collection=patscape_killed")
    again = export_to_milvus(store, space, uri, collection="patscape_killed", replace=True)
    with MilvusVectors(f"milvus:{uri}?collection=patscape_killed") as finished:
        assert finished.count() == again.vectors == store.count_documents()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATSCAPE_NO_PROGRESS="1")
    return subprocess.run([sys.executable, "-m", "patscape", *args], capture_output=True, text=True, env=env, timeout=600)


def test_cli_export_and_search(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, space, _, _, _ = exported
    path = tmp_path / "cli.db"
    done = run("export", str(store.path), "--format", "milvus", "--uri", str(path))
    assert done.returncode == 0, done.stderr
    n = store.count_documents()
    assert f"exported {n} vectors (64 dims, {space.key})" in done.stdout and f"{n} rows, FLAT index" in done.stdout
    again = run("export", str(store.path), "--format", "milvus", "--uri", str(path))
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert "already exists" in again.stderr and "--replace" in again.stderr
    assert run("export", str(store.path), "--format", "milvus", "--uri", str(path), "--replace").returncode == 0
    no_uri = run("export", str(store.path), "--format", "milvus")
    assert no_uri.returncode == 2 and "needs --uri" in no_uri.stderr
    missing = run("search", str(store.path), "battery", "--vector-store", f"milvus:{tmp_path / 'nope.db'}")
    assert missing.returncode == 2 and "no Milvus Lite file" in missing.stderr and "Traceback" not in missing.stderr
    busy = run("search", str(store.path), "battery", "--vector-store", f"milvus:{exported[3]}")  # open here
    assert busy.returncode == 2 and "open in another process" in busy.stderr and "Traceback" not in busy.stderr
    args = ("search", str(store.path), "lithium battery electrode", "-k", "8", "--json", "--years", "2012-")
    found = run(*args, "--vector-store", f"milvus:{path}")
    assert found.returncode == 0, found.stderr
    local = run(*args)
    assert local.returncode == 0, local.stderr
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    assert len(hits) == 8
    assert [(h["id"], h["score"]) for h in hits] == [
        (h["id"], h["score"]) for h in (json.loads(line) for line in local.stdout.splitlines())
    ]
    # proof that the ranking comes from Milvus: without its Chinese rows, a Chinese query finds
    # exactly what the store finds among English patents
    drop_chinese(path)
    title = next(d.title for d in store.iter_documents() if d.lang == "zh")
    args = ("search", str(store.path), title, "-k", "8", "--json")
    assert any(json.loads(line)["lang"] == "zh" for line in run(*args).stdout.splitlines())
    found = run(*args, "--vector-store", f"milvus:{path}")
    assert found.returncode == 0, found.stderr
    english = run(*args, "--lang", "en")
    assert [json.loads(line)["id"] for line in found.stdout.splitlines()] == [
        json.loads(line)["id"] for line in english.stdout.splitlines()
    ]


DROP_CHINESE = """
import sys
from pymilvus import MilvusClient
client = MilvusClient(sys.argv[1])
name = client.list_collections()[0]
client.delete(name, filter='lang == "zh"')
client.flush(name)
"""


def drop_chinese(path: Path, here: bool = False) -> None:
    """Delete the Chinese rows of the collection: ``here``, or in a process of its own when
    another process must open the file next (Milvus Lite keeps a file locked until the process
    that opened it ends)."""
    if not here:
        subprocess.run([sys.executable, "-c", DROP_CHINESE, str(path)], check=True, timeout=300)
        return
    from pymilvus import MilvusClient

    client = MilvusClient(str(path))
    name = client.list_collections()[0]
    client.delete(name, filter='lang == "zh"')
    client.flush(name)
    client.close()


def test_serve_searches_the_vector_store(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from patscape.api import Settings, create_app

    store, space, _, _, _ = exported
    path = tmp_path / "serve.db"
    export_to_milvus(store, space, str(path))
    drop_chinese(path, here=True)
    chinese = next(d.id for d in store.iter_documents() if d.lang == "zh")
    settings = Settings(store=store.path, model="hash:64", vector_store=f"milvus:{path}")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as http:
        response = http.post("/corpus/search", json={"like": chinese, "k": 6, "years": "2000-"})
        assert response.status_code == 200, response.text
        body = response.json()
    ids = [hit["id"] for hit in body["hits"]]
    expected = exact(store, space, store.get_vector(space.key, chinese), 6,
                     SearchFilter.parse(lang="en", years="2000-"), exclude=chinese)
    assert ids == [doc_id for doc_id, _ in expected]
    with pytest.raises(StoreError, match="no Milvus Lite file"):
        create_app(Settings(store=store.path, model="hash:64", vector_store=f"milvus:{tmp_path / 'none.db'}"))


# -- serve --vector-store beyond /corpus/search: neighbours, passages, uploads; the CLI's client ----
HELD_BACK = 4  # patents of the slice left out of the mapped store, to be uploaded


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    """The slice but its last English and last Chinese patents (uploaded by the tests), embedded
    with ``hash:64`` (no passages) and mapped: a store with a run."""
    from patscape.landscape import MapParams
    from patscape.pipeline import EmbedOptions, build_map, embed, ingest

    work = tmp_path_factory.mktemp("milvus-mapped")
    rows = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    held = {r["id"] for r in [r for r in rows if r["lang"] == "en"][-HELD_BACK // 2:] + [r for r in rows if r["lang"] == "zh"][-HELD_BACK // 2:]}
    write_jsonl(work / "mapped.jsonl", [r for r in rows if r["id"] not in held])
    write_jsonl(work / "held.jsonl", [r for r in rows if r["id"] in held])
    with Store(work / "store") as store:
        ingest(store, [work / "mapped.jsonl"])
        embed(store, "hash:64", EmbedOptions(passages=None))
        build_map(store, params=MapParams(min_cluster_size=8), seed=7)
    return work


def copy_of(mapped: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(mapped / "store", tmp_path / "store"))


def test_document_neighbours_come_from_the_vector_store(mapped: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GET /corpus/documents/{id}: the 10 neighbours are Milvus's answer (proof: its Chinese rows
    are deleted, so a Chinese patent's neighbours are the nearest English ones). The server
    closes its client when it stops."""
    from fastapi.testclient import TestClient

    from patscape.api import Settings, create_app

    path = tmp_path / "neighbours.db"
    with Store(mapped / "store", create=False) as store:
        space = store.spaces()[0]
        export_to_milvus(store, space, str(path))
        run = store.newest_run()
        chinese = next(d for d, *_ in store.run_points(run.id) if store.get_document(d).lang == "zh")
        local = exact(store, space, store.get_vector(space.key, chinese), 10, exclude=chinese)
        english = exact(store, space, store.get_vector(space.key, chinese), 10, SearchFilter(lang="en"), exclude=chinese)
    assert [d for d, _ in local] != [d for d, _ in english]  # else the test would prove nothing
    drop_chinese(path, here=True)
    settings = Settings(store=mapped / "store", model="hash:64", vector_store=f"milvus:{path}")
    closed: list[str] = []
    real = MilvusVectors.close
    monkeypatch.setattr(MilvusVectors, "close", lambda self: (closed.append(self.collection), real(self)))
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as http:
        response = http.get(f"/corpus/documents/{chinese}")
        assert closed == []
    assert closed == [collection_name(space.key)]
    assert response.status_code == 200, response.text
    assert [(h["id"], h["score"]) for h in response.json()["neighbours"]] == [(d, round(s, 4)) for d, s in english]


def test_a_text_query_of_a_space_with_passages_is_refused_with_a_vector_store(corpus: Path, tmp_path: Path) -> None:
    """The collection holds document vectors only: a text query that would also rank passages
    is a 400 saying so (never half from Milvus, half from the local files); --like works."""
    from fastapi.testclient import TestClient

    from patscape.api import Settings, create_app

    with Store(tmp_path / "store") as store:
        pipeline.ingest(store, [corpus])
        pipeline.embed(store, "hash:64")  # with passages (the default)
        space = store.spaces()[0]
        assert space.params.get("passages")
        export_to_milvus(store, space, str(tmp_path / "passages.db"))
        some = store.load_vectors(space.key)[0][5]
    settings = Settings(store=tmp_path / "store", model="hash:64", vector_store=f"milvus:{tmp_path / 'passages.db'}")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as http:
        for mode in ("vector", "hybrid"):
            response = http.post("/corpus/search", json={"query": "lithium battery electrode", "mode": mode})
            assert response.status_code == 400, response.text
            assert response.json()["error"]["message"] == (
                f"the vector store holds document vectors only, and a text query of the space {space.key} also ranks "
                "its passage vectors, which are not there: to search passages, serve (or search) without "
                "--vector-store; --like ID and keyword searches work with it"
            )
        assert http.post("/corpus/search", json={"like": some, "k": 3}).status_code == 200
        assert http.post("/corpus/search", json={"query": "battery", "mode": "keyword"}).status_code == 200


def test_uploads_are_placed_through_the_vector_store_and_written_to_it(mapped: Path, tmp_path: Path) -> None:
    """POST /corpus/documents with --vector-store: the new patents are placed among the
    neighbours Milvus returns and their vectors (with lang, year and code prefixes) are written
    to the collection, so /corpus/search finds them."""
    import time

    from fastapi.testclient import TestClient

    from patscape.api import Settings, create_app

    store_path = copy_of(mapped, tmp_path)
    path = tmp_path / "uploads.db"
    with Store(store_path, create=False) as store:
        space = store.spaces()[0]
        export_to_milvus(store, space, str(path))
    drop_chinese(path, here=True)  # so that placement through Milvus shows: English neighbours only
    held = [json.loads(line) for line in (mapped / "held.jsonl").read_text(encoding="utf-8").splitlines()]
    fields = ("id", "title", "abstract", "lang", "date", "cpc", "ipc")
    settings = Settings(store=store_path, model="hash:64", vector_store=f"milvus:{path}")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as http:
        answer = http.post("/corpus/documents", json={"records": [{k: r.get(k) for k in fields} for r in held]})
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 120
        while (job := http.get(f"/corpus/jobs/{answer.json()['id']}").json())["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        assert job["state"] == "done" and job["placed"] == len(held), job
        assert job["message"] is None, job
        new = held[0]["id"]
        found = http.post("/corpus/search", json={"like": new, "k": 500})
        assert found.status_code == 200, found.text
        hits = [h["id"] for h in found.json()["hits"]]
        vectors = settings_vectors(http)
        rows = {r["id"]: r for r in vectors.client.query(
            vectors.collection, ids=[r["id"] for r in held], output_fields=["id", "lang", "year", "cpc_prefixes", "vector"])}
    assert {h["id"] for h in held[1:]} <= set(hits)  # the other uploads are found through Milvus
    with Store(store_path, create=False) as store:
        run = store.newest_run()
        placements = {p.doc_id: p for p in store.placements(run.id)}
        mapped_ids = {d for d, *_ in store.run_points(run.id)}
        for record in held:
            doc = store.get_document(record["id"])
            vector = store.get_vector(space.key, doc.id)
            row = rows[doc.id]
            assert (row["lang"], row["year"], list(row["cpc_prefixes"])) == (
                doc.lang or "", date_year(doc.date), code_prefixes([*doc.cpc, *doc.ipc]))
            assert np.allclose(np.asarray(row["vector"], dtype=np.float32), vector, atol=1e-6)
            # placed among the 10 nearest mapped documents Milvus holds (its Chinese rows are gone)
            english = [d for d, _ in exact(store, space, vector, 1000, SearchFilter(lang="en")) if d in mapped_ids][:10]
            assert list(placements[doc.id].neighbours) == english
    assert any(r["lang"] == "zh" for r in held)


def settings_vectors(http):  # type: ignore[no-untyped-def]
    """The server's open vector store (the app's corpus holds it)."""
    return http.app.state.corpus.vectors


def test_cli_search_closes_the_milvus_client(exported, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from patscape.cli.search import search

    store, space = exported[:2]
    uri = str(tmp_path / "cli-close.db")
    report = export_to_milvus(store, space, uri)
    closed: list[str] = []
    real = MilvusVectors.close

    def close(self: MilvusVectors) -> None:
        closed.append(self.collection)
        real(self)

    monkeypatch.setattr(MilvusVectors, "close", close)
    spec = f"milvus:{uri}?collection={report.collection}"
    done = CliRunner().invoke(search, [str(store.path), "battery", "-k", "3", "--vector-store", spec])
    assert done.exit_code == 0, done.output
    assert closed == [report.collection]
    failed = CliRunner().invoke(search, [str(store.path), "battery", "--space", "nope", "--vector-store", spec])
    assert failed.exit_code != 0
    assert closed == [report.collection] * 2  # closed when the search fails too
