"""Backend ``hash:DIMS``: feature hashing of words, no model at all.

A deterministic bag-of-words baseline: fast, language-agnostic (Han characters are tokens), and
useful for tests and for a first look at a corpus before a real model is set up.
"""

from __future__ import annotations

import re
import zlib

import numpy as np
from numpy.typing import NDArray

from .base import Embedder
from .profiles import ModelProfile

_TOKEN = re.compile(r"[\u3400-\u9fff]|[^\W_]+", re.UNICODE)


class HashingEmbedder(Embedder):
    special_tokens = 0

    def __init__(self, dims: int = 256, max_tokens: int = 512) -> None:
        if not 8 <= dims <= 65536:
            raise ValueError("hash dims must be between 8 and 65536")
        super().__init__(f"hash:{dims}", ModelProfile(family="hashing", max_tokens=max_tokens, key_multilingual=True), dims, max_tokens)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _TOKEN.finditer(text)]

    def embed_batch(self, texts: list[str]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), self.native_dims), dtype=np.float32)
        for row, text in enumerate(texts):
            for match in _TOKEN.finditer(text.lower()):
                digest = zlib.crc32(match.group(0).encode("utf-8"))
                out[row, digest % self.native_dims] += 1.0 if (digest >> 31) & 1 else -1.0
            if not out[row].any():
                out[row, 0] = 1.0
        return out

    def fingerprint(self) -> str:
        return f"hash-v1-{self.native_dims}-{self.max_tokens}"
