"""A tiny, randomly initialised chat model as GGUF, written offline with the ``gguf`` package.

For the namer's wire-protocol test against a real ``python -m llama_cpp.server``: a two-layer
``llama``-architecture decoder (64 wide) with a SentencePiece-style vocabulary that llama.cpp
accepts -- ``<unk>``, ``<s>``, ``</s>``, the 256 byte-fallback tokens ``<0x00>``..``<0xFF>``, the
word-boundary piece ``▁`` and the printable ASCII characters -- so any text tokenizes (byte
fallback) and JSON-schema grammars find a token for every character. A chat template in the
GGUF's metadata makes the server format messages with it. Its answers are random text; only
the protocol (chat completions, constrained decoding, usage) is real.

The weights are random but for one bias: the first dimension of every token's embedding is
large (it dominates the residual stream of so small a model), and the output matrix reads it
as a per-token preference -- lower-case letters, then the closing quote, then the space, and
the byte tokens least. Sampled at temperature 1, an answer is then a short run of letters
("{"name": "qeurt kaw"}") rather than control bytes, so both the accepted and the refused
paths of the namer's checks can be met.

The file is cached in ``<cache>/tiny-chat-<key>.gguf`` (the key hashes the recipe and the gguf
version), so a rerun costs nothing; building it takes well under a second.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from pathlib import Path

import numpy as np

#: Bump when the recipe below changes: the cache key includes it.
RECIPE = 2
SHAPE = {"n_embd": 64, "n_ff": 128, "n_layer": 2, "n_head": 4, "n_head_kv": 2, "n_ctx": 4096}
#: A plain template (no special tokens inside), as a chat GGUF carries it.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}"
)


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and token types of the SentencePiece-style vocabulary."""
    from gguf import TokenType

    tokens = ["<unk>", "<s>", "</s>"]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [TokenType.BYTE] * 256
    pieces = ["▁"] + [chr(c) for c in range(33, 127)]
    tokens += pieces
    types += [TokenType.NORMAL] * len(pieces)
    scores = [0.0] * (3 + 256) + [-float(i) for i in range(len(pieces))]
    return tokens, scores, [int(t) for t in types]


def preference(token: str) -> float:
    """The output weight on the embeddings' large first dimension (see the module doc)."""
    if len(token) == 1 and "a" <= token <= "z":
        return 0.5
    if token == '"':
        return 0.6
    if token == "▁":
        return 0.45
    return -0.5 if len(token) == 1 else -3.0


def build_tiny_chat(path: Path, seed: int = 7) -> Path:
    """Write the tiny chat model to ``path`` (overwriting) and return it."""
    import gguf

    tokens, scores, types = vocabulary()
    n_vocab = len(tokens)
    s = SHAPE
    head_dim = s["n_embd"] // s["n_head"]
    rng = np.random.default_rng(seed)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("Tiny-Random-Chat")
    writer.add_context_length(s["n_ctx"])
    writer.add_embedding_length(s["n_embd"])
    writer.add_block_count(s["n_layer"])
    writer.add_feed_forward_length(s["n_ff"])
    writer.add_head_count(s["n_head"])
    writer.add_head_count_kv(s["n_head_kv"])
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(False)  # the template writes it
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)
    # numpy shapes are (rows, columns) = GGUF's (ne1, ne0): a weight maps ne0 inputs to ne1 outputs.
    embedding = weight(n_vocab, s["n_embd"])
    embedding[:, 0] = 4.0
    writer.add_tensor("token_embd.weight", embedding)
    for i in range(s["n_layer"]):
        kv = s["n_head_kv"] * head_dim
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(s["n_embd"], dtype=np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", weight(s["n_embd"], s["n_embd"]))
        writer.add_tensor(f"blk.{i}.attn_k.weight", weight(kv, s["n_embd"]))
        writer.add_tensor(f"blk.{i}.attn_v.weight", weight(kv, s["n_embd"]))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weight(s["n_embd"], s["n_embd"]))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(s["n_embd"], dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(s["n_ff"], s["n_embd"]))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(s["n_ff"], s["n_embd"]))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(s["n_embd"], s["n_ff"]))
    writer.add_tensor("output_norm.weight", np.ones(s["n_embd"], dtype=np.float32))
    output = weight(n_vocab, s["n_embd"])
    output[:, 0] = [preference(token) for token in tokens]
    writer.add_tensor("output.weight", output)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def tiny_chat_gguf(cache: Path) -> Path:
    """The cached tiny chat model (built on first use; written atomically)."""
    key = hashlib.sha256(f"{RECIPE}|{SHAPE}|{CHAT_TEMPLATE}|{importlib.metadata.version('gguf')}".encode()).hexdigest()[:12]
    path = cache / f"tiny-chat-{key}.gguf"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f".{path.name}.{os.getpid()}.partial"
    build_tiny_chat(partial)
    partial.replace(path)
    return path
