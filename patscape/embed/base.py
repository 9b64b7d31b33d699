"""The embedder base class. A backend implements three methods; everything else lives here.

Backends implement :meth:`Embedder.token_spans` (their tokenizer), :meth:`Embedder.embed_batch`
(their model) and :meth:`Embedder.fingerprint`. The base class applies the model profile (prompt
templates, instructions), splits long texts into windows that provably fit the model, batches
them (by count and, where a backend sets one, by a token budget), runs batches concurrently where
the backend allows it, retries transient failures with exponential backoff, pools the windows,
truncates Matryoshka dimensions and normalises.
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from ..chunking import Split, normalize_rows, pool, split_text
from ..errors import ModelError
from .profiles import ModelProfile, Task

T = TypeVar("T")
#: Attributes that describe how to call a backend; a wrapper (e.g. the server's SharedEmbedder)
#: copies them with :meth:`Embedder.copy_call_settings`.
CALL_SETTINGS = ("special_tokens", "max_batch_tokens", "concurrency", "max_retries", "backoff", "max_backoff")


class RetryableError(ModelError):
    """A failure that may go away: the base class retries it (``retry_after``: seconds, if told)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Embedded:
    """Vectors of a batch of texts, with what chunking did to each text."""

    vectors: NDArray[np.float32]  # (n_texts, dims), unit rows
    n_chunks: list[int]
    n_tokens: list[int]
    truncated_tokens: list[int]


@dataclass(frozen=True, slots=True)
class Passages:
    """The passages of one text, each embedded on its own: ``vectors[i]`` (unit row) embeds
    ``text[spans[i][0]:spans[i][1]]``; ``truncated_tokens`` of ``n_tokens`` were left out."""

    vectors: NDArray[np.float32]  # (n_passages, dims)
    spans: list[tuple[int, int]]
    n_tokens: int
    truncated_tokens: int


class Embedder(ABC):
    """An embedding model, addressed by ``name`` (``backend:model``)."""

    #: Tokens the backend adds around each text (CLS/SEP, EOS); subtracted from the window.
    #: Backends measure it on their tokenizer and set it on the instance.
    special_tokens: int = 2
    #: Most tokens (texts + prefixes + special tokens) in one call of embed_batch; None: no limit.
    max_batch_tokens: int | None = None
    #: Calls of embed_batch that may run at once (threads); 1 for local models.
    concurrency: int = 1
    #: How often a :class:`RetryableError` is retried, and the backoff (seconds, doubling).
    max_retries: int = 0
    backoff: float = 0.5
    max_backoff: float = 30.0

    def __init__(self, name: str, profile: ModelProfile, dims: int, max_tokens: int) -> None:
        self.name = name
        self.profile = profile
        self.native_dims = dims
        self.max_tokens = max_tokens
        self.sleep: Callable[[float], None] = time.sleep

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
    def copy_call_settings(self, other: Embedder) -> None:
        """Take ``other``'s batching, concurrency and retry settings (for wrappers)."""
        for attr in CALL_SETTINGS:
            setattr(self, attr, getattr(other, attr))

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

    def window(self, task: Task) -> int:
        """Tokens of text one model call holds for ``task``: the limit less special tokens and prefix."""
        prefix = len(self.token_spans(self.profile.format("", task))) if self.profile.uses_instructions() else 0
        window = self.max_tokens - self.special_tokens - prefix
        if window < 8:
            raise ModelError(
                f"{self.name}: the {task} template leaves {window} of {self.max_tokens} tokens for the text; "
                "raise max_tokens or shorten the instruction"
            )
        return window

    def split(
        self, text: str, task: Task, overlap: int = 32, max_chunks: int | None = None, window: int | None = None
    ) -> Split:
        """``text`` cut into windows whose formatted form, special tokens included, fits the model
        (and holds at most ``window`` tokens of text, if given: passages).

        Tokenising a window on its own (or after the prefix) can give a token or two more than its
        share of the whole text's tokens; every formatted window is counted again and the text
        re-split with a smaller window until all fit, so no backend ever truncates silently.
        """
        return self._split_counted(text, task, overlap, max_chunks, window)[0]

    def _split_counted(
        self, text: str, task: Task, overlap: int, max_chunks: int | None, window: int | None = None
    ) -> tuple[Split, list[int]]:
        """:meth:`split` (into windows of at most ``window`` tokens, if given), with the tokens the
        model sees for each formatted window."""
        window = min(window, self.window(task)) if window else self.window(task)
        for _ in range(16):
            split = split_text(text, self.token_spans, window, overlap, max_chunks)
            counts = [self.count(self.profile.format(chunk, task)) for chunk in split.chunks]
            excess = max(counts) - self.max_tokens
            if excess <= 0:
                return split, counts
            window = min(window, max(split.tokens)) - excess
            if window < 8:
                break
        raise ModelError(f"{self.name}: cannot cut a text into windows of {self.max_tokens} tokens")

    def count(self, formatted: str) -> int:
        """Tokens the model sees for an already formatted text, special tokens included."""
        return len(self.token_spans(formatted)) + self.special_tokens

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
            if not isinstance(text, str) or not text.strip():
                raise ModelError(f"text {i} is empty; there is nothing to embed")
        counted = [self._split_counted(t, task, overlap, max_chunks) for t in texts]
        chunk_vectors = self._embed_windows(counted, task, out_dims, batch_size)
        splits = [split for split, _ in counted]
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

    def embed_passages(
        self,
        texts: Sequence[str],
        task: Task = "document",
        dims: int | None = None,
        *,
        window: int = 128,
        overlap: int = 16,
        max_passages: int | None = None,
        batch_size: int = 32,
    ) -> list[Passages]:
        """Every text cut into passages of at most ``window`` tokens, each embedded on its own
        (not pooled). An empty text has no passages; past ``max_passages`` the rest is cut and
        counted in ``truncated_tokens``."""
        out_dims = self.check_dims(dims)
        if window < 8:
            raise ModelError("passages need a window of at least 8 tokens")
        counted = [
            self._split_counted(t, task, overlap, max_passages, window) if t.strip() else (None, [])
            for t in texts
        ]
        present = [(split, counts) for split, counts in counted if split is not None]
        vectors = self._embed_windows(present, task, out_dims, batch_size)
        out: list[Passages] = []
        at = 0
        for split, _ in counted:
            if split is None:
                out.append(Passages(np.zeros((0, out_dims), dtype=np.float32), [], 0, 0))
                continue
            n = len(split.chunks)
            out.append(Passages(vectors[at : at + n], split.spans, split.n_tokens, split.truncated_tokens))
            at += n
        return out

    def _embed_windows(
        self, counted: Sequence[tuple[Split, list[int]]], task: Task, out_dims: int, batch_size: int
    ) -> NDArray[np.float32]:
        """Unit vectors of every window of every split, in order: ``(total windows, out_dims)``."""
        if batch_size < 1:
            raise ModelError("batch_size must be at least 1")
        flat = [self.profile.format(chunk, task) for split, _ in counted for chunk in split.chunks]
        sizes = [n for _, counts in counted for n in counts]  # tokens the model sees, per window
        chunk_vectors = np.zeros((len(flat), self.native_dims), dtype=np.float32)
        batches = self._batches(sizes, batch_size)

        def run(picked: list[int]) -> tuple[list[int], NDArray[np.float32]]:
            return picked, self._call([flat[i] for i in picked])

        if self.concurrency > 1 and len(batches) > 1:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batches))) as pool_:
                results = list(pool_.map(run, batches))
        else:
            results = [run(b) for b in batches]
        for picked, vectors in results:
            chunk_vectors[picked] = vectors
        return normalize_rows(chunk_vectors[:, :out_dims])

    def _batches(self, sizes: list[int], batch_size: int) -> list[list[int]]:
        """Indices grouped by similar length (less padding), at most ``batch_size`` per group and,
        with a token budget, at most ``max_batch_tokens`` tokens (a longer text goes alone)."""
        order = sorted(range(len(sizes)), key=lambda i: sizes[i])
        batches: list[list[int]] = []
        current: list[int] = []
        tokens = 0
        budget = self.max_batch_tokens
        for i in order:
            if current and (len(current) >= batch_size or (budget is not None and tokens + sizes[i] > budget)):
                batches.append(current)
                current, tokens = [], 0
            current.append(i)
            tokens += sizes[i]
        if current:
            batches.append(current)
        return batches

    def retrying(self, call: Callable[[], T]) -> T:
        """``call()``, retried on :class:`RetryableError` with exponential backoff (or the wait the
        error names, e.g. from Retry-After) up to ``max_retries`` times; then a ModelError."""
        attempt = 0
        while True:
            try:
                return call()
            except RetryableError as exc:
                if attempt >= self.max_retries:
                    tries = f" (gave up after {attempt + 1} attempts)" if attempt else ""
                    raise ModelError(f"{exc}{tries}") from exc
                delay = exc.retry_after if exc.retry_after is not None else self.backoff * (2**attempt)
                self.sleep(max(0.0, min(delay, self.max_backoff)))
                attempt += 1

    def _call(self, texts: list[str]) -> NDArray[np.float32]:
        """embed_batch with retries of transient failures, and a check of what came back."""
        vectors = np.asarray(self.retrying(lambda: self.embed_batch(texts)), dtype=np.float32)
        if vectors.shape != (len(texts), self.native_dims):
            raise ModelError(
                f"{self.name} returned vectors of shape {vectors.shape}, expected {(len(texts), self.native_dims)}"
            )
        if not np.isfinite(vectors).all():
            raise ModelError(f"{self.name} returned vectors with NaN or infinite values")
        return vectors


def digest_files(paths: Sequence[tuple[str, bytes | int]]) -> str:
    """Short SHA-256 over (name, content-or-size) pairs."""
    h = hashlib.sha256()
    for name, value in paths:
        h.update(name.encode())
        h.update(value if isinstance(value, bytes) else str(value).encode())
    return h.hexdigest()[:16]
