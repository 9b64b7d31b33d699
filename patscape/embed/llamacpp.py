"""Backend ``gguf:PATH.gguf``: an embedding model in GGUF, run by llama.cpp (``llama-cpp-python``).

Install with ``pip install 'patscape[gguf]'`` (llama-cpp-python builds llama.cpp from source; set
``CMAKE_ARGS="-DGGML_CUDA=on"`` for an NVIDIA GPU and load with ``gpu_layers=-1``).

How the model is set up
  * The context holds exactly one window: ``n_ctx = n_batch = n_ubatch = max_tokens`` (the
    profile's or the caller's limit, never more than the model's ``context_length``). A window
    is always one micro-batch, which llama.cpp needs for pooled embeddings, and the micro-batch
    is no bigger than needed (BERT-type models are several times slower at 2048 than at 256).
  * Pooling comes from the GGUF metadata (``<arch>.pooling_type``: mean, cls or last).
  * **The rule for GGUFs that are not embedding models**: a GGUF with no pooling type (or
    ``none``) is refused -- a chat/causal LM such as Qwen3-8B gives one vector per token, not a
    text embedding -- unless the profile names the pooling: either you pass ``profile=`` or the
    model's name identifies an embedding family (Qwen3-Embedding, E5, BGE, MiniLM). A reranker
    (pooling ``rank``) is always refused.
  * For a profile that needs the end-of-text token appended (Qwen3-Embedding) the GGUF's
    ``tokenizer.ggml.add_eos_token`` is turned on (a metadata override at load time) where the
    file does not set it, with ``<|endoftext|>`` as the EOS where the vocabulary has it, so the
    sequence ends exactly as with the Hugging Face tokenizer.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import struct
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MissingDependencyError, ModelError
from .base import Embedder, digest_files
from .profiles import ModelProfile, Pooling, detect_profile

GGUF_MAGIC = b"GGUF"
#: llama.cpp's enum llama_pooling_type.
POOLING_CODES: dict[int, str] = {0: "none", 1: "mean", 2: "cls", 3: "last", 4: "rank"}
_POOLING_TO_CODE = {"mean": 1, "cls": 2, "last": 3}
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_SAMPLE = 1 << 20
_EOT_NAME = "<|endoftext|>"


def read_gguf_metadata(path: Path, find_tokens: tuple[str, ...] = ()) -> dict[str, Any]:
    """The key/value metadata of a GGUF file (arrays as their length), without loading tensors.

    ``find_tokens``: token strings whose ids are looked up in ``tokenizer.ggml.tokens``; they are
    returned under ``"token_ids"`` (absent strings are left out).
    """
    try:
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _parse_gguf(buf, set(find_tokens))
    except (OSError, ValueError, struct.error, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is not a readable GGUF file: {exc}") from exc


def _parse_gguf(buf: Any, wanted: set[str]) -> dict[str, Any]:
    if buf[:4] != GGUF_MAGIC:
        raise ValueError("no GGUF magic number at the start")
    version, _tensors, n_kv = struct.unpack_from("<IQQ", buf, 4)
    if not 2 <= version <= 3:
        raise ValueError(f"unsupported GGUF version {version}")
    at = 24

    def string(pos: int) -> tuple[str, int]:
        (length,) = struct.unpack_from("<Q", buf, pos)
        return bytes(buf[pos + 8 : pos + 8 + length]).decode("utf-8", "replace"), pos + 8 + length

    meta: dict[str, Any] = {"token_ids": {}}
    for _ in range(n_kv):
        key, at = string(at)
        (kind,) = struct.unpack_from("<I", buf, at)
        at += 4
        if kind == 8:
            meta[key], at = string(at)
        elif kind == 9:
            elem, count = struct.unpack_from("<IQ", buf, at)
            at += 12
            if elem == 8:
                is_vocab = key == "tokenizer.ggml.tokens" and wanted
                for index in range(count):
                    (length,) = struct.unpack_from("<Q", buf, at)
                    if is_vocab and length < 64:
                        token = bytes(buf[at + 8 : at + 8 + length]).decode("utf-8", "replace")
                        if token in wanted:
                            meta["token_ids"][token] = index
                    at += 8 + length
            elif elem in _SCALARS:
                at += struct.calcsize(_SCALARS[elem]) * count
            else:
                raise ValueError(f"unsupported array type {elem} for {key}")
            meta[key] = count
        elif kind in _SCALARS:
            (meta[key],) = struct.unpack_from(_SCALARS[kind], buf, at)
            at += struct.calcsize(_SCALARS[kind])
        else:
            raise ValueError(f"unsupported value type {kind} for {key}")
    return meta


def file_fingerprint(path: Path) -> str:
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(_SAMPLE)
        if size > 2 * _SAMPLE:
            handle.seek(-_SAMPLE, os.SEEK_END)
        tail = handle.read(_SAMPLE)
    return digest_files([(path.name, size), ("h", head + tail)])


def align_pieces(text: str, pieces: list[bytes]) -> list[tuple[int, int]]:
    """Character spans of tokens, given the bytes each token stands for.

    Byte-level BPE (Qwen, GPT-2, Llama 3) pieces concatenate to the text's exact bytes. WordPiece
    and SentencePiece pieces do not (lower case, accents stripped, a space marks a word start,
    ``[UNK]`` is empty): they are found in a normalised copy of the text from left to right, and
    a piece not found there (``[UNK]``) covers the rest of its word, as the tokenizer's own
    offsets do. The spans only say where a window may be cut; the base class counts every
    window again.
    """
    data = text.encode("utf-8")
    if b"".join(pieces) == data:
        widths = [len(ch.encode("utf-8")) for ch in text]
        owner = np.repeat(np.arange(len(text)), widths) if text else np.zeros(0, dtype=int)
        spans, at = [], 0
        for piece in pieces:
            end = at + len(piece)
            if end > at:
                spans.append((int(owner[at]), int(owner[end - 1]) + 1))
            else:
                spans.append((spans[-1][1], spans[-1][1]) if spans else (0, 0))
            at = end
        return spans
    norm_chars: list[str] = []
    owners: list[int] = []
    for i, ch in enumerate(text):
        for c in _fold(ch):
            norm_chars.append(c)
            owners.append(i)
    norm = "".join(norm_chars)
    spans = []
    cursor = 0
    unknown: tuple[int, int] | None = None  # (span, where it ends so far) of the last unknown piece

    def rest_of_word(limit: int) -> None:
        # an unknown piece stands for its whole word ([UNK] replaces one): up to the next space
        # or the next piece found, whichever comes first
        if unknown is None:
            return
        index, end = unknown
        while end < limit and not norm[end].isspace():
            end += 1
        spans[index] = (spans[index][0], owners[end - 1] + 1)

    for piece in pieces:
        key = "".join(_fold(piece.decode("utf-8", "ignore"))).replace("\u2581", " ").strip()
        while cursor < len(norm) and norm[cursor].isspace():
            cursor += 1
        found = norm.find(key, cursor, cursor + len(key) + 64) if key else -1
        if found < 0:
            # An unknown or empty piece ([UNK], a byte fallback): it covers the next character
            # (and, once the next piece is found, the rest of its word).
            end = min(cursor + 1, len(norm))
            spans.append((owners[cursor] if cursor < len(norm) else len(text), owners[end - 1] + 1 if end > cursor else len(text)))
            unknown = (len(spans) - 1, end) if end > cursor else None
            cursor = end
            continue
        rest_of_word(found)
        unknown = None
        spans.append((owners[found], owners[found + len(key) - 1] + 1))
        cursor = found + len(key)
    rest_of_word(len(norm))
    return spans


def _fold(text: str) -> str:
    """Lower case, compatibility-decomposed, without combining marks (as BERT's normaliser)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


class LlamaCppEmbedder(Embedder):
    """A GGUF embedding model run in-process by llama.cpp."""

    def __init__(
        self,
        name: str,
        path: str | Path,
        profile: ModelProfile | None = None,
        *,
        max_tokens: int | None = None,
        gpu_layers: int = 0,
        threads: int | None = None,
        flash_attn: bool | None = None,
    ) -> None:
        path = Path(path).expanduser()
        if not path.exists():
            raise ModelError(f"GGUF file {path} does not exist")
        if not path.is_file():
            raise ModelError(f"{path} is not a file; gguf: takes the path of a .gguf file")
        try:
            import llama_cpp
        except ImportError as exc:
            raise MissingDependencyError("llama-cpp-python", "gguf") from exc
        meta = read_gguf_metadata(path, find_tokens=(_EOT_NAME,))
        arch = str(meta.get("general.architecture", ""))
        if not arch:
            raise ModelError(f"{path} has no general.architecture in its metadata; it is not a model GGUF")
        model_name = str(meta.get("general.name", ""))
        code = meta.get(f"{arch}.pooling_type")
        declared = POOLING_CODES.get(int(code)) if code is not None else None
        if declared == "rank":
            raise ModelError(f"{path.name} is a reranker (pooling type 'rank'), not an embedding model")
        pooling: Pooling | None = declared if declared in ("mean", "cls", "last") else None  # type: ignore[assignment]
        explicit = profile is not None
        profile = profile or detect_profile(f"{model_name} {path.stem}", arch, pooling)
        if pooling is None:
            if not explicit and profile.family in ("plain",):
                raise ModelError(
                    f"{path.name} is not an embedding model: its metadata has no pooling type "
                    f"({arch}.pooling_type is {declared or 'missing'}; general.name {model_name!r}), so llama.cpp "
                    "would return one vector per token. A chat or causal LM cannot be used as is; if this is an "
                    "embedding model converted without its pooling, say which: profile='qwen3' (last token), "
                    "'e5' (mean), 'bge' (cls)"
                )
            pooling = profile.pooling
        context_length = int(meta.get(f"{arch}.context_length") or 0) or profile.max_tokens
        window = min(max_tokens or profile.max_tokens, context_length)
        if max_tokens is not None and max_tokens > context_length:
            raise ModelError(f"max_tokens {max_tokens} is more than {path.name} reads ({context_length})")
        if window < 16:
            raise ModelError(f"max_tokens {window} is too small")
        overrides: dict[str, bool | int] = {}
        eot = meta["token_ids"].get(_EOT_NAME)
        if profile.append_eos and meta.get("tokenizer.ggml.add_eos_token") is not True:
            overrides["tokenizer.ggml.add_eos_token"] = True
            if eot is not None and meta.get("tokenizer.ggml.eos_token_id") != eot:
                overrides["tokenizer.ggml.eos_token_id"] = int(eot)
        self.path = path
        self.metadata = meta
        self.pooling = pooling
        self.gpu_layers = gpu_layers
        self.kv_overrides = overrides
        n_threads = threads or os.cpu_count() or 1
        try:
            self.llm = llama_cpp.Llama(
                str(path),
                embedding=True,
                n_ctx=window,
                n_batch=window,
                n_ubatch=window,
                n_gpu_layers=gpu_layers,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                pooling_type=_POOLING_TO_CODE[pooling] if declared != pooling else llama_cpp.LLAMA_POOLING_TYPE_UNSPECIFIED,
                kv_overrides=overrides or None,
                flash_attn=bool(flash_attn) if flash_attn is not None else window > 2048,
                verbose=False,
            )
        except Exception as exc:  # llama-cpp-python raises ValueError/RuntimeError with little text
            raise ModelError(f"llama.cpp cannot load {path}: {exc}") from exc
        self._vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self._piece_buffer = ctypes.create_string_buffer(256)
        self._pieces: dict[int, bytes] = {}
        self._to_piece = llama_cpp.llama_token_to_piece
        probe = b"patent"
        self.special_tokens = len(self.llm.tokenize(probe, add_bos=True)) - len(self.llm.tokenize(probe, add_bos=False))
        if profile.append_eos and self.llm.tokenize(probe, add_bos=True)[-1] != (eot if eot is not None else self.llm.token_eos()):
            raise ModelError(f"{path.name}: the tokenizer does not end sequences with the end-of-text token")
        super().__init__(name, profile, int(self.llm.n_embd()), window)
        self._fingerprint = digest_files([
            ("file", file_fingerprint(path).encode()), ("pooling", pooling), ("overrides", repr(sorted(overrides.items())))
        ])

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            n = self._to_piece(self._vocab, token, self._piece_buffer, len(self._piece_buffer), 0, False)
            piece = self._piece_buffer.raw[: max(n, 0)]
            self._pieces[token] = piece
        return piece

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        tokens = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        return align_pieces(text, [self._piece(t) for t in tokens])

    def count(self, formatted: str) -> int:
        return len(self.llm.tokenize(formatted.encode("utf-8"), add_bos=True, special=False))

    def embed_batch(self, texts: list[str]) -> NDArray[np.float32]:
        try:
            vectors = self.llm.embed(texts, normalize=False, truncate=False)
        except ValueError as exc:  # "Requested tokens (n) exceed batch size of m"
            raise ModelError(f"{self.name}: {exc}") from exc
        except RuntimeError as exc:
            raise ModelError(f"{self.name}: llama.cpp failed: {exc}") from exc
        return np.asarray(vectors, dtype=np.float32)

    def fingerprint(self) -> str:
        return self._fingerprint
