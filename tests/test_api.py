"""The server, through real clients on loopback: openai, langchain-openai, ollama and plain HTTP.

Most API-shape tests serve the ``hash:256`` model (fast and deterministic); the end-to-end
tests and the corpus API serve the real default model (``minilm``) over a mapped slice of the
development corpus.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import langchain_openai
import numpy as np
import ollama
import openai
import pytest

from patscape.api import Settings, create_app
from patscape.embed.hashing import HashingEmbedder
from patscape.errors import InputError, ModelError, StoreError
from patscape.ingest import SUPPORTED
from patscape.store import Store
from patscape.text import display_phrase

from .api_helpers import (
    HOSTILE,
    LiveServer,
    assert_openai_error,
    copy_store,
    free_port,
    live_server,
    mapped_store,
)

# No skip when ../shared is missing: these tests must fail loudly then (CI always has it).

TEXTS = ["A buoyancy engine for an underwater glider", "satellite antenna with a phased array", "图像处理 装置"]


def vector(embedding: list[float] | str) -> np.ndarray:
    """An embedding as returned by the client: floats, or base64 when asked for explicitly."""
    if isinstance(embedding, str):
        return np.frombuffer(base64.b64decode(embedding), dtype="<f4")
    return np.asarray(embedding, dtype=np.float32)


def local_hash(texts: list[str], dims: int | None = None, embedder: HashingEmbedder | None = None) -> np.ndarray:
    return (embedder or HashingEmbedder(256)).embed(texts, "document", dims).vectors


# -- servers ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hash_server() -> Iterator[LiveServer]:
    settings = Settings(model="hash:256", max_inputs=8, max_tokens_per_input=2000, max_body_bytes=64 * 1024)
    with live_server(settings) as server:
        yield server


@pytest.fixture(scope="module")
def strict_server() -> Iterator[LiveServer]:
    settings = Settings(model="hash:256", api_key="sekrit-key", long_inputs="reject")
    with live_server(settings) as server:
        yield server


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = mapped_store(tmp_path_factory.mktemp("serve-store"), "minilm")
    return copy_store(built, tmp_path_factory.mktemp("api-store"))


@pytest.fixture(scope="module")
def minilm_server(store: Path) -> Iterator[LiveServer]:
    with live_server(Settings(store=store, model="minilm")) as server:
        yield server


def openai_client(server: LiveServer, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=120)


# -- the OpenAI API ----------------------------------------------------------------------------
def test_openai_client_float_and_base64_give_the_same_unit_vectors(hash_server: LiveServer) -> None:
    client = openai_client(hash_server)
    as_float = client.embeddings.create(input=TEXTS, model="hash:256", encoding_format="float")
    as_base64 = client.embeddings.create(input=TEXTS, model="hash:256", encoding_format="base64")
    default = client.embeddings.create(input=TEXTS, model="hash:256")  # asks for base64 and decodes it itself
    expected = local_hash(TEXTS)
    for response in (as_float, as_base64, default):
        got = np.array([vector(d.embedding) for d in response.data], dtype=np.float32)
        assert [d.index for d in response.data] == [0, 1, 2]
        np.testing.assert_allclose(got, expected, atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    tokens = sum(len(HashingEmbedder(256).token_spans(t)) for t in TEXTS)
    assert as_float.usage.prompt_tokens == as_float.usage.total_tokens == tokens
    assert as_float.model == "hash:256"


def test_base64_is_little_endian_float32(hash_server: LiveServer) -> None:
    with hash_server.client() as http:
        body = http.post("/v1/embeddings", json={"input": TEXTS[0], "model": "hash:256", "encoding_format": "base64"}).json()
    raw = base64.b64decode(body["data"][0]["embedding"])
    assert len(raw) == 256 * 4
    np.testing.assert_allclose(np.frombuffer(raw, dtype="<f4"), local_hash(TEXTS[:1])[0], atol=1e-7)
    assert body["object"] == "list" and body["data"][0]["object"] == "embedding"


def test_models_list_and_retrieve(hash_server: LiveServer) -> None:
    client = openai_client(hash_server)
    ids = [m.id for m in client.models.list().data]
    assert ids == ["hash:256", "hash:256:query", "hash:256:document", "hash:256:cluster"]
    assert client.models.retrieve("hash:256:query").id == "hash:256:query"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-4o")
    assert caught.value.status_code == 404
    assert caught.value.body == {
        "message": "the model 'gpt-4o' does not exist on this server; it serves hash:256, hash:256:query, "
                   "hash:256:document, hash:256:cluster",
        "type": "invalid_request_error", "param": "model_id", "code": "model_not_found"}


def test_task_by_model_suffix_and_by_field(hash_server: LiveServer) -> None:
    client = openai_client(hash_server)
    query = client.embeddings.create(input=TEXTS[1], model="hash:256:query", encoding_format="float")
    field = client.embeddings.create(input=TEXTS[1], model="hash:256", encoding_format="float", extra_body={"task": "query"})
    np.testing.assert_allclose(query.data[0].embedding, field.data[0].embedding, atol=1e-7)
    with hash_server.client() as http:
        bad = http.post("/v1/embeddings", json={"input": "x", "model": "hash:256", "task": "rerank"})
        error = assert_openai_error(bad, 422, "invalid_value")
        assert (error["param"], error["message"]) == ("task", "task: Input should be 'query', 'document' or 'cluster'")
        refused = http.post("/v1/embeddings", json={"input": "x", "model": "hash:256", "instruction": "Find prior art"})
        assert assert_openai_error(refused, 400, "instruction_unsupported")["param"] == "instruction"


def test_langchain_openai_embeddings(hash_server: LiveServer) -> None:
    embeddings = langchain_openai.OpenAIEmbeddings(
        model="hash:256", base_url=hash_server.url + "/v1", api_key="unused", check_embedding_ctx_length=False,
        max_retries=0,
    )
    documents = embeddings.embed_documents(TEXTS)
    query = embeddings.embed_query(TEXTS[0])
    np.testing.assert_allclose(np.array(documents), local_hash(TEXTS), atol=1e-6)
    np.testing.assert_allclose(query, local_hash(TEXTS[:1])[0], atol=1e-6)


def test_ollama_client_embed_embeddings_and_tags(hash_server: LiveServer) -> None:
    client = ollama.Client(host=hash_server.url)
    response = client.embed(model="hash:256", input=TEXTS)
    np.testing.assert_allclose(np.array(response.embeddings), local_hash(TEXTS), atol=1e-6)
    assert response.prompt_eval_count == sum(len(HashingEmbedder(256).token_spans(t)) for t in TEXTS)
    assert response.total_duration and response.total_duration > 0
    single = client.embed(model="hash:256:latest", input=TEXTS[0])
    np.testing.assert_allclose(single.embeddings[0], local_hash(TEXTS[:1])[0], atol=1e-6)
    legacy = client.embeddings(model="hash:256", prompt=TEXTS[0])
    np.testing.assert_allclose(legacy.embedding, local_hash(TEXTS[:1])[0], atol=1e-6)
    names = [m.model for m in client.list().models]
    assert names == ["hash:256:latest", "hash:256:query", "hash:256:document", "hash:256:cluster"]
    with pytest.raises(ollama.ResponseError) as caught:
        client.embed(model="nomic-embed-text", input="x")
    assert caught.value.status_code == 404
    assert caught.value.error["code"] == "model_not_found" and caught.value.error["param"] == "model"


def test_ollama_truncate_false_refuses_long_input(hash_server: LiveServer) -> None:
    long_text = " ".join(f"word{i}" for i in range(700))  # hash:256 reads 512 tokens at once
    with hash_server.client() as http:
        chunked = http.post("/api/embed", json={"model": "hash:256", "input": long_text})
        assert chunked.status_code == 200 and chunked.json()["prompt_eval_count"] == 700
        refused = http.post("/api/embed", json={"model": "hash:256", "input": long_text, "truncate": False})
        assert_openai_error(refused, 400, "context_length_exceeded")


def test_dimensions_refused_for_models_without_matryoshka(hash_server: LiveServer) -> None:
    client = openai_client(hash_server)
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(input="x", model="hash:256", dimensions=64)
    error = caught.value.body
    assert caught.value.status_code == 400
    assert error["param"] == "dimensions" and error["code"] == "dimensions_unsupported"


def test_dimensions_with_a_matryoshka_model() -> None:
    def loader(name: str) -> HashingEmbedder:
        model = HashingEmbedder(256)
        model.profile = dataclasses.replace(model.profile, matryoshka=True, min_dims=32)
        return model

    reference = loader("hash:256")
    texts = [" ".join(f"{word}{i}" for i in range(60)) for word in ("glider", "antenna", "pixel")]
    with live_server(Settings(model="hash:256"), loader=loader) as server:
        client = openai_client(server)
        for fmt in ("float", "base64"):
            response = client.embeddings.create(input=texts, model="hash:256", dimensions=64, encoding_format=fmt)
            got = np.array([vector(d.embedding) for d in response.data], dtype=np.float32)
            assert got.shape == (3, 64)
            full = local_hash(texts, embedder=reference)
            cut = full[:, :64] / np.linalg.norm(full[:, :64], axis=1, keepdims=True)
            np.testing.assert_allclose(got, cut, atol=1e-6)
        with pytest.raises(openai.BadRequestError) as caught:
            client.embeddings.create(input="x", model="hash:256", dimensions=16)
        assert caught.value.status_code == 400
        assert caught.value.body == {"message": "dimensions must be between 32 and 256 for hash:256",
                                     "type": "invalid_request_error", "param": "dimensions", "code": "invalid_value"}


def test_long_input_is_chunked_and_counted(hash_server: LiveServer) -> None:
    long_text = " ".join(f"term{i % 900}" for i in range(1500))
    response = openai_client(hash_server).embeddings.create(input=long_text, model="hash:256", encoding_format="float")
    assert response.usage.prompt_tokens == 1500
    expected = HashingEmbedder(256).embed([long_text], "document").vectors[0]  # 3 windows, pooled
    np.testing.assert_allclose(response.data[0].embedding, expected, atol=1e-6)


def test_long_input_rejected_by_policy(strict_server: LiveServer) -> None:
    client = openai_client(strict_server, key="sekrit-key")
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(input=" ".join(["word"] * 600), model="hash:256")
    assert caught.value.status_code == 400 and caught.value.body["code"] == "context_length_exceeded"
    assert client.embeddings.create(input=" ".join(["word"] * 500), model="hash:256").usage.prompt_tokens == 500


# -- bad requests: status and an OpenAI-shaped error ---------------------------------------------
def test_api_key_is_required_when_set(strict_server: LiveServer) -> None:
    with strict_server.client() as http:
        missing = http.post("/v1/embeddings", json={"input": "x", "model": "hash:256"})
        assert assert_openai_error(missing, 401, "invalid_api_key")
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = http.post("/v1/embeddings", json={"input": "x", "model": "hash:256"}, headers={"Authorization": "Bearer nope"})
        assert_openai_error(wrong, 401, "invalid_api_key")
        assert_openai_error(http.post("/api/embed", json={"input": "x", "model": "hash:256"}), 401, "invalid_api_key")
        assert http.get("/health").status_code == 200  # health stays open for probes
    with pytest.raises(openai.AuthenticationError) as caught:
        openai_client(strict_server, key="wrong").embeddings.create(input="x", model="hash:256")
    assert caught.value.status_code == 401
    assert caught.value.body == {"message": "incorrect API key", "type": "invalid_request_error", "param": None,
                                 "code": "invalid_api_key"}
    keyed_openai = openai_client(strict_server, key="sekrit-key").embeddings.create(input="x", model="hash:256")
    np.testing.assert_allclose([vector(d.embedding) for d in keyed_openai.data], local_hash(["x"]), atol=1e-6)
    with pytest.raises(ollama.ResponseError) as refused:
        ollama.Client(host=strict_server.url).embed(model="hash:256", input="x")
    assert refused.value.status_code == 401
    assert refused.value.error == {"message": "this server needs an API key: send `Authorization: Bearer <key>`",
                                   "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
    keyed = ollama.Client(host=strict_server.url, headers={"Authorization": "Bearer sekrit-key"})
    np.testing.assert_allclose(keyed.embed(model="hash:256", input="x").embeddings, local_hash(["x"]), atol=1e-6)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"input": "x", "model": "no-such-model"}, 404, "model_not_found"),
        ({"input": "", "model": "hash:256"}, 400, "empty_input"),
        ({"input": [], "model": "hash:256"}, 400, "empty_input"),
        ({"input": ["a", "  "], "model": "hash:256"}, 400, "empty_input"),
        ({"input": ["x"] * 9, "model": "hash:256"}, 400, "too_many_inputs"),
        ({"input": " ".join(["w"] * 2001), "model": "hash:256"}, 400, "context_length_exceeded"),
        ({"input": [101, 102], "model": "hash:256"}, 400, "tokens_unsupported"),
        ({"input": [[101], [102]], "model": "hash:256"}, 400, "tokens_unsupported"),
        ({"model": "hash:256"}, 422, "invalid_value"),
        ({"input": "x"}, 422, "invalid_value"),
        ({"input": "x", "model": "hash:256", "encoding_format": "hex"}, 422, "invalid_value"),
        ({"input": [1, "a"], "model": "hash:256"}, 422, "invalid_value"),
        ({"input": "x", "model": "hash:256", "dimensions": "many"}, 422, "invalid_value"),
    ],
)
def test_bad_embedding_requests(hash_server: LiveServer, body: dict, status: int, code: str) -> None:
    with hash_server.client() as http:
        error = assert_openai_error(http.post("/v1/embeddings", json=body), status, code)
    if code == "too_many_inputs":
        assert "too many inputs" in error["message"]  # what Open WebUI looks for to split batches


def test_malformed_json_wrong_method_and_unknown_route(hash_server: LiveServer) -> None:
    with hash_server.client() as http:
        bad_json = http.post("/v1/embeddings", content=b'{"input": ', headers={"Content-Type": "application/json"})
        assert assert_openai_error(bad_json, 422, "invalid_value")["message"] == "the request body is not valid JSON"
        assert_openai_error(http.get("/v1/embeddings"), 405, "method_not_allowed")
        assert_openai_error(http.get("/v2/anything"), 404, "not_found")
        assert_openai_error(http.get("/corpus/runs"), 404, "no_store")  # served without a store


def test_body_size_limit(hash_server: LiveServer) -> None:
    big = {"input": "word " * 20_000, "model": "hash:256"}  # 100 kB > 64 kB
    with hash_server.client() as http:
        assert_openai_error(http.post("/v1/embeddings", json=big), 413, "request_too_large")

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted while reading
            yield b'{"model": "hash:256", "input": "'
            for _ in range(100):
                yield b"word " * 200
            yield b'"}'

        streamed = http.post("/v1/embeddings", content=chunks(), headers={"Content-Type": "application/json"})
        assert_openai_error(streamed, 413, "request_too_large")


# -- batching, queue and readiness -----------------------------------------------------------------
class GatedEmbedder(HashingEmbedder):
    """hash:256 whose first model call waits for a gate; records the size of every call."""

    def __init__(self) -> None:
        super().__init__(256)
        self.gate = threading.Event()
        self.calls: list[int] = []

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        if not self.gate.wait(timeout=60):
            raise RuntimeError("the test never opened the gate")
        return super().embed_batch(texts)


def wait_for(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_requests_are_batched_together_and_routed_back() -> None:
    model = GatedEmbedder()
    texts = [f"patent number {i} about topic {i % 5} and widget {i * 7}" for i in range(12)]
    results: dict[int, list[float]] = {}
    with live_server(Settings(model="hash:256", max_batch=8), loader=lambda name: model) as server:
        batcher = server.app.state.engine.batcher

        def call(i: int) -> None:
            with server.client() as http:
                response = http.post("/v1/embeddings", json={"input": texts[i], "model": "hash:256", "encoding_format": "float"})
                results[i] = response.json()["data"][0]["embedding"]

        threads = [threading.Thread(target=call, args=(0,))]
        threads[0].start()
        wait_for(lambda: len(model.calls) == 1)  # the first request holds the model
        threads += [threading.Thread(target=call, args=(i,)) for i in range(1, 12)]
        for thread in threads[1:]:
            thread.start()
        wait_for(lambda: batcher.depth == 11)  # the others wait in the queue
        model.gate.set()
        for thread in threads:
            thread.join(timeout=60)
        with server.client() as http:
            metrics = http.get("/metrics").text
    assert model.calls == [1, 8, 3]  # 11 waiting texts in calls of at most max_batch
    expected = local_hash(texts)
    for i in range(12):
        np.testing.assert_allclose(results[i], expected[i], atol=1e-6)  # each answer is its own text's
    assert "patscape_batch_size_count 3.0" in metrics
    assert "patscape_batch_size_sum 12.0" in metrics


def test_batches_of_long_texts_keep_to_the_token_budget() -> None:
    model = GatedEmbedder()
    texts = [" ".join(f"w{i}x{j}" for j in range(300)) for i in range(8)]  # 300 tokens each
    done: list[int] = []
    settings = Settings(model="hash:256", max_batch=8, max_batch_tokens=1000)
    with live_server(settings, loader=lambda name: model) as server:
        batcher = server.app.state.engine.batcher

        def call(i: int) -> None:
            with server.client() as http:
                done.append(http.post("/v1/embeddings", json={"input": texts[i], "model": "hash:256"}).status_code)

        threads = [threading.Thread(target=call, args=(0,))]
        threads[0].start()
        wait_for(lambda: len(model.calls) == 1)
        for i in range(1, 8):  # one after the other, so the queue order is known
            threads.append(threading.Thread(target=call, args=(i,)))
            threads[-1].start()
            wait_for(lambda i=i: batcher.depth == i)
        model.gate.set()
        for thread in threads:
            thread.join(timeout=60)
    assert done == [200] * 8
    assert model.calls == [1, 3, 3, 1]  # 3 x 300 tokens fit in 1000, a fourth does not


def test_full_queue_answers_429_with_retry_after() -> None:
    model = GatedEmbedder()
    with live_server(Settings(model="hash:256", max_batch=2, queue_size=4, max_inputs=4), loader=lambda name: model) as server:
        batcher = server.app.state.engine.batcher
        statuses: list[int] = []

        def call(inputs: list[str]) -> None:
            with server.client() as http:
                statuses.append(http.post("/v1/embeddings", json={"input": inputs, "model": "hash:256"}).status_code)

        first = threading.Thread(target=call, args=(["held"],))
        first.start()
        wait_for(lambda: len(model.calls) == 1)
        second = threading.Thread(target=call, args=(["a", "b", "c", "d"],))
        second.start()
        wait_for(lambda: batcher.depth == 4)
        with server.client() as http:
            refused = http.post("/v1/embeddings", json={"input": "one more", "model": "hash:256"})
        error = assert_openai_error(refused, 429, "queue_full")
        assert int(refused.headers["retry-after"]) >= 1
        assert error["type"] == "rate_limit_error"
        with pytest.raises(openai.RateLimitError):
            openai_client(server).embeddings.create(input="and another", model="hash:256")
        model.gate.set()
        first.join(timeout=60)
        second.join(timeout=60)
        assert statuses == [200, 200]
        with server.client() as http:
            assert 'patscape_rejected_total{reason="queue_full"} 2.0' in http.get("/metrics").text


def test_health_is_ready_only_once_the_model_is_loaded() -> None:
    release = threading.Event()

    def slow_loader(name: str) -> HashingEmbedder:
        release.wait(timeout=60)
        return HashingEmbedder(256)

    with (
        live_server(Settings(model="hash:256"), loader=slow_loader, wait_ready=False) as server,
        server.client() as http,
    ):
        health = http.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "loading"
        loading = http.post("/v1/embeddings", json={"input": "x", "model": "hash:256"})
        error = assert_openai_error(loading, 503, "model_loading")
        assert error["message"] == "the model hash:256 is still loading; retry shortly" and error["type"] == "server_error"
        assert loading.headers["retry-after"] == health.headers["retry-after"] == "2"
        release.set()
        wait_for(lambda: http.get("/health").status_code == 200)
        assert http.post("/v1/embeddings", json={"input": "x", "model": "hash:256"}).status_code == 200


def test_a_model_that_fails_to_load_is_reported() -> None:
    def broken(name: str) -> HashingEmbedder:
        raise ModelError("weights are missing")

    with (
        live_server(Settings(model="hash:256"), loader=broken, wait_ready=False) as server,
        server.client() as http,
    ):
        wait_for(lambda: http.get("/health").json()["status"] == "failed")
        health = http.get("/health")
        assert health.status_code == 503 and health.json()["error"] == "ModelError: weights are missing"
        error = assert_openai_error(http.post("/v1/embeddings", json={"input": "x", "model": "hash:256"}), 503, "model_failed")
        assert error["message"] == "the model hash:256 could not be loaded: ModelError: weights are missing"


def test_settings_and_store_are_checked_at_creation(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(StoreError) as caught:
        create_app(Settings(store=missing))
    assert type(caught.value) is StoreError
    assert str(caught.value) == f"{missing} is not a patscape store (no patscape.sqlite); run `patscape ingest` first"
    with pytest.raises(InputError) as caught:
        create_app(Settings(model="hash:256", max_inputs=10, queue_size=5))
    assert type(caught.value) is InputError and str(caught.value) == "max_inputs (10) cannot exceed queue_size (5)"


# -- the real default model, end to end ----------------------------------------------------------
def test_minilm_end_to_end_with_the_openai_client(minilm_server: LiveServer, minilm) -> None:  # type: ignore[no-untyped-def]
    client = openai_client(minilm_server)
    texts = ["An underwater glider changes its buoyancy to move.", "Beam steering of a phased array antenna."]
    response = client.embeddings.create(input=texts, model="minilm")
    got = np.array([vector(d.embedding) for d in response.data], dtype=np.float32)
    local = minilm.embed(texts, "document")
    expected = local.vectors
    assert got.shape == (2, 384)
    np.testing.assert_allclose(got, expected, atol=1e-5)  # the library's embedding of each text
    assert response.usage.prompt_tokens == sum(local.n_tokens)
    # Token ids are decoded with the model's own tokenizer.
    ids = minilm.model.tokenizer.encode(texts[1], add_special_tokens=False)
    from_ids = client.embeddings.create(input=[ids], model="sentence-transformers/all-MiniLM-L6-v2", encoding_format="float")
    np.testing.assert_allclose(from_ids.data[0].embedding, expected[1], atol=1e-5)
    assert from_ids.usage.prompt_tokens == len(ids)
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(input="x", model="minilm", dimensions=128)
    assert caught.value.status_code == 400
    assert (caught.value.body["param"], caught.value.body["code"]) == ("dimensions", "dimensions_unsupported")
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(input=[[999_999]], model="minilm")
    assert caught.value.status_code == 400 and caught.value.body["code"] == "invalid_token"


# -- the corpus API ------------------------------------------------------------------------------
def test_corpus_overview_runs_and_topics(minilm_server: LiveServer, store: Path) -> None:
    with minilm_server.client() as http:
        corpus = http.get("/corpus").json()
        runs = http.get("/corpus/runs").json()
        run = http.get("/corpus/runs/latest").json()
        topics = http.get("/corpus/runs/latest/topics").json()
        assert_openai_error(http.get("/corpus/runs/99"), 404, "not_found")
        assert_openai_error(http.get("/corpus/runs/soon"), 404, "not_found")
    with Store(store, create=False) as db:
        info = db.get_run()
        documents, languages = db.count_documents(), db.language_counts()
        mapped = db.run_points(info.id)
        stored = db.run_topics(info.id)
        placed = db.placements(info.id)
    assert corpus["documents"] == documents and corpus["languages"] == languages and corpus["model"] == "minilm"
    assert corpus["model_languages"] == ["en"] and corpus["model_multilingual"] is False
    assert [s["languages"] for s in corpus["spaces"]] == [["en"]]  # the minilm space's, as stored
    assert [r["id"] for r in runs] == [run["id"]] == [info.id] and runs == [run]
    assert (run["space"], run["seed"], run["params"]) == (info.space, info.seed, info.params)
    assert run["documents"] == len(mapped) and run["topics"] == len(stored) and run["placed"] == len(placed)
    assert run["metrics"] == info.metrics  # every metric of the run, with its stored value
    assert run["metrics"]["silhouette_cosine"] == info.metrics["silhouette_cosine"]
    # each topic as the store holds it: label, size, keywords of its main language, codes with their shares
    assert topics["run"] == info.id and [t["cluster"] for t in topics["topics"]] == [t["cluster"] for t in stored]
    for topic, held in zip(topics["topics"], stored):
        assert held["label"] and held["keywords"] and held["codes"]  # the run names every topic
        assert (topic["label"], topic["size"], topic["languages"]) == (held["label"], held["size"], held["languages"])
        main = max(held["languages"], key=held["languages"].__getitem__)
        assert topic["keywords"] == [display_phrase(word) for word, _ in held["keywords"][main]]
        assert topic["keywords_by_language"] == {
            lang: [display_phrase(word) for word, _ in words] for lang, words in held["keywords"].items()}
        assert topic["codes"] == [{"scheme": scheme, "code": entry[0], "share": entry[1],
                                   "title": entry[2] if scheme.endswith("_main") else None}
                                  for scheme, entries in held["codes"].items() for entry in entries]
        assert {c["scheme"] for c in topic["codes"]} <= {"cpc", "ipc", "cpc_main", "ipc_main"}
        assert topic["representatives"] == [{"id": r["id"], "title": r["title"]} for r in held["representatives"]]
    sizes = {t["cluster"]: t["size"] for t in topics["topics"]}
    assert sum(sizes.values()) == sum(1 for p in mapped if p[1] >= 0)


def test_map_evolution_and_graph(minilm_server: LiveServer, store: Path) -> None:
    with minilm_server.client() as http:
        view = http.get("/corpus/runs/latest/map").json()
        evolution = http.get("/corpus/runs/latest/evolution").json()
        graph = http.get("/corpus/runs/latest/graph").json()
        topics = http.get("/corpus/runs/latest/topics").json()["topics"]
    with Store(store, create=False) as db:
        info = db.get_run()
        mapped = {p[0]: p for p in db.run_points(info.id)}
        stored = db.run_topics(info.id)
    original = [p for p in view["points"] if not p["placed"]]
    assert len(original) == len(mapped) == view["count"] - view["placed"]
    for point in original:
        _, cluster, _, x, y = mapped[point["id"]]
        assert point["cluster"] == cluster and abs(point["x"] - x) < 1e-3 and abs(point["y"] - y) < 1e-3
    assert any(p["id"] == HOSTILE["id"] and p["title"] == HOSTILE["title"] for p in view["points"])
    # the run's years and window, and each topic's patents per year, as the store holds them
    assert evolution["years"] == info.data["years"] == sorted(evolution["years"])
    for key in ("recent_from", "recent_to", "partial_year", "data_to", "corpus_growth"):
        assert evolution[key] == info.data.get(key), key
    assert evolution["topics"] == [
        {"cluster": t["cluster"], "label": t["label"], "growth": t["evolution"]["growth"], "momentum": t["evolution"]["momentum"],
         "per_year": {str(y): n for y, n in t["evolution"]["per_year"].items()}} for t in stored]
    for t in evolution["topics"]:
        assert all(str(y) in map(str, evolution["years"]) for y in t["per_year"])
    # each topic's growth comes with its evidence: its patents in the window, and the corpus's rate
    window = range(evolution["recent_from"], evolution["recent_to"] + 1)
    years_of = {t["cluster"]: t["per_year"] for t in evolution["topics"]}
    for t in topics:
        assert t["recent"] == sum(n for y, n in years_of[t["cluster"]].items() if int(y) in window)
        assert t["corpus_growth"] == evolution["corpus_growth"]
    # the graph: a node per topic at the mean of its points, the run's links as edges
    assert [(n["id"], n["label"], n["size"]) for n in graph["nodes"]] == [(t["cluster"], t["label"], t["size"]) for t in stored]
    for node in graph["nodes"]:
        xy = np.array([(p[3], p[4]) for p in mapped.values() if p[1] == node["id"]])
        np.testing.assert_allclose([node["x"], node["y"]], xy.mean(axis=0), atol=1e-9)
    assert info.data["links"] and graph["links"] == [
        {"source": link["source"], "target": link["target"], "similarity": link["similarity"], "citations": link["citations"]}
        for link in info.data["links"]]


def stored_ranking(store: Path, target: np.ndarray, k: int, exclude: str | None = None) -> list[tuple[str, float]]:
    """The ``k`` documents of the run's space nearest ``target`` by cosine, from the store's vectors."""
    with Store(store, create=False) as db:
        ids, vectors = db.load_vectors(db.get_run().space)
    scores = vectors @ target
    return sorted(((d, float(s)) for d, s in zip(ids, scores) if d != exclude), key=lambda kv: (-kv[1], kv[0]))[:k]


def stored_topics_of(store: Path, ids: list[str]) -> dict[str, tuple[int | None, str | None]]:
    """(cluster, label) of ``ids`` in the newest run, as the store holds them (outliers: ``outlier``)."""
    with Store(store, create=False) as db:
        run = db.get_run()
        labels = {t["cluster"]: t["label"] for t in db.run_topics(run.id)}
        points = {d: db.run_point(run.id, d) for d in ids}
    return {d: (p[0], labels.get(p[0], "outlier")) if p is not None else (None, None) for d, p in points.items()}


def test_search_by_text_by_id_and_modes(minilm_server: LiveServer, store: Path, minilm) -> None:  # type: ignore[no-untyped-def]
    with minilm_server.client() as http:
        text = http.post("/corpus/search", json={"query": "phased array antenna beam steering", "k": 5}).json()
        like = http.post("/corpus/search", json={"like": HOSTILE["id"], "k": 5}).json()
        keyword = http.post("/corpus/search", json={"query": "radome feed network", "k": 3, "mode": "keyword"}).json()
        hybrid = http.post("/corpus/search", json={"query": "satellite antenna", "k": 4, "mode": "hybrid"}).json()
        assert_openai_error(http.post("/corpus/search", json={"query": "  "}), 400, "invalid_input")
        assert_openai_error(http.post("/corpus/search", json={"query": "a", "like": "b"}), 400, "invalid_input")
        assert_openai_error(http.post("/corpus/search", json={"like": "NO-SUCH-ID"}), 404, "not_found")
        assert assert_openai_error(http.post("/corpus/search", json={"query": "a", "k": 0}), 422, "invalid_value")["param"] == "k"
    # vector search: the documents nearest the library's embedding of the query, by the store's vectors
    query = minilm.embed(["phased array antenna beam steering"], "query").vectors[0]
    expected = stored_ranking(store, query, 5)
    assert [h["id"] for h in text["hits"]] == [d for d, _ in expected]
    np.testing.assert_allclose([h["score"] for h in text["hits"]], [score for _, score in expected], atol=2e-4)
    assert HOSTILE["id"] in [h["id"] for h in text["hits"]]
    # like: the documents nearest the liked one's stored vector, itself left out
    with Store(store, create=False) as db:
        liked = db.get_vector(db.get_run().space, HOSTILE["id"])
    expected_like = stored_ranking(store, liked, 5, exclude=HOSTILE["id"])
    assert [h["id"] for h in like["hits"]] == [d for d, _ in expected_like]
    np.testing.assert_allclose([h["score"] for h in like["hits"]], [score for _, score in expected_like], atol=1e-4)
    # keyword: the store's BM25 ranking
    with Store(store, create=False) as db:
        bm25 = db.keyword_search("radome feed network", 500)[:3]
    assert [(h["id"], h["score"]) for h in keyword["hits"]] == [(d, round(score, 4)) for d, score in bm25]
    assert HOSTILE["id"] in [h["id"] for h in keyword["hits"]]
    assert (keyword["mode"], len(hybrid["hits"]), hybrid["mode"]) == ("keyword", 4, "hybrid")
    # every hit carries its topic in the run as the store holds it
    for hits in (text["hits"], like["hits"], keyword["hits"], hybrid["hits"]):
        held = stored_topics_of(store, [h["id"] for h in hits])
        assert [(h["cluster"], h["label"]) for h in hits] == [held[h["id"]] for h in hits]
    # hybrid is the reciprocal-rank fusion of the vector and keyword rankings (100 candidates each)
    with minilm_server.client() as http:
        vector_ranking = http.post("/corpus/search", json={"query": "satellite antenna", "k": 100}).json()["hits"]
        keyword_ranking = http.post("/corpus/search", json={"query": "satellite antenna", "k": 100, "mode": "keyword"}).json()["hits"]
    fused: dict[str, float] = {}
    for ranking in (vector_ranking, keyword_ranking):
        for rank, hit in enumerate(ranking, start=1):
            fused[hit["id"]] = fused.get(hit["id"], 0.0) + 1.0 / (60 + rank)
    expected = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:4]
    assert [h["id"] for h in hybrid["hits"]] == [doc_id for doc_id, _ in expected]
    assert [h["score"] for h in hybrid["hits"]] == [round(score, 4) for _, score in expected]


def test_search_filters_by_years_and_code(minilm_server: LiveServer, store: Path) -> None:
    from patscape.filters import SearchFilter
    from patscape.store import Store

    body = {"query": "satellite antenna", "k": 50, "years": "2010-2014", "cpc": "H01Q"}
    with minilm_server.client() as http:
        hits = http.post("/corpus/search", json=body).json()["hits"]
        docs = {h["id"]: http.get(f"/corpus/documents/{h['id']}").json() for h in hits}
        keyword = http.post("/corpus/search", json={**body, "mode": "keyword", "query": "antenna"}).json()["hits"]
        assert_openai_error(http.post("/corpus/search", json={"query": "a", "years": "soon"}), 400, "invalid_input")
        assert_openai_error(http.post("/corpus/search", json={"query": "a", "cpc": "H01Q' OR 1=1"}), 400, "invalid_input")
        assert_openai_error(http.post("/corpus/search", json={"query": "a", "cpc": "C07D"}), 404, "not_found")
    with Store(store, create=False) as db:
        expected = db.count_matching(SearchFilter.parse(years="2010-2014", cpc="H01Q"))
    assert 0 < len(hits) == min(50, expected)
    assert all(2010 <= int(d["date"][:4]) <= 2014 and any(c.startswith("H01Q") for c in d["cpc"] + d["ipc"])
               for d in docs.values())
    assert keyword and all(2010 <= int(h["date"][:4]) <= 2014 for h in keyword)
    with Store(store, create=False) as db:  # the store's BM25 ranking of what the filter keeps
        ranked = db.keyword_search("antenna", 500)
        kept = db.filter_ids([d for d, _ in ranked], SearchFilter.parse(years="2010-2014", cpc="H01Q"))
    assert [h["id"] for h in keyword] == [d for d, _ in ranked if d in kept][:50]


def test_document_with_its_ten_neighbours(minilm_server: LiveServer, store: Path) -> None:
    with minilm_server.client() as http:
        doc = http.get(f"/corpus/documents/{HOSTILE['id']}").json()
        assert_openai_error(http.get("/corpus/documents/NO-SUCH-ID"), 404, "not_found")
    assert doc["title"] == HOSTILE["title"] and doc["abstract"] == HOSTILE["abstract"]
    assert doc["cpc"] == HOSTILE["cpc"] and doc["assignee"] == HOSTILE["assignee"] and doc["date"] == HOSTILE["date"]
    # its place and topic in the run, as the store holds them
    with Store(store, create=False) as db:
        run = db.get_run()
        cluster, x, y = db.run_point(run.id, HOSTILE["id"])
        neighbours = stored_ranking(store, db.get_vector(run.space, HOSTILE["id"]), 10, exclude=HOSTILE["id"])
    assert (doc["run"], doc["cluster"], doc["placed"]) == (run.id, cluster, False)
    assert (doc["cluster"], doc["label"]) == stored_topics_of(store, [HOSTILE["id"]])[HOSTILE["id"]]
    assert abs(doc["x"] - x) < 1e-9 and abs(doc["y"] - y) < 1e-9
    # its ten nearest documents by the store's vectors, itself left out
    assert [n["id"] for n in doc["neighbours"]] == [d for d, _ in neighbours]
    np.testing.assert_allclose([n["score"] for n in doc["neighbours"]], [score for _, score in neighbours], atol=1e-4)


def wait_for_job(http: httpx.Client, job: dict, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while job["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
        job = http.get(f"/corpus/jobs/{job['id']}").json()
    return job


def test_upload_json_records_are_placed_on_the_map(minilm_server: LiveServer, store: Path) -> None:
    records = [
        {"id": "UP-GLIDER", "title": "Underwater glider with a variable buoyancy engine",
         "abstract": "An autonomous underwater vehicle glides by pumping oil between an internal reservoir and an "
                     "external bladder, changing its buoyancy; wings turn the vertical motion into forward motion.",
         "date": "2016-05-01", "cpc": ["B63G8/00"], "lang": "en",
         "claims": ["1. An underwater glider comprising a buoyancy engine.", "2. The glider of claim 1, with wings."],
         "description": "FIELD\nThe invention relates to ocean gliders.\nBACKGROUND\nGliders sample the ocean for months."},
        {"id": "UP-SAT", "title": "Ground terminal for low earth orbit satellite constellations",
         "abstract": "A user terminal tracks satellites with an electronically steered antenna array and hands over "
                     "between satellites of the constellation.", "date": "2017-02-01", "cpc": ["H04B7/185"]},
    ]
    with minilm_server.client() as http:
        job = http.post("/corpus/documents", json={"records": records})
        assert job.status_code == 202
        done = wait_for_job(http, job.json())
        assert done["state"] == "done", done
        assert done["added"] == 2 and done["embedded"] == 2 and done["placed"] == 2
        assert sorted(done["documents"]) == ["UP-GLIDER", "UP-SAT"]
        view = http.get("/corpus/runs/latest/map").json()
        doc = http.get("/corpus/documents/UP-GLIDER").json()
        topics = {t["cluster"]: t for t in http.get("/corpus/runs/latest/topics").json()["topics"]}
        found = http.post("/corpus/search", json={"query": "buoyancy engine glider", "k": 3}).json()
        assert_openai_error(http.get("/corpus/jobs/nope"), 404, "not_found")
        assert assert_openai_error(http.post("/corpus/documents", json={"records": []}), 422, "invalid_value")["param"] == "records"
    placed = {p["id"]: p for p in view["points"] if p["placed"]}
    assert set(placed) == {"UP-GLIDER", "UP-SAT"} and view["placed"] == 2
    assert doc["placed"] and doc["cluster"] == placed["UP-GLIDER"]["cluster"] and len(doc["neighbours"]) == 10
    assert doc["claims"] == "1. An underwater glider comprising a buoyancy engine.\n2. The glider of claim 1, with wings."
    assert doc["description"].split("\n") == ["FIELD", "The invention relates to ocean gliders.", "BACKGROUND",
                                               "Gliders sample the ocean for months."]
    assert sum(t["placed"] for t in topics.values()) == 2
    assert found["hits"][0]["id"] == "UP-GLIDER" and found["hits"][0]["cluster"] == doc["cluster"]
    # The place is the similarity-weighted mean of the nearest mapped neighbours, the topic their vote.
    with Store(store, create=False) as db:
        run = db.get_run()
        ids, vectors = db.load_vectors(run.space)
        row = {d: i for i, d in enumerate(ids)}
        mapped = {p[0]: p for p in db.run_points(run.id)}
    with sqlite3.connect(store / "patscape.sqlite") as raw:
        neighbours = json.loads(raw.execute(
            "SELECT neighbours FROM serve_placements WHERE run_id = ? AND doc_id = 'UP-GLIDER'", (run.id,)).fetchone()[0])
    mapped_ids = list(mapped)
    sims_all = vectors[[row[d] for d in mapped_ids]] @ vectors[row["UP-GLIDER"]]
    assert neighbours == [mapped_ids[i] for i in np.argsort(-sims_all, kind="stable")[:10]]
    weights = np.clip(np.array([vectors[row[n]] @ vectors[row["UP-GLIDER"]] for n in neighbours]), 1e-6, None)
    xy = np.array([(mapped[n][3], mapped[n][4]) for n in neighbours])
    np.testing.assert_allclose([placed["UP-GLIDER"]["x"], placed["UP-GLIDER"]["y"]], weights @ xy / weights.sum(), atol=1e-3)
    votes: dict[int, float] = {}
    for n, w in zip(neighbours, weights):
        votes[mapped[n][1]] = votes.get(mapped[n][1], 0.0) + float(w)
    assert placed["UP-GLIDER"]["cluster"] == max(votes, key=votes.__getitem__)


def test_multipart_upload_of_files(minilm_server: LiveServer, tmp_path: Path) -> None:
    jsonl = json.dumps({"id": "UP-FILE-1", "title": "Radar for wind profiling with a phased array",
                        "abstract": "A Doppler radar measures wind speed at several heights.", "lang": "en"})
    text = "Solar cell with a textured surface\n\nA photovoltaic cell whose surface is etched to trap light."
    with minilm_server.client() as http:
        response = http.post("/corpus/uploads", files=[
            ("files", ("more.jsonl", jsonl.encode(), "application/json")),
            ("files", ("../../etc/solar cell.txt", text.encode(), "text/plain")),
        ])
        assert response.status_code == 202
        done = wait_for_job(http, response.json())
        assert done["state"] == "done" and done["added"] == 2 and done["placed"] == 2, done
        # the path in the file name is dropped: the file lands in the job's folder and is named by its base name
        assert done["documents"] == ["UP-FILE-1", "solar_cell"]
        solar = http.get("/corpus/documents/solar_cell").json()
        assert solar["title"] == "Solar cell with a textured surface"
        assert solar["source"] == f"upload {done['id']}: solar_cell.txt"
        assert not Path("/etc/solar cell.txt").exists() and not Path("/etc/solar_cell.txt").exists()
        bad = wait_for_job(http, http.post("/corpus/uploads", files=[("files", ("deck.pptx", b"PK..", "x"))]).json())
        assert bad["state"] == "failed" and bad["message"].endswith(f"deck.pptx: unsupported file type (supported: {SUPPORTED})")
        jobs = http.get("/corpus/jobs").json()
    assert {done["id"], bad["id"]} <= {j["id"] for j in jobs}


#: Every operation of the API: (path, method) -> the schema of its body, its success status and the
#: schema of that answer (``X[]``: a list of X).
OPERATIONS = {
    ("/v1/embeddings", "post"): ("EmbeddingCreate", "200", "EmbeddingListPublic"),
    ("/v1/models", "get"): (None, "200", "ModelListPublic"),
    ("/v1/models/{model_id}", "get"): (None, "200", "ModelPublic"),
    ("/api/embed", "post"): ("EmbedCreate", "200", "EmbedPublic"),
    ("/api/embeddings", "post"): ("EmbeddingsCreate", "200", "EmbeddingsPublic"),
    ("/api/tags", "get"): (None, "200", "TagsPublic"),
    ("/api/version", "get"): (None, "200", "VersionPublic"),
    ("/health", "get"): (None, "200", "HealthPublic"),
    ("/metrics", "get"): (None, "200", None),  # Prometheus text
    ("/corpus", "get"): (None, "200", "CorpusPublic"),
    ("/corpus/search", "post"): ("SearchCreate", "200", "SearchPublic"),
    ("/corpus/documents", "post"): ("RecordsCreate", "202", "JobPublic"),
    ("/corpus/documents/{doc_id}", "get"): (None, "200", "DocumentPublic"),
    ("/corpus/uploads", "post"): ("Body_upload_corpus_uploads_post", "202", "JobPublic"),
    ("/corpus/jobs", "get"): (None, "200", "JobPublic[]"),
    ("/corpus/jobs/{job_id}", "get"): (None, "200", "JobPublic"),
    ("/corpus/runs", "get"): (None, "200", "RunPublic[]"),
    ("/corpus/runs/{run}", "get"): (None, "200", "RunPublic"),
    ("/corpus/runs/{run}/topics", "get"): (None, "200", "TopicListPublic"),
    ("/corpus/runs/{run}/levels/{level}/nodes/{node}/name", "put"): ("NameUpdate", "200", "NodeNamePublic"),
    ("/corpus/runs/{run}/map", "get"): (None, "200", "MapPublic"),
    ("/corpus/runs/{run}/evolution", "get"): (None, "200", "EvolutionPublic"),
    ("/corpus/runs/{run}/lineage", "get"): (None, "200", "LineagePublic"),
    ("/corpus/runs/{run}/flows", "get"): (None, "200", "FlowsPublic"),
    ("/corpus/runs/{run}/owners", "get"): (None, "200", "OwnersPublic"),
    ("/corpus/locate", "post"): ("LocateCreate", "200", "LocatePublic"),
    ("/corpus/runs/{run}/flows/documents", "get"): (None, "200", "FlowDocumentsPublic"),
    ("/corpus/runs/{run}/emerging", "get"): (None, "200", "EmergingPublic"),
    ("/corpus/runs/{run}/graph", "get"): (None, "200", "GraphPublic"),
}


def schema_name(schema: dict | None) -> str | None:
    if not schema:
        return None
    if schema.get("type") == "array":
        return f"{schema_name(schema['items'])}[]"
    return schema["$ref"].rsplit("/", 1)[-1]


def test_openapi_lists_every_resource(minilm_server: LiveServer) -> None:
    with minilm_server.client() as http:
        schema = http.get("/openapi.json").json()
    described = {}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            body = next(iter(operation.get("requestBody", {}).get("content", {}).values()), {}).get("schema")
            status = next(code for code in operation["responses"] if code.startswith("2"))
            answer = operation["responses"][status].get("content", {}).get("application/json", {}).get("schema")
            described[(path, method)] = (schema_name(body), status, schema_name(answer))
    assert described == OPERATIONS
    for body, _, answer in OPERATIONS.values():  # and every schema they name is described
        for name in (body, answer):
            if name is not None:
                assert name.removesuffix("[]") in schema["components"]["schemas"], name


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` with exactly ``labels`` in a Prometheus text page, or None."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def test_metrics_count_requests_latency_batches_queue_and_tokens(minilm_server: LiveServer, minilm) -> None:  # type: ignore[no-untyped-def]
    texts = ["metrics please", "and more"]
    with minilm_server.client() as http:
        before = http.get("/metrics").text
        response = http.post("/v1/embeddings", json={"input": texts, "model": "minilm"})
        after = http.get("/metrics").text
    assert response.status_code == 200

    def grew(name: str, **labels: str) -> float:
        now = metric(after, name, **labels)
        assert now is not None, (name, labels)
        return now - (metric(before, name, **labels) or 0.0)

    post = {"route": "/v1/embeddings"}
    assert grew("patscape_requests_total", method="POST", status="200", **post) == 1
    assert grew("patscape_request_seconds_count", **post) == 1  # the request's latency, observed once
    assert grew("patscape_request_seconds_bucket", le="+Inf", **post) == 1
    assert grew("patscape_batch_size_count") == 1 and grew("patscape_batch_size_sum") == 2  # one model call of both
    tokens = sum(minilm.embed(texts, "document").n_tokens)  # the library's count of the texts' tokens
    assert grew("patscape_tokens_total", api="openai") == tokens == response.json()["usage"]["prompt_tokens"]
    assert metric(after, "patscape_queue_depth") == 0 and metric(after, "patscape_model_loaded") == 1


def test_serve_command_runs_the_server(tmp_path: Path, store: Path) -> None:
    port = free_port()
    serve = [sys.executable, "-m", "patscape", "serve"]  # the installed `patscape` command: patscape.cli.main
    command = [*serve, str(store), "--model", "hash:256", "--port", str(port), "--api-key", "k1"]
    nothing = tmp_path / "nothing"
    refused = subprocess.run([*serve, str(nothing)], capture_output=True, text=True, timeout=120, check=False)
    # a domain error: one line and exit code 2 (InputError), never a traceback
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == f"patscape: error: {nothing} is not a patscape store; run `patscape ingest {nothing} FILES` first\n"
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            while True:
                assert process.poll() is None, process.communicate()
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert http.get("/corpus", headers={"Authorization": "Bearer k1"}).json()["model"] == "hash:256"
            assert_openai_error(http.get("/corpus"), 401)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_patscape_openai_backend_against_patscape_server(minilm_server: LiveServer, minilm) -> None:  # type: ignore[no-untyped-def]
    """patscape as a client of patscape: `openai:` through the server equals the local model."""
    from patscape.embed import load_embedder, packaged_minilm_dir

    remote = load_embedder(f"openai:minilm@{minilm_server.url}/v1", tokenizer=f"st:{packaged_minilm_dir()}")
    texts = [
        "An underwater glider with a variable buoyancy engine.",
        "A weather radar estimates rainfall over a catchment. " * 40,  # longer than the window
    ]
    local = minilm.embed(texts)
    got = remote.embed(texts)
    assert got.n_chunks == local.n_chunks and got.n_chunks[1] > 1
    np.testing.assert_allclose(got.vectors, local.vectors, atol=1e-4)
