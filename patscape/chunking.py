"""Token-aware splitting of long texts and pooling of chunk vectors.

A text longer than the model's window is split by the model's own tokenizer into windows with
overlap; each window is embedded and the vectors are pooled (token-weighted mean, then
L2-normalised). Nothing is cut unless the caller sets ``max_chunks``, and then the number of
tokens left out is returned so that it can be recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Spans = Callable[[str], list[tuple[int, int]]]


@dataclass(frozen=True, slots=True)
class Split:
    """A text cut into chunks: ``chunks[i]`` has ``tokens[i]`` tokens (overlaps counted twice)
    and is ``text[spans[i][0]:spans[i][1]]``.

    ``n_tokens`` is the length of the whole text; ``truncated_tokens`` of them were left out.
    """

    chunks: list[str]
    tokens: list[int]
    n_tokens: int
    truncated_tokens: int
    spans: list[tuple[int, int]]


def split_text(
    text: str,
    token_spans: Spans,
    window: int,
    overlap: int = 32,
    max_chunks: int | None = None,
) -> Split:
    """Cut ``text`` into windows of at most ``window`` tokens that overlap by ``overlap`` tokens.

    ``token_spans(text)`` returns the character span of every token (special tokens excluded).
    """
    if window < 8:
        raise ValueError(f"window of {window} tokens is too small to embed anything")
    overlap = max(0, min(overlap, window // 4))
    spans = token_spans(text)
    if len(spans) <= window:
        return Split([text], [max(1, len(spans))], len(spans), 0, [(0, len(text))])
    step = window - overlap
    starts = list(range(0, len(spans) - overlap, step))
    truncated = 0
    if max_chunks is not None and len(starts) > max_chunks:
        last_end = min(starts[max_chunks - 1] + window, len(spans))
        truncated = len(spans) - last_end
        starts = starts[:max_chunks]
    chunks, counts, offsets = [], [], []
    for start in starts:
        end = min(start + window, len(spans))
        begin, stop = spans[start][0], spans[end - 1][1]
        chunks.append(text[begin:stop])
        counts.append(end - start)
        offsets.append((begin, stop))
    return Split(chunks, counts, len(spans), truncated, offsets)


def pool(vectors: NDArray[np.float32], weights: Sequence[int]) -> NDArray[np.float32]:
    """Token-weighted mean of unit chunk vectors ``(n_chunks, dims)``, renormalised to unit length."""
    if len(vectors) == 1:
        return vectors[0]
    w = np.asarray(weights, dtype=np.float32)[:, None]
    pooled = (vectors * w).sum(axis=0) / w.sum()
    return normalize_rows(pooled[None, :])[0]


def normalize_rows(matrix: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)
