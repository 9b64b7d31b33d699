"""Dynamic batching: texts of many requests share model calls, from one bounded queue.

A request is split into its texts, which wait in one queue together with every other
request's. One worker takes waiting texts that need the same kind of embedding (task,
dimensions, instruction), in arrival order, up to ``max_batch`` texts and ``max_batch_tokens``
tokens, embeds them in one blocking call on a thread (the embedder sorts them by length so a
call holds texts of similar size) and routes each vector back to its request. The token budget
matters on a CPU: there a batch of 32 abstracts is slower per text than a batch of 4, while 32
short queries are four times faster than one at a time. Nothing waits on purpose: an idle worker starts at
once, and whatever arrives while the model is busy forms the next batch.

The queue is bounded in texts; a request that does not fit is refused whole
(:class:`QueueFullError`), so a client always gets an answer instead of a hang.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..embed import Embedded

log = logging.getLogger(__name__)

#: What must be equal for texts to share a model call: (task, dims or None, instruction or None).
BatchKey = tuple[str, int | None, str | None]
EmbedCall = Callable[[list[str], BatchKey], Embedded]


class QueueFullError(Exception):
    """The queue has no room for a request; ``retry_after`` is a fair wait in seconds."""

    def __init__(self, waiting: int, capacity: int, retry_after: int) -> None:
        super().__init__(f"the embedding queue is full ({waiting} of {capacity} texts waiting)")
        self.retry_after = retry_after


class BatcherStoppedError(Exception):
    """The server is shutting down; the request was not embedded."""


@dataclass(eq=False, slots=True)
class _Waiting:
    text: str
    key: BatchKey
    tokens: int
    future: asyncio.Future[tuple[NDArray[np.float32], int]]


class Batcher:
    """One queue and one worker in front of a blocking ``embed(texts, key)`` call.

    Parameters
    ----------
    embed : callable
        ``embed(texts, key) -> Embedded``, run on a worker thread.
    max_batch : int
        Texts per call, at most.
    max_batch_tokens : int
        Tokens per call, at most; a text longer than this is embedded alone.
    queue_size : int
        Texts that may wait, at most; beyond it :meth:`submit` raises :class:`QueueFullError`.
    on_batch : callable, optional
        ``on_batch(n_texts, seconds)`` after each call (metrics).
    on_depth : callable, optional
        ``on_depth(waiting)`` whenever the queue length changes (metrics).
    """

    def __init__(
        self,
        embed: EmbedCall,
        *,
        max_batch: int,
        max_batch_tokens: int,
        queue_size: int,
        on_batch: Callable[[int, float], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        self.embed = embed
        self.max_batch = max_batch
        self.max_batch_tokens = max_batch_tokens
        self.queue_size = queue_size
        self.on_batch = on_batch
        self.on_depth = on_depth
        self._waiting: deque[_Waiting] = deque()
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._seconds_per_text = 0.05  # running estimate, for Retry-After
        self._stopped = False

    @property
    def depth(self) -> int:
        return len(self._waiting)

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="patscape-batcher")

    async def stop(self) -> None:
        """Stop the worker; whatever still waits fails with :class:`BatcherStoppedError`."""
        self._stopped = True
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        while self._waiting:
            item = self._waiting.popleft()
            if not item.future.done():
                item.future.set_exception(BatcherStoppedError("the server is shutting down"))
        self._depth_changed()

    async def submit(
        self, texts: Sequence[str], key: BatchKey, tokens: Sequence[int]
    ) -> list[tuple[NDArray[np.float32], int]]:
        """Embed ``texts`` of ``tokens`` tokens each (with whatever else waits); ``(vector, n_tokens)`` per text."""
        if self._stopped:
            raise BatcherStoppedError("the server is shutting down")
        if len(self._waiting) + len(texts) > self.queue_size:
            wait = (len(self._waiting) + len(texts)) * self._seconds_per_text
            raise QueueFullError(len(self._waiting), self.queue_size, max(1, math.ceil(wait)))
        loop = asyncio.get_running_loop()
        items = [_Waiting(text, key, int(n), loop.create_future()) for text, n in zip(texts, tokens, strict=True)]
        self._waiting.extend(items)
        self._depth_changed()
        self._wakeup.set()
        try:
            return list(await asyncio.gather(*(item.future for item in items)))
        except BaseException:
            for item in items:  # a client that went away: its texts need not be embedded
                item.future.cancel()
            raise

    # -- the worker ------------------------------------------------------------------------------
    def _take(self) -> list[_Waiting]:
        """Live texts with the key of the oldest one, in arrival order, within both budgets."""
        while self._waiting and self._waiting[0].future.done():
            self._waiting.popleft()
        if not self._waiting:
            return []
        key = self._waiting[0].key
        taken: list[_Waiting] = []
        kept: deque[_Waiting] = deque()
        tokens = 0
        full = False
        for item in self._waiting:
            if item.future.done():
                continue
            if not full and item.key == key:
                fits = len(taken) < self.max_batch and (not taken or tokens + item.tokens <= self.max_batch_tokens)
                if fits:
                    taken.append(item)
                    tokens += item.tokens
                    continue
                full = True  # keep arrival order: nothing of this key jumps ahead of a text left waiting
            kept.append(item)
        self._waiting = kept
        return taken

    async def _run(self) -> None:
        while True:
            if not self._waiting:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = self._take()
            self._depth_changed()
            if not batch:
                continue
            started = time.perf_counter()
            try:
                result = await asyncio.to_thread(self.embed, [item.text for item in batch], batch[0].key)
            except asyncio.CancelledError:
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(BatcherStoppedError("the server is shutting down"))
                raise
            except Exception as exc:  # noqa: BLE001 - whatever the model raised, every text of this call gets it
                log.warning("embedding a batch of %d texts failed: %s", len(batch), exc)
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            seconds = time.perf_counter() - started
            self._seconds_per_text = 0.8 * self._seconds_per_text + 0.2 * seconds / len(batch)
            if self.on_batch:
                self.on_batch(len(batch), seconds)
            for i, item in enumerate(batch):
                if not item.future.done():
                    item.future.set_result((result.vectors[i], int(result.n_tokens[i])))

    def _depth_changed(self) -> None:
        if self.on_depth:
            self.on_depth(len(self._waiting))
