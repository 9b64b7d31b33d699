"""The topic namer: prompts, the chat client, caching, validation, uniqueness, the store tables.

Against a scripted OpenAI-compatible chat server on 127.0.0.1 (an ``http.server`` thread that
records every request), and once against a real ``python -m llama_cpp.server`` serving a tiny
random-weight chat GGUF built offline (:mod:`tests.naming_fixtures`).
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from patscape.errors import InputError, MissingDependencyError, ModelError
from patscape.naming import (
    PROMPT_VERSION,
    ChatClient,
    MemoryCache,
    StoreNameCache,
    TopicToName,
    is_local,
    name_tree,
    namer_info,
    parse_spec,
    remote_notice,
)
from patscape.naming.prompts import max_chars
from patscape.naming.validate import check_name, normal_key, parse_answer
from patscape.store import Space, Store

from .fake_http import JsonServer

NAMES = {
    (2, 0): "Anode coating processes", (2, 1): "Cathode binder materials", (2, 2): "Solid electrolyte membranes",
    (2, 3): "Battery cell cooling plates", (2, 4): "Charging station connectors", (2, 5): "Wireless charging coils",
    (1, 0): "Electrode materials", (1, 1): "Electrolytes and cell cooling", (1, 2): "Vehicle charging",
    (0, 0): "Electric vehicle batteries",
}
USAGE = {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}


def tree(members: dict[tuple[int, int], str] | None = None, lang: str = "en", labels: dict | None = None) -> list[TopicToName]:
    """Level 0: one field; level 1: three groups; level 2: six leaves, two per group."""
    members, labels = members or {}, labels or {}
    shape = [(0, 0, None)] + [(1, n, 0) for n in range(3)] + [(2, n, n // 2) for n in range(6)]
    return [
        TopicToName(
            level, node, parent, {lang: [f"kw{level}n{node}", "battery"]},
            [("H01M 10/60", "Heating or cooling of accumulators", 0.42), ("H01M 4/62", None, 0.2)],
            [f"Patent title {level}.{node} one", f"Patent title {level}.{node} two"],
            members.get((level, node), f"m{level}-{node}"), labels.get((level, node), f"label {level} {node}"),
        )
        for level, node, parent in shape
    ]


def user_text(body: dict) -> str:
    return body["messages"][-1]["content"]


def ids_in(text: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in re.findall(r"kw(\d+)n(\d+)", text)]


def scripted(names: dict | None = None, rename: Callable[[list[tuple[int, int]]], list[str]] | None = None) -> Callable[[dict], Any]:
    """Answers ``names`` per topic, and disambiguations with ``rename(ids)``."""
    table = {**NAMES, **(names or {})}

    def respond(body: dict) -> Any:
        text = user_text(body)
        if "sibling technology topics" in text:
            ids = ids_in(text)
            return ("names", rename(ids) if rename else [f"Distinct {a} {b}" for a, b in ids])
        return ("name", table[ids_in(text)[0]])

    return respond


class FakeChat:
    """A scripted OpenAI-compatible chat server on 127.0.0.1. ``respond(body)`` returns
    ``("name", s)``, ``("names", [..])``, ``("content", text)``, ``("status", code, message,
    headers)`` or ``"hang"`` (answers when the test ends). ``hold`` makes requests wait until
    that many are in flight at once (bounded), to see the client's concurrency."""

    def __init__(self, respond: Callable[[dict], Any], hold: int | None = None) -> None:
        self.respond = respond
        self.hold = hold
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.release = threading.Event()
        self.full = threading.Event()
        self.lock = threading.Lock()

    def __enter__(self) -> FakeChat:
        def handle(headers: dict[str, str], body: dict) -> tuple[int, dict[str, str], Any]:
            with self.lock:
                self.requests.append(body)
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                if self.hold and self.in_flight >= self.hold:
                    self.full.set()
            try:
                if self.hold:
                    self.full.wait(10)
                return self.answer(self.respond(body))
            finally:
                with self.lock:
                    self.in_flight -= 1

        self.server = JsonServer(handle, poll_interval=0.05)
        self.url = self.server.url
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.close()

    def answer(self, action: Any) -> tuple[int, dict[str, str], Any]:
        if action == "hang":
            self.release.wait(30)
            action = ("content", "late")
        if action[0] == "status":
            return action[1], action[3] if len(action) > 3 else {}, {"error": {"message": action[2]}}
        if action[0] == "name":
            content = json.dumps({"name": action[1]})
        elif action[0] == "names":
            content = json.dumps({"names": {str(i): n for i, n in enumerate(action[1], start=1)}})
        else:
            content = action[1]
        message = {"role": "assistant", "content": content}
        return 200, {}, {"object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "usage": USAGE}

    def asked(self) -> list[tuple[int, int]]:
        """The topic of each request (the first one a disambiguation names)."""
        return [ids_in(user_text(body))[0] for body in self.requests]


def client(url: str, **options: Any) -> ChatClient:
    settings = {"concurrency": 2, "timeout": 5.0, "max_retries": 2, "backoff": 0.001} | options
    return ChatClient("fake-model", url, **settings)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "store") as opened:
        opened.ensure_space(Space("space", "hash:8", "fp", 8, {}))
        yield opened


def new_run(store: Store) -> int:
    return store.save_run("space", 1, {}, {}, {}, [], [])


def names_of(result: Any) -> dict[tuple[int, int], str]:
    return {key: n.name for key, n in result.names.items()}


# -- prompts and the bottom-up order -----------------------------------------------------------
def test_leaves_first_then_parents_from_their_childrens_names() -> None:
    with FakeChat(scripted()) as server:
        result = name_tree(tree(), client(server.url))
    assert names_of(result) == NAMES
    assert {n.source for n in result.names.values()} == {"namer"}
    # deepest level first, then level 1, then the root
    assert [level for level, _ in server.asked()] == [2] * 6 + [1] * 3 + [0]
    by_topic = {ids_in(user_text(b))[0]: b for b in server.requests}
    leaf, parent, root = user_text(by_topic[(2, 3)]), user_text(by_topic[(1, 1)]), user_text(by_topic[(0, 0)])
    assert "- H01M 10/60: Heating or cooling of accumulators (42%)" in leaf
    assert "- Patent title 2.3 one" in leaf and "- en: kw2n3; battery" in leaf
    assert "at most 8 words" in leaf and "The topics it groups" not in leaf
    assert "- Solid electrolyte membranes\n- Battery cell cooling plates\n" in parent
    assert "Patent title" not in parent and "H01M" not in parent and "at most 6 words" in parent
    assert "- Electrode materials\n- Electrolytes and cell cooling\n- Vehicle charging\n" in root
    assert "at most 4 words" in root
    assert by_topic[(2, 3)]["messages"][0]["role"] == "system"
    formats = {(level, b["response_format"]["json_schema"]["schema"]["properties"]["name"]["maxLength"])
               for b in server.requests for level, _ in ids_in(user_text(b))[:1]}
    assert formats == {(2, max_chars(2, 2)), (1, max_chars(1, 2)), (0, max_chars(0, 2))} == {(2, 112), (1, 84), (0, 56)}
    summary = result.summary
    assert (summary.requests, summary.cache_hits, summary.fallbacks, summary.disambiguation_requests) == (10, 0, 0, 0)
    assert (summary.prompt_tokens, summary.completion_tokens) == (100, 30)
    assert (summary.model, summary.prompt_version) == ("fake-model", PROMPT_VERSION)
    assert namer_info(client(server.url)) == {"model": "fake-model", "prompt_version": PROMPT_VERSION}


def test_language_goes_into_the_prompt() -> None:
    with FakeChat(scripted()) as server:
        name_tree(tree(), client(server.url), language="de")
        name_tree(tree(), client(server.url), language="Esperanto")
        name_tree(tree(lang="zh"), client(server.url))  # the topics' own language
        name_tree(tree(lang="und"), client(server.url))  # unknown: English
    texts = [user_text(b) for b in server.requests]
    assert len(texts) == 40  # each language is its own cache entry: nothing shared
    expected = ["German"] * 10 + ["Esperanto"] * 10 + ["Chinese"] * 10 + ["English"] * 10
    assert [re.search(r"(?:Write the title in|Write it in) (\w+)", t)[1] for t in texts] == expected


# -- caching by membership ---------------------------------------------------------------------
def test_a_second_naming_sends_nothing_and_a_changed_topic_only_its_requests(store: Store) -> None:
    cache = StoreNameCache(store)
    with FakeChat(scripted()) as server:
        first = name_tree(tree(), client(server.url), cache=cache)
        assert len(server.requests) == 10
        again = name_tree(tree(), client(server.url), cache=cache)
        assert len(server.requests) == 10  # not one request
        assert names_of(again) == names_of(first) == NAMES
        assert (again.summary.requests, again.summary.cache_hits) == (0, 10)
        # leaf 3 gained a member, and the model gives it the same name: only leaf 3 is asked
        changed = tree(members={(2, 3): "m2-3+new"})
        name_tree(changed, client(server.url), cache=cache)
        assert server.asked()[10:] == [(2, 3)]
    # a new name for leaf 3 changes its parent's prompt, and the parent's new name the root's
    with FakeChat(scripted({(2, 3): "Immersion cooling of cells", (1, 1): "Electrolytes and immersion cooling"})) as server:
        result = name_tree(tree(members={(2, 3): "m2-3+other"}), client(server.url), cache=cache)
        assert server.asked() == [(2, 3), (1, 1), (0, 0)]
        assert "- Immersion cooling of cells\n" in user_text(server.requests[1])
    assert result.names[(2, 3)].name == "Immersion cooling of cells"
    assert result.summary.cache_hits == 7


# -- unique names within a level ---------------------------------------------------------------
def test_same_answer_for_every_sibling_ends_unique_after_disambiguation_fails() -> None:
    same = {key: "Battery cooling" for key in NAMES if key[0] == 2}
    with FakeChat(scripted(same, rename=lambda ids: ["Battery cooling"] * len(ids))) as server:
        result = name_tree(tree(), client(server.url))
    # one disambiguation per parent: each parent's two leaves are near-duplicates
    disambiguations = [ids_in(user_text(b)) for b in server.requests if "sibling" in user_text(b)]
    assert disambiguations == [[(2, 0), (2, 1)], [(2, 2), (2, 3)], [(2, 4), (2, 5)]]
    leaves = [result.names[(2, n)] for n in range(6)]
    assert [n.name for n in leaves] == ["Battery cooling"] + [f"label 2 {n}" for n in range(1, 6)]
    assert [n.source for n in leaves] == ["namer"] + ["fallback"] * 5
    assert {n.reason for n in leaves[1:]} == {"duplicate of another name at level 2 (Battery cooling)"}
    assert result.summary.disambiguation_requests == 3 and result.summary.requests == 13


def test_duplicate_labels_too_get_numbers() -> None:
    same = {key: "Battery cooling" for key in NAMES if key[0] == 2}
    labels = {(2, n): "battery, cooling" for n in range(6)}
    with FakeChat(scripted(same, rename=lambda ids: ["Battery cooling"] * len(ids))) as server:
        result = name_tree(tree(labels=labels), client(server.url))
    leaves = [result.names[(2, n)].name for n in range(6)]
    assert leaves == ["Battery cooling"] + [f"Battery cooling ({i})" for i in range(2, 7)]
    assert len({normal_key(n) for n in leaves}) == 6


def test_disambiguation_answers_are_used_and_cached() -> None:
    same = {(2, 0): "Electrode coating", (2, 1): "Electrode coatings"}  # near-duplicates (plural)
    cache = MemoryCache()
    with FakeChat(scripted(same, rename=lambda ids: ["Anode slurry coating", "Cathode dry coating"])) as server:
        result = name_tree(tree(), client(server.url), cache=cache)
        assert [result.names[(2, n)].name for n in (0, 1)] == ["Anode slurry coating", "Cathode dry coating"]
        [parent] = [b for b in server.requests if ids_in(user_text(b))[:1] == [(1, 0)]]
        assert "- Anode slurry coating\n- Cathode dry coating\n" in user_text(parent)
        again = name_tree(tree(), client(server.url), cache=cache)
    assert len(server.requests) == 11 and names_of(again) == names_of(result)


# -- failures fall back to the keyword label, with the reason ----------------------------------
def test_failures_and_bad_answers_fall_back_with_the_reason(store: Store) -> None:
    bad = {
        (2, 0): ("status", 500, "boom"),
        (2, 1): "hang",
        (2, 2): ("name", "  "),
        (2, 3): ("name", " ".join(["thermal"] + [f"word{i}" for i in range(12)])),
        (2, 4): ("name", "cooling cooling plates"),
        (2, 5): ("name", "Answer with one JSON object only"),
        (1, 0): ("content", "I would call it electrode materials."),
        (1, 1): ("name", "Electrolytes\nand cooling"),
        (1, 2): ("status", 400, "bad request"),
    }

    def respond(body: dict) -> Any:
        topic = ids_in(user_text(body))[0]
        return bad.get(topic, ("name", NAMES[topic]))

    with FakeChat(respond) as server:
        result = name_tree(tree(), client(server.url, timeout=0.3))
        asked = server.asked()
    assert asked.count((2, 0)) == 3  # max_retries=2: three attempts on a 500
    assert asked.count((2, 1)) == 1 and asked.count((1, 2)) == 1  # no retry of a read timeout or a 400
    reasons = {key: (n.name, n.source, n.reason) for key, n in result.names.items()}
    assert reasons == {
        (2, 0): ("label 2 0", "fallback", "request failed: HTTP 500"),
        (2, 1): ("label 2 1", "fallback", "request failed: timeout"),
        (2, 2): ("label 2 2", "fallback", "empty name"),
        (2, 3): ("label 2 3", "fallback", "too long (13 words, 81 characters; at most 8 words)"),
        (2, 4): ("label 2 4", "fallback", "repeated words"),
        (2, 5): ("label 2 5", "fallback", "echoes the prompt"),
        (1, 0): ("label 1 0", "fallback", "no name in the answer"),
        (1, 1): ("label 1 1", "fallback", "name of several lines"),
        (1, 2): ("label 1 2", "fallback", "request failed: HTTP 400"),
        (0, 0): ("Electric vehicle batteries", "namer", None),
    }
    assert result.summary.fallbacks == 9
    run = new_run(store)
    assert store.save_topic_names(run, result.rows(), "fake-model", PROMPT_VERSION) == 10
    stored = {(r.level, r.node): (r.name, r.source, r.reason, r.model, r.prompt_version) for r in store.topic_names(run)}
    assert stored == {key: (*value, "fake-model", PROMPT_VERSION) for key, value in reasons.items()}


def test_answers_are_cleaned() -> None:
    assert check_name('**"Battery cooling plates."**', 1, 2) == ("Battery cooling plates", None)
    assert check_name("Title: «Solid electrolytes»", 1, 2) == ("Solid electrolytes", None)
    assert check_name("固态电解质膜", 0, 2) == ("固态电解质膜", None)
    assert check_name("固态电解质膜及其制备方法和在锂电池中的应用", 0, 2) == (None, "too long (11 words, 21 characters; at most 4 words)")
    assert check_name('{"name": "x"}', 1, 2) == (None, "not a plain name")
    assert check_name("Heat\x16pipes", 1, 2) == (None, "control characters in the name")
    assert parse_answer('```json\n{"name": "Heat\x16pipes"}\n```', "name") == "Heat\x16pipes"


# -- the analyst's renames -----------------------------------------------------------------------
def test_an_analyst_rename_survives_a_renaming(store: Store) -> None:
    run = new_run(store)
    with FakeChat(scripted()) as server:
        first = name_tree(tree(), client(server.url))
    store.save_topic_names(run, first.rows(), "fake-model", PROMPT_VERSION)
    store.rename_topic(run, 1, 2, "EV charging infrastructure")
    with FakeChat(scripted({(1, 2): "Charging of vehicles", (2, 0): "Anode coatings"})) as server:
        second = name_tree(tree(), client(server.url))
    assert store.save_topic_names(run, second.rows(), "fake-model", PROMPT_VERSION) == 9
    rows = {(r.level, r.node): (r.name, r.source) for r in store.topic_names(run)}
    assert rows[(1, 2)] == ("EV charging infrastructure", "analyst")
    assert rows[(2, 0)] == ("Anode coatings", "namer")
    with pytest.raises(InputError):
        store.rename_topic(run, 1, 2, "two\nlines")
    with pytest.raises(InputError):
        store.save_topic_names(run, [(0, 0, "x", "analyst", None)], "m", "1")
    assert store.check()["topic_names_without_run"] == 0


# -- the client ------------------------------------------------------------------------------------
def test_requests_in_flight_never_exceed_the_limit() -> None:
    flat = [TopicToName(0, n, None, {"en": [f"kw0n{n}"]}, [], [], f"m{n}", f"label {n}") for n in range(12)]
    table = {(0, n): f"Leaf {chr(65 + n)} technology" for n in range(12)}
    with FakeChat(scripted(table), hold=3) as server:
        result = name_tree(flat, client(server.url, concurrency=3))
    assert server.max_in_flight == 3  # reached (the server held the first three), never exceeded
    assert result.summary.requests == 12 and names_of(result) == table


def test_a_refused_json_schema_form_falls_back_to_json_object_once() -> None:
    def respond(body: dict) -> Any:
        if body["response_format"]["type"] == "json_schema":
            return ("status", 422, "response_format.type: Input should be 'text' or 'json_object'")
        return scripted()(body)

    with FakeChat(respond) as server:
        namer = client(server.url, concurrency=1)
        result = name_tree(tree(), namer)
    kinds = [b["response_format"]["type"] for b in server.requests]
    assert kinds == ["json_schema"] + ["json_object"] * 10 and namer.style == "json_object"
    assert server.requests[-1]["response_format"]["schema"]["required"] == ["name"]
    assert names_of(result) == NAMES


def test_429_is_retried_and_the_key_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATSCAPE_NAMER_API_KEY", "sk-test")
    seen: list[str] = []

    def respond(body: dict) -> Any:
        seen.append("x")
        return ("status", 429, "slow down", {"retry-after": "0"}) if len(seen) == 1 else ("name", "Battery cooling")

    with FakeChat(respond) as server:
        namer = ChatClient.from_spec(f"openai:fake-model@{server.url}", backoff=0.001)
        answer = namer.complete([{"role": "user", "content": "x"}], {"type": "object"}, 16)
    assert json.loads(answer.content) == {"name": "Battery cooling"} and len(server.requests) == 2
    assert (answer.prompt_tokens, answer.completion_tokens) == (10, 3)
    assert namer.client.headers["authorization"] == "Bearer sk-test"


def test_spec_and_missing_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_spec("openai:qwen3-8b@http://127.0.0.1:8080/v1") == ("qwen3-8b", "http://127.0.0.1:8080/v1")
    with pytest.raises(ModelError, match="openai:MODEL@URL"):
        parse_spec("openai:qwen3-8b")
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(MissingDependencyError, match=r"patscape\[openai\]"):
        ChatClient("m", "http://127.0.0.1:1/v1")


def test_notice_when_the_server_is_not_this_machine() -> None:
    import httpx

    remote = "http://192.0.2.10:8080/v1"  # a documentation address: never connected to
    assert remote_notice(remote) == (
        "namer: topic keyphrases, codes and patent titles are sent to 192.0.2.10, which is not this machine")
    assert [is_local(u) for u in (remote, "http://127.0.0.1:8080/v1", "http://localhost/v1", "http://[::1]:80/v1")] == [
        False, True, True, True]
    assert remote_notice("http://127.0.0.1:8080/v1") is None

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"connected to {request.url}")

    notices: list[str] = []
    ChatClient("m", remote, notice=notices.append, transport=httpx.MockTransport(refuse)).close()
    ChatClient("m", "http://127.0.0.1:9/v1", notice=notices.append, transport=httpx.MockTransport(refuse)).close()
    assert notices == [remote_notice(remote)]


# -- the wire protocol against a real llama.cpp server -----------------------------------------------
@pytest.fixture(scope="module")
def llama_chat_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` on 127.0.0.1 serving the tiny random chat GGUF; started in
    the model's own folder (nothing there can shadow a library)."""
    import subprocess
    import time
    import urllib.error
    import urllib.request

    from tests.backends_fixtures import free_port, require_llama_cpp
    from tests.naming_fixtures import SHAPE, tiny_chat_gguf

    require_llama_cpp()
    folder = tmp_path_factory.mktemp("tiny-chat")
    model = tiny_chat_gguf(folder)
    log = folder / "server.log"
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "tiny-chat",
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(SHAPE["n_ctx"]),
        "--n_threads", "2", "--n_threads_batch", "2", "--verbose", "false",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server was not ready within 120s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)  # polling the server's readiness, bounded by the deadline above
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def test_a_real_llama_cpp_server_answers_through_the_json_schema(llama_chat_url: str) -> None:
    from patscape.naming.prompts import leaf_messages, name_schema

    namer = ChatClient("tiny-chat", llama_chat_url, concurrency=2, timeout=300, max_retries=0, temperature=1.0)
    # llama-cpp-python's server refuses OpenAI's json_schema form (a validation error) and
    # constrains decoding with {"type": "json_object", "schema": ...}: the client switches once.
    schema = name_schema(0, 1)
    answer = namer.complete(leaf_messages("en", 0, 1, {"en": ["heat pipe"]}, [], []), schema, 600)
    assert namer.style == "json_object"
    # random weights, yet a JSON object of the schema's shape (its string may hold raw control
    # characters: llama.cpp's grammar lets byte tokens through, so it is read with strict=False)
    body = json.loads(answer.content, strict=False)
    assert list(body) == ["name"] and parse_answer(answer.content, "name") == body["name"]
    assert 1 <= len(body["name"]) <= schema["properties"]["name"]["maxLength"] == 56
    assert answer.prompt_tokens and answer.prompt_tokens > 100 and answer.completion_tokens

    topics = [
        TopicToName(0, 0, None, {"en": ["thermal management"]}, [], [], "m0", "thermal management"),
        TopicToName(1, 0, 0, {"en": ["heat pipe", "wick"]}, [("F28D 15/04", "Heat pipes", 0.6)], ["Heat pipe with sintered wick"], "m1", "heat pipe; wick"),
        TopicToName(1, 1, 0, {"en": ["cold plate", "coolant"]}, [("H01M 10/6556", None, 0.5)], ["Cold plate for battery modules"], "m2", "cold plate; coolant"),
    ]
    result = name_tree(topics, namer)
    assert result.summary.requests >= 3 and result.summary.completion_tokens > 0
    # every answer was parsed: a topic either has the model's (random) name or a fallback for
    # what the name said, never for a failed request or an answer without a name
    for topic in result.names.values():
        assert topic.source == "namer" or not (topic.reason or "").startswith(("request failed", "no name")), topic
        if topic.source == "namer":
            assert check_name(topic.name, topic.level, 1)[0] == topic.name
    assert len({normal_key(n.name) for n in result.names.values() if n.level == 1}) == 2
    # the tiny model prefers letters (tests/naming_fixtures.py): its short random words pass
    assert any(topic.source == "namer" for topic in result.names.values()), result.names
