"""The embedder base class. A backend implements two methods; everything else lives here.

Backends implement :meth:`Embedder.token_spans` (their tokenizer) and :meth:`Embedder.embed_batch`
(their model). The base class applies the model profile (prompt templates, instructions),
splits long texts into windows, pools them, truncates Matryoshka dimensions and normalises.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..chunking import normalize_rows, pool, split_text
from ..errors import ModelError
from .profiles import ModelProfile, Task


@dataclass(frozen=True, slots=True)
class Embedded:
    """Vectors of a batch of texts, with what chunking did to each text."""

    vectors: NDArray[np.float32]  # (n_texts, dims), unit rows
    n_chunks: list[int]
    n_tokens: list[int]
    truncated_tokens: list[int]


class Embedder(ABC):
    """An embedding model, addressed by ``name`` (``backend:model``)."""

    #: Tokens the backend adds around each text (CLS/SEP, EOS); subtracted from the window.
    special_tokens: int = 2

    def __init__(self, name: str, profile: ModelProfile, dims: int, max_tokens: int) -> None:
        self.name = name
        self.profile = profile
        self.native_dims = dims
        self.max_tokens = max_tokens

    # -- what a backend provides ---------------------------------------------------------------
    @abstractmethod
    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character span of each token of ``text`` as the model tokenises it, no special tokens."""

    @abstractmethod
    def embed_batch(self, texts: list[str]) -> NDArray[np.float32]:
        """One vector per text (already formatted and short enough), shape ``(len(texts), dims)``."""

    @abstractmethod
    def fingerprint(self) -> str:
        """A stable identifier of the weights and tokenizer: equal fingerprints, equal vectors."""

    # -- what the base class does --------------------------------------------------------------
    def check_dims(self, dims: int | None) -> int:
        """The output size for a requested ``dims`` (None: native); refuses impossible requests."""
        if dims is None or dims == self.native_dims:
            return self.native_dims
        if not self.profile.matryoshka:
            raise ModelError(
                f"{self.name} was not trained for Matryoshka truncation; --dims {dims} would give "
                f"meaningless vectors (its size is {self.native_dims})"
            )
        if not self.profile.min_dims <= dims <= self.native_dims:
            raise ModelError(f"--dims must be between {self.profile.min_dims} and {self.native_dims} for {self.name}")
        return dims

    def embed(
        self,
        texts: Sequence[str],
        task: Task = "document",
        dims: int | None = None,
        *,
        overlap: int = 32,
        max_chunks: int | None = None,
        batch_size: int = 32,
    ) -> Embedded:
        """Embed whole texts of any length: format for ``task``, chunk, embed, pool, normalise."""
        out_dims = self.check_dims(dims)
        for i, text in enumerate(texts):
            if not text or not text.strip():
                raise ModelError(f"text {i} is empty; there is nothing to embed")
        prefix_tokens = len(self.token_spans(self.profile.format("", task))) if self.profile.uses_instructions() else 0
        window = self.max_tokens - self.special_tokens - prefix_tokens
        splits = [split_text(t, self.token_spans, window, overlap, max_chunks) for t in texts]
        flat = [self.profile.format(chunk, task) for s in splits for chunk in s.chunks]
        chunk_vectors = np.zeros((len(flat), self.native_dims), dtype=np.float32)
        # Sort by length so a batch holds texts of similar size (less padding).
        order = sorted(range(len(flat)), key=lambda i: len(flat[i]))
        for start in range(0, len(order), batch_size):
            picked = order[start : start + batch_size]
            vectors = np.asarray(self.embed_batch([flat[i] for i in picked]), dtype=np.float32)
            if vectors.shape != (len(picked), self.native_dims):
                raise ModelError(
                    f"{self.name} returned vectors of shape {vectors.shape}, expected {(len(picked), self.native_dims)}"
                )
            chunk_vectors[picked] = vectors
        chunk_vectors = normalize_rows(chunk_vectors[:, :out_dims])
        pooled = np.zeros((len(texts), out_dims), dtype=np.float32)
        at = 0
        for i, split in enumerate(splits):
            n = len(split.chunks)
            pooled[i] = pool(chunk_vectors[at : at + n], split.tokens)
            at += n
        return Embedded(
            vectors=pooled,
            n_chunks=[len(s.chunks) for s in splits],
            n_tokens=[s.n_tokens for s in splits],
            truncated_tokens=[s.truncated_tokens for s in splits],
        )


def digest_files(paths: Sequence[tuple[str, bytes | int]]) -> str:
    """Short SHA-256 over (name, content-or-size) pairs."""
    h = hashlib.sha256()
    for name, value in paths:
        h.update(name.encode())
        h.update(value if isinstance(value, bytes) else str(value).encode())
    return h.hexdigest()[:16]
