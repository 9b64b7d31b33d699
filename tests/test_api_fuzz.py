"""Fuzzing the HTTP API with Hypothesis: random and mutated JSON bodies, raw bytes, path and query
values. Every answer is a 2xx, or a 4xx with the OpenAI-shaped error body: never a 5xx, a
traceback or a hang.

The app serves the ``hash:256`` model (no real model loads) over a mapped copy of a small store,
through FastAPI's TestClient. Runs are derandomized and bounded (a few hundred requests).
"""

from __future__ import annotations

import copy
import json
import math
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from patscape.api import Settings, create_app

from .api_helpers import HOSTILE, copy_store, mapped_store

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: Every route with a JSON body, and a body it accepts.
VALID: dict[str, dict[str, Any]] = {
    "/v1/embeddings": {"input": ["an underwater glider", "a phased array"], "model": "hash:256",
                       "encoding_format": "float", "task": "query"},
    "/api/embed": {"model": "hash:256", "input": ["an underwater glider"], "truncate": True, "task": "document"},
    "/api/embeddings": {"model": "hash:256", "prompt": "an underwater glider"},
    "/corpus/search": {"query": "underwater glider buoyancy", "k": 5, "mode": "hybrid", "lang": "en"},
    "/corpus/documents": {"records": [{"id": "FZ-1", "title": "A glider", "abstract": "It glides.",
                                       "claims": ["1. A glider."], "cpc": ["B63G8/00"], "date": "2015-01-01"}]},
}


# -- the app -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    built = mapped_store(tmp_path_factory.mktemp("fuzz-store"), "hash:256", n=120)
    store = copy_store(built, tmp_path_factory.mktemp("fuzz"))
    app = create_app(Settings(store=store, model="hash:256", max_inputs=64, max_body_bytes=256 * 1024))
    with TestClient(app, base_url="http://127.0.0.1:8000", raise_server_exceptions=False) as client:
        deadline = time.monotonic() + 60
        while client.get("/health").status_code != 200:
            assert time.monotonic() < deadline, "the hash model did not load"
            time.sleep(0.02)
        yield client


def assert_answer(response: Any) -> None:
    """A 2xx, or a 4xx whose body is exactly OpenAI's error shape; never 5xx or a traceback."""
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code < 500, (where, response.status_code, response.text[:500])
    assert "Traceback" not in response.text and 'File "' not in response.text, where
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, (where, body)
        error = body["error"]
        assert set(error) == {"message", "type", "param", "code"}, (where, error)
        assert isinstance(error["message"], str) and error["message"] and "\n" not in error["message"], (where, error)
        assert error["type"] in ("invalid_request_error", "rate_limit_error"), (where, error)


def send_json(http: TestClient, path: str, value: Any) -> Any:
    raw = json.dumps(value, allow_nan=True, ensure_ascii=True)  # NaN/Infinity and lone surrogates as escapes
    return http.post(path, content=raw.encode("ascii"), headers={"content-type": "application/json"})


# -- strategies ----------------------------------------------------------------------------------
def nested(depth: int) -> Any:
    value: Any = "deep"
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


SPECIAL_TEXT = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ud800", "\udfff lone surrogates", "😀" * 50, "<script>alert(1)</script>", "x" * 100_000,
    "\u202e\u200b\ufeff", "NaN", "null", "-1", "hash:256", "hash:256:query", "minilm", "../../etc/passwd", "中文专利",
])
TEXT = st.one_of(st.text(st.characters(exclude_categories=()), max_size=40), SPECIAL_TEXT)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 2**64, 10**100, -(10**100)]),
    st.floats(allow_nan=True, allow_infinity=True),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=6) | st.dictionaries(TEXT, inner, max_size=6),
                    max_leaves=24)
NASTY = st.one_of(
    JSON,
    st.integers(min_value=1, max_value=900).map(nested),        # deep, below the parser's limit
    st.just(["text"] * 3000),                                  # more inputs than allowed
    st.just([[1, 2, 3]] * 3),                                  # token ids (hash:256 has no tokenizer)
    st.just(list(range(5000))),
    st.lists(st.integers(min_value=-(2**40), max_value=2**40), min_size=1, max_size=5).map(lambda ids: [ids]),
)


@st.composite
def mutated(draw: st.DrawFn, valid: dict[str, Any]) -> Any:
    """A valid body with one to four changes: fields dropped, replaced, added, or the body wrapped."""
    body: Any = copy.deepcopy(valid)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        op = draw(st.sampled_from(["drop", "set", "set", "add", "inner", "wrap"]))
        if not isinstance(body, dict):
            break
        keys = sorted(body)
        if op == "drop" and keys:
            body.pop(draw(st.sampled_from(keys)))
        elif op == "set" and keys:
            body[draw(st.sampled_from(keys))] = draw(NASTY)
        elif op == "add":
            body[draw(TEXT)] = draw(JSON)
        elif op == "inner" and isinstance(body.get("records"), list) and body["records"]:
            record = body["records"][0]
            if isinstance(record, dict) and record:
                record[draw(st.sampled_from(sorted(record)))] = draw(NASTY)
        elif op == "wrap":
            body = draw(st.sampled_from([[body], {"body": body}, json.dumps(body)]))
    return body


# -- JSON bodies ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", list(VALID))
def test_valid_bodies_are_accepted(http: TestClient, path: str) -> None:
    response = send_json(http, path, VALID[path])
    assert response.status_code in (200, 202), response.text


@pytest.mark.parametrize("path", list(VALID))
@FUZZ
@given(data=st.data())
def test_mutated_bodies_get_an_answer(http: TestClient, path: str, data: st.DataObject) -> None:
    assert_answer(send_json(http, path, data.draw(mutated(VALID[path]), label="body")))


@pytest.mark.parametrize("path", list(VALID))
@FUZZ
@given(value=JSON)
@example(value={"\n": None})  # a field name with a control character: once echoed in a two-line message
def test_random_json_gets_an_answer(http: TestClient, path: str, value: Any) -> None:
    response = send_json(http, path, value)
    assert_answer(response)
    if not isinstance(value, dict):
        assert response.status_code in (413, 422)  # not an object: refused (or too large to read)


@pytest.mark.parametrize("path", list(VALID))
@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(raw=st.binary(max_size=300))
@example(raw=b"[" * 200_000 + b"]" * 200_000)     # nesting past the JSON parser's recursion limit
@example(raw=b'{"input": "a\x00b", "model": "hash:256"}')  # a raw NUL inside a JSON string
@example(raw=b'{"input": "\xff\xfe broken utf-8", "model": "hash:256"}')
@example(raw=b'{"input": "x", "model": "hash:256", "dimensions": 1e999}')
@example(raw=b'{"query": "x", "k": NaN}')
@example(raw=b"")
@example(raw=b"\x1f\x8b\x08\x00 not really gzip")
def test_raw_bytes_get_an_answer(http: TestClient, path: str, raw: bytes) -> None:
    assert_answer(http.post(path, content=raw, headers={"content-type": "application/json"}))


def test_a_body_over_the_limit_is_413(http: TestClient) -> None:
    response = send_json(http, "/v1/embeddings", {"input": "x" * 300_000, "model": "hash:256"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize(("path", "body", "status", "code"), [
    ("/v1/embeddings", {"input": ["t"] * 65, "model": "hash:256"}, 400, "too_many_inputs"),
    ("/v1/embeddings", {"input": [[1, 2, 3]], "model": "hash:256"}, 400, "tokens_unsupported"),
    ("/v1/embeddings", {"input": "x", "model": "nope"}, 404, "model_not_found"),
    ("/v1/embeddings", {"input": "x", "model": "hash:256", "dimensions": 2**64}, 400, None),
    ("/api/embed", {"model": "hash:256", "input": []}, 400, "empty_input"),
    ("/corpus/search", {"query": "x", "k": 0}, 422, "invalid_value"),
    ("/corpus/search", {"like": "NO-SUCH-ID"}, 404, "not_found"),
    ("/corpus/documents", {"records": []}, 422, "invalid_value"),
    ("/corpus/documents", {"records": [{"id": ""}]}, 422, "invalid_value"),
])
def test_known_bad_bodies_get_their_error(http: TestClient, path: str, body: dict[str, Any], status: int,
                                          code: str | None) -> None:
    response = send_json(http, path, body)
    assert response.status_code == status, response.text
    assert_answer(response)
    if code is not None:
        assert response.json()["error"]["code"] == code


# -- paths and query strings of the GET routes ---------------------------------------------------
def get_routes(http: TestClient) -> list[str]:
    paths = http.app.openapi()["paths"]  # type: ignore[attr-defined]
    return sorted(p for p, item in paths.items() if "get" in item)


def pct(text: str) -> str:
    """Percent-encoded UTF-8, lone surrogates included (as the invalid bytes they would be)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@FUZZ
@given(data=st.data())
def test_random_paths_and_queries_get_an_answer(http: TestClient, data: st.DataObject) -> None:
    template = data.draw(st.sampled_from(get_routes(http)), label="route")
    special = st.sampled_from(["latest", "1", "0", "-1", HOSTILE["id"], "99999999999999999999", "..", "%", "x" * 3000])
    short = TEXT.filter(lambda t: len(t) < 4000)  # the client refuses URLs over 64 KiB
    path = re.sub(r"\{([^}:]+)(?::[^}]*)?\}", lambda m: pct(data.draw(st.one_of(short, special), label=m.group(1))),
                  template)
    params = data.draw(st.lists(st.tuples(short, st.one_of(short, NUMBERS.map(str))), max_size=4), label="query")
    query = "&".join(f"{pct(k)}={pct(v)}" for k, v in params)
    assert_answer(http.get(path + ("?" + query if query else "")))


@pytest.mark.parametrize("path", ["/corpus/documents/%00", "/corpus/documents/%ED%A0%80", "/corpus/runs/%2e%2e",
                                  "/corpus/runs/1e999/topics", "/corpus/runs/-1/map", "/corpus/jobs/%00",
                                  "/v1/models/%ff%fe", "/corpus/documents/" + "x" * 5000])
def test_odd_paths_get_an_answer(http: TestClient, path: str) -> None:
    assert_answer(http.get(path))


def test_the_store_is_still_consistent_after_the_fuzzing(http: TestClient) -> None:
    overview = http.get("/corpus")
    assert overview.status_code == 200
    assert overview.json()["documents"] >= 121
    view = http.get("/corpus/runs/latest/map").json()
    assert all(math.isfinite(p["x"]) and math.isfinite(p["y"]) for p in view["points"])
