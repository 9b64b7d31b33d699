"""The st:, gguf: and openai: backends, checked against each other and against transformers.

The models are real code paths on tiny or packaged weights, built offline once and cached (see
tests/backends_fixtures.py): a randomly initialised Qwen3 with the real Qwen2 tokenizer, saved
as a sentence-transformers directory and converted to GGUF by llama.cpp's own converter; the
packaged all-MiniLM-L6-v2 converted to GGUF; ``python -m llama_cpp.server`` serving the tiny
Qwen3 on 127.0.0.1; and a scripted HTTP peer for the failure cases of the protocol.

If llama-cpp-python is missing these tests fail (they do not skip): pip install 'patscape[gguf]'.
"""

from __future__ import annotations

import email.utils
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from patscape.embed import MODELS, load_embedder
from patscape.embed.llamacpp import align_pieces, read_gguf_metadata
from patscape.embed.openai_compat import APPROX_TOKEN, endpoint, parse_name, retry_after
from patscape.embed.profiles import QWEN3_EMBEDDING
from patscape.errors import MissingDependencyError, ModelError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import backends_fixtures as bf

DEV_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "patents-dev.jsonl"
EOT = 151643  # <|endoftext|> in the Qwen2 vocabulary
PAD = EOT
WINDOW = 128  # tokens per window for the tiny Qwen3 (small, so long texts are chunked cheaply)
TEXTS = [
    "Radar",
    "An underwater glider with a buoyancy engine that changes its volume to dive and surface.",
    "一种卫星姿态控制方法，包括获取卫星的姿态信息并计算控制力矩。",
    ("A lithium-ion battery cell whose cathode comprises a nickel-rich layered oxide coated with alumina, "
     "the coating reducing transition-metal dissolution at high voltage and extending cycle life."),
]
LONG = " ".join(["The radar measures rainfall over the catchment area and reports it to the control centre."] * 30)
INSTRUCTION = QWEN3_EMBEDDING.instructions["query"]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def agree(a: np.ndarray, b: np.ndarray, floor: float = 0.999) -> bool:
    return bool(np.all(cosines(a, b) >= floor))


def dev_abstracts(n: int, lang: str | None = None) -> list[str]:
    if not DEV_CORPUS.exists():
        pytest.fail(f"the development corpus is not beside the repository ({DEV_CORPUS})")
    out = []
    with DEV_CORPUS.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if (lang is None or record["lang"] == lang) and record.get("abstract"):
                out.append(f"{record['title']}. {record['abstract']}")
    return out[:: max(1, len(out) // n)][:n]


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fx() -> bf.Fixtures:
    return bf.build()  # fails with "pip install 'patscape[gguf]'" when llama-cpp-python is missing


@pytest.fixture(scope="module")
def qwen_st(fx):  # type: ignore[no-untyped-def]
    return load_embedder(f"st:{fx.qwen3_st}", max_tokens=WINDOW)


@pytest.fixture(scope="module")
def qwen_gguf(fx):  # type: ignore[no-untyped-def]
    return load_embedder(f"gguf:{fx.qwen3_gguf}", max_tokens=WINDOW)


@pytest.fixture(scope="module")
def reference(fx):  # type: ignore[no-untyped-def]
    """Qwen3-Embedding as its authors run it with plain transformers, written out by hand."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(fx.qwen3_hf))  # the tokenizer without the EOS post-processor
    model = AutoModel.from_pretrained(str(fx.qwen3_hf)).eval()

    def embed(texts, *, instruction=None, template="Instruct: {i}\nQuery:{t}", eos=True, pooling="last", side="left"):  # type: ignore[no-untyped-def]
        formatted = [template.format(i=instruction, t=t) if instruction else t for t in texts]
        ids = [tokenizer(t, add_special_tokens=False)["input_ids"] + ([EOT] if eos else []) for t in formatted]
        width = max(map(len, ids))
        input_ids = torch.full((len(ids), width), PAD, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, seq in enumerate(ids):
            cols = slice(width - len(seq), width) if side == "left" else slice(0, len(seq))
            input_ids[row, cols] = torch.tensor(seq)
            mask[row, cols] = 1
        with torch.no_grad():
            hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        if pooling == "last":
            vectors = hidden[:, -1]  # with left padding, the last position is every text's EOS
        else:
            vectors = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return torch.nn.functional.normalize(vectors, dim=-1).numpy()

    return embed


@pytest.fixture(scope="module")
def minilm_ggufs(fx):  # type: ignore[no-untyped-def]
    return {"f16": load_embedder(f"gguf:{fx.minilm_gguf_f16}"), "q8_0": load_embedder(f"gguf:{fx.minilm_gguf_q8}")}


@pytest.fixture(scope="module")
def served(fx, tmp_path_factory):  # type: ignore[no-untyped-def]
    """llama_cpp.server with the tiny Qwen3 GGUF, on a free port of 127.0.0.1."""
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with bf.llama_server(fx.qwen3_gguf, WINDOW, log) as url:
        yield url


# -- Qwen3: profile, EOS, padding, pooling, instructions, MRL -----------------------------------
def test_qwen3_profile_is_detected_from_metadata_by_both_backends(qwen_st, qwen_gguf) -> None:  # type: ignore[no-untyped-def]
    for model in (qwen_st, qwen_gguf):
        assert model.profile.family == "qwen3-embedding"
        assert model.special_tokens == 1  # the EOS, nothing else
        assert model.max_tokens == WINDOW and model.native_dims == bf.TINY_QWEN3["hidden_size"]
    assert qwen_gguf.pooling == "last" and qwen_gguf.kv_overrides == {}  # the GGUF says it all
    assert qwen_st.model.tokenizer.padding_side == "left"
    assert qwen_st.model.tokenizer("a b")["input_ids"][-1] == EOT
    assert qwen_gguf.llm.tokenize(b"a b", add_bos=True)[-1] == EOT
    # one window is one micro-batch (llama.cpp rounds the context itself up to a multiple of 256)
    assert qwen_gguf.llm.n_batch == qwen_gguf.llm.context_params.n_ubatch == WINDOW <= qwen_gguf.llm.n_ctx()


@pytest.mark.parametrize("task", ["document", "query", "cluster", "classify"])
@pytest.mark.parametrize("dims", [None, 32])
def test_qwen3_st_gguf_and_transformers_agree(qwen_st, qwen_gguf, reference, task, dims) -> None:  # type: ignore[no-untyped-def]
    instruction = None if task == "document" else QWEN3_EMBEDDING.instructions[task]
    expected = reference(TEXTS, instruction=instruction)
    if dims:
        expected = expected[:, :dims] / np.linalg.norm(expected[:, :dims], axis=1, keepdims=True)
    for model in (qwen_st, qwen_gguf):
        got = model.embed(TEXTS, task, dims).vectors
        assert got.shape == (len(TEXTS), dims or model.native_dims)
        assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
        # unit vectors, so closeness of the vectors themselves: pooling, EOS, format and norm at once
        assert np.allclose(got, expected, atol=5e-3), (model.name, cosines(got, expected))
        assert agree(got, expected)


def test_the_reference_comparison_detects_each_mistake(qwen_st, reference) -> None:  # type: ignore[no-untyped-def]
    """Each way of getting Qwen3 wrong gives vectors the agreement test above would reject."""
    ours = qwen_st.embed(TEXTS, "query").vectors
    right = reference(TEXTS, instruction=INSTRUCTION)
    assert agree(ours, right)
    wrong = {
        "no EOS appended": reference(TEXTS, instruction=INSTRUCTION, eos=False),
        "mean pooling": reference(TEXTS, instruction=INSTRUCTION, pooling="mean"),
        "right padding, last position": reference(TEXTS, instruction=INSTRUCTION, side="right"),
        "no instruction": reference(TEXTS),
        "a space after Query:": reference(TEXTS, instruction=INSTRUCTION, template="Instruct: {i}\nQuery: {t}"),
        "instruction on one line": reference(TEXTS, instruction=INSTRUCTION, template="Instruct: {i} Query:{t}"),
    }
    for mistake, vectors in wrong.items():
        assert not agree(ours, vectors), f"the test cannot tell {mistake}"


def test_gguf_raw_vectors_are_not_normalised_but_ours_are(qwen_gguf) -> None:  # type: ignore[no-untyped-def]
    raw = qwen_gguf.embed_batch(TEXTS)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0, atol=1e-2)
    assert np.allclose(np.linalg.norm(qwen_gguf.embed(TEXTS).vectors, axis=1), 1.0, atol=1e-5)


def test_a_batch_of_different_lengths_equals_one_text_at_a_time(qwen_st, qwen_gguf) -> None:  # type: ignore[no-untyped-def]
    for model in (qwen_st, qwen_gguf):
        together = model.embed(TEXTS, "query").vectors
        alone = np.vstack([model.embed([t], "query").vectors for t in TEXTS])
        assert np.allclose(together, alone, atol=1e-4), model.name


def test_st_never_lets_sentence_transformers_add_a_prompt(fx, qwen_st, reference) -> None:  # type: ignore[no-untyped-def]
    config = json.loads((fx.qwen3_st / "config_sentence_transformers.json").read_text())
    assert config["default_prompt_name"] == "query"  # the trap is set...
    trapped = qwen_st.model.encode(TEXTS, normalize_embeddings=True)  # ...and plain encode() falls in
    assert not agree(trapped, reference(TEXTS))
    assert agree(qwen_st.embed(TEXTS, "document").vectors, reference(TEXTS))


def test_instructions_can_be_replaced(fx, reference) -> None:  # type: ignore[no-untyped-def]
    mine = "Find patents about weather radar"
    for name in (f"st:{fx.qwen3_st}", f"gguf:{fx.qwen3_gguf}"):
        model = load_embedder(name, max_tokens=WINDOW, instructions={"query": mine})
        assert model.profile.instructions["query"] == mine
        assert model.profile.instructions["cluster"] == QWEN3_EMBEDDING.instructions["cluster"]
        got = model.embed(TEXTS, "query").vectors
        assert agree(got, reference(TEXTS, instruction=mine))
        assert not agree(got, reference(TEXTS, instruction=INSTRUCTION))
    with pytest.raises(ModelError, match="takes no instructions"):
        load_embedder("minilm", instructions={"query": mine})
    with pytest.raises(ModelError, match="no such task"):
        load_embedder(f"gguf:{fx.qwen3_gguf}", max_tokens=WINDOW, instructions={"summarise": mine})


def test_long_texts_are_chunked_identically_and_every_window_fits(qwen_st, qwen_gguf) -> None:  # type: ignore[no-untyped-def]
    for task in ("document", "query"):
        a = qwen_st.embed([LONG, TEXTS[1]], task)
        b = qwen_gguf.embed([LONG, TEXTS[1]], task)
        assert a.n_chunks == b.n_chunks and a.n_chunks[0] > 1 and a.n_tokens == b.n_tokens
        assert a.truncated_tokens == [0, 0]
        assert agree(a.vectors, b.vectors)
        split = qwen_gguf.split(LONG, task)
        for chunk in split.chunks:
            formatted = qwen_gguf.profile.format(chunk, task)
            assert len(qwen_gguf.llm.tokenize(formatted.encode(), add_bos=True)) <= WINDOW
            assert len(qwen_st.model.tokenizer(formatted)["input_ids"]) <= WINDOW


def test_a_long_window_uses_flash_attention_and_gives_the_same_vectors(fx, qwen_gguf) -> None:  # type: ignore[no-untyped-def]
    wide = load_embedder(f"gguf:{fx.qwen3_gguf}", max_tokens=4096)
    assert wide.llm.context_params.n_ubatch == 4096 and wide.llm.context_params.flash_attn_type == 1
    assert agree(wide.embed(TEXTS, "query").vectors, qwen_gguf.embed(TEXTS, "query").vectors)


def test_matryoshka_limits(qwen_gguf, minilm_ggufs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match="between 32 and 64"):
        qwen_gguf.embed(TEXTS, dims=16)
    with pytest.raises(ModelError, match="Matryoshka"):
        minilm_ggufs["f16"].embed(TEXTS, dims=128)


# -- GGUF files that are not embedding models, and other bad input ------------------------------
def test_a_causal_lm_gguf_is_refused_unless_a_profile_says_how_to_pool(fx, qwen_gguf) -> None:  # type: ignore[no-untyped-def]
    meta = read_gguf_metadata(fx.qwen3_causal_gguf)
    assert meta["general.architecture"] == "qwen3" and "qwen3.pooling_type" not in meta
    with pytest.raises(ModelError, match="not an embedding model.*pooling type"):
        load_embedder(f"gguf:{fx.qwen3_causal_gguf}")
    # Told it is a Qwen3 embedding model, patscape pools the last token and makes llama.cpp end
    # every sequence with <|endoftext|> (this chat GGUF's own EOS is <|im_end|> and not appended).
    forced = load_embedder(f"gguf:{fx.qwen3_causal_gguf}", profile="qwen3", max_tokens=WINDOW)
    assert meta["tokenizer.ggml.eos_token_id"] != EOT
    assert forced.kv_overrides == {"tokenizer.ggml.add_eos_token": True, "tokenizer.ggml.eos_token_id": EOT}
    assert forced.fingerprint() != qwen_gguf.fingerprint()
    assert agree(forced.embed(TEXTS, "query").vectors, qwen_gguf.embed(TEXTS, "query").vectors)


def test_a_plain_hf_directory_gets_the_profile_pooling_and_eos(fx, qwen_st) -> None:  # type: ignore[no-untyped-def]
    plain = load_embedder(f"st:{fx.qwen3_hf}", max_tokens=WINDOW)
    assert plain.profile.family == "plain"  # a Qwen3 with no pooling and no "embed" in its name
    forced = load_embedder(f"st:{fx.qwen3_hf}", profile="qwen3", max_tokens=WINDOW)
    assert forced.special_tokens == 1 and forced.model.tokenizer("x")["input_ids"][-1] == EOT
    assert agree(forced.embed(TEXTS, "query").vectors, qwen_st.embed(TEXTS, "query").vectors)
    assert not agree(plain.embed(TEXTS).vectors, qwen_st.embed(TEXTS).vectors)


def test_bad_model_paths_and_files(tmp_path: Path, fx) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match="does not exist"):
        load_embedder("gguf:/no/such/model.gguf")
    with pytest.raises(ModelError, match="is not a file"):
        load_embedder(f"gguf:{tmp_path}")
    fake = tmp_path / "weights.gguf"
    fake.write_text("this is not a GGUF file")
    with pytest.raises(ModelError, match="not a readable GGUF file"):
        load_embedder(f"gguf:{fake}")
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(fx.qwen3_gguf.read_bytes()[:4096])
    with pytest.raises(ModelError, match="not a readable GGUF file"):
        load_embedder(f"gguf:{truncated}")
    with pytest.raises(ModelError, match="does not exist"):
        load_embedder("st:/no/such/model")
    with pytest.raises(ModelError, match="unknown profile"):
        load_embedder(f"gguf:{fx.qwen3_gguf}", profile="qwen4")
    with pytest.raises(ModelError, match="does not apply"):
        load_embedder("minilm", gpu_layers=10)
    with pytest.raises(ModelError, match="more than .* reads"):
        load_embedder(f"gguf:{fx.minilm_gguf_f16}", max_tokens=100_000)


def test_empty_text_is_refused_by_every_backend(qwen_st, qwen_gguf) -> None:  # type: ignore[no-untyped-def]
    for model in (qwen_st, qwen_gguf):
        with pytest.raises(ModelError, match="text 1 is empty"):
            model.embed(["fine", ""])


def test_missing_llama_cpp_names_the_extra(fx, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import llama_cpp -> ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'patscape\[gguf\]'"):
        load_embedder(f"gguf:{fx.qwen3_gguf}")


def test_gguf_metadata_and_token_alignment(fx) -> None:  # type: ignore[no-untyped-def]
    meta = read_gguf_metadata(fx.qwen3_gguf, find_tokens=("<|endoftext|>", "<|im_end|>"))
    assert meta["qwen3.pooling_type"] == 3 and meta["tokenizer.ggml.add_eos_token"] is True
    assert meta["token_ids"] == {"<|endoftext|>": EOT, "<|im_end|>": 151645}
    assert read_gguf_metadata(fx.minilm_gguf_f16)["bert.pooling_type"] == 1
    # byte-level pieces (a character split over two tokens) and WordPiece-style pieces
    assert align_pieces("a猫", [b"a", "猫".encode()[:2], "猫".encode()[2:]]) == [(0, 1), (1, 2), (1, 2)]
    assert align_pieces("Café naïve", [b" cafe", b" na", b"ive"]) == [(0, 4), (5, 7), (7, 10)]
    # WordPiece's [UNK] (an empty piece) stands for its whole word, up to a space or the next piece
    assert align_pieces("size≦0.3 mm", [b"", b" .", b" 3", b" mm"]) == [(0, 6), (6, 7), (7, 8), (9, 11)]
    assert align_pieces("the size≦0", [b" the", b""]) == [(0, 3), (4, 10)]


# -- MiniLM: sentence-transformers against its GGUF conversions ----------------------------------
@pytest.mark.parametrize("quant,floor", [("f16", 0.9999), ("q8_0", 0.999)])
def test_minilm_gguf_matches_sentence_transformers(minilm, minilm_ggufs, quant, floor) -> None:  # type: ignore[no-untyped-def]
    model = minilm_ggufs[quant]
    assert model.profile.family == "sentence-transformers" and model.pooling == "mean"
    assert model.max_tokens == minilm.max_tokens == 256 and model.special_tokens == 2
    texts = dev_abstracts(12, "en") + dev_abstracts(4, "zh") + [LONG]
    ours, theirs = model.embed(texts), minilm.embed(texts)
    assert ours.n_chunks == theirs.n_chunks and ours.n_chunks[-1] > 1
    assert agree(ours.vectors, theirs.vectors, floor), cosines(ours.vectors, theirs.vectors).min()
    # WordPiece pieces mapped back onto the text give the tokenizer's own offsets, for every text
    # (one dev abstract has "size≦0.3": an [UNK] that spans its whole word)
    assert any("≦" in t for t in texts)
    assert [model.token_spans(t) for t in texts] == [minilm.token_spans(t) for t in texts]


# -- openai: a real server, then the protocol's failure cases -----------------------------------
def test_openai_against_llama_cpp_server_matches_gguf(fx, served, qwen_gguf, reference) -> None:  # type: ignore[no-untyped-def]
    model = load_embedder(f"openai:tiny-qwen3@{served}", tokenizer=f"st:{fx.qwen3_st}", max_tokens=WINDOW)
    assert model.profile.family == "qwen3-embedding" and model.special_tokens == 1 and model.native_dims == 64
    for task, dims in (("query", None), ("document", None), ("cluster", 32)):
        got = model.embed([*TEXTS, LONG], task, dims)
        local = qwen_gguf.embed([*TEXTS, LONG], task, dims)
        assert got.n_chunks == local.n_chunks and got.n_chunks[-1] > 1
        assert np.allclose(got.vectors, local.vectors, atol=1e-4)
    assert agree(model.embed(TEXTS, "query").vectors, reference(TEXTS, instruction=INSTRUCTION))
    # what the server itself returns is not normalised (patscape normalises)
    raw = model.embed_batch(TEXTS[:2])
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0, atol=1e-2)
    model.close()


def test_openai_without_a_tokenizer_cuts_conservative_windows(fx, served, qwen_gguf) -> None:  # type: ignore[no-untyped-def]
    model = load_embedder(f"openai:Qwen3-Embedding-tiny@{served}", max_tokens=WINDOW)
    assert model.profile.family == "qwen3-embedding"  # from the model name
    got = model.embed([*TEXTS, LONG], "query")
    assert got.n_chunks[-1] > qwen_gguf.embed([LONG], "query").n_chunks[0]  # smaller windows
    for chunk in model.split(LONG, "query").chunks:  # each fits the server, by the real tokenizer
        assert len(qwen_gguf.llm.tokenize(model.profile.format(chunk, "query").encode(), add_bos=True)) <= WINDOW
    whole = [i for i, n in enumerate(got.n_chunks[:-1]) if n == 1]  # texts short enough for one window
    assert len(whole) >= 3
    assert np.allclose(got.vectors[whole], qwen_gguf.embed([TEXTS[i] for i in whole], "query").vectors, atol=1e-4)
    model.close()


def test_approximate_windows_split_a_text_just_under_the_limit() -> None:
    # 56 approximate tokens: one window by count of spans, but 56 x 1.25 + 2 = 72 > 64
    text = " ".join(f"w{i % 10}" for i in range(28))
    with bf.FakeEmbeddingServer() as fake:
        model = _openai(fake.url, max_tokens=64)
        assert len(model.token_spans(text)) == 56 and model.count(text) > 64
        result = model.embed([text])
        assert result.n_chunks == [2] and result.truncated_tokens == [0]
        assert all(model.count(chunk) <= 64 for chunk in model.split(text, "document").chunks)


def test_the_token_approximation_over_counts_real_patents(minilm, qwen_st) -> None:  # type: ignore[no-untyped-def]
    texts = dev_abstracts(150, "en") + dev_abstracts(100, "zh")
    for model in (minilm, qwen_st):
        for text in texts:
            approx = len(APPROX_TOKEN.findall(text)) * 1.25
            assert approx >= len(model.token_spans(text)), (model.name, text[:80])


def _openai(url: str, **options):  # type: ignore[no-untyped-def]
    options.setdefault("backoff", 0.01)
    options.setdefault("max_retries", 2)
    return load_embedder(f"openai:test-model@{url}", **options)


def test_openai_server_down_is_a_clear_error() -> None:
    port = bf.free_port()  # nothing listens there
    with pytest.raises(ModelError, match=r"cannot connect .*127\.0\.0\.1.*is it running\? \(gave up after 3 attempts\)"):
        _openai(f"http://127.0.0.1:{port}/v1")


def test_openai_server_that_does_not_answer_times_out() -> None:
    with bf.FakeEmbeddingServer(script=["hang"]) as fake, pytest.raises(ModelError, match=r"did not answer within 0\.3s"):
        _openai(fake.url, timeout=0.3, max_retries=0)


def test_openai_retries_429_honouring_retry_after_and_backs_off_on_5xx() -> None:
    with bf.FakeEmbeddingServer() as fake:
        model = _openai(fake.url, backoff=0.5, max_retries=3)
        slept: list[float] = []
        model.sleep = slept.append
        fake.script = [("status", 429, {"Retry-After": "2"}, {"error": {"message": "slow down"}}), "ok"]
        vectors = model.embed(TEXTS[:2]).vectors
        assert slept == [2.0]
        expected = np.array([bf.fake_vector(t, 8) for t in TEXTS[:2]])
        assert np.allclose(vectors, expected / np.linalg.norm(expected, axis=1, keepdims=True), atol=1e-6)
        slept.clear()
        fake.script = [("status", 503, {}, {"error": "loading"}), ("status", 502, {}, {}), "ok"]
        model.embed(TEXTS[:1])
        assert slept == [0.5, 1.0]  # exponential
        slept.clear()
        fake.script = [("status", 429, {}, {"error": "busy"})] * 4
        with pytest.raises(ModelError, match=r"answered 429.*busy.*gave up after 4 attempts"):
            model.embed(TEXTS[:1])
        assert slept == [0.5, 1.0, 2.0]
    assert retry_after("7") == 7.0 and retry_after("soon") is None and retry_after(None) is None
    in_30s = email.utils.formatdate(time.time() + 30, usegmt=True)  # the HTTP-date form
    assert 25 <= (retry_after(in_30s) or 0) <= 31


def test_openai_wrong_answers_are_model_errors() -> None:
    with bf.FakeEmbeddingServer() as fake:
        model = _openai(fake.url)
        fake.script = [("dims", 7)]
        with pytest.raises(ModelError, match="7 dimensions.*gave 8"):
            model.embed(TEXTS[:2])
        fake.script = [("count", 1)]
        with pytest.raises(ModelError, match="returned 1 vectors for 2 texts"):
            model.embed(TEXTS[:2])
        fake.script = ["per-token"]
        with pytest.raises(ModelError, match="no pooling"):
            model.embed(TEXTS[:1])
        fake.script = [("status", 500, {}, {"error": {"message": "input is too large to process. increase the physical batch size"}})]
        with pytest.raises(ModelError, match="lower max_tokens"):
            model.embed(TEXTS[:1])
        fake.script = [("status", 404, {}, {"error": {"message": "model not found"}})]
        with pytest.raises(ModelError, match="model not found"):
            model.embed(TEXTS[:1])


def test_openai_sends_the_api_key(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATSCAPE_OPENAI_API_KEY", "sk-test-123")
    with bf.FakeEmbeddingServer() as fake:
        _openai(fake.url)
        assert fake.requests[0][0]["authorization"] == "Bearer sk-test-123"
        _openai(fake.url, api_key="sk-given")
        assert fake.requests[-1][0]["authorization"] == "Bearer sk-given"
    monkeypatch.delenv("PATSCAPE_OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with bf.FakeEmbeddingServer(script=[("status", 401, {}, {"error": {"message": "invalid api key"}})]) as fake:
        with pytest.raises(ModelError, match="invalid api key.*PATSCAPE_OPENAI_API_KEY"):
            _openai(fake.url)
        assert "authorization" not in fake.requests[0][0]


def test_openai_batches_by_token_budget_and_runs_requests_concurrently() -> None:
    barrier = threading.Barrier(2, timeout=20)

    def meet(body: dict) -> object:  # the first two requests must be in flight at the same time
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return ("status", 400, {}, {"error": "requests were not concurrent"})
        return "ok"

    texts = [f"patent number {i} about a radar antenna" for i in range(12)]
    with bf.FakeEmbeddingServer() as fake:
        model = _openai(fake.url, concurrency=2, max_batch_tokens=60, max_retries=0)
        fake.requests.clear()
        fake.script = [meet, meet]
        result = model.embed(texts, batch_size=32)
        sent = [body["input"] for _, body in fake.requests]
        assert sorted(t for batch in sent for t in batch) == sorted(texts)
        assert len(sent) > 1 and all(sum(model.count(t) for t in batch) <= 60 for batch in sent)
        expected = np.array([bf.fake_vector(t, 8) for t in texts])
        assert np.allclose(result.vectors, expected / np.linalg.norm(expected, axis=1, keepdims=True), atol=1e-6)


def test_openai_names_and_urls(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert parse_name("Qwen/Qwen3-Embedding-0.6B@http://10.0.0.5:8000/v1") == ("Qwen/Qwen3-Embedding-0.6B", "http://10.0.0.5:8000/v1")
    assert endpoint("http://h:8080") == "http://h:8080/v1/embeddings"
    assert endpoint("http://h:8080/v1/") == "http://h:8080/v1/embeddings"
    assert endpoint("http://h/api/embeddings") == "http://h/api/embeddings"
    with pytest.raises(ModelError, match="openai:MODEL@URL"):
        load_embedder("openai:just-a-model")
    with pytest.raises(ModelError, match="bad openai model"):
        load_embedder("openai:m@ftp://host/v1")
    for key in ("st:DIR", "gguf:FILE.gguf", "openai:MODEL@URL", "minilm"):
        assert key in MODELS
