from __future__ import annotations

import numpy as np
import pytest

from patscape.chunking import pool, split_text
from patscape.embed import load_embedder
from patscape.embed.hashing import HashingEmbedder
from patscape.embed.profiles import E5, QWEN3_EMBEDDING, detect_profile
from patscape.errors import ModelError


def spans(text: str) -> list[tuple[int, int]]:
    out, at = [], 0
    for word in text.split(" "):
        out.append((at, at + len(word)))
        at += len(word) + 1
    return out


def test_split_windows_overlap_and_cover_the_text() -> None:
    text = " ".join(f"w{i}" for i in range(100))
    split = split_text(text, spans, window=30, overlap=5)
    assert all(t <= 30 for t in split.tokens)
    assert split.n_tokens == 100 and split.truncated_tokens == 0
    assert split.chunks[0].startswith("w0 ") and split.chunks[-1].endswith("w99")
    # consecutive windows share exactly `overlap` words
    first, second = split.chunks[0].split(), split.chunks[1].split()
    assert first[-5:] == second[:5]


def test_short_text_is_one_chunk_and_max_chunks_records_the_cut() -> None:
    assert split_text("a b c", spans, window=30).chunks == ["a b c"]
    text = " ".join(f"w{i}" for i in range(100))
    cut = split_text(text, spans, window=30, overlap=0, max_chunks=2)
    assert len(cut.chunks) == 2 and cut.truncated_tokens == 40


def test_pool_is_token_weighted_and_unit_length() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    pooled = pool(vectors, [3, 1])
    assert np.isclose(np.linalg.norm(pooled), 1.0)
    assert pooled[0] == pytest.approx(3 / np.sqrt(10), rel=1e-5)


def test_hash_embedder_is_deterministic_and_chunks_long_text() -> None:
    model = HashingEmbedder(64, max_tokens=16)
    long_text = " ".join(["glider buoyancy engine"] * 20)
    result = model.embed(["satellite antenna", long_text])
    again = model.embed(["satellite antenna", long_text])
    assert np.array_equal(result.vectors, again.vectors)
    assert result.n_chunks == [1, 5] and result.n_tokens == [2, 60]
    assert np.allclose(np.linalg.norm(result.vectors, axis=1), 1.0)


def test_empty_text_and_bad_dims_are_refused() -> None:
    model = HashingEmbedder(64)
    with pytest.raises(ModelError, match="empty"):
        model.embed(["ok", "  "])
    with pytest.raises(ModelError, match="Matryoshka"):
        model.embed(["ok"], dims=32)


def test_unknown_model_and_missing_directory() -> None:
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        load_embedder("nope")
    with pytest.raises(ModelError, match="does not exist"):
        load_embedder("st:/no/such/model")


def test_profiles_format_queries_and_documents() -> None:
    assert detect_profile("/models/Qwen3-Embedding-0.6B") is QWEN3_EMBEDDING
    query = QWEN3_EMBEDDING.format("rain radar", "query")
    assert query.startswith("Instruct: ") and query.endswith("\nQuery:rain radar")
    assert QWEN3_EMBEDDING.format("rain radar", "document") == "rain radar"
    assert E5.format("x", "query") == "query: x" and E5.format("x", "document") == "passage: x"
    assert detect_profile("intfloat/multilingual-e5-small").multilingual


def test_minilm_matches_sentence_transformers_and_pools_long_text(minilm) -> None:  # type: ignore[no-untyped-def]
    texts = ["An underwater glider with a buoyancy engine.", "一种卫星姿态控制方法"]
    ours = minilm.embed(texts).vectors
    reference = minilm.model.encode(texts, normalize_embeddings=True)
    assert np.allclose(ours, reference, atol=1e-5)
    long_text = " ".join(["The radar measures rainfall over the catchment area."] * 80)
    result = minilm.embed([long_text])
    assert result.n_chunks[0] > 1 and result.truncated_tokens == [0]
    assert result.n_tokens[0] > minilm.max_tokens
    # the stored vector is the token-weighted mean of the windows, each embedded untruncated
    split = split_text(long_text, minilm.token_spans, minilm.max_tokens - 2, overlap=32)
    assert len(split.chunks) == result.n_chunks[0]
    windows = minilm.model.encode(split.chunks, normalize_embeddings=True)
    assert all(len(minilm.model.tokenizer(c)["input_ids"]) <= minilm.max_tokens for c in split.chunks)
    assert np.allclose(result.vectors[0], pool(windows, split.tokens), atol=1e-5)


@pytest.mark.parametrize("max_tokens,max_chunks,max_passages", [(512, None, 256), (64, 3, 4)])
def test_the_batch_planner_counts_exactly_the_windows_embedding_computes(
    max_tokens: int, max_chunks: int | None, max_passages: int
) -> None:
    """embed commits batches bounded by model windows (chunks + passages): the count it plans with
    (before embedding) is the count of windows the embedding then runs, cuts included."""
    from patscape.pipeline.embed_stage import EmbedOptions, document_windows, embed_documents
    from patscape.records import Document
    from patscape.spaces import PassageParams

    words = [f"w{i % 97}" for i in range(3000)]
    docs = [
        Document(id="short", title="A glider", abstract="A wing of fabric."),
        Document(id="long", title="Valve", abstract=" ".join(words[:700]), claims=" ".join(words[:900]),
                 description=" ".join(words)),
        Document(id="text", title="Notes", text=" ".join(words[:1500])),
    ]
    embedder = HashingEmbedder(32, max_tokens=max_tokens)
    options = EmbedOptions("document", None, ("title", "abstract", "claims"), 32, max_chunks,
                           PassageParams(64, 8, max_passages))
    rows, passages = embed_documents(embedder, docs, options)
    for doc, row in zip(docs, rows):
        computed = row.n_chunks + sum(1 for p in passages or [] if p.doc_id == doc.id)
        assert document_windows(embedder, doc, options) == computed
    assert {row.doc_id: row.n_chunks for row in rows}["long"] > 1
