"""The embedding engine of the server: the model, its names, input checks and the batcher.

The model is loaded in the background when the app starts (``/health`` says 503 until it is
ready). It is wrapped in a :class:`SharedEmbedder` so the batch worker, corpus searches and
upload jobs can use it from different threads: model calls take turns, tokenising does not
wait.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..embed import ALIASES, Embedded, Embedder, load_embedder, resolve_alias
from ..embed.profiles import TASKS, Task
from .batching import Batcher, BatcherStoppedError, BatchKey, QueueFullError
from .errors import ApiError
from .metrics import Metrics
from .settings import Settings

log = logging.getLogger(__name__)

Loader = Callable[[str], Embedder]
State = Literal["loading", "ready", "failed"]
#: Model name suffixes and the task they select; ``latest`` is what Ollama clients append.
SUFFIX_TASKS: dict[str, Task] = {"query": "query", "document": "document", "cluster": "cluster", "latest": "document"}


class SharedEmbedder(Embedder):
    """An embedder used from several threads: calls into the model hold one lock.

    Formatting, chunking and pooling (the base class) run on the caller's thread; only
    :meth:`embed_batch` of the wrapped model is serialised.
    """

    def __init__(self, inner: Embedder, lock: threading.Lock | None = None) -> None:
        super().__init__(inner.name, inner.profile, inner.native_dims, inner.max_tokens)
        self.copy_call_settings(inner)
        self.inner = inner
        self.lock = lock or threading.Lock()

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return self.inner.token_spans(text)

    def count(self, formatted: str) -> int:
        return self.inner.count(formatted)

    def embed_batch(self, texts: list[str]) -> NDArray[np.float32]:
        with self.lock:
            return self.inner.embed_batch(texts)

    def fingerprint(self) -> str:
        return self.inner.fingerprint()

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer, or None (e.g. ``hash:`` has none)."""
        return getattr(getattr(self.inner, "model", None), "tokenizer", None)

    def with_instruction(self, task: Task, instruction: str) -> SharedEmbedder:
        """The same model (and lock) with ``instruction`` for ``task`` instead of the profile's."""
        variant = copy.copy(self)
        variant.profile = self.profile.with_instructions(**{task: instruction})
        return variant


@dataclass(frozen=True, slots=True)
class EmbedResult:
    vectors: NDArray[np.float32]  # (n, dims), unit rows
    tokens: list[int]


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """What a request's ``model`` name selects: the served model and, maybe, a task."""

    name: str
    task: Task | None


class Engine:
    """Owns the served model and the batcher; one per app."""

    def __init__(self, settings: Settings, metrics: Metrics, loader: Loader | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.loader = loader or load_embedder
        self.state: State = "loading"
        self.error: str | None = None
        self.embedder: SharedEmbedder | None = None
        self.batcher: Batcher | None = None
        self.load_seconds = 0.0
        self.created = int(time.time())
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._loaded = threading.Event()  # the same moment, for worker threads (upload jobs)
        self._variants: dict[tuple[Task, str], SharedEmbedder] = {}

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Load the model in the background (called from the app's lifespan)."""
        self._task = asyncio.get_running_loop().create_task(self._load(), name="patscape-model-load")

    async def _load(self) -> None:
        started = time.perf_counter()
        try:
            inner = await asyncio.to_thread(self.loader, self.settings.model)
        except Exception as exc:  # noqa: BLE001 - any loader failure is reported on /health and every request
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"
            log.error("model %s could not be loaded: %s", self.settings.model, self.error)
            self._ready.set()
            self._loaded.set()
            return
        self.load_seconds = time.perf_counter() - started
        self.embedder = inner if isinstance(inner, SharedEmbedder) else SharedEmbedder(inner)
        self.batcher = Batcher(
            self._embed_now, max_batch=self.settings.max_batch, max_batch_tokens=self.settings.max_batch_tokens,
            queue_size=self.settings.queue_size,
            on_batch=self._batch_done, on_depth=self.metrics.queue_depth.set,
        )
        self.batcher.start()
        self.state = "ready"
        self.metrics.model_loaded.set(1)
        self._ready.set()
        self._loaded.set()
        log.info("model %s ready in %.1fs", self.embedder.name, self.load_seconds)

    async def wait_ready(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return self.state == "ready"

    def require_blocking(self, timeout: float = 900) -> SharedEmbedder:
        """The model, waiting (on a worker thread) until its load has ended."""
        self._loaded.wait(timeout)
        return self.require()

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            await asyncio.wait([self._task])  # a load in a thread cannot be cancelled; let it end
        if self.batcher is not None:
            await self.batcher.stop()

    def require(self) -> SharedEmbedder:
        """The model, or 503 while it loads (or if it failed to)."""
        if self.state == "ready" and self.embedder is not None:
            return self.embedder
        if self.state == "failed":
            raise ApiError(503, f"the model {self.settings.model} could not be loaded: {self.error}", code="model_failed")
        raise ApiError(503, f"the model {self.settings.model} is still loading; retry shortly",
                       code="model_loading", headers={"Retry-After": "2"})

    # -- names ---------------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        return self.embedder.name if self.embedder is not None else resolve_alias(self.settings.model)

    def model_ids(self) -> list[str]:
        """The served model and its task variants, as listed on ``/v1/models``."""
        base = self.model_id
        return [base] + [f"{base}:{task}" for task in TASKS]

    def _base_names(self) -> set[str]:
        names = {self.model_id, self.settings.model, resolve_alias(self.settings.model)}
        backend, _, rest = self.model_id.partition(":")
        if backend == "st" and rest:
            names.add(Path(rest).name)
        if self.model_id == "minilm":
            names.update(a for a, target in ALIASES.items() if target == "minilm")
        return {n.strip().lower() for n in names if n}

    def choose(self, requested: str | None, param: str = "model") -> ModelChoice:
        """Resolve a request's model name (``NAME``, ``NAME:query`` ...); 404 for an unknown one."""
        if requested is None or not requested.strip():
            return ModelChoice(self.model_id, None)
        name = requested.strip().lower()
        known = self._base_names()
        if name in known:
            return ModelChoice(self.model_id, None)
        base, _, suffix = name.rpartition(":")
        if base in known and suffix in SUFFIX_TASKS:
            return ModelChoice(self.model_id, None if suffix == "latest" else SUFFIX_TASKS[suffix])
        raise ApiError(
            404, f"the model {requested!r} does not exist on this server; it serves {', '.join(self.model_ids())}",
            param=param, code="model_not_found",
        )

    # -- checks --------------------------------------------------------------------------------
    def check_dims(self, dims: int | None) -> int | None:
        """``dims`` if the model can give it (None: the native size); 400 otherwise."""
        model = self.require()
        if dims is None or dims == model.native_dims:
            return None
        if dims < 1:
            raise ApiError(400, "dimensions must be a positive integer", param="dimensions", code="invalid_value")
        if not model.profile.matryoshka:
            raise ApiError(
                400, f"the model {model.name} does not support `dimensions`: it was not trained for Matryoshka "
                f"truncation, and cut vectors would be meaningless (its size is {model.native_dims})",
                param="dimensions", code="dimensions_unsupported",
            )
        if not model.profile.min_dims <= dims <= model.native_dims:
            raise ApiError(
                400, f"dimensions must be between {model.profile.min_dims} and {model.native_dims} for {model.name}",
                param="dimensions", code="invalid_value",
            )
        return dims

    def check_instruction(self, instruction: str | None) -> str | None:
        if instruction is None:
            return None
        model = self.require()
        if not instruction.strip():
            raise ApiError(400, "the instruction is empty", param="instruction", code="invalid_value")
        if not model.profile.uses_instructions():
            raise ApiError(
                400, f"the model {model.name} takes no instructions (its profile {model.profile.family!r} has no "
                "instruction templates); leave `instruction` out", param="instruction", code="instruction_unsupported",
            )
        return instruction.strip()

    def window(self, task: Task, instruction: str | None = None) -> int:
        """Tokens of text one model call can hold for ``task`` (the model's limit less prefixes)."""
        model = self._variant(task, instruction)
        prefix = len(model.token_spans(model.profile.format("", task))) if model.profile.uses_instructions() else 0
        return model.max_tokens - model.special_tokens - prefix

    def decode_tokens(self, inputs: Sequence[Sequence[int]], param: str = "input") -> list[str]:
        """Token ids back to text with the model's own tokenizer (400 if it has none)."""
        model = self.require()
        tokenizer = model.tokenizer
        if tokenizer is None:
            raise ApiError(
                400, f"the model {model.name} has no tokenizer to decode token ids with; send the input as text",
                param=param, code="tokens_unsupported",
            )
        vocabulary = len(tokenizer)
        texts = []
        for i, ids in enumerate(inputs):
            where = f"{param}[{i}]" if len(inputs) > 1 else param
            if not ids:
                raise ApiError(400, f"{where} is an empty list of tokens", param=param, code="empty_input")
            if len(ids) > self.settings.max_tokens_per_input:
                raise ApiError(
                    400, f"{where} has {len(ids)} tokens; this server accepts at most "
                    f"{self.settings.max_tokens_per_input} per input", param=param, code="context_length_exceeded",
                )
            bad = next((t for t in ids if not 0 <= t < vocabulary), None)
            if bad is not None:
                raise ApiError(
                    400, f"{where} holds the token id {bad}, outside the vocabulary of {model.name} (0..{vocabulary - 1})",
                    param=param, code="invalid_token",
                )
            texts.append(tokenizer.decode(list(ids), skip_special_tokens=True))
        return texts

    def check_inputs(
        self, texts: Sequence[str], task: Task, instruction: str | None, *, reject_long: bool, param: str = "input"
    ) -> list[int]:
        """Tokens of each text; refuses empty inputs, too many inputs and inputs too long."""
        model = self.require()
        if not texts:
            raise ApiError(400, f"{param} is empty: give at least one text", param=param, code="empty_input")
        if len(texts) > self.settings.max_inputs:
            raise ApiError(
                400, f"too many inputs: {len(texts)} (this server accepts at most {self.settings.max_inputs} per "
                "request; send them in several requests)", param=param, code="too_many_inputs",
            )
        window = self.window(task, instruction)
        counts = []
        for i, text in enumerate(texts):
            where = f"{param}[{i}]" if len(texts) > 1 else param
            if not text.strip():
                raise ApiError(400, f"{where} is empty; there is nothing to embed", param=param, code="empty_input")
            n = len(model.token_spans(text))
            if n > self.settings.max_tokens_per_input:
                raise ApiError(
                    400, f"{where} has {n} tokens; this server accepts at most {self.settings.max_tokens_per_input} "
                    "per input", param=param, code="context_length_exceeded",
                )
            if reject_long and n > window:
                raise ApiError(
                    400, f"{where} has {n} tokens but {model.name} reads at most {window} at once, and this server "
                    "refuses long inputs instead of splitting them; shorten the input", param=param,
                    code="context_length_exceeded",
                )
            counts.append(n)
        return counts

    # -- embedding -----------------------------------------------------------------------------
    async def embed(
        self,
        texts: Sequence[str],
        *,
        task: Task = "document",
        dims: int | None = None,
        instruction: str | None = None,
        api: str = "openai",
        reject_long: bool | None = None,
        param: str = "input",
    ) -> EmbedResult:
        """Check, queue and embed ``texts``; unit vectors and the tokens of each text."""
        self.require()
        dims = self.check_dims(dims)
        instruction = self.check_instruction(instruction)
        reject = self.settings.long_inputs == "reject" if reject_long is None else reject_long
        if len(texts) > 64:
            counts = await asyncio.to_thread(self.check_inputs, texts, task, instruction, reject_long=reject, param=param)
        else:
            counts = self.check_inputs(texts, task, instruction, reject_long=reject, param=param)
        assert self.batcher is not None
        try:
            results = await self.batcher.submit(list(texts), (task, dims, instruction), counts)
        except QueueFullError as exc:
            self.metrics.rejected.labels("queue_full").inc()
            raise ApiError(429, f"{exc}; retry after {exc.retry_after}s", code="queue_full",
                           headers={"Retry-After": str(exc.retry_after)}) from exc
        except BatcherStoppedError as exc:
            raise ApiError(503, str(exc), code="shutting_down", headers={"Retry-After": "5"}) from exc
        vectors = np.stack([vector for vector, _ in results]).astype(np.float32, copy=False)
        tokens = [n for _, n in results]
        self.metrics.tokens.labels(api).inc(sum(tokens))
        self.metrics.texts.labels(api).inc(len(tokens))
        return EmbedResult(vectors, tokens)

    def _variant(self, task: Task, instruction: str | None) -> SharedEmbedder:
        model = self.require()
        if instruction is None:
            return model
        key = (task, instruction)
        if key not in self._variants:
            if len(self._variants) > 64:
                self._variants.clear()
            self._variants[key] = model.with_instruction(task, instruction)
        return self._variants[key]

    def _embed_now(self, texts: list[str], key: BatchKey) -> Embedded:
        """One model call of the batcher (on a worker thread)."""
        task, dims, instruction = key
        model = self._variant(task, instruction)  # type: ignore[arg-type]
        return model.embed(texts, task, dims, batch_size=self.settings.max_batch)  # type: ignore[arg-type]

    def _batch_done(self, n_texts: int, seconds: float) -> None:
        self.metrics.batch_size.observe(n_texts)
        self.metrics.batch_seconds.observe(seconds)

